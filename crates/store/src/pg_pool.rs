//! A pool of PostgreSQL connections of our own: sqlx's pool pings every connection it takes
//! back (`return_to_pool`), a round trip after every command and read that cannot be turned off.
//! Here a connection goes back to the pool only when it is known clean: its last statement
//! finished (a cancelled or failed-in-transport statement may have left replies unread) and it is
//! in no transaction. Anything else is closed and replaced by a fresh connection on demand.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, PgConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::sql::{DbError, DbRow, Sql, Val};

/// A pooled connection idle at least this long is pinged before it is handed out (one just
/// used is not: a lost connection still fails its statement as unavailable).
pub(crate) const PING_IDLE: Duration = Duration::from_secs(1);

/// A connection idle this long is closed rather than kept (sqlx's pool's default).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// At most `max` connections, handed out newest-idle first.
pub(crate) struct PgPool {
    connect: PgConnectOptions,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<(PgConnection, Instant)>>,
    max: u32,
    timeout: Duration,
}

impl PgPool {
    /// A pool of up to `max` connections to `connect`; an acquire (connecting included) waits at
    /// most `timeout`, then fails as [`sqlx::Error::PoolTimedOut`].
    pub(crate) fn new(connect: PgConnectOptions, max: u32, timeout: Duration) -> Arc<Self> {
        Arc::new(PgPool {
            connect,
            permits: Arc::new(Semaphore::new(max as usize)),
            idle: Mutex::new(Vec::new()),
            max,
            timeout,
        })
    }

    /// Open connections: handed out plus idle.
    pub(crate) fn size(&self) -> u32 {
        let idle = self.num_idle();
        let out = self.max as usize - self.permits.available_permits();
        (idle + out) as u32
    }

    pub(crate) fn num_idle(&self) -> usize {
        self.idle.lock().expect("pool lock").len()
    }

    pub(crate) fn max(&self) -> u32 {
        self.max
    }

    /// A connection, within the pool's timeout.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Result<PooledPg, sqlx::Error> {
        tokio::time::timeout(self.timeout, self.acquire_now())
            .await
            .unwrap_or(Err(sqlx::Error::PoolTimedOut))
    }

    async fn acquire_now(self: &Arc<Self>) -> Result<PooledPg, sqlx::Error> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let idle = self.idle.lock().expect("pool lock").pop();
            let Some((mut conn, since)) = idle else {
                break;
            };
            if since.elapsed() >= PING_IDLE && conn.ping().await.is_err() {
                continue; // lost while idle: dropped, try the next
            }
            return Ok(self.pooled(conn, permit));
        }
        let mut conn = PgConnection::connect_with(&self.connect).await?;
        // A connection closed mid-statement (its request cancelled) gives its permit back at
        // once, but its backend would run on, in its transaction, until its statement ended (a
        // wait for a row lock included): the node's backends would outnumber the pool, and hold
        // their places in lock queues. PostgreSQL 14 and later end such a backend once they see
        // the client gone; earlier versions do not have the setting, hence the condition.
        sqlx::Executor::execute(
            &mut conn,
            "SELECT set_config('client_connection_check_interval', '1s', false) \
             WHERE current_setting('server_version_num')::int >= 140000",
        )
        .await?;
        Ok(self.pooled(conn, permit))
    }

    fn pooled(self: &Arc<Self>, conn: PgConnection, permit: OwnedSemaphorePermit) -> PooledPg {
        PooledPg {
            conn: Some(conn),
            clean: true,
            pool: Arc::clone(self),
            _permit: permit,
        }
    }

    /// Takes `conn` back, and closes connections idle past [`IDLE_TIMEOUT`] (the oldest are at
    /// the bottom of the stack).
    fn release(&self, conn: PgConnection) {
        let mut idle = self.idle.lock().expect("pool lock");
        let stale = idle
            .iter()
            .take_while(|(_, since)| since.elapsed() >= IDLE_TIMEOUT)
            .count();
        idle.drain(..stale);
        idle.push((conn, Instant::now()));
    }
}

/// A connection out of the pool; back into it when dropped if clean (see the module's doc),
/// closed otherwise.
pub(crate) struct PooledPg {
    conn: Option<PgConnection>,
    clean: bool,
    pool: Arc<PgPool>,
    _permit: OwnedSemaphorePermit,
}

impl PooledPg {
    /// The connection, marked unclean until [`PooledPg::settled`] says its work finished (a
    /// future dropped in between leaves it unclean, so it is closed, not reused).
    pub(crate) fn start(&mut self) -> &mut PgConnection {
        self.clean = false;
        self.conn
            .as_mut()
            .expect("a pooled connection until dropped")
    }

    /// Marks the connection clean again after `result`, unless the failure may have left the
    /// connection unusable (anything but the database's own refusal of a statement).
    pub(crate) fn settled<T>(&mut self, result: &Result<T, sqlx::Error>) {
        self.clean = match result {
            Ok(_) => true,
            Err(e) => refused(e),
        };
    }
}

