//! Bulk jobs (see [`crate::job`]): creating one, the runner's lease on it, and each item as
//! its own command whose result is written with it.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::e164::E164;
use crate::error::EngineError;
use crate::ids::{AccountId, JobId};
use crate::job::{ItemResult, Job, JobItem, JobKind, JobStatus, MAX_JOB_ITEMS};

use super::{require_operator, Changes, Command, Context, Needs, Snapshot, Write};

pub(super) fn create_needs(account: &AccountId) -> Needs {
    Needs::accounts(vec![account.clone()])
}

/// A new job for `account` (a live, enabled account): created by that account itself, or by
/// the operator acting for it. One to [`MAX_JOB_ITEMS`] numbers, each once.
pub(super) fn create(
    ctx: &Context,
    snap: &Snapshot,
    id: JobId,
    kind: &JobKind,
    account: &AccountId,
    numbers: &[E164],
) -> Result<Changes, EngineError> {
    if let Some(caller) = ctx.caller() {
        if caller != account {
            return Err(EngineError::Forbidden(
                "a job runs with the rights of the account that creates it",
            ));
        }
    }
    let acct = snap.account(account).ok_or(EngineError::AccountNotFound)?;
    if !acct.enabled {
        return Err(EngineError::Forbidden("the account is disabled"));
    }
    if numbers.is_empty() {
        return Err(EngineError::invalid("a job needs at least one number"));
    }
    if numbers.len() > MAX_JOB_ITEMS {
        return Err(EngineError::invalid(format!(
            "a job takes at most {MAX_JOB_ITEMS} numbers, not {}",
            numbers.len()
        )));
    }
    let mut seen = HashSet::with_capacity(numbers.len());
    for n in numbers {
        if !seen.insert(n) {
            return Err(EngineError::invalid(format!("{n} is given more than once")));
        }
    }
    let job = Job {
        id,
        kind: kind.clone(),
        account: account.clone(),
        billing: acct.billing_id().clone(),
        created_by: ctx.actor.clone(),
        status: JobStatus::Queued,
        total: numbers.len() as u32,
        succeeded: 0,
        failed: 0,
        lease_owner: None,
        lease_until: None,
        created_at: ctx.now,
        started_at: None,
        finished_at: None,
    };
    let items = numbers
        .iter()
        .enumerate()
        .map(|(seq, e164)| {
            Write::Insert(JobItem {
                job_id: id,
                seq: seq as u32,
                e164: e164.clone(),
                result: None,
            })
        })
        .collect();
    Ok(Changes {
        jobs: vec![Write::Insert(job)],
        job_items: items,
        ..Changes::default()
    })
}

pub(super) fn job_needs(id: JobId) -> Needs {
    Needs {
        job: Some(id),
        ..Needs::default()
    }
}

fn job(snap: &Snapshot) -> Result<&Job, EngineError> {
    snap.jobs.first().ok_or(EngineError::JobNotFound)
}

/// Leases the first job waiting (queued, or running under a lease that lapsed at `now_real`:
/// its runner died) to `worker` until `lease_until`. Operator or system (a runner). No job
/// waiting: nothing changes.
pub(super) fn claim(
    ctx: &Context,
    snap: &Snapshot,
    worker: &str,
    lease_until: DateTime<Utc>,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let Some(found) = snap.jobs.first() else {
        return Ok(Changes::default());
    };
    let mut j = found.clone();
    j.status = JobStatus::Running;
    j.started_at.get_or_insert(ctx.now);
    j.lease_owner = Some(worker.to_owned());
    j.lease_until = Some(lease_until);
    Ok(Changes {
        jobs: vec![Write::Update(j)],
        ..Changes::default()
    })
}

/// Whether `worker` still holds the running job: nobody took it over meanwhile.
fn held_by(j: &Job, worker: &str) -> Result<(), EngineError> {
    if j.status != JobStatus::Running || j.lease_owner.as_deref() != Some(worker) {
        return Err(EngineError::JobNotRunning);
    }
    Ok(())
}

