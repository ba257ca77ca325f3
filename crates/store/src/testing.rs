//! Test support shared by every crate's tests: a fresh, migrated database per test, on either
//! backend. PostgreSQL tests run when `DIDPOOL_TEST_POSTGRES_URL` names a database; each test gets
//! its own schema there. Without it they are skipped and say so — unless `CI` is set, where a
//! missing database fails the test instead.

use std::io::Write as _;
use std::sync::Arc;

use didpool_core::Store;

use crate::{open, Options};

pub const POSTGRES_URL_VAR: &str = "DIDPOOL_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database; the SQLite file lives as long as this value.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    /// The URL another process (a `didpool` binary) can open the same database with.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database on `backend`, or `None` when PostgreSQL is not configured for tests.
    pub async fn new(backend: Backend, test: &str) -> Option<TestDb> {
        Self::with_options(backend, test, &Options::default()).await
    }

    pub async fn with_options(backend: Backend, test: &str, options: &Options) -> Option<TestDb> {
        let (url, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                (
                    format!("sqlite://{}/didpool.db", dir.path().display()),
                    Some(dir),
                )
            }
            Backend::Postgres => (postgres_schema(test).await?, None),
        };
        let options = Options {
            create_if_missing: true,
            ..options.clone()
        };
        let store = open(&url, &options)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
        Some(TestDb {
            store,
            url,
            _dir: dir,
        })
    }

    /// Runs one SQL statement on the database behind the store's back, on a connection of its
    /// own: for tests that must break an invariant no command would (to see `check` catch it).
    pub async fn execute(&self, statement: &str) -> Result<u64, sqlx::Error> {
        use sqlx::Connection as _;
        if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await?;
            let done = sqlx::query(statement).execute(&mut conn).await?;
            conn.close().await?;
            Ok(done.rows_affected())
        } else {
            let mut conn = sqlx::PgConnection::connect(&self.url).await?;
            let done = sqlx::query(statement).execute(&mut conn).await?;
            conn.close().await?;
            Ok(done.rows_affected())
        }
    }
}

/// Whether PostgreSQL tests can run here; prints the skip when not (and panics under `CI`).
pub fn postgres_configured(test: &str) -> bool {
    if std::env::var(POSTGRES_URL_VAR).is_ok_and(|u| !u.is_empty()) {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("{POSTGRES_URL_VAR} is not set and CI is: PostgreSQL tests must run in CI");
    }
    // Written past the test harness's capture, so the skip shows in `cargo test` output.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test} on PostgreSQL: set {POSTGRES_URL_VAR}=postgres://USER@HOST/DB to run it"
    );
    false
}

/// Creates an empty schema for one test and returns a URL whose connections use it.
pub(crate) async fn postgres_schema(test: &str) -> Option<String> {
    let Some(base) = std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|u| !u.is_empty())
    else {
        if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
            panic!("{POSTGRES_URL_VAR} is not set and CI is: PostgreSQL tests must run in CI");
        }
        // Written past the test harness's capture, so the skip shows in `cargo test` output.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test} on PostgreSQL: set {POSTGRES_URL_VAR}=postgres://USER@HOST/DB to run it"
        );
        return None;
    };
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR}={base} is not reachable: {e}"));
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("creating a test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options[search_path]={schema}"))
}
