//! The edges where time, money and tenancy meet: one test per failing input of the issue
//! "One rule, one place".

use chrono::{Datelike, Duration};

use super::world::*;
use super::*;
use crate::account::Verification;
use crate::trunk::Trunk;

// (1) Billing anniversary.

#[test]
fn cycle_ends_follow_the_purchase_day_clamped_to_the_month_and_never_drift() {
    let bought = at(2027, 1, 31);
    let mut ends = Vec::new();
    let mut t = bought;
    for _ in 0..4 {
        t = billing::cycle_end_after(bought, t).unwrap();
        ends.push((t.month(), t.day()));
    }
    assert_eq!(ends, [(2, 28), (3, 31), (4, 30), (5, 31)]);
    // A leap year's February, and the day kept after it.
    let bought = at(2028, 1, 30);
    let feb = billing::cycle_end_after(bought, bought).unwrap();
    assert_eq!((feb.month(), feb.day()), (2, 29));
    let mar = billing::cycle_end_after(bought, feb).unwrap();
    assert_eq!((mar.month(), mar.day()), (3, 30));
}

#[test]
fn renewals_of_a_number_bought_on_the_31st_fall_on_each_months_last_day_or_the_31st() {
    let owner = account("MA_RICH", None, Role::Customer, dec!(100000));
    let mut w = World::new(stock(), vec![owner.clone()], vec![]);
    w.run(&purchase(), &ctx_for(&owner, at(2027, 1, 31)))
        .unwrap();
    let mut dues = vec![w.number.next_billing_date.unwrap()];
    for _ in 0..4 {
        w.tick(*dues.last().unwrap());
        dues.push(w.number.next_billing_date.unwrap());
    }
    let days: Vec<(u32, u32)> = dues.iter().map(|d| (d.month(), d.day())).collect();
    assert_eq!(days, [(2, 28), (3, 31), (4, 30), (5, 31), (6, 30)]);
    // The Diga end-of-cycle release follows the same dates.
    let ch = w
        .run(&release(DIGA), &ctx_for(&owner, at(2027, 6, 2)))
        .unwrap();
    assert_eq!(ch.number().unwrap().release_at, Some(at(2027, 6, 30)));
}

// (2) A number taken back from a sub-account.

#[test]
fn a_take_back_clears_what_the_sub_account_bound_and_keeps_the_parents_trunk() {
    let (mut parent, child) = (ma(), sa());
    parent.role = Role::Admin;
    let (parents, childs) = (trunk_of(&parent), trunk_of(&child));
    let mut n = owned_by(&child);
    n.billing_id = Some(parent.id.clone());
    let mut w = World::new(
        n,
        vec![parent.clone(), child.clone()],
        vec![parents.clone(), childs.clone()],
    );
    let assign = |trunk: &Trunk| Command::AssignTrunk {
        number: e164().into(),
        trunk: trunk.id,
    };
    // The child cannot route its number to its parent's trunk: it cannot see it.
    let err = w
        .run(&assign(&parents), &ctx_for(&child, t0()))
        .unwrap_err();
    assert!(matches!(err, EngineError::TrunkNotFound), "{err}");
    w.run(&assign(&childs), &ctx_for(&child, t0())).unwrap();
    w.number.inbound_agent_id = Some("agent-of-child".into());
    w.number.nickname = Some("child's line".into());
    let take_back = Command::UnassignSubAccount {
        number: e164().into(),
        force: false,
    };
    w.run(&take_back, &ctx_for(&parent, t0())).unwrap();
    assert_eq!(w.number.owner_id.as_ref(), Some(&parent.id));
    assert_eq!(w.number.trunk_id, None, "the child's trunk leaves with it");
    assert_eq!(w.number.inbound_agent_id, None);
    assert_eq!(w.number.nickname, None);

    // The parent's own trunk stays through a hand-over and a take-back.
    w.run(&assign(&parents), &ctx_for(&parent, t0())).unwrap();
    let hand = Command::AssignSubAccount {
        number: e164().into(),
        sub: child.id.clone(),
    };
    w.run(&hand, &ctx_for(&parent, t0())).unwrap();
    w.run(&take_back, &ctx_for(&parent, t0())).unwrap();
    assert_eq!(w.number.trunk_id, Some(parents.id));
}

// (3) The cool-off cannot be dodged by a release.

