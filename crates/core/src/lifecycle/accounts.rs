//! Accounts, sub-accounts and credentials.

use chrono::Duration;

use crate::account::{validate_name, Account, AccountPatch, NewAccount, Verification};
use crate::audit::Actor;
use crate::credential::{Credential, CredentialKind, TokenHash, MAX_ROTATION_GRACE};
use crate::error::EngineError;
use crate::ids::{AccountId, AccountKind, CredentialId};
use crate::ledger::{EntryKind, Source};
use crate::money::Decimal;
use crate::setting::{Setting, SettingKey, SigningKey};

use super::billing::post;
use super::{require_caller, require_operator, schedule, Changes, Context, Needs, Snapshot, Write};

pub(super) fn create_account_needs(parent: &Option<AccountId>) -> Needs {
    Needs::accounts(parent.iter().cloned().collect())
}

/// A master account (operator only) or a sub-account of `parent` (its own master account, or the
/// operator), with an opening balance for a master account and its first Vobiz credential; with
/// `session`, a live session for its first access and refresh tokens (written after the auth
/// token, so [`Changes::credential`] is still the auth token).
pub(super) fn create_account(
    ctx: &Context,
    snap: &Snapshot,
    account: &NewAccount,
    parent: Option<&AccountId>,
    token_hash: &TokenHash,
    session: bool,
) -> Result<Changes, EngineError> {
    let now = ctx.now;
    let mut changes = Changes::default();
    let name = validate_name(&account.name).map_err(EngineError::invalid)?;
    if account.profile.rate_limit.is_some_and(|r| r < 0) {
        return Err(EngineError::invalid("rate_limit cannot be negative"));
    }
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
        parent_id: parent.cloned(),
        name,
        role: account.role,
        currency: parent_account.map_or_else(|| account.currency.clone(), |p| p.currency.clone()),
        balance: Decimal::ZERO,
        enabled: account.enabled,
        verification: Verification::Verified,
        profile: account.profile.clone(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let opening =
        crate::money::parse_amount(account.opening_balance).map_err(EngineError::invalid)?;
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
            Source::Payment,
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
    if session {
        changes
            .credentials
            .push(Write::Insert(new_session(&new.id, now)));
    }
    changes.accounts.insert(0, Write::Insert(new));
    Ok(changes)
}

/// A live session of `account`: its row is found by the hash of its own id (the tokens that
/// name it are signed, so it holds no secret).
fn new_session(account: &AccountId, now: chrono::DateTime<chrono::Utc>) -> Credential {
    let id = CredentialId::new();
    Credential {
        id,
        account_id: account.clone(),
        kind: CredentialKind::VobizSession,
        token_hash: TokenHash::of(&id.to_string()),
        scope: None,
        created_at: now,
        revoked_at: None,
    }
}

/// Ends a session of `account` at once, asked by that account or its main account; any other
/// caller, another account's session, or a credential of another kind is not found. Ending one
/// already ended changes nothing.
pub(super) fn revoke_session(
    ctx: &Context,
    snap: &Snapshot,
    account: &AccountId,
) -> Result<Changes, EngineError> {
    let caller = require_caller(ctx)?;
    let owner = snap
        .account(account)
        .filter(|a| &a.id == caller || a.parent_id.as_ref() == Some(caller))
        .ok_or(EngineError::CredentialNotFound)?;
    let mut c = snap
        .credentials
        .first()
        .filter(|c| c.kind == CredentialKind::VobizSession && c.account_id == owner.id)
        .cloned()
        .ok_or(EngineError::CredentialNotFound)?;
    let mut changes = Changes::default();
    if c.is_live_at(ctx.now) {
        c.revoked_at = Some(ctx.now);
        changes.credentials.push(Write::Update(c));
    }
    Ok(changes)
}

/// Keeps `key` as the token signing key (operator) unless one is kept already.
pub(super) fn init_token_key(
    ctx: &Context,
    snap: &Snapshot,
    key: &SigningKey,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    if snap.setting(SettingKey::TokenKey).is_some() {
        return Ok(Changes::default());
    }
    Ok(Changes {
        settings: vec![Setting::TokenKey(key.clone())],
        ..Changes::default()
    })
}

/// A sub-account of the caller.
fn own_sub_account<'s>(
    snap: &'s Snapshot,
    caller: &AccountId,
    id: &AccountId,
) -> Result<&'s Account, EngineError> {
    snap.account(id)
        .filter(|a| a.parent_id.as_ref() == Some(caller))
        .ok_or(EngineError::SubAccountNotFound)
}

