//! The JSON contracts between states: Map items, Lambda events and their responses.
//!
//! These shapes are what the ASL passes around (`ItemSelector`, `ResultPath`), so a change here
//! is a change of the state machine's interface: keep fields stable, add rather than rename.
//! Fixture round-trip tests pin them.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

mod aggregate;
pub use aggregate::{
    AggregateEvent, AggregateOutput, AggregatePlan, AggregatePlanRequest, AggregateQueryRequest,
    ChunkRef, PlannedQuery, ResultValue, Row,
};

/// One Map item of the TransformFiles step: the event of the `transform` Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformItem {
    /// Bucket holding the raw file (and the curated and quarantine outputs).
    pub bucket: String,
    /// Key of the raw file.
    pub key: String,
    /// Dataset name; its spec is read from `datasets/<dataset>.toml` in the bucket.
    pub dataset: String,
    /// The run (execution name) this item belongs to; carried into logs.
    pub run_id: String,
}

/// One object written by the transform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    /// Object key.
    pub key: String,
    /// Hive partition path, e.g. `dt=2026-11-20/hour=03` (empty when unpartitioned).
    pub partition: String,
    /// Rows in the object.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// How many curated objects a [`FileResult`] lists by name.
pub const MAX_LISTED_OUTPUTS: usize = 20;

/// What the transform did with one file: the response of the `transform` Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileResult {
    /// Bucket of the raw file.
    pub bucket: String,
    /// Key of the raw file.
    pub key: String,
    /// Dataset name.
    pub dataset: String,
    /// Rows read (data rows, header excluded).
    pub rows_in: u64,
    /// Rows written to curated Parquet.
    pub rows_written: u64,
    /// Rows sent to quarantine (`rows_in = rows_written + rows_rejected`).
    pub rows_rejected: u64,
    /// Size of the raw file in bytes.
    pub bytes_in: u64,
    /// Curated Parquet objects, one per partition present in the file: the first
    /// [`MAX_LISTED_OUTPUTS`] in key order, so that a batch of results stays far below Step
    /// Functions' 256 KiB payload limit even for a file spanning years of hourly partitions
    /// (all of them are under `curated/<dataset>/`; `output_files` counts them).
    pub outputs: Vec<OutputFile>,
    /// Curated Parquet objects written in all (`outputs` lists at most [`MAX_LISTED_OUTPUTS`]).
    #[serde(default)]
    pub output_files: u64,
    /// The quarantine object, when any row was rejected.
    pub quarantine: Option<OutputFile>,
    /// Spec columns whose input field is absent from the file's header or schema (all null).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_fields: Vec<String>,
}

/// One Map item of the LoadResults step: the event of the `load` Lambda, one result chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadChunk {
    /// Bucket holding the chunk (and `datasets/<dataset>.toml`).
    pub bucket: String,
    /// Key of a result chunk written by the aggregate step (typed-header CSV).
    pub key: String,
    /// The result (aggregate query) name the chunk belongs to; picks the `[graph]` mappings.
    pub query: String,
    /// Dataset name; its spec is read from `datasets/<dataset>.toml` in the bucket.
    pub dataset: String,
    /// The run (execution name) this item belongs to; carried into logs.
    pub run_id: String,
    /// Which elements to load from the chunk: the pipeline loads every chunk's vertices before
    /// any chunk's edges, since an edge needs both of its vertices.
    #[serde(default)]
    pub phase: LoadPhase,
}

/// Which elements a load invocation writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LoadPhase {
    /// Vertices, then edges (for a chunk loaded on its own).
    #[default]
    All,
    /// Only the vertices the chunk's rows map to.
    Vertices,
    /// Only the edges (their vertices must already exist).
    Edges,
}

/// What the load did with one chunk: the response of the `load` Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LoadResult {
    /// The result name of the chunk.
    pub query: String,
    /// Key of the chunk.
    pub key: String,
    /// Vertices upserted (created or matched).
    pub vertices: u64,
    /// Edges upserted (created or matched).
    pub edges: u64,
    /// Records written (a label or a property each).
    pub records: u64,
    /// Requests sent to Neptune (0 for a local sink).
    pub requests: u64,
    /// Retries of those requests (attempts beyond the first).
    pub retries: u64,
    /// Rows the `[graph]` mapping rejected (logged with their reasons, not loaded).
    pub rejected_rows: u64,
    /// How the chunk was written: Gremlin upserts, or a Neptune bulk-loader job.
    #[serde(default)]
    pub path: LoadPath,
    /// The loader job id when `path` is `bulk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_load_id: Option<String>,
}

