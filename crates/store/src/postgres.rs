//! PostgreSQL: every command is one transaction that locks the rows it reads
//! (`SELECT … FOR UPDATE`), so several didpool nodes can share one database. Conflicting commands
//! wait for each other's row locks; a deadlock or serialization failure is retried.

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use didpool_core::idempotency::KeyStep;
use didpool_core::lifecycle::{Command, Context, Outcome};
use didpool_core::EngineError;
use futures::TryStreamExt;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, Executor, PgConnection};

use crate::backend::{run_command, Backend, DbStore, Work};
use crate::ops::db_err;
use crate::pg_pool::{PgPool, PgReader, PooledPg};
use crate::sql::{bind_pg, DbError, DbRow, Sql, Val};
use crate::{Durability, OpenError, Options};

pub type PgStore = DbStore<Postgres>;

/// How often a command is retried after a deadlock or serialization failure.
const RETRIES: usize = 5;

#[derive(Clone)]
pub struct Postgres {
    pool: Arc<PgPool>,
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
        let pool = PgPool::new(
            connect,
            options.pool_size.unwrap_or(10),
            options.pool_timeout.unwrap_or(crate::POOL_TIMEOUT),
        );
        let mut conn = pool.acquire().await?;
        let migrated = sqlx::migrate!("./migrations/postgres")
            .run(conn.start())
            .await;
        if migrated.is_ok() {
            conn.settled(&Ok(()));
        }
        migrated?;
        Ok(DbStore(Postgres { pool }, Default::default()))
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

/// Runs `work` in one transaction on a pooled connection: committed if it succeeds, rolled back
/// if it fails. The connection goes back to the pool only if both ends of the transaction were
/// answered (see [`crate::pg_pool`]).
async fn in_transaction<T>(conn: &mut PooledPg, work: Work<T>) -> Result<T, EngineError> {
    let mut tx = conn
        .start()
        .begin()
        .await
        .map_err(|e| db_err(DbError::Sqlx(e)))?;
    let result = work(&mut *tx).await;
    let ended = end(tx, result.is_ok()).await;
    conn.settled(&ended);
    let value = result?;
    ended.map_err(|e| db_err(DbError::Sqlx(e)))?;
    Ok(value)
}

/// Commits `tx` if the work in it succeeded, rolls it back if it failed.
async fn end(
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    succeeded: bool,
) -> Result<(), sqlx::Error> {
    if succeeded {
        tx.commit().await
    } else {
        tx.rollback().await
    }
}

#[async_trait]
impl Backend for Postgres {
    fn report_metrics(&self) {
        metrics::gauge!("didpool_pg_pool_connections").set(f64::from(self.pool.size()));
        metrics::gauge!("didpool_pg_pool_idle_connections").set(self.pool.num_idle() as f64);
        metrics::gauge!("didpool_pg_pool_max_connections").set(f64::from(self.pool.max()));
    }

    async fn after_bulk_load(&self) -> Result<(), EngineError> {
        PgReader::new(Arc::clone(&self.pool))
            .exec("ANALYZE numbers", &[])
            .await
            .map(drop)
            .map_err(db_err)
    }

    fn reader(&self) -> Result<Box<dyn Sql>, EngineError> {
        Ok(Box::new(PgReader::new(Arc::clone(&self.pool))))
    }

    async fn transact<T: Send + 'static>(&self, work: Work<T>) -> Result<T, EngineError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| db_err(DbError::Sqlx(e)))?;
        in_transaction(&mut conn, work).await
    }