/// Disables or enables a master account (operator). A disabled account's credentials stop
/// authenticating at once ([`Engine::authenticate`](crate::Engine::authenticate) asks `enabled`);
/// its numbers, money and sub-accounts are left as they are. Setting what it is changes nothing.
pub(super) fn set_enabled(
    ctx: &Context,
    snap: &Snapshot,
    account: &AccountId,
    enabled: bool,
) -> Result<Changes, EngineError> {
    super::require_operator(ctx)?;
    let mut acc = snap
        .account(account)
        .filter(|a| a.is_master() && a.is_live())
        .ok_or(EngineError::AccountNotFound)?
        .clone();
    if acc.enabled == enabled {
        return Ok(Changes::default());
    }
    acc.enabled = enabled;
    acc.updated_at = ctx.now;
    Ok(Changes {
        accounts: vec![Write::Update(acc)],
        ..Changes::default()
    })
}

pub(super) fn update_sub_account(
    ctx: &Context,
    snap: &Snapshot,
    id: &AccountId,
    patch: &AccountPatch,
) -> Result<Changes, EngineError> {
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
    sub.updated_at = ctx.now;
    Ok(Changes {
        accounts: vec![Write::Update(sub)],
        ..Changes::default()
    })
}

pub(super) fn delete_sub_account_needs(id: &AccountId, ctx: &Context) -> Needs {
    // The payer (the caller) comes too: settling a held number may charge or refund it.
    let mut accounts = vec![id.clone()];
    accounts.extend(ctx.caller().filter(|c| *c != id).cloned());
    Needs {
        accounts,
        holdings_of: Some(id.clone()),
        due_holdings_of: Some((id.clone(), ctx.now)),
        credentials_of: Some(id.clone()),
        ..Needs::default()
    }
}

/// Deletes (soft) a sub-account that holds no numbers, revoking its credentials. What fell due
/// on its numbers is applied first (see [`schedule::settle_each`]): a number whose release has
/// taken effect is not held any more, whether or not the scheduler has run.
pub(super) fn delete_sub_account(
    ctx: &Context,
    snap: &Snapshot,
    id: &AccountId,
) -> Result<Changes, EngineError> {
    let caller = require_caller(ctx)?;
    let mut sub = own_sub_account(snap, caller, id)?.clone();
    let (due, settled) = schedule::settle_each(ctx, snap, &snap.due_holdings)?;
    let gone = settled
        .iter()
        .filter(|n| n.owner_id.as_ref() != Some(id) || !n.state.is_owned())
        .count() as u64;
    if snap.holdings > gone {
        return Err(EngineError::StillHoldsNumbers);
    }
    let now = ctx.now;
    sub.enabled = false;
    sub.deleted_at = Some(now);
    sub.updated_at = now;
    let mut changes = due.then(Changes {
        accounts: vec![Write::Update(sub)],
        ..Changes::default()
    });
    for c in snap.credentials.iter().filter(|c| c.is_live_at(now)) {
        let mut c = c.clone();
        c.revoked_at = Some(now);
        changes.credentials.push(Write::Update(c));
    }
    Ok(changes)
}

pub(super) fn set_verification_needs(account: &AccountId) -> Needs {
    Needs {
        accounts: vec![account.clone()],
        awaiting_verification_of: Some(account.clone()),
        ..Needs::default()
    }
}

