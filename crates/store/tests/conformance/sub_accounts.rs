//! Sub-accounts: listed newest first, deleted ones hidden, never deleted while holding numbers.

use std::sync::Arc;

use chrono::Duration;
use didpool_core::account::{AccountPatch, Role};
use didpool_core::credential::{CredentialKind, TokenHash};
use didpool_core::lifecycle::Command;
use didpool_core::store::SubAccountQuery;
use didpool_core::{Account, AccountId, EngineError, Store};

use crate::support::{dec, new_account, World};

fn page(active_only: bool, limit: u32, offset: u64) -> SubAccountQuery {
    SubAccountQuery {
        active_only,
        limit,
        offset,
    }
}

fn ids(accounts: &[Account]) -> Vec<AccountId> {
    accounts.iter().map(|a| a.id.clone()).collect()
}

pub async fn sub_accounts_list_newest_first_and_hide_deleted_ones(store: Arc<dyn Store>) {
    let w = World::new(store);
    let parent = w.master("Parent", "0").await;
    let stranger = w.master("Stranger", "0").await;
    let mut subs = Vec::new();
    for name in ["first", "second", "third", "fourth"] {
        w.clock.advance(Duration::minutes(1));
        subs.push(w.sub(&parent, name).await);
    }
    let strangers_sub = w.sub(&stranger, "not yours").await;
    let [first, second, third, fourth] = <[Account; 4]>::try_from(subs).unwrap();

    w.clock.advance(Duration::minutes(1));
    let disabled = w
        .run(
            &w.by(&parent),
            Command::UpdateSubAccount {
                id: second.id.clone(),
                patch: AccountPatch {
                    enabled: Some(false),
                    ..AccountPatch::default()
                },
            },
        )
        .await
        .unwrap()
        .account()
        .cloned()
        .unwrap();
    let deleted = w
        .run(
            &w.by(&parent),
            Command::DeleteSubAccount {
                id: third.id.clone(),
            },
        )
        .await
        .unwrap()
        .account()
        .cloned()
        .unwrap();

    let all = w
        .store
        .sub_accounts(&parent.id, &page(false, 10, 0))
        .await
        .unwrap();
    assert_eq!(
        all.items,
        vec![fourth.clone(), disabled.clone(), first.clone()]
    );
    assert_eq!(all.total, 3);

    let active = w
        .store
        .sub_accounts(&parent.id, &page(true, 10, 0))
        .await
        .unwrap();
    assert_eq!(ids(&active.items), ids(&[fourth.clone(), first.clone()]));
    assert_eq!(active.total, 2);

    let second_page = w
        .store
        .sub_accounts(&parent.id, &page(false, 1, 1))
        .await
        .unwrap();
    assert_eq!(second_page.items, vec![disabled]);
    assert_eq!(second_page.total, 3);

    // A deleted sub-account's row stays, for the audit trail.
    assert_eq!(w.account(&third.id).await, deleted);
    assert!(deleted.deleted_at.is_some());

    let strangers = w
        .store
        .sub_accounts(&stranger.id, &page(false, 10, 0))
        .await
        .unwrap();
    assert_eq!(strangers.items, vec![strangers_sub]);
    let none = w
        .store
        .sub_accounts(&first.id, &page(false, 10, 0))
        .await
        .unwrap();
    assert_eq!((none.total, none.items.len()), (0, 0));
}

pub async fn deleting_a_sub_account_that_holds_numbers_is_refused_and_changes_nothing(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let parent = w.master("Parent", "1000").await;
    let sub = w.sub(&parent, "Holder").await;
    let stocked = w.stock("+919876543210", "100", "300").await;
    w.purchase(&sub, &stocked.e164).await.unwrap();
    let number = w.number(&stocked.e164).await;
    let credentials = w.store.credentials_of(&sub.id).await.unwrap();
    w.clock.advance(Duration::minutes(1));

    let refused = w
        .run(
            &w.by(&parent),
            Command::DeleteSubAccount { id: sub.id.clone() },
        )
        .await;
    assert!(
        matches!(refused, Err(EngineError::StillHoldsNumbers)),
        "{refused:?}"
    );

    assert_eq!(w.account(&sub.id).await, sub);
    assert_eq!(w.store.credentials_of(&sub.id).await.unwrap(), credentials);
    assert!(credentials.iter().all(|c| c.revoked_at.is_none()));
    assert_eq!(w.number(&stocked.e164).await, number);
    let listed = w
        .store
        .sub_accounts(&parent.id, &page(false, 10, 0))
        .await
        .unwrap();
    assert_eq!(listed.items, vec![sub]);
}

