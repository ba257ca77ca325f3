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
/// `None` when the batch committed, else why it did not.
type Reply = Box<dyn FnOnce(Option<&str>) + Send>;
/// A command run on the writer connection inside the batch's transaction. Besides its reply it
/// says whether the transaction is still sound (SQLite abandons a whole transaction on some
/// errors, such as a full disk; the batch must then not go on).
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (Reply, bool)> + Send>;

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
                let (result, sound) = in_savepoint(conn, &cmd, &ctx).await;
                let reply = Box::new(move |failure: Option<&str>| {
                    let result = match failure {
                        None => result,
                        Some(why) => {
                            Err(EngineError::Storage(format!("not committed: {why}").into()))
                        }
                    };
                    let _ = tx.send(result);
                }) as Reply;
                (reply, sound)
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
        let mut failure = None;
        for job in batch.drain(..) {
            if failure.is_some() {
                continue; // dropped unrun: its caller gets a storage error
            }
            let (reply, sound) = job(&mut conn).await;
            replies.push(reply);
            if !sound {
                failure = Some("the write transaction was abandoned".to_owned());
            }
        }
        if failure.is_none() {
            if let Err(e) = sqlx::query("COMMIT").execute(&mut conn).await {
                failure = Some(format!("commit failed: {e}"));
            }
        }
        if let Some(why) = &failure {
            tracing::error!(error = %why, "group commit failed; rolling back the batch");
            let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
        }
        for reply in replies {
            reply(failure.as_deref());
        }
    }
}

/// Runs one command in a savepoint: kept on success, rolled back alone on failure. The flag is
/// false when the savepoint itself failed, which leaves the batch's transaction unusable.
async fn in_savepoint(
    conn: &mut SqliteConnection,
    cmd: &Command,
    ctx: &Context,
) -> (Result<Changes, EngineError>, bool) {
    async fn exec(conn: &mut SqliteConnection, sql: &str) -> Result<(), EngineError> {
        sqlx::query(sql)
            .execute(conn)
            .await
            .map(drop)
            .map_err(db_err)
    }
    if let Err(e) = exec(conn, "SAVEPOINT cmd").await {
        return (Err(e), false);
    }
    let result = run_command(conn, cmd, ctx).await;
    if result.is_err() {
        if let Err(e) = exec(conn, "ROLLBACK TO cmd").await {
            return (Err(e), false);
        }
    }
    match exec(conn, "RELEASE cmd").await {
        Ok(()) => (result, true),
        Err(e) => (Err(e), false),
    }
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

    fn e164_fts(&self) -> bool {
        true
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

    fn e164_fts(&self) -> bool {
        true
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
