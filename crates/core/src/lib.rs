//! The domain of graphetl: what a dataset is and what every step promises.
//!
//! This crate owns the dataset spec (parse and validate the TOML users write), the column
//! conversions (exact, every failure with a reason), the S3 key layout, the JSON contracts that
//! flow between states of the state machine, the stable error names that the ASL's
//! `Retry`/`Catch` match, and the one backoff formula every client retries with.
//!
//! Architecture invariant: no AWS, no async runtime, no I/O. Functions here are handed text and
//! values; they never read files or environment variables themselves.

pub mod backoff;
pub mod contract;
pub mod convert;
pub mod errors;
pub mod layout;
pub mod spec;

pub use errors::ErrorName;
pub use spec::{ColumnType, DatasetSpec, SpecError};

#[cfg(test)]
mod tests;
