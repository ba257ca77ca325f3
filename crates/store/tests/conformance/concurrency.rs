//! Commands running at once: each one all or nothing, none affected by its neighbours.

use std::sync::Arc;

use didpool_core::account::Role;
use didpool_core::credential::TokenHash;
use didpool_core::engine::By;
use didpool_core::lifecycle::{Changes, Command};
use didpool_core::store::{Holder, NumberQuery, SubAccountQuery};
use didpool_core::{Engine, EngineError, NumberState, Store};
use futures::future::join_all;
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

use crate::support::{dec, e164, indian_numbers, new_account, new_number, sum, World};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Ok,
    NotInInventory,
    InsufficientBalance,
    AlreadyExists,
}

impl Expect {
    fn matches(self, result: &Result<Changes, EngineError>) -> bool {
        matches!(
            (self, result),
            (Expect::Ok, Ok(_))
                | (Expect::NotInInventory, Err(EngineError::NotInInventory))
                | (
                    Expect::InsufficientBalance,
                    Err(EngineError::InsufficientBalance { .. })
                )
                | (Expect::AlreadyExists, Err(EngineError::AlreadyExists(_)))
        )
    }
}

/// Commands started together: each task waits at the barrier until all have been spawned.
#[derive(Default)]
struct Batch {
    commands: Vec<(Expect, By, Command)>,
}

impl Batch {
    fn add(&mut self, expect: Expect, by: &By, cmd: Command) {
        self.commands.push((expect, by.clone(), cmd));
    }