pub async fn deleting_a_sub_account_hides_it_and_revokes_its_credentials(store: Arc<dyn Store>) {
    let w = World::new(store);
    let parent = w.master("Parent", "1000").await;
    let (sub, vobiz_token) = w
        .engine
        .create_account(
            &w.by(&parent),
            new_account("Leaving", Role::Customer, "0"),
            Some(parent.id.clone()),
        )
        .await
        .unwrap();
    let (_, agni_token) = w
        .engine
        .create_key(&w.operator(), sub.id.clone(), CredentialKind::Agni, None)
        .await
        .unwrap();
    // It held a number once, and gave it back.
    let stocked = w.stock("+919876543210", "100", "300").await;
    w.purchase(&sub, &stocked.e164).await.unwrap();
    w.release(&sub, &stocked.e164).await.unwrap();
    w.clock.advance(Duration::minutes(1));

    let changes = w
        .run(
            &w.by(&parent),
            Command::DeleteSubAccount { id: sub.id.clone() },
        )
        .await
        .unwrap();

    let deleted = changes.account().unwrap().clone();
    assert_eq!(deleted.deleted_at, Some(w.engine.now()));
    assert!(!deleted.enabled);
    assert_eq!(w.account(&sub.id).await, deleted);

    assert_eq!(changes.credentials.len(), 2);
    let mut revoked: Vec<_> = changes
        .credentials
        .iter()
        .map(|c| c.row().clone())
        .collect();
    let mut stored = w.store.credentials_of(&sub.id).await.unwrap();
    revoked.sort_by_key(|c| c.id);
    stored.sort_by_key(|c| c.id);
    assert_eq!(stored, revoked);
    assert!(stored.iter().all(|c| c.revoked_at == Some(w.engine.now())));
    for (kind, token) in [
        (CredentialKind::Vobiz, &vobiz_token),
        (CredentialKind::Agni, &agni_token),
    ] {
        assert_eq!(
            w.store
                .credential(kind, &TokenHash::of(token))
                .await
                .unwrap()
                .and_then(|c| c.revoked_at),
            Some(w.engine.now())
        );
        assert!(w
            .engine
            .authenticate(kind, token, None)
            .await
            .unwrap()
            .is_none());
    }

    let listed = w
        .store
        .sub_accounts(&parent.id, &page(false, 10, 0))
        .await
        .unwrap();
    assert_eq!(listed.total, 0);
    assert!(listed.items.is_empty());

    let again = w
        .run(
            &w.by(&parent),
            Command::DeleteSubAccount { id: sub.id.clone() },
        )
        .await;
    assert!(
        matches!(again, Err(EngineError::SubAccountNotFound)),
        "{again:?}"
    );
    assert_eq!(w.balance(&parent.id).await, dec("600"));
}

/// `CreateAccount` inserts the account, then its credential, then its opening balance's entry; a
/// taken token hash fails the second insert, and the first must go with it.
pub async fn a_command_that_fails_after_writing_some_rows_leaves_none_of_them(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let (parent, parent_token) = w
        .engine
        .create_account(
            &w.operator(),
            new_account("Parent", Role::Customer, "10"),
            None,
        )
        .await
        .unwrap();
    let parent_credentials = w.store.credentials_of(&parent.id).await.unwrap();
    w.clock.advance(Duration::minutes(1));

    let twin_master = AccountId::parse("MA_TWIN").unwrap();
    let mut account = new_account("Twin master", Role::Customer, "100");
    account.id = Some(twin_master.clone());
    let refused = w
        .run(
            &w.operator(),
            Command::CreateAccount {
                account,
                parent: None,
                token_hash: TokenHash::of(&parent_token),
                session: false,
            },
        )
        .await;
    assert!(
        matches!(refused, Err(EngineError::AlreadyExists(_))),
        "{refused:?}"
    );
    assert_eq!(w.store.account(&twin_master).await.unwrap(), None);
    assert!(w
        .store
        .credentials_of(&twin_master)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(w.ledger(&twin_master).await.total, 0);

    let refused = w
        .run(
            &w.by(&parent),
            Command::CreateAccount {
                account: new_account("Twin", Role::Customer, "0"),
                parent: Some(parent.id.clone()),
                token_hash: TokenHash::of(&parent_token),
                session: false,
            },
        )
        .await;
    assert!(
        matches!(refused, Err(EngineError::AlreadyExists(_))),
        "{refused:?}"
    );
    let listed = w
        .store
        .sub_accounts(&parent.id, &page(false, 10, 0))
        .await
        .unwrap();
    assert_eq!(listed.total, 0, "the sub-account row was rolled back");
    assert_eq!(
        w.store.credentials_of(&parent.id).await.unwrap(),
        parent_credentials
    );
    assert_eq!(w.account(&parent.id).await, parent);

    // The store still works, and the ids are free.
    let twin = w.sub(&parent, "Twin").await;
    let listed = w
        .store
        .sub_accounts(&parent.id, &page(false, 10, 0))
        .await
        .unwrap();
    assert_eq!(listed.items, vec![twin]);
    let mut account = new_account("Twin master", Role::Customer, "100");
    account.id = Some(twin_master.clone());
    let created = w.master_with(account).await;
    assert_eq!(created.id, twin_master);
    assert_eq!(w.ledger(&twin_master).await.total, 1);
}
