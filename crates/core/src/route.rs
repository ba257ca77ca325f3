//! Where a call to a number goes now: the answer a SIP edge asks for on every INVITE.

use crate::ids::TrunkId;
use crate::number::{Number, NumberState};
use crate::trunk::{Direction, Transport, TrunkSettings};

/// A routable number and where its inbound calls go: its trunk (when one takes inbound calls)
/// and its bound agents. A number routes nowhere unless it is held (`active`, or
/// `pending_release` until the release takes effect) and has an inbound trunk or an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The number, as it stands at the engine's clock.
    pub number: Number,
    /// Its trunk, when the trunk is enabled and takes inbound calls (`inbound` or `both`).
    pub trunk: Option<(TrunkId, TrunkSettings)>,
}

impl Route {
    /// The route of `number` on its trunk's settings (`trunk`: those of `number.trunk_id`), or
    /// `None` when calls to it go nowhere (seed 002: a number off its trunk stops routing at
    /// once; seed 000: a released one too).
    pub fn of(number: Number, trunk: Option<TrunkSettings>) -> Option<Route> {
        if !matches!(
            number.state,
            NumberState::Active | NumberState::PendingRelease
        ) {
            return None;
        }
        let trunk = number
            .trunk_id
            .zip(trunk)
            .filter(|(_, s)| s.enabled && s.direction != Direction::Outbound);
        let agent = number.inbound_agent_id.is_some() || number.outbound_agent_id.is_some();
        if trunk.is_none() && !agent {
            return None;
        }
        Some(Route { number, trunk })
    }

    /// The SIP URI an edge relays an inbound call to: the trunk's `inbound_destination` when it
    /// is a `sip:`/`sips:` URI, else the number at that host (`host[:port]`) over the trunk's
    /// transport. `None` when the trunk names no destination (or there is no trunk).
    pub fn destination(&self) -> Option<String> {
        let (_, settings) = self.trunk.as_ref()?;
        let dest = settings.inbound_destination.as_deref()?.trim();
        if dest.is_empty() {
            return None;
        }
        let lower = dest.to_ascii_lowercase();
        if lower.starts_with("sip:") || lower.starts_with("sips:") {
            return Some(dest.to_owned());
        }
        let transport = match settings.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        };
        Some(format!(
            "sip:{}@{dest};transport={transport}",
            self.number.e164
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Decimal};
    use crate::number::{Capabilities, NewNumber};
    use crate::E164;
    use chrono::Utc;

    fn held() -> Number {
        let new = NewNumber {
            e164: E164::parse("+918041100000").unwrap(),
            country: "IN".into(),
            region: None,
            capabilities: Capabilities::VOICE,
            provider: String::new(),
            setup_fee: Decimal::ZERO,
            monthly_fee: Decimal::ZERO,
            currency: Currency::parse("INR").unwrap(),
        };
        let mut n = Number::new_stock(new, Utc::now());
        n.state = NumberState::Active;
        n
    }

    fn trunk(dest: Option<&str>) -> TrunkSettings {
        TrunkSettings {
            inbound_destination: dest.map(str::to_owned),
            ..TrunkSettings::default()
        }
    }

    #[test]
    fn a_held_number_on_a_trunk_routes_to_its_destination() {
        let mut n = held();
        n.trunk_id = Some(TrunkId::new());
        let r = Route::of(n.clone(), Some(trunk(Some("127.0.0.1:5080")))).unwrap();
        assert_eq!(
            r.destination().as_deref(),
            Some("sip:+918041100000@127.0.0.1:5080;transport=udp")
        );
        let r = Route::of(n, Some(trunk(Some("sips:pbx.example.com")))).unwrap();
        assert_eq!(r.destination().as_deref(), Some("sips:pbx.example.com"));
    }

    #[test]
    fn a_number_routes_nowhere_without_a_holder_a_trunk_or_an_agent() {
        let mut n = held();
        assert_eq!(Route::of(n.clone(), None), None, "no trunk, no agent");
        n.inbound_agent_id = Some("agent_1".into());
        let r = Route::of(n.clone(), None).unwrap();
        assert_eq!((r.destination(), r.trunk), (None, None));
        for state in [
            NumberState::Available,
            NumberState::Quarantined,
            NumberState::Reserved,
        ] {
            n.state = state;
            assert_eq!(Route::of(n.clone(), None), None, "{state:?}");
        }
    }

    #[test]
    fn a_disabled_or_outbound_only_trunk_takes_no_inbound_call() {
        let mut n = held();
        n.trunk_id = Some(TrunkId::new());
        let mut off = trunk(Some("127.0.0.1"));
        off.enabled = false;
        assert_eq!(Route::of(n.clone(), Some(off)), None);
        let mut outbound = trunk(Some("127.0.0.1"));
        outbound.direction = Direction::Outbound;
        assert_eq!(Route::of(n, Some(outbound)), None);
    }
}
