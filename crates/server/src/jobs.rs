//! The job runner every `serve` runs beside the scheduler: it claims a bulk job with a lease
//! (real time; on PostgreSQL several nodes share the queue, and a job another node is claiming
//! is skipped), runs its items that have no result yet one by one — each its own command, its
//! result recorded in the command's transaction (see `didpool_core::job`) — renewing the lease
//! between batches, and marks the job done. A node that dies leaves its lease to lapse; another
//! node (or this one, restarted) takes the job over and continues with the items left.

use std::time::Duration;

use chrono::Utc;
use didpool_core::job::Job;
use didpool_core::{Engine, EngineError};
use tokio::sync::watch;

/// How the runner works.
#[derive(Debug, Clone)]
pub struct Config {
    /// This runner's name in the leases it takes (unique per process).
    pub worker: String,
    /// How long a claim holds a job without renewal: a dead node's jobs wait this long.
    pub lease: Duration,
    /// How often an idle runner looks for a job.
    pub poll: Duration,
    /// Items run between two lease renewals (each is one transaction).
    pub batch: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            worker: format!("runner-{}", uuid::Uuid::now_v7()),
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            batch: 50,
        }
    }
}

impl Config {
    fn lease_until(&self) -> chrono::DateTime<Utc> {
        Utc::now() + chrono::Duration::from_std(self.lease).unwrap_or(chrono::Duration::MAX)
    }
}

/// What [`run_one`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// No job was waiting.
    Idle,
    /// It ran the job to its end (done).
    Finished,
    /// It stopped: the lease went to another runner, the job was cancelled, or `stop` turned.
    Stopped,
}

/// Runs jobs until `stop` turns true. Failures of the store are logged once and retried.
pub async fn run(engine: Engine, config: Config, mut stop: watch::Receiver<bool>) {
    let mut failing = false;
    loop {
        if *stop.borrow() {
            break;
        }
        match run_one(&engine, &config, &stop).await {
            Ok(Ran::Finished | Ran::Stopped) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("the job runner works again");
                }
                continue;
            }
            Ok(Ran::Idle) => {
                failing = false;
            }
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::error!(error = %e, "the job runner failed; retrying");
                }
            }
        }
        let wait = if failing {
            config.poll.max(Duration::from_secs(1))
        } else {
            config.poll
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Claims one job and runs it: to its end, or until the runner loses it or `stop` turns.
pub async fn run_one(
    engine: &Engine,
    config: &Config,
    stop: &watch::Receiver<bool>,
) -> Result<Ran, EngineError> {
    let Some(job) = engine
        .claim_job(&config.worker, Utc::now(), config.lease_until())
        .await?
    else {
        return Ok(Ran::Idle);
    };
    tracing::info!(job = %job.id, kind = job.kind.as_str(), total = job.total, "running a job");
    run_claimed(engine, config, &job, stop).await
}

/// Runs the items of a job this runner claimed.
pub async fn run_claimed(
    engine: &Engine,
    config: &Config,
    job: &Job,
    stop: &watch::Receiver<bool>,
) -> Result<Ran, EngineError> {
    loop {
        if *stop.borrow() {
            return hand_back(engine, config, job).await;
        }
        let items = engine
            .pending_job_items(job.id, config.batch.max(1))
            .await?;
        if items.is_empty() {
            return match engine.finish_job(job.id, &config.worker).await {
                Ok(done) => {
                    tracing::info!(job = %job.id, succeeded = done.succeeded, failed = done.failed, "job done");
                    Ok(Ran::Finished)
                }
                Err(EngineError::JobNotRunning) => Ok(Ran::Stopped),
                Err(e) => Err(e),
            };
        }
        for item in &items {
            if *stop.borrow() {
                return hand_back(engine, config, job).await;
            }
            match engine.run_job_item(job, item).await {
                Ok(_) => {}
                // Cancelled, or taken over: whoever holds it now goes on.
                Err(EngineError::JobNotRunning) => return Ok(Ran::Stopped),
                Err(e) => return Err(e),
            }
        }
        match engine
            .renew_job_lease(job.id, &config.worker, config.lease_until())
            .await
        {
            Ok(()) => {}
            Err(EngineError::JobNotRunning) => return Ok(Ran::Stopped),
            Err(e) => return Err(e),
        }
    }
}

/// A runner shutting down ends its lease now, so another node takes the job over at once
/// instead of after the lease (a crash leaves it to lapse).
async fn hand_back(engine: &Engine, config: &Config, job: &Job) -> Result<Ran, EngineError> {
    match engine
        .renew_job_lease(job.id, &config.worker, Utc::now())
        .await
    {
        Ok(()) | Err(EngineError::JobNotRunning) => Ok(Ran::Stopped),
        Err(e) => Err(e),
    }
}
