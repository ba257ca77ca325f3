//! The rules. Every mutation is a [`Command`]: it names the rows it needs ([`Needs`]), and given
//! those rows (locked by the store) it decides the [`Changes`] — new rows, ledger entries and
//! audit events — or refuses with an [`EngineError`]. Nothing here does I/O, so each rule is
//! unit-tested directly.
//!
//! The rules sit by area, each command's `needs` beside its `decide`:
//! [`accounts`] (accounts, sub-accounts, credentials), [`numbers`] (inventory, imports, settings,
//! calls), [`billing`] (purchase, checkout, top-ups, fees, billing cycles), [`routing`] (trunks
//! and sub-account hand-over), [`release`] (release and its cancellation), [`schedule`] (what
//! falls due with time) and [`sandbox`] (the sandbox clock). Before any command decides, the
//! number it locked is brought up to the command's clock ([`schedule::settle`]), so no answer
//! depends on whether the scheduler has run.

use chrono::{DateTime, Duration, Utc};

use crate::account::{Account, AccountPatch, NewAccount, Verification};
use crate::audit::Actor;
use crate::call::Call;
use crate::credential::{Credential, CredentialKind, TokenHash};
use crate::e164::E164;
use crate::error::EngineError;
use crate::ids::{AccountId, CredentialId, EndpointId, JobId, NumberId, TrunkId};
use crate::job::{Job, JobItem, JobKind};
use crate::money::{Currency, Decimal};
use crate::number::{NewNumber, Number, NumberRef, NumberState, SipConfig, SipConfigPatch};
use crate::policy::ReleasePolicy;
use crate::setting::{Setting, SettingKey};
use crate::trunk::{Trunk, TrunkPatch};
use crate::webhook::{AttemptResult, Claim, Delivery, Endpoint, EndpointPatch, Requeue};

pub mod accounts;
pub mod billing;
mod changes;
pub mod jobs;
pub mod numbers;
pub mod release;
pub mod routing;
pub mod sandbox;
pub mod schedule;
pub mod webhooks;

use changes::event;
pub use changes::{Changes, Outcome, Write};
pub use release::ReleaseMode;
pub use sandbox::ClockMove;
pub use schedule::{cool_off, renewal_due};

