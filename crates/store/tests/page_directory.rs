//! Held lists paged through page directories (`didpool_store::pages`), on SQLite and on
//! PostgreSQL, with two nodes (two store handles on one database): every page at every offset is
//! the plain `ORDER BY e164 LIMIT/OFFSET` answer, before and after numbers are bought and released
//! through the other node (a node's directory goes stale by the database's version, not by a
//! message), and `check` finds the maintained versions in step.

use std::sync::Arc;

use didpool_core::account::{AccountProfile, NewAccount, Role};
use didpool_core::engine::By;
use didpool_core::lifecycle::{Command, ReleaseMode};
use didpool_core::money::{Currency, Decimal};
use didpool_core::number::NewNumber;
use didpool_core::store::{Holder, NumberQuery, Page};
use didpool_core::{
    Account, Capabilities, Engine, ManualClock, Number, NumberState, ReleasePolicy, Store, E164,
};
use didpool_store::pages::STRIDE;
use didpool_store::testing::{Backend, TestDb};
use didpool_store::{open, Options};

fn e164(i: u64) -> E164 {
    E164::parse(&format!("+9180422{i:05}")).unwrap()
}

fn held() -> Vec<NumberState> {
    vec![
        NumberState::Reserved,
        NumberState::PendingVerification,
        NumberState::Active,
        NumberState::PendingRelease,
    ]
}

fn e164s(page: &Page<Number>) -> Vec<String> {
    page.items.iter().map(|n| n.e164.to_string()).collect()
}

/// Every page of `holder`'s list read through `store` (the directory path), at offsets around
/// every directory entry and past the end, against the same list read by the plain path (a
/// filter that excludes nothing: `+0…`) and against the whole list sliced.
async fn pages_match(store: &Arc<dyn Store>, holder: &Holder, step: &str) -> u64 {
    let mut plain = NumberQuery::new(holder.clone(), held());
    plain.exclude_prefixes = vec!["0".into()];
    plain.limit = 100_000;
    let all = store.numbers(&plain).await.unwrap();
    let all = e164s(&all);
    let total = all.len() as u64;
    let mut offsets = vec![0, 1, total.saturating_sub(1), total, total + 1, total + 500];
    for k in 1..=total / STRIDE + 1 {
        for d in [-1i64, 0, 1, 13] {
            offsets.push((k * STRIDE).saturating_add_signed(d));
        }
    }
    for offset in offsets {
        for limit in [1u32, 25, 70] {
            let mut q = NumberQuery::new(holder.clone(), held());
            q.offset = offset;
            q.limit = limit;
            let page = store.numbers(&q).await.unwrap();
            let mut p = plain.clone();
            p.offset = offset;
            p.limit = limit;
            let reference = store.numbers(&p).await.unwrap();
            let sliced: Vec<String> = all
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .cloned()
                .collect();
            assert_eq!(
                e164s(&page),
                sliced,
                "{step}: {holder:?} offset {offset} limit {limit}"
            );
            assert_eq!(e164s(&reference), sliced, "{step}: plain, offset {offset}");
            assert_eq!(page.total, total, "{step}: {holder:?} offset {offset}");
            assert_eq!(reference.total, total, "{step}: plain total");
            // The rows are whole, not only their e164.
            assert_eq!(page.items, reference.items, "{step}: rows at {offset}");
        }
    }
    total
}

