//! JSONata states and workflow variables run end to end: `$states`, `Output` and `Assign` on
//! the same values, scoping (next state, Map iterations, Parallel branches, Distributed Map
//! children, catchers), `States.QueryEvaluationError`, size limits and `assignedVariables`.

use serde_json::{Value, json};

use super::{Engine, Execution, Status};
use crate::asl::StateMachine;

fn machine(definition: &Value) -> StateMachine {
    match StateMachine::from_json(&definition.to_string(), "test.asl.json") {
        Ok(machine) => machine,
        Err(e) => panic!("test definition is invalid: {e}"),
    }
}

async fn run(definition: Value, input: Value) -> Execution {
    Engine::builder().build().run("m", &machine(&definition), input, "e1").await
}

fn exited(execution: &Execution, name: &str) -> Option<Value> {
    execution
        .history
        .events()
        .iter()
        .filter(|event| event.kind.ends_with("StateExited"))
        .filter_map(|event| event.details.clone())
        .find(|details| details["name"] == json!(name))
}

#[tokio::test(start_paused = true)]
async fn jsonata_output_and_assign_see_the_entry_values_and_the_next_state_sees_the_new_ones() {
    let execution = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}"},
                  "Output": {"before": "{% $x %}", "in": "{% $states.input.n %}"}, "Next": "C"},
            "C": {"Type": "Pass", "Output": {"x": "{% $x %}", "prev": "{% $states.input %}",
                  "name": "{% $states.context.State.Name %}"}, "End": true}
        }}),
        json!({"n": 5}),
    )
    .await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(
        execution.output,
        Some(json!({"x": 2, "prev": {"before": 1, "in": 5}, "name": "C"}))
    );
    // AWS records each assigned value as JSON text on the state's exited event.
    let b = exited(&execution, "B").unwrap_or_default();
    assert_eq!(b["assignedVariables"], json!({"x": "2"}));
    assert_eq!(b["assignedVariablesDetails"], json!({"truncated": false}));
    assert_eq!(exited(&execution, "C").map(|c| c.get("assignedVariables").is_none()), Some(true));
}

#[tokio::test(start_paused = true)]
async fn parallel_result_arguments_and_map_items_and_item_selector() {
    let execution = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Arguments": {"v": "{% $states.input.v * 10 %}"},
                  "Branches": [
                      {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Output": "{% $states.input.v + 1 %}", "End": true}}},
                      {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "Output": "{% $states.input.v + 2 %}", "End": true}}}
                  ],
                  "Output": {"sum": "{% $sum($states.result) %}", "items": [1, 2, 3]},
                  "Assign": {"total": "{% $sum($states.result) %}"},
                  "Next": "M"},
            "M": {"Type": "Map", "Items": "{% $states.input.items %}",
                  "ItemSelector": {"i": "{% $states.context.Map.Item.Index %}",
                                   "v": "{% $states.context.Map.Item.Value * $total %}"},
                  "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
                  "Output": "{% $states.result.v %}",
                  "End": true}
        }}),
        json!({"v": 1}),
    )
    .await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(execution.output, Some(json!([23, 46, 69])));
}

#[tokio::test(start_paused = true)]
async fn inner_scopes_read_outer_variables_but_their_assignments_stay_inside() {
    let inner = |name: &str| {
        json!({"StartAt": name, "States": {
            name: {"Type": "Pass", "Assign": {"inner": "{% $outer & '!' %}"}, "Next": format!("{name}2")},
            format!("{name}2"): {"Type": "Pass", "Output": "{% $inner %}", "End": true}
        }})
    };
    let execution = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"outer": "o"}, "Next": "M"},
            "M": {"Type": "Map", "Items": [1, 2], "ItemProcessor": inner("I"), "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [inner("B")],
                  "Output": {"map": "{% $states.input %}", "parallel": "{% $states.result %}"}, "Next": "After"},
            "After": {"Type": "Pass", "Output": {"r": "{% $states.input %}", "inner": "{% $exists($inner) %}"}, "End": true}
        }}),
        json!({}),
    )
    .await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(
        execution.output,
        Some(json!({"r": {"map": ["o!", "o!"], "parallel": ["o!"]}, "inner": false}))
    );
}

#[tokio::test(start_paused = true)]
async fn distributed_map_children_cannot_read_outer_variables() {
    let execution = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"outer": "o"}, "Next": "M"},
            "M": {"Type": "Map", "Items": [1],
                  "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                      "StartAt": "I", "States": {"I": {"Type": "Pass", "Output": "{% $exists($outer) %}", "End": true}}},
                  "End": true}
        }}),
        json!({}),
    )
    .await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(execution.output, Some(json!([false])));
}

