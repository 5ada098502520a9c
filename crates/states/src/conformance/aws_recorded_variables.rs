//! Workflow variables (`Assign`) and JSONata checked against histories recorded on AWS:
//! LocalStack's snapshot tests in `tests/aws/services/stepfunctions/v2/assign/` (repository
//! localstack/localstack), with the definitions from
//! `tests/aws/services/stepfunctions/templates/assign/statemachines/`. Each case names its
//! snapshot test and template. AWS records an assigned value as its JSON text
//! (`"x": "42"`); LocalStack's snapshots show a JSON object's text parsed back, so object
//! values are compared parsed here too.

use serde_json::{Value, json};

use super::{echo, kinds, run_with};
use crate::engine::{Execution, Status};

/// The `assignedVariables` of each state-exited event, in order, as `(state, variables)`; the
/// values parsed from their JSON text.
fn assigned(execution: &Execution) -> Vec<(String, Value)> {
    let exported = execution.history.to_json();
    let events = exported["events"].as_array().cloned().unwrap_or_default();
    events
        .iter()
        .filter_map(|event| {
            let details = event.get("stateExitedEventDetails")?;
            let variables = details.get("assignedVariables")?.as_object()?;
            let parsed: serde_json::Map<String, Value> = variables
                .iter()
                .map(|(name, text)| {
                    let value = text.as_str().and_then(|t| serde_json::from_str(t).ok());
                    (name.clone(), value.unwrap_or(Value::Null))
                })
                .collect();
            Some((details["name"].as_str().unwrap_or_default().to_owned(), Value::Object(parsed)))
        })
        .collect()
}

fn raw_assigned(execution: &Execution, state: &str) -> Value {
    let exported = execution.history.to_json();
    let events = exported["events"].as_array().cloned().unwrap_or_default();
    events
        .iter()
        .filter_map(|event| event.get("stateExitedEventDetails"))
        .find(|details| details["name"] == json!(state))
        .map(|details| details["assignedVariables"].clone())
        .unwrap_or(Value::Null)
}

// Source: test_assign_base.snapshot.json, test_base_cases[BASE_CONSTANT_LITERALS] (template
// base_constant_literals.json5, a subset of its constants): literal values are assigned as
// they are, strings that look like paths, intrinsics or JSONata included, and recorded as JSON
// text.
#[tokio::test(start_paused = true)]
async fn constant_literals_are_assigned_as_json_text() {
    let definition = json!({"StartAt": "State0", "States": {"State0": {
        "Type": "Pass",
        "Assign": {
            "constant_null": null, "constant_int": 0, "constant_float": 0.1, "constant_bool": true,
            "constant_str": "constant string", "constant_str_path": "$.no.such.path",
            "constant_str_var": "$noSuchVar", "constant_str_jsonata_expr": "{% $varname.varfield %}",
            "constant_str_intrinsic_func": "States.Format('Format Func {}', $varname)",
            "constant_lst_empty": []
        },
        "End": true
    }}});
    let input = json!({"input_value": "input_value_literal"});
    let execution = run_with(echo(), definition, input.clone()).await;
    assert_eq!(execution.output, Some(input));
    assert_eq!(
        raw_assigned(&execution, "State0"),
        json!({
            "constant_bool": "true", "constant_float": "0.1", "constant_int": "0",
            "constant_lst_empty": "[]", "constant_null": "null",
            "constant_str": "\"constant string\"",
            "constant_str_intrinsic_func": "\"States.Format('Format Func {}', $varname)\"",
            "constant_str_jsonata_expr": "\"{% $varname.varfield %}\"",
            "constant_str_path": "\"$.no.such.path\"", "constant_str_var": "\"$noSuchVar\""
        })
    );
}

// Source: test_assign_base.snapshot.json, test_base_map_cases[BASE_SCOPE_MAP] (template
// base_scope_map.json5): `ItemsPath` reads a variable, each iteration reads the outer `$x`,
// and the state after the Map still sees `x`.
#[tokio::test(start_paused = true)]
async fn map_iterations_read_outer_variables() {
    let definition = json!({"StartAt": "State0", "States": {
        "State0": {"Type": "Pass", "Assign": {"x": 42, "items": [1, 2, 3]}, "Next": "State1"},
        "State1": {"Type": "Map", "ItemsPath": "$items", "MaxConcurrency": 1,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Inner",
                "States": {"Inner": {"Type": "Pass", "Assign": {"innerX.$": "$x"}, "End": true}}},
            "Next": "State2"},
        "State2": {"Type": "Pass", "Assign": {"final.$": "$x"}, "End": true}
    }});
    let execution = run_with(echo(), definition, json!({})).await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(execution.output, Some(json!([1, 2, 3])));
    assert_eq!(
        assigned(&execution),
        [
            ("State0".to_owned(), json!({"x": 42, "items": [1, 2, 3]})),
            ("Inner".to_owned(), json!({"innerX": 42})),
            ("Inner".to_owned(), json!({"innerX": 42})),
            ("Inner".to_owned(), json!({"innerX": 42})),
            ("State2".to_owned(), json!({"final": 42})),
        ]
    );
}

