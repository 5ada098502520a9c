//! Gremlin query text for upserts: the one string escaper, the literal writers, the three upsert
//! forms, and the [`Batcher`] that packs elements into requests under a budget.
//!
//! Neptune has no parameter bindings, so every query is literal text. The rule that keeps it
//! safe: query text is built only by [`QueryWriter`], whose structural pieces are `&'static str`
//! (so no runtime value can be spliced in raw), whose numbers are written from typed `i64`/`f64`
//! values, and whose strings all go through [`push_string_literal`]. Nothing else in this crate
//! writes Gremlin.
//!
//! Every request ends with `.id()`: the server returns the id of the last element written, one
//! short string, instead of serialized elements.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::model::{Edge, GraphBatch, PropertyValue, Vertex};

/// A Neptune engine version such as `1.3.2.0` or `1.2.0.0.R4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EngineVersion {
    /// The four numbers, most significant first.
    pub numbers: [u32; 4],
    /// The patch release (`R4` → 4), if given.
    pub release: Option<u32>,
}

/// Why a text is not an engine version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("engine version \"{text}\": {reason}")]
pub struct EngineVersionError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl EngineVersion {
    /// The first engine with `mergeV()`/`mergeE()` (TinkerPop 3.6).
    pub const MERGE: EngineVersion = EngineVersion { numbers: [1, 2, 1, 0], release: None };
    /// The first engine with `single(v)` values in merge maps (TinkerPop 3.7).
    pub const SINGLE_IN_MAPS: EngineVersion =
        EngineVersion { numbers: [1, 3, 2, 0], release: None };
}

impl FromStr for EngineVersion {
    type Err = EngineVersionError;

    fn from_str(text: &str) -> Result<EngineVersion, EngineVersionError> {
        let error =
            |reason: &str| EngineVersionError { text: text.to_owned(), reason: reason.to_owned() };
        let expected = "expected four numbers and an optional patch, like 1.3.2.0 or 1.2.0.0.R4";
        let mut parts = text.trim().split('.');
        let mut numbers = [0u32; 4];
        for slot in &mut numbers {
            let part = parts.next().ok_or_else(|| error(expected))?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error(expected));
            }
            *slot = part.parse().map_err(|_| error("a number is too large"))?;
        }
        let release = match parts.next() {
            None => None,
            Some(patch) => {
                let digits = patch
                    .strip_prefix(['R', 'r'])
                    .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| error(expected))?;
                Some(digits.parse().map_err(|_| error("the patch number is too large"))?)
            }
        };
        if parts.next().is_some() {
            return Err(error(expected));
        }
        Ok(EngineVersion { numbers, release })
    }
}

impl fmt::Display for EngineVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.numbers;
        write!(f, "{a}.{b}.{c}.{d}")?;
        if let Some(release) = self.release {
            write!(f, ".R{release}")?;
        }
        Ok(())
    }
}

/// How an element upsert is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertForm {
    /// `mergeV`/`mergeE` with updates as `option(onMatch, ['k':single(v)])` (engine ≥ 1.3.2.0).
    MergeSingleMap,
    /// `mergeV`/`mergeE` with vertex updates as `.property(single,'k',v)` after the merge, which
    /// runs on create and on match (engine ≥ 1.2.1.0). The vertex's onCreate map then carries only
    /// the label: repeating the properties there would write each one twice on create.
    MergePropertyStep,
    /// The pre-mergeV `fold()`/`coalesce(unfold(), add…)` idiom with property steps outside the
    /// coalesce, which Neptune optimizes (any engine).
    FoldCoalesce,
}

impl UpsertForm {
    /// The most efficient form the engine supports.
    pub fn for_engine(version: &EngineVersion) -> UpsertForm {
        if *version >= EngineVersion::SINGLE_IN_MAPS {
            UpsertForm::MergeSingleMap
        } else if *version >= EngineVersion::MERGE {
            UpsertForm::MergePropertyStep
        } else {
            UpsertForm::FoldCoalesce
        }
    }
}

