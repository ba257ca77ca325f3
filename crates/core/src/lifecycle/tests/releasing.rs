//! Release: ownership, states, imported numbers, the release window.

use super::*;

#[test]
fn release_clears_owner_and_trunk_stops_billing_and_returns_to_inventory() {
    let owner = ma();
    let mut n = owned_by(&owner);
    n.trunk_id = Some(TrunkId::new());
    n.last_call_at = Some(t0() - COOL_OFF);
    let c = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Policy,
    };
    let ch = c
        .decide(&ctx_for(&owner, t0()), &snap(Some(n), vec![owner.clone()]))
        .unwrap();
    let after = ch.number().unwrap();
    assert_eq!(after.state, NumberState::Available);
    assert_eq!(after.owner_id, None);
    assert_eq!(after.billing_id, None);
    assert_eq!(after.trunk_id, None);
    assert_eq!(after.next_billing_date, None);
    assert_eq!(after.released_at, Some(t0()));
    assert_eq!(
        after.last_call_at,
        Some(t0() - COOL_OFF),
        "last_call_at survives a release"
    );
    assert!(
        ch.ledger.is_empty(),
        "the default policy charges no release fee"
    );
    assert_eq!(ch.events[0].action, "released");
}

#[test]
fn release_of_another_accounts_number_is_forbidden() {
    let stranger = account("MA_OTHER", None, Role::Customer, dec!(0));
    let c = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Policy,
    };
    let err = c
        .decide(
            &ctx_for(&stranger, t0()),
            &snap(Some(owned_by(&ma())), vec![stranger.clone()]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::NotOwner));
    let err = c
        .decide(
            &ctx_for(&stranger, t0()),
            &snap(Some(stock()), vec![stranger.clone()]),
        )
        .unwrap_err();
    assert!(
        matches!(err, EngineError::NotOwner),
        "inventory numbers are nobody's to release"
    );
}

#[test]
fn a_master_may_release_its_sub_accounts_number_but_a_sibling_may_not() {
    let (parent, child) = (ma(), sa());
    let sibling = account("SA_SIBLING", Some("MA_PARENT"), Role::Customer, dec!(0));
    let c = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Policy,
    };
    let ch = c
        .decide(
            &ctx_for(&parent, t0()),
            &snap(Some(owned_by(&child)), vec![parent.clone()]),
        )
        .unwrap();
    assert_eq!(ch.number().unwrap().state, NumberState::Available);
    let err = c
        .decide(
            &ctx_for(&sibling, t0()),
            &snap(Some(owned_by(&child)), vec![sibling.clone()]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::NotOwner));
}

#[test]
fn reserved_and_pending_verification_numbers_cannot_be_released() {
    let owner = ma();
    let mut owner = owner;
    owner.verification = crate::account::Verification::Pending;
    for state in [NumberState::Reserved, NumberState::PendingVerification] {
        let mut n = owned_by(&owner);
        n.state = state;
        let c = Command::Release {
            number: e164().into(),
            mode: ReleaseMode::Immediate,
        };
        let err = c
            .decide(&ctx_for(&owner, t0()), &snap(Some(n), vec![owner.clone()]))
            .unwrap_err();
        assert!(matches!(err, EngineError::NotReleasable(s) if s == state));
    }
}

#[test]
fn an_imported_number_is_deleted_on_release() {
    let owner = ma();
    let mut n = owned_by(&owner);
    n.origin = Origin::Imported;
    let c = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Immediate,
    };
    let ch = c
        .decide(&ctx_for(&owner, t0()), &snap(Some(n), vec![owner.clone()]))
        .unwrap();
    assert_eq!(ch.number().unwrap().state, NumberState::Deleted);
}

#[test]
fn a_release_window_makes_the_release_pending_and_charges_the_fee() {
    let owner = ma();
    let mut ctx = ctx_for(&owner, t0());
    ctx.policy = ReleasePolicy {
        window: Duration::hours(24),
        quarantine: Duration::days(45),
        fee: dec!(7),
        ..ReleasePolicy::default()
    };
    let mut n = owned_by(&owner);
    n.trunk_id = Some(TrunkId::new());
    let c = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Policy,
    };
    let ch = c
        .decide(&ctx, &snap(Some(n.clone()), vec![owner.clone()]))
        .unwrap();
    let after = ch.number().unwrap();
    assert_eq!(after.state, NumberState::PendingRelease);
    assert_eq!(after.release_at, Some(t0() + Duration::hours(24)));
    assert_eq!(after.trunk_id, None);
    assert_eq!(after.owner_id.as_ref(), Some(&owner.id));
    assert_eq!(ledger_sum(&ch.ledger), dec!(-7));
    assert_eq!(ch.account().unwrap().balance, dec!(993));

    // Immediate mode ignores the window but honours the quarantine, and charges the same fee.
    let c = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Immediate,
    };
    let ch = c.decide(&ctx, &snap(Some(n), vec![owner.clone()])).unwrap();
    let after = ch.number().unwrap();
    assert_eq!(after.state, NumberState::Quarantined);
    assert_eq!(after.quarantine_until, Some(t0() + Duration::days(45)));
    assert_eq!(ledger_sum(&ch.ledger), dec!(-7));
}
