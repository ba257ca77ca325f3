//! Trunks, sub-accounts and the cool-off, calls, accounts.

use super::*;

#[test]
fn assign_to_trunk_needs_an_unassigned_number_and_the_owners_trunk() {
    let owner = ma();
    let trunk = Trunk {
        id: TrunkId::new(),
        account_id: owner.id.clone(),
        name: "t".into(),
        settings: TrunkSettings::default(),
        created_at: t0(),
        updated_at: t0(),
    };
    let c = Command::AssignTrunk {
        number: e164().into(),
        trunk: trunk.id,
    };
    let mut s = snap(Some(owned_by(&owner)), vec![]);
    s.trunk = Some(trunk.clone());
    let ch = c.decide(&ctx_for(&owner, t0()), &s).unwrap();
    assert_eq!(ch.number().unwrap().trunk_id, Some(trunk.id));

    s.number = Some(ch.number().unwrap().clone());
    assert!(matches!(
        c.decide(&ctx_for(&owner, t0()), &s).unwrap_err(),
        EngineError::AlreadyOnTrunk
    ));

    let mut foreign = trunk.clone();
    foreign.account_id = AccountId::parse("MA_OTHER").unwrap();
    s.number = Some(owned_by(&owner));
    s.trunk = Some(foreign);
    assert!(matches!(
        c.decide(&ctx_for(&owner, t0()), &s).unwrap_err(),
        EngineError::TrunkNotFound
    ));

    let stranger = account("MA_OTHER", None, Role::Customer, dec!(0));
    s.trunk = Some(trunk);
    assert!(matches!(
        c.decide(&ctx_for(&stranger, t0()), &s).unwrap_err(),
        EngineError::NumberNotFound
    ));
}

#[test]
fn unassign_from_trunk_needs_a_trunk() {
    let owner = ma();
    let c = Command::UnassignTrunk {
        number: e164().into(),
    };
    let err = c
        .decide(
            &ctx_for(&owner, t0()),
            &snap(Some(owned_by(&owner)), vec![]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::NotOnTrunk));
    let mut n = owned_by(&owner);
    n.trunk_id = Some(TrunkId::new());
    let ch = c
        .decide(&ctx_for(&owner, t0()), &snap(Some(n), vec![]))
        .unwrap();
    assert_eq!(ch.number().unwrap().trunk_id, None);
    assert_eq!(ch.events[0].action, "unassigned_from_trunk");
}

#[test]
fn assign_to_sub_account_moves_ownership_but_not_billing() {
    let (parent, child) = (ma(), sa());
    let c = Command::AssignSubAccount {
        number: e164().into(),
        sub: child.id.clone(),
    };
    let ch = c
        .decide(
            &ctx_for(&parent, t0()),
            &snap(Some(owned_by(&parent)), vec![child.clone()]),
        )
        .unwrap();
    let n = ch.number().unwrap();
    assert_eq!(n.owner_id.as_ref(), Some(&child.id));
    assert_eq!(n.billing_id.as_ref(), Some(&parent.id));

    let err = c
        .decide(
            &ctx_for(&parent, t0()),
            &snap(Some(owned_by(&child)), vec![child.clone()]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::AlreadyOnSubAccount));

    let strangers_child = account("SA_STRANGER", Some("MA_OTHER"), Role::Customer, dec!(0));
    let c = Command::AssignSubAccount {
        number: e164().into(),
        sub: strangers_child.id.clone(),
    };
    let err = c
        .decide(
            &ctx_for(&parent, t0()),
            &snap(Some(owned_by(&parent)), vec![strangers_child]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::SubAccountNotFound));
}

fn unassign(force: bool) -> Command {
    Command::UnassignSubAccount {
        number: e164().into(),
        force,
    }
}

pub(super) fn used_by_child(last_call: DateTime<Utc>) -> Number {
    let mut n = owned_by(&sa());
    n.last_call_at = Some(last_call);
    n
}

#[test]
fn unassign_from_sub_account_is_immediate_when_never_used() {
    let parent = ma();
    let ch = unassign(false)
        .decide(
            &ctx_for(&parent, t0()),
            &snap(Some(owned_by(&sa())), vec![parent.clone()]),
        )
        .unwrap();
    assert_eq!(ch.number().unwrap().owner_id.as_ref(), Some(&parent.id));
    assert!(ch.assignment_audits.is_empty());
}

