//! Crash test over real sockets: a bounded load of purchases and releases against a running
//! `didpool serve` process, the process killed with SIGKILL in the middle of it, and a new
//! process started on the same database. Every request that was acknowledged with a 2xx must be
//! in the data; a request whose answer was lost in the crash may have happened or not, but
//! wholly (its ledger entries and audit event with it); `didpool check` must pass. On SQLite and
//! on PostgreSQL (skipped unless `DIDPOOL_TEST_POSTGRES_URL` is set).

mod support;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use didpool_core::ledger::EntryKind;
use didpool_core::money::Decimal;
use didpool_core::store::LedgerQuery;
use didpool_core::AccountId;
use didpool_store::testing::{Backend, TestDb};
use didpool_store::Options;
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{blr, didpool_check, enc, summary, Acct, Api, Proc};
use tokio::sync::Notify;

/// Concurrent clients; each works on its own numbers, one request at a time.
const CLIENTS: usize = 16;
const ACCOUNTS: usize = 4;
const NUMBERS_PER_CLIENT: usize = 4;
/// The load is bounded in count: at most this many requests per client…
const MAX_REQUESTS_PER_CLIENT: usize = 250;
/// …and the server is killed after this many acknowledgements, or after `KILL_AFTER`.
const KILL_AFTER_ACKS: usize = 1500;
const KILL_AFTER: Duration = Duration::from_secs(3);
const BALANCE: i64 = 1_000_000;
const SETUP: i64 = 1;
const MONTHLY: i64 = 2;
const PRICE: i64 = SETUP + MONTHLY;
/// The whole test, restart and verification included.
const DEADLINE: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_load_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_load_postgres() {
    run(Backend::Postgres).await;
}

async fn run(backend: Backend) {
    tokio::time::timeout(DEADLINE, sigkill_mid_load(backend))
        .await
        .unwrap_or_else(|_| panic!("the crash test did not finish within {DEADLINE:?}"));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Purchase,
    Release,
}

/// What became of one request.
#[derive(Debug, Clone)]
enum Fate {
    /// Answered 2xx: it happened.
    Acked,
    /// Answered otherwise: the server refused it (never expected here); the status and body.
    Refused(String),
    /// The connection could not be made: it never reached the server.
    NotDelivered,
    /// Sent, but the answer was lost (the server died): it may or may not have happened.
    InDoubt(String),
}

#[derive(Debug, Clone)]
struct Sent {
    number: usize,
    kind: Kind,
    fate: Fate,
}

/// The figures of one run.
#[derive(Debug, Default)]
struct Figures {
    sent: usize,
    acked: usize,
    acked_purchases: usize,
    acked_releases: usize,
    refused: usize,
    not_delivered: usize,
    in_doubt: usize,
    in_doubt_applied: usize,
    acked_at_kill: usize,
    load_time: Duration,
    restart_time: Duration,
    /// Acknowledged requests found after the restart (each one's audit event, in order).
    acked_found: usize,
    /// Numbers whose last acknowledged request was a purchase, found owned by the buyer.
    found_owned: usize,
    /// Numbers whose last acknowledged request was a release, found back in inventory.
    found_released: usize,
    /// Numbers never acknowledged as bought, found in inventory.
    found_untouched: usize,
    ledger_purchases: usize,
    events: usize,
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent {} requests in {:?} ({:.0}/s), acknowledged {} ({} purchases, {} releases), \
             {} acknowledged when killed, {} in doubt ({} found applied), {} never delivered, \
             {} refused; after restart ({:?}) found: {}/{} acknowledged requests, {} numbers \
             owned as last bought, {} numbers back in inventory as last released, {} untouched numbers in inventory, {} \
             purchase ledger entries, {} audit events",
            self.sent,
            self.load_time,
            self.sent as f64 / self.load_time.as_secs_f64().max(1e-3),
            self.acked,
            self.acked_purchases,
            self.acked_releases,
            self.acked_at_kill,
            self.in_doubt,
            self.in_doubt_applied,
            self.not_delivered,
            self.refused,
            self.restart_time,
            self.acked_found,
            self.acked,
            self.found_owned,
            self.found_released,
            self.found_untouched,
            self.ledger_purchases,
            self.events,
        )
    }
}

