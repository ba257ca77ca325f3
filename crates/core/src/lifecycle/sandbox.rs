//! The sandbox clock (`serve --sandbox`): where it may move, and its time kept in the store so a
//! restarted sandbox resumes from it.

use chrono::{DateTime, Duration, SubsecRound, Utc};

use crate::clock::check_time;
use crate::error::EngineError;
use crate::setting::{Setting, SettingKey};

use super::{require_operator, Changes, Context, Needs, Snapshot};

/// Where the sandbox clock goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMove {
    /// To this time.
    To(DateTime<Utc>),
    /// Forward by this much (not negative).
    Advance(Duration),
}

pub(super) fn set_clock_needs() -> Needs {
    Needs {
        settings: vec![SettingKey::SandboxClock],
        ..Needs::default()
    }
}

/// The clock's new time, stored. It never moves backwards (a sandbox whose clock ran back could
/// undo what it billed): not before the engine's clock, nor before the time last stored (another
/// node may have moved it); and never out of what the store holds ([`check_time`]).
pub(super) fn set_clock(
    ctx: &Context,
    snap: &Snapshot,
    to: ClockMove,
) -> Result<Changes, EngineError> {
    require_operator(ctx)?;
    let stored = snap
        .setting(SettingKey::SandboxClock)
        .and_then(|s| match s {
            Setting::SandboxClock(t) => Some(*t),
            _ => None,
        });
    let current = stored.map_or(ctx.now, |t| t.max(ctx.now));
    let target = match to {
        ClockMove::To(t) => t,
        ClockMove::Advance(by) if by < Duration::zero() => {
            return Err(EngineError::invalid("the sandbox clock only moves forward"))
        }
        ClockMove::Advance(by) => current
            .checked_add_signed(by)
            .ok_or_else(|| EngineError::invalid(crate::clock::out_of_range("the clock")))?,
    };
    // Stored to the microsecond, as every time.
    let target = check_time("the clock", target.trunc_subsecs(6))?;
    if target < current {
        return Err(EngineError::invalid("the sandbox clock only moves forward"));
    }
    Ok(Changes {
        settings: vec![Setting::SandboxClock(target)],
        ..Changes::default()
    })
}
