//! SQLite: one writer task owns the write connection and commits the commands waiting in its
//! queue together (each in its own savepoint, so a failing command rolls back alone): one fsync
//! per batch instead of one per command. Reads use a pool of WAL readers.

mod read;
mod rows;
mod write;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use didpool_core::audit::{AssignmentAudit, NumberEvent};
use didpool_core::credential::{Credential, CredentialKind, TokenHash};
use didpool_core::lifecycle::{Changes, Command, Context};
use didpool_core::store::{LedgerPage, LedgerQuery, NumberQuery, Page, SubAccountQuery};
use didpool_core::{
    Account, AccountId, EngineError, Number, NumberId, Store, Trunk, TrunkId, E164,
};
use futures::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::{Durability, OpenError, Options};

/// Delivers a job's result once its batch's commit is known.
type Reply = Box<dyn FnOnce(Option<&sqlx::Error>) + Send>;
/// A unit of work run on the writer connection inside the batch's transaction.
type Job = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Reply> + Send>;

/// How many queued commands one commit may carry.
const MAX_BATCH: usize = 256;

#[derive(Clone)]
pub struct SqliteStore {
    reads: SqlitePool,
    writer: mpsc::Sender<Job>,
}

impl SqliteStore {
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
            // Checkpoints run on their own task, off the request path.
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
        tokio::spawn(write::run_writer(write_conn, rx));
        tokio::spawn(checkpointer(base));
        Ok(Self { reads, writer: tx })
    }

    /// Runs `f` on the writer connection in its own savepoint and answers after the commit.
    async fn write<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, EngineError>>
            + Send
            + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            Box::pin(async move {
                let result = write::in_savepoint(conn, f).await;
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
            .map_err(|_| EngineError::Storage("the writer dropped a command".into()))?
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
impl Store for SqliteStore {
    async fn execute(&self, cmd: Command, ctx: Context) -> Result<Changes, EngineError> {
        self.write(move |conn| {
            Box::pin(async move {
                let snapshot = write::load(conn, &cmd.needs(&ctx)).await?;
                let changes = cmd.decide(&ctx, &snapshot)?;
                write::apply(conn, &changes).await?;
                Ok(changes)
            })
        })
        .await
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>, EngineError> {
        read::account(&self.reads, id).await
    }

    async fn credential(
        &self,
        kind: CredentialKind,
        hash: &TokenHash,
    ) -> Result<Option<Credential>, EngineError> {
        read::credential(&self.reads, kind, hash).await
    }

    async fn credentials_of(&self, account: &AccountId) -> Result<Vec<Credential>, EngineError> {
        read::credentials_of(&self.reads, account).await
    }

    async fn number_by_e164(&self, e164: &E164) -> Result<Option<Number>, EngineError> {
        read::number_by_e164(&self.reads, e164).await
    }

    async fn number(&self, id: NumberId) -> Result<Option<Number>, EngineError> {
        read::number(&self.reads, id).await
    }

    async fn numbers(&self, query: &NumberQuery) -> Result<Page<Number>, EngineError> {
        read::numbers(&self.reads, query).await
    }

    async fn sub_accounts(
        &self,
        parent: &AccountId,
        query: &SubAccountQuery,
    ) -> Result<Page<Account>, EngineError> {
        read::sub_accounts(&self.reads, parent, query).await
    }

    async fn trunk(&self, id: TrunkId) -> Result<Option<Trunk>, EngineError> {
        read::trunk(&self.reads, id).await
    }

    async fn trunks(
        &self,
        account: &AccountId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Trunk>, EngineError> {
        read::trunks(&self.reads, account, limit, offset).await
    }

    async fn ledger(&self, query: &LedgerQuery) -> Result<LedgerPage, EngineError> {
        read::ledger(&self.reads, query).await
    }

    async fn events(&self, number: NumberId) -> Result<Vec<NumberEvent>, EngineError> {
        read::events(&self.reads, number).await
    }

    async fn assignment_audits(
        &self,
        number: NumberId,
    ) -> Result<Vec<AssignmentAudit>, EngineError> {
        read::assignment_audits(&self.reads, number).await
    }
}

pub(crate) fn db_err(e: sqlx::Error) -> EngineError {
    EngineError::storage(e)
}
