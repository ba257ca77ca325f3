//! Idempotency keys: claimed once however many ask together, answered, replayed, expired,
//! pruned; a keyed command's outcome commits with it and answers the step again.

use std::sync::Arc;

use chrono::Duration;
use didpool_core::idempotency::{Claim, KeyRequest, KeyUse, StoredAnswer, LEASE};
use didpool_core::lifecycle::Command;
use didpool_core::Store;
use futures::future::join_all;

use crate::support::{dec, e164, World};

fn request(fingerprint: &str) -> KeyRequest {
    KeyRequest {
        scope: "credential:c1".into(),
        method: "POST".into(),
        path: "/buy".into(),
        key: "k1".into(),
        fingerprint: fingerprint.into(),
    }
}

fn answer() -> StoredAnswer {
    StoredAnswer {
        status: 201,
        headers: vec![("content-type".into(), "application/json".into())],
        body: vec![0, 159, 146, 150, b'{', b'}'],
    }
}

pub async fn a_key_is_claimed_once_answered_replayed_and_expires(store: Arc<dyn Store>) {
    let w = World::new(store);
    let day = Duration::hours(24);
    let asked = request("f");
    let claims = join_all((0..16).map(|_| w.engine.claim_key(&asked, day))).await;
    let mut runs = claims
        .into_iter()
        .map(|c| c.expect("a claim is answered"))
        .filter_map(|c| match c {
            Claim::Run(key) => Some(key),
            Claim::InFlight => None,
            other => panic!("in flight or claimed, not {other:?}"),
        });
    let key = runs.next().expect("one request runs");
    assert!(runs.next().is_none(), "only one");

    assert!(matches!(
        w.engine.claim_key(&request("other"), day).await.unwrap(),
        Claim::Mismatch
    ));
    w.engine.finish_key(&key, &answer()).await.unwrap();
    // A second answer never replaces the first.
    let mut later = answer();
    later.status = 500;
    w.engine.finish_key(&key, &later).await.unwrap();
    match w.engine.claim_key(&request("f"), day).await.unwrap() {
        Claim::Replay(kept) => assert_eq!(kept, answer(), "bytes and headers as given"),
        other => panic!("a replay, not {other:?}"),
    }

    w.clock.advance(day);
    assert_eq!(w.engine.prune_keys(day).await.unwrap(), 0, "not older yet");
    assert!(matches!(
        w.engine.claim_key(&request("other"), day).await.unwrap(),
        Claim::Run(_)
    ));
    w.clock.advance(day + Duration::seconds(1));
    assert_eq!(w.engine.prune_keys(day).await.unwrap(), 1);
}

pub async fn a_released_or_lapsed_claim_is_taken_over(store: Arc<dyn Store>) {
    let w = World::new(store);
    let day = Duration::hours(24);
    let Claim::Run(first) = w.engine.claim_key(&request("f"), day).await.unwrap() else {
        panic!("a fresh key is claimed");
    };
    w.engine.release_key(&first).await.unwrap();
    let Claim::Run(second) = w.engine.claim_key(&request("f"), day).await.unwrap() else {
        panic!("a released claim is taken over");
    };
    assert_eq!(second.id(), first.id(), "the same row");
    assert!(matches!(
        w.engine.claim_key(&request("f"), day).await.unwrap(),
        Claim::InFlight
    ));
    w.clock.advance(LEASE);
    assert!(matches!(
        w.engine.claim_key(&request("f"), day).await.unwrap(),
        Claim::Run(_)
    ));
}

pub async fn a_keyed_command_commits_its_outcome_and_answers_its_step_again(store: Arc<dyn Store>) {
    let w = World::new(store);
    let buyer = w.master("Buyer", "1000").await;
    w.stock("+918041100000", "10", "5").await;
    let Claim::Run(key) = w
        .engine
        .claim_key(&request("f"), Duration::hours(24))
        .await
        .unwrap()
    else {
        panic!("a fresh key is claimed");
    };
    let purchase = Command::Purchase {
        number: e164("+918041100000").into(),
        currency: None,
        quoted_monthly_fee: None,
    };
    let by = w.by(&buyer).with_key(Some(key.clone()));
    let first = w.engine.run(&by, purchase.clone()).await.unwrap();

    // The request runs again (its answer was lost): the same step answers from its record.
    let again = w
        .engine
        .run(
            &w.by(&buyer)
                .with_key(Some(KeyUse::new(key.id().to_owned()))),
            purchase.clone(),
        )
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(w.balance(&buyer.id).await, dec("985"), "charged once");
    // A further step of the same request runs.
    let second = w.engine.run(&by, purchase).await;
    assert!(second.is_err(), "the number is no longer for sale");
}
