//! The rules, tested on snapshots: no store, no clock but a fixed instant.

use chrono::{Duration, TimeZone};
use rust_decimal_macros_free::dec;

use chrono::Months;

use super::*;
use crate::account::{AccountProfile, Role};
use crate::audit::NumberEvent;
use crate::e164::E164;
use crate::ledger::EntryKind;
use crate::ledger::LedgerEntry;
use crate::number::{Capabilities, Origin};
use crate::policy::COOL_OFF;
use crate::trunk::TrunkSettings;

mod rust_decimal_macros_free {
    macro_rules! dec {
        ($s:literal) => {
            <rust_decimal::Decimal as std::str::FromStr>::from_str(stringify!($s)).unwrap()
        };
    }
    pub(crate) use dec;
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap()
}

fn account(id: &str, parent: Option<&str>, role: Role, balance: Decimal) -> Account {
    Account {
        id: AccountId::parse(id).unwrap(),
        parent_id: parent.map(|p| AccountId::parse(p).unwrap()),
        name: id.into(),
        role,
        currency: Currency::parse("INR").unwrap(),
        balance,
        enabled: true,
        verification: crate::account::Verification::Verified,
        profile: AccountProfile::default(),
        created_at: t0(),
        updated_at: t0(),
        deleted_at: None,
    }
}

fn ma() -> Account {
    account("MA_PARENT", None, Role::Customer, dec!(1000))
}

fn sa() -> Account {
    account("SA_CHILD", Some("MA_PARENT"), Role::Customer, dec!(0))
}

fn e164() -> E164 {
    E164::parse("+919876543210").unwrap()
}

fn stock() -> Number {
    Number::new_stock(
        NewNumber {
            e164: e164(),
            country: "IN".into(),
            region: Some("Karnataka".into()),
            capabilities: Capabilities::VOICE,
            provider: String::new(),
            setup_fee: dec!(100),
            monthly_fee: dec!(300),
            currency: Currency::parse("INR").unwrap(),
        },
        t0(),
    )
}

fn owned_by(owner: &Account) -> Number {
    let mut n = stock();
    n.state = NumberState::Active;
    n.owner_id = Some(owner.id.clone());
    n.billing_id = Some(owner.billing_id().clone());
    n.purchased_at = Some(t0());
    n
}

fn ctx_for(a: &Account, now: DateTime<Utc>) -> Context {
    Context {
        actor: Actor::Account(a.id.clone()),
        caller_billing: Some(a.billing_id().clone()),
        now,
        request_id: Some("req-1".into()),
        policy: ReleasePolicy::default(),
    }
}

fn snap(number: Option<Number>, accounts: Vec<Account>) -> Snapshot {
    Snapshot {
        number,
        accounts,
        ..Snapshot::default()
    }
}

fn ledger_sum(entries: &[LedgerEntry]) -> Decimal {
    entries.iter().map(|e| e.amount).sum()
}

mod buying;
mod credentials_and_clock;
mod due_first;
mod edges;
mod locking_and_jobs;
mod properties;
mod releasing;
mod routing;
mod scheduling;
mod sequences;
mod webhooks;
mod world;
