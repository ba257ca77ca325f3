//! Deployment choices that shape a release.

use chrono::Duration;

use crate::money::Decimal;

/// How a release proceeds. The default is the seed's: immediate, free, straight back to inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasePolicy {
    /// A cancellable window before the release takes effect (Vobiz G3: 24 h). Zero: none.
    pub window: Duration,
    /// How long a released number ages before it is purchasable again. Zero: none.
    pub quarantine: Duration,
    /// Charged when a release is requested, refunded if it is cancelled.
    pub fee: Decimal,
}

impl Default for ReleasePolicy {
    fn default() -> Self {
        Self {
            window: Duration::zero(),
            quarantine: Duration::zero(),
            fee: Decimal::ZERO,
        }
    }
}

/// The 15-day cool-off after a DID's last call before it can leave a sub-account.
pub const COOL_OFF: Duration = Duration::days(15);
