//! SQLite: one writer thread owns the write connection and commits the commands waiting in its
//! queue together (each in its own savepoint, so a failing command rolls back alone): one fsync
//! per batch instead of one per command. The writer runs its statements in place (rusqlite), with
//! no hand-off per statement. Reads use a pool of WAL readers; checkpoints run on their own task,
//! off the request path.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use didpool_core::idempotency::KeyStep;
use didpool_core::lifecycle::{Command, Context, Outcome};
use didpool_core::EngineError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection as _};
use tokio::sync::{mpsc, oneshot};

use crate::backend::{run_command, run_tracked, Backend, DbStore, Failure, Work};
use crate::lite::{LiteConn, LitePool};
use crate::ops::db_err;
use crate::sql::Sql;
use crate::{Durability, OpenError, Options};

pub type SqliteStore = DbStore<Sqlite>;

/// A command for the writer, and where its result goes once its batch's commit is known.
struct Cmd {
    cmd: Command,
    ctx: Context,
    step: Option<KeyStep>,
    reply: oneshot::Sender<Result<Outcome, EngineError>>,
}

/// Work run on the write connection in a transaction of its own: it answers its caller itself
/// and says whether the connection is still fit to write on.
type Transaction = Box<dyn FnOnce(Result<&mut LiteConn, EngineError>) -> bool + Send>;

/// Runs `work` in a transaction on `conn`; the result, and whether the connection is still fit
/// (`BEGIN` and `COMMIT` succeeded or the work refused).
fn in_transaction<T>(
    conn: Result<&mut LiteConn, EngineError>,
    work: Work<T>,
) -> (Result<T, EngineError>, bool) {
    let conn = match conn {
        Ok(conn) => conn,
        Err(e) => return (Err(e), true),
    };
    if let Err(e) = conn.run("BEGIN IMMEDIATE") {
        return (Err(EngineError::unavailable(e)), false);
    }
    // Every statement completes in place, so the future is ready when polled.
    match futures::executor::block_on(work(&mut *conn)) {
        Ok(result) => match conn.run("COMMIT") {
            Ok(()) => (Ok(result), true),
            Err(e) => {
                let _ = conn.run("ROLLBACK");
                (Err(EngineError::unavailable(e)), false)
            }
        },
        Err(e) => {
            let _ = conn.run("ROLLBACK");
            (Err(e), true)
        }
    }
}

/// What the writer is asked to do. Nearly every job is a command, so it is not boxed (a probe
/// is rare).
#[allow(clippy::large_enum_variant)]
enum Job {
    Run(Cmd),
    /// A small transaction of its own (an idempotency key's claim or answer), run on the
    /// write connection between batches.
    Transact(Transaction),
    /// Whether a write transaction can begin now (reopening the connection if it failed).
    Probe(oneshot::Sender<Result<(), EngineError>>),
}

/// How many queued commands one commit may carry.
const MAX_BATCH: usize = 256;
/// How often the writer lets the WAL start over (see `run_writer`).
const WAL_REWIND_EVERY: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Sqlite {
    path: PathBuf,
    reads: Arc<LitePool>,
    writer: mpsc::Sender<Job>,
    file: Arc<DbFile>,
}

/// The database file the store opened, known by its device and inode: a file removed or
/// replaced under the running server (its connections keep writing to the old inode, which no
/// restart would find) is detected before every batch and by [`Store::ready`], and from then on
/// every write is refused until an operator restores the file and restarts didpool.
///
/// [`Store::ready`]: didpool_core::Store::ready
struct DbFile {
    path: PathBuf,
    id: Option<(u64, u64)>,
    gone: AtomicBool,
}

impl DbFile {
    fn new(path: PathBuf) -> Self {
        let id = file_id(&path);
        Self {
            path,
            id,
            gone: AtomicBool::new(false),
        }
    }

    /// `Unavailable` once the path no longer names the file opened (logged once).
    fn check(&self) -> Result<(), EngineError> {
        if !self.gone.load(Ordering::Relaxed) {
            if file_id(&self.path) == self.id {
                return Ok(());
            }
            if !self.gone.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    path = %self.path.display(),
                    "the SQLite database file was removed or replaced while serving: every write \
                     is refused until it is restored and didpool restarted"
                );
            }
        }
        Err(EngineError::unavailable(format!(
            "the database file {} was removed or replaced while serving",
            self.path.display()
        )))
    }
}

/// A file's device and inode (`None` where there is no file, or off Unix).
fn file_id(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Some((0, 0))
    }
}

