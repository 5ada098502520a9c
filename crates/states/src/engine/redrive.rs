//! Redrive (`RedriveExecution`): a FAILED or TIMED_OUT Standard execution continues, under the
//! same ARN, input and definition, from the state it stopped in, appending to the same history
//! (`ExecutionRedriven`, whose events count against the same 25,000-event quota). States that
//! had finished do not run again; inside the state it stopped in, a Parallel runs again only
//! its unfinished branches, an inline Map only its unfinished iterations, and a Distributed Map
//! redrives its Map Run (`MapRunRedriven`): succeeded children stand, failed Standard children
//! are redriven in turn, Express ones start again, and children never started start.
//!
//! AWS's rules for what can be redriven are checked here, with AWS's reasons: not a succeeded
//! execution, not an Express one, within 14 days of its end, and with fewer than 24,999 events.
//! The engine keeps a record of every execution that can be redriven; [`Engine::export_records`]
//! and [`Engine::import_records`] carry them to a later process (`graphetl redrive --local`).

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::execution::Ctx;
use super::progress::Progress;
use super::{Engine, Execution, Status};
use crate::asl::StateMachine;
use crate::history::History;

/// How long after its end an execution can be redriven: 14 days.
pub const REDRIVE_WINDOW_MILLIS: i64 = 14 * 24 * 3600 * 1000;

/// An execution is redrivable only with fewer events than this in its history.
const REDRIVE_HISTORY_LIMIT: usize = 24_999;

/// Why a redrive did not start (the `RedriveExecution` errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedriveError {
    /// No execution has this ARN (`ExecutionDoesNotExist`).
    #[error("Execution Does Not Exist: '{0}'")]
    DoesNotExist(String),
    /// The execution cannot be redriven (`ExecutionNotRedrivable`), with AWS's reason.
    #[error("Execution {arn} cannot be redriven: {reason}")]
    NotRedrivable {
        /// The execution.
        arn: String,
        /// AWS's `redriveStatusReason`.
        reason: String,
    },
    /// Saved records that this engine cannot read back.
    #[error("saved executions cannot be read: {0}")]
    BadRecords(String),
}

impl RedriveError {
    /// The API's error code (`ExecutionDoesNotExist`, `ExecutionNotRedrivable`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            RedriveError::DoesNotExist(_) => "ExecutionDoesNotExist",
            RedriveError::NotRedrivable { .. } => "ExecutionNotRedrivable",
            RedriveError::BadRecords(_) => "ValidationException",
        }
    }
}

/// What a redrive needs of one finished execution.
#[derive(Debug, Clone)]
pub(super) struct Record {
    pub(super) machine_name: String,
    pub(super) name: String,
    pub(super) arn: String,
    pub(super) machine_arn: String,
    pub(super) input: Value,
    pub(super) status: Status,
    pub(super) start_millis: i64,
    pub(super) stop_millis: i64,
    pub(super) redrive_count: u32,
    pub(super) redrive_iso: Option<String>,
    pub(super) express: bool,
    pub(super) history: History,
    pub(super) progress: Progress,
}

/// A record as saved to JSON.
#[derive(Serialize, Deserialize)]
struct SavedRecord {
    machine_name: String,
    name: String,
    arn: String,
    machine_arn: String,
    input: Value,
    status: String,
    start_millis: i64,
    stop_millis: i64,
    redrive_count: u32,
    redrive_iso: Option<String>,
    express: bool,
    history_limit: usize,
    history: Value,
    progress: Progress,
}

impl Record {
    /// The record of a finished execution.
    pub(super) fn of(
        execution: &Execution,
        machine_name: &str,
        express: bool,
        redrive_iso: Option<String>,
        progress: Progress,
    ) -> Record {
        Record {
            machine_name: machine_name.to_owned(),
            name: execution.name.clone(),
            arn: execution.arn.clone(),
            machine_arn: execution.state_machine_arn.clone(),
            input: execution.input.clone(),
            status: execution.status,
            start_millis: execution.start_millis,
            stop_millis: execution.stop_millis,
            redrive_count: execution.redrive_count,
            redrive_iso,
            express,
            history: execution.history.clone(),
            progress,
        }
    }

    /// Why this execution cannot be redriven at `now`, in AWS's words; `None` if it can.
    pub(super) fn not_redrivable(&self, now_millis: i64) -> Option<&'static str> {
        if self.status == Status::Succeeded {
            Some("Execution is SUCCEEDED and cannot be redriven")
        } else if self.express {
            Some("Execution is EXPRESS and cannot be redriven")
        } else if self.history.len() >= REDRIVE_HISTORY_LIMIT {
            Some("Execution history event limit exceeded")
        } else if now_millis.saturating_sub(self.stop_millis) > REDRIVE_WINDOW_MILLIS {
            Some("Execution redrivable period exceeded")
        } else {
            None
        }
    }

    fn save(&self) -> SavedRecord {
        SavedRecord {
            machine_name: self.machine_name.clone(),
            name: self.name.clone(),
            arn: self.arn.clone(),
            machine_arn: self.machine_arn.clone(),
            input: self.input.clone(),
            status: self.status.as_str().to_owned(),
            start_millis: self.start_millis,
            stop_millis: self.stop_millis,
            redrive_count: self.redrive_count,
            redrive_iso: self.redrive_iso.clone(),
            express: self.express,
            history_limit: self.history.limit(),
            history: self.history.to_json(),
            progress: self.progress.clone(),
        }
    }

    fn load(saved: SavedRecord) -> Result<Record, RedriveError> {
        let status = match saved.status.as_str() {
            "SUCCEEDED" => Status::Succeeded,
            "FAILED" => Status::Failed,
            "TIMED_OUT" => Status::TimedOut,
            other => {
                return Err(RedriveError::BadRecords(format!(
                    "{}: unknown status {other}",
                    saved.arn
                )));
            }
        };
        let history = History::from_json(&saved.history, saved.history_limit)
            .map_err(|e| RedriveError::BadRecords(format!("{}: {e}", saved.arn)))?;
        Ok(Record {
            machine_name: saved.machine_name,
            name: saved.name,
            arn: saved.arn,
            machine_arn: saved.machine_arn,
            input: saved.input,
            status,
            start_millis: saved.start_millis,
            stop_millis: saved.stop_millis,
            redrive_count: saved.redrive_count,
            redrive_iso: saved.redrive_iso,
            express: saved.express,
            history,
            progress: saved.progress,
        })
    }
}

