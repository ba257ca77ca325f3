//! The webhook workload (`--workload webhook`): releases at N clients, run twice on fresh
//! databases — without a webhook endpoint, then with one endpoint subscribed to
//! `number.released` on a receiver in this process (loopback) — and reports the release
//! throughput of both, the events delivered per second and the lag from commit to delivery
//! (the event's timestamp, the server's clock, to its arrival; same machine).

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};

use crate::{
    create_database, didpool_cmd, drive, e164, free_port, fresh_database, ok, Args, Measured, Op,
    Server,
};
use crate::{ADMIN_TOKEN, PER_AREA};

/// One run's figures.
#[derive(Debug, Serialize)]
pub struct Run {
    pub endpoint: bool,
    pub releases: Measured,
    /// Events the receiver got, and over how long (first release to last arrival).
    pub delivered: u64,
    pub delivered_per_s: f64,
    /// After the last release was acknowledged, until the last event arrived.
    pub drain_ms: f64,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
}

/// One event received: when (the wall clock, and the monotonic one) and its body.
type Arrival = (chrono::DateTime<chrono::Utc>, Instant, Bytes);

#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Vec<Arrival>>>);

async fn receive(State(inbox): State<Inbox>, body: Bytes) -> StatusCode {
    inbox
        .0
        .lock()
        .unwrap()
        .push((chrono::Utc::now(), Instant::now(), body));
    StatusCode::NO_CONTENT
}

/// Runs the workload without and with an endpoint; `per_client` releases per client at most,
/// for `duration` at most.
pub async fn run(
    args: &Args,
    bin: &Path,
    clients: usize,
    per_client: u64,
    duration: Duration,
) -> anyhow::Result<Vec<Run>> {
    let mut runs = Vec::new();
    for endpoint in [false, true] {
        runs.push(once(args, bin, clients, per_client, duration, endpoint).await?);
    }
    Ok(runs)
}

