//! Conformance cases checked against histories recorded on AWS: LocalStack's Step Functions
//! snapshot tests (repository localstack/localstack, `tests/aws/services/stepfunctions/v2/`),
//! whose `*.snapshot.json` files hold the event sequences and error/cause texts AWS returned.
//! Each case names its snapshot file and test. LocalStack replaces some values in its snapshots
//! (`<json-input:1>` for an input document); the cases below use the real value there.

use serde_json::{Value, json};

use super::{echo, kinds, run_with};
use crate::engine::{Execution, Status};

fn failed_with(execution: &Execution, error: &str, cause: &str) {
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some(error));
    assert_eq!(execution.cause.as_deref(), Some(cause));
    let exported = execution.history.to_json();
    let last = exported["events"].as_array().and_then(|events| events.last()).cloned();
    let last = last.unwrap_or(Value::Null);
    assert_eq!(last["type"], "ExecutionFailed");
    assert_eq!(last["executionFailedEventDetails"]["error"], error);
    assert_eq!(last["executionFailedEventDetails"]["cause"], cause);
}

// Source: scenarios/test_base_scenarios.snapshot.json, test_catch_states_runtime (template
// scenarios/statemachines/catch_states_runtime.json5): an OutputPath that misses the task
// result fails the execution with States.Runtime right after LambdaFunctionSucceeded, no
// TaskStateExited, even though a Catch names States.Runtime.
#[tokio::test(start_paused = true)]
async fn output_path_miss_is_uncatchable_runtime() {
    let definition = json!({
        "StartAt": "RaiseRuntime",
        "States": {
            "RaiseRuntime": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Echo",
                "OutputPath": "$.no.such.result.path",
                "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "CaughtRuntime"}],
                "Next": "Final"
            },
            "CaughtRuntime": {"Type": "Pass", "End": true},
            "Final": {"Type": "Pass", "End": true}
        }
    });
    let execution = run_with(echo(), definition, json!({})).await;
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "ExecutionFailed"
        ]
    );
    failed_with(
        &execution,
        "States.Runtime",
        "An error occurred while executing the state 'RaiseRuntime' (entered at the event id #2). \
         Invalid path '$.no.such.result.path' : Missing property in path $['no']",
    );
}

// Source: the same, with Retry on States.ALL and Catch on States.ALL: the developer guide
// ("Error names", States.Runtime) says it "isn't retriable" and States.ALL does not catch it.
#[tokio::test(start_paused = true)]
async fn result_selector_miss_is_neither_retried_nor_caught() {
    let definition = json!({
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Echo",
                "ResultSelector": {"value.$": "$.missing"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": true
            },
            "Caught": {"Type": "Pass", "End": true}
        }
    });
    let execution = run_with(echo(), definition, json!({"k": 1})).await;
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "ExecutionFailed"
        ]
    );
    failed_with(
        &execution,
        "States.Runtime",
        "An error occurred while executing the state 'Call' (entered at the event id #2). \
         The JSONPath '$.missing' specified for the field 'value.$' could not be found in the \
         input '{\"k\":1}'",
    );
}

fn pass_machine(pass: Value) -> Value {
    json!({"StartAt": "pass", "States": {"pass": pass}})
}

// Source: scenarios/test_base_scenarios.snapshot.json, test_invalid_jsonpath with the
// INVALID_JSONPATH_IN_INPUTPATH, _OUTPUTPATH and _STRING_EXPR_JSONPATH templates, input
// {"int-literal": 0}: ExecutionStarted, PassStateEntered, ExecutionFailed.
#[tokio::test(start_paused = true)]
async fn pass_path_misses_fail_with_runtime() {
    let cases = [
        (
            json!({"Type": "Pass", "InputPath": "$.NoSuchInputPath", "End": true}),
            "Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']",
        ),
        (
            json!({"Type": "Pass", "OutputPath": "$.NoSuchOutputPath", "End": true}),
            "Invalid path '$.NoSuchOutputPath' : No results for path: $['NoSuchOutputPath']",
        ),
        (
            json!({"Type": "Pass", "Parameters": {"value.$": "$.no_such_jsonpath"}, "End": true}),
            "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be \
             found in the input '{\"int-literal\":0}'",
        ),
    ];
    for (pass, cause) in cases {
        let execution = run_with(echo(), pass_machine(pass), json!({"int-literal": 0})).await;
        assert_eq!(kinds(&execution), ["ExecutionStarted", "PassStateEntered", "ExecutionFailed"]);
        let cause = format!(
            "An error occurred while executing the state 'pass' (entered at the event id #2). {cause}"
        );
        failed_with(&execution, "States.Runtime", &cause);
    }
}

