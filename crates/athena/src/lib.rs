//! Aggregation: running a dataset's SQL over its curated Parquet and handing rows to the load step.
//!
//! - `sql`: [`sql::render_sql`], the one place the `{table}`, `{dt_from}`, `{dt_to}` and
//!   `{run_id}` placeholders of the dataset's SQL files are substituted (validated values only,
//!   unknown placeholders rejected).
//! - `engine`: the [`engine::QueryEngine`] port, the resolved query and its typed result rows
//!   ([`graphetl_core::contract::Row`], so they feed the graph builder directly), and
//!   [`engine::aggregate`], which runs every query of a dataset spec on any engine.
//! - `chunks`: result rows → CSV chunk files of N rows with a typed header, and back, for the
//!   load Map.
//! - `local` (feature `local`): [`local::LocalEngine`], DataFusion over the curated Parquet on
//!   this machine running the same SQL text, with Trino-named functions registered by
//!   `aliases` where the two dialects differ.
//! - `athena` (feature `aws`): [`athena::AthenaEngine`], the engine on Amazon Athena: idempotent
//!   starts (a token per run and query), throttling and polling with capped exponential backoff
//!   and full jitter, failures classified from Athena's `AthenaError`, a stop near the Lambda
//!   deadline, and the result CSV read from S3 through `graphetl_storage::ObjectStore`.
//!   Without the feature the crate does not build the AWS SDK.

#[cfg(feature = "local")]
mod aliases;
#[cfg(feature = "aws")]
pub mod athena;
pub mod chunks;
pub mod engine;
#[cfg(feature = "local")]
pub mod local;
pub mod sql;

pub use chunks::{ChunkError, parse_csv_chunk, render_csv_chunks, write_csv_chunks};
pub use engine::{
    AggregateError, QueryEngine, QueryError, QueryParams, QueryResult, QuerySpecResolved,
    aggregate, table_name,
};
pub use sql::{RenderError, render_sql};

#[cfg(all(test, feature = "local"))]
mod local_tests;
#[cfg(test)]
mod tests;
