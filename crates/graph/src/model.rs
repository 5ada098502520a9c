//! The property graph model and how query result rows become vertices and edges.
//!
//! This module owns [`Vertex`], [`Edge`], [`PropertyValue`] (the five types Neptune stores and we
//! write), the [`ResultValue`] cells of an aggregate query's rows, and [`graph_from_rows`], which
//! applies a spec's `[graph]` mapping to those rows. It knows nothing of Gremlin text, HTTP or
//! files: a row that cannot become an element is returned as a [`RejectedRow`] with its reason,
//! never a panic, and values that cannot be written (NaN, ±infinity) are omitted and counted.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use graphetl_core::convert::{TimeFormat, TimeFormats, format_timestamp};
use graphetl_core::spec::{GraphSpec, Template};
use serde::{Deserialize, Serialize};

pub use graphetl_core::contract::{ResultValue, Row};

/// An instant with millisecond precision, the precision Neptune stores dates with.
///
/// Invariant: the year is in 1..=9999, so every value has an ISO-8601 text Neptune accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct GraphDate(i64);

impl GraphDate {
    /// 0001-01-01T00:00:00Z in epoch milliseconds.
    pub const MIN_MILLIS: i64 = -62_135_596_800_000;
    /// 9999-12-31T23:59:59.999Z in epoch milliseconds.
    pub const MAX_MILLIS: i64 = 253_402_300_799_999;

    /// A date from milliseconds since the epoch; `None` outside years 1..=9999.
    pub fn from_epoch_millis(millis: i64) -> Option<GraphDate> {
        (GraphDate::MIN_MILLIS..=GraphDate::MAX_MILLIS)
            .contains(&millis)
            .then_some(GraphDate(millis))
    }

    /// Parses ISO-8601 text (date, optional time, fraction and offset; a space may separate date
    /// and time). Digits below the millisecond are dropped (floored); the flag says whether any
    /// non-zero digit was dropped, so callers can count it.
    pub fn parse_iso(text: &str) -> Result<(GraphDate, bool), String> {
        let micros = TimeFormats::new(vec![TimeFormat::Iso8601])
            .parse_timestamp(text)
            .map_err(|e| format!("\"{text}\" {e}"))?;
        let millis = micros.div_euclid(1000);
        let floored = micros.rem_euclid(1000) != 0;
        GraphDate::from_epoch_millis(millis)
            .map(|date| (date, floored))
            .ok_or_else(|| format!("\"{text}\" is outside years 1–9999"))
    }

    /// Milliseconds since the epoch.
    pub fn epoch_millis(self) -> i64 {
        self.0
    }

    /// ISO-8601 in UTC: `2025-06-01T00:00:00Z`, or `2025-06-01T00:00:00.250Z` when the
    /// milliseconds are not zero.
    pub fn to_iso(self) -> String {
        // `format_timestamp` writes `YYYY-MM-DDTHH:MM:SS.ffffffZ` for every in-range value.
        let full = format_timestamp(self.0.saturating_mul(1000));
        let seconds = full.get(..19).unwrap_or(&full);
        match self.0.rem_euclid(1000) {
            0 => format!("{seconds}Z"),
            millis => format!("{seconds}.{millis:03}Z"),
        }
    }
}

impl TryFrom<i64> for GraphDate {
    type Error = String;

    fn try_from(millis: i64) -> Result<GraphDate, String> {
        GraphDate::from_epoch_millis(millis)
            .ok_or_else(|| format!("{millis} epoch milliseconds is outside years 1–9999"))
    }
}

impl From<GraphDate> for i64 {
    fn from(date: GraphDate) -> i64 {
        date.0
    }
}

impl fmt::Display for GraphDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

/// A property value as Neptune stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PropertyValue {
    /// Text.
    String(String),
    /// 64-bit integer (Gremlin `123L`, CSV `Long`).
    Long(i64),
    /// 64-bit float (Gremlin `0.5d`, CSV `Double`). NaN and ±infinity are never written: every
    /// writer omits the property and counts it.
    Double(f64),
    /// Boolean.
    Bool(bool),
    /// Instant (Gremlin `datetime('…')`, CSV `Date`).
    Date(GraphDate),
}

impl PropertyValue {
    /// The type name used in Neptune CSV headers (`String`, `Long`, `Double`, `Bool`, `Date`).
    pub fn type_name(&self) -> &'static str {
        match self {
            PropertyValue::String(_) => "String",
            PropertyValue::Long(_) => "Long",
            PropertyValue::Double(_) => "Double",
            PropertyValue::Bool(_) => "Bool",
            PropertyValue::Date(_) => "Date",
        }
    }

    /// Whether the value can be written: everything but a NaN or infinite double.
    pub fn is_writable(&self) -> bool {
        !matches!(self, PropertyValue::Double(x) if !x.is_finite())
    }

    /// The value as plain text, as CSV and GraphML hold it: strings as they are, integers in
    /// decimal, doubles in Rust's shortest round-trip form (`0.0125`, `1e-7`), booleans as
    /// `true`/`false`, dates in ISO-8601. `None` for a value that is not writable.
    pub fn plain_text(&self) -> Option<Cow<'_, str>> {
        match self {
            PropertyValue::String(s) => Some(Cow::Borrowed(s)),
            PropertyValue::Long(n) => Some(Cow::Owned(n.to_string())),
            PropertyValue::Double(x) if x.is_finite() => Some(Cow::Owned(format!("{x:?}"))),
            PropertyValue::Double(_) => None,
            PropertyValue::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            PropertyValue::Date(d) => Some(Cow::Owned(d.to_iso())),
        }
    }
}

