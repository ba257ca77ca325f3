//! What falls due with time.

use super::*;
use crate::account::Verification;

/// The scheduler's context at `now`.
pub(super) fn system(now: DateTime<Utc>) -> Context {
    Context {
        actor: Actor::System,
        caller_billing: None,
        now,
        request_id: None,
        policy: ReleasePolicy::default(),
    }
}

fn tick(n: &Number, accounts: Vec<Account>, now: DateTime<Utc>) -> Changes {
    Command::Tick { id: n.id }
        .decide(&system(now), &snap(Some(n.clone()), accounts))
        .unwrap()
}

fn bought(owner: &Account) -> Number {
    let mut n = owned_by(owner);
    n.last_billing_date = Some(t0());
    n.next_billing_date = Some(Utc.with_ymd_and_hms(2026, 7, 1, 10, 0, 0).unwrap());
    n
}

const DIGA: ReleaseMode = ReleaseMode::AtCycleEnd {
    quarantine: Duration::days(30),
};

#[test]
fn a_cycle_end_release_waits_for_the_cycle_then_quarantines_then_frees_the_number() {
    let owner = ma();
    let mut n = bought(&owner);
    n.inbound_agent_id = Some("agent-1".into());
    let cycle_end = n.next_billing_date.unwrap();
    let release = Command::Release {
        number: e164().into(),
        mode: DIGA,
    };

    let ch = release
        .decide(
            &ctx_for(&owner, t0() + Duration::days(3)),
            &snap(Some(n.clone()), vec![owner.clone()]),
        )
        .unwrap();
    let ordered = ch.number().unwrap().clone();
    assert_eq!(
        ordered.state,
        NumberState::Active,
        "still assigned until the cycle ends"
    );
    assert_eq!(ordered.release_at, Some(cycle_end));
    assert_eq!(ordered.inbound_agent_id.as_deref(), Some("agent-1"));

    // Ordering it again changes nothing.
    let again = release
        .decide(
            &ctx_for(&owner, t0() + Duration::days(4)),
            &snap(Some(ordered.clone()), vec![owner.clone()]),
        )
        .unwrap();
    assert!(again.is_empty());

    // Before the cycle ends, nothing is due: in particular no renewal for the next month.
    assert!(tick(
        &ordered,
        vec![owner.clone()],
        cycle_end - Duration::seconds(1)
    )
    .is_empty());

    let ch = tick(
        &ordered,
        vec![owner.clone()],
        cycle_end + Duration::hours(2),
    );
    let released = ch.number().unwrap().clone();
    assert_eq!(released.state, NumberState::Quarantined);
    assert_eq!(released.released_at, Some(cycle_end));
    assert_eq!(released.owner_id, None);
    assert_eq!(released.inbound_agent_id, None, "agents are unbound");
    assert_eq!(released.last_owner_id.as_ref(), Some(&owner.id));
    assert!(
        ch.ledger.is_empty(),
        "no renewal is charged for a released number"
    );

    // Releasing a quarantined number again is a no-op for its last holder.
    let noop = release
        .decide(
            &ctx_for(&owner, cycle_end + Duration::days(1)),
            &snap(Some(released.clone()), vec![owner.clone()]),
        )
        .unwrap();
    assert!(noop.is_empty());

    assert!(tick(
        &released,
        vec![],
        cycle_end + Duration::days(30) - Duration::seconds(1)
    )
    .is_empty());
    let ch = tick(&released, vec![], cycle_end + Duration::days(30));
    let finished = ch.number().unwrap();
    assert_eq!(finished.state, NumberState::Available);
    assert!(
        visible_to(&owner.id, finished),
        "the last holder still sees it as finished"
    );
}

#[test]
fn a_cycle_end_release_of_an_imported_number_deletes_it_at_once() {
    let owner = ma();
    let mut n = owned_by(&owner);
    n.origin = Origin::Imported;
    let ch = Command::Release {
        number: e164().into(),
        mode: DIGA,
    }
    .decide(&ctx_for(&owner, t0()), &snap(Some(n), vec![owner]))
    .unwrap();
    assert_eq!(ch.number().unwrap().state, NumberState::Deleted);
}

#[test]
fn renewals_charge_each_month_once_and_advance_the_dates() {
    let mut owner = ma();
    let mut n = bought(&owner);
    let mut now = t0();
    for month in 1..=3 {
        now = n.next_billing_date.unwrap();
        let ch = tick(&n, vec![owner.clone()], now + Duration::minutes(5));
        assert_eq!(ledger_sum(&ch.ledger), dec!(-300), "month {month}");
        owner = ch.account().unwrap().clone();
        let renewed = ch.number().unwrap().clone();
        // The billing system learns of it: an event, with the number as renewed.
        assert_eq!(ch.events.len(), 1, "month {month}");
        assert_eq!(ch.events[0].event_type(), "number.renewed");
        assert_eq!(ch.events[0].number.as_ref(), Some(&renewed));
        assert_eq!(renewed.last_billing_date, Some(now));
        assert_eq!(
            renewed.next_billing_date,
            now.checked_add_months(Months::new(1))
        );
        // Running again in the same period does nothing.
        assert!(tick(&renewed, vec![owner.clone()], now + Duration::minutes(6)).is_empty());
        n = renewed;
    }
    assert_eq!(owner.balance, dec!(100));
    let _ = now;
}

