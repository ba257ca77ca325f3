//! Domain values to columns and back, the same for both backends.

use didpool_core::account::{Account, AccountProfile, Role, Verification};
use didpool_core::audit::{Actor, AssignmentAudit, NumberEvent};
use didpool_core::call::{Call, CallDirection, CallRecord};
use didpool_core::credential::{Credential, CredentialKind, TokenHash};
use didpool_core::ids::{CallId, CredentialId, EndpointId, EntryId, EventId, JobId};
use didpool_core::job::{ItemResult, Job, JobItem, JobKind, JobStatus};
use didpool_core::ledger::{EntryKind, LedgerEntry};
use didpool_core::money::Currency;
use didpool_core::number::ReleaseLock;
use didpool_core::setting::{Setting, SettingKey, SigningKey};
use didpool_core::trunk::TrunkSettings;
use didpool_core::webhook::{Attempt, AttemptResult, Delivery, DeliveryStatus, Endpoint};
use didpool_core::{
    AccountId, EngineError, Number, NumberId, NumberState, Origin, Trunk, TrunkId, E164,
};

use crate::codec::{corrupt, parse_ts, ts};
use crate::sql::{DbRow, Val};

pub const ACCOUNT_COLS: &str =
    "id, parent_id, name, role, currency, balance, enabled, verification, \
    profile, created_at, updated_at, deleted_at";
pub const CREDENTIAL_COLS: &str = "id, account_id, kind, token_hash, scope, created_at, revoked_at";
pub const SETTING_COLS: &str = "key, value";
pub const TRUNK_COLS: &str = "id, account_id, name, settings, created_at, updated_at";
pub const NUMBER_COLS: &str = "id, e164, country, region, capabilities, origin, provider, setup_fee, \
    monthly_fee, currency, state, owner_id, billing_id, trunk_id, application_id, tags, is_blocked, \
    is_trial_number, minimum_commitment_months, aadhaar_verification_required, aadhaar_verified, \
    last_call_at, purchased_at, last_billing_date, next_billing_date, release_at, released_at, \
    quarantine_until, release_fee, nickname, inbound_agent_id, outbound_agent_id, last_owner_id, \
    reservation_expires_at, sip_config, created_at, updated_at, last_billing_id, \
    release_locked_at, release_locked_by, release_lock_reason";
pub const JOB_COLS: &str = "id, kind, target, account_id, billing_id, created_by, status, total, \
    succeeded, failed, lease_owner, lease_until, created_at, started_at, finished_at";
pub const JOB_ITEM_COLS: &str = "job_id, seq, e164, status, error_code, error_message, finished_at";
pub const ENTRY_COLS: &str =
    "id, account_id, amount, balance_after, currency, kind, reference, description, created_at";
pub const EVENT_COLS: &str = "id, number_id, e164, action, actor, from_state, to_state, \
    from_owner, to_owner, at, request_id, type, accounts, number";
pub const ENDPOINT_COLS: &str = "id, url, description, event_types, account_id, secret, \
    previous_secret, previous_secret_until, disabled_at, disabled_reason, failing_since, \
    created_at, updated_at";
/// Every column of a delivery but its sequence, which the store assigns (first: the key).
pub const DELIVERY_COLS: &str =
    "seq, endpoint_id, event_id, number_id, status, attempts, next_attempt_at, lease_until, updated_at";
pub const ATTEMPT_COLS: &str =
    "id, delivery_seq, endpoint_id, event_id, at, status_code, latency_ms, response, error";
pub const CALL_COLS: &str = "id, number_id, e164, direction, started_at, answered_at, ended_at, \
    sip_status, reported_at";
pub const AUDIT_COLS: &str =
    "id, number_id, e164, from_account_id, to_account_id, actor_auth_id, action, \
    last_call_at, cool_off_until, created_at";

fn account_id(s: String) -> Result<AccountId, EngineError> {
    AccountId::parse(&s).map_err(|e| corrupt(format!("bad account id {s:?}: {e}")))
}

