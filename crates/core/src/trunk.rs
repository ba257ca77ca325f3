//! SIP trunks that numbers are routed to.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, TrunkId};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trunk {
    pub id: TrunkId,
    pub account_id: AccountId,
    pub name: String,
    pub settings: TrunkSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

/// Routing settings; stored as they are and shown back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrunkSettings {
    pub domain: Option<String>,
    pub enabled: bool,
    pub secure: bool,
    pub direction: Direction,
    pub concurrent_calls_limit: i64,
    pub cps_limit: i64,
    pub description: String,
    pub transport: Transport,
    pub recording: bool,
    pub enable_transcription: bool,
    pub pii_redaction: bool,
    pub webhook_url: Option<String>,
    pub webhook_method: String,
    pub recording_webhook_enabled: bool,
    pub inbound_destination: Option<String>,
    pub credential_uuid: Option<String>,
    pub ipacl_uuid: Option<String>,
    pub primary_uri_uuid: Option<String>,
    pub fallback_uri_uuid: Option<String>,
    /// Which kinds of personal data `pii_redaction` removes, as the client wrote them (Vobiz
    /// documents the field, not its vocabulary). Absent from trunks stored before it existed.
    #[serde(default)]
    pub pii_entity_types: Option<String>,
}

impl Default for TrunkSettings {
    /// The defaults new trunks come back with: `cps_limit` 2, not secure, UDP, active.
    fn default() -> Self {
        Self {
            domain: None,
            enabled: true,
            secure: false,
            direction: Direction::Both,
            concurrent_calls_limit: 10,
            cps_limit: 2,
            description: String::new(),
            transport: Transport::Udp,
            recording: false,
            enable_transcription: false,
            pii_redaction: false,
            webhook_url: None,
            webhook_method: "POST".into(),
            recording_webhook_enabled: false,
            inbound_destination: None,
            credential_uuid: None,
            ipacl_uuid: None,
            primary_uri_uuid: None,
            fallback_uri_uuid: None,
            pii_entity_types: None,
        }
    }
}

/// A partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrunkPatch {
    pub name: Option<String>,
    pub domain: Option<String>,
    pub enabled: Option<bool>,
    pub secure: Option<bool>,
    pub direction: Option<Direction>,
    pub concurrent_calls_limit: Option<i64>,
    pub cps_limit: Option<i64>,
    pub description: Option<String>,
    pub transport: Option<Transport>,
    pub recording: Option<bool>,
    pub enable_transcription: Option<bool>,
    pub pii_redaction: Option<bool>,
    pub webhook_url: Option<String>,
    pub webhook_method: Option<String>,
    pub recording_webhook_enabled: Option<bool>,
    pub inbound_destination: Option<String>,
    pub credential_uuid: Option<String>,
    pub ipacl_uuid: Option<String>,
    pub primary_uri_uuid: Option<String>,
    pub fallback_uri_uuid: Option<String>,
    pub pii_entity_types: Option<String>,
}

impl TrunkPatch {
    /// Checks the documented bounds and applies the patch.
    pub fn apply(self, name: &mut String, s: &mut TrunkSettings) -> Result<(), String> {
        if let Some(n) = self.name {
            *name = crate::account::validate_name(&n).map_err(str::to_owned)?;
        }
        if let Some(v) = self.concurrent_calls_limit {
            if !(0..=1000).contains(&v) {
                return Err("concurrent_calls_limit is between 0 and 1000".into());
            }
            s.concurrent_calls_limit = v;
        }
        if let Some(v) = self.cps_limit {
            if !(0..=100).contains(&v) {
                return Err("cps_limit is between 0 and 100".into());
            }
            s.cps_limit = v;
        }
        if let Some(d) = &self.description {
            if d.chars().count() > 500 {
                return Err("description is at most 500 characters".into());
            }
        }
        if let Some(m) = &self.webhook_method {
            let m = m.to_ascii_uppercase();
            if m != "POST" && m != "GET" {
                return Err("webhook_method is POST or GET".into());
            }
            s.webhook_method = m;
        }
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { s.$field = v; } )* };
        }
        macro_rules! set_opt {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { s.$field = Some(v); } )* };
        }
        set!(
            enabled,
            secure,
            direction,
            description,
            transport,
            recording,
            enable_transcription,
            pii_redaction,
            recording_webhook_enabled
        );
        set_opt!(
            domain,
            webhook_url,
            inbound_destination,
            credential_uuid,
            ipacl_uuid,
            primary_uri_uuid,
            fallback_uri_uuid,
            pii_entity_types
        );
        Ok(())
    }
}