async fn once(
    args: &Args,
    bin: &Path,
    clients: usize,
    per_client: u64,
    duration: Duration,
    endpoint: bool,
) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let url = fresh_database(args, dir.path()).await?;
    let total = clients as u64 * per_client;
    if total > PER_AREA {
        bail!("at most {PER_AREA} numbers");
    }
    eprintln!(
        "\n== webhook workload, {}: stocking {total} numbers",
        if endpoint {
            "one endpoint"
        } else {
            "no endpoint"
        }
    );
    create_database(bin, &url)?;
    let status = didpool_cmd(bin, &url, true)
        .args(["inventory", "generate", "--count", &total.to_string()])
        .args(["--start", &format!("+{}", e164(0))])
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("seeding failed");
    }
    let port = free_port()?;
    let log = dir.path().join("server.log");
    let child = didpool_cmd(bin, &url, false)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--scheduler-interval", "1h", "--webhook-allow-private"])
        .env("DIDPOOL_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("DIDPOOL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients * 2)
        .tcp_nodelay(true)
        .build()?;
    let started = Instant::now();
    while !ok(http.get(format!("{base}/healthz")).send().await) {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("didpool did not answer within 60s (see {})", log.display());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // One account per client, each buying its numbers (not timed).
    let mut accounts = Vec::new();
    for i in 0..clients {
        let r: Value = http
            .post(format!("{base}/admin/v1/accounts"))
            .bearer_auth(ADMIN_TOKEN)
            .json(
                &json!({"name": format!("hooks {i}"), "balance": 1_000_000_000, "currency": "USD"}),
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
        accounts.push((id, token));
    }
    let accounts = Arc::new(accounts);
    let request = {
        let (http, base, accounts) = (http.clone(), base.clone(), accounts.clone());
        move |i: usize, method: reqwest::Method, path: String| {
            let (id, token) = &accounts[i];
            http.request(method, format!("{base}/api/v1/Account/{id}/{path}"))
                .header("X-Auth-ID", id)
                .header("X-Auth-Token", token)
        }
    };
    let number = move |i: usize, k: u64| format!("+{}", e164(i as u64 * per_client + k));
    let pid = server.pid();
    let buy: Op = {
        let request = request.clone();
        Arc::new(move |i, k| {
            let r = request(
                i,
                reqwest::Method::POST,
                "numbers/purchase-from-inventory".into(),
            )
            .json(&json!({"e164": number(i, k)}));
            Box::pin(async move { ok(r.send().await) })
        })
    };
    let (m, _) = drive(clients, None, Some(vec![per_client; clients]), 1, buy, pid).await;
    if m.errors > 0 {
        bail!("{} purchases failed", m.errors);
    }

    let inbox = Inbox::default();
    if endpoint {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(inbox.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        http.post(format!("{base}/admin/v1/webhook-endpoints"))
            .bearer_auth(ADMIN_TOKEN)
            .json(
                &json!({"url": format!("http://{addr}/hook"), "event_types": ["number.released"]}),
            )
            .send()
            .await?
            .error_for_status()?;
    }

    // The timed part: releases.
    let release: Op = Arc::new(move |i, k| {
        let r = request(
            i,
            reqwest::Method::DELETE,
            format!("numbers/{}", number(i, k).replace('+', "%2B")),
        );
        Box::pin(async move { ok(r.send().await) })
    });
    let t0 = Instant::now();
    let deadline = Some(t0 + duration);
    let (releases, _) = drive(
        clients,
        deadline,
        Some(vec![per_client; clients]),
        1,
        release,
        pid,
    )
    .await;
    let released_at = Instant::now();
    let mut run = Run {
        endpoint,
        releases,
        delivered: 0,
        delivered_per_s: 0.0,
        drain_ms: 0.0,
        lag_p50_ms: 0.0,
        lag_p99_ms: 0.0,
        lag_max_ms: 0.0,
    };
    if endpoint {
        let expected = run.releases.ops - run.releases.errors;
        let wait = Instant::now() + Duration::from_secs(60);
        while (inbox.0.lock().unwrap().len() as u64) < expected && Instant::now() < wait {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let got = inbox.0.lock().unwrap().clone();
        let last = got.iter().map(|g| g.1).max().unwrap_or(released_at);
        let mut lags: Vec<f64> = got
            .iter()
            .filter_map(|(at, _, body)| {
                let v: Value = serde_json::from_slice(body).ok()?;
                let ts = chrono::DateTime::parse_from_rfc3339(v["timestamp"].as_str()?).ok()?;
                Some((*at - ts.with_timezone(&chrono::Utc)).num_microseconds()? as f64 / 1000.0)
            })
            .collect();
        lags.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            lags.get(((lags.len() as f64 * p).ceil() as usize).clamp(1, lags.len().max(1)) - 1)
                .copied()
                .unwrap_or(0.0)
        };
        run.delivered = got.len() as u64;
        run.delivered_per_s = got.len() as f64 / (last - t0).as_secs_f64().max(1e-9);
        run.drain_ms = last.saturating_duration_since(released_at).as_secs_f64() * 1000.0;
        run.lag_p50_ms = pct(0.50);
        run.lag_p99_ms = pct(0.99);
        run.lag_max_ms = lags.last().copied().unwrap_or(0.0);
        if run.delivered < expected {
            bail!(
                "{} of {expected} events delivered within 60 s",
                run.delivered
            );
        }
    }
    server.stop();
    Ok(run)
}

/// The Markdown table of the two runs.
pub fn table(runs: &[Run], clients: usize) -> String {
    let mut t = String::from(
        "\n| run | clients | releases/s | release p50 ms | release p99 ms | errors | events delivered/s | lag p50 ms | lag p99 ms | lag max ms | drain after last release ms |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in runs {
        let (delivered, p50, p99, max, drain) = if r.endpoint {
            (
                format!("{:.0}", r.delivered_per_s),
                format!("{:.1}", r.lag_p50_ms),
                format!("{:.1}", r.lag_p99_ms),
                format!("{:.1}", r.lag_max_ms),
                format!("{:.0}", r.drain_ms),
            )
        } else {
            Default::default()
        };
        t.push_str(&format!(
            "| {} | {clients} | {:.0} | {:.2} | {:.2} | {} | {delivered} | {p50} | {p99} | {max} | {drain} |\n",
            if r.endpoint { "one endpoint" } else { "no endpoint" },
            r.releases.ops_per_s,
            r.releases.p50_ms,
            r.releases.p99_ms,
            r.releases.errors,
        ));
    }
    if let [without, with] = runs {
        t.push_str(&format!(
            "\nRelease throughput with the endpoint: {:.0}% of the run without.\n",
            100.0 * with.releases.ops_per_s / without.releases.ops_per_s.max(1e-9)
        ));
    }
    t
}
