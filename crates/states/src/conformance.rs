//! Conformance suite of the interpreter: small definitions with their input, expected output
//! and expected event-type sequence.
//!
//! "reference §n" below cites the sections of the project's Step Functions reference notes
//! (`step-functions.md`, kept with the design notes outside this repository), which gather what
//! AWS documents and what recorded histories show: §1.1–1.3 the quota and the event sequences of
//! each state type, success, retry and catch (from LocalStack's snapshot tests, recorded against
//! AWS, and the developer guide's "Execution history events" and "Handling errors"); §2.4–2.5
//! Distributed Map tolerance, EXPRESS children and the ResultWriter layout; §3 retriers, error
//! names and catchers; §4 nested executions; §5.1 the JSONPath pipeline and the `lambda:invoke`
//! result shape. Each case names its source.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

use crate::asl::StateMachine;
use crate::engine::{Engine, EngineOptions, Execution, Status};
use crate::mock::MockCase;
use crate::resolve::{FunctionError, Functions, MemoryStore};

fn machine(definition: Value) -> StateMachine {
    match StateMachine::from_json(&definition.to_string(), "test.asl.json") {
        Ok(machine) => machine,
        Err(e) => panic!("test definition is invalid: {e}"),
    }
}

fn options() -> EngineOptions {
    EngineOptions { start_millis: 1_763_600_000_000, ..EngineOptions::default() }
}

async fn run_with(functions: Functions, definition: Value, input: Value) -> Execution {
    let engine = Engine::builder().functions(functions).options(options()).build();
    engine.run("test", &machine(definition), input, "exec-1").await
}

fn kinds(execution: &Execution) -> Vec<&'static str> {
    execution.history.kinds()
}

fn echo() -> Functions {
    let mut functions = Functions::new();
    functions.register(
        "Echo",
        Arc::new(|payload: Value| async move { Ok::<_, FunctionError>(payload) }),
        None,
    );
    functions
}

/// Fails `failures` times with `error`, then echoes.
fn flaky(failures: u32, error: &'static str) -> (Functions, Arc<AtomicU32>) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let mut functions = Functions::new();
    functions.register(
        "Flaky",
        Arc::new(move |payload: Value| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < failures { Err(FunctionError::new(error, "try again")) } else { Ok(payload) }
            }
        }),
        None,
    );
    (functions, calls)
}

fn invoke_task(function: &str, extra: Value) -> Value {
    let mut task = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": format!("${{{function}}}"), "Payload.$": "$"},
        "OutputPath": "$.Payload",
    });
    if let (Value::Object(task), Value::Object(extra)) = (&mut task, extra) {
        task.extend(extra);
    }
    task
}

// Source: reference §1.2 (Pass/Succeed: Entered + Exited each; execution wrapper 2 events) and
// the ASL spec's ResultPath example.
#[tokio::test(start_paused = true)]
async fn pass_and_succeed() {
    let definition = json!({
        "StartAt": "Hello",
        "States": {
            "Hello": {"Type": "Pass", "Result": {"greeting": "hi"}, "ResultPath": "$.result", "Next": "Done"},
            "Done": {"Type": "Succeed", "OutputPath": "$.result"}
        }
    });
    let execution = run_with(Functions::new(), definition, json!({"name": "x"})).await;
    assert_eq!(execution.status, Status::Succeeded);
    assert_eq!(execution.output, Some(json!({"greeting": "hi"})));
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    let exported = execution.history.to_json();
    assert_eq!(exported["events"][1]["stateEnteredEventDetails"]["input"], "{\"name\":\"x\"}");
    assert_eq!(exported["events"][5]["previousEventId"], 5);
}

