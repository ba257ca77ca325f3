//! Calls a SIP edge reports, the compact record kept of each, and the number health built from
//! those records (Vobiz reference §5.10).

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use crate::e164::E164;
use crate::ids::{CallId, NumberId};

/// Which way a call went through the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallDirection {
    /// To the number, from the network (the edge relays it to the number's trunk).
    Inbound,
    /// From the number, placed by its holder.
    Outbound,
}

impl CallDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            CallDirection::Inbound => "inbound",
            CallDirection::Outbound => "outbound",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inbound" => Some(CallDirection::Inbound),
            "outbound" => Some(CallDirection::Outbound),
            _ => None,
        }
    }
}

/// One call as the edge saw it: when the INVITE arrived (`started_at`), when it was answered
/// (`None`: never), when it ended (the BYE, or the final failure reply), and the final SIP status
/// of the INVITE (200 for an answered call, 486 busy, 487 cancelled, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub direction: CallDirection,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    pub sip_status: u16,
}

impl Call {
    /// A call known only by one instant (what an operator types in with `didpool calls report`):
    /// an inbound call answered, started and ended at `at`.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self {
            direction: CallDirection::Inbound,
            started_at: at,
            answered_at: Some(at),
            ended_at: at,
            sip_status: 200,
        }
    }

    /// Seconds between the answer and the end; 0 for a call never answered.
    pub fn talk_seconds(&self) -> i64 {
        self.answered_at
            .map_or(0, |a| (self.ended_at - a).num_seconds().max(0))
    }

    /// The times in order (start ≤ answer ≤ end), the status a final SIP response (200–699), and
    /// answered exactly when the status is a 2xx.
    pub fn check(&self) -> Result<(), &'static str> {
        if !(200..=699).contains(&self.sip_status) {
            return Err("sip_status is a final SIP response code, 200 to 699");
        }
        if self.answered_at.is_some() != (200..300).contains(&self.sip_status) {
            return Err("a call has answered_at exactly when its sip_status is 2xx");
        }
        let answered = self.answered_at.unwrap_or(self.started_at);
        if !(self.started_at <= answered && answered <= self.ended_at) {
            return Err("a call's times run started_at ≤ answered_at ≤ ended_at");
        }
        Ok(())
    }
}

/// The compact record kept of a reported call, per number, until the retention ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub id: CallId,
    pub number_id: NumberId,
    pub e164: E164,
    pub call: Call,
    /// When didpool took the report.
    pub reported_at: DateTime<Utc>,
}

/// How the health route groups calls: by UTC day or by UTC hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Daily,
    Hourly,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Daily => "daily",
            Granularity::Hourly => "hourly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "daily" => Some(Granularity::Daily),
            "hourly" => Some(Granularity::Hourly),
            _ => None,
        }
    }

    fn step(self) -> Duration {
        match self {
            Granularity::Daily => Duration::days(1),
            Granularity::Hourly => Duration::hours(1),
        }
    }
}

/// The longest period the health route looks back over, in days.
pub const MAX_HEALTH_DAYS: u32 = 90;

/// Call figures over a set of calls.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CallStats {
    pub total_calls: u64,
    pub answered_calls: u64,
    /// Seconds talked (answer to end), over the answered calls.
    pub talk_seconds: i64,
}

impl CallStats {
    fn add(&mut self, call: &Call) {
        self.total_calls += 1;
        if call.answered_at.is_some() {
            self.answered_calls += 1;
            self.talk_seconds += call.talk_seconds();
        }
    }

    /// Answered calls over all calls, 0 to 1 (0 without calls).
    pub fn answer_rate(&self) -> f64 {
        if self.total_calls == 0 {
            0.0
        } else {
            self.answered_calls as f64 / self.total_calls as f64
        }
    }

    /// Minutes talked.
    pub fn total_minutes(&self) -> f64 {
        self.talk_seconds as f64 / 60.0
    }

    /// Mean seconds talked per answered call (0 without one).
    pub fn avg_duration(&self) -> f64 {
        if self.answered_calls == 0 {
            0.0
        } else {
            self.talk_seconds as f64 / self.answered_calls as f64
        }
    }
}

/// A number's call figures over the last `days` days, overall and per period.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub granularity: Granularity,
    pub days: u32,
    pub summary: CallStats,
    /// Each period (a UTC day or hour, by its start) that had calls, oldest first; periods
    /// without calls are left out.
    pub periods: Vec<(DateTime<Utc>, CallStats)>,
}

