//! Prometheus metrics: one process-wide recorder behind the `metrics` facade, so whatever any
//! crate records (the engine, the stores, the faces, the connection loop) is exported by
//! `GET /metrics` in the text exposition format. The README's "Metrics" table lists them.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::app::AppState;

/// Histogram buckets of every `…_seconds` metric: from a millisecond to a minute.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets of the SQLite writer's batch size (commands per commit; at most 256).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed as the `metrics` facade's global recorder on the first
/// call. If another recorder was installed first (an embedding program's), `/metrics` renders
/// only what reaches this one: nothing.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("didpool_sqlite_batch_size".into()),
                    BATCH_BUCKETS,
                )
            })
            .expect("the bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
        }
        describe();
        handle
    })
}

/// Keeps the recorder's histograms bounded between scrapes; runs until the runtime stops.
pub async fn upkeep(every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        handle().run_upkeep();
    }
}

/// `GET /metrics`: every metric in the Prometheus text format, the store's gauges read now.
pub async fn serve(State(state): State<AppState>) -> impl IntoResponse {
    state.engine.report_metrics();
    let handle = handle();
    handle.run_upkeep();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
}

/// The `HELP` text of didpool's own metrics (others' come with theirs, or none).
fn describe() {
    describe_counter!(
        "didpool_http_requests_total",
        "HTTP requests answered, by route template, method, status and kind (success, \
         client_error, refused: a documented 5xx that is a refusal, server_error)"
    );
    describe_histogram!(
        "didpool_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's head to its answer, by route template, method and status"
    );
    describe_gauge!("didpool_http_connections", "Client connections open now");
    describe_counter!(
        "didpool_http_connections_timed_out_total",
        "Connections closed for sending no request in time, by timeout (header, idle)"
    );
    describe_counter!(
        "didpool_commands_total",
        "Engine commands run, by command and outcome (ok, or the engine error)"
    );
    describe_histogram!(
        "didpool_command_duration_seconds",
        Unit::Seconds,
        "Time of one engine command, its transaction included, by command"
    );
    describe_gauge!(
        "didpool_sqlite_writer_queue_depth",
        "Commands waiting for the SQLite writer"
    );
    describe_histogram!(
        "didpool_sqlite_batch_size",
        "Commands in one SQLite group commit"
    );
    describe_histogram!(
        "didpool_sqlite_commit_duration_seconds",
        Unit::Seconds,
        "Time of one SQLite group commit, from BEGIN to a durable COMMIT, by outcome"
    );
    describe_gauge!(
        "didpool_pg_pool_connections",
        "PostgreSQL connections open in the pool"
    );
    describe_gauge!(
        "didpool_pg_pool_idle_connections",
        "PostgreSQL connections idle in the pool"
    );
    describe_gauge!(
        "didpool_pg_pool_max_connections",
        "The PostgreSQL pool's size (--pool-size)"
    );
    describe_counter!(
        "didpool_scheduler_runs_total",
        "Scheduler passes, by outcome (ok, error)"
    );
    describe_counter!(
        "didpool_scheduler_items_total",
        "Numbers the scheduler changed (releases, renewals, expiries, …)"
    );
    describe_gauge!(
        "didpool_scheduler_due_items",
        "Numbers the last scheduler pass changed"
    );
    describe_gauge!(
        "didpool_scheduler_lag_seconds",
        "How long the oldest item due at the start of the last pass had been waiting"
    );
    describe_histogram!(
        "didpool_scheduler_run_duration_seconds",
        Unit::Seconds,
        "Time of one scheduler pass"
    );
}
