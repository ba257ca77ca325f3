//! Release locks and bulk jobs: rows read back as written, and the runner's lease (claim,
//! takeover, exactly one claim among runners racing).

use std::sync::Arc;

use chrono::Duration;
use didpool_core::audit::Actor;
use didpool_core::job::{JobKind, JobStatus};
use didpool_core::lifecycle::Command;
use didpool_core::store::{ItemFilter, JobItemQuery, JobQuery};
use didpool_core::{EngineError, NumberState, Store};

use crate::support::{e164, World};

fn numbered(i: u32) -> String {
    format!("+91804{:07}", 1_100_000 + i)
}

pub async fn a_locked_number_reads_back_with_its_lock_and_its_release_writes_nothing(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let owner = w.master("Owner", "1000").await;
    let n = w.stock(&numbered(1), "100", "300").await;
    w.purchase(&owner, &n.e164).await.unwrap();
    w.clock.advance(Duration::minutes(1));
    let locked = w
        .run(
            &w.by(&owner),
            Command::LockRelease {
                number: n.e164.clone().into(),
                reason: Some("porting out".into()),
            },
        )
        .await
        .unwrap()
        .number()
        .cloned()
        .unwrap();
    let lock = locked.release_lock.clone().expect("locked");
    assert_eq!(lock.by, Actor::Account(owner.id.clone()));
    assert_eq!(lock.at, w.engine.now());
    assert_eq!(w.number(&n.e164).await, locked, "reads back exactly");

    let balance = w.balance(&owner.id).await;
    let ledger = w.ledger(&owner.id).await.entries.len();
    let actions = w.actions(&locked).await;
    let err = w.release(&owner, &n.e164).await.unwrap_err();
    assert!(matches!(err, EngineError::ReleaseLocked(_)), "{err}");
    assert_eq!(w.number(&n.e164).await, locked);
    assert_eq!(w.balance(&owner.id).await, balance);
    assert_eq!(w.ledger(&owner.id).await.entries.len(), ledger);
    assert_eq!(w.actions(&locked).await, actions);
    assert_eq!(actions.last().unwrap(), "release_locked");

    let unlocked = w
        .run(
            &w.operator(),
            Command::UnlockRelease {
                number: n.e164.clone().into(),
            },
        )
        .await
        .unwrap()
        .number()
        .cloned()
        .unwrap();
    assert_eq!(unlocked.release_lock, None);
    assert_eq!(w.number(&n.e164).await, unlocked);
    w.release(&owner, &n.e164).await.unwrap();
    assert_eq!(w.number(&n.e164).await.state, NumberState::Available);
    assert!(w.store.check().await.unwrap().is_empty());
}

