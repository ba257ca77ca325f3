//! Sessions of the web console: a browser signs in once with an account's Vobiz auth id and
//! token (or the operator's token) and carries a random session id in a cookie. Only the id's
//! hash is kept; a session ends at sign-out, after its idle or absolute lifetime, and as soon as
//! the credential it was opened with stops working (revoked, rotated past its grace, its
//! account disabled or deleted).
//!
//! A session's times are real time (`now_real`, as a job's lease): a sandbox's clock, moved a
//! month forward, must not end the operator's session that moved it. Whether its credential
//! works is the engine's clock's question, as for the APIs.

use chrono::{DateTime, Duration, Utc};

use crate::account::Account;
use crate::credential::{generate_token, Credential, TokenHash};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::{AccountId, CredentialId};

/// Who a console session acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOwner {
    /// An account, with the Vobiz credential it signed in with.
    Account {
        account: AccountId,
        credential: CredentialId,
    },
    /// The operator, with the hash of the admin token it signed in with (a changed token ends
    /// the session).
    Operator { token_hash: TokenHash },
}

/// One console session as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The SHA-256 of the session id the cookie carries (never the id).
    pub id_hash: TokenHash,
    pub owner: SessionOwner,
    pub created_at: DateTime<Utc>,
    /// The last request seen with it (kept to the minute or so, see [`TOUCH_EVERY`]).
    pub seen_at: DateTime<Utc>,
}

/// How long a console session lives: `idle` since its last request, `absolute` since it opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetime {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionLifetime {
    /// 30 minutes idle, 12 hours in all.
    fn default() -> Self {
        Self {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

impl SessionLifetime {
    /// Whether `s` is still alive at `now`.
    pub fn alive(&self, s: &ConsoleSession, now: DateTime<Utc>) -> bool {
        now - s.seen_at < self.idle && now - s.created_at < self.absolute
    }
}

/// A session's `seen_at` is written at most this often (a page load is otherwise a read).
pub const TOUCH_EVERY: Duration = Duration::seconds(15);

/// A live session: who it acts as, and the session's row.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub session: ConsoleSession,
    /// The account (`None` for the operator).
    pub account: Option<Account>,
    pub credential: Option<Credential>,
}

impl Engine {
    /// Opens a console session for `owner` at `now_real`; returns the session id, in clear this
    /// once (the cookie's value).
    pub async fn open_console_session(
        &self,
        owner: SessionOwner,
        now_real: DateTime<Utc>,
    ) -> Result<String, EngineError> {
        let id = generate_token("cs_");
        let now = now_real;
        let session = ConsoleSession {
            id_hash: TokenHash::of(&id),
            owner,
            created_at: now,
            seen_at: now,
        };
        self.store().open_console_session(&session).await?;
        Ok(id)
    }

    /// The session `id` names, while it is alive under `lifetime` at `now_real` and its
    /// credential still works at the engine's clock (see the module); a dead one is deleted.
    /// `operator_token` is the admin token in force now (`None`: operator sessions are dead).
    pub async fn console_session(
        &self,
        id: &str,
        lifetime: SessionLifetime,
        operator_token: Option<&str>,
        now_real: DateTime<Utc>,
    ) -> Result<Option<LiveSession>, EngineError> {
        let hash = TokenHash::of(id);
        let Some(session) = self.store().console_session(&hash).await? else {
            return Ok(None);
        };
        let now = now_real;
        let live = if !lifetime.alive(&session, now) {
            None
        } else {
            match &session.owner {
                SessionOwner::Operator { token_hash } => operator_token
                    .filter(|t| token_hash.matches(t))
                    .map(|_| LiveSession {
                        session: session.clone(),
                        account: None,
                        credential: None,
                    }),
                SessionOwner::Account {
                    account,
                    credential,
                } => {
                    let cred = self
                        .store()
                        .credentials_of(account)
                        .await?
                        .into_iter()
                        .find(|c| &c.id == credential && c.is_live_at(self.now()));
                    let acct = self
                        .store()
                        .account(account)
                        .await?
                        .filter(|a| a.is_live() && a.enabled);
                    match (cred, acct) {
                        (Some(c), Some(a)) => Some(LiveSession {
                            session: session.clone(),
                            account: Some(a),
                            credential: Some(c),
                        }),
                        _ => None,
                    }
                }
            }
        };
        match &live {
            None => self.store().end_console_session(&hash).await?,
            Some(_) if now - session.seen_at >= TOUCH_EVERY => {
                self.store().touch_console_session(&hash, now).await?
            }
            Some(_) => {}
        }
        Ok(live)
    }

    /// Ends the session `id` (sign-out); ending one that is gone is no error.
    pub async fn end_console_session(&self, id: &str) -> Result<(), EngineError> {
        self.store().end_console_session(&TokenHash::of(id)).await
    }

    /// Deletes the sessions dead under `lifetime` at `now_real`; returns how many.
    pub async fn prune_console_sessions(
        &self,
        lifetime: SessionLifetime,
        now_real: DateTime<Utc>,
    ) -> Result<u64, EngineError> {
        let now = now_real;
        self.store()
            .prune_console_sessions(now - lifetime.idle, now - lifetime.absolute)
            .await
    }
}
