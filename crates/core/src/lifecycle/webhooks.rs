//! Webhook endpoints (the operator's) and the deliveries of events to them: claimed by a
//! worker for a lease, then finished with the attempt's result on the retry schedule.

use chrono::{DateTime, Duration, Utc};

use crate::error::EngineError;
use crate::ids::{AccountId, EndpointId, EventId};
use crate::webhook::{
    check_endpoint, Attempt, AttemptResult, Claim, Delivery, DeliveryStatus, Endpoint,
    EndpointPatch, Requeue, DISABLE_AFTER, RETRY_SCHEDULE,
};

use super::{require_operator, Changes, Context, Needs, Snapshot, Write};

/// The longest overlap a rotated secret keeps signing (as an auth token's rotation grace).
pub const MAX_SECRET_OVERLAP: Duration = Duration::days(7);

pub(super) fn endpoint_needs(id: EndpointId, account: Option<&AccountId>) -> Needs {
    Needs {
        webhook_endpoint: Some(id),
        accounts: account.cloned().into_iter().collect(),
        ..Needs::default()
    }
}

fn endpoint(snap: &Snapshot) -> Result<&Endpoint, EngineError> {
    snap.webhook_endpoints
        .first()
        .ok_or(EngineError::EndpointNotFound)
}

fn check(url: Option<&str>, types: Option<&[String]>) -> Result<(), EngineError> {
    check_endpoint(url, types).map_err(EngineError::Invalid)
}

/// An endpoint may be restricted to a live account the store has.
fn check_account(snap: &Snapshot, account: Option<&AccountId>) -> Result<(), EngineError> {
    match account {
        Some(id) if snap.account(id).is_none() => Err(EngineError::AccountNotFound),
        _ => Ok(()),
    }
}

pub(super) struct NewEndpoint<'a> {
    pub id: EndpointId,
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a [String],
    pub account_id: Option<&'a AccountId>,
    pub secret: &'a str,
}

