//! The rules. Every mutation is a [`Command`]: it names the rows it needs, and given those rows
//! (locked by the store) it decides the [`Changes`] — new rows, ledger entries and audit events —
//! or refuses with an [`EngineError`]. Nothing here does I/O, so each rule is unit-tested directly.

use chrono::{DateTime, Months, Utc};

use crate::account::{validate_name, Account, AccountPatch, NewAccount, Role, Verification};
use crate::audit::{Actor, AssignmentAudit, NumberEvent};
use crate::credential::{Credential, CredentialKind, TokenHash};
use crate::e164::E164;
use crate::error::EngineError;
use crate::ids::{AccountId, AccountKind, CredentialId, EntryId, EventId, NumberId, TrunkId};
use crate::ledger::{EntryKind, LedgerEntry};
use crate::money::{Currency, Decimal};
use crate::number::{NewNumber, Number, NumberState, Origin, SipConfig};
use crate::policy::{ReleasePolicy, COOL_OFF};
use crate::trunk::{Trunk, TrunkPatch, TrunkSettings};

/// How a release takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseMode {
    /// As the deployment's [`ReleasePolicy`] says (Vobiz face): immediate unless a window is set.
    Policy,
    /// At once, whatever the policy's window (Agni face).
    Immediate,
    /// Purchased numbers at the end of their billing cycle, then quarantined this long
    /// (Diga face); imported numbers at once.
    AtCycleEnd { quarantine: chrono::Duration },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    CreateAccount {
        account: NewAccount,
        parent: Option<AccountId>,
        token_hash: TokenHash,
    },
    UpdateSubAccount {
        id: AccountId,
        patch: AccountPatch,
    },
    DeleteSubAccount {
        id: AccountId,
    },
    TopUp {
        account: AccountId,
        amount: Decimal,
        description: String,
    },
    AddInventory {
        number: NewNumber,
    },
    /// Stocks many new numbers in one transaction (bulk loading): each gets its `stocked` event,
    /// as with `AddInventory`; a number already stocked fails the whole batch (`AlreadyExists`).
    AddInventoryBatch {
        numbers: Vec<NewNumber>,
    },
    Purchase {
        e164: E164,
        currency: Option<Currency>,
    },
    /// Brings a customer's own number (BYO, e.g. a Twilio number): owned at once, never charged.
    ImportNumber {
        number: NewNumber,
    },
    /// [`ImportNumber`](Command::ImportNumber) with the name the customer gives it (Agni
    /// `add-twilio` and its `friendly_name`).
    ImportNamed {
        number: NewNumber,
        nickname: Option<String>,
    },
    Release {
        e164: E164,
        mode: ReleaseMode,
    },
    AssignTrunk {
        e164: E164,
        trunk: TrunkId,
    },
    UnassignTrunk {
        e164: E164,
    },
    AssignSubAccount {
        e164: E164,
        sub: AccountId,
    },
    UnassignSubAccount {
        e164: E164,
        force: bool,
    },
    ReportCall {
        e164: E164,
        at: DateTime<Utc>,
    },
    /// Brings a customer's own number with its nickname and SIP trunk settings (Diga import).
    ImportSip {
        number: NewNumber,
        nickname: Option<String>,
        sip_config: SipConfig,
    },
    /// Holds an available number for an account during checkout, until `until`.
    Reserve {
        e164: E164,
        account: AccountId,
        until: DateTime<Utc>,
    },
    /// The checkout of a reserved number is paid: charged, then active, or waiting in
    /// `pending_verification` while the company is not verified.
    Checkout {
        e164: E164,
    },
    /// Records the outcome of a company's verification; the scheduler moves its numbers on.
    SetVerification {
        account: AccountId,
        status: Verification,
    },
    /// Takes back a release still in its cancellable window, refunding the release fee.
    CancelRelease {
        e164: E164,
    },
    /// Nickname and agent bindings: `None` leaves a field, `Some(None)` clears it.
    UpdateNumber {
        id: NumberId,
        nickname: Option<Option<String>>,
        inbound_agent_id: Option<Option<String>>,
        outbound_agent_id: Option<Option<String>>,
    },
    /// Replaces the SIP settings of an imported number (the password is kept when not given).
    SetSipConfig {
        id: NumberId,
        sip_config: SipConfig,
        keep_password: bool,
    },
    /// Does the one thing due on this number now, if any: complete a scheduled release, end a
    /// quarantine, expire a reservation, settle a verification, or charge a renewal.
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
    RevokeCredential {
        id: CredentialId,
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
    fn caller(&self) -> Option<&AccountId> {
        match &self.actor {
            Actor::Account(id) => Some(id),
            _ => None,
        }
    }
}

/// The rows a command reads. The store loads each one locked, in this order, in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    /// The live (not deleted) number with this E.164.
    pub number: Option<E164>,
    pub number_id: Option<NumberId>,
    /// Also load the number's holder and payer accounts (after the number, locked too).
    pub number_accounts: bool,
    pub accounts: Vec<AccountId>,
    pub trunk: Option<TrunkId>,
    pub numbers_on_trunk: Option<TrunkId>,
    /// Count the numbers this account holds.
    pub holdings_of: Option<AccountId>,
    pub credentials_of: Option<AccountId>,
    pub credential: Option<CredentialId>,
}

/// What the store found for [`Needs`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub number: Option<Number>,
    pub accounts: Vec<Account>,
    pub trunk: Option<Trunk>,
    pub numbers_on_trunk: Vec<Number>,
    pub holdings: u64,
    pub credentials: Vec<Credential>,
}

