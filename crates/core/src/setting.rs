//! Deployment-wide values the store keeps between restarts (its `settings` table), so state that
//! is not a row of any account or number survives a restart.

use chrono::{DateTime, Utc};

/// Which setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingKey {
    /// See [`Setting::SandboxClock`].
    SandboxClock,
}

impl SettingKey {
    pub fn as_str(self) -> &'static str {
        match self {
            SettingKey::SandboxClock => "sandbox_clock",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sandbox_clock" => Some(SettingKey::SandboxClock),
            _ => None,
        }
    }
}

/// A setting and its value.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    /// The sandbox clock's time as last set (`serve --sandbox` resumes from it, so a restart
    /// never moves the clock back from where a client's test suite left it).
    SandboxClock(DateTime<Utc>),
}

impl Setting {
    pub fn key(&self) -> SettingKey {
        match self {
            Setting::SandboxClock(_) => SettingKey::SandboxClock,
        }
    }
}
