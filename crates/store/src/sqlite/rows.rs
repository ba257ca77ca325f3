//! Rows to domain values and back, for SQLite.

use didpool_core::account::{Account, AccountProfile, Role};
use didpool_core::audit::{Actor, AssignmentAudit, NumberEvent};
use didpool_core::credential::{Credential, CredentialKind, TokenHash};
use didpool_core::ids::{CredentialId, EntryId, EventId};
use didpool_core::ledger::{EntryKind, LedgerEntry};
use didpool_core::money::Currency;
use didpool_core::trunk::TrunkSettings;
use didpool_core::{
    AccountId, Capabilities, EngineError, Number, NumberId, NumberState, Origin, Trunk, TrunkId,
    E164,
};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::db_err;
use crate::codec::{corrupt, money_from_e4, money_to_e4, parse_ts, ts};

pub const ACCOUNT_COLS: &str =
    "id, parent_id, name, role, currency, balance, enabled, profile, created_at, updated_at, deleted_at";
pub const CREDENTIAL_COLS: &str = "id, account_id, kind, token_hash, scope, created_at, revoked_at";
pub const TRUNK_COLS: &str = "id, account_id, name, settings, created_at, updated_at";
pub const NUMBER_COLS: &str = "id, e164, country, region, capabilities, origin, provider, setup_fee, \
    monthly_fee, currency, state, owner_id, billing_id, trunk_id, application_id, tags, is_blocked, \
    is_trial_number, minimum_commitment_months, aadhaar_verification_required, aadhaar_verified, \
    last_call_at, purchased_at, last_billing_date, next_billing_date, release_at, released_at, \
    quarantine_until, release_fee, nickname, inbound_agent_id, outbound_agent_id, created_at, updated_at";
pub const ENTRY_COLS: &str =
    "id, account_id, amount, balance_after, currency, kind, reference, description, created_at";
pub const EVENT_COLS: &str =
    "id, number_id, e164, action, actor, from_state, to_state, from_owner, to_owner, at, request_id";
pub const AUDIT_COLS: &str =
    "id, number_id, e164, from_account_id, to_account_id, actor_auth_id, action, \
    last_call_at, cool_off_until, created_at";

fn get<'r, T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(
    row: &'r SqliteRow,
    col: &str,
) -> Result<T, EngineError> {
    row.try_get(col).map_err(db_err)
}

fn text(row: &SqliteRow, col: &str) -> Result<String, EngineError> {
    get(row, col)
}

fn opt_text(row: &SqliteRow, col: &str) -> Result<Option<String>, EngineError> {
    get(row, col)
}

fn time(row: &SqliteRow, col: &str) -> Result<chrono::DateTime<chrono::Utc>, EngineError> {
    parse_ts(&text(row, col)?)
}