impl Snapshot {
    pub fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.iter().find(|a| &a.id == id && a.is_live())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Write<T> {
    Insert(T),
    Update(T),
    Delete(T),
}

impl<T> Write<T> {
    pub fn row(&self) -> &T {
        match self {
            Write::Insert(t) | Write::Update(t) | Write::Delete(t) => t,
        }
    }
}

/// Everything a command writes. The store applies it in one transaction, or nothing of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub accounts: Vec<Write<Account>>,
    pub trunks: Vec<Write<Trunk>>,
    pub numbers: Vec<Write<Number>>,
    pub credentials: Vec<Write<Credential>>,
    pub ledger: Vec<LedgerEntry>,
    pub events: Vec<NumberEvent>,
    pub assignment_audits: Vec<AssignmentAudit>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        *self == Changes::default()
    }

    /// The (first) number the command wrote, as written.
    pub fn number(&self) -> Option<&Number> {
        self.numbers.first().map(Write::row)
    }

    pub fn account(&self) -> Option<&Account> {
        self.accounts.first().map(Write::row)
    }

    pub fn trunk(&self) -> Option<&Trunk> {
        self.trunks.first().map(Write::row)
    }

    pub fn credential(&self) -> Option<&Credential> {
        self.credentials.first().map(Write::row)
    }

    /// Writes `after` in place of `before`, with the audit event of the change.
    fn number_change(&mut self, ctx: &Context, action: &str, before: &Number, mut after: Number) {
        after.updated_at = ctx.now;
        self.events.push(event(ctx, action, Some(before), &after));
        self.numbers.push(Write::Update(after));
    }
}

fn event(ctx: &Context, action: &str, before: Option<&Number>, after: &Number) -> NumberEvent {
    NumberEvent {
        id: EventId::new(),
        number_id: after.id,
        e164: after.e164.clone(),
        action: action.to_owned(),
        actor: ctx.actor.clone(),
        from_state: before.map(|b| b.state),
        to_state: after.state,
        from_owner: before.and_then(|b| b.owner_id.clone()),
        to_owner: after.owner_id.clone(),
        at: ctx.now,
        request_id: ctx.request_id.clone(),
    }
}

/// A balance moves only with its ledger entry; a debit never takes it below zero.
fn post(
    account: &mut Account,
    amount: Decimal,
    kind: EntryKind,
    reference: Option<String>,
    description: String,
    now: DateTime<Utc>,
) -> Result<LedgerEntry, EngineError> {
    let balance_after = account.balance + amount;
    if balance_after.is_sign_negative() && !balance_after.is_zero() {
        return Err(EngineError::InsufficientBalance {
            needed: -amount,
            available: account.balance,
        });
    }
    account.balance = balance_after;
    account.updated_at = now;
    Ok(LedgerEntry {
        id: EntryId::new(),
        account_id: account.id.clone(),
        amount,
        balance_after,
        currency: account.currency.clone(),
        kind,
        reference,
        description,
        created_at: now,
    })
}

fn did_reference(e164: &E164) -> Option<String> {
    Some(format!("did:{e164}"))
}

/// The end of the cool-off, if the number is in it at `now`.
pub fn cool_off(
    last_call_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, i64)> {
    let until = last_call_at? + COOL_OFF;
    if now >= until {
        return None;
    }
    let remaining = until - now;
    // Whole seconds, rounded up: a number still in cool-off never reports 0 seconds left.
    let secs = remaining.num_seconds() + i64::from(remaining.subsec_nanos() > 0);
    Some((until, secs))
}

