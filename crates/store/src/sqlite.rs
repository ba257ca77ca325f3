//! SQLite: one writer task owns the write connection and commits the commands waiting in its
//! queue together (each in its own savepoint, so a failing command rolls back alone): one fsync
//! per batch instead of one per command. Reads use a pool of WAL readers; checkpoints run on
//! their own task, off the request path.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use didpool_core::lifecycle::{Changes, Command, Context};
use didpool_core::EngineError;
use futures::future::BoxFuture;
use futures::TryStreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::backend::{run_command, Backend, DbStore};
use crate::ops::db_err;
use crate::sql::{bind_sqlite, DbRow, Sql, Val};
use crate::{Durability, OpenError, Options};

pub type SqliteStore = DbStore<Sqlite>;

/// Delivers a job's result once its batch's commit is known.
type Reply = Box<dyn FnOnce(Option<&sqlx::Error>) + Send>;
/// A command run on the writer connection inside the batch's transaction.
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Reply> + Send>;

/// How many queued commands one commit may carry.
const MAX_BATCH: usize = 256;

#[derive(Clone)]
pub struct Sqlite {
    reads: SqlitePool,
    writer: mpsc::Sender<Job>,
}

impl SqliteStore {
    /// Opens (creating if need be) and migrates the database at `url` (`sqlite://PATH`).
    pub async fn open(url: &str, options: &Options) -> Result<Self, OpenError> {
        let synchronous = match options.durability {
            Durability::Full => SqliteSynchronous::Full,
            Durability::Relaxed => SqliteSynchronous::Normal,
        };
        let base = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));

        let mut write_conn = base
            .clone()
            .pragma("wal_autocheckpoint", "0")
            .connect()
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut write_conn)
            .await?;

        let reads = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(base.clone().read_only(true))
            .await?;

        let (tx, rx) = mpsc::channel::<Job>(4096);
        tokio::spawn(run_writer(write_conn, rx));
        tokio::spawn(checkpointer(base));
        Ok(DbStore(Sqlite { reads, writer: tx }))
    }
}

#[async_trait]
impl Backend for Sqlite {
    fn reader(&self) -> Box<dyn Sql> {
        Box::new(self.reads.clone())
    }

    async fn execute(&self, cmd: Command, ctx: Context) -> Result<Changes, EngineError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let result = in_savepoint(conn, &cmd, &ctx).await;
                Box::new(move |commit_error: Option<&sqlx::Error>| {
                    let result = match commit_error {
                        None => result,
                        Some(e) => Err(EngineError::Storage(format!("commit failed: {e}").into())),
                    };
                    let _ = tx.send(result);
                }) as Reply
            })
        });
        self.writer
            .send(job)
            .await
            .map_err(|_| EngineError::Storage("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| EngineError::Storage("the write transaction could not begin".into()))?
    }
}

async fn run_writer(mut conn: SqliteConnection, mut queue: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await {
            // Dropping the jobs unrun answers each caller with a storage error.
            tracing::error!(error = %e, "cannot begin a write transaction");
            batch.clear();
            continue;
        }
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch.drain(..) {
            replies.push(job(&mut conn).await);
        }
        let error = sqlx::query("COMMIT").execute(&mut conn).await.err();
        if let Some(e) = &error {
            tracing::error!(error = %e, "group commit failed; rolling back the batch");
            let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
        }
        for reply in replies {
            reply(error.as_ref());
        }
    }
}

/// Runs one command in a savepoint: kept on success, rolled back alone on failure.
async fn in_savepoint(
    conn: &mut SqliteConnection,
    cmd: &Command,
    ctx: &Context,
) -> Result<Changes, EngineError> {
    sqlx::query("SAVEPOINT cmd")
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let result = run_command(conn, cmd, ctx).await;
    if result.is_err() {
        sqlx::query("ROLLBACK TO cmd")
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    sqlx::query("RELEASE cmd")
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    result
}

/// Moves the WAL into the database file in the background, so writers never pay for it.
async fn checkpointer(options: SqliteConnectOptions) {
    let Ok(mut conn) = options.connect().await else {
        tracing::error!("the checkpointer cannot connect; the WAL will grow");
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
        if conn.ping().await.is_err() {
            return;
        }
    }
}

#[async_trait]
impl Sql for SqliteConnection {
    fn lock(&self) -> &'static str {
        ""
    }

    async fn fetch(&mut self, sql: &str, args: &[Val]) -> Result<Vec<DbRow>, sqlx::Error> {
        let q = bind_sqlite(sqlx::query(sql), args)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let rows = q
            .fetch(&mut *self)
            .map_ok(DbRow::Sqlite)
            .try_collect()
            .await?;
        Ok(rows)
    }

    async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, sqlx::Error> {
        let q = bind_sqlite(sqlx::query(sql), args)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        Ok(q.execute(&mut *self).await?.rows_affected())
    }
}

#[async_trait]
impl Sql for SqlitePool {
    fn lock(&self) -> &'static str {
        ""
    }

    async fn fetch(&mut self, sql: &str, args: &[Val]) -> Result<Vec<DbRow>, sqlx::Error> {
        let q = bind_sqlite(sqlx::query(sql), args)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let rows = q.fetch(&*self).map_ok(DbRow::Sqlite).try_collect().await?;
        Ok(rows)
    }

    async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, sqlx::Error> {
        let q = bind_sqlite(sqlx::query(sql), args)
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        Ok(q.execute(&*self).await?.rows_affected())
    }
}
