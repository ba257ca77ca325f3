//! Lifecycle events as webhooks: the catalogue of event types, endpoints, and the deliveries of
//! events to them with their retry schedule (after Svix and the Standard Webhooks specification).
//!
//! The events are the audit trail ([`NumberEvent`]): written in the transaction of the change,
//! and in that same transaction the store queues one [`Delivery`] for every endpoint the event
//! matches ([`Endpoint::matches`] says which, and the store's fan-out applies the same rule): the
//! audit trail is the outbox.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::audit::NumberEvent;
use crate::ids::{AccountId, EndpointId, EventId, NumberId};
use crate::number::NumberState;

/// Every event type, with what it means: `number.<action>` for each audited change of a number.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("number.stocked", "added to the inventory by the operator"),
    (
        "number.imported",
        "a customer's own number brought in (BYO)",
    ),
    ("number.purchased", "bought: charged and active"),
    ("number.reserved", "held for an account during checkout"),
    ("number.paid", "a reserved number's checkout paid"),
    (
        "number.verified",
        "the company was verified: the paid number is active",
    ),
    (
        "number.verification_rejected",
        "the company was rejected: the number went back to inventory (refunded if paid)",
    ),
    (
        "number.verification_timed_out",
        "the verification deadline passed: refunded, back to inventory",
    ),
    (
        "number.reservation_expired",
        "a reservation lapsed unpaid: back to inventory",
    ),
    (
        "number.renewed",
        "a month's rental charged at the renewal date",
    ),
    (
        "number.released_unpaid",
        "the renewal could not be paid: released",
    ),
    (
        "number.release_requested",
        "a release was asked for and waits out the release window",
    ),
    (
        "number.release_scheduled",
        "a release was scheduled for the end of the billing cycle",
    ),
    (
        "number.release_cancelled",
        "a pending or scheduled release was taken back",
    ),
    (
        "number.released",
        "released: quarantined or back in inventory",
    ),
    (
        "number.deleted",
        "an imported number released: gone for good",
    ),
    (
        "number.quarantined_after_call",
        "a call reported after the release holds the number in its cool-off",
    ),
    (
        "number.quarantine_ended",
        "the quarantine ended: purchasable again",
    ),
    (
        "number.release_locked",
        "locked against release by its holder or the operator",
    ),
    ("number.release_unlocked", "its release lock taken off"),
    ("number.assigned_to_trunk", "routed to a SIP trunk"),
    ("number.unassigned_from_trunk", "taken off its SIP trunk"),
    (
        "number.assigned_to_sub_account",
        "handed over to a sub-account",
    ),
    (
        "number.unassigned_from_sub_account",
        "taken back from a sub-account",
    ),
    (
        "number.force_unassigned_from_sub_account",
        "taken back from a sub-account during its cool-off (forced)",
    ),
    (
        "number.agents_changed",
        "its nickname or agent bindings changed",
    ),
    (
        "number.sip_config_changed",
        "an imported number's SIP settings changed",
    ),
];

/// Whether `t` is in [`EVENT_TYPES`].
pub fn is_event_type(t: &str) -> bool {
    EVENT_TYPES.iter().any(|(name, _)| *name == t)
}

/// An event's type: `number.<action>`, except that a release which removes the number
/// (an imported number) is `number.deleted`.
pub fn event_type(action: &str, to_state: NumberState) -> String {
    if action == "released" && to_state == NumberState::Deleted {
        "number.deleted".into()
    } else {
        format!("number.{action}")
    }
}

impl NumberEvent {
    /// See [`event_type`].
    pub fn event_type(&self) -> String {
        event_type(&self.action, self.to_state)
    }