    async fn run(self, engine: &Engine) -> Vec<(Expect, Result<Changes, EngineError>)> {
        let barrier = Arc::new(Barrier::new(self.commands.len()));
        let tasks: Vec<(Expect, JoinHandle<_>)> = self
            .commands
            .into_iter()
            .map(|(expect, by, cmd)| {
                let engine = engine.clone();
                let barrier = Arc::clone(&barrier);
                let task = tokio::spawn(async move {
                    barrier.wait().await;
                    engine.run(&by, cmd).await.map(|o| o.changes)
                });
                (expect, task)
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for (expect, task) in tasks {
            results.push((expect, task.await.expect("the command's task")));
        }
        results
    }
}

fn purchase(number: &str) -> Command {
    Command::Purchase {
        number: e164(number).into(),
        currency: None,
        quoted_monthly_fee: None,
    }
}

pub async fn a_failing_command_in_a_concurrent_batch_does_not_affect_the_others(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let wanted = indian_numbers(0, 50);
    let too_dear = indian_numbers(100, 5);
    let never_stocked = indian_numbers(500, 5);
    let stocking = wanted.iter().chain(&too_dear).map(|n| w.stock(n, "1", "2"));
    let stocked = join_all(stocking).await;
    // Exactly enough for the fifty it wants.
    let (rich, rich_token) = w
        .engine
        .create_account(
            &w.operator(),
            new_account("Rich", Role::Customer, "150"),
            None,
        )
        .await
        .unwrap();
    let poor = w.master("Poor", "2").await;
    let (by_rich, by_poor) = (w.by(&rich), w.by(&poor));

    let mut batch = Batch::default();
    for n in &wanted {
        batch.add(Expect::Ok, &by_rich, purchase(n));
    }
    for n in &never_stocked {
        batch.add(Expect::NotInInventory, &by_rich, purchase(n));
    }
    for n in &too_dear {
        batch.add(Expect::InsufficientBalance, &by_poor, purchase(n));
    }
    for n in &wanted[..5] {
        let again = Command::AddInventory {
            numbers: vec![new_number(n, "9", "9")],
        };
        batch.add(Expect::AlreadyExists, &w.operator(), again);
    }
    for i in 0..5 {
        // Writes the sub-account row, then fails on the taken token hash.
        let twin = Command::CreateAccount {
            account: new_account(&format!("twin {i}"), Role::Customer, "0"),
            parent: Some(rich.id.clone()),
            token_hash: TokenHash::of(&rich_token),
            session: false,
        };
        batch.add(Expect::AlreadyExists, &by_rich, twin);
        let sub = Command::CreateAccount {
            account: new_account(&format!("sub {i}"), Role::Customer, "0"),
            parent: Some(rich.id.clone()),
            token_hash: TokenHash::of(&format!("fresh token {i}")),
            session: false,
        };
        batch.add(Expect::Ok, &by_rich, sub);
    }
    let results = batch.run(&w.engine).await;

    assert_eq!(results.len(), 75);
    for (expect, result) in &results {
        assert!(
            expect.matches(result),
            "expected {expect:?}, got {result:?}"
        );
    }

    assert_eq!(w.balance(&rich.id).await, dec("0"));
    let ledger = w.ledger(&rich.id).await;
    assert_eq!(ledger.total, 1 + 2 * 50);
    assert_eq!(sum(&ledger.entries), w.balance(&rich.id).await);
    assert_eq!(ledger.total_debit, dec("150"));
    let mut running = dec("0");
    for e in ledger.entries.iter().rev() {
        running += e.amount;
        assert_eq!(e.balance_after, running, "{e:?}");
    }

    let mut held = NumberQuery::new(Holder::Account(rich.id.clone()), NumberState::ALL.to_vec());
    held.limit = 100;
    let held = w.numbers(held).await;
    assert_eq!(held.total, 50);
    let mut held_e164s: Vec<String> = held.items.iter().map(|n| n.e164.to_string()).collect();
    held_e164s.sort();
    assert_eq!(held_e164s, wanted);

    for n in stocked.iter() {
        let expected = if wanted.contains(&n.e164.to_string()) {
            vec!["stocked", "purchased"]
        } else {
            vec!["stocked"]
        };
        assert_eq!(w.actions(n).await, expected, "{}", n.e164);
    }
    for n in &too_dear {
        let number = w.number(&e164(n)).await;
        assert_eq!(number.state, NumberState::Available);
        assert_eq!(number.owner_id, None);
    }
    for n in &wanted[..5] {
        assert_eq!(w.number(&e164(n)).await.setup_fee, dec("1"));
    }
    for n in &never_stocked {
        assert_eq!(w.store.number_by_e164(&e164(n)).await.unwrap(), None);
    }
    assert_eq!(w.account(&poor.id).await, poor);
    assert_eq!(w.ledger(&poor.id).await.total, 1);

    let subs = w
        .store
        .sub_accounts(
            &rich.id,
            &SubAccountQuery {
                active_only: false,
                limit: 100,
                offset: 0,
            },
        )
        .await
        .unwrap();
    let mut names: Vec<_> = subs.items.iter().map(|a| a.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["sub 0", "sub 1", "sub 2", "sub 3", "sub 4"]);
    assert_eq!(subs.total, 5);
}

pub async fn concurrent_purchases_of_the_same_number_sell_it_exactly_once(store: Arc<dyn Store>) {
    let w = World::new(store);
    let stocked = w.stock("+919876543210", "100", "300").await;
    let buyers = join_all(
        (0..32).map(|i| w.master_with(new_account(&format!("buyer {i}"), Role::Customer, "400"))),
    )
    .await;

    // Each buyer tries twice: 64 purchases of one number at once.
    let mut batch = Batch::default();
    for buyer in buyers.iter().chain(&buyers) {
        batch.add(Expect::Ok, &w.by(buyer), purchase("+919876543210"));
    }
    let results = batch.run(&w.engine).await;

    let sold: Vec<&Changes> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    assert_eq!(sold.len(), 1, "sold once");
    for (_, result) in &results {
        assert!(
            matches!(result, Ok(_) | Err(EngineError::NotInInventory)),
            "{result:?}"
        );
    }

    let number = w.number(&stocked.e164).await;
    assert_eq!(&number, sold[0].number().unwrap());
    let winner = number.owner_id.clone().expect("an owner");
    assert_eq!(w.actions(&stocked).await, ["stocked", "purchased"]);

    let mut total = dec("0");
    for buyer in &buyers {
        let balance = w.balance(&buyer.id).await;
        let ledger = w.ledger(&buyer.id).await;
        assert_eq!(sum(&ledger.entries), balance);
        if buyer.id == winner {
            assert_eq!(balance, dec("0"));
            assert_eq!(ledger.total, 3);
        } else {
            assert_eq!(balance, dec("400"));
            assert_eq!(ledger.total, 1);
        }
        total += balance;
    }
    assert_eq!(total, dec("400") * dec("31"));
}
