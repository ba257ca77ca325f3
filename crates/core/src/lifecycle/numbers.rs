//! Numbers: stocking inventory, importing a customer's own number, its settings, and the calls
//! it carries.

use chrono::{DateTime, Utc};

use crate::call::{Call, CallRecord};
use crate::clock::check_time;
use crate::error::EngineError;
use crate::ids::CallId;
use crate::money::Decimal;
use crate::number::{NewNumber, Number, NumberRef, NumberState, Origin, SipConfig, SipConfigPatch};
use crate::policy::COOL_OFF;

use super::{
    controls, event, locked, require_caller, require_operator, visible_to, Changes, Context, Needs,
    Snapshot, Write,
};

/// Stocks new numbers (operator), each with its `stocked` event.
pub(super) fn add_inventory(ctx: &Context, numbers: &[NewNumber]) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let mut changes = Changes::default();
    for number in numbers {
        for fee in [number.setup_fee, number.monthly_fee] {
            crate::money::parse_amount(fee).map_err(EngineError::Invalid)?;
        }
        let n = Number::new_stock(number.clone(), ctx.now);
        changes.events.push(event(ctx, "stocked", None, &n));
        changes.numbers.push(Write::Insert(n));
    }
    Ok(changes)
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

pub(super) fn import_needs(number: &NewNumber, ctx: &Context) -> Needs {
    Needs {
        number: Some(NumberRef::E164(number.e164.clone())),
        accounts: ctx.caller_and_billing(),
        ..Needs::default()
    }
}

/// A customer's own number: owned at once, never charged, deleted (not stocked) on release.
pub(super) fn import(
    ctx: &Context,
    snap: &Snapshot,
    number: &NewNumber,
    nickname: &Option<String>,
    sip_config: &Option<SipConfig>,
) -> Result<Changes, EngineError> {
    let caller = require_caller(ctx)?;
    if let Some(name) = nickname {
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
    n.nickname = nickname.clone();
    n.sip_config = sip_config.clone();
    let mut changes = Changes::default();
    changes.events.push(event(ctx, "imported", None, &n));
    changes.numbers.push(Write::Insert(n));
    Ok(changes)
}

/// Nickname and agent bindings of a number the caller may see. Binding an agent changes where
/// the number's calls go, so it is audited (`agents_changed`); a nickname is not.
pub(super) fn update_number(
    ctx: &Context,
    snap: &Snapshot,
    nickname: &Option<Option<String>>,
    inbound_agent_id: &Option<Option<String>>,
    outbound_agent_id: &Option<Option<String>>,
) -> Result<Changes, EngineError> {
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
        after.nickname.clone_from(v);
    }
    if let Some(v) = inbound_agent_id {
        after.inbound_agent_id.clone_from(v);
    }
    if let Some(v) = outbound_agent_id {
        after.outbound_agent_id.clone_from(v);
    }
    let mut changes = Changes::default();
    if (&after.inbound_agent_id, &after.outbound_agent_id)
        != (&n.inbound_agent_id, &n.outbound_agent_id)
    {
        changes.number_change(ctx, "agents_changed", n, after);
    } else {
        changes.number_update(ctx, after);
    }
    Ok(changes)
}

/// Merges `patch` into the SIP settings of an imported number, on the locked row: two changes
/// at once both land. Audited (`sip_config_changed`): it changes where calls go.
pub(super) fn set_sip_config(
    ctx: &Context,
    snap: &Snapshot,
    patch: &SipConfigPatch,
) -> Result<Changes, EngineError> {
    let caller = require_caller(ctx)?;
    let n = snap
        .number
        .as_ref()
        .filter(|n| controls(caller, n))
        .ok_or(EngineError::NumberNotFound)?;
    if n.origin != Origin::Imported {
        return Err(EngineError::NotImported);
    }
    let mut after = n.clone();
    after.sip_config = Some(patch.apply(n.sip_config.clone().unwrap_or_default()));
    let mut changes = Changes::default();
    if after.sip_config != n.sip_config {
        changes.number_change(ctx, "sip_config_changed", n, after);
    } else {
        changes.number_update(ctx, after);
    }
    Ok(changes)
}

/// How far ahead of the engine's clock a reported call may be (the edge's clock may run a little
/// fast); later ones are refused.
const CALL_CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// A call the edge (or the operator) reports, kept as a call record. The operator may report a
/// call on any number, an account (through its edge key) on a number it pays for. An answered
/// call moves `last_call_at` to its end, only ever forward; a call is not a state change, so it
/// writes no event. Its times must be ones the store holds ([`check_time`]) and not in the
/// future. A call its last holder made before releasing the number, reported after the release,
/// still holds the number back for the cool-off (seed 004): it is quarantined until the call's
/// 15 days are over (`quarantined_after_call`).
pub(super) fn report_call(
    ctx: &Context,
    snap: &Snapshot,
    call: &Call,
) -> Result<Changes, EngineError> {
    let n = match ctx.caller() {
        None => {
            require_operator(ctx)?;
            locked(snap, EngineError::NumberNotFound)?
        }
        Some(caller) => snap
            .number
            .as_ref()
            .filter(|n| {
                // Its payer; or, once released, its last payer for a call from before.
                let released_since =
                    n.billing_id.is_none() && n.released_at.is_some_and(|r| call.started_at <= r);
                n.billing_id.as_ref() == Some(caller)
                    || (released_since && n.last_billing_id.as_ref() == Some(caller))
            })
            .ok_or(EngineError::NumberNotFound)?,
    };
    call.check().map_err(EngineError::invalid)?;
    for at in [Some(call.started_at), call.answered_at, Some(call.ended_at)]
        .into_iter()
        .flatten()
    {
        check_time("the call's time", at)?;
    }
    if call.ended_at > ctx.now + CALL_CLOCK_SKEW {
        return Err(EngineError::invalid(
            "a call's time cannot be in the future",
        ));
    }
    let mut changes = Changes::default();
    changes.calls.push(CallRecord {
        id: CallId::new(),
        number_id: n.id,
        e164: n.e164.clone(),
        call: *call,
        reported_at: ctx.now,
    });
    if call.answered_at.is_none() {
        return Ok(changes);
    }
    let at = call.ended_at.min(ctx.now);
    let mut after = n.clone();
    after.last_call_at = Some(n.last_call_at.map_or(at, |prev| prev.max(at)));
    let held_back = at + COOL_OFF;
    let made_by_last_holder = n.released_at.is_some_and(|released| at <= released);
    let unheld = matches!(n.state, NumberState::Available | NumberState::Quarantined);
    if unheld && made_by_last_holder && n.origin == Origin::Stock && held_back > ctx.now {
        after.state = NumberState::Quarantined;
        after.quarantine_until = after.quarantine_until.max(Some(held_back));
        if after.quarantine_until != n.quarantine_until || after.state != n.state {
            changes.number_change(ctx, "quarantined_after_call", n, after);
            return Ok(changes);
        }
    }
    changes.number_update(ctx, after);
    Ok(changes)
}

/// Deletes the records of calls that ended before `before` (operator or scheduler).
pub(super) fn prune_calls(ctx: &Context, before: DateTime<Utc>) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    Ok(Changes {
        prune_calls_before: Some(before),
        ..Changes::default()
    })
}