#[test]
fn a_number_used_within_fifteen_days_reaches_no_other_account_before_its_cool_off_ends() {
    let (parent, child) = (ma(), sa());
    let other = account("MA_OTHER", None, Role::Customer, dec!(1000));
    let mut n = owned_by(&child);
    n.billing_id = Some(parent.id.clone());
    let last_call = t0() - Duration::minutes(1);
    n.last_call_at = Some(last_call);
    let mut w = World::new(n, vec![parent.clone(), child, other.clone()], vec![]);
    w.run(&release(ReleaseMode::Policy), &ctx_for(&parent, t0()))
        .unwrap();
    assert_eq!(w.number.state, NumberState::Quarantined);
    assert_eq!(w.number.quarantine_until, Some(last_call + COOL_OFF));
    let early = last_call + COOL_OFF - Duration::seconds(1);
    let err = w.run(&purchase(), &ctx_for(&other, early)).unwrap_err();
    assert!(matches!(err, EngineError::NotInInventory), "{err}");
    // At the cool-off's end it is purchasable, with or without the scheduler.
    let ch = w
        .run(&purchase(), &ctx_for(&other, last_call + COOL_OFF))
        .unwrap();
    assert_eq!(ch.events[0].action, "quarantine_ended");
    assert_eq!(w.number.owner_id.as_ref(), Some(&other.id));
}

#[test]
fn the_longer_of_the_policys_quarantine_and_the_cool_off_holds_the_number() {
    let owner = ma();
    let mut n = owned_by(&owner);
    n.last_call_at = Some(t0());
    let mut ctx = ctx_for(&owner, t0());
    ctx.policy.quarantine = Duration::days(45);
    let mut w = World::new(n, vec![owner], vec![]);
    w.run(&release(ReleaseMode::Immediate), &ctx).unwrap();
    assert_eq!(w.number.quarantine_until, Some(t0() + Duration::days(45)));
}

// (4) Repeat releases: one decision, "already released by you".

#[test]
fn a_repeat_release_by_the_releasing_master_changes_nothing_in_every_mode() {
    let (parent, child) = (ma(), sa());
    let mut n = owned_by(&child);
    n.billing_id = Some(parent.id.clone());
    let mut w = World::new(n, vec![parent.clone(), child.clone()], vec![]);
    w.run(&release(ReleaseMode::Immediate), &ctx_for(&parent, t0()))
        .unwrap();
    for mode in [ReleaseMode::Policy, ReleaseMode::Immediate, DIGA] {
        for who in [&parent, &child] {
            let ch = w.run(&release(mode), &ctx_for(who, t0())).unwrap();
            assert!(ch.is_empty(), "{mode:?} by {}", who.id);
        }
    }
    let stranger = account("MA_OTHER", None, Role::Customer, dec!(0));
    let err = w
        .run(&release(ReleaseMode::Policy), &ctx_for(&stranger, t0()))
        .unwrap_err();
    assert!(matches!(err, EngineError::NotOwner));
}

#[test]
fn a_repeat_during_a_pending_release_changes_nothing_unless_it_asks_for_now() {
    let owner = ma();
    let mut ctx = ctx_for(&owner, t0());
    ctx.policy.window = Duration::hours(24);
    ctx.policy.fee = dec!(7);
    let mut w = World::new(owned_by(&owner), vec![owner.clone()], vec![]);
    w.run(&release(ReleaseMode::Policy), &ctx).unwrap();
    assert_eq!(w.number.state, NumberState::PendingRelease);
    for mode in [ReleaseMode::Policy, DIGA] {
        assert!(w.run(&release(mode), &ctx).unwrap().is_empty(), "{mode:?}");
    }
    // Immediate completes it now, without a second fee.
    let ch = w.run(&release(ReleaseMode::Immediate), &ctx).unwrap();
    assert!(ch.ledger.is_empty());
    assert_eq!(w.number.state, NumberState::Available);
    assert_eq!(w.account(&owner.id).balance, dec!(993));
}

// (5) `?immediate=true`.

#[test]
fn an_immediate_release_skips_the_window_and_cannot_be_cancelled() {
    let owner = ma();
    let mut ctx = ctx_for(&owner, t0());
    ctx.policy.window = Duration::hours(24);
    let mut w = World::new(owned_by(&owner), vec![owner.clone()], vec![]);
    w.run(&release(ReleaseMode::Immediate), &ctx).unwrap();
    assert_eq!(w.number.state, NumberState::Available);
    let err = w.run(&cancel(), &ctx).unwrap_err();
    assert!(matches!(err, EngineError::NotPendingRelease), "{err}");
}

