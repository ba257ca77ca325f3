//! What differs between the backends — how a command becomes one atomic transaction and where
//! reads go — and the `Store` both get from it.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use didpool_core::audit::{AssignmentAudit, NumberEvent};
use didpool_core::call::CallRecord;
use didpool_core::console::ConsoleSession;
use didpool_core::credential::{Credential, CredentialKind, TokenHash};
use didpool_core::idempotency::{self, KeyDecision, KeyRequest, KeyStep, StoredAnswer};
use didpool_core::ids::{EndpointId, EventId, JobId};
use didpool_core::job::{Job, JobItem};
use didpool_core::lifecycle::{Command, Context, Outcome};
use didpool_core::setting::{Setting, SettingKey};
use didpool_core::store::{
    EventQuery, JobItemQuery, JobQuery, LedgerPage, LedgerQuery, NumberQuery, Page,
    SubAccountQuery, Violation,
};
use didpool_core::trunk::TrunkSettings;
use didpool_core::webhook::{Attempt, Delivery, Endpoint};
use didpool_core::{
    Account, AccountId, EngineError, Number, NumberId, NumberRef, Store, Trunk, TrunkId, E164,
};
use futures::future::BoxFuture;

use crate::ops;
use crate::sql::Sql;

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Where reads run (a pool).
    fn reader(&self) -> Result<Box<dyn Sql>, EngineError>;
    /// Runs `cmd` as one transaction: load locked, decide, write, commit; under an idempotency
    /// key, `step` also locks the key and replays or records the step's outcome ([`run_tracked`]).
    async fn execute(
        &self,
        cmd: Command,
        ctx: Context,
        step: Option<KeyStep>,
    ) -> Result<Outcome, EngineError>;
    /// Runs `work` as one write transaction of its own (the idempotency keys' claims and answers).
    async fn transact<T: Send + 'static>(&self, work: Work<T>) -> Result<T, EngineError>;
    /// See [`Store::after_bulk_load`].
    async fn after_bulk_load(&self) -> Result<(), EngineError>;
    /// See [`Store::report_metrics`].
    fn report_metrics(&self);
    /// See [`Store::ready`].
    async fn ready(&self) -> Result<(), EngineError>;
}

/// Statements run in a write transaction by [`Backend::transact`].
pub type Work<T> = Box<
    dyn for<'c> FnOnce(&'c mut dyn Sql) -> BoxFuture<'c, Result<T, EngineError>> + Send + 'static,
>;

/// Loads, decides and writes inside whatever transaction `db` is in.
pub async fn run_command(
    db: &mut dyn Sql,
    cmd: &Command,
    ctx: &Context,
    step: Option<&KeyStep>,
) -> Result<Outcome, EngineError> {
    run_tracked(db, cmd, ctx, step).await.map_err(|f| f.error)
}

/// Why a command failed, and whether it had written anything by then (only a failed write can
/// leave part of a command behind; a refusal is decided before the first write).
pub struct Failure {
    pub error: EngineError,
    pub wrote: bool,
}

/// Runs a command in `db`'s transaction. Under an idempotency key (`step`) the key's row is
/// locked first (so two requests with one key never run a step together), and a step already
/// recorded is answered from its record; otherwise the outcome is recorded with the command.
pub async fn run_tracked(
    db: &mut dyn Sql,
    cmd: &Command,
    ctx: &Context,
    step: Option<&KeyStep>,
) -> Result<Outcome, Failure> {
    let refused = |error| Failure {
        error,
        wrote: false,
    };
    if let Some(step) = step {
        if let Some(recorded) = ops::recorded_outcome(db, step).await.map_err(refused)? {
            if !idempotency::fits(cmd, &recorded) {
                return Err(refused(EngineError::AlreadyExists(
                    "an answer to this Idempotency-Key that held a secret shown once was lost; \
                     retry with a new key"
                        .into(),
                )));
            }
            return Ok(recorded);
        }
    }
    let snapshot = ops::load(db, &cmd.needs(ctx)).await.map_err(refused)?;
    let (due, own) = cmd.decide_parts(ctx, &snapshot).map_err(refused)?;
    let outcome = Outcome::new(&snapshot, due, own);
    let wrote = |error| Failure { error, wrote: true };
    ops::apply(db, &snapshot, &outcome.changes)
        .await
        .map_err(wrote)?;
    if let Some(step) = step {
        ops::record_outcome(db, step, &outcome)
            .await
            .map_err(wrote)?;
    }
    Ok(outcome)
}