/// Appends `value` as a single-quoted Gremlin string literal. This is the one escaper: every
/// string that reaches query text (ids, labels, property keys and values, dates) goes through it.
///
/// Escapes `\` and `'`; writes `\n \r \t \b \f` for those controls and `\uXXXX` for every other
/// control character (C0, DEL, C1); writes characters outside the Basic Multilingual Plane as a
/// UTF-16 surrogate pair `\uD83D\uDE00`, which the grammar's Java unescaping turns back into the
/// same character. Other characters (including `"`, `$` and BMP non-ASCII) are kept as they are.
pub fn push_string_literal(out: &mut String, value: &str) {
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => push_unicode_escape(out, c as u32),
            c if (c as u32) > 0xFFFF => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_unicode_escape(out, u32::from(*unit));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
}

fn push_unicode_escape(out: &mut String, unit: u32) {
    out.push_str(&format!("\\u{unit:04X}"));
}

/// `value` as a single-quoted Gremlin string literal (see [`push_string_literal`]).
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_string_literal(&mut out, value);
    out
}

/// Writes query text and counts its steps. Structure comes only from `&'static str` pieces.
#[derive(Debug, Default)]
struct QueryWriter {
    text: String,
    steps: usize,
}

impl QueryWriter {
    /// `.name(`, counted as one step.
    fn step(&mut self, name: &'static str) {
        self.text.push('.');
        self.inner_step(name);
    }

    /// `name(` (a step that starts an anonymous traversal), counted as one step.
    fn inner_step(&mut self, name: &'static str) {
        self.text.push_str(name);
        self.text.push('(');
        self.steps += 1;
    }

    fn raw(&mut self, piece: &'static str) {
        self.text.push_str(piece);
    }

    fn string(&mut self, value: &str) {
        push_string_literal(&mut self.text, value);
    }

    /// A typed literal. The caller has checked that the value is writable.
    fn value(&mut self, value: &PropertyValue) {
        match value {
            PropertyValue::String(s) => self.string(s),
            PropertyValue::Long(n) => self.text.push_str(&format!("{n}L")),
            // `{:?}` is the shortest text that reads back to the same f64 (`0.1`, `1e-7`,
            // `210.0`), which the grammar accepts with the `d` suffix as a Double.
            PropertyValue::Double(x) => self.text.push_str(&format!("{x:?}d")),
            PropertyValue::Bool(true) => self.raw("true"),
            PropertyValue::Bool(false) => self.raw("false"),
            PropertyValue::Date(date) => {
                self.raw("datetime(");
                self.string(&date.to_iso());
                self.raw(")");
            }
        }
    }
}

/// One element's upsert text, ready to be chained.
#[derive(Debug, Clone)]
struct Fragment {
    text: String,
    steps: usize,
    records: usize,
    non_finite_omitted: usize,
}

/// Writes `,'k':v` (or `'k':v` first) entries for the writable properties; `single` wraps values.
fn push_map_entries<'a>(
    w: &mut QueryWriter,
    properties: impl Iterator<Item = (&'a String, &'a PropertyValue)>,
    mut first: bool,
    single: bool,
) {
    for (key, value) in properties {
        if !first {
            w.raw(",");
        }
        first = false;
        w.string(key);
        w.raw(":");
        if single {
            w.raw("single(");
            w.value(value);
            w.raw(")");
        } else {
            w.value(value);
        }
    }
}

fn writable(
    properties: &BTreeMap<String, PropertyValue>,
) -> impl Iterator<Item = (&String, &PropertyValue)> + Clone {
    properties.iter().filter(|(_, v)| v.is_writable())
}

