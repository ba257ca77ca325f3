//! Every statement didpool runs, written once for both backends.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use didpool_core::audit::{AssignmentAudit, NumberEvent};
use didpool_core::call::CallRecord;
use didpool_core::console::{ConsoleSession, SessionOwner};
use didpool_core::credential::{Credential, CredentialKind, TokenHash};
use didpool_core::idempotency::{self, KeyDecision, KeyRequest, KeyRow, KeyStep, StoredAnswer};
use didpool_core::ids::{CredentialId, EndpointId, EventId, JobId};
use didpool_core::job::{Job, JobItem};
use didpool_core::ledger::EntryKind;
use didpool_core::lifecycle::{Changes, Needs, Outcome, Snapshot, Write};
use didpool_core::money::Decimal;
use didpool_core::setting::{Setting, SettingKey};
use didpool_core::store::{
    EventQuery, Holder, ItemFilter, JobItemQuery, JobQuery, KindTotal, LedgerPage, LedgerQuery,
    NumberOrder, NumberQuery, Page, SubAccountQuery, Violation,
};
use didpool_core::trunk::TrunkSettings;
use didpool_core::webhook::{Attempt, Delivery, Endpoint, Requeue};
use didpool_core::{
    Account, AccountId, EngineError, Number, NumberId, NumberRef, NumberState, Trunk, TrunkId, E164,
};

use crate::codec::corrupt;
use crate::pages::{self, Directories};
use crate::rows::{
    self, ACCOUNT_COLS, ACCOUNT_NAMES, ATTEMPT_COLS, AUDIT_COLS, CALL_COLS, CREDENTIAL_COLS,
    DELIVERY_COLS, ENDPOINT_COLS, ENTRY_COLS, EVENT_COLS, JOB_COLS, JOB_ITEM_COLS, NUMBER_COLS,
    SETTING_COLS, TRUNK_COLS,
};
use crate::sql::{placeholders, DbError, DbRow, Sql, Val, Q};

pub fn db_err(e: DbError) -> EngineError {
    if e.is_unavailable() {
        return match e {
            DbError::Sqlx(e) => EngineError::unavailable(e),
            e => EngineError::unavailable(e),
        };
    }
    match e {
        // Unwrapped, so PostgreSQL's retry can read the SQLSTATE.
        DbError::Sqlx(e) => EngineError::storage(e),
        e => EngineError::storage(e),
    }
}

fn unique_or(e: DbError, what: impl Into<String>) -> EngineError {
    if e.is_unique_violation() {
        EngineError::AlreadyExists(what.into())
    } else {
        db_err(e)
    }
}

async fn fetch<T>(
    db: &mut dyn Sql,
    sql: &str,
    args: &[Val],
    decode: fn(&DbRow) -> Result<T, EngineError>,
) -> Result<Vec<T>, EngineError> {
    db.fetch(sql, args)
        .await
        .map_err(db_err)?
        .iter()
        .map(decode)
        .collect()
}

async fn fetch_one<T>(
    db: &mut dyn Sql,
    sql: &str,
    args: &[Val],
    decode: fn(&DbRow) -> Result<T, EngineError>,
) -> Result<Option<T>, EngineError> {
    Ok(fetch(db, sql, args, decode).await?.into_iter().next())
}

async fn count(db: &mut dyn Sql, sql: &str, args: &[Val]) -> Result<u64, EngineError> {
    let rows = db.fetch(sql, args).await.map_err(db_err)?;
    let n = rows
        .first()
        .ok_or_else(|| corrupt("count returned no row".into()))?
        .int("n")?;
    Ok(n as u64)
}

/// One write of a command, and what a unique violation of it means. A command's writes are
/// collected before any runs, so a backend can send them together (see [`run_writes`]).
struct Stmt {
    table: &'static str,
    op: WriteOp,
    q: Q,
    what: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteOp {
    Insert,
    Update,
    Delete,
}

fn insert(table: &'static str, cols: &str, values: Vec<Val>, what: String) -> Stmt {
    let sql = format!(
        "INSERT INTO {table} ({cols}) VALUES ({})",
        placeholders(values.len())
    );
    Stmt {
        table,
        op: WriteOp::Insert,
        q: Q { sql, args: values },
        what,
    }
}

/// Inserts many rows with multi-row `INSERT`s, each under both backends' limit on bound
/// parameters (bulk loading: one statement per few hundred rows instead of one per row).
fn insert_many(table: &'static str, cols: &str, rows: Vec<Vec<Val>>, what: &str) -> Vec<Stmt> {
    // SQLite resolves each `$N` by a linear search of those before it: keep statements modest.
    const MAX_PARAMS: usize = 1_000;
    let Some(width) = rows.first().map(Vec::len) else {
        return Vec::new();
    };
    let per = (MAX_PARAMS / width.max(1)).max(1);
    let mut stmts = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Val>> = rows.by_ref().take(per).collect();
        let mut sql = format!("INSERT INTO {table} ({cols}) VALUES ");
        sql.reserve(chunk.len() * width * 6);
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 1..=width {
                if c > 1 {
                    sql.push_str(", ");
                }
                push_placeholder(&mut sql, i * width + c);
            }
            sql.push(')');
        }
        let args = chunk.into_iter().flatten().collect();
        stmts.push(Stmt {
            table,
            op: WriteOp::Insert,
            q: Q { sql, args },
            what: what.to_owned(),
        });
    }
    stmts
}

/// Updates the columns whose values differ from `before` (every column but the first, the id,
/// when the row was not loaded), keyed by the id. Unchanged columns are left out so their indexes
/// are not rewritten; a row with nothing changed is not written at all.
fn update(
    table: &'static str,
    cols: &str,
    values: Vec<Val>,
    before: Option<Vec<Val>>,
    what: String,
) -> Result<Option<Stmt>, EngineError> {
    let names: Vec<&str> = cols.split(',').map(str::trim).collect();
    let mut q = Q::new(format!("UPDATE {table} SET "));
    let mut values = values.into_iter();
    let id = values
        .next()
        .ok_or_else(|| corrupt(format!("{table}: no id")))?;
    let mut changed = 0;
    for (i, v) in values.enumerate() {
        let col = i + 1;
        if before.as_ref().is_some_and(|b| b.get(col) == Some(&v)) {
            continue;
        }
        if changed > 0 {
            q.push(", ");
        }
        q.push(names[col]).push(" = ").arg(v);
        changed += 1;
    }
    if changed == 0 {
        return Ok(None);
    }
    q.push(" WHERE ").push(names[0]).push(" = ").arg(id);
    Ok(Some(Stmt {
        table,
        op: WriteOp::Update,
        q,
        what,
    }))
}

/// Runs a command's writes in order. Where the backend takes them as one statement
/// (PostgreSQL: one round trip) and they cannot depend on their order, they go together.
async fn run_writes(db: &mut dyn Sql, mut stmts: Vec<Stmt>) -> Result<(), EngineError> {
    if stmts.len() > 1 && db.combines_writes() && order_free(&stmts) {
        let q = combined(&mut stmts);
        return match db.exec(&q.sql, &q.args).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let what = (e.table())
                    .and_then(|t| stmts.iter().find(|s| s.table == t))
                    .unwrap_or(&stmts[0])
                    .what
                    .clone();
                Err(unique_or(e, what))
            }
        };
    }
    for s in stmts {
        db.exec(&s.q.sql, &s.q.args)
            .await
            .map_err(|e| unique_or(e, s.what))?;
    }
    Ok(())
}

/// Whether the writes give the same result in any order, as the parts of one statement do
/// (PostgreSQL runs a statement's data-modifying `WITH` parts in no set order, each unable to
/// see the others' rows, and checks foreign keys at its end): a table is written by one
/// statement, or by updates of distinct rows (rows inserted by two statements could take their
/// sequence numbers in either order), and the parameters fit in one statement.
fn order_free(stmts: &[Stmt]) -> bool {
    const MAX_PARAMS: usize = 30_000;
    let params: usize = stmts.iter().map(|s| s.q.args.len()).sum();
    params <= MAX_PARAMS
        && stmts.iter().enumerate().all(|(i, a)| {
            stmts[..i].iter().all(|b| {
                a.table != b.table
                    || (a.op == WriteOp::Update && b.op == WriteOp::Update && a.what != b.what)
            })
        })
}

/// `WITH w0 AS (…), w1 AS (…) SELECT 1`, each part's placeholders renumbered after the last.
/// The parts' arguments move into the combined statement (a failure needs only their `table`
/// and `what`).
fn combined(stmts: &mut [Stmt]) -> Q {
    let len: usize = stmts.iter().map(|s| s.q.sql.len() + 16).sum();
    let params: usize = stmts.iter().map(|s| s.q.args.len()).sum();
    let mut q = Q {
        sql: String::with_capacity(len + 16),
        args: Vec::with_capacity(params),
    };
    q.sql.push_str("WITH ");
    for (i, s) in stmts.iter_mut().enumerate() {
        if i > 0 {
            q.sql.push_str(", ");
        }
        let offset = q.args.len();
        q.sql.push('w');
        push_number(&mut q.sql, i);
        q.sql.push_str(" AS (");
        renumber_into(&mut q.sql, &s.q.sql, offset);
        q.sql.push(')');
        q.args.append(&mut s.q.args);
    }
    q.sql.push_str(" SELECT 1");
    q
}

/// Appends `sql` to `out` with each `$n` made `$(n + offset)` (statements here hold no `$` but
/// placeholders).
fn renumber_into(out: &mut String, sql: &str, offset: usize) {
    let bytes = sql.as_bytes();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        let mut n = 0usize;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            n = n * 10 + usize::from(bytes[end] - b'0');
            end += 1;
        }
        if end > start {
            out.push_str(&sql[copied..start]);
            push_number(out, n + offset);
            copied = end;
        }
        i = end.max(start);
    }
    out.push_str(&sql[copied..]);
}

#[cfg(test)]
fn renumbered(sql: &str, offset: usize) -> String {
    let mut out = String::new();
    renumber_into(&mut out, sql, offset);
    out
}

