//! The dataset spec: the TOML file users write (see docs/dataset-spec.md), parsed and validated.
//!
//! Parsing happens in two stages, like ripgrep's LowArgs/HiArgs: serde reads the text into raw
//! structs that mirror the file (unknown keys are rejected), then [`DatasetSpec::from_toml_str`]
//! resolves them into checked values (parsed types, compiled converters, parsed templates).
//! Every problem is reported with the file, the key path and what was expected, and all problems
//! are reported at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;

use crate::convert::{
    BoolTokens, Converter, DecimalFormat, ListFormat, StringRules, TimeFormat, TimeFormats,
};

/// A validated dataset spec.
#[derive(Debug, Clone)]
pub struct DatasetSpec {
    /// Dataset name (`[a-z0-9-]+`), used in S3 keys and table names.
    pub name: String,
    /// Free text for humans.
    pub description: String,
    /// Where raw records come from.
    pub source: Source,
    /// How raw files are read.
    pub input: InputSpec,
    /// The output schema, in order.
    pub columns: Vec<Column>,
    /// Hive-style partitioning of curated data.
    pub partition: Option<PartitionSpec>,
    /// Aggregation queries, in declaration order.
    pub queries: Vec<QuerySpec>,
    /// How query results become vertices and edges.
    pub graph: GraphSpec,
}

/// What the extract step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Files arrive by other means; extract is skipped.
    None,
    /// The built-in generator of synthetic records (scale tests).
    Generator {
        /// Number of distinct services in the synthetic call graph.
        services: u32,
    },
    /// A paged HTTP JSON API.
    Http(HttpSource),
}

/// A paged HTTP JSON API source.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSource {
    /// URL template with `{start}`, `{end}` and `{cursor}` placeholders.
    pub url: String,
    /// Where the array of records is in each page (dotted path).
    pub records_path: String,
    /// Where the next cursor is in each page (dotted path); absent or null = last page.
    pub cursor_path: Option<String>,
    /// Raw files hold at most this many records.
    pub records_per_file: u64,
    /// Header name → secret reference (`env:NAME`, `ssm:NAME`, `secretsmanager:NAME`, `literal:VALUE`).
    pub headers: BTreeMap<String, String>,
    /// Placeholder name → secret reference, for a secret the API wants in the URL
    /// (`?api_key={secret.api_key}`); redacted wherever the URL is shown.
    pub url_secrets: BTreeMap<String, String>,
    /// Requests per second at most (0 = unlimited).
    pub rate_limit_per_second: f64,
    /// Per-request timeout.
    pub timeout_seconds: u64,
    /// Attempts per page on 429/5xx before the extract fails.
    pub max_attempts: u32,
}

/// Raw file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// Newline-delimited JSON objects.
    JsonLines,
    /// Delimited text.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl InputFormat {
    /// The name used in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::JsonLines => "jsonl",
            InputFormat::Csv => "csv",
            InputFormat::Parquet => "parquet",
        }
    }
}

/// What to do with a row that fails a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBadRow {
    /// Write the row to the quarantine file with its reason and go on.
    Quarantine,
    /// Fail the whole file (nothing is written).
    FailFile,
}

/// How raw files are read.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    /// File format; gzip is detected from the `.gz` suffix or the magic bytes.
    pub format: InputFormat,
    /// CSV field delimiter (one byte).
    pub delimiter: u8,
    /// CSV: whether the first record is a header.
    pub header: bool,
    /// CSV without header: the names of the fields, in file order.
    pub field_names: Vec<String>,
    /// Values (compared after trimming) that mean null.
    pub null_values: Vec<String>,
    /// Quarantine bad rows, or fail the file.
    pub on_bad_row: OnBadRow,
    /// A line or record longer than this fails the file (protects memory).
    pub max_record_bytes: usize,
}

/// The type of an output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// true/false from configurable tokens.
    Bool,
    /// 64-bit signed integer.
    Int,
    /// 64-bit float (finite).
    Float,
    /// Exact decimal with precision and scale.
    Decimal {
        /// Total digits, 1..=38.
        precision: u8,
        /// Digits after the point, ≤ precision.
        scale: u8,
    },
    /// Calendar date.
    Date,
    /// Instant, stored as UTC microseconds.
    Timestamp,
    /// List of strings.
    ListString,
}

