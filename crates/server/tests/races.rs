//! Concurrency over real sockets: many HTTP clients on loopback racing for the same rows, on
//! SQLite and on PostgreSQL, and on PostgreSQL also across two `didpool serve` processes sharing
//! one database. Each scenario is written once and run three ways (see [`race!`]):
//!
//! - `sqlite`: one in-process server over a fresh SQLite file;
//! - `postgres`: one in-process server over a fresh PostgreSQL schema;
//! - `postgres_two_processes`: two `didpool serve` processes on that schema, the clients split
//!   between them.
//!
//! The PostgreSQL variants return early (and say so) unless `DIDPOOL_TEST_POSTGRES_URL` is set.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use didpool_core::ledger::EntryKind;
use didpool_core::money::Decimal;
use didpool_core::store::{Holder, LedgerQuery, NumberQuery};
use didpool_core::{AccountId, NumberState, E164};
use didpool_store::testing::{Backend, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{assert_store_check, blr, summary, Acct, Api, InProcess, Proc, Reply};
use tokio::sync::Barrier;

/// How long one scenario may take, setup and verification included.
const SCENARIO_DEADLINE: Duration = Duration::from_secs(180);

/// PostgreSQL connections per `didpool serve` node in the two-process runs. A burst of commands
/// on one row is served one at a time, whatever the pool; with the default pool (10) most of the
/// 32 clients a node gets wait in the pool's queue, which gives up after 10 s and answers 500,
/// and a debug build on a busy two-core machine was seen to take that long to work through 64
/// transactions on one row. With this pool most of them wait in PostgreSQL's lock queue
/// instead, which has no timeout, and the rest only for the first few transactions.
const NODE_POOL_SIZE: u32 = 24;

/// The two-process runs take one at a time: each may open 2 x `NODE_POOL_SIZE` connections,
/// PostgreSQL allows 100 by default, and other test runs may share the server.
static TWO_PROCESS_RUNS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Topology {
    /// One server in this process.
    InProcess,
    /// Two `didpool serve` processes on the same database.
    TwoProcesses,
}

/// Generates the three runs of a scenario `async fn NAME(Backend, Topology)`.
macro_rules! race {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                run(super::$name(Backend::Sqlite, Topology::InProcess)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                run(super::$name(Backend::Postgres, Topology::InProcess)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres_two_processes() {
                let _one_at_a_time = TWO_PROCESS_RUNS.lock().await;
                run(super::$name(Backend::Postgres, Topology::TwoProcesses)).await;
            }
        }
    };
}

race!(one_number_many_buyers);
race!(distinct_numbers_small_balance);
race!(release_against_trunk_and_sub_account);
race!(two_sip_config_changes_at_once);

async fn run(scenario: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(SCENARIO_DEADLINE, scenario)
        .await
        .unwrap_or_else(|_| panic!("the scenario did not finish within {SCENARIO_DEADLINE:?}"));
}

/// A database and the servers in front of it. (Fields drop in order: the servers stop before
/// their database goes, and their logs go last.)
struct Cluster {
    _in_process: Option<InProcess>,
    _processes: Vec<Proc>,
    db: TestDb,
    label: String,
    nodes: Vec<String>,
    _logs: tempfile::TempDir,
}

impl Cluster {
    async fn start(backend: Backend, topology: Topology, test: &str) -> Option<Cluster> {
        // Racers queue on one row lock while holding their connections: on a loaded machine a
        // request may wait longer than the default second for one, which is not a fault here.
        let options = didpool_store::Options {
            pool_timeout: Some(std::time::Duration::from_secs(30)),
            ..Default::default()
        };
        let db = TestDb::with_options(backend, test, &options).await?;
        let logs = tempfile::tempdir().expect("a log directory");
        let (in_process, processes) = match topology {
            Topology::InProcess => (Some(InProcess::start(db.store.clone()).await), Vec::new()),
            Topology::TwoProcesses => {
                let pool = Some(NODE_POOL_SIZE);
                let a = Proc::start_with(&db.url, logs.path(), "node-a", pool).await;
                let b = Proc::start_with(&db.url, logs.path(), "node-b", pool).await;
                (None, vec![a, b])
            }
        };
        let nodes = match &in_process {
            Some(s) => vec![s.base.clone()],
            None => processes.iter().map(|p| p.base.clone()).collect(),
        };
        let label = format!("{test} [{backend:?}, {topology:?}]");
        Some(Cluster {
            _in_process: in_process,
            _processes: processes,
            db,
            label,
            nodes,
            _logs: logs,
        })
    }

    /// A new client (its own connections) for client number `i`: the clients are dealt out to
    /// the nodes in turn.
    fn client(&self, i: usize) -> Api {
        Api::new(&self.nodes[i % self.nodes.len()])
    }

    fn node_of(&self, i: usize) -> usize {
        i % self.nodes.len()
    }

    async fn balance(&self, who: &Acct) -> Decimal {
        self.db
            .store
            .account(&account_id(who))
            .await
            .expect("reading an account")
            .expect("the account exists")
            .balance
    }

    async fn ledger(&self, who: &Acct) -> Vec<didpool_core::ledger::LedgerEntry> {
        let page = self
            .db
            .store
            .ledger(&LedgerQuery {
                account: account_id(who),
                debits: None,
                kind: None,
                from: None,
                to: None,
                limit: 10_000,
                offset: 0,
            })
            .await
            .expect("reading the ledger");
        assert_eq!(
            page.entries.len() as u64,
            page.total,
            "one page holds the ledger"
        );
        page.entries
    }

    async fn number(&self, e164: &str) -> didpool_core::Number {
        self.db
            .store
            .number_by_e164(&E164::parse(e164).expect("a valid number"))
            .await
            .expect("reading a number")
            .expect("the number exists")
    }

    /// Both checks: the operator's `GET /admin/v1/check` (through every node) and the store's.
    async fn assert_consistent(&self) {
        for i in 0..self.nodes.len() {
            self.client(i).assert_check().await;
        }
        assert_store_check(self.db.store.as_ref()).await;
    }
}

fn account_id(who: &Acct) -> AccountId {
    AccountId::parse(&who.id).expect("a valid account id")
}

fn inr(amount: i64) -> Decimal {
    Decimal::from(amount)
}

fn median(mut v: Vec<Duration>) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    v[v.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// 1. 64 clients race to buy the same number.

const NOT_IN_INVENTORY: &str = "number not found in inventory";

/// 64 clients (16 accounts, 4 clients each) buy the same number at the same instant, for several
/// numbers in turn: exactly one purchase succeeds, the other 63 get the documented 404, the
/// winner's account is debited once and nobody else's at all.
async fn one_number_many_buyers(backend: Backend, topology: Topology) {
    const ACCOUNTS: usize = 16;
    const CLIENTS: usize = 64;
    const ROUNDS: u32 = 4;
    const BALANCE: i64 = 10_000;
    const SETUP: i64 = 100;
    const MONTHLY: i64 = 300;
    const PRICE: i64 = SETUP + MONTHLY;

    let Some(c) = Cluster::start(backend, topology, "one_number_many_buyers").await else {
        return;
    };
    let admin = c.client(0);
    let mut buyers = Vec::new();
    for i in 0..ACCOUNTS {
        buyers.push(admin.master(&format!("buyer {i}"), BALANCE).await);
    }
    let numbers: Vec<String> = (0..ROUNDS).map(|i| blr(100 + i)).collect();
    admin.stock(&numbers, SETUP, MONTHLY).await;
    let clients: Vec<Api> = (0..CLIENTS).map(|i| c.client(i)).collect();

    let mut wins: HashMap<Acct, i64> = HashMap::new();
    let mut report = Vec::new();
    for number in &numbers {
        let barrier = Arc::new(Barrier::new(CLIENTS));
        let mut tasks = Vec::new();
        for (i, api) in clients.iter().enumerate() {
            let (api, barrier, number) = (api.clone(), barrier.clone(), number.clone());
            let buyer = buyers[i % ACCOUNTS].clone();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let t0 = Instant::now();
                let r = api.purchase(&buyer, &number).await;
                (i, buyer, r, t0.elapsed())
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.expect("a client task"));
        }

        let (won, lost): (Vec<_>, Vec<_>) = results
            .into_iter()
            .partition(|(_, _, r, _)| r.status == StatusCode::OK);
        assert_eq!(
            won.len(),
            1,
            "{}: exactly one purchase of {number} succeeds: {won:#?}",
            c.label
        );
        for (i, _, r, _) in &lost {
            assert_eq!(
                (r.status, &r.body),
                (
                    StatusCode::NOT_FOUND,
                    &json!({"error": "not_found", "message": NOT_IN_INVENTORY})
                ),
                "{}: client {i} lost the race for {number}",
                c.label
            );
        }
        let (winner_client, winner, reply, winner_latency) = &won[0];
        assert_eq!(reply.body["message"], "Number purchased successfully");
        assert_eq!(reply.body["number"]["e164"], json!(number));
        assert_eq!(reply.body["number"]["account_id"], json!(winner.id));
        let n = c.number(number).await;
        assert_eq!(n.state, NumberState::Active);
        assert_eq!(n.owner_id, Some(account_id(winner)));
        *wins.entry(winner.clone()).or_default() += 1;
        report.push(format!(
            "{number}: won by client {winner_client} ({}, node {}) in {winner_latency:?}; \
             63 x 404, loser latency median {:?}, max {:?}",
            winner.id,
            c.node_of(*winner_client),
            median(lost.iter().map(|l| l.3).collect()),
            lost.iter().map(|l| l.3).max().unwrap_or_default()
        ));
    }

    // Money: each account paid exactly once per number it won, and nothing else moved.
    for buyer in &buyers {
        let won = wins.get(buyer).copied().unwrap_or(0);
        assert_eq!(
            c.balance(buyer).await,
            inr(BALANCE - PRICE * won),
            "{}: {} won {won}",
            c.label,
            buyer.id
        );
        let ledger = c.ledger(buyer).await;
        let debits: Vec<_> = ledger.iter().filter(|e| e.amount < Decimal::ZERO).collect();
        assert_eq!(
            debits.len() as i64,
            2 * won,
            "{}: setup + monthly per win",
            c.label
        );
        let spent: Decimal = debits.iter().map(|e| -e.amount).sum();
        assert_eq!(spent, inr(PRICE * won));
    }
    c.assert_consistent().await;

    for line in &report {
        eprintln!("{}: {line}", c.label);
    }
    summary(&format!(
        "RACE {}: {ROUNDS} rounds x {CLIENTS} clients on one number: {ROUNDS} x (1 x 200, 63 x 404); \
         {} distinct winning accounts; balances debited once per win; check ok",
        c.label,
        wins.len()
    ));
}

// ---------------------------------------------------------------------------------------------
// 2. Many clients, distinct numbers, one small balance.

/// 32 clients buy 200 distinct numbers for one account whose balance pays for 57 of them: exactly
/// 57 succeed, the rest get the documented 500, the balance never goes below zero (every ledger
/// entry's running balance is one step of a single serial chain), successes × price is exactly
/// what was spent, and the account owns exactly the numbers it was told it bought.
async fn distinct_numbers_small_balance(backend: Backend, topology: Topology) {
    const CLIENTS: usize = 32;
    const NUMBERS: u32 = 200;
    const SETUP: i64 = 10;
    const MONTHLY: i64 = 30;
    const PRICE: i64 = SETUP + MONTHLY;
    const AFFORDABLE: i64 = 57;
    const LEFT_OVER: i64 = 17;
    const BALANCE: i64 = AFFORDABLE * PRICE + LEFT_OVER;

    let Some(c) = Cluster::start(backend, topology, "distinct_numbers_small_balance").await else {
        return;
    };
    let admin = c.client(0);
    let buyer = admin.master("small balance", BALANCE).await;
    let numbers: Vec<String> = (0..NUMBERS).map(|i| blr(1000 + i)).collect();
    admin.stock(&numbers, SETUP, MONTHLY).await;

    let started = Instant::now();
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (api, barrier, buyer) = (c.client(i), barrier.clone(), buyer.clone());
        let mine: Vec<String> = numbers.iter().skip(i).step_by(CLIENTS).cloned().collect();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut out = Vec::new();
            for n in mine {
                let r = api.purchase(&buyer, &n).await;
                out.push((n, r));
            }
            out
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.extend(t.await.expect("a client task"));
    }
    let elapsed = started.elapsed();
    assert_eq!(results.len(), NUMBERS as usize);

    let documented_500 = (
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"error": "internal_server_error", "message": "failed to purchase number"}),
    );
    let mut bought = BTreeSet::new();
    let mut refused = 0;
    for (n, r) in &results {
        if r.status == StatusCode::OK {
            assert_eq!(r.body["number"]["e164"], json!(n));
            bought.insert(n.clone());
        } else {
            assert_eq!(
                (r.status, r.body.clone()),
                documented_500,
                "{}: {n}",
                c.label
            );
            refused += 1;
        }
    }
    assert_eq!(bought.len() as i64, AFFORDABLE, "{}: successes", c.label);
    assert_eq!(refused, NUMBERS as i64 - AFFORDABLE);

    // Money: successes × price is what was spent, and what is left is the rest.
    assert_eq!(c.balance(&buyer).await, inr(LEFT_OVER));
    let ledger = c.ledger(&buyer).await;
    let debits: Vec<_> = ledger.iter().filter(|e| e.amount < Decimal::ZERO).collect();
    let spent: Decimal = debits.iter().map(|e| -e.amount).sum();
    assert_eq!(spent, inr(AFFORDABLE * PRICE), "{}: spent", c.label);
    assert_eq!(
        debits
            .iter()
            .filter(|e| e.kind == EntryKind::DidPurchase)
            .count() as i64,
        AFFORDABLE
    );
    // Never below zero, and no lost update: the running balances are exactly the steps of one
    // serial chain of purchases (a purchase that read a stale balance would repeat a step).
    assert!(
        ledger.iter().all(|e| e.balance_after >= Decimal::ZERO),
        "{}: a balance went below zero",
        c.label
    );
    let steps: BTreeSet<Decimal> = debits.iter().map(|e| e.balance_after).collect();
    let expected: BTreeSet<Decimal> = (0..AFFORDABLE)
        .flat_map(|k| [BALANCE - k * PRICE - SETUP, BALANCE - (k + 1) * PRICE])
        .map(inr)
        .collect();
    assert_eq!(
        steps.len(),
        debits.len(),
        "{}: a repeated balance step",
        c.label
    );
    assert_eq!(steps, expected, "{}: the chain of balances", c.label);

    // Ownership: exactly the acknowledged purchases; every other number is still in inventory.
    let mut q = NumberQuery::new(
        Holder::Account(account_id(&buyer)),
        vec![NumberState::Active],
    );
    q.limit = 1000;
    let owned: BTreeSet<String> =
        c.db.store
            .numbers(&q)
            .await
            .expect("listing numbers")
            .items
            .iter()
            .map(|n| n.e164.to_string())
            .collect();
    assert_eq!(owned, bought, "{}: owned = acknowledged", c.label);
    let mut q = NumberQuery::new(Holder::Nobody, vec![NumberState::Available]);
    q.limit = 1000;
    let stock = c.db.store.numbers(&q).await.expect("listing inventory");
    assert_eq!(stock.total, u64::from(NUMBERS) - bought.len() as u64);
    c.assert_consistent().await;

    summary(&format!(
        "RACE {}: {CLIENTS} clients x {NUMBERS} distinct numbers on a balance for {AFFORDABLE}: \
         {} x 200, {refused} x 500 (documented), spent {spent} = {} x {PRICE}, left {LEFT_OVER}, \
         lowest running balance {}, {:?}; check ok",
        c.label,
        bought.len(),
        bought.len(),
        ledger
            .iter()
            .map(|e| e.balance_after)
            .min()
            .unwrap_or_default(),
        elapsed
    ));
}

