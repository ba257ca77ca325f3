//! The Vobiz face's access and refresh tokens: issued with a sub-account (reference §7.1),
//! accepted as `Authorization: Bearer`, aged by the engine's clock, refreshed at
//! `POST /api/v1/auth/refresh`, ended at `POST /api/v1/auth/revoke`.

#[macro_use]
mod common;

use axum::http::StatusCode;
use base64::Engine as _;
use chrono::Duration;
use common::{Acct, TestApp};
use serde_json::{json, Value};

/// A sub-account of a new master, as the Vobiz face creates it: its credentials and tokens.
struct Sub {
    parent: Acct,
    acct: Acct,
    access: String,
    refresh: String,
}

async fn sub_with_tokens(t: &TestApp) -> Sub {
    let parent = t.master("MA_PARENT", "0").await;
    let (status, body) = t
        .post(
            &format!("/api/v1/accounts/{}/sub-accounts/", parent.id),
            &parent.auth(),
            json!({"name": "Support"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let tokens = &body["tokens"];
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 1800);
    let s = |v: &Value| v.as_str().expect("a string").to_owned();
    Sub {
        parent,
        acct: Acct {
            id: s(&body["auth_credentials"]["auth_id"]),
            token: s(&body["auth_credentials"]["auth_token"]),
        },
        access: s(&tokens["access_token"]),
        refresh: s(&tokens["refresh_token"]),
    }
}

fn bearer(token: &str) -> Vec<(&'static str, String)> {
    vec![("Authorization", format!("Bearer {token}"))]
}

/// A JWT's claims, read without checking anything.
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

fn invalid_token() -> Value {
    json!({"error": {"code": 401, "message": "Invalid token"}})
}

async fn me_with(t: &TestApp, token: &str) -> (StatusCode, Value) {
    t.get("/api/v1/auth/me", &bearer(token)).await
}

async fn refresh(t: &TestApp, token: &str) -> (StatusCode, Value) {
    t.post("/api/v1/auth/refresh", &bearer(token), json!({}))
        .await
}

async fn revoke(t: &TestApp, who: &[(&str, String)], token: &str) -> (StatusCode, Value) {
    t.post("/api/v1/auth/revoke", who, json!({"token": token}))
        .await
}

async fn a_new_sub_accounts_tokens_are_signed_jwts_of_the_documented_lifetimes() {
    let t = TestApp::spawn().await;
    let sub = sub_with_tokens(&t).await;
    let header = sub.access.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    let (access, refresh) = (claims(&sub.access), claims(&sub.refresh));
    for (c, typ, ttl) in [(&access, "access", 1800), (&refresh, "refresh", 7 * 86_400)] {
        assert_eq!(c["iss"], "didpool");
        assert_eq!(c["sub"], sub.acct.id.as_str());
        assert_eq!(c["typ"], typ);
        assert_eq!(c["iat"], t.now().timestamp());
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), ttl);
    }
    assert_eq!(access["sid"], refresh["sid"], "one session");
    assert_ne!(access["jti"], refresh["jti"]);
}

async fn an_access_token_authenticates_its_sub_account_on_the_vobiz_face() {
    let t = TestApp::spawn().await;
    let sub = sub_with_tokens(&t).await;
    let (status, me) = me_with(&t, &sub.access).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["auth_id"], sub.acct.id.as_str());
    assert_eq!(me["auth_token_expire_time"], Value::Null);
    // The path's auth_id must still be the caller's own.
    let (status, body) = t
        .get(
            &format!("{}/numbers", sub.acct.base()),
            &bearer(&sub.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = t
        .get(
            &format!("{}/numbers", sub.parent.base()),
            &bearer(&sub.access),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Sent with the auth headers (as Vobiz's generated SDK does), the headers win.
    let mut both = sub.parent.auth();
    both.extend(bearer(&sub.access));
    let (status, me) = t.get("/api/v1/auth/me", &both).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["auth_id"], "MA_PARENT");
    // Not a token didpool signed, a refresh token, or an auth token sent as Bearer: 401.
    for token in [
        "not-a-jwt".to_owned(),
        sub.refresh.clone(),
        sub.acct.token.clone(),
        format!("{}x", sub.access),
    ] {
        let (status, body) = me_with(&t, &token).await;
        assert_eq!(
            (status, body),
            (StatusCode::UNAUTHORIZED, invalid_token()),
            "{token}"
        );
    }
}

async fn an_access_token_expires_after_30_minutes_of_the_engines_clock() {
    let t = TestApp::spawn().await;
    let sub = sub_with_tokens(&t).await;
    t.advance(Duration::minutes(30) - Duration::seconds(1));
    assert_eq!(me_with(&t, &sub.access).await.0, StatusCode::OK);
    t.advance(Duration::seconds(1));
    assert_eq!(
        me_with(&t, &sub.access).await,
        (StatusCode::UNAUTHORIZED, invalid_token())
    );
}

async fn a_refresh_token_mints_a_new_pair_of_the_same_session() {
    let t = TestApp::spawn().await;
    let sub = sub_with_tokens(&t).await;
    t.advance(Duration::hours(2));
    let (status, pair) = refresh(&t, &sub.refresh).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_eq!(pair["token_type"], "bearer");
    assert_eq!(pair["expires_in"], 1800);
    let access = pair["access_token"].as_str().unwrap();
    let renewed = pair["refresh_token"].as_str().unwrap();
    assert_eq!(claims(access)["sid"], claims(&sub.refresh)["sid"]);
    assert_eq!(claims(access)["iat"], t.now().timestamp());
    let (status, me) = me_with(&t, access).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["auth_id"], sub.acct.id.as_str());
    // The refresh token sent still works until its own end; the new one lasts 7 days from now.
    assert_eq!(refresh(&t, &sub.refresh).await.0, StatusCode::OK);
    t.advance(Duration::days(7) - Duration::hours(2));
    assert_eq!(
        refresh(&t, &sub.refresh).await,
        (StatusCode::UNAUTHORIZED, invalid_token())
    );
    assert_eq!(refresh(&t, renewed).await.0, StatusCode::OK);
    // Only a refresh token refreshes: not an access token, not the auth headers.
    let (status, _) = refresh(&t, access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = t
        .post("/api/v1/auth/refresh", &sub.acct.auth(), json!({}))
        .await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, invalid_token()));
}

