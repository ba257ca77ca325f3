//! What the engine needs from storage. Two implementations (SQLite, PostgreSQL) live in
//! `didpool-store`; one conformance suite holds both to this contract.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::audit::{AssignmentAudit, NumberEvent};
use crate::call::CallRecord;
use crate::console::ConsoleSession;
use crate::credential::{Credential, CredentialKind, TokenHash};
use crate::e164::E164;
use crate::error::EngineError;
use crate::idempotency::{KeyDecision, KeyRequest, KeyStep, StoredAnswer};
use crate::ids::{AccountId, EndpointId, EventId, JobId, NumberId, TrunkId};
use crate::job::{Job, JobItem};
use crate::ledger::{EntryKind, LedgerEntry};
use crate::lifecycle::{Command, Context, Outcome};
use crate::money::Decimal;
use crate::number::{Number, NumberRef, NumberState};
use crate::setting::{Setting, SettingKey};
use crate::trunk::{Trunk, TrunkSettings};
use crate::webhook::{Attempt, Delivery, Endpoint};

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Runs one command atomically: loads `cmd.needs(ctx)` locked, calls `cmd.decide`, writes the
    /// changes and commits before returning them with the number the command locked
    /// ([`Outcome::new`]). On an error nothing is written.
    async fn execute(&self, cmd: Command, ctx: Context) -> Result<Outcome, EngineError>;

    /// [`Store::execute`] for step `step` of a request under an idempotency key: in the same
    /// transaction, with the key's row locked, answers the outcome recorded for the step (without
    /// running the command again) if there is one that [`fits`](crate::idempotency::fits) the
    /// command, or runs the command and records its outcome for the step.
    async fn execute_keyed(
        &self,
        cmd: Command,
        ctx: Context,
        step: KeyStep,
    ) -> Result<Outcome, EngineError>;

    /// Claims a key in a transaction of its own: loads its row locked, applies
    /// [`decide`](crate::idempotency::decide) and writes the claim (a new row in flight until
    /// `now + LEASE`, replacing one past the retention, or a takeover). Returns the decision and
    /// the row id claimed (for `Insert` and `TakeOver`).
    async fn claim_key(
        &self,
        request: &KeyRequest,
        now: DateTime<Utc>,
        retention: chrono::Duration,
    ) -> Result<(KeyDecision, Option<String>), EngineError>;

    /// Stores the answer of the claim `id` (it is no longer in flight), unless it has one.
    async fn finish_key(&self, id: &str, answer: &StoredAnswer) -> Result<(), EngineError>;

    /// Ends the claim `id` without an answer (the request failed on the server's side): the next
    /// request with the key takes it over at once.
    async fn release_key(&self, id: &str, now: DateTime<Utc>) -> Result<(), EngineError>;

    /// Deletes the keys created before `before`, with their records; returns how many.
    async fn prune_keys(&self, before: DateTime<Utc>) -> Result<u64, EngineError>;

    /// Keeps a new console session ([`crate::console`]).
    async fn open_console_session(&self, session: &ConsoleSession) -> Result<(), EngineError>;
    /// The console session whose id hashes to `hash`.
    async fn console_session(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<ConsoleSession>, EngineError>;
    /// Moves a console session's `seen_at`.
    async fn touch_console_session(
        &self,
        hash: &TokenHash,
        at: DateTime<Utc>,
    ) -> Result<(), EngineError>;
    /// Deletes a console session (sign-out, or found dead).
    async fn end_console_session(&self, hash: &TokenHash) -> Result<(), EngineError>;
    /// Deletes the console sessions last seen before `idle_before` or opened before
    /// `created_before`; returns how many.
    async fn prune_console_sessions(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> Result<u64, EngineError>;

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, EngineError>;
    /// The credential of this kind with this hash, revoked or not: whether it still works is the
    /// engine's rule ([`Credential::is_live_at`]).
    async fn credential(
        &self,
        kind: CredentialKind,
        hash: &TokenHash,
    ) -> Result<Option<Credential>, EngineError>;
    /// Every credential of an account, revoked ones included, by `created_at` then id.
    async fn credentials_of(&self, account: &AccountId) -> Result<Vec<Credential>, EngineError>;
    /// A deployment-wide setting, if it is set.
    async fn setting(&self, key: SettingKey) -> Result<Option<Setting>, EngineError>;
    /// The live (not deleted) number with this E.164 and the settings of its trunk, if it is on
    /// one: one indexed read, what a SIP edge's routing lookup costs.
    async fn route(
        &self,
        e164: &E164,
    ) -> Result<Option<(Number, Option<TrunkSettings>)>, EngineError>;
    /// The call records of a number that started after `since`, oldest first.
    async fn calls(
        &self,
        number: NumberId,
        since: DateTime<Utc>,
    ) -> Result<Vec<CallRecord>, EngineError>;
    /// The live (not deleted) number with this E.164.
    async fn number_by_e164(&self, e164: &E164) -> Result<Option<Number>, EngineError>;
    async fn number(&self, id: NumberId) -> Result<Option<Number>, EngineError>;
    async fn numbers(&self, query: &NumberQuery) -> Result<Page<Number>, EngineError>;
    async fn sub_accounts(
        &self,
        parent: &AccountId,
        query: &SubAccountQuery,
    ) -> Result<Page<Account>, EngineError>;
    async fn trunk(&self, id: TrunkId) -> Result<Option<Trunk>, EngineError>;
    async fn trunks(
        &self,
        account: &AccountId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Trunk>, EngineError>;
    async fn ledger(&self, query: &LedgerQuery) -> Result<LedgerPage, EngineError>;
    /// The events of one row (by id), or of every row an E.164 ever had, oldest first.
    async fn events(&self, number: &NumberRef) -> Result<Vec<NumberEvent>, EngineError>;
    /// The `did_assignment_audit` rows, chosen as [`Store::events`] chooses events.
    async fn assignment_audits(
        &self,
        number: &NumberRef,
    ) -> Result<Vec<AssignmentAudit>, EngineError>;
    /// Events in the order of their commit sequence (see [`EventQuery`]).
    async fn event_log(&self, query: &EventQuery) -> Result<Vec<NumberEvent>, EngineError>;
    async fn event(&self, id: EventId) -> Result<Option<NumberEvent>, EngineError>;
    /// Every webhook endpoint, oldest first.
    async fn webhook_endpoints(&self) -> Result<Vec<Endpoint>, EngineError>;
    async fn webhook_endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, EngineError>;
    /// The deliveries of an event (to each endpoint), in queue order.
    async fn deliveries_of(&self, event: EventId) -> Result<Vec<Delivery>, EngineError>;
    /// The latest attempts, newest first: of one event, or to one endpoint, or all.
    async fn attempts(
        &self,
        event: Option<EventId>,
        endpoint: Option<EndpointId>,
        limit: u32,
    ) -> Result<Vec<Attempt>, EngineError>;
    async fn job(&self, id: JobId) -> Result<Option<Job>, EngineError>;
    /// Jobs, newest first (see [`JobQuery`]).
    async fn jobs(&self, query: &JobQuery) -> Result<Page<Job>, EngineError>;
    /// The items of a job in their order (see [`JobItemQuery`]).
    async fn job_items(
        &self,
        job: JobId,
        query: &JobItemQuery,
    ) -> Result<Page<JobItem>, EngineError>;
    /// Numbers with something due at `now` for the scheduler, at most `limit`.
    async fn due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<NumberId>, EngineError>;
    /// The earliest due time among the numbers [`Store::due`] finds at `now` (those due from a
    /// verification outcome have no time of their own and are left out); `None` if there is none.
    async fn oldest_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, EngineError>;
    /// The earliest due time after `now` among the items [`Store::due`] would find once the
    /// clock reaches it (a release, a quarantine's end, a reservation's expiry, a renewal);
    /// `None` if nothing has one. A list skips its settling until then (see
    /// [`crate::due_cache`]).
    async fn next_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, EngineError>;
    /// Sets the gauges that describe the store now (its connection pool, its write queue) through
    /// the `metrics` facade; called when the metrics are scraped.
    fn report_metrics(&self);
    /// Every broken invariant of the whole database; empty when it is consistent.
    async fn check(&self) -> Result<Vec<Violation>, EngineError>;
    /// Settles the database after a bulk load: PostgreSQL refreshes its planner statistics (until
    /// then it may plan a search as a scan); SQLite folds its write-ahead log into the database
    /// file (so the next start does not have to read it back).
    async fn after_bulk_load(&self) -> Result<(), EngineError> {
        Ok(())
    }
    /// Whether the store can take writes now: PostgreSQL answers within the pool's acquire
    /// timeout; the SQLite file is still the one opened and its writer can begin a transaction.
    /// [`EngineError::Unavailable`] when not.
    async fn ready(&self) -> Result<(), EngineError>;
}

/// A broken invariant, found by [`Store::check`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// Which invariant, e.g. `ledger_equals_balance`.
    pub rule: &'static str,
    /// The row it concerns: an account id or a number.
    pub subject: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many rows match, ignoring the page.
    pub total: u64,
}

/// Whose numbers to list.
#[derive(Debug, Clone, PartialEq)]
pub enum Holder {
    /// Inventory: numbers nobody holds.
    Nobody,
    /// Numbers this account holds itself.
    Account(AccountId),
    /// Numbers this master account pays for: its own and its sub-accounts'.
    Family(AccountId),
    /// Numbers [`visible_to`](crate::lifecycle::visible_to) this account: those it holds or pays
    /// for, and those it released that nobody holds since (deleted ones excepted).
    Visible(AccountId),
}

/// How a number list is sorted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum NumberOrder {
    /// By E.164.
    #[default]
    E164,
    /// By `created_at`, then `id` (descending when `desc`); with `after`, only the rows strictly
    /// after that `(created_at, id)` in this order (a keyset cursor).
    Created {
        desc: bool,
        after: Option<(DateTime<Utc>, NumberId)>,
    },
}