/// Every mutation. Its variant names in snake_case (`purchase`, `tick`, …) are the `command` label
/// of the `didpool_commands_*` metrics.
#[derive(Debug, Clone, PartialEq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Command {
    /// A master account (operator) or a sub-account of the caller, with its first Vobiz token;
    /// with `session`, also a live [`CredentialKind::VobizSession`] for its first access and
    /// refresh tokens (Vobiz's sub-account create answers them).
    CreateAccount {
        account: NewAccount,
        parent: Option<AccountId>,
        token_hash: TokenHash,
        session: bool,
    },
    UpdateSubAccount {
        id: AccountId,
        patch: AccountPatch,
    },
    DeleteSubAccount {
        id: AccountId,
    },
    /// Disables or enables a master account (operator): while disabled, none of its own
    /// credentials authenticate on any face or the console; its numbers stay as they are.
    SetAccountEnabled {
        account: AccountId,
        enabled: bool,
    },
    /// Credits a master account (operator), up to [`MAX_AMOUNT`](crate::money::MAX_AMOUNT).
    TopUp {
        account: AccountId,
        amount: Decimal,
        description: String,
    },
    /// Stocks new numbers in one transaction: each gets its `stocked` event; a number already
    /// known fails the whole batch (`AlreadyExists`).
    AddInventory {
        numbers: Vec<NewNumber>,
    },
    Purchase {
        number: NumberRef,
        currency: Option<Currency>,
        /// The price the client confirms (Agni's `price`, the quoted monthly fee): refused when
        /// it differs from the number's (agni-diga reference §1.5).
        quoted_monthly_fee: Option<Decimal>,
    },
    /// Brings a customer's own number (BYO: Agni `add-twilio`, Diga import): owned at once,
    /// never charged, deleted on release; with the name and SIP trunk the customer gives it.
    Import {
        number: NewNumber,
        nickname: Option<String>,
        sip_config: Option<SipConfig>,
    },
    Release {
        number: NumberRef,
        mode: ReleaseMode,
    },
    AssignTrunk {
        number: NumberRef,
        trunk: TrunkId,
    },
    UnassignTrunk {
        number: NumberRef,
    },
    AssignSubAccount {
        number: NumberRef,
        sub: AccountId,
    },
    UnassignSubAccount {
        number: NumberRef,
        force: bool,
    },
    /// A call the number carried, reported by its SIP edge (or typed in by the operator): kept
    /// as a call record; an answered one moves `last_call_at` to its end (the cool-off's clock).
    ReportCall {
        number: NumberRef,
        call: Call,
    },
    /// Deletes the records of calls that ended before `before` (the scheduler keeps call records
    /// for the deployment's retention).
    PruneCalls {
        before: DateTime<Utc>,
    },
    /// Holds an available number for an account during checkout, until `until`.
    Reserve {
        number: NumberRef,
        account: AccountId,
        until: DateTime<Utc>,
    },
    /// The checkout of a reserved number is paid: charged, then active, or waiting in
    /// `pending_verification` (until the policy's verification deadline) while the company is
    /// not verified.
    Checkout {
        number: NumberRef,
    },
    /// Records the outcome of a company's verification, and moves on the numbers waiting for it
    /// (verified: active, billed from now; rejected: refunded, back in inventory).
    SetVerification {
        account: AccountId,
        status: Verification,
    },
    /// Takes back a release that has not taken effect (a pending window, or a scheduled
    /// cycle-end release), refunding the release fee. The holder, or the operator.
    CancelRelease {
        number: NumberRef,
    },
    /// Nickname and agent bindings: `None` leaves a field, `Some(None)` clears it.
    UpdateNumber {
        number: NumberRef,
        nickname: Option<Option<String>>,
        inbound_agent_id: Option<Option<String>>,
        outbound_agent_id: Option<Option<String>>,
    },
    /// Merges a change into the SIP settings of an imported number, on the locked row.
    SetSipConfig {
        number: NumberRef,
        patch: SipConfigPatch,
    },
    /// Does what is due on this number now, if anything (see [`schedule::settle`]).
    Tick {
        id: NumberId,
    },
    CreateTrunk {
        name: String,
        patch: TrunkPatch,
    },
    UpdateTrunk {
        id: TrunkId,
        patch: TrunkPatch,
    },
    DeleteTrunk {
        id: TrunkId,
    },
    CreateCredential {
        account: AccountId,
        kind: CredentialKind,
        token_hash: TokenHash,
        scope: Option<String>,
    },
    /// Revokes a credential of any kind (operator) at once, a rotated token in its grace
    /// period included; one already revoked stays as it was.
    RevokeCredential {
        id: CredentialId,
    },
    /// Issues an account's new Vobiz auth token (operator) and revokes every live one it had,
    /// from `now + grace` (at most [`MAX_ROTATION_GRACE`](crate::credential::MAX_ROTATION_GRACE);
    /// zero: at once).
    RotateAuthToken {
        account: AccountId,
        token_hash: TokenHash,
        grace: Duration,
    },
    /// Ends a session of Vobiz access and refresh tokens at once: asked by the account it
    /// belongs to (`account`, the tokens' subject) or by that account's main account. A session
    /// of another account is not found; one already ended stays as it was.
    RevokeSession {
        id: CredentialId,
        account: AccountId,
    },
    /// Keeps `key` as the deployment's token signing key (operator), unless one is kept already
    /// (then nothing changes: the first key stays, see [`Setting::TokenKey`]).
    InitTokenKey {
        key: crate::setting::SigningKey,
    },
    /// Moves the sandbox clock (operator), never backwards and never to
    /// [`MAX_TIME`](crate::clock::MAX_TIME) or beyond, and keeps its time in the store for the
    /// next start.
    SetClock {
        to: ClockMove,
    },
    /// Subscribes an endpoint (operator) with its first secret: an absolute http(s) URL, the
    /// event types (empty: all), optionally one account (an existing one).
    CreateWebhookEndpoint {
        id: EndpointId,
        url: String,
        description: String,
        event_types: Vec<String>,
        account_id: Option<AccountId>,
        secret: String,
    },
    UpdateWebhookEndpoint {
        id: EndpointId,
        patch: EndpointPatch,
    },
    /// Removes an endpoint with its deliveries and their attempts.
    DeleteWebhookEndpoint {
        id: EndpointId,
    },
    /// Signs with `secret` from now, and with the old secret too until `now + overlap` (at most
    /// [`MAX_SECRET_OVERLAP`](webhooks::MAX_SECRET_OVERLAP)).
    RotateWebhookSecret {
        id: EndpointId,
        secret: String,
        overlap: Duration,
    },
    /// Leases up to `limit` due deliveries to the caller (a delivery worker) until
    /// `lease_until`; `now_real` is the real time, as leases are (the engine's clock may be a
    /// sandbox's).
    ClaimDeliveries {
        now_real: DateTime<Utc>,
        limit: u32,
        lease_until: DateTime<Utc>,
    },
    /// Locks a number against release (its holder or payer, or the operator), with an
    /// optional reason (see [`release::lock_release`]).
    LockRelease {
        number: NumberRef,
        reason: Option<String>,
    },
    /// Takes a number's release lock off.
    UnlockRelease {
        number: NumberRef,
    },
    /// A bulk job for `account` (that account itself, or the operator acting for it): one
    /// item per number, each run later as [`Command::RunJobItem`] (see [`crate::job`]).
    CreateJob {
        id: JobId,
        kind: JobKind,
        account: AccountId,
        numbers: Vec<E164>,
    },
    /// Leases the first waiting job to a runner (`worker`) until `lease_until`; `now_real` is
    /// the real time, as leases are (the engine's clock may be a sandbox's).
    ClaimJob {
        worker: String,
        now_real: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    },
    /// Extends the runner's lease while it still holds the job.
    RenewJobLease {
        id: JobId,
        worker: String,
        lease_until: DateTime<Utc>,
    },
    /// Marks a job done once each of its items has its result.
    FinishJob {
        id: JobId,
        worker: String,
    },
    /// Stops a job; its items without a result never run.
    CancelJob {
        id: JobId,
    },
    /// Item `seq` of a job: the job kind's command on `number`, run with the rights of the
    /// job's account, its result recorded on the item in the same transaction.
    RunJobItem {
        job: JobId,
        seq: u32,
        number: E164,
        kind: JobKind,
    },
    /// Records an attempt of the delivery `seq` and schedules what follows.
    FinishDelivery {
        seq: i64,
        result: AttemptResult,
    },
    /// Sends deliveries again: one event's (`POST /events/{id}/redeliver`) or an endpoint's
    /// since a time (replay).
    RequeueDeliveries {
        what: Requeue,
    },
}

