//! Money: purchase and checkout, top-ups, fees, and the billing cycle.

use chrono::{DateTime, Datelike, Months, Utc};

use crate::account::{Account, Verification};
use crate::clock::check_time;
use crate::error::EngineError;
use crate::ids::{AccountId, EntryId};
use crate::ledger::{EntryKind, LedgerEntry, Source};
use crate::money::{Currency, Decimal, MAX_AMOUNT};
use crate::number::{Number, NumberRef, NumberState};

use super::{locked, require_caller, require_operator, Changes, Context, Needs, Snapshot, Write};

/// A balance moves only with its ledger entry; a debit never takes it below zero, a credit
/// never above [`MAX_AMOUNT`].
pub(super) fn post(
    account: &mut Account,
    amount: Decimal,
    kind: EntryKind,
    source: Source<'_>,
    description: String,
    now: DateTime<Utc>,
) -> Result<LedgerEntry, EngineError> {
    let balance_after = account
        .balance
        .checked_add(amount)
        .filter(|b| *b <= MAX_AMOUNT)
        .ok_or_else(|| {
            EngineError::invalid(format!(
                "the balance would be over {MAX_AMOUNT}, the most the ledger holds"
            ))
        })?;
    if balance_after.is_sign_negative() && !balance_after.is_zero() {
        return Err(EngineError::InsufficientBalance {
            needed: -amount,
            available: account.balance,
        });
    }
    account.balance = balance_after;
    account.updated_at = now;
    let id = EntryId::new();
    Ok(LedgerEntry {
        reference: source.reference(&id),
        id,
        account_id: account.id.clone(),
        amount,
        balance_after,
        currency: account.currency.clone(),
        kind,
        description,
        created_at: now,
    })
}

/// The account paying for `n`, as this command will write it (a settled renewal may already
/// have charged it).
fn payer_of(snap: &Snapshot, changes: &Changes, n: &Number) -> Result<Account, EngineError> {
    let id = n.billing_id.as_ref().ok_or(EngineError::AccountNotFound)?;
    let written = changes
        .accounts
        .iter()
        .map(Write::row)
        .find(|a| &a.id == id);
    written
        .or_else(|| snap.account(id))
        .cloned()
        .ok_or(EngineError::AccountNotFound)
}

/// Posts `amount` (negative: a debit) on the account paying for `n`, with its ledger entry.
pub(super) fn post_to_payer(
    snap: &Snapshot,
    changes: &mut Changes,
    n: &Number,
    amount: Decimal,
    kind: EntryKind,
    description: String,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    let mut payer = payer_of(snap, changes, n)?;
    let entry = post(
        &mut payer,
        amount,
        kind,
        Source::Number(&n.e164),
        description,
        now,
    )?;
    changes.ledger.push(entry);
    changes.put_account(payer);
    Ok(())
}

/// Charges the deployment's release fee for `n` to its payer, as far as the balance covers it:
/// a release is never refused, delayed or billed another month because of its fee. Imported
/// numbers are never charged. Returns what was charged (refunded if the release is cancelled).
pub(super) fn charge_release_fee(
    ctx: &Context,
    snap: &Snapshot,
    changes: &mut Changes,
    n: &Number,
) -> Result<Option<Decimal>, EngineError> {
    if n.origin != crate::number::Origin::Stock || ctx.policy.fee.is_zero() {
        return Ok(None);
    }
    let payer = payer_of(snap, changes, n)?;
    let fee = ctx.policy.fee.min(payer.balance.max(Decimal::ZERO));
    if fee.is_zero() {
        return Ok(None);
    }
    let why = format!("release fee for {}", n.e164);
    post_to_payer(snap, changes, n, -fee, EntryKind::ReleaseFee, why, ctx.now)?;
    Ok(Some(fee))
}

/// Refunds the release fee charged for `n`'s pending release, if any.
pub(super) fn refund_release_fee(
    ctx: &Context,
    snap: &Snapshot,
    changes: &mut Changes,
    n: &Number,
) -> Result<(), EngineError> {
    if let Some(fee) = n.release_fee.filter(|f| !f.is_zero()) {
        let why = format!("release fee refund for {}", n.e164);
        post_to_payer(snap, changes, n, fee, EntryKind::Refund, why, ctx.now)?;
    }
    Ok(())
}

/// The end of the billing cycle running at `t` for a number billed from `anchor`: the first
/// `anchor + k` months (k ≥ 1) after `t`. Each date is counted from the anchor, clamped to the
/// month's end, so a cycle that starts on the 31st never drifts (01-31 → 02-28 → 03-31 → 04-30).
/// `None` past the calendar's end.
pub fn cycle_end_after(anchor: DateTime<Utc>, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let months = (i64::from(t.year()) - i64::from(anchor.year())) * 12
        + (i64::from(t.month()) - i64::from(anchor.month()));
    let mut k = u32::try_from(months.max(1) - 1).ok()?.max(1);
    loop {
        let end = anchor.checked_add_months(Months::new(k))?;
        if end > t {
            return Some(end);
        }
        k = k.checked_add(1)?;
    }
}

/// Starts a number's billing at `now`: its first cycle is paid.
pub(super) fn start_billing(n: &mut Number, now: DateTime<Utc>) -> Result<(), EngineError> {
    n.purchased_at = Some(now);
    n.last_billing_date = Some(now);
    n.next_billing_date = Some(cycle_end_after(now, now).ok_or_else(beyond_calendar)?);
    Ok(())
}

