//! SQLite: one writer thread owns the write connection and commits the commands waiting in its
//! queue together (each in its own savepoint, so a failing command rolls back alone): one fsync
//! per batch instead of one per command. The writer runs its statements in place (rusqlite), with
//! no hand-off per statement. Reads use a pool of WAL readers; checkpoints run on their own task,
//! off the request path.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use didpool_core::lifecycle::{Command, Context, Outcome};
use didpool_core::EngineError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection as _};
use tokio::sync::{mpsc, oneshot};

use crate::backend::{run_command, run_tracked, Backend, DbStore, Failure};
use crate::lite::{LiteConn, LitePool};
use crate::ops::db_err;
use crate::sql::Sql;
use crate::{Durability, OpenError, Options};

pub type SqliteStore = DbStore<Sqlite>;

/// A command for the writer, and where its result goes once its batch's commit is known.
struct Job {
    cmd: Command,
    ctx: Context,
    reply: oneshot::Sender<Result<Outcome, EngineError>>,
}

/// How many queued commands one commit may carry.
const MAX_BATCH: usize = 256;
/// How often the writer lets the WAL start over (see `run_writer`).
const WAL_REWIND_EVERY: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Sqlite {
    path: PathBuf,
    reads: std::sync::Arc<LitePool>,
    writer: mpsc::Sender<Job>,
}

impl SqliteStore {
    /// Opens (creating if need be) and migrates the database at `url` (`sqlite://PATH`).
    pub async fn open(url: &str, options: &Options) -> Result<Self, OpenError> {
        let synchronous = match options.durability {
            Durability::Full => "FULL",
            Durability::Relaxed => "NORMAL",
        };
        // sqlx creates the file, sets WAL (kept in the file) and applies the migrations.
        let setup = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let path = setup.get_filename().to_owned();
        let mut migrator = setup.connect().await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut migrator)
            .await?;
        migrator.close().await?;

        let writer =
            LiteConn::open(&path, false, synchronous).map_err(|e| OpenError::Sqlite(e.into()))?;
        let checkpoints =
            LiteConn::open(&path, false, synchronous).map_err(|e| OpenError::Sqlite(e.into()))?;
        let (tx, rx) = mpsc::channel::<Job>(4096);
        spawn("didpool-writer", move || run_writer(writer, rx))?;
        let open = tx.downgrade();
        spawn("didpool-checkpoint", move || {
            checkpointer(checkpoints, open)
        })?;
        Ok(DbStore(Sqlite {
            reads: LitePool::new(path.clone()),
            path,
            writer: tx,
        }))
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), OpenError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map(drop)
        .map_err(|e| OpenError::Sqlite(e.into()))
}

#[async_trait]
impl Backend for Sqlite {
    fn reader(&self) -> Result<Box<dyn Sql>, EngineError> {
        Ok(Box::new(self.reads.get().map_err(db_err)?))
    }

    fn report_metrics(&self) {
        let waiting = self.writer.max_capacity() - self.writer.capacity();
        metrics::gauge!("didpool_sqlite_writer_queue_depth").set(waiting as f64);
    }

    async fn after_bulk_load(&self) -> Result<(), EngineError> {
        // Waits for readers and the writer's batch in flight (busy timeout), then empties the WAL.
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || LiteConn::open(&path, false, "FULL")?.truncate_wal())
            .await
            .map_err(EngineError::storage)?
            .map_err(db_err)
    }

    async fn execute(&self, cmd: Command, ctx: Context) -> Result<Outcome, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job { cmd, ctx, reply })
            .await
            .map_err(|_| EngineError::Storage("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| EngineError::Storage("the write transaction could not begin".into()))?
    }
}

