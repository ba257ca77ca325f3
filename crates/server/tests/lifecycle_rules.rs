//! The lifecycle rules one engine holds for every face, pinned over HTTP on the Vobiz face and the
//! admin API (with the Agni and Diga faces where a rule spans them): what a sub-account bound
//! leaves with it, repeat and immediate releases, answers that do not depend on whether the
//! scheduler has run, the operator's cancel-release, the one release fee, the audit trail of an
//! imported number, currencies, anniversary billing and the verification deadline.

#[macro_use]
mod common;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use common::{blr, enc, micros, Acct, TestApp};
use didpool_core::money::Decimal;
use didpool_core::ReleasePolicy;
use serde_json::{json, Value};

/// Numbers a customer brings from elsewhere (never stocked).
const BYO: &str = "+13125550142";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("a valid time")
}

fn fee(amount: i64) -> Decimal {
    Decimal::from(amount)
}

/// A release window of 24 hours, nothing else.
fn window() -> ReleasePolicy {
    ReleasePolicy {
        window: Duration::hours(24),
        ..ReleasePolicy::default()
    }
}

fn forbidden() -> Value {
    json!({"error": "forbidden", "message": "account does not own this number"})
}

fn not_pending() -> Value {
    json!({"error": "number is not pending release"})
}

fn actions(audit: &Value) -> Vec<String> {
    audit["events"]
        .as_array()
        .expect("an events array")
        .iter()
        .map(|e| e["action"].as_str().expect("an action").to_owned())
        .collect()
}

/// The kinds of the ledger entries, oldest first.
fn kinds(ledger: &[(String, f64)]) -> Vec<&str> {
    ledger.iter().map(|(k, _)| k.as_str()).collect()
}

/// `who`'s view of a number through the Vobiz face.
async fn vobiz_number(t: &TestApp, who: &Acct, e164: &str) -> (StatusCode, Value) {
    t.get(
        &format!("{}/numbers/{}", who.base(), enc(e164)),
        &who.auth(),
    )
    .await
}

/// Alice (10 000 INR) holding `blr(1)`, bought at 100 setup + 300 a month.
async fn alice_with_a_number(t: &TestApp) -> Acct {
    let alice = t.master("MA_ALICE", "10000").await;
    t.stock(&blr(1), "100", "300").await;
    t.buy(&alice, &blr(1)).await;
    alice
}

// ---- (2) Taking a number back from a sub-account -----------------------------------------------

