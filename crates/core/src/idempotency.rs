//! Idempotency keys, with the semantics of Stripe's and Telnyx's `Idempotency-Key`: a client
//! retrying a mutation with the same key gets the first answer again instead of a second effect.
//!
//! A key is scoped on the credential, the method and the path. The first request with a key
//! *claims* it ([`Claim::Run`], in its own transaction); each command the request runs is then
//! committed together with its [`Outcome`], keyed by the claim and the command's sequence number
//! (one transaction: no command without its record, no record without its command); the face's
//! rendered answer ([`StoredAnswer`]) is stored last and replayed for the retention. A request
//! that finds its key claimed but never answered (its server died) takes the claim over once the
//! claim's lease has passed and runs again: each command it repeats is answered from the record
//! instead of running twice, so the face renders the same answer. No HTTP here: the answer is
//! opaque to the engine.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::credential::TokenHash;
use crate::lifecycle::{Command, Outcome};

/// The longest key (Stripe's and Telnyx's limit).
pub const MAX_KEY_LEN: usize = 255;

/// How long a claim stays in flight before another request with the key may take it over: a
/// request's server is presumed dead by then (longer than any request may take).
pub const LEASE: Duration = Duration::seconds(60);

/// Why a key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadKey {
    #[error("the Idempotency-Key header is empty")]
    Empty,
    #[error("the Idempotency-Key header is longer than {MAX_KEY_LEN} characters")]
    TooLong,
    #[error("the Idempotency-Key header must be printable ASCII")]
    NotPrintable,
}

/// A key as a client may send it: 1 to [`MAX_KEY_LEN`] printable ASCII characters (a V4 UUID is
/// what Stripe suggests).
pub fn check_key(key: &str) -> Result<&str, BadKey> {
    if key.is_empty() {
        Err(BadKey::Empty)
    } else if key.len() > MAX_KEY_LEN {
        Err(BadKey::TooLong)
    } else if !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Err(BadKey::NotPrintable)
    } else {
        Ok(key)
    }
}

/// A request carrying a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    /// Whose key: the credential the request authenticated with (`<kind>:<id>`), or `operator`.
    pub scope: String,
    pub method: String,
    pub path: String,
    pub key: String,
    /// A digest of what the request asks (query and body): the same key asking something else
    /// is refused ([`Claim::Mismatch`]).
    pub fingerprint: String,
}

/// A face's rendered answer, kept and replayed as it was: status, the headers that matter, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A key as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRow {
    pub id: String,
    pub fingerprint: String,
    pub created_at: DateTime<Utc>,
    /// While a request runs under the key: until when its claim holds.
    pub in_flight_until: Option<DateTime<Utc>>,
    /// Once answered: the answer.
    pub answer: Option<StoredAnswer>,
}

/// What a request with a key does.
#[derive(Debug, Clone)]
pub enum Claim {
    /// Run the request under this claim.
    Run(KeyUse),
    /// Answer what the first request answered.
    Replay(StoredAnswer),
    /// Another request with the key is running.
    InFlight,
    /// The key was used for another request (query or body).
    Mismatch,
}

/// What the store does with the row it found (locked) for a key.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyDecision {
    /// No live row (none, or one older than the retention, which is replaced): insert a claim.
    Insert,
    /// An unanswered claim whose lease passed: take it over (a new lease on the same row).
    TakeOver,
    /// Answered: replay.
    Replay(StoredAnswer),
    InFlight,
    Mismatch,
}

/// The rule of a key: the row found for it (if any), decided at `now`.
pub fn decide(
    row: Option<&KeyRow>,
    fingerprint: &str,
    now: DateTime<Utc>,
    retention: Duration,
) -> KeyDecision {
    let Some(row) = row.filter(|r| r.created_at + retention > now) else {
        return KeyDecision::Insert;
    };
    if row.fingerprint != fingerprint {
        return KeyDecision::Mismatch;
    }
    match (&row.answer, row.in_flight_until) {
        (Some(answer), _) => KeyDecision::Replay(answer.clone()),
        (None, Some(until)) if until > now => KeyDecision::InFlight,
        (None, _) => KeyDecision::TakeOver,
    }
}

