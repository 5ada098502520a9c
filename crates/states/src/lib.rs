//! Local Step Functions: runs the project's real ASL files unchanged, with no AWS account.
//!
//! This crate owns the ASL model and its validation (`asl`), the JSONPath subset (`path`),
//! payload templates (`payload`), intrinsic functions (`intrinsics`), Choice rules (`choice`),
//! and (in later modules) the interpreter, AWS-named history events and the static history
//! budget. Anything outside the supported scope is rejected when a definition is loaded, with
//! the state and the field named; nothing is ignored silently.

pub mod asl;
pub mod budget;
pub mod engine;
pub mod error;
pub mod history;
pub mod mock;
pub mod query;
pub mod resolve;
pub mod rng;

/// The engine under its former name, so `graphetl_states::exec::…` paths keep working.
pub use engine as exec;

#[cfg(test)]
mod conformance;