/// Who runs a command, when, and under which policy.
#[derive(Debug, Clone)]
pub struct Context {
    pub actor: Actor,
    /// The authenticated account's master account (itself, or its parent).
    pub caller_billing: Option<AccountId>,
    pub now: DateTime<Utc>,
    pub request_id: Option<String>,
    pub policy: ReleasePolicy,
}

impl Context {
    pub fn caller(&self) -> Option<&AccountId> {
        match &self.actor {
            Actor::Account(id) => Some(id),
            _ => None,
        }
    }

    /// The caller and its master account, when they differ.
    fn caller_and_billing(&self) -> Vec<AccountId> {
        let mut ids: Vec<AccountId> = self.caller().cloned().into_iter().collect();
        if let Some(b) = &self.caller_billing {
            if !ids.contains(b) {
                ids.push(b.clone());
            }
        }
        ids
    }
}

/// The rows a command reads. The store loads each one locked, in this order, in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    /// The number, by id (any state) or by E.164 (the live row: not deleted).
    pub number: Option<NumberRef>,
    /// Also load the number's holder, payer and last holder accounts (after the number, locked).
    pub number_accounts: bool,
    /// Also load the trunk the number is routed to.
    pub number_trunk: bool,
    pub accounts: Vec<AccountId>,
    pub trunk: Option<TrunkId>,
    pub numbers_on_trunk: Option<TrunkId>,
    /// Count the numbers this account holds.
    pub holdings_of: Option<AccountId>,
    /// Also load (locked, right after the number) those of the numbers this account holds that
    /// may have something due at this time, for the command to settle them first.
    pub due_holdings_of: Option<(AccountId, DateTime<Utc>)>,
    /// Also load (locked) the numbers this master account pays for that wait in checkout or for
    /// its verification, into [`Snapshot::due_holdings`].
    pub awaiting_verification_of: Option<AccountId>,
    pub credentials_of: Option<AccountId>,
    pub credential: Option<CredentialId>,
    pub settings: Vec<SettingKey>,
    /// A webhook endpoint, locked.
    pub webhook_endpoint: Option<EndpointId>,
    /// The due deliveries a worker may claim (PostgreSQL: skipping rows locked by another).
    pub claim: Option<Claim>,
    /// One delivery (by its sequence), locked, then its endpoint.
    pub delivery: Option<i64>,
    /// The deliveries a redelivery or replay requeues, locked.
    pub requeue: Option<Requeue>,
    /// A job, locked (after every other row).
    pub job: Option<JobId>,
    /// One item of a job, locked (before its job).
    pub job_item: Option<(JobId, u32)>,
    /// The first job a runner may claim at this real time (PostgreSQL: skipping a job another
    /// runner is claiming), into [`Snapshot::jobs`].
    pub claim_job: Option<DateTime<Utc>>,
}

