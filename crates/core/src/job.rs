//! Bulk jobs: many numbers, one action. A job is rows in the database (the job and one item
//! per number); each item is its own command, run with the rights of the job's account, that
//! succeeds or fails alone. The item's result is written in that command's own transaction
//! ([`Command::RunJobItem`](crate::lifecycle::Command::RunJobItem)), so a command and the record
//! of its result never diverge: after a crash the runner continues with the items that have no
//! result, and an item already done is found done (never run twice, even by two runners).
//!
//! A runner (every `serve` has one) claims a job with a lease on the real clock
//! ([`Command::ClaimJob`](crate::lifecycle::Command::ClaimJob)) so one node runs it, renews the
//! lease while it works, and a job whose lease lapsed (its node died) is taken over.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::e164::E164;
use crate::ids::{AccountId, JobId, TrunkId};
use crate::lifecycle::{Command, ReleaseMode};

/// The most numbers one job takes.
pub const MAX_JOB_ITEMS: usize = 1_000;

/// What a job does to each of its numbers: the command each item runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobKind {
    /// [`Command::Release`] as the deployment's policy says (the Vobiz face's release).
    Release,
    /// [`Command::AssignTrunk`] to this trunk.
    AssignTrunk { trunk: TrunkId },
    /// [`Command::UnassignTrunk`].
    UnassignTrunk,
    /// [`Command::AssignSubAccount`]: hands each number to this sub-account.
    MoveToSubAccount { sub_account: AccountId },
    /// [`Command::UnassignSubAccount`] without force: takes each number back from its
    /// sub-account (the cool-off applies).
    TakeBack,
}

impl JobKind {
    /// Its name in the API and the store: `release`, `assign_trunk`, `unassign_trunk`,
    /// `move_to_sub_account`, `take_back`.
    pub fn as_str(&self) -> &'static str {
        match self {
            JobKind::Release => "release",
            JobKind::AssignTrunk { .. } => "assign_trunk",
            JobKind::UnassignTrunk => "unassign_trunk",
            JobKind::MoveToSubAccount { .. } => "move_to_sub_account",
            JobKind::TakeBack => "take_back",
        }
    }

    /// The kind's target as stored: the trunk or the sub-account, if it has one.
    pub fn target(&self) -> Option<String> {
        match self {
            JobKind::AssignTrunk { trunk } => Some(trunk.to_string()),
            JobKind::MoveToSubAccount { sub_account } => Some(sub_account.to_string()),
            _ => None,
        }
    }

    /// The kind named `name` with its `target` (as [`JobKind::as_str`] and
    /// [`JobKind::target`] give them); an error says what is wrong.
    pub fn parse(name: &str, target: Option<&str>) -> Result<Self, String> {
        let need = |what: &str| {
            target
                .filter(|t| !t.is_empty())
                .ok_or_else(|| format!("a job of kind {name} needs {what}"))
        };
        Ok(match name {
            "release" => JobKind::Release,
            "assign_trunk" => JobKind::AssignTrunk {
                trunk: TrunkId::parse(need("a trunk")?)
                    .map_err(|_| "the trunk is not a trunk id (a UUID)".to_owned())?,
            },
            "unassign_trunk" => JobKind::UnassignTrunk,
            "move_to_sub_account" => JobKind::MoveToSubAccount {
                sub_account: AccountId::parse(need("a sub-account")?)
                    .map_err(|e| format!("the sub-account: {e}"))?,
            },
            "take_back" => JobKind::TakeBack,
            other => {
                return Err(format!(
                    "unknown job kind {other:?}: release, assign_trunk, unassign_trunk, \
                     move_to_sub_account or take_back"
                ))
            }
        })
    }

    /// The command an item of this kind runs on `number`.
    pub fn command(&self, number: &E164) -> Command {
        let number = number.clone().into();
        match self {
            JobKind::Release => Command::Release {
                number,
                mode: ReleaseMode::Policy,
            },
            JobKind::AssignTrunk { trunk } => Command::AssignTrunk {
                number,
                trunk: *trunk,
            },
            JobKind::UnassignTrunk => Command::UnassignTrunk { number },
            JobKind::MoveToSubAccount { sub_account } => Command::AssignSubAccount {
                number,
                sub: sub_account.clone(),
            },
            JobKind::TakeBack => Command::UnassignSubAccount {
                number,
                force: false,
            },
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Created, not yet claimed by a runner.
    Queued,
    /// A runner holds it (or held it: a lapsed lease is taken over).
    Running,
    /// Every item has its result.
    Done,
    /// Stopped before every item ran; items without a result stay `pending`.
    Cancelled,
}

impl JobStatus {
    /// `queued`, `running`, `done` or `cancelled` (the API's and the store's name).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// The status [`JobStatus::as_str`] names.
    pub fn parse(s: &str) -> Option<Self> {
        [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Done,
            JobStatus::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Done or cancelled: nothing more runs.
    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Done | JobStatus::Cancelled)
    }
}

/// A bulk job. Its counts move in each item's transaction, so they are always the items'.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub kind: JobKind,
    /// Whose rights each item runs with (its commands' actor).
    pub account: AccountId,
    /// That account's master account (itself, or its parent).
    pub billing: AccountId,
    /// Who created it: the account itself, or the operator (acting for `account`).
    pub created_by: Actor,
    pub status: JobStatus,
    /// How many items (numbers).
    pub total: u32,
    /// Items that succeeded.
    pub succeeded: u32,
    /// Items that failed (each with its error).
    pub failed: u32,
    /// The runner holding the job, and until when (real time).
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    /// Items with a result.
    pub fn done(&self) -> u32 {
        self.succeeded + self.failed
    }

    /// Whether `account` may see the job: its own, or one of its sub-accounts' (as the master
    /// account sees their numbers).
    pub fn visible_to(&self, account: &AccountId) -> bool {
        &self.account == account || &self.billing == account
    }
}

