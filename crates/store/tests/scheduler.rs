//! Two schedulers (two nodes: two store handles on one database) run at once, month after month:
//! each renewal is charged once and each release done once, on SQLite and on PostgreSQL.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use didpool_core::account::{AccountProfile, NewAccount, Role};
use didpool_core::engine::By;
use didpool_core::ledger::EntryKind;
use didpool_core::lifecycle::{Command, ReleaseMode};
use didpool_core::money::{Currency, Decimal};
use didpool_core::number::NewNumber;
use didpool_core::store::LedgerQuery;
use didpool_core::{Capabilities, Engine, ManualClock, NumberState, ReleasePolicy, E164};
use didpool_store::testing::{Backend, TestDb};
use didpool_store::{open, Options};

const NUMBERS: usize = 24;
const MONTHS: u32 = 3;

async fn two_schedulers_do_each_due_item_exactly_once(backend: Backend, test: &str) {
    let Some(db) = TestDb::new(backend, test).await else {
        return;
    };
    let second_node = open(&db.url, &Options::default())
        .await
        .expect("a second handle");
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 31, 12, 0, 0).unwrap());
    let node = |store| Engine::new(store, Arc::new(clock.clone()), ReleasePolicy::default());
    let (a, b) = (node(Arc::clone(&db.store)), node(second_node));
    let op = By::operator(None);

    let new = NewAccount {
        id: None,
        name: "Schedulers".into(),
        role: Role::Customer,
        currency: Currency::parse("INR").unwrap(),
        opening_balance: Decimal::from(1_000_000),
        enabled: true,
        profile: AccountProfile::default(),
    };
    let (account, _) = a.create_account(&op, new, None).await.unwrap();
    let by = By::account(&account, None);
    let mut numbers = Vec::new();
    for i in 0..NUMBERS {
        let e164 = E164::parse(&format!("+9180411{:05}", 10_000 + i)).unwrap();
        let number = NewNumber {
            e164: e164.clone(),
            country: "IN".into(),
            region: None,
            capabilities: Capabilities::VOICE,
            provider: String::new(),
            setup_fee: Decimal::from(100),
            monthly_fee: Decimal::from_str("300.5").unwrap(),
            currency: Currency::parse("INR").unwrap(),
        };
        a.run(
            &op,
            Command::AddInventory {
                numbers: vec![number],
            },
        )
        .await
        .unwrap();
        a.run(
            &by,
            Command::Purchase {
                number: e164.clone().into(),
                currency: None,
                quoted_monthly_fee: None,
            },
        )
        .await
        .unwrap();
        numbers.push(e164);
    }
    // Half of them are released at the end of their cycle (the first month-end).
    let diga = ReleaseMode::AtCycleEnd {
        quarantine: Duration::days(30),
    };
    for e164 in numbers.iter().step_by(2) {
        b.run(
            &by,
            Command::Release {
                number: e164.clone().into(),
                mode: diga,
            },
        )
        .await
        .unwrap();
    }

    for month in 1..=MONTHS {
        clock.advance(Duration::days(31));
        // Both nodes, twice each, at the same time.
        let (r1, r2, r3, r4) = tokio::join!(a.run_due(), b.run_due(), a.run_due(), b.run_due());
        for r in [r1, r2, r3, r4] {
            r.expect("a scheduler run");
        }
        let ledger = db
            .store
            .ledger(&LedgerQuery {
                account: account.id.clone(),
                debits: Some(true),
                kind: Some(EntryKind::DidRental),
                from: None,
                to: None,
                limit: 1000,
                offset: 0,
            })
            .await
            .unwrap();
        let kept = NUMBERS / 2;
        // Each number's first month at purchase, then one renewal per month for the kept half.
        assert_eq!(
            ledger.total as usize,
            NUMBERS + kept * month as usize,
            "month {month}"
        );
        for (i, e164) in numbers.iter().enumerate() {
            let n = db.store.number_by_e164(e164).await.unwrap().unwrap();
            let released = i % 2 == 0;
            let expected = match (released, month) {
                (false, _) => NumberState::Active,
                (true, 1) => NumberState::Quarantined,
                (true, _) => NumberState::Available,
            };
            assert_eq!(n.state, expected, "{e164} in month {month}");
            if released {
                let events = db.store.events(&n.id.into()).await.unwrap();
                let releases = events.iter().filter(|e| e.action == "released").count();
                assert_eq!(releases, 1, "{e164} released once");
            }
        }
        assert!(
            db.store.check().await.unwrap().is_empty(),
            "invariants hold in month {month}"
        );
    }
    let balance = db
        .store
        .account(&account.id)
        .await
        .unwrap()
        .unwrap()
        .balance;
    let spent = Decimal::from(100) * Decimal::from(NUMBERS as u32)
        + Decimal::from_str("300.5").unwrap()
            * Decimal::from((NUMBERS + NUMBERS / 2 * MONTHS as usize) as u32);
    assert_eq!(balance, Decimal::from(1_000_000) - spent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_on_sqlite_do_each_due_item_exactly_once() {
    for round in 0..3 {
        two_schedulers_do_each_due_item_exactly_once(
            Backend::Sqlite,
            &format!("sqlite round {round}"),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_on_postgres_do_each_due_item_exactly_once() {
    two_schedulers_do_each_due_item_exactly_once(Backend::Postgres, "two_schedulers_on_postgres")
        .await;
}