/// How a load wrote its chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LoadPath {
    /// Batched `mergeV`/`mergeE` requests (or the local graph).
    #[default]
    Upsert,
    /// CSV files in S3 and a `/loader` job (chunks at or above the bulk threshold).
    Bulk,
}

/// The event of the `extract` Lambda: page the dataset's source over one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractRequest {
    /// Dataset name; its spec is read from `datasets/<dataset>.toml` in the bucket.
    pub dataset: String,
    /// The time window to extract, `[start, end)`.
    pub window: Window,
    /// Bucket holding the spec and receiving the raw files.
    pub bucket: String,
    /// The run (execution name); carried into logs.
    pub run_id: String,
}

/// What the extract wrote: the response of the `extract` Lambda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExtractResult {
    /// Prefix that lists exactly the raw files of this window (the transform step's input).
    pub prefix: String,
    /// Raw files written (or, for a `none` source, found under the prefix).
    pub files: u64,
    /// Records written.
    pub records: u64,
    /// Pages fetched from the source (0 for the generator and `none`).
    pub pages: u64,
    /// Requests retried (429, 5xx, timeouts), over all pages.
    #[serde(default)]
    pub retries: u64,
    /// Milliseconds slept before those retries (what `Retry-After` asked, or the backoff).
    #[serde(default)]
    pub retry_wait_ms: u64,
    /// Milliseconds the source's rate limit held requests back.
    #[serde(default)]
    pub rate_limit_wait_ms: u64,
}

/// The half-open time window `[start, end)` of a run, in UTC.
///
/// It is written either as `{"start": T, "end": T}` (manual runs, reprocessing) or as
/// `{"end": T, "duration": D}` (EventBridge Scheduler: `end` is `<aws.scheduler.scheduled-time>`
/// and `D` the template's ISO-8601 `WindowDuration` such as `"PT1H"`, or a number of seconds).
/// Times are RFC 3339 with an offset. It serializes back in the form it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawWindow", into = "RawWindow")]
pub struct Window {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    raw: RawWindow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    end: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duration: Option<RawDuration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum RawDuration {
    Seconds(u64),
    Iso(String),
}

/// Why a window is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid window: {0}")]
pub struct WindowError(String);

fn rfc3339(text: &str, what: &str) -> Result<DateTime<Utc>, WindowError> {
    DateTime::parse_from_rfc3339(text.trim()).map(|t| t.with_timezone(&Utc)).map_err(|e| {
        WindowError(format!(
            "{what} \"{text}\" is not an RFC 3339 time with an offset such as 2026-11-20T03:00:00Z ({e})"
        ))
    })
}

/// Parses an ISO-8601 duration of days, hours, minutes and seconds (`P1D`, `PT1H`, `PT15M`,
/// `P1DT12H`, `PT90S`) into seconds.
pub fn parse_iso_duration(text: &str) -> Result<u64, WindowError> {
    let bad = || {
        WindowError(format!(
            "duration \"{text}\" is not an ISO-8601 duration such as PT1H, PT15M or P1D"
        ))
    };
    let rest = text.trim().strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return Err(bad()),
        None => (rest, None),
    };
    let mut total: u64 = 0;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, u64)]| -> Result<(), WindowError> {
        let mut number = String::new();
        let mut last_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let at = units.iter().position(|(u, _)| *u == c).ok_or_else(bad)?;
            if number.is_empty() || at < last_unit {
                return Err(bad());
            }
            last_unit = at + 1;
            let n: u64 = number.parse().map_err(|_| bad())?;
            total =
                n.checked_mul(units[at].1).and_then(|s| total.checked_add(s)).ok_or_else(bad)?;
            number.clear();
            any = true;
        }
        if number.is_empty() { Ok(()) } else { Err(bad()) }
    };
    take(date, &[('W', 7 * 86_400), ('D', 86_400)])?;
    if let Some(time) = time {
        take(time, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    }
    if any { Ok(total) } else { Err(bad()) }
}

fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl Window {
    /// The window `[start, end)`; `end` must be after `start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Window, WindowError> {
        let raw =
            RawWindow { start: Some(format_time(start)), end: format_time(end), duration: None };
        Window::check(start, end, raw)
    }

    /// Parses `START/END`, `START/DURATION` or `DURATION/END` (ISO-8601 interval forms).
    pub fn parse_interval(text: &str) -> Result<Window, WindowError> {
        let (a, b) = text.split_once('/').ok_or_else(|| {
            WindowError(format!(
                "\"{text}\" is not START/END (e.g. 2026-11-20T03:00:00Z/2026-11-20T06:00:00Z), START/DURATION or DURATION/END"
            ))
        })?;
        let (a, b) = (a.trim(), b.trim());
        if a.starts_with('P') {
            let end = rfc3339(b, "end")?;
            let seconds = parse_iso_duration(a)?;
            let start = end - seconds_delta(seconds)?;
            Window::new(start, end)
        } else if b.starts_with('P') {
            let start = rfc3339(a, "start")?;
            let seconds = parse_iso_duration(b)?;
            Window::new(start, start + seconds_delta(seconds)?)
        } else {
            Window::new(rfc3339(a, "start")?, rfc3339(b, "end")?)
        }
    }

    fn check(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        raw: RawWindow,
    ) -> Result<Window, WindowError> {
        if end <= start {
            return Err(WindowError(format!(
                "end {} is not after start {}",
                format_time(end),
                format_time(start)
            )));
        }
        Ok(Window { start, end, raw })
    }

    /// The first instant of the window (inclusive).
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The end of the window (exclusive).
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// The window's length.
    pub fn duration(&self) -> TimeDelta {
        self.end - self.start
    }

    /// Whether `t` lies in `[start, end)`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

fn seconds_delta(seconds: u64) -> Result<TimeDelta, WindowError> {
    i64::try_from(seconds)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .ok_or_else(|| WindowError(format!("duration of {seconds} seconds is too long")))
}

impl TryFrom<RawWindow> for Window {
    type Error = WindowError;

    fn try_from(raw: RawWindow) -> Result<Window, WindowError> {
        let end = rfc3339(&raw.end, "end")?;
        let start = match (&raw.start, &raw.duration) {
            (Some(start), None) => rfc3339(start, "start")?,
            (None, Some(duration)) => {
                let seconds = match duration {
                    RawDuration::Seconds(s) => *s,
                    RawDuration::Iso(text) => match text.trim().parse::<u64>() {
                        Ok(s) => s,
                        Err(_) => parse_iso_duration(text)?,
                    },
                };
                end - seconds_delta(seconds)?
            }
            (Some(_), Some(_)) => {
                return Err(WindowError("give either start or duration with end, not both".into()));
            }
            (None, None) => {
                return Err(WindowError(
                    "missing start or duration: expected {start, end} or {end, duration}".into(),
                ));
            }
        };
        Window::check(start, end, raw)
    }
}

impl From<Window> for RawWindow {
    fn from(window: Window) -> RawWindow {
        window.raw
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", format_time(self.start), format_time(self.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_item_fixture_round_trips() -> Result<(), serde_json::Error> {
        let fixture = include_str!("../fixtures/transform-item.json");
        let item: TransformItem = serde_json::from_str(fixture)?;
        assert_eq!(item.key, "raw/service-calls/dt=2026-11-20/hour=03/part-00000.json.gz");
        let back: serde_json::Value = serde_json::to_value(&item)?;
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        Ok(())
    }

