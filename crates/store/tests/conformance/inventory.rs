//! Inventory: stocked numbers read back exactly; a number is stocked once.

use std::sync::Arc;

use didpool_core::audit::Actor;
use didpool_core::lifecycle::{Command, Write};
use didpool_core::store::{Holder, NumberQuery};
use didpool_core::{Capabilities, EngineError, NumberState, Origin, Store};

use crate::support::{dec, e164, new_number, World};

pub async fn a_stocked_number_reads_back_exactly_by_e164_and_by_id(store: Arc<dyn Store>) {
    let w = World::new(store);
    let mut new = new_number("+14155552671", "12.3456", "0.0001");
    new.region = Some("California".into());
    new.capabilities = Capabilities {
        voice: true,
        sms: true,
        mms: false,
        fax: true,
    };
    new.provider = "carrier-β".into();
    let changes = w
        .run(&w.operator(), Command::AddInventory { numbers: vec![new] })
        .await
        .unwrap();

    assert!(matches!(changes.numbers[0], Write::Insert(_)));
    let written = changes.number().unwrap().clone();
    assert_eq!(written.state, NumberState::Available);
    assert_eq!(written.origin, Origin::Stock);
    assert_eq!(written.country, "US");
    assert_eq!(written.created_at, w.engine.now());

    let by_e164 = w.store.number_by_e164(&written.e164).await.unwrap();
    let by_id = w.store.number(written.id).await.unwrap();
    assert_eq!(by_e164, Some(written.clone()));
    assert_eq!(by_id, Some(written.clone()));

    let events = w.store.events(&written.id.into()).await.unwrap();
    assert_eq!(events, changes.events);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "stocked");
    assert_eq!(events[0].actor, Actor::Operator);
    assert_eq!(events[0].from_state, None);
    assert_eq!(events[0].to_state, NumberState::Available);
    assert_eq!(events[0].request_id.as_deref(), Some("req-operator"));
}

pub async fn importing_a_number_twice_is_refused_and_writes_nothing(store: Arc<dyn Store>) {
    let w = World::new(store);
    let first = w.stock("+919876543210", "100", "300").await;
    w.clock.advance(chrono::Duration::hours(1));

    let again = w
        .run(
            &w.operator(),
            Command::AddInventory {
                numbers: vec![new_number("+919876543210", "1", "2")],
            },
        )
        .await;
    match again {
        Err(EngineError::AlreadyExists(what)) => assert_eq!(what, "+919876543210"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }

    assert_eq!(w.number(&first.e164).await, first);
    assert_eq!(w.number(&e164("+919876543210")).await.setup_fee, dec("100"));
    assert_eq!(w.actions(&first).await, ["stocked"]);
    let inventory = w
        .numbers(NumberQuery::new(Holder::Nobody, NumberState::ALL.to_vec()))
        .await;
    assert_eq!(inventory.total, 1);
    assert_eq!(inventory.items, vec![first]);
}

pub async fn an_imported_number_is_held_at_once_without_a_charge(store: Arc<dyn Store>) {
    let w = World::new(store);
    let master = w.master("Master", "100").await;
    let sub = w.sub(&master, "Brings its own").await;
    let ledger_before = w.ledger(&master.id).await;

    let changes = w
        .run(
            &w.by(&sub),
            Command::Import {
                number: new_number("+14155552671", "5", "7"),
                nickname: None,
                sip_config: None,
            },
        )
        .await
        .unwrap();

    assert!(matches!(changes.numbers[0], Write::Insert(_)));
    let imported = changes.number().unwrap().clone();
    assert_eq!(imported.origin, Origin::Imported);
    assert_eq!(imported.state, NumberState::Active);
    assert_eq!(imported.owner_id.as_ref(), Some(&sub.id));
    assert_eq!(imported.billing_id.as_ref(), Some(&master.id));
    assert_eq!(
        (imported.setup_fee, imported.monthly_fee),
        (dec("0"), dec("0"))
    );
    assert_eq!(w.number(&imported.e164).await, imported);
    assert_eq!(
        w.store.number(imported.id).await.unwrap(),
        Some(imported.clone())
    );
    assert_eq!(
        w.store.events(&imported.id.into()).await.unwrap(),
        changes.events
    );
    assert_eq!(w.actions(&imported).await, ["imported"]);
    assert_eq!(w.account(&master.id).await, master);
    assert_eq!(w.ledger(&master.id).await, ledger_before);

    // A live number is imported or stocked once.
    let again = w
        .run(
            &w.by(&master),
            Command::Import {
                number: new_number("+14155552671", "0", "0"),
                nickname: None,
                sip_config: None,
            },
        )
        .await;
    assert!(
        matches!(again, Err(EngineError::AlreadyExists(_))),
        "{again:?}"
    );
    let stocked = w
        .run(
            &w.operator(),
            Command::AddInventory {
                numbers: vec![new_number("+14155552671", "0", "0")],
            },
        )
        .await;
    assert!(
        matches!(stocked, Err(EngineError::AlreadyExists(_))),
        "{stocked:?}"
    );
    assert_eq!(w.number(&imported.e164).await, imported);
    assert_eq!(w.actions(&imported).await, ["imported"]);
}

pub async fn a_released_imported_number_leaves_a_tombstone_and_its_e164_is_free_again(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let owner = w.master("Owner", "0").await;
    let imported = w
        .run(
            &w.by(&owner),
            Command::Import {
                number: new_number("+14155552671", "0", "0"),
                nickname: None,
                sip_config: None,
            },
        )
        .await
        .unwrap()
        .number()
        .cloned()
        .unwrap();
    w.clock.advance(chrono::Duration::days(2));

    let released = w.release(&owner, &imported.e164).await.unwrap();

    let tombstone = released.number().unwrap().clone();
    assert_eq!(tombstone.state, NumberState::Deleted);
    assert_eq!(tombstone.owner_id, None);
    assert_eq!(tombstone.released_at, Some(w.engine.now()));
    // Gone by its E.164, kept by its id.
    assert_eq!(w.store.number_by_e164(&imported.e164).await.unwrap(), None);
    assert_eq!(
        w.store.number(imported.id).await.unwrap(),
        Some(tombstone.clone())
    );
    let inventory = w
        .numbers(NumberQuery::new(
            Holder::Nobody,
            vec![NumberState::Available],
        ))
        .await;
    assert_eq!(inventory.total, 0);
    let held = w
        .numbers(NumberQuery::new(
            Holder::Family(owner.id.clone()),
            NumberState::ALL.to_vec(),
        ))
        .await;
    assert_eq!(held.total, 0);

    // The E.164 is free for a new row; the tombstone stays as it was.
    let restocked = w.stock("+14155552671", "1", "2").await;
    assert_ne!(restocked.id, imported.id);
    assert_eq!(w.number(&imported.e164).await, restocked);
    assert_eq!(w.store.number(imported.id).await.unwrap(), Some(tombstone));
    assert_eq!(w.actions(&imported).await, ["imported", "released"]);
    assert_eq!(w.actions(&restocked).await, ["stocked"]);
}
