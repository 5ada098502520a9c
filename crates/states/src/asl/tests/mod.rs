//! Unit tests of the ASL loader, one module per part of the loader: what loads ([`valid`]), the
//! rules of `parse.rs` ([`parse`]), of `parse/task.rs` ([`task`]) and of `parse/map.rs`
//! ([`map`]), each failing definition checked for the state and field its error names, and
//! property tests ([`properties`]). The helpers below are shared.

use super::*;

mod map;
mod parse;
mod properties;
mod task;
mod valid;

/// Loads a definition that must be valid.
fn load(text: &str) -> Result<StateMachine, AslError> {
    StateMachine::from_json(text, "test.asl.json")
}

/// The rendered problems of a definition (empty if it is valid).
fn problems(text: &str) -> Vec<String> {
    match StateMachine::from_json(text, "test.asl.json") {
        Ok(_) => Vec::new(),
        Err(err) => err.problems.iter().map(Problem::to_string).collect(),
    }
}

/// Asserts that loading `text` reports a problem on `state` (or the top level) and `field` whose
/// message contains `fragment`.
#[track_caller]
fn assert_problem(text: &str, state: Option<&str>, field: &str, fragment: &str) {
    let prefix = match state {
        Some(state) => format!("state \"{state}\": field {field}: "),
        None => format!("field {field}: "),
    };
    let found = problems(text);
    assert!(
        found.iter().any(|problem| problem.starts_with(&prefix) && problem.contains(fragment)),
        "expected a problem starting with {prefix:?} containing {fragment:?}, found {found:#?}"
    );
}

/// A machine that starts at state `S` (given as JSON) and may go on to the Succeed state `Done`.
fn with_state(state: &str) -> String {
    format!(r#"{{"StartAt": "S", "States": {{"S": {state}, "Done": {{"Type": "Succeed"}}}}}}"#)
}

/// A machine whose only state `S` is a Task with `fields` added to a valid lambda:invoke task.
fn with_task(fields: &str) -> String {
    with_state(&format!(
        r#"{{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {{"FunctionName": "${{Fn}}", "Payload.$": "$"}}, "Next": "Done" {fields}}}"#
    ))
}

/// A machine whose only state `M` is a Map with `fields`, running `mode` (a ProcessorConfig
/// object or `null` for none).
fn with_map(mode: &str, fields: &str) -> String {
    let config =
        if mode == "null" { String::new() } else { format!(r#""ProcessorConfig": {mode},"#) };
    format!(
        r#"{{"StartAt": "M", "States": {{"M": {{"Type": "Map", "End": true,
            "ItemProcessor": {{{config} "StartAt": "Work", "States": {{"Work": {{"Type": "Pass", "End": true}}}}}}
            {fields}}}}}}}"#
    )
}

/// A Distributed (STANDARD) Map `M` with `fields`.
fn with_distributed_map(fields: &str) -> String {
    with_map(r#"{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}"#, fields)
}

/// The state named `name`, which must exist.
fn state<'m>(machine: &'m StateMachine, name: &str) -> &'m State {
    match machine.state(name) {
        Some(state) => state,
        None => panic!("no state {name:?}"),
    }
}

/// The path text of a path field.
fn path_text(field: &PathField) -> Option<&str> {
    match field {
        PathField::Path(path) => Some(path.as_str()),
        PathField::Default | PathField::Null => None,
    }
}

/// The reference's §2.1 Distributed Map, with the §3.4 Lambda retrier, inside a machine.
const DISTRIBUTED_EXAMPLE: &str = r#"{
  "Comment": "extract, transform every file, aggregate",
  "StartAt": "TransformFiles",
  "TimeoutSeconds": 86400,
  "States": {
    "TransformFiles": {
      "Type": "Map",
      "Label": "TransformFiles",
      "ItemReader": {
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": { "Bucket": "${RawBucket}", "Prefix.$": "$.rawPrefix" }
      },
      "ItemSelector": { "key.$": "$$.Map.Item.Value.Key", "size.$": "$$.Map.Item.Value.Size", "runId.$": "$.runId" },
      "ItemBatcher": { "MaxItemsPerBatch": 20, "BatchInput": { "stage": "transform" } },
      "MaxConcurrency": 50,
      "ToleratedFailurePercentage": 5,
      "ItemProcessor": {
        "ProcessorConfig": { "Mode": "DISTRIBUTED", "ExecutionType": "STANDARD" },
        "StartAt": "TransformBatch",
        "States": { "TransformBatch": {
          "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": { "FunctionName": "${TransformFunctionArn}", "Payload.$": "$" },
          "OutputPath": "$.Payload",
          "Retry": [
            { "ErrorEquals": ["Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException",
                              "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                              "Lambda.TooManyRequestsException"],
              "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2, "MaxDelaySeconds": 30,
              "JitterStrategy": "FULL" },
            { "ErrorEquals": ["GraphEtl.StorageThrottled"], "IntervalSeconds": 5, "MaxAttempts": 4 }
          ],
          "End": true } }
      },
      "ResultWriter": {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": { "Bucket": "${ResultsBucket}", "Prefix": "transform-results" }
      },
      "ResultPath": "$.transform",
      "Next": "Aggregate"
    },
    "Aggregate": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": { "FunctionName": "${AggregateFunctionArn}", "Payload.$": "$" },
      "ResultSelector": { "result.$": "$.Payload" },
      "ResultPath": "$.aggregate",
      "End": true
    }
  }
}"#;
