//! Console sessions: kept by the hash of their id, alive only under their lifetime and while the
//! credential they were opened with works, ended at sign-out, pruned when dead.

use std::sync::Arc;

use chrono::Duration;
use didpool_core::console::{SessionLifetime, SessionOwner};
use didpool_core::credential::{CredentialKind, TokenHash};
use didpool_core::Store;

use crate::support::World;

const LIFETIME: SessionLifetime = SessionLifetime {
    idle: Duration::minutes(30),
    absolute: Duration::hours(2),
};

pub async fn a_console_session_lives_while_used_and_its_credential_works(store: Arc<dyn Store>) {
    let w = World::new(store);
    let acc = w.master("Browser", "0").await;
    let (cred, token) = w
        .engine
        .create_key(&w.operator(), acc.id.clone(), CredentialKind::Vobiz, None)
        .await
        .unwrap();
    let (found, _) = w
        .engine
        .authenticate(CredentialKind::Vobiz, &token, Some(&acc.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, acc.id);
    let owner = SessionOwner::Account {
        account: acc.id.clone(),
        credential: cred.id,
    };
    let id = w
        .engine
        .open_console_session(owner.clone(), w.engine.now())
        .await
        .unwrap();
    // Only the hash is kept.
    let row = w
        .store
        .console_session(&TokenHash::of(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.owner, owner);
    assert_eq!(row.created_at, w.engine.now());
    assert_eq!(
        w.store
            .console_session(&TokenHash(id.clone()))
            .await
            .unwrap(),
        None
    );

    // Used every 20 minutes, it lives past one idle period; its seen_at moves.
    for _ in 0..3 {
        w.clock.advance(Duration::minutes(20));
        let live = w
            .engine
            .console_session(&id, LIFETIME, None, w.engine.now())
            .await
            .unwrap();
        assert_eq!(live.unwrap().account.unwrap().id, acc.id);
    }
    let row = w
        .store
        .console_session(&TokenHash::of(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.seen_at, w.engine.now());
    // Past its absolute lifetime it is dead, and deleted.
    w.clock.advance(Duration::minutes(61));
    assert!(w
        .engine
        .console_session(&id, LIFETIME, None, w.engine.now())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        w.store.console_session(&TokenHash::of(&id)).await.unwrap(),
        None
    );

    // Idle too long: dead.
    let idle = w
        .engine
        .open_console_session(owner.clone(), w.engine.now())
        .await
        .unwrap();
    w.clock.advance(Duration::minutes(31));
    assert!(w
        .engine
        .console_session(&idle, LIFETIME, None, w.engine.now())
        .await
        .unwrap()
        .is_none());

    // A revoked credential ends its sessions at once.
    let revoked = w
        .engine
        .open_console_session(owner.clone(), w.engine.now())
        .await
        .unwrap();
    assert!(w
        .engine
        .console_session(&revoked, LIFETIME, None, w.engine.now())
        .await
        .unwrap()
        .is_some());
    w.run(
        &w.operator(),
        didpool_core::lifecycle::Command::RevokeCredential { id: cred.id },
    )
    .await
    .unwrap();
    assert!(w
        .engine
        .console_session(&revoked, LIFETIME, None, w.engine.now())
        .await
        .unwrap()
        .is_none());

    // Sign-out deletes; an unknown id is nobody's.
    let (cred2, _) = w
        .engine
        .create_key(&w.operator(), acc.id.clone(), CredentialKind::Vobiz, None)
        .await
        .unwrap();
    let out = w
        .engine
        .open_console_session(
            SessionOwner::Account {
                account: acc.id.clone(),
                credential: cred2.id,
            },
            w.engine.now(),
        )
        .await
        .unwrap();
    w.engine.end_console_session(&out).await.unwrap();
    assert!(w
        .engine
        .console_session(&out, LIFETIME, None, w.engine.now())
        .await
        .unwrap()
        .is_none());
    assert!(w
        .engine
        .console_session("cs_nobody", LIFETIME, None, w.engine.now())
        .await
        .unwrap()
        .is_none());
}

pub async fn operator_sessions_follow_the_admin_token_and_dead_ones_are_pruned(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let owner = SessionOwner::Operator {
        token_hash: TokenHash::of("admin-1"),
    };
    let id = w
        .engine
        .open_console_session(owner, w.engine.now())
        .await
        .unwrap();
    assert!(w
        .engine
        .console_session(&id, LIFETIME, Some("admin-1"), w.engine.now())
        .await
        .unwrap()
        .is_some());
    let kept = w
        .engine
        .open_console_session(
            SessionOwner::Operator {
                token_hash: TokenHash::of("admin-1"),
            },
            w.engine.now(),
        )
        .await
        .unwrap();
    // Another admin token in force: the session is dead.
    assert!(w
        .engine
        .console_session(&id, LIFETIME, Some("admin-2"), w.engine.now())
        .await
        .unwrap()
        .is_none());
    assert!(w
        .engine
        .console_session(&kept, LIFETIME, None, w.engine.now())
        .await
        .unwrap()
        .is_none());

    let a = w
        .engine
        .open_console_session(
            SessionOwner::Operator {
                token_hash: TokenHash::of("x"),
            },
            w.engine.now(),
        )
        .await
        .unwrap();
    w.clock.advance(Duration::minutes(20));
    let b = w
        .engine
        .open_console_session(
            SessionOwner::Operator {
                token_hash: TokenHash::of("x"),
            },
            w.engine.now(),
        )
        .await
        .unwrap();
    w.clock.advance(Duration::minutes(15));
    assert_eq!(
        w.engine
            .prune_console_sessions(LIFETIME, w.engine.now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        w.store.console_session(&TokenHash::of(&a)).await.unwrap(),
        None
    );
    assert!(w
        .store
        .console_session(&TokenHash::of(&b))
        .await
        .unwrap()
        .is_some());
}
