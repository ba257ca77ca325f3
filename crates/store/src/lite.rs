//! A synchronous SQLite connection (rusqlite) behind the async [`Sql`] trait: each statement runs
//! in place, on the caller's thread, so no statement costs a thread hand-off. The writer thread
//! owns one (its commands' futures are ready at once and are driven with `block_on`); reads take
//! one from a pool. SQLite answers an indexed read in microseconds, less than a hand-off costs.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use didpool_core::money::Decimal;
use didpool_core::EngineError;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags};

use crate::codec::{corrupt, money_from_e4, money_to_e4, parse_ts, ts};
use crate::sql::{DbError, DbRow, Sql, Val};

/// Prepared statements kept per connection: every statement didpool runs, with room to spare.
const STATEMENT_CACHE: usize = 256;

/// Page cache per connection, in KiB: the writer's holds the pages a batch dirties (a smaller
/// one spills them to the WAL before the commit); readers share the OS cache.
const WRITER_CACHE_KIB: u32 = 16 * 1024;
const READER_CACHE_KIB: u32 = 4 * 1024;

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;
/// How long a statement waits for another connection's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct LiteConn(Connection);

impl LiteConn {
    /// Opens `path` with didpool's settings: WAL, foreign keys, a busy timeout, and no automatic
    /// checkpoints (the checkpointer does them, off the request path).
    pub fn open(path: &PathBuf, read_only: bool, synchronous: &str) -> Result<Self, DbError> {
        let flags = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let cache = if read_only {
            READER_CACHE_KIB
        } else {
            WRITER_CACHE_KIB
        };
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; \
             PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -{cache};"
        ))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Self(conn))
    }

    /// Copies what it can of the WAL into the database file without waiting for readers.
    /// Returns the frames in the WAL and how many of them are in the database file.
    pub fn checkpoint(&self) -> Result<(i64, i64), DbError> {
        let frames = self
            .0
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?;
        Ok(frames)
    }

    /// Copies the whole WAL into the database file and empties it. Another connection's
    /// checkpoint in progress makes SQLite give up at once (its busy handler is not consulted for
    /// the checkpoint lock), so this retries for as long as the busy timeout.
    pub fn truncate_wal(&self) -> Result<(), DbError> {
        let deadline = Instant::now() + BUSY_TIMEOUT;
        loop {
            let busy: i64 = self
                .0
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            if busy == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(DbError::Sqlite(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    Some("the WAL could not be emptied: the database stayed busy".into()),
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether no transaction is open.
    pub fn autocommit(&self) -> bool {
        self.0.is_autocommit()
    }

    /// Runs a statement without parameters or rows (transaction control).
    pub fn run(&self, sql: &str) -> Result<(), DbError> {
        self.0.prepare_cached(sql)?.raw_execute()?;
        Ok(())
    }

    fn prepare(&self, sql: &str, args: &[Val]) -> Result<rusqlite::CachedStatement<'_>, DbError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        for (i, v) in args.iter().enumerate() {
            let n = i + 1;
            // `$n` is a named parameter to SQLite; ours appear in order, so index n is `$n`.
            let index = match stmt.parameter_name(n) {
                Some(name) if name[1..].parse() == Ok(n) => n,
                _ => stmt
                    .parameter_index(&format!("${n}"))?
                    .ok_or_else(|| DbError::Bind(format!("no parameter ${n} in {sql}")))?,
            };
            match v {
                Val::Text(s) => stmt.raw_bind_parameter(index, s)?,
                Val::Int(i) => stmt.raw_bind_parameter(index, i)?,
                Val::Bool(b) => stmt.raw_bind_parameter(index, b)?,
                Val::Time(t) => stmt.raw_bind_parameter(index, t.map(ts))?,
                Val::Money(m) => {
                    let e4 = m
                        .map(money_to_e4)
                        .transpose()
                        .map_err(|e| DbError::Bind(e.to_string()))?;
                    stmt.raw_bind_parameter(index, e4)?
                }
            }
        }
        Ok(stmt)
    }
}

#[async_trait]
impl Sql for LiteConn {
    fn lock(&self) -> &'static str {
        ""
    }

    fn e164_fts(&self) -> bool {
        true
    }

    fn indexed_by(&self, index: &str) -> String {
        format!(" INDEXED BY {index}")
    }

    async fn fetch(&mut self, sql: &str, args: &[Val]) -> Result<Vec<DbRow>, DbError> {
        let mut stmt = self.prepare(sql, args)?;
        let columns: Arc<[String]> = stmt.column_names().into_iter().map(String::from).collect();
        let width = columns.len();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let values = (0..width)
                .map(|i| row.get_ref(i).map(Value::from))
                .collect::<Result<_, _>>()?;
            out.push(DbRow::Lite(LiteRow {
                columns: columns.clone(),
                values,
            }));
        }
        Ok(out)
    }

    async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
        let mut stmt = self.prepare(sql, args)?;
        Ok(stmt.raw_execute()? as u64)
    }
}

