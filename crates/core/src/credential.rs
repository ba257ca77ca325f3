//! Credentials are high-entropy random tokens; only their SHA-256 is stored.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ids::{AccountId, CredentialId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    /// Vobiz `X-Auth-Token`, paired with the account id in `X-Auth-ID`.
    Vobiz,
    /// Agni `X-Api-Key`.
    Agni,
    /// Diga `Authorization: Bearer`.
    Diga,
    /// A session of Vobiz access and refresh tokens (JWTs, `Authorization: Bearer` on the Vobiz
    /// face): the tokens carry its id and work while it is live, so revoking it ends them all.
    /// Its row holds no secret (the tokens are signed instead); its `token_hash` is that of its
    /// own id, which is how [`Engine::session`](crate::Engine::session) finds it.
    VobizSession,
    /// A SIP edge's key (`Authorization: Bearer` on `/routing/v1`): it asks where a call to a
    /// number goes and reports the calls it carried, for the numbers its main account pays for.
    Edge,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Vobiz => "vobiz",
            CredentialKind::Agni => "agni",
            CredentialKind::Diga => "diga",
            CredentialKind::VobizSession => "vobiz_session",
            CredentialKind::Edge => "edge",
        }
    }

    /// Agni, Diga and edge keys: the kinds the operator issues one by one (a Vobiz auth token
    /// comes with its account, a session with the sub-account that opens it).
    pub fn is_api_key(self) -> bool {
        matches!(
            self,
            CredentialKind::Agni | CredentialKind::Diga | CredentialKind::Edge
        )
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "vobiz" => Some(CredentialKind::Vobiz),
            "agni" => Some(CredentialKind::Agni),
            "diga" => Some(CredentialKind::Diga),
            "vobiz_session" => Some(CredentialKind::VobizSession),
            "edge" => Some(CredentialKind::Edge),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    pub id: CredentialId,
    pub account_id: AccountId,
    pub kind: CredentialKind,
    pub token_hash: TokenHash,
    /// Optional restriction, such as Diga's per-resource `phones:read`.
    pub scope: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it stops working: `None` while it works; a future time during a rotation's grace
    /// period (see [`Credential::is_live_at`]).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Credential {
    /// Whether it authenticates at `now`: never revoked, or revoked from a time still to come
    /// (a rotated token during its grace period).
    pub fn is_live_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none_or(|r| r > now)
    }
}

/// The longest grace period a rotated token keeps working for: 30 days. A grace period is
/// for rolling the new token out to every client, not a second long-lived token.
pub const MAX_ROTATION_GRACE: Duration = Duration::days(30);

/// The SHA-256 of a token, hex-encoded. Never the token itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(pub String);

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TokenHash {
    pub fn of(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        Self(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Compares in constant time, so response timing says nothing about a guess.
    pub fn matches(&self, token: &str) -> bool {
        Self::of(token).0.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

/// A fresh secret token: 32 random bytes as 43 URL-safe characters, behind a readable prefix.
pub fn generate_token(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 40];
    rand::thread_rng().fill_bytes(&mut bytes);
    let body: String = bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect();
    format!("{prefix}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_matches_its_token_only() {
        let token = generate_token("tok_");
        let hash = TokenHash::of(&token);
        assert!(hash.matches(&token));
        assert!(!hash.matches("tok_wrong"));
        assert_ne!(generate_token("tok_"), token);
        assert_eq!(format!("{hash:?}"), "TokenHash(..)");
    }
}
