//! Purchase, import and the first charges.

use super::*;

#[test]
fn purchase_debits_setup_and_monthly_fee_and_makes_the_number_active() {
    let buyer = ma();
    let c = Command::Purchase {
        number: e164().into(),
        currency: None,
        quoted_monthly_fee: None,
    };
    let ch = c
        .decide(
            &ctx_for(&buyer, t0()),
            &snap(Some(stock()), vec![buyer.clone()]),
        )
        .unwrap();
    let n = ch.number().unwrap();
    assert_eq!(n.state, NumberState::Active);
    assert_eq!(n.owner_id.as_ref(), Some(&buyer.id));
    assert_eq!(n.purchased_at, Some(t0()));
    assert_eq!(
        n.next_billing_date,
        Some(Utc.with_ymd_and_hms(2026, 7, 1, 10, 0, 0).unwrap())
    );
    let payer = ch.account().unwrap();
    assert_eq!(payer.balance, dec!(600));
    assert_eq!(ledger_sum(&ch.ledger), dec!(-400));
    assert_eq!(ch.ledger.last().unwrap().balance_after, dec!(600));
    assert_eq!(ch.events.len(), 1);
    assert_eq!(ch.events[0].action, "purchased");
    assert_eq!(ch.events[0].from_state, Some(NumberState::Available));
}

#[test]
fn a_sub_account_purchase_lands_on_the_sub_account_and_bills_the_parent() {
    let (parent, child) = (ma(), sa());
    let c = Command::Purchase {
        number: e164().into(),
        currency: None,
        quoted_monthly_fee: None,
    };
    let ch = c
        .decide(
            &ctx_for(&child, t0()),
            &snap(Some(stock()), vec![child.clone(), parent.clone()]),
        )
        .unwrap();
    let n = ch.number().unwrap();
    assert_eq!(n.owner_id.as_ref(), Some(&child.id));
    assert_eq!(n.billing_id.as_ref(), Some(&parent.id));
    assert_eq!(ch.account().unwrap().id, parent.id);
    assert!(ch.ledger.iter().all(|e| e.account_id == parent.id));
}

#[test]
fn purchase_with_insufficient_balance_changes_nothing() {
    let poor = account("MA_POOR", None, Role::Customer, dec!(399.99));
    let c = Command::Purchase {
        number: e164().into(),
        currency: None,
        quoted_monthly_fee: None,
    };
    let err = c
        .decide(
            &ctx_for(&poor, t0()),
            &snap(Some(stock()), vec![poor.clone()]),
        )
        .unwrap_err();
    assert!(
        matches!(err, EngineError::InsufficientBalance { .. }),
        "{err:?}"
    );
}

#[test]
fn purchase_with_exactly_enough_balance_leaves_zero() {
    let exact = account("MA_EXACT", None, Role::Customer, dec!(400));
    let c = Command::Purchase {
        number: e164().into(),
        currency: None,
        quoted_monthly_fee: None,
    };
    let ch = c
        .decide(&ctx_for(&exact, t0()), &snap(Some(stock()), vec![exact]))
        .unwrap();
    assert!(ch.account().unwrap().balance.is_zero());
}

#[test]
fn only_available_numbers_can_be_purchased() {
    let buyer = ma();
    let c = Command::Purchase {
        number: e164().into(),
        currency: None,
        quoted_monthly_fee: None,
    };
    for state in NumberState::ALL
        .into_iter()
        .filter(|s| *s != NumberState::Available)
    {
        let mut n = stock();
        n.state = state;
        let err = c
            .decide(&ctx_for(&buyer, t0()), &snap(Some(n), vec![buyer.clone()]))
            .unwrap_err();
        assert!(
            matches!(err, EngineError::NotInInventory),
            "{state:?}: {err:?}"
        );
    }
    let err = c
        .decide(&ctx_for(&buyer, t0()), &snap(None, vec![buyer.clone()]))
        .unwrap_err();
    assert!(matches!(err, EngineError::NotInInventory));
}

#[test]
fn purchase_in_another_currency_is_refused() {
    let buyer = ma();
    let c = Command::Purchase {
        number: e164().into(),
        currency: Some(Currency::parse("usd").unwrap()),
        quoted_monthly_fee: None,
    };
    let err = c
        .decide(
            &ctx_for(&buyer, t0()),
            &snap(Some(stock()), vec![buyer.clone()]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::CurrencyMismatch { .. }));
}

#[test]
fn an_imported_number_is_owned_at_once_and_never_charged() {
    let (parent, child) = (ma(), sa());
    let new = NewNumber {
        e164: e164(),
        country: "IN".into(),
        region: None,
        capabilities: Capabilities::VOICE,
        provider: "twilio".into(),
        setup_fee: dec!(5),
        monthly_fee: dec!(5),
        currency: Currency::parse("INR").unwrap(),
    };
    let c = Command::Import {
        number: new,
        nickname: None,
        sip_config: None,
    };
    let ch = c
        .decide(
            &ctx_for(&child, t0()),
            &snap(None, vec![child.clone(), parent.clone()]),
        )
        .unwrap();
    let n = ch.number().unwrap();
    assert_eq!(n.origin, Origin::Imported);
    assert_eq!(n.state, NumberState::Active);
    assert_eq!(n.owner_id.as_ref(), Some(&child.id));
    assert_eq!(n.billing_id.as_ref(), Some(&parent.id));
    assert!(n.monthly_fee.is_zero() && ch.ledger.is_empty() && ch.accounts.is_empty());
    assert_eq!(ch.events[0].action, "imported");
    let err = c
        .decide(
            &ctx_for(&child, t0()),
            &snap(Some(stock()), vec![child.clone(), parent]),
        )
        .unwrap_err();
    assert!(
        matches!(err, EngineError::AlreadyExists(_)),
        "a number already known cannot be imported"
    );
}