/// The parent, its sub-account, and `blr(1)` bought by the parent and handed to the child.
async fn handed_to_child(t: &TestApp) -> (Acct, Acct) {
    let parent = t.master("MA_PARENT", "10000").await;
    let child = t.sub(&parent, "SA_CHILD").await;
    t.stock(&blr(1), "100", "300").await;
    t.buy(&parent, &blr(1)).await;
    let (status, body) = t
        .post(
            &format!(
                "{}/numbers/{}/assign-subaccount",
                parent.base(),
                enc(&blr(1))
            ),
            &parent.auth(),
            json!({"sub_account_id": "SA_CHILD"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    (parent, child)
}

async fn route(t: &TestApp, who: &Acct, e164: &str, trunk: &str) -> (StatusCode, Value) {
    t.post(
        &format!("{}/numbers/{}/assign", who.base(), enc(e164)),
        &who.auth(),
        json!({"trunk_group_id": trunk}),
    )
    .await
}

async fn take_back(t: &TestApp, parent: &Acct, e164: &str) {
    let (status, body) = t
        .delete(
            &format!("{}/numbers/{}/assign-subaccount", parent.base(), enc(e164)),
            &parent.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null);
}

async fn a_number_taken_back_from_a_sub_account_leaves_the_childs_trunk_and_agents_behind() {
    let t = TestApp::spawn().await;
    let (parent, child) = handed_to_child(&t).await;
    let child_trunk = t.trunk(&child, "child trunk").await;
    let (status, body) = route(&t, &child, &blr(1), &child_trunk).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(t.admin_number(&blr(1)).await["trunk_group_id"], child_trunk);
    // The child binds an agent too (only the Diga face binds agents).
    let id = t.admin_number(&blr(1)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let child_diga = vec![(
        "Authorization",
        format!("Bearer {}", t.api_key(&child, "diga").await),
    )];
    let agent = "0190a8b2-0000-7000-8000-000000000001";
    let (status, body) = t
        .call(
            axum::http::Method::PATCH,
            &format!("/v1/phone/{id}"),
            &child_diga,
            Some(json!({"inbound_version_id": agent, "nickname": "child's line"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["inbound_agent_id"], agent);
    t.assert_sound().await;

    take_back(&t, &parent, &blr(1)).await;

    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["account_id"], "MA_PARENT");
    assert_eq!(n["trunk_group_id"], Value::Null);
    let (status, own) = vobiz_number(&t, &parent, &blr(1)).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_eq!(own["trunk_group_id"], Value::Null);
    let parent_diga = vec![(
        "Authorization",
        format!("Bearer {}", t.api_key(&parent, "diga").await),
    )];
    let (status, phone) = t.get(&format!("/v1/phone/{id}"), &parent_diga).await;
    assert_eq!(status, StatusCode::OK, "{phone}");
    assert_eq!(phone["inbound_agent_id"], Value::Null, "{phone}");
    assert_eq!(phone["nickname"], Value::Null, "{phone}");
    assert_eq!(
        actions(&t.audit(&blr(1)).await).last().unwrap(),
        "unassigned_from_sub_account"
    );
    t.assert_sound().await;

    // The child goes; the number still points at none of its trunks.
    let (status, body) = t
        .delete(
            &format!("/api/v1/accounts/{}/sub-accounts/SA_CHILD", parent.id),
            &parent.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["account_id"], "MA_PARENT");
    assert_eq!(n["trunk_group_id"], Value::Null);
    t.assert_sound().await;
    // The parent routes it anew, to its own trunk.
    let parent_trunk = t.trunk(&parent, "parent trunk").await;
    let (status, body) = route(&t, &parent, &blr(1), &parent_trunk).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.assert_sound().await;
}

async fn a_forced_take_back_clears_the_childs_trunk_as_well() {
    let t = TestApp::spawn().await;
    let parent = t.admin_master("MA_PARENT", "10000").await;
    let child = t.sub(&parent, "SA_CHILD").await;
    t.stock(&blr(1), "100", "300").await;
    t.buy(&parent, &blr(1)).await;
    let (status, _) = t
        .post(
            &format!(
                "{}/numbers/{}/assign-subaccount",
                parent.base(),
                enc(&blr(1))
            ),
            &parent.auth(),
            json!({"sub_account_id": "SA_CHILD"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let child_trunk = t.trunk(&child, "child trunk").await;
    assert_eq!(
        route(&t, &child, &blr(1), &child_trunk).await.0,
        StatusCode::NO_CONTENT
    );
    t.report_call(&blr(1), t.now() - Duration::hours(1)).await;

    let (status, body) = t
        .delete(
            &format!(
                "{}/numbers/{}/assign-subaccount?force=true",
                parent.base(),
                enc(&blr(1))
            ),
            &parent.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["account_id"], "MA_PARENT");
    assert_eq!(n["trunk_group_id"], Value::Null);
    t.assert_sound().await;
}

async fn a_sub_account_cannot_route_its_number_to_its_parents_trunk() {
    let t = TestApp::spawn().await;
    let (parent, child) = handed_to_child(&t).await;
    let parent_trunk = t.trunk(&parent, "parent trunk").await;

    let (status, body) = route(&t, &child, &blr(1), &parent_trunk).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "not_found", "message": "trunk not found"})
    );
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["trunk_group_id"], Value::Null);
    assert_eq!(n["account_id"], "SA_CHILD");
    t.assert_sound().await;
}

async fn a_parents_own_trunk_stays_on_the_number_it_takes_back() {
    let t = TestApp::spawn().await;
    let parent = t.master("MA_PARENT", "10000").await;
    t.sub(&parent, "SA_CHILD").await;
    t.stock(&blr(1), "100", "300").await;
    t.buy(&parent, &blr(1)).await;
    let parent_trunk = t.trunk(&parent, "parent trunk").await;
    assert_eq!(
        route(&t, &parent, &blr(1), &parent_trunk).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, _) = t
        .post(
            &format!(
                "{}/numbers/{}/assign-subaccount",
                parent.base(),
                enc(&blr(1))
            ),
            &parent.auth(),
            json!({"sub_account_id": "SA_CHILD"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        t.admin_number(&blr(1)).await["trunk_group_id"],
        parent_trunk
    );
    t.assert_sound().await;

    take_back(&t, &parent, &blr(1)).await;
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["account_id"], "MA_PARENT");
    assert_eq!(n["trunk_group_id"], parent_trunk);
    t.assert_sound().await;
}

async fn the_check_finds_a_number_routed_to_a_trunk_of_neither_its_holder_nor_its_payer() {
    let t = TestApp::spawn().await;
    let alice = alice_with_a_number(&t).await;
    let bob = t.master("MA_BOB", "10000").await;
    let bobs_trunk = t.trunk(&bob, "bob's trunk").await;
    let alices_trunk = t.trunk(&alice, "alice's trunk").await;
    assert_eq!(
        route(&t, &alice, &blr(1), &alices_trunk).await.0,
        StatusCode::NO_CONTENT
    );
    t.assert_sound().await;

    let changed = t
        .sql(&format!(
            "UPDATE numbers SET trunk_id = '{bobs_trunk}' WHERE e164 = '{}'",
            blr(1)
        ))
        .await;
    assert_eq!(changed, 1);
    let report = t.check().await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(
        report["violations"],
        json!([{
            "rule": "trunk_belongs_to_holder_or_payer",
            "subject": blr(1),
            "detail": format!("trunk {bobs_trunk} of MA_BOB, held by MA_ALICE, billed to MA_ALICE"),
        }]),
        "{report}"
    );
}

// ---- (4) Repeat releases ----------------------------------------------------------------------

async fn a_repeat_release_by_the_former_owner_is_403_with_the_seed_body() {
    let t = TestApp::spawn().await;
    let alice = alice_with_a_number(&t).await;
    let (status, body) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let ledger = t.transactions(&alice).await;

    for query in ["", "?immediate=true"] {
        let (status, body) = t.release(&alice, &blr(1), query).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{query}");
        assert_eq!(body, forbidden(), "{query}");
    }
    assert_eq!(t.transactions(&alice).await, ledger);
    assert_eq!(t.admin_number(&blr(1)).await["state"], "available");
    t.assert_sound().await;
}

async fn a_repeat_release_during_the_window_answers_the_same_pending_body_without_a_second_fee() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        fee: fee(700),
        ..window()
    })
    .await;
    let alice = alice_with_a_number(&t).await;

    let (status, first) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        first,
        json!({
            "cancel_url": format!("/api/v1/account/MA_ALICE/numbers/{}/cancel-release", blr(1)),
            "cooldown_ends_at": micros(t.now() + Duration::hours(24)),
            "message": "number release initiated",
            "note": "Number will be in pending_release for 24 hours (cancellable), then returned to inventory.",
            "release_fee": 700.0,
            "status": "pending_release",
        })
    );
    t.advance(Duration::hours(1));
    let (status, again) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, first);

    let ledger = t.transactions(&alice).await;
    assert_eq!(
        kinds(&ledger),
        ["payment", "did_purchase", "did_rental", "release_fee"]
    );
    assert_eq!(ledger[3].1, -700.0);
    assert_eq!(t.balance(&alice).await, 10000.0 - 400.0 - 700.0);
    assert_eq!(t.admin_number(&blr(1)).await["state"], "pending_release");
    t.assert_sound().await;
}

async fn a_repeat_release_after_the_window_is_403_whether_or_not_the_scheduler_ran() {
    let t = TestApp::spawn_with_policy(window()).await;
    let alice = alice_with_a_number(&t).await;
    assert_eq!(t.release(&alice, &blr(1), "").await.0, StatusCode::OK);
    t.advance(Duration::hours(24));

    // The window is over: the release has taken effect, whether or not the scheduler ran.
    let (status, body) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body, forbidden());
    // The release took effect by the clock, not by Alice's repeat: the system's event.
    let audit = t.audit(&blr(1)).await;
    let last = audit["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "released");
    assert_eq!(last["actor"], "system");
    assert_eq!(last["request_id"], Value::Null);
    assert_eq!(last["at"], micros(t.now()));
    assert_eq!(t.run_scheduler().await, 0);
    let (status, body) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body, forbidden());
    assert_eq!(t.admin_number(&blr(1)).await["state"], "available");
    t.assert_sound().await;
}

