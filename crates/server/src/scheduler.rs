//! The background loops: the scheduler runs the engine's due work every interval until told to
//! stop (several nodes may run it on one database; the engine does each item exactly once; each
//! pass is measured: `didpool_scheduler_*`) and deletes what has outlived its retention
//! (idempotency keys, call records); the watch checks the store and tidies the rate limits.

use std::sync::Arc;
use std::time::Duration;

use didpool_core::Engine;
use tokio::sync::watch;

use crate::limits::RateLimits;

/// How often [`watch`] checks that the store can take writes.
const WATCH_EVERY: Duration = Duration::from_secs(1);
/// How often [`watch`] forgets rate-limit state of idle clients.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// Each pass also deletes the idempotency keys older than `key_retention` and the call records
/// older than `call_retention`.
pub async fn run(
    engine: Engine,
    every: Duration,
    key_retention: chrono::Duration,
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
        pass(&engine).await;
        match engine.prune_keys(key_retention).await {
            Ok(0) => {}
            Ok(pruned) => tracing::debug!(pruned, "scheduler deleted expired idempotency keys"),
            Err(e) => {
                tracing::error!(error = %e, "pruning idempotency keys failed; retrying next tick")
            }
        }
        if let Err(e) = engine.prune_calls(call_retention).await {
            tracing::error!(error = %e, "pruning call records failed; retrying next tick");
        }
    }
}

/// One pass, measured: the lag (how long the oldest due item has waited), what it did, and
/// how long it took.
async fn pass(engine: &Engine) {
    let started = std::time::Instant::now();
    match engine.oldest_due().await {
        Ok(oldest) => {
            let lag = oldest.map_or(0.0, |t| {
                (engine.now() - t).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics::gauge!("didpool_scheduler_lag_seconds").set(lag);
        }
        Err(e) => tracing::warn!(error = %e, "reading the scheduler's lag failed"),
    }
    let outcome = match engine.run_due().await {
        Ok(done) => {
            if done > 0 {
                tracing::info!(done, "scheduler ran due work");
            }
            metrics::counter!("didpool_scheduler_items_total").increment(done as u64);
            metrics::gauge!("didpool_scheduler_due_items").set(done as f64);
            "ok"
        }
        Err(e) => {
            tracing::error!(error = %e, "scheduler run failed; retrying next tick");
            "error"
        }
    };
    metrics::counter!("didpool_scheduler_runs_total", "outcome" => outcome).increment(1);
    metrics::histogram!("didpool_scheduler_run_duration_seconds")
        .record(started.elapsed().as_secs_f64());
}

/// Checks every [`WATCH_EVERY`] that the store can take writes (a SQLite file removed or
/// replaced, PostgreSQL gone), so the operator reads in the log when it stops and when it comes
/// back, not only from refused requests; and forgets idle clients' rate-limit state.
pub async fn watch(engine: Engine, limits: Arc<RateLimits>, mut stop: watch::Receiver<bool>) {
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