impl Health {
    /// The figures of `calls` that started in the `days` days up to `now`, each counted in the
    /// period its start falls in.
    pub fn of(calls: &[Call], granularity: Granularity, days: u32, now: DateTime<Utc>) -> Health {
        let since = now - Duration::days(i64::from(days));
        let mut summary = CallStats::default();
        let mut periods: Vec<(DateTime<Utc>, CallStats)> = Vec::new();
        let mut in_period: Vec<&Call> = calls
            .iter()
            .filter(|c| c.started_at > since && c.started_at <= now)
            .collect();
        in_period.sort_by_key(|c| c.started_at);
        for call in in_period {
            summary.add(call);
            let start = call
                .started_at
                .duration_trunc(granularity.step())
                .unwrap_or(call.started_at);
            match periods.last_mut() {
                Some((at, stats)) if *at == start => stats.add(call),
                _ => {
                    let mut stats = CallStats::default();
                    stats.add(call);
                    periods.push((start, stats));
                }
            }
        }
        Health {
            granularity,
            days,
            summary,
            periods,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(day: u32, hour: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, min, 0).unwrap()
    }

    fn answered(start: DateTime<Utc>, secs: i64) -> Call {
        Call {
            direction: CallDirection::Inbound,
            started_at: start,
            answered_at: Some(start + Duration::seconds(2)),
            ended_at: start + Duration::seconds(2 + secs),
            sip_status: 200,
        }
    }

    fn failed(start: DateTime<Utc>, status: u16) -> Call {
        Call {
            direction: CallDirection::Inbound,
            started_at: start,
            answered_at: None,
            ended_at: start + Duration::seconds(5),
            sip_status: status,
        }
    }

    #[test]
    fn a_call_is_checked() {
        assert!(answered(t(1, 0, 0), 60).check().is_ok());
        assert!(failed(t(1, 0, 0), 486).check().is_ok());
        assert!(Call::at(t(1, 0, 0)).check().is_ok());
        let mut c = answered(t(1, 0, 0), 60);
        c.sip_status = 486;
        assert!(c.check().is_err(), "answered but not 2xx");
        let mut c = failed(t(1, 0, 0), 486);
        c.sip_status = 180;
        assert!(c.check().is_err(), "not a final status");
        let mut c = answered(t(1, 0, 0), 60);
        c.ended_at = c.started_at;
        assert!(c.check().is_err(), "ends before its answer");
    }

    #[test]
    fn health_counts_the_calls_in_its_period_by_day_and_hour() {
        let now = t(20, 12, 0);
        let calls = [
            answered(t(20, 10, 5), 60),
            answered(t(20, 10, 50), 120),
            failed(t(20, 11, 0), 486),
            answered(t(19, 9, 0), 30),
            answered(t(1, 9, 0), 30), // 19 days before: outside a 7-day period
        ];
        let daily = Health::of(&calls, Granularity::Daily, 7, now);
        assert_eq!(daily.summary.total_calls, 4);
        assert_eq!(daily.summary.answered_calls, 3);
        assert_eq!(daily.summary.talk_seconds, 210);
        assert_eq!(daily.summary.answer_rate(), 0.75);
        assert_eq!(daily.summary.total_minutes(), 3.5);
        assert_eq!(daily.summary.avg_duration(), 70.0);
        let days: Vec<_> = daily
            .periods
            .iter()
            .map(|(at, s)| (*at, s.total_calls))
            .collect();
        assert_eq!(days, vec![(t(19, 0, 0), 1), (t(20, 0, 0), 3)]);

        let hourly = Health::of(&calls, Granularity::Hourly, 7, now);
        let hours: Vec<_> = hourly
            .periods
            .iter()
            .map(|(at, s)| (*at, s.total_calls))
            .collect();
        assert_eq!(
            hours,
            vec![(t(19, 9, 0), 1), (t(20, 10, 0), 2), (t(20, 11, 0), 1)]
        );
        assert_eq!(
            Health::of(&calls, Granularity::Daily, 30, now)
                .summary
                .total_calls,
            5
        );
    }

    #[test]
    fn no_calls_no_rates() {
        let h = Health::of(&[], Granularity::Daily, 30, t(20, 0, 0));
        assert_eq!(h.summary.answer_rate(), 0.0);
        assert_eq!(h.summary.avg_duration(), 0.0);
        assert!(h.periods.is_empty());
    }
}