impl Needs {
    fn number(number: &NumberRef) -> Self {
        Needs {
            number: Some(number.clone()),
            ..Needs::default()
        }
    }

    fn accounts(accounts: Vec<AccountId>) -> Self {
        Needs {
            accounts,
            ..Needs::default()
        }
    }
}

/// What the store found for [`Needs`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub number: Option<Number>,
    pub accounts: Vec<Account>,
    pub trunk: Option<Trunk>,
    pub numbers_on_trunk: Vec<Number>,
    pub holdings: u64,
    /// The held numbers `due_holdings_of` found.
    pub due_holdings: Vec<Number>,
    pub credentials: Vec<Credential>,
    /// The settings [`Needs::settings`] named that are set.
    pub settings: Vec<Setting>,
    pub webhook_endpoints: Vec<Endpoint>,
    pub deliveries: Vec<Delivery>,
    pub jobs: Vec<Job>,
    pub job_items: Vec<JobItem>,
}

impl Snapshot {
    /// A live (not deleted) account the command loaded.
    pub fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.iter().find(|a| &a.id == id && a.is_live())
    }

    /// A setting the command loaded, if it is set.
    pub fn setting(&self, key: SettingKey) -> Option<&Setting> {
        self.settings.iter().find(|s| s.key() == key)
    }
}

/// Whether `caller` may act on the number: it holds it, or it is the master account paying for it.
pub fn controls(caller: &AccountId, n: &Number) -> bool {
    n.owner_id.as_ref() == Some(caller) || n.billing_id.as_ref() == Some(caller)
}

/// Whether `caller` may see the number: it acts on it, or released it and it has not been
/// bought again since.
pub fn visible_to(caller: &AccountId, n: &Number) -> bool {
    controls(caller, n) || released_by(caller, n)
}

/// Released by `caller` (or from its sub-account) and held by nobody since; deleted ones excepted.
pub fn released_by(caller: &AccountId, n: &Number) -> bool {
    n.owner_id.is_none()
        && n.state != NumberState::Deleted
        && (n.last_owner_id.as_ref() == Some(caller) || n.last_billing_id.as_ref() == Some(caller))
}

fn require_caller(ctx: &Context) -> Result<&AccountId, EngineError> {
    ctx.caller()
        .ok_or(EngineError::Forbidden("an account is required"))
}

fn require_operator(ctx: &Context) -> Result<(), EngineError> {
    match ctx.actor {
        Actor::Operator | Actor::System => Ok(()),
        Actor::Account(_) => Err(EngineError::Forbidden("operator only")),
    }
}

