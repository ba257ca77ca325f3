//! `serve --demo`: a demo customer with a balance, an admin-role account and a stock of
//! inventory numbers, created once and reused on every later run. Each run gives the demo
//! customer fresh credentials for every face (a Vobiz auth token, an Agni key, a Diga key) and
//! the admin-role account a fresh auth token, and revokes the ones earlier runs issued, so only
//! the ones it printed last work and restarts do not pile up live credentials. The stock holds
//! what the README's examples use: Indian numbers (Vobiz), US numbers (Agni) and Spanish ones
//! (Diga's region codes), all priced in the demo accounts' INR.

use std::net::SocketAddr;
use std::str::FromStr;

use chrono::Duration;
use didpool_core::account::{AccountProfile, NewAccount, Role};
use didpool_core::credential::CredentialKind;
use didpool_core::engine::By;
use didpool_core::lifecycle::Command;
use didpool_core::money::{Currency, Decimal};
use didpool_core::number::NewNumber;
use didpool_core::{AccountId, Capabilities, Engine, EngineError, E164};

pub const DEMO_MASTER: &str = "MA_DEMO000001";
pub const DEMO_ADMIN: &str = "MA_DEMOADMIN1";

/// What a demo run prints: every secret is new this run.
pub struct DemoCredentials {
    /// The demo customer and its Vobiz auth token.
    pub master: (AccountId, String),
    /// The admin-role demo account and its Vobiz auth token.
    pub admin: (AccountId, String),
    /// The demo customer's Agni key (`X-Api-Key`).
    pub agni_key: String,
    /// The demo customer's Diga key (`Authorization: Bearer`).
    pub diga_key: String,
    /// Inventory numbers added by this run (none once they are all stocked).
    pub stocked: usize,
}

impl DemoCredentials {
    /// What `serve --demo` prints: bash, comments and the variables the README's examples use, so
    /// pasting it into a shell sets them all. `tests/readme.rs` sources it the same way, reading
    /// up to the `# Try:` line.
    pub fn shell_lines(&self, addr: SocketAddr, admin_token: &str) -> String {
        // An address to reach the server at: a wildcard listen address is reached on loopback.
        let reach = if addr.ip().is_unspecified() {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
        } else {
            addr
        };
        let url = format!("http://{reach}");
        let (ma, ma_token) = &self.master;
        let (admin, admin_token_vobiz) = &self.admin;
        let q = shell_word;
        format!(
            "\n# didpool demo on {url} ({stocked} inventory numbers added this run).\n\
             # Paste these lines into bash to run the README's examples. Every run issues the\n\
             # demo accounts new credentials; the ones printed before no longer work.\n\
             # The demo customer on the Vobiz face (X-Auth-ID, X-Auth-Token):\n\
             A={ma}; TOKEN={ma_token}\n\
             H=(-H \"X-Auth-ID: $A\" -H \"X-Auth-Token: $TOKEN\"); B={url}/api/v1\n\
             # The admin-role demo account (it may force a number back from its sub-account):\n\
             AA={admin}; AA_TOKEN={admin_token_vobiz}\n\
             HA=(-H \"X-Auth-ID: $AA\" -H \"X-Auth-Token: $AA_TOKEN\")\n\
             # The demo customer on the Agni face (X-Api-Key):\n\
             AGNI_KEY={agni}\n\
             AK=(-H \"X-Api-Key: $AGNI_KEY\"); P={url}/api/v1/phone-numbers\n\
             # The demo customer on the Diga face (Authorization: Bearer):\n\
             DIGA_KEY={diga}\n\
             DK=(-H \"Authorization: Bearer $DIGA_KEY\"); D={url}/v1/phone\n\
             # The operator on the admin API (Authorization: Bearer):\n\
             ADMIN_TOKEN={admin_token}\n\
             O=(-H \"Authorization: Bearer $ADMIN_TOKEN\"); AB={url}/admin/v1\n\
             # Try:  curl -s \"$B/Account/$A/inventory/numbers?country=IN&per_page=5\" \"${{H[@]}}\"\n\n",
            stocked = self.stocked,
            ma = q(ma.as_str()),
            ma_token = q(ma_token),
            admin = q(admin.as_str()),
            admin_token_vobiz = q(admin_token_vobiz),
            agni = q(&self.agni_key),
            diga = q(&self.diga_key),
            admin_token = q(admin_token),
        )
    }
}

