//! Fixtures shared by the conformance tests: an engine on a manual clock, and short ways to
//! create accounts and numbers through it.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use didpool_core::account::{AccountProfile, NewAccount, Permissions, Role};
use didpool_core::engine::By;
use didpool_core::ledger::LedgerEntry;
use didpool_core::lifecycle::{Changes, Command, ReleaseMode};
use didpool_core::money::{Currency, Decimal};
use didpool_core::number::NewNumber;
use didpool_core::store::{LedgerPage, LedgerQuery, NumberQuery, Page};
use didpool_core::{
    Account, AccountId, Capabilities, Engine, EngineError, ManualClock, Number, ReleasePolicy,
    Store, E164,
};

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("a decimal literal")
}

pub fn e164(s: &str) -> E164 {
    E164::parse(s).unwrap_or_else(|_| panic!("{s} is a valid E.164 number"))
}

pub fn inr() -> Currency {
    Currency::parse("INR").expect("INR")
}

/// The first instant of every test. It has nanoseconds on purpose: the engine keeps
/// microseconds, and every store must give back exactly what the engine wrote.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap() + chrono::Duration::nanoseconds(123_456_789)
}

/// An engine over the store under test, on a clock that moves only when told to.
pub struct World {
    pub store: Arc<dyn Store>,
    pub clock: ManualClock,
    pub engine: Engine,
}

impl World {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_policy(store, ReleasePolicy::default())
    }

    pub fn with_policy(store: Arc<dyn Store>, policy: ReleasePolicy) -> Self {
        let clock = ManualClock::new(t0());
        let engine = Engine::new(Arc::clone(&store), Arc::new(clock.clone()), policy);
        Self {
            store,
            clock,
            engine,
        }
    }

    pub fn operator(&self) -> By {
        By::operator(Some("req-operator".into()))
    }

    pub fn by(&self, account: &Account) -> By {
        By::account(account, Some(format!("req-{}", account.id)))
    }

    /// Runs a command through the engine; what it wrote.
    pub async fn run(&self, by: &By, cmd: Command) -> Result<Changes, EngineError> {
        self.engine.run(by, cmd).await.map(|o| o.changes)
    }

    /// A master account (role `customer`, INR) with this opening balance.
    pub async fn master(&self, name: &str, opening_balance: &str) -> Account {
        self.master_with(new_account(name, Role::Customer, opening_balance))
            .await
    }

    pub async fn admin_master(&self, name: &str, opening_balance: &str) -> Account {
        self.master_with(new_account(name, Role::Admin, opening_balance))
            .await
    }

    pub async fn master_with(&self, account: NewAccount) -> Account {
        let (account, _token) = self
            .engine
            .create_account(&self.operator(), account, None)
            .await
            .expect("create a master account");
        account
    }

    /// A sub-account of `parent`, created by the parent itself.
    pub async fn sub(&self, parent: &Account, name: &str) -> Account {
        let (account, _token) = self
            .engine
            .create_account(
                &self.by(parent),
                new_account(name, Role::Customer, "0"),
                Some(parent.id.clone()),
            )
            .await
            .expect("create a sub-account");
        account
    }

    /// Stocks a number with these fees (INR) and returns it as written.
    pub async fn stock(&self, number: &str, setup_fee: &str, monthly_fee: &str) -> Number {
        self.run(
            &self.operator(),
            Command::AddInventory {
                numbers: vec![new_number(number, setup_fee, monthly_fee)],
            },
        )
        .await
        .expect("stock a number")
        .number()
        .cloned()
        .expect("the stocked number")
    }

    pub async fn purchase(&self, buyer: &Account, number: &E164) -> Result<Changes, EngineError> {
        self.run(
            &self.by(buyer),
            Command::Purchase {
                number: number.clone().into(),
                currency: None,
                quoted_monthly_fee: None,
            },
        )
        .await
    }

    pub async fn release(&self, holder: &Account, number: &E164) -> Result<Changes, EngineError> {
        self.run(
            &self.by(holder),
            Command::Release {
                number: number.clone().into(),
                mode: ReleaseMode::Policy,
            },
        )
        .await
    }

    pub async fn account(&self, id: &AccountId) -> Account {
        self.store
            .account(id)
            .await
            .expect("read an account")
            .expect("the account exists")
    }

    pub async fn balance(&self, id: &AccountId) -> Decimal {
        self.account(id).await.balance
    }

    pub async fn number(&self, number: &E164) -> Number {
        self.store
            .number_by_e164(number)
            .await
            .expect("read a number")
            .expect("the number exists")
    }

    pub async fn numbers(&self, query: NumberQuery) -> Page<Number> {
        self.store.numbers(&query).await.expect("list numbers")
    }

    /// The whole ledger of an account, newest first.
    pub async fn ledger(&self, account: &AccountId) -> LedgerPage {
        self.store
            .ledger(&ledger_query(account))
            .await
            .expect("read the ledger")
    }

    pub async fn actions(&self, number: &Number) -> Vec<String> {
        self.store
            .events(&number.id.into())
            .await
            .expect("read events")
            .into_iter()
            .map(|e| e.action)
            .collect()
    }
}

pub fn new_account(name: &str, role: Role, opening_balance: &str) -> NewAccount {
    NewAccount {
        id: None,
        name: name.into(),
        role,
        currency: inr(),
        opening_balance: dec(opening_balance),
        enabled: true,
        profile: AccountProfile::default(),
    }
}

/// An account with every optional field set, to check that each one is stored.
pub fn full_profile() -> AccountProfile {
    AccountProfile {
        email: Some("ops@example.com".into()),
        phone: Some("+919812345678".into()),
        description: Some("ünïcode & 'quotes'".into()),
        rate_limit: Some(42),
        permissions: Some(Permissions {
            calls: true,
            cdr: false,
        }),
    }
}

pub fn new_number(number: &str, setup_fee: &str, monthly_fee: &str) -> NewNumber {
    let e164 = e164(number);
    NewNumber {
        country: e164.country().expect("a number with a country"),
        e164,
        region: None,
        capabilities: Capabilities::VOICE,
        provider: "carrier".into(),
        setup_fee: dec(setup_fee),
        monthly_fee: dec(monthly_fee),
        currency: inr(),
    }
}

pub fn ledger_query(account: &AccountId) -> LedgerQuery {
    LedgerQuery {
        account: account.clone(),
        debits: None,
        kind: None,
        from: None,
        to: None,
        limit: 1000,
        offset: 0,
    }
}

/// The sum of the amounts, which must equal the balance: money moves only with its entry.
pub fn sum(entries: &[LedgerEntry]) -> Decimal {
    entries.iter().map(|e| e.amount).sum()
}

/// `count` distinct valid Indian mobile numbers, `+9198765` followed by five digits from `from`.
pub fn indian_numbers(from: u32, count: u32) -> Vec<String> {
    (from..from + count)
        .map(|i| format!("+9198765{i:05}"))
        .collect()
}
