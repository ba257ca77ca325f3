//! `didpool jobs …` and `didpool number lock|unlock`: bulk jobs and release locks from the
//! command line, on the database like every other operator command (the jobs themselves run on
//! a `serve` node's runner, or in this process with `--run`).

use std::io::Read as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Subcommand;
use didpool_core::engine::By;
use didpool_core::ids::JobId;
use didpool_core::job::{Job, JobKind};
use didpool_core::store::{ItemFilter, JobItemQuery};
use didpool_core::{AccountId, Engine};
use indicatif::{ProgressBar, ProgressStyle};

use crate::faces::admin::jobs::{JobItemObject, JobObject};

#[derive(Debug, Subcommand)]
pub enum JobsCmd {
    /// Create a job: one command per number, each succeeding or failing alone, run with the
    /// rights of --account. Numbers from the arguments and/or --file (one a line; `-`: stdin;
    /// blank lines and lines starting with `#` are skipped).
    Create {
        /// release, assign_trunk, unassign_trunk, move_to_sub_account or take_back.
        #[arg(long)]
        kind: String,
        /// The account whose rights each item runs with (MA_…/SA_…).
        #[arg(long)]
        account: String,
        /// For assign_trunk: the trunk's id.
        #[arg(long)]
        trunk: Option<String>,
        /// For move_to_sub_account: the sub-account (SA_…).
        #[arg(long)]
        sub_account: Option<String>,
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        numbers: Vec<String>,
        /// Then show its progress until it finishes (a `serve` node runs it).
        #[arg(long)]
        wait: bool,
        /// Then run it in this process (with the jobs queued before it), showing its progress.
        #[arg(long, conflicts_with = "wait")]
        run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Jobs, newest first, one a line (or one JSON object a line).
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long)]
        json: bool,
    },
    /// A job's status and counts, and its items with their results.
    Show {
        id: String,
        /// all, pending, succeeded or failed.
        #[arg(long, default_value = "all")]
        items: String,
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long)]
        json: bool,
    },
    /// A progress bar until the job finishes; exits non-zero if an item failed.
    Watch {
        id: String,
        /// Run the waiting jobs in this process too, instead of waiting for a `serve` node.
        #[arg(long)]
        run: bool,
    },
    /// Stop a job: its items without a result never run.
    Cancel { id: String },
    /// Run the waiting jobs in this process (a runner like `serve`'s) until none is left.
    Run,
}

fn job_id(raw: &str) -> anyhow::Result<JobId> {
    JobId::parse(raw).map_err(|_| anyhow::anyhow!("{raw:?} is not a job id"))
}