// Source: reference §1.2 (lambda:invoke task = 5 events) and §5.1 (the invoke response shape).
#[tokio::test(start_paused = true)]
async fn lambda_invoke_task() {
    let definition =
        json!({"StartAt": "Call", "States": {"Call": invoke_task("Echo", json!({"End": true}))}});
    let execution = run_with(echo(), definition, json!({"k": 1})).await;
    assert_eq!(execution.output, Some(json!({"k": 1})));
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

// Source: reference §1.3 (+3 events per failed attempt) and §3.1 (delay = Interval × Rate^(k−1)).
#[tokio::test(start_paused = true)]
async fn retry_then_success_waits_the_backoff() {
    let (functions, calls) = flaky(2, "GraphEtl.StorageThrottled");
    let retry = json!({"Retry": [{"ErrorEquals": ["GraphEtl.StorageThrottled"], "IntervalSeconds": 3, "BackoffRate": 2.0, "MaxAttempts": 3}], "End": true});
    let definition = json!({"StartAt": "Call", "States": {"Call": invoke_task("Flaky", retry)}});
    let started = tokio::time::Instant::now();
    let execution = run_with(functions, definition, json!({})).await;
    assert_eq!(execution.status, Status::Succeeded);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(started.elapsed().as_secs(), 3 + 6);
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

// Source: reference §1.3 (retries exhausted and caught: Exited, then the Catch target) and §3.5
// (ResultPath on a catcher keeps the input and adds {Error, Cause}).
#[tokio::test(start_paused = true)]
async fn retries_exhausted_then_catch() {
    let (functions, calls) = flaky(99, "GraphEtl.StorageUnavailable");
    let task = invoke_task(
        "Flaky",
        json!({
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Recover"}],
            "End": true
        }),
    );
    let definition = json!({"StartAt": "Call", "States": {"Call": task, "Recover": {"Type": "Pass", "End": true}}});
    let execution = run_with(functions, definition, json!({"key": "k"})).await;
    assert_eq!(execution.status, Status::Succeeded);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let output = execution.output.clone().unwrap_or_default();
    assert_eq!(output["key"], "k");
    assert_eq!(output["error"]["Error"], "GraphEtl.StorageUnavailable");
    let cause: Value = serde_json::from_str(output["error"]["Cause"].as_str().unwrap_or("null"))
        .unwrap_or_default();
    assert_eq!(cause["errorMessage"], "try again");
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}

// Source: reference §1.3 (uncaught: no TaskStateExited, then ExecutionFailed) and §3.1
// (a permanent error matching no retrier is not retried).
#[tokio::test(start_paused = true)]
async fn uncaught_permanent_error_fails_without_retry() {
    let (functions, calls) = flaky(99, "GraphEtl.BadInput");
    let retry = json!({"Retry": [{"ErrorEquals": ["GraphEtl.StorageThrottled"], "MaxAttempts": 5}], "End": true});
    let definition = json!({"StartAt": "Call", "States": {"Call": invoke_task("Flaky", retry)}});
    let execution = run_with(functions, definition, json!({})).await;
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some("GraphEtl.BadInput"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "ExecutionFailed"
        ]
    );
}

// Source: reference §1.2 (a bare function ARN records LambdaFunction* events).
#[tokio::test(start_paused = true)]
async fn legacy_function_arn() {
    let definition = json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Echo", "End": true}}});
    let execution = run_with(echo(), definition, json!({"a": [1]})).await;
    assert_eq!(execution.output, Some(json!({"a": [1]})));
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

// Source: the developer guide's Choice state page (rules in order, Default, States.NoChoiceMatched).
#[tokio::test(start_paused = true)]
async fn choice_rules_default_and_no_match() {
    let definition = |with_default: bool| {
        let mut choice = json!({"Type": "Choice", "Choices": [
            {"Variable": "$.prefix", "IsPresent": true, "Next": "Reprocess"},
            {"And": [{"Variable": "$.n", "IsNumeric": true}, {"Variable": "$.n", "NumericGreaterThan": 10}], "Next": "Big"}
        ]});
        let mut states = json!({
            "Reprocess": {"Type": "Pass", "Result": "reprocess", "End": true},
            "Big": {"Type": "Pass", "Result": "big", "End": true}
        });
        if with_default {
            choice["Default"] = json!("Small");
            states["Small"] = json!({"Type": "Pass", "Result": "small", "End": true});
        }
        states["Pick"] = choice;
        json!({"StartAt": "Pick", "States": states})
    };
    for (input, expected) in [
        (json!({"prefix": "raw/"}), "reprocess"),
        (json!({"n": 11}), "big"),
        (json!({"n": 3}), "small"),
    ] {
        let execution = run_with(Functions::new(), definition(true), input).await;
        assert_eq!(execution.output, Some(json!(expected)));
    }
    let execution = run_with(Functions::new(), definition(false), json!({"n": 3})).await;
    assert_eq!(execution.error.as_deref(), Some("States.NoChoiceMatched"));
    assert_eq!(kinds(&execution), ["ExecutionStarted", "ChoiceStateEntered", "ExecutionFailed"]);
}

// Source: reference §1.2 (inline Map: 4 + Σ (2 + body) events) and the Map state page.
#[tokio::test(start_paused = true)]
async fn inline_map_events_and_outputs() {
    let definition = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
        "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
        "ItemProcessor": {"StartAt": "Call", "States": {"Call": invoke_task("Echo", json!({"End": true}))}},
        "End": true
    }}});
    let execution = run_with(echo(), definition, json!({"items": ["a", "b", "c"]})).await;
    assert_eq!(
        execution.output,
        Some(
            json!([{"value": "a", "index": 0}, {"value": "b", "index": 1}, {"value": "c", "index": 2}])
        )
    );
    let kinds = kinds(&execution);
    assert_eq!(kinds.len(), 2 + 4 + 3 * (2 + 5));
    assert_eq!(&kinds[..3], ["ExecutionStarted", "MapStateEntered", "MapStateStarted"]);
    assert_eq!(
        &kinds[kinds.len() - 3..],
        ["MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"]
    );
    assert_eq!(kinds.iter().filter(|k| **k == "MapIterationSucceeded").count(), 3);
}

