//! Reads, served by the pool of WAL readers.

use didpool_core::audit::{AssignmentAudit, NumberEvent};
use didpool_core::credential::{Credential, CredentialKind, TokenHash};
use didpool_core::ledger::EntryKind;
use didpool_core::money::Decimal;
use didpool_core::store::{
    Holder, KindTotal, LedgerPage, LedgerQuery, NumberQuery, Page, SubAccountQuery,
};
use didpool_core::{Account, AccountId, EngineError, Number, NumberId, Trunk, TrunkId, E164};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::db_err;
use super::rows::{
    self, ACCOUNT_COLS, AUDIT_COLS, CREDENTIAL_COLS, ENTRY_COLS, EVENT_COLS, NUMBER_COLS,
    TRUNK_COLS,
};
use crate::codec::{corrupt, money_from_e4, ts};

pub async fn account(pool: &SqlitePool, id: &AccountId) -> Result<Option<Account>, EngineError> {
    let sql = format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?");
    let row = sqlx::query(&sql)
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(rows::account).transpose()
}

pub async fn credential(
    pool: &SqlitePool,
    kind: CredentialKind,
    hash: &TokenHash,
) -> Result<Option<Credential>, EngineError> {
    let sql = format!(
        "SELECT {CREDENTIAL_COLS} FROM credentials WHERE token_hash = ? AND kind = ? AND revoked_at IS NULL"
    );
    let row = sqlx::query(&sql)
        .bind(&hash.0)
        .bind(kind.as_str())
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(rows::credential).transpose()
}

pub async fn credentials_of(
    pool: &SqlitePool,
    account: &AccountId,
) -> Result<Vec<Credential>, EngineError> {
    let sql = format!(
        "SELECT {CREDENTIAL_COLS} FROM credentials WHERE account_id = ? ORDER BY created_at"
    );
    let found = sqlx::query(&sql)
        .bind(account.as_str())
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    found.iter().map(rows::credential).collect()
}

pub async fn number_by_e164(pool: &SqlitePool, e164: &E164) -> Result<Option<Number>, EngineError> {
    let sql = format!("SELECT {NUMBER_COLS} FROM numbers WHERE e164 = ? AND state <> 'deleted'");
    let row = sqlx::query(&sql)
        .bind(e164.as_str())
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(rows::number).transpose()
}

pub async fn number(pool: &SqlitePool, id: NumberId) -> Result<Option<Number>, EngineError> {
    let sql = format!("SELECT {NUMBER_COLS} FROM numbers WHERE id = ?");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(rows::number).transpose()
}

fn number_filters<'q>(qb: &mut QueryBuilder<'q, Sqlite>, q: &'q NumberQuery) {
    qb.push(" WHERE 1 = 1");
    match &q.holder {
        Holder::Nobody => qb.push(" AND owner_id IS NULL"),
        Holder::Account(id) => qb.push(" AND owner_id = ").push_bind(id.as_str()),
        Holder::Family(id) => qb.push(" AND billing_id = ").push_bind(id.as_str()),
    };
    if !q.states.is_empty() {
        qb.push(" AND state IN (");
        let mut list = qb.separated(", ");
        for s in &q.states {
            list.push_bind(s.as_str());
        }
        qb.push(")");
    }
    if let Some(c) = &q.country {
        qb.push(" AND country = ").push_bind(c.as_str());
    }
    if let Some(s) = &q.search {
        qb.push(" AND instr(e164, ")
            .push_bind(s.as_str())
            .push(") > 0");
    }
    for p in &q.exclude_prefixes {
        qb.push(" AND substr(e164, 2, ")
            .push_bind(p.len() as i64)
            .push(") <> ")
            .push_bind(p.as_str());
    }
}

pub async fn numbers(pool: &SqlitePool, q: &NumberQuery) -> Result<Page<Number>, EngineError> {
    let mut count = QueryBuilder::new("SELECT count(*) FROM numbers");
    number_filters(&mut count, q);
    let total: i64 = count
        .build_query_scalar()
        .fetch_one(pool)
        .await
        .map_err(db_err)?;

    let mut select = QueryBuilder::new(format!("SELECT {NUMBER_COLS} FROM numbers"));
    number_filters(&mut select, q);
    select
        .push(" ORDER BY e164 LIMIT ")
        .push_bind(i64::from(q.limit))
        .push(" OFFSET ")
        .push_bind(q.offset as i64);
    let found = select.build().fetch_all(pool).await.map_err(db_err)?;
    Ok(Page {
        items: found.iter().map(rows::number).collect::<Result<_, _>>()?,
        total: total as u64,
    })
}