fn opt_time(
    row: &SqliteRow,
    col: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, EngineError> {
    opt_text(row, col)?.map(|s| parse_ts(&s)).transpose()
}

fn account_id(s: String) -> Result<AccountId, EngineError> {
    AccountId::parse(&s).map_err(|e| corrupt(format!("bad account id {s:?}: {e}")))
}

fn opt_account_id(row: &SqliteRow, col: &str) -> Result<Option<AccountId>, EngineError> {
    opt_text(row, col)?.map(account_id).transpose()
}

fn uuid(s: &str) -> Result<uuid::Uuid, EngineError> {
    uuid::Uuid::parse_str(s).map_err(|e| corrupt(format!("bad uuid {s:?}: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(row: &SqliteRow, col: &str) -> Result<T, EngineError> {
    serde_json::from_str(&text(row, col)?).map_err(|e| corrupt(format!("bad {col}: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain values serialise")
}

fn currency(row: &SqliteRow, col: &str) -> Result<Currency, EngineError> {
    Currency::parse(&text(row, col)?).map_err(|e| corrupt(e.to_string()))
}

fn state(s: &str) -> Result<NumberState, EngineError> {
    NumberState::parse(s).ok_or_else(|| corrupt(format!("bad state {s:?}")))
}

pub fn account(row: &SqliteRow) -> Result<Account, EngineError> {
    let role = text(row, "role")?;
    Ok(Account {
        id: account_id(text(row, "id")?)?,
        parent_id: opt_account_id(row, "parent_id")?,
        name: text(row, "name")?,
        role: Role::parse(&role).ok_or_else(|| corrupt(format!("bad role {role:?}")))?,
        currency: currency(row, "currency")?,
        balance: money_from_e4(get(row, "balance")?),
        enabled: get(row, "enabled")?,
        profile: json::<AccountProfile>(row, "profile")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        deleted_at: opt_time(row, "deleted_at")?,
    })
}

pub fn credential(row: &SqliteRow) -> Result<Credential, EngineError> {
    let kind = text(row, "kind")?;
    Ok(Credential {
        id: CredentialId(uuid(&text(row, "id")?)?),
        account_id: account_id(text(row, "account_id")?)?,
        kind: CredentialKind::parse(&kind).ok_or_else(|| corrupt(format!("bad kind {kind:?}")))?,
        token_hash: TokenHash(text(row, "token_hash")?),
        scope: opt_text(row, "scope")?,
        created_at: time(row, "created_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
    })
}

pub fn trunk(row: &SqliteRow) -> Result<Trunk, EngineError> {
    Ok(Trunk {
        id: TrunkId(uuid(&text(row, "id")?)?),
        account_id: account_id(text(row, "account_id")?)?,
        name: text(row, "name")?,
        settings: json::<TrunkSettings>(row, "settings")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub fn number(row: &SqliteRow) -> Result<Number, EngineError> {
    let e164 = text(row, "e164")?;
    let origin = text(row, "origin")?;
    Ok(Number {
        id: NumberId(uuid(&text(row, "id")?)?),
        e164: E164::parse(&e164).map_err(|_| corrupt(format!("bad e164 {e164:?}")))?,
        country: text(row, "country")?,
        region: opt_text(row, "region")?,
        capabilities: json::<Capabilities>(row, "capabilities")?,
        origin: Origin::parse(&origin).ok_or_else(|| corrupt(format!("bad origin {origin:?}")))?,
        provider: text(row, "provider")?,
        setup_fee: money_from_e4(get(row, "setup_fee")?),
        monthly_fee: money_from_e4(get(row, "monthly_fee")?),
        currency: currency(row, "currency")?,
        state: state(&text(row, "state")?)?,
        owner_id: opt_account_id(row, "owner_id")?,
        billing_id: opt_account_id(row, "billing_id")?,
        trunk_id: opt_text(row, "trunk_id")?
            .map(|s| uuid(&s).map(TrunkId))
            .transpose()?,
        application_id: opt_text(row, "application_id")?,
        tags: json(row, "tags")?,
        is_blocked: get(row, "is_blocked")?,
        is_trial_number: get(row, "is_trial_number")?,
        minimum_commitment_months: get(row, "minimum_commitment_months")?,
        aadhaar_verification_required: get(row, "aadhaar_verification_required")?,
        aadhaar_verified: get(row, "aadhaar_verified")?,
        last_call_at: opt_time(row, "last_call_at")?,
        purchased_at: opt_time(row, "purchased_at")?,
        last_billing_date: opt_time(row, "last_billing_date")?,
        next_billing_date: opt_time(row, "next_billing_date")?,
        release_at: opt_time(row, "release_at")?,
        released_at: opt_time(row, "released_at")?,
        quarantine_until: opt_time(row, "quarantine_until")?,
        release_fee: get::<Option<i64>>(row, "release_fee")?.map(money_from_e4),
        nickname: opt_text(row, "nickname")?,
        inbound_agent_id: opt_text(row, "inbound_agent_id")?,
        outbound_agent_id: opt_text(row, "outbound_agent_id")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub fn entry(row: &SqliteRow) -> Result<LedgerEntry, EngineError> {
    let kind = text(row, "kind")?;
    Ok(LedgerEntry {
        id: EntryId(uuid(&text(row, "id")?)?),
        account_id: account_id(text(row, "account_id")?)?,
        amount: money_from_e4(get(row, "amount")?),
        balance_after: money_from_e4(get(row, "balance_after")?),
        currency: currency(row, "currency")?,
        kind: EntryKind::parse(&kind).ok_or_else(|| corrupt(format!("bad kind {kind:?}")))?,
        reference: opt_text(row, "reference")?,
        description: text(row, "description")?,
        created_at: time(row, "created_at")?,
    })
}

pub fn event(row: &SqliteRow) -> Result<NumberEvent, EngineError> {
    let e164 = text(row, "e164")?;
    let actor = text(row, "actor")?;
    Ok(NumberEvent {
        id: EventId(uuid(&text(row, "id")?)?),
        number_id: NumberId(uuid(&text(row, "number_id")?)?),
        e164: E164::parse(&e164).map_err(|_| corrupt(format!("bad e164 {e164:?}")))?,
        action: text(row, "action")?,
        actor: Actor::from_label(&actor).ok_or_else(|| corrupt(format!("bad actor {actor:?}")))?,
        from_state: opt_text(row, "from_state")?
            .map(|s| state(&s))
            .transpose()?,
        to_state: state(&text(row, "to_state")?)?,
        from_owner: opt_account_id(row, "from_owner")?,
        to_owner: opt_account_id(row, "to_owner")?,
        at: time(row, "at")?,
        request_id: opt_text(row, "request_id")?,
    })
}

pub fn audit(row: &SqliteRow) -> Result<AssignmentAudit, EngineError> {
    let e164 = text(row, "e164")?;
    Ok(AssignmentAudit {
        id: EventId(uuid(&text(row, "id")?)?),
        number_id: NumberId(uuid(&text(row, "number_id")?)?),
        e164: E164::parse(&e164).map_err(|_| corrupt(format!("bad e164 {e164:?}")))?,
        from_account_id: account_id(text(row, "from_account_id")?)?,
        to_account_id: account_id(text(row, "to_account_id")?)?,
        actor_auth_id: account_id(text(row, "actor_auth_id")?)?,
        action: text(row, "action")?,
        last_call_at: opt_time(row, "last_call_at")?,
        cool_off_until: opt_time(row, "cool_off_until")?,
        created_at: time(row, "created_at")?,
    })
}

fn unique_violation(e: sqlx::Error, what: String) -> EngineError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => EngineError::AlreadyExists(what),
        _ => db_err(e),
    }
}

pub async fn insert_account(conn: &mut SqliteConnection, a: &Account) -> Result<(), EngineError> {
    sqlx::query(&format!(
        "INSERT INTO accounts ({ACCOUNT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    ))
    .bind(a.id.as_str())
    .bind(a.parent_id.as_ref().map(AccountId::as_str))
    .bind(&a.name)
    .bind(a.role.as_str())
    .bind(a.currency.as_str())
    .bind(money_to_e4(a.balance)?)
    .bind(a.enabled)
    .bind(to_json(&a.profile))
    .bind(ts(a.created_at))
    .bind(ts(a.updated_at))
    .bind(a.deleted_at.map(ts))
    .execute(conn)
    .await
    .map_err(|e| unique_violation(e, a.id.to_string()))?;
    Ok(())
}

pub async fn update_account(conn: &mut SqliteConnection, a: &Account) -> Result<(), EngineError> {
    sqlx::query(
        "UPDATE accounts SET name = ?, role = ?, balance = ?, enabled = ?, profile = ?, \
         updated_at = ?, deleted_at = ? WHERE id = ?",
    )
    .bind(&a.name)
    .bind(a.role.as_str())
    .bind(money_to_e4(a.balance)?)
    .bind(a.enabled)
    .bind(to_json(&a.profile))
    .bind(ts(a.updated_at))
    .bind(a.deleted_at.map(ts))
    .bind(a.id.as_str())
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub async fn insert_credential(
    conn: &mut SqliteConnection,
    c: &Credential,
) -> Result<(), EngineError> {
    sqlx::query(&format!(
        "INSERT INTO credentials ({CREDENTIAL_COLS}) VALUES (?,?,?,?,?,?,?)"
    ))
    .bind(c.id.to_string())
    .bind(c.account_id.as_str())
    .bind(c.kind.as_str())
    .bind(&c.token_hash.0)
    .bind(&c.scope)
    .bind(ts(c.created_at))
    .bind(c.revoked_at.map(ts))
    .execute(conn)
    .await
    .map_err(|e| unique_violation(e, "credential".into()))?;
    Ok(())
}

pub async fn update_credential(
    conn: &mut SqliteConnection,
    c: &Credential,
) -> Result<(), EngineError> {
    sqlx::query("UPDATE credentials SET scope = ?, revoked_at = ? WHERE id = ?")
        .bind(&c.scope)
        .bind(c.revoked_at.map(ts))
        .bind(c.id.to_string())
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub async fn insert_trunk(conn: &mut SqliteConnection, t: &Trunk) -> Result<(), EngineError> {
    sqlx::query(&format!(
        "INSERT INTO trunks ({TRUNK_COLS}) VALUES (?,?,?,?,?,?)"
    ))
    .bind(t.id.to_string())
    .bind(t.account_id.as_str())
    .bind(&t.name)
    .bind(to_json(&t.settings))
    .bind(ts(t.created_at))
    .bind(ts(t.updated_at))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub async fn update_trunk(conn: &mut SqliteConnection, t: &Trunk) -> Result<(), EngineError> {
    sqlx::query("UPDATE trunks SET name = ?, settings = ?, updated_at = ? WHERE id = ?")
        .bind(&t.name)
        .bind(to_json(&t.settings))
        .bind(ts(t.updated_at))
        .bind(t.id.to_string())
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Binds every number column but `id`, in `NUMBER_COLS` order.
macro_rules! bind_number {
    ($q:expr, $n:expr) => {{
        let n = $n;
        $q.bind(n.e164.as_str())
            .bind(&n.country)
            .bind(&n.region)
            .bind(to_json(&n.capabilities))
            .bind(n.origin.as_str())
            .bind(&n.provider)
            .bind(money_to_e4(n.setup_fee)?)
            .bind(money_to_e4(n.monthly_fee)?)
            .bind(n.currency.as_str())
            .bind(n.state.as_str())
            .bind(n.owner_id.as_ref().map(AccountId::as_str))
            .bind(n.billing_id.as_ref().map(AccountId::as_str))
            .bind(n.trunk_id.map(|t| t.to_string()))
            .bind(&n.application_id)
            .bind(to_json(&n.tags))
            .bind(n.is_blocked)
            .bind(n.is_trial_number)
            .bind(n.minimum_commitment_months)
            .bind(n.aadhaar_verification_required)
            .bind(n.aadhaar_verified)
            .bind(n.last_call_at.map(ts))
            .bind(n.purchased_at.map(ts))
            .bind(n.last_billing_date.map(ts))
            .bind(n.next_billing_date.map(ts))
            .bind(n.release_at.map(ts))
            .bind(n.released_at.map(ts))
            .bind(n.quarantine_until.map(ts))
            .bind(n.release_fee.map(money_to_e4).transpose()?)
            .bind(&n.nickname)
            .bind(&n.inbound_agent_id)
            .bind(&n.outbound_agent_id)
            .bind(ts(n.created_at))
            .bind(ts(n.updated_at))
    }};
}

pub async fn insert_number(conn: &mut SqliteConnection, n: &Number) -> Result<(), EngineError> {
    let placeholders = vec!["?"; NUMBER_COLS.split(',').count()].join(",");
    let sql = format!("INSERT INTO numbers ({NUMBER_COLS}) VALUES ({placeholders})");
    let q = sqlx::query(&sql).bind(n.id.to_string());
    bind_number!(q, n)
        .execute(conn)
        .await
        .map_err(|e| unique_violation(e, n.e164.to_string()))?;
    Ok(())
}

pub async fn update_number(conn: &mut SqliteConnection, n: &Number) -> Result<(), EngineError> {
    let sets = NUMBER_COLS
        .split(',')
        .map(str::trim)
        .skip(1)
        .map(|c| format!("{c} = ?"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("UPDATE numbers SET {sets} WHERE id = ?");
    let q = sqlx::query(&sql);
    bind_number!(q, n)
        .bind(n.id.to_string())
        .execute(conn)
        .await
        .map_err(|e| unique_violation(e, n.e164.to_string()))?;
    Ok(())
}

pub async fn insert_entry(conn: &mut SqliteConnection, e: &LedgerEntry) -> Result<(), EngineError> {
    sqlx::query(&format!(
        "INSERT INTO ledger ({ENTRY_COLS}) VALUES (?,?,?,?,?,?,?,?,?)"
    ))
    .bind(e.id.to_string())
    .bind(e.account_id.as_str())
    .bind(money_to_e4(e.amount)?)
    .bind(money_to_e4(e.balance_after)?)
    .bind(e.currency.as_str())
    .bind(e.kind.as_str())
    .bind(&e.reference)
    .bind(&e.description)
    .bind(ts(e.created_at))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub async fn insert_event(conn: &mut SqliteConnection, e: &NumberEvent) -> Result<(), EngineError> {
    sqlx::query(&format!(
        "INSERT INTO number_events ({EVENT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
    ))
    .bind(e.id.to_string())
    .bind(e.number_id.to_string())
    .bind(e.e164.as_str())
    .bind(&e.action)
    .bind(e.actor.label())
    .bind(e.from_state.map(NumberState::as_str))
    .bind(e.to_state.as_str())
    .bind(e.from_owner.as_ref().map(AccountId::as_str))
    .bind(e.to_owner.as_ref().map(AccountId::as_str))
    .bind(ts(e.at))
    .bind(&e.request_id)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub async fn insert_audit(
    conn: &mut SqliteConnection,
    a: &AssignmentAudit,
) -> Result<(), EngineError> {
    sqlx::query(&format!(
        "INSERT INTO did_assignment_audit ({AUDIT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
    ))
    .bind(a.id.to_string())
    .bind(a.number_id.to_string())
    .bind(a.e164.as_str())
    .bind(a.from_account_id.as_str())
    .bind(a.to_account_id.as_str())
    .bind(a.actor_auth_id.as_str())
    .bind(&a.action)
    .bind(a.last_call_at.map(ts))
    .bind(a.cool_off_until.map(ts))
    .bind(ts(a.created_at))
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}
