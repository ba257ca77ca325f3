//! The release lock, and bulk jobs: creation, the runner's lease, each item's result.

use super::scheduling::system;
use super::*;
use crate::ids::JobId;
use crate::job::{Job, JobItem, JobKind, JobStatus, MAX_JOB_ITEMS};
use crate::number::ReleaseLock;

fn operator(now: DateTime<Utc>) -> Context {
    Context {
        actor: Actor::Operator,
        ..system(now)
    }
}

fn locked_by(owner: &Account) -> Number {
    let mut n = owned_by(owner);
    n.release_lock = Some(ReleaseLock {
        by: Actor::Operator,
        at: t0(),
        reason: Some("porting".into()),
    });
    n
}

fn release(mode: ReleaseMode) -> Command {
    Command::Release {
        number: e164().into(),
        mode,
    }
}

const MODES: [ReleaseMode; 3] = [
    ReleaseMode::Policy,
    ReleaseMode::Immediate,
    ReleaseMode::AtCycleEnd {
        quarantine: Duration::days(30),
    },
];

#[test]
fn every_release_mode_refuses_a_locked_number_saying_why() {
    let owner = ma();
    for mode in MODES {
        let err = release(mode)
            .decide(
                &ctx_for(&owner, t0()),
                &snap(Some(locked_by(&owner)), vec![owner.clone()]),
            )
            .unwrap_err();
        assert!(matches!(err, EngineError::ReleaseLocked(ref e) if *e == e164()));
        assert_eq!(
            err.to_string(),
            "+919876543210 is locked against release; unlock it first"
        );
    }
    // A sub-account holding it, and its payer, are refused too; with a window policy as well.
    let (parent, child) = (ma(), sa());
    let mut ctx = ctx_for(&child, t0());
    ctx.policy.window = Duration::hours(24);
    let err = release(ReleaseMode::Policy)
        .decide(
            &ctx,
            &snap(Some(locked_by(&child)), vec![parent.clone(), child.clone()]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::ReleaseLocked(_)));
    let err = release(ReleaseMode::Immediate)
        .decide(
            &ctx_for(&parent, t0()),
            &snap(Some(locked_by(&child)), vec![parent, child]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::ReleaseLocked(_)));
}

#[test]
fn another_accounts_locked_number_is_not_theirs_to_release_nor_to_learn_about() {
    let stranger = account("MA_OTHER", None, Role::Customer, dec!(0));
    let err = release(ReleaseMode::Policy)
        .decide(
            &ctx_for(&stranger, t0()),
            &snap(Some(locked_by(&ma())), vec![stranger.clone()]),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::NotOwner));
    for cmd in [
        Command::LockRelease {
            number: e164().into(),
            reason: None,
        },
        Command::UnlockRelease {
            number: e164().into(),
        },
    ] {
        let err = cmd
            .decide(
                &ctx_for(&stranger, t0()),
                &snap(Some(locked_by(&ma())), vec![stranger.clone()]),
            )
            .unwrap_err();
        assert!(matches!(err, EngineError::NotOwner), "{err}");
        let err = cmd
            .decide(&ctx_for(&stranger, t0()), &snap(Some(stock()), vec![]))
            .unwrap_err();
        assert!(matches!(err, EngineError::NumberNotFound), "{err}");
    }
}

