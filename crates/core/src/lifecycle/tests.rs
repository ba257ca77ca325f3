//! The rules, tested on snapshots: no store, no clock but a fixed instant.

use chrono::{Duration, TimeZone};
use rust_decimal_macros_free::dec;

use chrono::Months;

use super::*;
use crate::account::{AccountProfile, Role};
use crate::e164::E164;
use crate::ledger::EntryKind;
use crate::number::{Capabilities, Origin};
use crate::policy::COOL_OFF;
use crate::trunk::TrunkSettings;

mod rust_decimal_macros_free {
    macro_rules! dec {
        ($s:literal) => {
            <rust_decimal::Decimal as std::str::FromStr>::from_str(stringify!($s)).unwrap()
        };
    }
    pub(crate) use dec;
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap()
}

fn account(id: &str, parent: Option<&str>, role: Role, balance: Decimal) -> Account {
    Account {
        id: AccountId::parse(id).unwrap(),
        parent_id: parent.map(|p| AccountId::parse(p).unwrap()),
        name: id.into(),
        role,
        currency: Currency::parse("INR").unwrap(),
        balance,
        enabled: true,
        verification: crate::account::Verification::Verified,
        profile: AccountProfile::default(),
        created_at: t0(),
        updated_at: t0(),
        deleted_at: None,
    }
}

fn ma() -> Account {
    account("MA_PARENT", None, Role::Customer, dec!(1000))
}

fn sa() -> Account {
    account("SA_CHILD", Some("MA_PARENT"), Role::Customer, dec!(0))
}

fn e164() -> E164 {
    E164::parse("+919876543210").unwrap()
}

fn stock() -> Number {
    Number::new_stock(
        NewNumber {
            e164: e164(),
            country: "IN".into(),
            region: Some("Karnataka".into()),
            capabilities: Capabilities::VOICE,
            provider: String::new(),
            setup_fee: dec!(100),
            monthly_fee: dec!(300),
            currency: Currency::parse("INR").unwrap(),
        },
        t0(),
    )
}

fn owned_by(owner: &Account) -> Number {
    let mut n = stock();
    n.state = NumberState::Active;
    n.owner_id = Some(owner.id.clone());
    n.billing_id = Some(owner.billing_id().clone());
    n.purchased_at = Some(t0());
    n
}

fn ctx_for(a: &Account, now: DateTime<Utc>) -> Context {
    Context {
        actor: Actor::Account(a.id.clone()),
        caller_billing: Some(a.billing_id().clone()),
        now,
        request_id: Some("req-1".into()),
        policy: ReleasePolicy::default(),
    }
}

fn snap(number: Option<Number>, accounts: Vec<Account>) -> Snapshot {
    Snapshot {
        number,
        accounts,
        ..Snapshot::default()
    }
}

fn ledger_sum(entries: &[LedgerEntry]) -> Decimal {
    entries.iter().map(|e| e.amount).sum()
}

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

fn used_by_child(last_call: DateTime<Utc>) -> Number {
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
        at: t0() - Duration::days(3),
    };
    let ch = earlier.decide(&op, &snap(Some(n.clone()), vec![])).unwrap();
    assert_eq!(ch.number().unwrap().last_call_at, Some(t0()));
    let later = Command::ReportCall {
        number: e164().into(),
        at: t0() + Duration::days(3),
    };
    let ch = later.decide(&op, &snap(Some(n), vec![])).unwrap();
    assert_eq!(
        ch.number().unwrap().last_call_at,
        Some(t0() + Duration::days(3))
    );
    let err = later
        .decide(&ctx_for(&ma(), t0()), &snap(Some(stock()), vec![]))
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Forbidden(_)),
        "accounts cannot report calls"
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

mod properties {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Purchase(bool),
        Release(bool),
        AssignSub,
        UnassignSub(bool),
        Call(i64),
        Advance(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<bool>().prop_map(Op::Purchase),
            any::<bool>().prop_map(Op::Release),
            Just(Op::AssignSub),
            any::<bool>().prop_map(Op::UnassignSub),
            (0i64..40).prop_map(Op::Call),
            (0i64..40).prop_map(Op::Advance),
        ]
    }

    proptest! {
        /// Whatever sequence of commands runs, the balance equals the ledger, never goes below
        /// zero, an available number has no holder, and every state change has its event.
        #[test]
        fn invariants_hold_for_any_sequence(ops in proptest::collection::vec(op(), 1..60)) {
            let mut parent = ma();
            parent.balance = dec!(0);
            let mut child = sa();
            let mut number = stock();
            let mut ledger: Vec<LedgerEntry> = Vec::new();
            let mut now = t0();
            let op_ctx = Context { actor: Actor::Operator, caller_billing: None, now, request_id: None, policy: ReleasePolicy::default() };
            let top = Command::TopUp { account: parent.id.clone(), amount: dec!(1000), description: "t".into() };
            let ch = top.decide(&op_ctx, &snap(None, vec![parent.clone()])).unwrap();
            parent = ch.account().unwrap().clone();
            ledger.extend(ch.ledger);
            for op in ops {
                let (cmd, by) = match op {
                    Op::Purchase(by_child) => (Command::Purchase { number: e164().into(), currency: None , quoted_monthly_fee: None}, if by_child { child.clone() } else { parent.clone() }),
                    Op::Release(by_child) => (Command::Release { number: e164().into(), mode: ReleaseMode::Policy }, if by_child { child.clone() } else { parent.clone() }),
                    Op::AssignSub => (Command::AssignSubAccount { number: e164().into(), sub: child.id.clone() }, parent.clone()),
                    Op::UnassignSub(force) => (Command::UnassignSubAccount { number: e164().into(), force }, parent.clone()),
                    Op::Call(days_ago) => {
                        number.last_call_at = Some(now - Duration::days(days_ago));
                        continue;
                    }
                    Op::Advance(days) => {
                        now += Duration::days(days);
                        continue;
                    }
                };
                let s = snap(Some(number.clone()), vec![parent.clone(), child.clone()]);
                if let Ok(ch) = cmd.decide(&ctx_for(&by, now), &s) {
                    let changed = ch.number().is_some_and(|n| n.state != number.state || n.owner_id != number.owner_id);
                    prop_assert_eq!(changed, !ch.events.is_empty());
                    for w in &ch.accounts {
                        let a = w.row();
                        if a.id == parent.id { parent = a.clone(); } else { child = a.clone(); }
                    }
                    if let Some(n) = ch.number() { number = n.clone(); }
                    ledger.extend(ch.ledger);
                }
                prop_assert_eq!(parent.balance, ledger_sum(&ledger));
                prop_assert!(!parent.balance.is_sign_negative() || parent.balance.is_zero());
                if matches!(number.state, NumberState::Available | NumberState::Quarantined) {
                    prop_assert!(number.owner_id.is_none() && number.billing_id.is_none() && number.trunk_id.is_none());
                } else {
                    prop_assert_eq!(number.billing_id.as_ref(), Some(&parent.id));
                }
            }
        }
    }
}

mod scheduling {
    use super::*;
    use crate::account::Verification;

    fn system(now: DateTime<Utc>) -> Context {
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
}
