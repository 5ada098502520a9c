//! The aggregate step: plan a run's queries, then run one query on any [`QueryEngine`] and write
//! its result as chunk files for the load Map.
//!
//! `plan` reads the dataset spec and turns the run's window, prefix or manifest into a range of
//! days (`{dt_from}`/`{dt_to}`); a run over a manifest of failed items, or a prefix with no
//! `dt=` folder, covers every day. `query` reads the query's SQL from `datasets/` in the bucket,
//! renders it, runs it (Athena in the Lambda, DataFusion locally) and writes the rows as
//! typed-header CSV chunks under `aggregates/<dataset>/<query>/dt_from=…/dt_to=…/`: running the
//! same days again overwrites those keys and deletes chunks the new result no longer has, so a
//! re-run replaces the aggregate and never adds to it.

use std::num::NonZeroUsize;

use chrono::{Duration, NaiveDate};
use graphetl_athena::chunks::{chunk_file_name, render_csv_chunks};
use graphetl_athena::engine::{QueryEngine, QueryParams, QuerySpecResolved, table_name};
use graphetl_core::contract::{
    AggregateOutput, AggregatePlan, AggregatePlanRequest, AggregateQueryRequest, ChunkRef,
    PlannedQuery, Window,
};
use graphetl_core::errors::StepError;
use graphetl_core::{DatasetSpec, ErrorName, layout};
use graphetl_storage::ObjectStore;
use serde_json::Value;

use super::{load_spec, store_error};

/// The first and last day a run over "every day" covers.
pub const ALL_DAYS: (&str, &str) = ("0001-01-01", "9999-12-31");

/// Rows per result chunk unless configured: a chunk is one load invocation.
pub const DEFAULT_ROWS_PER_CHUNK: usize = 5_000;

/// The aggregate handler: a store for specs, SQL and chunks, and the chunk size.
pub struct AggregateHandler<S> {
    store: S,
    rows_per_chunk: NonZeroUsize,
}

impl<S: ObjectStore> AggregateHandler<S> {
    /// A handler over `store` writing chunks of at most `rows_per_chunk` rows.
    pub fn new(store: S, rows_per_chunk: NonZeroUsize) -> AggregateHandler<S> {
        AggregateHandler { store, rows_per_chunk }
    }

    /// PlanAggregates: every query of the spec over the run's days.
    pub async fn plan(&self, request: AggregatePlanRequest) -> Result<AggregatePlan, StepError> {
        let dataset = request.run.get("dataset").and_then(Value::as_str).ok_or_else(|| {
            StepError::new(ErrorName::BadEvent, "the run has no \"dataset\" string")
        })?;
        let spec = load_spec(&self.store, &request.bucket, dataset).await?;
        let (dt_from, dt_to) = days_of_run(&request.run)?;
        let queries = spec
            .queries
            .iter()
            .map(|q| PlannedQuery {
                name: q.name.clone(),
                dt_from: dt_from.clone(),
                dt_to: dt_to.clone(),
            })
            .collect();
        tracing::info!(run_id = %request.run_id, dataset, %dt_from, %dt_to, "planned aggregates");
        Ok(AggregatePlan { queries })
    }

    /// One Aggregate Map item: runs the query on `engine` and writes its chunks.
    pub async fn query<E: QueryEngine>(
        &self,
        request: AggregateQueryRequest,
        engine: &E,
    ) -> Result<AggregateOutput, StepError> {
        let spec = load_spec(&self.store, &request.bucket, &request.dataset).await?;
        self.query_with_spec(request, &spec, engine).await
    }