// (6) The clock decides, not the scheduler.

#[test]
fn cancel_after_the_window_is_not_pending_whether_or_not_the_scheduler_ran() {
    let owner = ma();
    let mut ctx = ctx_for(&owner, t0());
    ctx.policy.window = Duration::hours(24);
    let mut w = World::new(owned_by(&owner), vec![owner.clone()], vec![]);
    w.run(&release(ReleaseMode::Policy), &ctx).unwrap();
    let mut ticked = w.clone();
    let later = t0() + Duration::hours(25);
    ticked.tick(later);
    for world in [&mut w, &mut ticked] {
        let mut ctx = ctx_for(&owner, later);
        ctx.policy.window = Duration::hours(24);
        let err = world.run(&cancel(), &ctx).unwrap_err();
        assert!(matches!(err, EngineError::NotPendingRelease), "{err}");
    }
    // Another account's held number is not its to cancel; a number nobody holds is unknown.
    let other = account("MA_OTHER", None, Role::Customer, dec!(0));
    let mut held = World::new(owned_by(&owner), vec![owner.clone(), other.clone()], vec![]);
    let err = held.run(&cancel(), &ctx_for(&other, t0())).unwrap_err();
    assert!(matches!(err, EngineError::NotOwner), "{err}");
    let mut stocked = World::new(stock(), vec![other.clone()], vec![]);
    let err = stocked.run(&cancel(), &ctx_for(&other, t0())).unwrap_err();
    assert!(matches!(err, EngineError::NumberNotFound), "{err}");
}

#[test]
fn a_reservation_past_its_ttl_cannot_be_checked_out_before_the_scheduler_runs() {
    let owner = ma();
    let until = t0() + Duration::minutes(30);
    let mut w = World::new(stock(), vec![owner.clone()], vec![]);
    let reserve = Command::Reserve {
        number: e164().into(),
        account: owner.id.clone(),
        until,
    };
    w.run(&reserve, &operator(t0())).unwrap();
    let checkout = Command::Checkout {
        number: e164().into(),
    };
    let err = w.run(&checkout, &operator(until)).unwrap_err();
    assert!(matches!(err, EngineError::NotReserved), "{err}");
    assert_eq!(w.account(&owner.id).balance, dec!(1000), "nothing charged");
}

// (7) The operator undoes a scheduled cycle-end release.

#[test]
fn the_operator_cancels_a_scheduled_cycle_end_release_with_its_audit_event() {
    let owner = ma();
    let mut n = owned_by(&owner);
    n.next_billing_date = Some(t0() + Duration::days(20));
    let mut w = World::new(n, vec![owner.clone()], vec![]);
    w.run(&release(DIGA), &ctx_for(&owner, t0())).unwrap();
    assert!(w.number.release_at.is_some());
    let ch = w
        .run(&cancel(), &operator(t0() + Duration::days(1)))
        .unwrap();
    assert_eq!(w.number.state, NumberState::Active);
    assert_eq!(w.number.release_at, None);
    assert_eq!(ch.events[0].action, "release_cancelled");
    assert_eq!(ch.events[0].actor, Actor::Operator);
    // Once the cycle has ended, there is nothing left to cancel.
    w.run(&release(DIGA), &ctx_for(&owner, t0() + Duration::days(2)))
        .unwrap();
    let err = w
        .run(&cancel(), &operator(t0() + Duration::days(21)))
        .unwrap_err();
    assert!(matches!(err, EngineError::NotPendingRelease), "{err}");
}

// (8) A verification deadline.

fn paid_awaiting_verification() -> (World, Account) {
    let mut owner = ma();
    owner.verification = Verification::Pending;
    let mut w = World::new(stock(), vec![owner.clone()], vec![]);
    let reserve = Command::Reserve {
        number: e164().into(),
        account: owner.id.clone(),
        until: t0() + Duration::hours(1),
    };
    w.run(&reserve, &operator(t0())).unwrap();
    let checkout = Command::Checkout {
        number: e164().into(),
    };
    w.run(&checkout, &operator(t0())).unwrap();
    assert_eq!(w.number.state, NumberState::PendingVerification);
    assert_eq!(w.account(&owner.id).balance, dec!(600));
    (w, owner)
}