#[test]
fn cool_off_blocks_until_exactly_fifteen_days_after_the_last_call() {
    let parent = ma();
    let last = t0();
    let until = last + Duration::days(15);
    let s = snap(Some(used_by_child(last)), vec![parent.clone()]);

    let err = unassign(false)
        .decide(&ctx_for(&parent, last + Duration::days(1)), &s)
        .unwrap_err();
    match err {
        EngineError::CoolOffInEffect {
            until: u,
            remaining_seconds,
        } => {
            assert_eq!(u, until);
            assert_eq!(remaining_seconds, 14 * 86_400);
        }
        other => panic!("{other:?}"),
    }

    let one_second_before = until - Duration::seconds(1);
    match unassign(false)
        .decide(&ctx_for(&parent, one_second_before), &s)
        .unwrap_err()
    {
        EngineError::CoolOffInEffect {
            remaining_seconds, ..
        } => assert_eq!(remaining_seconds, 1),
        other => panic!("{other:?}"),
    }

    let half_second_before = until - Duration::milliseconds(500);
    match unassign(false)
        .decide(&ctx_for(&parent, half_second_before), &s)
        .unwrap_err()
    {
        EngineError::CoolOffInEffect {
            remaining_seconds, ..
        } => assert_eq!(remaining_seconds, 1),
        other => panic!("{other:?}"),
    }

    let ch = unassign(false)
        .decide(&ctx_for(&parent, until), &s)
        .unwrap();
    assert_eq!(
        ch.number().unwrap().owner_id.as_ref(),
        Some(&parent.id),
        "at exactly 15 days it is free"
    );
    assert!(unassign(false)
        .decide(&ctx_for(&parent, until + Duration::seconds(1)), &s)
        .is_ok());
}

#[test]
fn force_bypasses_the_cool_off_only_for_admins_and_writes_an_audit_row() {
    let customer = ma();
    let s = snap(Some(used_by_child(t0())), vec![customer.clone()]);
    let err = unassign(true)
        .decide(&ctx_for(&customer, t0()), &s)
        .unwrap_err();
    assert!(matches!(err, EngineError::ForceRequiresAdmin));

    let admin = account("MA_PARENT", None, Role::Admin, dec!(0));
    let s = snap(Some(used_by_child(t0())), vec![admin.clone()]);
    let ch = unassign(true)
        .decide(&ctx_for(&admin, t0() + Duration::hours(1)), &s)
        .unwrap();
    assert_eq!(ch.number().unwrap().owner_id.as_ref(), Some(&admin.id));
    let audit = &ch.assignment_audits[0];
    assert_eq!(audit.from_account_id, sa().id);
    assert_eq!(audit.to_account_id, admin.id);
    assert_eq!(audit.action, "force_unassign_subaccount");
    assert_eq!(audit.cool_off_until, Some(t0() + Duration::days(15)));

    // Forcing a number that is not in cool-off still succeeds and still writes the row.
    let s = snap(Some(owned_by(&sa())), vec![admin.clone()]);
    let ch = unassign(true).decide(&ctx_for(&admin, t0()), &s).unwrap();
    assert_eq!(ch.assignment_audits.len(), 1);
}

#[test]
fn unassign_of_a_number_the_parent_holds_itself_is_not_found() {
    let parent = ma();
    let err = unassign(false)
        .decide(
            &ctx_for(&parent, t0()),
            &snap(Some(owned_by(&parent)), vec![parent.clone()]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::NotOnSubAccount));
}

#[test]
fn a_reported_call_only_moves_last_call_at_forward() {
    let op = Context {
        actor: Actor::Operator,
        caller_billing: None,
        now: t0(),
        request_id: None,
        policy: ReleasePolicy::default(),
    };
    let n = used_by_child(t0());
    let earlier = Command::ReportCall {
        number: e164().into(),
        call: crate::call::Call::at(t0() - Duration::days(3)),
    };
    let ch = earlier.decide(&op, &snap(Some(n.clone()), vec![])).unwrap();
    assert_eq!(ch.number().unwrap().last_call_at, Some(t0()));
    let later = Command::ReportCall {
        number: e164().into(),
        call: crate::call::Call::at(t0() + Duration::days(3)),
    };
    let op_later = Context {
        now: t0() + Duration::days(3),
        ..op.clone()
    };
    let ch = later.decide(&op_later, &snap(Some(n), vec![])).unwrap();
    assert_eq!(
        ch.number().unwrap().last_call_at,
        Some(t0() + Duration::days(3))
    );
    let err = later
        .decide(&ctx_for(&ma(), t0()), &snap(Some(stock()), vec![]))
        .unwrap_err();
    assert!(
        matches!(err, EngineError::NumberNotFound),
        "an account reports calls only on numbers it pays for"
    );
}

fn edge_call(start: DateTime<Utc>, answered: bool) -> crate::call::Call {
    crate::call::Call {
        direction: crate::call::CallDirection::Inbound,
        started_at: start,
        answered_at: answered.then(|| start + Duration::seconds(3)),
        ended_at: start + Duration::seconds(63),
        sip_status: if answered { 200 } else { 486 },
    }
}

