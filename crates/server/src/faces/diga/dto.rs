//! Diga's wire objects: `PhoneRegisterResponseSchema` and the paginated envelope.

use chrono::{DateTime, SecondsFormat, Utc};
use didpool_core::number::{MediaEncryption, SipConfig};
use didpool_core::{Number, NumberState, Origin};
use serde::Serialize;

/// The engine's state in Diga's `PhoneRegisterStatus` vocabulary. A deleted (imported, released)
/// number is never shown; it reads `finished` here only for completeness.
pub fn diga_status(state: NumberState) -> &'static str {
    match state {
        NumberState::Reserved => "reserved",
        NumberState::PendingVerification => "pending_verification",
        NumberState::Active | NumberState::PendingRelease => "assigned",
        NumberState::Quarantined => "released",
        NumberState::Available | NumberState::Deleted => "finished",
    }
}

/// A time as pydantic writes it: `Z` for UTC, microseconds only when there are any.
pub fn time(t: DateTime<Utc>) -> String {
    let format = if t.timestamp_subsec_micros() == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Micros
    };
    t.to_rfc3339_opts(format, true)
}

fn opt_time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(time)
}

/// `SipConfigResponseSchema`: the password is never returned.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DigaSipConfig)]
pub struct SipConfigOut {
    #[schema(required = true)]
    pub termination_uri: Option<String>,
    #[schema(required = true)]
    pub username: Option<String>,
    #[schema(value_type = crate::faces::diga::dto::MediaEncryptionSchema)]
    pub inbound_media_encryption: MediaEncryption,
    #[schema(value_type = crate::faces::diga::dto::MediaEncryptionSchema)]
    pub outbound_media_encryption: MediaEncryption,
    #[schema(required = true)]
    pub allowed_addresses: Option<Vec<String>>,
}

impl From<&SipConfig> for SipConfigOut {
    fn from(c: &SipConfig) -> Self {
        Self {
            termination_uri: c.termination_uri.clone(),
            username: c.username.clone(),
            inbound_media_encryption: c.inbound_media_encryption,
            outbound_media_encryption: c.outbound_media_encryption,
            allowed_addresses: c.allowed_addresses.clone(),
        }
    }
}

/// `PhoneRegisterResponseSchema`, fields in the spec's order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DigaPhone)]
pub struct Phone {
    pub id: String,
    #[schema(required = true)]
    pub nickname: Option<String>,
    pub number: String,
    pub telephony_provider: &'static str,
    pub status: &'static str,
    #[schema(required = true)]
    pub released_at: Option<String>,
    #[schema(required = true)]
    pub scheduled_release_at: Option<String>,
    #[schema(required = true)]
    pub assigned_at: Option<String>,
    #[schema(required = true)]
    pub inbound_agent_id: Option<String>,
    #[schema(required = true)]
    pub outbound_agent_id: Option<String>,
    #[schema(required = true)]
    pub sip_config: Option<SipConfigOut>,
    #[schema(required = true)]
    pub checkout_url: Option<String>,
    #[schema(required = true)]
    pub reservation_expires_at: Option<String>,
    pub region_codes: Vec<&'static str>,
}

impl From<&Number> for Phone {
    fn from(n: &Number) -> Self {
        let holding = matches!(n.state, NumberState::Active | NumberState::PendingRelease);
        let released = matches!(n.state, NumberState::Quarantined | NumberState::Available);
        Self {
            id: n.id.to_string(),
            nickname: n.nickname.clone(),
            number: n.e164.to_string(),
            telephony_provider: match n.origin {
                Origin::Stock => "netelip",
                Origin::Imported => "custom",
            },
            status: diga_status(n.state),
            released_at: opt_time(n.released_at.filter(|_| released)),
            scheduled_release_at: opt_time(n.release_at.filter(|_| holding)),
            assigned_at: opt_time(n.purchased_at),
            inbound_agent_id: n.inbound_agent_id.clone(),
            outbound_agent_id: n.outbound_agent_id.clone(),
            sip_config: match n.origin {
                Origin::Imported => Some(
                    n.sip_config
                        .as_ref()
                        .map(Into::into)
                        .unwrap_or(SipConfigOut::from(&SipConfig::default())),
                ),
                Origin::Stock => None,
            },
            checkout_url: None,
            reservation_expires_at: opt_time(
                n.reservation_expires_at
                    .filter(|_| n.state == NumberState::Reserved),
            ),
            region_codes: region_codes(n.e164.as_str()),
        }
    }
}

/// `PaginatedResponse[PhoneRegisterResponseSchema]`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = DigaPhonePage)]
pub struct PhonePage {
    pub data: Vec<Phone>,
    pub has_more: bool,
    #[schema(required = true)]
    pub first_id: Option<String>,
    #[schema(required = true)]
    pub last_id: Option<String>,
    #[schema(required = true)]
    pub current_page: Option<u64>,
    #[schema(required = true)]
    pub total_pages: Option<u64>,
}

