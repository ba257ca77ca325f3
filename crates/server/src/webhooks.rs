//! Lifecycle events leave didpool here: the event object (the number as the Vobiz face shows it)
//! and the delivery worker, which claims due deliveries from the engine, signs them the Standard
//! Webhooks way, sends them and hands each attempt's result back to the engine (which keeps the
//! retry schedule). Every node runs a worker; on PostgreSQL they claim with `SKIP LOCKED`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use didpool_core::audit::NumberEvent;
use didpool_core::engine::By;
use didpool_core::lifecycle::{Command, Write};
use didpool_core::webhook::{AttemptResult, Delivery, EVENT_TYPES};
use didpool_core::Engine;
use serde::Serialize;
use tokio::sync::{watch, Semaphore};

use crate::faces::vobiz::dto::{time, PhoneNumber};

/// The most of an answer's body read; the rest is left unread.
pub const MAX_RESPONSE_READ: usize = 64 * 1024;
/// The most of an answer's body kept with the attempt.
pub const RESPONSE_EXCERPT: usize = 1024;

/// How the worker sends.
#[derive(Debug, Clone)]
pub struct Config {
    /// An attempt that has not answered in this long failed.
    pub timeout: Duration,
    /// Send to private, loopback and link-local addresses too (tests, a private network).
    pub allow_private: bool,
    /// Deliveries in flight at once, per node.
    pub concurrency: usize,
    /// How often an idle worker looks for due deliveries.
    pub poll: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            allow_private: false,
            concurrency: 64,
            poll: Duration::from_millis(100),
        }
    }
}

impl Config {
    /// A claimed delivery stays with its worker this long (then another may take it: a node
    /// that died mid-send); longer than an attempt may take.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }
}

/// An event, as `GET /admin/v1/events` lists it and a webhook carries it (the Standard Webhooks
/// payload shape: `type`, `timestamp`, `data`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventObject {
    /// The event's id; also the `webhook-id` of every delivery of it.
    pub id: String,
    /// One of the catalogue's types, e.g. `number.released`.
    #[serde(rename = "type")]
    #[schema(schema_with = event_types)]
    pub event_type: String,
    /// When the change was made (the engine's clock).
    pub timestamp: String,
    pub data: EventData,
}

/// The catalogue, in the document: each type with what it means.
fn event_types() -> utoipa::openapi::Object {
    let described: Vec<String> = EVENT_TYPES
        .iter()
        .map(|(t, what)| format!("`{t}`: {what}"))
        .collect();
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(EVENT_TYPES.iter().map(|(t, _)| *t)))
        .description(Some(format!(
            "The event's type, from the catalogue: {}.",
            described.join("; ")
        )))
        .build()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventData {
    pub e164: String,
    pub number_id: String,
    /// The number as the change left it, as the Vobiz face shows it; `null` for events recorded
    /// before didpool kept it.
    #[schema(required = true)]
    pub number: Option<PhoneNumber>,
    /// The engine's state after the change.
    pub state: &'static str,
    /// The accounts concerned: the holders before and after, and the paying account.
    pub accounts: Vec<String>,
    /// An account id, `operator` or `system` (the scheduler).
    pub actor: String,
    #[schema(required = true)]
    pub request_id: Option<String>,
    /// What changed from.
    pub previous: Previous,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Previous {
    /// `null` for a number new to didpool.
    #[schema(required = true)]
    pub state: Option<&'static str>,
    /// Who held it before.
    #[schema(required = true)]
    pub account_id: Option<String>,
}

impl From<&NumberEvent> for EventObject {
    fn from(e: &NumberEvent) -> Self {
        Self {
            id: e.id.to_string(),
            event_type: e.event_type(),
            timestamp: time(e.at),
            data: EventData {
                e164: e.e164.to_string(),
                number_id: e.number_id.to_string(),
                number: e.number.as_ref().map(PhoneNumber::from),
                state: e.to_state.as_str(),
                accounts: e.accounts().iter().map(ToString::to_string).collect(),
                actor: e.actor.label(),
                request_id: e.request_id.clone(),
                previous: Previous {
                    state: e.from_state.map(|s| s.as_str()),
                    account_id: e.from_owner.as_ref().map(ToString::to_string),
                },
            },
        }
    }
}

/// The `webhook-signature` header: `v1,<base64>` for each secret, space-separated (a rotated
/// secret signs beside the new one during its overlap).
pub fn signature(
    secrets: &[&str],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, standardwebhooks::WebhookError> {
    let signed: Result<Vec<String>, _> = secrets
        .iter()
        .map(|s| standardwebhooks::Webhook::new(s)?.sign(msg_id, timestamp, body))
        .collect();
    Ok(signed?.join(" "))
}

/// Whether didpool may send to `ip` when private destinations are not allowed: not loopback,
/// private (RFC 1918, unique local), link-local, shared (RFC 6598), unspecified, multicast or
/// broadcast.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local())
            }
        },
    }
}