    /// The accounts concerned, without repeats: the holders before and after, and who pays (or
    /// paid, for a release) for the number.
    pub fn accounts(&self) -> Vec<AccountId> {
        let payer = self
            .number
            .as_ref()
            .and_then(|n| n.billing_id.clone().or_else(|| n.last_billing_id.clone()));
        let mut ids: Vec<AccountId> = Vec::new();
        for id in [self.from_owner.clone(), self.to_owner.clone(), payer]
            .into_iter()
            .flatten()
        {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }
}

/// The retry schedule of a delivery (Svix's): the first attempt at once, then after each failed
/// attempt the next waits this long; after the last, the delivery has failed. On the engine's
/// clock, so a sandbox walks it with its clock.
pub const RETRY_SCHEDULE: [Duration; 8] = [
    Duration::zero(),
    Duration::seconds(5),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(5),
    Duration::hours(10),
    Duration::hours(10),
];

/// An endpoint whose deliveries have failed without a success for this long is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(5);

/// The longest an endpoint's URL may be.
pub const MAX_URL_LEN: usize = 2048;

/// A subscriber: where to send which events, and the secret they are signed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: EndpointId,
    /// An absolute `http` or `https` URL.
    pub url: String,
    pub description: String,
    /// The event types sent; empty: every type.
    pub event_types: Vec<String>,
    /// Only events concerning this account ([`NumberEvent::accounts`]); `None`: every event.
    pub account_id: Option<AccountId>,
    /// `whsec_` and the base64 of the key.
    pub secret: String,
    /// The secret before the last rotation, also signed with until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// Set when the endpoint was disabled (by the operator, or after failing for
    /// [`DISABLE_AFTER`]): nothing more is queued for it or sent to it.
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// Since when its deliveries fail without a success between.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    /// Whether `event` is queued for this endpoint: enabled, a subscribed type, and (with an
    /// account) one of the accounts concerned. The store's fan-out applies the same rule.
    pub fn matches(&self, event: &NumberEvent) -> bool {
        self.disabled_at.is_none()
            && (self.event_types.is_empty() || self.event_types.contains(&event.event_type()))
            && self
                .account_id
                .as_ref()
                .is_none_or(|a| event.accounts().contains(a))
    }

    /// The secrets to sign with at `now`: the current one, and the previous one during its
    /// overlap.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until) {
            if now < until {
                secrets.push(previous);
            }
        }
        secrets
    }
}

/// A new signing secret: `whsec_` and the base64 of 24 random bytes (Standard Webhooks).
pub fn generate_secret() -> String {
    let mut key = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut key);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// What the operator may change on an endpoint; `None` leaves a field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub account_id: Option<Option<AccountId>>,
    /// `false` disables it; `true` enables it again (and forgets its failures).
    pub enabled: Option<bool>,
}

/// Checks an endpoint's URL (absolute `http`/`https` that parses as a URL, with a host, no
/// credentials, at most [`MAX_URL_LEN`]) and event types (each in [`EVENT_TYPES`]). Where a URL
/// may point is the sender's rule (private addresses).
pub fn check_endpoint(url: Option<&str>, types: Option<&[String]>) -> Result<(), String> {
    if let Some(url) = url {
        if url.len() > MAX_URL_LEN {
            return Err(format!("url must be at most {MAX_URL_LEN} characters"));
        }
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("url cannot contain spaces or control characters".into());
        }
        let parsed = url::Url::parse(url).map_err(|e| format!("url is not a valid URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("url must be an absolute http or https URL".into());
        }
        // The parser reads `https:///x` as host `x`: the host must be written.
        let written = url.split_once("://").map_or("", |(_, rest)| rest);
        if written.is_empty()
            || written.starts_with('/')
            || parsed.host_str().is_none_or(str::is_empty)
        {
            return Err("url must name a host".into());
        }
        // Endpoints are listed without secrets: a password in the URL would be one.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("url cannot carry credentials; verify the signature instead".into());
        }
    }
    for t in types.unwrap_or_default() {
        if !is_event_type(t) {
            return Err(format!("unknown event type {t:?}"));
        }
    }
    Ok(())
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or for an earlier event of its number).
    Pending,
    Succeeded,
    /// Every attempt of the schedule failed (or its endpoint was disabled).
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One event to one endpoint. The store queues it with the event; a delivery worker claims it
/// for a lease, sends it, and records the attempt ([`Command::FinishDelivery`](crate::lifecycle::Command::FinishDelivery)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The queue's order (the store's sequence): the events of one number go in this order.
    pub seq: i64,
    pub endpoint_id: EndpointId,
    pub event_id: EventId,
    pub number_id: NumberId,
    pub status: DeliveryStatus,
    /// Attempts made since it was (re)queued.
    pub attempts: u32,
    /// When it may next be sent (the engine's clock); `None` once it is no longer pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// While a worker sends it: until when (the real clock) no other worker takes it.
    pub lease_until: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// What one attempt to send a delivery found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptResult {
    /// The HTTP status answered, if any.
    pub status_code: Option<u16>,
    /// From sending the request to the end of the (bounded) answer.
    pub latency_ms: u64,
    /// The first bytes of the answer's body (bounded).
    pub response: String,
    /// Why it failed without an answer (refused, timed out, …).
    pub error: Option<String>,
}