/// Whether `caller` may act on the number: it holds it, or it is the master account paying for it.
fn controls(caller: &AccountId, n: &Number) -> bool {
    n.owner_id.as_ref() == Some(caller) || n.billing_id.as_ref() == Some(caller)
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

/// Takes a number out of its owner's hands: the fields every release clears.
fn detach(n: &mut Number) {
    n.owner_id = None;
    n.billing_id = None;
    n.trunk_id = None;
    n.application_id = None;
    n.inbound_agent_id = None;
    n.outbound_agent_id = None;
    n.nickname = None;
    n.purchased_at = None;
    n.last_billing_date = None;
    n.next_billing_date = None;
    n.release_at = None;
    n.release_fee = None;
}

/// Completes a release at `at`: imported numbers are deleted; stock goes back to inventory,
/// through quarantine while `quarantine_until` (set by the caller) is still ahead. Billing stops;
/// `last_call_at` stays, and the releasing holder is remembered as `last_owner_id`.
pub fn complete_release(n: &mut Number, at: DateTime<Utc>) {
    n.last_owner_id = n.owner_id.clone();
    detach(n);
    n.released_at = Some(at);
    n.state = if n.origin == Origin::Imported {
        NumberState::Deleted
    } else if n.quarantine_until.is_some_and(|q| q > at) {
        NumberState::Quarantined
    } else {
        n.quarantine_until = None;
        NumberState::Available
    };
}

/// `from + quarantine`, when there is a quarantine.
fn quarantine_end(from: DateTime<Utc>, quarantine: chrono::Duration) -> Option<DateTime<Utc>> {
    (quarantine > chrono::Duration::zero()).then(|| from + quarantine)
}

impl Command {
    pub fn needs(&self, ctx: &Context) -> Needs {
        let caller = || ctx.caller().cloned().into_iter();
        let caller_and_billing = || {
            let mut ids: Vec<AccountId> = caller().collect();
            if let Some(b) = &ctx.caller_billing {
                if !ids.contains(b) {
                    ids.push(b.clone());
                }
            }
            ids
        };
        match self {
            Command::CreateAccount { parent, .. } => Needs {
                accounts: parent.iter().cloned().collect(),
                ..Needs::default()
            },
            Command::UpdateSubAccount { id, .. } => Needs {
                accounts: vec![id.clone()],
                ..Needs::default()
            },
            Command::DeleteSubAccount { id } => Needs {
                accounts: vec![id.clone()],
                holdings_of: Some(id.clone()),
                credentials_of: Some(id.clone()),
                ..Needs::default()
            },
            Command::TopUp { account, .. } => Needs {
                accounts: vec![account.clone()],
                ..Needs::default()
            },
            Command::AddInventory { number } => Needs {
                number: Some(number.e164.clone()),
                ..Needs::default()
            },
            Command::AddInventoryBatch { .. } => Needs::default(),
            Command::Purchase { e164, .. } | Command::Release { e164, .. } => Needs {
                number: Some(e164.clone()),
                accounts: caller_and_billing(),
                ..Needs::default()
            },
            Command::ImportNumber { number } | Command::ImportNamed { number, .. } => Needs {
                number: Some(number.e164.clone()),
                accounts: caller_and_billing(),
                ..Needs::default()
            },
            Command::AssignTrunk { e164, trunk } => Needs {
                number: Some(e164.clone()),
                trunk: Some(*trunk),
                ..Needs::default()
            },
            Command::UnassignTrunk { e164 } | Command::ReportCall { e164, .. } => Needs {
                number: Some(e164.clone()),
                ..Needs::default()
            },
            Command::AssignSubAccount { e164, sub } => Needs {
                number: Some(e164.clone()),
                accounts: vec![sub.clone()],
                ..Needs::default()
            },
            Command::UnassignSubAccount { e164, .. } => Needs {
                number: Some(e164.clone()),
                accounts: caller().collect(),
                ..Needs::default()
            },
            Command::CreateTrunk { .. } => Needs::default(),
            Command::UpdateTrunk { id, .. } => Needs {
                trunk: Some(*id),
                ..Needs::default()
            },
            Command::DeleteTrunk { id } => Needs {
                trunk: Some(*id),
                numbers_on_trunk: Some(*id),
                ..Needs::default()
            },
            Command::CreateCredential { account, .. } => Needs {
                accounts: vec![account.clone()],
                ..Needs::default()
            },
            Command::ImportSip { number, .. } => Needs {
                number: Some(number.e164.clone()),
                accounts: caller_and_billing(),
                ..Needs::default()
            },
            Command::Reserve { e164, account, .. } => Needs {
                number: Some(e164.clone()),
                accounts: vec![account.clone()],
                ..Needs::default()
            },
            Command::Checkout { e164 } | Command::CancelRelease { e164 } => Needs {
                number: Some(e164.clone()),
                number_accounts: true,
                ..Needs::default()
            },
            Command::SetVerification { account, .. } => Needs {
                accounts: vec![account.clone()],
                ..Needs::default()
            },
            Command::UpdateNumber { id, .. } | Command::SetSipConfig { id, .. } => Needs {
                number_id: Some(*id),
                ..Needs::default()
            },
            Command::Tick { id } => Needs {
                number_id: Some(*id),
                number_accounts: true,
                ..Needs::default()
            },
            Command::RevokeCredential { id } => Needs {
                credential: Some(*id),
                ..Needs::default()
            },
        }
    }

    pub fn decide(&self, ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
        let now = ctx.now;
        let mut changes = Changes::default();
        match self {
            Command::CreateAccount {
                account,
                parent,
                token_hash,
            } => {
                let name = validate_name(&account.name).map_err(EngineError::invalid)?;
                let (kind, parent_account) = match parent {
                    None => {
                        require_operator(ctx)?;
                        (AccountKind::Master, None)
                    }
                    Some(parent_id) => {
                        if !matches!(&ctx.actor, Actor::Account(a) if a == parent_id)
                            && require_operator(ctx).is_err()
                        {
                            return Err(EngineError::AccountNotFound);
                        }
                        let p = snap
                            .account(parent_id)
                            .filter(|p| p.is_master())
                            .ok_or(EngineError::AccountNotFound)?;
                        (AccountKind::Sub, Some(p))
                    }
                };
                let id = match &account.id {
                    Some(id) if id.kind() != kind => {
                        return Err(EngineError::invalid(match kind {
                            AccountKind::Master => "a master account id starts with MA_",
                            AccountKind::Sub => "a sub-account id starts with SA_",
                        }))
                    }
                    Some(id) => id.clone(),
                    None => AccountId::generate(kind),
                };
                let mut new = Account {
                    id,
                    parent_id: parent.clone(),
                    name,
                    role: account.role,
                    currency: parent_account
                        .map_or_else(|| account.currency.clone(), |p| p.currency.clone()),
                    balance: Decimal::ZERO,
                    enabled: account.enabled,
                    verification: Verification::Verified,
                    profile: account.profile.clone(),
                    created_at: now,
                    updated_at: now,
                    deleted_at: None,
                };
                let opening = crate::money::parse_amount(account.opening_balance)
                    .map_err(EngineError::invalid)?;
                if parent.is_some() && !opening.is_zero() {
                    return Err(EngineError::invalid(
                        "sub-accounts are billed to their parent and hold no balance",
                    ));
                }
                if !opening.is_zero() {
                    let entry = post(
                        &mut new,
                        opening,
                        EntryKind::Payment,
                        None,
                        "opening balance".into(),
                        now,
                    )?;
                    changes.ledger.push(entry);
                }
                changes.credentials.push(Write::Insert(Credential {
                    id: CredentialId::new(),
                    account_id: new.id.clone(),
                    kind: CredentialKind::Vobiz,
                    token_hash: token_hash.clone(),
                    scope: None,
                    created_at: now,
                    revoked_at: None,
                }));
                changes.accounts.insert(0, Write::Insert(new));
            }

            Command::UpdateSubAccount { id, patch } => {
                let caller = require_caller(ctx)?;
                let mut sub = own_sub_account(snap, caller, id)?.clone();
                if let Some(name) = &patch.name {
                    sub.name = validate_name(name).map_err(EngineError::invalid)?;
                }
                if let Some(rate) = patch.rate_limit {
                    if rate < 0 {
                        return Err(EngineError::invalid("rate_limit cannot be negative"));
                    }
                    sub.profile.rate_limit = Some(rate);
                }
                if let Some(v) = patch.enabled {
                    sub.enabled = v;
                }
                if let Some(v) = &patch.email {
                    sub.profile.email = v.clone();
                }
                if let Some(v) = &patch.phone {
                    sub.profile.phone = v.clone();
                }
                if let Some(v) = &patch.description {
                    sub.profile.description = v.clone();
                }
                if let Some(v) = patch.permissions {
                    sub.profile.permissions = Some(v);
                }
                sub.updated_at = now;
                changes.accounts.push(Write::Update(sub));
            }

            Command::DeleteSubAccount { id } => {
                let caller = require_caller(ctx)?;
                let mut sub = own_sub_account(snap, caller, id)?.clone();
                if snap.holdings > 0 {
                    return Err(EngineError::StillHoldsNumbers);
                }
                sub.enabled = false;
                sub.deleted_at = Some(now);
                sub.updated_at = now;
                changes.accounts.push(Write::Update(sub));
                for c in snap.credentials.iter().filter(|c| c.revoked_at.is_none()) {
                    let mut c = c.clone();
                    c.revoked_at = Some(now);
                    changes.credentials.push(Write::Update(c));
                }
            }

            Command::TopUp {
                account,
                amount,
                description,
            } => {
                require_operator(ctx)?;
                let amount = crate::money::parse_amount(*amount).map_err(EngineError::invalid)?;
                if amount.is_zero() {
                    return Err(EngineError::invalid("a top-up amount must be positive"));
                }
                let mut acc = snap
                    .account(account)
                    .filter(|a| a.is_master())
                    .ok_or(EngineError::AccountNotFound)?
                    .clone();
                let entry = post(
                    &mut acc,
                    amount,
                    EntryKind::Payment,
                    None,
                    description.clone(),
                    now,
                )?;
                changes.ledger.push(entry);
                changes.accounts.push(Write::Update(acc));
            }

            Command::AddInventory { number } => {
                require_operator(ctx)?;
                if snap.number.is_some() {
                    return Err(EngineError::AlreadyExists(number.e164.to_string()));
                }
                for fee in [number.setup_fee, number.monthly_fee] {
                    crate::money::parse_amount(fee).map_err(EngineError::invalid)?;
                }
                let n = Number::new_stock(number.clone(), now);
                changes.events.push(event(ctx, "stocked", None, &n));
                changes.numbers.push(Write::Insert(n));
            }

            Command::AddInventoryBatch { numbers } => {
                require_operator(ctx)?;
                for number in numbers {
                    for fee in [number.setup_fee, number.monthly_fee] {
                        crate::money::parse_amount(fee).map_err(EngineError::invalid)?;
                    }
                    let n = Number::new_stock(number.clone(), now);
                    changes.events.push(event(ctx, "stocked", None, &n));
                    changes.numbers.push(Write::Insert(n));
                }
            }

            Command::Purchase { e164: _, currency } => {
                let caller = require_caller(ctx)?;
                let n = snap
                    .number
                    .as_ref()
                    .filter(|n| n.state == NumberState::Available)
                    .ok_or(EngineError::NotInInventory)?;
                if n.is_blocked {
                    return Err(EngineError::Blocked);
                }
                let buyer = snap.account(caller).ok_or(EngineError::AccountNotFound)?;
                if !buyer.enabled {
                    return Err(EngineError::Forbidden("account is disabled"));
                }
                let mut payer = snap
                    .account(buyer.billing_id())
                    .ok_or(EngineError::AccountNotFound)?
                    .clone();
                if let Some(c) = currency.as_ref().filter(|c| **c != n.currency) {
                    return Err(EngineError::CurrencyMismatch {
                        expected: n.currency.clone(),
                        got: c.clone(),
                    });
                }
                if payer.currency != n.currency {
                    return Err(EngineError::CurrencyMismatch {
                        expected: payer.currency.clone(),
                        got: n.currency.clone(),
                    });
                }
                charge_first_month(&mut changes, &mut payer, n, now)?;
                let mut after = n.clone();
                after.state = NumberState::Active;
                after.owner_id = Some(buyer.id.clone());
                after.billing_id = Some(payer.id.clone());
                after.purchased_at = Some(now);
                after.last_billing_date = Some(now);
                after.next_billing_date = now.checked_add_months(Months::new(1));
                after.released_at = None;
                after.quarantine_until = None;
                after.last_owner_id = None;
                changes.accounts.push(Write::Update(payer));
                changes.number_change(ctx, "purchased", n, after);
            }

            Command::ImportNumber { number } => {
                import(ctx, snap, &mut changes, number, None, None)?;
            }

            Command::ImportNamed { number, nickname } => {
                import(ctx, snap, &mut changes, number, nickname.clone(), None)?;
            }

            Command::ImportSip {
                number,
                nickname,
                sip_config,
            } => {
                import(
                    ctx,
                    snap,
                    &mut changes,
                    number,
                    nickname.clone(),
                    Some(sip_config.clone()),
                )?;
            }

            Command::Reserve { account, until, .. } => {
                require_operator(ctx)?;
                let n = snap
                    .number
                    .as_ref()
                    .filter(|n| n.state == NumberState::Available)
                    .ok_or(EngineError::NotInInventory)?;
                if n.is_blocked {
                    return Err(EngineError::Blocked);
                }
                let holder = snap.account(account).ok_or(EngineError::AccountNotFound)?;
                if *until <= now {
                    return Err(EngineError::invalid("a reservation must end in the future"));
                }
                let mut after = n.clone();
                after.state = NumberState::Reserved;
                after.owner_id = Some(holder.id.clone());
                after.billing_id = Some(holder.billing_id().clone());
                after.reservation_expires_at = Some(*until);
                after.last_owner_id = None;
                after.released_at = None;
                changes.number_change(ctx, "reserved", n, after);
            }

            Command::Checkout { .. } => {
                require_operator(ctx)?;
                let n = snap
                    .number
                    .as_ref()
                    .filter(|n| n.state == NumberState::Reserved)
                    .ok_or(EngineError::NotReserved)?;
                let payer_id = n.billing_id.as_ref().ok_or(EngineError::NotReserved)?;
                let mut payer = snap
                    .account(payer_id)
                    .ok_or(EngineError::AccountNotFound)?
                    .clone();
                if payer.currency != n.currency {
                    return Err(EngineError::CurrencyMismatch {
                        expected: payer.currency.clone(),
                        got: n.currency.clone(),
                    });
                }
                charge_first_month(&mut changes, &mut payer, n, now)?;
                let mut after = n.clone();
                after.reservation_expires_at = None;
                after.purchased_at = Some(now);
                after.last_billing_date = Some(now);
                after.next_billing_date = now.checked_add_months(Months::new(1));
                after.state = if payer.verification == Verification::Verified {
                    NumberState::Active
                } else {
                    NumberState::PendingVerification
                };
                changes.accounts.push(Write::Update(payer));
                changes.number_change(ctx, "paid", n, after);
            }

            Command::SetVerification { account, status } => {
                require_operator(ctx)?;
                let mut acc = snap
                    .account(account)
                    .filter(|a| a.is_master())
                    .ok_or(EngineError::AccountNotFound)?
                    .clone();
                acc.verification = *status;
                acc.updated_at = now;
                changes.accounts.push(Write::Update(acc));
            }

            Command::CancelRelease { .. } => {
                let caller = require_caller(ctx)?;
                let n = snap
                    .number
                    .as_ref()
                    .filter(|n| controls(caller, n))
                    .ok_or(EngineError::NumberNotFound)?;
                if n.state != NumberState::PendingRelease
                    || n.release_at.is_some_and(|at| at <= now)
                {
                    return Err(EngineError::NotPendingRelease);
                }
                let mut after = n.clone();
                after.state = NumberState::Active;
                after.release_at = None;
                after.quarantine_until = None;
                after.release_fee = None;
                if let Some(fee) = n.release_fee.filter(|f| !f.is_zero()) {
                    let why = format!("release fee refund for {}", n.e164);
                    post_to_payer(snap, &mut changes, n, fee, EntryKind::Refund, why, now)?;
                }
                changes.number_change(ctx, "release_cancelled", n, after);
            }

            Command::UpdateNumber {
                nickname,
                inbound_agent_id,
                outbound_agent_id,
                ..
            } => {
                let caller = require_caller(ctx)?;
                let n = snap
                    .number
                    .as_ref()
                    .filter(|n| visible_to(caller, n))
                    .ok_or(EngineError::NumberNotFound)?;
                let binds_agents = inbound_agent_id.is_some() || outbound_agent_id.is_some();
                match n.state {
                    NumberState::Active | NumberState::PendingRelease => {}
                    NumberState::Reserved | NumberState::PendingVerification if !binds_agents => {}
                    state => return Err(EngineError::NotEditable(state)),
                }
                if let Some(Some(name)) = nickname {
                    validate_nickname(name)?;
                }
                let mut after = n.clone();
                if let Some(v) = nickname {
                    after.nickname = v.clone();
                }
                if let Some(v) = inbound_agent_id {
                    after.inbound_agent_id = v.clone();
                }
                if let Some(v) = outbound_agent_id {
                    after.outbound_agent_id = v.clone();
                }
                after.updated_at = now;
                // Settings, not a state change: the number is written without an event.
                changes.numbers.push(Write::Update(after));
            }

            Command::SetSipConfig {
                sip_config,
                keep_password,
                ..
            } => {
                let caller = require_caller(ctx)?;
                let n = snap
                    .number
                    .as_ref()
                    .filter(|n| controls(caller, n))
                    .ok_or(EngineError::NumberNotFound)?;
                if n.origin != Origin::Imported {
                    return Err(EngineError::NotImported);
                }
                let mut config = sip_config.clone();
                if *keep_password && config.password.is_none() {
                    config.password = n.sip_config.as_ref().and_then(|c| c.password.clone());
                }
                let mut after = n.clone();
                after.sip_config = Some(config);
                after.updated_at = now;
                changes.numbers.push(Write::Update(after));
            }

            Command::Tick { .. } => {
                require_operator(ctx)?;
                if let Some(n) = &snap.number {
                    tick(ctx, snap, &mut changes, n)?;
                }
            }

            Command::Release { mode, .. } => {
                let caller = require_caller(ctx)?;
                let n = snap.number.as_ref().ok_or(EngineError::NotOwner)?;
                if !controls(caller, n) {
                    // Released by this account and held by nobody since, ageing in quarantine or
                    // back in stock: releasing again changes nothing (whatever the quarantine).
                    if visible_to(caller, n) {
                        return Ok(changes);
                    }
                    return Err(EngineError::NotOwner);
                }
                let cycle_end = matches!(mode, ReleaseMode::AtCycleEnd { .. });
                match n.state {
                    NumberState::Active => {}
                    NumberState::PendingRelease if cycle_end => return Ok(changes),
                    state => return Err(EngineError::NotReleasable(state)),
                }
                let mut after = n.clone();
                let policy = &ctx.policy;
                match *mode {
                    ReleaseMode::AtCycleEnd { quarantine } if n.origin == Origin::Stock => {
                        if n.release_at.is_some() {
                            return Ok(changes); // already ordered: idempotent
                        }
                        let at = n.next_billing_date.filter(|d| *d > now).unwrap_or(now);
                        after.quarantine_until = quarantine_end(at, quarantine);
                        if at > now {
                            after.release_at = Some(at);
                            changes.number_change(ctx, "release_scheduled", n, after);
                        } else {
                            complete_release(&mut after, now);
                            changes.number_change(ctx, "released", n, after);
                        }
                    }
                    ReleaseMode::AtCycleEnd { .. } | ReleaseMode::Immediate => {
                        after.quarantine_until = quarantine_end(now, policy.quarantine);
                        complete_release(&mut after, now);
                        changes.number_change(ctx, "released", n, after);
                    }
                    ReleaseMode::Policy => {
                        if !policy.fee.is_zero() {
                            let why = format!("release fee for {}", n.e164);
                            post_to_payer(
                                snap,
                                &mut changes,
                                n,
                                -policy.fee,
                                EntryKind::ReleaseFee,
                                why,
                                now,
                            )?;
                            after.release_fee = Some(policy.fee);
                        }
                        if policy.window > chrono::Duration::zero() {
                            let at = now + policy.window;
                            after.state = NumberState::PendingRelease;
                            after.release_at = Some(at);
                            after.quarantine_until = quarantine_end(at, policy.quarantine);
                            after.trunk_id = None;
                            after.application_id = None;
                            changes.number_change(ctx, "release_requested", n, after);
                        } else {
                            after.quarantine_until = quarantine_end(now, policy.quarantine);
                            complete_release(&mut after, now);
                            changes.number_change(ctx, "released", n, after);
                        }
                    }
                }
            }

            Command::AssignTrunk { trunk, .. } => {
                let caller = require_caller(ctx)?;
                let n = controlled_active(snap, caller)?;
                if n.trunk_id.is_some() {
                    return Err(EngineError::AlreadyOnTrunk);
                }
                let t = snap
                    .trunk
                    .as_ref()
                    .filter(|t| {
                        t.id == *trunk
                            && (Some(&t.account_id) == n.owner_id.as_ref()
                                || Some(&t.account_id) == n.billing_id.as_ref())
                    })
                    .ok_or(EngineError::TrunkNotFound)?;
                let mut after = n.clone();
                after.trunk_id = Some(t.id);
                changes.number_change(ctx, "assigned_to_trunk", n, after);
            }

            Command::UnassignTrunk { .. } => {
                let caller = require_caller(ctx)?;
                let n = controlled_active(snap, caller)?;
                if n.trunk_id.is_none() {
                    return Err(EngineError::NotOnTrunk);
                }
                let mut after = n.clone();
                after.trunk_id = None;
                changes.number_change(ctx, "unassigned_from_trunk", n, after);
            }

            Command::AssignSubAccount { sub, .. } => {
                let caller = require_caller(ctx)?;
                let n = snap
                    .number
                    .as_ref()
                    .filter(|n| {
                        n.billing_id.as_ref() == Some(caller) && n.state == NumberState::Active
                    })
                    .ok_or(EngineError::NumberNotFound)?;
                let target = snap
                    .account(sub)
                    .filter(|a| a.parent_id.as_ref() == Some(caller))
                    .ok_or(EngineError::SubAccountNotFound)?;
                if n.owner_id.as_ref() != Some(caller) {
                    return Err(EngineError::AlreadyOnSubAccount);
                }
                let mut after = n.clone();
                after.owner_id = Some(target.id.clone());
                changes.number_change(ctx, "assigned_to_sub_account", n, after);
            }

            Command::UnassignSubAccount { force, .. } => {
                let caller = require_caller(ctx)?;
                let me = snap.account(caller).ok_or(EngineError::AccountNotFound)?;
                if *force && me.role != Role::Admin {
                    return Err(EngineError::ForceRequiresAdmin);
                }
                let n = snap
                    .number
                    .as_ref()
                    .filter(|n| {
                        n.billing_id.as_ref() == Some(caller)
                            && n.owner_id.as_ref() != Some(caller)
                            && n.state.is_owned()
                    })
                    .ok_or(EngineError::NotOnSubAccount)?;
                let in_cool_off = cool_off(n.last_call_at, now);
                if let (Some((until, remaining_seconds)), false) = (in_cool_off, *force) {
                    return Err(EngineError::CoolOffInEffect {
                        until,
                        remaining_seconds,
                    });
                }
                let from = n.owner_id.clone().ok_or(EngineError::NotOnSubAccount)?;
                let mut after = n.clone();
                after.owner_id = Some(caller.clone());
                if *force {
                    changes.assignment_audits.push(AssignmentAudit {
                        id: EventId::new(),
                        number_id: n.id,
                        e164: n.e164.clone(),
                        from_account_id: from,
                        to_account_id: caller.clone(),
                        actor_auth_id: caller.clone(),
                        action: "force_unassign_subaccount".into(),
                        last_call_at: n.last_call_at,
                        cool_off_until: n.last_call_at.map(|t| t + COOL_OFF),
                        created_at: now,
                    });
                }
                let action = if *force {
                    "force_unassigned_from_sub_account"
                } else {
                    "unassigned_from_sub_account"
                };
                changes.number_change(ctx, action, n, after);
            }

            Command::ReportCall { at, .. } => {
                require_operator(ctx)?;
                let n = snap.number.as_ref().ok_or(EngineError::NumberNotFound)?;
                let mut after = n.clone();
                after.last_call_at = Some(n.last_call_at.map_or(*at, |prev| prev.max(*at)));
                after.updated_at = now;
                // A call is not a state change: no audit event, only the new `last_call_at`.
                changes.numbers.push(Write::Update(after));
            }

            Command::CreateTrunk { name, patch } => {
                let caller = require_caller(ctx)?;
                let mut name = name.clone();
                let mut settings = TrunkSettings::default();
                patch
                    .clone()
                    .apply(&mut name, &mut settings)
                    .map_err(EngineError::Invalid)?;
                let name = validate_name(&name).map_err(EngineError::invalid)?;
                changes.trunks.push(Write::Insert(Trunk {
                    id: TrunkId::new(),
                    account_id: caller.clone(),
                    name,
                    settings,
                    created_at: now,
                    updated_at: now,
                }));
            }

            Command::UpdateTrunk { patch, .. } => {
                let caller = require_caller(ctx)?;
                let mut t = own_trunk(snap, caller)?.clone();
                patch
                    .clone()
                    .apply(&mut t.name, &mut t.settings)
                    .map_err(EngineError::Invalid)?;
                t.updated_at = now;
                changes.trunks.push(Write::Update(t));
            }

            Command::DeleteTrunk { .. } => {
                let caller = require_caller(ctx)?;
                let t = own_trunk(snap, caller)?.clone();
                for n in &snap.numbers_on_trunk {
                    let mut after = n.clone();
                    after.trunk_id = None;
                    changes.number_change(ctx, "unassigned_from_trunk", n, after);
                }
                changes.trunks.push(Write::Delete(t));
            }

            Command::CreateCredential {
                account,
                kind,
                token_hash,
                scope,
            } => {
                require_operator(ctx)?;
                let acc = snap.account(account).ok_or(EngineError::AccountNotFound)?;
                changes.credentials.push(Write::Insert(Credential {
                    id: CredentialId::new(),
                    account_id: acc.id.clone(),
                    kind: *kind,
                    token_hash: token_hash.clone(),
                    scope: scope.clone(),
                    created_at: now,
                    revoked_at: None,
                }));
            }

            Command::RevokeCredential { .. } => {
                require_operator(ctx)?;
                let mut c = snap
                    .credentials
                    .first()
                    .cloned()
                    .ok_or(EngineError::CredentialNotFound)?;
                if c.revoked_at.is_none() {
                    c.revoked_at = Some(now);
                    changes.credentials.push(Write::Update(c));
                }
            }
        }
        Ok(changes)
    }
}

fn controlled_active<'s>(
    snap: &'s Snapshot,
    caller: &AccountId,
) -> Result<&'s Number, EngineError> {
    snap.number
        .as_ref()
        .filter(|n| controls(caller, n) && n.state == NumberState::Active)
        .ok_or(EngineError::NumberNotFound)
}

