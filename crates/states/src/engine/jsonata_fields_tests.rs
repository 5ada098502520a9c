//! The JSONata fields beyond `Arguments`/`Output`/`Assign`: a Distributed Map over S3 with
//! ItemReader/ResultWriter `Arguments`, a JSONata `BatchInput`, numeric Map fields and Task
//! `TimeoutSeconds`/`HeartbeatSeconds` as `{% … %}` expressions, a Choice rule's `Output`, and the
//! load-time check that an inner scope does not assign an outer scope's variable.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Engine, Execution, Status};
use crate::asl::{Dynamic, StateKind, StateMachine};
use crate::error::names;
use crate::resolve::{FunctionError, Functions, MemoryStore};

fn machine(definition: &Value) -> StateMachine {
    match StateMachine::from_json(&definition.to_string(), "test.asl.json") {
        Ok(machine) => machine,
        Err(e) => panic!("test definition is invalid: {e}"),
    }
}

fn load_error(definition: &Value) -> String {
    match StateMachine::from_json(&definition.to_string(), "test.asl.json") {
        Ok(_) => panic!("the definition loaded: {definition}"),
        Err(e) => e.to_string(),
    }
}

async fn run(definition: Value, input: Value) -> Execution {
    Engine::builder().build().run("m", &machine(&definition), input, "e1").await
}

/// A JSONata Distributed Map over `raw/` of a memory bucket: `Arguments` of the reader and
/// writer, `MaxItems`, `MaxItemsPerBatch`, `MaxConcurrency` and `ToleratedFailureCount` as
/// expressions, a JSONata `BatchInput`.
fn distributed_over_s3() -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"bucket": "data", "limit": 3}, "Next": "Files"},
        "Files": {
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:listObjectsV2",
                "Arguments": {"Bucket": "{% $bucket %}", "Prefix": "{% $states.input.prefix %}"},
                "ReaderConfig": {"MaxItems": "{% $limit %}"}
            },
            "ItemBatcher": {
                "MaxItemsPerBatch": "{% $states.input.batch %}",
                "BatchInput": {"run": "{% $states.input.run %}"}
            },
            "MaxConcurrency": "{% $states.input.batch %}",
            "ToleratedFailureCount": "{% 0 %}",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P",
                "States": {"P": {"Type": "Pass", "Output": {
                    "run": "{% $states.input.BatchInput.run %}",
                    "keys": "{% $states.input.Items.Key %}"
                }, "End": true}}
            },
            "ResultWriter": {
                "Resource": "arn:aws:states:::s3:putObject",
                "Arguments": {"Bucket": "{% $bucket %}", "Prefix": "out"}
            },
            "Output": "{% $states.result.ResultWriterDetails %}",
            "End": true
        }
    }})
}

#[tokio::test(start_paused = true)]
async fn a_jsonata_distributed_map_reads_and_writes_s3_with_arguments_and_expression_limits() {
    let definition = distributed_over_s3();
    let loaded = machine(&definition);
    let Some(StateKind::Map(map)) = loaded.state("Files").map(|s| &s.kind) else {
        panic!("no Map state Files");
    };
    assert!(matches!(&map.max_concurrency, Some(Dynamic::Expression(_))));
    assert!(matches!(&map.tolerated_failure_count, Some(Dynamic::Expression(_))));
    assert!(matches!(
        map.item_reader.as_ref().and_then(|r| r.max_items.as_ref()),
        Some(Dynamic::Expression(_))
    ));

    let store = Arc::new(MemoryStore::new());
    for key in ["raw/a", "raw/b", "raw/c", "raw/d", "other/x"] {
        store.insert("data", key, b"{}".to_vec());
    }
    let engine = Engine::builder().store(store.clone()).build();
    let execution =
        engine.run("m", &loaded, json!({"prefix": "raw/", "batch": 2, "run": "r1"}), "e1").await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    let output = execution.output.unwrap_or_default();
    assert_eq!(output["Bucket"], "data", "{output}");
    let manifest_key = output["Key"].as_str().unwrap_or_default();
    assert!(
        manifest_key.starts_with("out/") && manifest_key.ends_with("manifest.json"),
        "{output}"
    );
    let manifest: Value =
        serde_json::from_slice(&store.object("data", manifest_key).unwrap_or_default())
            .unwrap_or_default();
    let succeeded = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"].as_str().unwrap_or_default();
    let results: Value =
        serde_json::from_slice(&store.object("data", succeeded).unwrap_or_default())
            .unwrap_or_default();
    let mut outputs: Vec<Value> = results
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["Output"].as_str().and_then(|o| serde_json::from_str(o).ok()))
        .collect();
    outputs.sort_by_key(|o| o["keys"].to_string());
    // MaxItems 3 of the four raw/ objects, two per batch, each batch with its BatchInput.
    assert_eq!(
        outputs,
        [json!({"run": "r1", "keys": "raw/c"}), json!({"run": "r1", "keys": ["raw/a", "raw/b"]})]
    );
}