// Source: test_assign_base.snapshot.json, test_base_parallel_cases[BASE_SCOPE_PARALLEL]
// (template base_scope_parallel.json5): every branch reads the outer `$x`; the Parallel
// state's own exited event has no assignedVariables and its output is the branches' `[{},{},{}]`.
#[tokio::test(start_paused = true)]
async fn parallel_branches_read_outer_variables() {
    let branch = |name: &str| {
        json!({"StartAt": name, "States": {name: {"Type": "Pass",
            "Assign": {"innerX.$": "$x", "value.$": "$"}, "End": true}}})
    };
    let definition = json!({"StartAt": "State0", "States": {
        "State0": {"Type": "Pass", "Assign": {"x": 42}, "Next": "State1"},
        "State1": {"Type": "Parallel", "End": true,
            "Branches": [branch("Branch1"), branch("Branch21"), branch("Branch31")]}
    }});
    let execution = run_with(echo(), definition, json!({})).await;
    assert_eq!(execution.output, Some(json!([{}, {}, {}])), "{:?}", execution.cause);
    let mut found = assigned(&execution);
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        found,
        [
            ("Branch1".to_owned(), json!({"innerX": 42, "value": {}})),
            ("Branch21".to_owned(), json!({"innerX": 42, "value": {}})),
            ("Branch31".to_owned(), json!({"innerX": 42, "value": {}})),
            ("State0".to_owned(), json!({"x": 42})),
        ]
    );
    assert_eq!(raw_assigned(&execution, "State1"), Value::Null);
}

// Source: test_assign_base.snapshot.json, test_assign_in_choice[CONDITION_TRUE] and
// [CONDITION_FALSE] (template choice_condition_jsonata.json5): a matching JSONata rule's
// Assign is what is recorded; without a match the state-level Assign runs and Default is taken.
#[tokio::test(start_paused = true)]
async fn jsonata_choice_rule_and_default_assign() {
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "ChoiceState", "States": {
        "ChoiceState": {"Type": "Choice",
            "Choices": [{"Condition": "{% $states.input.condition %}", "Next": "ConditionTrue",
                         "Assign": {"Assignment": "Condition assignment"}}],
            "Default": "DefaultState",
            "Assign": {"Assignment": "Default Assignment"}},
        "ConditionTrue": {"Type": "Pass", "End": true},
        "DefaultState": {"Type": "Fail", "Cause": "Condition is false"}
    }});
    let matched = run_with(echo(), definition.clone(), json!({"condition": true})).await;
    assert_eq!(matched.output, Some(json!({"condition": true})), "{:?}", matched.cause);
    assert_eq!(
        raw_assigned(&matched, "ChoiceState"),
        json!({"Assignment": "\"Condition assignment\""})
    );
    let unmatched = run_with(echo(), definition, json!({"condition": false})).await;
    assert_eq!(unmatched.status, Status::Failed);
    assert_eq!(unmatched.cause.as_deref(), Some("Condition is false"));
    assert_eq!(
        raw_assigned(&unmatched, "ChoiceState"),
        json!({"Assignment": "\"Default Assignment\""})
    );
    assert_eq!(
        kinds(&unmatched),
        [
            "ExecutionStarted",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "FailStateEntered",
            "ExecutionFailed"
        ]
    );
}

// Source: test_assign_reference_variables.snapshot.json,
// test_reference_assign[BASE_REFERENCE_IN_PARAMETERS] (template
// base_reference_in_parameters.json5): a `Parameters` value without `.$` is a literal even
// if it looks like a variable, and `$result` is only visible from the next state.
#[tokio::test(start_paused = true)]
async fn a_variable_is_read_from_the_next_state_in_parameters() {
    let definition = json!({"StartAt": "State0", "States": {
        "State0": {"Type": "Pass", "Parameters": {"result": "$result"}, "Assign": {"result": "foobar"}, "Next": "State1"},
        "State1": {"Type": "Pass", "ResultPath": "$.result", "Parameters": {"result.$": "$result"}, "End": true}
    }});
    let execution = run_with(echo(), definition, json!({})).await;
    assert_eq!(
        execution.output,
        Some(json!({"result": {"result": "foobar"}})),
        "{:?}",
        execution.cause
    );
    assert_eq!(raw_assigned(&execution, "State0"), json!({"result": "\"foobar\""}));
}

// Source: test_assign_reference_variables.snapshot.json,
// test_reference_assign[BASE_REFERENCE_IN_CHOICE] (template base_reference_in_choice.json5):
// a Choice rule compares two variables (`Variable` and `StringEqualsPath`); the loop assigns
// `guess` from `$answer` and the second pass matches.
#[tokio::test(start_paused = true)]
async fn choice_rules_compare_variables() {
    let definition = json!({"StartAt": "Setup", "States": {
        "Setup": {"Type": "Pass", "Assign": {"guess": "the_guess", "answer": "the_answer"}, "Next": "CheckAnswer"},
        "CheckAnswer": {"Type": "Choice",
            "Choices": [{"Variable": "$guess", "StringEqualsPath": "$answer", "Next": "CorrectAnswer"}],
            "Default": "WrongAnswer"},
        "CorrectAnswer": {"Type": "Pass", "Result": {"state": "CORRECT"}, "End": true},
        "WrongAnswer": {"Type": "Pass", "Assign": {"guess.$": "$answer"}, "Result": {"state": "WRONG"}, "Next": "CheckAnswer"}
    }});
    let execution = run_with(echo(), definition, json!({})).await;
    assert_eq!(execution.output, Some(json!({"state": "CORRECT"})), "{:?}", execution.cause);
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(
        assigned(&execution),
        [
            ("Setup".to_owned(), json!({"guess": "the_guess", "answer": "the_answer"})),
            ("WrongAnswer".to_owned(), json!({"guess": "the_answer"})),
        ]
    );
}