fn own_sub_account<'s>(
    snap: &'s Snapshot,
    caller: &AccountId,
    id: &AccountId,
) -> Result<&'s Account, EngineError> {
    snap.account(id)
        .filter(|a| a.parent_id.as_ref() == Some(caller))
        .ok_or(EngineError::SubAccountNotFound)
}

fn own_trunk<'s>(snap: &'s Snapshot, caller: &AccountId) -> Result<&'s Trunk, EngineError> {
    snap.trunk
        .as_ref()
        .filter(|t| &t.account_id == caller)
        .ok_or(EngineError::TrunkNotFound)
}

/// Whether `caller` may see the number: it acts on it, or released it and it has not been
/// bought again since.
pub fn visible_to(caller: &AccountId, n: &Number) -> bool {
    controls(caller, n)
        || (n.owner_id.is_none()
            && n.state != NumberState::Deleted
            && n.last_owner_id.as_ref() == Some(caller))
}

/// Posts `amount` (negative: a debit) on the account paying for `n`, with its ledger entry.
fn post_to_payer(
    snap: &Snapshot,
    changes: &mut Changes,
    n: &Number,
    amount: Decimal,
    kind: EntryKind,
    description: String,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    let payer_id = n.billing_id.as_ref().ok_or(EngineError::AccountNotFound)?;
    let mut payer = snap
        .account(payer_id)
        .ok_or(EngineError::AccountNotFound)?
        .clone();
    let entry = post(
        &mut payer,
        amount,
        kind,
        did_reference(&n.e164),
        description,
        now,
    )?;
    changes.ledger.push(entry);
    changes.accounts.push(Write::Update(payer));
    Ok(())
}