impl Engine {
    /// Redrives a FAILED or TIMED_OUT execution of `machine` (the definition it ran) and runs it
    /// to its end; the returned execution carries the whole history, before and after.
    pub async fn redrive(
        self: &Arc<Self>,
        arn: &str,
        machine: &StateMachine,
    ) -> Result<Execution, RedriveError> {
        let record = self.take_redrivable(arn)?;
        let redriven_millis = self.now_millis();
        let ctx = Ctx {
            arn: record.arn.clone(),
            name: record.name.clone(),
            machine_name: record.machine_name.clone(),
            machine_arn: record.machine_arn.clone(),
            input: record.input.clone(),
            start_iso: self.iso(record.start_millis),
            history: Arc::new(Mutex::new(record.history)),
            redrive_count: record.redrive_count.saturating_add(1),
            redrive_iso: Some(self.iso(redriven_millis)),
            progress: Mutex::new(Progress::default()),
            previous: Mutex::new(record.progress),
        };
        Ok(self.drive(ctx, machine, record.express, record.start_millis).await)
    }

    /// Whether an execution can be redriven now: `Ok(None)` if it can, `Ok(Some(reason))` if
    /// not (`redriveStatus` `NOT_REDRIVABLE` and its reason).
    pub fn redrive_status(&self, arn: &str) -> Result<Option<&'static str>, RedriveError> {
        let now = self.now_millis();
        let records = self.records.lock().map_err(|_| RedriveError::DoesNotExist(arn.into()))?;
        let record = records.get(arn).ok_or_else(|| RedriveError::DoesNotExist(arn.into()))?;
        Ok(record.not_redrivable(now))
    }

    /// Takes the record of an execution a redrive may continue.
    pub(super) fn take_redrivable(&self, arn: &str) -> Result<Record, RedriveError> {
        let now = self.now_millis();
        let mut records =
            self.records.lock().map_err(|_| RedriveError::DoesNotExist(arn.into()))?;
        let record = records.get(arn).ok_or_else(|| RedriveError::DoesNotExist(arn.into()))?;
        if let Some(reason) = record.not_redrivable(now) {
            return Err(RedriveError::NotRedrivable { arn: arn.into(), reason: reason.into() });
        }
        records.remove(arn).ok_or_else(|| RedriveError::DoesNotExist(arn.into()))
    }

    /// Keeps the record of a finished execution. A Map Run's succeeded children are not kept
    /// (their Map Run keeps their outcome; they can never be redriven); every other execution
    /// is, so it can be described and redriven.
    pub(super) fn keep_record(
        &self,
        execution: &Execution,
        machine_name: &str,
        (express, redrive_iso): (bool, Option<String>),
        progress: Progress,
    ) {
        let record = Record::of(execution, machine_name, express, redrive_iso, progress);
        // Step Functions names cannot contain '/'; only a Map Run child's machine
        // (`parent/Label`) does.
        if record.status == Status::Succeeded && record.machine_name.contains('/') {
            return;
        }
        if let Ok(mut records) = self.records.lock() {
            records.insert(record.arn.clone(), record);
        }
    }

    /// The records of every execution that could still be redriven, as JSON (to save).
    pub fn export_records(&self) -> Value {
        let Ok(records) = self.records.lock() else { return Value::Array(Vec::new()) };
        let mut saved: Vec<&Record> =
            records.values().filter(|r| r.status != Status::Succeeded).collect();
        saved.sort_by(|a, b| a.arn.cmp(&b.arn));
        serde_json::to_value(saved.iter().map(|r| r.save()).collect::<Vec<_>>())
            .unwrap_or(Value::Array(Vec::new()))
    }

    /// Adds records saved by [`Engine::export_records`] (of this or an earlier process).
    pub fn import_records(&self, saved: &Value) -> Result<usize, RedriveError> {
        let saved: Vec<SavedRecord> = serde_json::from_value(saved.clone())
            .map_err(|e| RedriveError::BadRecords(e.to_string()))?;
        let loaded = saved.into_iter().map(Record::load).collect::<Result<Vec<_>, _>>()?;
        let count = loaded.len();
        let mut records =
            self.records.lock().map_err(|_| RedriveError::BadRecords("lock poisoned".into()))?;
        for record in loaded {
            records.insert(record.arn.clone(), record);
        }
        Ok(count)
    }
}