    #[test]
    fn transform_item_rejects_unknown_and_missing_fields() {
        let unknown = r#"{"bucket":"b","key":"k","dataset":"d","run_id":"r","extra":1}"#;
        assert!(serde_json::from_str::<TransformItem>(unknown).is_err());
        let missing = r#"{"bucket":"b","key":"k","run_id":"r"}"#;
        let e = serde_json::from_str::<TransformItem>(missing).err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("dataset")));
    }

    #[test]
    fn file_result_fixture_round_trips() -> Result<(), serde_json::Error> {
        let fixture = include_str!("../fixtures/file-result.json");
        let result: FileResult = serde_json::from_str(fixture)?;
        assert_eq!(result.rows_in, result.rows_written + result.rows_rejected);
        let back: serde_json::Value = serde_json::to_value(&result)?;
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        Ok(())
    }

    #[test]
    fn load_chunk_fixture_round_trips() -> Result<(), serde_json::Error> {
        let fixture = include_str!("../fixtures/load-chunk.json");
        let item: LoadChunk = serde_json::from_str(fixture)?;
        assert_eq!(item.query, "edges");
        let back: serde_json::Value = serde_json::to_value(&item)?;
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        Ok(())
    }

    #[test]
    fn load_chunk_rejects_unknown_and_missing_fields() {
        let unknown = r#"{"bucket":"b","key":"k","query":"q","dataset":"d","run_id":"r","x":1}"#;
        assert!(serde_json::from_str::<LoadChunk>(unknown).is_err());
        let missing = r#"{"bucket":"b","key":"k","dataset":"d","run_id":"r"}"#;
        let e = serde_json::from_str::<LoadChunk>(missing).err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("query")));
    }

    #[test]
    fn load_result_fixture_round_trips() -> Result<(), serde_json::Error> {
        let fixture = include_str!("../fixtures/load-result.json");
        let result: LoadResult = serde_json::from_str(fixture)?;
        assert_eq!(result.records, 7 * result.edges);
        let back: serde_json::Value = serde_json::to_value(&result)?;
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        let unknown = fixture.replacen('{', r#"{"extra":1,"#, 1);
        assert!(serde_json::from_str::<LoadResult>(&unknown).is_err());
        Ok(())
    }

    #[test]
    fn extract_request_fixtures_round_trip_in_both_window_forms() -> Result<(), serde_json::Error> {
        for (fixture, start) in [
            (include_str!("../fixtures/extract-request.json"), "2026-11-20T03:00:00+00:00"),
            (
                include_str!("../fixtures/extract-request-scheduled.json"),
                "2026-11-20T03:00:00+00:00",
            ),
        ] {
            let request: ExtractRequest = serde_json::from_str(fixture)?;
            assert_eq!(request.window.start().to_rfc3339(), start);
            assert_eq!(request.window.end().to_rfc3339(), "2026-11-20T04:00:00+00:00");
            let back: serde_json::Value = serde_json::to_value(&request)?;
            assert_eq!(back, serde_json::from_str::<serde_json::Value>(fixture)?);
        }
        Ok(())
    }

    #[test]
    fn window_accepts_what_the_scheduler_sends() -> Result<(), serde_json::Error> {
        // infra/template.yaml: {"end": "<aws.scheduler.scheduled-time>", "duration": "${WindowDuration}"}
        for (duration, hours) in [
            (r#""PT1H""#, 1),
            (r#""P1D""#, 24),
            (r#""P1DT12H""#, 36),
            ("7200", 2),
            (r#""3600""#, 1),
        ] {
            let text = format!(r#"{{"end":"2026-11-20T04:00:00Z","duration":{duration}}}"#);
            let window: Window = serde_json::from_str(&text)?;
            assert_eq!(window.duration(), TimeDelta::hours(hours), "{duration}");
        }
        let offset: Window = serde_json::from_str(
            r#"{"start":"2026-11-20T12:00:00+09:00","end":"2026-11-20T04:00:00Z"}"#,
        )?;
        assert_eq!(offset.start().to_rfc3339(), "2026-11-20T03:00:00+00:00");
        Ok(())
    }

    #[test]
    fn window_rejects_bad_shapes_with_a_reason() {
        let cases = [
            (r#"{"end":"2026-11-20T04:00:00Z"}"#, "missing start or duration"),
            (
                r#"{"start":"2026-11-20T03:00:00Z","end":"2026-11-20T04:00:00Z","duration":"PT1H"}"#,
                "not both",
            ),
            (r#"{"start":"2026-11-20T05:00:00Z","end":"2026-11-20T04:00:00Z"}"#, "is not after"),
            (r#"{"end":"2026-11-20T04:00:00Z","duration":"1 hour"}"#, "not an ISO-8601 duration"),
            (r#"{"end":"2026-11-20T04:00:00Z","duration":"PT"}"#, "not an ISO-8601 duration"),
            (r#"{"end":"2026-11-20 04:00","duration":"PT1H"}"#, "not an RFC 3339 time"),
            (r#"{"end":"2026-11-20T04:00:00Z","duration":"PT1H","x":1}"#, "unknown field"),
        ];
        for (text, expected) in cases {
            let message = serde_json::from_str::<Window>(text).err().map(|e| e.to_string());
            assert!(
                message.as_deref().is_some_and(|m| m.contains(expected)),
                "{text}: {message:?}"
            );
        }
    }

    #[test]
    fn window_intervals_parse_in_three_forms() -> Result<(), WindowError> {
        let expected = "2026-11-20T03:00:00Z/2026-11-20T06:00:00Z";
        for text in [expected, "2026-11-20T03:00:00Z/PT3H", "PT3H/2026-11-20T06:00:00Z"] {
            assert_eq!(Window::parse_interval(text)?.to_string(), expected);
        }
        assert!(Window::parse_interval("2026-11-20T03:00:00Z").is_err());
        Ok(())
    }

    #[test]
    fn extract_result_rejects_unknown_fields() -> Result<(), serde_json::Error> {
        let text =
            r#"{"prefix":"raw/d/dt=2026-11-20/hour=03/part-","files":2,"records":3,"pages":4}"#;
        let result: ExtractResult = serde_json::from_str(text)?;
        assert_eq!((result.files, result.records, result.pages), (2, 3, 4));
        assert!(serde_json::from_str::<ExtractResult>(&text.replace('}', r#","x":1}"#)).is_err());
        Ok(())
    }
}
