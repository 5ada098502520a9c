//! The workflow as the binary ships it, and what its records mean: the two state machine
//! definitions (compiled in from statemachine/, with the local values for their
//! `${Placeholders}`), the transform retry policy, the failed items of a Map Run's FAILED
//! records, and the check of a reprocessed prefix.
//!
//! The local runner (`local`), the AWS operator side (`aws`) and the commands (`run`,
//! `reprocess`, `failures`) all build on this module; it depends on none of them.

use std::collections::BTreeMap;

use anyhow::bail;
use graphetl_core::layout;
use graphetl_states::asl::{Retrier, StateKind, StateMachine};
use graphetl_states::exec::error_matches;
use serde_json::Value;

/// The bucket local runs use on the embedded endpoint.
pub(crate) const LOCAL_BUCKET: &str = "graphetl-local";
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

pub(crate) fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:graphetl-{name}")
}

/// What DefinitionSubstitutions gives each placeholder, locally.
pub(crate) fn substitutions() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("DataBucket", LOCAL_BUCKET.to_owned()),
        ("ExtractFunctionArn", function_arn("extract")),
        ("TransformFunctionArn", function_arn("transform")),
        ("AggregateFunctionArn", function_arn("aggregate")),
        ("LoadFunctionArn", function_arn("load")),
        (
            "ProcessFilesStateMachineArn",
            format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:graphetl-process-files"),
        ),
    ])
}

/// The pipeline definition as the binary ships it (statemachine/pipeline.asl.json).
pub(crate) const PIPELINE: Definition = Definition {
    file: "statemachine/pipeline.asl.json",
    text: include_str!("../../../../statemachine/pipeline.asl.json"),
};

/// The process-files definition as the binary ships it (statemachine/process-files.asl.json).
pub(crate) const PROCESS_FILES: Definition = Definition {
    file: "statemachine/process-files.asl.json",
    text: include_str!("../../../../statemachine/process-files.asl.json"),
};

/// The JSONata version of process-files (statemachine/process-files.jsonata.asl.json): the same
/// workflow, states, retriers, catchers, outputs and error names.
pub(crate) const PROCESS_FILES_JSONATA: Definition = Definition {
    file: "statemachine/process-files.jsonata.asl.json",
    text: include_str!("../../../../statemachine/process-files.jsonata.asl.json"),
};

/// The environment variable that picks the process-files definition local runs use:
/// `jsonpath` (the default) or `jsonata`.
pub(crate) const PROCESS_FILES_ASL_VAR: &str = "GRAPHETL_PROCESS_FILES_ASL";

/// The process-files definition local runs use ([`PROCESS_FILES_ASL_VAR`]).
pub(crate) fn process_files() -> anyhow::Result<Definition> {
    match std::env::var(PROCESS_FILES_ASL_VAR).as_deref() {
        Err(_) | Ok("" | "jsonpath") => Ok(PROCESS_FILES),
        Ok("jsonata") => Ok(PROCESS_FILES_JSONATA),
        Ok(other) => {
            bail!("{PROCESS_FILES_ASL_VAR}={other:?}: expected \"jsonpath\" or \"jsonata\"")
        }
    }
}

/// A state machine definition compiled into the binary, so an installed `graphetl` runs the
/// workflow it was built with, wherever it is started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Definition {
    /// Its path in the repository.
    pub(crate) file: &'static str,
    /// Its ASL text, with `${Placeholders}`.
    pub(crate) text: &'static str,
}

