//! Result preparation: from aggregate query results (query name → rows) to the one batch a
//! load writes.
//!
//! [`prepare_results`] applies the spec's `[graph]` mapping to every named result
//! ([`graph_from_rows`]) and merges the elements into one batch, vertices of every result before
//! any edge, so an edge may join vertices another query produced. Elements that appear more than
//! once (the same id from two rows or two queries) are merged in input order
//! ([`merge_duplicates`]), exactly as sequential upserts would apply them: the first
//! occurrence's label (and endpoints) and, per property, the last value. Without that, two
//! parallel requests could write one id and the last to commit would win by chance. Nothing is
//! written here; `graphetl_neptune::load` sends the batch to a sink or the bulk loader.

use std::collections::BTreeMap;

use graphetl_core::{DatasetSpec, ErrorName};

use crate::model::{
    Edge, GraphBatch, ModelStats, PropertyValue, RejectedRow, Row, Vertex, graph_from_rows,
};

/// What [`prepare_results`] counted while building the batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    /// Results given.
    pub results: usize,
    /// Model counts summed over the results.
    pub model: ModelStats,
    /// Rows a mapping rejected, with the result they came from.
    pub rejected: Vec<(String, RejectedRow)>,
    /// Elements merged into an earlier element with the same id.
    pub duplicates_merged: usize,
}

/// A result name that is not one of the spec's queries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("result \"{name}\" is not a query of dataset {dataset} (its queries: {known})")]
pub struct UnknownQuery {
    /// The name given.
    pub name: String,
    /// The dataset.
    pub dataset: String,
    /// The spec's query names.
    pub known: String,
}

impl UnknownQuery {
    /// The stable error name: `BadEvent` (the event named a result the spec does not have).
    pub fn error_name(&self) -> ErrorName {
        ErrorName::BadEvent
    }
}

/// The batch a load of `results` writes: every result through the spec's mapping, vertices
/// before edges, duplicates merged; and the model counts. Nothing is written.
pub fn prepare_results(
    spec: &DatasetSpec,
    results: &[(String, Vec<Row>)],
) -> Result<(Prepared, GraphBatch), UnknownQuery> {
    let mut prepared = Prepared { results: results.len(), ..Prepared::default() };
    let mut batch = GraphBatch::default();
    for (name, rows) in results {
        if !spec.queries.iter().any(|q| &q.name == name) {
            return Err(UnknownQuery {
                name: name.clone(),
                dataset: spec.name.clone(),
                known: spec.queries.iter().map(|q| q.name.as_str()).collect::<Vec<_>>().join(", "),
            });
        }
        let built = graph_from_rows(&spec.graph, name, rows);
        add_stats(&mut prepared.model, &built.stats);
        prepared.rejected.extend(built.rejected.into_iter().map(|r| (name.clone(), r)));
        batch.vertices.extend(built.batch.vertices);
        batch.edges.extend(built.batch.edges);
    }
    let (batch, merged) = merge_duplicates(batch);
    prepared.duplicates_merged = merged;
    Ok((prepared, batch))
}

fn add_stats(total: &mut ModelStats, more: &ModelStats) {
    total.rows_in += more.rows_in;
    total.rows_rejected += more.rows_rejected;
    total.non_finite_omitted += more.non_finite_omitted;
    total.nulls_omitted += more.nulls_omitted;
    total.dates_floored += more.dates_floored;
}

/// Merges elements with the same id as sequential upserts would: first label (and endpoints),
/// last value per property. Keeps first-occurrence order. Returns the batch and how many
/// elements were merged away.
pub fn merge_duplicates(batch: GraphBatch) -> (GraphBatch, usize) {
    let mut merged = 0;
    let mut vertex_at: BTreeMap<String, usize> = BTreeMap::new();
    let mut vertices: Vec<Vertex> = Vec::with_capacity(batch.vertices.len());
    for vertex in batch.vertices {
        match vertex_at.get(&vertex.id).and_then(|&i| vertices.get_mut(i)) {
            Some(first) => {
                merge_properties(&mut first.properties, vertex.properties);
                merged += 1;
            }
            None => {
                vertex_at.insert(vertex.id.clone(), vertices.len());
                vertices.push(vertex);
            }
        }
    }
    let mut edge_at: BTreeMap<String, usize> = BTreeMap::new();
    let mut edges: Vec<Edge> = Vec::with_capacity(batch.edges.len());
    for edge in batch.edges {
        match edge_at.get(&edge.id).and_then(|&i| edges.get_mut(i)) {
            Some(first) => {
                merge_properties(&mut first.properties, edge.properties);
                merged += 1;
            }
            None => {
                edge_at.insert(edge.id.clone(), edges.len());
                edges.push(edge);
            }
        }
    }
    (GraphBatch { vertices, edges }, merged)
}

/// Later values win, except that a value that cannot be written (NaN, ±infinity) does not
/// replace one that can: a sequential upsert would omit it and keep the stored value.
fn merge_properties(
    into: &mut BTreeMap<String, PropertyValue>,
    from: BTreeMap<String, PropertyValue>,
) {
    for (key, value) in from {
        if value.is_writable() || !into.contains_key(&key) {
            into.insert(key, value);
        }
    }
}
