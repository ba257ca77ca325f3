//! Releasing a number, and taking a release back before it takes effect.

use chrono::{DateTime, Duration, Utc};

use crate::error::EngineError;
use crate::number::{Number, NumberRef, NumberState, Origin, ReleaseLock};
use crate::policy::COOL_OFF;

use super::billing::{charge_release_fee, refund_release_fee};
use super::{controls, locked, released_by, require_caller, Changes, Context, Needs, Snapshot};

/// When a release takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseMode {
    /// As the deployment's policy says (Vobiz face): at once, or after its cancellable window.
    Policy,
    /// At once, whatever the policy's window, and not cancellable (Agni face; Vobiz
    /// `?immediate=true`, reference §5.4). A release already pending completes now.
    Immediate,
    /// Purchased numbers at the end of their billing cycle, then quarantined this long
    /// (Diga face); imported numbers at once.
    AtCycleEnd { quarantine: Duration },
}

pub(super) fn release_needs(number: &NumberRef) -> Needs {
    Needs::number(number)
}

/// Releases a number the caller holds or pays for. Billing stops, every binding is cleared, and
/// the number returns to inventory (through quarantine while the policy or the cool-off of its
/// last call holds it), or is deleted if it was imported. The release fee is charged once per
/// release, on every face.
///
/// Already released by this account (or its release already requested, for a mode that would
/// not hasten it): nothing changes, and each face answers a repeat its own documented way. A
/// release scheduled for the cycle's end (Diga) that the policy's window release (Vobiz) meets
/// becomes that pending release, taking effect at the sooner of the two, with no second fee.
/// Another account's number: [`EngineError::NotOwner`] (seed 000's 403). A number locked
/// against release: [`EngineError::ReleaseLocked`], whatever the mode (nothing is scheduled).
pub(super) fn release(
    ctx: &Context,
    snap: &Snapshot,
    mode: ReleaseMode,
) -> Result<Changes, EngineError> {
    let now = ctx.now;
    let caller = require_caller(ctx)?;
    let n = locked(snap, EngineError::NotOwner)?;
    let mut changes = Changes::default();
    if !controls(caller, n) {
        if released_by(caller, n) {
            return Ok(changes);
        }
        return Err(EngineError::NotOwner);
    }
    let requested = n.state == NumberState::PendingRelease || n.release_at.is_some();
    match n.state {
        NumberState::Active | NumberState::PendingRelease => {}
        state => return Err(EngineError::NotReleasable(state)),
    }
    if n.release_lock.is_some() {
        return Err(EngineError::ReleaseLocked(n.e164.clone()));
    }
    let policy = &ctx.policy;
    let window = policy.window > Duration::zero();
    let hastens = match mode {
        ReleaseMode::Immediate => true,
        // A pending window is not hastened by another; a cycle-end schedule becomes one.
        ReleaseMode::Policy => !window || n.state == NumberState::Active,
        ReleaseMode::AtCycleEnd { .. } => false,
    };
    if requested && !hastens {
        return Ok(changes);
    }
    let mut after = n.clone();
    if !requested {
        after.release_fee = charge_release_fee(ctx, snap, &mut changes, n)?;
    }
    let release_at = match mode {
        ReleaseMode::AtCycleEnd { .. } if n.origin == Origin::Imported => None,
        ReleaseMode::AtCycleEnd { .. } => n.next_billing_date.filter(|d| *d > now),
        ReleaseMode::Policy if window => {
            let end = now + policy.window;
            Some(n.release_at.map_or(end, |scheduled| scheduled.min(end)))
        }
        ReleaseMode::Policy | ReleaseMode::Immediate => None,
    };
    let quarantine = match mode {
        ReleaseMode::AtCycleEnd { quarantine } => quarantine,
        _ => policy.quarantine,
    };
    let takes_effect = release_at.unwrap_or(now);
    // An imported number is deleted when its release takes effect: it never ages in quarantine.
    after.quarantine_until = (n.origin == Origin::Stock && quarantine > Duration::zero())
        .then(|| takes_effect + quarantine);
    match (release_at, mode) {
        (Some(at), ReleaseMode::Policy) => {
            after.state = NumberState::PendingRelease;
            after.release_at = Some(at);
            // Vobiz G3: a pending release detaches the trunk and voice application at once.
            after.trunk_id = None;
            after.application_id = None;
            changes.number_change(ctx, "release_requested", n, after);
        }
        (Some(at), _) => {
            after.release_at = Some(at);
            changes.number_change(ctx, "release_scheduled", n, after);
        }
        (None, _) => {
            complete_release(&mut after, now);
            changes.number_change(ctx, "released", n, after);
        }
    }
    Ok(changes)
}

/// Takes a number out of its holder's hands: the fields every release clears.
pub(super) fn detach(n: &mut Number) {
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
    n.release_lock = None;
}

