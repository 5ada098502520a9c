//! Definitions the loader rejects for rules of `asl/parse.rs`: the JSON and top-level
//! structure, JSONata and other unsupported features, fields per state type, transitions and
//! scopes, I/O paths, and the Choice, Wait, Fail and Parallel rules. Each failing definition is
//! checked for the state and field its error names.

use super::*;

#[test]
fn not_json_or_not_an_object() {
    assert_problem("{", None, "(json)", "not a valid JSON definition");
    assert_problem("[1]", None, "(definition)", "must be a JSON object, found an array");
    assert_problem(
        r#"{"StartAt": "A", "StartAt": "B", "States": {}}"#,
        None,
        "(json)",
        "duplicate key \"StartAt\"",
    );
}

#[test]
fn error_display_names_origin_state_and_field() {
    let err =
        match StateMachine::from_json(&with_task(r#", "Bogus": 1"#), "statemachine/etl.asl.json") {
            Ok(_) => panic!("accepted an unknown field"),
            Err(err) => err,
        };
    assert_eq!(
        err.to_string(),
        "statemachine/etl.asl.json: state \"S\": field Bogus: unknown field in a Task state"
    );
    assert_eq!(err.problems[0].state.as_deref(), Some("S"));
    assert_eq!(err.problems[0].field, "Bogus");

    let two = StateMachine::from_json(
        r#"{"StartAt": 1, "States": {"A": {"Type": "Succeed"}}, "X": 0}"#,
        "two",
    );
    let lines: Vec<String> = match two {
        Ok(_) => panic!("accepted a bad definition"),
        Err(err) => err.to_string().lines().map(str::to_owned).collect(),
    };
    assert_eq!(
        lines,
        [
            "two: field X: unknown field in the top level of a definition",
            "two: field StartAt: must be a string, found a number"
        ]
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let found = problems(
        r#"{"StartAt": "A", "Extra": true, "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync", "Next": "B"},
            "B": {"Type": "Wait", "Seconds": -1, "Next": "Nowhere"},
            "C": {"Type": "Pass", "End": true, "Assign": {"states": 1}}}}"#,
    );
    assert!(found.len() >= 5, "{found:#?}");
    for fragment in [
        "field Extra: unknown field",
        "state \"A\": field Resource: unsupported resource",
        "state \"B\": field Seconds: must be an integer from 0",
        "state \"B\": field Next: there is no state named \"Nowhere\"",
        "state \"C\": field Assign.states: 'states' is a reserved variable name",
    ] {
        assert!(
            found.iter().any(|problem| problem.starts_with(fragment)),
            "{fragment:?} not in {found:#?}"
        );
    }
}

#[test]
fn jsonpath_and_jsonata_fields_do_not_mix() {
    // AWS's message (aws/aws-cdk#34352): "field 'Parameters' is only supported for the
    // 'JSONPath' QueryLanguage".
    let jsonata_task = |fields: &str| {
        format!(
            r#"{{"QueryLanguage": "JSONata", "StartAt": "S", "States": {{
                "S": {{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Done"{fields}}},
                "Done": {{"Type": "Succeed"}}}}}}"#
        )
    };
    for field in ["InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath"] {
        assert_problem(
            &jsonata_task(&format!(
                r#", "{field}": {}"#,
                if field == "Parameters" || field == "ResultSelector" { "{}" } else { "\"$\"" }
            )),
            Some("S"),
            field,
            &format!("field '{field}' is only supported for the 'JSONPath' QueryLanguage"),
        );
    }
    assert_problem(
        &jsonata_task(
            r#", "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "Done"}]"#,
        ),
        Some("S"),
        "Catch[0].ResultPath",
        "field 'ResultPath' is only supported for the 'JSONPath' QueryLanguage",
    );
    assert_problem(
        &with_state(r#"{"Type": "Pass", "Output": {}, "Next": "Done"}"#),
        Some("S"),
        "Output",
        "field 'Output' is only supported for the 'JSONata' QueryLanguage",
    );
    assert_problem(
        &with_task(r#", "Arguments": {}"#),
        Some("S"),
        "Arguments",
        "field 'Arguments' is only supported for the 'JSONata' QueryLanguage",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Choice", "Choices": [{"Condition": "{% true %}", "Next": "Done"}]}"#,
        ),
        Some("S"),
        "Choices[0].Condition",
        "field 'Condition' is only supported for the 'JSONata' QueryLanguage",
    );
    assert_problem(
        &with_task(r#", "Catch": [{"ErrorEquals": ["States.ALL"], "Output": {}, "Next": "Done"}]"#),
        Some("S"),
        "Catch[0].Output",
        "field 'Output' is only supported for the 'JSONata' QueryLanguage",
    );
    assert_problem(
        r#"{"QueryLanguage": "XPath", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}"#,
        None,
        "QueryLanguage",
        "must be \"JSONPath\" or \"JSONata\"",
    );
    assert_problem(
        r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}]}}}"#,
        Some("P/Branches[0]"),
        "QueryLanguage",
        "unknown field in a Parallel branch",
    );
}