fn vertex_fragment(form: UpsertForm, vertex: &Vertex) -> Fragment {
    let mut w = QueryWriter::default();
    let props = writable(&vertex.properties);
    let n_written = props.clone().count();
    match form {
        UpsertForm::MergeSingleMap | UpsertForm::MergePropertyStep => {
            w.step("mergeV");
            w.raw("[(T.id):");
            w.string(&vertex.id);
            w.raw("])");
            w.step("option");
            w.raw("onCreate,[(T.label):");
            w.string(&vertex.label);
            if form == UpsertForm::MergeSingleMap {
                push_map_entries(&mut w, props.clone(), false, false);
                w.raw("])");
                if n_written > 0 {
                    w.step("option");
                    w.raw("onMatch,[");
                    push_map_entries(&mut w, props, true, true);
                    w.raw("])");
                }
            } else {
                w.raw("])");
                push_property_steps(&mut w, props, true);
            }
        }
        UpsertForm::FoldCoalesce => {
            w.step("V");
            w.string(&vertex.id);
            w.raw(")");
            w.step("fold");
            w.raw(")");
            w.step("coalesce");
            w.inner_step("unfold");
            w.raw("),");
            w.inner_step("addV");
            w.string(&vertex.label);
            w.raw(")");
            w.step("property");
            w.raw("T.id,");
            w.string(&vertex.id);
            w.raw("))");
            push_property_steps(&mut w, props, true);
        }
    }
    Fragment {
        text: w.text,
        steps: w.steps,
        records: 1 + n_written,
        non_finite_omitted: vertex.properties.len() - n_written,
    }
}

/// `.property(single,'k',v)` for vertices, `.property('k',v)` for edges.
fn push_property_steps<'a>(
    w: &mut QueryWriter,
    properties: impl Iterator<Item = (&'a String, &'a PropertyValue)>,
    single: bool,
) {
    for (key, value) in properties {
        w.step("property");
        if single {
            w.raw("single,");
        }
        w.string(key);
        w.raw(",");
        w.value(value);
        w.raw(")");
    }
}

fn edge_fragment(form: UpsertForm, edge: &Edge) -> Fragment {
    let mut w = QueryWriter::default();
    let props = writable(&edge.properties);
    let n_written = props.clone().count();
    match form {
        UpsertForm::MergeSingleMap | UpsertForm::MergePropertyStep => {
            // Edge properties hold one value, so onMatch overwrites without `single`.
            w.step("mergeE");
            w.raw("[(T.id):");
            w.string(&edge.id);
            w.raw("])");
            w.step("option");
            w.raw("onCreate,[(T.label):");
            w.string(&edge.label);
            w.raw(",(from):");
            w.string(&edge.out_v);
            w.raw(",(to):");
            w.string(&edge.in_v);
            push_map_entries(&mut w, props.clone(), false, false);
            w.raw("])");
            if n_written > 0 {
                w.step("option");
                w.raw("onMatch,[");
                push_map_entries(&mut w, props, true, false);
                w.raw("])");
            }
        }
        UpsertForm::FoldCoalesce => {
            // Starting from the tail vertex keeps the lookup optimized; `addE().from(V(x))`
            // fails when an endpoint is missing instead of silently writing nothing.
            w.step("V");
            w.string(&edge.out_v);
            w.raw(")");
            w.step("outE");
            w.string(&edge.label);
            w.raw(")");
            w.step("hasId");
            w.string(&edge.id);
            w.raw(")");
            w.step("fold");
            w.raw(")");
            w.step("coalesce");
            w.inner_step("unfold");
            w.raw("),");
            w.inner_step("addE");
            w.string(&edge.label);
            w.raw(")");
            w.step("from");
            w.inner_step("V");
            w.string(&edge.out_v);
            w.raw("))");
            w.step("to");
            w.inner_step("V");
            w.string(&edge.in_v);
            w.raw("))");
            w.step("property");
            w.raw("T.id,");
            w.string(&edge.id);
            w.raw("))");
            push_property_steps(&mut w, props, false);
        }
    }
    Fragment {
        text: w.text,
        steps: w.steps,
        records: 1 + n_written,
        non_finite_omitted: edge.properties.len() - n_written,
    }
}

/// What a request holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Only vertex upserts.
    Vertices,
    /// Only edge upserts.
    Edges,
    /// Vertex upserts followed by edge upserts (only from [`build_query`]).
    Mixed,
}