/// The most prefixes a number query leaves out: each is a condition of the statement, and SQLite
/// refuses a statement nested deeper than 1,000.
pub const MAX_EXCLUDED_PREFIXES: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct NumberQuery {
    pub holder: Holder,
    pub states: Vec<NumberState>,
    pub country: Option<String>,
    pub region: Option<String>,
    /// Digits that must appear somewhere in the number.
    pub search: Option<String>,
    /// Digit prefixes (country code included) the number must not start with; at most
    /// [`MAX_EXCLUDED_PREFIXES`].
    pub exclude_prefixes: Vec<String>,
    pub inbound_agent_id: Option<String>,
    pub outbound_agent_id: Option<String>,
    /// Held by this account (within `holder`: the console's sub-account filter).
    pub owner: Option<AccountId>,
    /// Routed to this trunk.
    pub trunk: Option<TrunkId>,
    /// `purchased_at` at or after this.
    pub purchased_from: Option<DateTime<Utc>>,
    /// `purchased_at` at or before this.
    pub purchased_to: Option<DateTime<Utc>>,
    pub order: NumberOrder,
    pub limit: u32,
    pub offset: u64,
}

impl NumberQuery {
    pub fn new(holder: Holder, states: Vec<NumberState>) -> Self {
        Self {
            holder,
            states,
            country: None,
            region: None,
            search: None,
            exclude_prefixes: Vec::new(),
            inbound_agent_id: None,
            outbound_agent_id: None,
            owner: None,
            trunk: None,
            purchased_from: None,
            purchased_to: None,
            order: NumberOrder::E164,
            limit: 25,
            offset: 0,
        }
    }
}

