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
//! - `local` (feature `local`): [`local::LocalEngine`], DataFusion over the curated Parquet on
//!   this machine running the same SQL text, with Trino-named functions registered by
//!   `aliases` where the two dialects differ.

#[cfg(feature = "local")]
mod aliases;
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