#[test]
fn unsupported_features_are_named() {
    assert_problem(
        &with_task(r#", "Credentials": {"RoleArn": "arn:aws:iam::1:role/x"}"#),
        Some("S"),
        "Credentials",
        "not supported by graphetl's local runner",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::athena:startQueryExecution.sync", "Next": "Done"}"#,
        ),
        Some("S"),
        "Resource",
        "supported: arn:aws:states:::lambda:invoke",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "Next": "Done"}"#,
        ),
        Some("S"),
        "Resource",
        "unsupported resource \"arn:aws:states:::dynamodb:putItem\"",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:x", "Next": "Done"}"#,
        ),
        Some("S"),
        "Resource",
        "unsupported resource",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "f"}, "Next": "Done"}"#,
        ),
        Some("S"),
        "Resource",
        ".waitForTaskToken) is not supported",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.waitForTaskToken",
                "Parameters": {"StateMachineArn": "x"}, "Next": "Done"}"#,
        ),
        Some("S"),
        "Resource",
        ".waitForTaskToken",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:", "Next": "Done"}"#,
        ),
        Some("S"),
        "Resource",
        "unsupported resource",
    );
}

#[test]
fn unknown_and_misplaced_fields() {
    assert_problem(
        r#"{"StartAt": "A", "Versoin": "1.0", "States": {"A": {"Type": "Succeed"}}}"#,
        None,
        "Versoin",
        "unknown field in the top level",
    );
    assert_problem(
        r#"{"StartAt": "A", "Version": "2.0", "States": {"A": {"Type": "Succeed"}}}"#,
        None,
        "Version",
        "must be \"1.0\"",
    );
    assert_problem(
        &with_state(r#"{"Type": "Pass", "Reslt": 1, "Next": "Done"}"#),
        Some("S"),
        "Reslt",
        "unknown field in a Pass state",
    );
    assert_problem(
        &with_state(r#"{"Type": "Pass", "ResultSelector": {}, "Next": "Done"}"#),
        Some("S"),
        "ResultSelector",
        "not allowed in a Pass state",
    );
    assert_problem(
        &with_state(r#"{"Type": "Succeed", "ResultPath": "$.x"}"#),
        Some("S"),
        "ResultPath",
        "not allowed in a Succeed state",
    );
    assert_problem(
        &with_state(r#"{"Type": "Fail", "InputPath": "$.x"}"#),
        Some("S"),
        "InputPath",
        "not allowed in a Fail state",
    );
    assert_problem(
        &with_state(r#"{"Type": "Fail", "OutputPath": "$.x"}"#),
        Some("S"),
        "OutputPath",
        "not allowed in a Fail state",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Choice", "ResultPath": "$.x", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done"}]}"#,
        ),
        Some("S"),
        "ResultPath",
        "not allowed in a Choice state",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Choice", "Parameters": {}, "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done"}]}"#,
        ),
        Some("S"),
        "Parameters",
        "not allowed in a Choice state",
    );
    assert_problem(
        &with_state(r#"{"Type": "Wait", "Seconds": 1, "Result": 1, "Next": "Done"}"#),
        Some("S"),
        "Result",
        "not allowed in a Wait state",
    );
    assert_problem(
        &with_state(r#"{"Type": "Pass", "Retry": [], "Next": "Done"}"#),
        Some("S"),
        "Retry",
        "not allowed in a Pass state",
    );
    assert_problem(
        &with_state(r#"{"Type": "Wait", "Seconds": 1, "Catch": [], "Next": "Done"}"#),
        Some("S"),
        "Catch",
        "not allowed in a Wait state",
    );
    assert_problem(
        &with_state(r#"{"Type": "Magic", "Next": "Done"}"#),
        Some("S"),
        "Type",
        "\"Magic\" is not a state type",
    );
    assert_problem(&with_state(r#"{"Next": "Done"}"#), Some("S"), "Type", "is required");
    assert_problem(&with_state("[]"), Some("S"), "(state)", "must be a JSON object");
    assert_problem(
        r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "TimeoutSeconds": 5, "States": {"A": {"Type": "Succeed"}}}]}}}"#,
        Some("P/Branches[0]"),
        "TimeoutSeconds",
        "unknown field in a Parallel branch",
    );
}

#[test]
fn top_level_structure() {
    assert_problem(r#"{"States": {"A": {"Type": "Succeed"}}}"#, None, "StartAt", "is required");
    assert_problem(r#"{"StartAt": "A"}"#, None, "States", "is required");
    assert_problem(r#"{"StartAt": "A", "States": {}}"#, None, "States", "at least one state");
    assert_problem(
        r#"{"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}"#,
        None,
        "StartAt",
        "no state named \"B\"",
    );
    assert_problem(
        r#"{"StartAt": "A", "TimeoutSeconds": 0, "States": {"A": {"Type": "Succeed"}}}"#,
        None,
        "TimeoutSeconds",
        "must be an integer from 1 to 99999999, found 0",
    );
    let long_name = "N".repeat(81);
    assert_problem(
        &format!(
            r#"{{"StartAt": "{long_name}", "States": {{"{long_name}": {{"Type": "Succeed"}}}}}}"#
        ),
        Some(&long_name),
        "(name)",
        "1 to 80 characters, found 81",
    );
}

#[test]
fn transitions() {
    assert_problem(
        &with_state(r#"{"Type": "Pass", "End": true, "Next": "Done"}"#),
        Some("S"),
        "End",
        "both \"End\": true and Next",
    );
    assert_problem(&with_state(r#"{"Type": "Pass"}"#), Some("S"), "Next", "is required unless");
    assert_problem(
        &with_state(r#"{"Type": "Pass", "End": false}"#),
        Some("S"),
        "Next",
        "is required unless",
    );
    assert_problem(
        &with_state(r#"{"Type": "Pass", "End": "yes"}"#),
        Some("S"),
        "End",
        "must be a boolean",
    );
    assert_problem(
        &with_state(r#"{"Type": "Pass", "Next": 3}"#),
        Some("S"),
        "Next",
        "must be a state name",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Choice", "End": true, "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done"}]}"#,
        ),
        Some("S"),
        "End",
        "a Choice state has no Next or End",
    );
    assert_problem(
        &with_state(r#"{"Type": "Succeed", "Next": "Done"}"#),
        Some("S"),
        "Next",
        "a Succeed state ends its machine",
    );
    assert_problem(
        &with_state(r#"{"Type": "Fail", "End": true}"#),
        Some("S"),
        "End",
        "a Fail state ends its machine",
    );
    assert_problem(
        &with_state(r#"{"Type": "Pass", "Next": "Missing"}"#),
        Some("S"),
        "Next",
        "no state named \"Missing\"",
    );
    assert_problem(
        &with_task(r#", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Elsewhere"}]"#),
        Some("S"),
        "Catch[0].Next",
        "no state named \"Elsewhere\"",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done"}], "Default": "Gone"}"#,
        ),
        Some("S"),
        "Default",
        "no state named \"Gone\"",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Gone"}], "Default": "Done"}"#,
        ),
        Some("S"),
        "Choices[0].Next",
        "no state named \"Gone\"",
    );
}

#[test]
fn nested_scopes_are_closed() {
    let into_branch = r#"{"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Inside", "Branches": [
            {"StartAt": "Inside", "States": {"Inside": {"Type": "Pass", "Next": "After"}}}]},
        "After": {"Type": "Succeed"}}}"#;
    assert_problem(
        into_branch,
        Some("P"),
        "Next",
        "is the state \"P/Branches[0]/Inside\" in another scope",
    );
    assert_problem(
        into_branch,
        Some("P/Branches[0]/Inside"),
        "Next",
        "\"After\" is the state \"After\" in another scope",
    );
    let out_of_map = r#"{"StartAt": "M", "States": {
        "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "Work", "States": {
            "Work": {"Type": "Pass", "Next": "Escape"}}}},
        "Escape": {"Type": "Succeed"}}}"#;
    assert_problem(out_of_map, Some("M/ItemProcessor/Work"), "Next", "in another scope");
    assert_problem(
        r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "Nope", "States": {"Work": {"Type": "Pass", "End": true}}}}}}"#,
        Some("M/ItemProcessor"),
        "StartAt",
        "no state named \"Nope\"",
    );
}