impl AttemptResult {
    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// A recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub id: EventId,
    pub delivery_seq: i64,
    pub endpoint_id: EndpointId,
    pub event_id: EventId,
    pub at: DateTime<Utc>,
    pub result: AttemptResult,
}

/// The rows a delivery worker needs to claim: due by the engine's clock, and not leased at the
/// real time `now_real`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Claim {
    pub now: DateTime<Utc>,
    pub now_real: DateTime<Utc>,
    pub limit: u32,
}

/// The deliveries a redelivery or replay requeues.
#[derive(Debug, Clone, PartialEq)]
pub enum Requeue {
    /// One event, to every endpoint it was queued for, or to one.
    Event {
        event: EventId,
        endpoint: Option<EndpointId>,
    },
    /// Every event queued for an endpoint since a time (the event's).
    Since {
        endpoint: EndpointId,
        since: DateTime<Utc>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_the_engine_audits_has_its_type_in_the_catalogue() {
        let sources = [
            include_str!("lifecycle/billing.rs"),
            include_str!("lifecycle/numbers.rs"),
            include_str!("lifecycle/release.rs"),
            include_str!("lifecycle/routing.rs"),
            include_str!("lifecycle/schedule.rs"),
        ];
        let mut found = 0;
        for src in sources {
            for (i, _) in src.match_indices("number_change(ctx, \"") {
                let rest = &src[i + "number_change(ctx, \"".len()..];
                let action = &rest[..rest.find('"').unwrap()];
                assert!(is_event_type(&format!("number.{action}")), "{action}");
                found += 1;
            }
        }
        assert!(found > 15, "{found}");
        for action in [
            "verification_rejected",
            "verification_timed_out",
            "reservation_expired",
            "force_unassigned_from_sub_account",
            "unassigned_from_sub_account",
            "stocked",
            "imported",
        ] {
            assert!(is_event_type(&format!("number.{action}")), "{action}");
        }
        assert_eq!(
            event_type("released", NumberState::Deleted),
            "number.deleted"
        );
        assert_eq!(
            event_type("released", NumberState::Available),
            "number.released"
        );
    }

    #[test]
    fn the_schedule_is_svix_s_eight_attempts() {
        assert_eq!(RETRY_SCHEDULE.len(), 8);
        assert_eq!(RETRY_SCHEDULE[1], Duration::seconds(5));
        assert_eq!(RETRY_SCHEDULE[7], Duration::hours(10));
    }

    #[test]
    fn secrets_are_standard_webhooks_secrets_and_the_previous_one_signs_during_its_overlap() {
        let s = generate_secret();
        let key = base64::engine::general_purpose::STANDARD
            .decode(s.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(key.len(), 24);
        let now = Utc::now();
        let mut e = Endpoint {
            id: EndpointId::new(),
            url: "https://example.com/hook".into(),
            description: String::new(),
            event_types: vec![],
            account_id: None,
            secret: s.clone(),
            previous_secret: Some("whsec_old".into()),
            previous_secret_until: Some(now + Duration::hours(1)),
            disabled_at: None,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        assert_eq!(e.signing_secrets(now), vec![s.as_str(), "whsec_old"]);
        assert_eq!(
            e.signing_secrets(now + Duration::hours(2)),
            vec![s.as_str()]
        );
        e.previous_secret_until = None;
        assert_eq!(e.signing_secrets(now).len(), 1);
    }

    #[test]
    fn urls_and_types_are_checked() {
        assert!(check_endpoint(Some("https://a.example/x"), None).is_ok());
        assert!(check_endpoint(Some("http://127.0.0.1:9/x"), None).is_ok());
        for bad in [
            "ftp://a",
            "https://",
            "a.example",
            "https:///x",
            "https://a b",
            "http://127.0.0.1:99999/x",
            "http://user:pass@a.example/x",
            "http://user@a.example/x",
        ] {
            assert!(check_endpoint(Some(bad), None).is_err(), "{bad}");
        }
        assert!(check_endpoint(None, Some(&["number.released".into()])).is_ok());
        assert!(check_endpoint(None, Some(&["number.nope".into()])).is_err());
    }
}
