//! One SQL dialect for both backends: statements use `$1…` placeholders (SQLite accepts them
//! too), values travel as [`Val`] and rows come back as [`DbRow`]. Each backend only says how to
//! bind a value and decode a column; every statement is written once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use didpool_core::money::Decimal;
use didpool_core::EngineError;
use sqlx::postgres::PgRow;
use sqlx::Row;

use crate::codec::{corrupt, money_to_e4};
use crate::lite::LiteRow;

/// A value to bind. SQLite stores times as RFC 3339 text and money as integer ten-thousandths;
/// PostgreSQL as `timestamptz` and `numeric`.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Time(Option<DateTime<Utc>>),
    Money(Option<Decimal>),
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Text(Some(s.to_owned()))
    }
}

impl From<String> for Val {
    fn from(s: String) -> Self {
        Val::Text(Some(s))
    }
}

impl From<Option<String>> for Val {
    fn from(s: Option<String>) -> Self {
        Val::Text(s)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(Some(v))
    }
}

impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Bool(v)
    }
}

impl From<DateTime<Utc>> for Val {
    fn from(t: DateTime<Utc>) -> Self {
        Val::Time(Some(t))
    }
}

impl From<Option<DateTime<Utc>>> for Val {
    fn from(t: Option<DateTime<Utc>>) -> Self {
        Val::Time(t)
    }
}

impl From<Decimal> for Val {
    fn from(d: Decimal) -> Self {
        Val::Money(Some(d))
    }
}

pub type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds `args` by reference (no copy of a text value per statement).
pub fn bind_pg<'q>(q: PgQuery<'q>, args: &'q [Val]) -> Result<PgQuery<'q>, EngineError> {
    let mut q = q;
    for v in args {
        q = match v {
            Val::Text(s) => q.bind(s.as_deref()),
            Val::Int(i) => q.bind(*i),
            Val::Bool(b) => q.bind(*b),
            Val::Time(t) => q.bind(*t),
            Val::Money(m) => {
                // Same precision rule on both backends: at most four decimal places.
                m.map(money_to_e4).transpose()?;
                q.bind(*m)
            }
        };
    }
    Ok(q)
}

/// A row from either backend.
pub enum DbRow {
    Lite(LiteRow),
    Pg(PgRow),
}

/// A statement that failed, from whichever driver ran it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot bind: {0}")]
    Bind(String),
}

impl DbError {
    /// Whether the database cannot be reached or written now (a refused or lost connection, a
    /// full disk, a read-only or failing file), rather than refusing this statement: the same
    /// statement may succeed later.
    pub fn is_unavailable(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            DbError::Sqlx(e) => unavailable(e),
            DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => matches!(
                f.code,
                C::DiskFull
                    | C::SystemIoFailure
                    | C::ReadOnly
                    | C::CannotOpen
                    | C::DatabaseBusy
                    | C::DatabaseLocked
                    | C::NotADatabase
            ),
            _ => false,
        }
    }

    /// The table a constraint violation was found in, where the database says.
    pub fn table(&self) -> Option<&str> {
        match self {
            DbError::Sqlx(sqlx::Error::Database(d)) => d.table(),
            _ => None,
        }
    }

    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlx(sqlx::Error::Database(d)) => d.is_unique_violation(),
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            _ => false,
        }
    }
}

fn col_err(col: &str, e: sqlx::Error) -> EngineError {
    corrupt(format!("column {col}: {e}"))
}

impl DbRow {
    pub fn opt_text(&self, col: &str) -> Result<Option<String>, EngineError> {
        match self {
            DbRow::Lite(r) => r.opt_text(col),
            DbRow::Pg(r) => r.try_get(col).map_err(|e| col_err(col, e)),
        }
    }

    pub fn text(&self, col: &str) -> Result<String, EngineError> {
        self.opt_text(col)?
            .ok_or_else(|| corrupt(format!("column {col} is null")))
    }