impl Drop for PooledPg {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.clean && !conn.is_in_transaction() {
                self.pool.release(conn);
            }
        }
    }
}

#[async_trait]
impl Sql for PooledPg {
    fn lock(&self) -> &'static str {
        ""
    }

    async fn fetch(&mut self, sql: &str, args: &[Val]) -> Result<Vec<DbRow>, DbError> {
        let result = self.start().fetch(sql, args).await;
        self.settled_db(&result);
        result
    }

    async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
        let result = self.start().exec(sql, args).await;
        self.settled_db(&result);
        result
    }
}

impl PooledPg {
    fn settled_db<T>(&mut self, result: &Result<T, DbError>) {
        // A statement that could not be bound was never sent.
        self.clean = match result {
            Ok(_) | Err(DbError::Bind(_)) => true,
            Err(DbError::Sqlx(e)) => refused(e),
            Err(_) => false,
        };
    }
}

/// Whether `e` is the database's refusal of a statement on a connection that stays usable: not a
/// transport error, and not the error PostgreSQL sends as it ends the session (FATAL:
/// `pg_terminate_backend`, a shutdown, a lost connection), after which the socket is closed.
fn refused(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(_)) && !crate::sql::unavailable(e)
}

/// Reads outside a transaction: a connection taken on the first statement and given back when
/// the reader is dropped (a read's statements share it).
pub(crate) struct PgReader {
    pool: Arc<PgPool>,
    conn: Option<PooledPg>,
}

impl PgReader {
    pub(crate) fn new(pool: Arc<PgPool>) -> Self {
        PgReader { pool, conn: None }
    }

    async fn conn(&mut self) -> Result<&mut PooledPg, DbError> {
        if self.conn.is_none() {
            self.conn = Some(self.pool.acquire().await?);
        }
        Ok(self.conn.as_mut().expect("just taken"))
    }
}

