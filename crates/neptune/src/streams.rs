//! Neptune Streams: read the change log at `<endpoint>/propertygraph/stream`, and keep a
//! checkpoint so the next read starts after the last change seen.
//!
//! Requests go through [`NeptuneClient::get`], so they are signed (SigV4 for `neptune-db`) and
//! retried like Gremlin requests: `ThrottlingException` backs off, `MemoryLimitExceededException`
//! retries slowly, everything else is final. Two answers are not errors for a reader:
//! `StreamRecordsNotFoundException` (HTTP 404) means no new records, and
//! `ExpiredStreamException` means the checkpoint is older than the stream's retention, so
//! [`StreamReader::poll`] starts again from `TRIM_HORIZON` and says so in
//! [`Poll::warnings`] (changes in between are lost to the reader; the caller decides whether to
//! re-seed).
//!
//! The checkpoint file is JSON `{"commitNum": N, "opNum": M}`, written to a temporary file in
//! the same folder and renamed over the old one, so a crash leaves the old or the new checkpoint,
//! never half of one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use graphetl_core::ErrorName;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::{NeptuneClient, NeptuneError};

/// The most records one request may ask for.
pub const MAX_LIMIT: u32 = 100_000;

/// A position in the stream: a transaction's commit number and an operation within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventId {
    /// The transaction's commit number.
    pub commit_num: u64,
    /// The operation within the transaction (from 1).
    pub op_num: u64,
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.commit_num, self.op_num)
    }
}

/// Where a read starts (`iteratorType` with `commitNum`/`opNum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// `AT_SEQUENCE_NUMBER`: this event and the ones after it.
    At(EventId),
    /// `AFTER_SEQUENCE_NUMBER`: the events after this one.
    After(EventId),
    /// `TRIM_HORIZON`: the oldest record not yet expired.
    TrimHorizon,
    /// `LATEST`: the most recent record (at most one).
    Latest,
}

impl Position {
    /// The query string (without `?`) for a read of at most `limit` records (clamped to
    /// 1..=[`MAX_LIMIT`]).
    pub fn query(&self, limit: u32) -> String {
        let limit = limit.clamp(1, MAX_LIMIT);
        match self {
            Position::At(id) => format!(
                "limit={limit}&iteratorType=AT_SEQUENCE_NUMBER&commitNum={}&opNum={}",
                id.commit_num, id.op_num
            ),
            Position::After(id) => format!(
                "limit={limit}&iteratorType=AFTER_SEQUENCE_NUMBER&commitNum={}&opNum={}",
                id.commit_num, id.op_num
            ),
            Position::TrimHorizon => format!("limit={limit}&iteratorType=TRIM_HORIZON"),
            Position::Latest => format!("limit={limit}&iteratorType=LATEST"),
        }
    }
}

/// A typed value in a change record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamValue {
    /// The value as JSON (a string, a number, a boolean).
    pub value: Value,
    /// Neptune's type name (`String`, `Long`, `Double`, `Date`, …).
    pub data_type: String,
}

/// What changed: a vertex label (`vl`), vertex property (`vp`), edge (`e`) or edge property
/// (`ep`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamData {
    /// The vertex or edge id.
    pub id: String,
    /// `vl`, `vp`, `e` or `ep`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The property name (`label` for labels).
    pub key: String,
    /// The label or property value.
    pub value: StreamValue,
    /// An edge's out-vertex id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// An edge's in-vertex id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// Whether a record adds or removes what its data describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Op {
    /// Added (an update is a `REMOVE` of the old value and an `ADD` of the new one).
    Add,
    /// Removed.
    Remove,
}

/// One change record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamRecord {
    /// When the transaction committed (ms since the epoch).
    pub commit_timestamp: i64,
    /// The record's position.
    pub event_id: EventId,
    /// What changed.
    pub data: StreamData,
    /// `ADD` or `REMOVE`.
    pub op: Op,
    /// True on the last operation of a transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_last_op: Option<bool>,
}

/// One answer of `/propertygraph/stream`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamResponse {
    /// The position of the last record returned.
    pub last_event_id: EventId,
    /// When the last transaction returned committed (ms since the epoch).
    pub last_trx_timestamp: i64,
    /// `PG_JSON` for property graphs.
    pub format: String,
    /// The records.
    pub records: Vec<StreamRecord>,
    /// How many records were returned.
    pub total_records: u64,
}

/// Parses an answer of `/propertygraph/stream`.
pub fn parse_stream_response(body: &[u8]) -> Result<StreamResponse, String> {
    serde_json::from_slice(body).map_err(|e| format!("not a stream response: {e}"))
}

/// Why the stream could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Neptune refused or failed (after the retries its class allows).
    #[error("reading the Neptune stream: {0}")]
    Neptune(#[from] NeptuneError),
    /// A 2xx answer that is not a stream response.
    #[error("unexpected answer from the Neptune stream: {0}")]
    BadResponse(String),
    /// The checkpoint file could not be read or written.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl StreamError {
    /// The stable error name: Neptune's (throttled, transient, …), else `Internal`.
    pub fn error_name(&self) -> ErrorName {
        match self {
            StreamError::Neptune(error) => error.error_name(),
            StreamError::BadResponse(_) | StreamError::Checkpoint { .. } => ErrorName::Internal,
        }
    }
}