fn opt_account_id(row: &DbRow, col: &str) -> Result<Option<AccountId>, EngineError> {
    row.opt_text(col)?.map(account_id).transpose()
}

fn uuid(s: &str) -> Result<uuid::Uuid, EngineError> {
    uuid::Uuid::parse_str(s).map_err(|e| corrupt(format!("bad uuid {s:?}: {e}")))
}

fn e164(row: &DbRow, col: &str) -> Result<E164, EngineError> {
    let s = row.text(col)?;
    E164::from_stored(s).map_err(|e| corrupt(format!("column {col}: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(row: &DbRow, col: &str) -> Result<T, EngineError> {
    serde_json::from_str(&row.text(col)?).map_err(|e| corrupt(format!("bad {col}: {e}")))
}

pub fn opt_json<T: serde::de::DeserializeOwned>(
    row: &DbRow,
    col: &str,
) -> Result<Option<T>, EngineError> {
    row.opt_text(col)?
        .map(|s| serde_json::from_str(&s).map_err(|e| corrupt(format!("bad {col}: {e}"))))
        .transpose()
}

fn to_json<T: serde::Serialize>(v: &T) -> Val {
    Val::Text(Some(
        serde_json::to_string(v).expect("domain values serialise"),
    ))
}

fn currency(row: &DbRow, col: &str) -> Result<Currency, EngineError> {
    Currency::parse(&row.text(col)?).map_err(|e| corrupt(e.to_string()))
}

fn state(s: &str) -> Result<NumberState, EngineError> {
    NumberState::parse(s).ok_or_else(|| corrupt(format!("bad state {s:?}")))
}

fn id_text(id: Option<&AccountId>) -> Val {
    Val::Text(id.map(ToString::to_string))
}

pub fn account(row: &DbRow) -> Result<Account, EngineError> {
    account_named(row, &ACCOUNT_NAMES)
}

/// [`ACCOUNT_COLS`] one by one, in its order.
pub const ACCOUNT_NAMES: [&str; 12] = [
    "id",
    "parent_id",
    "name",
    "role",
    "currency",
    "balance",
    "enabled",
    "verification",
    "profile",
    "created_at",
    "updated_at",
    "deleted_at",
];

/// An account from the columns `names` (in [`ACCOUNT_NAMES`]' order): a row that also holds a
/// number names them apart.
pub fn account_named(row: &DbRow, names: &[&str; 12]) -> Result<Account, EngineError> {
    let [id, parent_id, name, role, currency_col, balance, enabled, verification, profile, created_at, updated_at, deleted_at] =
        *names;
    let role = row.text(role)?;
    Ok(Account {
        id: account_id(row.text(id)?)?,
        parent_id: opt_account_id(row, parent_id)?,
        name: row.text(name)?,
        role: Role::parse(&role).ok_or_else(|| corrupt(format!("bad role {role:?}")))?,
        currency: currency(row, currency_col)?,
        balance: row.money(balance)?,
        enabled: row.flag(enabled)?,
        verification: {
            let v = row.text(verification)?;
            Verification::parse(&v).ok_or_else(|| corrupt(format!("bad verification {v:?}")))?
        },
        profile: json::<AccountProfile>(row, profile)?,
        created_at: row.time(created_at)?,
        updated_at: row.time(updated_at)?,
        deleted_at: row.opt_time(deleted_at)?,
    })
}

pub fn account_values(a: &Account) -> Vec<Val> {
    vec![
        a.id.as_str().into(),
        id_text(a.parent_id.as_ref()),
        a.name.as_str().into(),
        a.role.as_str().into(),
        a.currency.as_str().into(),
        a.balance.into(),
        a.enabled.into(),
        a.verification.as_str().into(),
        to_json(&a.profile),
        a.created_at.into(),
        a.updated_at.into(),
        a.deleted_at.into(),
    ]
}

pub fn credential(row: &DbRow) -> Result<Credential, EngineError> {
    let kind = row.text("kind")?;
    Ok(Credential {
        id: CredentialId(uuid(&row.text("id")?)?),
        account_id: account_id(row.text("account_id")?)?,
        kind: CredentialKind::parse(&kind).ok_or_else(|| corrupt(format!("bad kind {kind:?}")))?,
        token_hash: TokenHash(row.text("token_hash")?),
        scope: row.opt_text("scope")?,
        created_at: row.time("created_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

pub fn credential_values(c: &Credential) -> Vec<Val> {
    vec![
        c.id.to_string().into(),
        c.account_id.as_str().into(),
        c.kind.as_str().into(),
        c.token_hash.0.as_str().into(),
        c.scope.clone().into(),
        c.created_at.into(),
        c.revoked_at.into(),
    ]
}

pub fn trunk(row: &DbRow) -> Result<Trunk, EngineError> {
    Ok(Trunk {
        id: TrunkId(uuid(&row.text("id")?)?),
        account_id: account_id(row.text("account_id")?)?,
        name: row.text("name")?,
        settings: json::<TrunkSettings>(row, "settings")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub fn trunk_values(t: &Trunk) -> Vec<Val> {
    vec![
        t.id.to_string().into(),
        t.account_id.as_str().into(),
        t.name.as_str().into(),
        to_json(&t.settings),
        t.created_at.into(),
        t.updated_at.into(),
    ]
}

pub fn number(row: &DbRow) -> Result<Number, EngineError> {
    // Read in `NUMBER_COLS` order: a SQLite row finds each next column at once.
    Ok(Number {
        id: NumberId(uuid(&row.text("id")?)?),
        e164: e164(row, "e164")?,
        country: row.text("country")?,
        region: row.opt_text("region")?,
        capabilities: json(row, "capabilities")?,
        origin: {
            let origin = row.text("origin")?;
            Origin::parse(&origin).ok_or_else(|| corrupt(format!("bad origin {origin:?}")))?
        },
        provider: row.text("provider")?,
        setup_fee: row.money("setup_fee")?,
        monthly_fee: row.money("monthly_fee")?,
        currency: currency(row, "currency")?,
        state: state(&row.text("state")?)?,
        owner_id: opt_account_id(row, "owner_id")?,
        billing_id: opt_account_id(row, "billing_id")?,
        trunk_id: row
            .opt_text("trunk_id")?
            .map(|s| uuid(&s).map(TrunkId))
            .transpose()?,
        application_id: row.opt_text("application_id")?,
        tags: json(row, "tags")?,
        is_blocked: row.flag("is_blocked")?,
        is_trial_number: row.flag("is_trial_number")?,
        minimum_commitment_months: i32::try_from(row.int("minimum_commitment_months")?)
            .map_err(|_| corrupt("minimum_commitment_months out of range".into()))?,
        aadhaar_verification_required: row.flag("aadhaar_verification_required")?,
        aadhaar_verified: row.flag("aadhaar_verified")?,
        last_call_at: row.opt_time("last_call_at")?,
        purchased_at: row.opt_time("purchased_at")?,
        last_billing_date: row.opt_time("last_billing_date")?,
        next_billing_date: row.opt_time("next_billing_date")?,
        release_at: row.opt_time("release_at")?,
        released_at: row.opt_time("released_at")?,
        quarantine_until: row.opt_time("quarantine_until")?,
        release_fee: row.opt_money("release_fee")?,
        nickname: row.opt_text("nickname")?,
        inbound_agent_id: row.opt_text("inbound_agent_id")?,
        outbound_agent_id: row.opt_text("outbound_agent_id")?,
        last_owner_id: opt_account_id(row, "last_owner_id")?,
        reservation_expires_at: row.opt_time("reservation_expires_at")?,
        sip_config: row
            .opt_text("sip_config")?
            .map(|s| serde_json::from_str(&s).map_err(|e| corrupt(format!("bad sip_config: {e}"))))
            .transpose()?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        last_billing_id: opt_account_id(row, "last_billing_id")?,
        release_lock: match row.opt_time("release_locked_at")? {
            None => None,
            Some(at) => Some(ReleaseLock {
                by: actor(&row.text("release_locked_by")?)?,
                at,
                reason: row.opt_text("release_lock_reason")?,
            }),
        },
    })
}

fn actor(s: &str) -> Result<Actor, EngineError> {
    Actor::from_label(s).ok_or_else(|| corrupt(format!("bad actor {s:?}")))
}

pub fn job(row: &DbRow) -> Result<Job, EngineError> {
    let kind = row.text("kind")?;
    let target = row.opt_text("target")?;
    let status = row.text("status")?;
    let count = |col: &str| -> Result<u32, EngineError> {
        u32::try_from(row.int(col)?).map_err(|_| corrupt(format!("bad {col}")))
    };
    Ok(Job {
        id: JobId(uuid(&row.text("id")?)?),
        kind: JobKind::parse(&kind, target.as_deref()).map_err(corrupt)?,
        account: account_id(row.text("account_id")?)?,
        billing: account_id(row.text("billing_id")?)?,
        created_by: actor(&row.text("created_by")?)?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("bad job status {status:?}")))?,
        total: count("total")?,
        succeeded: count("succeeded")?,
        failed: count("failed")?,
        lease_owner: row.opt_text("lease_owner")?,
        lease_until: row.opt_time("lease_until")?,
        created_at: row.time("created_at")?,
        started_at: row.opt_time("started_at")?,
        finished_at: row.opt_time("finished_at")?,
    })
}

pub fn job_values(j: &Job) -> Vec<Val> {
    vec![
        j.id.to_string().into(),
        j.kind.as_str().into(),
        Val::Text(j.kind.target()),
        j.account.as_str().into(),
        j.billing.as_str().into(),
        j.created_by.label().into(),
        j.status.as_str().into(),
        i64::from(j.total).into(),
        i64::from(j.succeeded).into(),
        i64::from(j.failed).into(),
        Val::Text(j.lease_owner.clone()),
        j.lease_until.into(),
        j.created_at.into(),
        j.started_at.into(),
        j.finished_at.into(),
    ]
}

pub fn job_item(row: &DbRow) -> Result<JobItem, EngineError> {
    let status = row.text("status")?;
    let result = match status.as_str() {
        "pending" => None,
        "succeeded" | "failed" => Some(ItemResult {
            error: match (row.opt_text("error_code")?, row.opt_text("error_message")?) {
                (Some(code), message) => Some((code, message.unwrap_or_default())),
                (None, _) if status == "failed" => {
                    return Err(corrupt("a failed job item without its error".into()))
                }
                (None, _) => None,
            },
            at: row.time("finished_at")?,
        }),
        other => return Err(corrupt(format!("bad job item status {other:?}"))),
    };
    let seq = row.int("seq")?;
    Ok(JobItem {
        job_id: JobId(uuid(&row.text("job_id")?)?),
        seq: u32::try_from(seq).map_err(|_| corrupt(format!("bad job item seq {seq}")))?,
        e164: e164(row, "e164")?,
        result,
    })
}

pub fn job_item_values(i: &JobItem) -> Vec<Val> {
    let (status, code, message, at) = match &i.result {
        None => ("pending", None, None, None),
        Some(r) => match &r.error {
            None => ("succeeded", None, None, Some(r.at)),
            Some((code, message)) => (
                "failed",
                Some(code.clone()),
                Some(message.clone()),
                Some(r.at),
            ),
        },
    };
    vec![
        i.job_id.to_string().into(),
        i64::from(i.seq).into(),
        i.e164.as_str().into(),
        status.into(),
        Val::Text(code),
        Val::Text(message),
        at.into(),
    ]
}

pub fn number_values(n: &Number) -> Vec<Val> {
    vec![
        n.id.to_string().into(),
        n.e164.as_str().into(),
        n.country.as_str().into(),
        n.region.clone().into(),
        to_json(&n.capabilities),
        n.origin.as_str().into(),
        n.provider.as_str().into(),
        n.setup_fee.into(),
        n.monthly_fee.into(),
        n.currency.as_str().into(),
        n.state.as_str().into(),
        id_text(n.owner_id.as_ref()),
        id_text(n.billing_id.as_ref()),
        Val::Text(n.trunk_id.map(|t| t.to_string())),
        n.application_id.clone().into(),
        to_json(&n.tags),
        n.is_blocked.into(),
        n.is_trial_number.into(),
        i64::from(n.minimum_commitment_months).into(),
        n.aadhaar_verification_required.into(),
        n.aadhaar_verified.into(),
        n.last_call_at.into(),
        n.purchased_at.into(),
        n.last_billing_date.into(),
        n.next_billing_date.into(),
        n.release_at.into(),
        n.released_at.into(),
        n.quarantine_until.into(),
        Val::Money(n.release_fee),
        n.nickname.clone().into(),
        n.inbound_agent_id.clone().into(),
        n.outbound_agent_id.clone().into(),
        id_text(n.last_owner_id.as_ref()),
        n.reservation_expires_at.into(),
        Val::Text(
            n.sip_config
                .as_ref()
                .map(|c| serde_json::to_string(c).expect("serialises")),
        ),
        n.created_at.into(),
        n.updated_at.into(),
        id_text(n.last_billing_id.as_ref()),
        n.release_lock.as_ref().map(|l| l.at).into(),
        Val::Text(n.release_lock.as_ref().map(|l| l.by.label())),
        Val::Text(n.release_lock.as_ref().and_then(|l| l.reason.clone())),
    ]
}

pub fn entry(row: &DbRow) -> Result<LedgerEntry, EngineError> {
    let kind = row.text("kind")?;
    Ok(LedgerEntry {
        id: EntryId(uuid(&row.text("id")?)?),
        account_id: account_id(row.text("account_id")?)?,
        amount: row.money("amount")?,
        balance_after: row.money("balance_after")?,
        currency: currency(row, "currency")?,
        kind: EntryKind::parse(&kind).ok_or_else(|| corrupt(format!("bad kind {kind:?}")))?,
        reference: row.text("reference")?,
        description: row.text("description")?,
        created_at: row.time("created_at")?,
    })
}

pub fn entry_values(e: &LedgerEntry) -> Vec<Val> {
    vec![
        e.id.to_string().into(),
        e.account_id.as_str().into(),
        e.amount.into(),
        e.balance_after.into(),
        e.currency.as_str().into(),
        e.kind.as_str().into(),
        e.reference.as_str().into(),
        e.description.as_str().into(),
        e.created_at.into(),
    ]
}

pub fn event(row: &DbRow) -> Result<NumberEvent, EngineError> {
    let actor = row.text("actor")?;
    Ok(NumberEvent {
        id: EventId(uuid(&row.text("id")?)?),
        number_id: NumberId(uuid(&row.text("number_id")?)?),
        e164: e164(row, "e164")?,
        action: row.text("action")?,
        actor: Actor::from_label(&actor).ok_or_else(|| corrupt(format!("bad actor {actor:?}")))?,
        from_state: row.opt_text("from_state")?.map(|s| state(&s)).transpose()?,
        to_state: state(&row.text("to_state")?)?,
        from_owner: opt_account_id(row, "from_owner")?,
        to_owner: opt_account_id(row, "to_owner")?,
        at: row.time("at")?,
        request_id: row.opt_text("request_id")?,
        number: row
            .opt_text("number")?
            .map(|s| serde_json::from_str(&s).map_err(|e| corrupt(format!("bad number: {e}"))))
            .transpose()?,
    })
}

pub fn event_values(e: &NumberEvent) -> Vec<Val> {
    vec![
        e.id.to_string().into(),
        e.number_id.to_string().into(),
        e.e164.as_str().into(),
        e.action.as_str().into(),
        e.actor.label().into(),
        Val::Text(e.from_state.map(|s| s.as_str().to_owned())),
        e.to_state.as_str().into(),
        id_text(e.from_owner.as_ref()),
        id_text(e.to_owner.as_ref()),
        e.at.into(),
        e.request_id.clone().into(),
        e.event_type().into(),
        listed(e.accounts().iter().map(AccountId::as_str)).into(),
        Val::Text(
            e.number
                .as_ref()
                .map(|n| serde_json::to_string(n).expect("serialises")),
        ),
    ]
}

/// `,a,b,` (empty for none): a list a statement matches an item in with
/// `LIKE '%,' || item || ',%'`, the same on both backends.
pub fn listed<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.into_iter().collect();
    if items.is_empty() {
        String::new()
    } else {
        format!(",{},", items.join(","))
    }
}

fn unlisted(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn endpoint_id(s: &str) -> Result<EndpointId, EngineError> {
    EndpointId::parse(s).map_err(|_| corrupt(format!("bad endpoint id {s:?}")))
}

pub fn endpoint(row: &DbRow) -> Result<Endpoint, EngineError> {
    Ok(Endpoint {
        id: endpoint_id(&row.text("id")?)?,
        url: row.text("url")?,
        description: row.text("description")?,
        event_types: unlisted(&row.text("event_types")?),
        account_id: opt_account_id(row, "account_id")?,
        secret: row.text("secret")?,
        previous_secret: row.opt_text("previous_secret")?,
        previous_secret_until: row.opt_time("previous_secret_until")?,
        disabled_at: row.opt_time("disabled_at")?,
        disabled_reason: row.opt_text("disabled_reason")?,
        failing_since: row.opt_time("failing_since")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub fn endpoint_values(e: &Endpoint) -> Vec<Val> {
    vec![
        e.id.to_string().into(),
        e.url.as_str().into(),
        e.description.as_str().into(),
        listed(e.event_types.iter().map(String::as_str)).into(),
        id_text(e.account_id.as_ref()),
        e.secret.as_str().into(),
        e.previous_secret.clone().into(),
        e.previous_secret_until.into(),
        e.disabled_at.into(),
        e.disabled_reason.clone().into(),
        e.failing_since.into(),
        e.created_at.into(),
        e.updated_at.into(),
    ]
}

pub fn delivery(row: &DbRow) -> Result<Delivery, EngineError> {
    let status = row.text("status")?;
    Ok(Delivery {
        seq: row.int("seq")?,
        endpoint_id: endpoint_id(&row.text("endpoint_id")?)?,
        event_id: EventId(uuid(&row.text("event_id")?)?),
        number_id: NumberId(uuid(&row.text("number_id")?)?),
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("bad delivery status {status:?}")))?,
        attempts: u32::try_from(row.int("attempts")?)
            .map_err(|_| corrupt("bad attempts".into()))?,
        next_attempt_at: row.opt_time("next_attempt_at")?,
        lease_until: row.opt_time("lease_until")?,
        updated_at: row.time("updated_at")?,
    })
}

pub fn delivery_values(d: &Delivery) -> Vec<Val> {
    vec![
        d.seq.into(),
        d.endpoint_id.to_string().into(),
        d.event_id.to_string().into(),
        d.number_id.to_string().into(),
        d.status.as_str().into(),
        i64::from(d.attempts).into(),
        d.next_attempt_at.into(),
        d.lease_until.into(),
        d.updated_at.into(),
    ]
}

pub fn attempt(row: &DbRow) -> Result<Attempt, EngineError> {
    Ok(Attempt {
        id: EventId(uuid(&row.text("id")?)?),
        delivery_seq: row.int("delivery_seq")?,
        endpoint_id: endpoint_id(&row.text("endpoint_id")?)?,
        event_id: EventId(uuid(&row.text("event_id")?)?),
        at: row.time("at")?,
        result: AttemptResult {
            status_code: row
                .opt_int("status_code")?
                .map(|c| u16::try_from(c).map_err(|_| corrupt(format!("bad status {c}"))))
                .transpose()?,
            latency_ms: u64::try_from(row.int("latency_ms")?).unwrap_or(0),
            response: row.text("response")?,
            error: row.opt_text("error")?,
        },
    })
}

pub fn attempt_values(a: &Attempt) -> Vec<Val> {
    vec![
        a.id.to_string().into(),
        a.delivery_seq.into(),
        a.endpoint_id.to_string().into(),
        a.event_id.to_string().into(),
        a.at.into(),
        Val::Int(a.result.status_code.map(i64::from)),
        i64::try_from(a.result.latency_ms)
            .unwrap_or(i64::MAX)
            .into(),
        a.result.response.as_str().into(),
        a.result.error.clone().into(),
    ]
}

pub fn audit(row: &DbRow) -> Result<AssignmentAudit, EngineError> {
    Ok(AssignmentAudit {
        id: EventId(uuid(&row.text("id")?)?),
        number_id: NumberId(uuid(&row.text("number_id")?)?),
        e164: e164(row, "e164")?,
        from_account_id: account_id(row.text("from_account_id")?)?,
        to_account_id: account_id(row.text("to_account_id")?)?,
        actor_auth_id: account_id(row.text("actor_auth_id")?)?,
        action: row.text("action")?,
        last_call_at: row.opt_time("last_call_at")?,
        cool_off_until: row.opt_time("cool_off_until")?,
        created_at: row.time("created_at")?,
    })
}

pub fn audit_values(a: &AssignmentAudit) -> Vec<Val> {
    vec![
        a.id.to_string().into(),
        a.number_id.to_string().into(),
        a.e164.as_str().into(),
        a.from_account_id.as_str().into(),
        a.to_account_id.as_str().into(),
        a.actor_auth_id.as_str().into(),
        a.action.as_str().into(),
        a.last_call_at.into(),
        a.cool_off_until.into(),
        a.created_at.into(),
    ]
}

pub fn setting(row: &DbRow) -> Result<Setting, EngineError> {
    let key = row.text("key")?;
    let value = row.text("value")?;
    match SettingKey::parse(&key) {
        Some(SettingKey::SandboxClock) => Ok(Setting::SandboxClock(parse_ts(&value)?)),
        Some(SettingKey::TokenKey) => SigningKey::parse(&value)
            .map(Setting::TokenKey)
            .map_err(corrupt),
        None => Err(corrupt(format!("unknown setting {key:?}"))),
    }
}

pub fn setting_values(s: &Setting) -> Vec<Val> {
    let value = match s {
        Setting::SandboxClock(t) => ts(*t),
        Setting::TokenKey(k) => k.expose().to_owned(),
    };
    vec![s.key().as_str().into(), value.into()]
}

pub fn call(row: &DbRow) -> Result<CallRecord, EngineError> {
    let direction = row.text("direction")?;
    let status = row.int("sip_status")?;
    Ok(CallRecord {
        id: CallId(uuid(&row.text("id")?)?),
        number_id: NumberId(uuid(&row.text("number_id")?)?),
        e164: e164(row, "e164")?,
        call: Call {
            direction: CallDirection::parse(&direction)
                .ok_or_else(|| corrupt(format!("bad call direction {direction:?}")))?,
            started_at: row.time("started_at")?,
            answered_at: row.opt_time("answered_at")?,
            ended_at: row.time("ended_at")?,
            sip_status: u16::try_from(status)
                .map_err(|_| corrupt(format!("bad sip_status {status}")))?,
        },
        reported_at: row.time("reported_at")?,
    })
}

pub fn call_values(r: &CallRecord) -> Vec<Val> {
    vec![
        r.id.to_string().into(),
        r.number_id.to_string().into(),
        r.e164.as_str().into(),
        r.call.direction.as_str().into(),
        r.call.started_at.into(),
        r.call.answered_at.into(),
        r.call.ended_at.into(),
        i64::from(r.call.sip_status).into(),
        r.reported_at.into(),
    ]
}