const REFUSED: &str =
    "refused: the destination is a private, loopback or link-local address (see --webhook-allow-private)";

/// Resolves host names for the sender, leaving out the addresses it may not send to, so a name
/// cannot lead it to one (the check is on the address it connects to).
struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(REFUSED.into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client deliveries go out with: no redirects followed, the attempt's timeout, and
/// (unless allowed) no private destinations.
pub fn client(config: &Config) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(config.timeout)
        .user_agent(concat!("didpool-webhooks/", env!("CARGO_PKG_VERSION")));
    if !config.allow_private {
        b = b.dns_resolver(Arc::new(GuardedResolver));
    }
    b.build().expect("the webhook client builds")
}

/// Runs the delivery worker until `stop` turns true; the sends in flight then finish.
pub async fn run(engine: Engine, config: Config, mut stop: watch::Receiver<bool>) {
    let client = client(&config);
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let system = By::system();
    // While claiming fails (the database away, say), the error is logged once and the worker
    // backs off to a second between tries; its recovery is logged too.
    let mut failing = false;
    loop {
        if *stop.borrow() {
            break;
        }
        let free = slots.available_permits();
        let claimed = if free == 0 {
            Vec::new()
        } else {
            let now_real = Utc::now();
            let lease = chrono::Duration::from_std(config.lease()).unwrap_or_default();
            let cmd = Command::ClaimDeliveries {
                now_real,
                limit: u32::try_from(free).unwrap_or(u32::MAX),
                lease_until: now_real + lease,
            };
            match engine.run(&system, cmd).await {
                Ok(outcome) => {
                    if std::mem::take(&mut failing) {
                        tracing::info!("claiming webhook deliveries works again");
                    }
                    outcome.changes.deliveries
                }
                Err(e) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::error!(error = %e, "claiming webhook deliveries failed; retrying every second");
                    }
                    Vec::new()
                }
            }
        };
        if claimed.is_empty() {
            let wait = if failing {
                config.poll.max(Duration::from_secs(1))
            } else {
                config.poll
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        for w in claimed {
            let Write::Update(d) = w else { continue };
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let (engine, client, config) = (engine.clone(), client.clone(), config.clone());
            tokio::spawn(async move {
                deliver(&engine, &client, &config, d).await;
                drop(permit);
            });
        }
    }
    // Let the sends in flight record their attempts.
    let _ = slots
        .acquire_many(u32::try_from(config.concurrency.max(1)).unwrap_or(u32::MAX))
        .await;
}

/// Sends one claimed delivery and records the attempt.
async fn deliver(engine: &Engine, client: &reqwest::Client, config: &Config, d: Delivery) {
    let system = By::system();
    let result = match prepare(engine, &d).await {
        Ok((url, secrets, event, body)) => {
            let r = send(client, config, &url, &secrets, &event, body).await;
            if r.succeeded() {
                let lag = (Utc::now() - event.at).to_std().unwrap_or_default();
                metrics::histogram!("didpool_webhook_lag_seconds").record(lag.as_secs_f64());
            }
            r
        }
        Err(error) => AttemptResult {
            status_code: None,
            latency_ms: 0,
            response: String::new(),
            error: Some(error),
        },
    };
    let outcome = if result.succeeded() {
        "succeeded"
    } else {
        "failed"
    };
    metrics::counter!("didpool_webhook_attempts_total", "outcome" => outcome).increment(1);
    metrics::histogram!("didpool_webhook_attempt_duration_seconds")
        .record(result.latency_ms as f64 / 1000.0);
    let cmd = Command::FinishDelivery { seq: d.seq, result };
    match engine.run(&system, cmd).await {
        Ok(o) => {
            for w in &o.changes.deliveries {
                let status = w.row().status.as_str();
                if status != "pending" {
                    metrics::counter!("didpool_webhook_deliveries_total", "status" => status)
                        .increment(1);
                }
            }
            for w in &o.changes.webhook_endpoints {
                let e = w.row();
                if e.disabled_at.is_some() && e.disabled_at == Some(e.updated_at) {
                    metrics::counter!("didpool_webhook_endpoints_disabled_total").increment(1);
                    tracing::warn!(endpoint = %e.id, url = %e.url, reason = ?e.disabled_reason, "webhook endpoint disabled");
                }
            }
        }
        // The lease runs out and the delivery is sent again: at least once.
        Err(e) => {
            tracing::error!(delivery = d.seq, error = %e, "recording a webhook attempt failed")
        }
    }
}