pub(super) fn create_endpoint(
    ctx: &Context,
    snap: &Snapshot,
    new: NewEndpoint,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    check(Some(new.url), Some(new.event_types))?;
    check_account(snap, new.account_id)?;
    let mut types = new.event_types.to_vec();
    types.sort();
    types.dedup();
    let endpoint = Endpoint {
        id: new.id,
        url: new.url.to_owned(),
        description: new.description.to_owned(),
        event_types: types,
        account_id: new.account_id.cloned(),
        secret: new.secret.to_owned(),
        previous_secret: None,
        previous_secret_until: None,
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    Ok(Changes {
        webhook_endpoints: vec![Write::Insert(endpoint)],
        ..Changes::default()
    })
}

pub(super) fn update_endpoint(
    ctx: &Context,
    snap: &Snapshot,
    patch: &EndpointPatch,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    check(patch.url.as_deref(), patch.event_types.as_deref())?;
    if let Some(account) = &patch.account_id {
        check_account(snap, account.as_ref())?;
    }
    let mut e = endpoint(snap)?.clone();
    if let Some(url) = &patch.url {
        e.url.clone_from(url);
    }
    if let Some(d) = &patch.description {
        e.description.clone_from(d);
    }
    if let Some(types) = &patch.event_types {
        e.event_types.clone_from(types);
        e.event_types.sort();
        e.event_types.dedup();
    }
    if let Some(account) = &patch.account_id {
        e.account_id.clone_from(account);
    }
    match patch.enabled {
        Some(true) if e.disabled_at.is_some() => {
            e.disabled_at = None;
            e.disabled_reason = None;
            e.failing_since = None;
        }
        Some(false) if e.disabled_at.is_none() => {
            e.disabled_at = Some(ctx.now);
            e.disabled_reason = Some("disabled by the operator".into());
        }
        _ => {}
    }
    e.updated_at = ctx.now;
    Ok(Changes {
        webhook_endpoints: vec![Write::Update(e)],
        ..Changes::default()
    })
}

pub(super) fn delete_endpoint(ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    Ok(Changes {
        webhook_endpoints: vec![Write::Delete(endpoint(snap)?.clone())],
        ..Changes::default()
    })
}

/// A new secret signs from now; the old one signs beside it until `now + overlap`.
pub(super) fn rotate_secret(
    ctx: &Context,
    snap: &Snapshot,
    secret: &str,
    overlap: Duration,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    if overlap < Duration::zero() || overlap > MAX_SECRET_OVERLAP {
        return Err(EngineError::invalid(format!(
            "the overlap is between 0 and {} hours",
            MAX_SECRET_OVERLAP.num_hours()
        )));
    }
    let mut e = endpoint(snap)?.clone();
    let old = std::mem::replace(&mut e.secret, secret.to_owned());
    (e.previous_secret, e.previous_secret_until) = if overlap > Duration::zero() {
        (Some(old), Some(ctx.now + overlap))
    } else {
        (None, None)
    };
    e.updated_at = ctx.now;
    Ok(Changes {
        webhook_endpoints: vec![Write::Update(e)],
        ..Changes::default()
    })
}

pub(super) fn claim_needs(ctx: &Context, now_real: DateTime<Utc>, limit: u32) -> Needs {
    Needs {
        claim: Some(Claim {
            now: ctx.now,
            now_real,
            limit,
        }),
        ..Needs::default()
    }
}

/// Leases the deliveries the store found due (the first pending one of each number and
/// endpoint; rows another worker holds locked are skipped) until `lease_until`, real time.
pub(super) fn claim(
    ctx: &Context,
    snap: &Snapshot,
    lease_until: DateTime<Utc>,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let deliveries = snap
        .deliveries
        .iter()
        .map(|d| {
            Write::Update(Delivery {
                lease_until: Some(lease_until),
                updated_at: ctx.now,
                ..d.clone()
            })
        })
        .collect();
    Ok(Changes {
        deliveries,
        ..Changes::default()
    })
}

pub(super) fn finish_needs(seq: i64) -> Needs {
    Needs {
        delivery: Some(seq),
        ..Needs::default()
    }
}

/// Records an attempt. A success ends the delivery; a failure schedules the next attempt
/// ([`RETRY_SCHEDULE`], on the engine's clock) or, after the last, fails it. The endpoint
/// remembers since when it fails; failing for [`DISABLE_AFTER`] disables it.
pub(super) fn finish(
    ctx: &Context,
    snap: &Snapshot,
    result: &AttemptResult,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let d = snap
        .deliveries
        .first()
        .ok_or_else(|| EngineError::invalid("no such delivery"))?;
    let mut changes = Changes::default();
    if d.status != DeliveryStatus::Pending {
        // Finished meanwhile (by a worker whose lease this one outlived): nothing to add.
        return Ok(changes);
    }
    let mut after = d.clone();
    after.attempts += 1;
    after.lease_until = None;
    after.updated_at = ctx.now;
    let ok = result.succeeded();
    match RETRY_SCHEDULE.get(after.attempts as usize) {
        _ if ok => {
            after.status = DeliveryStatus::Succeeded;
            after.next_attempt_at = None;
        }
        Some(wait) => after.next_attempt_at = Some(ctx.now + *wait),
        None => {
            after.status = DeliveryStatus::Failed;
            after.next_attempt_at = None;
        }
    }
    changes.attempts.push(Attempt {
        id: EventId::new(),
        delivery_seq: d.seq,
        endpoint_id: d.endpoint_id,
        event_id: d.event_id,
        at: ctx.now,
        result: result.clone(),
    });
    changes.deliveries.push(Write::Update(after));
    if let Some(e) = snap.webhook_endpoints.first() {
        let mut e = e.clone();
        if ok {
            e.failing_since = None;
        } else {
            let since = *e.failing_since.get_or_insert(ctx.now);
            if e.disabled_at.is_none() && ctx.now - since >= DISABLE_AFTER {
                e.disabled_at = Some(ctx.now);
                e.disabled_reason = Some(format!(
                    "every delivery failed for {} days",
                    DISABLE_AFTER.num_days()
                ));
            }
        }
        if e != snap.webhook_endpoints[0] {
            e.updated_at = ctx.now;
            changes.webhook_endpoints.push(Write::Update(e));
        }
    }
    Ok(changes)
}

/// Queues the deliveries again from now, their schedule from its start, with the same
/// `webhook-id` (the event's id).
pub(super) fn requeue(
    ctx: &Context,
    snap: &Snapshot,
    what: &Requeue,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    if snap.deliveries.is_empty() {
        if let Requeue::Event { .. } = what {
            return Err(EngineError::EventNotFound);
        }
        if snap.webhook_endpoints.is_empty() {
            return Err(EngineError::EndpointNotFound);
        }
    }
    let deliveries = snap
        .deliveries
        .iter()
        .map(|d| {
            Write::Update(Delivery {
                status: DeliveryStatus::Pending,
                attempts: 0,
                next_attempt_at: Some(ctx.now),
                lease_until: None,
                updated_at: ctx.now,
                ..d.clone()
            })
        })
        .collect();
    Ok(Changes {
        deliveries,
        ..Changes::default()
    })
}

pub(super) fn requeue_needs(what: &Requeue) -> Needs {
    Needs {
        webhook_endpoint: match what {
            Requeue::Since { endpoint, .. } => Some(*endpoint),
            Requeue::Event { .. } => None,
        },
        requeue: Some(what.clone()),
        ..Needs::default()
    }
}