/// One client: alternately buys and releases each of its numbers, one request at a time, until
/// it has sent its share or the server stops answering.
async fn client(
    api: Api,
    who: Acct,
    numbers: Vec<(usize, String)>,
    acked: Arc<AtomicUsize>,
    enough: Arc<Notify>,
) -> Vec<Sent> {
    let mut owned = vec![false; numbers.len()];
    let mut log = Vec::new();
    for k in 0..MAX_REQUESTS_PER_CLIENT {
        let j = k % numbers.len();
        let (number, e164) = &numbers[j];
        let kind = if owned[j] {
            Kind::Release
        } else {
            Kind::Purchase
        };
        let result = match kind {
            Kind::Purchase => {
                api.try_send(
                    Method::POST,
                    &format!("{}/numbers/purchase-from-inventory", who.base()),
                    Some(&who),
                    Some(json!({"e164": e164})),
                )
                .await
            }
            Kind::Release => {
                api.try_send(
                    Method::DELETE,
                    &format!("{}/numbers/{}", who.base(), enc(e164)),
                    Some(&who),
                    None,
                )
                .await
            }
        };
        let (fate, go_on) = match result {
            Ok(r) if r.status.is_success() => {
                owned[j] = !owned[j];
                if acked.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER_ACKS {
                    enough.notify_one();
                }
                (Fate::Acked, true)
            }
            Ok(r) => (Fate::Refused(format!("{} {}", r.status, r.body)), false),
            Err(e) if e.is_connect() => (Fate::NotDelivered, false),
            Err(e) => (Fate::InDoubt(format!("{e:?}")), false),
        };
        log.push(Sent {
            number: *number,
            kind,
            fate,
        });
        if !go_on {
            break;
        }
    }
    log
}