type Prepared = (String, Vec<String>, NumberEvent, Vec<u8>);

async fn prepare(engine: &Engine, d: &Delivery) -> Result<Prepared, String> {
    let system = By::system();
    let endpoint = engine
        .webhook_endpoint(&system, d.endpoint_id)
        .await
        .map_err(|e| e.to_string())?;
    let event = engine
        .event(&system, d.event_id)
        .await
        .map_err(|e| e.to_string())?;
    let body = serde_json::to_vec(&EventObject::from(&event)).map_err(|e| e.to_string())?;
    let secrets = endpoint
        .signing_secrets(engine.now())
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok((endpoint.url, secrets, event, body))
}

async fn send(
    client: &reqwest::Client,
    config: &Config,
    url: &str,
    secrets: &[String],
    event: &NumberEvent,
    body: Vec<u8>,
) -> AttemptResult {
    let started = Instant::now();
    let failed = |error: String, started: Instant| AttemptResult {
        status_code: None,
        latency_ms: started.elapsed().as_millis() as u64,
        response: String::new(),
        error: Some(error),
    };
    let parsed = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return failed(format!("bad url: {e}"), started),
    };
    // An address in the URL itself never reaches the resolver: checked here.
    let literal = parsed
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok());
    if !config.allow_private && literal.is_some_and(|ip| !is_public(ip)) {
        return failed(REFUSED.into(), started);
    }
    // The real time: receivers check it against their clock (even when the engine's is a
    // sandbox's).
    let timestamp = Utc::now().timestamp();
    let msg_id = event.id.to_string();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let sig = match signature(&secrets, &msg_id, timestamp, &body) {
        Ok(s) => s,
        Err(e) => return failed(format!("cannot sign: {e}"), started),
    };
    let request = client
        .post(parsed)
        .header("content-type", "application/json")
        .header(standardwebhooks::HEADER_WEBHOOK_ID, &msg_id)
        .header(
            standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
            timestamp.to_string(),
        )
        .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, sig)
        .body(body);
    let mut response = match request.send().await {
        Ok(r) => r,
        Err(e) => return failed(describe(&e), started),
    };
    let status = response.status().as_u16();
    let mut read = Vec::new();
    let mut error = None;
    // Bounded: at most MAX_RESPONSE_READ bytes, within the attempt's timeout.
    while read.len() < MAX_RESPONSE_READ {
        match response.chunk().await {
            Ok(Some(chunk)) => read.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                error = Some(describe(&e));
                break;
            }
        }
    }
    read.truncate(RESPONSE_EXCERPT);
    let mut excerpt = String::from_utf8_lossy(&read).into_owned();
    excerpt.retain(|c| !c.is_control() || c == '\n');
    AttemptResult {
        // An answer whose body could not be read in time failed, whatever its status said.
        status_code: error.is_none().then_some(status),
        latency_ms: started.elapsed().as_millis() as u64,
        response: excerpt,
        error: error.map(|e| format!("status {status}, then {e}")),
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = e.source();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn a_rotated_secret_signs_beside_the_new_one() {
        let (a, b) = (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=",
        );
        let one = signature(&[a], "msg_1", 1_700_000_000, b"{}").unwrap();
        let two = signature(&[a, b], "msg_1", 1_700_000_000, b"{}").unwrap();
        assert!(one.starts_with("v1,"));
        assert_eq!(two.split(' ').count(), 2);
        assert_eq!(two.split(' ').next(), Some(one.as_str()));
    }
}
