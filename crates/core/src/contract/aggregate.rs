//! The `aggregate` Lambda's events and responses (plan a run's queries, then run each one), and
//! the typed rows a query returns, which the load step turns into a graph.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The event of the `aggregate` Lambda: the `action` field picks the step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum AggregateEvent {
    /// PlanAggregates: which queries to run, over which days.
    Plan(AggregatePlanRequest),
    /// One item of the Aggregate Map: run one query and write its result chunks.
    Query(AggregateQueryRequest),
}

/// The PlanAggregates event: the whole pipeline state, to find the dataset and the days the run
/// covers (its window, prefix or manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatePlanRequest {
    /// The pipeline's state at this point (`dataset`, and `window`, `prefix` or
    /// `items_manifest`).
    pub run: serde_json::Value,
    /// Bucket holding the dataset spec, the curated data and the result chunks.
    pub bucket: String,
    /// The run (execution name).
    pub run_id: String,
}

/// The PlanAggregates response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregatePlan {
    /// The queries to run, in the spec's order.
    pub queries: Vec<PlannedQuery>,
}

/// One query over a range of days: an item of the Aggregate Map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedQuery {
    /// The query's name (`[[aggregate.queries]] name`).
    pub name: String,
    /// First day, `YYYY-MM-DD`, inclusive (`{dt_from}`).
    pub dt_from: String,
    /// Last day, `YYYY-MM-DD`, inclusive (`{dt_to}`).
    pub dt_to: String,
}

/// An Aggregate Map item: run one planned query of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateQueryRequest {
    /// The query and its days.
    pub query: PlannedQuery,
    /// Dataset name; its spec and SQL are read from `datasets/` in the bucket.
    pub dataset: String,
    /// Bucket holding the spec, the curated data and the result chunks.
    pub bucket: String,
    /// The run (execution name): logs, and Athena's idempotency token.
    pub run_id: String,
}

/// One result chunk for the load Map (`$.aggregates[*].chunks[*]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkRef {
    /// Key of the chunk (typed-header CSV).
    pub key: String,
    /// The query (result name) the chunk belongs to.
    pub query: String,
}

/// What one query produced: the response of the `aggregate` Lambda for a `query` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateOutput {
    /// The query's name.
    pub query: String,
    /// First day covered.
    pub dt_from: String,
    /// Last day covered.
    pub dt_to: String,
    /// Result rows.
    pub rows: u64,
    /// The chunk files holding the rows, in order (none for an empty result).
    pub chunks: Vec<ChunkRef>,
    /// Stale chunks of an earlier run of the same days that were deleted.
    pub replaced: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_told_apart_by_action() -> Result<(), serde_json::Error> {
        let plan: AggregateEvent = serde_json::from_str(
            r#"{"action":"plan","run":{"dataset":"d","prefix":"raw/d/"},"bucket":"b","run_id":"r"}"#,
        )?;
        assert!(matches!(plan, AggregateEvent::Plan(ref p) if p.run["dataset"] == "d"));
        let fixture = include_str!("../../fixtures/aggregate-query.json");
        let query: AggregateEvent = serde_json::from_str(fixture)?;
        let AggregateEvent::Query(ref q) = query else { panic!("not a query: {query:?}") };
        assert_eq!((q.query.name.as_str(), q.query.dt_from.as_str()), ("edges", "2026-11-20"));
        let back = serde_json::to_value(&query)?;
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        Ok(())
    }

    #[test]
    fn unknown_actions_and_fields_are_rejected() {
        let unknown_action = r#"{"action":"explode","bucket":"b","run_id":"r"}"#;
        assert!(serde_json::from_str::<AggregateEvent>(unknown_action).is_err());
        let extra = r#"{"action":"query","query":{"name":"q","dt_from":"a","dt_to":"b"},"dataset":"d","bucket":"b","run_id":"r","x":1}"#;
        assert!(serde_json::from_str::<AggregateEvent>(extra).is_err());
        let no_action = r#"{"query":{"name":"q","dt_from":"a","dt_to":"b"},"dataset":"d","bucket":"b","run_id":"r"}"#;
        assert!(serde_json::from_str::<AggregateEvent>(no_action).is_err());
    }

    #[test]
    fn output_fixture_round_trips() -> Result<(), serde_json::Error> {
        let fixture = include_str!("../../fixtures/aggregate-output.json");
        let out: AggregateOutput = serde_json::from_str(fixture)?;
        assert_eq!(out.chunks.len(), 2);
        assert!(out.chunks.iter().all(|c| c.query == out.query));
        assert_eq!(
            serde_json::to_value(&out)?,
            serde_json::from_str::<serde_json::Value>(fixture)?
        );
        Ok(())
    }
}

/// One cell of a query result row, typed as the query engine returned it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ResultValue {
    /// SQL NULL.
    Null,
    /// Text.
    String(String),
    /// A 64-bit integer (counts, sums).
    Int(i64),
    /// A 64-bit float (rates, percentiles); may be NaN or infinite.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A timestamp as ISO-8601 text (`2025-06-01T00:00:00Z`, or Athena's `2025-06-01 00:00:00.000`).
    Timestamp(String),
}

/// One result row: column name → value.
pub type Row = BTreeMap<String, ResultValue>;