/// A page of the event log. Events are listed by the store's sequence of them; `after` is an
/// event id, and the page holds the events strictly after it in the order asked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventQuery {
    pub after: Option<EventId>,
    /// Any of these types (empty: all).
    pub types: Vec<String>,
    /// Concerning this account ([`NumberEvent::accounts`]).
    pub account: Option<AccountId>,
    /// Of every row this E.164 had.
    pub number: Option<E164>,
    /// Newest first.
    pub desc: bool,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubAccountQuery {
    pub active_only: bool,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LedgerQuery {
    pub account: AccountId,
    /// `Some(true)`: debits only; `Some(false)`: credits only.
    pub debits: Option<bool>,
    pub kind: Option<EntryKind>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u32,
    pub offset: u64,
}

/// A page of entries, newest first, with totals over the whole filtered set.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    pub total: u64,
    pub total_debit: Decimal,
    pub total_credit: Decimal,
    pub by_kind: Vec<KindTotal>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KindTotal {
    pub kind: EntryKind,
    pub total_debit: Decimal,
    pub total_credit: Decimal,
    pub count: u64,
}

/// Which jobs to list, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobQuery {
    /// Only the jobs this account sees: its own, and its sub-accounts' (by its billing id).
    pub visible_to: Option<AccountId>,
    /// Jobs per page (the engine takes 1 to 1,000).
    pub limit: u32,
    pub offset: u64,
}

/// Which items of a job to read, in their order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemFilter {
    All,
    /// Without a result yet.
    Pending,
    Succeeded,
    Failed,
}

impl ItemFilter {
    /// `all`, `pending`, `succeeded` or `failed`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "all" => ItemFilter::All,
            "pending" => ItemFilter::Pending,
            "succeeded" => ItemFilter::Succeeded,
            "failed" => ItemFilter::Failed,
            _ => return None,
        })
    }
}

/// A page of a job's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobItemQuery {
    pub filter: ItemFilter,
    /// Items per page (the engine takes 1 to 1,000).
    pub limit: u32,
    /// Items skipped, in their order.
    pub offset: u64,
}
