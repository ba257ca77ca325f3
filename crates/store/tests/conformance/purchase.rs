//! Purchases and releases: the number, the balance, the ledger and the events move together.

use std::sync::Arc;

use chrono::Duration;
use didpool_core::audit::Actor;
use didpool_core::engine::By;
use didpool_core::ledger::{EntryKind, LedgerEntry};
use didpool_core::lifecycle::{Command, ReleaseMode};
use didpool_core::store::{Holder, KindTotal, LedgerQuery, NumberQuery};
use didpool_core::{EngineError, NumberState, ReleasePolicy, Store};

use crate::support::{dec, ledger_query, sum, World};

/// Each entry's `balance_after` is the running sum of the entries up to it (oldest first).
fn assert_balances_chain(newest_first: &[LedgerEntry]) {
    let mut running = dec("0");
    for e in newest_first.iter().rev() {
        running += e.amount;
        assert_eq!(e.balance_after, running, "{e:?}");
    }
}

fn sorted(mut by_kind: Vec<KindTotal>) -> Vec<KindTotal> {
    by_kind.sort_by_key(|k| k.kind.as_str());
    by_kind
}

pub async fn a_purchase_debits_the_balance_and_lists_ledger_entries_newest_first(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let buyer = w.master("Buyer", "1000").await;
    let opening = w.ledger(&buyer.id).await.entries;
    let stocked = w.stock("+919876543210", "100", "300").await;
    w.clock.advance(Duration::minutes(1));

    let changes = w.purchase(&buyer, &stocked.e164).await.unwrap();

    let number = changes.number().unwrap().clone();
    assert_eq!(number.state, NumberState::Active);
    assert_eq!(number.owner_id.as_ref(), Some(&buyer.id));
    assert_eq!(number.billing_id.as_ref(), Some(&buyer.id));
    assert_eq!(number.purchased_at, Some(w.engine.now()));
    assert_eq!(w.number(&stocked.e164).await, number);
    assert_eq!(w.store.number(stocked.id).await.unwrap(), Some(number));

    let payer = changes.account().unwrap().clone();
    assert_eq!(payer.balance, dec("600"));
    assert_eq!(w.account(&buyer.id).await, payer);

    let ledger = w.ledger(&buyer.id).await;
    let mut expected: Vec<LedgerEntry> = opening.iter().chain(&changes.ledger).cloned().collect();
    expected.reverse();
    assert_eq!(ledger.entries, expected);
    let kinds: Vec<EntryKind> = ledger.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::DidRental,
            EntryKind::DidPurchase,
            EntryKind::Payment
        ]
    );
    assert_eq!(
        Some(ledger.entries[0].reference.as_str()),
        Some("did:+919876543210")
    );
    assert_eq!(ledger.total, 3);
    assert_eq!(ledger.total_debit, dec("400"));
    assert_eq!(ledger.total_credit, dec("1000"));
    assert_eq!(
        sorted(ledger.by_kind),
        sorted(vec![
            KindTotal {
                kind: EntryKind::Payment,
                total_debit: dec("0"),
                total_credit: dec("1000"),
                count: 1,
            },
            KindTotal {
                kind: EntryKind::DidPurchase,
                total_debit: dec("100"),
                total_credit: dec("0"),
                count: 1,
            },
            KindTotal {
                kind: EntryKind::DidRental,
                total_debit: dec("300"),
                total_credit: dec("0"),
                count: 1,
            },
        ])
    );
    assert_eq!(sum(&ledger.entries), w.balance(&buyer.id).await);
    assert_balances_chain(&ledger.entries);
    assert_eq!(w.actions(&stocked).await, ["stocked", "purchased"]);
}

