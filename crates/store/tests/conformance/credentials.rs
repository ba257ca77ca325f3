//! Credentials: found by kind and hash (revoked ones too: whether one works is the engine's rule);
//! a hash belongs to one credential; a rotation's writes read back; settings are kept by key.

use std::sync::Arc;

use chrono::Duration;
use didpool_core::account::Role;
use didpool_core::credential::{CredentialKind, TokenHash};
use didpool_core::lifecycle::{ClockMove, Command};
use didpool_core::setting::{Setting, SettingKey, SigningKey};
use didpool_core::{EngineError, Store};

use crate::support::{new_account, World};

pub async fn a_credential_is_found_by_kind_and_hash_and_authenticates_only_while_live(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let acc = w.master("Keyholder", "0").await;
    let other = w.master("Other", "0").await;
    w.clock.advance(Duration::minutes(1));
    let (agni, agni_token) = w
        .engine
        .create_key(
            &w.operator(),
            acc.id.clone(),
            CredentialKind::Agni,
            Some("phones:read".into()),
        )
        .await
        .unwrap();
    w.clock.advance(Duration::minutes(1));
    let (diga, diga_token) = w
        .engine
        .create_key(&w.operator(), acc.id.clone(), CredentialKind::Diga, None)
        .await
        .unwrap();
    let hash = TokenHash::of(&agni_token);

    assert_eq!(
        w.store
            .credential(CredentialKind::Agni, &hash)
            .await
            .unwrap(),
        Some(agni.clone())
    );
    for wrong_kind in [CredentialKind::Vobiz, CredentialKind::Diga] {
        assert_eq!(w.store.credential(wrong_kind, &hash).await.unwrap(), None);
    }
    assert_eq!(
        w.store
            .credential(CredentialKind::Agni, &TokenHash::of("agni_guess"))
            .await
            .unwrap(),
        None
    );
    let all = w.store.credentials_of(&acc.id).await.unwrap();
    let kinds: Vec<_> = all.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            CredentialKind::Vobiz,
            CredentialKind::Agni,
            CredentialKind::Diga
        ]
    );
    assert_eq!(all[1], agni);
    assert_eq!(all[2], diga);
    assert_eq!(w.store.credentials_of(&other.id).await.unwrap().len(), 1);

    let (found, credential) = w
        .engine
        .authenticate(CredentialKind::Agni, &agni_token, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found, credential), (acc.clone(), agni.clone()));
    assert!(w
        .engine
        .authenticate(CredentialKind::Agni, &agni_token, Some(&other.id))
        .await
        .unwrap()
        .is_none());

    w.clock.advance(Duration::minutes(1));
    let changes = w
        .run(&w.operator(), Command::RevokeCredential { id: agni.id })
        .await
        .unwrap();
    let revoked = changes.credential().unwrap().clone();
    assert_eq!(revoked.revoked_at, Some(w.engine.now()));
    assert_eq!(
        w.store
            .credential(CredentialKind::Agni, &hash)
            .await
            .unwrap(),
        Some(revoked.clone())
    );
    assert!(w
        .engine
        .authenticate(CredentialKind::Agni, &agni_token, None)
        .await
        .unwrap()
        .is_none());
    let after = w.store.credentials_of(&acc.id).await.unwrap();
    assert_eq!(after[1], revoked);
    assert_eq!(after[2], diga);
    assert_eq!(
        w.store
            .credential(CredentialKind::Diga, &TokenHash::of(&diga_token))
            .await
            .unwrap(),
        Some(diga)
    );

    // Revoking twice keeps the first revocation.
    w.clock.advance(Duration::minutes(1));
    let again = w
        .run(&w.operator(), Command::RevokeCredential { id: agni.id })
        .await
        .unwrap();
    assert!(again.credentials.is_empty());
    assert_eq!(w.store.credentials_of(&acc.id).await.unwrap(), after);
}

