//! Accounts: every write reads back exactly as `execute` returned it.

use std::sync::Arc;

use didpool_core::account::{AccountPatch, NewAccount, Permissions, Role};
use didpool_core::credential::{CredentialKind, TokenHash};
use didpool_core::ids::{CredentialId, NumberId, TrunkId};
use didpool_core::ledger::EntryKind;
use didpool_core::lifecycle::{Command, Write};
use didpool_core::{AccountId, EngineError, Store};

use crate::support::{dec, e164, full_profile, inr, ledger_query, new_account, sum, World};

pub async fn a_created_master_account_reads_back_exactly_as_execute_returned_it(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let token = "a-token-for-the-master";
    let changes = w
        .run(
            &w.operator(),
            Command::CreateAccount {
                account: NewAccount {
                    id: None,
                    name: "  Acme Telecom  ".into(),
                    role: Role::Admin,
                    currency: inr(),
                    opening_balance: dec("1234.5678"),
                    enabled: true,
                    profile: full_profile(),
                },
                parent: None,
                token_hash: TokenHash::of(token),
                session: false,
            },
        )
        .await
        .unwrap();

    let written = changes.account().unwrap().clone();
    assert!(matches!(changes.accounts[0], Write::Insert(_)));
    assert_eq!(written.name, "Acme Telecom");
    assert_eq!(written.balance, dec("1234.5678"));
    assert_eq!(written.created_at, w.engine.now());
    assert_eq!(
        w.store.account(&written.id).await.unwrap(),
        Some(written.clone())
    );

    let credential = changes.credential().unwrap().clone();
    assert_eq!(
        w.store.credentials_of(&written.id).await.unwrap(),
        vec![credential.clone()]
    );
    assert_eq!(
        w.store
            .credential(CredentialKind::Vobiz, &TokenHash::of(token))
            .await
            .unwrap(),
        Some(credential)
    );

    let ledger = w.ledger(&written.id).await;
    assert_eq!(ledger.entries, changes.ledger);
    assert_eq!(ledger.entries[0].kind, EntryKind::Payment);
    assert_eq!(ledger.entries[0].balance_after, dec("1234.5678"));
    assert_eq!(sum(&ledger.entries), written.balance);
}

pub async fn a_created_sub_account_reads_back_exactly_and_takes_its_parents_currency(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let parent = w.master("Parent", "10").await;
    let mut asked = new_account("Child", Role::Customer, "0");
    asked.currency = didpool_core::Currency::parse("USD").unwrap();
    asked.profile = full_profile();
    let changes = w
        .run(
            &w.by(&parent),
            Command::CreateAccount {
                account: asked,
                parent: Some(parent.id.clone()),
                token_hash: TokenHash::of("child-token"),
                session: false,
            },
        )
        .await
        .unwrap();

    let sub = changes.account().unwrap().clone();
    assert_eq!(sub.parent_id.as_ref(), Some(&parent.id));
    assert_eq!(sub.currency, inr());
    assert_eq!(sub.balance, dec("0"));
    assert!(changes.ledger.is_empty());
    assert_eq!(w.store.account(&sub.id).await.unwrap(), Some(sub.clone()));
    assert_eq!(w.ledger(&sub.id).await.total, 0);
    // The parent's row is untouched by its child's creation.
    assert_eq!(w.account(&parent.id).await, parent);
}

