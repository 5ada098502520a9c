//! Local Step Functions: runs the project's real ASL files unchanged, with no AWS account.
//!
//! The crate by concern:
//! - [`asl`]: the definition model, its loader and validation. Anything outside the supported
//!   scope (JSONata included, for now) is rejected when a definition is loaded, with the state
//!   and the field named; nothing is ignored silently.
//! - [`jsonpath`]: JSONPath as a language (paths, payload templates, intrinsic functions, Choice
//!   rules), parsed once at load time and held by the `asl` model.
//! - [`query`]: the query-language seam. Every state's input and output processing goes through
//!   [`query::QueryLanguage`]; [`query::jsonpath`] implements it with the `jsonpath` module, and
//!   JSONata goes beside both (the language in its own module, its seam implementation in
//!   `query/`).
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
