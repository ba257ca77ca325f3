//! Taking a number back from a sub-account: the cool-off, and the audit row a forced take-back
//! leaves.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use didpool_core::lifecycle::Command;
use didpool_core::policy::COOL_OFF;
use didpool_core::{Account, EngineError, Number, Store};

use crate::support::World;

/// A number the master bought and handed to its sub-account, last used for a call at the
/// returned instant.
async fn on_sub_account(w: &World, master: &Account, sub: &Account) -> (Number, DateTime<Utc>) {
    let stocked = w.stock("+919876543210", "1", "1").await;
    w.purchase(master, &stocked.e164).await.unwrap();
    w.run(
        &w.by(master),
        Command::AssignSubAccount {
            number: stocked.e164.clone().into(),
            sub: sub.id.clone(),
        },
    )
    .await
    .unwrap();
    let call = w.engine.now() - Duration::hours(1);
    w.run(
        &w.operator(),
        Command::ReportCall {
            number: stocked.e164.clone().into(),
            call: didpool_core::call::Call::at(call),
        },
    )
    .await
    .unwrap();
    let number = w.number(&stocked.e164).await;
    assert_eq!(number.owner_id.as_ref(), Some(&sub.id));
    assert_eq!(number.last_call_at, Some(call));
    (number, call)
}

fn unassign(number: &Number, force: bool) -> Command {
    Command::UnassignSubAccount {
        number: number.e164.clone().into(),
        force,
    }
}

pub async fn a_forced_unassign_writes_an_assignment_audit_row(store: Arc<dyn Store>) {
    let w = World::new(store);
    let admin = w.admin_master("Admin", "10").await;
    let sub = w.sub(&admin, "Child").await;
    let (number, call) = on_sub_account(&w, &admin, &sub).await;
    let bystander = w.stock("+919876543211", "1", "1").await;
    w.clock.advance(Duration::days(1));

    let changes = w.run(&w.by(&admin), unassign(&number, true)).await.unwrap();

    let audits = w.store.assignment_audits(&number.id.into()).await.unwrap();
    assert_eq!(audits, changes.assignment_audits);
    assert_eq!(audits.len(), 1);
    let audit = &audits[0];
    assert_eq!(audit.number_id, number.id);
    assert_eq!(audit.e164, number.e164);
    assert_eq!(audit.from_account_id, sub.id);
    assert_eq!(audit.to_account_id, admin.id);
    assert_eq!(audit.actor_auth_id, admin.id);
    assert_eq!(audit.action, "force_unassign_subaccount");
    assert_eq!(audit.last_call_at, Some(call));
    assert_eq!(audit.cool_off_until, Some(call + COOL_OFF));
    assert_eq!(audit.created_at, w.engine.now());

    let taken_back = w.number(&number.e164).await;
    assert_eq!(&taken_back, changes.number().unwrap());
    assert_eq!(taken_back.owner_id.as_ref(), Some(&admin.id));
    assert_eq!(taken_back.billing_id.as_ref(), Some(&admin.id));
    assert_eq!(
        w.actions(&number).await.last().map(String::as_str),
        Some("force_unassigned_from_sub_account")
    );
    assert!(w
        .store
        .assignment_audits(&bystander.id.into())
        .await
        .unwrap()
        .is_empty());
}

pub async fn an_unassign_inside_the_cool_off_is_refused_and_writes_no_audit(store: Arc<dyn Store>) {
    let w = World::new(store);
    let master = w.master("Customer", "10").await;
    let sub = w.sub(&master, "Child").await;
    let (number, call) = on_sub_account(&w, &master, &sub).await;
    let events_before = w.store.events(&number.id.into()).await.unwrap();
    w.clock.advance(Duration::days(1));

    match w.run(&w.by(&master), unassign(&number, false)).await {
        Err(EngineError::CoolOffInEffect { until, .. }) => assert_eq!(until, call + COOL_OFF),
        other => panic!("expected CoolOffInEffect, got {other:?}"),
    }
    let forced = w.run(&w.by(&master), unassign(&number, true)).await;
    assert!(
        matches!(forced, Err(EngineError::ForceRequiresAdmin)),
        "{forced:?}"
    );
    assert_eq!(w.number(&number.e164).await, number);
    assert_eq!(
        w.store.events(&number.id.into()).await.unwrap(),
        events_before
    );
    assert!(w
        .store
        .assignment_audits(&number.id.into())
        .await
        .unwrap()
        .is_empty());

    // Once the cool-off is over, an ordinary unassign goes through, still without an audit row.
    w.clock.set(call + COOL_OFF);
    let changes = w
        .run(&w.by(&master), unassign(&number, false))
        .await
        .unwrap();
    assert!(changes.assignment_audits.is_empty());
    assert_eq!(
        w.number(&number.e164).await.owner_id.as_ref(),
        Some(&master.id)
    );
    assert!(w
        .store
        .assignment_audits(&number.id.into())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        w.actions(&number).await.last().map(String::as_str),
        Some("unassigned_from_sub_account")
    );
}