#[test]
fn a_verification_that_does_not_come_in_time_refunds_and_frees_the_number() {
    let (mut w, owner) = paid_awaiting_verification();
    let deadline = t0() + ReleasePolicy::default().verification_deadline;
    assert!(w.tick(deadline - Duration::seconds(1)).is_empty());
    let ch = w.tick(deadline);
    assert_eq!(ch.events[0].action, "verification_timed_out");
    assert_eq!(w.number.state, NumberState::Available);
    assert_eq!(w.number.owner_id, None);
    assert_eq!(w.account(&owner.id).balance, dec!(1000), "refunded");
}

#[test]
fn billing_starts_when_the_number_becomes_usable_and_no_renewal_is_charged_before() {
    let (mut w, owner) = paid_awaiting_verification();
    // A month passes while the company is being verified (a deadline set long).
    w.number.reservation_expires_at = Some(t0() + Duration::days(60));
    let verified_at = t0() + Duration::days(40);
    let verify = Command::SetVerification {
        account: owner.id.clone(),
        status: Verification::Verified,
    };
    let mut snap = w.snapshot(&verify, &operator(verified_at));
    snap.due_holdings = vec![w.number.clone()];
    let ch = verify.decide(&operator(verified_at), &snap).unwrap();
    assert_eq!(ch.events[0].action, "verified");
    assert!(
        ch.ledger.is_empty(),
        "no renewal for the month it could not be used"
    );
    let n = ch.number().unwrap();
    assert_eq!(n.state, NumberState::Active);
    assert_eq!(n.purchased_at, Some(verified_at));
    assert_eq!(
        n.next_billing_date,
        verified_at.checked_add_months(Months::new(1))
    );
}

// (9) The release fee is one rule.

#[test]
fn every_release_mode_charges_the_fee_of_a_purchased_number_once_and_never_of_an_imported_one() {
    let owner = ma();
    for mode in [ReleaseMode::Policy, ReleaseMode::Immediate, DIGA] {
        let mut ctx = ctx_for(&owner, t0());
        ctx.policy.fee = dec!(7);
        let mut w = World::new(owned_by(&owner), vec![owner.clone()], vec![]);
        let ch = w.run(&release(mode), &ctx).unwrap();
        assert_eq!(ledger_sum(&ch.ledger), dec!(-7), "{mode:?}");
        assert_eq!(ch.ledger[0].kind, EntryKind::ReleaseFee);

        let mut imported = owned_by(&owner);
        imported.origin = Origin::Imported;
        let mut w = World::new(imported, vec![owner.clone()], vec![]);
        let ch = w.run(&release(mode), &ctx).unwrap();
        assert!(ch.ledger.is_empty(), "{mode:?}");
        assert_eq!(w.number.state, NumberState::Deleted);
    }
}

#[test]
fn a_fee_the_balance_cannot_cover_never_refuses_or_delays_the_release() {
    let poor = account("MA_POOR", None, Role::Customer, dec!(3));
    let mut ctx = ctx_for(&poor, t0());
    ctx.policy.fee = dec!(7);
    let mut w = World::new(owned_by(&poor), vec![poor.clone()], vec![]);
    let ch = w.run(&release(ReleaseMode::Policy), &ctx).unwrap();
    assert_eq!(
        ledger_sum(&ch.ledger),
        dec!(-3),
        "charged as far as it goes"
    );
    assert_eq!(w.number.state, NumberState::Available);
    assert_eq!(w.account(&poor.id).balance, dec!(0));
    assert_eq!(w.number.next_billing_date, None, "billing stopped");
}

// (13) Wrong words.