#[test]
fn the_holder_its_payer_and_the_operator_may_lock_and_each_lock_is_an_event() {
    let (parent, child) = (ma(), sa());
    let lock = Command::LockRelease {
        number: e164().into(),
        reason: Some("porting out".into()),
    };
    for ctx in [
        ctx_for(&child, t0()),
        ctx_for(&parent, t0()),
        operator(t0()),
    ] {
        let ch = lock
            .decide(
                &ctx,
                &snap(Some(owned_by(&child)), vec![parent.clone(), child.clone()]),
            )
            .unwrap();
        let after = ch.number().unwrap();
        let l = after.release_lock.as_ref().expect("locked");
        assert_eq!(l.by, ctx.actor);
        assert_eq!(l.at, t0());
        assert_eq!(l.reason.as_deref(), Some("porting out"));
        assert_eq!(after.state, NumberState::Active);
        assert_eq!(ch.events.len(), 1);
        assert_eq!(ch.events[0].action, "release_locked");
    }
    // Locked already: nothing changes. Unlocked: an event, and the release goes through.
    let ch = lock
        .decide(&operator(t0()), &snap(Some(locked_by(&parent)), vec![]))
        .unwrap();
    assert!(ch.is_empty());
    let unlock = Command::UnlockRelease {
        number: e164().into(),
    };
    let ch = unlock
        .decide(
            &ctx_for(&parent, t0()),
            &snap(Some(locked_by(&parent)), vec![parent.clone()]),
        )
        .unwrap();
    let after = ch.number().unwrap().clone();
    assert_eq!(after.release_lock, None);
    assert_eq!(ch.events[0].action, "release_unlocked");
    let ch = release(ReleaseMode::Policy)
        .decide(
            &ctx_for(&parent, t0()),
            &snap(Some(after), vec![parent.clone()]),
        )
        .unwrap();
    assert_eq!(ch.number().unwrap().state, NumberState::Available);
    let ch = unlock
        .decide(&operator(t0()), &snap(Some(owned_by(&parent)), vec![]))
        .unwrap();
    assert!(ch.is_empty(), "a number not locked stays as it is");
}

#[test]
fn a_number_with_a_release_pending_or_not_active_cannot_be_locked() {
    let owner = ma();
    let lock = Command::LockRelease {
        number: e164().into(),
        reason: None,
    };
    let mut pending = owned_by(&owner);
    pending.state = NumberState::PendingRelease;
    pending.release_at = Some(t0() + Duration::hours(1));
    let mut scheduled = owned_by(&owner);
    scheduled.release_at = Some(t0() + Duration::days(10));
    for n in [pending, scheduled] {
        let err = lock
            .decide(&operator(t0()), &snap(Some(n), vec![owner.clone()]))
            .unwrap_err();
        assert!(matches!(err, EngineError::ReleasePending), "{err}");
    }
    let mut reserved = owned_by(&owner);
    reserved.state = NumberState::Reserved;
    let err = lock
        .decide(&operator(t0()), &snap(Some(reserved), vec![owner.clone()]))
        .unwrap_err();
    assert!(matches!(
        err,
        EngineError::NotEditable(NumberState::Reserved)
    ));
    let long = Command::LockRelease {
        number: e164().into(),
        reason: Some("x".repeat(256)),
    };
    let err = long
        .decide(&operator(t0()), &snap(Some(owned_by(&owner)), vec![]))
        .unwrap_err();
    assert!(matches!(err, EngineError::Invalid(_)));
}

#[test]
fn a_lapse_for_non_payment_still_releases_a_locked_number_and_ends_its_lock() {
    // The lock guards against releases someone asks for; it is no way to keep a number unpaid.
    let poor = account("MA_POOR", None, Role::Customer, dec!(0));
    let mut n = locked_by(&poor);
    n.last_billing_date = Some(t0());
    n.next_billing_date = Some(t0() + Duration::days(30));
    let due = n.next_billing_date.unwrap();
    let ch = Command::Tick { id: n.id }
        .decide(&system(due), &snap(Some(n), vec![poor]))
        .unwrap();
    let after = ch.number().unwrap();
    assert_eq!(ch.events[0].action, "released_unpaid");
    assert_eq!(after.state, NumberState::Available);
    assert_eq!(after.release_lock, None);
}

fn numbers(n: usize) -> Vec<E164> {
    (0..n)
        .map(|i| E164::parse(&format!("+91804{:07}", 1_100_000 + i)).unwrap())
        .collect()
}

fn create(numbers: Vec<E164>, account: &Account) -> Command {
    Command::CreateJob {
        id: JobId::new(),
        kind: JobKind::Release,
        account: account.id.clone(),
        numbers,
    }
}

