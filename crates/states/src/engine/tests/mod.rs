//! The engine's public API as its callers use it: start an execution and describe it, list Map
//! Runs and their failed items.

mod redrive;

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Engine, FailedItem, Status};
use crate::asl::StateMachine;

fn machine(definition: Value) -> StateMachine {
    match StateMachine::from_json(&definition.to_string(), "test.asl.json") {
        Ok(machine) => machine,
        Err(e) => panic!("test definition is invalid: {e}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_started_execution_is_described_once_it_ends() {
    let engine = Engine::builder().build();
    let definition = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 5, "Next": "P"},
        "P": {"Type": "Pass", "Result": {"done": true}, "End": true}
    }});
    let (arn, handle) = engine.start("m", Arc::new(machine(definition)), json!({}), "e1");
    assert_eq!(arn, "arn:aws:states:us-east-1:123456789012:execution:m:e1");
    assert_eq!(engine.describe_execution(&arn), None);
    let execution = match handle.await {
        Ok(execution) => execution,
        Err(e) => panic!("the execution task failed: {e}"),
    };
    assert_eq!(execution.arn, arn);
    assert_eq!(execution.output, Some(json!({"done": true})));
    let described = engine.describe_execution(&arn);
    assert_eq!(described.as_ref().map(|d| d.status), Some("SUCCEEDED"));
    assert_eq!(described.map(|d| d.events), Some(execution.history.len()));
    assert_eq!(engine.describe_execution("arn:aws:states:::execution:m:none"), None);
}

#[tokio::test(start_paused = true)]
async fn failed_items_lists_the_children_that_failed() {
    let engine = Engine::builder().build();
    let definition = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map",
        "ToleratedFailurePercentage": 100,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check",
            "States": {
                "Check": {"Type": "Choice", "Choices": [
                    {"Variable": "$.bad", "BooleanEquals": true, "Next": "Boom"}
                ], "Default": "Ok"},
                "Boom": {"Type": "Fail", "Error": "Item.Bad", "Cause": "bad item"},
                "Ok": {"Type": "Succeed"}
            }
        },
        "End": true
    }}});
    let input = json!([{"bad": false}, {"bad": true}, {"bad": false}]);
    let execution = engine.run("m", &machine(definition), input, "e1").await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    let runs = engine.map_runs();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!((run.succeeded, run.failed, run.pending), (2, 1, 0));
    let failed = engine.failed_items(&run.arn);
    let child = execution_of(&engine, &failed);
    assert_eq!(
        failed,
        vec![FailedItem {
            execution_arn: child,
            input: json!({"bad": true}),
            status: Status::Failed,
            error: Some("Item.Bad".into()),
            cause: Some("bad item".into()),
        }]
    );
    assert_eq!(run.failed_items, failed);
    assert!(engine.failed_items("arn:aws:states:::mapRun:none").is_empty());
}

/// The ARN of the one failed child execution, as the engine's execution list has it.
fn execution_of(engine: &Engine, failed: &[FailedItem]) -> String {
    let children: Vec<String> = engine
        .executions()
        .into_iter()
        .filter(|e| e.status == "FAILED" && e.state_machine == "m/Each")
        .map(|e| e.arn)
        .collect();
    assert_eq!(children.len(), 1, "{failed:?}");
    children.into_iter().next().unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn a_history_exports_to_its_snapshot() {
    // The GetExecutionHistory JSON of a Pass, a Choice and a Fail, as AWS names and shapes it
    // (`UPDATE_EXPECT=1 cargo test` rewrites the snapshot after a deliberate change).
    let options =
        super::EngineOptions { start_millis: 1_763_600_000_000, ..super::EngineOptions::default() };
    let engine = Engine::builder().options(options).build();
    let definition = json!({"StartAt": "Shape", "States": {
        "Shape": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "TooBig"}
        ], "Default": "TooBig"},
        "TooBig": {"Type": "Fail", "Error": "Example.TooBig", "Cause": "n is too big"}
    }});
    let execution = engine.run("m", &machine(definition), json!({"n": 2}), "e1").await;
    let text = serde_json::to_string_pretty(&execution.history.to_json()).unwrap_or_default();
    expect_test::expect![[r#"
        {
          "events": [
            {
              "timestamp": "2025-11-20T00:53:20.000Z",
              "type": "ExecutionStarted",
              "id": 1,
              "previousEventId": 0,
              "executionStartedEventDetails": {
                "input": "{\"n\":2}",
                "inputDetails": {
                  "truncated": false
                },
                "roleArn": "arn:aws:iam::123456789012:role/graphetl-local"
              }
            },
            {
              "timestamp": "2025-11-20T00:53:20.000Z",
              "type": "PassStateEntered",
              "id": 2,
              "previousEventId": 1,
              "stateEnteredEventDetails": {
                "input": "{\"n\":2}",
                "inputDetails": {
                  "truncated": false
                },
                "name": "Shape"
              }
            },
            {
              "timestamp": "2025-11-20T00:53:20.000Z",
              "type": "PassStateExited",
              "id": 3,
              "previousEventId": 2,
              "stateExitedEventDetails": {
                "output": "{\"n\":2}",
                "outputDetails": {
                  "truncated": false
                },
                "name": "Shape"
              }
            },
            {
              "timestamp": "2025-11-20T00:53:20.000Z",
              "type": "ChoiceStateEntered",
              "id": 4,
              "previousEventId": 3,
              "stateEnteredEventDetails": {
                "input": "{\"n\":2}",
                "inputDetails": {
                  "truncated": false
                },
                "name": "Check"
              }
            },
            {
              "timestamp": "2025-11-20T00:53:20.000Z",
              "type": "ChoiceStateExited",
              "id": 5,
              "previousEventId": 4,
              "stateExitedEventDetails": {
                "output": "{\"n\":2}",
                "outputDetails": {
                  "truncated": false
                },
                "name": "Check"
              }
            },
            {
              "timestamp": "2025-11-20T00:53:20.000Z",
              "type": "FailStateEntered",
              "id": 6,
              "previousEventId": 5,
              "stateEnteredEventDetails": {
                "input": "{\"n\":2}",
                "inputDetails": {
                  "truncated": false
                },
                "name": "TooBig"
              }
            },
            {
              "timestamp": "2025-11-20T00:53:20.000Z",
              "type": "ExecutionFailed",
              "id": 7,
              "previousEventId": 6,
              "executionFailedEventDetails": {
                "error": "Example.TooBig",
                "cause": "n is too big"
              }
            }
          ]
        }"#]]
    .assert_eq(&text);
}
