//! lambda-kit and the step handlers behind graphetl's Lambda functions.
//!
//! The handlers (`handlers::*`) are plain async functions over the storage port: the Lambda
//! binaries in `src/bin/` call them from `lambda_runtime`, and `graphetl run --local` calls the
//! same functions in process. `kit` owns what every Lambda binary repeats: tracing setup,
//! settings from the environment and the conversion of a [`StepError`] into a Lambda
//! `Diagnostic` whose `errorType` is the stable name the ASL matches.
//!
//! `bulk` adapts the storage port to the Neptune crate's CSV upload port for the bulk path.
//!
//! Only this crate and the CLI read configuration; the handlers receive plain structs.

pub mod bulk;
pub mod handlers;
pub mod kit;

pub use graphetl_core::errors::StepError;

#[cfg(test)]
mod tests;