#[test]
fn a_job_takes_one_to_a_thousand_distinct_numbers_of_a_live_account() {
    let owner = ma();
    let s = snap(None, vec![owner.clone()]);
    let ch = create(numbers(3), &owner)
        .decide(&ctx_for(&owner, t0()), &s)
        .unwrap();
    let job = ch.jobs[0].row();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!((job.total, job.succeeded, job.failed), (3, 0, 0));
    assert_eq!(job.created_by, Actor::Account(owner.id.clone()));
    assert_eq!(job.billing, owner.id);
    let seqs: Vec<u32> = ch.job_items.iter().map(|w| w.row().seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
    assert!(ch.job_items.iter().all(|w| w.row().result.is_none()));

    let cases = [
        (numbers(0), "at least one number"),
        (numbers(MAX_JOB_ITEMS + 1), "at most 1000"),
        (
            [numbers(2), numbers(1)].concat(),
            "+918041100000 is given more than once",
        ),
    ];
    for (list, why) in cases {
        let err = create(list, &owner)
            .decide(&operator(t0()), &s)
            .unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
    assert!(create(numbers(MAX_JOB_ITEMS), &owner)
        .decide(&operator(t0()), &s)
        .is_ok());
    // An account creates jobs for itself only; an unknown or disabled account has none.
    let child = sa();
    let err = create(numbers(1), &child)
        .decide(&ctx_for(&owner, t0()), &snap(None, vec![child.clone()]))
        .unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)));
    let err = create(numbers(1), &owner)
        .decide(&operator(t0()), &snap(None, vec![]))
        .unwrap_err();
    assert!(matches!(err, EngineError::AccountNotFound));
    let mut off = owner.clone();
    off.enabled = false;
    let err = create(numbers(1), &off)
        .decide(&operator(t0()), &snap(None, vec![off.clone()]))
        .unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)));
}

fn running_job(owner: &Account) -> Job {
    Job {
        id: JobId::new(),
        kind: JobKind::Release,
        account: owner.id.clone(),
        billing: owner.billing_id().clone(),
        created_by: Actor::Operator,
        status: JobStatus::Running,
        total: 2,
        succeeded: 0,
        failed: 0,
        lease_owner: Some("node-a".into()),
        lease_until: Some(t0() + Duration::seconds(30)),
        created_at: t0(),
        started_at: Some(t0()),
        finished_at: None,
    }
}

fn item_snap(n: Number, accounts: Vec<Account>, job: &Job, item: &JobItem) -> Snapshot {
    Snapshot {
        jobs: vec![job.clone()],
        job_items: vec![item.clone()],
        ..snap(Some(n), accounts)
    }
}

#[test]
fn an_item_records_its_commands_success_or_refusal_with_the_jobs_counts() {
    let owner = ma();
    let job = running_job(&owner);
    let item = JobItem {
        job_id: job.id,
        seq: 0,
        e164: e164(),
        result: None,
    };
    let cmd = Command::RunJobItem {
        job: job.id,
        seq: 0,
        number: e164(),
        kind: JobKind::Release,
    };
    let needs = cmd.needs(&ctx_for(&owner, t0()));
    assert_eq!(needs.job_item, Some((job.id, 0)));
    assert_eq!(needs.job, Some(job.id));
    assert_eq!(needs.number, Some(e164().into()));

    let ch = cmd
        .decide(
            &ctx_for(&owner, t0()),
            &item_snap(owned_by(&owner), vec![owner.clone()], &job, &item),
        )
        .unwrap();
    assert_eq!(ch.number().unwrap().state, NumberState::Available);
    assert_eq!(ch.events[0].action, "released");
    let done = ch.job_items[0].row();
    assert!(done.result.as_ref().unwrap().succeeded());
    assert_eq!(ch.jobs[0].row().succeeded, 1);

    // Locked: the item fails with the error's code and message; the number is not written.
    let ch = cmd
        .decide(
            &ctx_for(&owner, t0()),
            &item_snap(locked_by(&owner), vec![owner.clone()], &job, &item),
        )
        .unwrap();
    assert!(ch.numbers.is_empty() && ch.events.is_empty());
    let result = ch.job_items[0].row().result.clone().unwrap();
    let (code, message) = result.error.unwrap();
    assert_eq!(code, "release_locked");
    assert!(message.contains("locked against release"));
    assert_eq!(
        (ch.jobs[0].row().succeeded, ch.jobs[0].row().failed),
        (0, 1)
    );

    // An item with its result already: nothing runs again.
    let mut finished = item.clone();
    finished.result = Some(crate::job::ItemResult {
        error: None,
        at: t0(),
    });
    let ch = cmd
        .decide(
            &ctx_for(&owner, t0()),
            &item_snap(owned_by(&owner), vec![owner.clone()], &job, &finished),
        )
        .unwrap();
    assert!(ch.is_empty());

    // A cancelled job runs no more items; another account cannot run the job's items.
    let mut cancelled = job.clone();
    cancelled.status = JobStatus::Cancelled;
    let err = cmd
        .decide(
            &ctx_for(&owner, t0()),
            &item_snap(owned_by(&owner), vec![owner.clone()], &cancelled, &item),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::JobNotRunning));
    let stranger = account("MA_OTHER", None, Role::Customer, dec!(0));
    let err = cmd
        .decide(
            &ctx_for(&stranger, t0()),
            &item_snap(owned_by(&owner), vec![owner], &job, &item),
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::Forbidden(_)));
}