/// One number of a job, and what its command answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobItem {
    pub job_id: JobId,
    /// Its place in the job, from 0, in the order the numbers were given.
    pub seq: u32,
    pub e164: E164,
    /// `None` while pending.
    pub result: Option<ItemResult>,
}

/// What an item's command answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    /// `None`: it succeeded. Else the [`EngineError`](crate::EngineError) variant in
    /// snake_case (the metrics' outcome label, e.g. `release_locked`, `not_owner`) and its message.
    pub error: Option<(String, String)>,
    pub at: DateTime<Utc>,
}

impl ItemResult {
    /// The item's command succeeded.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

impl crate::Engine {
    /// Creates a bulk job of `kind` on `numbers` (as clients give them: each parsed under the
    /// deployment's rule), run with the rights of `account` — an account creates jobs for
    /// itself (`None`), the operator for the account it names. Refused whole, with every
    /// number that does not parse named (up to ten), or when empty, over [`MAX_JOB_ITEMS`], or
    /// with a number given twice: a list is fixed and sent again, never half-run.
    pub async fn create_job(
        &self,
        by: &crate::engine::By,
        kind: JobKind,
        account: Option<AccountId>,
        numbers: &[String],
    ) -> Result<Job, crate::EngineError> {
        use crate::EngineError;
        let account = match (account, by.caller()) {
            (Some(a), _) => a,
            (None, Some(caller)) => caller.clone(),
            (None, None) => {
                return Err(EngineError::invalid(
                    "account_id is required: the account whose rights the job's items run with",
                ))
            }
        };
        if numbers.len() > MAX_JOB_ITEMS {
            return Err(EngineError::invalid(format!(
                "a job takes at most {MAX_JOB_ITEMS} numbers, not {}",
                numbers.len()
            )));
        }
        let mut parsed = Vec::with_capacity(numbers.len());
        let mut bad = Vec::new();
        for (i, raw) in numbers.iter().enumerate() {
            match self.parse_number(raw.trim()) {
                Ok(e) => parsed.push(e),
                Err(e) => bad.push(format!("#{} {:?}: {e}", i + 1, raw.trim())),
            }
        }
        if !bad.is_empty() {
            let more = bad.len().saturating_sub(10);
            let mut msg = format!(
                "{} of the numbers {} not valid: {}",
                bad.len(),
                if bad.len() == 1 { "is" } else { "are" },
                bad[..bad.len().min(10)].join("; ")
            );
            if more > 0 {
                msg.push_str(&format!("; and {more} more"));
            }
            return Err(EngineError::Invalid(msg));
        }
        let id = crate::ids::JobId::new();
        let cmd = Command::CreateJob {
            id,
            kind,
            account,
            numbers: parsed,
        };
        let outcome = self.run(by, cmd).await?;
        outcome
            .changes
            .jobs
            .first()
            .map(|w| w.row().clone())
            .ok_or_else(|| EngineError::Storage("a job was created without its row".into()))
    }