/// Debits a number's setup fee and first month from its payer.
fn charge_first_month(
    changes: &mut Changes,
    payer: &mut Account,
    n: &Number,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    let cost = n.setup_fee + n.monthly_fee;
    if payer.balance < cost {
        return Err(EngineError::InsufficientBalance {
            needed: cost,
            available: payer.balance,
        });
    }
    for (fee, kind, what) in [
        (n.setup_fee, EntryKind::DidPurchase, "setup fee"),
        (n.monthly_fee, EntryKind::DidRental, "monthly fee"),
    ] {
        if !fee.is_zero() {
            let description = format!("{what} for {}", n.e164);
            let entry = post(payer, -fee, kind, did_reference(&n.e164), description, now)?;
            changes.ledger.push(entry);
        }
    }
    Ok(())
}

/// A number's nickname: at most 255 printable characters.
fn validate_nickname(name: &str) -> Result<(), EngineError> {
    if name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(EngineError::invalid(
            "a nickname is at most 255 printable characters",
        ));
    }
    Ok(())
}

/// A customer's own number: owned at once, never charged.
fn import(
    ctx: &Context,
    snap: &Snapshot,
    changes: &mut Changes,
    number: &NewNumber,
    nickname: Option<String>,
    sip_config: Option<SipConfig>,
) -> Result<(), EngineError> {
    let caller = require_caller(ctx)?;
    if let Some(name) = &nickname {
        validate_nickname(name)?;
    }
    if snap.number.is_some() {
        return Err(EngineError::AlreadyExists(number.e164.to_string()));
    }
    let owner = snap.account(caller).ok_or(EngineError::AccountNotFound)?;
    if !owner.enabled {
        return Err(EngineError::Forbidden("account is disabled"));
    }
    let mut n = Number::new_stock(number.clone(), ctx.now);
    n.origin = Origin::Imported;
    n.setup_fee = Decimal::ZERO;
    n.monthly_fee = Decimal::ZERO;
    n.state = NumberState::Active;
    n.owner_id = Some(owner.id.clone());
    n.billing_id = Some(owner.billing_id().clone());
    n.purchased_at = Some(ctx.now);
    n.nickname = nickname;
    n.sip_config = sip_config;
    changes.events.push(event(ctx, "imported", None, &n));
    changes.numbers.push(Write::Insert(n));
    Ok(())
}

