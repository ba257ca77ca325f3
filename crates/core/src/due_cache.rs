//! What a list's settling found last (issue 17): a list settles what is due before it reads
//! ([`crate::Engine::numbers`]), and after a scan that left nothing due this node knows the
//! earliest due time still ahead, so the lists after it skip the scan until then.
//!
//! What holds:
//! - At the engine's clock, exactly: a list at or past the remembered due time scans again, so
//!   a release, quarantine end, reservation expiry or renewal falls due on time, whichever clock
//!   (the sandbox clock moved forward too: the due times are absolute).
//! - On this node, a change is seen at once: every command that commits a number, an account or
//!   a setting through this engine drops what was remembered (a command may schedule something
//!   sooner, or verify or reject an account, which makes its reserved numbers due with no time
//!   of their own: `Changes::may_move_due_times`), and a scan begun before such a commit is
//!   never remembered after it (a generation count). Other commits (the webhook worker's claims
//!   and attempts, a job runner's lease) keep it: under load they came several times a second,
//!   and dropping the scan on each left every list paying for the scan and for `next_due`.
//! - Across nodes (several `didpool` on one PostgreSQL, or a CLI command beside `serve`), what
//!   another node's commands make due is seen here at most [`DueCache::recheck`] after it
//!   commits: a remembered scan older than that is never used.
//! - Anything the scan found due and could not settle (its step failed) is left to the
//!   scheduler and the next scan; a scan that hit its limit is not remembered (more may be due).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// How long a scan is trusted across nodes by default in `serve`: what another node's write
/// makes due shows in this node's lists at most this late.
pub const DEFAULT_RECHECK: Duration = Duration::from_secs(1);

