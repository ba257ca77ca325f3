//! The engine: runs commands against a store with the deployment's clock and policy.

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};

use crate::account::{Account, NewAccount};
use crate::audit::Actor;
use crate::auth_cache::AuthCache;
use crate::clock::Clock;
use crate::credential::{generate_token, Credential, CredentialKind, TokenHash};
use crate::due_cache::DueCache;
use crate::e164::{InvalidNumber, NumberValidation, E164};
use crate::error::EngineError;
use crate::idempotency::{Claim, KeyDecision, KeyRequest, KeyUse, StoredAnswer};
use crate::ids::{AccountId, CredentialId};
use crate::lifecycle::{ClockMove, Command, Context, Outcome, Write};
use crate::policy::ReleasePolicy;
use crate::setting::{Setting, SettingKey, SigningKey};
use crate::store::Store;

/// Who is asking: an authenticated account, or the operator.
#[derive(Debug, Clone)]
pub struct By {
    pub actor: Actor,
    billing: Option<AccountId>,
    pub request_id: Option<String>,
    /// The credential the request authenticated with, if an account's.
    pub credential: Option<CredentialId>,
    /// The idempotency key the request claimed: its commands run under it ([`Engine::run`]).
    pub key: Option<KeyUse>,
}

impl By {
    /// The account asking, if an account is.
    pub fn caller(&self) -> Option<&AccountId> {
        match &self.actor {
            Actor::Account(id) => Some(id),
            _ => None,
        }
    }

    /// The asking account's master account (itself, or its parent).
    pub fn billing(&self) -> Option<&AccountId> {
        self.billing.as_ref()
    }

    pub fn is_operator(&self) -> bool {
        matches!(self.actor, Actor::Operator | Actor::System)
    }

    /// The scheduler.
    pub fn system() -> Self {
        Self {
            actor: Actor::System,
            billing: None,
            request_id: None,
            credential: None,
            key: None,
        }
    }

    pub fn account(account: &Account, request_id: Option<String>) -> Self {
        Self {
            actor: Actor::Account(account.id.clone()),
            billing: Some(account.billing_id().clone()),
            request_id,
            credential: None,
            key: None,
        }
    }

    /// An account known by its id and its master account's (a job's account, whose rights
    /// the job's items run with), not through a credential.
    pub fn acting_for(account: AccountId, billing: AccountId, request_id: Option<String>) -> Self {
        Self {
            actor: Actor::Account(account),
            billing: Some(billing),
            request_id,
            credential: None,
            key: None,
        }
    }

    pub fn operator(request_id: Option<String>) -> Self {
        Self {
            actor: Actor::Operator,
            billing: None,
            request_id,
            credential: None,
            key: None,
        }
    }

    /// The same caller, authenticated with `credential`.
    pub fn with_credential(mut self, credential: CredentialId) -> Self {
        self.credential = Some(credential);
        self
    }

    /// The same caller, running its commands under `key` (if any).
    pub fn with_key(mut self, key: Option<KeyUse>) -> Self {
        self.key = key;
        self
    }

    /// Whose idempotency keys this caller uses: its credential's (`credential:<id>`), or the
    /// operator's.
    pub fn key_scope(&self) -> String {
        match (&self.actor, &self.credential) {
            (_, Some(id)) => format!("credential:{id}"),
            (Actor::Account(id), None) => format!("account:{id}"),
            (Actor::Operator | Actor::System, None) => "operator".to_owned(),
        }
    }
}

#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    policy: ReleasePolicy,
    numbers: NumberValidation,
    /// Authenticated credentials, kept for a short time (off unless [`Engine::with_auth_cache`]).
    auth: Arc<AuthCache>,
    /// What a list's last settling found (off unless [`Engine::with_due_cache`]).
    due: Arc<DueCache>,
}