/// The Spanish regions a number's landline prefix belongs to: ISO 3166-2:ES autonomous-community
/// codes without the `ES-` prefix (autonomous cities Ceuta `CE` and Melilla `ML`). The 8xx
/// geographic ranges mirror the 9xx ones; Ceuta shares 956 with Cádiz and Melilla 952 with Málaga,
/// so those prefixes give two codes. Mobiles, non-geographic and foreign numbers give none.
pub fn region_codes(e164: &str) -> Vec<&'static str> {
    let Some(nsn) = e164.strip_prefix("+34") else {
        return Vec::new();
    };
    let b = nsn.as_bytes();
    if b.len() != 9 || !matches!(b[0], b'8' | b'9') || !matches!(b[1], b'1'..=b'8') {
        return Vec::new();
    }
    let two = &nsn[1..2];
    let three = &nsn[1..3];
    match (two, three) {
        ("1", _) => vec!["MD"],
        ("3", _) => vec!["CT"],
        (_, "20" | "21" | "23" | "47" | "75" | "79" | "80" | "83" | "87") => vec!["CL"],
        (_, "22" | "28") => vec!["CN"],
        (_, "24" | "27") => vec!["EX"],
        (_, "25" | "26" | "49" | "67" | "69") => vec!["CM"],
        (_, "41") => vec!["RI"],
        (_, "42") => vec!["CB"],
        (_, "43" | "44" | "45" | "46") => vec!["PV"],
        (_, "48") => vec!["NC"],
        (_, "50" | "51" | "53" | "54" | "55" | "57" | "58" | "59") => vec!["AN"],
        (_, "52") => vec!["AN", "ML"],
        (_, "56") => vec!["AN", "CE"],
        (_, "60" | "61" | "62" | "63" | "64" | "65" | "66") => vec!["VC"],
        (_, "68") => vec!["MC"],
        (_, "71") => vec!["IB"],
        (_, "72" | "73" | "77") => vec!["CT"],
        (_, "74" | "76" | "78") => vec!["AR"],
        (_, "81" | "82" | "86" | "88") => vec!["GA"],
        (_, "84" | "85") => vec!["AS"],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_landlines_map_to_their_communities() {
        assert_eq!(region_codes("+34910000000"), ["MD"]);
        assert_eq!(region_codes("+34810000000"), ["MD"]);
        assert_eq!(region_codes("+34932000000"), ["CT"]);
        assert_eq!(region_codes("+34972000000"), ["CT"]);
        assert_eq!(region_codes("+34963000000"), ["VC"]);
        assert_eq!(region_codes("+34968000000"), ["MC"]);
        assert_eq!(region_codes("+34956500000"), ["AN", "CE"]);
        assert_eq!(region_codes("+34952670000"), ["AN", "ML"]);
        assert_eq!(region_codes("+34981000000"), ["GA"]);
        assert_eq!(region_codes("+34928000000"), ["CN"]);
        assert_eq!(region_codes("+34971000000"), ["IB"]);
        assert_eq!(region_codes("+34944000000"), ["PV"]);
        assert!(region_codes("+34600000000").is_empty(), "mobile");
        assert!(region_codes("+34900000000").is_empty(), "freephone");
        assert!(region_codes("+34940000000").is_empty(), "unassigned");
        assert!(region_codes("+14155552671").is_empty(), "not Spanish");
    }

    #[test]
    fn times_read_as_pydantic_writes_them() {
        let t = DateTime::parse_from_rfc3339("2026-07-01T09:12:44Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(time(t), "2026-07-01T09:12:44Z");
        let t = t + chrono::Duration::microseconds(1500);
        assert_eq!(time(t), "2026-07-01T09:12:44.001500Z");
    }
}

// Request bodies, for the OpenAPI document only: the handlers read the JSON themselves, to word
// validation errors as pydantic does.

/// `disable`, `allow` or `require`.
#[derive(utoipa::ToSchema)]
#[schema(as = DigaMediaEncryption)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum MediaEncryptionSchema {
    Disable,
    Allow,
    Require,
}

/// `PATCH /v1/phone/{phone_id}`: absent leaves a field, `null` clears it.
#[derive(utoipa::ToSchema)]
#[schema(as = DigaPhoneUpdate)]
#[allow(dead_code)]
pub struct PhoneUpdateBody {
    nickname: Option<String>,
    inbound_version_id: Option<uuid::Uuid>,
    outbound_version_id: Option<uuid::Uuid>,
}

#[derive(utoipa::ToSchema)]
#[schema(as = DigaInboundConfig)]
#[allow(dead_code)]
pub struct InboundConfigBody {
    media_encryption: Option<MediaEncryptionSchema>,
    allowed_addresses: Option<Vec<String>>,
}

#[derive(utoipa::ToSchema)]
#[schema(as = DigaOutboundConfig)]
#[allow(dead_code)]
pub struct OutboundConfigBody {
    termination_uri: Option<String>,
    username: Option<String>,
    password: Option<String>,
    media_encryption: Option<MediaEncryptionSchema>,
}

/// `POST /v1/phone/import` (`sip_config` is the older name of `outbound_config`).
#[derive(utoipa::ToSchema)]
#[schema(as = DigaImport)]
#[allow(dead_code)]
pub struct ImportBody {
    /// E.164.
    phone_number: String,
    nickname: Option<String>,
    inbound_config: Option<InboundConfigBody>,
    outbound_config: Option<OutboundConfigBody>,
    sip_config: Option<OutboundConfigBody>,
}

/// `PATCH /v1/phone/{phone_id}/sip-config`: absent or null keeps a setting, `""` clears a text.
#[derive(utoipa::ToSchema)]
#[schema(as = DigaSipConfigUpdate)]
#[allow(dead_code)]
pub struct SipConfigUpdateBody {
    inbound_config: Option<InboundConfigBody>,
    outbound_config: Option<OutboundConfigBody>,
}
