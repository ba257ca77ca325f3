//! didpool's engine: every rule of a phone number's life, with no HTTP and no SQL.
//!
//! A command ([`lifecycle::Command`]) names the rows it needs ([`lifecycle::Needs`]); a [`Store`]
//! loads them locked inside one transaction, asks the command to [`decide`](lifecycle::Command::decide)
//! what changes, writes those [`Changes`](lifecycle::Changes) and commits. The rules therefore live
//! here once, and each store only knows how to load and write rows.

pub mod account;
pub mod audit;
pub mod auth_cache;
pub mod call;
pub mod clock;
pub mod console;
pub mod credential;
pub mod due_cache;
pub mod e164;
pub mod engine;
pub mod error;
pub mod idempotency;
pub mod ids;
pub mod job;
pub mod ledger;
pub mod lifecycle;
pub mod money;
pub mod number;
pub mod policy;
pub mod queries;
pub mod route;
pub mod setting;
pub mod store;
pub mod trunk;
pub mod webhook;

pub use account::{Account, AccountProfile, Role};
pub use clock::{Clock, ManualClock, SystemClock};
pub use e164::{InvalidNumber, NumberValidation, E164};
pub use engine::Engine;
pub use error::EngineError;
pub use ids::{AccountId, AccountKind, NumberId, TrunkId};
pub use money::Currency;
pub use number::{Capabilities, Number, NumberRef, NumberState, Origin};
pub use policy::ReleasePolicy;
pub use queries::Sight;
pub use store::Store;
pub use trunk::Trunk;