/// Appends `$n`.
pub(crate) fn push_placeholder(out: &mut String, n: usize) {
    out.push('$');
    push_number(out, n);
}

/// Appends `n` in decimal, without the formatting machinery (statement texts are built for
/// every command).
fn push_number(out: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).expect("ASCII digits"));
}

/// Loads what a command needs, locking each row where the backend needs locks.
pub async fn load(db: &mut dyn Sql, needs: &Needs) -> Result<Snapshot, EngineError> {
    let lock = db.lock();
    let mut snap = Snapshot::default();
    let combined = db.combines_loads()
        && needs.number.is_some()
        && needs.number_accounts
        && needs.due_holdings_of.is_none()
        && needs.awaiting_verification_of.is_none();
    if combined {
        load_number_and_accounts(db, needs, &mut snap).await?;
    }
    match needs.number.as_ref().filter(|_| !combined) {
        Some(NumberRef::E164(e164)) => {
            let sql = format!(
                "SELECT {NUMBER_COLS} FROM numbers WHERE e164 = $1 AND state <> 'deleted'{lock}"
            );
            snap.number = fetch_one(db, &sql, &[e164.as_str().into()], rows::number).await?;
        }
        Some(NumberRef::Id(id)) => {
            let sql = format!("SELECT {NUMBER_COLS} FROM numbers WHERE id = $1{lock}");
            snap.number = fetch_one(db, &sql, &[id.to_string().into()], rows::number).await?;
        }
        None => {}
    }
    if let Some((id, now)) = &needs.due_holdings_of {
        // As `due` finds them, among the numbers this account holds; locked before any account,
        // as every command locks its number before its accounts.
        let sql = format!(
            "SELECT {NUMBER_COLS} FROM numbers WHERE owner_id = $1 \
             AND state IN ('reserved', 'pending_verification', 'active', 'pending_release') \
             AND (release_at <= $2 OR reservation_expires_at <= $2 OR next_billing_date <= $2 \
                  OR state IN ('reserved', 'pending_verification')) \
             ORDER BY e164{lock}"
        );
        let args = [id.as_str().into(), (*now).into()];
        snap.due_holdings = fetch(db, &sql, &args, rows::number).await?;
    }
    if let Some(id) = &needs.awaiting_verification_of {
        let sql = format!(
            "SELECT {NUMBER_COLS} FROM numbers WHERE billing_id = $1 \
             AND state IN ('reserved', 'pending_verification') ORDER BY e164{lock}"
        );
        snap.due_holdings = fetch(db, &sql, &[id.as_str().into()], rows::number).await?;
    }
    let mut accounts = if combined {
        Vec::new()
    } else {
        needs.accounts.clone()
    };
    if needs.number_accounts && !combined {
        if let Some(n) = &snap.number {
            for id in [&n.owner_id, &n.billing_id].into_iter().flatten() {
                if !accounts.contains(id) {
                    accounts.push(id.clone());
                }
            }
        }
    }
    if !accounts.is_empty() {
        // One statement; locks are taken in id order, the same in every command.
        let sql = format!(
            "SELECT {ACCOUNT_COLS} FROM accounts WHERE id IN ({}) ORDER BY id{lock}",
            placeholders(accounts.len())
        );
        let ids: Vec<Val> = accounts.iter().map(|id| id.as_str().into()).collect();
        snap.accounts = fetch(db, &sql, &ids, rows::account).await?;
    }
    let trunk = needs.trunk.or_else(|| {
        snap.number
            .as_ref()
            .filter(|_| needs.number_trunk)
            .and_then(|n| n.trunk_id)
    });
    if let Some(id) = trunk {
        let sql = format!("SELECT {TRUNK_COLS} FROM trunks WHERE id = $1{lock}");
        snap.trunk = fetch_one(db, &sql, &[id.to_string().into()], rows::trunk).await?;
    }
    if let Some(id) = needs.numbers_on_trunk {
        let sql =
            format!("SELECT {NUMBER_COLS} FROM numbers WHERE trunk_id = $1 ORDER BY e164{lock}");
        snap.numbers_on_trunk = fetch(db, &sql, &[id.to_string().into()], rows::number).await?;
    }
    if let Some(id) = &needs.holdings_of {
        let sql = "SELECT count(*) AS n FROM numbers WHERE owner_id = $1 \
                   AND state IN ('reserved', 'pending_verification', 'active', 'pending_release')";
        snap.holdings = count(db, sql, &[id.as_str().into()]).await?;
    }
    if let Some(id) = &needs.credentials_of {
        let sql = format!("SELECT {CREDENTIAL_COLS} FROM credentials WHERE account_id = $1 ORDER BY created_at{lock}");
        snap.credentials = fetch(db, &sql, &[id.as_str().into()], rows::credential).await?;
    }
    if let Some(id) = needs.credential {
        let sql = format!("SELECT {CREDENTIAL_COLS} FROM credentials WHERE id = $1{lock}");
        snap.credentials = fetch(db, &sql, &[id.to_string().into()], rows::credential).await?;
    }
    load_webhooks(db, needs, &mut snap).await?;
    if !needs.settings.is_empty() {
        let sql = format!(
            "SELECT {SETTING_COLS} FROM settings WHERE key IN ({}) ORDER BY key{lock}",
            placeholders(needs.settings.len())
        );
        let keys: Vec<Val> = needs.settings.iter().map(|k| k.as_str().into()).collect();
        snap.settings = fetch(db, &sql, &keys, rows::setting).await?;
    }
    load_jobs(db, needs, &mut snap).await?;
    Ok(snap)
}

/// Account columns beside a number's in [`load_number_and_accounts`]' rows.
const JOINED_ACCOUNT_NAMES: [&str; 12] = [
    "a_id",
    "a_parent_id",
    "a_name",
    "a_role",
    "a_currency",
    "a_balance",
    "a_enabled",
    "a_verification",
    "a_profile",
    "a_created_at",
    "a_updated_at",
    "a_deleted_at",
];

/// The number and its accounts (holder, payer, and `needs.accounts`) in one statement, one round
/// trip: rows of the number's columns beside one account's each (`a_…`). The locks are taken as
/// [`load`] takes them in two statements: the number first (the accounts are found from its
/// locked row), then the accounts in id order (sorted under the lock). One difference: the
/// accounts are read in the statement's snapshot, taken before the number's lock was waited
/// for; an account created by the transaction waited for would not be seen, and no command
/// creates an account and gives it a number in one transaction.
async fn load_number_and_accounts(
    db: &mut dyn Sql,
    needs: &Needs,
    snap: &mut Snapshot,
) -> Result<(), EngineError> {
    let lock = db.lock();
    let (filter, mut args): (&str, Vec<Val>) = match &needs.number {
        Some(NumberRef::E164(e164)) => (
            "e164 = $1 AND state <> 'deleted'",
            vec![e164.as_str().into()],
        ),
        Some(NumberRef::Id(id)) => ("id = $1", vec![id.to_string().into()]),
        None => return Ok(()),
    };
    let mut sql = format!(
        "WITH n AS MATERIALIZED (SELECT {NUMBER_COLS} FROM numbers WHERE {filter}{lock}), \
         a AS MATERIALIZED (SELECT {ACCOUNT_COLS} FROM accounts WHERE id IN \
         (SELECT owner_id FROM n UNION ALL SELECT billing_id FROM n"
    );
    for id in &needs.accounts {
        args.push(id.as_str().into());
        sql.push_str(" UNION ALL SELECT ");
        push_placeholder(&mut sql, args.len());
    }
    sql.push_str(") ORDER BY id");
    sql.push_str(lock);
    sql.push_str(") SELECT n.*");
    for (col, name) in ACCOUNT_NAMES.iter().zip(JOINED_ACCOUNT_NAMES) {
        sql.push_str(", a.");
        sql.push_str(col);
        sql.push_str(" AS ");
        sql.push_str(name);
    }
    sql.push_str(" FROM (SELECT 1) AS one LEFT JOIN n ON true LEFT JOIN a ON true ORDER BY a.id");
    let rows = db.fetch(&sql, &args).await.map_err(db_err)?;
    for (i, row) in rows.iter().enumerate() {
        if i == 0 && row.opt_text("id")?.is_some() {
            snap.number = Some(rows::number(row)?);
        }
        if row.opt_text("a_id")?.is_some() {
            snap.accounts
                .push(rows::account_named(row, &JOINED_ACCOUNT_NAMES)?);
        }
    }
    Ok(())
}

/// Jobs last, a job's item before the job, in every command, so their row locks never cross.
async fn load_jobs(
    db: &mut dyn Sql,
    needs: &Needs,
    snap: &mut Snapshot,
) -> Result<(), EngineError> {
    let lock = db.lock();
    if let Some((job, seq)) = needs.job_item {
        let sql =
            format!("SELECT {JOB_ITEM_COLS} FROM job_items WHERE job_id = $1 AND seq = $2{lock}");
        let args = [job.to_string().into(), i64::from(seq).into()];
        snap.job_items = fetch(db, &sql, &args, rows::job_item).await?;
    }
    if let Some(id) = needs.job {
        let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE id = $1{lock}");
        snap.jobs = fetch(db, &sql, &[id.to_string().into()], rows::job).await?;
    }
    if let Some(now_real) = needs.claim_job {
        // The oldest job waiting: queued, or running under a lease that lapsed (its runner
        // died). A job another runner is claiming right now is skipped, not waited for.
        let skip = if lock.is_empty() { "" } else { " SKIP LOCKED" };
        let sql = format!(
            "SELECT {JOB_COLS} FROM jobs WHERE status IN ('queued', 'running') \
             AND (lease_until IS NULL OR lease_until <= $1) \
             ORDER BY created_at, id LIMIT 1{lock}{skip}"
        );
        snap.jobs = fetch(db, &sql, &[now_real.into()], rows::job).await?;
    }
    Ok(())
}