impl Engine {
    /// An engine checking numbers strictly; see [`Engine::with_number_validation`].
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, policy: ReleasePolicy) -> Self {
        Self {
            store,
            clock,
            policy,
            numbers: NumberValidation::Strict,
            auth: Arc::new(AuthCache::new(Duration::zero())),
            due: Arc::new(DueCache::new(std::time::Duration::ZERO)),
        }
    }

    /// The same engine, letting a list skip [`Engine::settle_due`]'s scan while a scan less
    /// than `recheck` ago left nothing due before the clock (zero: every list scans); see
    /// [`crate::due_cache`] for what holds on this node and across nodes.
    pub fn with_due_cache(mut self, recheck: std::time::Duration) -> Self {
        self.due = Arc::new(DueCache::new(recheck));
        self
    }

    /// The same engine, keeping what [`Engine::authenticate`] read for `ttl` (zero: not at all);
    /// see [`crate::auth_cache`] for what holds on this node and across nodes.
    pub fn with_auth_cache(mut self, ttl: Duration) -> Self {
        self.auth = Arc::new(AuthCache::new(ttl));
        self
    }

    /// The same engine (store, policy) on another clock.
    pub fn with_clock(&self, clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            ..self.clone()
        }
    }

    /// The same engine, checking the numbers clients give under `rule`.
    pub fn with_number_validation(mut self, rule: NumberValidation) -> Self {
        self.numbers = rule;
        self
    }

    /// The deployment's rule for the numbers clients give.
    pub fn number_validation(&self) -> NumberValidation {
        self.numbers
    }

    /// A phone number a client gave (in a path, a body, a CSV row, a command-line argument),
    /// under the deployment's rule: every face and import parses through here.
    pub fn parse_number(&self, input: &str) -> Result<E164, InvalidNumber> {
        self.numbers.parse_number(input)
    }

    /// The store, for the engine's own reads ([`crate::queries`]); faces read through those.
    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The clock's time to the microsecond, the precision both stores keep.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now().trunc_subsecs(6)
    }

    pub fn policy(&self) -> &ReleasePolicy {
        &self.policy
    }

    /// The context a command of `by` runs in now.
    pub(crate) fn context(&self, by: &By) -> Context {
        Context {
            actor: by.actor.clone(),
            caller_billing: by.billing.clone(),
            now: self.now(),
            request_id: by.request_id.clone(),
            policy: self.policy.clone(),
        }
    }

    /// Runs one command as one atomic unit: its changes, and the number it locked as the
    /// command left it, from which a face renders its answer. Each run is counted through the
    /// `metrics` facade (a no-op unless the binary installs a recorder):
    /// `didpool_commands_total{command, outcome}` (`outcome`: `ok`, or the [`EngineError`]
    /// variant in snake_case) and `didpool_command_duration_seconds{command}`.
    ///
    /// Under an idempotency key, a command the request already committed (before a crash lost
    /// its answer) is answered from its record instead of running again.
    pub async fn run(&self, by: &By, cmd: Command) -> Result<Outcome, EngineError> {
        let command: &'static str = (&cmd).into();
        let started = std::time::Instant::now();
        let result = match &by.key {
            Some(key) => {
                self.store
                    .execute_keyed(cmd, self.context(by), key.step())
                    .await
            }
            None => self.store.execute(cmd, self.context(by)).await,
        };
        if let Ok(done) = &result {
            let c = &done.changes;
            // A commit that may make something due sooner: the next list scans.
            if c.may_move_due_times() {
                self.due.forget();
            }
            self.auth.forget(
                c.accounts
                    .iter()
                    .map(|a| &a.row().id)
                    .chain(c.credentials.iter().map(|k| &k.row().account_id)),
            );
        }
        let outcome: &'static str = match &result {
            Ok(_) => "ok",
            Err(e) => e.into(),
        };
        metrics::counter!("didpool_commands_total", "command" => command, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("didpool_command_duration_seconds", "command" => command)
            .record(started.elapsed().as_secs_f64());
        result
    }

    /// Claims an idempotency key for a request at the engine's clock, with answers kept for
    /// `retention` (see [`crate::idempotency`]).
    pub async fn claim_key(
        &self,
        request: &KeyRequest,
        retention: Duration,
    ) -> Result<Claim, EngineError> {
        let (decision, id) = self.store.claim_key(request, self.now(), retention).await?;
        Ok(match (decision, id) {
            (KeyDecision::Replay(answer), _) => Claim::Replay(answer),
            (KeyDecision::InFlight, _) => Claim::InFlight,
            (KeyDecision::Mismatch, _) => Claim::Mismatch,
            (KeyDecision::Insert | KeyDecision::TakeOver, Some(id)) => Claim::Run(KeyUse::new(id)),
            (KeyDecision::Insert | KeyDecision::TakeOver, None) => {
                return Err(EngineError::Storage(
                    "the store claimed an idempotency key without its id".into(),
                ))
            }
        })
    }

    /// Keeps the answer of a claimed key, to be replayed.
    pub async fn finish_key(&self, key: &KeyUse, answer: &StoredAnswer) -> Result<(), EngineError> {
        self.store.finish_key(key.id(), answer).await
    }

    /// Gives a claim up without an answer: a retry with the key runs again (replaying any command
    /// the request committed).
    pub async fn release_key(&self, key: &KeyUse) -> Result<(), EngineError> {
        self.store.release_key(key.id(), self.now()).await
    }

    /// Deletes the idempotency keys older than `retention` at the engine's clock (the scheduler
    /// does, every pass); returns how many.
    pub async fn prune_keys(&self, retention: Duration) -> Result<u64, EngineError> {
        self.store.prune_keys(self.now() - retention).await
    }

    /// Sets the store's gauges (see [`Store::report_metrics`]), before the metrics are rendered.
    pub fn report_metrics(&self) {
        self.store.report_metrics();
    }

    /// How late the scheduler is: the earliest time at which something now due fell due (a
    /// release, a quarantine's end, a reservation's expiry, a renewal), or `None` when nothing
    /// with a due time is waiting.
    pub async fn oldest_due(&self) -> Result<Option<DateTime<Utc>>, EngineError> {
        self.store.oldest_due(self.now()).await
    }

    /// Whether the store can take writes now (see [`crate::store::Store::ready`]): what `/readyz` answers.
    pub async fn ready(&self) -> Result<(), EngineError> {
        self.store.ready().await
    }

    /// Runs the scheduler once: does every item due now — scheduled releases, quarantine ends,
    /// reservation expiries, verification outcomes, renewals — each number in its own
    /// transaction and exactly once however many schedulers run together (each step re-checks
    /// its row, locked). A number whose step fails is logged and skipped, never a stop for the
    /// others. Returns how many numbers changed.
    pub async fn run_due(&self) -> Result<usize, EngineError> {
        Ok(self.run_due_within(500, 10_000).await?.0)
    }

    /// What a list does before it reads: the items due now, at most `limit` of them (the
    /// scheduler takes any backlog beyond that), so a page shows numbers as they stand at the
    /// clock. When nothing is due this is one indexed read, and then a second for the earliest
    /// due time ahead, which lets the lists after it skip both until then (with
    /// [`Engine::with_due_cache`]; [`crate::due_cache`] says what holds).
    pub(crate) async fn settle_due(&self, limit: u32) -> Result<usize, EngineError> {
        let now = self.now();
        if self.due.nothing_due(now) {
            return Ok(0);
        }
        let scan = self.due.begin();
        // The scan's clock is read after `now`: an item falling due between is settled or is
        // at or before `next_due(now)`, never skipped.
        let (done, found) = self.run_due_within(limit, 1).await?;
        // A scan overtaken by a commit here cannot be remembered: then `next_due` is not read.
        if found < limit as usize && self.due.may_remember(scan) {
            self.due.remember(scan, self.store.next_due(now).await?);
        } else {
            self.due.end(scan);
        }
        Ok(done)
    }

    /// Passes of the due scan, each at most `batch` numbers: how many numbers changed, and how
    /// many the last pass found.
    async fn run_due_within(
        &self,
        batch: u32,
        max_passes: usize,
    ) -> Result<(usize, usize), EngineError> {
        let by = By::system();
        let mut done = 0;
        let mut found = 0;
        let mut failed = std::collections::HashSet::new();
        for _ in 0..max_passes {
            let due = self.store.due(self.now(), batch).await?;
            found = due.len();
            let mut progressed = false;
            for id in due {
                if failed.contains(&id) {
                    continue;
                }
                match self.run(&by, Command::Tick { id }).await {
                    Ok(outcome) if !outcome.unchanged() => {
                        done += 1;
                        progressed = true;
                    }
                    Ok(_) => {}
                    // The store, not the number: the next run tries again.
                    Err(e @ EngineError::Unavailable(_)) => return Err(e),
                    Err(e) => {
                        tracing::error!(number_id = %id, error = %e, "scheduler skipped a number it cannot process");
                        failed.insert(id);
                        progressed = true;
                    }
                }
            }
            if !progressed {
                break;
            }
        }
        Ok((done, found))
    }

    /// Deletes the records of calls that ended more than `retention` ago
    /// ([`Command::PruneCalls`]; the scheduler, each pass).
    pub async fn prune_calls(&self, retention: Duration) -> Result<(), EngineError> {
        let before = self
            .now()
            .checked_sub_signed(retention)
            .unwrap_or(crate::clock::MIN_TIME)
            .max(crate::clock::MIN_TIME);
        self.run(&By::system(), Command::PruneCalls { before })
            .await
            .map(drop)
    }

    /// Creates an account with a fresh Vobiz auth token, returned in clear this once.
    pub async fn create_account(
        &self,
        by: &By,
        account: NewAccount,
        parent: Option<AccountId>,
    ) -> Result<(Account, String), EngineError> {
        let (account, token, _) = self.open_account(by, account, parent, false).await?;
        Ok((account, token))
    }

    /// [`Engine::create_account`], with a live session for the account's first access and
    /// refresh tokens ([`CredentialKind::VobizSession`]), opened in the same transaction.
    pub async fn create_account_with_session(
        &self,
        by: &By,
        account: NewAccount,
        parent: Option<AccountId>,
    ) -> Result<(Account, String, Credential), EngineError> {
        let (account, token, session) = self.open_account(by, account, parent, true).await?;
        Ok((
            account,
            token,
            session.ok_or(EngineError::CredentialNotFound)?,
        ))
    }

    async fn open_account(
        &self,
        by: &By,
        account: NewAccount,
        parent: Option<AccountId>,
        session: bool,
    ) -> Result<(Account, String, Option<Credential>), EngineError> {
        let token = generate_token("");
        let cmd = Command::CreateAccount {
            account,
            parent,
            token_hash: TokenHash::of(&token),
            session,
        };
        let outcome = self.run(by, cmd).await?;
        let account = outcome
            .changes
            .account()
            .cloned()
            .ok_or(EngineError::AccountNotFound)?;
        let session = outcome
            .changes
            .credentials
            .iter()
            .map(Write::row)
            .find(|c| c.kind == CredentialKind::VobizSession)
            .cloned();
        Ok((account, token, session))
    }

    /// Issues an API key of `kind` for an account, returned in clear this once.
    pub async fn create_key(
        &self,
        by: &By,
        account: AccountId,
        kind: CredentialKind,
        scope: Option<String>,
    ) -> Result<(Credential, String), EngineError> {
        let prefix = match kind {
            CredentialKind::Vobiz | CredentialKind::VobizSession => "",
            CredentialKind::Agni => "agni_",
            CredentialKind::Diga => "diga_",
            CredentialKind::Edge => "edge_",
        };
        let token = generate_token(prefix);
        let cmd = Command::CreateCredential {
            account,
            kind,
            token_hash: TokenHash::of(&token),
            scope,
        };
        let outcome = self.run(by, cmd).await?;
        let credential = outcome
            .changes
            .credential()
            .cloned()
            .ok_or(EngineError::CredentialNotFound)?;
        Ok((credential, token))
    }

    /// Issues an account's new Vobiz auth token, returned in clear this once, and revokes the
    /// ones it had from `now + grace` ([`Command::RotateAuthToken`]). Returns the new credential,
    /// its token, and the earlier tokens as the rotation left them.
    pub async fn rotate_auth_token(
        &self,
        by: &By,
        account: AccountId,
        grace: Duration,
    ) -> Result<(Credential, String, Vec<Credential>), EngineError> {
        let token = generate_token("");
        let cmd = Command::RotateAuthToken {
            account,
            token_hash: TokenHash::of(&token),
            grace,
        };
        let outcome = self.run(by, cmd).await?;
        let mut new = None;
        let mut revoked = Vec::new();
        for w in outcome.changes.credentials {
            match w {
                Write::Insert(c) => new = Some(c),
                w => revoked.push(w.row().clone()),
            }
        }
        let new = new.ok_or(EngineError::CredentialNotFound)?;
        Ok((new, token, revoked))
    }

    /// Moves the sandbox clock's stored time ([`Command::SetClock`]) and returns it; the caller
    /// moves its [`ManualClock`](crate::clock::ManualClock) there.
    pub async fn set_sandbox_clock(
        &self,
        by: &By,
        to: ClockMove,
    ) -> Result<DateTime<Utc>, EngineError> {
        let outcome = self.run(by, Command::SetClock { to }).await?;
        match outcome.changes.settings.first() {
            Some(Setting::SandboxClock(t)) => Ok(*t),
            _ => Err(EngineError::invalid("the clock did not move")),
        }
    }

    /// The live session `id` ([`CredentialKind::VobizSession`]) and the live, enabled account it
    /// belongs to: what a Vobiz access or refresh token naming it may act as, until the session
    /// is revoked (by its account, its main account, the operator, or the sub-account's deletion).
    pub async fn session(
        &self,
        id: &CredentialId,
    ) -> Result<Option<(Account, Credential)>, EngineError> {
        self.authenticate(CredentialKind::VobizSession, &id.to_string(), None)
            .await
    }

    /// Ends the session `id` of `account` at once ([`Command::RevokeSession`]); returns whether
    /// it was live until now.
    pub async fn revoke_session(
        &self,
        by: &By,
        id: CredentialId,
        account: AccountId,
    ) -> Result<bool, EngineError> {
        let outcome = self.run(by, Command::RevokeSession { id, account }).await?;
        Ok(!outcome.changes.credentials.is_empty())
    }

    /// The deployment's token signing key: the one kept in the store, or, the first time, a new
    /// random one, kept ([`Command::InitTokenKey`]: when servers race, every one of them gets the
    /// key the first wrote).
    pub async fn token_key(&self) -> Result<SigningKey, EngineError> {
        if let Some(key) = self.stored_token_key().await? {
            return Ok(key);
        }
        let key = SigningKey::generate();
        self.run(&By::system(), Command::InitTokenKey { key })
            .await?;
        self.stored_token_key()
            .await?
            .ok_or_else(|| EngineError::invalid("the token signing key was not kept"))
    }

    async fn stored_token_key(&self) -> Result<Option<SigningKey>, EngineError> {
        Ok(match self.store.setting(SettingKey::TokenKey).await? {
            Some(Setting::TokenKey(key)) => Some(key),
            _ => None,
        })
    }

    /// The live, enabled account a token of `kind` belongs to, while the token is live at the
    /// engine's clock ([`Credential::is_live_at`]: a rotated token works until its grace period
    /// ends). With `account_id` (Vobiz's `X-Auth-ID`), the token must belong to that account.
    pub async fn authenticate(
        &self,
        kind: CredentialKind,
        token: &str,
        account_id: Option<&AccountId>,
    ) -> Result<Option<(Account, Credential)>, EngineError> {
        let hash = TokenHash::of(token);
        let now = self.now();
        let (account, credential) = match self.auth.get(kind, &hash, now) {
            Some(hit) => hit,
            None => {
                let generation = self.auth.generation();
                let Some(credential) = self.store.credential(kind, &hash).await? else {
                    return Ok(None);
                };
                let Some(account) = self.store.account(&credential.account_id).await? else {
                    return Ok(None);
                };
                // A sub-account acts on its master account's money: it works only while the
                // master does (disabling the master forgets its sub-accounts' entries too).
                if let Some(parent) = &account.parent_id {
                    let master = self.store.account(parent).await?;
                    if !master.is_some_and(|m| m.is_live() && m.enabled) {
                        return Ok(None);
                    }
                }
                self.auth.put(generation, &account, &credential, now);
                (account, credential)
            }
        };
        // A cached pair is checked exactly as a fresh one.
        let good = credential.token_hash.matches(token)
            && credential.is_live_at(now)
            && account_id.is_none_or(|id| *id == credential.account_id)
            && account.is_live()
            && account.enabled;
        Ok(good.then_some((account, credential)))
    }
}
