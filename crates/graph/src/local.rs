//! The local sink: an in-memory graph with Neptune's upsert semantics that writes Neptune
//! bulk-load CSV, GraphML and a Graphviz picture. It implements the `sink` module's
//! [`GraphSink`] port (re-exported here).
//!
//! [`LocalGraph`] applies exactly what the emitted `mergeV`/`mergeE` chains do:
//! - a new vertex gets its label and properties; a matched vertex keeps its label and has each
//!   given property overwritten (single cardinality); properties not given are kept;
//! - a new edge gets its label, endpoints and properties; a matched edge (same id) keeps its
//!   label and endpoints and has each given property overwritten;
//! - creating an edge whose endpoint vertex does not exist (in the graph or earlier in the
//!   batch) fails, as Neptune's `mergeE` does ("Vertex id could not be resolved"), with an error
//!   naming the edge and the vertex. A batch is applied all or nothing, like one Neptune request;
//! - NaN and infinite doubles are never stored (omitted and counted).
//!
//! Output is deterministic: elements sorted by id, columns sorted by property name, so two runs
//! over the same data give byte-identical files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::model::{Edge, GraphBatch, PropertyValue, Vertex};
pub use crate::sink::{AsyncGraphSink, GraphSink, SinkError, UpsertStats};

/// An in-memory graph with Neptune's upsert semantics, and its writers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalGraph {
    vertices: BTreeMap<String, Vertex>,
    edges: BTreeMap<String, Edge>,
}

/// The files [`LocalGraph::write_files`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFiles {
    /// Neptune bulk-load vertices (`vertices.csv`).
    pub vertices_csv: PathBuf,
    /// Neptune bulk-load edges (`edges.csv`).
    pub edges_csv: PathBuf,
    /// GraphML (`graph.graphml`).
    pub graphml: PathBuf,
    /// Graphviz DOT (`graph.dot`).
    pub dot: PathBuf,
}

fn writable_properties(
    properties: &BTreeMap<String, PropertyValue>,
) -> impl Iterator<Item = (&String, &PropertyValue)> {
    properties.iter().filter(|(_, v)| v.is_writable())
}

fn non_finite_count(properties: &BTreeMap<String, PropertyValue>) -> usize {
    properties.values().filter(|v| !v.is_writable()).count()
}

impl GraphSink for LocalGraph {
    fn upsert(&mut self, batch: &GraphBatch) -> Result<UpsertStats, SinkError> {
        self.check_endpoints(batch)?;
        Ok(self.stage(batch))
    }
}

impl LocalGraph {
    /// Upserts `batch` like [`GraphSink::upsert`] but without checking that new edges' vertices
    /// exist: for staging a batch whose edges join vertices stored elsewhere, as the bulk path
    /// does for an edges-only chunk (Neptune's loader checks the endpoints itself).
    pub fn stage(&mut self, batch: &GraphBatch) -> UpsertStats {
        let mut stats = UpsertStats {
            vertices: batch.vertices.len(),
            edges: batch.edges.len(),
            records: batch.records(),
            requests: 0,
            retries: 0,
            non_finite_omitted: 0,
        };
        for vertex in &batch.vertices {
            stats.non_finite_omitted += non_finite_count(&vertex.properties);
            let stored = self
                .vertices
                .entry(vertex.id.clone())
                .or_insert_with(|| Vertex::new(vertex.id.clone(), vertex.label.clone()));
            for (key, value) in writable_properties(&vertex.properties) {
                stored.properties.insert(key.clone(), value.clone());
            }
        }
        for edge in &batch.edges {
            stats.non_finite_omitted += non_finite_count(&edge.properties);
            let stored = self.edges.entry(edge.id.clone()).or_insert_with(|| {
                Edge::new(
                    edge.id.clone(),
                    edge.label.clone(),
                    edge.out_v.clone(),
                    edge.in_v.clone(),
                )
            });
            for (key, value) in writable_properties(&edge.properties) {
                stored.properties.insert(key.clone(), value.clone());
            }
        }
        stats
    }
}

impl LocalGraph {
    /// An empty graph.
    pub fn new() -> LocalGraph {
        LocalGraph::default()
    }

    /// The vertex with this id.
    pub fn vertex(&self, id: &str) -> Option<&Vertex> {
        self.vertices.get(id)
    }

    /// The edge with this id.
    pub fn edge(&self, id: &str) -> Option<&Edge> {
        self.edges.get(id)
    }

    /// Vertices, sorted by id.
    pub fn vertices(&self) -> impl Iterator<Item = &Vertex> {
        self.vertices.values()
    }