/// Deliveries before endpoints, in every command, so their row locks never cross.
async fn load_webhooks(
    db: &mut dyn Sql,
    needs: &Needs,
    snap: &mut Snapshot,
) -> Result<(), EngineError> {
    let lock = db.lock();
    if let Some(c) = &needs.claim {
        // The first pending delivery of each number to each enabled endpoint, due by the engine's
        // clock and not leased at the real time; rows another node holds are skipped.
        let skip = if lock.is_empty() { "" } else { " SKIP LOCKED" };
        let sql = format!(
            "SELECT {DELIVERY_COLS} FROM webhook_deliveries d \
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
             AND (d.lease_until IS NULL OR d.lease_until <= $2) \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.status = 'pending' \
                 AND p.endpoint_id = d.endpoint_id AND p.number_id = d.number_id AND p.seq < d.seq) \
             AND EXISTS (SELECT 1 FROM webhook_endpoints w \
                 WHERE w.id = d.endpoint_id AND w.disabled_at IS NULL) \
             ORDER BY d.seq LIMIT $3{lock}{skip}"
        );
        let args = [c.now.into(), c.now_real.into(), i64::from(c.limit).into()];
        snap.deliveries = fetch(db, &sql, &args, rows::delivery).await?;
    }
    if let Some(seq) = needs.delivery {
        let sql = format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE seq = $1{lock}");
        snap.deliveries = fetch(db, &sql, &[seq.into()], rows::delivery).await?;
        if let Some(d) = snap.deliveries.first() {
            // Read, not locked: every delivery of the endpoint finishes through it, and what a
            // finish writes there (since when it fails) tolerates a concurrent one.
            let sql = format!("SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE id = $1");
            let id = d.endpoint_id.to_string().into();
            snap.webhook_endpoints = fetch(db, &sql, &[id], rows::endpoint).await?;
        }
    }
    match &needs.requeue {
        Some(Requeue::Event { event, endpoint }) => {
            let mut q = Q::new(format!(
                "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE event_id = "
            ));
            q.arg(event.to_string());
            if let Some(e) = endpoint {
                q.push(" AND endpoint_id = ").arg(e.to_string());
            }
            q.push(" ORDER BY seq").push(lock);
            snap.deliveries = fetch(db, &q.sql, &q.args, rows::delivery).await?;
        }
        Some(Requeue::Since { endpoint, since }) => {
            let sql = format!(
                "SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE endpoint_id = $1 \
                 AND event_id IN (SELECT id FROM number_events WHERE at >= $2) ORDER BY seq{lock}"
            );
            let args = [endpoint.to_string().into(), (*since).into()];
            snap.deliveries = fetch(db, &sql, &args, rows::delivery).await?;
        }
        None => {}
    }
    if let Some(id) = needs.webhook_endpoint {
        let sql = format!("SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE id = $1{lock}");
        snap.webhook_endpoints = fetch(db, &sql, &[id.to_string().into()], rows::endpoint).await?;
    }
    Ok(())
}

/// Queues a delivery of each event to every endpoint it matches (the rule of
/// [`Endpoint::matches`](didpool_core::webhook::Endpoint::matches)), in the events' order: one
/// statement, in the events' transaction.
fn fan_out(events: &[NumberEvent]) -> Option<Stmt> {
    let first = events.first()?;
    let mut q = Q::new(
        "INSERT INTO webhook_deliveries \
         (endpoint_id, event_id, number_id, status, attempts, next_attempt_at, updated_at) \
         SELECT w.id, e.column2, e.column3, 'pending', 0, ",
    );
    q.arg(first.at).push(", ").arg(first.at);
    q.push(" FROM webhook_endpoints w, (VALUES ");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push("(").arg(i as i64).push(", ").arg(e.id.to_string());
        q.push(", ").arg(e.number_id.to_string());
        q.push(", ").arg(e.event_type());
        let accounts = rows::listed(e.accounts().iter().map(AccountId::as_str));
        q.push(", ").arg(accounts).push(")");
    }
    q.push(
        ") AS e WHERE w.disabled_at IS NULL \
         AND (w.event_types = '' OR w.event_types LIKE '%,' || e.column4 || ',%') \
         AND (w.account_id IS NULL OR e.column5 LIKE '%,' || w.account_id || ',%') \
         ORDER BY e.column1, w.id",
    );
    Some(Stmt {
        table: "webhook_deliveries",
        op: WriteOp::Insert,
        q,
        what: "delivery".into(),
    })
}

/// Writes a command's changes, parents before children.
/// Rows `snapshot` holds are the ones the command loaded: an update writes only what changed.
pub async fn apply(
    db: &mut dyn Sql,
    snapshot: &Snapshot,
    changes: &Changes,
) -> Result<(), EngineError> {
    let mut stmts = Vec::new();
    let account_key = |a: &Account| a.id.to_string();
    let account_before = |a: &Account| snapshot.accounts.iter().find(|b| b.id == a.id);
    write_all(
        &mut stmts,
        "accounts",
        ACCOUNT_COLS,
        &changes.accounts,
        rows::account_values,
        account_key,
        account_before,
    )?;
    let trunk_key = |t: &Trunk| t.id.to_string();
    let trunk_before = |t: &Trunk| snapshot.trunk.as_ref().filter(|b| b.id == t.id);
    write_all(
        &mut stmts,
        "trunks",
        TRUNK_COLS,
        &changes.trunks,
        rows::trunk_values,
        trunk_key,
        trunk_before,
    )?;
    let bulk = changes.numbers.len() > 1
        && changes
            .numbers
            .iter()
            .all(|w| matches!(w, Write::Insert(_)));
    if bulk {
        let rows = changes
            .numbers
            .iter()
            .map(|w| rows::number_values(w.row()))
            .collect();
        stmts.extend(insert_many(
            "numbers",
            NUMBER_COLS,
            rows,
            "a number in the batch",
        ));
    } else {
        let number_key = |n: &Number| n.e164.to_string();
        let number_before = |n: &Number| {
            (snapshot.number.iter())
                .chain(&snapshot.numbers_on_trunk)
                .chain(&snapshot.due_holdings)
                .find(|b| b.id == n.id)
        };
        write_all(
            &mut stmts,
            "numbers",
            NUMBER_COLS,
            &changes.numbers,
            rows::number_values,
            number_key,
            number_before,
        )?;
    }
    // Numbers leave a trunk before the trunk goes.
    for w in &changes.trunks {
        if let Write::Delete(t) = w {
            stmts.push(Stmt {
                table: "trunks",
                op: WriteOp::Delete,
                q: Q {
                    sql: "DELETE FROM trunks WHERE id = $1".into(),
                    args: vec![t.id.to_string().into()],
                },
                what: t.id.to_string(),
            });
        }
    }
    let credential_key = |_: &Credential| "credential".to_owned();
    let credential_before = |c: &Credential| snapshot.credentials.iter().find(|b| b.id == c.id);
    write_all(
        &mut stmts,
        "credentials",
        CREDENTIAL_COLS,
        &changes.credentials,
        rows::credential_values,
        credential_key,
        credential_before,
    )?;
    let entries = changes.ledger.iter().map(rows::entry_values).collect();
    stmts.extend(insert_many("ledger", ENTRY_COLS, entries, "ledger entry"));
    let events = changes.events.iter().map(rows::event_values).collect();
    stmts.extend(insert_many("number_events", EVENT_COLS, events, "event"));
    let calls = changes.calls.iter().map(rows::call_values).collect();
    stmts.extend(insert_many("calls", CALL_COLS, calls, "call"));
    if let Some(before) = changes.prune_calls_before {
        stmts.push(Stmt {
            table: "calls",
            op: WriteOp::Delete,
            q: Q {
                sql: "DELETE FROM calls WHERE ended_at < $1".into(),
                args: vec![before.into()],
            },
            what: "calls".into(),
        });
    }
    stmts.extend(fan_out(&changes.events));
    let endpoint_key = |e: &Endpoint| e.id.to_string();
    let endpoint_before = |e: &Endpoint| snapshot.webhook_endpoints.iter().find(|b| b.id == e.id);
    write_all(
        &mut stmts,
        "webhook_endpoints",
        ENDPOINT_COLS,
        &changes.webhook_endpoints,
        rows::endpoint_values,
        endpoint_key,
        endpoint_before,
    )?;
    for w in &changes.webhook_endpoints {
        if let Write::Delete(e) = w {
            // Its deliveries and their attempts go with it (ON DELETE CASCADE).
            stmts.push(Stmt {
                table: "webhook_endpoints",
                op: WriteOp::Delete,
                q: Q {
                    sql: "DELETE FROM webhook_endpoints WHERE id = $1".into(),
                    args: vec![e.id.to_string().into()],
                },
                what: e.id.to_string(),
            });
        }
    }
    let delivery_key = |d: &Delivery| d.seq.to_string();
    let delivery_before = |d: &Delivery| snapshot.deliveries.iter().find(|b| b.seq == d.seq);
    write_all(
        &mut stmts,
        "webhook_deliveries",
        DELIVERY_COLS,
        &changes.deliveries,
        rows::delivery_values,
        delivery_key,
        delivery_before,
    )?;
    let attempts = changes.attempts.iter().map(rows::attempt_values).collect();
    stmts.extend(insert_many(
        "webhook_attempts",
        ATTEMPT_COLS,
        attempts,
        "attempt",
    ));
    let job_key = |j: &Job| j.id.to_string();
    let job_before = |j: &Job| snapshot.jobs.iter().find(|b| b.id == j.id);
    write_all(
        &mut stmts,
        "jobs",
        JOB_COLS,
        &changes.jobs,
        rows::job_values,
        job_key,
        job_before,
    )?;
    let new_items: Vec<Vec<Val>> = (changes.job_items.iter())
        .filter_map(|w| match w {
            Write::Insert(i) => Some(rows::job_item_values(i)),
            _ => None,
        })
        .collect();
    stmts.extend(insert_many(
        "job_items",
        JOB_ITEM_COLS,
        new_items,
        "job item",
    ));
    for w in &changes.job_items {
        if let Write::Update(i) = w {
            // Keyed by (job, seq): only its result changes.
            let v = rows::job_item_values(i);
            let mut q = Q::new("UPDATE job_items SET status = ");
            q.arg(v[3].clone())
                .push(", error_code = ")
                .arg(v[4].clone());
            q.push(", error_message = ").arg(v[5].clone());
            q.push(", finished_at = ").arg(v[6].clone());
            q.push(" WHERE job_id = ").arg(v[0].clone());
            q.push(" AND seq = ").arg(v[1].clone());
            stmts.push(Stmt {
                table: "job_items",
                op: WriteOp::Update,
                q,
                what: format!("job item {}", i.seq),
            });
        }
    }
    for a in &changes.assignment_audits {
        stmts.push(insert(
            "did_assignment_audit",
            AUDIT_COLS,
            rows::audit_values(a),
            a.id.to_string(),
        ));
    }
    for s in &changes.settings {
        // A setting is one row per key, written whether or not it was set before.
        let mut stmt = insert(
            "settings",
            SETTING_COLS,
            rows::setting_values(s),
            s.key().as_str().into(),
        );
        stmt.q.push(if s.key().is_write_once() {
            " ON CONFLICT (key) DO NOTHING"
        } else {
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        });
        stmts.push(stmt);
    }
    run_writes(db, stmts).await
}

