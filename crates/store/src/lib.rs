//! didpool's storage: the engine's [`Store`] on SQLite (embedded default) and PostgreSQL
//! (several didpool nodes on one database). Every statement is written once (`ops`) for both.

use std::sync::Arc;

use didpool_core::Store;

mod backend;
mod codec;
mod lite;
mod ops;
pub mod pages;
mod pg_pool;
pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;
pub mod testing;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// How hard a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// A commit is on disk before it is acknowledged (SQLite `synchronous=FULL`,
    /// PostgreSQL `synchronous_commit=on`).
    #[default]
    Full,
    /// Commits survive a crash of didpool but the last ones may be lost if the machine loses
    /// power (SQLite `synchronous=NORMAL`, PostgreSQL `synchronous_commit=off`).
    Relaxed,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub durability: Durability,
    /// PostgreSQL connections per node (default 10).
    pub pool_size: Option<u32>,
    /// How long a PostgreSQL command or read waits for a connection (connecting included) before
    /// it fails as [`didpool_core::EngineError::Unavailable`] (default [`POOL_TIMEOUT`]).
    pub pool_timeout: Option<std::time::Duration>,
    /// Create the SQLite file when there is none. Off, a missing file is
    /// [`OpenError::Missing`]: a database that vanished is never silently replaced by an empty one.
    pub create_if_missing: bool,
}

/// The default of [`Options::pool_timeout`]: a PostgreSQL that cannot be reached is a `503`
/// within about a second, not a request stalled for the pool's usual half minute.
pub const POOL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(#[from] sqlx::Error),
    #[error("cannot open the SQLite database: {0}")]
    Sqlite(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "there is no SQLite database at {0}: create one with `didpool migrate` \
         (or `didpool serve --demo`), or point --database-url at the existing one"
    )]
    Missing(std::path::PathBuf),
    #[error(
        "the SQLite database at {0} cannot be written ({1}): didpool does not serve a database it \
         cannot write; make the file, its directory and the filesystem writable"
    )]
    ReadOnly(std::path::PathBuf, String),
}

/// Opens and migrates the database `url` names (creating a SQLite file only with
/// [`Options::create_if_missing`]).
pub async fn open(url: &str, options: &Options) -> Result<Arc<dyn Store>, OpenError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, options).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::open(url, options).await?))
    } else {
        Err(OpenError::UnsupportedUrl(url.to_owned()))
    }
}