async fn a_vobiz_release_of_a_number_diga_scheduled_for_its_cycle_end_is_the_pending_release() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        fee: fee(700),
        ..window()
    })
    .await;
    let alice = alice_with_a_number(&t).await;
    let id = t.admin_number(&blr(1)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let diga = vec![(
        "Authorization",
        format!("Bearer {}", t.api_key(&alice, "diga").await),
    )];
    let (status, body) = t.delete(&format!("/v1/phone/{id}"), &diga).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    t.advance(Duration::days(3));

    // Alice still holds it: the window's release is pending (sooner than the cycle's end), and
    // the fee Diga charged is not charged again.
    let (status, body) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_release");
    assert_eq!(
        body["cooldown_ends_at"],
        micros(t.now() + Duration::hours(24))
    );
    assert_eq!(body["release_fee"], 700.0);
    let (status, again) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, body);
    assert_eq!(
        kinds(&t.transactions(&alice).await),
        ["payment", "did_purchase", "did_rental", "release_fee"]
    );
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["state"], "pending_release");
    assert_eq!(n["release_at"], micros(t.now() + Duration::hours(24)));
    t.advance(Duration::hours(24));
    assert_eq!(t.run_scheduler().await, 1);
    assert_eq!(t.admin_number(&blr(1)).await["state"], "available");
    t.assert_sound().await;
}

// ---- (5) ?immediate=true ----------------------------------------------------------------------

async fn an_immediate_release_skips_the_window_and_cannot_be_cancelled() {
    let t = TestApp::spawn_with_policy(window()).await;
    let alice = alice_with_a_number(&t).await;

    let (status, body) = t.release(&alice, &blr(1), "?immediate=true").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null);
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["state"], "available");
    assert_eq!(n["account_id"], "");
    assert_eq!(n["release_at"], Value::Null);
    assert_eq!(n["released_at"], micros(t.now()));
    assert!(t.inventory(&alice).await.contains(&blr(1)));

    let (status, body) = t.cancel_release(&alice, &blr(1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, not_pending());
    assert_eq!(t.admin_number(&blr(1)).await["state"], "available");
    t.assert_sound().await;
}

async fn an_immediate_release_is_quarantined_at_once_when_the_policy_quarantines() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        quarantine: Duration::days(45),
        ..window()
    })
    .await;
    let alice = alice_with_a_number(&t).await;

    let (status, body) = t.release(&alice, &blr(1), "?immediate=true").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["state"], "quarantined");
    assert_eq!(n["quarantine_until"], micros(t.now() + Duration::days(45)));
    assert!(!t.inventory(&alice).await.contains(&blr(1)));
    let (status, body) = t.cancel_release(&alice, &blr(1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, not_pending());
    t.assert_sound().await;
}

