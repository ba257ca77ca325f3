//! Credentials: found by kind and hash while live; a hash belongs to one credential.

use std::sync::Arc;

use chrono::Duration;
use didpool_core::credential::{CredentialKind, TokenHash};
use didpool_core::lifecycle::Command;
use didpool_core::{EngineError, Store};

use crate::support::World;

pub async fn a_credential_is_found_by_kind_and_hash_only_while_live(store: Arc<dyn Store>) {
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
        None
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
