//! PostgreSQL's trigram index on `numbers` covers only rows without a holder (migration 0018),
//! so a purchase or any change of a held number adds nothing to it.

use didpool_store::testing::{Backend, TestDb};
use sqlx::Connection as _;

#[tokio::test]
async fn the_trigram_index_covers_unheld_rows_only_postgres() {
    let Some(db) = TestDb::new(Backend::Postgres, "trgm_unheld").await else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let defs: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() \
         AND tablename = 'numbers' AND indexdef LIKE '%USING gin%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(defs.len(), 1, "{defs:?}");
    assert!(
        defs[0].contains("gin_trgm_ops") && defs[0].ends_with("WHERE (owner_id IS NULL)"),
        "{defs:?}"
    );
    conn.close().await.unwrap();
}