    /// The runner's claim: leases the first waiting job to `worker` from `now_real` (real
    /// time) until `lease_until`, or `None` when no job waits.
    pub async fn claim_job(
        &self,
        worker: &str,
        now_real: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Job>, crate::EngineError> {
        // To the microsecond, the precision both stores keep.
        let cmd = Command::ClaimJob {
            worker: worker.to_owned(),
            now_real: now_real.trunc_subsecs(6),
            lease_until: lease_until.trunc_subsecs(6),
        };
        let outcome = self.run(&crate::engine::By::system(), cmd).await?;
        Ok(outcome.changes.jobs.first().map(|w| w.row().clone()))
    }

    /// Extends `worker`'s lease on a job; [`EngineError::JobNotRunning`](crate::EngineError)
    /// when it lost the job (taken over, cancelled).
    pub async fn renew_job_lease(
        &self,
        job: crate::ids::JobId,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<(), crate::EngineError> {
        let cmd = Command::RenewJobLease {
            id: job,
            worker: worker.to_owned(),
            lease_until: lease_until.trunc_subsecs(6),
        };
        self.run(&crate::engine::By::system(), cmd).await.map(drop)
    }

    /// Marks the job `worker` holds done (every item has its result).
    pub async fn finish_job(
        &self,
        job: crate::ids::JobId,
        worker: &str,
    ) -> Result<Job, crate::EngineError> {
        let cmd = Command::FinishJob {
            id: job,
            worker: worker.to_owned(),
        };
        let outcome = self.run(&crate::engine::By::system(), cmd).await?;
        outcome
            .changes
            .jobs
            .first()
            .map(|w| w.row().clone())
            .ok_or_else(|| crate::EngineError::Storage("a job finished without its row".into()))
    }

    /// The next items of a job without a result, at most `limit`, in their order (the
    /// runner's read: it has no tenancy, a runner acts for the job's account).
    pub async fn pending_job_items(
        &self,
        job: crate::ids::JobId,
        limit: u32,
    ) -> Result<Vec<JobItem>, crate::EngineError> {
        let query = crate::store::JobItemQuery {
            filter: crate::store::ItemFilter::Pending,
            limit,
            offset: 0,
        };
        Ok(self.store().job_items(job, &query).await?.items)
    }

    /// Runs one item of `job` with the rights of its account ([`Command::RunJobItem`]; its
    /// events carry the request id `job:<id>`): the item with its result, or `None` when it had
    /// one already (nothing ran). Counted as `didpool_job_items_total{kind, outcome}`
    /// (`outcome`: `ok`, or the error code the item failed with).
    pub async fn run_job_item(
        &self,
        job: &Job,
        item: &JobItem,
    ) -> Result<Option<JobItem>, crate::EngineError> {
        let by = crate::engine::By::acting_for(
            job.account.clone(),
            job.billing.clone(),
            Some(format!("job:{}", job.id)),
        );
        let cmd = Command::RunJobItem {
            job: job.id,
            seq: item.seq,
            number: item.e164.clone(),
            kind: job.kind.clone(),
        };
        let outcome = self.run(&by, cmd).await?;
        let done = outcome.changes.job_items.first().map(|w| w.row().clone());
        if let Some(result) = done.as_ref().and_then(|i| i.result.as_ref()) {
            let code = result
                .error
                .as_ref()
                .map_or_else(|| "ok".to_owned(), |(code, _)| code.clone());
            metrics::counter!(
                "didpool_job_items_total",
                "kind" => job.kind.as_str(),
                "outcome" => code
            )
            .increment(1);
        }
        Ok(done)
    }
}