pub async fn ledger_filters_and_pages_keep_totals_over_the_whole_filtered_set(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let acc = w.master("Ledgered", "1000").await;
    let first = w.stock("+919876543210", "100", "300").await;
    let second = w.stock("+919876543211", "10", "20").await;
    let other = w.master("Someone else", "5").await;

    w.clock.advance(Duration::hours(1));
    let top_up_at = w.engine.now();
    w.run(
        &w.operator(),
        Command::TopUp {
            account: acc.id.clone(),
            amount: dec("50"),
            description: "top-up".into(),
        },
    )
    .await
    .unwrap();
    w.clock.advance(Duration::hours(1));
    let first_purchase_at = w.engine.now();
    w.purchase(&acc, &first.e164).await.unwrap();
    w.clock.advance(Duration::hours(1));
    w.purchase(&acc, &second.e164).await.unwrap();

    let all = w.ledger(&acc.id).await;
    assert_eq!(all.total, 6);
    assert_eq!(sum(&all.entries), dec("620"));
    assert_eq!(sum(&all.entries), w.balance(&acc.id).await);
    assert_balances_chain(&all.entries);
    assert!(all.entries.iter().all(|e| e.account_id == acc.id));
    assert!(all
        .entries
        .windows(2)
        .all(|p| p[0].created_at >= p[1].created_at));

    let q = |f: &dyn Fn(&mut LedgerQuery)| {
        let mut query = ledger_query(&acc.id);
        f(&mut query);
        let store = Arc::clone(&w.store);
        async move { store.ledger(&query).await.unwrap() }
    };

    let debits = q(&|q| q.debits = Some(true)).await;
    assert_eq!(debits.total, 4);
    assert_eq!(debits.total_debit, dec("430"));
    assert_eq!(debits.total_credit, dec("0"));
    assert!(debits.entries.iter().all(LedgerEntry::is_debit));

    let credits = q(&|q| q.debits = Some(false)).await;
    assert_eq!(credits.total, 2);
    assert_eq!(credits.total_credit, dec("1050"));
    assert_eq!(credits.total_debit, dec("0"));
    assert_eq!(credits.by_kind.len(), 1);
    assert_eq!(credits.by_kind[0].kind, EntryKind::Payment);
    assert_eq!(credits.by_kind[0].count, 2);

    let rentals = q(&|q| q.kind = Some(EntryKind::DidRental)).await;
    let amounts: Vec<_> = rentals.entries.iter().map(|e| e.amount).collect();
    assert_eq!(amounts, [dec("-20"), dec("-300")]);
    assert_eq!(rentals.total_debit, dec("320"));

    // Both bounds are inclusive.
    let window = q(&|q| {
        q.from = Some(top_up_at);
        q.to = Some(first_purchase_at);
    })
    .await;
    let kinds: Vec<_> = window.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::DidRental,
            EntryKind::DidPurchase,
            EntryKind::Payment
        ]
    );
    assert_eq!(window.total_credit, dec("50"));

    let page = q(&|q| {
        q.limit = 2;
        q.offset = 1;
    })
    .await;
    assert_eq!(page.entries, all.entries[1..3]);
    assert_eq!(page.total, 6);
    assert_eq!(page.total_debit, all.total_debit);
    assert_eq!(page.total_credit, all.total_credit);
    assert_eq!(sorted(page.by_kind), sorted(all.by_kind.clone()));

    let past_the_end = q(&|q| q.offset = 6).await;
    assert!(past_the_end.entries.is_empty());
    assert_eq!(past_the_end.total, 6);

    // Another account's ledger is its own.
    assert_eq!(w.ledger(&other.id).await.total, 1);
}

pub async fn a_purchase_without_enough_balance_changes_nothing(store: Arc<dyn Store>) {
    let w = World::new(store);
    let buyer = w.master("Short", "399.9999").await;
    let stocked = w.stock("+919876543210", "100", "300").await;
    let ledger_before = w.ledger(&buyer.id).await;
    w.clock.advance(Duration::minutes(1));

    let refused = w.purchase(&buyer, &stocked.e164).await;
    match refused {
        Err(EngineError::InsufficientBalance { needed, available }) => {
            assert_eq!(needed, dec("400"));
            assert_eq!(available, dec("399.9999"));
        }
        other => panic!("expected InsufficientBalance, got {other:?}"),
    }

    assert_eq!(w.number(&stocked.e164).await, stocked);
    assert_eq!(w.account(&buyer.id).await, buyer);
    assert_eq!(w.ledger(&buyer.id).await, ledger_before);
    assert_eq!(w.ledger(&buyer.id).await.total, 1);
    assert_eq!(w.actions(&stocked).await, ["stocked"]);
    let held = w
        .numbers(NumberQuery::new(
            Holder::Account(buyer.id.clone()),
            NumberState::ALL.to_vec(),
        ))
        .await;
    assert_eq!(held.total, 0);
    let inventory = w
        .numbers(NumberQuery::new(
            Holder::Nobody,
            vec![NumberState::Available],
        ))
        .await;
    assert_eq!(inventory.items, vec![stocked]);
}

pub async fn a_sub_account_purchase_is_held_by_the_sub_account_and_billed_to_its_parent(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let parent = w.master("Parent", "1000").await;
    let sub = w.sub(&parent, "Child").await;
    let stocked = w.stock("+919876543210", "100", "300").await;

    let changes = w.purchase(&sub, &stocked.e164).await.unwrap();

    let number = w.number(&stocked.e164).await;
    assert_eq!(&number, changes.number().unwrap());
    assert_eq!(number.owner_id.as_ref(), Some(&sub.id));
    assert_eq!(number.billing_id.as_ref(), Some(&parent.id));
    assert_eq!(w.balance(&parent.id).await, dec("600"));
    assert_eq!(w.account(&sub.id).await, sub);
    assert_eq!(w.ledger(&sub.id).await.total, 0);
    let parents = w.ledger(&parent.id).await;
    assert_eq!(parents.total, 3);
    assert_eq!(sum(&parents.entries), dec("600"));

    let events = w.store.events(&stocked.id.into()).await.unwrap();
    let purchased = events.last().unwrap();
    assert_eq!(purchased.action, "purchased");
    assert_eq!(purchased.actor, Actor::Account(sub.id.clone()));
    assert_eq!(purchased.to_owner.as_ref(), Some(&sub.id));
}

