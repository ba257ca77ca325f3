//! What a list's settling found last (issue 17): a list settles what is due before it reads
//! ([`crate::Engine::numbers`]), and after a scan that left nothing due this node knows the
//! earliest due time still ahead, so the lists after it skip the scan until then.
//!
//! What holds:
//! - At the engine's clock, exactly: a list at or past the remembered due time scans again, so
//!   a release, quarantine end, reservation expiry or renewal falls due on time, whichever clock
//!   (the sandbox clock moved forward too: the due times are absolute).
//! - On this node, a change is seen at once: every command that commits through this engine
//!   drops what was remembered (a command may schedule something sooner, or verify or reject
//!   an account, which makes its reserved numbers due with no time of their own), and a scan
//!   begun before such a commit is never remembered after it (a generation count).
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

    /// The generation and start to pass to [`DueCache::remember`] for a scan begun now.
    pub fn begin(&self) -> (u64, Instant) {
        (self.lock().generation, Instant::now())
    }

    /// Remembers a scan begun at `begun` that left nothing due, with `next` the earliest due
    /// time after its clock, unless a command committed here since `generation`.
    pub fn remember(&self, (generation, begun): (u64, Instant), next: Option<DateTime<Utc>>) {
        if self.recheck.is_zero() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation == generation {
            inner.settled = Some(Settled { at: begun, next });
        }
    }

    /// Drops what was remembered: a command committed through this engine.
    pub fn forget(&self) {
        let mut inner = self.lock();
        inner.generation = inner.generation.wrapping_add(1);
        inner.settled = None;
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
        c.forget();
        c.remember(begun, None);
        assert!(!c.nothing_due(t(1)), "began before the commit");
        c.remember(c.begin(), None);
        assert!(c.nothing_due(t(1)));
    }

    #[test]
    fn a_scan_older_than_the_recheck_is_not_used() {
        let c = DueCache::new(Duration::from_secs(1));
        let (generation, now) = c.begin();
        let long_ago = now.checked_sub(Duration::from_secs(2)).unwrap();
        c.remember((generation, long_ago), None);
        assert!(!c.nothing_due(t(1)));
    }

    #[test]
    fn a_zero_recheck_remembers_nothing() {
        let c = DueCache::new(Duration::ZERO);
        c.remember(c.begin(), None);
        assert!(!c.nothing_due(t(1)));
    }
}
