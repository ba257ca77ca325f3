//! The writer: group commit, savepoints, and loading and writing a command's rows.

use didpool_core::lifecycle::{Changes, Needs, Snapshot, Write};
use didpool_core::EngineError;
use futures::future::BoxFuture;
use sqlx::SqliteConnection;
use tokio::sync::mpsc;

use super::rows::{self, ACCOUNT_COLS, CREDENTIAL_COLS, NUMBER_COLS, TRUNK_COLS};
use super::{db_err, Job, MAX_BATCH};

pub(super) async fn run_writer(mut conn: SqliteConnection, mut queue: mpsc::Receiver<Job>) {
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
        let committed = sqlx::query("COMMIT").execute(&mut conn).await;
        let error = committed.err();
        if let Some(e) = &error {
            tracing::error!(error = %e, "group commit failed; rolling back the batch");
            let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
        }
        for reply in replies {
            reply(error.as_ref());
        }
    }
}

/// Runs `f` in a savepoint: kept on success, rolled back alone on failure.
pub(super) async fn in_savepoint<T, F>(conn: &mut SqliteConnection, f: F) -> Result<T, EngineError>
where
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, EngineError>>,
{
    sqlx::query("SAVEPOINT cmd")
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let result = f(&mut *conn).await;
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

/// Loads what a command needs. The single writer is the lock: nothing else writes meanwhile.
pub(super) async fn load(
    conn: &mut SqliteConnection,
    needs: &Needs,
) -> Result<Snapshot, EngineError> {
    let mut snap = Snapshot::default();
    if let Some(e164) = &needs.number {
        let sql =
            format!("SELECT {NUMBER_COLS} FROM numbers WHERE e164 = ? AND state <> 'deleted'");
        let row = sqlx::query(&sql)
            .bind(e164.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        snap.number = row.as_ref().map(rows::number).transpose()?;
    } else if let Some(id) = needs.number_id {
        let sql = format!("SELECT {NUMBER_COLS} FROM numbers WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        snap.number = row.as_ref().map(rows::number).transpose()?;
    }
    for id in &needs.accounts {
        let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?");
        if let Some(row) = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?
        {
            snap.accounts.push(rows::account(&row)?);
        }
    }
    if let Some(id) = needs.trunk {
        let sql = format!("SELECT {TRUNK_COLS} FROM trunks WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        snap.trunk = row.as_ref().map(rows::trunk).transpose()?;
    }
    if let Some(id) = needs.numbers_on_trunk {
        let sql = format!("SELECT {NUMBER_COLS} FROM numbers WHERE trunk_id = ? ORDER BY e164");
        let found = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        snap.numbers_on_trunk = found.iter().map(rows::number).collect::<Result<_, _>>()?;
    }
    if let Some(id) = &needs.holdings_of {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM numbers WHERE owner_id = ? \
             AND state IN ('reserved', 'pending_verification', 'active', 'pending_release')",
        )
        .bind(id.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
        snap.holdings = count as u64;
    }
    if let Some(id) = &needs.credentials_of {
        let sql = format!("SELECT {CREDENTIAL_COLS} FROM credentials WHERE account_id = ?");
        let found = sqlx::query(&sql)
            .bind(id.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        snap.credentials = found
            .iter()
            .map(rows::credential)
            .collect::<Result<_, _>>()?;
    }
    if let Some(id) = needs.credential {
        let sql = format!("SELECT {CREDENTIAL_COLS} FROM credentials WHERE id = ?");
        let found = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        snap.credentials = found
            .iter()
            .map(rows::credential)
            .collect::<Result<_, _>>()?;
    }
    Ok(snap)
}

/// Writes a command's changes, parents before children.
pub(super) async fn apply(
    conn: &mut SqliteConnection,
    changes: &Changes,
) -> Result<(), EngineError> {
    for w in &changes.accounts {
        match w {
            Write::Insert(a) => rows::insert_account(conn, a).await?,
            Write::Update(a) => rows::update_account(conn, a).await?,
            Write::Delete(_) => {
                return Err(EngineError::Storage("accounts are never deleted".into()))
            }
        }
    }
    for w in &changes.trunks {
        match w {
            Write::Insert(t) => rows::insert_trunk(conn, t).await?,
            Write::Update(t) => rows::update_trunk(conn, t).await?,
            Write::Delete(_) => {}
        }
    }
    for w in &changes.numbers {
        match w {
            Write::Insert(n) => rows::insert_number(conn, n).await?,
            Write::Update(n) => rows::update_number(conn, n).await?,
            Write::Delete(_) => {
                return Err(EngineError::Storage("numbers are never deleted".into()))
            }
        }
    }
    for w in &changes.trunks {
        if let Write::Delete(t) = w {
            sqlx::query("DELETE FROM trunks WHERE id = ?")
                .bind(t.id.to_string())
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
    }
    for w in &changes.credentials {
        match w {
            Write::Insert(c) => rows::insert_credential(conn, c).await?,
            Write::Update(c) | Write::Delete(c) => rows::update_credential(conn, c).await?,
        }
    }
    for e in &changes.ledger {
        rows::insert_entry(conn, e).await?;
    }
    for e in &changes.events {
        rows::insert_event(conn, e).await?;
    }
    for a in &changes.assignment_audits {
        rows::insert_audit(conn, a).await?;
    }
    Ok(())
}
