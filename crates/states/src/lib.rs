//! Local Step Functions: runs the project's real ASL files unchanged, with no AWS account.
//!
//! The crate by concern:
//! - [`asl`]: the definition model, its loader and validation. Anything outside the supported
//!   scope is rejected when a definition is loaded, with the state and the field named; nothing
//!   is ignored silently.
//! - [`jsonpath`] and [`jsonata`]: the two query languages as languages (JSONPath paths, payload
//!   templates, intrinsic functions, Choice rules; JSONata `{% … %}` expressions and templates
//!   on `jsonata-core`), parsed once at load time and held by the `asl` model.
//! - [`query`]: the query-language seam. Every state's input and output processing goes through
//!   [`query::QueryLanguage`], implemented by [`query::jsonpath`] and [`query::jsonata`] and
//!   picked per state; workflow variables live in its [`query::Frame`].
//! - [`engine`] (also reachable as `exec`): the interpreter and its public API (run or start an
//!   execution, describe it, its history, Map Runs and their failed items), one module per state
//!   kind and per Distributed Map part.
//! - [`history`]: AWS-named history events and the 25,000-event quota; [`error`]: the
//!   `States.*` error names.
//! - [`resolve`]: the ports a run calls (local functions, child machines, the `ItemStore`
//!   behind ItemReader/ResultWriter); [`mock`]: MockConfigFile responses; [`rng`]: seeded
//!   random numbers.
//! - [`budget`]: the static history budget of a definition, without running it.

pub mod asl;
pub mod budget;
pub mod engine;
pub mod error;
pub mod history;
pub mod jsonata;
pub mod jsonpath;
pub mod mock;
pub mod query;
pub mod resolve;
pub mod rng;

/// The engine under its former name, so `graphetl_states::exec::…` paths keep working.
pub use engine as exec;

#[cfg(test)]
mod conformance;