#[test]
fn releasing_again_by_the_last_holder_changes_nothing_until_someone_else_holds_it() {
    let (owner, other) = (ma(), account("MA_OTHER", None, Role::Customer, dec!(1000)));
    let release = Command::Release {
        number: e164().into(),
        mode: ReleaseMode::Immediate,
    };
    let ch = release
        .decide(
            &ctx_for(&owner, t0()),
            &snap(Some(owned_by(&owner)), vec![owner.clone()]),
        )
        .unwrap();
    let released = ch.number().unwrap().clone();
    assert_eq!(released.state, NumberState::Available, "no quarantine");

    // Back in stock, nobody holds it: the last holder's repeat is a no-op, anyone else's is not.
    let later = t0() + Duration::hours(1);
    let again = release
        .decide(
            &ctx_for(&owner, later),
            &snap(Some(released.clone()), vec![owner.clone()]),
        )
        .unwrap();
    assert!(again.is_empty());
    let err = release
        .decide(
            &ctx_for(&other, later),
            &snap(Some(released.clone()), vec![other.clone()]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::NotOwner), "{err}");

    // Once someone else has bought it, it is no longer the last holder's to release.
    let purchase = Command::Purchase {
        number: e164().into(),
        currency: None,
        quoted_monthly_fee: None,
    };
    let bought = purchase
        .decide(
            &ctx_for(&other, later),
            &snap(Some(released), vec![other.clone()]),
        )
        .unwrap();
    let err = release
        .decide(
            &ctx_for(&owner, later),
            &snap(bought.number().cloned(), vec![owner.clone()]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::NotOwner), "{err}");
}

fn import_named(nickname: Option<&str>) -> Command {
    Command::Import {
        sip_config: None,
        number: NewNumber {
            e164: e164(),
            country: "IN".into(),
            region: None,
            capabilities: Capabilities::VOICE,
            provider: "twilio".into(),
            setup_fee: dec!(0),
            monthly_fee: dec!(0),
            currency: Currency::parse("INR").unwrap(),
        },
        nickname: nickname.map(str::to_owned),
    }
}

#[test]
fn a_named_import_keeps_its_nickname_and_refuses_a_bad_one() {
    let owner = ma();
    let decide = |nickname: Option<&str>| {
        import_named(nickname).decide(&ctx_for(&owner, t0()), &snap(None, vec![owner.clone()]))
    };
    let ch = decide(Some("Front desk")).unwrap();
    let n = ch.number().unwrap();
    assert_eq!(n.nickname.as_deref(), Some("Front desk"));
    assert_eq!(n.origin, Origin::Imported);
    assert_eq!(n.state, NumberState::Active);
    assert!(
        ch.ledger.is_empty() && ch.accounts.is_empty(),
        "never charged"
    );
    assert_eq!(ch.events[0].action, "imported");
    assert_eq!(decide(None).unwrap().number().unwrap().nickname, None);
    assert!(
        decide(Some(&"é".repeat(255))).is_ok(),
        "255 characters, not bytes"
    );
    for bad in ["x".repeat(256), "line\nbreak".to_owned()] {
        let err = decide(Some(&bad)).unwrap_err();
        assert!(matches!(err, EngineError::Invalid(_)), "{bad:?}: {err}");
    }
}

#[test]
fn a_named_import_of_a_number_didpool_knows_is_refused() {
    let owner = ma();
    let err = import_named(Some("Front desk"))
        .decide(
            &ctx_for(&owner, t0()),
            &snap(Some(stock()), vec![owner.clone()]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::AlreadyExists(_)), "{err}");
}

#[test]
fn every_ledger_entry_names_what_it_is_about() {
    let op = Context {
        actor: Actor::Operator,
        caller_billing: None,
        now: t0(),
        request_id: None,
        policy: ReleasePolicy::default(),
    };
    let ch = Command::TopUp {
        account: ma().id,
        amount: dec!(10),
        description: "top-up".into(),
    }
    .decide(&op, &snap(None, vec![ma()]))
    .unwrap();
    let [payment] = ch.ledger.as_slice() else {
        panic!("one entry, not {:?}", ch.ledger);
    };
    assert_eq!(payment.reference, format!("payment:{}", payment.id));

    let buyer = ma();
    let ch = Command::Purchase {
        number: e164().into(),
        currency: None,
        quoted_monthly_fee: None,
    }
    .decide(
        &ctx_for(&buyer, t0()),
        &snap(Some(stock()), vec![buyer.clone()]),
    )
    .unwrap();
    assert!(!ch.ledger.is_empty());
    for entry in &ch.ledger {
        assert_eq!(entry.reference, "did:+919876543210", "{entry:?}");
    }
}
