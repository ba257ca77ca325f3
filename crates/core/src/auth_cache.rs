//! A small, short-lived cache of authenticated credentials (issue 17): a request that presents
//! the same token within the TTL is authenticated without reading the store.
//!
//! What holds:
//! - On this node, a change is seen at once: every command that writes an account or a
//!   credential (revoke, rotate, disable, delete, and balance changes, since the cached account
//!   is what a request acts as) drops that account's entries when it commits
//!   ([`AuthCache::forget`]), and an entry read from the store before such a commit is never
//!   stored after it (a generation count).
//! - Across nodes (PostgreSQL), a change made through another node is seen here within the TTL.
//! - A hit is checked exactly as a store read is: the token against its hash, the credential's
//!   life at the engine's clock (a rotated token's grace ends on time), the account id asked for.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use crate::account::Account;
use crate::credential::{Credential, CredentialKind, TokenHash};
use crate::ids::AccountId;

/// At most this many credentials are cached; a full cache is emptied (bounded memory).
const CAPACITY: usize = 4096;

struct Entry {
    account: Account,
    credential: Credential,
    at: DateTime<Utc>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(CredentialKind, String), Entry>,
    /// Bumped by every [`AuthCache::forget`]: a read that started before cannot be stored.
    generation: u64,
}

/// See the module documentation. A TTL of zero caches nothing.
pub struct AuthCache {
    ttl: Duration,
    inner: Mutex<Inner>,
}

impl AuthCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.ttl > Duration::zero()
    }

    /// The generation to pass to [`AuthCache::put`] after a store read begun now.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The cached account and credential for `hash`, if cached less than the TTL before `now`.
    pub fn get(
        &self,
        kind: CredentialKind,
        hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> Option<(Account, Credential)> {
        if !self.enabled() {
            return None;
        }
        let inner = self.lock();
        let e = inner.entries.get(&(kind, hash.0.clone()))?;
        (now >= e.at && now - e.at < self.ttl).then(|| (e.account.clone(), e.credential.clone()))
    }

    /// Caches what the store answered, unless something was forgotten since `generation`.
    pub fn put(
        &self,
        generation: u64,
        account: &Account,
        credential: &Credential,
        now: DateTime<Utc>,
    ) {
        if !self.enabled() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= CAPACITY {
            inner.entries.clear();
        }
        inner.entries.insert(
            (credential.kind, credential.token_hash.0.clone()),
            Entry {
                account: account.clone(),
                credential: credential.clone(),
                at: now,
            },
        );
    }

    /// Drops the entries of these accounts and of their sub-accounts (their rows or credentials
    /// were just written; a sub-account's entry holds only while its master account works).
    pub fn forget<'a>(&self, accounts: impl IntoIterator<Item = &'a AccountId>) {
        if !self.enabled() {
            return;
        }
        let ids: Vec<&AccountId> = accounts.into_iter().collect();
        if ids.is_empty() {
            return;
        }
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.retain(|_, e| {
            !ids.contains(&&e.account.id)
                && e.account
                    .parent_id
                    .as_ref()
                    .is_none_or(|p| !ids.contains(&p))
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