pub async fn an_account_with_a_chosen_id_that_is_taken_is_refused_and_writes_nothing(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let chosen = AccountId::parse("MA_CHOSEN1").unwrap();
    let mut first = new_account("First", Role::Customer, "100");
    first.id = Some(chosen.clone());
    let existing = w.master_with(first).await;
    assert_eq!(existing.id, chosen);
    assert_eq!(w.account(&chosen).await, existing);
    let credentials = w.store.credentials_of(&chosen).await.unwrap();
    w.clock.advance(chrono::Duration::minutes(1));

    let mut second = new_account("Second", Role::Admin, "50");
    second.id = Some(chosen.clone());
    let refused = w
        .run(
            &w.operator(),
            Command::CreateAccount {
                account: second,
                parent: None,
                token_hash: TokenHash::of("second-token"),
                session: false,
            },
        )
        .await;
    match refused {
        Err(EngineError::AlreadyExists(what)) => assert_eq!(what, "MA_CHOSEN1"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }

    assert_eq!(w.account(&chosen).await, existing);
    assert_eq!(w.store.credentials_of(&chosen).await.unwrap(), credentials);
    assert_eq!(
        w.store
            .credential(CredentialKind::Vobiz, &TokenHash::of("second-token"))
            .await
            .unwrap(),
        None
    );
    let ledger = w.ledger(&chosen).await;
    assert_eq!(ledger.total, 1);
    assert_eq!(sum(&ledger.entries), dec("100"));
}

pub async fn an_updated_sub_account_reads_back_exactly_as_execute_returned_it(
    store: Arc<dyn Store>,
) {
    let w = World::new(store);
    let parent = w.master("Parent", "0").await;
    let sub = w.sub(&parent, "Child").await;
    w.clock.advance(chrono::Duration::minutes(5));

    let changes = w
        .run(
            &w.by(&parent),
            Command::UpdateSubAccount {
                id: sub.id.clone(),
                patch: AccountPatch {
                    name: Some("Renamed".into()),
                    enabled: Some(false),
                    email: Some(Some("child@example.com".into())),
                    phone: Some(None),
                    description: Some(Some("line one\nline two".into())),
                    rate_limit: Some(7),
                    permissions: Some(Permissions {
                        calls: false,
                        cdr: true,
                    }),
                },
            },
        )
        .await
        .unwrap();

    let updated = changes.account().unwrap().clone();
    assert_eq!(updated.name, "Renamed");
    assert!(!updated.enabled);
    assert_eq!(updated.created_at, sub.created_at);
    assert_eq!(updated.updated_at, w.engine.now());
    assert_eq!(w.account(&sub.id).await, updated);
}

pub async fn a_top_up_credits_the_balance_with_one_ledger_entry(store: Arc<dyn Store>) {
    let w = World::new(store);
    let acc = w.master("Payer", "100").await;
    let changes = w
        .run(
            &w.operator(),
            Command::TopUp {
                account: acc.id.clone(),
                amount: dec("0.0001"),
                description: "wire transfer 42".into(),
            },
        )
        .await
        .unwrap();

    assert_eq!(w.account(&acc.id).await, changes.account().unwrap().clone());
    assert_eq!(w.balance(&acc.id).await, dec("100.0001"));
    let ledger = w.ledger(&acc.id).await;
    assert_eq!(ledger.total, 2);
    assert_eq!(ledger.entries[0], changes.ledger[0]);
    assert_eq!(ledger.entries[0].description, "wire transfer 42");
    assert_eq!(ledger.total_credit, dec("100.0001"));
    assert_eq!(sum(&ledger.entries), dec("100.0001"));
}

pub async fn rows_that_were_never_written_read_back_as_none(store: Arc<dyn Store>) {
    let w = World::new(store);
    let nobody = AccountId::parse("MA_NOBODY").unwrap();
    assert_eq!(w.store.account(&nobody).await.unwrap(), None);
    assert_eq!(
        w.store
            .number_by_e164(&e164("+919876543210"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(w.store.number(NumberId::new()).await.unwrap(), None);
    assert_eq!(w.store.trunk(TrunkId::new()).await.unwrap(), None);
    assert_eq!(
        w.store
            .credential(CredentialKind::Agni, &TokenHash::of("nope"))
            .await
            .unwrap(),
        None
    );
    assert!(w.store.credentials_of(&nobody).await.unwrap().is_empty());
    assert!(w
        .store
        .events(&NumberId::new().into())
        .await
        .unwrap()
        .is_empty());
    assert!(w
        .store
        .assignment_audits(&NumberId::new().into())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(w.store.trunks(&nobody, 10, 0).await.unwrap().total, 0);
    let ledger = w.store.ledger(&ledger_query(&nobody)).await.unwrap();
    assert_eq!(ledger.total, 0);
    assert!(ledger.entries.is_empty() && ledger.by_kind.is_empty());
    assert_eq!(ledger.total_debit, dec("0"));

    // A command on a missing row is refused, not a storage error.
    let revoke = w
        .run(
            &w.operator(),
            Command::RevokeCredential {
                id: CredentialId::new(),
            },
        )
        .await;
    assert!(matches!(revoke, Err(EngineError::CredentialNotFound)));
}