#[test]
fn a_renewal_the_balance_cannot_cover_releases_the_number() {
    let poor = account("MA_POOR", None, Role::Customer, dec!(299));
    let n = bought(&poor);
    let due = n.next_billing_date.unwrap();
    let ch = tick(&n, vec![poor.clone()], due);
    assert!(
        ch.ledger.is_empty() && ch.accounts.is_empty(),
        "nothing is charged"
    );
    let after = ch.number().unwrap();
    assert_eq!(after.state, NumberState::Available);
    assert_eq!(after.owner_id, None);
    assert_eq!(ch.events[0].action, "released_unpaid");
}

#[test]
fn a_reservation_expires_back_to_inventory() {
    let owner = ma();
    let op = Context {
        actor: Actor::Operator,
        ..system(t0())
    };
    let until = t0() + Duration::minutes(30);
    let ch = Command::Reserve {
        number: e164().into(),
        account: owner.id.clone(),
        until,
    }
    .decide(&op, &snap(Some(stock()), vec![owner.clone()]))
    .unwrap();
    let reserved = ch.number().unwrap().clone();
    assert_eq!(reserved.state, NumberState::Reserved);
    assert_eq!(reserved.reservation_expires_at, Some(until));
    let err = Command::Release {
        number: e164().into(),
        mode: DIGA,
    }
    .decide(
        &ctx_for(&owner, t0()),
        &snap(Some(reserved.clone()), vec![owner.clone()]),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        EngineError::NotReleasable(NumberState::Reserved)
    ));
    assert!(tick(&reserved, vec![owner.clone()], until - Duration::seconds(1)).is_empty());
    let ch = tick(&reserved, vec![owner.clone()], until);
    assert_eq!(ch.number().unwrap().state, NumberState::Available);
    assert_eq!(ch.number().unwrap().owner_id, None);
}

#[test]
fn checkout_waits_for_verification_and_rejection_refunds() {
    let mut owner = ma();
    owner.verification = Verification::Pending;
    let op = Context {
        actor: Actor::Operator,
        ..system(t0())
    };
    let reserve = Command::Reserve {
        number: e164().into(),
        account: owner.id.clone(),
        until: t0() + Duration::hours(1),
    };
    let reserved = reserve
        .decide(&op, &snap(Some(stock()), vec![owner.clone()]))
        .unwrap()
        .number()
        .unwrap()
        .clone();
    let ch = Command::Checkout {
        number: e164().into(),
    }
    .decide(&op, &snap(Some(reserved), vec![owner.clone()]))
    .unwrap();
    let pending = ch.number().unwrap().clone();
    assert_eq!(pending.state, NumberState::PendingVerification);
    owner = ch.account().unwrap().clone();
    assert_eq!(owner.balance, dec!(600));
    let err = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Immediate,
    }
    .decide(
        &ctx_for(&owner, t0()),
        &snap(Some(pending.clone()), vec![owner.clone()]),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        EngineError::NotReleasable(NumberState::PendingVerification)
    ));

    assert!(
        tick(&pending, vec![owner.clone()], t0()).is_empty(),
        "nothing happens while pending"
    );

    let mut verified = owner.clone();
    verified.verification = Verification::Verified;
    assert_eq!(
        tick(&pending, vec![verified], t0()).number().unwrap().state,
        NumberState::Active
    );

    let mut rejected = owner.clone();
    rejected.verification = Verification::Rejected;
    let ch = tick(&pending, vec![rejected], t0());
    assert_eq!(ch.number().unwrap().state, NumberState::Available);
    assert_eq!(
        ch.account().unwrap().balance,
        dec!(1000),
        "the payment is refunded"
    );
}

#[test]
fn a_pending_release_is_cancelled_with_its_fee_refunded_only_inside_the_window() {
    let owner = ma();
    let mut ctx = ctx_for(&owner, t0());
    ctx.policy = ReleasePolicy {
        window: Duration::hours(24),
        quarantine: Duration::zero(),
        fee: dec!(7),
        ..ReleasePolicy::default()
    };
    let ch = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Policy,
    }
    .decide(&ctx, &snap(Some(bought(&owner)), vec![owner.clone()]))
    .unwrap();
    let pending = ch.number().unwrap().clone();
    let charged = ch.account().unwrap().clone();
    assert_eq!(charged.balance, dec!(993));

    let cancel = Command::CancelRelease {
        number: e164().into(),
    };
    let ch = cancel
        .decide(
            &ctx_for(&owner, t0() + Duration::hours(23)),
            &snap(Some(pending.clone()), vec![charged.clone()]),
        )
        .unwrap();
    assert_eq!(ch.number().unwrap().state, NumberState::Active);
    assert_eq!(ch.account().unwrap().balance, dec!(1000));
    assert_eq!(ch.ledger[0].kind, EntryKind::Refund);

    let err = cancel
        .decide(
            &ctx_for(&owner, t0() + Duration::hours(24)),
            &snap(Some(pending.clone()), vec![charged.clone()]),
        )
        .unwrap_err();
    assert!(
        matches!(err, EngineError::NotPendingRelease),
        "the window has closed"
    );
    let ch = tick(&pending, vec![charged], t0() + Duration::hours(24));
    assert_eq!(ch.number().unwrap().state, NumberState::Available);
}