/// Inserts or updates each written row. Deletes are left to the caller: only trunks have them,
/// and they must wait until the numbers have left the trunk.
fn write_all<'s, T: 's>(
    stmts: &mut Vec<Stmt>,
    table: &'static str,
    cols: &str,
    writes: &[Write<T>],
    values: fn(&T) -> Vec<Val>,
    key: impl Fn(&T) -> String,
    before: impl Fn(&T) -> Option<&'s T>,
) -> Result<(), EngineError> {
    for w in writes {
        match w {
            Write::Insert(row) => stmts.push(insert(table, cols, values(row), key(row))),
            Write::Update(row) => {
                let old = before(row).map(values);
                stmts.extend(update(table, cols, values(row), old, key(row))?);
            }
            Write::Delete(_) => {}
        }
    }
    Ok(())
}

pub async fn account(db: &mut dyn Sql, id: &AccountId) -> Result<Option<Account>, EngineError> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1");
    fetch_one(db, &sql, &[id.as_str().into()], rows::account).await
}

pub async fn credential(
    db: &mut dyn Sql,
    kind: CredentialKind,
    hash: &TokenHash,
) -> Result<Option<Credential>, EngineError> {
    let sql =
        format!("SELECT {CREDENTIAL_COLS} FROM credentials WHERE token_hash = $1 AND kind = $2");
    fetch_one(
        db,
        &sql,
        &[hash.0.as_str().into(), kind.as_str().into()],
        rows::credential,
    )
    .await
}

pub async fn credentials_of(
    db: &mut dyn Sql,
    account: &AccountId,
) -> Result<Vec<Credential>, EngineError> {
    let sql = format!(
        "SELECT {CREDENTIAL_COLS} FROM credentials WHERE account_id = $1 ORDER BY created_at, id"
    );
    fetch(db, &sql, &[account.as_str().into()], rows::credential).await
}

pub async fn setting(db: &mut dyn Sql, key: SettingKey) -> Result<Option<Setting>, EngineError> {
    let sql = format!("SELECT {SETTING_COLS} FROM settings WHERE key = $1");
    fetch_one(db, &sql, &[key.as_str().into()], rows::setting).await
}

pub async fn number_by_e164(db: &mut dyn Sql, e164: &E164) -> Result<Option<Number>, EngineError> {
    let sql = format!("SELECT {NUMBER_COLS} FROM numbers WHERE e164 = $1 AND state <> 'deleted'");
    fetch_one(db, &sql, &[e164.as_str().into()], rows::number).await
}

/// The number and its trunk's settings in one statement (the trunk's by its primary key).
pub async fn route(
    db: &mut dyn Sql,
    e164: &E164,
) -> Result<Option<(Number, Option<TrunkSettings>)>, EngineError> {
    let sql = format!(
        "SELECT {NUMBER_COLS}, (SELECT t.settings FROM trunks t WHERE t.id = numbers.trunk_id) \
         AS trunk_settings FROM numbers WHERE e164 = $1 AND state <> 'deleted'"
    );
    fetch_one(db, &sql, &[e164.as_str().into()], |row| {
        Ok((rows::number(row)?, rows::opt_json(row, "trunk_settings")?))
    })
    .await
}

pub async fn calls(
    db: &mut dyn Sql,
    number: NumberId,
    since: DateTime<Utc>,
) -> Result<Vec<CallRecord>, EngineError> {
    let sql = format!(
        "SELECT {CALL_COLS} FROM calls WHERE number_id = $1 AND started_at > $2 \
         ORDER BY started_at, id"
    );
    fetch(
        db,
        &sql,
        &[number.to_string().into(), since.into()],
        rows::call,
    )
    .await
}

pub async fn number(db: &mut dyn Sql, id: NumberId) -> Result<Option<Number>, EngineError> {
    let sql = format!("SELECT {NUMBER_COLS} FROM numbers WHERE id = $1");
    fetch_one(db, &sql, &[id.to_string().into()], rows::number).await
}

/// Whether `f` lists an account's (or family's) numbers in every state a held number can be
/// in: a number has a holder only while reserved, pending verification, active or pending
/// release (`check`: `available_number_is_unheld`), so the state filter is then implied and
/// left out, and a page skips its OFFSET in the holder index without comparing states.
pub(crate) fn holds_every_held_state(f: &NumberQuery) -> bool {
    matches!(f.holder, Holder::Account(_) | Holder::Family(_))
        && [
            NumberState::Reserved,
            NumberState::PendingVerification,
            NumberState::Active,
            NumberState::PendingRelease,
        ]
        .iter()
        .all(|s| f.states.contains(s))
}

/// The FTS5 query for a substring `search` of e164 in SQLite's `numbers_e164_fts`, whose words
/// are each number's 4-character windows from every position, `+` spelled `p`, the last three
/// windows cut short by the end (migration 0017): a term of 4 characters or more is the phrase
/// of its windows (consecutive positions: the term itself), one of 3 the prefix of a window.
/// `None` for a term of fewer than 3 characters or one that is not digits with at most a
/// leading `+` (served by `LIKE` instead).
pub(crate) fn fts_query(search: &str) -> Option<String> {
    let digits = search.strip_prefix('+').unwrap_or(search);
    if search.len() < 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let text = search.replacen('+', "p", 1);
    if text.len() == 3 {
        return Some(format!("\"{text}\"*"));
    }
    let windows: Vec<&str> = (0..=text.len() - 4).map(|i| &text[i..i + 4]).collect();
    Some(format!("\"{}\"", windows.join(" ")))
}

fn number_filters(q: &mut Q, f: &NumberQuery, fts: bool) {
    q.push(" WHERE 1 = 1");
    match &f.holder {
        Holder::Nobody => q.push(" AND owner_id IS NULL"),
        Holder::Account(id) => q.push(" AND owner_id = ").arg(id.as_str()),
        Holder::Family(id) => q.push(" AND billing_id = ").arg(id.as_str()),
        Holder::Visible(id) => q
            .push(" AND (owner_id = ")
            .arg(id.as_str())
            .push(" OR billing_id = ")
            .arg(id.as_str())
            .push(" OR (owner_id IS NULL AND state <> 'deleted' AND (last_owner_id = ")
            .arg(id.as_str())
            .push(" OR last_billing_id = ")
            .arg(id.as_str())
            .push(")))"),
    };
    if !f.states.is_empty() && !holds_every_held_state(f) {
        q.push(" AND state IN (");
        for (i, s) in f.states.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.arg(s.as_str());
        }
        q.push(")");
    }
    if let Some(c) = &f.country {
        q.push(" AND country = ").arg(c.as_str());
    }
    if let Some(r) = &f.region {
        q.push(" AND region = ").arg(r.as_str());
    }
    // Callers pass digits (and at most a leading +), so the patterns hold no LIKE wildcards.
    // The FTS5 index of windows (migration 0017) serves three characters or more.
    if let Some(s) = &f.search {
        if let Some(m) = fts.then(|| fts_query(s)).flatten() {
            q.push(
                " AND rowid IN (SELECT rowid FROM numbers_e164_fts WHERE numbers_e164_fts MATCH ",
            )
            .arg(m)
            .push(")");
        } else {
            q.push(" AND e164 LIKE ").arg(format!("%{s}%"));
        }
    }
    for p in &f.exclude_prefixes {
        q.push(" AND e164 NOT LIKE ").arg(format!("+{p}%"));
    }
    if let Some(a) = &f.inbound_agent_id {
        q.push(" AND inbound_agent_id = ").arg(a.as_str());
    }
    if let Some(a) = &f.outbound_agent_id {
        q.push(" AND outbound_agent_id = ").arg(a.as_str());
    }
    if let Some(o) = &f.owner {
        q.push(" AND owner_id = ").arg(o.as_str());
    }
    if let Some(t) = f.trunk {
        q.push(" AND trunk_id = ").arg(t.to_string());
    }
    if let Some(t) = f.purchased_from {
        q.push(" AND purchased_at >= ").arg(t);
    }
    if let Some(t) = f.purchased_to {
        q.push(" AND purchased_at <= ").arg(t);
    }
    if let NumberOrder::Created {
        desc,
        after: Some((at, id)),
    } = f.order
    {
        let cmp = if desc { "<" } else { ">" };
        q.push(&format!(" AND (created_at {cmp} "))
            .arg(at)
            .push(" OR (created_at = ")
            .arg(at)
            .push(&format!(" AND id {cmp} "))
            .arg(id.to_string())
            .push("))");
    }
}

/// The role and holder whose maintained counts (`number_holder_counts`) give the total of `f`:
/// a list of one account's (or family's) numbers filtered by nothing but their states.
fn held_count(f: &NumberQuery) -> Option<(&'static str, &str)> {
    let (role, holder) = match &f.holder {
        Holder::Account(id) => ("owner", id.as_str()),
        Holder::Family(id) => ("billing", id.as_str()),
        Holder::Nobody | Holder::Visible(_) => return None,
    };
    unfiltered(f).then_some((role, holder))
}

