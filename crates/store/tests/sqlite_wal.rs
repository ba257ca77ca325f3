//! SQLite's write-ahead log stays out of the way: a bulk load leaves it empty, so the next start
//! does not read it back.

use std::sync::Arc;

use didpool_core::engine::By;
use didpool_core::lifecycle::Command;
use didpool_core::money::{Currency, Decimal};
use didpool_core::number::NewNumber;
use didpool_core::store::{Holder, NumberQuery};
use didpool_core::{Capabilities, Engine, NumberState, ReleasePolicy, SystemClock, E164};
use didpool_store::{open, Options};

#[tokio::test]
async fn after_a_bulk_load_the_wal_is_empty_and_the_numbers_are_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("didpool.db");
    let wal = dir.path().join("didpool.db-wal");
    let options = Options {
        create_if_missing: true,
        ..Options::default()
    };
    let store = open(&format!("sqlite://{}", path.display()), &options)
        .await
        .unwrap();
    let engine = Engine::new(
        Arc::clone(&store),
        Arc::new(SystemClock),
        ReleasePolicy::default(),
    );
    let op = By::operator(None);
    for batch in 0..4 {
        let numbers = (0..500)
            .map(|i| NewNumber {
                e164: E164::parse(&format!("+1415{:07}", 2_000_000 + batch * 500 + i)).unwrap(),
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
            .run(&op, Command::AddInventory { numbers })
            .await
            .unwrap();
    }
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "the load went through the WAL"
    );

    store.after_bulk_load().await.unwrap();

    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    let stocked = store
        .numbers(&NumberQuery::new(
            Holder::Nobody,
            vec![NumberState::Available],
        ))
        .await
        .unwrap();
    assert_eq!(stocked.total, 2_000);
    assert!(store.check().await.unwrap().is_empty());
}