    pub fn opt_int(&self, col: &str) -> Result<Option<i64>, EngineError> {
        match self {
            DbRow::Lite(r) => r.opt_int(col),
            DbRow::Pg(r) => r.try_get(col).map_err(|e| col_err(col, e)),
        }
    }

    pub fn int(&self, col: &str) -> Result<i64, EngineError> {
        self.opt_int(col)?
            .ok_or_else(|| corrupt(format!("column {col} is null")))
    }

    pub fn flag(&self, col: &str) -> Result<bool, EngineError> {
        match self {
            DbRow::Lite(r) => r.flag(col),
            DbRow::Pg(r) => r.try_get(col).map_err(|e| col_err(col, e)),
        }
    }

    pub fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>, EngineError> {
        match self {
            DbRow::Lite(r) => r.opt_time(col),
            DbRow::Pg(r) => r.try_get(col).map_err(|e| col_err(col, e)),
        }
    }

    pub fn time(&self, col: &str) -> Result<DateTime<Utc>, EngineError> {
        self.opt_time(col)?
            .ok_or_else(|| corrupt(format!("column {col} is null")))
    }

    pub fn opt_money(&self, col: &str) -> Result<Option<Decimal>, EngineError> {
        match self {
            DbRow::Lite(r) => r.opt_money(col),
            DbRow::Pg(r) => Ok(r
                .try_get::<Option<Decimal>, _>(col)
                .map_err(|e| col_err(col, e))?
                .map(|d| d.normalize())),
        }
    }

    pub fn money(&self, col: &str) -> Result<Decimal, EngineError> {
        self.opt_money(col)?
            .ok_or_else(|| corrupt(format!("column {col} is null")))
    }
}

/// A connection, transaction or pool of either backend.
#[async_trait]
pub trait Sql: Send {
    /// ` FOR UPDATE` where rows must be locked (PostgreSQL); nothing where the single writer
    /// already serialises commands (SQLite).
    fn lock(&self) -> &'static str;
    /// Whether substring search over `e164` goes through the FTS5 table of 4-character windows
    /// `numbers_e164_fts` (SQLite, see `ops::fts_query`); PostgreSQL's trigram index serves
    /// `LIKE` itself.
    fn e164_fts(&self) -> bool {
        false
    }
    /// ` INDEXED BY index` (SQLite), where a planner without statistics would pick a wider index
    /// that merely covers the columns; nothing on PostgreSQL, whose planner has them.
    fn indexed_by(&self, _index: &str) -> String {
        String::new()
    }
    /// Whether a command's writes should be sent as one statement: each statement is a round
    /// trip to PostgreSQL, while SQLite runs in-process and takes its statements one at a time.
    fn combines_writes(&self) -> bool {
        false
    }
    /// Whether a command's number and its accounts are loaded by one statement (PostgreSQL,
    /// for the round trip; see `ops::load`).
    fn combines_loads(&self) -> bool {
        false
    }
    async fn fetch(&mut self, sql: &str, args: &[Val]) -> Result<Vec<DbRow>, DbError>;
    async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError>;
}

/// A statement built piece by piece, numbering its placeholders.
#[derive(Debug, Default)]
pub struct Q {
    pub sql: String,
    pub args: Vec<Val>,
}

impl Q {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: Vec::new(),
        }
    }

    /// Appends text.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder for `v`.
    pub fn arg(&mut self, v: impl Into<Val>) -> &mut Self {
        self.args.push(v.into());
        crate::ops::push_placeholder(&mut self.sql, self.args.len());
        self
    }
}

/// `$1, $2, …, $n`.
pub fn placeholders(n: usize) -> String {
    let mut out = String::with_capacity(n * 5);
    for i in 1..=n {
        if i > 1 {
            out.push_str(", ");
        }
        crate::ops::push_placeholder(&mut out, i);
    }
    out
}

/// Whether a sqlx error says PostgreSQL cannot be reached now: no connection within the pool's
/// acquire timeout, a lost connection, or a server that refuses sessions (SQLSTATE class 08,
/// shutting down or starting up, too many connections, a read-only standby).
pub fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03" | "53300" | "25006")
        }),
        _ => false,
    }
}
