//! Trunks: created, updated and deleted; deleting one detaches its numbers.

use std::sync::Arc;

use chrono::Duration;
use didpool_core::lifecycle::{Command, Write};
use didpool_core::trunk::{Direction, Transport, TrunkPatch};
use didpool_core::{Store, Trunk};

use crate::support::{indian_numbers, World};

async fn create_trunk(w: &World, by: &didpool_core::engine::By, name: &str) -> Trunk {
    w.run(
        by,
        Command::CreateTrunk {
            name: name.into(),
            patch: TrunkPatch::default(),
        },
    )
    .await
    .unwrap()
    .trunk()
    .cloned()
    .unwrap()
}

pub async fn a_trunk_reads_back_exactly_after_create_and_update(store: Arc<dyn Store>) {
    let w = World::new(store);
    let acc = w.master("Router", "0").await;
    let other = w.master("Other", "0").await;
    let changes = w
        .run(
            &w.by(&acc),
            Command::CreateTrunk {
                name: "Main".into(),
                patch: TrunkPatch {
                    domain: Some("sip.example.com".into()),
                    secure: Some(true),
                    direction: Some(Direction::Inbound),
                    concurrent_calls_limit: Some(1000),
                    cps_limit: Some(0),
                    description: Some("primary — ünïcode".into()),
                    transport: Some(Transport::Tls),
                    webhook_url: Some("https://hooks.example.com/x?y=1".into()),
                    webhook_method: Some("get".into()),
                    inbound_destination: Some("sip:agent@example.com".into()),
                    credential_uuid: Some("c0ffee".into()),
                    ..TrunkPatch::default()
                },
            },
        )
        .await
        .unwrap();
    assert!(matches!(changes.trunks[0], Write::Insert(_)));
    let created = changes.trunk().unwrap().clone();
    assert_eq!(created.account_id, acc.id);
    assert_eq!(created.settings.webhook_method, "GET");
    assert_eq!(
        w.store.trunk(created.id).await.unwrap(),
        Some(created.clone())
    );

    w.clock.advance(Duration::minutes(1));
    let backup = create_trunk(&w, &w.by(&acc), "Backup").await;
    let listed = w.store.trunks(&acc.id, 10, 0).await.unwrap();
    assert_eq!(listed.items, vec![created.clone(), backup.clone()]);
    assert_eq!(listed.total, 2);
    let second = w.store.trunks(&acc.id, 1, 1).await.unwrap();
    assert_eq!(second.items, vec![backup.clone()]);
    assert_eq!(second.total, 2);
    assert_eq!(w.store.trunks(&other.id, 10, 0).await.unwrap().total, 0);

    w.clock.advance(Duration::minutes(1));
    let updated = w
        .run(
            &w.by(&acc),
            Command::UpdateTrunk {
                id: created.id,
                patch: TrunkPatch {
                    name: Some("Main (renamed)".into()),
                    enabled: Some(false),
                    recording: Some(true),
                    pii_redaction: Some(true),
                    fallback_uri_uuid: Some("f411".into()),
                    ..TrunkPatch::default()
                },
            },
        )
        .await
        .unwrap()
        .trunk()
        .cloned()
        .unwrap();
    assert_eq!(updated.name, "Main (renamed)");
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(updated.updated_at, w.engine.now());
    assert_eq!(updated.settings.domain, created.settings.domain);
    assert_eq!(
        w.store.trunk(created.id).await.unwrap(),
        Some(updated.clone())
    );
    assert_eq!(
        w.store.trunks(&acc.id, 10, 0).await.unwrap().items,
        vec![updated, backup]
    );

    // Another account's trunk is not found, and stays as it was.
    let refused = w
        .run(&w.by(&other), Command::DeleteTrunk { id: created.id })
        .await;
    assert!(
        matches!(refused, Err(didpool_core::EngineError::TrunkNotFound)),
        "{refused:?}"
    );
    assert!(w.store.trunk(created.id).await.unwrap().is_some());
}

pub async fn deleting_a_trunk_detaches_its_numbers_and_records_their_events(store: Arc<dyn Store>) {
    let w = World::new(store);
    let acc = w.master("Router", "1000").await;
    let trunk = create_trunk(&w, &w.by(&acc), "Doomed").await;
    let kept = create_trunk(&w, &w.by(&acc), "Kept").await;
    let mut numbers = Vec::new();
    for (n, on) in indian_numbers(0, 3)
        .iter()
        .zip([trunk.id, trunk.id, kept.id])
    {
        let stocked = w.stock(n, "1", "1").await;
        w.purchase(&acc, &stocked.e164).await.unwrap();
        w.run(
            &w.by(&acc),
            Command::AssignTrunk {
                number: stocked.e164.clone().into(),
                trunk: on,
            },
        )
        .await
        .unwrap();
        assert_eq!(w.number(&stocked.e164).await.trunk_id, Some(on));
        numbers.push(stocked);
    }
    w.clock.advance(Duration::minutes(1));

    let by = didpool_core::engine::By::account(&acc, Some("req-delete-trunk".into()));
    let changes = w
        .run(&by, Command::DeleteTrunk { id: trunk.id })
        .await
        .unwrap();

    assert_eq!(w.store.trunk(trunk.id).await.unwrap(), None);
    let listed = w.store.trunks(&acc.id, 10, 0).await.unwrap();
    assert_eq!(listed.items, vec![kept.clone()]);
    assert_eq!(listed.total, 1);

    assert_eq!(changes.numbers.len(), 2);
    for written in changes.numbers.iter().map(Write::row) {
        assert_eq!(written.trunk_id, None);
        assert_eq!(&w.number(&written.e164).await, written);
    }
    for detached in &numbers[..2] {
        let events = w.store.events(&detached.id.into()).await.unwrap();
        let actions: Vec<_> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "stocked",
                "purchased",
                "assigned_to_trunk",
                "unassigned_from_trunk"
            ]
        );
        let last = events.last().unwrap();
        assert_eq!(last.request_id.as_deref(), Some("req-delete-trunk"));
        assert_eq!(last.at, w.engine.now());
        assert!(changes.events.contains(last));
    }
    assert_eq!(changes.events.len(), 2);
    assert_eq!(w.number(&numbers[2].e164).await.trunk_id, Some(kept.id));
    assert_eq!(
        w.actions(&numbers[2]).await,
        ["stocked", "purchased", "assigned_to_trunk"]
    );

    // The deleted trunk can no longer take numbers.
    let refused = w
        .run(
            &w.by(&acc),
            Command::AssignTrunk {
                number: numbers[0].e164.clone().into(),
                trunk: trunk.id,
            },
        )
        .await;
    assert!(
        matches!(refused, Err(didpool_core::EngineError::TrunkNotFound)),
        "{refused:?}"
    );
}
