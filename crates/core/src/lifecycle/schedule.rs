//! What falls due with time: scheduled releases, quarantine ends, reservation expiries,
//! verification outcomes and deadlines, monthly renewals.
//!
//! Each is decided by the clock on the locked row. [`settle`] runs before every command on the
//! number it addresses, and the scheduler's [`Command::Tick`](super::Command::Tick) is `settle`
//! alone: an answer never depends on whether the scheduler has run yet, and a step another
//! scheduler already took is found done (each item is done exactly once).

use chrono::{DateTime, Utc};

use crate::account::Verification;
use crate::audit::Actor;
use crate::error::EngineError;
use crate::ids::NumberId;
use crate::ledger::{EntryKind, Source};
use crate::number::{Number, NumberRef, NumberState, Origin};
use crate::policy::COOL_OFF;

use super::billing::{cycle_end_after, post, post_to_payer, start_billing};
use super::release::{complete_release, detach};
use super::{require_operator, Changes, Context, Needs, Snapshot, Write};

/// The most steps one number takes at once: enough for a renewal a month across every time
/// didpool takes in (a sandbox clock moved centuries ahead), so a number is always settled
/// whole.
const MAX_STEPS: usize = 12 * 9_000 + 100;

/// The end of the cool-off and the whole seconds left of it (rounded up: a number still in
/// cool-off never reports 0), if the number is in it at `now` (seed 004: 15 days after the
/// last call).
pub fn cool_off(
    last_call_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, i64)> {
    let until = last_call_at? + COOL_OFF;
    if now >= until {
        return None;
    }
    let remaining = until - now;
    let secs = remaining.num_seconds() + i64::from(remaining.subsec_nanos() > 0);
    Some((until, secs))
}

/// A purchased number's next month is due, and no release takes effect before it starts.
pub fn renewal_due(n: &Number, now: DateTime<Utc>) -> bool {
    n.origin == Origin::Stock
        && n.state == NumberState::Active
        && n.next_billing_date
            .is_some_and(|due| due <= now && n.release_at.is_none_or(|at| at > due))
}

/// Whether anything could be due on `n` at `now` without reading its payer (a cheap test before
/// [`settle`]; a verification outcome depends on the payer, so a number waiting for one may be).
pub fn may_fall_due(n: &Number, now: DateTime<Utc>) -> bool {
    [
        n.release_at,
        n.quarantine_until,
        n.reservation_expires_at,
        n.next_billing_date,
    ]
    .into_iter()
    .flatten()
    .any(|t| t <= now)
        || matches!(
            n.state,
            NumberState::Reserved | NumberState::PendingVerification
        )
}

/// Everything due on the snapshot's number at `ctx.now`, in order: the snapshot as it leaves
/// it, and the changes to write. `None` when nothing is due.
///
/// What falls due is the system's doing, not the caller's: its events name the `system` actor
/// (and no request), the same whether the scheduler or a command came to the number first.
pub fn settle(ctx: &Context, snap: &Snapshot) -> Result<Option<(Snapshot, Changes)>, EngineError> {
    let ctx = &Context {
        actor: Actor::System,
        caller_billing: None,
        request_id: None,
        ..ctx.clone()
    };
    let first = step(ctx, snap)?;
    if first.is_empty() {
        return Ok(None);
    }
    let mut settled = snap.clone();
    let mut all = Changes::default();
    let mut next = first;
    for _ in 0..MAX_STEPS {
        if next.is_empty() {
            break;
        }
        if let Some(n) = next
            .numbers
            .iter()
            .map(Write::row)
            .find(|n| settled.number.as_ref().is_some_and(|s| s.id == n.id))
        {
            settled.number = Some(n.clone());
        }
        for a in next.accounts.iter().map(Write::row) {
            if let Some(s) = settled.accounts.iter_mut().find(|s| s.id == a.id) {
                *s = a.clone();
            }
        }
        all = all.then(next);
        next = step(ctx, &settled)?;
    }
    Ok(Some((settled, all)))
}