async fn an_immediate_release_completes_a_pending_one_without_a_second_fee() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        fee: fee(700),
        ..window()
    })
    .await;
    let alice = alice_with_a_number(&t).await;
    assert_eq!(t.release(&alice, &blr(1), "").await.0, StatusCode::OK);
    t.advance(Duration::hours(2));

    let (status, body) = t.release(&alice, &blr(1), "?immediate=true").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["state"], "available");
    assert_eq!(n["released_at"], micros(t.now()));
    assert_eq!(
        kinds(&t.transactions(&alice).await),
        ["payment", "did_purchase", "did_rental", "release_fee"]
    );
    let (status, body) = t.cancel_release(&alice, &blr(1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, not_pending());
    t.assert_sound().await;
}

// ---- (6) Answers do not depend on whether the scheduler ran ------------------------------------

async fn cancel_release_after_the_window_is_400_whether_or_not_the_scheduler_ran() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        fee: fee(700),
        ..window()
    })
    .await;
    let alice = alice_with_a_number(&t).await;
    let released = t.now();
    assert_eq!(t.release(&alice, &blr(1), "").await.0, StatusCode::OK);

    // One microsecond before the window ends, it is still pending.
    t.advance(Duration::hours(24) - Duration::microseconds(1));
    let (status, body) = vobiz_number(&t, &alice, &blr(1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pending_release");
    t.advance(Duration::microseconds(1));

    let (status, body) = t.cancel_release(&alice, &blr(1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, not_pending());
    let (status, body) = vobiz_number(&t, &alice, &blr(1)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        body,
        json!({"error": "not_found", "message": "number not found"})
    );
    let before = t.admin_number(&blr(1)).await;
    assert_eq!(before["state"], "available");
    assert_eq!(before["account_id"], "");
    assert_eq!(
        before["released_at"],
        micros(released + Duration::hours(24))
    );

    assert_eq!(t.run_scheduler().await, 1);
    let after = t.admin_number(&blr(1)).await;
    assert_eq!(after, before);
    let (status, body) = t.cancel_release(&alice, &blr(1)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, not_pending());
    assert_eq!(
        vobiz_number(&t, &alice, &blr(1)).await.0,
        StatusCode::NOT_FOUND
    );
    // The fee of a release that took effect is kept.
    assert_eq!(t.balance(&alice).await, 10000.0 - 400.0 - 700.0);
    let audit = t.audit(&blr(1)).await;
    assert_eq!(
        actions(&audit),
        ["stocked", "purchased", "release_requested", "released"]
    );
    t.assert_sound().await;
}

async fn cancel_release_of_another_accounts_number_is_403_and_of_an_unheld_one_404() {
    let t = TestApp::spawn_with_policy(window()).await;
    let alice = alice_with_a_number(&t).await;
    let bob = t.master("MA_BOB", "10000").await;
    t.stock(&blr(2), "0", "1").await;
    t.buy(&bob, &blr(2)).await;
    t.stock(&blr(3), "0", "1").await;
    t.buy(&bob, &blr(3)).await;
    assert_eq!(t.release(&bob, &blr(3), "").await.0, StatusCode::OK);
    t.stock(&blr(4), "0", "1").await;
    assert_eq!(t.release(&alice, &blr(1), "").await.0, StatusCode::OK);

    for e164 in [blr(2), blr(3)] {
        let (status, body) = t.cancel_release(&alice, &e164).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{e164}");
        assert_eq!(body, json!({"error": "access denied"}), "{e164}");
    }
    for e164 in [blr(4), blr(5)] {
        let (status, body) = t.cancel_release(&alice, &e164).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e164}");
        assert_eq!(body, json!({"error": "number not found"}), "{e164}");
    }
    // Alice's own pending release is still hers to cancel; Bob cannot touch it.
    let (status, body) = t.cancel_release(&bob, &blr(1)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, json!({"error": "access denied"}));
    assert_eq!(t.admin_number(&blr(3)).await["state"], "pending_release");
    let (status, body) = t.cancel_release(&alice, &blr(1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(t.admin_number(&blr(1)).await["state"], "active");
    t.assert_sound().await;
}

async fn a_reservation_past_its_ttl_cannot_be_checked_out_even_before_the_scheduler_runs() {
    let t = TestApp::spawn_with_policy(ReleasePolicy::default()).await;
    let alice = t.master("MA_ALICE", "10000").await;
    t.stock(&blr(1), "100", "300").await;
    let (status, body) = t
        .post(
            &format!("/admin/v1/numbers/{}/reserve", enc(&blr(1))),
            &TestApp::admin_auth(),
            json!({"account": "MA_ALICE", "ttl_seconds": 60}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "reserved");
    t.advance(Duration::seconds(60));

    let checkout = format!("/admin/v1/numbers/{}/checkout", enc(&blr(1)));
    let (status, body) = t.post(&checkout, &TestApp::admin_auth(), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body,
        json!({"error": "conflict", "message": "number is not reserved"})
    );
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["state"], "available");
    assert_eq!(n["reservation_expires_at"], Value::Null);
    assert_eq!(t.balance(&alice).await, 10000.0);

    t.run_scheduler().await;
    assert_eq!(t.admin_number(&blr(1)).await, n);
    let (status, _) = t.post(&checkout, &TestApp::admin_auth(), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(t.balance(&alice).await, 10000.0);
    t.assert_sound().await;
}

async fn a_sub_account_whose_last_release_took_effect_can_be_deleted_before_the_scheduler_runs() {
    let t = TestApp::spawn_with_policy(window()).await;
    let (parent, _child) = handed_to_child(&t).await;
    // The parent releases the child's number; the window passes, the scheduler has not run.
    assert_eq!(t.release(&parent, &blr(1), "").await.0, StatusCode::OK);
    t.advance(Duration::hours(24));

    let (status, body) = t
        .delete(
            &format!("/api/v1/accounts/{}/sub-accounts/SA_CHILD", parent.id),
            &parent.auth(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.run_scheduler().await;
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["state"], "available");
    t.assert_sound().await;
}

// ---- (7) The operator undoes a scheduled Diga release ------------------------------------------

async fn the_operator_cancels_a_scheduled_diga_release() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        fee: fee(700),
        ..ReleasePolicy::default()
    })
    .await;
    let alice = alice_with_a_number(&t).await;
    let bought = t.now();
    let id = t.admin_number(&blr(1)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let diga = vec![(
        "Authorization",
        format!("Bearer {}", t.api_key(&alice, "diga").await),
    )];
    t.advance(Duration::days(3));

    let (status, body) = t.delete(&format!("/v1/phone/{id}"), &diga).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let cycle_end = bought + chrono::Months::new(1);
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["state"], "active");
    assert_eq!(n["release_at"], micros(cycle_end));

    let cancel = format!("/admin/v1/numbers/{}/cancel-release", enc(&blr(1)));
    let (status, body) = t.post(&cancel, &TestApp::admin_auth(), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "active");
    assert_eq!(body["release_at"], Value::Null);
    assert_eq!(body["account_id"], "MA_ALICE");
    let audit = t.audit(&blr(1)).await;
    let last = audit["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "release_cancelled");
    assert_eq!(last["actor"], "operator");
    assert_eq!(last["to_state"], "active");
    let (status, phone) = t.get(&format!("/v1/phone/{id}"), &diga).await;
    assert_eq!(status, StatusCode::OK, "{phone}");
    assert_eq!(phone["scheduled_release_at"], Value::Null);

    // Nothing is pending any more: a second cancel is a conflict.
    let (status, body) = t.post(&cancel, &TestApp::admin_auth(), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({"error": "conflict", "message": "number is not pending release"})
    );

    // The fee Diga charged is refunded; the number lives on past the cycle's end, billed its
    // next month.
    t.clock.set(cycle_end);
    t.run_scheduler().await;
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["state"], "active");
    assert_eq!(n["account_id"], "MA_ALICE");
    let ledger = t.transactions(&alice).await;
    assert_eq!(
        kinds(&ledger),
        [
            "payment",
            "did_purchase",
            "did_rental",
            "release_fee",
            "refund",
            "did_rental"
        ]
    );
    assert_eq!((ledger[3].1, ledger[4].1), (-700.0, 700.0));
    assert_eq!(t.balance(&alice).await, 10000.0 - 400.0 - 300.0);
    t.assert_sound().await;
}

// ---- (9) One release fee -----------------------------------------------------------------------

async fn every_face_charges_the_same_release_fee() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        fee: fee(700),
        ..ReleasePolicy::default()
    })
    .await;
    let alice = alice_with_a_number(&t).await;
    t.stock(&blr(2), "100", "300").await;
    t.buy(&alice, &blr(2)).await;
    t.stock(&blr(3), "100", "300").await;
    t.buy(&alice, &blr(3)).await;
    let agni = vec![("X-Api-Key", t.api_key(&alice, "agni").await)];
    let diga = vec![(
        "Authorization",
        format!("Bearer {}", t.api_key(&alice, "diga").await),
    )];

    let (status, body) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = t
        .delete(
            &format!("/api/v1/phone-numbers/{}/release", enc(&blr(2))),
            &agni,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    // Diga schedules the release for the cycle's end, and charges the fee when asked.
    let id = t.admin_number(&blr(3)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = t.delete(&format!("/v1/phone/{id}"), &diga).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let ledger = t.transactions(&alice).await;
    let fees: Vec<f64> = ledger
        .iter()
        .filter(|(k, _)| k == "release_fee")
        .map(|(_, a)| *a)
        .collect();
    assert_eq!(fees, [-700.0, -700.0, -700.0], "{ledger:?}");
    assert_eq!(t.balance(&alice).await, 10000.0 - 1200.0 - 2100.0);
    // A repeat on Agni answers the same and charges nothing more.
    let (status, _) = t
        .delete(
            &format!("/api/v1/phone-numbers/{}/release", enc(&blr(2))),
            &agni,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.transactions(&alice).await, ledger);
    t.assert_sound().await;
}

async fn an_imported_number_is_never_charged_the_release_fee_and_its_note_says_it_is_deleted() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        fee: fee(700),
        quarantine: Duration::days(45),
        ..window()
    })
    .await;
    let alice = t.master("MA_ALICE", "10000").await;
    let agni = vec![("X-Api-Key", t.api_key(&alice, "agni").await)];
    let (status, body) = t
        .post(
            "/api/v1/phone-numbers/add-twilio",
            &agni,
            json!({"phone_number": BYO, "number_sid": "PN0123456789abcdef"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = t.release(&alice, BYO, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["release_fee"], 0.0);
    assert_eq!(body["status"], "pending_release");
    assert_eq!(
        body["note"],
        "Number will be in pending_release for 24 hours (cancellable), then deleted: an imported number does not return to inventory."
    );
    let note = body["note"].as_str().unwrap();
    assert!(!note.contains("quarantined") && !note.contains("returned to inventory"));
    // Nor does the number itself claim a quarantine it will never have.
    let pending = t.admin_number(BYO).await;
    assert_eq!(pending["state"], "pending_release");
    assert_eq!(pending["quarantine_until"], Value::Null);
    t.advance(Duration::hours(24));
    assert_eq!(t.run_scheduler().await, 1);
    assert_eq!(t.release(&alice, BYO, "").await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        actions(&t.audit(BYO).await),
        ["imported", "release_requested", "released"]
    );
    assert_eq!(t.audit(BYO).await["events"][2]["to_state"], "deleted");

    // Imported again and released at once on Agni: no fee either.
    let (status, body) = t
        .post(
            "/api/v1/phone-numbers/add-twilio",
            &agni,
            json!({"phone_number": BYO, "number_sid": "PN0123456789abcdef"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = t
        .delete(
            &format!("/api/v1/phone-numbers/{}/release", enc(BYO)),
            &agni,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    assert_eq!(kinds(&t.transactions(&alice).await), ["payment"]);
    assert_eq!(t.balance(&alice).await, 10000.0);
    t.assert_sound().await;
}

async fn a_release_fee_the_balance_cannot_cover_is_charged_as_far_as_it_goes() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        fee: fee(700),
        ..window()
    })
    .await;
    // 600 INR: 400 for the number leaves 200 for a fee of 700.
    let alice = t.master("MA_ALICE", "600").await;
    t.stock(&blr(1), "100", "300").await;
    let bought = t.now();
    t.buy(&alice, &blr(1)).await;
    // An hour before the first month ends, so the window spans the renewal date.
    t.clock
        .set(bought + chrono::Months::new(1) - Duration::hours(1));

    let (status, body) = t.release(&alice, &blr(1), "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["release_fee"], 200.0);
    assert_eq!(t.balance(&alice).await, 0.0);

    t.advance(Duration::days(40));
    t.run_scheduler().await;
    let ledger = t.transactions(&alice).await;
    assert_eq!(
        kinds(&ledger),
        ["payment", "did_purchase", "did_rental", "release_fee"]
    );
    assert_eq!(ledger[3].1, -200.0);
    assert_eq!(t.balance(&alice).await, 0.0);
    assert_eq!(t.admin_number(&blr(1)).await["state"], "available");
    t.assert_sound().await;
}

async fn an_agni_release_with_an_empty_balance_is_never_refused() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        fee: fee(700),
        ..ReleasePolicy::default()
    })
    .await;
    let alice = t.master("MA_ALICE", "400").await;
    t.stock(&blr(1), "100", "300").await;
    t.buy(&alice, &blr(1)).await;
    let agni = vec![("X-Api-Key", t.api_key(&alice, "agni").await)];

    let (status, body) = t
        .delete(
            &format!("/api/v1/phone-numbers/{}/release", enc(&blr(1))),
            &agni,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "released");
    assert_eq!(
        kinds(&t.transactions(&alice).await),
        ["payment", "did_purchase", "did_rental"]
    );
    t.advance(Duration::days(40));
    t.run_scheduler().await;
    assert_eq!(t.balance(&alice).await, 0.0);
    assert_eq!(t.admin_number(&blr(1)).await["state"], "available");
    t.assert_sound().await;
}

// ---- (10) The audit trail of an imported number ------------------------------------------------

async fn the_audit_of_a_released_imported_number_lists_the_events_of_each_of_its_rows() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    let agni = vec![("X-Api-Key", t.api_key(&alice, "agni").await)];
    let diga = vec![(
        "Authorization",
        format!("Bearer {}", t.api_key(&alice, "diga").await),
    )];
    let (status, body) = t
        .post(
            "/api/v1/phone-numbers/add-twilio",
            &agni,
            json!({"phone_number": BYO, "number_sid": "PN0123456789abcdef"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.advance(Duration::minutes(1));
    let (status, body) = t
        .delete(
            &format!("/api/v1/phone-numbers/{}/release", enc(BYO)),
            &agni,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let audit = t.audit(BYO).await;
    assert_eq!(actions(&audit), ["imported", "released"]);
    let first_row = audit["events"][0]["number_id"].clone();
    assert_eq!(audit["events"][1]["number_id"], first_row);
    assert_eq!(audit["number_id"], first_row);
    assert_eq!(audit["events"][1]["to_state"], "deleted");
    assert_eq!(audit["e164"], BYO);

    // Imported again (on Diga this time): a new row, and the trail shows both, in order.
    t.advance(Duration::minutes(1));
    let (status, phone) = t
        .post("/v1/phone/import", &diga, json!({"phone_number": BYO}))
        .await;
    assert_eq!(status, StatusCode::OK, "{phone}");
    let second_row = phone["id"].clone();
    assert_ne!(second_row, first_row);
    t.advance(Duration::minutes(1));
    let (status, body) = t
        .delete(
            &format!("/v1/phone/{}", second_row.as_str().unwrap()),
            &diga,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let audit = t.audit(BYO).await;
    assert_eq!(
        actions(&audit),
        ["imported", "released", "imported", "released"]
    );
    let rows: Vec<&Value> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["number_id"])
        .collect();
    assert_eq!(rows, [&first_row, &first_row, &second_row, &second_row]);
    assert_eq!(audit["number_id"], second_row);
    let times: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted);
    t.assert_sound().await;
}

// ---- (13) Currencies ----------------------------------------------------------------------------

async fn buying_a_usd_number_from_an_inr_account_is_400_naming_both_currencies() {
    let t = TestApp::spawn().await;
    let alice = t.master("MA_ALICE", "10000").await;
    t.stock_in("+14155552671", "1", "1.15", "USD").await;
    let path = format!("{}/numbers/purchase-from-inventory", alice.base());
    let mismatch = json!({
        "error": "invalid request",
        "message": "currency mismatch: the number is priced in USD, not INR",
    });

    for body in [
        json!({"e164": "+14155552671"}),
        json!({"e164": "+14155552671", "currency": "USD"}),
        json!({"e164": "+14155552671", "currency": "INR"}),
    ] {
        let (status, answer) = t.post(&path, &alice.auth(), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer, mismatch, "{body}");
    }
    // The same rule on Agni, and for the operator's reservation.
    let agni = vec![("X-Api-Key", t.api_key(&alice, "agni").await)];
    let (status, answer) = t
        .post(
            "/api/v1/phone-numbers/buy",
            &agni,
            json!({"phone_number": "+14155552671", "price": 1.15}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["success"], false);
    assert_eq!(answer["message"], mismatch["message"]);
    let (status, answer) = t
        .post(
            &format!("/admin/v1/numbers/{}/reserve", enc("+14155552671")),
            &TestApp::admin_auth(),
            json!({"account": "MA_ALICE"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        answer,
        json!({"error": "invalid_request", "message": mismatch["message"]})
    );
    assert_eq!(t.admin_number("+14155552671").await["state"], "available");
    assert_eq!(t.balance(&alice).await, 10000.0);
    t.assert_sound().await;
}

// ---- (1) Anniversary billing --------------------------------------------------------------------

async fn renewals_follow_the_purchase_anniversary_clamped_to_the_month_end_without_drift() {
    let t = TestApp::spawn_with_policy(ReleasePolicy::default()).await;
    let alice = t.master("MA_ALICE", "10000").await;
    t.stock(&blr(1), "100", "300").await;
    t.clock.set(at("2027-01-31T10:00:00Z"));
    t.buy(&alice, &blr(1)).await;

    let (status, n) = vobiz_number(&t, &alice, &blr(1)).await;
    assert_eq!(status, StatusCode::OK, "{n}");
    assert_eq!(n["last_billing_date"], "2027-01-31T10:00:00.000000Z");
    assert_eq!(n["next_billing_date"], "2027-02-28T10:00:00.000000Z");
    for (due, next) in [
        ("2027-02-28T10:00:00Z", "2027-03-31T10:00:00.000000Z"),
        ("2027-03-31T10:00:00Z", "2027-04-30T10:00:00.000000Z"),
        ("2027-04-30T10:00:00Z", "2027-05-31T10:00:00.000000Z"),
    ] {
        t.clock.set(at(due));
        // Read before the scheduler runs, then after: the same answer.
        let (_, seen) = vobiz_number(&t, &alice, &blr(1)).await;
        assert_eq!(seen["next_billing_date"], next, "{due}");
        t.run_scheduler().await;
        let (_, n) = vobiz_number(&t, &alice, &blr(1)).await;
        assert_eq!(n, seen, "{due}");
        assert_eq!(n["last_billing_date"], micros(at(due)), "{due}");
    }
    let rentals = t
        .transactions(&alice)
        .await
        .into_iter()
        .filter(|(k, _)| k == "did_rental")
        .count();
    assert_eq!(rentals, 4);
    assert_eq!(t.balance(&alice).await, 10000.0 - 100.0 - 4.0 * 300.0);
    t.assert_sound().await;
}

// ---- (8) The verification deadline ---------------------------------------------------------------

async fn set_verification(t: &TestApp, who: &Acct, status: &str) {
    let (code, body) = t
        .post(
            &format!("/admin/v1/accounts/{}/verification", who.id),
            &TestApp::admin_auth(),
            json!({"status": status}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body["verification"], status);
}

/// Reserves `blr(1)` for `who` and pays for it through the admin API.
async fn reserve_and_checkout(t: &TestApp, who: &Acct) -> Value {
    let (status, body) = t
        .post(
            &format!("/admin/v1/numbers/{}/reserve", enc(&blr(1))),
            &TestApp::admin_auth(),
            json!({"account": who.id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = t
        .post(
            &format!("/admin/v1/numbers/{}/checkout", enc(&blr(1))),
            &TestApp::admin_auth(),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn a_paid_number_still_unverified_at_the_deadline_is_refunded_and_returned_to_inventory() {
    let t = TestApp::spawn_with_policy(ReleasePolicy::default()).await;
    let alice = t.master("MA_ALICE", "10000").await;
    set_verification(&t, &alice, "pending").await;
    t.stock(&blr(1), "100", "300").await;

    let paid = reserve_and_checkout(&t, &alice).await;
    assert_eq!(paid["state"], "pending_verification");
    assert_eq!(
        paid["reservation_expires_at"],
        micros(t.now() + Duration::hours(24))
    );
    assert_eq!(t.balance(&alice).await, 10000.0 - 400.0);

    t.advance(Duration::hours(24) - Duration::microseconds(1));
    assert_eq!(
        t.admin_number(&blr(1)).await["state"],
        "pending_verification"
    );
    t.advance(Duration::microseconds(1));
    // Due now: refunded and back in inventory, before the scheduler runs and after.
    let before = t.admin_number(&blr(1)).await;
    assert_eq!(before["state"], "available");
    assert_eq!(before["account_id"], "");
    let checkout = format!("/admin/v1/numbers/{}/checkout", enc(&blr(1)));
    let (status, _) = t.post(&checkout, &TestApp::admin_auth(), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(t.run_scheduler().await, 1);
    assert_eq!(t.admin_number(&blr(1)).await, before);
    assert!(t.inventory(&alice).await.contains(&blr(1)));
    assert_eq!(t.balance(&alice).await, 10000.0);
    assert_eq!(
        kinds(&t.transactions(&alice).await),
        ["payment", "did_purchase", "did_rental", "refund"]
    );
    assert_eq!(
        actions(&t.audit(&blr(1)).await),
        ["stocked", "reserved", "paid", "verification_timed_out"]
    );
    t.assert_sound().await;
}

async fn no_renewal_is_charged_while_a_paid_number_waits_for_verification() {
    let t = TestApp::spawn_with_policy(ReleasePolicy {
        verification_deadline: Duration::days(60),
        ..ReleasePolicy::default()
    })
    .await;
    let alice = t.master("MA_ALICE", "10000").await;
    set_verification(&t, &alice, "pending").await;
    t.stock(&blr(1), "100", "300").await;
    reserve_and_checkout(&t, &alice).await;

    // Past where a month bought today would renew: nothing is charged while it is unusable.
    t.advance(Duration::days(45));
    t.run_scheduler().await;
    assert_eq!(t.balance(&alice).await, 10000.0 - 400.0);
    assert_eq!(
        t.admin_number(&blr(1)).await["state"],
        "pending_verification"
    );

    // Verified: usable from now, and its paid month runs from now.
    let verified = t.now();
    set_verification(&t, &alice, "verified").await;
    let n = t.admin_number(&blr(1)).await;
    assert_eq!(n["state"], "active");
    assert_eq!(
        n["next_billing_date"],
        micros(verified + chrono::Months::new(1))
    );
    t.clock
        .set(verified + chrono::Months::new(1) - Duration::seconds(1));
    t.run_scheduler().await;
    assert_eq!(t.balance(&alice).await, 10000.0 - 400.0);
    t.clock.set(verified + chrono::Months::new(1));
    t.run_scheduler().await;
    assert_eq!(t.balance(&alice).await, 10000.0 - 700.0);
    assert_eq!(
        kinds(&t.transactions(&alice).await),
        ["payment", "did_purchase", "did_rental", "did_rental"]
    );
    t.assert_sound().await;
}

on_every_backend!(
    a_number_taken_back_from_a_sub_account_leaves_the_childs_trunk_and_agents_behind,
    a_forced_take_back_clears_the_childs_trunk_as_well,
    a_sub_account_cannot_route_its_number_to_its_parents_trunk,
    a_parents_own_trunk_stays_on_the_number_it_takes_back,
    the_check_finds_a_number_routed_to_a_trunk_of_neither_its_holder_nor_its_payer,
    a_repeat_release_by_the_former_owner_is_403_with_the_seed_body,
    a_repeat_release_during_the_window_answers_the_same_pending_body_without_a_second_fee,
    a_repeat_release_after_the_window_is_403_whether_or_not_the_scheduler_ran,
    a_vobiz_release_of_a_number_diga_scheduled_for_its_cycle_end_is_the_pending_release,
    a_sub_account_whose_last_release_took_effect_can_be_deleted_before_the_scheduler_runs,
    an_immediate_release_skips_the_window_and_cannot_be_cancelled,
    an_immediate_release_is_quarantined_at_once_when_the_policy_quarantines,
    an_immediate_release_completes_a_pending_one_without_a_second_fee,
    cancel_release_after_the_window_is_400_whether_or_not_the_scheduler_ran,
    cancel_release_of_another_accounts_number_is_403_and_of_an_unheld_one_404,
    a_reservation_past_its_ttl_cannot_be_checked_out_even_before_the_scheduler_runs,
    the_operator_cancels_a_scheduled_diga_release,
    every_face_charges_the_same_release_fee,
    an_imported_number_is_never_charged_the_release_fee_and_its_note_says_it_is_deleted,
    a_release_fee_the_balance_cannot_cover_is_charged_as_far_as_it_goes,
    an_agni_release_with_an_empty_balance_is_never_refused,
    the_audit_of_a_released_imported_number_lists_the_events_of_each_of_its_rows,
    buying_a_usd_number_from_an_inr_account_is_400_naming_both_currencies,
    renewals_follow_the_purchase_anniversary_clamped_to_the_month_end_without_drift,
    a_paid_number_still_unverified_at_the_deadline_is_refunded_and_returned_to_inventory,
    no_renewal_is_charged_while_a_paid_number_waits_for_verification,
);