/// Besides committing batches, the writer keeps the WAL short. SQLite starts the WAL over only
/// when a write transaction begins right after a checkpoint has copied all of it, which the
/// background checkpointer (always a batch behind) never achieves under steady writes: the WAL
/// then grows without bound, every commit appends to new disk blocks and a restart must read it
/// all back. So, every `WAL_REWIND_EVERY` and after the replies are out, the writer copies the
/// last frames itself (the checkpointer has copied the rest) and its next transaction rewinds.
fn run_writer(mut conn: LiteConn, mut queue: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut rewound = Instant::now();
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        metrics::histogram!("didpool_sqlite_batch_size").record(batch.len() as f64);
        metrics::gauge!("didpool_sqlite_writer_queue_depth").set(queue.len() as f64);
        let outcome = match run_batch(&mut conn, &batch, false) {
            Err(Retry::WithSavepoints) => run_batch(&mut conn, &batch, true),
            other => other,
        };
        let outcome = outcome.and_then(|results| {
            conn.run("COMMIT")
                .map(|()| results)
                .map_err(|e| Retry::Abandoned(format!("commit failed: {e}")))
        });
        metrics::histogram!(
            "didpool_sqlite_commit_duration_seconds",
            "outcome" => if outcome.is_ok() { "committed" } else { "rolled_back" }
        )
        .record(started.elapsed().as_secs_f64());
        match outcome {
            Ok(results) => {
                for (job, result) in batch.drain(..).zip(results) {
                    let _ = job.reply.send(result);
                }
            }
            Err(failure) => {
                let why = match failure {
                    Retry::Abandoned(why) => why,
                    Retry::WithSavepoints => "a command failed twice".to_owned(),
                };
                tracing::error!(error = %why, "group commit failed; rolling back the batch");
                let _ = conn.run("ROLLBACK");
                for job in batch.drain(..) {
                    let error = EngineError::Storage(format!("not committed: {why}").into());
                    let _ = job.reply.send(Err(error));
                }
            }
        }
        if rewound.elapsed() >= WAL_REWIND_EVERY {
            // Busy while the checkpointer copies, or behind a reader: tried again next batch.
            match conn.checkpoint() {
                Ok((frames, copied)) if frames == copied => rewound = Instant::now(),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
        }
    }
}

/// Why a batch did not get as far as its commit.
enum Retry {
    /// A command failed after writing part of its changes: roll back and run the batch again,
    /// each command in its own savepoint.
    WithSavepoints,
    /// The transaction cannot go on.
    Abandoned(String),
}

/// Runs a batch's commands in one open transaction. Most commands succeed, or are refused before
/// they write, so the first attempt runs them without savepoints (a savepoint journals every page
/// a command touches); a command that fails part-way through its writes sends the batch back for
/// a second run in which each command has its own savepoint and rolls back alone.
fn run_batch(
    conn: &mut LiteConn,
    batch: &[Job],
    savepoints: bool,
) -> Result<Vec<Result<Outcome, EngineError>>, Retry> {
    conn.run("BEGIN IMMEDIATE")
        .map_err(|e| Retry::Abandoned(format!("cannot begin: {e}")))?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let result = if savepoints {
            in_savepoint(conn, &job.cmd, &job.ctx)?
        } else {
            // Every statement completes in place, so the command's future is ready when polled.
            match futures::executor::block_on(run_tracked(conn, &job.cmd, &job.ctx)) {
                Err(Failure { wrote: true, .. }) => {
                    let _ = conn.run("ROLLBACK");
                    return Err(Retry::WithSavepoints);
                }
                other => other.map_err(|f| f.error),
            }
        };
        // SQLite ends the transaction itself after some errors (a full disk, say).
        if conn.autocommit() {
            return Err(Retry::Abandoned(
                "the write transaction was abandoned".into(),
            ));
        }
        results.push(result);
    }
    Ok(results)
}

/// Runs one command in a savepoint: kept on success, rolled back alone on failure. A savepoint
/// that cannot be rolled back leaves the batch unusable.
fn in_savepoint(
    conn: &mut LiteConn,
    cmd: &Command,
    ctx: &Context,
) -> Result<Result<Outcome, EngineError>, Retry> {
    let control = |e| Retry::Abandoned(format!("savepoint failed: {e}"));
    conn.run("SAVEPOINT cmd").map_err(control)?;
    let result = futures::executor::block_on(run_command(conn, cmd, ctx));
    if result.is_err() {
        conn.run("ROLLBACK TO cmd").map_err(control)?;
    }
    conn.run("RELEASE cmd").map_err(control)?;
    Ok(result)
}

/// Moves the WAL into the database file in the background, so writers never pay for it. Stops
/// when the store is dropped (the writer's queue closes).
fn checkpointer(conn: LiteConn, writer: mpsc::WeakSender<Job>) {
    while writer.upgrade().is_some() {
        std::thread::sleep(Duration::from_millis(500));
        match conn.checkpoint() {
            Ok((frames, copied)) => tracing::trace!(frames, copied, "WAL checkpoint"),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}