#[tokio::test(start_paused = true)]
async fn a_numeric_expression_of_the_wrong_type_fails_the_state() {
    let mut definition = distributed_over_s3();
    definition["States"]["Files"]["MaxConcurrency"] = json!("{% 'ten' %}");
    let store = Arc::new(MemoryStore::new());
    store.insert("data", "raw/a", b"{}".to_vec());
    let engine = Engine::builder().store(store).build();
    let execution = engine
        .run("m", &machine(&definition), json!({"prefix": "raw/", "batch": 1, "run": "r"}), "e1")
        .await;
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some(names::RUNTIME), "{:?}", execution.cause);
    let cause = execution.cause.unwrap_or_default();
    assert!(cause.contains("MaxConcurrency {% 'ten' %} is not a non-negative integer"), "{cause}");
}

#[test]
fn jsonpath_keys_in_a_jsonata_reader_and_writer_are_rejected() {
    let mut definition = distributed_over_s3();
    definition["States"]["Files"]["ItemReader"] = json!({
        "Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": "data"}
    });
    let message = load_error(&definition);
    assert!(
        message.contains(
            "field ItemReader.Parameters: field 'Parameters' is only supported for the 'JSONPath' QueryLanguage"
        ),
        "{message}"
    );
    assert!(message.contains("field ItemReader.Arguments: is required"), "{message}");
    let mut definition = distributed_over_s3();
    definition["States"]["Files"]["ResultWriter"]["Arguments"] =
        json!({"Bucket": "data", "Key": "k"});
    let message = load_error(&definition);
    assert!(message.contains("field ResultWriter.Arguments.Key"), "{message}");
}

/// A function that answers after `seconds` (the paused clock makes that instant).
fn slow(seconds: u64) -> Functions {
    let mut functions = Functions::new();
    functions.register(
        "Slow",
        Arc::new(move |payload: Value| async move {
            tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
            Ok::<_, FunctionError>(payload)
        }),
        None,
    );
    functions
}

#[tokio::test(start_paused = true)]
async fn task_timeout_and_heartbeat_seconds_as_expressions() {
    let definition = |field: &str, expression: &str| {
        json!({"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"limit": 5}, "Next": "Call"},
            "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Arguments": {"FunctionName": "Slow", "Payload": "{% $states.input %}"},
                     field: expression, "End": true}
        }})
    };
    for field in ["TimeoutSeconds", "HeartbeatSeconds"] {
        let loaded = machine(&definition(field, "{% $limit * 2 %}"));
        let Some(StateKind::Task(task)) = loaded.state("Call").map(|s| &s.kind) else {
            panic!("no Task state Call");
        };
        let value = if field == "TimeoutSeconds" { &task.timeout } else { &task.heartbeat };
        assert!(matches!(value, Some(Dynamic::Expression(_))), "{field}");
        // 10 s allowed: a 20 s call times out, a 3 s call does not.
        for (seconds, status) in [(20, Status::Failed), (3, Status::Succeeded)] {
            let engine = Engine::builder().functions(slow(seconds)).build();
            let execution = engine.run("m", &loaded, json!({}), "e1").await;
            assert_eq!(execution.status, status, "{field} {seconds}: {:?}", execution.cause);
            if status == Status::Failed {
                assert_eq!(execution.error.as_deref(), Some(names::TIMEOUT), "{field}");
            }
        }
        let engine = Engine::builder().functions(slow(1)).build();
        let zero = machine(&definition(field, "{% 0 %}"));
        let execution = engine.run("m", &zero, json!({}), "e1").await;
        assert_eq!(execution.error.as_deref(), Some(names::RUNTIME), "{field}");
        let cause = execution.cause.unwrap_or_default();
        assert!(cause.contains(&format!("{field} {{% 0 %}} is not a positive integer")), "{cause}");
    }
}