#[tokio::test(start_paused = true)]
async fn a_catcher_runs_its_own_assign_not_the_states_and_sees_the_error_output() {
    let execution = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Assign": {"state": "assigned"},
                  "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "{% 'it ' & 'broke' %}"}}}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"caught": "{% $states.errorOutput.Error %}"},
                             "Output": {"cause": "{% $states.errorOutput.Cause %}", "in": "{% $states.input %}"}, "Next": "D"}],
                  "Next": "D"},
            "D": {"Type": "Pass", "Output": {"out": "{% $states.input %}", "caught": "{% $caught %}", "state": "{% $exists($state) %}"}, "End": true}
        }}),
        json!({"k": 1}),
    )
    .await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(
        execution.output,
        Some(
            json!({"out": {"cause": "it broke", "in": {"k": 1}}, "caught": "Boom", "state": false})
        )
    );
}

#[tokio::test(start_paused = true)]
async fn choice_conditions_and_rule_assign() {
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
                {"Condition": "{% $states.input.n > 10 %}", "Assign": {"size": "big"}, "Next": "Big"}
              ], "Default": "Small", "Assign": {"seen": "{% $states.input.n %}"}},
        "Big": {"Type": "Pass", "Output": ["{% $size %}", "{% $seen %}"], "End": true},
        "Small": {"Type": "Pass", "Output": ["{% $exists($size) %}", "{% $seen %}"], "End": true}
    }});
    // state-choice.html: a rule's Assign runs when it matches; the state-level Assign runs
    // whichever rule matches (and for Default).
    let big = run(definition.clone(), json!({"n": 11})).await;
    assert_eq!(big.output, Some(json!(["big", 11])), "{:?}", big.cause);
    let small = run(definition, json!({"n": 1})).await;
    assert_eq!(small.output, Some(json!([false, 1])), "{:?}", small.cause);
}

#[tokio::test(start_paused = true)]
async fn an_undefined_or_failing_expression_is_a_query_evaluation_error() {
    let execution = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Output": {"x": "{% $states.input.missing %}"}, "End": true}
        }}),
        json!({}),
    )
    .await;
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some("States.QueryEvaluationError"));
    assert_eq!(
        execution.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'A' (entered at the event id #2). The \
             JSONata expression '$states.input.missing' specified for the field 'Output' returned \
             nothing (undefined)."
        )
    );
    let failing = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x": "{% 1 + 'a' %}"}, "End": true}
        }}),
        json!({}),
    )
    .await;
    assert_eq!(failing.error.as_deref(), Some("States.QueryEvaluationError"));
    assert!(
        failing
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("'1 + 'a'' specified for the field 'Assign'")),
        "{:?}",
        failing.cause
    );
}

#[tokio::test(start_paused = true)]
async fn jsonpath_states_assign_and_read_variables() {
    let execution = run(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {"id.$": "$.id"}, "Assign": {"fromResult.$": "$.id", "lit": [1]}, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"v.$": "$fromResult", "l.$": "$lit[0]",
                  "f.$": "States.Format('{}-{}', $fromResult, $lit[0])"}, "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$fromResult", "NumericEquals": 7, "Next": "D"}], "Default": "D"},
            "D": {"Type": "Succeed"}
        }}),
        json!({"id": 7}),
    )
    .await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(execution.output, Some(json!({"v": 7, "l": 1, "f": "7-1"})));
}

#[tokio::test(start_paused = true)]
async fn a_variable_over_256_kib_is_a_runtime_error() {
    let execution = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"big": "{% $join($map([1..270000], function($v) { 'x' }), '') %}"}, "End": true}
        }}),
        json!({}),
    )
    .await;
    assert_eq!(execution.error.as_deref(), Some("States.Runtime"), "{:?}", execution.cause);
    assert!(
        execution.cause.as_deref().is_some_and(|c| c.contains("variable 'big'")),
        "{:?}",
        execution.cause
    );
}

#[tokio::test(start_paused = true)]
async fn wait_seconds_and_fail_error_as_expressions() {
    let execution = run(
        json!({"QueryLanguage": "JSONata", "StartAt": "W", "States": {
            "W": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "Next": "F"},
            "F": {"Type": "Fail", "Error": "{% 'E.' & $states.input.code %}", "Cause": "literal cause"}
        }}),
        json!({"s": 3, "code": "X"}),
    )
    .await;
    assert_eq!(execution.error.as_deref(), Some("E.X"));
    assert_eq!(execution.cause.as_deref(), Some("literal cause"));
    assert!(execution.stop_millis - execution.start_millis >= 3000);
}
