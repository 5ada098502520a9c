//! The query engine port, resolved queries, typed results, and running a dataset's queries.
//!
//! An engine (Athena, or the local embedded engine) receives a [`QuerySpecResolved`] whose SQL is
//! final text and returns a [`QueryResult`]: the column names in select order and one
//! [`Row`] per result row, typed as [`ResultValue`]s so the rows feed
//! `graphetl_graph::model::graph_from_rows` without another conversion.
//! [`aggregate`] reads and renders every query of a spec before it runs the first one, so a
//! missing file or a bad placeholder never leaves a half-run window behind.

use std::future::Future;
use std::path::{Path, PathBuf};

pub use graphetl_core::contract::{ResultValue, Row};
use graphetl_core::errors::ErrorName;
use graphetl_core::spec::DatasetSpec;

use crate::sql::{RenderError, render_sql};

/// The values substituted into a dataset's SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParams {
    /// The curated table (`{table}`), a plain identifier, optionally dotted.
    pub table: String,
    /// The window's first day, `YYYY-MM-DD` (`{dt_from}`), inclusive.
    pub dt_from: String,
    /// The window's last day, `YYYY-MM-DD` (`{dt_to}`), inclusive.
    pub dt_to: String,
    /// The pipeline run (`{run_id}`).
    pub run_id: String,
}

/// A query ready for an engine: its name from the spec, the final SQL text, and the values it was
/// rendered with (an engine may need the table name to register it, or the run id for an
/// idempotency token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySpecResolved {
    /// The query's name (`[[aggregate.queries]] name`), referenced by the graph mapping.
    pub name: String,
    /// The SQL text with every placeholder substituted.
    pub sql: String,
    /// The values substituted.
    pub params: QueryParams,
}

impl QuerySpecResolved {
    /// Renders `template` with `params` (see [`render_sql`]).
    pub fn resolve(
        name: &str,
        template: &str,
        params: &QueryParams,
    ) -> Result<QuerySpecResolved, RenderError> {
        let sql =
            render_sql(template, &params.table, &params.dt_from, &params.dt_to, &params.run_id)?;
        Ok(QuerySpecResolved { name: name.to_owned(), sql, params: params.clone() })
    }
}

/// A query's result: column names in select order, and the rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    /// Column names in the order of the select list.
    pub columns: Vec<String>,
    /// One map per row; every row has every column (SQL NULL is [`ResultValue::Null`]).
    pub rows: Vec<Row>,
}

/// Why an engine could not run a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The engine rejected the SQL (syntax, unknown column, table or function): fix the SQL.
    #[error("query {query}: invalid SQL: {message}")]
    Invalid {
        /// Query name.
        query: String,
        /// The engine's message.
        message: String,
    },
    /// The query failed and retrying will not help (bad data, permissions, resources).
    #[error("query {query} failed: {message}")]
    Failed {
        /// Query name.
        query: String,
        /// The engine's message.
        message: String,
    },
    /// The engine refused to start or poll the query for now (concurrency limit, throttling).
    #[error("query {query} throttled: {message}")]
    Throttled {
        /// Query name.
        query: String,
        /// The engine's message.
        message: String,
    },
    /// The query failed in a way a retry may fix (engine marked it retryable, deadline near).
    #[error("query {query} failed transiently: {message}")]
    Transient {
        /// Query name.
        query: String,
        /// The engine's message.
        message: String,
    },
}

impl QueryError {
    /// The stable error name the state machine's `Retry`/`Catch` match.
    pub fn error_name(&self) -> ErrorName {
        match self {
            QueryError::Invalid { .. } => ErrorName::BadSpec,
            QueryError::Failed { .. } => ErrorName::Internal,
            QueryError::Throttled { .. } => ErrorName::AthenaThrottled,
            QueryError::Transient { .. } => ErrorName::AthenaTransient,
        }
    }
}

/// Runs one resolved query. Implemented by the local embedded engine and the Athena adapter.
///
/// Not object safe (the future is an `impl Trait`); use it as a generic bound.
pub trait QueryEngine {
    /// Runs `query` to completion and returns all its rows.
    fn run(
        &self,
        query: &QuerySpecResolved,
    ) -> impl Future<Output = Result<QueryResult, QueryError>> + Send;
}

/// Why [`aggregate`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    /// A query's SQL file could not be read.
    #[error("query {query}: cannot read {}: {source}", path.display())]
    ReadSql {
        /// Query name.
        query: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A query's SQL could not be rendered.
    #[error("query {query} ({}): {source}", path.display())]
    Render {
        /// Query name.
        query: String,
        /// The file.
        path: PathBuf,
        /// What was wrong.
        source: RenderError,
    },
    /// The engine failed a query.
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl AggregateError {
    /// The stable error name the state machine's `Retry`/`Catch` match.
    pub fn error_name(&self) -> ErrorName {
        match self {
            AggregateError::ReadSql { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                ErrorName::BadSpec
            }
            AggregateError::ReadSql { .. } => ErrorName::Internal,
            AggregateError::Render { .. } => ErrorName::BadSpec,
            AggregateError::Query(e) => e.error_name(),
        }
    }
}

/// The table name a dataset's curated data is queried as: the dataset name with `-` → `_`
/// (`service-calls` → `service_calls`), since `-` is not allowed in a plain SQL identifier.
pub fn table_name(dataset: &str) -> String {
    dataset.replace('-', "_")
}

/// Reads and renders every query of `spec` (SQL paths are relative to `spec_dir`), then runs them
/// on `engine` in declaration order. Returns `(query name, result)` pairs in the same order.
///
/// All files are read and rendered before the first query starts.
pub async fn aggregate<E: QueryEngine>(
    engine: &E,
    spec: &DatasetSpec,
    spec_dir: &Path,
    params: &QueryParams,
) -> Result<Vec<(String, QueryResult)>, AggregateError> {
    let mut resolved = Vec::with_capacity(spec.queries.len());
    for q in &spec.queries {
        let path = spec_dir.join(&q.sql);
        let text = std::fs::read_to_string(&path).map_err(|source| AggregateError::ReadSql {
            query: q.name.clone(),
            path: path.clone(),
            source,
        })?;
        let query = QuerySpecResolved::resolve(&q.name, &text, params).map_err(|source| {
            AggregateError::Render { query: q.name.clone(), path: path.clone(), source }
        })?;
        resolved.push(query);
    }
    let mut results = Vec::with_capacity(resolved.len());
    for query in &resolved {
        let result = engine.run(query).await?;
        results.push((query.name.clone(), result));
    }
    Ok(results)
}