/// Records a company's verification outcome (operator), and moves its numbers waiting for it on.
pub(super) fn set_verification(
    ctx: &Context,
    snap: &Snapshot,
    account: &AccountId,
    status: Verification,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let mut acc = snap
        .account(account)
        .filter(|a| a.is_master())
        .ok_or(EngineError::AccountNotFound)?
        .clone();
    acc.verification = status;
    acc.updated_at = ctx.now;
    // Its waiting numbers move on in the same transaction: verified, they are usable from now;
    // rejected, refunded and back in inventory.
    let mut verified = snap.clone();
    if let Some(a) = verified.accounts.iter_mut().find(|a| a.id == acc.id) {
        *a = acc.clone();
    }
    let (moved, _) = schedule::settle_each(ctx, &verified, &snap.due_holdings)?;
    Ok(Changes {
        accounts: vec![Write::Update(acc)],
        ..Changes::default()
    }
    .then(moved))
}

/// Issues a credential of `kind` (operator); the token's hash is stored, never the token.
pub(super) fn create_credential(
    ctx: &Context,
    snap: &Snapshot,
    account: &AccountId,
    kind: CredentialKind,
    token_hash: &TokenHash,
    scope: &Option<String>,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let acc = snap.account(account).ok_or(EngineError::AccountNotFound)?;
    if kind == CredentialKind::Edge && acc.parent_id.is_some() {
        // An edge routes every number its main account pays for, its sub-accounts' included.
        return Err(EngineError::invalid(
            "an edge key belongs to a main account (MA_…)",
        ));
    }
    Ok(Changes {
        credentials: vec![Write::Insert(Credential {
            id: CredentialId::new(),
            account_id: acc.id.clone(),
            kind,
            token_hash: token_hash.clone(),
            scope: scope.clone(),
            created_at: ctx.now,
            revoked_at: None,
        })],
        ..Changes::default()
    })
}

/// Revokes a credential of any kind (operator) at once, cutting short a rotation's grace
/// period; revoking one that no longer works changes nothing.
pub(super) fn revoke_credential(ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let mut c = snap
        .credentials
        .first()
        .cloned()
        .ok_or(EngineError::CredentialNotFound)?;
    let mut changes = Changes::default();
    if c.is_live_at(ctx.now) {
        c.revoked_at = Some(ctx.now);
        changes.credentials.push(Write::Update(c));
    }
    Ok(changes)
}

pub(super) fn rotate_auth_token_needs(account: &AccountId) -> Needs {
    Needs {
        accounts: vec![account.clone()],
        credentials_of: Some(account.clone()),
        ..Needs::default()
    }
}

/// A new Vobiz auth token for a live account (operator), written first; every Vobiz token of it
/// that still works is revoked from `now + grace`, or earlier if an earlier rotation already
/// said so. Agni and Diga keys are untouched (each is issued and revoked on its own).
pub(super) fn rotate_auth_token(
    ctx: &Context,
    snap: &Snapshot,
    account: &AccountId,
    token_hash: &TokenHash,
    grace: Duration,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let acc = snap.account(account).ok_or(EngineError::AccountNotFound)?;
    if grace < Duration::zero() || grace > MAX_ROTATION_GRACE {
        return Err(EngineError::invalid(
            "the grace period is between 0 and 30 days",
        ));
    }
    let now = ctx.now;
    let until = now + grace;
    let mut changes = Changes::default();
    changes.credentials.push(Write::Insert(Credential {
        id: CredentialId::new(),
        account_id: acc.id.clone(),
        kind: CredentialKind::Vobiz,
        token_hash: token_hash.clone(),
        scope: None,
        created_at: now,
        revoked_at: None,
    }));
    for c in snap
        .credentials
        .iter()
        .filter(|c| c.kind == CredentialKind::Vobiz && c.is_live_at(now))
    {
        let revoked_at = c.revoked_at.map_or(until, |r| r.min(until));
        if c.revoked_at != Some(revoked_at) {
            let mut c = c.clone();
            c.revoked_at = Some(revoked_at);
            changes.credentials.push(Write::Update(c));
        }
    }
    Ok(changes)
}