/// The numbers of `args` and of `file` (`-`: stdin), in that order.
fn numbers(args: Vec<String>, file: Option<&std::path::Path>) -> anyhow::Result<Vec<String>> {
    let mut all = args;
    if let Some(path) = file {
        let text = if path == std::path::Path::new("-") {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s
        } else {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        };
        all.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    Ok(all)
}

fn line(j: &Job) -> String {
    format!(
        "{}  {:<19} {:<9} {}/{} done, {} failed  {}",
        j.id,
        j.kind.as_str(),
        j.status.as_str(),
        j.done(),
        j.total,
        j.failed,
        j.account
    )
}

pub async fn run(engine: &Engine, op: &By, cmd: JobsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        JobsCmd::Create {
            kind,
            account,
            trunk,
            sub_account,
            file,
            numbers: args,
            wait,
            run,
            json,
        } => {
            let target = trunk.as_deref().or(sub_account.as_deref());
            let kind = JobKind::parse(&kind, target).map_err(anyhow::Error::msg)?;
            let account = AccountId::parse(&account)?;
            let list = numbers(args, file.as_deref())?;
            let job = engine.create_job(op, kind, Some(account), &list).await?;
            if json {
                println!("{}", serde_json::to_string(&JobObject::from(&job))?);
            } else {
                println!("{}", line(&job));
            }
            if wait || run {
                return watch(engine, op, job.id, run).await;
            }
        }
        JobsCmd::List {
            limit,
            offset,
            json,
        } => {
            let page = engine.jobs(op, limit, offset).await?;
            for j in &page.items {
                if json {
                    println!("{}", serde_json::to_string(&JobObject::from(j))?);
                } else {
                    println!("{}", line(j));
                }
            }
            if !json {
                println!("{} of {} job(s)", page.items.len(), page.total);
            }
        }
        JobsCmd::Show {
            id,
            items,
            limit,
            offset,
            json,
        } => {
            let filter = ItemFilter::parse(&items)
                .context("--items is all, pending, succeeded or failed")?;
            let query = JobItemQuery {
                filter,
                limit,
                offset,
            };
            let (job, page) = engine.job_items(op, job_id(&id)?, &query).await?;
            if json {
                println!("{}", serde_json::to_string(&JobObject::from(&job))?);
                for i in &page.items {
                    println!("{}", serde_json::to_string(&JobItemObject::from(i))?);
                }
            } else {
                println!("{}", line(&job));
                for i in &page.items {
                    let result = match &i.result {
                        None => "pending".to_owned(),
                        Some(r) => match &r.error {
                            None => "succeeded".to_owned(),
                            Some((code, message)) => format!("failed: {code}: {message}"),
                        },
                    };
                    println!("{:>5}  {}  {result}", i.seq, i.e164);
                }
                println!("{} of {} item(s)", page.items.len(), page.total);
            }
        }
        JobsCmd::Watch { id, run } => return watch(engine, op, job_id(&id)?, run).await,
        JobsCmd::Cancel { id } => {
            let id = job_id(&id)?;
            engine
                .run(op, didpool_core::lifecycle::Command::CancelJob { id })
                .await?;
            println!("{}", line(&engine.job(op, id).await?));
        }
        JobsCmd::Run => {
            let (_tx, stop) = tokio::sync::watch::channel(false);
            let config = crate::jobs::Config::default();
            let mut ran = 0;
            while crate::jobs::run_one(engine, &config, &stop).await? != crate::jobs::Ran::Idle {
                ran += 1;
            }
            println!("ran {ran} job(s); none is waiting");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows a job's progress until it finishes (running the waiting jobs here with `run`); prints
/// its failed items, and exits non-zero if there is one or the job was cancelled.
async fn watch(engine: &Engine, op: &By, id: JobId, run: bool) -> anyhow::Result<ExitCode> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let runner = run.then(|| {
        let engine = engine.clone();
        tokio::spawn(async move {
            let config = crate::jobs::Config {
                poll: Duration::from_millis(100),
                ..crate::jobs::Config::default()
            };
            crate::jobs::run(engine, config, stop).await;
        })
    });
    let job = engine.job(op, id).await?;
    let bar = ProgressBar::new(u64::from(job.total));
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} {msg} ({elapsed})")
            .expect("the template parses")
            .progress_chars("=> "),
    );
    let job = loop {
        let job = engine.job(op, id).await?;
        bar.set_position(u64::from(job.done()));
        bar.set_message(format!("{}, {} failed", job.status.as_str(), job.failed));
        if job.status.is_finished() {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    bar.finish();
    let _ = stop_tx.send(true);
    if let Some(r) = runner {
        let _ = r.await;
    }
    println!("{}", line(&job));
    let query = JobItemQuery {
        filter: ItemFilter::Failed,
        limit: 1000,
        offset: 0,
    };
    let (_, failed) = engine.job_items(op, id, &query).await?;
    for i in &failed.items {
        if let Some((code, message)) = i.result.as_ref().and_then(|r| r.error.as_ref()) {
            eprintln!("{}: {code}: {message}", i.e164);
        }
    }
    if job.failed > 0 || job.status != didpool_core::job::JobStatus::Done {
        Ok(ExitCode::FAILURE)
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// `didpool number lock|unlock`: the operator's release lock.
pub async fn lock(
    engine: &Engine,
    op: &By,
    e164: &str,
    lock: Option<Option<String>>,
) -> anyhow::Result<ExitCode> {
    let number = engine
        .parse_number(e164)
        .with_context(|| e164.to_owned())?
        .into();
    let cmd = match lock {
        Some(reason) => didpool_core::lifecycle::Command::LockRelease { number, reason },
        None => didpool_core::lifecycle::Command::UnlockRelease { number },
    };
    let n = engine.run(op, cmd).await?.number.context("no number")?;
    match &n.release_lock {
        Some(l) => println!(
            "{} is locked against release (by {} at {}{})",
            n.e164,
            l.by.label(),
            l.at.to_rfc3339(),
            l.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        None => println!("{} is not locked against release", n.e164),
    }
    Ok(ExitCode::SUCCESS)
}