/// Reads the checkpoint at `path`; `None` when the file does not exist.
pub fn read_checkpoint(path: &Path) -> Result<Option<EventId>, StreamError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StreamError::Checkpoint { path: path.to_owned(), message: e.to_string() });
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|e| StreamError::Checkpoint {
        path: path.to_owned(),
        message: format!("not {{\"commitNum\": N, \"opNum\": M}}: {e}"),
    })
}

/// Writes the checkpoint at `path` atomically (a temporary file in the same folder, renamed).
pub fn write_checkpoint(path: &Path, id: &EventId) -> Result<(), StreamError> {
    let error = |message: String| StreamError::Checkpoint { path: path.to_owned(), message };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| error("not a file name".into()))?;
    let mut temporary = name.to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = dir.join(temporary);
    let text = serde_json::to_string(id).map_err(|e| error(e.to_string()))?;
    std::fs::write(&temporary, text).map_err(|e| error(format!("writing: {e}")))?;
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        error(format!("renaming into place: {e}"))
    })
}

/// What one read gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Poll {
    /// Where the read started (after a reset, `TRIM_HORIZON`).
    pub position: Position,
    /// The answer; `None` when there were no records (`StreamRecordsNotFoundException`).
    pub response: Option<StreamResponse>,
    /// Things the caller should show (a reset after `ExpiredStreamException`).
    pub warnings: Vec<String>,
    /// HTTP requests made, retries included.
    pub attempts: u32,
}

impl Poll {
    /// The records read (none when there were none).
    pub fn records(&self) -> &[StreamRecord] {
        self.response.as_ref().map_or(&[], |r| r.records.as_slice())
    }
}

/// A stream reader: a client, a page size and an optional checkpoint file.
#[derive(Debug, Clone)]
pub struct StreamReader {
    client: Arc<NeptuneClient>,
    limit: u32,
    checkpoint: Option<PathBuf>,
}

impl StreamReader {
    /// A reader asking for at most `limit` records per request (clamped to 1..=[`MAX_LIMIT`]).
    pub fn new(client: Arc<NeptuneClient>, limit: u32) -> StreamReader {
        StreamReader { client, limit: limit.clamp(1, MAX_LIMIT), checkpoint: None }
    }

    /// Keeps the position in `path`: [`StreamReader::poll`] starts after it and advances it.
    pub fn with_checkpoint(mut self, path: impl Into<PathBuf>) -> StreamReader {
        self.checkpoint = Some(path.into());
        self
    }

    /// One read from `position`. No records is `Ok` with no response; an expired position is
    /// read again from `TRIM_HORIZON`, with a warning.
    pub async fn read(&self, position: Position) -> Result<Poll, StreamError> {
        let mut attempts = 0;
        let mut warnings = Vec::new();
        let mut position = position;
        loop {
            let path = format!("/propertygraph/stream?{}", position.query(self.limit));
            match self.client.get(&path).await {
                Ok(sent) => {
                    attempts += sent.attempts;
                    let response =
                        parse_stream_response(&sent.body).map_err(StreamError::BadResponse)?;
                    return Ok(Poll { position, response: Some(response), warnings, attempts });
                }
                Err(error) => {
                    attempts += error.attempts();
                    match error.code() {
                        Some("StreamRecordsNotFoundException") => {
                            return Ok(Poll { position, response: None, warnings, attempts });
                        }
                        Some("ExpiredStreamException") if position != Position::TrimHorizon => {
                            warnings.push(format!(
                                "the stream position {} has expired (older than the stream's retention); reading again from TRIM_HORIZON, so changes in between are not seen",
                                describe(&position)
                            ));
                            position = Position::TrimHorizon;
                        }
                        _ => return Err(StreamError::Neptune(error)),
                    }
                }
            }
        }
    }

    /// Reads after the checkpoint (from `TRIM_HORIZON` without one) and, when records came,
    /// moves the checkpoint to the last one. Without a checkpoint file, reads from
    /// `TRIM_HORIZON` every time.
    pub async fn poll(&self) -> Result<Poll, StreamError> {
        let start = match &self.checkpoint {
            Some(path) => read_checkpoint(path)?,
            None => None,
        };
        let position = start.map_or(Position::TrimHorizon, Position::After);
        let poll = self.read(position).await?;
        if let (Some(path), Some(response)) = (&self.checkpoint, &poll.response)
            && !response.records.is_empty()
        {
            write_checkpoint(path, &response.last_event_id)?;
        }
        Ok(poll)
    }
}

fn describe(position: &Position) -> String {
    match position {
        Position::At(id) => format!("AT {id}"),
        Position::After(id) => format!("AFTER {id}"),
        Position::TrimHorizon => "TRIM_HORIZON".into(),
        Position::Latest => "LATEST".into(),
    }
}