/// A claimed key, carried by the request ([`crate::engine::By`]): each command the request runs
/// under it takes the next sequence number ([`KeyUse::step`]).
#[derive(Debug, Clone)]
pub struct KeyUse {
    id: String,
    next: Arc<AtomicU32>,
}

impl KeyUse {
    pub fn new(id: String) -> Self {
        Self {
            id,
            next: Arc::new(AtomicU32::new(0)),
        }
    }

    /// The claim's row id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The step of the request's next command.
    pub fn step(&self) -> KeyStep {
        KeyStep {
            key_id: self.id.clone(),
            seq: self.next.fetch_add(1, Ordering::SeqCst),
        }
    }
}

/// One command of a request run under a key: the claim, and which of its commands (from 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStep {
    pub key_id: String,
    pub seq: u32,
}

/// Whether a recorded outcome may answer `cmd` again. A command issuing a secret (a token is
/// shown once, and only its hash is kept) fits only the outcome that holds its own token: a
/// request repeated after its answer was lost made a new token, which the old outcome does not
/// know, so it must not be answered with the old credential.
pub fn fits(cmd: &Command, recorded: &Outcome) -> bool {
    let issued = |hash: &TokenHash| {
        recorded
            .changes
            .credentials
            .iter()
            .any(|c| c.row().token_hash == *hash)
    };
    match cmd {
        Command::CreateAccount { token_hash, .. }
        | Command::CreateCredential { token_hash, .. }
        | Command::RotateAuthToken { token_hash, .. } => issued(token_hash),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(at: DateTime<Utc>, until: Option<DateTime<Utc>>, answered: bool) -> KeyRow {
        KeyRow {
            id: "k".into(),
            fingerprint: "f".into(),
            created_at: at,
            in_flight_until: until,
            answer: answered.then(|| StoredAnswer {
                status: 201,
                headers: vec![],
                body: b"{}".to_vec(),
            }),
        }
    }

    #[test]
    fn keys_are_one_to_255_printable_characters() {
        assert_eq!(check_key(""), Err(BadKey::Empty));
        assert_eq!(check_key(&"a".repeat(256)), Err(BadKey::TooLong));
        assert_eq!(check_key("a\u{e9}"), Err(BadKey::NotPrintable));
        assert_eq!(check_key("a\tb"), Err(BadKey::NotPrintable));
        assert!(check_key(&"a".repeat(255)).is_ok());
        assert!(check_key("9f1c0f4e-2b0b-4c5e-9d7a-3f1e2a4b5c6d").is_ok());
    }

    #[test]
    fn a_key_replays_until_the_retention_then_starts_over() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let day = Duration::hours(24);
        let done = row(t0, None, true);
        assert!(matches!(
            decide(Some(&done), "f", t0 + Duration::hours(23), day),
            KeyDecision::Replay(_)
        ));
        assert_eq!(decide(Some(&done), "f", t0 + day, day), KeyDecision::Insert);
        assert_eq!(decide(None, "f", t0, day), KeyDecision::Insert);
    }

    #[test]
    fn another_request_with_the_key_is_a_mismatch_even_in_flight() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let day = Duration::hours(24);
        let running = row(t0, Some(t0 + LEASE), false);
        assert_eq!(decide(Some(&running), "g", t0, day), KeyDecision::Mismatch);
        assert_eq!(decide(Some(&running), "f", t0, day), KeyDecision::InFlight);
        assert_eq!(
            decide(Some(&running), "f", t0 + LEASE, day),
            KeyDecision::TakeOver
        );
    }

    #[test]
    fn each_command_of_a_request_takes_the_next_step() {
        let key = KeyUse::new("k".into());
        let again = key.clone();
        assert_eq!(key.step().seq, 0);
        assert_eq!(again.step().seq, 1);
        assert_eq!(key.step().key_id, "k");
    }
}
