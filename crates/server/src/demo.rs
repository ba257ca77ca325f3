//! `serve --demo`: a demo master account with a balance, an admin-role account and a stock of
//! inventory numbers, created once and reused on every later run; each run rotates the demo
//! accounts' auth tokens, so only the ones it printed last work.

use std::str::FromStr;

use chrono::Duration;
use didpool_core::account::{AccountProfile, NewAccount, Role};
use didpool_core::engine::By;
use didpool_core::lifecycle::Command;
use didpool_core::money::{Currency, Decimal};
use didpool_core::number::NewNumber;
use didpool_core::{AccountId, Capabilities, Engine, EngineError, E164};

pub const DEMO_MASTER: &str = "MA_DEMO000001";
pub const DEMO_ADMIN: &str = "MA_DEMOADMIN1";

pub struct DemoCredentials {
    pub master: (AccountId, String),
    pub admin: (AccountId, String),
    pub stocked: usize,
}

/// Ensures the demo data exists and gives each demo account a fresh auth token (tokens are stored
/// hashed and cannot be shown again). The tokens of earlier runs are revoked (a rotation with no
/// grace period), so restarts do not pile up live tokens.
pub async fn ensure(engine: &Engine) -> Result<DemoCredentials, EngineError> {
    let op = By::operator(Some("demo".into()));
    let master = account(
        engine,
        &op,
        DEMO_MASTER,
        "Demo Customer",
        Role::Customer,
        "100000",
    )
    .await?;
    let admin = account(engine, &op, DEMO_ADMIN, "Demo Admin", Role::Admin, "100000").await?;
    let mut stocked = 0;
    for number in stock() {
        match engine
            .run(
                &op,
                Command::AddInventory {
                    numbers: vec![number],
                },
            )
            .await
        {
            Ok(_) => stocked += 1,
            Err(EngineError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(DemoCredentials {
        master,
        admin,
        stocked,
    })
}

async fn account(
    engine: &Engine,
    op: &By,
    id: &str,
    name: &str,
    role: Role,
    balance: &str,
) -> Result<(AccountId, String), EngineError> {
    let id = AccountId::parse(id).expect("demo ids are valid");
    if engine.account(op, &id).await.is_ok() {
        let (_, token, _) = engine
            .rotate_auth_token(op, id.clone(), Duration::zero())
            .await?;
        return Ok((id, token));
    }
    let new = NewAccount {
        id: Some(id.clone()),
        name: name.into(),
        role,
        currency: Currency::parse("INR").expect("INR"),
        opening_balance: Decimal::from_str(balance).expect("a decimal"),
        enabled: true,
        profile: AccountProfile::default(),
    };
    let (account, token) = engine.create_account(op, new, None).await?;
    Ok((account.id, token))
}

/// 300 Indian numbers: Bengaluru (+91 80) and Mumbai (+91 22) landlines.
fn stock() -> impl Iterator<Item = NewNumber> {
    let inr = Currency::parse("INR").expect("INR");
    [
        ("+918041", "Karnataka", 200),
        ("+912240", "Maharashtra", 100),
    ]
    .into_iter()
    .flat_map(move |(prefix, region, count)| {
        let inr = inr.clone();
        (0..count).filter_map(move |i| {
            let e164 = E164::parse(&format!("{prefix}{:06}", 100_000 + i * 37)).ok()?;
            Some(NewNumber {
                e164,
                country: "IN".into(),
                region: Some(region.into()),
                capabilities: Capabilities::VOICE,
                provider: String::new(),
                setup_fee: Decimal::from(100),
                monthly_fee: Decimal::from(300),
                currency: inr.clone(),
            })
        })
    })
}