/// A vertex to upsert, keyed by its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vertex {
    /// User-supplied id (Neptune ids are strings).
    pub id: String,
    /// Label, set when the vertex is created; a match never changes it.
    pub label: String,
    /// Properties, written with single cardinality on create and on match.
    pub properties: BTreeMap<String, PropertyValue>,
}

impl Vertex {
    /// A vertex without properties.
    pub fn new(id: impl Into<String>, label: impl Into<String>) -> Vertex {
        Vertex { id: id.into(), label: label.into(), properties: BTreeMap::new() }
    }

    /// Adds (or replaces) a property; for building vertices by hand.
    pub fn with(mut self, key: impl Into<String>, value: PropertyValue) -> Vertex {
        self.properties.insert(key.into(), value);
        self
    }

    /// Records in Neptune's batching sense: one for the label, one per writable property.
    pub fn records(&self) -> usize {
        1 + self.properties.values().filter(|v| v.is_writable()).count()
    }
}

/// An edge to upsert, keyed by its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// User-supplied id.
    pub id: String,
    /// Label, set when the edge is created.
    pub label: String,
    /// Id of the tail vertex (Gremlin `from`), which must exist when the edge is created.
    pub out_v: String,
    /// Id of the head vertex (Gremlin `to`), which must exist when the edge is created.
    pub in_v: String,
    /// Properties (edge properties always hold one value).
    pub properties: BTreeMap<String, PropertyValue>,
}

impl Edge {
    /// An edge without properties.
    pub fn new(
        id: impl Into<String>,
        label: impl Into<String>,
        out_v: impl Into<String>,
        in_v: impl Into<String>,
    ) -> Edge {
        Edge {
            id: id.into(),
            label: label.into(),
            out_v: out_v.into(),
            in_v: in_v.into(),
            properties: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) a property; for building edges by hand.
    pub fn with(mut self, key: impl Into<String>, value: PropertyValue) -> Edge {
        self.properties.insert(key.into(), value);
        self
    }

    /// Records in Neptune's batching sense: one for the label, one per writable property.
    pub fn records(&self) -> usize {
        1 + self.properties.values().filter(|v| v.is_writable()).count()
    }
}

/// Vertices and edges to upsert together; vertices are always written first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphBatch {
    /// Vertices, in input order.
    pub vertices: Vec<Vertex>,
    /// Edges, in input order.
    pub edges: Vec<Edge>,
}

impl GraphBatch {
    /// Records in the whole batch (label + writable properties of every element).
    pub fn records(&self) -> usize {
        self.vertices.iter().map(Vertex::records).sum::<usize>()
            + self.edges.iter().map(Edge::records).sum::<usize>()
    }

    /// Whether the batch holds no element.
    pub fn is_empty(&self) -> bool {
        self.vertices.is_empty() && self.edges.is_empty()
    }
}

/// A row that one mapping could not turn into an element.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRow {
    /// Position of the row in the input (0-based).
    pub row_index: usize,
    /// The mapping that rejected it, e.g. `vertex Service` or `edge CALLS`.
    pub mapping: String,
    /// Why.
    pub reason: String,
    /// The row as received.
    pub row: Row,
}

/// Counts from [`graph_from_rows`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelStats {
    /// Rows read.
    pub rows_in: usize,
    /// Rows rejected by at least one mapping.
    pub rows_rejected: usize,
    /// Properties left out because the value was NaN or infinite.
    pub non_finite_omitted: usize,
    /// Properties left out because the value was NULL.
    pub nulls_omitted: usize,
    /// Timestamps that had non-zero digits below the millisecond (floored).
    pub dates_floored: usize,
}

/// What [`graph_from_rows`] made of a query's rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphFromRows {
    /// The elements, vertices and edges each in row order.
    pub batch: GraphBatch,
    /// Rows a mapping rejected, each with its reason (a row may appear once per mapping).
    pub rejected: Vec<RejectedRow>,
    /// Counts.
    pub stats: ModelStats,
}