// Source: reference §1.1 (the 25,000-event quota fails the execution with AWS's message) and
// §1.4 (an inline Map of N one-task iterations costs 6 + 7N events: 4,000 items exceed it).
#[tokio::test(start_paused = true)]
async fn inline_map_over_4000_items_hits_the_history_quota() {
    let definition = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "Call", "States": {"Call": invoke_task("Echo", json!({"End": true}))}},
        "End": true
    }}});
    let items: Vec<Value> = (0..4000).map(|i| json!(i)).collect();
    let execution = run_with(echo(), definition, Value::Array(items)).await;
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        execution.cause.as_deref(),
        Some("The execution reached the maximum number of history events (25000).")
    );
    assert_eq!(execution.history.len(), 25_001);
    assert_eq!(kinds(&execution).last(), Some(&"ExecutionFailed"));
}

// Source: reference §1.2 (Parallel: 4 + Σ branch events) and the Parallel state page.
#[tokio::test(start_paused = true)]
async fn parallel_branches() {
    let definition = json!({"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": 2, "End": true}}}
        ],
        "End": true
    }}});
    let execution = run_with(Functions::new(), definition, json!({})).await;
    assert_eq!(execution.output, Some(json!([1, 2])));
    assert_eq!(kinds(&execution).len(), 2 + 4 + 2 * 2);
    assert_eq!(kinds(&execution)[2], "ParallelStateStarted");
}

// Source: reference §4 (startExecution.sync:2: 6 events with TaskSubmitted; the output holds the
// child's description with Input and Output parsed).
#[tokio::test(start_paused = true)]
async fn nested_sync2_execution() {
    let child = machine(
        json!({"StartAt": "C", "States": {"C": {"Type": "Pass", "Result": {"done": true}, "End": true}}}),
    );
    let parent = machine(json!({"StartAt": "Start", "States": {"Start": {
        "Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": "${ChildArn}", "Input": {"from.$": "$.x"}},
        "End": true
    }}}));
    let engine =
        Engine::builder().machine("${ChildArn}", Arc::new(child)).options(options()).build();
    let execution = engine.run("parent", &parent, json!({"x": 7}), "p-1").await;
    let output = execution.output.clone().unwrap_or_default();
    assert_eq!(output["Output"], json!({"done": true}));
    assert_eq!(output["Input"], json!({"from": 7}));
    assert_eq!(output["Status"], "SUCCEEDED");
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(engine.executions().len(), 2);
}