    /// Edges, sorted by id.
    pub fn edges(&self) -> impl Iterator<Item = &Edge> {
        self.edges.values()
    }

    /// Fails, before anything is written, if an edge to create has a missing endpoint.
    fn check_endpoints(&self, batch: &GraphBatch) -> Result<(), SinkError> {
        let batch_vertices: std::collections::BTreeSet<&str> =
            batch.vertices.iter().map(|v| v.id.as_str()).collect();
        let exists = |id: &str| self.vertices.contains_key(id) || batch_vertices.contains(id);
        let mut created: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for edge in &batch.edges {
            if self.edges.contains_key(&edge.id) || created.contains(edge.id.as_str()) {
                continue; // matched by id: endpoints are not looked at
            }
            for (end, vertex) in [("out", &edge.out_v), ("in", &edge.in_v)] {
                if !exists(vertex) {
                    return Err(SinkError::MissingEndpoint {
                        edge: edge.id.clone(),
                        end,
                        vertex: vertex.clone(),
                    });
                }
            }
            created.insert(edge.id.as_str());
        }
        Ok(())
    }

    /// Neptune bulk-load `vertices.csv`: `~id,~label,name:String(single),…`.
    ///
    /// Vertex columns say `(single)` so a reload with `updateSingleCardinalityProperties` replaces
    /// values the way the Gremlin upserts do (the loader's default cardinality is `set`).
    pub fn vertices_csv(&self) -> Result<String, SinkError> {
        let columns =
            typed_columns(self.vertices.values().map(|v| &v.properties), "vertex", "CSV")?;
        let mut out = String::from("~id,~label");
        for (key, ty) in &columns {
            out.push(',');
            out.push_str(&csv_header_name(key)?);
            out.push(':');
            out.push_str(ty);
            out.push_str("(single)");
        }
        out.push('\n');
        for vertex in self.vertices.values() {
            if vertex.label.contains(';') {
                return Err(SinkError::Unrepresentable {
                    format: "Neptune CSV",
                    what: format!(
                        "vertex label \"{}\": `;` separates several labels in ~label",
                        vertex.label
                    ),
                });
            }
            push_csv_field(&mut out, &vertex.id);
            out.push(',');
            push_csv_field(&mut out, &vertex.label);
            push_csv_values(&mut out, &columns, &vertex.properties);
            out.push('\n');
        }
        Ok(out)
    }

    /// Neptune bulk-load `edges.csv`: `~id,~from,~to,~label,requests:Long,…`.
    pub fn edges_csv(&self) -> Result<String, SinkError> {
        let columns = typed_columns(self.edges.values().map(|e| &e.properties), "edge", "CSV")?;
        let mut out = String::from("~id,~from,~to,~label");
        for (key, ty) in &columns {
            out.push(',');
            out.push_str(&csv_header_name(key)?);
            out.push(':');
            out.push_str(ty);
        }
        out.push('\n');
        for edge in self.edges.values() {
            for (i, field) in
                [&edge.id, &edge.out_v, &edge.in_v, &edge.label].into_iter().enumerate()
            {
                if i > 0 {
                    out.push(',');
                }
                push_csv_field(&mut out, field);
            }
            push_csv_values(&mut out, &columns, &edge.properties);
            out.push('\n');
        }
        Ok(out)
    }

    /// GraphML with typed keys (`labelV`/`labelE` hold the labels, as TinkerPop's GraphML does).
    /// Dates are ISO-8601 strings (GraphML has no date type).
    pub fn graphml(&self) -> Result<String, SinkError> {
        let node_keys =
            typed_columns(self.vertices.values().map(|v| &v.properties), "vertex", "GraphML")?;
        let edge_keys =
            typed_columns(self.edges.values().map(|e| &e.properties), "edge", "GraphML")?;
        let mut out = String::new();
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str("<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n");
        out.push_str(
            "  <key id=\"labelV\" for=\"node\" attr.name=\"labelV\" attr.type=\"string\"/>\n",
        );
        for (prefix, target, keys) in [("v.", "node", &node_keys), ("e.", "edge", &edge_keys)] {
            if target == "edge" {
                out.push_str(
                    "  <key id=\"labelE\" for=\"edge\" attr.name=\"labelE\" attr.type=\"string\"/>\n",
                );
            }
            for (key, ty) in keys {
                let escaped = xml_escape(key)?;
                let _ = writeln!(
                    out,
                    "  <key id=\"{prefix}{escaped}\" for=\"{target}\" attr.name=\"{escaped}\" attr.type=\"{}\"/>",
                    graphml_type(ty)
                );
            }
        }
        out.push_str("  <graph id=\"G\" edgedefault=\"directed\">\n");
        for vertex in self.vertices.values() {
            let _ = writeln!(out, "    <node id=\"{}\">", xml_escape(&vertex.id)?);
            let _ =
                writeln!(out, "      <data key=\"labelV\">{}</data>", xml_escape(&vertex.label)?);
            push_graphml_data(&mut out, "v.", &vertex.properties)?;
            out.push_str("    </node>\n");
        }
        for edge in self.edges.values() {
            let _ = writeln!(
                out,
                "    <edge id=\"{}\" source=\"{}\" target=\"{}\">",
                xml_escape(&edge.id)?,
                xml_escape(&edge.out_v)?,
                xml_escape(&edge.in_v)?
            );
            let _ = writeln!(out, "      <data key=\"labelE\">{}</data>", xml_escape(&edge.label)?);
            push_graphml_data(&mut out, "e.", &edge.properties)?;
            out.push_str("    </edge>\n");
        }
        out.push_str("  </graph>\n</graphml>\n");
        Ok(out)
    }

