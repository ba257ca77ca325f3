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

/// PostgreSQL's search copy of each number's id and e164 (`number_e164s`, migration 0018) as
/// `(id, e164, xmin, ctid)` rows: a row rewritten would show a new xmin and ctid.
async fn search_copy(db: &TestDb) -> Vec<(String, String, String, String)> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT id, e164, xmin::text, ctid::text FROM number_e164s ORDER BY id, ctid",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    rows
}

/// Inserted numbers are copied to the search table; a state change (a release) leaves the copy
/// untouched, which is the point of it: the trigram index is off the write path.
#[tokio::test]
async fn a_release_leaves_the_search_copy_alone_postgres() {
    let Some(db) = TestDb::new(Backend::Postgres, "search_copy").await else {
        return;
    };
    let (engine, by) = tombstones_then_live(&db, 2).await;
    let before = search_copy(&db).await;
    assert_eq!(
        before.len(),
        3,
        "two tombstones and the live row: {before:?}"
    );
    assert!(before.iter().all(|r| r.1 == E164_TEXT));
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
    assert_eq!(search_copy(&db).await, before);
    assert_eq!(db.store.check().await.unwrap(), vec![]);
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let gin_on_numbers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'numbers' \
         AND schemaname = current_schema() AND indexdef LIKE '%USING gin%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(gin_on_numbers, 0, "no GIN index left on numbers");
}

/// `check` compares the copy with the rows; the triggers that keep it through an e164 change
/// or a deleted row (no command makes either) set it right again.
#[tokio::test]
async fn a_search_copy_out_of_step_is_a_check_violation_postgres() {
    let Some(db) = TestDb::new(Backend::Postgres, "search_copy_check").await else {
        return;
    };
    tombstones_then_live(&db, 1).await;
    let live = "(SELECT id FROM numbers WHERE state <> 'deleted')";
    let removed = db
        .execute(&format!("DELETE FROM number_e164s WHERE id IN {live}"))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let found = db.store.check().await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "number_e164s_match_rows");
    // Copied twice is out of step too.
    db.execute(&format!(
        "INSERT INTO number_e164s SELECT id, e164 FROM numbers WHERE id IN {live}"
    ))
    .await
    .unwrap();
    db.execute(&format!(
        "INSERT INTO number_e164s SELECT id, e164 FROM numbers WHERE id IN {live}"
    ))
    .await
    .unwrap();
    let found = db.store.check().await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, "number_e164s_match_rows");
    db.execute(&format!(
        "DELETE FROM number_e164s WHERE ctid IN (SELECT max(ctid) FROM number_e164s WHERE id IN {live})"
    ))
    .await
    .unwrap();
    assert_eq!(db.store.check().await.unwrap(), vec![]);
    // An e164 changed behind the engine's back: the copy follows.
    db.execute("UPDATE numbers SET e164 = '+14155552672' WHERE state <> 'deleted'")
        .await
        .unwrap();
    assert_eq!(db.store.check().await.unwrap(), vec![]);
    let copy = search_copy(&db).await;
    assert_eq!(copy.len(), 2);
    assert!(copy.iter().any(|r| r.1 == "+14155552672"), "{copy:?}");
    // A row deleted behind its back (its events first): its copy goes with it.
    db.execute(
        "WITH e AS (DELETE FROM number_events WHERE number_id IN \
           (SELECT id FROM numbers WHERE state = 'deleted')) \
         DELETE FROM numbers WHERE state = 'deleted'",
    )
    .await
    .unwrap();
    assert_eq!(db.store.check().await.unwrap(), vec![]);
    assert_eq!(search_copy(&db).await.len(), 1);
}
