//! The write path alone, in-process and bounded: stocks `COUNT` numbers from `START`, then one
//! account per client buys its share and releases it, and prints this process's CPU time per
//! purchase and per release (didpool's own CPU: on PostgreSQL the server's is not counted). Small
//! enough to run under `valgrind --tool=callgrind`.
//!
//! `cargo run --release -p didpool-bench --example writes -- URL START COUNT CLIENTS`
//! (URL `sqlite:///tmp/w.db` or `postgres://…`; START an E.164 without `+`, e.g. 14152000000).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use didpool_core::account::NewAccount;
use didpool_core::credential::TokenHash;
use didpool_core::engine::By;
use didpool_core::lifecycle::{Command, ReleaseMode};
use didpool_core::money::Decimal;
use didpool_core::number::NewNumber;
use didpool_core::{
    AccountProfile, Capabilities, Currency, Engine, ReleasePolicy, Role, SystemClock, E164,
};
use didpool_store::{Durability, Options};

/// This process's user + system CPU, in clock ticks (1/100 s).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, start, count, clients] = &args[..] else {
        anyhow::bail!("usage: writes URL START COUNT CLIENTS");
    };
    let start: u64 = start.parse().context("START")?;
    let count: u64 = count.parse().context("COUNT")?;
    let clients: u64 = clients.parse().context("CLIENTS")?;
    let options = Options {
        durability: Durability::Full,
        pool_size: Some(10),
        create_if_missing: true,
        ..Options::default()
    };
    let store = didpool_store::open(url, &options).await?;
    let engine = Engine::new(store, Arc::new(SystemClock), ReleasePolicy::default());
    let op = By::operator(None);
    let usd = Currency::parse("USD").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let e = move |i: u64| E164::parse(&format!("+{}", start + i)).expect("a valid number");
    let mut numbers = Vec::new();
    for i in 0..count {
        numbers.push(NewNumber {
            e164: e(i),
            country: "US".into(),
            region: None,
            capabilities: Capabilities::VOICE,
            provider: String::new(),
            setup_fee: Decimal::ZERO,
            monthly_fee: Decimal::ONE,
            currency: usd.clone(),
        });
    }
    for chunk in numbers.chunks(5_000) {
        let cmd = Command::AddInventory {
            numbers: chunk.to_vec(),
        };
        engine.run(&op, cmd).await?;
    }
    let mut bys = Vec::new();
    for i in 0..clients {
        let account = NewAccount {
            id: None,
            name: format!("writes {i}"),
            role: Role::Customer,
            currency: usd.clone(),
            opening_balance: Decimal::from(1_000_000_000),
            enabled: true,
            profile: AccountProfile::default(),
        };
        let cmd = Command::CreateAccount {
            account,
            parent: None,
            token_hash: TokenHash::of(&format!("writes {start} {i}")),
            session: false,
        };
        let outcome = engine.run(&op, cmd).await?;
        let account = outcome
            .changes
            .accounts
            .first()
            .map(|w| w.row().clone())
            .context("no account created")?;
        bys.push(By::account(&account, None));
    }
    let bys = Arc::new(bys);
    let per = count / clients;
    for phase in ["purchase", "release"] {
        let (t, cpu) = (Instant::now(), cpu_ticks());
        let mut tasks = Vec::new();
        for c in 0..clients {
            let (engine, bys) = (engine.clone(), bys.clone());
            tasks.push(tokio::spawn(async move {
                let mut failed = 0u64;
                for k in 0..per {
                    let number = e(c * per + k).into();
                    let cmd = if phase == "purchase" {
                        Command::Purchase {
                            number,
                            currency: None,
                            quoted_monthly_fee: None,
                        }
                    } else {
                        Command::Release {
                            number,
                            mode: ReleaseMode::Policy,
                        }
                    };
                    if let Err(err) = engine.run(&bys[c as usize], cmd).await {
                        failed += 1;
                        eprintln!("{phase}: {err}");
                    }
                }
                failed
            }));
        }
        let mut failed = 0;
        for t in tasks {
            failed += t.await?;
        }
        let secs = t.elapsed().as_secs_f64();
        let ops = per * clients;
        let cpu_ms = (cpu_ticks() - cpu) as f64 * 10.0;
        println!(
            "{phase}: {ops} ops ({failed} failed) in {secs:.2} s, {:.0}/s, CPU {:.3} ms/op",
            ops as f64 / secs,
            cpu_ms / ops as f64
        );
    }
    Ok(())
}
