//! The scheduler loop: runs the engine's due work every interval until told to stop, and deletes
//! the call records older than the retention. Several nodes may run it on one database; the
//! engine does each item exactly once.

use std::time::Duration;

use didpool_core::Engine;
use tokio::sync::watch;

pub async fn run(
    engine: Engine,
    every: Duration,
    call_retention: chrono::Duration,
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
        if let Err(e) = engine.prune_calls(call_retention).await {
            tracing::error!(error = %e, "pruning call records failed; retrying next tick");
        }
    }
}
