//! Rate limits and the headers that tell a client when to come back.
//!
//! Every request a credential makes draws on that credential's quota: its account's `rate_limit`
//! (requests per second, Vobiz's documented sub-account field), else the operator's default
//! (`--rate-limit`). Every failed authentication draws on its client address's quota
//! (`--auth-failures-per-minute`); once that is spent, the address is refused before its
//! credentials are even checked, until the quota has refilled. Past either, each face answers
//! `429` in its own error shape with `Retry-After` and the `RateLimit-Limit`,
//! `RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy` fields of
//! draft-ietf-httpapi-ratelimit-headers-07. The counts live in this node's memory (GCRA, by
//! `governor`): with several nodes each enforces the quota on its own.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::header::RETRY_AFTER;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How long a client is asked to wait after a `503` (the store unavailable).
pub const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a refused client is told: how long to wait, and for a rate limit, the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub retry_after: Duration,
    /// The quota refused: requests per window of `window` seconds.
    pub quota: Option<(u32, u32)>,
}

impl Backoff {
    /// The store cannot serve now (`503`).
    pub const UNAVAILABLE: Backoff = Backoff {
        retry_after: UNAVAILABLE_RETRY_AFTER,
        quota: None,
    };

    /// Whole seconds to wait, rounded up, at least one.
    pub fn seconds(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }

    /// Sets `Retry-After`, and for a rate limit the `RateLimit-*` fields.
    pub fn apply(&self, headers: &mut HeaderMap) {
        let secs = HeaderValue::from(self.seconds());
        headers.insert(RETRY_AFTER, secs.clone());
        if let Some((limit, window)) = self.quota {
            headers.insert("ratelimit-limit", HeaderValue::from(limit));
            headers.insert("ratelimit-remaining", HeaderValue::from(0u32));
            headers.insert("ratelimit-reset", secs);
            if let Ok(policy) = HeaderValue::from_str(&format!("{limit};w={window}")) {
                headers.insert("ratelimit-policy", policy);
            }
        }
    }
}

/// Why a request was refused with `429`: the label of `didpool_rate_limited_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The credential made more requests than its quota.
    Credential,
    /// The client address failed authentication too often.
    AuthFailures,
}

impl Reason {
    fn label(self) -> &'static str {
        match self {
            Reason::Credential => "credential",
            Reason::AuthFailures => "auth_failures",
        }
    }
}

type Limiter<K> = DefaultKeyedRateLimiter<K>;

/// This node's rate limits (see the module's documentation).
pub struct RateLimits {
    default_rate: Option<NonZeroU32>,
    /// One limiter per quota in use (accounts choose their own), keyed by credential.
    by_rate: Mutex<HashMap<NonZeroU32, Arc<Limiter<String>>>>,
    failures: Option<(NonZeroU32, Limiter<IpAddr>)>,
    /// Addresses whose failure quota is spent, and until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl Default for RateLimits {
    /// No limits at all (tests that are about something else).
    fn default() -> Self {
        Self::new(0, 0)
    }
}

impl RateLimits {
    /// `default_rate`: requests per second a credential whose account sets no `rate_limit` may
    /// make; `auth_failures`: failed authentications per minute per client address. 0 turns
    /// either off.
    pub fn new(default_rate: u32, auth_failures: u32) -> Self {
        Self {
            default_rate: NonZeroU32::new(default_rate),
            by_rate: Mutex::new(HashMap::new()),
            failures: NonZeroU32::new(auth_failures)
                .map(|n| (n, RateLimiter::keyed(Quota::per_minute(n)))),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// Draws one request from `credential`'s quota: `rate_limit` requests per second (an
    /// account's own, when it sets one above 0), else the default.
    pub fn admit(&self, credential: String, rate_limit: Option<i64>) -> Result<(), Backoff> {
        let own = rate_limit
            .and_then(|r| u32::try_from(r).ok())
            .and_then(NonZeroU32::new);
        let Some(rate) = own.or(self.default_rate) else {
            return Ok(());
        };
        let limiter = {
            let mut by_rate = self.by_rate.lock().unwrap_or_else(|e| e.into_inner());
            by_rate
                .entry(rate)
                .or_insert_with(|| Arc::new(RateLimiter::keyed(Quota::per_second(rate))))
                .clone()
        };
        limiter.check_key(&credential).map_err(|not_until| {
            refused(
                Reason::Credential,
                Backoff {
                    retry_after: not_until.wait_time_from(DefaultClock::default().now()),
                    quota: Some((rate.get(), 1)),
                },
            )
        })
    }

    /// Refuses an address whose failed authentications have spent its quota, before its
    /// credentials are checked (so a guess that happens to be right is not told apart).
    pub fn check_address(&self, address: Option<IpAddr>) -> Result<(), Backoff> {
        let (Some((per_minute, _)), Some(address)) = (&self.failures, address) else {
            return Ok(());
        };
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        match blocked.get(&address) {
            Some(until) if *until > Instant::now() => Err(refused(
                Reason::AuthFailures,
                Backoff {
                    retry_after: *until - Instant::now(),
                    quota: Some((per_minute.get(), 60)),
                },
            )),
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication from `address`: `Some` (answer `429`, not `401`) once its
    /// quota is spent, and the address is refused until it has refilled.
    pub fn failed(&self, address: Option<IpAddr>) -> Option<Backoff> {
        let (Some((per_minute, limiter)), Some(address)) = (&self.failures, address) else {
            return None;
        };
        let not_until = limiter.check_key(&address).err()?;
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(address, Instant::now() + wait);
        Some(refused(
            Reason::AuthFailures,
            Backoff {
                retry_after: wait,
                quota: Some((per_minute.get(), 60)),
            },
        ))
    }

    /// Forgets credentials and addresses whose quotas have refilled, so memory stays bounded
    /// by the clients of the last minute (the server runs it periodically).
    pub fn forget_idle(&self) {
        for limiter in self
            .by_rate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some((_, limiter)) = &self.failures {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, until| *until > now);
    }
}

fn refused(reason: Reason, backoff: Backoff) -> Backoff {
    metrics::counter!("didpool_rate_limited_total", "reason" => reason.label()).increment(1);
    backoff
}

/// Put on a request whose credentials were checked once already (the `Idempotency-Key` layer
/// authenticates a keyed request before its route does), so the route's check counts nothing
/// twice: no second failure, no second draw from the quota once `admitted`.
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    pub admitted: bool,
}

/// The limits as they apply to one request: its client address, and what was counted already.
pub struct RequestLimits<'a> {
    limits: &'a RateLimits,
    address: Option<IpAddr>,
    counted: Option<Counted>,
}

impl RateLimits {
    /// The limits of the request `parts` belong to.
    pub fn of(&self, parts: &Parts) -> RequestLimits<'_> {
        RequestLimits {
            limits: self,
            address: client_address(parts),
            counted: parts.extensions.get::<Counted>().copied(),
        }
    }
}

impl RequestLimits<'_> {
    /// See [`RateLimits::check_address`] (it counts nothing, so it always runs).
    pub fn check_address(&self) -> Result<(), Backoff> {
        self.limits.check_address(self.address)
    }