impl Definition {
    /// The definition with the local substitutions applied.
    pub(crate) fn load(self) -> anyhow::Result<StateMachine> {
        let mut text = self.text.to_owned();
        for (name, value) in substitutions() {
            text = text.replace(&format!("${{{name}}}"), &value);
        }
        StateMachine::from_json(&text, self.file).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// One failed input file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct FailedItem {
    /// Bucket of the raw file.
    pub(crate) bucket: String,
    /// Key of the raw file.
    pub(crate) key: String,
    /// Error name.
    pub(crate) error: String,
    /// What happened.
    pub(crate) cause: String,
    /// Transform attempts the retry policy made before the file was recorded as failed (none
    /// when the whole batch failed for another reason).
    pub(crate) attempts: Option<u32>,
}

/// The retriers of the Transform task in the process-files definition: a file recorded as
/// failed has used up the first retrier that matches its error (Step Functions retries by policy),
/// so its attempts are 1 + that retrier's MaxAttempts, or 1 when none matches.
///
/// A definition without that Map and Task is an error, not "one attempt for every item".
pub(crate) fn transform_retriers() -> anyhow::Result<Vec<Retrier>> {
    let definition = process_files()?;
    let machine = definition.load()?;
    let Some(StateKind::Map(map)) = machine.state("TransformEach").map(|s| &s.kind) else {
        bail!("{} has no Map state TransformEach", definition.file);
    };
    match map.processor.state("Transform").map(|s| &s.kind) {
        Some(StateKind::Task(task)) => Ok(task.retry.clone()),
        _ => bail!("{}: TransformEach has no Task state Transform", definition.file),
    }
}

fn attempts_for(error: &str, retriers: &[Retrier]) -> u32 {
    retriers
        .iter()
        .find(|r| error_matches(&r.error_equals, error))
        .map_or(1, |r| r.max_attempts.saturating_add(1))
}

/// The failed files behind one FAILED record of the transform Map (a process-files batch).
///
/// A batch that failed with `GraphEtl.FilesFailed` names each failed file in its cause; a batch
/// that failed for another reason (a timeout, a quota) fails every file it held.
pub(crate) fn failed_items(record: &Value, retriers: &[Retrier]) -> Vec<FailedItem> {
    let error = record["Error"].as_str().unwrap_or_default();
    let cause_text = record["Cause"].as_str().unwrap_or_default();
    // startExecution.sync:2 reports a failed nested execution as States.TaskFailed whose cause
    // is that execution's description, with its own Error and Cause.
    let nested: Value = serde_json::from_str(cause_text).unwrap_or(Value::Null);
    let (inner_error, inner_cause) = match (nested["Error"].as_str(), nested["Cause"].as_str()) {
        (Some(e), Some(c)) => (e.to_owned(), c.to_owned()),
        _ => (error.to_owned(), cause_text.to_owned()),
    };
    if inner_error == "GraphEtl.FilesFailed"
        && let Ok(Value::Array(files)) = serde_json::from_str::<Value>(&inner_cause)
    {
        return files
            .iter()
            .map(|f| {
                let error = f["error"].as_str().unwrap_or_default().to_owned();
                FailedItem {
                    bucket: f["bucket"].as_str().unwrap_or_default().to_owned(),
                    key: f["key"].as_str().unwrap_or_default().to_owned(),
                    attempts: Some(attempts_for(&error, retriers)),
                    error,
                    cause: readable_cause(f["cause"].as_str().unwrap_or_default()),
                }
            })
            .collect();
    }
    let input: Value =
        serde_json::from_str(record["Input"].as_str().unwrap_or("{}")).unwrap_or_default();
    input["Items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| FailedItem {
            bucket: item["bucket"].as_str().unwrap_or_default().to_owned(),
            key: item["key"].as_str().unwrap_or_default().to_owned(),
            error: inner_error.clone(),
            cause: readable_cause(&inner_cause),
            attempts: None,
        })
        .collect()
}

/// A Lambda failure's cause is `{"errorMessage", "errorType", …}` as text: show the message.
fn readable_cause(cause: &str) -> String {
    match serde_json::from_str::<Value>(cause) {
        Ok(v) if v["errorMessage"].is_string() => {
            v["errorMessage"].as_str().unwrap_or_default().to_owned()
        }
        _ => cause.to_owned(),
    }
}

/// Checks that `prefix` lies in the dataset's raw area.
pub(crate) fn check_prefix(dataset: &str, prefix: &str) -> anyhow::Result<()> {
    let raw = layout::raw_prefix(dataset);
    if prefix.is_empty() {
        bail!("--prefix is empty; expected a prefix under {raw}");
    }
    if prefix.starts_with("s3://") {
        bail!(
            "--prefix {prefix} names a bucket; give the key prefix under {raw} (the bucket is the stack's data bucket)"
        );
    }
    if prefix.split('/').any(|s| s == ".." || s == ".") {
        bail!("--prefix {prefix} contains '..' or '.'");
    }
    if !prefix.starts_with(&raw) {
        bail!("--prefix {prefix} is outside the dataset's raw area {raw}");
    }
    Ok(())
}