/// One Gremlin request: the query text and what it costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// What the request holds.
    pub kind: RequestKind,
    /// The query text: `g`, the chained upserts, then `.id()` (the server answers with the id of
    /// the last element only).
    pub gremlin: String,
    /// Vertices upserted.
    pub vertices: usize,
    /// Edges upserted.
    pub edges: usize,
    /// Records (a label or a written property each).
    pub records: usize,
    /// Gremlin steps, counting nested ones (`unfold()`, `V()` inside `from()`) and the final `id()`.
    pub steps: usize,
    /// Length in bytes of [`Request::body`].
    pub body_bytes: usize,
    /// Properties left out because they were NaN or infinite.
    pub non_finite_omitted: usize,
}

impl Request {
    /// The HTTP body Neptune expects: `{"gremlin":"<text>"}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "gremlin": self.gremlin }).to_string()
    }
}

/// Bytes of `{"gremlin":""}` around the JSON-escaped query.
const BODY_OVERHEAD: usize = r#"{"gremlin":""}"#.len();
/// The query's start and end.
const QUERY_START: &str = "g";
const QUERY_END: &str = ".id()";

/// Length of `text` once escaped inside a JSON string (serde_json's escaping).
fn json_escaped_len(text: &str) -> usize {
    text.len()
        + text
            .bytes()
            .map(|b| match b {
                b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
                b if b < 0x20 => 5,
                _ => 0,
            })
            .sum::<usize>()
}

/// Accumulates fragments into one request.
#[derive(Debug)]
struct RequestBuilder {
    text: String,
    json_len: usize,
    steps: usize,
    records: usize,
    vertices: usize,
    edges: usize,
    non_finite_omitted: usize,
}

impl RequestBuilder {
    fn new() -> RequestBuilder {
        RequestBuilder {
            text: QUERY_START.to_owned(),
            json_len: json_escaped_len(QUERY_START),
            steps: 0,
            records: 0,
            vertices: 0,
            edges: 0,
            non_finite_omitted: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.vertices == 0 && self.edges == 0
    }

    /// (records, steps, body bytes) of the finished request if `fragment` were added.
    fn cost_with(&self, fragment: &Fragment) -> (usize, usize, usize) {
        (
            self.records + fragment.records,
            self.steps + fragment.steps + 1,
            BODY_OVERHEAD
                + self.json_len
                + json_escaped_len(&fragment.text)
                + json_escaped_len(QUERY_END),
        )
    }

    fn push(&mut self, fragment: &Fragment, is_vertex: bool) {
        self.text.push_str(&fragment.text);
        self.json_len += json_escaped_len(&fragment.text);
        self.steps += fragment.steps;
        self.records += fragment.records;
        self.non_finite_omitted += fragment.non_finite_omitted;
        if is_vertex {
            self.vertices += 1;
        } else {
            self.edges += 1;
        }
    }

    fn finish(mut self) -> Request {
        self.text.push_str(QUERY_END);
        self.json_len += json_escaped_len(QUERY_END);
        let kind = match (self.vertices, self.edges) {
            (_, 0) => RequestKind::Vertices,
            (0, _) => RequestKind::Edges,
            _ => RequestKind::Mixed,
        };
        Request {
            kind,
            gremlin: self.text,
            vertices: self.vertices,
            edges: self.edges,
            records: self.records,
            steps: self.steps + 1,
            body_bytes: BODY_OVERHEAD + self.json_len,
            non_finite_omitted: self.non_finite_omitted,
        }
    }
}

/// One request with every vertex, then every edge, and no budget. For tests, tools and small
/// batches; the loader uses [`Batcher`], which never makes an empty request (with no element the
/// text would be `g.id()`, which is not a query).
pub fn build_query(form: UpsertForm, vertices: &[Vertex], edges: &[Edge]) -> Request {
    let mut request = RequestBuilder::new();
    for vertex in vertices {
        request.push(&vertex_fragment(form, vertex), true);
    }
    for edge in edges {
        request.push(&edge_fragment(form, edge), false);
    }
    request.finish()
}

/// Per-request limits. A request stays within all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Records (a label or a property each); Neptune suggests about 200.
    pub max_records: usize,
    /// Gremlin steps; Neptune may reject requests above about 1,500.
    pub max_steps: usize,
    /// Bytes of the HTTP body (`{"gremlin":"…"}`).
    pub max_bytes: usize,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget { max_records: 200, max_steps: 1_500, max_bytes: 256 * 1024 }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} records, {} steps, {} bytes",
            self.max_records, self.max_steps, self.max_bytes
        )
    }
}

