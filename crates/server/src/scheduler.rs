//! The scheduler loop: runs the engine's due work every interval until told to stop. Several
//! nodes may run it on one database; the engine does each item exactly once.

use std::time::Duration;

use didpool_core::Engine;
use tokio::sync::watch;

/// Each pass also deletes the idempotency keys older than `key_retention`.
pub async fn run(
    engine: Engine,
    every: Duration,
    key_retention: chrono::Duration,
    mut stop: watch::Receiver<bool>,
) {
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
        match engine.prune_keys(key_retention).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "scheduler deleted expired idempotency keys"),
            Err(e) => {
                tracing::error!(error = %e, "pruning idempotency keys failed; retrying next tick")
            }
        }
    }
}
