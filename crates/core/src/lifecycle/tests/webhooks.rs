//! Webhook endpoints and deliveries: the retry schedule, failure, disabling, requeues.

use super::*;
use crate::ids::{EndpointId, EventId, NumberId};
use crate::webhook::{
    AttemptResult, Delivery, DeliveryStatus, Endpoint, EndpointPatch, Requeue, DISABLE_AFTER,
    RETRY_SCHEDULE,
};

fn system(now: DateTime<Utc>) -> Context {
    Context {
        actor: Actor::System,
        caller_billing: None,
        now,
        request_id: None,
        policy: ReleasePolicy::default(),
    }
}

fn endpoint() -> Endpoint {
    Endpoint {
        id: EndpointId::new(),
        url: "https://hooks.example.com/x".into(),
        description: String::new(),
        event_types: vec![],
        account_id: None,
        secret: "whsec_c2VjcmV0".into(),
        previous_secret: None,
        previous_secret_until: None,
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn delivery(e: &Endpoint) -> Delivery {
    Delivery {
        seq: 1,
        endpoint_id: e.id,
        event_id: EventId::new(),
        number_id: NumberId::new(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: Some(t0()),
        lease_until: Some(t0() + Duration::seconds(30)),
        updated_at: t0(),
    }
}

fn answered(status: u16) -> AttemptResult {
    AttemptResult {
        status_code: Some(status),
        latency_ms: 3,
        response: String::new(),
        error: None,
    }
}

fn finish(e: &Endpoint, d: &Delivery, now: DateTime<Utc>, r: AttemptResult) -> Changes {
    let snap = Snapshot {
        webhook_endpoints: vec![e.clone()],
        deliveries: vec![d.clone()],
        ..Snapshot::default()
    };
    Command::FinishDelivery {
        seq: d.seq,
        result: r,
    }
    .decide(&system(now), &snap)
    .unwrap()
}

#[test]
fn failures_follow_the_schedule_then_the_delivery_fails() {
    let e = endpoint();
    let mut d = delivery(&e);
    let mut now = t0();
    for (i, wait) in RETRY_SCHEDULE.iter().enumerate().skip(1) {
        let ch = finish(&e, &d, now, answered(500));
        d = ch.deliveries[0].row().clone();
        assert_eq!(d.attempts as usize, i);
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.next_attempt_at, Some(now + *wait), "after attempt {i}");
        assert_eq!(d.lease_until, None);
        assert_eq!(ch.attempts.len(), 1);
        now += *wait;
    }
    let ch = finish(&e, &d, now, answered(503));
    let d = ch.deliveries[0].row();
    assert_eq!((d.attempts, d.status), (8, DeliveryStatus::Failed));
    assert_eq!(d.next_attempt_at, None);
}

#[test]
fn a_2xx_delivers_and_the_endpoint_forgets_its_failures() {
    let mut e = endpoint();
    e.failing_since = Some(t0() - Duration::hours(3));
    let d = delivery(&e);
    let ch = finish(&e, &d, t0(), answered(204));
    assert_eq!(ch.deliveries[0].row().status, DeliveryStatus::Succeeded);
    assert_eq!(ch.webhook_endpoints[0].row().failing_since, None);
    // A timeout (no status) is a failure, whatever came before.
    let ch = finish(
        &endpoint(),
        &d,
        t0(),
        AttemptResult {
            status_code: None,
            latency_ms: 15_000,
            response: String::new(),
            error: Some("timed out".into()),
        },
    );
    assert_eq!(ch.deliveries[0].row().status, DeliveryStatus::Pending);
    assert_eq!(ch.webhook_endpoints[0].row().failing_since, Some(t0()));
    // A redirect is no success either.
    let ch = finish(&endpoint(), &d, t0(), answered(302));
    assert_eq!(ch.deliveries[0].row().attempts, 1);
    assert_eq!(ch.deliveries[0].row().status, DeliveryStatus::Pending);
}

#[test]
fn an_endpoint_failing_for_five_days_is_disabled() {
    let mut e = endpoint();
    e.failing_since = Some(t0());
    let d = delivery(&e);
    let ch = finish(
        &e,
        &d,
        t0() + DISABLE_AFTER - Duration::seconds(1),
        answered(500),
    );
    assert!(
        ch.webhook_endpoints.is_empty(),
        "nothing changes on the endpoint yet"
    );
    let later = t0() + DISABLE_AFTER;
    let ch = finish(&e, &d, later, answered(500));
    let disabled = ch.webhook_endpoints[0].row();
    assert_eq!(disabled.disabled_at, Some(later));
    assert!(disabled
        .disabled_reason
        .as_deref()
        .unwrap()
        .contains("5 days"));
    assert!(!disabled.matches(&sample_event()));
    // Enabled again by the operator: its failures are forgotten.
    let snap = Snapshot {
        webhook_endpoints: vec![disabled.clone()],
        ..Snapshot::default()
    };
    let patch = EndpointPatch {
        enabled: Some(true),
        ..EndpointPatch::default()
    };
    let ch = Command::UpdateWebhookEndpoint { id: e.id, patch }
        .decide(&system(later), &snap)
        .unwrap();
    let e = ch.webhook_endpoints[0].row();
    assert_eq!((e.disabled_at, e.failing_since), (None, None));
}

#[test]
fn a_delivery_finished_meanwhile_is_left_as_it_is() {
    let e = endpoint();
    let mut d = delivery(&e);
    d.status = DeliveryStatus::Succeeded;
    assert!(finish(&e, &d, t0(), answered(500)).is_empty());
}

fn sample_event() -> NumberEvent {
    let owner = ma();
    let n = owned_by(&owner);
    event(&ctx_for(&owner, t0()), "released", Some(&n), &stock())
}

#[test]
fn endpoints_match_their_types_and_account() {
    let ev = sample_event();
    let mut e = endpoint();
    assert!(e.matches(&ev));
    e.event_types = vec!["number.purchased".into()];
    assert!(!e.matches(&ev));
    e.event_types = vec!["number.released".into()];
    assert!(e.matches(&ev));
    e.account_id = Some(AccountId::parse("MA_OTHER").unwrap());
    assert!(!e.matches(&ev));
    e.account_id = Some(ma().id);
    assert!(e.matches(&ev), "the account that released it is concerned");
}

#[test]
fn only_the_operator_manages_endpoints_and_urls_and_types_are_checked() {
    let create = |url: &str, types: Vec<String>| Command::CreateWebhookEndpoint {
        id: EndpointId::new(),
        url: url.into(),
        description: String::new(),
        event_types: types,
        account_id: None,
        secret: "whsec_c2VjcmV0".into(),
    };
    let ok = create("https://a.example/h", vec![]);
    assert!(matches!(
        ok.decide(&ctx_for(&ma(), t0()), &Snapshot::default()),
        Err(EngineError::Forbidden(_))
    ));
    assert!(ok.decide(&system(t0()), &Snapshot::default()).is_ok());
    for bad in [
        create("ftp://a.example", vec![]),
        create("https://a.example", vec!["number.nope".into()]),
    ] {
        assert!(matches!(
            bad.decide(&system(t0()), &Snapshot::default()),
            Err(EngineError::Invalid(_))
        ));
    }
    let with_account = Command::CreateWebhookEndpoint {
        id: EndpointId::new(),
        url: "https://a.example".into(),
        description: String::new(),
        event_types: vec![],
        account_id: Some(AccountId::parse("MA_GONE").unwrap()),
        secret: "whsec_c2VjcmV0".into(),
    };
    assert!(matches!(
        with_account.decide(&system(t0()), &Snapshot::default()),
        Err(EngineError::AccountNotFound)
    ));
}

#[test]
fn a_rotation_keeps_the_old_secret_for_its_overlap_only() {
    let e = endpoint();
    let snap = Snapshot {
        webhook_endpoints: vec![e.clone()],
        ..Snapshot::default()
    };
    let rotate = |overlap| Command::RotateWebhookSecret {
        id: e.id,
        secret: "whsec_bmV3".into(),
        overlap,
    };
    let ch = rotate(Duration::hours(1))
        .decide(&system(t0()), &snap)
        .unwrap();
    let r = ch.webhook_endpoints[0].row();
    assert_eq!(r.secret, "whsec_bmV3");
    assert_eq!(r.previous_secret.as_deref(), Some(e.secret.as_str()));
    assert_eq!(r.signing_secrets(t0()).len(), 2);
    assert_eq!(r.signing_secrets(t0() + Duration::hours(1)).len(), 1);
    assert!(rotate(Duration::days(8))
        .decide(&system(t0()), &snap)
        .is_err());
}

#[test]
fn a_requeue_starts_the_schedule_again_from_now() {
    let e = endpoint();
    let mut d = delivery(&e);
    d.status = DeliveryStatus::Failed;
    d.attempts = 8;
    d.next_attempt_at = None;
    let snap = Snapshot {
        deliveries: vec![d.clone()],
        ..Snapshot::default()
    };
    let what = Requeue::Event {
        event: d.event_id,
        endpoint: None,
    };
    let now = t0() + Duration::days(2);
    let ch = Command::RequeueDeliveries { what: what.clone() }
        .decide(&system(now), &snap)
        .unwrap();
    let r = ch.deliveries[0].row();
    assert_eq!((r.status, r.attempts), (DeliveryStatus::Pending, 0));
    assert_eq!(r.next_attempt_at, Some(now));
    assert!(matches!(
        Command::RequeueDeliveries { what }.decide(&system(now), &Snapshot::default()),
        Err(EngineError::EventNotFound)
    ));
}