    /// Graphviz DOT. Nodes are named `n0`, `n1`, … in id order and labelled with their id and
    /// label; properties go in tooltips (shown on hover in SVG). Control characters other than
    /// newline are drawn as U+FFFD: the picture is for people, the CSV and GraphML are exact.
    pub fn dot(&self) -> String {
        let names: BTreeMap<&str, String> = self
            .vertices
            .keys()
            .enumerate()
            .map(|(i, id)| (id.as_str(), format!("n{i}")))
            .collect();
        let node_ref = |id: &str| match names.get(id) {
            Some(name) => name.clone(),
            None => dot_string(id), // unreachable through upsert; Graphviz then adds the node
        };
        let mut out = String::from("digraph graphetl {\n");
        out.push_str("  rankdir=LR;\n");
        out.push_str("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
        out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
        for vertex in self.vertices.values() {
            let _ = writeln!(
                out,
                "  {} [label={}, tooltip={}];",
                node_ref(&vertex.id),
                dot_string(&format!("{}\n{}", vertex.id, vertex.label)),
                dot_string(&tooltip(&vertex.id, &vertex.properties))
            );
        }
        for edge in self.edges.values() {
            let _ = writeln!(
                out,
                "  {} -> {} [label={}, tooltip={}];",
                node_ref(&edge.out_v),
                node_ref(&edge.in_v),
                dot_string(&edge.label),
                dot_string(&tooltip(&edge.id, &edge.properties))
            );
        }
        out.push_str("}\n");
        out
    }

    /// Writes `vertices.csv`, `edges.csv`, `graph.graphml` and `graph.dot` into `dir` (created if
    /// needed). Everything is rendered before the first file is written.
    pub fn write_files(&self, dir: &Path) -> Result<WrittenFiles, SinkError> {
        let files = WrittenFiles {
            vertices_csv: dir.join("vertices.csv"),
            edges_csv: dir.join("edges.csv"),
            graphml: dir.join("graph.graphml"),
            dot: dir.join("graph.dot"),
        };
        let contents = [
            (&files.vertices_csv, self.vertices_csv()?),
            (&files.edges_csv, self.edges_csv()?),
            (&files.graphml, self.graphml()?),
            (&files.dot, self.dot()),
        ];
        std::fs::create_dir_all(dir)
            .map_err(|source| SinkError::Io { path: dir.to_path_buf(), source })?;
        for (path, text) in contents {
            std::fs::write(path, text)
                .map_err(|source| SinkError::Io { path: path.clone(), source })?;
        }
        Ok(files)
    }
}

/// Renders a DOT file with Graphviz: `dot -Tpng` when `out` ends in `.png`, `dot -Tsvg`
/// otherwise. Returns `Ok(false)` when the `dot` binary is not installed, so a missing Graphviz
/// never fails a run; `Err` only when `dot` ran and failed.
pub fn render_picture(dot: &Path, out: &Path) -> Result<bool, SinkError> {
    let format = match out.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("png") => "-Tpng",
        _ => "-Tsvg",
    };
    match Command::new("dot").arg(format).arg("-o").arg(out).arg(dot).output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(SinkError::Render { path: dot.to_path_buf(), reason: e.to_string() }),
        Ok(output) if output.status.success() => Ok(true),
        Ok(output) => Err(SinkError::Render {
            path: dot.to_path_buf(),
            reason: format!(
                "dot exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        }),
    }
}

/// Property name → type, over all elements; one type per name.
fn typed_columns<'a>(
    elements: impl Iterator<Item = &'a BTreeMap<String, PropertyValue>>,
    kind: &'static str,
    format: &'static str,
) -> Result<BTreeMap<&'a str, &'static str>, SinkError> {
    let mut columns: BTreeMap<&str, &'static str> = BTreeMap::new();
    for properties in elements {
        for (key, value) in writable_properties(properties) {
            let ty = value.type_name();
            match columns.insert(key, ty) {
                Some(first) if first != ty => {
                    return Err(SinkError::MixedTypes {
                        format,
                        kind,
                        key: key.clone(),
                        first,
                        second: ty,
                    });
                }
                _ => {}
            }
        }
    }
    Ok(columns)
}

/// A property name as a CSV header: `:` escaped as `\:`; names the loader cannot read refused.
fn csv_header_name(key: &str) -> Result<String, SinkError> {
    let bad = key.is_empty()
        || key.starts_with('~')
        || key
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '"' | '\\'));
    if bad {
        return Err(SinkError::Unrepresentable {
            format: "Neptune CSV",
            what: format!(
                "property name {key:?} in a header (empty, starts with ~, or has whitespace, a comma, a quote or a backslash)"
            ),
        });
    }
    Ok(key.replace(':', "\\:"))
}

