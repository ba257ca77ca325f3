//! Time comes from a `Clock`, so cool-offs and billing cycles are tested without sleeping; and
//! every time didpool takes in stays inside [`MIN_TIME`, `MAX_TIME`), so every time it derives and
//! stores stays inside what both stores encode.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::error::EngineError;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The earliest time didpool takes in: `0001-01-01T00:00:00Z`. Before it, RFC 3339 (SQLite's
/// encoding: a four-digit year) has no spelling, and times no longer sort as text.
pub const MIN_TIME: DateTime<Utc> = date_utc(1, 1, 1);

/// The first time didpool refuses: `9000-01-01T00:00:00Z`. SQLite keeps times as RFC 3339 text,
/// which ends at 9999-12-31 (a year 10000 is written `+10000-…`, which neither parses back nor
/// sorts); PostgreSQL goes further. The ~1000 years between hold anything derived from a time
/// taken in: a billing cycle (one month), the release window, quarantine and verification
/// deadline (each at most [`MAX_POLICY_DURATION`](crate::policy::MAX_POLICY_DURATION)), a
/// reservation (at most `u32::MAX` seconds, ~136 years), a token's rotation grace, the cool-off.
pub const MAX_TIME: DateTime<Utc> = date_utc(9000, 1, 1);

const fn date_utc(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(d) => d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc(),
        None => panic!("a valid date"),
    }
}

/// Whether didpool takes `t` in: `MIN_TIME <= t < MAX_TIME`.
pub fn in_range(t: DateTime<Utc>) -> bool {
    (MIN_TIME..MAX_TIME).contains(&t)
}

/// `t`, or `Invalid` naming `what` when it is outside [`in_range`]: every face answers it with
/// its own 400 (or 422), instead of storing a row that no read can decode.
pub fn check_time(what: &str, t: DateTime<Utc>) -> Result<DateTime<Utc>, EngineError> {
    if in_range(t) {
        Ok(t)
    } else {
        Err(EngineError::invalid(out_of_range(what)))
    }
}

/// The message of [`check_time`]'s refusal.
pub fn out_of_range(what: &str) -> String {
    format!(
        "{what} must be at or after {} and before {}",
        MIN_TIME.format("%Y-%m-%dT%H:%M:%SZ"),
        MAX_TIME.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to: for tests and sandbox mode.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = now;
    }

    /// Moves the clock to `now` unless it is already past it: two requests that move it at
    /// once leave it at the later time, whichever lands last.
    pub fn move_to(&self, now: DateTime<Utc>) {
        let mut t = self.0.lock().expect("clock lock");
        *t = (*t).max(now);
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_range_is_what_rfc_3339_text_spells_with_room_to_spare() {
        assert_eq!(MIN_TIME.to_rfc3339(), "0001-01-01T00:00:00+00:00");
        assert_eq!(MAX_TIME.to_rfc3339(), "9000-01-01T00:00:00+00:00");
        assert!(in_range(MIN_TIME));
        assert!(!in_range(MIN_TIME - Duration::microseconds(1)));
        assert!(in_range(MAX_TIME - Duration::microseconds(1)));
        assert!(!in_range(MAX_TIME));
        // The margin holds every duration added to a time taken in.
        let latest = MAX_TIME
            + Duration::days(31)
            + crate::policy::MAX_POLICY_DURATION * 3
            + Duration::seconds(i64::from(u32::MAX))
            + crate::credential::MAX_ROTATION_GRACE;
        assert!(latest.to_rfc3339().starts_with("9"), "{latest}");
        assert_eq!(
            check_time("at", MAX_TIME).unwrap_err().to_string(),
            "invalid input: at must be at or after 0001-01-01T00:00:00Z and before 9000-01-01T00:00:00Z"
        );
    }
}