/// Refuses a file that exists but cannot be written (a read-only file, directory or filesystem):
/// serving it would answer every write with an error.
fn check_writable(path: &Path) -> Result<(), OpenError> {
    let refuse = |why: String| OpenError::ReadOnly(path.to_owned(), why);
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| refuse(e.to_string()))?;
    if conn
        .is_readonly(rusqlite::DatabaseName::Main)
        .unwrap_or(true)
    {
        return Err(refuse("opened read-only".into()));
    }
    conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")
        .map_err(|e| refuse(e.to_string()))
}

impl SqliteStore {
    /// Opens and migrates the database at `url` (`sqlite://PATH`), creating the file only with
    /// [`Options::create_if_missing`]. A file that cannot be written is refused.
    pub async fn open(url: &str, options: &Options) -> Result<Self, OpenError> {
        let synchronous = match options.durability {
            Durability::Full => "FULL",
            Durability::Relaxed => "NORMAL",
        };
        // sqlx creates the file, sets WAL (kept in the file) and applies the migrations.
        let setup = SqliteConnectOptions::from_str(url)?
            .create_if_missing(options.create_if_missing)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let path = setup.get_filename().to_owned();
        if path.exists() {
            let probe = path.clone();
            tokio::task::spawn_blocking(move || check_writable(&probe))
                .await
                .map_err(|e| OpenError::Sqlite(e.into()))??;
        } else if !options.create_if_missing {
            return Err(OpenError::Missing(path));
        }
        let mut migrator = setup.connect().await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut migrator)
            .await?;
        migrator.close().await?;

        let writer =
            LiteConn::open(&path, false, synchronous).map_err(|e| OpenError::Sqlite(e.into()))?;
        let checkpoints =
            LiteConn::open(&path, false, synchronous).map_err(|e| OpenError::Sqlite(e.into()))?;
        let file = Arc::new(DbFile::new(path.clone()));
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let writer = Writer {
            conn: Some(writer),
            file: file.clone(),
            synchronous,
        };
        spawn("didpool-writer", move || run_writer(writer, rx))?;
        let open = tx.downgrade();
        spawn("didpool-checkpoint", move || {
            checkpointer(checkpoints, open)
        })?;
        Ok(DbStore(
            Sqlite {
                reads: LitePool::new(path.clone()),
                path,
                writer: tx,
                file,
            },
            Default::default(),
        ))
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
        // A new read connection opens the path: never a file that replaced the one served.
        if self.file.gone.load(Ordering::Relaxed) {
            self.file.check()?;
        }
        Ok(Box::new(self.reads.get().map_err(db_err)?))
    }

    fn report_metrics(&self) {
        let waiting = self.writer.max_capacity() - self.writer.capacity();
        metrics::gauge!("didpool_sqlite_writer_queue_depth").set(waiting as f64);
    }

    async fn ready(&self) -> Result<(), EngineError> {
        self.file.check()?;
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job::Probe(reply))
            .await
            .map_err(|_| EngineError::Storage("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| EngineError::Storage("the writer has stopped".into()))?
    }

    async fn after_bulk_load(&self) -> Result<(), EngineError> {
        // Waits for readers and the writer's batch in flight (busy timeout), then empties the WAL.
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || LiteConn::open(&path, false, "FULL")?.truncate_wal())
            .await
            .map_err(EngineError::storage)?
            .map_err(db_err)
    }

    async fn transact<T: Send + 'static>(&self, work: Work<T>) -> Result<T, EngineError> {
        let (reply, rx) = oneshot::channel();
        let job: Transaction = Box::new(move |conn| {
            let (result, healthy) = in_transaction(conn, work);
            let _ = reply.send(result);
            healthy
        });
        self.writer
            .send(Job::Transact(job))
            .await
            .map_err(|_| EngineError::Storage("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| EngineError::Storage("the write transaction could not begin".into()))?
    }

    async fn execute(
        &self,
        cmd: Command,
        ctx: Context,
        step: Option<KeyStep>,
    ) -> Result<Outcome, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job::Run(Cmd {
                cmd,
                ctx,
                step,
                reply,
            }))
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
fn run_writer(mut writer: Writer, mut queue: mpsc::Receiver<Job>) {
    let mut batch: Vec<Cmd> = Vec::with_capacity(MAX_BATCH);
    let mut probes = Vec::new();
    let mut transactions = Vec::new();
    let mut rewound = Instant::now();
    while let Some(first) = queue.blocking_recv() {
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Run(cmd) => batch.push(cmd),
                Job::Transact(work) => transactions.push(work),
                Job::Probe(reply) => probes.push(reply),
            }
            next = (batch.len() < MAX_BATCH)
                .then(|| queue.try_recv().ok())
                .flatten();
        }
        metrics::gauge!("didpool_sqlite_writer_queue_depth").set(queue.len() as f64);
        if !batch.is_empty() {
            metrics::histogram!("didpool_sqlite_batch_size").record(batch.len() as f64);
            writer.write(&mut batch, &mut rewound);
        }
        for work in transactions.drain(..) {
            writer.transact(work);
        }
        for reply in probes.drain(..) {
            let _ = reply.send(writer.probe());
        }
    }
}