// Source: scenarios/test_base_scenarios.snapshot.json, test_invalid_jsonpath with
// INVALID_JSONPATH_IN_TIMEOUTSECONDSPATH: the Task fails before TaskScheduled.
#[tokio::test(start_paused = true)]
async fn timeout_seconds_path_miss_fails_before_scheduling() {
    let definition = json!({
        "StartAt": "task",
        "States": {
            "task": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${Echo}", "Payload.$": "$"},
                "TimeoutSecondsPath": "$.NoSuchTimeoutSecondsPath",
                "End": true
            }
        }
    });
    let execution = run_with(echo(), definition, json!({"int-literal": 0})).await;
    assert_eq!(kinds(&execution), ["ExecutionStarted", "TaskStateEntered", "ExecutionFailed"]);
    failed_with(
        &execution,
        "States.Runtime",
        "An error occurred while executing the state 'task' (entered at the event id #2). \
         Invalid path '$.NoSuchTimeoutSecondsPath' : No results for path: \
         $['NoSuchTimeoutSecondsPath']",
    );
}

// Source: scenarios/test_base_scenarios.snapshot.json, test_parallel_state_retry (template
// scenarios/statemachines/parallel_state_retry.json5): between attempts no ParallelStateFailed,
// each retry starts at ParallelStateStarted; after the last one ParallelStateFailed and the
// branch's own error (not States.BranchFailed).
#[tokio::test(start_paused = true)]
async fn retried_parallel_records_failed_once() {
    let definition = json!({
        "StartAt": "ParallelState",
        "States": {
            "ParallelState": {
                "Type": "Parallel",
                "Branches": [{
                    "StartAt": "Branch1",
                    "States": {"Branch1": {"Type": "Fail", "Error": "FailureType", "Cause": "Cause description"}}
                }],
                "Retry": [{"ErrorEquals": ["FailureType"], "MaxAttempts": 2}],
                "Next": "Final"
            },
            "Final": {"Type": "Pass", "End": true}
        }
    });
    let execution = run_with(echo(), definition, json!({})).await;
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "FailStateEntered",
            "ParallelStateStarted",
            "FailStateEntered",
            "ParallelStateStarted",
            "FailStateEntered",
            "ParallelStateFailed",
            "ExecutionFailed"
        ]
    );
    failed_with(&execution, "FailureType", "Cause description");
}

// Source: scenarios/test_base_scenarios.snapshot.json, test_map_state_retry (template
// scenarios/statemachines/map_state_retry.json5): each attempt is MapStateStarted,
// MapIterationStarted, the iteration's events, MapIterationFailed; MapStateFailed only after the
// last attempt.
#[tokio::test(start_paused = true)]
async fn retried_map_records_failed_once() {
    let definition = json!({
        "StartAt": "StartState",
        "States": {
            "StartState": {"Type": "Pass", "Result": [1], "ResultPath": "$.arr", "Next": "MapState"},
            "MapState": {
                "Type": "Map",
                "ResultPath": null,
                "InputPath": "$.arr",
                "MaxConcurrency": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "HandleItemFail",
                    "States": {"HandleItemFail": {"Type": "Fail", "Error": "HandleItemFailError", "Cause": "HandleItemFailCause"}}
                },
                "Retry": [{"ErrorEquals": ["HandleItemFailError"], "MaxAttempts": 2}],
                "Next": "Final"
            },
            "Final": {"Type": "Pass", "End": true}
        }
    });
    let execution = run_with(echo(), definition, json!({})).await;
    let attempt =
        ["MapStateStarted", "MapIterationStarted", "FailStateEntered", "MapIterationFailed"];
    let mut expected =
        vec!["ExecutionStarted", "PassStateEntered", "PassStateExited", "MapStateEntered"];
    for _ in 0..3 {
        expected.extend(attempt);
    }
    expected.extend(["MapStateFailed", "ExecutionFailed"]);
    assert_eq!(kinds(&execution), expected);
    failed_with(&execution, "HandleItemFailError", "HandleItemFailCause");
    let exported = execution.history.to_json();
    assert_eq!(exported["events"][4]["mapStateStartedEventDetails"]["length"], 1);
    assert_eq!(
        exported["events"][5]["mapIterationStartedEventDetails"],
        json!({"index": 0, "name": "MapState"})
    );
}

