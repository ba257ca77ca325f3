//! Vobiz access and refresh tokens: the `tokens` block of a sub-account's creation (reference
//! §7.1), `Authorization: Bearer <access token>` on every Vobiz route (beside `X-Auth-ID` +
//! `X-Auth-Token`, which win when both are sent), `POST /api/v1/auth/refresh` and
//! `POST /api/v1/auth/revoke`.
//!
//! Both tokens are JWTs signed with HS256 by the deployment's signing key. Their claims:
//! `iss` `didpool`; `sub` the account (`SA_…`); `sid` the session (a
//! [`CredentialKind::VobizSession`](didpool_core::credential::CredentialKind::VobizSession) row
//! that the engine keeps); `typ` `access` or `refresh`; `iat` and `exp` in Unix seconds; `jti` a
//! random UUID. An access token lasts 30 minutes (`expires_in: 1800`, as documented), a refresh
//! token 7 days (Vobiz's token-authentication page). A token works while its signature holds,
//! `exp` is after the engine's clock (so the sandbox clock ages tokens too), and its session is
//! live with its account enabled: revoking the session ends every token of it at once.
//!
//! The signing key is `--token-secret` (`DIDPOOL_TOKEN_SECRET`, at least 32 characters) when set;
//! otherwise the engine generates one at the first token and keeps it in the store's `settings`
//! table, so tokens outlive a restart and every server on the database accepts them. Changing the
//! key ends every outstanding token.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use didpool_core::engine::Engine;
use didpool_core::ids::CredentialId;
use didpool_core::setting::SigningKey;
use didpool_core::{Account, AccountId, EngineError};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::dto::Tokens;

/// How long an access token works: 30 minutes (reference §7.1, `expires_in: 1800`).
pub const ACCESS_TTL: Duration = Duration::minutes(30);
/// How long a refresh token works: 7 days (Vobiz's token-authentication page).
pub const REFRESH_TTL: Duration = Duration::days(7);
/// The `iss` of every token didpool signs.
pub const ISSUER: &str = "didpool";

/// Which of the pair a token is (`typ`): an access token is refused at the refresh route and a
/// refresh token everywhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Access,
    Refresh,
}

/// A token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The account (`SA_…`).
    pub sub: String,
    /// The session (a credential id).
    pub sid: String,
    pub typ: Kind,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    pub jti: String,
}

impl Claims {
    pub fn account(&self) -> Option<AccountId> {
        AccountId::parse(&self.sub).ok()
    }

    pub fn session(&self) -> Option<CredentialId> {
        CredentialId::parse(&self.sid).ok()
    }
}

/// The signing key, as configured or as the store keeps it (looked up at the first token and
/// kept for the life of the process). Never shown by `Debug`.
#[derive(Clone, Default)]
pub struct TokenKeys {
    configured: Option<SigningKey>,
    keys: Arc<tokio::sync::OnceCell<Keys>>,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// Signs with `key` (`--token-secret`) instead of the key the store keeps.
    pub fn configured(key: SigningKey) -> Self {
        Self {
            configured: Some(key),
            keys: Arc::default(),
        }
    }

    async fn keys(&self, engine: &Engine) -> Result<&Keys, EngineError> {
        self.keys
            .get_or_try_init(|| async {
                let key = match &self.configured {
                    Some(k) => k.clone(),
                    None => engine.token_key().await?,
                };
                let secret = key.expose().as_bytes();
                let bad = |e: jsonwebtoken::errors::Error| {
                    EngineError::invalid(format!("the token signing key is unusable: {e}"))
                };
                Ok(Keys {
                    encoding: EncodingKey::from_secret(secret).map_err(bad)?,
                    decoding: DecodingKey::from_secret(secret).map_err(bad)?,
                })
            })
            .await
    }

    fn sign(keys: &Keys, claims: &Claims) -> Result<String, EngineError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &keys.encoding)
            .map_err(|e| EngineError::invalid(format!("a token could not be signed: {e}")))
    }

    /// A new access token and refresh token of session `sid` of `account`, from `now`.
    pub async fn issue(
        &self,
        engine: &Engine,
        account: &AccountId,
        sid: &CredentialId,
        now: DateTime<Utc>,
    ) -> Result<Tokens, EngineError> {
        let keys = self.keys(engine).await?;
        let claims = |typ, ttl: Duration| Claims {
            iss: ISSUER.into(),
            sub: account.to_string(),
            sid: sid.to_string(),
            typ,
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        Ok(Tokens {
            access_token: Self::sign(keys, &claims(Kind::Access, ACCESS_TTL))?,
            refresh_token: Self::sign(keys, &claims(Kind::Refresh, REFRESH_TTL))?,
            token_type: "bearer",
            expires_in: ACCESS_TTL.num_seconds(),
        })
    }

    /// Makes sure the signing key is at hand (generated and kept the first time), so a command
    /// that opens a session is not followed by a failure to sign its tokens.
    pub async fn ready(&self, engine: &Engine) -> Result<(), EngineError> {
        self.keys(engine).await.map(|_| ())
    }

    /// The claims of a token didpool signed, of either kind and whatever its age (revocation
    /// takes expired tokens too); `None` for anything else.
    pub async fn claims(
        &self,
        engine: &Engine,
        token: &str,
    ) -> Result<Option<Claims>, EngineError> {
        let keys = self.keys(engine).await?;
        let mut validation = Validation::new(Algorithm::HS256);
        // The engine's clock decides expiry (below), not the system's.
        validation.validate_exp = false;
        validation.required_spec_claims = ["iss", "sub", "exp"].map(String::from).into();
        validation.set_issuer(&[ISSUER]);
        Ok(
            jsonwebtoken::decode::<Claims>(token, &keys.decoding, &validation)
                .ok()
                .map(|t| t.claims),
        )
    }

    /// The account a token of `kind` acts as, while it has not expired at the engine's clock
    /// and its session is live.
    pub async fn authenticate(
        &self,
        engine: &Engine,
        token: &str,
        kind: Kind,
    ) -> Result<Option<(Account, Claims)>, EngineError> {
        let Some(claims) = self.claims(engine, token).await?.filter(|c| c.typ == kind) else {
            return Ok(None);
        };
        let (Some(account), Some(sid)) = (claims.account(), claims.session()) else {
            return Ok(None);
        };
        if claims.exp <= engine.now().timestamp() {
            return Ok(None);
        }
        Ok(engine
            .session(&sid)
            .await?
            .filter(|(a, _)| a.id == account)
            .map(|(a, _)| (a, claims)))
    }
}