    async fn ready(&self) -> Result<(), EngineError> {
        // A standby answers reads but refuses every write.
        let rows = PgReader::new(Arc::clone(&self.pool))
            .fetch("SELECT pg_is_in_recovery() AS standby", &[])
            .await
            .map_err(db_err)?;
        let standby = match rows.first() {
            Some(row) => row.flag("standby")?,
            None => false,
        };
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
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(|e| db_err(DbError::Sqlx(e)))?;
            let mut tx = conn
                .start()
                .begin()
                .await
                .map_err(|e| db_err(DbError::Sqlx(e)))?;
            let result = run_command(&mut *tx, &cmd, &ctx, step.as_ref()).await;
            let ended = end(tx, result.is_ok()).await;
            conn.settled(&ended);
            let result = result.and_then(|outcome| {
                ended
                    .map(|()| outcome)
                    .map_err(|e| db_err(DbError::Sqlx(e)))
            });
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

    fn combines_loads(&self) -> bool {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
    use didpool_core::account::{AccountProfile, NewAccount, Role};
    use didpool_core::engine::By;
    use didpool_core::lifecycle::{Command, Needs};
    use didpool_core::money::{Currency, Decimal};
    use didpool_core::number::NewNumber;
    use didpool_core::{Capabilities, Engine, ManualClock, NumberRef, ReleasePolicy, E164};
    use sqlx::{Connection as _, PgConnection};

    use super::*;
    use crate::ops;
    use crate::testing::{Backend, TestDb};

    /// The same connection, loading as SQLite does: one statement per table.
    struct Separate<'a>(&'a mut PgConnection);

    #[async_trait]
    impl Sql for Separate<'_> {
        fn lock(&self) -> &'static str {
            Sql::lock(&*self.0)
        }
        async fn fetch(&mut self, sql: &str, args: &[Val]) -> Result<Vec<DbRow>, DbError> {
            Sql::fetch(&mut *self.0, sql, args).await
        }
        async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
            Sql::exec(&mut *self.0, sql, args).await
        }
    }

    fn account(name: &str, balance: i64) -> NewAccount {
        NewAccount {
            id: None,
            name: name.into(),
            role: Role::Customer,
            currency: Currency::parse("INR").unwrap(),
            opening_balance: Decimal::from(balance),
            enabled: true,
            profile: AccountProfile::default(),
        }
    }

    #[tokio::test]
    async fn one_statement_loads_the_number_and_its_accounts_as_separate_statements_do() {
        let Some(db) = TestDb::new(Backend::Postgres, "combined_load").await else {
            return;
        };
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap());
        let engine = Engine::new(
            Arc::clone(&db.store),
            Arc::new(clock),
            ReleasePolicy::default(),
        );
        let operator = By::operator(None);
        let (master, _) = engine
            .create_account(&operator, account("Master", 1000), None)
            .await
            .unwrap();
        let by_master = By::account(&master, None);
        let (sub, _) = engine
            .create_account(&by_master, account("Sub", 0), Some(master.id.clone()))
            .await
            .unwrap();
        let (other, _) = engine
            .create_account(&operator, account("Other", 1000), None)
            .await
            .unwrap();
        let e164 = E164::parse("+919800000001").unwrap();
        engine
            .run(
                &operator,
                Command::AddInventory {
                    numbers: vec![NewNumber {
                        country: e164.country().unwrap(),
                        e164: e164.clone(),
                        region: None,
                        capabilities: Capabilities::VOICE,
                        provider: "carrier".into(),
                        setup_fee: Decimal::from(10),
                        monthly_fee: Decimal::from(20),
                        currency: Currency::parse("INR").unwrap(),
                    }],
                },
            )
            .await
            .unwrap();
        engine
            .run(
                &By::account(&sub, None),
                Command::Purchase {
                    number: e164.clone().into(),
                    currency: None,
                    quoted_monthly_fee: None,
                },
            )
            .await
            .unwrap();
        let held = db.store.number_by_e164(&e164).await.unwrap().unwrap();
        let missing = E164::parse("+919800000002").unwrap();
        let mut conn = PgConnection::connect(&db.url).await.unwrap();
        for (number, accounts) in [
            (NumberRef::E164(e164.clone()), vec![]),
            (
                NumberRef::Id(held.id),
                vec![other.id.clone(), sub.id.clone()],
            ),
            (NumberRef::E164(missing), vec![other.id.clone()]),
        ] {
            let needs = Needs {
                number: Some(number.clone()),
                number_accounts: true,
                accounts,
                ..Needs::default()
            };
            let mut tx = conn.begin().await.unwrap();
            let one = ops::load(&mut *tx, &needs).await.unwrap();
            tx.rollback().await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            let separate = ops::load(&mut Separate(&mut tx), &needs).await.unwrap();
            tx.rollback().await.unwrap();
            assert_eq!(one, separate, "{number:?}");
            if matches!(number, NumberRef::E164(ref e) if *e == e164) {
                let ids: Vec<_> = one.accounts.iter().map(|a| a.id.clone()).collect();
                let mut both = vec![master.id.clone(), sub.id.clone()];
                both.sort();
                assert_eq!(ids, both, "the holder and the payer, in id order");
            }
        }
    }
}