// Source: scenarios/test_base_scenarios.snapshot.json,
// test_map_state_tolerated_failure_count_path[-1]: a States.Runtime error of a Map goes from
// MapStateStarted straight to ExecutionFailed (no MapStateFailed), cause with AWS's wording.
#[tokio::test(start_paused = true)]
async fn map_runtime_error_records_no_map_state_failed() {
    let definition = json!({
        "StartAt": "MapState",
        "States": {
            "MapState": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Item",
                    "States": {"Item": {"Type": "Pass", "End": true}}
                },
                "ItemsPath": "$.Items",
                "ToleratedFailureCountPath": "$.ToleratedFailureCount",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": true
            },
            "Caught": {"Type": "Pass", "End": true}
        }
    });
    let input = json!({"Items": [1], "ToleratedFailureCount": -1});
    let execution = run_with(echo(), definition, input).await;
    assert_eq!(
        kinds(&execution),
        ["ExecutionStarted", "MapStateEntered", "MapStateStarted", "ExecutionFailed"]
    );
    failed_with(
        &execution,
        "States.Runtime",
        "An error occurred while executing the state 'MapState' (entered at the event id #2). \
         ToleratedFailureCount cannot be negative.",
    );
}

fn wait_until_path() -> Value {
    json!({"StartAt": "WaitUntil", "States": {"WaitUntil": {"Type": "Wait", "TimestampPath": "$.TimestampValue", "End": true}}})
}

// Source: scenarios/test_base_scenarios.snapshot.json, test_wait_timestamp_path (template
// scenarios/statemachines/wait_timestamp_path.json5) and base/test_wait.snapshot.json,
// test_wait_timestamppath: RFC 3339 with a `T`, any number of fractional digits and a `Z` wait;
// a space for the `T`, no offset, an impossible date or time, or another field order fail
// with States.Runtime and this cause, right after WaitStateEntered.
#[tokio::test(start_paused = true)]
async fn wait_timestamp_path_forms() {
    for good in
        ["2016-03-14T01:59:00Z", "2016-03-05T21:29:29.243167252Z", "2016-03-05T21:29:29.00Z"]
    {
        let execution = run_with(echo(), wait_until_path(), json!({"TimestampValue": good})).await;
        assert_eq!(execution.status, Status::Succeeded, "{good}");
        assert_eq!(
            kinds(&execution),
            ["ExecutionStarted", "WaitStateEntered", "WaitStateExited", "ExecutionSucceeded"]
        );
    }
    for bad in [
        "2016-12-05 21:29:29Z",
        "2016-12-05T21:29:29",
        "2016-13-05T21:29:29Z",
        "2016-12-05T25:29:29Z",
        "05-12-2016T21:29:29Z",
    ] {
        let execution = run_with(echo(), wait_until_path(), json!({"TimestampValue": bad})).await;
        assert_eq!(kinds(&execution), ["ExecutionStarted", "WaitStateEntered", "ExecutionFailed"]);
        let cause = format!(
            "An error occurred while executing the state 'WaitUntil' (entered at the event id #2). \
             The TimestampPath parameter does not reference a valid ISO-8601 extended offset \
             date-time format string: $.TimestampValue == {bad}"
        );
        failed_with(&execution, "States.Runtime", &cause);
    }
}