async fn sigkill_mid_load(backend: Backend) {
    // A fresh database that only the didpool processes have open (on SQLite, the test keeps no
    // connection of its own to the file while the server runs and dies).
    let sqlite_dir = tempfile::tempdir().expect("a temporary directory");
    let (url, _pg) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}/didpool.db", sqlite_dir.path().display()),
            None,
        ),
        Backend::Postgres => {
            let Some(db) = TestDb::new(Backend::Postgres, "sigkill_mid_load").await else {
                return;
            };
            (db.url.clone(), Some(db))
        }
    };
    if backend == Backend::Sqlite {
        // Creating the database is an explicit act: `serve` refuses a missing one.
        let created = tokio::process::Command::new(env!("CARGO_BIN_EXE_didpool"))
            .args(["--database-url", &url, "migrate"])
            .env("DIDPOOL_LOG", "error")
            .stdout(std::process::Stdio::null())
            .status()
            .await
            .expect("didpool runs");
        assert!(created.success(), "didpool migrate failed");
    }
    let label = format!("crash [{backend:?}]");
    let logs = tempfile::tempdir().expect("a log directory");
    let mut figures = Figures::default();

    let mut server = Proc::start(&url, logs.path(), "before-crash").await;
    let admin = Api::new(&server.base);
    let mut accounts = Vec::new();
    for i in 0..ACCOUNTS {
        accounts.push(admin.master(&format!("crash buyer {i}"), BALANCE).await);
    }
    let numbers: Vec<String> = (0..CLIENTS * NUMBERS_PER_CLIENT)
        .map(|i| blr(5000 + i as u32))
        .collect();
    admin.stock(&numbers, SETUP, MONTHLY).await;
    // Who works on which number: client c owns numbers c*4 .. c*4+4 and buys for account c % 4.
    let client_of = |number: usize| number / NUMBERS_PER_CLIENT;
    let buyer_of = |number: usize| &accounts[client_of(number) % ACCOUNTS];

    // The load, and the kill in the middle of it.
    let acked = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mine: Vec<(usize, String)> = (c * NUMBERS_PER_CLIENT..(c + 1) * NUMBERS_PER_CLIENT)
            .map(|i| (i, numbers[i].clone()))
            .collect();
        tasks.push(tokio::spawn(client(
            Api::new(&server.base),
            accounts[c % ACCOUNTS].clone(),
            mine,
            acked.clone(),
            enough.clone(),
        )));
    }
    let _ = tokio::time::timeout(KILL_AFTER, enough.notified()).await;
    figures.acked_at_kill = acked.load(Ordering::SeqCst);
    server.kill().await;
    let mut sent: Vec<Sent> = Vec::new();
    for t in tasks {
        sent.extend(t.await.expect("a client task"));
    }
    figures.load_time = started.elapsed();
    eprintln!(
        "{label}: killed didpool (SIGKILL) after {:?} with {} acknowledged",
        figures.load_time, figures.acked_at_kill
    );

    figures.sent = sent.len();
    let mut refused = Vec::new();
    for s in &sent {
        match &s.fate {
            Fate::Acked => {
                figures.acked += 1;
                match s.kind {
                    Kind::Purchase => figures.acked_purchases += 1,
                    Kind::Release => figures.acked_releases += 1,
                }
            }
            Fate::Refused(answer) => {
                figures.refused += 1;
                refused.push(format!("{:?} {}: {answer}", s.kind, numbers[s.number]));
            }
            Fate::NotDelivered => figures.not_delivered += 1,
            Fate::InDoubt(error) => {
                figures.in_doubt += 1;
                eprintln!(
                    "{label}: in doubt: {:?} {}: {error}",
                    s.kind, numbers[s.number]
                );
            }
        }
    }
    assert!(
        refused.is_empty(),
        "{label}: requests refused before the crash: {refused:#?}"
    );
    assert!(
        figures.in_doubt + figures.not_delivered > 0,
        "{label}: the server was killed after the load ended, not in the middle of it"
    );
    assert!(
        figures.acked > 0,
        "{label}: nothing was acknowledged before the kill"
    );

    // Restart on the same database.
    let restarting = Instant::now();
    let server = Proc::start(&url, logs.path(), "after-restart").await;
    figures.restart_time = restarting.elapsed();
    let api = Api::new(&server.base);

    // Every number: its last acknowledged request holds; a request in doubt after it may have
    // happened or not, but nothing else.
    let mut applied_purchases = [0usize; ACCOUNTS];
    let mut owned_after_restart = vec![false; numbers.len()];
    for (i, e164) in numbers.iter().enumerate() {
        let history: Vec<&Sent> = sent.iter().filter(|s| s.number == i).collect();
        let last_acked = history.iter().rposition(|s| matches!(s.fate, Fate::Acked));
        let acked_ops = last_acked.map_or(0, |p| p + 1);
        let owned_if_not_in_doubt = last_acked.is_some_and(|p| history[p].kind == Kind::Purchase);
        let after: Vec<&&Sent> = history[acked_ops..].iter().collect();
        assert!(
            after.len() <= 1,
            "{label}: {e164}: a client went on after a failure"
        );
        let in_doubt = after.iter().any(|s| matches!(s.fate, Fate::InDoubt(_)));

        let n = api.number(e164).await;
        let buyer = buyer_of(i);
        let owned = if n["state"] == "active" && n["account_id"] == json!(buyer.id) {
            true
        } else if n["state"] == "available" && n["account_id"] == "" {
            false
        } else {
            panic!(
                "{label}: {e164} is neither owned by {} nor in inventory: {n}",
                buyer.id
            );
        };
        // A request in doubt may have happened; otherwise the acknowledged history decides.
        let applied_in_doubt = in_doubt && owned != owned_if_not_in_doubt;
        if !in_doubt {
            assert_eq!(
                owned,
                owned_if_not_in_doubt,
                "{label}: {e164}: acknowledged history {:?} but found {n}",
                history
                    .iter()
                    .map(|s| (s.kind, &s.fate))
                    .collect::<Vec<_>>()
            );
        }
        match (
            last_acked.map(|p| history[p].kind),
            owned_if_not_in_doubt == owned,
        ) {
            (Some(Kind::Purchase), true) => figures.found_owned += 1,
            (Some(Kind::Release), true) => figures.found_released += 1,
            (None, true) => figures.found_untouched += 1,
            (_, false) => {}
        }
        if applied_in_doubt {
            figures.in_doubt_applied += 1;
        }
        // What took effect on this number: the acknowledged requests, and the one in doubt if
        // the data says it happened.
        let effective: Vec<Kind> = history[..acked_ops]
            .iter()
            .map(|s| s.kind)
            .chain(applied_in_doubt.then(|| after[0].kind))
            .collect();
        owned_after_restart[i] = owned;
        applied_purchases[client_of(i) % ACCOUNTS] +=
            effective.iter().filter(|k| **k == Kind::Purchase).count();

        // Each of them wrote exactly its audit event, after the one for stocking.
        let events = api.events(e164).await;
        figures.events += events.len();
        let actions: Vec<&str> = events
            .iter()
            .map(|e| e["action"].as_str().unwrap_or(""))
            .collect();
        let expected: Vec<&str> = std::iter::once("stocked")
            .chain(effective.iter().map(|k| match k {
                Kind::Purchase => "purchased",
                Kind::Release => "released",
            }))
            .collect();
        assert_eq!(actions, expected, "{label}: {e164}: audit trail");
        figures.acked_found += acked_ops;
    }

    // Money: each account paid for exactly the purchases that took effect.
    let store = didpool_store::open(&url, &Options::default())
        .await
        .expect("opening the database after the restart");
    for (a, who) in accounts.iter().enumerate() {
        let id = AccountId::parse(&who.id).expect("an account id");
        let balance = store
            .account(&id)
            .await
            .expect("an account")
            .expect("it exists")
            .balance;
        assert_eq!(
            balance,
            Decimal::from(BALANCE - PRICE * applied_purchases[a] as i64),
            "{label}: {}: balance after {} purchases",
            who.id,
            applied_purchases[a]
        );
        let page = store
            .ledger(&LedgerQuery {
                account: id,
                debits: Some(true),
                kind: Some(EntryKind::DidPurchase),
                from: None,
                to: None,
                limit: 1,
                offset: 0,
            })
            .await
            .expect("reading the ledger");
        assert_eq!(
            page.total as usize, applied_purchases[a],
            "{label}: {}: purchase entries",
            who.id
        );
        figures.ledger_purchases += page.total as usize;
    }

    // The invariants, from the restarted server and from the command line.
    api.assert_check().await;
    let (ok, output) = didpool_check(&url).await;
    assert!(ok, "{label}: didpool check failed:\n{output}");
    eprintln!("{label}: didpool check: {}", output.trim());

    // And the service works on: buy a number nobody holds, release one somebody does.
    let free = owned_after_restart.iter().position(|o| !o);
    let held = owned_after_restart.iter().position(|o| *o);
    if let Some(i) = free {
        let r = api.purchase(buyer_of(i), &numbers[i]).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{label}: buying after the restart: {}",
            r.body
        );
    }
    if let Some(i) = held {
        let r = api.release(buyer_of(i), &numbers[i]).await;
        assert_eq!(
            r.status,
            StatusCode::NO_CONTENT,
            "{label}: releasing after the restart: {}",
            r.body
        );
    }
    api.assert_check().await;

    eprintln!("{label}: {figures:#?}");
    summary(&format!("CRASH {label}: {figures}; didpool check ok"));
    drop(server);
}