/// Extends `worker`'s lease to `lease_until`, if it still holds the job
/// ([`EngineError::JobNotRunning`] if another runner took it over, or it was cancelled).
pub(super) fn renew(
    ctx: &Context,
    snap: &Snapshot,
    worker: &str,
    lease_until: DateTime<Utc>,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let j = job(snap)?;
    held_by(j, worker)?;
    let mut j = j.clone();
    j.lease_until = Some(lease_until);
    Ok(Changes {
        jobs: vec![Write::Update(j)],
        ..Changes::default()
    })
}

/// Marks the job done once every item has its result; the lease ends.
pub(super) fn finish(ctx: &Context, snap: &Snapshot, worker: &str) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let j = job(snap)?;
    held_by(j, worker)?;
    if j.done() < j.total {
        return Err(EngineError::invalid(format!(
            "{} of the job's {} items have no result yet",
            j.total - j.done(),
            j.total
        )));
    }
    let mut j = j.clone();
    j.status = JobStatus::Done;
    j.finished_at = Some(ctx.now);
    j.lease_owner = None;
    j.lease_until = None;
    Ok(Changes {
        jobs: vec![Write::Update(j)],
        ..Changes::default()
    })
}

/// Stops a job (the operator, or an account that sees it): the items without a result stay
/// pending and never run. A finished job stays as it is.
pub(super) fn cancel(ctx: &Context, snap: &Snapshot) -> Result<Changes, EngineError> {
    let j = job(snap)?;
    if let Some(caller) = ctx.caller() {
        if !j.visible_to(caller) {
            return Err(EngineError::JobNotFound);
        }
    }
    if j.status.is_finished() {
        return Ok(Changes::default());
    }
    let mut j = j.clone();
    j.status = JobStatus::Cancelled;
    j.finished_at = Some(ctx.now);
    j.lease_owner = None;
    j.lease_until = None;
    Ok(Changes {
        jobs: vec![Write::Update(j)],
        ..Changes::default()
    })
}

pub(super) fn item_needs(ctx: &Context, job: JobId, seq: u32, cmd: &Command) -> Needs {
    let mut needs = cmd.needs(ctx);
    needs.job_item = Some((job, seq));
    needs.job = Some(job);
    needs
}

/// One item: runs `cmd` (the item's command, on the rows it locked) and records its result on
/// the item, and in the job's counts, in the same changes. A refusal of the command is the
/// item's result (the item failed, nothing else is written); a fault of the store fails the
/// transaction (the item stays pending, to run again). An item that has its result already
/// changes nothing: a command never runs twice for one item.
pub(super) fn run_item(
    ctx: &Context,
    snap: &Snapshot,
    cmd: &Command,
) -> Result<(Changes, Changes), EngineError> {
    let j = job(snap)?;
    let item = snap.job_items.first().ok_or(EngineError::JobNotFound)?;
    if ctx.caller() != Some(&j.account) {
        return Err(EngineError::Forbidden(
            "a job's items run with the rights of its account",
        ));
    }
    if item.result.is_some() {
        return Ok((Changes::default(), Changes::default()));
    }
    if j.status != JobStatus::Running {
        return Err(EngineError::JobNotRunning);
    }
    let (due, mut own, error) = match cmd.decide_parts(ctx, snap) {
        Ok((due, own)) => (due, own, None),
        Err(e @ (EngineError::Storage(_) | EngineError::Unavailable(_))) => return Err(e),
        Err(e) => {
            let code: &'static str = (&e).into();
            let message = e.to_string();
            (
                Changes::default(),
                Changes::default(),
                Some((code.to_owned(), message)),
            )
        }
    };
    let mut j = j.clone();
    if error.is_none() {
        j.succeeded += 1;
    } else {
        j.failed += 1;
    }
    let mut item = item.clone();
    item.result = Some(ItemResult { error, at: ctx.now });
    own.job_items.push(Write::Update(item));
    own.jobs.push(Write::Update(j));
    Ok((due, own))
}