    /// See [`RateLimits::failed`]; nothing when the request was counted already.
    pub fn failed(&self) -> Option<Backoff> {
        match self.counted {
            Some(_) => None,
            None => self.limits.failed(self.address),
        }
    }

    /// See [`RateLimits::admit`]; nothing when the request was admitted already.
    pub fn admit(&self, credential: String, rate_limit: Option<i64>) -> Result<(), Backoff> {
        match self.counted {
            Some(Counted { admitted: true }) => Ok(()),
            _ => self.limits.admit(credential, rate_limit),
        }
    }
}

/// The client's address, when the server was given it (the TCP peer: a proxy in front of
/// didpool is one address to it).
pub fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_gets_its_accounts_rate_then_a_backoff_with_the_quota() {
        let limits = RateLimits::new(1000, 0);
        for _ in 0..5 {
            limits.admit("k".into(), Some(5)).expect("within the burst");
        }
        let backoff = limits.admit("k".into(), Some(5)).unwrap_err();
        assert_eq!(backoff.quota, Some((5, 1)));
        assert!(backoff.seconds() >= 1);
        // Another credential has its own quota.
        limits
            .admit("other".into(), Some(5))
            .expect("its own quota");
    }

    #[test]
    fn without_an_account_rate_the_default_applies_and_zero_is_no_limit() {
        let limits = RateLimits::new(2, 0);
        limits.admit("k".into(), None).unwrap();
        limits.admit("k".into(), Some(0)).unwrap();
        assert_eq!(
            limits.admit("k".into(), None).unwrap_err().quota,
            Some((2, 1))
        );
        let open = RateLimits::new(0, 0);
        for _ in 0..10_000 {
            open.admit("k".into(), None).unwrap();
        }
    }

    #[test]
    fn an_address_past_its_failures_is_refused_before_its_credentials_are_checked() {
        let limits = RateLimits::new(0, 3);
        let a = Some(IpAddr::from([127, 0, 0, 2]));
        let b = Some(IpAddr::from([127, 0, 0, 3]));
        for _ in 0..3 {
            assert_eq!(limits.check_address(a), Ok(()));
            assert_eq!(limits.failed(a), None);
        }
        let backoff = limits.failed(a).expect("the fourth failure in a minute");
        assert_eq!(backoff.quota, Some((3, 60)));
        assert!(limits.check_address(a).is_err());
        assert_eq!(limits.check_address(b), Ok(()));
        // Without an address (no socket) nothing is counted.
        assert_eq!(limits.failed(None), None);
    }

    #[test]
    fn each_refusal_is_counted_by_its_reason() {
        use metrics_util::debugging::{DebugValue, DebuggingRecorder};
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let limits = RateLimits::new(1, 1);
            let a = Some(IpAddr::from([127, 0, 0, 4]));
            let _ = limits.admit("k".into(), None);
            let _ = limits.admit("k".into(), None);
            let _ = limits.failed(a);
            let _ = limits.failed(a);
            let _ = limits.check_address(a);
        });
        let counts: HashMap<String, u64> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(key, ..)| key.key().name() == "didpool_rate_limited_total")
            .map(|(key, _, _, value)| {
                let reason = key.key().labels().next().unwrap().value().to_owned();
                let DebugValue::Counter(n) = value else {
                    panic!("a counter")
                };
                (reason, n)
            })
            .collect();
        assert_eq!(counts["credential"], 1);
        assert_eq!(counts["auth_failures"], 2);
    }

    #[test]
    fn the_headers_say_when_to_come_back_and_the_quota() {
        let mut headers = HeaderMap::new();
        Backoff {
            retry_after: Duration::from_millis(1500),
            quota: Some((5, 1)),
        }
        .apply(&mut headers);
        assert_eq!(headers["retry-after"], "2");
        assert_eq!(headers["ratelimit-limit"], "5");
        assert_eq!(headers["ratelimit-remaining"], "0");
        assert_eq!(headers["ratelimit-reset"], "2");
        assert_eq!(headers["ratelimit-policy"], "5;w=1");
        let mut headers = HeaderMap::new();
        Backoff::UNAVAILABLE.apply(&mut headers);
        assert_eq!(headers["retry-after"], "1");
        assert!(headers.get("ratelimit-limit").is_none());
    }
}