// ---------------------------------------------------------------------------------------------
// 3. Release racing assign-to-trunk and unassign-from-sub-account.

/// The three commands that race on one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Op {
    /// `DELETE …/numbers/{e164}` by the releaser (the master account, or the sub-account
    /// holding the number).
    Release,
    /// `POST …/numbers/{e164}/assign` by the master account, with its trunk.
    AssignTrunk,
    /// `DELETE …/numbers/{e164}/assign-subaccount` by the master account.
    UnassignSub,
}

const OPS: [Op; 3] = [Op::Release, Op::AssignTrunk, Op::UnassignSub];

impl Op {
    /// The audit event a success writes.
    fn action(self) -> &'static str {
        match self {
            Op::Release => "released",
            Op::AssignTrunk => "assigned_to_trunk",
            Op::UnassignSub => "unassigned_from_sub_account",
        }
    }
}

/// Who holds the number, in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Holds {
    Nobody,
    Master,
    Sub,
}

/// What one race left behind: each command's answer, the number's state, and the audit
/// actions it appended, in order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Outcome {
    answers: Vec<(Op, u16, String)>,
    state: &'static str,
    holder: Holds,
    on_trunk: bool,
    actions: Vec<&'static str>,
}

/// An answer as one comparable line: the status, then the body if there is one.
fn answer(status: u16, body: &Value) -> String {
    if body.is_null() {
        format!("{status}")
    } else {
        format!("{status} {body}")
    }
}