/// Applies every vertex and edge mapping of `spec` whose `from_query` is `query` to `rows`.
///
/// Ids come from the mapping's templates ([`Template::render`]); a template column that is NULL,
/// missing, NaN or infinite, or an id that renders empty, rejects the row for that mapping.
/// A property column missing from the row rejects the row (the mapping and the query disagree);
/// a NULL property is left out, as is a NaN or infinite float (counted in the stats); a
/// timestamp that is not ISO-8601 rejects the row.
pub fn graph_from_rows(spec: &GraphSpec, query: &str, rows: &[Row]) -> GraphFromRows {
    let mut out = GraphFromRows::default();
    out.stats.rows_in = rows.len();
    for (row_index, row) in rows.iter().enumerate() {
        let mut row_rejected = false;
        let mut reject = |out: &mut GraphFromRows, mapping: String, reason: String| {
            out.rejected.push(RejectedRow { row_index, mapping, reason, row: row.clone() });
            row_rejected = true;
        };
        for mapping in spec.vertices.iter().filter(|m| m.from_query == query) {
            let name = format!("vertex {}", mapping.label);
            let built = render_id(&mapping.id, row, "id").and_then(|id| {
                let properties = properties_from_row(&mapping.properties, row, &mut out.stats)?;
                Ok(Vertex { id, label: mapping.label.clone(), properties })
            });
            match built {
                Ok(vertex) => out.batch.vertices.push(vertex),
                Err(reason) => reject(&mut out, name, reason),
            }
        }
        for mapping in spec.edges.iter().filter(|m| m.from_query == query) {
            let name = format!("edge {}", mapping.label);
            let built = (|| {
                let id = render_id(&mapping.id, row, "id")?;
                let out_v = render_id(&mapping.out_v.id, row, "out_v id")?;
                let in_v = render_id(&mapping.in_v.id, row, "in_v id")?;
                let properties = properties_from_row(&mapping.properties, row, &mut out.stats)?;
                Ok::<Edge, String>(Edge {
                    id,
                    label: mapping.label.clone(),
                    out_v,
                    in_v,
                    properties,
                })
            })();
            match built {
                Ok(edge) => out.batch.edges.push(edge),
                Err(reason) => reject(&mut out, name, reason),
            }
        }
        if row_rejected {
            out.stats.rows_rejected += 1;
        }
    }
    out
}

/// Renders an id template, rejecting missing, NULL and non-finite columns and empty ids.
fn render_id(template: &Template, row: &Row, what: &str) -> Result<String, String> {
    for column in template.columns() {
        match row.get(column) {
            None => {
                return Err(format!(
                    "{what} template \"{}\": column {column} is not in the result row",
                    template.text
                ));
            }
            Some(ResultValue::Null) => {
                return Err(format!(
                    "{what} template \"{}\": column {column} is null",
                    template.text
                ));
            }
            Some(ResultValue::Float(x)) if !x.is_finite() => {
                return Err(format!(
                    "{what} template \"{}\": column {column} is {x}, not a usable id part",
                    template.text
                ));
            }
            Some(_) => {}
        }
    }
    let id = template
        .render(|column| match row.get(column) {
            None | Some(ResultValue::Null) => None,
            Some(ResultValue::String(s)) => Some(Cow::Owned(s.clone())),
            Some(ResultValue::Int(n)) => Some(Cow::Owned(n.to_string())),
            Some(ResultValue::Float(x)) => Some(Cow::Owned(format!("{x:?}"))),
            Some(ResultValue::Bool(b)) => Some(Cow::Owned(b.to_string())),
            Some(ResultValue::Timestamp(t)) => Some(Cow::Owned(t.clone())),
        })
        .map_err(|e| format!("{what}: {e}"))?; // unreachable: columns were checked above
    if id.is_empty() {
        return Err(format!("{what} template \"{}\" renders an empty id", template.text));
    }
    Ok(id)
}

/// Converts the mapped columns of a row into properties.
fn properties_from_row(
    mapping: &BTreeMap<String, String>,
    row: &Row,
    stats: &mut ModelStats,
) -> Result<BTreeMap<String, PropertyValue>, String> {
    let mut properties = BTreeMap::new();
    for (key, column) in mapping {
        let Some(cell) = row.get(column) else {
            return Err(format!("property {key}: column {column} is not in the result row"));
        };
        let value = match cell {
            ResultValue::Null => {
                stats.nulls_omitted += 1;
                continue;
            }
            ResultValue::Float(x) if !x.is_finite() => {
                stats.non_finite_omitted += 1;
                continue;
            }
            ResultValue::Float(x) => PropertyValue::Double(*x),
            ResultValue::String(s) => PropertyValue::String(s.clone()),
            ResultValue::Int(n) => PropertyValue::Long(*n),
            ResultValue::Bool(b) => PropertyValue::Bool(*b),
            ResultValue::Timestamp(text) => {
                let (date, floored) = GraphDate::parse_iso(text)
                    .map_err(|e| format!("property {key}: column {column}: {e}"))?;
                if floored {
                    stats.dates_floored += 1;
                }
                PropertyValue::Date(date)
            }
        };
        properties.insert(key.clone(), value);
    }
    Ok(properties)
}
