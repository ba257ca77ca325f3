//! `didpool-bench`: one command that seeds a fresh database, starts the real `didpool` server on
//! it, drives each workload over HTTP (loopback, keep-alive) at several client counts, measures the
//! ceilings beside it — a no-op route of the same server (`/healthz`, the HTTP ceiling) and the
//! same engine commands run in-process on the store (the database ceiling) — and prints the table,
//! writes it as JSON and as a section of `BENCHMARKS.md`.
//!
//! ```sh
//! cargo build --release -p didpool -p didpool-bench
//! cargo run --release -p didpool-bench -- --backend sqlite            # a few minutes
//! cargo run --release -p didpool-bench -- --backend postgres --quick  # about one minute
//! ```

use std::fmt::Write as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command as Proc, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Parser, ValueEnum};
use didpool_core::engine::By;
use didpool_core::lifecycle::{Command, ReleaseMode};
use didpool_core::store::{Holder, NumberQuery};
use didpool_core::{AccountId, Engine, NumberState, ReleasePolicy, SystemClock, TrunkId, E164};
use didpool_store::{Durability, Options};
use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};

mod webhook;

/// The US area codes the stock is spread over, in order: each holds 8,000,000 consecutive valid
/// numbers (exchanges 200–999), so one area code cannot hold 10,000,000.
const AREAS: [u64; 4] = [415, 628, 650, 510];
const PER_AREA: u64 = 8_000_000;
/// Numbers below this index are the churn clients' (one each); purchase/release use the rest.
const CHURN_SLOTS: u64 = 1_000;
const ADMIN_TOKEN: &str = "bench-admin-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum BackendArg {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DurabilityArg {
    Full,
    Relaxed,
    Both,
}

#[derive(Debug, Parser)]
#[command(
    name = "didpool-bench",
    about = "Load benchmark of didpool over HTTP, with its HTTP and database ceilings"
)]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendArg,
    /// PostgreSQL database to (re)create for the run (its maintenance database is `postgres`).
    #[arg(
        long,
        env = "DIDPOOL_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/didpool_bench"
    )]
    postgres_url: String,
    /// Inventory numbers to stock (default 1,000,000; 100,000 with --quick).
    #[arg(long)]
    numbers: Option<u64>,
    /// Numbers the owned-list account holds.
    #[arg(long)]
    owned: Option<u64>,
    /// Client counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,
    /// Seconds each workload runs at each client count (default 4; 1 with --quick).
    #[arg(long)]
    duration: Option<f64>,
    /// About a minute: fewer numbers, shorter workloads, full durability only, no BENCHMARKS.md.
    #[arg(long)]
    quick: bool,
    /// Which durability settings to measure (default both; full with --quick).
    #[arg(long, value_enum)]
    durability: Option<DurabilityArg>,
    /// The didpool binary (default: target/release/didpool of this workspace).
    #[arg(long)]
    didpool: Option<PathBuf>,
    /// Where to write the JSON (default target/bench/BACKEND.json).
    #[arg(long)]
    json: Option<PathBuf>,
    /// The Markdown file whose section for this backend is replaced (default BENCHMARKS.md, not
    /// written with --quick unless given).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// `all`: the lifecycle workloads and their ceilings; `webhook`: releases without and with
    /// one webhook endpoint on loopback (at the largest --clients; --duration default 10 s).
    #[arg(long, value_enum, default_value = "all")]
    workload: WorkloadArg,
    /// The webhook workload: releases per client at most.
    #[arg(long, default_value_t = 300)]
    per_client: u64,
    /// Only these rows of `all`, comma-separated (churn, purchase, release, search, owned,
    /// route); the no-op ceiling always runs. A release needs its purchase: it runs, unreported.
    #[arg(long, value_delimiter = ',', value_parser = WORKLOADS)]
    workloads: Vec<String>,
}

/// The rows of the `all` workload, in the order they run.
const WORKLOADS: [&str; 6] = ["churn", "purchase", "release", "search", "owned", "route"];