pub async fn sub_accounts(
    pool: &SqlitePool,
    parent: &AccountId,
    q: &SubAccountQuery,
) -> Result<Page<Account>, EngineError> {
    let filter = if q.active_only {
        " AND enabled = 1"
    } else {
        ""
    };
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM accounts WHERE parent_id = ? AND deleted_at IS NULL{filter}"
    ))
    .bind(parent.as_str())
    .fetch_one(pool)
    .await
    .map_err(db_err)?;
    let sql = format!(
        "SELECT {ACCOUNT_COLS} FROM accounts WHERE parent_id = ? AND deleted_at IS NULL{filter} \
         ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
    );
    let found = sqlx::query(&sql)
        .bind(parent.as_str())
        .bind(i64::from(q.limit))
        .bind(q.offset as i64)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    Ok(Page {
        items: found.iter().map(rows::account).collect::<Result<_, _>>()?,
        total: total as u64,
    })
}

pub async fn trunk(pool: &SqlitePool, id: TrunkId) -> Result<Option<Trunk>, EngineError> {
    let sql = format!("SELECT {TRUNK_COLS} FROM trunks WHERE id = ?");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    row.as_ref().map(rows::trunk).transpose()
}

pub async fn trunks(
    pool: &SqlitePool,
    account: &AccountId,
    limit: u32,
    offset: u64,
) -> Result<Page<Trunk>, EngineError> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM trunks WHERE account_id = ?")
        .bind(account.as_str())
        .fetch_one(pool)
        .await
        .map_err(db_err)?;
    let sql = format!("SELECT {TRUNK_COLS} FROM trunks WHERE account_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?");
    let found = sqlx::query(&sql)
        .bind(account.as_str())
        .bind(i64::from(limit))
        .bind(offset as i64)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    Ok(Page {
        items: found.iter().map(rows::trunk).collect::<Result<_, _>>()?,
        total: total as u64,
    })
}

fn ledger_filters<'q>(qb: &mut QueryBuilder<'q, Sqlite>, q: &'q LedgerQuery) {
    qb.push(" WHERE account_id = ")
        .push_bind(q.account.as_str());
    match q.debits {
        Some(true) => qb.push(" AND amount < 0"),
        Some(false) => qb.push(" AND amount > 0"),
        None => qb,
    };
    if let Some(k) = q.kind {
        qb.push(" AND kind = ").push_bind(k.as_str());
    }
    if let Some(from) = q.from {
        qb.push(" AND created_at >= ").push_bind(ts(from));
    }
    if let Some(to) = q.to {
        qb.push(" AND created_at <= ").push_bind(ts(to));
    }
}

pub async fn ledger(pool: &SqlitePool, q: &LedgerQuery) -> Result<LedgerPage, EngineError> {
    let mut totals = QueryBuilder::new(
        "SELECT kind, count(*) AS n, \
         coalesce(sum(CASE WHEN amount < 0 THEN -amount ELSE 0 END), 0) AS debit, \
         coalesce(sum(CASE WHEN amount > 0 THEN amount ELSE 0 END), 0) AS credit FROM ledger",
    );
    ledger_filters(&mut totals, q);
    totals.push(" GROUP BY kind ORDER BY kind");
    let groups = totals.build().fetch_all(pool).await.map_err(db_err)?;
    let mut by_kind = Vec::new();
    for g in &groups {
        let kind: String = g.try_get("kind").map_err(db_err)?;
        by_kind.push(KindTotal {
            kind: EntryKind::parse(&kind).ok_or_else(|| corrupt(format!("bad kind {kind:?}")))?,
            count: g.try_get::<i64, _>("n").map_err(db_err)? as u64,
            total_debit: money_from_e4(g.try_get("debit").map_err(db_err)?),
            total_credit: money_from_e4(g.try_get("credit").map_err(db_err)?),
        });
    }

    let mut select = QueryBuilder::new(format!("SELECT {ENTRY_COLS} FROM ledger"));
    ledger_filters(&mut select, q);
    select
        .push(" ORDER BY seq DESC LIMIT ")
        .push_bind(i64::from(q.limit))
        .push(" OFFSET ")
        .push_bind(q.offset as i64);
    let found = select.build().fetch_all(pool).await.map_err(db_err)?;
    Ok(LedgerPage {
        entries: found.iter().map(rows::entry).collect::<Result<_, _>>()?,
        total: by_kind.iter().map(|k| k.count).sum(),
        total_debit: by_kind.iter().map(|k| k.total_debit).sum::<Decimal>(),
        total_credit: by_kind.iter().map(|k| k.total_credit).sum::<Decimal>(),
        by_kind,
    })
}

pub async fn events(pool: &SqlitePool, number: NumberId) -> Result<Vec<NumberEvent>, EngineError> {
    let sql = format!("SELECT {EVENT_COLS} FROM number_events WHERE number_id = ? ORDER BY seq DESC");
    let found = sqlx::query(&sql)
        .bind(number.to_string())
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    found.iter().map(rows::event).collect()
}

pub async fn assignment_audits(
    pool: &SqlitePool,
    number: NumberId,
) -> Result<Vec<AssignmentAudit>, EngineError> {
    let sql =
        format!("SELECT {AUDIT_COLS} FROM did_assignment_audit WHERE number_id = ? ORDER BY seq");
    let found = sqlx::query(&sql)
        .bind(number.to_string())
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    found.iter().map(rows::audit).collect()
}