/// Completes a release at `at`: imported numbers are deleted; stock goes back to inventory,
/// through quarantine while `quarantine_until` (set by the caller) or the cool-off of its last
/// call (seed 004: a number used within 15 days does not reach another customer sooner) is
/// still ahead. Billing stops; `last_call_at` stays, and the releasing holder and its payer are
/// remembered.
pub fn complete_release(n: &mut Number, at: DateTime<Utc>) {
    n.last_owner_id = n.owner_id.clone();
    n.last_billing_id = n.billing_id.clone();
    detach(n);
    n.released_at = Some(at);
    if n.origin == Origin::Imported {
        n.state = NumberState::Deleted;
        n.quarantine_until = None;
        return;
    }
    let cool_off_end = n.last_call_at.map(|t| t + COOL_OFF);
    n.quarantine_until = n.quarantine_until.max(cool_off_end).filter(|q| *q > at);
    n.state = if n.quarantine_until.is_some() {
        NumberState::Quarantined
    } else {
        NumberState::Available
    };
}

pub(super) fn cancel_release_needs(number: &NumberRef) -> Needs {
    Needs::number(number)
}

/// Takes back a release that has not taken effect — a pending window or a scheduled cycle-end
/// release — restoring `active` and refunding the release fee. The holder or its payer may; so
/// may the operator (any number). A release that has taken effect is "not pending release"
/// (reference §5.5's 400) for the account that released it; another holder's number is
/// [`EngineError::NotOwner`] (403); a number nobody holds is not found (404).
pub(super) fn cancel_release(ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
    let n = locked(snap, EngineError::NumberNotFound)?;
    if let Some(caller) = ctx.caller() {
        if !controls(caller, n) {
            return Err(if released_by(caller, n) {
                EngineError::NotPendingRelease
            } else if n.owner_id.is_some() {
                EngineError::NotOwner
            } else {
                EngineError::NumberNotFound
            });
        }
    }
    let pending = match n.state {
        NumberState::PendingRelease => true,
        NumberState::Active => n.release_at.is_some(),
        _ => false,
    };
    if !pending {
        return Err(EngineError::NotPendingRelease);
    }
    let mut changes = Changes::default();
    let mut after = n.clone();
    after.state = NumberState::Active;
    after.release_at = None;
    after.quarantine_until = None;
    after.release_fee = None;
    refund_release_fee(ctx, snap, &mut changes, n)?;
    changes.number_change(ctx, "release_cancelled", n, after);
    Ok(changes)
}

/// The longest reason a release lock keeps.
pub const MAX_LOCK_REASON: usize = 255;

/// Who may lock or unlock: the holder or its payer ([`controls`]), or the operator. Another
/// holder's number is [`EngineError::NotOwner`]; one nobody holds, not found.
fn lockable<'a>(ctx: &Context, snap: &'a Snapshot) -> Result<&'a Number, EngineError> {
    let n = locked(snap, EngineError::NumberNotFound)?;
    if let Some(caller) = ctx.caller() {
        if !controls(caller, n) {
            return Err(if n.owner_id.is_some() {
                EngineError::NotOwner
            } else {
                EngineError::NumberNotFound
            });
        }
    }
    Ok(n)
}

/// Locks an active number against release (as Telnyx's deletion lock), with an optional
/// reason: until it is unlocked every release path refuses it ([`EngineError::ReleaseLocked`]).
/// Refused for a number that is not active ([`EngineError::NotEditable`]) or has a release
/// pending or scheduled ([`EngineError::ReleasePending`]: cancel it first), so a release never
/// falls due on a locked number. Already locked: nothing changes (the first lock stays).
pub(super) fn lock_release(
    ctx: &Context,
    snap: &Snapshot,
    reason: Option<&str>,
) -> Result<Changes, EngineError> {
    let n = lockable(ctx, snap)?;
    if let Some(r) = reason {
        if r.chars().count() > MAX_LOCK_REASON || r.chars().any(char::is_control) {
            return Err(EngineError::invalid(format!(
                "the reason is at most {MAX_LOCK_REASON} characters, without control characters"
            )));
        }
    }
    let mut changes = Changes::default();
    if n.release_lock.is_some() {
        return Ok(changes);
    }
    if n.state == NumberState::PendingRelease || n.release_at.is_some() {
        return Err(EngineError::ReleasePending);
    }
    if n.state != NumberState::Active {
        return Err(EngineError::NotEditable(n.state));
    }
    let mut after = n.clone();
    after.release_lock = Some(ReleaseLock {
        by: ctx.actor.clone(),
        at: ctx.now,
        reason: reason.map(str::to_owned).filter(|r| !r.is_empty()),
    });
    changes.number_change(ctx, "release_locked", n, after);
    Ok(changes)
}

/// Takes a release lock off (the holder or its payer, or the operator); a number not locked
/// stays as it is.
pub(super) fn unlock_release(ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
    let n = lockable(ctx, snap)?;
    let mut changes = Changes::default();
    if n.release_lock.is_none() {
        return Ok(changes);
    }
    let mut after = n.clone();
    after.release_lock = None;
    changes.number_change(ctx, "release_unlocked", n, after);
    Ok(changes)
}
