//! The background loops: the scheduler runs the engine's due work every interval until told to
//! stop (several nodes may run it on one database; the engine does each item exactly once), and
//! the watch checks the store and tidies the rate limits.

use std::sync::Arc;
use std::time::Duration;

use didpool_core::Engine;
use tokio::sync::watch;

use crate::limits::Limits;

/// How often [`watch`] checks that the store can take writes.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// How often [`watch`] forgets rate-limit state of idle clients.
const FORGET_EVERY: Duration = Duration::from_secs(60);

pub async fn run(engine: Engine, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match engine.run_due().await {
            Ok(0) => {}
            Ok(done) => tracing::info!(done, "scheduler ran due work"),
            Err(e) => tracing::error!(error = %e, "scheduler run failed; retrying next tick"),
        }
    }
}

/// Checks every [`WATCH_EVERY`] that the store can take writes (a SQLite file removed or
/// replaced, PostgreSQL gone), so the operator reads in the log when it stops and when it comes
/// back, not only from refused requests; and forgets idle clients' rate-limit state.
pub async fn watch(engine: Engine, limits: Arc<Limits>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ready = true;
    let mut forgotten = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match engine.ready().await {
            Ok(()) if !ready => {
                ready = true;
                tracing::info!("the database takes writes again: ready");
            }
            Err(e) if ready => {
                ready = false;
                tracing::error!(error = %e, "the database cannot take writes: not ready");
            }
            _ => {}
        }
        if forgotten.elapsed() >= FORGET_EVERY {
            limits.forget_idle();
            forgotten = tokio::time::Instant::now();
        }
    }
}