/// A [`Store`] over a SQL backend.
#[derive(Clone)]
pub struct DbStore<B>(
    pub(crate) B,
    /// The page directories of held lists, shared by the store's clones.
    pub(crate) std::sync::Arc<crate::pages::Directories>,
);

#[async_trait]
impl<B: Backend> Store for DbStore<B> {
    async fn execute(&self, cmd: Command, ctx: Context) -> Result<Outcome, EngineError> {
        self.0.execute(cmd, ctx, None).await
    }

    async fn execute_keyed(
        &self,
        cmd: Command,
        ctx: Context,
        step: KeyStep,
    ) -> Result<Outcome, EngineError> {
        self.0.execute(cmd, ctx, Some(step)).await
    }

    async fn claim_key(
        &self,
        request: &KeyRequest,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> Result<(KeyDecision, Option<String>), EngineError> {
        let request = request.clone();
        self.0
            .transact(Box::new(move |db| {
                Box::pin(async move { ops::claim_key(db, &request, now, retention).await })
            }))
            .await
    }

    async fn finish_key(&self, id: &str, answer: &StoredAnswer) -> Result<(), EngineError> {
        let (id, answer) = (id.to_owned(), answer.clone());
        self.0
            .transact(Box::new(move |db| {
                Box::pin(async move { ops::finish_key(db, &id, &answer).await })
            }))
            .await
    }

    async fn release_key(&self, id: &str, now: DateTime<Utc>) -> Result<(), EngineError> {
        let id = id.to_owned();
        self.0
            .transact(Box::new(move |db| {
                Box::pin(async move { ops::release_key(db, &id, now).await })
            }))
            .await
    }

    async fn prune_keys(&self, before: DateTime<Utc>) -> Result<u64, EngineError> {
        self.0
            .transact(Box::new(move |db| {
                Box::pin(async move { ops::prune_keys(db, before).await })
            }))
            .await
    }

    async fn open_console_session(&self, session: &ConsoleSession) -> Result<(), EngineError> {
        let session = session.clone();
        self.0
            .transact(Box::new(move |db| {
                Box::pin(async move { ops::open_console_session(db, &session).await })
            }))
            .await
    }

    async fn console_session(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<ConsoleSession>, EngineError> {
        ops::console_session(self.0.reader()?.as_mut(), hash).await
    }

    async fn touch_console_session(
        &self,
        hash: &TokenHash,
        at: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let hash = hash.clone();
        self.0
            .transact(Box::new(move |db| {
                Box::pin(async move { ops::touch_console_session(db, &hash, at).await })
            }))
            .await
    }

    async fn end_console_session(&self, hash: &TokenHash) -> Result<(), EngineError> {
        let hash = hash.clone();
        self.0
            .transact(Box::new(move |db| {
                Box::pin(async move { ops::end_console_session(db, &hash).await })
            }))
            .await
    }

    async fn prune_console_sessions(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> Result<u64, EngineError> {
        self.0
            .transact(Box::new(move |db| {
                Box::pin(async move {
                    ops::prune_console_sessions(db, idle_before, created_before).await
                })
            }))
            .await
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, EngineError> {
        ops::account(self.0.reader()?.as_mut(), id).await
    }

    async fn credential(
        &self,
        kind: CredentialKind,
        hash: &TokenHash,
    ) -> Result<Option<Credential>, EngineError> {
        ops::credential(self.0.reader()?.as_mut(), kind, hash).await
    }

    async fn credentials_of(&self, account: &AccountId) -> Result<Vec<Credential>, EngineError> {
        ops::credentials_of(self.0.reader()?.as_mut(), account).await
    }

    async fn setting(&self, key: SettingKey) -> Result<Option<Setting>, EngineError> {
        ops::setting(self.0.reader()?.as_mut(), key).await
    }

    async fn route(
        &self,
        e164: &E164,
    ) -> Result<Option<(Number, Option<TrunkSettings>)>, EngineError> {
        ops::route(self.0.reader()?.as_mut(), e164).await
    }

    async fn calls(
        &self,
        number: NumberId,
        since: DateTime<Utc>,
    ) -> Result<Vec<CallRecord>, EngineError> {
        ops::calls(self.0.reader()?.as_mut(), number, since).await
    }

    async fn number_by_e164(&self, e164: &E164) -> Result<Option<Number>, EngineError> {
        ops::number_by_e164(self.0.reader()?.as_mut(), e164).await
    }

    async fn number(&self, id: NumberId) -> Result<Option<Number>, EngineError> {
        ops::number(self.0.reader()?.as_mut(), id).await
    }

    async fn numbers(&self, query: &NumberQuery) -> Result<Page<Number>, EngineError> {
        ops::numbers(self.0.reader()?.as_mut(), &self.1, query).await
    }

    async fn sub_accounts(
        &self,
        parent: &AccountId,
        query: &SubAccountQuery,
    ) -> Result<Page<Account>, EngineError> {
        ops::sub_accounts(self.0.reader()?.as_mut(), parent, query).await
    }

    async fn trunk(&self, id: TrunkId) -> Result<Option<Trunk>, EngineError> {
        ops::trunk(self.0.reader()?.as_mut(), id).await
    }

    async fn trunks(
        &self,
        account: &AccountId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Trunk>, EngineError> {
        ops::trunks(self.0.reader()?.as_mut(), account, limit, offset).await
    }

    async fn ledger(&self, query: &LedgerQuery) -> Result<LedgerPage, EngineError> {
        ops::ledger(self.0.reader()?.as_mut(), query).await
    }

    async fn job(&self, id: JobId) -> Result<Option<Job>, EngineError> {
        ops::job(self.0.reader()?.as_mut(), id).await
    }

    async fn jobs(&self, query: &JobQuery) -> Result<Page<Job>, EngineError> {
        ops::jobs(self.0.reader()?.as_mut(), query).await
    }

    async fn job_items(
        &self,
        job: JobId,
        query: &JobItemQuery,
    ) -> Result<Page<JobItem>, EngineError> {
        ops::job_items(self.0.reader()?.as_mut(), job, query).await
    }

    async fn events(&self, number: &NumberRef) -> Result<Vec<NumberEvent>, EngineError> {
        ops::events(self.0.reader()?.as_mut(), number).await
    }

    async fn assignment_audits(
        &self,
        number: &NumberRef,
    ) -> Result<Vec<AssignmentAudit>, EngineError> {
        ops::assignment_audits(self.0.reader()?.as_mut(), number).await
    }

    async fn event_log(&self, query: &EventQuery) -> Result<Vec<NumberEvent>, EngineError> {
        ops::event_log(self.0.reader()?.as_mut(), query).await
    }

    async fn event(&self, id: EventId) -> Result<Option<NumberEvent>, EngineError> {
        ops::event(self.0.reader()?.as_mut(), id).await
    }

    async fn webhook_endpoints(&self) -> Result<Vec<Endpoint>, EngineError> {
        ops::webhook_endpoints(self.0.reader()?.as_mut(), None).await
    }

    async fn webhook_endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, EngineError> {
        let found = ops::webhook_endpoints(self.0.reader()?.as_mut(), Some(id)).await?;
        Ok(found.into_iter().next())
    }

    async fn deliveries_of(&self, event: EventId) -> Result<Vec<Delivery>, EngineError> {
        ops::deliveries_of(self.0.reader()?.as_mut(), event).await
    }

    async fn attempts(
        &self,
        event: Option<EventId>,
        endpoint: Option<EndpointId>,
        limit: u32,
    ) -> Result<Vec<Attempt>, EngineError> {
        ops::attempts(self.0.reader()?.as_mut(), event, endpoint, limit).await
    }

    async fn due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<NumberId>, EngineError> {
        ops::due(self.0.reader()?.as_mut(), now, limit).await
    }

    async fn oldest_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, EngineError> {
        ops::oldest_due(self.0.reader()?.as_mut(), now).await
    }

    async fn next_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, EngineError> {
        ops::next_due(self.0.reader()?.as_mut(), now).await
    }

    fn report_metrics(&self) {
        self.0.report_metrics();
    }

    async fn after_bulk_load(&self) -> Result<(), EngineError> {
        self.0.after_bulk_load().await
    }

    async fn check(&self) -> Result<Vec<Violation>, EngineError> {
        ops::check(self.0.reader()?.as_mut()).await
    }

    async fn ready(&self) -> Result<(), EngineError> {
        self.0.ready().await
    }
}