/// Whether `f` filters by nothing but its holder and states (no keyset cursor either).
pub(crate) fn unfiltered(f: &NumberQuery) -> bool {
    f.country.is_none()
        && f.region.is_none()
        && f.search.is_none()
        && f.exclude_prefixes.is_empty()
        && f.inbound_agent_id.is_none()
        && f.outbound_agent_id.is_none()
        && f.purchased_from.is_none()
        && f.purchased_to.is_none()
        && f.owner.is_none()
        && f.trunk.is_none()
        && !matches!(f.order, NumberOrder::Created { after: Some(_), .. })
}

/// A page of numbers: a held list in e164 order through its page directory ([`pages`]), any
/// other shape (or a directory kept stale by concurrent changes) by LIMIT/OFFSET.
pub async fn numbers(
    db: &mut dyn Sql,
    dirs: &Directories,
    f: &NumberQuery,
) -> Result<Page<Number>, EngineError> {
    if let Some((role, holder)) = pages::served(f) {
        if let Some(page) = pages::page(db, dirs, role, holder, f).await? {
            return Ok(page);
        }
    }
    plain_numbers(db, f).await
}

/// A page of numbers by LIMIT/OFFSET, the total counted (or, for a held list, summed from the
/// maintained counts) by a second statement.
pub async fn plain_numbers(db: &mut dyn Sql, f: &NumberQuery) -> Result<Page<Number>, EngineError> {
    let fts = db.e164_fts();
    let order = match f.order {
        NumberOrder::E164 => " ORDER BY e164",
        NumberOrder::Created { desc: false, .. } => " ORDER BY created_at, id",
        NumberOrder::Created { desc: true, .. } => " ORDER BY created_at DESC, id DESC",
    };
    // A search of three characters or more is served by the substring index. Its matches are found
    // first, on their own (so PostgreSQL cannot pick a walk of the e164 index instead, which
    // filters every row), then counted and sorted for the page by id only; the page's rows are
    // read whole at the end.
    let searched = f.search.as_ref().is_some_and(|s| s.len() >= 3);
    // SQLite serves the search with its index only for terms `fts_query` accepts.
    let fts = fts && f.search.as_deref().and_then(fts_query).is_some();
    let mut s = if searched && fts {
        // SQLite: the total is a count of the materialized matches and the page is picked
        // from them by rowid; a window count over the sorted matches, joined back by `id`,
        // cost ~1.4× as much at 1,000,000 numbers (BENCHMARKS.md, "Issue 17, round 3").
        Q::new("WITH matches AS MATERIALIZED (SELECT rowid AS match_row, id, e164, created_at FROM numbers")
    } else if searched {
        Q::new("WITH matches AS MATERIALIZED (SELECT id, e164, created_at FROM numbers")
    } else {
        Q::new(format!("SELECT {NUMBER_COLS} FROM numbers"))
    };
    number_filters(&mut s, f, fts);
    if searched && fts {
        s.push(&format!(
            ") SELECT {NUMBER_COLS}, (SELECT count(*) FROM matches) AS n FROM numbers \
             WHERE rowid IN (SELECT match_row FROM matches"
        ));
    } else if searched {
        s.push(&format!(
            ") SELECT {NUMBER_COLS}, n FROM numbers JOIN \
             (SELECT id AS page_id, count(*) OVER () AS n FROM matches"
        ));
    }
    s.push(order)
        .push(" LIMIT ")
        .arg(i64::from(f.limit))
        .push(" OFFSET ")
        .arg(f.offset as i64);
    if searched && fts {
        s.push(&format!("){order}"));
    } else if searched {
        s.push(&format!(") AS page ON id = page_id{order}"));
    }
    let rows = db.fetch(&s.sql, &s.args).await.map_err(db_err)?;
    let items = rows
        .iter()
        .map(rows::number)
        .collect::<Result<Vec<_>, _>>()?;
    let total = match rows.first() {
        Some(row) if searched => row.int("n")? as u64,
        None if searched && f.offset == 0 => 0,
        // A held list filtered by state only: the maintained counts (migration 0013).
        _ if held_count(f).is_some() => {
            let (role, holder) = held_count(f).expect("checked");
            let mut c =
                Q::new("SELECT CAST(coalesce(sum(n), 0) AS BIGINT) AS n FROM number_holder_counts");
            c.push(" WHERE holder_id = ")
                .arg(holder)
                .push(" AND role = ")
                .arg(role);
            if !f.states.is_empty() {
                c.push(" AND state IN (");
                for (i, st) in f.states.iter().enumerate() {
                    if i > 0 {
                        c.push(", ");
                    }
                    c.arg(st.as_str());
                }
                c.push(")");
            }
            count(db, &c.sql, &c.args).await?
        }
        // Past the last page, or no search: count on its own.
        _ => {
            let mut c = Q::new("SELECT count(*) AS n FROM numbers");
            number_filters(&mut c, f, fts);
            count(db, &c.sql, &c.args).await?
        }
    };
    Ok(Page { items, total })
}

pub async fn sub_accounts(
    db: &mut dyn Sql,
    parent: &AccountId,
    f: &SubAccountQuery,
) -> Result<Page<Account>, EngineError> {
    let filter = if f.active_only { " AND enabled" } else { "" };
    let where_ = format!("WHERE parent_id = $1 AND deleted_at IS NULL{filter}");
    let total = count(
        db,
        &format!("SELECT count(*) AS n FROM accounts {where_}"),
        &[parent.as_str().into()],
    )
    .await?;
    let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts {where_} ORDER BY created_at DESC, id LIMIT $2 OFFSET $3");
    let args = [
        parent.as_str().into(),
        i64::from(f.limit).into(),
        (f.offset as i64).into(),
    ];
    let items = fetch(db, &sql, &args, rows::account).await?;
    Ok(Page { items, total })
}

pub async fn trunk(db: &mut dyn Sql, id: TrunkId) -> Result<Option<Trunk>, EngineError> {
    let sql = format!("SELECT {TRUNK_COLS} FROM trunks WHERE id = $1");
    fetch_one(db, &sql, &[id.to_string().into()], rows::trunk).await
}

pub async fn trunks(
    db: &mut dyn Sql,
    account: &AccountId,
    limit: u32,
    offset: u64,
) -> Result<Page<Trunk>, EngineError> {
    let total = count(
        db,
        "SELECT count(*) AS n FROM trunks WHERE account_id = $1",
        &[account.as_str().into()],
    )
    .await?;
    let sql = format!("SELECT {TRUNK_COLS} FROM trunks WHERE account_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3");
    let args = [
        account.as_str().into(),
        i64::from(limit).into(),
        (offset as i64).into(),
    ];
    let items = fetch(db, &sql, &args, rows::trunk).await?;
    Ok(Page { items, total })
}

fn ledger_filters(q: &mut Q, f: &LedgerQuery) {
    q.push(" WHERE account_id = ").arg(f.account.as_str());
    match f.debits {
        Some(true) => q.push(" AND amount < 0"),
        Some(false) => q.push(" AND amount > 0"),
        None => q,
    };
    if let Some(k) = f.kind {
        q.push(" AND kind = ").arg(k.as_str());
    }
    if let Some(from) = f.from {
        q.push(" AND created_at >= ").arg(from);
    }
    if let Some(to) = f.to {
        q.push(" AND created_at <= ").arg(to);
    }
}

pub async fn ledger(db: &mut dyn Sql, f: &LedgerQuery) -> Result<LedgerPage, EngineError> {
    let mut t = Q::new(
        "SELECT kind, count(*) AS n, \
         coalesce(sum(CASE WHEN amount < 0 THEN -amount ELSE 0 END), 0) AS debit, \
         coalesce(sum(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0) AS credit FROM ledger",
    );
    ledger_filters(&mut t, f);
    t.push(" GROUP BY kind ORDER BY kind");
    let mut by_kind = Vec::new();
    for g in db.fetch(&t.sql, &t.args).await.map_err(db_err)? {
        let kind = g.text("kind")?;
        by_kind.push(KindTotal {
            kind: EntryKind::parse(&kind).ok_or_else(|| corrupt(format!("bad kind {kind:?}")))?,
            count: g.int("n")? as u64,
            total_debit: g.money("debit")?,
            total_credit: g.money("credit")?,
        });
    }

    // The ledger is append-only: newest first is insertion order, reversed.
    let mut s = Q::new(format!("SELECT {ENTRY_COLS} FROM ledger"));
    ledger_filters(&mut s, f);
    s.push(" ORDER BY seq DESC LIMIT ")
        .arg(i64::from(f.limit))
        .push(" OFFSET ")
        .arg(f.offset as i64);
    let entries = fetch(db, &s.sql, &s.args, rows::entry).await?;
    Ok(LedgerPage {
        entries,
        total: by_kind.iter().map(|k| k.count).sum(),
        total_debit: by_kind.iter().map(|k| k.total_debit).sum::<Decimal>(),
        total_credit: by_kind.iter().map(|k| k.total_credit).sum::<Decimal>(),
        by_kind,
    })
}

/// `WHERE number_id = $1` or `WHERE e164 = $1`, as `number` says.
fn by_number(number: &NumberRef) -> (&'static str, Val) {
    match number {
        NumberRef::Id(id) => ("number_id", id.to_string().into()),
        NumberRef::E164(e) => ("e164", e.as_str().into()),
    }
}

pub async fn events(db: &mut dyn Sql, number: &NumberRef) -> Result<Vec<NumberEvent>, EngineError> {
    let (col, arg) = by_number(number);
    let sql = format!("SELECT {EVENT_COLS} FROM number_events WHERE {col} = $1 ORDER BY seq");
    fetch(db, &sql, &[arg], rows::event).await
}