/// The outcome of running the three commands one after another in `order`, from an active
/// number the master account has handed to its sub-account, by the rules in
/// `didpool_core::lifecycle`.
fn serial(order: &[Op], releaser_is_master: bool) -> Outcome {
    let (mut active, mut holder, mut on_trunk) = (true, Holds::Sub, false);
    let mut answers = Vec::new();
    let mut actions = Vec::new();
    for &op in order {
        let ok = match op {
            // The master pays for the number, so it may release it while it is active; the
            // sub-account only while it holds it.
            Op::Release => active && (releaser_is_master || holder == Holds::Sub),
            Op::AssignTrunk => active && !on_trunk,
            Op::UnassignSub => active && holder == Holds::Sub,
        };
        let (status, body) = if ok {
            actions.push(op.action());
            match op {
                Op::Release => (active, holder, on_trunk) = (false, Holds::Nobody, false),
                Op::AssignTrunk => on_trunk = true,
                Op::UnassignSub => holder = Holds::Master,
            }
            (204, Value::Null)
        } else {
            match op {
                Op::Release => (
                    403,
                    json!({"error": "forbidden", "message": "account does not own this number"}),
                ),
                Op::AssignTrunk => (
                    404,
                    json!({"error": "Number not found", "message": "The phone number could not be found. Ensure it is in your inventory and URL-encoded correctly."}),
                ),
                Op::UnassignSub => (
                    404,
                    json!({"error": "not_found", "message": "number or sub-account not found"}),
                ),
            }
        };
        answers.push((op, status, answer(status, &body)));
    }
    answers.sort();
    Outcome {
        answers,
        state: if active { "active" } else { "available" },
        holder,
        on_trunk,
        actions,
    }
}