impl Args {
    /// Whether the row `w` is measured and reported (every row unless `--workloads` names some).
    fn wants(&self, w: &str) -> bool {
        self.workloads.is_empty() || self.workloads.iter().any(|x| x == w)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WorkloadArg {
    All,
    Webhook,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Debug, Clone, Serialize, Default)]
struct Measured {
    ops: u64,
    ops_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    errors: u64,
    /// The server's (or, for the database ceiling, this process's) resident memory at the end.
    rss_mb: f64,
    /// Its CPU use over the workload, in % of one core.
    cpu_pct: f64,
    /// Its CPU time (utime + stime) per operation, in µs: stable on a shared machine where
    /// throughput is not. For the database ceiling, this process's (the store and the calls).
    cpu_us_per_op: f64,
}

#[derive(Debug, Clone, Serialize)]
struct Row {
    workload: &'static str,
    clients: usize,
    http: Measured,
    /// `/healthz` under the same client count: the HTTP ceiling.
    noop: Measured,
    /// The same commands in-process on the store, same concurrency: the database ceiling.
    db: Option<Measured>,
    /// ops/s over the HTTP ceiling's ops/s.
    vs_http_ceiling: f64,
    /// ops/s over the database ceiling's ops/s.
    vs_db_ceiling: Option<f64>,
    /// p99 over the no-op route's p99.
    p99_vs_noop_p99: f64,
}

#[derive(Debug, Clone, Serialize)]
struct ModeReport {
    durability: &'static str,
    setting: &'static str,
    seed_seconds: f64,
    seed_numbers_per_s: f64,
    startup_ms: f64,
    server_peak_rss_mb: f64,
    /// The database server's settings the run measured under (PostgreSQL's `SHOW`), and what
    /// the bench did about them (VACUUM ANALYZE when autovacuum is off).
    db_settings: Vec<(String, String)>,
    maintenance: Option<String>,
    rows: Vec<Row>,
}

type OpFuture = Pin<Box<dyn Future<Output = bool> + Send>>;
type Op = Arc<dyn Fn(usize, u64) -> OpFuture + Send + Sync>;

/// Runs `op(client, k)` for k = 0, 1, … on each client until the deadline (finishing a whole
/// `cycle` of steps) or the client's limit, and measures every call.
async fn drive(
    clients: usize,
    deadline: Option<Instant>,
    limits: Option<Vec<u64>>,
    cycle: u64,
    op: Op,
    pid: u32,
) -> (Measured, Vec<u64>) {
    let cpu0 = cpu_ticks(pid);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let op = op.clone();
        let limit = limits.as_ref().map(|l| l[i]);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut k = 0u64;
            loop {
                if limit.is_some_and(|l| k >= l) {
                    break;
                }
                if k.is_multiple_of(cycle) && deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let t = Instant::now();
                if !op(i, k).await {
                    errors += 1;
                }
                lat.push(t.elapsed().as_micros() as u32);
                k += 1;
            }
            (lat, errors, k)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut done = Vec::new();
    for t in tasks {
        let (l, e, k) = t.await.expect("client task");
        lat.extend(l);
        errors += e;
        done.push(k);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = (cpu_ticks(pid) - cpu0) as f64 / 100.0;
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        f64::from(lat[i]) / 1000.0
    };
    let m = Measured {
        ops: lat.len() as u64,
        ops_per_s: lat.len() as f64 / elapsed.max(1e-9),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        p999_ms: pct(0.999),
        errors,
        rss_mb: rss_kb(pid, "VmRSS") as f64 / 1024.0,
        cpu_pct: 100.0 * cpu / elapsed.max(1e-9),
        cpu_us_per_op: 1e6 * cpu / (lat.len() as f64).max(1.0),
    };
    (m, done)
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim_start_matches(':')
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The stocked number at `index` (`14152000000`, `14152000001`, …), without the `+`.
fn e164(index: u64) -> String {
    let area = AREAS[(index / PER_AREA) as usize];
    format!("1{area}{}", 2_000_000 + index % PER_AREA)
}

#[derive(Clone)]
struct Client {
    id: String,
    token: String,
    trunk: String,
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(mut self) {
        let _ = Proc::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn didpool_cmd(bin: &Path, url: &str, relaxed: bool) -> Proc {
    let mut c = Proc::new(bin);
    c.arg("--database-url").arg(url);
    if relaxed {
        c.arg("--relaxed-durability");
    }
    c
}

async fn start_server(
    bin: &Path,
    url: &str,
    relaxed: bool,
    http: &reqwest::Client,
    log: &Path,
) -> anyhow::Result<(Server, f64)> {
    let port = free_port()?;
    let started = Instant::now();
    let child = didpool_cmd(bin, url, relaxed)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--scheduler-interval", "1h"])
        // The bench's clients drive each credential far beyond the default rate limit.
        .args(["--rate-limit", "0"])
        .env("DIDPOOL_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("DIDPOOL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let base = format!("http://127.0.0.1:{port}");
    let server = Server { child, base };
    loop {
        if let Ok(r) = http.get(format!("{}/healthz", server.base)).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("didpool did not answer within 60s (see {})", log.display());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok((server, started.elapsed().as_secs_f64() * 1000.0))
}

/// Creates the schema of a fresh database with `didpool migrate`: no other command creates one.
fn create_database(bin: &Path, url: &str) -> anyhow::Result<()> {
    if !didpool_cmd(bin, url, true)
        .arg("migrate")
        .stdout(Stdio::null())
        .status()?
        .success()
    {
        bail!("creating the database failed");
    }
    Ok(())
}

async fn fresh_database(args: &Args, dir: &Path) -> anyhow::Result<String> {
    match args.backend {
        BackendArg::Sqlite => Ok(format!("sqlite://{}", dir.join("bench.db").display())),
        BackendArg::Postgres => {
            use sqlx::Connection;
            let (server, name) = args
                .postgres_url
                .rsplit_once('/')
                .context("the PostgreSQL URL names no database")?;
            let mut c = sqlx::PgConnection::connect(&format!("{server}/postgres")).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut c)
                .await?;
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut c)
                .await?;
            Ok(args.postgres_url.clone())
        }
    }
}

/// The PostgreSQL settings that shape the figures (`SHOW`), and, when autovacuum is off, a
/// connection to vacuum with: a long run would otherwise measure its own dead rows. SQLite: none.
async fn database_settings(
    args: &Args,
    url: &str,
) -> anyhow::Result<(Vec<(String, String)>, Option<sqlx::PgPool>)> {
    if args.backend != BackendArg::Postgres {
        return Ok((Vec::new(), None));
    }
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    let mut settings = Vec::new();
    for name in [
        "server_version",
        "synchronous_commit",
        "fsync",
        "full_page_writes",
        "wal_level",
        "autovacuum",
        "shared_buffers",
        "effective_cache_size",
        "work_mem",
        "max_wal_size",
        "checkpoint_timeout",
        "random_page_cost",
        "jit",
        "max_connections",
    ] {
        let v: String = sqlx::query_scalar(&format!("SHOW {name}"))
            .fetch_one(&db)
            .await?;
        settings.push((name.to_owned(), v));
    }
    let autovacuum = settings.iter().any(|(k, v)| k == "autovacuum" && v == "on");
    Ok((settings, (!autovacuum).then_some(db)))
}

/// `VACUUM ANALYZE` of the whole database: what autovacuum would have done by now.
async fn vacuum(db: &sqlx::PgPool) -> anyhow::Result<()> {
    let t = Instant::now();
    sqlx::query("VACUUM ANALYZE").execute(db).await?;
    eprintln!("   VACUUM ANALYZE {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn ok(r: Result<reqwest::Response, reqwest::Error>) -> bool {
    matches!(r, Ok(r) if r.status().is_success())
}

struct Plan {
    numbers: u64,
    owned: u64,
    duration: Duration,
}

#[allow(clippy::too_many_lines)]
async fn run_mode(
    args: &Args,
    bin: &Path,
    plan: &Plan,
    relaxed: bool,
) -> anyhow::Result<ModeReport> {
    let dir = tempfile::tempdir()?;
    let url = fresh_database(args, dir.path()).await?;
    let label = if relaxed { "relaxed" } else { "full" };
    let setting = match (args.backend, relaxed) {
        (BackendArg::Sqlite, false) => "SQLite synchronous=FULL",
        (BackendArg::Sqlite, true) => "SQLite synchronous=NORMAL",
        (BackendArg::Postgres, false) => "PostgreSQL synchronous_commit=on",
        (BackendArg::Postgres, true) => "PostgreSQL synchronous_commit=off",
    };
    eprintln!(
        "\n== {setting}: stocking {} numbers",
        plan.numbers + plan.owned
    );

    // 1. Create the database (an explicit act: no other command creates one), then seed in bulk
    // (the CLI's batch path; durability does not matter for seeding).
    let t = Instant::now();
    create_database(bin, &url)?;
    let total = plan.numbers + plan.owned;
    for first in (0..total).step_by(PER_AREA as usize) {
        let status = didpool_cmd(bin, &url, true)
            .args(["inventory", "generate", "--progress"])
            .args(["--count", &PER_AREA.min(total - first).to_string()])
            .args(["--start", &format!("+{}", e164(first))])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("seeding failed");
        }
    }
    let seed_seconds = t.elapsed().as_secs_f64();
    let (db_settings, pg_admin) = database_settings(args, &url).await?;
    let maintenance = pg_admin.as_ref().map(|_| {
        "autovacuum is off: the bench runs VACUUM ANALYZE after seeding, after the owned list is \
         bought, and after each client count's workloads (outside every measurement), where a \
         deployment's autovacuum would have run"
            .to_owned()
    });
    if let Some(db) = &pg_admin {
        vacuum(db).await?;
    }

    // 2. Start the server on the existing database: start to first answered request.
    let max_clients = args.clients.iter().copied().max().unwrap_or(1);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(max_clients * 2)
        .tcp_nodelay(true)
        .build()?;
    let (server, startup_ms) =
        start_server(bin, &url, relaxed, &http, &dir.path().join("server.log")).await?;
    let pid = server.pid();
    let base = server.base.clone();
    eprintln!("   server answered {startup_ms:.0} ms after start");

    // 3. Accounts (one per client, and one that holds the owned list), each with a trunk.
    let mut accounts = Vec::new();
    for i in 0..=max_clients {
        let r: Value = http
            .post(format!("{base}/admin/v1/accounts"))
            .bearer_auth(ADMIN_TOKEN)
            .json(
                &json!({"name": format!("bench {i}"), "balance": 1_000_000_000, "currency": "USD"}),
            )
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = r["auth_id"].as_str().context("no auth_id")?.to_owned();
        let token = r["auth_token"]
            .as_str()
            .context("no auth_token")?
            .to_owned();
        let t: Value = http
            .post(format!("{base}/api/v1/Account/{id}/trunks"))
            .header("X-Auth-ID", &id)
            .header("X-Auth-Token", &token)
            .json(&json!({"name": "bench", "trunk_type": "INBOUND", "max_concurrent_calls": 10}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let trunk = t["trunk_id"].as_str().context("no trunk_id")?.to_owned();
        accounts.push(Client { id, token, trunk });
    }
    let accounts = Arc::new(accounts);
    let owner = accounts[max_clients].clone();

    let req = {
        let http = http.clone();
        let base = base.clone();
        move |c: &Client, method: reqwest::Method, path: String| {
            http.request(method, format!("{base}/api/v1/Account/{}/{path}", c.id))
                .header("X-Auth-ID", &c.id)
                .header("X-Auth-Token", &c.token)
        }
    };

    // The owned list's account buys its numbers: the last `owned` stocked.
    {
        let req = req.clone();
        let owner = owner.clone();
        let per = plan.owned.div_ceil(16);
        let (first, total) = (plan.numbers, plan.owned);
        let op: Op = Arc::new(move |i, k| {
            let n = e164(first + i as u64 * per + k);
            let r = req(
                &owner,
                reqwest::Method::POST,
                "numbers/purchase-from-inventory".into(),
            )
            .json(&json!({"e164": format!("+{n}")}));
            Box::pin(async move { ok(r.send().await) })
        });
        let limits = (0..16u64)
            .map(|i| per.min(total.saturating_sub(i * per)))
            .collect();
        let (m, _) = drive(16, None, Some(limits), 1, op, pid).await;
        if m.errors > 0 {
            bail!("the owner could not buy its {} numbers", plan.owned);
        }
    }

    // The owner's numbers go on its trunk, and its edge key asks where their calls go.
    {
        let req = req.clone();
        let owner = owner.clone();
        let per = plan.owned.div_ceil(16);
        let (first, total) = (plan.numbers, plan.owned);
        let op: Op = Arc::new(move |i, k| {
            let n = e164(first + i as u64 * per + k);
            let r = req(&owner, reqwest::Method::POST, format!("numbers/{n}/assign"))
                .json(&json!({"trunk_group_id": owner.trunk}));
            Box::pin(async move { ok(r.send().await) })
        });
        let limits = (0..16u64)
            .map(|i| per.min(total.saturating_sub(i * per)))
            .collect();
        let (m, _) = drive(16, None, Some(limits), 1, op, pid).await;
        if m.errors > 0 {
            bail!("the owner could not route its {} numbers", plan.owned);
        }
    }
    let edge_key: Value = http
        .post(format!("{base}/admin/v1/accounts/{}/keys", owner.id))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"kind": "edge"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let edge_key = edge_key["key"].as_str().context("no edge key")?.to_owned();

    if let Some(db) = &pg_admin {
        vacuum(db).await?;
    }
    let mut rows = Vec::new();
    let search_span = plan.numbers;
    for &c in &args.clients {
        eprintln!("   {c} client(s)");
        let deadline = || Some(Instant::now() + plan.duration);
        // The HTTP ceiling.
        let noop_op: Op = {
            let http = http.clone();
            let base = base.clone();
            Arc::new(move |_, _| {
                let r = http.get(format!("{base}/healthz"));
                Box::pin(async move { ok(r.send().await) })
            })
        };
        let (noop, _) = drive(c, deadline(), None, 1, noop_op, pid).await;

        // churn: purchase, assign, unassign, release one number per client, over and over.
        let churn_op: Op = {
            let req = req.clone();
            let accounts = accounts.clone();
            Arc::new(move |i, k| {
                let a = &accounts[i];
                let n = e164(i as u64);
                let r = match k % 4 {
                    0 => req(
                        a,
                        reqwest::Method::POST,
                        "numbers/purchase-from-inventory".into(),
                    )
                    .json(&json!({"e164": format!("+{n}")})),
                    1 => req(a, reqwest::Method::POST, format!("numbers/{n}/assign"))
                        .json(&json!({"trunk_group_id": a.trunk})),
                    2 => req(a, reqwest::Method::DELETE, format!("numbers/{n}/assign")),
                    _ => req(a, reqwest::Method::DELETE, format!("numbers/{n}")),
                };
                Box::pin(async move { ok(r.send().await) })
            })
        };
        let churn = if args.wants("churn") {
            Some(drive(c, deadline(), None, 4, churn_op, pid).await.0)
        } else {
            None
        };

        // purchase (each client its own slice), then release what was bought.
        let per = (plan.numbers - CHURN_SLOTS) / c as u64;
        let slice = move |i: usize, k: u64| e164(CHURN_SLOTS + i as u64 * per + k);
        let buy_op: Op = {
            let req = req.clone();
            let accounts = accounts.clone();
            Arc::new(move |i, k| {
                let r = req(
                    &accounts[i],
                    reqwest::Method::POST,
                    "numbers/purchase-from-inventory".into(),
                )
                .json(&json!({"e164": format!("+{}", slice(i, k))}));
                Box::pin(async move { ok(r.send().await) })
            })
        };
        let buys = args.wants("purchase") || args.wants("release");
        let (purchase, bought) = if buys {
            drive(c, deadline(), Some(vec![per; c]), 1, buy_op, pid).await
        } else {
            (Measured::default(), vec![0; c])
        };
        let release_op: Op = {
            let req = req.clone();
            let accounts = accounts.clone();
            Arc::new(move |i, k| {
                let r = req(
                    &accounts[i],
                    reqwest::Method::DELETE,
                    format!("numbers/{}", slice(i, k)),
                );
                Box::pin(async move { ok(r.send().await) })
            })
        };
        let release = if buys {
            Some(
                drive(c, None, Some(bought.clone()), 1, release_op, pid)
                    .await
                    .0,
            )
        } else {
            None
        };

        // inventory search: a digit substring, the country filter and a page.
        let search_op: Op = {
            let req = req.clone();
            let accounts = accounts.clone();
            Arc::new(move |i, _| {
                let (s, page) = search_terms(search_span);
                let r = req(
                    &accounts[i],
                    reqwest::Method::GET,
                    format!("inventory/numbers?country=US&search={s}&page={page}&per_page=25"),
                );
                Box::pin(async move { ok(r.send().await) })
            })
        };
        let search = if args.wants("search") {
            Some(drive(c, deadline(), None, 1, search_op, pid).await.0)
        } else {
            None
        };

        // owned list of the account with thousands of numbers, paged.
        let pages = plan.owned.div_ceil(25).max(1);
        let owned_op: Op = {
            let req = req.clone();
            let owner = owner.clone();
            Arc::new(move |_, _| {
                let page = rand::thread_rng().gen_range(1..=pages);
                let r = req(
                    &owner,
                    reqwest::Method::GET,
                    format!("numbers?per_page=25&page={page}"),
                );
                Box::pin(async move { ok(r.send().await) })
            })
        };
        let owned = if args.wants("owned") {
            Some(drive(c, deadline(), None, 1, owned_op, pid).await.0)
        } else {
            None
        };

        // route: the SIP edge's lookup of a routed number (one indexed read).
        let (first, owned_count) = (plan.numbers, plan.owned.max(1));
        let route_op: Op = {
            let http = http.clone();
            let base = base.clone();
            let key = edge_key.clone();
            Arc::new(move |_, _| {
                let n = e164(first + rand::thread_rng().gen_range(0..owned_count));
                let r = http
                    .get(format!("{base}/routing/v1/numbers/+{n}"))
                    .bearer_auth(&key);
                Box::pin(async move { ok(r.send().await) })
            })
        };
        let route = if args.wants("route") {
            Some(drive(c, deadline(), None, 1, route_op, pid).await.0)
        } else {
            None
        };
        if let Some(db) = &pg_admin {
            vacuum(db).await?;
        }

        for (workload, m) in [
            ("churn", churn),
            ("purchase", args.wants("purchase").then_some(purchase)),
            ("release", release),
            ("search", search),
            ("owned", owned),
            ("route", route),
            ("noop", Some(noop.clone())),
        ] {
            let Some(m) = m else { continue };
            rows.push(Row {
                workload,
                clients: c,
                vs_http_ceiling: m.ops_per_s / noop.ops_per_s.max(1e-9),
                p99_vs_noop_p99: m.p99_ms / noop.p99_ms.max(1e-3),
                http: m,
                noop: noop.clone(),
                db: None,
                vs_db_ceiling: None,
            });
        }
    }
    let server_peak_rss_mb = rss_kb(pid, "VmHWM") as f64 / 1024.0;
    server.stop();

    // 4. The database ceiling: the same commands in-process, same concurrency, no HTTP.
    eprintln!("   database ceiling (in-process)");
    let store = didpool_store::open(
        &url,
        &Options {
            durability: if relaxed {
                Durability::Relaxed
            } else {
                Durability::Full
            },
            pool_size: Some(10),
            ..Options::default()
        },
    )
    .await?;
    // The in-process ceiling reads the store directly, as the engine's own reads do.
    let engine = Engine::new(
        store.clone(),
        Arc::new(SystemClock),
        ReleasePolicy::default(),
    );
    let mut bys = Vec::new();
    let mut trunks = Vec::new();
    for a in accounts.iter() {
        let account = store
            .account(&AccountId::parse(&a.id)?)
            .await?
            .context("bench account missing")?;
        bys.push(By::account(&account, None));
        trunks.push(TrunkId::parse(&a.trunk).map_err(|e| anyhow::anyhow!("{e:?}"))?);
    }
    let bys = Arc::new(bys);
    let trunks = Arc::new(trunks);
    let me = std::process::id();
    for &c in &args.clients {
        let deadline = || Some(Instant::now() + plan.duration);
        let e = |idx: u64| E164::parse(&format!("+{}", e164(idx))).expect("a valid number");
        let churn_op: Op = {
            let (engine, bys, trunks) = (engine.clone(), bys.clone(), trunks.clone());
            Arc::new(move |i, k| {
                let n = e(i as u64);
                let cmd = match k % 4 {
                    0 => Command::Purchase {
                        number: n.into(),
                        currency: None,
                        quoted_monthly_fee: None,
                    },
                    1 => Command::AssignTrunk {
                        number: n.into(),
                        trunk: trunks[i],
                    },
                    2 => Command::UnassignTrunk { number: n.into() },
                    _ => Command::Release {
                        number: n.into(),
                        mode: ReleaseMode::Policy,
                    },
                };
                let (engine, bys) = (engine.clone(), bys.clone());
                Box::pin(async move { engine.run(&bys[i], cmd).await.is_ok() })
            })
        };
        let churn = if args.wants("churn") {
            Some(drive(c, deadline(), None, 4, churn_op, me).await.0)
        } else {
            None
        };
        let per = (plan.numbers - CHURN_SLOTS) / c as u64;
        let buy_op: Op = {
            let (engine, bys) = (engine.clone(), bys.clone());
            Arc::new(move |i, k| {
                let cmd = Command::Purchase {
                    number: (e(CHURN_SLOTS + i as u64 * per + k)).into(),
                    currency: None,
                    quoted_monthly_fee: None,
                };
                let (engine, bys) = (engine.clone(), bys.clone());
                Box::pin(async move { engine.run(&bys[i], cmd).await.is_ok() })
            })
        };
        let buys = args.wants("purchase") || args.wants("release");
        let (purchase, bought) = if buys {
            drive(c, deadline(), Some(vec![per; c]), 1, buy_op, me).await
        } else {
            (Measured::default(), vec![0; c])
        };
        let release_op: Op = {
            let (engine, bys) = (engine.clone(), bys.clone());
            Arc::new(move |i, k| {
                let cmd = Command::Release {
                    number: (e(CHURN_SLOTS + i as u64 * per + k)).into(),
                    mode: ReleaseMode::Policy,
                };
                let (engine, bys) = (engine.clone(), bys.clone());
                Box::pin(async move { engine.run(&bys[i], cmd).await.is_ok() })
            })
        };
        let release = if buys {
            Some(drive(c, None, Some(bought), 1, release_op, me).await.0)
        } else {
            None
        };
        let search_op: Op = {
            let store = store.clone();
            Arc::new(move |_, _| {
                let (s, page) = search_terms(search_span);
                let mut q = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
                q.country = Some("US".into());
                q.search = Some(s);
                q.limit = 25;
                q.offset = (page - 1) * 25;
                let store = store.clone();
                Box::pin(async move { store.numbers(&q).await.is_ok() })
            })
        };
        let search = if args.wants("search") {
            Some(drive(c, deadline(), None, 1, search_op, me).await.0)
        } else {
            None
        };
        let owner_id = AccountId::parse(&owner.id)?;
        let pages = plan.owned.div_ceil(25).max(1);
        let owned_op: Op = {
            let store = store.clone();
            Arc::new(move |_, _| {
                let page = rand::thread_rng().gen_range(1..=pages);
                let mut q = NumberQuery::new(
                    Holder::Family(owner_id.clone()),
                    vec![
                        NumberState::Reserved,
                        NumberState::PendingVerification,
                        NumberState::Active,
                        NumberState::PendingRelease,
                    ],
                );
                q.offset = (page - 1) * 25;
                let store = store.clone();
                Box::pin(async move { store.numbers(&q).await.is_ok() })
            })
        };
        let owned = if args.wants("owned") {
            Some(drive(c, deadline(), None, 1, owned_op, me).await.0)
        } else {
            None
        };
        let owner_by = By::account(
            &store
                .account(&AccountId::parse(&owner.id)?)
                .await?
                .context("the owner is missing")?,
            None,
        );
        let route_op: Op = {
            let engine = engine.clone();
            let first = plan.numbers;
            let count = plan.owned.max(1);
            Arc::new(move |_, _| {
                let n = e(first + rand::thread_rng().gen_range(0..count));
                let (engine, by) = (engine.clone(), owner_by.clone());
                Box::pin(async move { engine.route(&by, &n).await.is_ok() })
            })
        };
        let route = if args.wants("route") {
            Some(drive(c, deadline(), None, 1, route_op, me).await.0)
        } else {
            None
        };
        if let Some(db) = &pg_admin {
            vacuum(db).await?;
        }
        for (workload, m) in [
            ("churn", churn),
            ("purchase", Some(purchase)),
            ("release", release),
            ("search", search),
            ("owned", owned),
            ("route", route),
        ] {
            let Some(m) = m else { continue };
            if let Some(r) = rows
                .iter_mut()
                .find(|r| r.workload == workload && r.clients == c)
            {
                r.vs_db_ceiling = Some(r.http.ops_per_s / m.ops_per_s.max(1e-9));
                r.db = Some(m);
            }
        }
    }
    let violations = store.check().await?;
    if !violations.is_empty() {
        bail!(
            "the database breaks {} invariant(s) after the run",
            violations.len()
        );
    }
    Ok(ModeReport {
        durability: label,
        setting,
        seed_seconds,
        seed_numbers_per_s: (plan.numbers + plan.owned) as f64 / seed_seconds.max(1e-9),
        startup_ms,
        server_peak_rss_mb,
        db_settings,
        maintenance,
        rows,
    })
}

/// A 4-digit substring of some stocked number, and a page among the first five.
fn search_terms(span: u64) -> (String, u64) {
    let mut rng = rand::thread_rng();
    let n = e164(rng.gen_range(0..span.max(1)));
    let at = rng.gen_range(4..=n.len() - 4);
    (n[at..at + 4].to_owned(), rng.gen_range(1..=5))
}

fn table(backend: BackendArg, modes: &[ModeReport]) -> String {
    let mut s = String::new();
    for m in modes {
        let _ = writeln!(
            s,
            "\n**{}** ({}): seeded in {:.1} s ({:.0} numbers/s); start to first answer on the \
             existing database {:.0} ms; server peak RSS {:.1} MB.\n",
            m.setting,
            m.durability,
            m.seed_seconds,
            m.seed_numbers_per_s,
            m.startup_ms,
            m.server_peak_rss_mb
        );
        if !m.db_settings.is_empty() {
            let list: Vec<String> = m
                .db_settings
                .iter()
                .map(|(k, v)| format!("`{k}={v}`"))
                .collect();
            let _ = writeln!(s, "Server settings: {}.\n", list.join(", "));
        }
        if let Some(note) = &m.maintenance {
            let _ = writeln!(s, "Maintenance: {note}.\n");
        }
        let _ = writeln!(
            s,
            "| workload | clients | ops/s | server CPU µs/op | p50 ms | p99 ms | p99.9 ms | errors | RSS MB | CPU % | \
             no-op ops/s | no-op p99 ms | no-op CPU µs/op | ops ÷ no-op | p99 ÷ no-op p99 | DB ceiling ops/s | DB CPU µs/op | DB p99 ms | ops ÷ DB |"
        );
        let _ = writeln!(
            s,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &m.rows {
            let h = &r.http;
            let (db_ops, db_cpu, db_p99, vs_db) = match &r.db {
                Some(d) => (
                    format!("{:.0}", d.ops_per_s),
                    format!("{:.0}", d.cpu_us_per_op),
                    format!("{:.2}", d.p99_ms),
                    format!("{:.2}", r.vs_db_ceiling.unwrap_or(0.0)),
                ),
                None => ("–".into(), "–".into(), "–".into(), "–".into()),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} | {:.1} | {} | {} | {} | {} |",
                r.workload, r.clients, h.ops_per_s, h.cpu_us_per_op, h.p50_ms, h.p99_ms, h.p999_ms,
                h.errors, h.rss_mb, h.cpu_pct, r.noop.ops_per_s, r.noop.p99_ms, r.noop.cpu_us_per_op,
                r.vs_http_ceiling, r.p99_vs_noop_p99, db_ops, db_cpu, db_p99, vs_db
            );
        }
    }
    let _ = backend;
    s
}

fn backend_name(backend: BackendArg) -> &'static str {
    match backend {
        BackendArg::Sqlite => "sqlite",
        BackendArg::Postgres => "postgres",
    }
}

/// Replaces the section `name` of the Markdown file at `path` (or appends it).
fn write_markdown(path: &Path, name: &str, command: &str, body: &str) -> anyhow::Result<()> {
    let begin = format!("<!-- didpool-bench:{name}:begin -->");
    let end = format!("<!-- didpool-bench:{name}:end -->");
    let section =
        format!("{begin}\n### {name} (generated by didpool-bench)\n\n`{command}`\n{body}\n{end}");
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| "# didpool benchmarks\n".into());
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) if e > b => format!("{}{section}{}", &old[..b], &old[e + end.len()..]),
        _ => format!("{}\n{section}\n", old.trim_end()),
    };
    std::fs::write(path, new)?;
    Ok(())
}

/// The allocator `didpool` serves with, so the in-process database ceiling runs the engine as the
/// server does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let bin = args
        .didpool
        .clone()
        .unwrap_or_else(|| workspace().join("target/release/didpool"));
    if !bin.exists() {
        bail!(
            "{} not found: run `cargo build --release -p didpool` first, or pass --didpool",
            bin.display()
        );
    }
    if args.workload == WorkloadArg::Webhook {
        return webhook_workload(&args, &bin).await;
    }
    let numbers = args
        .numbers
        .unwrap_or(if args.quick { 100_000 } else { 1_000_000 });
    if numbers < CHURN_SLOTS * 2 {
        bail!("--numbers must be at least {}", CHURN_SLOTS * 2);
    }
    let plan = Plan {
        numbers,
        owned: args.owned.unwrap_or(if args.quick { 1_000 } else { 5_000 }),
        duration: Duration::from_secs_f64(args.duration.unwrap_or(if args.quick {
            1.0
        } else {
            4.0
        })),
    };
    let most = PER_AREA * AREAS.len() as u64;
    if plan.numbers + plan.owned > most {
        bail!("--numbers and --owned can stock at most {most} numbers together");
    }
    let durability = args.durability.unwrap_or(if args.quick {
        DurabilityArg::Full
    } else {
        DurabilityArg::Both
    });
    let relaxed_modes: &[bool] = match durability {
        DurabilityArg::Full => &[false],
        DurabilityArg::Relaxed => &[true],
        DurabilityArg::Both => &[false, true],
    };
    let started = Instant::now();
    let mut modes = Vec::new();
    for &relaxed in relaxed_modes {
        modes.push(run_mode(&args, &bin, &plan, relaxed).await?);
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let body = format!(
        "\n{} numbers in inventory, {} owned by the owned-list account, {:.1} s per workload and \
         client count, on {} CPU(s); the load generator runs on the same machine.\n{}",
        plan.numbers,
        plan.owned,
        plan.duration.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        table(args.backend, &modes)
    );
    println!("{body}");
    let errors: u64 = modes
        .iter()
        .flat_map(|m| &m.rows)
        .map(|r| r.http.errors + r.db.as_ref().map_or(0, |d| d.errors))
        .sum();
    let report = json!({
        "backend": args.backend,
        "command": command,
        "numbers": plan.numbers,
        "owned": plan.owned,
        "seconds_per_workload": plan.duration.as_secs_f64(),
        "clients": args.clients,
        "errors": errors,
        "total_seconds": started.elapsed().as_secs_f64(),
        "modes": modes,
    });
    let json_path = args.json.clone().unwrap_or_else(|| {
        workspace().join(format!(
            "target/bench/{}.json",
            match args.backend {
                BackendArg::Sqlite => "sqlite",
                BackendArg::Postgres => "postgres",
            }
        ))
    });
    if let Some(parent) = json_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("wrote {}", json_path.display());
    let markdown = args
        .markdown
        .clone()
        .or_else(|| (!args.quick).then(|| workspace().join("BENCHMARKS.md")));
    if let Some(md) = markdown {
        write_markdown(&md, backend_name(args.backend), &command, &body)?;
        eprintln!("wrote {}", md.display());
    }
    eprintln!(
        "done in {:.0} s, {errors} error(s)",
        started.elapsed().as_secs_f64()
    );
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn webhook_workload(args: &Args, bin: &Path) -> anyhow::Result<ExitCode> {
    let clients = args.clients.iter().copied().max().unwrap_or(64);
    let duration = Duration::from_secs_f64(args.duration.unwrap_or(10.0));
    let runs = webhook::run(args, bin, clients, args.per_client, duration).await?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let body = format!(
        "\nReleases by {clients} clients (each its own account, at most {} releases each, at most \
         {:.0} s), on {} CPU(s); the receiver and the load generator run on the same machine.\n{}",
        args.per_client,
        duration.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        webhook::table(&runs, clients)
    );
    println!("{body}");
    let name = format!("{}-webhook", backend_name(args.backend));
    let json_path = args
        .json
        .clone()
        .unwrap_or_else(|| workspace().join(format!("target/bench/{name}.json")));
    if let Some(parent) = json_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let report = json!({"backend": args.backend, "command": command, "runs": runs});
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("wrote {}", json_path.display());
    let markdown = args
        .markdown
        .clone()
        .or_else(|| (!args.quick).then(|| workspace().join("BENCHMARKS.md")));
    if let Some(md) = markdown {
        write_markdown(&md, &name, &command, &body)?;
        eprintln!("wrote {}", md.display());
    }
    let errors: u64 = runs.iter().map(|r| r.releases.errors).sum();
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stock_fills_each_area_code_then_moves_to_the_next() {
        assert_eq!(e164(0), "14152000000");
        assert_eq!(e164(PER_AREA - 1), "14159999999");
        assert_eq!(e164(PER_AREA), "16282000000");
        assert_eq!(e164(3 * PER_AREA + 5), "15102000005");
        for i in [0, PER_AREA - 1, PER_AREA, 2 * PER_AREA, 4 * PER_AREA - 1] {
            assert!(E164::parse(&format!("+{}", e164(i))).is_ok(), "{i}");
        }
    }
}