/// The number the command locked, or `missing`.
fn locked(snap: &Snapshot, missing: EngineError) -> Result<&Number, EngineError> {
    snap.number.as_ref().ok_or(missing)
}

impl Command {
    /// The number this command addresses, if any (the one [`schedule::settle`] brings up to date
    /// before the command decides).
    fn number(&self) -> Option<&NumberRef> {
        match self {
            Command::Purchase { number, .. }
            | Command::Release { number, .. }
            | Command::AssignTrunk { number, .. }
            | Command::UnassignTrunk { number }
            | Command::AssignSubAccount { number, .. }
            | Command::UnassignSubAccount { number, .. }
            | Command::ReportCall { number, .. }
            | Command::Reserve { number, .. }
            | Command::Checkout { number }
            | Command::CancelRelease { number }
            | Command::UpdateNumber { number, .. }
            | Command::SetSipConfig { number, .. }
            | Command::LockRelease { number, .. }
            | Command::UnlockRelease { number } => Some(number),
            _ => None,
        }
    }

    pub fn needs(&self, ctx: &Context) -> Needs {
        let mut needs = match self {
            Command::CreateAccount { parent, .. } => accounts::create_account_needs(parent),
            Command::UpdateSubAccount { id, .. } => Needs::accounts(vec![id.clone()]),
            Command::DeleteSubAccount { id } => accounts::delete_sub_account_needs(id, ctx),
            Command::TopUp { account, .. } | Command::SetAccountEnabled { account, .. } => {
                Needs::accounts(vec![account.clone()])
            }
            Command::AddInventory { .. } => Needs::default(),
            Command::Purchase { number, .. } => billing::purchase_needs(number, ctx),
            Command::Import { number, .. } => numbers::import_needs(number, ctx),
            Command::Release { number, .. } => release::release_needs(number),
            Command::CancelRelease { number } => release::cancel_release_needs(number),
            Command::AssignTrunk { number, trunk } => routing::assign_trunk_needs(number, *trunk),
            Command::UnassignTrunk { number } => Needs::number(number),
            Command::AssignSubAccount { number, sub } => {
                routing::assign_sub_account_needs(number, sub)
            }
            Command::UnassignSubAccount { number, .. } => {
                routing::unassign_sub_account_needs(number, ctx)
            }
            Command::ReportCall { number, .. } => Needs::number(number),
            Command::PruneCalls { .. } => Needs::default(),
            Command::Reserve {
                number, account, ..
            } => billing::reserve_needs(number, account),
            Command::Checkout { number } => billing::checkout_needs(number),
            Command::SetVerification { account, .. } => accounts::set_verification_needs(account),
            Command::UpdateNumber { number, .. } | Command::SetSipConfig { number, .. } => {
                Needs::number(number)
            }
            Command::Tick { id } => schedule::tick_needs(*id),
            Command::CreateTrunk { .. } => Needs::default(),
            Command::UpdateTrunk { id, .. } => Needs {
                trunk: Some(*id),
                ..Needs::default()
            },
            Command::DeleteTrunk { id } => routing::delete_trunk_needs(*id),
            Command::CreateCredential { account, .. } => Needs::accounts(vec![account.clone()]),
            Command::RevokeCredential { id } => Needs {
                credential: Some(*id),
                ..Needs::default()
            },
            Command::RotateAuthToken { account, .. } => accounts::rotate_auth_token_needs(account),
            Command::RevokeSession { id, account } => Needs {
                credential: Some(*id),
                accounts: vec![account.clone()],
                ..Needs::default()
            },
            Command::InitTokenKey { .. } => Needs {
                settings: vec![SettingKey::TokenKey],
                ..Needs::default()
            },
            Command::SetClock { .. } => sandbox::set_clock_needs(),
            Command::CreateWebhookEndpoint { account_id, .. } => {
                Needs::accounts(account_id.iter().cloned().collect())
            }
            Command::UpdateWebhookEndpoint { id, patch } => {
                webhooks::endpoint_needs(*id, patch.account_id.as_ref().and_then(Option::as_ref))
            }
            Command::DeleteWebhookEndpoint { id } | Command::RotateWebhookSecret { id, .. } => {
                webhooks::endpoint_needs(*id, None)
            }
            Command::ClaimDeliveries {
                now_real, limit, ..
            } => webhooks::claim_needs(ctx, *now_real, *limit),
            Command::FinishDelivery { seq, .. } => webhooks::finish_needs(*seq),
            Command::RequeueDeliveries { what } => webhooks::requeue_needs(what),
            Command::LockRelease { number, .. } | Command::UnlockRelease { number } => {
                Needs::number(number)
            }
            Command::CreateJob { account, .. } => jobs::create_needs(account),
            Command::ClaimJob { now_real, .. } => Needs {
                claim_job: Some(*now_real),
                ..Needs::default()
            },
            Command::RenewJobLease { id, .. }
            | Command::FinishJob { id, .. }
            | Command::CancelJob { id } => jobs::job_needs(*id),
            Command::RunJobItem {
                job,
                seq,
                number,
                kind,
            } => jobs::item_needs(ctx, *job, *seq, &kind.command(number)),
        };
        if needs.number.is_some() {
            // Settling a number may charge its payer or release it: its accounts come with it.
            needs.number_accounts = true;
        }
        needs
    }

