//! Backend constructors: each opens a fresh, empty, migrated database for one test, or returns
//! `None` to skip it where the backend is not available.
//!
//! A new backend is one more constructor here and one more `conformance!` line in `main.rs`.

use std::any::Any;
use std::sync::Arc;

use didpool_core::Store;
use didpool_store::testing;

/// A store under test and whatever must live as long as it (a temporary directory, a schema).
pub struct Backend {
    store: Arc<dyn Store>,
    _keep: Box<dyn Any + Send>,
}

impl Backend {
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }
}

/// SQLite in a temporary directory, removed when the test ends.
pub async fn sqlite(test: &str) -> Option<Backend> {
    open(testing::Backend::Sqlite, test).await
}

/// PostgreSQL in a schema of its own, when `DIDPOOL_TEST_POSTGRES_URL` is set.
pub async fn postgres(test: &str) -> Option<Backend> {
    open(testing::Backend::Postgres, test).await
}

async fn open(backend: testing::Backend, test: &str) -> Option<Backend> {
    let db = testing::TestDb::new(backend, test).await?;
    Some(Backend {
        store: Arc::clone(&db.store),
        _keep: Box::new(db),
    })
}