#[test]
fn the_paying_main_account_reports_calls_and_an_answered_one_starts_the_cool_off() {
    let n = owned_by(&sa());
    let start = t0() - Duration::minutes(5);
    let report = |answered| Command::ReportCall {
        number: e164().into(),
        call: edge_call(start, answered),
    };
    // Answered: a record, and last_call_at at the call's end.
    let ch = report(true)
        .decide(&ctx_for(&ma(), t0()), &snap(Some(n.clone()), vec![]))
        .unwrap();
    assert_eq!(ch.calls.len(), 1);
    assert_eq!(ch.calls[0].call, edge_call(start, true));
    assert_eq!(
        (ch.calls[0].number_id, ch.calls[0].reported_at),
        (n.id, t0())
    );
    assert_eq!(
        ch.number().unwrap().last_call_at,
        Some(start + Duration::seconds(63))
    );
    assert!(ch.events.is_empty(), "a call is no state change");
    // Not answered: only the record.
    let ch = report(false)
        .decide(&ctx_for(&ma(), t0()), &snap(Some(n.clone()), vec![]))
        .unwrap();
    assert_eq!(ch.calls.len(), 1);
    assert!(
        ch.numbers.is_empty(),
        "an unanswered call leaves last_call_at"
    );
    // The holding sub-account is not its payer, and a call is checked.
    let err = report(true)
        .decide(&ctx_for(&sa(), t0()), &snap(Some(n.clone()), vec![]))
        .unwrap_err();
    assert!(matches!(err, EngineError::NumberNotFound), "{err:?}");
    let mut bad = edge_call(start, true);
    bad.sip_status = 486;
    let err = Command::ReportCall {
        number: e164().into(),
        call: bad,
    }
    .decide(&ctx_for(&ma(), t0()), &snap(Some(n), vec![]))
    .unwrap_err();
    assert!(matches!(err, EngineError::Invalid(_)), "{err:?}");
}

#[test]
fn a_call_from_before_a_release_is_taken_from_the_last_payer_only() {
    let mut n = stock();
    n.state = NumberState::Quarantined;
    n.released_at = Some(t0() - Duration::minutes(1));
    n.quarantine_until = Some(t0() + Duration::days(1));
    n.last_owner_id = Some(sa().id);
    n.last_billing_id = Some(ma().id);
    let report = |start| Command::ReportCall {
        number: e164().into(),
        call: edge_call(start, true),
    };
    let before = t0() - Duration::minutes(3);
    let ch = report(before)
        .decide(&ctx_for(&ma(), t0()), &snap(Some(n.clone()), vec![]))
        .unwrap();
    assert_eq!(ch.calls.len(), 1);
    assert_eq!(
        ch.number().unwrap().quarantine_until,
        Some(before + Duration::seconds(63) + crate::policy::COOL_OFF),
        "the call holds the number back for the cool-off"
    );
    let err = report(t0() - Duration::seconds(30))
        .decide(&ctx_for(&ma(), t0()), &snap(Some(n), vec![]))
        .unwrap_err();
    assert!(
        matches!(err, EngineError::NumberNotFound),
        "after the release: {err:?}"
    );
}

#[test]
fn a_new_master_account_gets_its_opening_balance_through_the_ledger() {
    let op = Context {
        actor: Actor::Operator,
        caller_billing: None,
        now: t0(),
        request_id: None,
        policy: ReleasePolicy::default(),
    };
    let c = Command::CreateAccount {
        account: NewAccount {
            id: None,
            name: "Acme".into(),
            role: Role::Admin,
            currency: Currency::parse("INR").unwrap(),
            opening_balance: dec!(250.5),
            enabled: true,
            profile: AccountProfile::default(),
        },
        parent: None,
        token_hash: TokenHash::of("secret"),
        session: false,
    };
    let ch = c.decide(&op, &Snapshot::default()).unwrap();
    let acc = ch.account().unwrap();
    assert!(acc.is_master());
    assert_eq!(acc.balance, ledger_sum(&ch.ledger));
    assert_eq!(ch.credential().unwrap().account_id, acc.id);
    let err = c
        .decide(&ctx_for(&ma(), t0()), &Snapshot::default())
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Forbidden(_)),
        "only the operator creates master accounts"
    );
}

#[test]
fn a_sub_account_with_numbers_cannot_be_deleted() {
    let (parent, child) = (ma(), sa());
    let c = Command::DeleteSubAccount {
        id: child.id.clone(),
    };
    let mut s = snap(None, vec![child.clone()]);
    s.holdings = 1;
    assert!(matches!(
        c.decide(&ctx_for(&parent, t0()), &s).unwrap_err(),
        EngineError::StillHoldsNumbers
    ));
    s.holdings = 0;
    let ch = c.decide(&ctx_for(&parent, t0()), &s).unwrap();
    assert!(ch.account().unwrap().deleted_at.is_some());
}