fn permutations() -> Vec<Vec<Op>> {
    let mut all = Vec::new();
    for a in OPS {
        for b in OPS {
            for c in OPS {
                if a != b && b != c && a != c {
                    all.push(vec![a, b, c]);
                }
            }
        }
    }
    all
}

/// Every outcome some serial order gives, with the orders that give it.
fn allowed(releaser_is_master: bool) -> BTreeMap<Outcome, Vec<Vec<Op>>> {
    let mut out: BTreeMap<Outcome, Vec<Vec<Op>>> = BTreeMap::new();
    for order in permutations() {
        out.entry(serial(&order, releaser_is_master))
            .or_default()
            .push(order);
    }
    out
}

/// Over several rounds, for several numbers at once: the master account buys a number and hands
/// it to its sub-account, then three clients at the same instant release it (as the master, or as
/// the sub-account), assign it to the master's trunk, and take it back from the sub-account.
/// Every answer, the number's final state and its audit trail must be those of one of the six
/// serial orders.
async fn release_against_trunk_and_sub_account(backend: Backend, topology: Topology) {
    const ROUNDS: usize = 6;
    const PER_ROUND: usize = 4;

    let Some(c) = Cluster::start(backend, topology, "release_against_trunk_and_sub_account").await
    else {
        return;
    };
    // The allowed outcomes, enumerated once; they are printed with the figures.
    let allowed_by_master = allowed(true);
    let allowed_by_sub = allowed(false);
    assert_eq!(allowed_by_master.len(), 5, "{allowed_by_master:#?}");
    assert_eq!(allowed_by_sub.len(), 4, "{allowed_by_sub:#?}");

    let admin = c.client(0);
    let master = admin.master("owner", 100_000).await;
    let sub = admin.sub_account(&master, "team").await;
    let trunk = admin.trunk(&master, "main trunk").await;
    let numbers: Vec<String> = (0..ROUNDS * PER_ROUND)
        .map(|i| blr(2000 + i as u32))
        .collect();
    admin.stock(&numbers, 1, 2).await;

    let mut seen: BTreeMap<(bool, Vec<Vec<Op>>), usize> = BTreeMap::new();
    let mut client_no = 0;
    for round in 0..ROUNDS {
        let batch = &numbers[round * PER_ROUND..(round + 1) * PER_ROUND];
        let mut before = Vec::new();
        for n in batch {
            assert_eq!(admin.purchase(&master, n).await.status, StatusCode::OK);
            let r = admin.assign_sub(&master, n, &sub).await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
            before.push(
                c.db.store
                    .events(&c.number(n).await.id.into())
                    .await
                    .expect("events")
                    .len(),
            );
        }

        let barrier = Arc::new(Barrier::new(PER_ROUND * OPS.len()));
        let mut tasks = Vec::new();
        for (k, n) in batch.iter().enumerate() {
            let releaser = if k % 2 == 0 { &master } else { &sub };
            for op in OPS {
                let api = c.client(client_no);
                client_no += 1;
                let (barrier, n, trunk) = (barrier.clone(), n.clone(), trunk.clone());
                let (master, releaser) = (master.clone(), releaser.clone());
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    let r: Reply = match op {
                        Op::Release => api.release(&releaser, &n).await,
                        Op::AssignTrunk => api.assign_trunk(&master, &n, &trunk).await,
                        Op::UnassignSub => api.unassign_sub(&master, &n).await,
                    };
                    (k, op, r)
                }));
            }
        }
        let mut answers: Vec<Vec<(Op, u16, String)>> = vec![Vec::new(); PER_ROUND];
        for t in tasks {
            let (k, op, r) = t.await.expect("a client task");
            answers[k].push((op, r.status.as_u16(), answer(r.status.as_u16(), &r.body)));
        }

        for (k, n) in batch.iter().enumerate() {
            let by_master = k % 2 == 0;
            let num = c.number(n).await;
            let events = c.db.store.events(&num.id.into()).await.expect("events");
            let mut mine = answers[k].clone();
            mine.sort();
            let observed = Outcome {
                answers: mine,
                state: num.state.as_str(),
                holder: match &num.owner_id {
                    None => Holds::Nobody,
                    Some(o) if o.as_str() == master.id => Holds::Master,
                    Some(o) if o.as_str() == sub.id => Holds::Sub,
                    Some(o) => panic!("{n} is held by a stranger {o}"),
                },
                on_trunk: num.trunk_id.is_some(),
                actions: events[before[k]..]
                    .iter()
                    .map(|e| {
                        OPS.iter()
                            .map(|op| op.action())
                            .find(|a| *a == e.action)
                            .unwrap_or_else(|| panic!("unexpected event {}", e.action))
                    })
                    .collect(),
            };
            let table = if by_master {
                &allowed_by_master
            } else {
                &allowed_by_sub
            };
            let Some(orders) = table.get(&observed) else {
                panic!(
                    "{}: round {round}, {n} (released by the {}): {observed:#?}\n\
                     is the outcome of no serial order; allowed:\n{table:#?}",
                    c.label,
                    if by_master { "master" } else { "sub-account" }
                );
            };
            *seen.entry((by_master, orders.clone())).or_default() += 1;
        }
    }
    c.assert_consistent().await;

    for ((by_master, orders), count) in &seen {
        eprintln!(
            "{}: released by the {}: {count} race(s) ended as the serial order(s) {orders:?}",
            c.label,
            if *by_master { "master" } else { "sub-account" }
        );
    }
    summary(&format!(
        "RACE {}: {} races of release / assign-trunk / unassign-sub-account: every outcome a \
         serial one ({} distinct outcome classes seen of 9 possible); check ok",
        c.label,
        ROUNDS * PER_ROUND,
        seen.len()
    ));
}