/// An RFC 4180 field: quoted when it holds a comma, quote, CR or LF, has surrounding spaces, or
/// is empty (`""` is an empty string; a blank field means "no value").
fn push_csv_field(out: &mut String, value: &str) {
    let needs_quotes = value.is_empty()
        || value.contains([',', '"', '\n', '\r'])
        || value.starts_with(char::is_whitespace)
        || value.ends_with(char::is_whitespace);
    if needs_quotes {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn push_csv_values(
    out: &mut String,
    columns: &BTreeMap<&str, &'static str>,
    properties: &BTreeMap<String, PropertyValue>,
) {
    for key in columns.keys() {
        out.push(',');
        if let Some(text) = properties.get(*key).and_then(PropertyValue::plain_text) {
            push_csv_field(out, &text);
        }
    }
}

fn graphml_type(csv_type: &str) -> &'static str {
    match csv_type {
        "Long" => "long",
        "Double" => "double",
        "Bool" => "boolean",
        _ => "string",
    }
}

fn push_graphml_data(
    out: &mut String,
    prefix: &str,
    properties: &BTreeMap<String, PropertyValue>,
) -> Result<(), SinkError> {
    for (key, value) in properties {
        if let Some(text) = value.plain_text() {
            let _ = writeln!(
                out,
                "      <data key=\"{prefix}{}\">{}</data>",
                xml_escape(key)?,
                xml_escape(&text)?
            );
        }
    }
    Ok(())
}

/// Escapes text for XML content and attributes; refuses characters XML 1.0 cannot hold.
fn xml_escape(value: &str) -> Result<String, SinkError> {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                return Err(SinkError::Unrepresentable {
                    format: "GraphML",
                    what: format!(
                        "{value:?}: character U+{:04X} is not allowed in XML 1.0",
                        c as u32
                    ),
                });
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A double-quoted DOT string; newline becomes DOT's `\n` line break.
fn dot_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn tooltip(id: &str, properties: &BTreeMap<String, PropertyValue>) -> String {
    let mut text = id.to_owned();
    for (key, value) in properties {
        if let Some(value) = value.plain_text() {
            text.push('\n');
            text.push_str(key);
            text.push('=');
            text.push_str(&value);
        }
    }
    text
}

/// A [`LocalGraph`] shared by concurrent loads (the local run's load invocations), which also
/// counts the Gremlin requests Neptune would get for the same batches (reported as `requests`).
#[derive(Debug, Clone)]
pub struct SharedGraph {
    graph: std::sync::Arc<std::sync::Mutex<LocalGraph>>,
    batcher: crate::gremlin::Batcher,
}

impl SharedGraph {
    /// An empty shared graph; requests are counted with `batcher`.
    pub fn new(batcher: crate::gremlin::Batcher) -> SharedGraph {
        SharedGraph { graph: std::sync::Arc::default(), batcher }
    }

    /// A copy of the graph as it is now.
    pub fn snapshot(&self) -> LocalGraph {
        match self.graph.lock() {
            Ok(graph) => graph.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl GraphSink for SharedGraph {
    fn upsert(&mut self, batch: &GraphBatch) -> Result<UpsertStats, SinkError> {
        let requests = self
            .batcher
            .requests(batch)
            .map_err(|e| SinkError::Unrepresentable { format: "Gremlin", what: e.to_string() })?
            .len();
        let mut graph = match self.graph.lock() {
            Ok(graph) => graph,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut stats = GraphSink::upsert(&mut *graph, batch)?;
        stats.requests = requests;
        Ok(stats)
    }
}