    /// Decides what the command changes, on the rows `needs` named (locked): what fell due on
    /// its number first, then the command's own changes, as one (see [`Command::decide_parts`]).
    pub fn decide(&self, ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
        let (due, own) = self.decide_parts(ctx, snap)?;
        Ok(due.then(own))
    }

    /// [`Command::decide`] in its two parts: what fell due on the number before the command,
    /// and what the command itself changes (empty: it found everything as asked).
    pub fn decide_parts(
        &self,
        ctx: &Context,
        snap: &Snapshot,
    ) -> Result<(Changes, Changes), EngineError> {
        // A clock outside what the store holds would write rows no read can decode.
        crate::clock::check_time("the clock", ctx.now)?;
        if let Command::RunJobItem { number, kind, .. } = self {
            // The item's own command settles its number and decides; its result is recorded.
            return jobs::run_item(ctx, snap, &kind.command(number));
        }
        if self.number().is_none() || matches!(self, Command::Tick { .. }) {
            return Ok((Changes::default(), self.decide_settled(ctx, snap)?));
        }
        match schedule::settle(ctx, snap)? {
            None => Ok((Changes::default(), self.decide_settled(ctx, snap)?)),
            Some((settled, due)) => Ok((due, self.decide_settled(ctx, &settled)?)),
        }
    }

