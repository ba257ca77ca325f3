//! `check` compares the inventory search index (`inventory_grams`, migration 0015) with the
//! numbers: a window missing, a window of a number no longer available and a row that is not a
//! window of its number are each reported. SQLite only: PostgreSQL has no such table.

use std::sync::Arc;

use didpool_core::engine::By;
use didpool_core::lifecycle::Command;
use didpool_core::money::{Currency, Decimal};
use didpool_core::number::NewNumber;
use didpool_core::{Capabilities, Engine, ReleasePolicy, SystemClock, E164};
use didpool_store::testing::{Backend, TestDb};

async fn tampered_index_is_reported(backend: Backend, test: &str) {
    let Some(db) = TestDb::new(backend, test).await else {
        return;
    };
    let engine = Engine::new(
        Arc::clone(&db.store),
        Arc::new(SystemClock),
        ReleasePolicy::default(),
    );
    let numbers = ["+14155552671", "+14155552672"]
        .iter()
        .map(|n| NewNumber {
            e164: E164::parse(n).unwrap(),
            country: "US".into(),
            region: None,
            capabilities: Capabilities::VOICE,
            provider: String::new(),
            setup_fee: Decimal::from(1),
            monthly_fee: Decimal::from(2),
            currency: Currency::parse("USD").unwrap(),
        })
        .collect();
    engine
        .run(&By::operator(None), Command::AddInventory { numbers })
        .await
        .unwrap();
    assert_eq!(db.store.check().await.unwrap(), []);

    let reported = async || {
        let mut found: Vec<String> = db
            .store
            .check()
            .await
            .unwrap()
            .into_iter()
            .filter(|v| v.rule == "inventory_grams_match_numbers")
            .map(|v| v.subject)
            .collect();
        found.sort();
        found
    };
    // A window missing.
    db.execute("DELETE FROM inventory_grams WHERE gram = '5267' AND e164 = '+14155552671'")
        .await
        .unwrap();
    assert_eq!(reported().await, ["+14155552671"]);
    db.execute(
        "INSERT INTO inventory_grams (gram, e164, country) VALUES ('5267', '+14155552671', 'US')",
    )
    .await
    .unwrap();
    assert_eq!(reported().await, Vec::<String>::new());
    // A row that is not a window of its number, and one in the wrong country.
    db.execute(
        "INSERT INTO inventory_grams (gram, e164, country) VALUES ('9999', '+14155552672', 'US')",
    )
    .await
    .unwrap();
    db.execute(
        "UPDATE inventory_grams SET country = 'CA' WHERE gram = '+141' AND e164 = '+14155552671'",
    )
    .await
    .unwrap();
    assert_eq!(
        reported().await,
        ["+14155552671", "+14155552671", "+14155552672"]
    );
    db.execute("DELETE FROM inventory_grams WHERE gram IN ('9999', '+141')")
        .await
        .unwrap();
    db.execute("INSERT INTO inventory_grams (gram, e164, country) VALUES ('+141', '+14155552671', 'US'), ('+141', '+14155552672', 'US')")
        .await
        .unwrap();
    assert_eq!(reported().await, Vec::<String>::new());
    // A number no longer available (its windows gone with it, by the trigger) that has one back.
    db.execute("UPDATE numbers SET state = 'quarantined' WHERE e164 = '+14155552672'")
        .await
        .unwrap();
    assert_eq!(reported().await, Vec::<String>::new());
    db.execute(
        "INSERT INTO inventory_grams (gram, e164, country) VALUES ('5267', '+14155552672', 'US')",
    )
    .await
    .unwrap();
    assert_eq!(reported().await, ["+14155552672"]);
}

#[tokio::test]
async fn sqlite_tampered_inventory_grams_are_reported() {
    tampered_index_is_reported(Backend::Sqlite, "inventory_grams_sqlite").await;
}