// Source: reference §1.2 (Distributed Map: 6 parent events whatever N), §2.5 (ResultWriter layout
// and record shape) and §2.4 (ToleratedFailurePercentage).
#[tokio::test(start_paused = true)]
async fn distributed_map_with_result_writer_and_tolerated_failures() {
    let store = Arc::new(MemoryStore::new());
    for i in 0..25 {
        let key =
            if i == 7 { "raw/x/bad-07.json".to_owned() } else { format!("raw/x/part-{i:02}.json") };
        store.insert("bucket", &key, b"{}".to_vec());
    }
    let mut functions = Functions::new();
    functions.register(
        "Transform",
        Arc::new(|payload: Value| async move {
            let key = payload["key"].as_str().unwrap_or_default().to_owned();
            if key.contains("bad") {
                Err(FunctionError::new("GraphEtl.BadInput", format!("{key}: corrupt")))
            } else {
                Ok(json!({"key": key}))
            }
        }),
        Some(5),
    );
    let definition = json!({"StartAt": "TransformFiles", "States": {"TransformFiles": {
        "Type": "Map",
        "Label": "TransformFiles",
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "bucket", "Prefix.$": "$.prefix"}},
        "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
        "ItemBatcher": {"MaxItemsPerBatch": 4},
        "MaxConcurrency": 3,
        "ToleratedFailurePercentage": 20,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Each",
            "States": {"Each": {"Type": "Map", "ItemsPath": "$.Items", "ItemProcessor": {"StartAt": "T", "States": {"T": invoke_task("Transform", json!({
                "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 10, "JitterStrategy": "FULL"}],
                "End": true
            }))}}, "End": true}}
        },
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "bucket", "Prefix": "runs/exec-1"}},
        "End": true
    }}});
    let engine =
        Engine::builder().functions(functions).store(store.clone()).options(options()).build();
    let execution =
        engine.run("pipeline", &machine(definition), json!({"prefix": "raw/x/"}), "exec-1").await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
    let output = execution.output.clone().unwrap_or_default();
    let manifest_key = output["ResultWriterDetails"]["Key"].as_str().unwrap_or_default().to_owned();
    assert!(
        manifest_key.starts_with("runs/exec-1/") && manifest_key.ends_with("/manifest.json"),
        "{manifest_key}"
    );
    let manifest: Value =
        serde_json::from_slice(&store.object("bucket", &manifest_key).unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(manifest["MapRunArn"], output["MapRunArn"]);
    let failed_key =
        manifest["ResultFiles"]["FAILED"][0]["Key"].as_str().unwrap_or_default().to_owned();
    let failed: Value =
        serde_json::from_slice(&store.object("bucket", &failed_key).unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(failed.as_array().map(Vec::len), Some(1));
    assert_eq!(failed[0]["Status"], "FAILED");
    assert_eq!(failed[0]["Error"], "GraphEtl.BadInput");
    let failed_input: Value =
        serde_json::from_str(failed[0]["Input"].as_str().unwrap_or("null")).unwrap_or_default();
    assert!(
        failed_input["Items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["key"] == "raw/x/bad-07.json"))
    );
    let succeeded_key =
        manifest["ResultFiles"]["SUCCEEDED"][0]["Key"].as_str().unwrap_or_default().to_owned();
    let succeeded: Value =
        serde_json::from_slice(&store.object("bucket", &succeeded_key).unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(succeeded.as_array().map(Vec::len), Some(6));
    // 25 items in batches of 4 = 7 children; every child has its own history.
    let children: Vec<_> = engine
        .executions()
        .into_iter()
        .filter(|e| e.state_machine == "pipeline/TransformFiles")
        .collect();
    assert_eq!(children.len(), 7);
    let runs = engine.map_runs();
    assert_eq!((runs[0].succeeded, runs[0].failed, runs[0].pending), (6, 1, 0));
}

// Source: reference §2.4 (exceeding the tolerated failures fails the Map Run with
// States.ExceedToleratedFailureThreshold).
#[tokio::test(start_paused = true)]
async fn distributed_map_fails_past_the_threshold() {
    let mut functions = Functions::new();
    functions.register(
        "Bad",
        Arc::new(|_p: Value| async {
            Err::<Value, _>(FunctionError::new("GraphEtl.BadInput", "no"))
        }),
        None,
    );
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ToleratedFailureCount": 1, "MaxConcurrency": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "T", "States": {"T": invoke_task("Bad", json!({"End": true}))}},
        "End": true
    }}});
    let execution = run_with(functions, definition, json!([1, 2, 3, 4])).await;
    assert_eq!(execution.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    assert!(kinds(&execution).contains(&"MapRunFailed"));
}