/// Read-only connections, opened on demand and reused.
pub struct LitePool {
    path: PathBuf,
    idle: Mutex<Vec<LiteConn>>,
}

impl LitePool {
    pub fn new(path: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            path,
            idle: Mutex::new(Vec::new()),
        })
    }

    pub fn get(self: &Arc<Self>) -> Result<Pooled, DbError> {
        let idle = self.idle.lock().map(|mut idle| idle.pop()).ok().flatten();
        let conn = match idle {
            Some(conn) => conn,
            None => LiteConn::open(&self.path, true, "NORMAL")?,
        };
        Ok(Pooled {
            conn: Some(conn),
            pool: self.clone(),
        })
    }
}

/// A read connection, back to its pool when dropped.
pub struct Pooled {
    conn: Option<LiteConn>,
    pool: Arc<LitePool>,
}

impl Pooled {
    fn conn(&mut self) -> &mut LiteConn {
        self.conn.as_mut().expect("held until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let (Some(conn), Ok(mut idle)) = (self.conn.take(), self.pool.idle.lock()) {
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

#[async_trait]
impl Sql for Pooled {
    fn lock(&self) -> &'static str {
        ""
    }

    fn e164_fts(&self) -> bool {
        true
    }

    fn indexed_by(&self, index: &str) -> String {
        format!(" INDEXED BY {index}")
    }

    async fn fetch(&mut self, sql: &str, args: &[Val]) -> Result<Vec<DbRow>, DbError> {
        self.conn().fetch(sql, args).await
    }

    async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
        self.conn().exec(sql, args).await
    }
}

/// A row read by rusqlite, owned.
pub struct LiteRow {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl LiteRow {
    fn get(&self, col: &str) -> Result<ValueRef<'_>, EngineError> {
        self.columns
            .iter()
            .position(|c| c == col)
            .map(|i| ValueRef::from(&self.values[i]))
            .ok_or_else(|| corrupt(format!("no column {col}")))
    }

    pub fn opt_text(&self, col: &str) -> Result<Option<String>, EngineError> {
        match self.get(col)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => String::from_utf8(t.to_vec())
                .map(Some)
                .map_err(|e| corrupt(format!("column {col}: {e}"))),
            other => Err(corrupt(format!(
                "column {col}: expected text, found {:?}",
                other.data_type()
            ))),
        }
    }

    pub fn opt_int(&self, col: &str) -> Result<Option<i64>, EngineError> {
        match self.get(col)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => Ok(Some(i)),
            other => Err(corrupt(format!(
                "column {col}: expected an integer, found {:?}",
                other.data_type()
            ))),
        }
    }

    pub fn flag(&self, col: &str) -> Result<bool, EngineError> {
        self.opt_int(col)?
            .map(|i| i != 0)
            .ok_or_else(|| corrupt(format!("column {col} is null")))
    }

    pub fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>, EngineError> {
        self.opt_text(col)?.map(|s| parse_ts(&s)).transpose()
    }

    pub fn opt_money(&self, col: &str) -> Result<Option<Decimal>, EngineError> {
        Ok(self.opt_int(col)?.map(money_from_e4))
    }
}