#[derive(Clone, Copy)]
struct Settled {
    /// When the scan began (this process's monotonic clock).
    at: Instant,
    /// The earliest due time after the scan's clock; `None`: nothing has one.
    next: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct Inner {
    settled: Option<Settled>,
    /// Bumped by every [`DueCache::forget`]: a scan that began before cannot be remembered.
    generation: u64,
    /// When the scan that will read the next due time began (see [`DueCache::begin`]).
    leading: Option<Instant>,
}

/// A scan of what is due, as [`DueCache::begin`] started it.
#[derive(Clone, Copy)]
pub struct Scan {
    generation: u64,
    /// When it began (this process's monotonic clock).
    at: Instant,
    lead: bool,
}

/// See the module documentation. A recheck of zero remembers nothing (every list scans).
pub struct DueCache {
    recheck: Duration,
    inner: Mutex<Inner>,
}

impl DueCache {
    pub fn new(recheck: Duration) -> Self {
        Self {
            recheck,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// How long a scan is trusted: the bound on seeing another node's writes.
    pub fn recheck(&self) -> Duration {
        self.recheck
    }

    /// Whether a list at `now` (the engine's clock) may skip the scan: a scan less than
    /// [`DueCache::recheck`] ago left nothing due, nothing committed here since, and `now` is
    /// before the earliest due time it saw.
    pub fn nothing_due(&self, now: DateTime<Utc>) -> bool {
        if self.recheck.is_zero() {
            return false;
        }
        let Some(s) = self.lock().settled else {
            return false;
        };
        s.at.elapsed() < self.recheck && s.next.is_none_or(|next| now < next)
    }

    /// A scan begun now, to pass to [`DueCache::remember`]. It leads unless another scan begun
    /// since the last commit here is still running (begun less than [`DueCache::recheck`] ago):
    /// only the leader reads the next due time, so the lists that all missed at once when a
    /// remembered scan expired scan as without the cache, and read `next_due` once.
    pub fn begin(&self) -> Scan {
        let mut inner = self.lock();
        let at = Instant::now();
        let lead = inner
            .leading
            .is_none_or(|since| since.elapsed() >= self.recheck);
        if lead {
            inner.leading = Some(at);
        }
        Scan {
            generation: inner.generation,
            at,
            lead,
        }
    }

    /// Whether `scan` should read the next due time: it leads, remembering is on, and no
    /// command committed here since it began (what it read could not be remembered).
    pub fn may_remember(&self, scan: Scan) -> bool {
        scan.lead && !self.recheck.is_zero() && self.lock().generation == scan.generation
    }

    /// Remembers `scan`, which left nothing due, with `next` the earliest due time after its
    /// clock, unless a command committed here since it began.
    pub fn remember(&self, scan: Scan, next: Option<DateTime<Utc>>) {
        if self.recheck.is_zero() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation == scan.generation {
            inner.settled = Some(Settled { at: scan.at, next });
            if scan.lead {
                inner.leading = None;
            }
        }
    }

    /// Ends `scan` without remembering it (it found as many due as it may settle, so more may
    /// be due): the next scan may lead.
    pub fn end(&self, scan: Scan) {
        let mut inner = self.lock();
        if scan.lead && inner.leading == Some(scan.at) {
            inner.leading = None;
        }
    }

    /// Drops what was remembered: a command committed through this engine.
    pub fn forget(&self) {
        let mut inner = self.lock();
        inner.generation = inner.generation.wrapping_add(1);
        inner.settled = None;
        // A scan begun before cannot be remembered: the next one leads.
        inner.leading = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state is two plain values, valid whatever a panicking holder left.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn a_scan_is_trusted_until_its_next_due_time() {
        let c = DueCache::new(Duration::from_secs(3600));
        assert!(!c.nothing_due(t(1)), "nothing remembered yet");
        c.remember(c.begin(), Some(t(5)));
        assert!(c.nothing_due(t(1)));
        assert!(c.nothing_due(t(4)));
        assert!(!c.nothing_due(t(5)), "due at its time");
        assert!(!c.nothing_due(t(6)), "the clock moved past it");
    }

    #[test]
    fn nothing_scheduled_is_trusted_at_any_clock() {
        let c = DueCache::new(Duration::from_secs(3600));
        c.remember(c.begin(), None);
        assert!(c.nothing_due(t(23)));
    }

    #[test]
    fn a_commit_here_drops_it_and_a_scan_begun_before_is_not_kept() {
        let c = DueCache::new(Duration::from_secs(3600));
        c.remember(c.begin(), None);
        c.forget();
        assert!(!c.nothing_due(t(1)));
        let begun = c.begin();
        assert!(c.may_remember(begun));
        c.forget();
        assert!(
            !c.may_remember(begun),
            "overtaken: its next due time is not read"
        );
        c.remember(begun, None);
        assert!(!c.nothing_due(t(1)), "began before the commit");
        c.remember(c.begin(), None);
        assert!(c.nothing_due(t(1)));
    }

    #[test]
    fn a_scan_older_than_the_recheck_is_not_used() {
        let c = DueCache::new(Duration::from_secs(1));
        let mut scan = c.begin();
        scan.at = scan.at.checked_sub(Duration::from_secs(2)).unwrap();
        c.remember(scan, None);
        assert!(!c.nothing_due(t(1)));
    }

    #[test]
    fn of_scans_running_together_one_reads_the_next_due_time() {
        let c = DueCache::new(Duration::from_secs(3600));
        let (first, second) = (c.begin(), c.begin());
        assert!(c.may_remember(first));
        assert!(!c.may_remember(second), "the first leads");
        c.remember(first, Some(t(5)));
        assert!(c.nothing_due(t(1)));
        let found_due = c.begin();
        assert!(
            c.may_remember(found_due),
            "the leader finished: the next scan leads"
        );
        c.end(found_due);
        assert!(
            c.may_remember(c.begin()),
            "one that found something due hands the lead on"
        );
        let stuck = c.begin();
        c.forget();
        assert!(!c.may_remember(stuck));
        assert!(
            c.may_remember(c.begin()),
            "after a commit the next scan leads"
        );
    }

    #[test]
    fn a_zero_recheck_remembers_nothing() {
        let c = DueCache::new(Duration::ZERO);
        assert!(!c.may_remember(c.begin()));
        c.remember(c.begin(), None);
        assert!(!c.nothing_due(t(1)));
    }
}