/// `s` as one bash word: as it is when it holds nothing the shell would read, else single-quoted.
fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-.:/@%+=,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Ensures the demo data exists and issues each demo account's credentials anew (they are
/// stored hashed and cannot be shown again). Earlier runs' credentials are revoked at once.
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
    let agni_key = reissue_key(engine, &op, &master.0, CredentialKind::Agni).await?;
    let diga_key = reissue_key(engine, &op, &master.0, CredentialKind::Diga).await?;
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
        agni_key,
        diga_key,
        stocked,
    })
}

/// Creates a demo account, or rotates the auth token of the one an earlier run created (no
/// grace period: the old token stops at once).
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

/// Revokes the account's live keys of `kind` and issues a new one, as the admin API issues keys
/// (`Engine::create_key`). A key's issuer is not recorded, so every live key of that kind on the
/// demo customer goes: the demo account's credentials are the demo's, as its auth token is.
async fn reissue_key(
    engine: &Engine,
    op: &By,
    account: &AccountId,
    kind: CredentialKind,
) -> Result<String, EngineError> {
    let now = engine.now();
    for c in engine.credentials(op, account).await? {
        if c.kind == kind && c.is_live_at(now) {
            engine
                .run(op, Command::RevokeCredential { id: c.id })
                .await?;
        }
    }
    let (_, key) = engine.create_key(op, account.clone(), kind, None).await?;
    Ok(key)
}

/// One run of consecutive demo numbers: `count` numbers from `first`, `step` apart.
struct Series {
    first: u64,
    step: u64,
    count: u64,
    country: &'static str,
    region: &'static str,
    setup_fee: i64,
    monthly_fee: i64,
}

/// 340 numbers, all in INR: 300 Indian landlines, Bengaluru (+91 80) and Mumbai (+91 22); 20 San
/// Francisco numbers (+1 415 555 26xx, the Agni examples'); 20 Madrid landlines (+34 91).
const STOCK: [Series; 4] = [
    Series {
        first: 918_041_100_000,
        step: 37,
        count: 200,
        country: "IN",
        region: "Karnataka",
        setup_fee: 100,
        monthly_fee: 300,
    },
    Series {
        first: 912_240_100_000,
        step: 37,
        count: 100,
        country: "IN",
        region: "Maharashtra",
        setup_fee: 100,
        monthly_fee: 300,
    },
    Series {
        first: 14_155_552_660,
        step: 1,
        count: 20,
        country: "US",
        region: "California",
        setup_fee: 50,
        monthly_fee: 95,
    },
    Series {
        first: 34_910_000_000,
        step: 1,
        count: 20,
        country: "ES",
        region: "Madrid",
        setup_fee: 100,
        monthly_fee: 250,
    },
];

fn stock() -> impl Iterator<Item = NewNumber> {
    let inr = Currency::parse("INR").expect("INR");
    STOCK.iter().flat_map(move |s| {
        let inr = inr.clone();
        (0..s.count).map(move |i| NewNumber {
            e164: E164::parse(&format!("+{}", s.first + i * s.step))
                .expect("demo numbers are valid"),
            country: s.country.into(),
            region: Some(s.region.into()),
            capabilities: Capabilities::VOICE,
            provider: String::new(),
            setup_fee: Decimal::from(s.setup_fee),
            monthly_fee: Decimal::from(s.monthly_fee),
            currency: inr.clone(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_printed_as_one_bash_word() {
        assert_eq!(shell_word("agni_AbC123"), "agni_AbC123");
        assert_eq!(shell_word("it's $x"), "'it'\\''s $x'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn every_demo_number_is_valid_and_the_stock_keeps_its_first_300() {
        let numbers: Vec<NewNumber> = stock().collect();
        assert_eq!(numbers.len(), 340);
        assert_eq!(numbers[0].e164.as_str(), "+918041100000");
        assert_eq!(numbers[1].e164.as_str(), "+918041100037");
        assert_eq!(numbers[200].e164.as_str(), "+912240100000");
        assert!(numbers.iter().any(|n| n.e164.as_str() == "+14155552671"));
        assert!(numbers.iter().any(|n| n.e164.as_str() == "+34910000000"));
    }
}