// Source: Lambda throttling (reference §3.2: Lambda.TooManyRequestsException) retried per §3.4.
#[tokio::test(start_paused = true)]
async fn lambda_concurrency_limit_throttles_and_retries_recover() {
    let mut functions = Functions::new();
    functions.register(
        "Slow",
        Arc::new(|payload: Value| async move {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            Ok::<_, FunctionError>(payload)
        }),
        Some(2),
    );
    let task = invoke_task(
        "Slow",
        json!({
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "BackoffRate": 2, "MaxDelaySeconds": 8, "MaxAttempts": 20, "JitterStrategy": "FULL"}],
            "End": true
        }),
    );
    let definition = json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "MaxConcurrency": 10,
        "ItemProcessor": {"StartAt": "T", "States": {"T": task}}, "End": true}}});
    let items: Vec<Value> = (0..20).map(|i| json!(i)).collect();
    let engine = Engine::builder().functions(functions).options(options()).build();
    let execution =
        engine.run("test", &machine(definition), Value::Array(items.clone()), "e").await;
    assert_eq!(execution.output, Some(Value::Array(items)));
    assert!(engine.functions().throttles().get("Slow").copied().unwrap_or(0) > 0);
    assert_eq!(engine.functions().invocations().get("Slow"), Some(&20));
}

// Source: the developer guide's Task page (TimeoutSeconds → States.Timeout, TaskTimedOut event).
#[tokio::test(start_paused = true)]
async fn task_timeout() {
    let mut functions = Functions::new();
    functions.register(
        "Hang",
        Arc::new(|_p: Value| async {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            Ok::<_, FunctionError>(json!(null))
        }),
        None,
    );
    let definition = json!({"StartAt": "T", "States": {"T": invoke_task("Hang", json!({"TimeoutSeconds": 5, "End": true}))}});
    let execution = run_with(functions, definition, json!({})).await;
    assert_eq!(execution.error.as_deref(), Some("States.Timeout"));
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskTimedOut",
            "ExecutionFailed"
        ]
    );
}

// Source: the Wait state page; virtual time records the wait without sleeping.
#[tokio::test(start_paused = true)]
async fn wait_advances_virtual_time() {
    let definition = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}});
    let started = tokio::time::Instant::now();
    let execution = run_with(Functions::new(), definition, json!({"s": 3600})).await;
    assert_eq!(execution.status, Status::Succeeded);
    assert_eq!(started.elapsed().as_secs(), 3600);
    assert_eq!(execution.stop_millis - execution.start_millis, 3_600_000);
}

const MOCKS: &str = r#"{
  "StateMachines": {"Pipeline": {"TestCases": {
    "HappyPath": {"Call": "Ok"},
    "RetryPath": {"Call": "ThrottledThenOk"},
    "CatchPath": {"Call": "AlwaysThrottled"}
  }}},
  "MockedResponses": {
    "Ok": {"0": {"Return": {"StatusCode": 200, "Payload": {"rows": 10}}}},
    "ThrottledThenOk": {"0-1": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate Exceeded."}}, "2": {"Return": {"StatusCode": 200, "Payload": {"rows": 5}}}},
    "AlwaysThrottled": {"0-9": {"Throw": {"Error": "Lambda.TooManyRequestsException", "Cause": "Rate Exceeded."}}}
  }
}"#;