pub async fn event(db: &mut dyn Sql, id: EventId) -> Result<Option<NumberEvent>, EngineError> {
    let sql = format!("SELECT {EVENT_COLS} FROM number_events WHERE id = $1");
    fetch_one(db, &sql, &[id.to_string().into()], rows::event).await
}

pub async fn event_log(db: &mut dyn Sql, f: &EventQuery) -> Result<Vec<NumberEvent>, EngineError> {
    let mut q = Q::new(format!(
        "SELECT {EVENT_COLS} FROM number_events WHERE 1 = 1"
    ));
    if let Some(after) = f.after {
        q.push(if f.desc { " AND seq < " } else { " AND seq > " });
        q.push("(SELECT seq FROM number_events WHERE id = ")
            .arg(after.to_string())
            .push(")");
    }
    if !f.types.is_empty() {
        q.push(" AND type IN (");
        for (i, t) in f.types.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.arg(t.as_str());
        }
        q.push(")");
    }
    if let Some(a) = &f.account {
        q.push(" AND accounts LIKE ").arg(format!("%,{a},%"));
    }
    if let Some(n) = &f.number {
        q.push(" AND e164 = ").arg(n.as_str());
    }
    q.push(if f.desc {
        " ORDER BY seq DESC"
    } else {
        " ORDER BY seq"
    });
    q.push(" LIMIT ").arg(i64::from(f.limit));
    fetch(db, &q.sql, &q.args, rows::event).await
}

pub async fn webhook_endpoints(
    db: &mut dyn Sql,
    id: Option<EndpointId>,
) -> Result<Vec<Endpoint>, EngineError> {
    let mut q = Q::new(format!("SELECT {ENDPOINT_COLS} FROM webhook_endpoints"));
    if let Some(id) = id {
        q.push(" WHERE id = ").arg(id.to_string());
    }
    q.push(" ORDER BY created_at, id");
    fetch(db, &q.sql, &q.args, rows::endpoint).await
}

pub async fn deliveries_of(db: &mut dyn Sql, event: EventId) -> Result<Vec<Delivery>, EngineError> {
    let sql =
        format!("SELECT {DELIVERY_COLS} FROM webhook_deliveries WHERE event_id = $1 ORDER BY seq");
    fetch(db, &sql, &[event.to_string().into()], rows::delivery).await
}

pub async fn attempts(
    db: &mut dyn Sql,
    event: Option<EventId>,
    endpoint: Option<EndpointId>,
    limit: u32,
) -> Result<Vec<Attempt>, EngineError> {
    let mut q = Q::new(format!(
        "SELECT {ATTEMPT_COLS} FROM webhook_attempts WHERE 1 = 1"
    ));
    if let Some(e) = event {
        q.push(" AND event_id = ").arg(e.to_string());
    }
    if let Some(e) = endpoint {
        q.push(" AND endpoint_id = ").arg(e.to_string());
    }
    q.push(" ORDER BY at DESC, id DESC LIMIT ")
        .arg(i64::from(limit));
    fetch(db, &q.sql, &q.args, rows::attempt).await
}

pub async fn assignment_audits(
    db: &mut dyn Sql,
    number: &NumberRef,
) -> Result<Vec<AssignmentAudit>, EngineError> {
    let (col, arg) = by_number(number);
    let sql =
        format!("SELECT {AUDIT_COLS} FROM did_assignment_audit WHERE {col} = $1 ORDER BY seq");
    fetch(db, &sql, &[arg], rows::audit).await
}

pub async fn job(db: &mut dyn Sql, id: JobId) -> Result<Option<Job>, EngineError> {
    let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE id = $1");
    fetch_one(db, &sql, &[id.to_string().into()], rows::job).await
}

pub async fn jobs(db: &mut dyn Sql, f: &JobQuery) -> Result<Page<Job>, EngineError> {
    let mut filter = Q::new(" FROM jobs");
    if let Some(a) = &f.visible_to {
        filter.push(" WHERE (account_id = ").arg(a.as_str());
        filter.push(" OR billing_id = ").arg(a.as_str()).push(")");
    }
    let total = count(
        db,
        &format!("SELECT count(*) AS n{}", filter.sql),
        &filter.args,
    )
    .await?;
    let mut q = Q::new(format!("SELECT {JOB_COLS}{}", filter.sql));
    q.args = filter.args;
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .arg(i64::from(f.limit))
        .push(" OFFSET ")
        .arg(i64::try_from(f.offset).unwrap_or(i64::MAX));
    let items = fetch(db, &q.sql, &q.args, rows::job).await?;
    Ok(Page { items, total })
}

pub async fn job_items(
    db: &mut dyn Sql,
    job: JobId,
    f: &JobItemQuery,
) -> Result<Page<JobItem>, EngineError> {
    let mut filter = Q::new(" FROM job_items WHERE job_id = ");
    filter.arg(job.to_string());
    match f.filter {
        ItemFilter::All => {}
        ItemFilter::Pending => {
            filter.push(" AND status = 'pending'");
        }
        ItemFilter::Succeeded => {
            filter.push(" AND status = 'succeeded'");
        }
        ItemFilter::Failed => {
            filter.push(" AND status = 'failed'");
        }
    }
    let total = count(
        db,
        &format!("SELECT count(*) AS n{}", filter.sql),
        &filter.args,
    )
    .await?;
    let mut q = Q::new(format!("SELECT {JOB_ITEM_COLS}{}", filter.sql));
    q.args = filter.args;
    q.push(" ORDER BY seq LIMIT ")
        .arg(i64::from(f.limit))
        .push(" OFFSET ")
        .arg(i64::try_from(f.offset).unwrap_or(i64::MAX));
    let items = fetch(db, &q.sql, &q.args, rows::job_item).await?;
    Ok(Page { items, total })
}

/// Numbers with something due at `now` (see `lifecycle::Command::Tick`), each scan served by
/// its own partial index.
pub async fn due(
    db: &mut dyn Sql,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<NumberId>, EngineError> {
    // The verification branch walks the partial index of numbers awaiting verification: the
    // holder indexes (migration 0013) cover `billing_id` and `state` too, and SQLite would
    // otherwise scan every held number there on each list and scheduler pass.
    let hint = db.indexed_by("numbers_awaiting_verification");
    let sql = format!("SELECT id FROM ( \
        SELECT id FROM numbers WHERE release_at <= $1 AND state IN ('active', 'pending_release') \
        UNION SELECT id FROM numbers WHERE state = 'quarantined' AND quarantine_until <= $1 \
        UNION SELECT id FROM numbers WHERE state IN ('reserved', 'pending_verification') AND reservation_expires_at <= $1 \
        UNION SELECT id FROM numbers WHERE state = 'active' AND origin = 'stock' AND next_billing_date <= $1 \
        UNION SELECT n.id FROM numbers n{hint} JOIN accounts a ON a.id = n.billing_id \
              WHERE n.state IN ('reserved', 'pending_verification') \
              AND (a.verification = 'rejected' OR (a.verification = 'verified' AND n.state = 'pending_verification')) \
        ) due ORDER BY id LIMIT $2");
    let rows = db
        .fetch(&sql, &[now.into(), i64::from(limit).into()])
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let id = r.text("id")?;
            NumberId::parse(&id).map_err(|_| corrupt(format!("bad number id {id:?}")))
        })
        .collect()
}

