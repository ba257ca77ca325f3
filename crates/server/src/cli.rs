//! The `didpool` command line: `serve`, `migrate`, and the operator's commands.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use didpool_core::account::{AccountProfile, NewAccount, Role};
use didpool_core::credential::{generate_token, Credential, CredentialKind};
use didpool_core::engine::By;
use didpool_core::ids::{CredentialId, EndpointId, EventId};
use didpool_core::lifecycle::Command;
use didpool_core::money::{Currency, Decimal};
use didpool_core::setting::SigningKey;
use didpool_core::store::EventQuery;
use didpool_core::webhook::{generate_secret, is_event_type, Endpoint, Requeue};
use didpool_core::EngineError;
use didpool_core::{
    AccountId, Clock, Engine, ManualClock, NumberValidation, ReleasePolicy, SystemClock, E164,
};
use didpool_store::{Durability, Options};
use serde_json::json;

use crate::app::{self, AppState};
use crate::faces::vobiz::tokens::TokenKeys;
use crate::webhooks::EventObject;

#[derive(Debug, Parser)]
#[command(
    name = "didpool",
    version,
    about = "Phone-number (DID) lifecycle service"
)]
pub struct Cli {
    #[command(flatten)]
    pub db: DbArgs,
    /// How the phone numbers clients give are checked, on every face and by `inventory import`,
    /// `calls report` and `number cancel-release`: strict (libphonenumber's metadata must know the
    /// number's range) or e164 (`+` and 8 to 15 digits). Default: strict, except for
    /// `serve --sandbox` and `serve --demo` (e164).
    #[arg(long, global = true, env = "DIDPOOL_NUMBER_VALIDATION", value_enum)]
    pub number_validation: Option<NumberValidationArg>,
    /// How log lines are written to stderr: text (colours only when stderr is a terminal) or json
    /// (one object a line).
    #[arg(
        long,
        global = true,
        env = "DIDPOOL_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Cmd,
}

/// The values of `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The values of `--number-validation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NumberValidationArg {
    Strict,
    E164,
}

impl From<NumberValidationArg> for NumberValidation {
    fn from(a: NumberValidationArg) -> Self {
        match a {
            NumberValidationArg::Strict => NumberValidation::Strict,
            NumberValidationArg::E164 => NumberValidation::E164,
        }
    }
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// Where the data lives: sqlite://PATH or postgres://USER@HOST/DB. A SQLite file is created
    /// only by `migrate` and `serve --demo`; every other command refuses a missing one.
    #[arg(
        long,
        global = true,
        env = "DIDPOOL_DATABASE_URL",
        default_value = "sqlite://didpool.db"
    )]
    pub database_url: String,
    /// Acknowledge commits before they reach the disk (SQLite synchronous=NORMAL): faster, but
    /// the last commits can be lost if the machine (not just didpool) crashes.
    #[arg(long, global = true, env = "DIDPOOL_RELAXED_DURABILITY")]
    pub relaxed_durability: bool,
    /// PostgreSQL connections per didpool node.
    #[arg(long, global = true, env = "DIDPOOL_POOL_SIZE", default_value_t = 10)]
    pub pool_size: u32,
    /// How long a request waits for a PostgreSQL connection (connecting included) before it is
    /// answered 503: a database that went away fails fast instead of stalling every request.
    #[arg(long, global = true, env = "DIDPOOL_POOL_TIMEOUT", default_value = "1s", value_parser = humantime::parse_duration)]
    pub pool_timeout: std::time::Duration,
}

