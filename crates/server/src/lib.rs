//! didpool's HTTP server: one router per API face over the one engine, the operator's admin
//! API, and the `didpool` command line.

pub mod app;
pub mod cli;
mod cli_jobs;
pub mod conn;
pub mod console;
pub mod demo;
pub mod faces;
pub mod http;
pub mod idempotency;
pub mod inventory;
pub mod jobs;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod scheduler;
pub mod webhooks;

pub use app::{app, router, serve, App, AppState};