pub async fn a_release_returns_the_number_to_inventory_after_purchased_and_released_events(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let holder = w.master("Holder", "1000").await;
    let next_buyer = w.master("Next", "1000").await;
    let stocked = w.stock("+919876543210", "100", "300").await;
    w.clock.advance(Duration::minutes(1));
    let bought = w
        .run(
            &By::account(&holder, Some("req-buy".into())),
            Command::Purchase {
                number: stocked.e164.clone().into(),
                currency: None,
                quoted_monthly_fee: None,
            },
        )
        .await
        .unwrap();
    w.clock.advance(Duration::days(3));
    let released = w
        .run(
            &By::account(&holder, Some("req-release".into())),
            Command::Release {
                number: stocked.e164.clone().into(),
                mode: ReleaseMode::Immediate,
            },
        )
        .await
        .unwrap();

    let number = released.number().unwrap().clone();
    assert_eq!(number.state, NumberState::Available);
    assert_eq!(number.owner_id, None);
    assert_eq!(number.billing_id, None);
    assert_eq!(number.purchased_at, None);
    assert_eq!(number.released_at, Some(w.engine.now()));
    assert_eq!(w.number(&stocked.e164).await, number);

    let inventory = w
        .numbers(NumberQuery::new(
            Holder::Nobody,
            vec![NumberState::Available],
        ))
        .await;
    assert_eq!(inventory.items, vec![number.clone()]);
    let held = w
        .numbers(NumberQuery::new(
            Holder::Account(holder.id.clone()),
            NumberState::ALL.to_vec(),
        ))
        .await;
    assert_eq!(held.total, 0);
    assert!(held.items.is_empty());
    // No refund: the month was paid.
    assert_eq!(w.balance(&holder.id).await, dec("600"));

    let events = w.store.events(&stocked.id.into()).await.unwrap();
    let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["stocked", "purchased", "released"]);
    assert_eq!(events[1..], [bought.events, released.events].concat());
    let requests: Vec<_> = events.iter().map(|e| e.request_id.as_deref()).collect();
    assert_eq!(
        requests,
        [Some("req-operator"), Some("req-buy"), Some("req-release")]
    );
    assert_eq!(events[2].actor, Actor::Account(holder.id.clone()));
    assert_eq!(events[2].from_state, Some(NumberState::Active));
    assert_eq!(events[2].to_state, NumberState::Available);
    assert_eq!(events[2].from_owner.as_ref(), Some(&holder.id));
    assert_eq!(events[2].to_owner, None);
    assert_eq!(events[2].at, w.engine.now());

    // Back in inventory means purchasable again.
    w.purchase(&next_buyer, &stocked.e164).await.unwrap();
    assert_eq!(
        w.number(&stocked.e164).await.owner_id.as_ref(),
        Some(&next_buyer.id)
    );
}

pub async fn a_windowed_release_with_a_fee_stores_the_pending_release_and_its_fee(
    store: Arc<dyn Store>,
) {
    let policy = ReleasePolicy {
        window: Duration::hours(24),
        quarantine: Duration::days(30),
        fee: dec("25.5"),
        ..ReleasePolicy::default()
    };
    let w = World::with_policy(store, policy);
    let holder = w.master("Holder", "1000").await;
    let stocked = w.stock("+919876543210", "100", "300").await;
    w.purchase(&holder, &stocked.e164).await.unwrap();
    w.clock.advance(Duration::hours(2));

    let changes = w.release(&holder, &stocked.e164).await.unwrap();

    let number = w.number(&stocked.e164).await;
    assert_eq!(&number, changes.number().unwrap());
    assert_eq!(number.state, NumberState::PendingRelease);
    assert_eq!(
        number.release_at,
        Some(w.engine.now() + Duration::hours(24))
    );
    assert_eq!(number.release_fee, Some(dec("25.5")));
    assert_eq!(number.owner_id.as_ref(), Some(&holder.id));

    assert_eq!(w.balance(&holder.id).await, dec("574.5"));
    let ledger = w.ledger(&holder.id).await;
    assert_eq!(ledger.entries[0], changes.ledger[0]);
    assert_eq!(ledger.entries[0].kind, EntryKind::ReleaseFee);
    assert_eq!(ledger.entries[0].amount, dec("-25.5"));
    assert_eq!(sum(&ledger.entries), dec("574.5"));
    assert_eq!(
        w.actions(&stocked).await,
        ["stocked", "purchased", "release_requested"]
    );
    let pending = w
        .numbers(NumberQuery::new(
            Holder::Account(holder.id.clone()),
            vec![NumberState::PendingRelease],
        ))
        .await;
    assert_eq!(pending.items, vec![number]);
}