/// The earliest due time among the numbers [`due`] finds at `now` (the scans with a time of
/// their own; a verification outcome has none), for the scheduler's lag.
pub async fn oldest_due(
    db: &mut dyn Sql,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, EngineError> {
    due_time(db, now, "<=").await
}

/// The earliest due time after `now` among the numbers [`due`] would find once the clock
/// reaches it: what a list's settling may wait for (`Engine::with_due_cache`).
pub async fn next_due(
    db: &mut dyn Sql,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, EngineError> {
    due_time(db, now, ">").await
}

/// `MIN` of [`due`]'s timed scans, each time compared with `now` by `cmp` (`<=` or `>`).
async fn due_time(
    db: &mut dyn Sql,
    now: DateTime<Utc>,
    cmp: &str,
) -> Result<Option<DateTime<Utc>>, EngineError> {
    let sql = format!("SELECT MIN(t) AS t FROM ( \
        SELECT MIN(release_at) AS t FROM numbers WHERE release_at {cmp} $1 AND state IN ('active', 'pending_release') \
        UNION ALL SELECT MIN(quarantine_until) FROM numbers WHERE state = 'quarantined' AND quarantine_until {cmp} $1 \
        UNION ALL SELECT MIN(reservation_expires_at) FROM numbers WHERE state IN ('reserved', 'pending_verification') AND reservation_expires_at {cmp} $1 \
        UNION ALL SELECT MIN(next_billing_date) FROM numbers WHERE state = 'active' AND origin = 'stock' AND next_billing_date {cmp} $1 \
        ) due");
    let rows = db.fetch(&sql, &[now.into()]).await.map_err(db_err)?;
    match rows.first() {
        Some(row) => row.opt_time("t"),
        None => Ok(None),
    }
}

/// The invariants that must hold after any sequence of commands, checked over the whole database.
pub async fn check(db: &mut dyn Sql) -> Result<Vec<Violation>, EngineError> {
    let mut found = Vec::new();
    let mut rule =
        async |db: &mut dyn Sql, name: &'static str, sql: &str| -> Result<(), EngineError> {
            for row in db.fetch(sql, &[]).await.map_err(db_err)? {
                found.push(Violation {
                    rule: name,
                    subject: row.text("subject")?,
                    detail: row.text("detail")?,
                });
            }
            Ok(())
        };
    rule(
        db,
        "one_live_row_per_number",
        "SELECT e164 AS subject, 'live rows: ' || count(*) AS detail FROM numbers \
         WHERE state <> 'deleted' GROUP BY e164 HAVING count(*) > 1",
    )
    .await?;
    rule(
        db,
        "tomb_marks_deleted_rows",
        "SELECT id AS subject, 'state ' || state || ', tomb ' || tomb AS detail FROM numbers \
         WHERE tomb <> CASE WHEN state = 'deleted' THEN id ELSE '' END",
    )
    .await?;
    rule(
        db,
        "available_number_is_unheld",
        "SELECT e164 AS subject, 'owner ' || coalesce(owner_id, '-') || ', billed to ' || coalesce(billing_id, '-') \
         || ', trunk ' || coalesce(trunk_id, '-') AS detail FROM numbers \
         WHERE state IN ('available', 'quarantined', 'deleted') \
         AND (owner_id IS NOT NULL OR billing_id IS NOT NULL OR trunk_id IS NOT NULL)",
    )
    .await?;
    rule(
        db,
        "held_number_has_owner_and_payer",
        "SELECT e164 AS subject, 'state ' || state || ' without owner or payer' AS detail FROM numbers \
         WHERE state IN ('reserved', 'pending_verification', 'active', 'pending_release') \
         AND (owner_id IS NULL OR billing_id IS NULL)",
    )
    .await?;
    rule(
        db,
        "owner_is_the_payer_or_its_sub_account",
        "SELECT n.e164 AS subject, 'owner ' || n.owner_id || ' billed to ' || n.billing_id AS detail \
         FROM numbers n JOIN accounts o ON o.id = n.owner_id \
         WHERE n.billing_id <> coalesce(o.parent_id, o.id)",
    )
    .await?;
    rule(
        db,
        "trunk_belongs_to_holder_or_payer",
        "SELECT n.e164 AS subject, 'trunk ' || n.trunk_id || ' of ' || coalesce(t.account_id, 'nobody') \
         || ', held by ' || coalesce(n.owner_id, '-') || ', billed to ' || coalesce(n.billing_id, '-') AS detail \
         FROM numbers n LEFT JOIN trunks t ON t.id = n.trunk_id \
         WHERE n.trunk_id IS NOT NULL AND (t.id IS NULL \
           OR t.account_id NOT IN (coalesce(n.owner_id, ''), coalesce(n.billing_id, '')))",
    )
    .await?;
    rule(
        db,
        "ledger_equals_balance",
        "SELECT a.id AS subject, 'balance ' || a.balance || ' but ledger sums to ' || coalesce(sum(l.amount), 0) AS detail \
         FROM accounts a LEFT JOIN ledger l ON l.account_id = a.id \
         GROUP BY a.id, a.balance HAVING a.balance <> coalesce(sum(l.amount), 0)",
    )
    .await?;
    rule(
        db,
        "balance_not_negative",
        "SELECT id AS subject, 'balance ' || balance AS detail FROM accounts WHERE balance < 0",
    )
    .await?;
    rule(
        db,
        "state_change_has_event",
        "SELECT n.e164 AS subject, 'state ' || n.state || ' owner ' || coalesce(n.owner_id, '-') \
         || ' but the last event says ' || coalesce(e.to_state, 'nothing') || ' owner ' || coalesce(e.to_owner, '-') AS detail \
         FROM numbers n LEFT JOIN number_events e ON e.seq = \
           (SELECT max(seq) FROM number_events x WHERE x.number_id = n.id) \
         WHERE e.seq IS NULL OR e.to_state <> n.state \
           OR coalesce(e.to_owner, '') <> coalesce(n.owner_id, '')",
    )
    .await?;
    rule(
        db,
        "locked_number_is_active_without_release",
        "SELECT e164 AS subject, 'locked against release in state ' || state \
         || CASE WHEN release_at IS NULL THEN '' ELSE ' with a release pending' END AS detail \
         FROM numbers WHERE release_locked_at IS NOT NULL \
         AND (state <> 'active' OR release_at IS NOT NULL)",
    )
    .await?;
    rule(
        db,
        "job_counts_are_its_items",
        "SELECT j.id AS subject, 'counts ' || j.succeeded || '/' || j.failed || '/' || j.total \
         || ' but items ' || coalesce(sum(CASE WHEN i.status = 'succeeded' THEN 1 ELSE 0 END), 0) \
         || '/' || coalesce(sum(CASE WHEN i.status = 'failed' THEN 1 ELSE 0 END), 0) \
         || '/' || count(i.seq) AS detail \
         FROM jobs j LEFT JOIN job_items i ON i.job_id = j.id \
         GROUP BY j.id, j.succeeded, j.failed, j.total \
         HAVING j.total <> count(i.seq) \
           OR j.succeeded <> coalesce(sum(CASE WHEN i.status = 'succeeded' THEN 1 ELSE 0 END), 0) \
           OR j.failed <> coalesce(sum(CASE WHEN i.status = 'failed' THEN 1 ELSE 0 END), 0)",
    )
    .await?;
    rule(
        db,
        "holder_counts_match_numbers",
        "WITH a AS (SELECT owner_id AS holder_id, 'owner' AS role, state, count(*) AS n FROM numbers \
           WHERE owner_id IS NOT NULL GROUP BY owner_id, state \
         UNION ALL SELECT billing_id, 'billing', state, count(*) FROM numbers \
           WHERE billing_id IS NOT NULL GROUP BY billing_id, state) \
         SELECT a.holder_id || ' ' || a.role || ' ' || a.state AS subject, \
           'counted ' || coalesce(c.n, 0) || ' but holds ' || a.n AS detail \
         FROM a LEFT JOIN number_holder_counts c \
           ON c.holder_id = a.holder_id AND c.role = a.role AND c.state = a.state \
         WHERE coalesce(c.n, 0) <> a.n \
         UNION ALL SELECT c.holder_id || ' ' || c.role || ' ' || c.state, \
           'counted ' || c.n || ' but holds 0' FROM number_holder_counts c \
         WHERE c.n <> 0 AND NOT EXISTS (SELECT 1 FROM a \
           WHERE a.holder_id = c.holder_id AND a.role = c.role AND a.state = c.state)",
    )
    .await?;
    // Every holder's list has a version (migration 0014): a page directory is trusted only
    // while the version it was built at is current, so a holder without one would never be
    // seen to change.
    rule(
        db,
        "holder_versions_cover_holders",
        "WITH a AS (SELECT DISTINCT owner_id AS holder_id, 'owner' AS role FROM numbers \
           WHERE owner_id IS NOT NULL \
         UNION SELECT DISTINCT billing_id, 'billing' FROM numbers WHERE billing_id IS NOT NULL) \
         SELECT a.holder_id || ' ' || a.role AS subject, \
           'holds numbers but has no list version' AS detail \
         FROM a WHERE NOT EXISTS (SELECT 1 FROM number_holder_counts v \
           WHERE v.holder_id = a.holder_id AND v.role = a.role AND v.changes > 0)",
    )
    .await?;
    Ok(found)
}

// Idempotency keys (see `didpool_core::idempotency`).

const KEY_COLS: &str = "id, fingerprint, created_at, in_flight_until, status, headers, body";

fn key_row(r: &DbRow) -> Result<KeyRow, EngineError> {
    let answer = match r.opt_int("status")? {
        None => None,
        Some(status) => {
            let headers: Vec<(String, String)> = serde_json::from_str(&r.text("headers")?)
                .map_err(|e| corrupt(format!("idempotency key headers: {e}")))?;
            let body = base64::engine::general_purpose::STANDARD
                .decode(r.text("body")?)
                .map_err(|e| corrupt(format!("idempotency key body: {e}")))?;
            let status = u16::try_from(status)
                .map_err(|_| corrupt(format!("idempotency key status {status}")))?;
            Some(StoredAnswer {
                status,
                headers,
                body,
            })
        }
    };
    Ok(KeyRow {
        id: r.text("id")?,
        fingerprint: r.text("fingerprint")?,
        created_at: r.time("created_at")?,
        in_flight_until: r.opt_time("in_flight_until")?,
        answer,
    })
}

/// Claims a key inside the caller's transaction (see [`didpool_core::Store::claim_key`]).
pub async fn claim_key(
    db: &mut dyn Sql,
    req: &KeyRequest,
    now: DateTime<Utc>,
    retention: chrono::Duration,
) -> Result<(KeyDecision, Option<String>), EngineError> {
    let lock = db.lock();
    let sql = format!(
        "SELECT {KEY_COLS} FROM idempotency_keys \
         WHERE scope = $1 AND method = $2 AND path = $3 AND key = $4{lock}"
    );
    let args = [
        req.scope.as_str().into(),
        req.method.as_str().into(),
        req.path.as_str().into(),
        req.key.as_str().into(),
    ];
    // Twice at most: a PostgreSQL transaction that loses the race to insert the key reads the
    // winner's row the second time.
    for _ in 0..2 {
        let row = fetch_one(db, &sql, &args, key_row).await?;
        let decision = idempotency::decide(row.as_ref(), &req.fingerprint, now, retention);
        let until = now + idempotency::LEASE;
        match (&decision, &row) {
            (KeyDecision::TakeOver, Some(row)) => {
                db.exec(
                    "UPDATE idempotency_keys SET in_flight_until = $2 WHERE id = $1",
                    &[row.id.as_str().into(), until.into()],
                )
                .await
                .map_err(db_err)?;
                return Ok((decision, Some(row.id.clone())));
            }
            (KeyDecision::Insert, expired) => {
                if let Some(expired) = expired {
                    delete_key(db, &expired.id).await?;
                }
                let id = uuid::Uuid::now_v7().to_string();
                let inserted = db
                    .exec(
                        "INSERT INTO idempotency_keys \
                         (id, scope, method, path, key, fingerprint, created_at, in_flight_until) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (scope, method, path, key) DO NOTHING",
                        &[
                            id.as_str().into(),
                            req.scope.as_str().into(),
                            req.method.as_str().into(),
                            req.path.as_str().into(),
                            req.key.as_str().into(),
                            req.fingerprint.as_str().into(),
                            now.into(),
                            until.into(),
                        ],
                    )
                    .await
                    .map_err(db_err)?;
                if inserted == 1 {
                    return Ok((decision, Some(id)));
                }
            }
            _ => return Ok((decision, None)),
        }
    }
    Err(EngineError::Storage(
        "the idempotency key could be neither read nor claimed".into(),
    ))
}

async fn delete_key(db: &mut dyn Sql, id: &str) -> Result<(), EngineError> {
    db.exec(
        "DELETE FROM idempotency_outcomes WHERE key_id = $1",
        &[id.into()],
    )
    .await
    .map_err(db_err)?;
    db.exec("DELETE FROM idempotency_keys WHERE id = $1", &[id.into()])
        .await
        .map_err(db_err)?;
    Ok(())
}

pub async fn finish_key(
    db: &mut dyn Sql,
    id: &str,
    answer: &StoredAnswer,
) -> Result<(), EngineError> {
    let headers = serde_json::to_string(&answer.headers).map_err(EngineError::storage)?;
    let body = base64::engine::general_purpose::STANDARD.encode(&answer.body);
    db.exec(
        "UPDATE idempotency_keys SET status = $2, headers = $3, body = $4, in_flight_until = NULL \
         WHERE id = $1 AND status IS NULL",
        &[
            id.into(),
            i64::from(answer.status).into(),
            headers.into(),
            body.into(),
        ],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

pub async fn release_key(
    db: &mut dyn Sql,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), EngineError> {
    db.exec(
        "UPDATE idempotency_keys SET in_flight_until = $2 WHERE id = $1 AND status IS NULL",
        &[id.into(), now.into()],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

pub async fn prune_keys(db: &mut dyn Sql, before: DateTime<Utc>) -> Result<u64, EngineError> {
    db.exec(
        "DELETE FROM idempotency_outcomes WHERE key_id IN \
         (SELECT id FROM idempotency_keys WHERE created_at < $1)",
        &[before.into()],
    )
    .await
    .map_err(db_err)?;
    db.exec(
        "DELETE FROM idempotency_keys WHERE created_at < $1",
        &[before.into()],
    )
    .await
    .map_err(db_err)
}

/// Locks the key's row and reads the outcome recorded for `step`, if any. A step of a key that
/// is gone (pruned while its request ran) is refused rather than run unrecorded.
pub async fn recorded_outcome(
    db: &mut dyn Sql,
    step: &KeyStep,
) -> Result<Option<Outcome>, EngineError> {
    let lock = db.lock();
    let sql = format!("SELECT id FROM idempotency_keys WHERE id = $1{lock}");
    if db
        .fetch(&sql, &[step.key_id.as_str().into()])
        .await
        .map_err(db_err)?
        .is_empty()
    {
        return Err(EngineError::invalid(
            "the idempotency key expired while its request ran",
        ));
    }
    let rows = db
        .fetch(
            "SELECT outcome FROM idempotency_outcomes WHERE key_id = $1 AND seq = $2",
            &[step.key_id.as_str().into(), i64::from(step.seq).into()],
        )
        .await
        .map_err(db_err)?;
    rows.first()
        .map(|r| {
            serde_json::from_str(&r.text("outcome")?)
                .map_err(|e| corrupt(format!("idempotency outcome: {e}")))
        })
        .transpose()
}

pub async fn record_outcome(
    db: &mut dyn Sql,
    step: &KeyStep,
    outcome: &Outcome,
) -> Result<(), EngineError> {
    let json = serde_json::to_string(outcome).map_err(EngineError::storage)?;
    db.exec(
        "INSERT INTO idempotency_outcomes (key_id, seq, outcome) VALUES ($1, $2, $3)",
        &[
            step.key_id.as_str().into(),
            i64::from(step.seq).into(),
            json.into(),
        ],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

/// The columns of `console_sessions`, in [`console_session_row`]'s order.
const CONSOLE_SESSION_COLS: &str =
    "id_hash, account_id, credential_id, operator_hash, created_at, seen_at";

fn console_session_row(r: &DbRow) -> Result<ConsoleSession, EngineError> {
    let owner = match (r.opt_text("account_id")?, r.opt_text("credential_id")?) {
        (Some(account), Some(credential)) => SessionOwner::Account {
            account: AccountId::parse(&account)
                .map_err(|e| corrupt(format!("console_sessions.account_id: {e}")))?,
            credential: CredentialId::parse(&credential)
                .map_err(|e| corrupt(format!("console_sessions.credential_id: {e}")))?,
        },
        _ => SessionOwner::Operator {
            token_hash: TokenHash(r.text("operator_hash")?),
        },
    };
    Ok(ConsoleSession {
        id_hash: TokenHash(r.text("id_hash")?),
        owner,
        created_at: r.time("created_at")?,
        seen_at: r.time("seen_at")?,
    })
}

pub async fn open_console_session(db: &mut dyn Sql, s: &ConsoleSession) -> Result<(), EngineError> {
    let (account, credential, operator): (Val, Val, Val) = match &s.owner {
        SessionOwner::Account {
            account,
            credential,
        } => (
            account.as_str().into(),
            credential.to_string().into(),
            Val::Text(None),
        ),
        SessionOwner::Operator { token_hash } => (
            Val::Text(None),
            Val::Text(None),
            token_hash.0.as_str().into(),
        ),
    };
    db.exec(
        &format!(
            "INSERT INTO console_sessions ({CONSOLE_SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ),
        &[
            s.id_hash.0.as_str().into(),
            account,
            credential,
            operator,
            s.created_at.into(),
            s.seen_at.into(),
        ],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

pub async fn console_session(
    db: &mut dyn Sql,
    hash: &TokenHash,
) -> Result<Option<ConsoleSession>, EngineError> {
    let sql = format!("SELECT {CONSOLE_SESSION_COLS} FROM console_sessions WHERE id_hash = $1");
    fetch_one(db, &sql, &[hash.0.as_str().into()], console_session_row).await
}

pub async fn touch_console_session(
    db: &mut dyn Sql,
    hash: &TokenHash,
    at: DateTime<Utc>,
) -> Result<(), EngineError> {
    db.exec(
        "UPDATE console_sessions SET seen_at = $2 WHERE id_hash = $1 AND seen_at < $2",
        &[hash.0.as_str().into(), at.into()],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

pub async fn end_console_session(db: &mut dyn Sql, hash: &TokenHash) -> Result<(), EngineError> {
    db.exec(
        "DELETE FROM console_sessions WHERE id_hash = $1",
        &[hash.0.as_str().into()],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

pub async fn prune_console_sessions(
    db: &mut dyn Sql,
    idle_before: DateTime<Utc>,
    created_before: DateTime<Utc>,
) -> Result<u64, EngineError> {
    db.exec(
        "DELETE FROM console_sessions WHERE seen_at < $1 OR created_at < $2",
        &[idle_before.into(), created_before.into()],
    )
    .await
    .map_err(db_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(table: &'static str, op: WriteOp, sql: &str, args: usize, what: &str) -> Stmt {
        Stmt {
            table,
            op,
            q: Q {
                sql: sql.into(),
                args: (0..args as i64).map(Val::from).collect(),
            },
            what: what.into(),
        }
    }

    #[test]
    fn combined_writes_number_their_placeholders_in_turn() {
        let q = combined(&mut [
            stmt(
                "numbers",
                WriteOp::Update,
                "UPDATE numbers SET state = $1 WHERE id = $2",
                2,
                "+1",
            ),
            stmt(
                "number_events",
                WriteOp::Insert,
                "INSERT INTO number_events (a, b, c) VALUES ($1, $2, $3)",
                3,
                "event",
            ),
        ]);
        assert_eq!(
            q.sql,
            "WITH w0 AS (UPDATE numbers SET state = $1 WHERE id = $2), \
             w1 AS (INSERT INTO number_events (a, b, c) VALUES ($3, $4, $5)) SELECT 1"
        );
        assert_eq!(q.args.len(), 5);
        assert_eq!(
            renumbered("a = $9, b = $10, c = $11", 90),
            "a = $99, b = $100, c = $101"
        );
        assert_eq!(renumbered("x = $1)", 0), "x = $1)");
        assert_eq!(crate::sql::placeholders(3), "$1, $2, $3");
        let many = insert_many(
            "t",
            "a, b",
            vec![vec![Val::from(1), Val::from(2)]; 2],
            "row",
        );
        assert_eq!(
            many[0].q.sql,
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }

    #[test]
    fn only_writes_that_cannot_depend_on_their_order_are_combined() {
        let update = |table, what| stmt(table, WriteOp::Update, "", 2, what);
        let insert = |table| stmt(table, WriteOp::Insert, "", 2, "row");
        // A purchase: the payer, the number, its ledger entries (one statement), the event.
        assert!(order_free(&[
            update("accounts", "MA_1"),
            update("accounts", "MA_2"),
            update("numbers", "+1"),
            insert("ledger"),
            insert("number_events"),
        ]));
        // Two inserts into one table (their sequence numbers), a row written twice, or a table
        // both inserted into and updated keep their order.
        assert!(!order_free(&[insert("ledger"), insert("ledger")]));
        assert!(!order_free(&[
            update("numbers", "+1"),
            update("numbers", "+1")
        ]));
        assert!(!order_free(&[insert("numbers"), update("numbers", "+2")]));
        let delete = stmt("trunks", WriteOp::Delete, "", 1, "t");
        assert!(!order_free(&[update("trunks", "t"), delete]));
        // Too many parameters for one statement.
        let big = stmt("numbers", WriteOp::Insert, "", 20_000, "batch");
        let big2 = stmt("numbers", WriteOp::Insert, "", 20_000, "batch");
        assert!(!order_free(&[big, big2]));
    }

    #[test]
    fn fts_query_spells_a_term_as_its_windows() {
        assert_eq!(fts_query("1234").as_deref(), Some("\"1234\""));
        assert_eq!(fts_query("12345").as_deref(), Some("\"1234 2345\""));
        assert_eq!(fts_query("+1415").as_deref(), Some("\"p141 1415\""));
        assert_eq!(fts_query("671").as_deref(), Some("\"671\"*"));
        assert_eq!(fts_query("+91").as_deref(), Some("\"p91\"*"));
        // Too short, or not a number's characters: served by LIKE.
        for term in ["12", "+1", "", "12a4", "1+23", "12\"4", "++12"] {
            assert_eq!(fts_query(term), None, "{term:?}");
        }
    }
}