#[test]
fn a_currency_mismatch_names_the_numbers_currency_first() {
    let mut buyer = ma();
    buyer.currency = crate::money::Currency::parse("USD").unwrap();
    let err = purchase()
        .decide(&ctx_for(&buyer, t0()), &snap(Some(stock()), vec![buyer]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "currency mismatch: the number is priced in INR, not USD"
    );
}

#[test]
fn a_confirmed_price_that_is_not_the_numbers_is_refused() {
    let buyer = ma();
    let cmd = Command::Purchase {
        number: e164().into(),
        currency: None,
        quoted_monthly_fee: Some(dec!(0.01)),
    };
    let err = cmd
        .decide(
            &ctx_for(&buyer, t0()),
            &snap(Some(stock()), vec![buyer.clone()]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::PriceMismatch { .. }), "{err}");
    let ok = Command::Purchase {
        number: e164().into(),
        currency: None,
        quoted_monthly_fee: Some(dec!(300)),
    };
    assert!(ok
        .decide(&ctx_for(&buyer, t0()), &snap(Some(stock()), vec![buyer]))
        .is_ok());
}

// Found by a new user trying the work.

#[test]
fn a_verification_after_the_deadline_does_not_revive_a_refunded_number() {
    let (mut w, owner) = paid_awaiting_verification();
    let late = t0() + ReleasePolicy::default().verification_deadline + Duration::hours(1);
    let verify = Command::SetVerification {
        account: owner.id.clone(),
        status: Verification::Verified,
    };
    // The deadline passed before anyone (scheduler or command) touched the number.
    let mut snap = w.snapshot(&verify, &operator(late));
    snap.due_holdings = vec![w.number.clone()];
    let ch = verify.decide(&operator(late), &snap).unwrap();
    let n = ch.number().unwrap();
    assert_eq!(n.state, NumberState::Available);
    assert_eq!(ch.events[0].action, "verification_timed_out");
    let acc = ch.account().unwrap();
    assert_eq!(acc.verification, Verification::Verified);
    assert_eq!(acc.balance, dec!(1000), "refunded, not billed");
    w.number = n.clone();
}

#[test]
fn a_verification_in_time_moves_the_waiting_numbers_on_in_the_same_command() {
    let (w, owner) = paid_awaiting_verification();
    let when = t0() + Duration::hours(2);
    for (status, state, balance) in [
        (Verification::Verified, NumberState::Active, dec!(600)),
        (Verification::Rejected, NumberState::Available, dec!(1000)),
    ] {
        let cmd = Command::SetVerification {
            account: owner.id.clone(),
            status,
        };
        let mut snap = w.snapshot(&cmd, &operator(when));
        snap.due_holdings = vec![w.number.clone()];
        let ch = cmd.decide(&operator(when), &snap).unwrap();
        assert_eq!(ch.number().unwrap().state, state, "{status:?}");
        assert_eq!(ch.account().unwrap().balance, balance, "{status:?}");
        assert_eq!(ch.accounts.len(), 1, "one write of the account");
    }
}

#[test]
fn a_call_reported_after_the_release_still_holds_the_number_for_its_cool_off() {
    let owner = ma();
    let mut w = World::new(owned_by(&owner), vec![owner.clone()], vec![]);
    let call_at = t0() - Duration::minutes(10);
    w.run(&release(ReleaseMode::Policy), &ctx_for(&owner, t0()))
        .unwrap();
    assert_eq!(w.number.state, NumberState::Available);
    let report = |at| Command::ReportCall {
        number: e164().into(),
        call: crate::call::Call::at(at),
    };
    let ch = w
        .run(&report(call_at), &operator(t0() + Duration::minutes(1)))
        .unwrap();
    assert_eq!(ch.events[0].action, "quarantined_after_call");
    assert_eq!(w.number.state, NumberState::Quarantined);
    assert_eq!(w.number.quarantine_until, Some(call_at + COOL_OFF));
    // A call from the future is refused.
    let err = w
        .run(&report(t0() + Duration::days(1)), &operator(t0()))
        .unwrap_err();
    assert!(matches!(err, EngineError::Invalid(_)), "{err}");
}

#[test]
fn an_unpaid_renewal_releases_the_number_as_of_its_due_date() {
    let poor = account("MA_POOR", None, Role::Customer, dec!(0));
    let mut n = owned_by(&poor);
    let due = t0() + Duration::days(30);
    n.next_billing_date = Some(due);
    let mut w = World::new(n, vec![poor], vec![]);
    let ch = w.tick(due + Duration::days(4));
    assert_eq!(ch.events[0].action, "released_unpaid");
    assert_eq!(w.number.released_at, Some(due));
}

#[test]
fn a_clock_moved_centuries_ahead_settles_a_number_whole() {
    let owner = account("MA_RICH", None, Role::Customer, dec!(100000000));
    let mut w = World::new(stock(), vec![owner.clone()], vec![]);
    w.run(&purchase(), &ctx_for(&owner, t0())).unwrap();
    let later = t0() + Duration::days(365 * 300);
    w.tick(later);
    assert!(w.number.next_billing_date.unwrap() > later);
    assert!(w.number.last_billing_date.unwrap() <= later);
    assert!(w.ledger.len() > 12 * 299, "every month charged");
}