// The shape of a Choice rule with `Output` is AWS's: localstack/localstack#12048 (a JSONata
// definition AWS accepts, LocalStack then rejected).
#[tokio::test(start_paused = true)]
async fn a_matched_choice_rules_output_is_the_states_output() {
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
        "C": {"Type": "Choice",
              "Assign": {"seen": "{% $states.input.status %}"},
              "Output": {"from": "state"},
              "Choices": [{"Condition": "{% $states.input.status != 'success' %}",
                           "Output": {"type": "{% $states.input.status %}", "rule": true},
                           "Next": "Done"}],
              "Default": "Done"},
        "Done": {"Type": "Pass", "Output": {"in": "{% $states.input %}", "seen": "{% $seen %}"}, "End": true}
    }});
    let failed = run(definition.clone(), json!({"status": "error"})).await;
    assert_eq!(failed.status, Status::Succeeded, "{:?}", failed.cause);
    assert_eq!(
        failed.output,
        Some(json!({"in": {"type": "error", "rule": true}, "seen": "error"}))
    );
    // No rule matched: the state's own Output.
    let default = run(definition, json!({"status": "success"})).await;
    assert_eq!(default.output, Some(json!({"in": {"from": "state"}, "seen": "success"})));
}

#[test]
fn an_output_on_a_jsonpath_choice_rule_is_rejected() {
    let message = load_error(&json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true,
              "Output": {"a": 1}, "Next": "D"}], "Default": "D"},
        "D": {"Type": "Succeed"}
    }}));
    assert!(
        message.contains("field 'Output' is only supported for the 'JSONata' QueryLanguage"),
        "{message}"
    );
}

#[test]
fn an_inner_scope_cannot_assign_an_outer_variable() {
    let inner = |name: &str, assign: Value| json!({"StartAt": name, "States": {name: {"Type": "Pass", "Assign": assign, "End": true}}});
    let definition = |map_assign: Value, parallel_assign: Value| {
        json!({"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"x": 1}, "Next": "M"},
            "M": {"Type": "Map", "Items": [1], "Assign": {"m": 1},
                  "ItemProcessor": inner("I", map_assign), "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [inner("B", parallel_assign)], "End": true}
        }})
    };
    let message = load_error(&definition(json!({"x": 2}), json!({"m": 2})));
    assert!(
        message.contains(
            "state \"M/ItemProcessor/I\": field Assign.x: variable \"x\" is assigned in an outer scope (state \"Set\")"
        ),
        "{message}"
    );
    assert!(
        message.contains("state \"P/Branches[0]/B\": field Assign.m: variable \"m\" is assigned in an outer scope (state \"M\")"),
        "{message}"
    );
    // New names inside, and the same new name in two sibling scopes, are fine.
    machine(&definition(json!({"y": 1}), json!({"y": 2})));
    // Nested inline Maps that read outer variables and assign new ones load: AWS ran this one
    // (LocalStack test_assign_reference_variables.snapshot.json,
    // test_reference_assign[BASE_REFERENCE_IN_ITERATOR_OUTER_SCOPE], template
    // base_reference_in_iterator_outer_scope.json5, Result shortened).
    machine(&json!({"StartAt": "Input", "States": {
        "Input": {"Type": "Pass", "Result": [[9, 44, 6]], "Assign": {"bias": 4.3}, "Next": "IterateLevels"},
        "IterateLevels": {"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "AssignCurrentVector", "States": {
                "AssignCurrentVector": {"Type": "Pass",
                    "Assign": {"xCurrent.$": "$[0]", "yCurrent.$": "$[1]", "zCurrent.$": "$[2]"},
                    "Next": "Calculate"},
                "Calculate": {"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Summate", "States": {
                        "Summate": {"Type": "Pass", "Assign": {
                            "Sum.$": "States.MathAdd(States.MathAdd(States.MathAdd($yCurrent, $xCurrent), $zCurrent), $bias)"
                        }, "End": true}}}, "End": true}}}, "End": true}
    }}));
    // A Distributed Map's children are executions of their own.
    let distributed = json!({"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"x": 1}, "Next": "M"},
        "M": {"Type": "Map", "Items": [1],
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                "StartAt": "I", "States": {"I": {"Type": "Pass", "Assign": {"x": 2}, "End": true}}},
              "End": true}
    }});
    machine(&distributed);
    // JSONPath names, catchers and nested scopes too.
    let message = load_error(&json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Assign": {"a.$": "$.a"}, "Branches": [{"StartAt": "M", "States": {
            "M": {"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Parameters": {"FunctionName": "F"},
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"a": 1}, "Next": "E"}], "End": true},
                "E": {"Type": "Succeed"}}}, "End": true}}}],
              "End": true}
    }}));
    assert!(
        message.contains("state \"P/Branches[0]/M/ItemProcessor/T\": field Catch[0].Assign.a: variable \"a\" is assigned in an outer scope (state \"P\")"),
        "{message}"
    );
}
