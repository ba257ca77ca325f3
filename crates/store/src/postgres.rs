//! PostgreSQL: every command is one transaction that locks the rows it reads
//! (`SELECT … FOR UPDATE`), so several didpool nodes can share one database. Conflicting commands
//! wait for each other's row locks; a deadlock or serialization failure is retried.

use std::str::FromStr;

use async_trait::async_trait;
use didpool_core::idempotency::KeyStep;
use didpool_core::lifecycle::{Command, Context, Outcome};
use didpool_core::EngineError;
use futures::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Executor, PgConnection};

use crate::backend::{run_command, Backend, DbStore, Work};
use crate::ops::db_err;
use crate::sql::{bind_pg, DbError, DbRow, Sql, Val};
use crate::{Durability, OpenError, Options};

pub type PgStore = DbStore<Postgres>;

/// How often a command is retried after a deadlock or serialization failure.
const RETRIES: usize = 5;

/// A pooled connection idle at least this long is pinged before it is handed out.
const PING_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Clone)]
pub struct Postgres {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) and applies the migrations (under an advisory lock, so
    /// nodes starting together migrate once).
    pub async fn open(url: &str, options: &Options) -> Result<Self, OpenError> {
        let synchronous_commit = match options.durability {
            Durability::Full => "on",
            Durability::Relaxed => "off",
        };
        let connect =
            PgConnectOptions::from_str(url)?.options([("synchronous_commit", synchronous_commit)]);
        let pool = PgPoolOptions::new()
            .max_connections(options.pool_size.unwrap_or(10))
            .acquire_timeout(options.pool_timeout.unwrap_or(crate::POOL_TIMEOUT))
            // sqlx pings every connection it hands out: a round trip before each command and each
            // read. A connection back in the pool within `PING_IDLE` was just used; only one idle
            // longer is checked (a lost connection still fails its statement as unavailable).
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(connect)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(DbStore(Postgres { pool }, Default::default()))
    }

    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }
}

fn retryable(e: &EngineError) -> bool {
    let EngineError::Storage(source) = e else {
        return false;
    };
    let Some(sqlx::Error::Database(d)) = source.downcast_ref::<sqlx::Error>() else {
        return false;
    };
    matches!(d.code().as_deref(), Some("40001" | "40P01"))
}

#[async_trait]
impl Backend for Postgres {
    fn report_metrics(&self) {
        metrics::gauge!("didpool_pg_pool_connections").set(f64::from(self.pool.size()));
        metrics::gauge!("didpool_pg_pool_idle_connections").set(self.pool.num_idle() as f64);
        metrics::gauge!("didpool_pg_pool_max_connections")
            .set(f64::from(self.pool.options().get_max_connections()));
    }

    async fn after_bulk_load(&self) -> Result<(), EngineError> {
        sqlx::query("ANALYZE numbers")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(EngineError::storage)
    }

    fn reader(&self) -> Result<Box<dyn Sql>, EngineError> {
        Ok(Box::new(self.pool.clone()))
    }

    async fn transact<T: Send + 'static>(&self, work: Work<T>) -> Result<T, EngineError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| db_err(DbError::Sqlx(e)))?;
        let result = work(&mut *tx).await?;
        tx.commit().await.map_err(|e| db_err(DbError::Sqlx(e)))?;
        Ok(result)
    }

    async fn ready(&self) -> Result<(), EngineError> {
        // A standby answers reads but refuses every write.
        let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| db_err(DbError::Sqlx(e)))?;
        if standby {
            return Err(EngineError::unavailable(
                "the database is a read-only standby",
            ));
        }
        Ok(())
    }

    async fn execute(
        &self,
        cmd: Command,
        ctx: Context,
        step: Option<KeyStep>,
    ) -> Result<Outcome, EngineError> {
        let mut attempt = 0;
        loop {
            let mut tx = self
                .pool
                .begin()
                .await
                .map_err(|e| db_err(DbError::Sqlx(e)))?;
            let result = run_command(&mut *tx, &cmd, &ctx, step.as_ref()).await;
            let result = match result {
                Ok(changes) => tx
                    .commit()
                    .await
                    .map(|()| changes)
                    .map_err(|e| db_err(DbError::Sqlx(e))),
                Err(e) => {
                    let _ = tx.rollback().await;
                    Err(e)
                }
            };
            match result {
                Err(e) if retryable(&e) && attempt < RETRIES => {
                    attempt += 1;
                    tracing::debug!(attempt, error = %e, "retrying a command after a lock conflict");
                }
                other => return other,
            }
        }
    }
}

#[async_trait]
impl Sql for PgConnection {
    fn lock(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn combines_writes(&self) -> bool {
        true
    }

    async fn fetch(&mut self, sql: &str, args: &[Val]) -> Result<Vec<DbRow>, DbError> {
        let q = bind_pg(sqlx::query(sql), args).map_err(|e| DbError::Bind(e.to_string()))?;
        let rows = Executor::fetch(&mut *self, q)
            .map_ok(DbRow::Pg)
            .try_collect()
            .await?;
        Ok(rows)
    }

    async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
        let q = bind_pg(sqlx::query(sql), args).map_err(|e| DbError::Bind(e.to_string()))?;
        Ok(Executor::execute(&mut *self, q).await?.rows_affected())
    }
}

#[async_trait]
impl Sql for PgPool {
    fn lock(&self) -> &'static str {
        ""
    }

    async fn fetch(&mut self, sql: &str, args: &[Val]) -> Result<Vec<DbRow>, DbError> {
        let q = bind_pg(sqlx::query(sql), args).map_err(|e| DbError::Bind(e.to_string()))?;
        let rows = Executor::fetch(&*self, q)
            .map_ok(DbRow::Pg)
            .try_collect()
            .await?;
        Ok(rows)
    }

    async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
        let q = bind_pg(sqlx::query(sql), args).map_err(|e| DbError::Bind(e.to_string()))?;
        Ok(Executor::execute(&*self, q).await?.rows_affected())
    }
}