// Source: scenarios/test_base_scenarios.snapshot.json, test_wait_timestamp_invalid: the same
// invalid forms in a literal `Timestamp` are rejected when the machine is created
// ("String does not match RFC3339 timestamp at /States/WaitUntil/Timestamp").
#[test]
fn wait_timestamp_literal_forms() {
    let definition = |at: &str| json!({"StartAt": "WaitUntil", "States": {"WaitUntil": {"Type": "Wait", "Timestamp": at, "End": true}}});
    for good in ["2016-03-14T01:59:00Z", "2016-03-05T21:29:29.243167252Z"] {
        let parsed = crate::asl::StateMachine::from_json(&definition(good).to_string(), "t.json");
        assert!(parsed.is_ok(), "{good}: {parsed:?}");
    }
    for bad in [
        "2016-12-05 21:29:29Z",
        "2016-12-05T21:29:29",
        "2016-13-05T21:29:29Z",
        "2016-12-05T25:29:29Z",
        "05-12-2016T21:29:29Z",
    ] {
        let parsed = crate::asl::StateMachine::from_json(&definition(bad).to_string(), "t.json");
        let message = parsed.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("WaitUntil") && message.contains("Timestamp"), "{bad}: {message}");
    }
}

// Source: base/test_wait.snapshot.json, test_timestamp_too_far_in_future_boundary[24856]: a
// timestamp 24,856 days ahead fails with "Wait state delay is too long." (24,855 days waits).
#[tokio::test(start_paused = true)]
async fn wait_delay_too_long() {
    let start = chrono::DateTime::from_timestamp_millis(super::options().start_millis);
    let at = start.map(|s| s + chrono::Duration::days(24_856)).unwrap_or_default();
    let text = at.format("%Y-%m-%dT%H:%M:%S.000Z").to_string();
    let execution = run_with(echo(), wait_until_path(), json!({"TimestampValue": text})).await;
    assert_eq!(kinds(&execution), ["ExecutionStarted", "WaitStateEntered", "ExecutionFailed"]);
    failed_with(
        &execution,
        "States.Runtime",
        "An error occurred while executing the state 'WaitUntil' (entered at the event id #2). \
         Wait state delay is too long.",
    );
}

// Source: base/test_wait.snapshot.json, test_base_wait_seconds_path: 0 and 1 wait; -1, 1.5 and
// -1.5 fail with these causes. A path that matches nothing: logs/test_logs.snapshot.json.
#[tokio::test(start_paused = true)]
async fn wait_seconds_path_values() {
    let definition = json!({"StartAt": "WaitState", "States": {"WaitState": {"Type": "Wait", "SecondsPath": "$.input.waitSeconds", "End": true}}});
    for good in [json!(0), json!(1)] {
        let input = json!({"input": {"waitSeconds": good}});
        let execution = run_with(echo(), definition.clone(), input).await;
        assert_eq!(execution.status, Status::Succeeded);
    }
    let prefix =
        "An error occurred while executing the state 'WaitState' (entered at the event id #2). ";
    let cases = [
        (
            json!({"input": {"waitSeconds": -1}}),
            "The SecondsPath parameter references a negative value: $.input.waitSeconds == -1",
        ),
        (
            json!({"input": {"waitSeconds": 1.5}}),
            "The SecondsPath parameter cannot be parsed as a long value: $.input.waitSeconds == 1.5",
        ),
        (
            json!({"input": {"waitSeconds": -1.5}}),
            "The SecondsPath parameter cannot be parsed as a long value: $.input.waitSeconds == -1.5",
        ),
        (
            json!({"input": {}}),
            "The SecondsPath parameter does not reference an input value: $.input.waitSeconds",
        ),
    ];
    for (input, cause) in cases {
        let execution = run_with(echo(), definition.clone(), input).await;
        assert_eq!(kinds(&execution), ["ExecutionStarted", "WaitStateEntered", "ExecutionFailed"]);
        failed_with(&execution, "States.Runtime", &format!("{prefix}{cause}"));
    }
}