// Parsed once per process: the size of `serve`'s flags costs nothing worth boxing them for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once at start: boxing `serve`'s flags would save nothing"
)]
pub enum Cmd {
    /// Serve every API face and the admin API.
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Print the OpenAPI 3.1 document of every face and the admin API (as `GET /openapi.json`
    /// serves it); touches no database.
    Openapi,
    /// Verify the database's invariants; print each violation and exit non-zero if there is one.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Master accounts.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Inventory of purchasable numbers.
    #[command(subcommand)]
    Inventory(InventoryCmd),
    /// Call records, which drive the sub-account cool-off.
    #[command(subcommand)]
    Calls(CallsCmd),
    /// One number, as the operator acts on it.
    #[command(subcommand)]
    Number(NumberCmd),
    /// Credentials: Vobiz auth tokens (X-Auth-Token), and API keys for the Agni (X-Api-Key) and
    /// Diga (Bearer) faces.
    #[command(subcommand)]
    Key(KeyCmd),
    /// The event log: every change of every number.
    #[command(subcommand)]
    Events(EventsCmd),
    /// Webhook endpoints, which get the events signed (Standard Webhooks).
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Bulk jobs: release, assign to a trunk or move to a sub-account many numbers at once.
    #[command(subcommand)]
    Jobs(crate::cli_jobs::JobsCmd),
}

/// Which events to print.
#[derive(Debug, Args)]
pub struct EventFilter {
    /// Only these types (e.g. number.released); repeatable.
    #[arg(long = "type")]
    types: Vec<String>,
    /// Only events concerning this account.
    #[arg(long)]
    account: Option<String>,
    /// Only events of this number (E.164).
    #[arg(long)]
    number: Option<String>,
    /// Start after this event id.
    #[arg(long)]
    after: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Print events, oldest first, one JSON object a line (as webhooks carry them).
    List {
        #[command(flatten)]
        filter: EventFilter,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Print the events as they are recorded, one JSON object a line, until interrupted;
    /// without --after, from the newest on.
    Tail {
        #[command(flatten)]
        filter: EventFilter,
        /// How often to look for new events.
        #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
        every: std::time::Duration,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Subscribe an endpoint; prints it with its secret (shown only this once).
    Add {
        #[arg(long)]
        url: String,
        /// Only these types; repeatable (default: every type).
        #[arg(long = "type")]
        types: Vec<String>,
        /// Only events concerning this account.
        #[arg(long)]
        account: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Every endpoint (never a secret), one JSON object a line.
    List,
    /// Remove an endpoint, with its deliveries.
    Remove { id: String },
    /// A new secret (shown only this once); the old one signs beside it for --overlap.
    RotateSecret {
        id: String,
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        overlap: std::time::Duration,
    },
    /// Send one event again (to every endpoint it was queued for, or to --endpoint).
    Redeliver {
        event: String,
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Send an endpoint's events again since a time (RFC 3339).
    Replay {
        id: String,
        #[arg(long)]
        since: DateTime<Utc>,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long, env = "DIDPOOL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Create (or reuse) demo accounts and inventory, and print credentials.
    #[arg(long)]
    pub demo: bool,
    /// The operator's bearer token for /admin/v1. With --demo and none set, one is generated.
    #[arg(long, env = "DIDPOOL_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The key the Vobiz face signs access and refresh tokens with (HS256; at least 32
    /// characters). Unset: one is generated at the first token and kept in the database, so
    /// tokens outlive restarts. Changing it ends every outstanding token.
    #[arg(long, env = "DIDPOOL_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// Vobiz releases wait this long in pending_release, cancellable (e.g. 24h). 0: immediate.
    #[arg(long, env = "DIDPOOL_RELEASE_WINDOW", default_value = "0s", value_parser = humantime::parse_duration)]
    pub release_window: std::time::Duration,
    /// Released numbers age this long before they are purchasable again (e.g. 45days). 0: none.
    #[arg(long, env = "DIDPOOL_QUARANTINE", default_value = "0s", value_parser = humantime::parse_duration)]
    pub quarantine: std::time::Duration,
    /// Charged when the release of a purchased number is requested, on every face, as far as
    /// the balance covers it; refunded if the release is cancelled. Imported numbers: never.
    #[arg(long, env = "DIDPOOL_RELEASE_FEE", default_value = "0")]
    pub release_fee: String,
    /// How long a paid number waits for its company's verification before it is refunded and
    /// returned to inventory.
    #[arg(long, env = "DIDPOOL_VERIFICATION_DEADLINE", default_value = "24h", value_parser = humantime::parse_duration)]
    pub verification_deadline: std::time::Duration,
    /// How often the scheduler looks for due work (releases, renewals, expiries).
    #[arg(long, env = "DIDPOOL_SCHEDULER_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub scheduler_interval: std::time::Duration,
    /// How long the records of reported calls (`POST /routing/v1/calls`) are kept, counted from
    /// each call's end; the scheduler deletes older ones. The Vobiz number health reads them.
    #[arg(long, env = "DIDPOOL_CALL_RETENTION", default_value = "90days", value_parser = humantime::parse_duration)]
    pub call_retention: std::time::Duration,
    /// A webhook delivery attempt that has not been answered in this long failed (and is
    /// retried on the schedule).
    #[arg(long, env = "DIDPOOL_WEBHOOK_TIMEOUT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub webhook_timeout: std::time::Duration,
    /// Deliver webhooks to private, loopback and link-local addresses too (refused by default).
    #[arg(long, env = "DIDPOOL_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,
    /// Webhook deliveries in flight at once on this node.
    #[arg(long, env = "DIDPOOL_WEBHOOK_CONCURRENCY", default_value_t = 64)]
    pub webhook_concurrency: usize,
    /// How often an idle delivery worker looks for due deliveries.
    #[arg(long, env = "DIDPOOL_WEBHOOK_POLL_INTERVAL", default_value = "100ms", value_parser = humantime::parse_duration)]
    pub webhook_poll_interval: std::time::Duration,
    /// Run no delivery worker on this node: it records events and queues their deliveries, and
    /// other nodes send them (or none, for a fuzzing or staging node that must send nothing out).
    #[arg(long, env = "DIDPOOL_NO_WEBHOOK_DELIVERY")]
    pub no_webhook_delivery: bool,
    /// How long this node's job runner holds a bulk job without renewing its lease (renewed
    /// every 50 items): the jobs of a node that died are taken over after this long.
    #[arg(long, env = "DIDPOOL_JOB_LEASE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub job_lease: std::time::Duration,
    /// Sandbox mode: a clock the admin API can set and advance, and a run-the-scheduler-now
    /// endpoint, so client test suites can walk numbers through billing cycles in seconds.
    #[arg(long, env = "DIDPOOL_SANDBOX")]
    pub sandbox: bool,
    /// How long a client has to send a request's head (from its connection's accept, or from the
    /// first byte of a later request on it) before the connection is closed.
    #[arg(long, env = "DIDPOOL_HEADER_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub header_timeout: std::time::Duration,
    /// How long a kept-alive connection may wait for its next request before it is closed.
    #[arg(long, env = "DIDPOOL_IDLE_TIMEOUT", default_value = "75s", value_parser = positive_duration)]
    pub idle_timeout: std::time::Duration,
    /// How long a request may take once its head is in (its body and the answer) before it is
    /// answered 408 in the face's shape and its connection closed.
    #[arg(long, env = "DIDPOOL_REQUEST_TIMEOUT", default_value = "30s", value_parser = positive_duration)]
    pub request_timeout: std::time::Duration,
    /// Client connections open at once; more wait in the listen backlog. Default: the open-file
    /// limit (its soft limit raised to the hard one at start) less 128 kept for the database and
    /// files.
    #[arg(long, env = "DIDPOOL_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// On SIGTERM or Ctrl-C, how long the requests in flight may take to finish before their
    /// connections are dropped and didpool exits.
    #[arg(long, env = "DIDPOOL_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: std::time::Duration,
    /// Requests per second each credential may make on this node when its account sets no
    /// `rate_limit` of its own (0: no limit).
    #[arg(long, env = "DIDPOOL_RATE_LIMIT", default_value_t = 1000)]
    pub rate_limit: u32,
    /// Failed authentications a client address may make per minute on this node before it is
    /// answered 429 until its quota refills (0: no limit).
    #[arg(long, env = "DIDPOOL_AUTH_FAILURES_PER_MINUTE", default_value_t = 30)]
    pub auth_failures_per_minute: u32,
    /// A web console session ends after this long without a request.
    #[arg(long, env = "DIDPOOL_CONSOLE_SESSION_IDLE", default_value = "30m", value_parser = positive_duration)]
    pub console_session_idle: std::time::Duration,
    /// A web console session ends this long after sign-in, however busy.
    #[arg(long, env = "DIDPOOL_CONSOLE_SESSION_MAX", default_value = "12h", value_parser = positive_duration)]
    pub console_session_max: std::time::Duration,
    /// Mark the console's session cookie `Secure` on every answer (without it: only when the
    /// proxy in front says `X-Forwarded-Proto: https`).
    #[arg(long, env = "DIDPOOL_CONSOLE_SECURE_COOKIE")]
    pub console_secure_cookie: bool,
    /// How long the answer to an `Idempotency-Key` is kept and replayed to a retry; the
    /// scheduler deletes older keys.
    #[arg(long, env = "DIDPOOL_IDEMPOTENCY_RETENTION", default_value = "24h", value_parser = parse_retention)]
    pub idempotency_retention: std::time::Duration,
    /// How long a retry waits for the request in flight with its `Idempotency-Key` to answer
    /// (then it is replayed that answer) before it is refused with a 409.
    #[arg(long, env = "DIDPOOL_IDEMPOTENCY_WAIT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub idempotency_wait: std::time::Duration,
    /// How long an authenticated credential is kept in memory (0s: every request reads the
    /// store). A revocation, rotation or disabling through this node applies at once; one made
    /// through another node (PostgreSQL) applies here within this time.
    #[arg(long, env = "DIDPOOL_AUTH_CACHE_TTL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub auth_cache_ttl: std::time::Duration,

    /// How long a list may trust this node's last scan for due items (scheduled releases,
    /// quarantine ends, expiries, renewals) that found nothing due before the clock, instead of
    /// scanning again before its page (`0s`: every list scans). This node's own commands and
    /// the clock reaching a due time apply at once; another node's writes (PostgreSQL) or the
    /// CLI's within this time (BENCHMARKS.md, issue 17 round 4).
    #[arg(long, env = "DIDPOOL_LIST_SETTLE_RECHECK", default_value = "1s", value_parser = humantime::parse_duration)]
    pub list_settle_recheck: std::time::Duration,
}

/// A duration flag that must not be zero (a zero timeout would close every connection).
fn positive_duration(s: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => Err("must be more than 0".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

/// A retention between a minute (longer than a claim's lease, so no key is pruned while its
/// request runs) and a year.
fn parse_retention(s: &str) -> Result<std::time::Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d < std::time::Duration::from_secs(60) || d > std::time::Duration::from_secs(366 * 86_400) {
        return Err("must be between 1m and 366days".into());
    }
    Ok(d)
}

impl ServeArgs {
    fn policy(&self) -> anyhow::Result<ReleasePolicy> {
        let duration =
            |d: std::time::Duration| chrono::Duration::from_std(d).context("duration out of range");
        let fee = Decimal::from_str(&self.release_fee).context("--release-fee is not a number")?;
        let policy = ReleasePolicy {
            window: duration(self.release_window)?,
            quarantine: duration(self.quarantine)?,
            fee: didpool_core::money::parse_amount(fee).map_err(anyhow::Error::msg)?,
            verification_deadline: duration(self.verification_deadline)?,
        };
        policy.check().map_err(anyhow::Error::msg)?;
        Ok(policy)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Customer,
}

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Create a master account and print its credentials (the token is shown only this once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value = "customer")]
        role: RoleArg,
        /// Opening balance.
        #[arg(long, default_value = "0")]
        balance: String,
        #[arg(long, default_value = "INR")]
        currency: String,
        /// Keep an existing id (MA_…) instead of generating one.
        #[arg(long)]
        id: Option<String>,
        /// Requests per second each of its credentials may make on a node (default: the
        /// server's `--rate-limit`).
        #[arg(long)]
        rate_limit: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Add money to a master account's balance.
    TopUp {
        #[arg(long)]
        account: String,
        #[arg(long)]
        amount: String,
        #[arg(long, default_value = "top-up")]
        description: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum InventoryCmd {
    /// Load numbers from a CSV file: e164,country,region,setup_fee,monthly_fee,currency[,capabilities…]
    Import {
        file: std::path::PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Stock COUNT consecutive numbers from START (+14152000000, +14152000001, …) in bulk, for
    /// load tests and sandboxes. Each is a valid number of its country with its `stocked` event.
    Generate {
        #[arg(long)]
        count: u64,
        #[arg(long, default_value = "+14152000000")]
        start: String,
        #[arg(long)]
        region: Option<String>,
        #[arg(long, default_value = "1")]
        setup_fee: String,
        #[arg(long, default_value = "1")]
        monthly_fee: String,
        #[arg(long, default_value = "USD")]
        currency: String,
        /// Numbers per transaction.
        #[arg(long, default_value_t = 5000)]
        batch: u64,
        /// Print progress to stderr.
        #[arg(long)]
        progress: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CallsCmd {
    /// Record a call on a number (sets last_call_at).
    Report {
        e164: String,
        /// When the call happened (RFC 3339); now if omitted.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum NumberCmd {
    /// Take back a release that has not taken effect (a Vobiz pending window, or a Diga
    /// end-of-cycle release), refunding a charged release fee; audited as the operator's.
    CancelRelease { e164: String },
    /// Lock a number against release: every face refuses to release it until it is unlocked
    /// (only an active number without a pending release).
    Lock {
        e164: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Take a number's release lock off.
    Unlock { e164: String },
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Issue an API key for an account (shown only this once).
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        kind: String,
        /// Optional restriction, such as phones:read.
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List an account's credentials of every kind, revoked ones included (never a secret).
    List {
        #[arg(long)]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Issue an account's new Vobiz auth token (shown only this once) and revoke the ones it
    /// had, at once or after --grace.
    Rotate {
        #[arg(long)]
        account: String,
        /// How long the replaced tokens keep working (e.g. 10m; at most 30days). 0: none.
        #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
        grace: std::time::Duration,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a credential of any kind (an auth token or a key) by its id, at once.
    Revoke { id: String },
}

/// Logs to stderr at the level `DIDPOOL_LOG` sets (default `info`), in `format`; colours only
/// when stderr is a terminal.
pub fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("DIDPOOL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => fmt.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

impl Cli {
    /// The number validation the command runs with: the flag's, else strict, except that a
    /// sandbox or demo server takes what its clients' made-up numbers need.
    pub fn number_validation(&self) -> NumberValidation {
        match (self.number_validation, &self.command) {
            (Some(rule), _) => rule.into(),
            (None, Cmd::Serve(args)) if args.sandbox || args.demo => NumberValidation::E164,
            (None, _) => NumberValidation::Strict,
        }
    }

    async fn engine(&self, clock: Arc<dyn Clock>, policy: ReleasePolicy) -> anyhow::Result<Engine> {
        let options = Options {
            durability: if self.db.relaxed_durability {
                Durability::Relaxed
            } else {
                Durability::Full
            },
            pool_size: Some(self.db.pool_size),
            pool_timeout: Some(self.db.pool_timeout),
            // Creating a database is an explicit act: a vanished one is never silently replaced.
            create_if_missing: match &self.command {
                Cmd::Migrate => true,
                Cmd::Serve(args) => args.demo,
                _ => false,
            },
        };
        let store = didpool_store::open(&self.db.database_url, &options)
            .await
            .with_context(|| format!("opening {}", self.db.database_url))?;
        let engine =
            Engine::new(store, clock, policy).with_number_validation(self.number_validation());
        Ok(match &self.command {
            Cmd::Serve(args) => engine
                .with_auth_cache(
                    chrono::Duration::from_std(args.auth_cache_ttl)
                        .context("--auth-cache-ttl is too long")?,
                )
                .with_due_cache(args.list_settle_recheck),
            _ => engine,
        })
    }

    /// Whether this is `serve` (a long-lived server, not a command whose output may be piped).
    pub fn serves(&self) -> bool {
        matches!(self.command, Cmd::Serve(_))
    }

    pub async fn run(self) -> anyhow::Result<ExitCode> {
        if let Cmd::Openapi = &self.command {
            print!("{}", crate::openapi::json());
            return Ok(ExitCode::SUCCESS);
        }
        if let Cmd::Serve(args) = &self.command {
            let sandbox = args.sandbox.then(|| ManualClock::new(chrono::Utc::now()));
            let clock: Arc<dyn Clock> = match &sandbox {
                Some(c) => Arc::new(c.clone()),
                None => Arc::new(SystemClock),
            };
            let engine = self.engine(clock, args.policy()?).await?;
            if let Some(clock) = &sandbox {
                if let Some(t) = crate::faces::admin::resume_clock(&engine, clock).await? {
                    tracing::info!(now = %t, "the sandbox clock resumes where it was set");
                }
            }
            serve(engine, args, sandbox).await?;
            return Ok(ExitCode::SUCCESS);
        }
        // A database a sandbox has set the clock of keeps that clock for the operator's commands
        // too: its numbers live in sandbox time.
        let clock = ManualClock::new(chrono::Utc::now());
        let engine = self
            .engine(Arc::new(clock.clone()), ReleasePolicy::default())
            .await?;
        let engine = match crate::faces::admin::resume_clock(&engine, &clock).await? {
            Some(_) => engine,
            None => engine.with_clock(Arc::new(SystemClock)),
        };
        let op = By::operator(None);
        match self.command {
            Cmd::Serve(_) | Cmd::Openapi => unreachable!("handled above"),
            Cmd::Migrate => println!("database is up to date: {}", self.db.database_url),
            Cmd::Check { json } => {
                let violations = engine.check(&op).await?;
                if json {
                    println!(
                        "{}",
                        json!({"ok": violations.is_empty(), "violations": violations})
                    );
                } else {
                    for v in &violations {
                        println!("{}: {}: {}", v.rule, v.subject, v.detail);
                    }
                    println!("{} violation(s)", violations.len());
                }
                if !violations.is_empty() {
                    return Ok(ExitCode::FAILURE);
                }
            }
            Cmd::Account(AccountCmd::Create {
                name,
                role,
                balance,
                currency,
                id,
                rate_limit,
                json,
            }) => {
                let new = NewAccount {
                    id: id.as_deref().map(AccountId::parse).transpose()?,
                    name,
                    role: match role {
                        RoleArg::Admin => Role::Admin,
                        RoleArg::Customer => Role::Customer,
                    },
                    currency: Currency::parse(&currency)?,
                    opening_balance: Decimal::from_str(&balance)
                        .context("--balance is not a number")?,
                    enabled: true,
                    profile: AccountProfile {
                        rate_limit: rate_limit.map(i64::from),
                        ..AccountProfile::default()
                    },
                };
                let (account, token) = engine.create_account(&op, new, None).await?;
                if json {
                    println!("{}", json!({"auth_id": account.id, "auth_token": token}));
                } else {
                    println!(
                        "auth_id:    {}\nauth_token: {token}\n(the token is shown only this once)",
                        account.id
                    );
                }
            }
            Cmd::Account(AccountCmd::TopUp {
                account,
                amount,
                description,
                json,
            }) => {
                let account = AccountId::parse(&account)?;
                let amount = Decimal::from_str(&amount).context("--amount is not a number")?;
                let outcome = engine
                    .run(
                        &op,
                        Command::TopUp {
                            account,
                            amount,
                            description,
                        },
                    )
                    .await?;
                let a = outcome.changes.account().context("no account written")?;
                if json {
                    println!(
                        "{}",
                        json!({"auth_id": a.id, "balance": a.balance, "currency": a.currency})
                    );
                } else {
                    println!("{} balance: {} {}", a.id, a.balance, a.currency);
                }
            }
            Cmd::Inventory(InventoryCmd::Import { file, json }) => {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let report = crate::inventory::import_csv(&engine, &op, &text).await?;
                engine.after_bulk_load(&op).await?;
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else {
                    println!(
                        "imported {}, skipped {} already stocked, {} errors",
                        report.imported,
                        report.skipped,
                        report.errors.len()
                    );
                    for e in &report.errors {
                        eprintln!("row {}: {} {}", e.row, e.e164, e.error);
                    }
                }
                if !report.errors.is_empty() {
                    return Ok(ExitCode::FAILURE);
                }
            }
            Cmd::Inventory(InventoryCmd::Generate {
                count,
                start,
                region,
                setup_fee,
                monthly_fee,
                currency,
                batch,
                progress,
            }) => {
                let first: u64 = start
                    .trim_start_matches('+')
                    .parse()
                    .context("--start is not a number")?;
                let country = E164::parse(&start)?
                    .country()
                    .context("--start has no country")?;
                let currency = Currency::parse(&currency)?;
                let setup_fee = Decimal::from_str(&setup_fee).context("--setup-fee")?;
                let monthly_fee = Decimal::from_str(&monthly_fee).context("--monthly-fee")?;
                let started = std::time::Instant::now();
                let mut done = 0u64;
                while done < count {
                    let n = batch.max(1).min(count - done);
                    let mut numbers = Vec::with_capacity(n as usize);
                    for i in done..done + n {
                        numbers.push(didpool_core::number::NewNumber {
                            e164: E164::parse(&format!("+{}", first + i))?,
                            country: country.clone(),
                            region: region.clone(),
                            capabilities: didpool_core::Capabilities::VOICE,
                            provider: String::new(),
                            setup_fee,
                            monthly_fee,
                            currency: currency.clone(),
                        });
                    }
                    engine.run(&op, Command::AddInventory { numbers }).await?;
                    done += n;
                    if progress {
                        let width = 40;
                        let filled = (done * width / count) as usize;
                        eprint!(
                            "\rstocking [{}{}] {done}/{count} ({:.0}/s)   ",
                            "#".repeat(filled),
                            " ".repeat(width as usize - filled),
                            done as f64 / started.elapsed().as_secs_f64().max(1e-3)
                        );
                    }
                }
                if progress {
                    eprintln!();
                }
                engine.after_bulk_load(&op).await?;
                println!(
                    "stocked {count} numbers in {:.1}s",
                    started.elapsed().as_secs_f64()
                );
            }
            Cmd::Calls(CallsCmd::Report { e164, at }) => {
                let e164 = engine.parse_number(&e164).with_context(|| e164.clone())?;
                let at = match at {
                    Some(s) => DateTime::parse_from_rfc3339(&s)
                        .context("--at is not an RFC 3339 time")?
                        .with_timezone(&Utc),
                    None => engine.now(),
                };
                let cmd = Command::ReportCall {
                    number: e164.into(),
                    call: didpool_core::call::Call::at(at),
                };
                let outcome = engine.run(&op, cmd).await?;
                let n = outcome.number.context("no number written")?;
                println!(
                    "{} last_call_at {}",
                    n.e164,
                    n.last_call_at.map(|t| t.to_rfc3339()).unwrap_or_default()
                );
            }
            Cmd::Number(NumberCmd::CancelRelease { e164 }) => {
                let number = engine.parse_number(&e164).with_context(|| e164.clone())?;
                let cmd = Command::CancelRelease {
                    number: number.into(),
                };
                let n = engine.run(&op, cmd).await?.number.context("no number")?;
                println!("{} is {} again", n.e164, n.state.as_str());
            }
            Cmd::Number(NumberCmd::Lock { e164, reason }) => {
                return crate::cli_jobs::lock(&engine, &op, &e164, Some(reason)).await;
            }
            Cmd::Number(NumberCmd::Unlock { e164 }) => {
                return crate::cli_jobs::lock(&engine, &op, &e164, None).await;
            }
            Cmd::Jobs(cmd) => return crate::cli_jobs::run(&engine, &op, cmd).await,
            Cmd::Key(KeyCmd::Create {
                account,
                kind,
                scope,
                json,
            }) => {
                let account = AccountId::parse(&account)?;
                let Some(kind) = CredentialKind::parse(&kind).filter(|k| k.is_api_key()) else {
                    bail!("--kind is agni, diga or edge");
                };
                let (credential, key) = engine.create_key(&op, account, kind, scope).await?;
                if json {
                    println!("{}", json!({"key": key, "id": credential.id}));
                } else {
                    println!(
                        "key: {key}\nid:  {}\n(the key is shown only this once)",
                        credential.id
                    );
                }
            }
            Cmd::Key(KeyCmd::List { account, json }) => {
                let account = AccountId::parse(&account)?;
                let now = engine.now();
                let keys = engine.credentials(&op, &account).await?;
                if json {
                    let keys: Vec<_> = keys.iter().map(|c| key_json(c, now)).collect();
                    println!("{}", json!({"account_id": account, "keys": keys}));
                } else {
                    for c in &keys {
                        println!(
                            "{}  {:<5}  {}  created {}  {}",
                            c.id,
                            c.kind.as_str(),
                            c.scope.as_deref().unwrap_or("-"),
                            c.created_at.to_rfc3339(),
                            match c.revoked_at {
                                None => "live".to_owned(),
                                Some(t) if c.is_live_at(now) => {
                                    format!("live until {}", t.to_rfc3339())
                                }
                                Some(t) => format!("revoked {}", t.to_rfc3339()),
                            }
                        );
                    }
                }
            }
            Cmd::Key(KeyCmd::Rotate {
                account,
                grace,
                json,
            }) => {
                let account = AccountId::parse(&account)?;
                let grace = chrono::Duration::from_std(grace).context("--grace is out of range")?;
                let (credential, token, revoked) =
                    engine.rotate_auth_token(&op, account, grace).await?;
                if json {
                    let now = engine.now();
                    let revoked: Vec<_> = revoked.iter().map(|c| key_json(c, now)).collect();
                    println!(
                        "{}",
                        json!({"auth_id": credential.account_id, "auth_token": token,
                               "id": credential.id, "revoked": revoked})
                    );
                } else {
                    println!(
                        "auth_id:    {}\nauth_token: {token}\nid:         {}\n(the token is shown only this once)",
                        credential.account_id, credential.id
                    );
                    for c in &revoked {
                        let at = c.revoked_at.map(|t| t.to_rfc3339()).unwrap_or_default();
                        println!("revoked {} from {at}", c.id);
                    }
                }
            }
            Cmd::Events(cmd) => events(&engine, &op, cmd).await?,
            Cmd::Webhook(cmd) => webhook(&engine, &op, cmd).await?,
            Cmd::Key(KeyCmd::Revoke { id }) => {
                let id = CredentialId::parse(&id)?;
                engine.run(&op, Command::RevokeCredential { id }).await?;
                println!("revoked {id}");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl EventFilter {
    fn query(&self, engine: &Engine, limit: u32) -> anyhow::Result<EventQuery> {
        for t in &self.types {
            anyhow::ensure!(is_event_type(t), "unknown event type {t:?}");
        }
        Ok(EventQuery {
            after: self.after.as_deref().map(EventId::parse).transpose()?,
            types: self.types.clone(),
            account: self.account.as_deref().map(AccountId::parse).transpose()?,
            number: self
                .number
                .as_deref()
                .map(|n| engine.parse_number(n))
                .transpose()?,
            desc: false,
            limit,
        })
    }
}

async fn events(engine: &Engine, op: &By, cmd: EventsCmd) -> anyhow::Result<()> {
    use std::io::Write as _;
    match cmd {
        EventsCmd::List { filter, limit } => {
            for e in engine.event_log(op, &filter.query(engine, limit)?).await? {
                println!("{}", serde_json::to_string(&EventObject::from(&e))?);
            }
        }
        EventsCmd::Tail { filter, every } => {
            let mut query = filter.query(engine, 1000)?;
            if query.after.is_none() {
                // From the newest on: its id is the cursor.
                let newest = EventQuery {
                    desc: true,
                    limit: 1,
                    ..query.clone()
                };
                query.after = engine.event_log(op, &newest).await?.first().map(|e| e.id);
            }
            loop {
                let page = engine.event_log(op, &query).await?;
                let mut out = std::io::stdout().lock();
                for e in &page {
                    writeln!(out, "{}", serde_json::to_string(&EventObject::from(e))?)?;
                }
                out.flush()?;
                drop(out);
                if let Some(last) = page.last() {
                    query.after = Some(last.id);
                }
                if page.len() < query.limit as usize {
                    tokio::select! {
                        _ = tokio::time::sleep(every) => {}
                        _ = shutdown_signal() => return Ok(()),
                    }
                }
            }
        }
    }
    Ok(())
}

async fn webhook(engine: &Engine, op: &By, cmd: WebhookCmd) -> anyhow::Result<()> {
    let endpoint_id = |s: &str| EndpointId::parse(s).map_err(|_| EngineError::EndpointNotFound);
    match cmd {
        WebhookCmd::Add {
            url,
            types,
            account,
            description,
        } => {
            let secret = generate_secret();
            let cmd = Command::CreateWebhookEndpoint {
                id: EndpointId::new(),
                url,
                description,
                event_types: types,
                account_id: account.as_deref().map(AccountId::parse).transpose()?,
                secret: secret.clone(),
            };
            let outcome = engine.run(op, cmd).await?;
            if let Some(w) = outcome.changes.webhook_endpoints.first() {
                println!("{}", endpoint_json(w.row(), Some(&secret)));
            }
        }
        WebhookCmd::List => {
            for e in engine.webhook_endpoints(op).await? {
                println!("{}", endpoint_json(&e, None));
            }
        }
        WebhookCmd::Remove { id } => {
            let id = endpoint_id(&id)?;
            engine
                .run(op, Command::DeleteWebhookEndpoint { id })
                .await?;
            println!("removed {id}");
        }
        WebhookCmd::RotateSecret { id, overlap } => {
            let secret = generate_secret();
            let cmd = Command::RotateWebhookSecret {
                id: endpoint_id(&id)?,
                secret: secret.clone(),
                overlap: chrono::Duration::from_std(overlap).context("--overlap is too long")?,
            };
            let outcome = engine.run(op, cmd).await?;
            if let Some(w) = outcome.changes.webhook_endpoints.first() {
                println!("{}", endpoint_json(w.row(), Some(&secret)));
            }
        }
        WebhookCmd::Redeliver { event, endpoint } => {
            let what = Requeue::Event {
                event: EventId::parse(&event).map_err(|_| EngineError::EventNotFound)?,
                endpoint: endpoint.as_deref().map(endpoint_id).transpose()?,
            };
            let outcome = engine.run(op, Command::RequeueDeliveries { what }).await?;
            println!("requeued {}", outcome.changes.deliveries.len());
        }
        WebhookCmd::Replay { id, since } => {
            let what = Requeue::Since {
                endpoint: endpoint_id(&id)?,
                since,
            };
            let outcome = engine.run(op, Command::RequeueDeliveries { what }).await?;
            println!("requeued {}", outcome.changes.deliveries.len());
        }
    }
    Ok(())
}

/// An endpoint as the CLI prints it; its secret only when just issued.
fn endpoint_json(e: &Endpoint, secret: Option<&str>) -> serde_json::Value {
    let mut v = json!({
        "id": e.id,
        "url": e.url,
        "description": e.description,
        "event_types": e.event_types,
        "account_id": e.account_id,
        "enabled": e.disabled_at.is_none(),
        "disabled_reason": e.disabled_reason,
        "failing_since": e.failing_since.map(|t| t.to_rfc3339()),
    });
    if let Some(s) = secret {
        v["secret"] = json!(s);
    }
    v
}

/// A credential as `key list --json` prints it: never its secret nor its hash.
fn key_json(c: &Credential, now: DateTime<Utc>) -> serde_json::Value {
    json!({
        "id": c.id,
        "kind": c.kind.as_str(),
        "scope": c.scope,
        "created_at": c.created_at.to_rfc3339(),
        "revoked_at": c.revoked_at.map(|t| t.to_rfc3339()),
        "live": c.is_live_at(now),
    })
}

async fn serve(
    engine: Engine,
    args: &ServeArgs,
    sandbox: Option<ManualClock>,
) -> anyhow::Result<()> {
    // Installed first, so what the demo's setup does is counted too.
    crate::metrics::handle();
    let mut admin_token = args.admin_token.clone().filter(|t| !t.is_empty());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    if args.demo {
        let token = admin_token
            .get_or_insert_with(|| generate_token("adm_"))
            .clone();
        let demo = crate::demo::ensure(&engine).await?;
        print_demo(addr, &demo, &token);
    }
    let tokens = match args.token_secret.as_deref().filter(|s| !s.is_empty()) {
        Some(secret) => TokenKeys::configured(
            SigningKey::parse(secret).map_err(|e| anyhow::anyhow!("--token-secret: {e}"))?,
        ),
        None => TokenKeys::default(),
    };
    let key_retention = chrono::Duration::from_std(args.idempotency_retention)?;
    let state = AppState {
        engine: engine.clone(),
        admin_token: admin_token.map(Arc::from),
        sandbox_clock: sandbox,
        tokens,
        key_retention,
        key_wait: args.idempotency_wait,
        limits: Arc::new(crate::limits::RateLimits::new(
            args.rate_limit,
            args.auth_failures_per_minute,
        )),
        console: crate::console::ConsoleConfig {
            lifetime: didpool_core::console::SessionLifetime {
                idle: chrono::Duration::from_std(args.console_session_idle)
                    .context("--console-session-idle is too long")?,
                absolute: chrono::Duration::from_std(args.console_session_max)
                    .context("--console-session-max is too long")?,
            },
            secure_cookie: args.console_secure_cookie,
        },
    };
    let limits = limits(args);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let call_retention =
        chrono::Duration::from_std(args.call_retention).context("--call-retention is too long")?;
    let watch = tokio::spawn(crate::scheduler::watch(
        engine.clone(),
        state.limits.clone(),
        stopped.clone(),
    ));
    let console_sessions = tokio::spawn(crate::console::prune(
        engine.clone(),
        state.console.lifetime,
        stopped.clone(),
    ));
    let scheduler = tokio::spawn(crate::scheduler::run(
        engine,
        args.scheduler_interval,
        key_retention,
        call_retention,
        stopped,
    ));
    let webhooks = (!args.no_webhook_delivery).then(|| {
        tokio::spawn(crate::webhooks::run(
            state.engine.clone(),
            crate::webhooks::Config {
                timeout: args.webhook_timeout,
                allow_private: args.webhook_allow_private,
                concurrency: args.webhook_concurrency,
                poll: args.webhook_poll_interval,
            },
            stop.subscribe(),
        ))
    });
    let jobs = tokio::spawn(crate::jobs::run(
        state.engine.clone(),
        crate::jobs::Config {
            lease: args.job_lease.max(std::time::Duration::from_secs(1)),
            ..crate::jobs::Config::default()
        },
        stop.subscribe(),
    ));
    let upkeep = tokio::spawn(crate::metrics::upkeep(std::time::Duration::from_secs(5)));
    tracing::info!(
        %addr,
        sandbox = state.sandbox_clock.is_some(),
        numbers = %state.engine.number_validation(),
        max_connections = limits.max_connections,
        "didpool listening"
    );
    crate::conn::serve(listener, app::app(state), limits, shutdown_signal()).await?;
    upkeep.abort();
    let _ = stop.send(true);
    let _ = scheduler.await;
    let _ = console_sessions.await;
    let _ = jobs.await;
    if let Some(webhooks) = webhooks {
        let _ = webhooks.await;
    }
    let _ = watch.await;
    Ok(())
}

/// The connection limits of `args`, the open-file limit raised first so the default cap can
/// use it.
fn limits(args: &ServeArgs) -> crate::conn::Limits {
    let nofile = match crate::conn::raise_descriptor_limit() {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "reading the open-file limit failed; assuming 1024");
            1024
        }
    };
    let fit = crate::conn::max_connections_for(nofile);
    let max_connections = match args.max_connections {
        Some(n) => {
            let n = n as usize;
            if n > fit {
                tracing::warn!(
                    max_connections = n,
                    open_files = nofile,
                    "--max-connections leaves the database fewer than {} descriptors",
                    crate::conn::RESERVED_DESCRIPTORS
                );
            }
            n
        }
        None => fit,
    };
    crate::conn::Limits {
        header_timeout: args.header_timeout,
        idle_timeout: args.idle_timeout,
        request_timeout: args.request_timeout,
        max_connections,
        shutdown_timeout: args.shutdown_timeout,
    }
}

fn print_demo(addr: SocketAddr, demo: &crate::demo::DemoCredentials, admin_token: &str) {
    print!("{}", demo.shell_lines(addr, admin_token));
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(args: &[&str]) -> NumberValidation {
        let cli = Cli::try_parse_from(std::iter::once("didpool").chain(args.iter().copied()))
            .expect("the arguments parse");
        cli.number_validation()
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("didpool").chain(args.iter().copied()))
    }

    #[test]
    fn the_connection_limits_default_as_documented_and_a_zero_timeout_is_refused() {
        if std::env::vars().any(|(k, _)| k.ends_with("_TIMEOUT") && k.starts_with("DIDPOOL_")) {
            return;
        }
        let Cmd::Serve(args) = parse(&["serve"]).unwrap().command else {
            unreachable!()
        };
        let limits = limits(&args);
        let defaults = crate::conn::Limits::default();
        assert_eq!(limits.header_timeout, defaults.header_timeout);
        assert_eq!(limits.idle_timeout, defaults.idle_timeout);
        assert_eq!(limits.request_timeout, defaults.request_timeout);
        assert_eq!(limits.shutdown_timeout, defaults.shutdown_timeout);
        let nofile = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap().0;
        assert_eq!(
            limits.max_connections,
            crate::conn::max_connections_for(nofile)
        );
        for flag in ["--header-timeout", "--idle-timeout", "--request-timeout"] {
            assert!(parse(&["serve", flag, "0s"]).is_err(), "{flag} 0s");
        }
        assert!(parse(&["serve", "--max-connections", "0"]).is_err());
        assert!(parse(&["--log-format", "xml", "serve"]).is_err());
    }

    #[test]
    fn numbers_are_checked_strictly_unless_a_sandbox_or_demo_or_the_flag_says_otherwise() {
        // The flags read the environment too: a shell that sets them decides for itself.
        if ["DIDPOOL_NUMBER_VALIDATION", "DIDPOOL_SANDBOX"]
            .iter()
            .any(|v| std::env::var_os(v).is_some())
        {
            return;
        }
        assert_eq!(rule(&["serve"]), NumberValidation::Strict);
        assert_eq!(rule(&["serve", "--sandbox"]), NumberValidation::E164);
        assert_eq!(rule(&["serve", "--demo"]), NumberValidation::E164);
        assert_eq!(
            rule(&["serve", "--demo", "--number-validation", "strict"]),
            NumberValidation::Strict
        );
        assert_eq!(
            rule(&["--number-validation", "e164", "serve"]),
            NumberValidation::E164
        );
        assert_eq!(
            rule(&[
                "inventory",
                "import",
                "f.csv",
                "--number-validation",
                "e164"
            ]),
            NumberValidation::E164
        );
        assert_eq!(
            rule(&["inventory", "import", "f.csv"]),
            NumberValidation::Strict
        );
        assert!(
            Cli::try_parse_from(["didpool", "--number-validation", "loose", "migrate"]).is_err()
        );
    }

    #[test]
    fn idempotency_keys_are_kept_a_day_and_retries_wait_ten_seconds_unless_told() {
        let serve = |args: &[&str]| match Cli::try_parse_from(
            ["didpool", "serve"].iter().chain(args.iter()).copied(),
        ) {
            Ok(Cli {
                command: Cmd::Serve(a),
                ..
            }) => Ok((a.idempotency_retention, a.idempotency_wait)),
            Ok(_) => unreachable!("a serve command"),
            Err(e) => Err(e),
        };
        if ["DIDPOOL_IDEMPOTENCY_RETENTION", "DIDPOOL_IDEMPOTENCY_WAIT"]
            .iter()
            .any(|v| std::env::var_os(v).is_some())
        {
            return;
        }
        let secs = std::time::Duration::from_secs;
        assert_eq!(serve(&[]).unwrap(), (secs(86_400), secs(10)));
        assert_eq!(
            serve(&["--idempotency-retention", "1h", "--idempotency-wait", "2s"]).unwrap(),
            (secs(3_600), secs(2))
        );
        assert!(serve(&["--idempotency-retention", "59s"]).is_err());
        assert!(serve(&["--idempotency-retention", "400days"]).is_err());
    }
}