// ---------------------------------------------------------------------------------------------
// 4. Two SIP-config changes at once, on the Diga face.

/// The SIP settings of an imported number, as the test expects them.
#[derive(Debug, Clone, PartialEq)]
struct Sip {
    termination_uri: String,
    username: String,
    password: String,
    allowed_addresses: Vec<String>,
    inbound_media_encryption: &'static str,
    outbound_media_encryption: &'static str,
}

impl Sip {
    /// `sip_config` as `GET /v1/phone/{id}` shows it (never the password).
    fn shown(&self) -> Value {
        json!({
            "termination_uri": self.termination_uri,
            "username": self.username,
            "inbound_media_encryption": self.inbound_media_encryption,
            "outbound_media_encryption": self.outbound_media_encryption,
            "allowed_addresses": self.allowed_addresses,
        })
    }
}

/// One client's change: a single setting.
#[derive(Debug, Clone)]
enum SipChange {
    TerminationUri(String),
    AllowedAddresses(Vec<String>),
    Username(String),
    Password(String),
    InboundEncryption(&'static str),
    OutboundEncryption(&'static str),
}

impl SipChange {
    /// The `PATCH /v1/phone/{id}/sip-config` body that makes it, and nothing else.
    fn body(&self) -> Value {
        match self {
            Self::TerminationUri(v) => json!({"outbound_config": {"termination_uri": v}}),
            Self::AllowedAddresses(v) => json!({"inbound_config": {"allowed_addresses": v}}),
            Self::Username(v) => json!({"outbound_config": {"username": v}}),
            Self::Password(v) => json!({"outbound_config": {"password": v}}),
            Self::InboundEncryption(v) => json!({"inbound_config": {"media_encryption": v}}),
            Self::OutboundEncryption(v) => json!({"outbound_config": {"media_encryption": v}}),
        }
    }

    fn apply(&self, mut s: Sip) -> Sip {
        match self {
            Self::TerminationUri(v) => s.termination_uri.clone_from(v),
            Self::AllowedAddresses(v) => s.allowed_addresses.clone_from(v),
            Self::Username(v) => s.username.clone_from(v),
            Self::Password(v) => s.password.clone_from(v),
            Self::InboundEncryption(v) => s.inbound_media_encryption = v,
            Self::OutboundEncryption(v) => s.outbound_media_encryption = v,
        }
        s
    }
}

/// The two changes of a round: settings of one number that neither change touches twice, each a
/// new value (the outbound trunk against the inbound allow-list, username against password,
/// inbound against outbound encryption).
fn sip_changes(round: usize, number: usize) -> [SipChange; 2] {
    let tag = format!("{round}-{number}");
    let flip = (round / 3).is_multiple_of(2);
    match round % 3 {
        0 => [
            SipChange::TerminationUri(format!("sip-{tag}.example.com")),
            SipChange::AllowedAddresses(vec![format!("10.{round}.{number}.0/24")]),
        ],
        1 => [
            SipChange::Username(format!("user-{tag}")),
            SipChange::Password(format!("secret-{tag}")),
        ],
        _ => [
            SipChange::InboundEncryption(if flip { "require" } else { "disable" }),
            SipChange::OutboundEncryption(if flip { "disable" } else { "require" }),
        ],
    }
}

/// Two clients change different SIP settings of the same imported number at the same instant
/// (`PATCH /v1/phone/{id}/sip-config`), on several numbers at once, round after round: every
/// answer is 200 with its own change made (and the other's, if that went first), and afterwards
/// `GET /v1/phone/{id}` shows both changes (the password, never shown, is read from the store).
/// Each change writes its one `sip_config_changed` event.
async fn two_sip_config_changes_at_once(backend: Backend, topology: Topology) {
    const NUMBERS: usize = 4;
    const ROUNDS: usize = 12;

    let Some(c) = Cluster::start(backend, topology, "two_sip_config_changes_at_once").await else {
        return;
    };
    let admin = c.client(0);
    let owner = admin.master("brings its own numbers", 0).await;
    let key = admin.diga_key(&owner).await;
    let start = Sip {
        termination_uri: "start.example.com".into(),
        username: "start".into(),
        password: "start-secret".into(),
        allowed_addresses: vec!["192.0.2.1".into()],
        inbound_media_encryption: "allow",
        outbound_media_encryption: "allow",
    };
    let mut phones = Vec::new();
    for i in 0..NUMBERS {
        let e164 = blr(3000 + i as u32);
        let r = admin
            .diga(
                reqwest::Method::POST,
                "/v1/phone/import",
                &key,
                Some(json!({
                    "phone_number": e164,
                    "inbound_config": {"allowed_addresses": start.allowed_addresses},
                    "outbound_config": {"termination_uri": start.termination_uri,
                                        "username": start.username, "password": start.password},
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "importing {e164}: {}", r.body);
        assert_eq!(r.body["sip_config"], start.shown());
        let id = r.body["id"].as_str().expect("an id").to_owned();
        phones.push((e164, id, start.clone()));
    }
    let clients: Vec<Api> = (0..2 * NUMBERS).map(|i| c.client(i)).collect();

    let mut both_orders = BTreeSet::new();
    for round in 0..ROUNDS {
        let barrier = Arc::new(Barrier::new(2 * NUMBERS));
        let mut tasks = Vec::new();
        for (k, (_, id, _)) in phones.iter().enumerate() {
            for (side, change) in sip_changes(round, k).into_iter().enumerate() {
                let api = clients[2 * k + side].clone();
                let (barrier, key, id) = (barrier.clone(), key.clone(), id.clone());
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    let path = format!("/v1/phone/{id}/sip-config");
                    let r = api
                        .diga(reqwest::Method::PATCH, &path, &key, Some(change.body()))
                        .await;
                    (k, side, r)
                }));
            }
        }
        let mut answers: Vec<[Option<Reply>; 2]> = vec![[None, None]; NUMBERS];
        for t in tasks {
            let (k, side, r) = t.await.expect("a client task");
            answers[k][side] = Some(r);
        }

        for (k, (e164, id, sip)) in phones.iter_mut().enumerate() {
            let changes = sip_changes(round, k);
            let both = changes[1].apply(changes[0].apply(sip.clone()));
            // Each answer shows its own change, made on the settings as they stood: before the
            // other change or after it.
            for side in 0..2 {
                let r = answers[k][side].take().expect("an answer");
                assert_eq!(
                    r.status,
                    StatusCode::OK,
                    "{}: round {round}, {e164}, {:?}: {}",
                    c.label,
                    changes[side],
                    r.body
                );
                let alone = changes[side].apply(sip.clone());
                let shown = &r.body["sip_config"];
                let went_first = *shown == alone.shown();
                assert!(
                    went_first || *shown == both.shown(),
                    "{}: round {round}, {e164}: the answer to {:?} shows {shown}, neither {} nor {}",
                    c.label,
                    changes[side],
                    alone.shown(),
                    both.shown()
                );
                if went_first && alone.shown() != both.shown() {
                    both_orders.insert(side);
                }
            }
            let r = admin
                .diga(reqwest::Method::GET, &format!("/v1/phone/{id}"), &key, None)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            assert_eq!(
                r.body["sip_config"],
                both.shown(),
                "{}: round {round}, {e164}: both changes kept ({changes:?})",
                c.label
            );
            let stored = c.number(e164).await.sip_config.expect("a SIP config");
            assert_eq!(
                stored.password.as_deref(),
                Some(both.password.as_str()),
                "{}: round {round}, {e164}: the password",
                c.label
            );
            *sip = both;
        }
    }

    // One event per change, none lost, none doubled.
    for (e164, _, _) in &phones {
        let changed = admin
            .events(e164)
            .await
            .iter()
            .filter(|e| e["action"] == "sip_config_changed")
            .count();
        assert_eq!(changed, 2 * ROUNDS, "{}: {e164}", c.label);
    }
    c.assert_consistent().await;
    summary(&format!(
        "RACE {}: {ROUNDS} rounds x {NUMBERS} numbers x 2 concurrent SIP-config changes: every \
         answer 200 and serial, both changes kept every time ({} of 2 sides seen going first); \
         check ok",
        c.label,
        both_orders.len()
    ));
}