pub async fn a_job_and_its_items_read_back_exactly_and_only_to_who_sees_them(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let parent = w.master("Parent", "1000").await;
    let child = w.sub(&parent, "Child").await;
    let other = w.master("Other", "0").await;
    let list: Vec<String> = (1..=30).map(numbered).collect();
    let job = w
        .engine
        .create_job(&w.by(&child), JobKind::Release, None, &list)
        .await
        .unwrap();
    assert_eq!(job.account, child.id);
    assert_eq!(job.billing, parent.id);
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(w.store.job(job.id).await.unwrap(), Some(job.clone()));
    let page = w
        .store
        .job_items(
            job.id,
            &JobItemQuery {
                filter: ItemFilter::All,
                limit: 10,
                offset: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, 30);
    let seqs: Vec<u32> = page.items.iter().map(|i| i.seq).collect();
    assert_eq!(seqs, (10..20).collect::<Vec<_>>());
    assert_eq!(page.items[0].e164, e164(&numbered(11)));
    assert!(page.items.iter().all(|i| i.result.is_none()));

    let second = w
        .engine
        .create_job(
            &w.operator(),
            JobKind::UnassignTrunk,
            Some(parent.id.clone()),
            &list[..2],
        )
        .await
        .unwrap();
    let seen = |who: Option<&didpool_core::Account>| {
        let query = JobQuery {
            visible_to: who.map(|a| a.id.clone()),
            limit: 10,
            offset: 0,
        };
        let store = Arc::clone(&w.store);
        async move {
            let page = store.jobs(&query).await.unwrap();
            (
                page.total,
                page.items.iter().map(|j| j.id).collect::<Vec<_>>(),
            )
        }
    };
    assert_eq!(
        seen(None).await,
        (2, vec![second.id, job.id]),
        "newest first"
    );
    assert_eq!(seen(Some(&parent)).await, (2, vec![second.id, job.id]));
    assert_eq!(seen(Some(&child)).await, (1, vec![job.id]));
    assert_eq!(seen(Some(&other)).await, (0, vec![]));
    assert!(matches!(
        w.engine.job(&w.by(&other), job.id).await,
        Err(EngineError::JobNotFound)
    ));
}

pub async fn a_job_is_leased_to_one_runner_and_taken_over_once_the_lease_lapses(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let owner = w.master("Owner", "10000").await;
    let list: Vec<String> = (1..=6).map(numbered).collect();
    for n in &list {
        w.stock(n, "0", "1").await;
        w.purchase(&owner, &e164(n)).await.unwrap();
    }
    let job = w
        .engine
        .create_job(
            &w.operator(),
            JobKind::Release,
            Some(owner.id.clone()),
            &list,
        )
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let lease = Duration::seconds(30);
    let a = w
        .engine
        .claim_job("node-a", now, now + lease)
        .await
        .unwrap()
        .expect("the queued job");
    assert_eq!(a.status, JobStatus::Running);
    assert_eq!(w.store.job(job.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        w.engine
            .claim_job("node-b", now, now + lease)
            .await
            .unwrap(),
        None,
        "held by node-a"
    );
    for item in w.engine.pending_job_items(job.id, 2).await.unwrap() {
        let done = w.engine.run_job_item(&a, &item).await.unwrap().unwrap();
        assert!(done.result.as_ref().unwrap().succeeded());
        let stored = w
            .store
            .job_items(
                job.id,
                &JobItemQuery {
                    filter: ItemFilter::Succeeded,
                    limit: 10,
                    offset: u64::from(item.seq),
                },
            )
            .await
            .unwrap();
        assert_eq!(stored.items.first(), Some(&done), "reads back exactly");
    }
    // node-a's lease lapses; node-b takes the job with its progress.
    let later = now + lease + Duration::seconds(1);
    let b = w
        .engine
        .claim_job("node-b", later, later + lease)
        .await
        .unwrap()
        .expect("the lapsed job");
    assert_eq!((b.id, b.succeeded, b.failed), (job.id, 2, 0));
    assert_eq!(b.lease_owner.as_deref(), Some("node-b"));
    assert!(matches!(
        w.engine
            .renew_job_lease(job.id, "node-a", later + lease)
            .await,
        Err(EngineError::JobNotRunning)
    ));
    let left = w.engine.pending_job_items(job.id, 100).await.unwrap();
    assert_eq!(left.iter().map(|i| i.seq).collect::<Vec<_>>(), [2, 3, 4, 5]);
    // node-a still running an item it had read: found done (nothing runs twice).
    let first = w
        .store
        .job_items(
            job.id,
            &JobItemQuery {
                filter: ItemFilter::All,
                limit: 1,
                offset: 0,
            },
        )
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(w.engine.run_job_item(&a, &first).await.unwrap(), None);
    for item in &left {
        w.engine.run_job_item(&b, item).await.unwrap().unwrap();
    }
    w.engine
        .renew_job_lease(job.id, "node-b", later + lease)
        .await
        .unwrap();
    let done = w.engine.finish_job(job.id, "node-b").await.unwrap();
    assert_eq!(done.status, JobStatus::Done);
    assert_eq!((done.succeeded, done.failed), (6, 0));
    assert_eq!(w.store.job(job.id).await.unwrap(), Some(done));
    assert_eq!(
        w.engine
            .claim_job("node-c", later + lease * 10, later + lease * 11)
            .await
            .unwrap(),
        None,
        "a finished job is never claimed"
    );
    for n in &list {
        let number = w.number(&e164(n)).await;
        assert_eq!(number.state, NumberState::Available);
        let released = w
            .actions(&number)
            .await
            .iter()
            .filter(|a| *a == "released")
            .count();
        assert_eq!(released, 1, "{n}");
    }
    assert!(w.store.check().await.unwrap().is_empty());
}

pub async fn runners_racing_for_one_job_claim_it_once(store: Arc<dyn Store>) {
    let w = World::new(store);
    let owner = w.master("Owner", "0").await;
    w.engine
        .create_job(
            &w.operator(),
            JobKind::Release,
            Some(owner.id.clone()),
            &[numbered(1)],
        )
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let claims = (0..8).map(|i| {
        let engine = w.engine.clone();
        tokio::spawn(async move {
            engine
                .claim_job(&format!("node-{i}"), now, now + Duration::seconds(30))
                .await
        })
    });
    let mut won = 0;
    for c in claims.collect::<Vec<_>>() {
        if c.await.unwrap().unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}