    /// [`AggregateHandler::query`] with the dataset's spec already read (the local runner reads
    /// it once to build its engine).
    pub async fn query_with_spec<E: QueryEngine>(
        &self,
        request: AggregateQueryRequest,
        spec: &DatasetSpec,
        engine: &E,
    ) -> Result<AggregateOutput, StepError> {
        let bucket = &request.bucket;
        let planned = &request.query;
        for day in [&planned.dt_from, &planned.dt_to] {
            if NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err() {
                return Err(StepError::new(
                    ErrorName::BadEvent,
                    format!("\"{day}\" is not a day (YYYY-MM-DD)"),
                ));
            }
        }
        let query_spec = spec.queries.iter().find(|q| q.name == planned.name).ok_or_else(|| {
            StepError::new(
                ErrorName::BadEvent,
                format!("dataset {} has no query named \"{}\"", request.dataset, planned.name),
            )
        })?;
        let sql_key = layout::sql_key(&query_spec.sql);
        let sql = self.store.get_bytes(bucket, &sql_key).await.map_err(|e| {
            let mut error = store_error(&e);
            if error.name == ErrorName::NotFound {
                error = StepError::new(
                    ErrorName::BadSpec,
                    format!("query {}: no SQL file at s3://{bucket}/{sql_key}", planned.name),
                );
            }
            error
        })?;
        let sql = String::from_utf8(sql).map_err(|_| {
            StepError::new(ErrorName::BadSpec, format!("s3://{bucket}/{sql_key} is not UTF-8"))
        })?;
        let params = QueryParams {
            table: table_name(&request.dataset),
            dt_from: planned.dt_from.clone(),
            dt_to: planned.dt_to.clone(),
            run_id: request.run_id.clone(),
        };
        let resolved = QuerySpecResolved::resolve(&planned.name, &sql, &params).map_err(|e| {
            StepError::new(ErrorName::BadSpec, format!("s3://{bucket}/{sql_key}: {e}"))
        })?;
        let result = engine
            .run(&resolved)
            .await
            .map_err(|e| StepError::new(e.error_name(), e.to_string()))?;
        let chunks = render_csv_chunks(&result, self.rows_per_chunk).map_err(|e| {
            StepError::new(ErrorName::BadSpec, format!("query {}: {e}", planned.name))
        })?;

        let prefix = layout::aggregate_prefix(
            &request.dataset,
            &planned.name,
            &planned.dt_from,
            &planned.dt_to,
        );
        let mut written = Vec::with_capacity(chunks.len());
        for (index, text) in chunks.into_iter().enumerate() {
            let key = format!("{prefix}{}", chunk_file_name("chunk", index));
            self.store
                .put_bytes(bucket, &key, text.into_bytes(), Some("text/csv"))
                .await
                .map_err(|e| store_error(&e))?;
            written.push(ChunkRef { key, query: planned.name.clone() });
        }
        let mut replaced = 0;
        let existing = self.store.list(bucket, &prefix).await.map_err(|e| store_error(&e))?;
        for object in existing {
            if !written.iter().any(|c| c.key == object.key) {
                replaced += self
                    .store
                    .delete_prefix(bucket, &object.key)
                    .await
                    .map_err(|e| store_error(&e))?;
            }
        }
        let output = AggregateOutput {
            query: planned.name.clone(),
            dt_from: planned.dt_from.clone(),
            dt_to: planned.dt_to.clone(),
            rows: result.rows.len() as u64,
            chunks: written,
            replaced,
        };
        tracing::info!(
            run_id = %request.run_id,
            query = %output.query,
            rows = output.rows,
            chunks = output.chunks.len(),
            replaced,
            "aggregated"
        );
        Ok(output)
    }
}

/// The days a run covers, from its `window`, `prefix` or (otherwise) every day.
pub fn days_of_run(run: &Value) -> Result<(String, String), StepError> {
    let bad = |message: String| StepError::new(ErrorName::BadEvent, message);
    if let Some(window) = run.get("window").filter(|w| !w.is_null()) {
        let window: Window = serde_json::from_value(window.clone())
            .map_err(|e| bad(format!("the run's window: {e}")))?;
        let last = window.end() - Duration::microseconds(1);
        return Ok((
            window.start().format("%Y-%m-%d").to_string(),
            last.format("%Y-%m-%d").to_string(),
        ));
    }
    if let Some(prefix) = run.get("prefix").and_then(Value::as_str) {
        let day = prefix.split('/').find_map(|part| part.strip_prefix("dt="));
        if let Some(day) = day {
            if NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err() {
                return Err(bad(format!("prefix {prefix}: \"dt={day}\" is not a day")));
            }
            return Ok((day.to_owned(), day.to_owned()));
        }
    }
    Ok((ALL_DAYS.0.to_owned(), ALL_DAYS.1.to_owned()))
}
