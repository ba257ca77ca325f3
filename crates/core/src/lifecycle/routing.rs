//! Where a number's calls go: SIP trunks, and the hand-over of a number to a sub-account and back
//! (with the 15-day cool-off of seed 004).

use crate::account::{validate_name, Role};
use crate::audit::AssignmentAudit;
use crate::error::EngineError;
use crate::ids::{AccountId, EventId, TrunkId};
use crate::number::{Number, NumberRef, NumberState};
use crate::policy::COOL_OFF;
use crate::trunk::{Trunk, TrunkPatch, TrunkSettings};

use super::schedule::cool_off;
use super::{controls, require_caller, Changes, Context, Needs, Snapshot, Write};

/// The active number the caller holds or pays for.
fn controlled_active<'s>(
    snap: &'s Snapshot,
    caller: &AccountId,
) -> Result<&'s Number, EngineError> {
    snap.number
        .as_ref()
        .filter(|n| controls(caller, n) && n.state == NumberState::Active)
        .ok_or(EngineError::NumberNotFound)
}

/// The caller's own trunk.
fn own_trunk<'s>(snap: &'s Snapshot, caller: &AccountId) -> Result<&'s Trunk, EngineError> {
    snap.trunk
        .as_ref()
        .filter(|t| &t.account_id == caller)
        .ok_or(EngineError::TrunkNotFound)
}

pub(super) fn assign_trunk_needs(number: &NumberRef, trunk: TrunkId) -> Needs {
    Needs {
        number: Some(number.clone()),
        trunk: Some(trunk),
        ..Needs::default()
    }
}

/// Routes an unrouted active number to one of the caller's own trunks (a sub-account cannot use
/// its parent's trunk, which it cannot read either: not found).
pub(super) fn assign_trunk(
    ctx: &Context,
    snap: &Snapshot,
    trunk: TrunkId,
) -> Result<Changes, EngineError> {
    let caller = require_caller(ctx)?;
    let n = controlled_active(snap, caller)?;
    if n.trunk_id.is_some() {
        return Err(EngineError::AlreadyOnTrunk);
    }
    let t = own_trunk(snap, caller)?;
    if t.id != trunk {
        return Err(EngineError::TrunkNotFound);
    }
    let mut after = n.clone();
    after.trunk_id = Some(t.id);
    let mut changes = Changes::default();
    changes.number_change(ctx, "assigned_to_trunk", n, after);
    Ok(changes)
}

/// Takes a number off its trunk: inbound calls stop being routed at once (seed 002).
pub(super) fn unassign_trunk(ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
    let caller = require_caller(ctx)?;
    let n = controlled_active(snap, caller)?;
    if n.trunk_id.is_none() {
        return Err(EngineError::NotOnTrunk);
    }
    let mut after = n.clone();
    after.trunk_id = None;
    let mut changes = Changes::default();
    changes.number_change(ctx, "unassigned_from_trunk", n, after);
    Ok(changes)
}

pub(super) fn assign_sub_account_needs(number: &NumberRef, sub: &AccountId) -> Needs {
    Needs {
        number: Some(number.clone()),
        accounts: vec![sub.clone()],
        ..Needs::default()
    }
}

/// Hands an active number the caller holds itself to one of its sub-accounts; billing stays
/// with the caller.
pub(super) fn assign_sub_account(
    ctx: &Context,
    snap: &Snapshot,
    sub: &AccountId,
) -> Result<Changes, EngineError> {
    let caller = require_caller(ctx)?;
    let n = snap
        .number
        .as_ref()
        .filter(|n| n.billing_id.as_ref() == Some(caller) && n.state == NumberState::Active)
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
    let mut changes = Changes::default();
    changes.number_change(ctx, "assigned_to_sub_account", n, after);
    Ok(changes)
}

pub(super) fn unassign_sub_account_needs(number: &NumberRef, ctx: &Context) -> Needs {
    Needs {
        number: Some(number.clone()),
        number_trunk: true,
        accounts: ctx.caller().cloned().into_iter().collect(),
        ..Needs::default()
    }
}

/// Takes a number back from a sub-account: refused during the cool-off (seed 004) unless an
/// admin-role account forces it, which writes a `did_assignment_audit` row. What the
/// sub-account bound leaves with it: agents, nickname, application, and its own trunk (a trunk
/// of the parent stays).
pub(super) fn unassign_sub_account(
    ctx: &Context,
    snap: &Snapshot,
    force: bool,
) -> Result<Changes, EngineError> {
    let now = ctx.now;
    let caller = require_caller(ctx)?;
    let me = snap.account(caller).ok_or(EngineError::AccountNotFound)?;
    if force && me.role != Role::Admin {
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
    if let (Some((until, remaining_seconds)), false) = (cool_off(n.last_call_at, now), force) {
        return Err(EngineError::CoolOffInEffect {
            until,
            remaining_seconds,
        });
    }
    let from = n.owner_id.clone().ok_or(EngineError::NotOnSubAccount)?;
    let mut after = n.clone();
    after.owner_id = Some(caller.clone());
    after.inbound_agent_id = None;
    after.outbound_agent_id = None;
    after.nickname = None;
    after.application_id = None;
    let parents_trunk = snap
        .trunk
        .as_ref()
        .is_some_and(|t| Some(t.id) == n.trunk_id && &t.account_id == caller);
    if !parents_trunk {
        after.trunk_id = None;
    }
    let mut changes = Changes::default();
    if force {
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
    let action = if force {
        "force_unassigned_from_sub_account"
    } else {
        "unassigned_from_sub_account"
    };
    changes.number_change(ctx, action, n, after);
    Ok(changes)
}

pub(super) fn create_trunk(
    ctx: &Context,
    name: &str,
    patch: &TrunkPatch,
) -> Result<Changes, EngineError> {
    let caller = require_caller(ctx)?;
    let mut name = name.to_owned();
    let mut settings = TrunkSettings::default();
    patch
        .clone()
        .apply(&mut name, &mut settings)
        .map_err(EngineError::Invalid)?;
    let name = validate_name(&name).map_err(EngineError::invalid)?;
    Ok(Changes {
        trunks: vec![Write::Insert(Trunk {
            id: TrunkId::new(),
            account_id: caller.clone(),
            name,
            settings,
            created_at: ctx.now,
            updated_at: ctx.now,
        })],
        ..Changes::default()
    })
}

pub(super) fn update_trunk(
    ctx: &Context,
    snap: &Snapshot,
    patch: &TrunkPatch,
) -> Result<Changes, EngineError> {
    let caller = require_caller(ctx)?;
    let mut t = own_trunk(snap, caller)?.clone();
    patch
        .clone()
        .apply(&mut t.name, &mut t.settings)
        .map_err(EngineError::Invalid)?;
    t.updated_at = ctx.now;
    Ok(Changes {
        trunks: vec![Write::Update(t)],
        ..Changes::default()
    })
}

pub(super) fn delete_trunk_needs(id: TrunkId) -> Needs {
    Needs {
        trunk: Some(id),
        numbers_on_trunk: Some(id),
        ..Needs::default()
    }
}

/// Deletes one of the caller's trunks; the numbers on it are unrouted first.
pub(super) fn delete_trunk(ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
    let caller = require_caller(ctx)?;
    let t = own_trunk(snap, caller)?.clone();
    let mut changes = Changes::default();
    for n in &snap.numbers_on_trunk {
        let mut after = n.clone();
        after.trunk_id = None;
        changes.number_change(ctx, "unassigned_from_trunk", n, after);
    }
    changes.trunks.push(Write::Delete(t));
    Ok(changes)
}