/// The scheduler's step for one number: the first thing due, or nothing. Every branch
/// re-checks due-ness on the locked row, so a step that another scheduler already took is a
/// no-op: each item is done exactly once.
fn tick(
    ctx: &Context,
    snap: &Snapshot,
    changes: &mut Changes,
    n: &Number,
) -> Result<(), EngineError> {
    let now = ctx.now;
    let payer = n.billing_id.as_ref().and_then(|id| snap.account(id));
    let mut after = n.clone();
    match n.state {
        NumberState::Active | NumberState::PendingRelease
            if n.release_at.is_some_and(|at| at <= now) =>
        {
            let at = n.release_at.unwrap_or(now);
            complete_release(&mut after, at);
            changes.number_change(ctx, "released", n, after);
        }
        NumberState::Quarantined if n.quarantine_until.is_some_and(|q| q <= now) => {
            after.state = NumberState::Available;
            after.quarantine_until = None;
            changes.number_change(ctx, "quarantine_ended", n, after);
        }
        NumberState::Reserved if n.reservation_expires_at.is_some_and(|t| t <= now) => {
            after.reservation_expires_at = None;
            detach(&mut after);
            after.state = NumberState::Available;
            changes.number_change(ctx, "reservation_expired", n, after);
        }
        NumberState::Reserved | NumberState::PendingVerification
            if payer.is_some_and(|p| p.verification == Verification::Rejected) =>
        {
            let paid = n.setup_fee + n.monthly_fee;
            if n.state == NumberState::PendingVerification && !paid.is_zero() {
                let why = format!("refund for {}: verification rejected", n.e164);
                post_to_payer(snap, changes, n, paid, EntryKind::Refund, why, now)?;
            }
            after.reservation_expires_at = None;
            detach(&mut after);
            after.state = NumberState::Available;
            changes.number_change(ctx, "verification_rejected", n, after);
        }
        NumberState::PendingVerification
            if payer.is_some_and(|p| p.verification == Verification::Verified) =>
        {
            after.state = NumberState::Active;
            changes.number_change(ctx, "verified", n, after);
        }
        NumberState::Active if renewal_due(n, now) => {
            let due = n.next_billing_date.unwrap_or(now);
            let mut payer = payer.cloned().ok_or(EngineError::AccountNotFound)?;
            match post(
                &mut payer,
                -n.monthly_fee,
                EntryKind::DidRental,
                did_reference(&n.e164),
                format!("monthly fee for {} from {}", n.e164, due.format("%Y-%m-%d")),
                now,
            ) {
                Ok(entry) => {
                    changes.ledger.push(entry);
                    changes.accounts.push(Write::Update(payer));
                    after.last_billing_date = Some(due);
                    after.next_billing_date = due.checked_add_months(Months::new(1));
                    after.updated_at = now;
                    // A renewal is not a state change: the number is written without an event.
                    changes.numbers.push(Write::Update(after));
                }
                Err(EngineError::InsufficientBalance { .. }) => {
                    // The renewal lapses: billing stops and the number is released.
                    after.quarantine_until = quarantine_end(now, ctx.policy.quarantine);
                    complete_release(&mut after, now);
                    changes.number_change(ctx, "released_unpaid", n, after);
                }
                Err(e) => return Err(e),
            }
        }
        _ => {}
    }
    Ok(())
}

/// A purchased number's next month is due, and no release takes effect before it starts.
pub fn renewal_due(n: &Number, now: DateTime<Utc>) -> bool {
    n.origin == Origin::Stock
        && n.next_billing_date
            .is_some_and(|due| due <= now && n.release_at.is_none_or(|at| at > due))
}

#[cfg(test)]
mod tests;