// Source: intrinsic_functions/test_json_manipulation.snapshot.json, test_string_to_json
// (template intrinsicfunctions/statemachines/json_manipulation/string_to_json.json5): the
// FunctionResult AWS returned for each FunctionInput.
#[tokio::test(start_paused = true)]
async fn string_to_json_edge_cases() {
    let definition = json!({
        "StartAt": "State_0",
        "States": {"State_0": {"Type": "Pass", "Parameters": {"FunctionResult.$": "States.StringToJson($.FunctionInput)"}, "End": true}}
    });
    let cases = [
        ("", json!(null)),
        (" ", json!(null)),
        ("null", json!(null)),
        ("-0", json!(0)),
        ("1", json!(1)),
        ("1.1", json!(1.1)),
        ("true", json!(true)),
        ("\"HelloWorld\"", json!("HelloWorld")),
        ("[1, 2, \"HelloWorld\"]", json!([1, 2, "HelloWorld"])),
        ("{\"Arg1\": 1, \"Arg2\": []}", json!({"Arg1": 1, "Arg2": []})),
    ];
    for (input, expected) in cases {
        let execution = run_with(echo(), definition.clone(), json!({"FunctionInput": input})).await;
        assert_eq!(execution.output, Some(json!({"FunctionResult": expected})), "{input:?}");
        let exported = execution.history.to_json();
        let output = exported["events"][3]["executionSucceededEventDetails"]["output"].clone();
        assert_eq!(output, json!(format!("{{\"FunctionResult\":{expected}}}")), "{input:?}");
    }
}

// Source: intrinsic_functions/test_json_manipulation.snapshot.json,
// test_json_merge_escaped_argument (template json_manipulation/json_merge_escaped_argument.json5):
// a JSON object with escaped quotes inside an intrinsic's string literal, nested in JsonMerge.
#[tokio::test(start_paused = true)]
async fn string_to_json_nested_in_json_merge() {
    let definition = json!({
        "StartAt": "StartState",
        "States": {"StartState": {
            "Type": "Pass",
            "ResultPath": "$.result_path",
            "Parameters": {"merged.$": "States.JsonMerge(States.StringToJson('{\"constant_in_literal\": \"false\"}'), $$.Execution.Input.input_field, false)"},
            "OutputPath": "$.result_path.merged",
            "End": true
        }}
    });
    let input = json!({"input_field": {"constant_input_field": "constant_value"}});
    let execution = run_with(echo(), definition, input).await;
    assert_eq!(
        execution.output,
        Some(json!({"constant_input_field": "constant_value", "constant_in_literal": "false"}))
    );
}

// Source: test_state/test_state_context_object.snapshot.json, test_state_map_context_object
// (AWS's TestState on a Map whose ItemsPath is not an array): States.Runtime,
// `Reference path "$.Execution.Input" must point to array.` for ItemsPath
// `$$.Execution.Input`; here in an execution, with the state prefix.
#[tokio::test(start_paused = true)]
async fn items_path_not_an_array_is_runtime() {
    for (items_path, shown) in [("$.items", "$.items"), ("$$.Execution.Input", "$.Execution.Input")]
    {
        let definition = json!({"StartAt": "MapState", "States": {"MapState": {
            "Type": "Map",
            "ItemsPath": items_path,
            "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": true}}},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
            "End": true
        }, "Caught": {"Type": "Pass", "End": true}}});
        let execution = run_with(echo(), definition, json!({"items": {"a": 1}})).await;
        let cause = format!(
            "An error occurred while executing the state 'MapState' (entered at the event id #2). \
             Reference path \"{shown}\" must point to array."
        );
        failed_with(&execution, "States.Runtime", &cause);
        assert!(!kinds(&execution).contains(&"MapStateFailed"));
    }
}
