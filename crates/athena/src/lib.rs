// NOTE FROM THE LEAD: before building anything, read /work/wt-athena-aws/NOTE-FROM-LEAD.md (build rules, time box, commits). Delete this line when you commit.
//! Aggregation: running a dataset's SQL over its curated Parquet and handing rows to the load step.
//!
//! - `sql`: [`sql::render_sql`], the one place the `{table}`, `{dt_from}`, `{dt_to}` and
//!   `{run_id}` placeholders of the dataset's SQL files are substituted (validated values only,
//!   unknown placeholders rejected).
//! - `engine`: the [`engine::QueryEngine`] port, the resolved query and its typed result rows
//!   ([`graphetl_neptune::model::Row`], so they feed the graph builder directly), and
//!   [`engine::aggregate`], which runs every query of a dataset spec on any engine.
//! - `chunks`: result rows → CSV chunk files of N rows with a typed header, and back, for the
//!   load Map.
//! - `athena` (feature `aws`): [`athena::AthenaEngine`], the engine on Amazon Athena: idempotent
//!   starts (a token per run and query), throttling and polling with capped exponential backoff
//!   and full jitter, failures classified from Athena's `AthenaError`, a stop near the Lambda
//!   deadline, and the result CSV streamed from S3 through `graphetl_storage::ObjectStore`.
//!   Without the feature the crate does not build the AWS SDK.
//!
//! Not here yet (issue 5): the local DataFusion engine.

#[cfg(feature = "aws")]
pub mod athena;
pub mod chunks;
pub mod engine;
pub mod sql;

pub use chunks::{ChunkError, parse_csv_chunk, render_csv_chunks, write_csv_chunks};
pub use engine::{
    AggregateError, QueryEngine, QueryError, QueryParams, QueryResult, QuerySpecResolved,
    aggregate, table_name,
};
pub use sql::{RenderError, render_sql};

#[cfg(test)]
mod tests;