impl ColumnType {
    /// Parses a type name as written in a spec (`decimal(12,2)`, `list<string>`…).
    pub fn parse(text: &str) -> Result<ColumnType, String> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let ty = match compact.as_str() {
            "string" => ColumnType::String,
            "bool" => ColumnType::Bool,
            "int" => ColumnType::Int,
            "float" => ColumnType::Float,
            "date" => ColumnType::Date,
            "timestamp" => ColumnType::Timestamp,
            "list<string>" => ColumnType::ListString,
            other => {
                if let Some(args) = other.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')'))
                {
                    let (p, s) = args.split_once(',').ok_or_else(|| {
                        format!("decimal needs a precision and a scale, e.g. decimal(12,2); got \"{text}\"")
                    })?;
                    let precision: u8 = p
                        .parse()
                        .map_err(|_| format!("decimal precision \"{p}\" is not a number"))?;
                    let scale: u8 =
                        s.parse().map_err(|_| format!("decimal scale \"{s}\" is not a number"))?;
                    if !(1..=38).contains(&precision) {
                        return Err(format!(
                            "decimal precision {precision} is out of range 1..=38"
                        ));
                    }
                    if scale > precision {
                        return Err(format!(
                            "decimal scale {scale} is larger than its precision {precision}"
                        ));
                    }
                    ColumnType::Decimal { precision, scale }
                } else {
                    return Err(format!(
                        "unknown type \"{text}\"; expected one of string, bool, int, float, decimal(P,S), date, timestamp, list<string>"
                    ));
                }
            }
        };
        Ok(ty)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::String => f.write_str("string"),
            ColumnType::Bool => f.write_str("bool"),
            ColumnType::Int => f.write_str("int"),
            ColumnType::Float => f.write_str("float"),
            ColumnType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Timestamp => f.write_str("timestamp"),
            ColumnType::ListString => f.write_str("list<string>"),
        }
    }
}

/// One output column and how to fill it.
#[derive(Debug, Clone)]
pub struct Column {
    /// Output column name.
    pub name: String,
    /// Input field name as written (`a.b` is a path into JSON objects).
    pub from: String,
    /// `from` split on dots (JSON lines); a single element for CSV and Parquet.
    pub from_path: Vec<String>,
    /// Output type.
    pub ty: ColumnType,
    /// Whether null or absent rejects the row.
    pub required: bool,
    /// Null tokens for this column (the input's unless overridden).
    pub null_values: Vec<String>,
    /// Length of the longest null token (for a fast negative check).
    pub null_max_len: usize,
    /// The compiled conversion.
    pub converter: Converter,
}

impl Column {
    /// Whether `value` is one of this column's null tokens (compared after trimming).
    pub fn is_null(&self, value: &str) -> bool {
        // Fast path: a value longer than every token (plus surrounding space) is not null.
        if value.len() > self.null_max_len
            && !value.starts_with(char::is_whitespace)
            && !value.ends_with(char::is_whitespace)
        {
            return false;
        }
        let trimmed = value.trim();
        self.null_values.iter().any(|n| n == trimmed)
    }
}

/// Hive-style partitions of curated data.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSpec {
    /// Index into [`DatasetSpec::columns`] of the date/timestamp column that gives `dt`.
    pub dt_column: usize,
    /// Adds `hour=HH` under `dt` (timestamp columns only).
    pub hour: bool,
    /// Distinct partitions one raw file may write to; more fails the file.
    pub max_partitions_per_file: usize,
}

/// Default of `partition.max_partitions_per_file`: above 11 years of hourly partitions.
pub const DEFAULT_MAX_PARTITIONS_PER_FILE: usize = 100_000;

/// One aggregation query.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySpec {
    /// Result name, referenced by the graph mapping.
    pub name: String,
    /// Path of the SQL file, relative to the spec file.
    pub sql: String,
}

/// How query results become a graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphSpec {
    /// Vertex mappings.
    pub vertices: Vec<VertexSpec>,
    /// Edge mappings.
    pub edges: Vec<EdgeSpec>,
}

/// Vertices made from the rows of one query.
#[derive(Debug, Clone, PartialEq)]
pub struct VertexSpec {
    /// Query whose rows become vertices.
    pub from_query: String,
    /// Vertex label.
    pub label: String,
    /// Vertex id template.
    pub id: Template,
    /// Property name → result column.
    pub properties: BTreeMap<String, String>,
}

/// One endpoint of an edge mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSpec {
    /// Label of the vertex at this end.
    pub label: String,
    /// Its id template (must match how that vertex's id is made).
    pub id: Template,
}