#[test]
fn a_runner_claims_renews_and_finishes_only_while_it_holds_the_lease() {
    let owner = ma();
    let mut queued = running_job(&owner);
    queued.status = JobStatus::Queued;
    queued.lease_owner = None;
    queued.lease_until = None;
    queued.started_at = None;
    let until = t0() + Duration::seconds(30);
    let claim = Command::ClaimJob {
        worker: "node-b".into(),
        now_real: t0(),
        lease_until: until,
    };
    let jobs_snap = |j: &Job| Snapshot {
        jobs: vec![j.clone()],
        ..Snapshot::default()
    };
    let ch = claim.decide(&system(t0()), &jobs_snap(&queued)).unwrap();
    let claimed = ch.jobs[0].row().clone();
    assert_eq!(claimed.status, JobStatus::Running);
    assert_eq!(claimed.lease_owner.as_deref(), Some("node-b"));
    assert_eq!(claimed.lease_until, Some(until));
    assert_eq!(claimed.started_at, Some(t0()));
    assert!(claim
        .decide(&system(t0()), &Snapshot::default())
        .unwrap()
        .is_empty());
    assert!(matches!(
        claim.decide(&ctx_for(&owner, t0()), &jobs_snap(&queued)),
        Err(EngineError::Forbidden(_))
    ));

    let renew = |worker: &str| Command::RenewJobLease {
        id: claimed.id,
        worker: worker.into(),
        lease_until: until + Duration::seconds(30),
    };
    assert!(renew("node-b")
        .decide(&system(t0()), &jobs_snap(&claimed))
        .is_ok());
    assert!(matches!(
        renew("node-a").decide(&system(t0()), &jobs_snap(&claimed)),
        Err(EngineError::JobNotRunning)
    ));
    let finish = Command::FinishJob {
        id: claimed.id,
        worker: "node-b".into(),
    };
    assert!(matches!(
        finish.decide(&system(t0()), &jobs_snap(&claimed)),
        Err(EngineError::Invalid(_))
    ));
    let mut all_done = claimed.clone();
    all_done.succeeded = 1;
    all_done.failed = 1;
    let ch = finish.decide(&system(t0()), &jobs_snap(&all_done)).unwrap();
    let done = ch.jobs[0].row();
    assert_eq!(done.status, JobStatus::Done);
    assert_eq!(done.finished_at, Some(t0()));
    assert_eq!(done.lease_owner, None);

    // Cancel: its account (or the master over it) or the operator; a stranger does not see it.
    let cancel = Command::CancelJob { id: claimed.id };
    let ch = cancel
        .decide(&ctx_for(&owner, t0()), &jobs_snap(&claimed))
        .unwrap();
    assert_eq!(ch.jobs[0].row().status, JobStatus::Cancelled);
    let stranger = account("MA_OTHER", None, Role::Customer, dec!(0));
    assert!(matches!(
        cancel.decide(&ctx_for(&stranger, t0()), &jobs_snap(&claimed)),
        Err(EngineError::JobNotFound)
    ));
    assert!(cancel
        .decide(&operator(t0()), &jobs_snap(done))
        .unwrap()
        .is_empty());
}