/// The write connection, and what it takes to replace it.
struct Writer {
    /// `None` after a failed batch: reopened before the next write.
    conn: Option<LiteConn>,
    file: Arc<DbFile>,
    synchronous: &'static str,
}

impl Writer {
    /// The connection to write on, as long as the path still names the file opened; one
    /// dropped after a failure is opened again, so writes recover once the fault clears (space
    /// freed, the filesystem writable again) without a restart.
    fn conn(&mut self) -> Result<&mut LiteConn, EngineError> {
        self.file.check()?;
        if self.conn.is_none() {
            let conn = LiteConn::open(&self.file.path, false, self.synchronous)
                .map_err(EngineError::unavailable)?;
            tracing::info!("reopened the SQLite write connection");
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut().expect("just opened"))
    }

    /// Runs a transaction of its own; a connection it found unfit is reopened before the next
    /// write.
    fn transact(&mut self, work: Transaction) {
        if !work(self.conn()) {
            self.conn = None;
        }
    }

    /// Whether a write transaction can begin now.
    fn probe(&mut self) -> Result<(), EngineError> {
        let conn = self.conn()?;
        let began = conn
            .run("BEGIN IMMEDIATE")
            .and_then(|()| conn.run("ROLLBACK"));
        began.map_err(|e| {
            self.conn = None;
            EngineError::unavailable(e)
        })
    }

    /// Runs and commits a batch, then answers each command. A batch that cannot be committed is
    /// a fault of the storage, not of its commands: each is answered `Unavailable` (nothing was
    /// written) and the connection is reopened before the next batch.
    fn write(&mut self, batch: &mut Vec<Cmd>, rewound: &mut Instant) {
        let started = Instant::now();
        let conn = match self.conn() {
            Ok(conn) => conn,
            Err(e) => {
                let why = e.to_string();
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(EngineError::unavailable(why.clone())));
                }
                return;
            }
        };
        let outcome = match run_batch(conn, batch, false) {
            Err(Retry::WithSavepoints) => run_batch(conn, batch, true),
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
        let mut failed = false;
        match outcome {
            Ok(results) => {
                for (job, result) in batch.drain(..).zip(results) {
                    failed |= matches!(result, Err(EngineError::Unavailable(_)));
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
                    let error = EngineError::unavailable(format!("not committed: {why}"));
                    let _ = job.reply.send(Err(error));
                }
                failed = true;
            }
        }
        if failed {
            self.conn = None;
        } else if rewound.elapsed() >= WAL_REWIND_EVERY {
            // Busy while the checkpointer copies, or behind a reader: tried again next batch.
            match conn.checkpoint() {
                Ok((frames, copied)) if frames == copied => *rewound = Instant::now(),
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
    batch: &[Cmd],
    savepoints: bool,
) -> Result<Vec<Result<Outcome, EngineError>>, Retry> {
    conn.run("BEGIN IMMEDIATE")
        .map_err(|e| Retry::Abandoned(format!("cannot begin: {e}")))?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        let result = if savepoints {
            in_savepoint(conn, job)?
        } else {
            // Every statement completes in place, so the command's future is ready when polled.
            match futures::executor::block_on(run_tracked(
                conn,
                &job.cmd,
                &job.ctx,
                job.step.as_ref(),
            )) {
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
fn in_savepoint(conn: &mut LiteConn, job: &Cmd) -> Result<Result<Outcome, EngineError>, Retry> {
    let control = |e| Retry::Abandoned(format!("savepoint failed: {e}"));
    conn.run("SAVEPOINT cmd").map_err(control)?;
    let result =
        futures::executor::block_on(run_command(conn, &job.cmd, &job.ctx, job.step.as_ref()));
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