// Source: the developer guide's "Using mocked service integrations" (MockConfigFile test cases:
// happy path, retry then success, retries exhausted then Catch).
#[tokio::test(start_paused = true)]
async fn mock_config_test_cases() {
    let definition = machine(json!({"StartAt": "Call", "States": {
        "Call": invoke_task("NotRegistered", json!({
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "MaxAttempts": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
            "End": true
        })),
        "Failed": {"Type": "Pass", "Result": "caught", "End": true}
    }}));
    let mut outcomes = Vec::new();
    for case in ["HappyPath", "RetryPath", "CatchPath"] {
        let mocks = match MockCase::from_json(MOCKS, "Pipeline", case) {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        };
        let engine = Engine::builder().mocks(mocks).options(options()).build();
        let execution = engine.run("Pipeline", &definition, json!({}), "m").await;
        let failed_attempts = kinds(&execution).iter().filter(|k| **k == "TaskFailed").count();
        outcomes.push((execution.output.unwrap_or_default(), failed_attempts));
    }
    assert_eq!(outcomes, [(json!({"rows": 10}), 0), (json!({"rows": 5}), 2), (json!("caught"), 3)]);
}

// Source: the developer guide's Task page (HeartbeatSeconds: a task that sends no heartbeat in
// time fails with States.Timeout). Local functions never heartbeat, so it bounds the call.
#[tokio::test(start_paused = true)]
async fn heartbeat_timeout() {
    let mut functions = Functions::new();
    functions.register(
        "Hang",
        Arc::new(|_p: Value| async {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            Ok::<_, FunctionError>(json!(null))
        }),
        None,
    );
    let definition = json!({"StartAt": "T", "States": {"T": invoke_task("Hang", json!({"TimeoutSeconds": 100, "HeartbeatSeconds": 10, "End": true}))}});
    let started = tokio::time::Instant::now();
    let execution = run_with(functions, definition, json!({})).await;
    assert_eq!(execution.error.as_deref(), Some("States.Timeout"));
    assert!(execution.cause.as_deref().unwrap_or_default().contains("heartbeat"));
    assert_eq!(started.elapsed().as_secs(), 10);
}

// Source: reference §2.5 (PENDING_n.json lists items never started when the Map Run fails early)
// and §2.4 (ToleratedFailureCount).
#[tokio::test(start_paused = true)]
async fn items_never_started_are_written_as_pending() {
    let store = Arc::new(MemoryStore::new());
    let mut functions = Functions::new();
    functions.register(
        "Bad",
        Arc::new(|_p: Value| async {
            Err::<Value, _>(FunctionError::new("GraphEtl.BadInput", "no"))
        }),
        None,
    );
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ToleratedFailureCount": 1, "MaxConcurrency": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "T", "States": {"T": invoke_task("Bad", json!({"End": true}))}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b", "Prefix": "runs"}},
        "End": true
    }}});
    let engine =
        Engine::builder().functions(functions).store(store.clone()).options(options()).build();
    let execution = engine.run("test", &machine(definition), json!([1, 2, 3, 4, 5]), "e").await;
    assert_eq!(execution.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    let pending_key =
        store.keys("b").into_iter().find(|k| k.ends_with("PENDING_0.json")).unwrap_or_default();
    let pending: Value =
        serde_json::from_slice(&store.object("b", &pending_key).unwrap_or_default())
            .unwrap_or_default();
    let inputs: Vec<String> = pending
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["Input"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(inputs, ["3", "4", "5"]);
    assert_eq!(engine.map_runs()[0].pending, 3);
}

// Source: reference §2.4 (EXPRESS children: no history quota, five minutes at most).
#[tokio::test(start_paused = true)]
async fn express_children_stop_after_five_minutes() {
    let definition = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ToleratedFailurePercentage": 100,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "W",
            "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}},
        "End": true
    }}});
    let execution = run_with(Functions::new(), definition, json!([{"s": 10}, {"s": 400}])).await;
    let output = execution.output.unwrap_or_default();
    assert_eq!(output[0], json!({"s": 10}));
    assert_eq!(output[1]["Error"], "States.Timeout");
}

/// Cases matched event for event against histories LocalStack recorded on AWS.
mod aws_recorded;
/// JSONata Distributed Maps (ItemReader `Arguments`, expression limits) against histories
/// LocalStack recorded on AWS.
mod aws_recorded_jsonata_map;
/// Workflow variables and JSONata against histories LocalStack recorded on AWS.
mod aws_recorded_variables;