pub async fn a_credential_whose_hash_is_taken_is_refused_and_writes_nothing(store: Arc<dyn Store>) {
    let w = World::new(store);
    let first = w.master("First", "0").await;
    let second = w.master("Second", "0").await;
    let (taken, token) = w
        .engine
        .create_key(&w.operator(), first.id.clone(), CredentialKind::Agni, None)
        .await
        .unwrap();
    let seconds_before = w.store.credentials_of(&second.id).await.unwrap();

    let refused = w
        .run(
            &w.operator(),
            Command::CreateCredential {
                account: second.id.clone(),
                kind: CredentialKind::Agni,
                token_hash: TokenHash::of(&token),
                scope: None,
            },
        )
        .await;
    assert!(
        matches!(refused, Err(EngineError::AlreadyExists(_))),
        "{refused:?}"
    );

    assert_eq!(
        w.store.credentials_of(&second.id).await.unwrap(),
        seconds_before
    );
    assert_eq!(
        w.store
            .credential(CredentialKind::Agni, &TokenHash::of(&token))
            .await
            .unwrap(),
        Some(taken)
    );
}

pub async fn a_rotated_auth_token_reads_back_and_works_until_its_grace_period_ends(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let (acc, old_token) = w
        .engine
        .create_account(
            &w.operator(),
            new_account("Rotated", Role::Customer, "0"),
            None,
        )
        .await
        .unwrap();
    let first = w.store.credentials_of(&acc.id).await.unwrap();
    let old = first[0].clone();
    let works = |token: String| {
        let engine = w.engine.clone();
        let id = acc.id.clone();
        async move {
            engine
                .authenticate(CredentialKind::Vobiz, &token, Some(&id))
                .await
                .unwrap()
                .is_some()
        }
    };
    w.clock.advance(Duration::minutes(1));
    let (new, new_token, revoked) = w
        .engine
        .rotate_auth_token(&w.operator(), acc.id.clone(), Duration::minutes(10))
        .await
        .unwrap();
    let ends = w.engine.now() + Duration::minutes(10);
    assert_eq!(revoked.len(), 1);
    assert_eq!((revoked[0].id, revoked[0].revoked_at), (old.id, Some(ends)));
    assert_eq!(
        w.store.credentials_of(&acc.id).await.unwrap(),
        vec![revoked[0].clone(), new.clone()]
    );
    assert_eq!(
        w.store
            .credential(CredentialKind::Vobiz, &new.token_hash)
            .await
            .unwrap(),
        Some(new.clone())
    );

    // The old token keeps working through the grace period, the new one from the start.
    assert!(works(new_token.clone()).await);
    assert!(works(old_token.clone()).await);
    w.clock
        .advance(Duration::minutes(10) - Duration::microseconds(1));
    assert!(works(old_token.clone()).await);
    w.clock.advance(Duration::microseconds(1));
    assert!(!works(old_token).await);
    assert!(works(new_token).await);
}

pub async fn a_setting_reads_back_as_last_written(store: Arc<dyn Store>) {
    let w = World::new(store);
    assert_eq!(
        w.engine.saved_sandbox_clock(&w.operator()).await.unwrap(),
        None
    );
    // The engine's own clock stays put (the sandbox moves it after the command): each advance
    // counts from the stored time.
    let mut expected = w.engine.now();
    for days in [1, 40] {
        let t = w
            .engine
            .set_sandbox_clock(&w.operator(), ClockMove::Advance(Duration::days(days)))
            .await
            .unwrap();
        expected += Duration::days(days);
        assert_eq!(t, expected);
        assert_eq!(
            w.engine.saved_sandbox_clock(&w.operator()).await.unwrap(),
            Some(t)
        );
        assert_eq!(
            w.store.setting(SettingKey::SandboxClock).await.unwrap(),
            Some(Setting::SandboxClock(t))
        );
    }
}

/// The token signing key is written once: a key offered when one is kept (another server
/// starting on the same database) changes nothing, and servers racing to keep theirs all end up
/// reading the one that was kept.
pub async fn the_token_signing_key_is_kept_once(store: Arc<dyn Store>) {
    let w = World::new(store);
    assert_eq!(w.store.setting(SettingKey::TokenKey).await.unwrap(), None);
    let (a, b) = (SigningKey::generate(), SigningKey::generate());
    let operator = w.operator();
    let init = |key: &SigningKey| {
        w.engine
            .run(&operator, Command::InitTokenKey { key: key.clone() })
    };
    let (ra, rb) = tokio::join!(init(&a), init(&b));
    ra.unwrap();
    rb.unwrap();
    let kept = w.engine.token_key().await.unwrap();
    assert!(kept == a || kept == b);
    assert_eq!(
        w.store.setting(SettingKey::TokenKey).await.unwrap(),
        Some(Setting::TokenKey(kept.clone()))
    );
    init(&SigningKey::generate()).await.unwrap();
    assert_eq!(w.engine.token_key().await.unwrap(), kept);
}
