//! "One live row per e164; deleted rows may repeat" (migration 0016): the unique key is
//! (e164, tomb), `tomb` being '' on a live row and the row's id on a deleted one.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use didpool_core::account::{AccountProfile, NewAccount, Role};
use didpool_core::engine::By;
use didpool_core::lifecycle::{Command, ReleaseMode};
use didpool_core::money::{Currency, Decimal};
use didpool_core::number::NewNumber;
use didpool_core::{
    Capabilities, Engine, EngineError, ManualClock, NumberState, ReleasePolicy, E164,
};
use didpool_store::testing::{Backend, TestDb};

const E164_TEXT: &str = "+14155552671";

fn new_number() -> NewNumber {
    let e164 = E164::parse(E164_TEXT).unwrap();
    NewNumber {
        country: e164.country().unwrap(),
        e164,
        region: None,
        capabilities: Capabilities::VOICE,
        provider: "carrier".into(),
        setup_fee: Decimal::ZERO,
        monthly_fee: Decimal::ZERO,
        currency: Currency::parse("INR").unwrap(),
    }
}

/// Imports the number, releases it (a tombstone) `tombstones` times, then imports it once more.
async fn tombstones_then_live(db: &TestDb, tombstones: usize) -> (Engine, By) {
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap());
    let engine = Engine::new(
        Arc::clone(&db.store),
        Arc::new(clock.clone()),
        ReleasePolicy::default(),
    );
    let new = NewAccount {
        id: None,
        name: "Owner".into(),
        role: Role::Customer,
        currency: Currency::parse("INR").unwrap(),
        opening_balance: Decimal::ZERO,
        enabled: true,
        profile: AccountProfile::default(),
    };
    let (owner, _) = engine
        .create_account(&By::operator(None), new, None)
        .await
        .unwrap();
    let by = By::account(&owner, None);
    let import = || Command::Import {
        number: new_number(),
        nickname: None,
        sip_config: None,
    };
    for _ in 0..tombstones {
        engine.run(&by, import()).await.unwrap();
        clock.advance(chrono::Duration::days(2));
        let released = engine
            .run(
                &by,
                Command::Release {
                    number: E164::parse(E164_TEXT).unwrap().into(),
                    mode: ReleaseMode::Policy,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            released.changes.number().unwrap().state,
            NumberState::Deleted
        );
    }
    engine.run(&by, import()).await.unwrap();
    (engine, by)
}

async fn tombstones_repeat_beside_one_live_row(backend: Backend) {
    let Some(db) = TestDb::new(backend, "tombstones_repeat").await else {
        return;
    };
    let (engine, by) = tombstones_then_live(&db, 2).await;
    let second = engine
        .run(
            &by,
            Command::Import {
                number: new_number(),
                nickname: None,
                sip_config: None,
            },
        )
        .await;
    assert!(
        matches!(second, Err(EngineError::AlreadyExists(_))),
        "{second:?}"
    );
    let rows = db
        .execute(&format!(
            "UPDATE numbers SET nickname = nickname WHERE e164 = '{E164_TEXT}'"
        ))
        .await
        .unwrap();
    assert_eq!(rows, 3, "two tombstones and the live row");
    assert_eq!(db.store.check().await.unwrap(), vec![]);
}

#[tokio::test]
async fn tombstones_repeat_beside_one_live_row_sqlite() {
    tombstones_repeat_beside_one_live_row(Backend::Sqlite).await;
}

#[tokio::test]
async fn tombstones_repeat_beside_one_live_row_postgres() {
    tombstones_repeat_beside_one_live_row(Backend::Postgres).await;
}

/// PostgreSQL computes `tomb` (a generated column); SQLite's trigger keeps it, and `check` says
/// when it does not.
#[tokio::test]
async fn a_tomb_out_of_step_with_its_state_is_a_check_violation_sqlite() {
    let db = TestDb::new(Backend::Sqlite, "tomb_check").await.unwrap();
    tombstones_then_live(&db, 1).await;
    let changed = db
        .execute("UPDATE numbers SET tomb = 'x' WHERE state <> 'deleted'")
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let found = db.store.check().await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "tomb_marks_deleted_rows");
}

/// The point of the key: an update of `state` (a purchase, a release) leaves the e164 index
/// alone. SQLite opens for writing only the indexes an UPDATE may change.
#[test]
fn a_state_change_does_not_write_the_e164_index_sqlite() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt
        .block_on(TestDb::new(Backend::Sqlite, "tomb_index"))
        .unwrap();
    let path = db.url.strip_prefix("sqlite://").unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    let root: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'numbers_live_e164'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let writes_index = |sql: &str| -> bool {
        let mut stmt = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
        let ops: Vec<(i64, String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        // The statement's own program: the triggers' programs follow it, each from address 0
        // (the tomb's trigger writes the index, when a row enters or leaves 'deleted').
        let own = 1 + ops[1..].iter().take_while(|(addr, ..)| *addr != 0).count();
        ops[..own]
            .iter()
            .any(|(_, op, p2)| op == "OpenWrite" && *p2 == root)
    };
    assert!(!writes_index(
        "UPDATE numbers SET state = 'active', owner_id = 'a', billing_id = 'a' WHERE id = 'x'"
    ));
    assert!(!writes_index(
        "UPDATE numbers SET state = 'available', owner_id = NULL, billing_id = NULL WHERE id = 'x'"
    ));
    // The method sees an index that is written.
    assert!(writes_index(
        "UPDATE numbers SET e164 = '+14155550000' WHERE id = 'x'"
    ));
}