pub(super) fn beyond_calendar() -> EngineError {
    EngineError::invalid(format!(
        "the time is beyond what didpool can bill (before {})",
        crate::clock::MAX_TIME.format("%Y-%m-%d")
    ))
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
            let entry = post(payer, -fee, kind, Source::Number(&n.e164), description, now)?;
            changes.ledger.push(entry);
        }
    }
    Ok(())
}

/// The number's price is in the paying account's currency (and in the one the client asked
/// for, if it asked).
fn same_currency(n: &Number, payer: &Account, asked: Option<&Currency>) -> Result<(), EngineError> {
    for other in asked.into_iter().chain([&payer.currency]) {
        if *other != n.currency {
            return Err(EngineError::CurrencyMismatch {
                number: n.currency.clone(),
                other: other.clone(),
            });
        }
    }
    Ok(())
}

pub(super) fn purchase_needs(number: &NumberRef, ctx: &Context) -> Needs {
    Needs {
        number: Some(number.clone()),
        accounts: ctx.caller_and_billing(),
        ..Needs::default()
    }
}

/// Buys an available number: `setup_fee + monthly_fee` is debited from the buyer's master
/// account; a sub-account's purchase lands on the sub-account, billed to its parent.
pub(super) fn purchase(
    ctx: &Context,
    snap: &Snapshot,
    currency: Option<&Currency>,
    quoted_monthly_fee: Option<Decimal>,
) -> Result<Changes, EngineError> {
    let now = ctx.now;
    let caller = require_caller(ctx)?;
    let n = locked(snap, EngineError::NotInInventory)?;
    if n.state != NumberState::Available {
        return Err(EngineError::NotInInventory);
    }
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
    same_currency(n, &payer, currency)?;
    if let Some(quoted) = quoted_monthly_fee.filter(|q| *q != n.monthly_fee) {
        return Err(EngineError::PriceMismatch {
            price: n.monthly_fee,
            quoted,
        });
    }
    let mut changes = Changes::default();
    charge_first_month(&mut changes, &mut payer, n, now)?;
    let mut after = n.clone();
    after.state = NumberState::Active;
    after.owner_id = Some(buyer.id.clone());
    after.billing_id = Some(payer.id.clone());
    start_billing(&mut after, now)?;
    after.released_at = None;
    after.quarantine_until = None;
    after.last_owner_id = None;
    after.last_billing_id = None;
    changes.put_account(payer);
    changes.number_change(ctx, "purchased", n, after);
    Ok(changes)
}

/// Credits a master account (operator), up to [`MAX_AMOUNT`].
pub(super) fn top_up(
    ctx: &Context,
    snap: &Snapshot,
    account: &AccountId,
    amount: Decimal,
    description: &str,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let amount = crate::money::parse_amount(amount).map_err(EngineError::Invalid)?;
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
        Source::Payment,
        description.to_owned(),
        ctx.now,
    )?;
    Ok(Changes {
        accounts: vec![Write::Update(acc)],
        ledger: vec![entry],
        ..Changes::default()
    })
}

pub(super) fn reserve_needs(number: &NumberRef, account: &AccountId) -> Needs {
    Needs {
        number: Some(number.clone()),
        accounts: vec![account.clone()],
        ..Needs::default()
    }
}

/// Holds an available number for `account` (operator) until `until`; a number priced in another
/// currency than the account pays in is refused here, not only at checkout.
pub(super) fn reserve(
    ctx: &Context,
    snap: &Snapshot,
    account: &AccountId,
    until: DateTime<Utc>,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let n = locked(snap, EngineError::NotInInventory)?;
    if n.state != NumberState::Available {
        return Err(EngineError::NotInInventory);
    }
    if n.is_blocked {
        return Err(EngineError::Blocked);
    }
    let holder = snap.account(account).ok_or(EngineError::AccountNotFound)?;
    let until = check_time("a reservation's end", until)?;
    // A sub-account keeps its parent's currency: the holder's is the payer's.
    same_currency(n, holder, None)?;
    if until <= ctx.now {
        return Err(EngineError::invalid("a reservation must end in the future"));
    }
    let mut after = n.clone();
    after.state = NumberState::Reserved;
    after.owner_id = Some(holder.id.clone());
    after.billing_id = Some(holder.billing_id().clone());
    after.reservation_expires_at = Some(until);
    after.last_owner_id = None;
    after.last_billing_id = None;
    after.released_at = None;
    let mut changes = Changes::default();
    changes.number_change(ctx, "reserved", n, after);
    Ok(changes)
}

pub(super) fn checkout_needs(number: &NumberRef) -> Needs {
    Needs::number(number)
}

/// The checkout of a reserved number is paid (operator): charged, then active, or waiting in
/// `pending_verification` until the policy's verification deadline. Billing starts when the
/// number becomes usable.
pub(super) fn checkout(ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let now = ctx.now;
    let n = locked(snap, EngineError::NotReserved)?;
    if n.state != NumberState::Reserved {
        return Err(EngineError::NotReserved);
    }
    let mut payer = payer_of(snap, &Changes::default(), n).map_err(|_| EngineError::NotReserved)?;
    same_currency(n, &payer, None)?;
    let mut changes = Changes::default();
    charge_first_month(&mut changes, &mut payer, n, now)?;
    let mut after = n.clone();
    if payer.verification == Verification::Verified {
        after.state = NumberState::Active;
        after.reservation_expires_at = None;
        start_billing(&mut after, now)?;
    } else {
        // Paid now; billing starts (and `purchased_at` is set again) once it is usable.
        after.state = NumberState::PendingVerification;
        after.purchased_at = Some(now);
        after.reservation_expires_at = Some(now + ctx.policy.verification_deadline);
    }
    changes.put_account(payer);
    changes.number_change(ctx, "paid", n, after);
    Ok(changes)
}