#[async_trait]
impl Sql for PgReader {
    fn lock(&self) -> &'static str {
        ""
    }

    async fn fetch(&mut self, sql: &str, args: &[Val]) -> Result<Vec<DbRow>, DbError> {
        self.conn().await?.fetch(sql, args).await
    }

    async fn exec(&mut self, sql: &str, args: &[Val]) -> Result<u64, DbError> {
        self.conn().await?.exec(sql, args).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pool(test: &str, max: u32) -> Option<Arc<PgPool>> {
        let url = crate::testing::postgres_schema(test).await?;
        let connect = std::str::FromStr::from_str(&url).expect("a PostgreSQL URL");
        Some(PgPool::new(connect, max, Duration::from_secs(5)))
    }

    async fn pid(pool: &Arc<PgPool>) -> i64 {
        let mut conn = pool.acquire().await.expect("a connection");
        let rows = conn
            .fetch("SELECT pg_backend_pid()::int8 AS pid", &[])
            .await
            .expect("the pid");
        rows[0].int("pid").expect("an integer")
    }

    #[tokio::test]
    async fn a_clean_connection_is_reused_after_a_statement_and_after_a_refused_one() {
        let Some(pool) = pool("pool_reuse", 2).await else {
            return;
        };
        let first = pid(&pool).await;
        assert_eq!(pid(&pool).await, first, "kept open, not reconnected");
        let mut conn = pool.acquire().await.unwrap();
        let refused = conn.fetch("SELECT * FROM no_such_table", &[]).await;
        assert!(refused.is_err());
        drop(conn);
        assert_eq!(
            pid(&pool).await,
            first,
            "a refused statement leaves it usable"
        );
        assert_eq!((pool.size(), pool.num_idle()), (1, 1));
    }

    #[tokio::test]
    async fn a_connection_whose_statement_was_cancelled_is_closed_not_reused() {
        let Some(pool) = pool("pool_cancel", 2).await else {
            return;
        };
        let first = pid(&pool).await;
        let mut conn = pool.acquire().await.unwrap();
        let cancelled = tokio::time::timeout(
            Duration::from_millis(50),
            conn.fetch("SELECT pg_sleep(5)", &[]),
        )
        .await;
        assert!(cancelled.is_err(), "the statement outlived the timeout");
        drop(conn);
        assert_eq!(pool.num_idle(), 0, "closed");
        assert_ne!(pid(&pool).await, first, "a fresh connection");
    }

    #[tokio::test]
    async fn a_connection_left_in_a_transaction_is_closed_and_its_row_locks_released() {
        let Some(pool) = pool("pool_in_tx", 2).await else {
            return;
        };
        let mut setup = pool.acquire().await.unwrap();
        setup
            .exec("CREATE TABLE t (id int PRIMARY KEY)", &[])
            .await
            .unwrap();
        setup.exec("INSERT INTO t VALUES (1)", &[]).await.unwrap();
        drop(setup);
        let mut conn = pool.acquire().await.unwrap();
        let first = pid(&pool).await; // another connection: `conn` is out
        let mut tx = conn.start().begin().await.unwrap();
        sqlx::Executor::execute(&mut *tx, "SELECT id FROM t FOR UPDATE")
            .await
            .unwrap();
        // Neither committed nor rolled back (no rollback queued either): still in the transaction
        // when handed back, though its last statement finished.
        std::mem::forget(tx);
        conn.settled(&Ok(()));
        drop(conn);
        assert_eq!(pool.num_idle(), 1, "only the other connection is idle");
        assert_eq!(pid(&pool).await, first);
        let mut other = pool.acquire().await.unwrap();
        other.exec("SET lock_timeout = '10s'", &[]).await.unwrap();
        let locked = other
            .exec("UPDATE t SET id = 2 WHERE id = 1", &[])
            .await
            .unwrap();
        assert_eq!(locked, 1, "the row lock went with the closed connection");
    }

    #[tokio::test]
    async fn a_backend_whose_statement_was_cancelled_does_not_outlive_its_connection() {
        let Some(pool) = pool("pool_orphan", 3).await else {
            return;
        };
        let mut locker = pool.acquire().await.unwrap();
        locker
            .exec("CREATE TABLE t (id int PRIMARY KEY)", &[])
            .await
            .unwrap();
        locker.exec("INSERT INTO t VALUES (1)", &[]).await.unwrap();
        let mut tx = locker.start().begin().await.unwrap();
        sqlx::Executor::execute(&mut *tx, "SELECT id FROM t FOR UPDATE")
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let cancelled = tokio::time::timeout(
            Duration::from_millis(200),
            conn.fetch("SELECT id AS orphan_waiter FROM t FOR UPDATE", &[]),
        )
        .await;
        assert!(cancelled.is_err(), "it waited for the row lock");
        drop(conn);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let mut watcher = pool.acquire().await.unwrap();
        let rows = watcher
            .fetch(
                "SELECT count(*)::int8 AS n FROM pg_stat_activity \
                 WHERE query LIKE 'SELECT id AS orphan_waiter%' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(
            rows[0].int("n").unwrap(),
            0,
            "the cancelled statement's backend still waits for the lock"
        );
        tx.rollback().await.unwrap();
        locker.settled(&Ok(()));
    }

    #[tokio::test]
    async fn an_idle_connection_lost_is_replaced_after_its_ping() {
        let Some(pool) = pool("pool_idle_ping", 2).await else {
            return;
        };
        let first = pid(&pool).await;
        let url = std::env::var(crate::testing::POSTGRES_URL_VAR).unwrap();
        let mut admin = PgConnection::connect(&url).await.unwrap();
        sqlx::query("SELECT pg_terminate_backend($1::int4)")
            .bind(first as i32)
            .execute(&mut admin)
            .await
            .unwrap();
        tokio::time::sleep(PING_IDLE + Duration::from_millis(100)).await;
        assert_ne!(
            pid(&pool).await,
            first,
            "the lost connection was pinged and replaced"
        );
    }

    #[tokio::test]
    async fn a_connection_terminated_while_out_is_closed_after_its_error_not_reused() {
        let Some(pool) = pool("pool_terminated", 2).await else {
            return;
        };
        let mut conn = pool.acquire().await.unwrap();
        let rows = conn
            .fetch("SELECT pg_backend_pid()::int8 AS pid", &[])
            .await
            .unwrap();
        let first = rows[0].int("pid").unwrap();
        let url = std::env::var(crate::testing::POSTGRES_URL_VAR).unwrap();
        let mut admin = PgConnection::connect(&url).await.unwrap();
        sqlx::query("SELECT pg_terminate_backend($1::int4)")
            .bind(first as i32)
            .execute(&mut admin)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // PostgreSQL's FATAL 57P01 arrives as a database error, then the socket is closed.
        let lost = conn.fetch("SELECT 1 AS one", &[]).await;
        assert!(lost.is_err());
        drop(conn);
        assert_eq!(pool.num_idle(), 0, "a terminated connection is not kept");
        let mut next = pool.acquire().await.unwrap();
        next.fetch("SELECT 1 AS one", &[])
            .await
            .expect("the next request is served");
    }

    #[tokio::test]
    async fn a_full_pool_times_out_as_unavailable() {
        let Some(url) = crate::testing::postgres_schema("pool_timeout").await else {
            return;
        };
        let connect = std::str::FromStr::from_str(&url).unwrap();
        let pool = PgPool::new(connect, 1, Duration::from_millis(100));
        let held = pool.acquire().await.unwrap();
        let err = pool.acquire().await.err().expect("no connection free");
        assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err}");
        assert!(crate::sql::unavailable(&err));
        drop(held);
        assert!(pool.acquire().await.is_ok());
    }
}
