//! What the clock did before a command, told from what the command did; releases that meet.

use chrono::Duration;

use super::*;

#[test]
fn a_repeat_release_after_the_window_finds_its_work_done_by_the_clock() {
    let owner = ma();
    let mut ctx = ctx_for(&owner, t0());
    ctx.policy = ReleasePolicy {
        window: Duration::hours(24),
        ..ReleasePolicy::default()
    };
    let release = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Policy,
    };
    let pending = release
        .decide(&ctx, &snap(Some(owned_by(&owner)), vec![owner.clone()]))
        .unwrap()
        .number()
        .unwrap()
        .clone();

    // The window is over and no scheduler has run: the repeat's own part is empty (a face
    // answers a repeat), the release that fell due is written, as the system's doing.
    ctx.now = t0() + Duration::hours(24);
    ctx.request_id = Some("req-2".into());
    let (due, own) = release
        .decide_parts(&ctx, &snap(Some(pending), vec![owner.clone()]))
        .unwrap();
    assert!(own.is_empty(), "{own:?}");
    let released = due.number().unwrap();
    assert_eq!(released.state, NumberState::Available);
    assert_eq!(released.released_at, Some(t0() + Duration::hours(24)));
    assert_eq!(due.events.len(), 1);
    assert_eq!(due.events[0].action, "released");
    assert_eq!(due.events[0].actor, Actor::System);
    assert_eq!(due.events[0].request_id, None);
}

#[test]
fn an_imported_number_pending_release_is_never_quarantined() {
    let owner = ma();
    let mut ctx = ctx_for(&owner, t0());
    ctx.policy = ReleasePolicy {
        window: Duration::hours(24),
        quarantine: Duration::days(45),
        fee: dec!(7),
        ..ReleasePolicy::default()
    };
    let mut n = owned_by(&owner);
    n.origin = Origin::Imported;
    let c = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Policy,
    };
    let ch = c.decide(&ctx, &snap(Some(n), vec![owner.clone()])).unwrap();
    let pending = ch.number().unwrap().clone();
    assert_eq!(pending.state, NumberState::PendingRelease);
    assert_eq!(pending.quarantine_until, None);
    assert_eq!(pending.release_fee, None);
    assert!(ch.ledger.is_empty());

    ctx.now = t0() + Duration::hours(24);
    let (_, due) = schedule::settle(&ctx, &snap(Some(pending), vec![owner.clone()]))
        .unwrap()
        .expect("the release is due");
    let gone = due.number().unwrap();
    assert_eq!(gone.state, NumberState::Deleted);
    assert_eq!(gone.quarantine_until, None);
}

#[test]
fn a_number_in_another_currency_cannot_be_reserved() {
    let holder = ma();
    let mut n = stock();
    n.currency = Currency::parse("USD").unwrap();
    let c = Command::Reserve {
        number: e164().into(),
        account: holder.id.clone(),
        until: t0() + Duration::minutes(30),
    };
    let mut ctx = ctx_for(&holder, t0());
    ctx.actor = Actor::Operator;
    let err = c
        .decide(&ctx, &snap(Some(n), vec![holder.clone()]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "currency mismatch: the number is priced in USD, not INR"
    );
}

#[test]
fn a_sub_account_whose_numbers_have_left_by_the_clock_can_be_deleted() {
    let (parent, child) = (ma(), sa());
    let c = Command::DeleteSubAccount {
        id: child.id.clone(),
    };
    // The child's number, released with a window that is over; a second one it still holds.
    let mut gone = owned_by(&child);
    gone.state = NumberState::PendingRelease;
    gone.release_at = Some(t0() - Duration::seconds(1));
    let mut kept = owned_by(&child);
    kept.id = NumberId::new();
    kept.next_billing_date = Some(t0() - Duration::seconds(1));
    let mut s = snap(None, vec![child.clone(), parent.clone()]);
    s.holdings = 1;
    s.due_holdings = vec![gone.clone()];
    let ch = c.decide(&ctx_for(&parent, t0()), &s).unwrap();
    let released = ch.numbers.iter().map(Write::row).find(|n| n.id == gone.id);
    assert_eq!(released.unwrap().state, NumberState::Available);
    assert_eq!(ch.events[0].action, "released");
    assert_eq!(ch.events[0].actor, Actor::System);
    let deleted = ch
        .accounts
        .iter()
        .map(Write::row)
        .find(|a| a.id == child.id);
    assert!(deleted.unwrap().deleted_at.is_some());

    // A renewal falls due on the other, which stays held: still refused, nothing written.
    s.holdings = 2;
    s.due_holdings = vec![gone, kept];
    assert!(matches!(
        c.decide(&ctx_for(&parent, t0()), &s).unwrap_err(),
        EngineError::StillHoldsNumbers
    ));
}

#[test]
fn a_window_release_of_a_number_scheduled_for_its_cycle_end_becomes_pending() {
    let owner = ma();
    let mut ctx = ctx_for(&owner, t0());
    ctx.policy = ReleasePolicy {
        window: Duration::hours(24),
        fee: dec!(7),
        ..ReleasePolicy::default()
    };
    let mut n = owned_by(&owner);
    n.next_billing_date = Some(t0() + Duration::days(20));
    let diga = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::AtCycleEnd {
            quarantine: Duration::days(30),
        },
    };
    let scheduled = diga
        .decide(&ctx, &snap(Some(n), vec![owner.clone()]))
        .unwrap()
        .number()
        .unwrap()
        .clone();
    assert_eq!(scheduled.release_at, Some(t0() + Duration::days(20)));
    assert_eq!(scheduled.release_fee, Some(dec!(7)));

    let vobiz = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Policy,
    };
    let ch = vobiz
        .decide(&ctx, &snap(Some(scheduled.clone()), vec![owner.clone()]))
        .unwrap();
    let pending = ch.number().unwrap();
    assert_eq!(pending.state, NumberState::PendingRelease);
    assert_eq!(pending.release_at, Some(t0() + Duration::hours(24)));
    assert_eq!(pending.release_fee, Some(dec!(7)));
    assert!(ch.ledger.is_empty(), "no second fee");

    // A cycle end sooner than the window stays the moment it takes effect.
    let mut soon = scheduled;
    soon.release_at = Some(t0() + Duration::hours(2));
    let ch = vobiz
        .decide(&ctx, &snap(Some(soon), vec![owner.clone()]))
        .unwrap();
    let pending = ch.number().unwrap();
    assert_eq!(pending.state, NumberState::PendingRelease);
    assert_eq!(pending.release_at, Some(t0() + Duration::hours(2)));
}