/// Why a batch cannot be split into requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// One element does not fit in an empty request.
    #[error(
        "{kind} \"{id}\" alone needs {records} records, {steps} steps and {bytes} bytes, over the request budget of {budget}"
    )]
    ElementTooLarge {
        /// `vertex` or `edge`.
        kind: &'static str,
        /// The element's id.
        id: String,
        /// Records of a request holding only this element.
        records: usize,
        /// Steps of that request.
        steps: usize,
        /// Body bytes of that request.
        bytes: usize,
        /// The budget it exceeds.
        budget: Budget,
    },
}

/// Splits a batch into requests under a [`Budget`].
///
/// Requests hold only vertices or only edges, and every vertex request comes before every edge
/// request, so a caller that finishes the vertex requests before sending edge requests never
/// sends an edge whose endpoint is still in flight. Elements keep their input order; packing is
/// greedy, so the count is at most ⌈vertex records / max_records⌉ + ⌈edge records / max_records⌉
/// (plus the slack of elements that do not fill a request exactly) when records are the binding
/// limit.
#[derive(Debug, Clone, Copy)]
pub struct Batcher {
    form: UpsertForm,
    budget: Budget,
}

impl Batcher {
    /// A batcher writing `form` under `budget`.
    pub fn new(form: UpsertForm, budget: Budget) -> Batcher {
        Batcher { form, budget }
    }

    /// The form it writes.
    pub fn form(&self) -> UpsertForm {
        self.form
    }

    /// The budget it keeps.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// The requests for `batch`: vertex requests first, then edge requests.
    pub fn requests(&self, batch: &GraphBatch) -> Result<Vec<Request>, BatchError> {
        let mut requests = Vec::new();
        let vertex_fragments =
            batch.vertices.iter().map(|v| (vertex_fragment(self.form, v), v.id.as_str()));
        self.pack(vertex_fragments, "vertex", &mut requests)?;
        let edge_fragments =
            batch.edges.iter().map(|e| (edge_fragment(self.form, e), e.id.as_str()));
        self.pack(edge_fragments, "edge", &mut requests)?;
        Ok(requests)
    }

    fn fits(&self, (records, steps, bytes): (usize, usize, usize)) -> bool {
        records <= self.budget.max_records
            && steps <= self.budget.max_steps
            && bytes <= self.budget.max_bytes
    }

    fn pack<'a>(
        &self,
        fragments: impl Iterator<Item = (Fragment, &'a str)>,
        kind: &'static str,
        requests: &mut Vec<Request>,
    ) -> Result<(), BatchError> {
        let is_vertex = kind == "vertex";
        let mut current = RequestBuilder::new();
        for (fragment, id) in fragments {
            if !self.fits(current.cost_with(&fragment)) && !current.is_empty() {
                requests.push(std::mem::replace(&mut current, RequestBuilder::new()).finish());
            }
            let cost = current.cost_with(&fragment);
            if !self.fits(cost) {
                let (records, steps, bytes) = cost;
                return Err(BatchError::ElementTooLarge {
                    kind,
                    id: id.to_owned(),
                    records,
                    steps,
                    bytes,
                    budget: self.budget,
                });
            }
            current.push(&fragment, is_vertex);
        }
        if !current.is_empty() {
            requests.push(current.finish());
        }
        Ok(())
    }
}