/// Settles each of `numbers` in turn (rows the command loaded besides its own number), each
/// against the accounts as the ones before left them: the changes to write, and the numbers as
/// they stand now.
pub(super) fn settle_each(
    ctx: &Context,
    snap: &Snapshot,
    numbers: &[Number],
) -> Result<(Changes, Vec<Number>), EngineError> {
    let mut all = Changes::default();
    let mut accounts = snap.accounts.clone();
    let mut settled_numbers = Vec::with_capacity(numbers.len());
    for n in numbers {
        let one = Snapshot {
            number: Some(n.clone()),
            accounts,
            ..Snapshot::default()
        };
        match settle(ctx, &one)? {
            None => {
                accounts = one.accounts;
                settled_numbers.push(n.clone());
            }
            Some((settled, changes)) => {
                accounts = settled.accounts;
                settled_numbers.extend(settled.number);
                all = all.then(changes);
            }
        }
    }
    Ok((all, settled_numbers))
}

pub(super) fn tick_needs(id: NumberId) -> Needs {
    Needs {
        number: Some(NumberRef::Id(id)),
        number_accounts: true,
        ..Needs::default()
    }
}

/// The scheduler's command: settles the number (operator or system).
pub(super) fn tick(ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    Ok(settle(ctx, snap)?
        .map(|(_, changes)| changes)
        .unwrap_or_default())
}

/// The first thing due on the number, or nothing.
fn step(ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
    let now = ctx.now;
    let mut changes = Changes::default();
    let Some(n) = &snap.number else {
        return Ok(changes);
    };
    let payer = n.billing_id.as_ref().and_then(|id| snap.account(id));
    let verification = payer.map(|p| p.verification);
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
        NumberState::Reserved
            if n.reservation_expires_at.is_some_and(|t| t <= now)
                || verification == Some(Verification::Rejected) =>
        {
            let action = if verification == Some(Verification::Rejected) {
                "verification_rejected"
            } else {
                "reservation_expired"
            };
            after.reservation_expires_at = None;
            detach(&mut after);
            after.state = NumberState::Available;
            changes.number_change(ctx, action, n, after);
        }
        NumberState::PendingVerification
            if verification == Some(Verification::Rejected)
                || n.reservation_expires_at.is_some_and(|t| t <= now) =>
        {
            let action = if verification == Some(Verification::Rejected) {
                "verification_rejected"
            } else {
                "verification_timed_out"
            };
            let paid = n.setup_fee + n.monthly_fee;
            if !paid.is_zero() {
                let why = format!("refund for {}: {}", n.e164, action.replace('_', " "));
                post_to_payer(snap, &mut changes, n, paid, EntryKind::Refund, why, now)?;
            }
            after.reservation_expires_at = None;
            detach(&mut after);
            after.state = NumberState::Available;
            changes.number_change(ctx, action, n, after);
        }
        // The deadline passed first (checked above); a company verified in time had its numbers
        // moved on by the verification itself.
        NumberState::PendingVerification if verification == Some(Verification::Verified) => {
            // Usable from now: the paid first month starts now, and renewals follow it.
            after.state = NumberState::Active;
            after.reservation_expires_at = None;
            start_billing(&mut after, now)?;
            changes.number_change(ctx, "verified", n, after);
        }
        NumberState::Active if renewal_due(n, now) => {
            let due = n.next_billing_date.unwrap_or(now);
            let mut payer = payer.cloned().ok_or(EngineError::AccountNotFound)?;
            match post(
                &mut payer,
                -n.monthly_fee,
                EntryKind::DidRental,
                Source::Number(&n.e164),
                format!("monthly fee for {} from {}", n.e164, due.format("%Y-%m-%d")),
                now,
            ) {
                Ok(entry) => {
                    changes.ledger.push(entry);
                    changes.put_account(payer);
                    after.last_billing_date = Some(due);
                    let anchor = n.purchased_at.unwrap_or(due);
                    after.next_billing_date = cycle_end_after(anchor, due);
                    // Not a state change, but the billing system acts on it: an event.
                    changes.number_change(ctx, "renewed", n, after);
                }
                Err(EngineError::InsufficientBalance { .. }) => {
                    // The renewal lapses: billing stops and the number is released, as of the
                    // day the unpaid month would have started, whenever this runs.
                    after.quarantine_until = (ctx.policy.quarantine > chrono::Duration::zero())
                        .then(|| due + ctx.policy.quarantine);
                    complete_release(&mut after, due);
                    changes.number_change(ctx, "released_unpaid", n, after);
                }
                Err(e) => return Err(e),
            }
        }
        _ => {}
    }
    Ok(changes)
}