async fn revoking_a_session_ends_every_token_of_it_at_once() {
    let t = TestApp::spawn().await;
    let sub = sub_with_tokens(&t).await;
    let (_, pair) = refresh(&t, &sub.refresh).await;
    let refreshed = pair["access_token"].as_str().unwrap().to_owned();

    // With the account's own credentials; the refresh token names the session as well.
    let (status, body) = revoke(&t, &sub.acct.auth(), &sub.refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"message": "token revoked"}));
    for token in [&sub.access, &refreshed] {
        assert_eq!(
            me_with(&t, token).await,
            (StatusCode::UNAUTHORIZED, invalid_token())
        );
    }
    assert_eq!(refresh(&t, &sub.refresh).await.0, StatusCode::UNAUTHORIZED);
    // Again: the same answer. The auth token itself is untouched.
    assert_eq!(
        revoke(&t, &sub.acct.auth(), &sub.access).await.0,
        StatusCode::OK
    );
    let (status, _) = t.get("/api/v1/auth/me", &sub.acct.auth()).await;
    assert_eq!(status, StatusCode::OK);
}

async fn a_main_account_may_revoke_its_sub_accounts_tokens_and_nobody_else_may() {
    let t = TestApp::spawn().await;
    let sub = sub_with_tokens(&t).await;
    let stranger = t.master("MA_STRANGER", "0").await;
    let (status, body) = revoke(&t, &stranger.auth(), &sub.access).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "message": "token not found"})
        )
    );
    assert_eq!(me_with(&t, &sub.access).await.0, StatusCode::OK);
    for bad in ["", "not-a-jwt"] {
        let (status, body) = revoke(&t, &sub.parent.auth(), bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], "invalid request");
    }
    let (status, _) = revoke(&t, &sub.parent.auth(), &sub.access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me_with(&t, &sub.access).await.0, StatusCode::UNAUTHORIZED);
    // A live access token may end its own session too.
    let other = {
        let (status, body) = t
            .post(
                &format!("/api/v1/accounts/{}/sub-accounts/", sub.parent.id),
                &sub.parent.auth(),
                json!({"name": "Sales"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["tokens"]["access_token"].as_str().unwrap().to_owned()
    };
    assert_eq!(revoke(&t, &bearer(&other), &other).await.0, StatusCode::OK);
    assert_eq!(me_with(&t, &other).await.0, StatusCode::UNAUTHORIZED);
}

async fn deleting_or_disabling_a_sub_account_ends_its_tokens() {
    let t = TestApp::spawn().await;
    let sub = sub_with_tokens(&t).await;
    let path = format!(
        "/api/v1/accounts/{}/sub-accounts/{}",
        sub.parent.id, sub.acct.id
    );
    let (status, _) = t
        .put(&path, &sub.parent.auth(), json!({"enabled": false}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me_with(&t, &sub.access).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&t, &sub.refresh).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = t
        .put(&path, &sub.parent.auth(), json!({"enabled": true}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me_with(&t, &sub.access).await.0, StatusCode::OK);
    let (status, _) = t.delete(&path, &sub.parent.auth()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me_with(&t, &sub.access).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&t, &sub.refresh).await.0, StatusCode::UNAUTHORIZED);
}

async fn tokens_outlive_a_restart_with_the_key_the_store_keeps() {
    let t = TestApp::spawn().await;
    let sub = sub_with_tokens(&t).await;
    let t = t.restart().await;
    assert_eq!(me_with(&t, &sub.access).await.0, StatusCode::OK);
    assert_eq!(refresh(&t, &sub.refresh).await.0, StatusCode::OK);
    // The operator sees the session among the account's credentials and may revoke it.
    let (status, keys) = t
        .get(
            &format!("/admin/v1/accounts/{}/keys", sub.acct.id),
            &TestApp::admin_auth(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let session = keys
        .as_array()
        .or_else(|| keys["keys"].as_array())
        .expect("a list of credentials")
        .iter()
        .find(|k| k["kind"] == "vobiz_session")
        .expect("the session is listed")
        .clone();
    assert_eq!(session["id"], claims(&sub.access)["sid"]);
}

on_every_backend!(
    a_new_sub_accounts_tokens_are_signed_jwts_of_the_documented_lifetimes,
    an_access_token_authenticates_its_sub_account_on_the_vobiz_face,
    an_access_token_expires_after_30_minutes_of_the_engines_clock,
    a_refresh_token_mints_a_new_pair_of_the_same_session,
    revoking_a_session_ends_every_token_of_it_at_once,
    a_main_account_may_revoke_its_sub_accounts_tokens_and_nobody_else_may,
    deleting_or_disabling_a_sub_account_ends_its_tokens,
    tokens_outlive_a_restart_with_the_key_the_store_keeps,
);