async fn pages_stay_exact_across_nodes(backend: Backend, test: &str) {
    let Some(db) = TestDb::new(backend, test).await else {
        return;
    };
    let other = open(&db.url, &Options::default()).await.unwrap();
    let clock = ManualClock::new(chrono::Utc::now());
    let node = |store| Engine::new(store, Arc::new(clock.clone()), ReleasePolicy::default());
    let (a, b) = (node(Arc::clone(&db.store)), node(Arc::clone(&other)));
    let op = By::operator(None);
    let inr = Currency::parse("INR").unwrap();
    let account = |name: &str, balance: i64| NewAccount {
        id: None,
        name: name.into(),
        role: Role::Customer,
        currency: inr.clone(),
        opening_balance: Decimal::from(balance),
        enabled: true,
        profile: AccountProfile::default(),
    };
    let (master, _) = a
        .create_account(&op, account("Pages", 1_000_000), None)
        .await
        .unwrap();
    let by_master = By::account(&master, None);
    let (sub, _): (Account, _) = a
        .create_account(&by_master, account("Pages sub", 0), Some(master.id.clone()))
        .await
        .unwrap();
    let by_sub = By::account(&sub, None);
    let numbers = (0..400)
        .map(|i| NewNumber {
            e164: e164(i),
            country: "IN".into(),
            region: None,
            capabilities: Capabilities::VOICE,
            provider: String::new(),
            setup_fee: Decimal::from(1),
            monthly_fee: Decimal::from(1),
            currency: inr.clone(),
        })
        .collect();
    a.run(&op, Command::AddInventory { numbers }).await.unwrap();
    let buy = async |engine: &Engine, by: &By, i: u64| {
        engine
            .run(
                by,
                Command::Purchase {
                    number: e164(i).into(),
                    currency: None,
                    quoted_monthly_fee: None,
                },
            )
            .await
            .unwrap();
    };
    let release = async |engine: &Engine, by: &By, i: u64| {
        engine
            .run(
                by,
                Command::Release {
                    number: e164(i).into(),
                    mode: ReleaseMode::Immediate,
                },
            )
            .await
            .unwrap();
    };
    // The master holds every third number from 100 on, its sub-account every sixth from 101.
    for i in (100..400).step_by(3) {
        buy(&a, &by_master, i).await;
    }
    for i in (101..400).step_by(6) {
        buy(&a, &by_sub, i).await;
    }
    let family = Holder::Family(master.id.clone());
    let own = Holder::Account(master.id.clone());
    let subs = Holder::Account(sub.id.clone());
    let mut totals = Vec::new();
    for store in [&db.store, &other] {
        for h in [&family, &own, &subs] {
            totals.push(pages_match(store, h, "bought").await);
        }
    }
    assert_eq!(
        totals[0],
        100 + 50,
        "the family's list: the master's and the sub's"
    );
    assert!(
        totals[0] > 2 * STRIDE,
        "the list spans several directory entries"
    );
    assert!(db.store.check().await.unwrap().is_empty());

    // Node b changes the lists; node a's directories (built above) are stale by the version only.
    release(&b, &by_master, 103).await; // early: every later position moves
    release(&b, &by_sub, 107).await;
    buy(&b, &by_master, 0).await; // before every held number
    buy(&b, &by_sub, 1).await;
    buy(&b, &by_master, 5).await;
    for store in [&db.store, &other] {
        for h in [&family, &own, &subs] {
            pages_match(store, h, "changed through the other node").await;
        }
    }
    // Most of the master's own numbers leave, through node b again.
    for i in (202..400).step_by(3) {
        release(&b, &by_master, i).await;
    }
    for store in [&other, &db.store] {
        for h in [&family, &own, &subs] {
            pages_match(store, h, "most released").await;
        }
    }
    assert!(db.store.check().await.unwrap().is_empty());

    // A holder whose changes were never counted (a broken trigger) is what `check` reports.
    let reset = db
        .execute(&format!(
            "UPDATE number_holder_counts SET changes = 0 WHERE holder_id = '{}' AND role = 'owner'",
            sub.id
        ))
        .await
        .unwrap();
    assert!(reset >= 1);
    let found = db.store.check().await.unwrap();
    assert!(
        found
            .iter()
            .any(|v| v.rule == "holder_versions_cover_holders"),
        "{found:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_stay_exact_across_nodes_on_sqlite() {
    pages_stay_exact_across_nodes(Backend::Sqlite, "pages_sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_stay_exact_across_nodes_on_postgres() {
    pages_stay_exact_across_nodes(Backend::Postgres, "pages_postgres").await;
}