/// Edges made from the rows of one query.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeSpec {
    /// Query whose rows become edges.
    pub from_query: String,
    /// Edge label.
    pub label: String,
    /// Tail vertex.
    pub out_v: EndpointSpec,
    /// Head vertex.
    pub in_v: EndpointSpec,
    /// Deterministic edge id template.
    pub id: Template,
    /// Property name → result column.
    pub properties: BTreeMap<String, String>,
}

/// A `{column}` template that makes ids from result rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// The text as written.
    pub text: String,
    /// Literal text and column references, in order.
    pub parts: Vec<TemplatePart>,
}

/// A piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Text copied as is.
    Literal(String),
    /// The value of a result column.
    Column(String),
}

impl Template {
    /// Parses `text`: `{name}` is a column, `{{` and `}}` are literal braces.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(ch) => name.push(ch),
                            None => return Err(format!("unclosed \"{{\" in template \"{text}\"")),
                        }
                    }
                    if !is_identifier(&name) {
                        return Err(format!(
                            "template \"{text}\" refers to \"{{{name}}}\"; expected a column name like {{caller}}"
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(TemplatePart::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(TemplatePart::Column(name));
                }
                '}' => {
                    return Err(format!(
                        "unmatched \"}}\" in template \"{text}\" (write }}}} for a literal brace)"
                    ));
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(TemplatePart::Literal(literal));
        }
        if !parts.iter().any(|p| matches!(p, TemplatePart::Column(_))) {
            return Err(format!(
                "template \"{text}\" uses no column, so every row would get the same id"
            ));
        }
        Ok(Template { text: text.to_owned(), parts })
    }

    /// The columns the template refers to.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Column(c) => Some(c.as_str()),
            TemplatePart::Literal(_) => None,
        })
    }

    /// Renders the template with `lookup` giving each column's text (None = missing).
    pub fn render<'a>(
        &self,
        mut lookup: impl FnMut(&str) -> Option<std::borrow::Cow<'a, str>>,
    ) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Column(name) => match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => return Err(format!("id template \"{}\": {name} is null", self.text)),
                },
            }
        }
        Ok(out)
    }
}

/// One problem found in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `columns[3].type` (empty for file-level problems).
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

