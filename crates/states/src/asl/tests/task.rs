//! Definitions the loader rejects for rules of `asl/parse/task.rs`: Task resources and their
//! integration parameters, timeouts, and the `Retry`/`Catch` arrays.

use super::*;

#[test]
fn integration_parameters_are_checked() {
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Done"}"#,
        ),
        Some("S"),
        "Parameters",
        "is required for lambda:invoke",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"Payload.$": "$"}, "Next": "Done"}"#,
        ),
        Some("S"),
        "Parameters",
        "lambda:invoke needs FunctionName",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f", "InvocationType": "Event"}, "Next": "Done"}"#,
        ),
        Some("S"),
        "Parameters.InvocationType",
        "only \"RequestResponse\"",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f", "LogType": "Tail"}, "Next": "Done"}"#,
        ),
        Some("S"),
        "Parameters.LogType",
        "not supported",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"Input.$": "$", "Nme": "x"}, "Next": "Done"}"#,
        ),
        Some("S"),
        "Parameters.Nme",
        "is not a parameter of states:startExecution",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"Input.$": "$"}, "Next": "Done"}"#,
        ),
        Some("S"),
        "Parameters",
        "needs StateMachineArn",
    );
}

#[test]
fn retry_rules() {
    let retry = |retriers: &str| with_task(&format!(r#", "Retry": {retriers}"#));
    assert_problem(&retry(r#"{}"#), Some("S"), "Retry", "must be an array of retriers");
    assert_problem(
        &retry(r#"[{"IntervalSeconds": 1}]"#),
        Some("S"),
        "Retry[0].ErrorEquals",
        "is required",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": []}]"#),
        Some("S"),
        "Retry[0].ErrorEquals",
        "at least one error name",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": [""]}]"#),
        Some("S"),
        "Retry[0].ErrorEquals[0]",
        "non-empty string",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": ["States.ALL", "States.Timeout"]}]"#),
        Some("S"),
        "Retry[0].ErrorEquals",
        "States.ALL must appear alone",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]"#),
        Some("S"),
        "Retry[0].ErrorEquals",
        "States.ALL must be in the last retrier",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": ["X"], "IntervalSeconds": 0}]"#),
        Some("S"),
        "Retry[0].IntervalSeconds",
        "from 1 to 99999999, found 0",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": ["X"], "IntervalSeconds": 1.5}]"#),
        Some("S"),
        "Retry[0].IntervalSeconds",
        "must be an integer",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": ["X"], "MaxAttempts": -1}]"#),
        Some("S"),
        "Retry[0].MaxAttempts",
        "from 0 to 99999999, found -1",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": ["X"], "BackoffRate": 0.5}]"#),
        Some("S"),
        "Retry[0].BackoffRate",
        "of at least 1.0, found 0.5",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}]"#),
        Some("S"),
        "Retry[0].MaxDelaySeconds",
        "from 1 to 31622400",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": ["X"], "MaxDelaySeconds": 31622401}]"#),
        Some("S"),
        "Retry[0].MaxDelaySeconds",
        "from 1 to 31622400",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]"#),
        Some("S"),
        "Retry[0].JitterStrategy",
        "\"FULL\" or \"NONE\"",
    );
    assert_problem(
        &retry(r#"[{"ErrorEquals": ["X"], "Bogus": 1}]"#),
        Some("S"),
        "Retry[0].Bogus",
        "unknown field in a retrier",
    );
}

#[test]
fn catch_rules() {
    let catch = |catchers: &str| with_task(&format!(r#", "Catch": {catchers}"#));
    assert_problem(
        &catch(
            r#"[{"ErrorEquals": ["States.ALL"], "Next": "Done"}, {"ErrorEquals": ["X"], "Next": "Done"}]"#,
        ),
        Some("S"),
        "Catch[0].ErrorEquals",
        "States.ALL must be in the last catcher",
    );
    assert_problem(
        &catch(r#"[{"ErrorEquals": ["X"]}]"#),
        Some("S"),
        "Catch[0].Next",
        "is required",
    );
    assert_problem(
        &catch(r#"[{"ErrorEquals": ["X"], "Next": "Done", "ResultPath": "$$.x"}]"#),
        Some("S"),
        "Catch[0].ResultPath",
        "Context Object",
    );
    assert_problem(
        &catch(r#"[{"ErrorEquals": ["X"], "Next": "Done", "Assign": {"1x": 1}}]"#),
        Some("S"),
        "Catch[0].Assign.1x",
        "is not a valid variable name",
    );
}

#[test]
fn task_timeouts() {
    assert_problem(
        &with_task(r#", "TimeoutSeconds": 0"#),
        Some("S"),
        "TimeoutSeconds",
        "from 1 to 99999999",
    );
    assert_problem(
        &with_task(r#", "TimeoutSeconds": 10, "TimeoutSecondsPath": "$.t""#),
        Some("S"),
        "TimeoutSecondsPath",
        "cannot be given together with TimeoutSeconds",
    );
    assert_problem(
        &with_task(r#", "TimeoutSeconds": 10, "HeartbeatSeconds": 10"#),
        Some("S"),
        "HeartbeatSeconds",
        "smaller than TimeoutSeconds (10)",
    );
    assert_problem(
        &with_task(r#", "TimeoutSecondsPath": "$$.Execution.Input.t""#),
        Some("S"),
        "TimeoutSecondsPath",
        "Context Object",
    );
    assert_problem(
        &with_task(r#", "HeartbeatSecondsPath": "$.beats[*]""#),
        Some("S"),
        "HeartbeatSecondsPath",
        "must be a Reference Path",
    );
}