    fn decide_settled(&self, ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
        match self {
            Command::CreateAccount {
                account,
                parent,
                token_hash,
                session,
            } => {
                accounts::create_account(ctx, snap, account, parent.as_ref(), token_hash, *session)
            }
            Command::UpdateSubAccount { id, patch } => {
                accounts::update_sub_account(ctx, snap, id, patch)
            }
            Command::DeleteSubAccount { id } => accounts::delete_sub_account(ctx, snap, id),
            Command::TopUp {
                account,
                amount,
                description,
            } => billing::top_up(ctx, snap, account, *amount, description),
            Command::SetAccountEnabled { account, enabled } => {
                accounts::set_enabled(ctx, snap, account, *enabled)
            }
            Command::AddInventory { numbers } => numbers::add_inventory(ctx, numbers),
            Command::Purchase {
                currency,
                quoted_monthly_fee,
                ..
            } => billing::purchase(ctx, snap, currency.as_ref(), *quoted_monthly_fee),
            Command::Import {
                number,
                nickname,
                sip_config,
            } => numbers::import(ctx, snap, number, nickname, sip_config),
            Command::Release { mode, .. } => release::release(ctx, snap, *mode),
            Command::CancelRelease { .. } => release::cancel_release(ctx, snap),
            Command::AssignTrunk { trunk, .. } => routing::assign_trunk(ctx, snap, *trunk),
            Command::UnassignTrunk { .. } => routing::unassign_trunk(ctx, snap),
            Command::AssignSubAccount { sub, .. } => routing::assign_sub_account(ctx, snap, sub),
            Command::UnassignSubAccount { force, .. } => {
                routing::unassign_sub_account(ctx, snap, *force)
            }
            Command::ReportCall { call, .. } => numbers::report_call(ctx, snap, call),
            Command::PruneCalls { before } => numbers::prune_calls(ctx, *before),
            Command::Reserve { account, until, .. } => billing::reserve(ctx, snap, account, *until),
            Command::Checkout { .. } => billing::checkout(ctx, snap),
            Command::SetVerification { account, status } => {
                accounts::set_verification(ctx, snap, account, *status)
            }
            Command::UpdateNumber {
                nickname,
                inbound_agent_id,
                outbound_agent_id,
                ..
            } => numbers::update_number(ctx, snap, nickname, inbound_agent_id, outbound_agent_id),
            Command::SetSipConfig { patch, .. } => numbers::set_sip_config(ctx, snap, patch),
            Command::Tick { .. } => schedule::tick(ctx, snap),
            Command::CreateTrunk { name, patch } => routing::create_trunk(ctx, name, patch),
            Command::UpdateTrunk { patch, .. } => routing::update_trunk(ctx, snap, patch),
            Command::DeleteTrunk { .. } => routing::delete_trunk(ctx, snap),
            Command::CreateCredential {
                account,
                kind,
                token_hash,
                scope,
            } => accounts::create_credential(ctx, snap, account, *kind, token_hash, scope),
            Command::RevokeCredential { .. } => accounts::revoke_credential(ctx, snap),
            Command::RotateAuthToken {
                account,
                token_hash,
                grace,
            } => accounts::rotate_auth_token(ctx, snap, account, token_hash, *grace),
            Command::RevokeSession { account, .. } => accounts::revoke_session(ctx, snap, account),
            Command::InitTokenKey { key } => accounts::init_token_key(ctx, snap, key),
            Command::SetClock { to } => sandbox::set_clock(ctx, snap, *to),
            Command::CreateWebhookEndpoint {
                id,
                url,
                description,
                event_types,
                account_id,
                secret,
            } => webhooks::create_endpoint(
                ctx,
                snap,
                webhooks::NewEndpoint {
                    id: *id,
                    url,
                    description,
                    event_types,
                    account_id: account_id.as_ref(),
                    secret,
                },
            ),
            Command::UpdateWebhookEndpoint { patch, .. } => {
                webhooks::update_endpoint(ctx, snap, patch)
            }
            Command::DeleteWebhookEndpoint { .. } => webhooks::delete_endpoint(ctx, snap),
            Command::RotateWebhookSecret {
                secret, overlap, ..
            } => webhooks::rotate_secret(ctx, snap, secret, *overlap),
            Command::ClaimDeliveries { lease_until, .. } => {
                webhooks::claim(ctx, snap, *lease_until)
            }
            Command::FinishDelivery { result, .. } => webhooks::finish(ctx, snap, result),
            Command::RequeueDeliveries { what } => webhooks::requeue(ctx, snap, what),
            Command::LockRelease { reason, .. } => {
                release::lock_release(ctx, snap, reason.as_deref())
            }
            Command::UnlockRelease { .. } => release::unlock_release(ctx, snap),
            Command::CreateJob {
                id,
                kind,
                account,
                numbers,
            } => jobs::create(ctx, snap, *id, kind, account, numbers),
            Command::ClaimJob {
                worker,
                lease_until,
                ..
            } => jobs::claim(ctx, snap, worker, *lease_until),
            Command::RenewJobLease {
                worker,
                lease_until,
                ..
            } => jobs::renew(ctx, snap, worker, *lease_until),
            Command::FinishJob { worker, .. } => jobs::finish(ctx, snap, worker),
            Command::CancelJob { .. } => jobs::cancel(ctx, snap),
            Command::RunJobItem { number, kind, .. } => {
                jobs::run_item(ctx, snap, &kind.command(number)).map(|(due, own)| due.then(own))
            }
        }
    }
}

#[cfg(test)]
mod tests;