#[test]
fn unreachable_states_and_missing_terminal() {
    assert_problem(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "Orphan": {"Type": "Succeed"}}}"#,
        Some("Orphan"),
        "(state)",
        "is not reachable from StartAt \"A\"",
    );
    assert_problem(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}"#,
        None,
        "States",
        "has no terminal state",
    );
    assert_problem(
        r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "Next": "A"}}}]}}}"#,
        Some("P/Branches[0]"),
        "States",
        "has no terminal state",
    );
    assert_problem(
        r#"{"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "A", "States": {
            "A": {"Type": "Pass", "End": true}, "Lost": {"Type": "Pass", "End": true}}}}}}"#,
        Some("M/ItemProcessor/Lost"),
        "(state)",
        "not reachable",
    );
}

#[test]
fn state_names_are_unique_across_scopes() {
    assert_problem(
        r#"{"StartAt": "P", "States": {"P": {"Type": "Parallel", "Next": "Work", "Branches": [
            {"StartAt": "Work", "States": {"Work": {"Type": "Succeed"}}}]},
            "Work": {"Type": "Succeed"}}}"#,
        Some("Work"),
        "(name)",
        "already used by state \"P/Branches[0]/Work\"",
    );
}

#[test]
fn io_paths() {
    assert_problem(
        &with_task(r#", "ResultPath": "$$.x""#),
        Some("S"),
        "ResultPath",
        "Context Object",
    );
    assert_problem(
        &with_task(r#", "ResultPath": "$.items[*]""#),
        Some("S"),
        "ResultPath",
        "must be a Reference Path",
    );
    assert_problem(
        &with_task(r#", "ResultPath": 5"#),
        Some("S"),
        "ResultPath",
        "must be a path or null",
    );
    assert_problem(
        &with_task(r#", "InputPath": "nope""#),
        Some("S"),
        "InputPath",
        "is not a valid path",
    );
    assert_problem(
        &with_task(r#", "OutputPath": "$.a[""#),
        Some("S"),
        "OutputPath",
        "is not a valid path",
    );
    assert_problem(
        &with_task(r#", "ResultSelector": "$.x""#),
        Some("S"),
        "ResultSelector",
        "must be an object (a payload template)",
    );
    assert_problem(
        &with_state(r#"{"Type": "Task", "Resource": "${Fn}", "Parameters": [1], "Next": "Done"}"#),
        Some("S"),
        "Parameters",
        "must be an object",
    );
}

#[test]
fn choice_rules() {
    assert_problem(
        &with_state(r#"{"Type": "Choice", "Choices": []}"#),
        Some("S"),
        "Choices",
        "at least one Choice rule",
    );
    assert_problem(
        &with_state(r#"{"Type": "Choice", "Default": "Done"}"#),
        Some("S"),
        "Choices",
        "is required",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true}], "Default": "Done"}"#,
        ),
        Some("S"),
        "Choices[0].Next",
        "is required in a top-level Choice rule",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Choice", "Choices": [{"Variable": "$.a", "IsNull": true, "Next": "Done", "Assign": []}]}"#,
        ),
        Some("S"),
        "Choices[0].Assign",
        "must be an object",
    );
    assert_problem(
        &with_state(r#"{"Type": "Choice", "Choices": [3], "Default": "Done"}"#),
        Some("S"),
        "Choices[0]",
        "must be an object",
    );
    // The rule itself is checked by the choice module; its message lands on the rule.
    let found = problems(&with_state(
        r#"{"Type": "Choice", "Choices": [{"Next": "Done"}], "Default": "Done"}"#,
    ));
    assert!(
        found.iter().any(|problem| problem.starts_with("state \"S\": field Choices[0]: ")),
        "{found:#?}"
    );
}

#[test]
fn wait_rules() {
    assert_problem(
        &with_state(r#"{"Type": "Wait", "Next": "Done"}"#),
        Some("S"),
        "Seconds",
        "needs one of Seconds",
    );
    assert_problem(
        &with_state(r#"{"Type": "Wait", "Seconds": 1, "TimestampPath": "$.t", "Next": "Done"}"#),
        Some("S"),
        "TimestampPath",
        "exactly one of",
    );
    assert_problem(
        &with_state(r#"{"Type": "Wait", "Seconds": 100000000, "Next": "Done"}"#),
        Some("S"),
        "Seconds",
        "from 0 to 99999999",
    );
    for bad in [
        "2016-03-14",
        "2016-03-14t01:59:00Z",
        "2016-03-14T01:59:00z",
        "2016-03-14 01:59:00Z",
        "yesterday",
    ] {
        assert_problem(
            &with_state(&format!(r#"{{"Type": "Wait", "Timestamp": "{bad}", "Next": "Done"}}"#)),
            Some("S"),
            "Timestamp",
            "is not an RFC 3339 timestamp",
        );
    }
    assert_problem(
        &with_state(r#"{"Type": "Wait", "SecondsPath": "$$.x", "Next": "Done"}"#),
        Some("S"),
        "SecondsPath",
        "Context Object",
    );
}

#[test]
fn fail_rules() {
    assert_problem(
        &with_state(r#"{"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}"#),
        Some("S"),
        "ErrorPath",
        "cannot be given together with Error",
    );
    assert_problem(
        &with_state(r#"{"Type": "Fail", "Cause": "c", "CausePath": "$.c"}"#),
        Some("S"),
        "CausePath",
        "cannot be given together with Cause",
    );
    assert_problem(
        &with_state(r#"{"Type": "Fail", "Error": 3}"#),
        Some("S"),
        "Error",
        "must be a string",
    );
    assert_problem(
        &with_state(r#"{"Type": "Fail", "CausePath": "States.Nope(1)"}"#),
        Some("S"),
        "CausePath",
        "States.Nope",
    );
    assert_problem(
        &with_state(r#"{"Type": "Fail", "ErrorPath": "$.e[*]"}"#),
        Some("S"),
        "ErrorPath",
        "must be a Reference Path",
    );
}

#[test]
fn parallel_rules() {
    assert_problem(
        &with_state(r#"{"Type": "Parallel", "Next": "Done"}"#),
        Some("S"),
        "Branches",
        "is required",
    );
    assert_problem(
        &with_state(r#"{"Type": "Parallel", "Branches": [], "Next": "Done"}"#),
        Some("S"),
        "Branches",
        "at least one branch",
    );
    assert_problem(
        &with_state(r#"{"Type": "Parallel", "Branches": [1], "Next": "Done"}"#),
        Some("S"),
        "Branches[0]",
        "must be an object",
    );
    assert_problem(
        &with_state(
            r#"{"Type": "Parallel", "Branches": [{"States": {"A": {"Type": "Succeed"}}}], "Next": "Done"}"#,
        ),
        Some("S/Branches[0]"),
        "StartAt",
        "is required",
    );
}

#[test]
fn nested_error_paths_name_the_nesting() {
    let text = DISTRIBUTED_EXAMPLE.replace(r#""IntervalSeconds": 5"#, r#""IntervalSeconds": 0"#);
    assert_problem(
        &text,
        Some("TransformFiles/ItemProcessor/TransformBatch"),
        "Retry[1].IntervalSeconds",
        "from 1 to 99999999, found 0",
    );
}
