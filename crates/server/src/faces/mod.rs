//! The API faces. Each is a thin translation: parse the provider's request into an engine
//! command, run it, render the result or the engine's error in the provider's wire format.

pub mod admin;
pub mod agni;
pub mod diga;
pub mod vobiz;