/// Everything wrong with a spec, each problem with its key path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    /// The file (or other origin) the text came from.
    pub origin: String,
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if problem.path.is_empty() {
                write!(f, "{}: {}", self.origin, problem.message)?;
            } else {
                write!(f, "{}: {}: {}", self.origin, problem.path, problem.message)?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Raw structs: exactly the keys users may write.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: String,
    #[serde(default)]
    description: String,
    source: Option<RawSource>,
    input: RawInput,
    columns: Vec<RawColumn>,
    partition: Option<RawPartition>,
    aggregate: Option<RawAggregate>,
    graph: Option<RawGraph>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    kind: String,
    url: Option<String>,
    records_path: Option<String>,
    cursor_path: Option<String>,
    records_per_file: Option<u64>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    url_secrets: BTreeMap<String, String>,
    rate_limit_per_second: Option<f64>,
    timeout_seconds: Option<u64>,
    max_attempts: Option<u32>,
    services: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    format: String,
    delimiter: Option<String>,
    header: Option<bool>,
    field_names: Option<Vec<String>>,
    null_values: Option<Vec<String>>,
    on_bad_row: Option<String>,
    max_record_bytes: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    from: Option<String>,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    required: bool,
    null_values: Option<Vec<String>>,
    formats: Option<Vec<String>>,
    true_values: Option<Vec<String>>,
    false_values: Option<Vec<String>>,
    currency_symbols: Option<Vec<String>>,
    decimal_comma: Option<bool>,
    separators: Option<Vec<String>>,
    allowed_values: Option<Vec<String>>,
    trim: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPartition {
    dt_from: String,
    #[serde(default)]
    hour: bool,
    max_partitions_per_file: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAggregate {
    #[serde(default)]
    queries: Vec<RawQuery>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuery {
    name: String,
    sql: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraph {
    #[serde(default)]
    vertices: Vec<RawVertex>,
    #[serde(default)]
    edges: Vec<RawEdge>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVertex {
    from_query: String,
    label: String,
    id: String,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    label: String,
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEdge {
    from_query: String,
    label: String,
    out_v: RawEndpoint,
    in_v: RawEndpoint,
    id: String,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// Resolution.

/// Default null tokens when `[input] null_values` is not given.
pub const DEFAULT_NULL_VALUES: &[&str] = &["", "NULL", "null", "NA", "N/A"];
/// Default longest record (1 MiB).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1 << 20;

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { path: path.into(), message: message.into() });
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The prefix of the environment variables an `env:` header reference may read; any other
/// name (and every `AWS_*` variable, the function's own credentials) is refused.
pub const SECRET_ENV_PREFIX: &str = "GRAPHETL_SECRET_";

/// Whether a header value is a secret reference (`env:`, `ssm:`, `secretsmanager:`), not a
/// `literal:`.
pub fn is_secret_reference(value: &str) -> bool {
    ["env:", "ssm:", "secretsmanager:"].iter().any(|p| value.starts_with(p))
}

/// Checks one header reference of dataset `dataset` against the rules the extract enforces:
/// `env:GRAPHETL_SECRET_*` only (never `AWS_*`), `ssm:/graphetl/<dataset>/…`,
/// `secretsmanager:graphetl/<dataset>/…`, or `literal:VALUE`. The error says why not.
pub fn check_header_reference(value: &str, dataset: &str) -> Result<(), String> {
    let scoped = |name: &str, prefix: String, kind: &str| {
        let rest = name.strip_prefix(prefix.as_str()).unwrap_or("");
        let segments_ok =
            !rest.is_empty() && rest.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
        if segments_ok {
            Ok(())
        } else {
            Err(format!(
                "{kind}:{name} is outside this dataset's secrets; expected {kind}:{prefix}NAME (a dataset reads only its own secrets)"
            ))
        }
    };
    match value.split_once(':') {
        Some(("literal", rest)) if !rest.is_empty() => Ok(()),
        Some(("env", name)) if !name.is_empty() => {
            if name.to_ascii_uppercase().starts_with("AWS_") {
                Err(format!(
                    "env:{name} is refused: AWS_* variables hold the function's own credentials and are never sent to a source"
                ))
            } else if name.len() > SECRET_ENV_PREFIX.len() && name.starts_with(SECRET_ENV_PREFIX) {
                Ok(())
            } else {
                Err(format!(
                    "env:{name} is refused: only variables named {SECRET_ENV_PREFIX}* can be read"
                ))
            }
        }
        Some(("ssm", name)) if !name.is_empty() => {
            scoped(name, format!("/graphetl/{dataset}/"), "ssm")
        }
        Some(("secretsmanager", name)) if !name.is_empty() => {
            scoped(name, format!("graphetl/{dataset}/"), "secretsmanager")
        }
        _ => Err("expected a reference such as \"env:GRAPHETL_SECRET_NAME\", \"ssm:/graphetl/<dataset>/NAME\" or \"secretsmanager:graphetl/<dataset>/NAME\" (secrets are never written inline), or \"literal:VALUE\" for a value that is not secret".to_owned()),
    }
}

/// The names of the `{secret.NAME}` placeholders of a URL template, in order.
pub fn url_secret_placeholders(url: &str) -> Vec<&str> {
    url.split("{secret.")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// The host of a URL (template), lowercase, without user info, port or IPv6 brackets.
pub fn url_host(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Whether `host` (as [`url_host`] gives it) is this machine: `localhost`, 127.0.0.0/8, `::1`.
pub fn is_loopback_host(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks a source URL template: `http` or `https`, and `https` whenever a header is a secret
/// reference, unless the host is loopback (cleartext that never leaves the machine).
pub fn check_source_url(url: &str, secret_headers: bool) -> Result<(), String> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let Some(host) = url_host(url) else {
        return Err(format!("\"{url}\" is not an http:// or https:// URL with a host"));
    };
    match scheme.as_deref() {
        Some("https") => Ok(()),
        Some("http") if !secret_headers || is_loopback_host(&host) => Ok(()),
        Some("http") => Err(format!(
            "http:// with a secret header or URL secret is refused (the secret would travel in cleartext to {host}); use https://"
        )),
        _ => Err(format!("\"{url}\" is not an http:// or https:// URL")),
    }
}

fn is_dataset_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

impl DatasetSpec {
    /// Parses and validates spec text; `origin` names the file in error messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<DatasetSpec, SpecError> {
        let fail = |path: String, message: String| SpecError {
            origin: origin.to_owned(),
            problems: vec![Problem { path, message }],
        };
        let deserializer = toml::Deserializer::parse(text)
            .map_err(|e| fail(String::new(), one_line(&e.to_string())))?;
        let raw: RawSpec = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            fail(path, one_line(e.into_inner().message()))
        })?;
        let mut problems = Problems(Vec::new());
        let spec = resolve(raw, &mut problems);
        if problems.0.is_empty() {
            Ok(spec)
        } else {
            Err(SpecError { origin: origin.to_owned(), problems: problems.0 })
        }
    }

    /// Looks a column up by output name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The SQL file paths referenced by the spec (relative to the spec file).
    pub fn sql_files(&self) -> impl Iterator<Item = &str> {
        self.queries.iter().map(|q| q.sql.as_str())
    }
}

fn one_line(message: &str) -> String {
    message.split('\n').map(str::trim_end).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" | ")
}

fn resolve(raw: RawSpec, problems: &mut Problems) -> DatasetSpec {
    if !is_dataset_name(&raw.name) {
        problems.add(
            "name",
            format!(
                "\"{}\" is not a valid dataset name; expected lowercase letters, digits and '-' (it is used in S3 keys and table names)",
                raw.name
            ),
        );
    }
    let source = resolve_source(raw.source, &raw.name, problems);
    let input = resolve_input(raw.input, problems);
    let columns = resolve_columns(raw.columns, &input, problems);
    let partition = raw.partition.and_then(|p| resolve_partition(p, &columns, problems));
    let queries = resolve_queries(raw.aggregate, problems);
    let graph = resolve_graph(raw.graph, &queries, problems);
    DatasetSpec {
        name: raw.name,
        description: raw.description,
        source,
        input,
        columns,
        partition,
        queries,
        graph,
    }
}

fn resolve_source(raw: Option<RawSource>, dataset: &str, problems: &mut Problems) -> Source {
    let Some(raw) = raw else { return Source::None };
    let only_for = |problems: &mut Problems, key: &str, present: bool, kind: &str| {
        if present {
            problems.add(format!("source.{key}"), format!("only allowed when kind = \"{kind}\""));
        }
    };
    match raw.kind.as_str() {
        "none" | "generator" => {
            for (key, present) in [
                ("url", raw.url.is_some()),
                ("records_path", raw.records_path.is_some()),
                ("cursor_path", raw.cursor_path.is_some()),
                ("headers", !raw.headers.is_empty()),
                ("url_secrets", !raw.url_secrets.is_empty()),
                ("rate_limit_per_second", raw.rate_limit_per_second.is_some()),
                ("timeout_seconds", raw.timeout_seconds.is_some()),
                ("max_attempts", raw.max_attempts.is_some()),
            ] {
                only_for(problems, key, present, "http");
            }
            if raw.kind == "none" {
                only_for(problems, "services", raw.services.is_some(), "generator");
                only_for(problems, "records_per_file", raw.records_per_file.is_some(), "http");
                Source::None
            } else {
                Source::Generator { services: raw.services.unwrap_or(40) }
            }
        }
        "http" => {
            only_for(problems, "services", raw.services.is_some(), "generator");
            let url = raw.url.unwrap_or_else(|| {
                problems.add("source.url", "missing; an http source needs a URL template");
                String::new()
            });
            for (name, value) in &raw.headers {
                if let Err(message) = check_header_reference(value, dataset) {
                    problems.add(format!("source.headers.{name}"), message);
                }
            }
            for (name, value) in &raw.url_secrets {
                if let Err(message) = check_header_reference(value, dataset) {
                    problems.add(format!("source.url_secrets.{name}"), message);
                }
                if !url.contains(&format!("{{secret.{name}}}")) {
                    problems.add(
                        format!("source.url_secrets.{name}"),
                        format!("not used: the URL has no {{secret.{name}}}"),
                    );
                }
            }
            for name in url_secret_placeholders(&url) {
                if !raw.url_secrets.contains_key(name) {
                    problems.add(
                        "source.url",
                        format!("{{secret.{name}}} is not declared in source.url_secrets"),
                    );
                }
            }
            let secret_headers =
                raw.headers.values().any(|v| is_secret_reference(v)) || !raw.url_secrets.is_empty();
            if !url.is_empty()
                && let Err(message) = check_source_url(&url, secret_headers)
            {
                problems.add("source.url", message);
            }
            let records_per_file = raw.records_per_file.unwrap_or(50_000);
            if records_per_file == 0 {
                problems.add("source.records_per_file", "must be at least 1");
            }
            let rate = raw.rate_limit_per_second.unwrap_or(0.0);
            if !(rate.is_finite() && rate >= 0.0) {
                problems.add("source.rate_limit_per_second", "expected a number ≥ 0");
            }
            Source::Http(HttpSource {
                url,
                records_path: raw.records_path.unwrap_or_default(),
                cursor_path: raw.cursor_path,
                records_per_file,
                headers: raw.headers,
                url_secrets: raw.url_secrets,
                rate_limit_per_second: rate,
                timeout_seconds: raw.timeout_seconds.unwrap_or(30),
                max_attempts: raw.max_attempts.unwrap_or(5),
            })
        }
        other => {
            problems.add(
                "source.kind",
                format!("unknown source kind \"{other}\"; expected one of http, generator, none"),
            );
            Source::None
        }
    }
}

fn resolve_input(raw: RawInput, problems: &mut Problems) -> InputSpec {
    let format = match raw.format.as_str() {
        "jsonl" | "json" | "ndjson" => InputFormat::JsonLines,
        "csv" => InputFormat::Csv,
        "parquet" => InputFormat::Parquet,
        other => {
            problems.add(
                "input.format",
                format!("unknown format \"{other}\"; expected one of jsonl, csv, parquet"),
            );
            InputFormat::JsonLines
        }
    };
    let csv_only = [
        ("delimiter", raw.delimiter.is_some()),
        ("header", raw.header.is_some()),
        ("field_names", raw.field_names.is_some()),
    ];
    if format != InputFormat::Csv {
        for (key, present) in csv_only {
            if present {
                problems.add(format!("input.{key}"), "only allowed when format = \"csv\"");
            }
        }
    }
    let delimiter = match raw.delimiter.as_deref() {
        None => b',',
        Some("\\t") | Some("\t") => b'\t',
        Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
        Some(d) => {
            problems.add(
                "input.delimiter",
                format!("\"{d}\" is not a single ASCII character; expected e.g. \",\", \";\", \"|\" or \"\\t\""),
            );
            b','
        }
    };
    let header = raw.header.unwrap_or(true);
    let field_names = raw.field_names.unwrap_or_default();
    if format == InputFormat::Csv && !header && field_names.is_empty() {
        problems.add(
            "input.field_names",
            "missing; a CSV without a header needs the names of its fields in file order",
        );
    }
    if header && !field_names.is_empty() {
        problems.add("input.field_names", "only allowed when header = false");
    }
    let on_bad_row = match raw.on_bad_row.as_deref() {
        None | Some("quarantine") => OnBadRow::Quarantine,
        Some("fail_file") => OnBadRow::FailFile,
        Some(other) => {
            problems.add(
                "input.on_bad_row",
                format!("unknown value \"{other}\"; expected quarantine or fail_file"),
            );
            OnBadRow::Quarantine
        }
    };
    let max_record_bytes = raw.max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES);
    if max_record_bytes < 1024 {
        problems.add("input.max_record_bytes", "must be at least 1024");
    }
    InputSpec {
        format,
        delimiter,
        header,
        field_names,
        null_values: raw
            .null_values
            .unwrap_or_else(|| DEFAULT_NULL_VALUES.iter().map(|s| (*s).to_owned()).collect()),
        on_bad_row,
        max_record_bytes,
    }
}

fn resolve_columns(raw: Vec<RawColumn>, input: &InputSpec, problems: &mut Problems) -> Vec<Column> {
    if raw.is_empty() {
        problems.add("columns", "at least one [[columns]] entry is needed");
    }
    let mut seen = BTreeSet::new();
    let mut columns = Vec::with_capacity(raw.len());
    for (i, col) in raw.into_iter().enumerate() {
        let at = |key: &str| format!("columns[{i}].{key}");
        if !is_identifier(&col.name) {
            problems.add(
                at("name"),
                format!(
                    "\"{}\" is not a valid column name; expected lowercase letters, digits and '_' (Athena lowercases names)",
                    col.name
                ),
            );
        } else if matches!(col.name.as_str(), "dt" | "hour") {
            problems.add(at("name"), format!("\"{}\" is reserved for partition columns", col.name));
        }
        if !seen.insert(col.name.clone()) {
            problems.add(at("name"), format!("duplicate column name \"{}\"", col.name));
        }
        let ty = match ColumnType::parse(&col.ty) {
            Ok(ty) => ty,
            Err(message) => {
                problems.add(at("type"), message);
                ColumnType::String
            }
        };
        let from = col.from.clone().unwrap_or_else(|| col.name.clone());
        if from.is_empty() {
            problems.add(at("from"), "must not be empty");
        }
        if input.format == InputFormat::Csv
            && !input.header
            && !input.field_names.iter().any(|f| f == &from)
        {
            problems.add(at("from"), format!("\"{from}\" is not one of input.field_names"));
        }
        let from_path = if input.format == InputFormat::JsonLines {
            from.split('.').map(str::to_owned).collect()
        } else {
            vec![from.clone()]
        };
        let converter = build_converter(&col, ty, &at, problems);
        let null_values = col.null_values.clone().unwrap_or_else(|| input.null_values.clone());
        let null_max_len = null_values.iter().map(String::len).max().unwrap_or(0);
        columns.push(Column {
            name: col.name,
            from,
            from_path,
            ty,
            required: col.required,
            null_values,
            null_max_len,
            converter,
        });
    }
    columns
}

fn build_converter(
    col: &RawColumn,
    ty: ColumnType,
    at: &dyn Fn(&str) -> String,
    problems: &mut Problems,
) -> Converter {
    let mut not_for = |key: &str, present: bool, types: &str| {
        if present {
            problems.add(at(key), format!("only allowed for {types} columns (this one is {ty})"));
        }
    };
    let is_time = matches!(ty, ColumnType::Date | ColumnType::Timestamp);
    not_for("formats", col.formats.is_some() && !is_time, "date and timestamp");
    not_for("true_values", col.true_values.is_some() && ty != ColumnType::Bool, "bool");
    not_for("false_values", col.false_values.is_some() && ty != ColumnType::Bool, "bool");
    let is_decimal = matches!(ty, ColumnType::Decimal { .. });
    not_for("currency_symbols", col.currency_symbols.is_some() && !is_decimal, "decimal");
    not_for("decimal_comma", col.decimal_comma.is_some() && !is_decimal, "decimal");
    not_for("separators", col.separators.is_some() && ty != ColumnType::ListString, "list<string>");
    not_for("allowed_values", col.allowed_values.is_some() && ty != ColumnType::String, "string");
    not_for("trim", col.trim.is_some() && ty != ColumnType::String, "string");

    match ty {
        ColumnType::String => Converter::String(StringRules {
            trim: col.trim.unwrap_or(false),
            allowed: col.allowed_values.clone(),
        }),
        ColumnType::Bool => {
            let tokens = BoolTokens::new(col.true_values.clone(), col.false_values.clone());
            if let Some(overlap) = tokens.overlap() {
                problems.add(
                    at("false_values"),
                    format!("\"{overlap}\" is both a true and a false value"),
                );
            }
            Converter::Bool(tokens)
        }
        ColumnType::Int => Converter::Int,
        ColumnType::Float => Converter::Float,
        ColumnType::Decimal { precision, scale } => {
            let format = DecimalFormat::new(
                precision,
                scale,
                col.currency_symbols.clone(),
                col.decimal_comma.unwrap_or(false),
            );
            if let Some(bad) = format.bad_symbol() {
                problems.add(
                    at("currency_symbols"),
                    format!("\"{bad}\" cannot be a currency symbol (it contains a digit, sign, separator or space)"),
                );
            }
            Converter::Decimal(format)
        }
        ColumnType::Date | ColumnType::Timestamp => {
            let defaults: &[&str] =
                if ty == ColumnType::Date { &["%Y-%m-%d"] } else { &["iso8601"] };
            let texts = col
                .formats
                .clone()
                .unwrap_or_else(|| defaults.iter().map(|s| (*s).to_owned()).collect());
            if texts.is_empty() {
                problems.add(at("formats"), "must list at least one format");
            }
            let mut formats = Vec::new();
            for (j, text) in texts.iter().enumerate() {
                match TimeFormat::parse(text) {
                    Ok(f) => formats.push(f),
                    Err(message) => problems.add(at(&format!("formats[{j}]")), message),
                }
            }
            let formats = TimeFormats::new(formats);
            if ty == ColumnType::Date {
                Converter::Date(formats)
            } else {
                Converter::Timestamp(formats)
            }
        }
        ColumnType::ListString => {
            let separators = col.separators.clone().unwrap_or_else(|| vec![",".to_owned()]);
            if separators.is_empty() || separators.iter().any(String::is_empty) {
                problems.add(at("separators"), "expected one or more non-empty separators");
            }
            Converter::List(ListFormat { separators })
        }
    }
}

fn resolve_partition(
    raw: RawPartition,
    columns: &[Column],
    problems: &mut Problems,
) -> Option<PartitionSpec> {
    let Some(dt_column) = columns.iter().position(|c| c.name == raw.dt_from) else {
        problems.add(
            "partition.dt_from",
            format!(
                "\"{}\" is not one of the columns; expected a date or timestamp column",
                raw.dt_from
            ),
        );
        return None;
    };
    let ty = columns[dt_column].ty;
    if !matches!(ty, ColumnType::Date | ColumnType::Timestamp) {
        problems.add(
            "partition.dt_from",
            format!("column \"{}\" is {ty}; expected a date or timestamp column", raw.dt_from),
        );
    }
    if raw.hour && ty != ColumnType::Timestamp {
        problems.add("partition.hour", "needs dt_from to be a timestamp column");
    }
    let max_partitions_per_file = match raw.max_partitions_per_file {
        None => DEFAULT_MAX_PARTITIONS_PER_FILE,
        Some(0) => {
            problems.add("partition.max_partitions_per_file", "must be at least 1");
            DEFAULT_MAX_PARTITIONS_PER_FILE
        }
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    Some(PartitionSpec { dt_column, hour: raw.hour, max_partitions_per_file })
}

fn resolve_queries(raw: Option<RawAggregate>, problems: &mut Problems) -> Vec<QuerySpec> {
    let Some(raw) = raw else { return Vec::new() };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, q) in raw.queries.into_iter().enumerate() {
        if !is_identifier(&q.name) {
            problems.add(
                format!("aggregate.queries[{i}].name"),
                format!(
                    "\"{}\" is not a valid result name; expected lowercase letters, digits and '_'",
                    q.name
                ),
            );
        }
        if !seen.insert(q.name.clone()) {
            problems.add(
                format!("aggregate.queries[{i}].name"),
                format!("duplicate query name \"{}\"", q.name),
            );
        }
        if q.sql.is_empty() || q.sql.starts_with('/') || q.sql.split('/').any(|s| s == "..") {
            problems.add(
                format!("aggregate.queries[{i}].sql"),
                format!("\"{}\" must be a relative path inside the spec's folder (no leading '/', no '..')", q.sql),
            );
        }
        out.push(QuerySpec { name: q.name, sql: q.sql });
    }
    out
}

fn resolve_graph(
    raw: Option<RawGraph>,
    queries: &[QuerySpec],
    problems: &mut Problems,
) -> GraphSpec {
    let Some(raw) = raw else { return GraphSpec::default() };
    let query_exists = |name: &str| queries.iter().any(|q| q.name == name);
    let template = |path: String, text: &str, problems: &mut Problems| {
        Template::parse(text).unwrap_or_else(|message| {
            problems.add(path, message);
            Template { text: text.to_owned(), parts: Vec::new() }
        })
    };
    let mut vertices = Vec::new();
    for (i, v) in raw.vertices.into_iter().enumerate() {
        let at = |key: &str| format!("graph.vertices[{i}].{key}");
        if !query_exists(&v.from_query) {
            problems.add(
                at("from_query"),
                format!("\"{}\" is not one of the aggregate queries", v.from_query),
            );
        }
        check_label(&v.label, &at("label"), problems);
        let id = template(at("id"), &v.id, problems);
        vertices.push(VertexSpec {
            from_query: v.from_query,
            label: v.label,
            id,
            properties: v.properties,
        });
    }
    let labels: BTreeSet<&str> = vertices.iter().map(|v| v.label.as_str()).collect();
    let mut edges = Vec::new();
    for (i, e) in raw.edges.into_iter().enumerate() {
        let at = |key: &str| format!("graph.edges[{i}].{key}");
        if !query_exists(&e.from_query) {
            problems.add(
                at("from_query"),
                format!("\"{}\" is not one of the aggregate queries", e.from_query),
            );
        }
        check_label(&e.label, &at("label"), problems);
        for (key, end) in [("out_v", &e.out_v), ("in_v", &e.in_v)] {
            if !labels.contains(end.label.as_str()) {
                problems.add(
                    at(&format!("{key}.label")),
                    format!("\"{}\" is not the label of any [[graph.vertices]]", end.label),
                );
            }
        }
        let out_v = EndpointSpec {
            id: template(at("out_v.id"), &e.out_v.id, problems),
            label: e.out_v.label,
        };
        let in_v =
            EndpointSpec { id: template(at("in_v.id"), &e.in_v.id, problems), label: e.in_v.label };
        let id = template(at("id"), &e.id, problems);
        edges.push(EdgeSpec {
            from_query: e.from_query,
            label: e.label,
            out_v,
            in_v,
            id,
            properties: e.properties,
        });
    }
    GraphSpec { vertices, edges }
}

fn check_label(label: &str, path: &str, problems: &mut Problems) {
    let ok = !label.is_empty()
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && label.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !ok {
        problems.add(path, format!("\"{label}\" is not a valid label; expected letters, digits and '_', starting with a letter"));
    }
}
