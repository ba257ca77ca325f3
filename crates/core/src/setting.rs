//! Deployment-wide values the store keeps between restarts (its `settings` table), so state that
//! is not a row of any account or number survives a restart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingKey {
    /// See [`Setting::SandboxClock`].
    SandboxClock,
    /// See [`Setting::TokenKey`].
    TokenKey,
}

impl SettingKey {
    pub fn as_str(self) -> &'static str {
        match self {
            SettingKey::SandboxClock => "sandbox_clock",
            SettingKey::TokenKey => "token_signing_key",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sandbox_clock" => Some(SettingKey::SandboxClock),
            "token_signing_key" => Some(SettingKey::TokenKey),
            _ => None,
        }
    }

    /// Whether the first value written stays: a second write of the key changes nothing, so
    /// servers starting together on one database keep the value the first of them wrote.
    pub fn is_write_once(self) -> bool {
        matches!(self, SettingKey::TokenKey)
    }
}

/// A setting and its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Setting {
    /// The sandbox clock's time as last set (`serve --sandbox` resumes from it, so a restart
    /// never moves the clock back from where a client's test suite left it).
    SandboxClock(DateTime<Utc>),
    /// The key the Vobiz face signs its access and refresh tokens with (HS256), generated at
    /// the first token a deployment issues unless one is configured (`--token-secret`); kept so
    /// tokens outlive a restart and every server on the database accepts them. Written once.
    TokenKey(SigningKey),
}

impl Setting {
    pub fn key(&self) -> SettingKey {
        match self {
            Setting::SandboxClock(_) => SettingKey::SandboxClock,
            Setting::TokenKey(_) => SettingKey::TokenKey,
        }
    }
}

/// A secret signing key: random text of at least 32 characters. Never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey(String);

/// The fewest characters a signing key may have (HS256 wants at least 256 bits of key).
pub const MIN_SIGNING_KEY_LEN: usize = 32;

impl SigningKey {
    /// A fresh random key: 40 characters of `[A-Za-z0-9]` (about 238 bits).
    pub fn generate() -> Self {
        Self(crate::credential::generate_token(""))
    }

    /// A key given by the operator or read from the store; refused when shorter than
    /// [`MIN_SIGNING_KEY_LEN`].
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() < MIN_SIGNING_KEY_LEN {
            return Err(format!(
                "a token signing key has at least {MIN_SIGNING_KEY_LEN} characters"
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}
