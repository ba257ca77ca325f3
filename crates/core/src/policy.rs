//! Deployment choices that shape a release.

use chrono::Duration;

use crate::money::Decimal;

/// How a release proceeds, and how long a verification may take. The default is the seed's:
/// immediate, free, straight back to inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasePolicy {
    /// A cancellable window before the release takes effect (Vobiz G3: 24 h). Zero: none.
    pub window: Duration,
    /// How long a released number ages before it is purchasable again. Zero: none.
    pub quarantine: Duration,
    /// Charged when a release of a purchased number is requested (on every face, as far as the
    /// balance covers it), refunded if it is cancelled. Imported numbers are never charged.
    pub fee: Decimal,
    /// How long a paid number waits in `pending_verification` for its company's verification
    /// before it is refunded and returned to inventory.
    pub verification_deadline: Duration,
}

impl Default for ReleasePolicy {
    fn default() -> Self {
        Self {
            window: Duration::zero(),
            quarantine: Duration::zero(),
            fee: Decimal::ZERO,
            verification_deadline: DEFAULT_VERIFICATION_DEADLINE,
        }
    }
}

impl ReleasePolicy {
    /// Refuses a duration that is negative or longer than [`MAX_POLICY_DURATION`], naming it:
    /// a time plus it must stay inside what the store holds (see [`crate::clock::MAX_TIME`]).
    pub fn check(&self) -> Result<(), String> {
        for (name, d) in [
            ("the release window", self.window),
            ("the quarantine", self.quarantine),
            ("the verification deadline", self.verification_deadline),
        ] {
            if d < Duration::zero() || d > MAX_POLICY_DURATION {
                return Err(format!("{name} is at most 100 years"));
            }
        }
        Ok(())
    }
}

/// The longest release window, quarantine or verification deadline: 100 years (36 500 days).
pub const MAX_POLICY_DURATION: Duration = Duration::days(36_500);

/// How long a paid number waits for its company's verification unless configured otherwise.
pub const DEFAULT_VERIFICATION_DEADLINE: Duration = Duration::hours(24);

/// The 15-day cool-off after a DID's last call before it can leave a sub-account.
pub const COOL_OFF: Duration = Duration::days(15);
