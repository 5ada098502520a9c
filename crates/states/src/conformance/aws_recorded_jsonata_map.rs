//! JSONata Distributed Maps checked against histories recorded on AWS: LocalStack's
//! `tests/aws/services/stepfunctions/v2/scenarios/test_base_scenarios.snapshot.json`
//! (repository localstack/localstack, recorded 13-11-2024), with the definitions from
//! `tests/aws/services/stepfunctions/templates/scenarios/statemachines/`. Both read a JSON array
//! from S3 through `ItemReader.Arguments` and give a numeric field as a `{% … %}` expression.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{kinds, machine, options};
use crate::engine::{Engine, Execution, Status};
use crate::resolve::MemoryStore;

/// The object both tests put at `bucket-name/file.json`.
fn statements() -> Value {
    json!([
        {"verdict": "true", "statement_date": "6/11/2008", "statement_source": "speech"},
        {"verdict": "false", "statement_date": "6/7/2022", "statement_source": "television"},
        {"verdict": "mostly-true", "statement_date": "5/18/2016", "statement_source": "news"}
    ])
}

async fn run_over_file(definition: Value, input: Value) -> Execution {
    let store = Arc::new(MemoryStore::new());
    store.insert("bucket-name", "file.json", statements().to_string().into_bytes());
    let engine = Engine::builder().store(store).options(options()).build();
    engine.run("test", &machine(definition), input, "exec-1").await
}

/// The parent's events in both recorded histories.
const PARENT_EVENTS: [&str; 8] = [
    "ExecutionStarted",
    "MapStateEntered",
    "MapStateStarted",
    "MapRunStarted",
    "MapRunSucceeded",
    "MapStateSucceeded",
    "MapStateExited",
    "ExecutionSucceeded",
];

// Source: test_base_scenarios.snapshot.json, test_map_item_reader_base_json_max_items_jsonata
// (template map_item_reader_base_json_max_items_jsonata.json5): `ReaderConfig.MaxItems` is the
// expression `$maxItems := 2`, the reader's `Arguments` take Bucket and Key from the input; the
// Map's output is the first two items.
#[tokio::test(start_paused = true)]
async fn item_reader_arguments_and_max_items_as_an_expression() {
    let definition = json!({
        "Comment": "MAP_ITEM_READER_BASE_JSON_MAX_ITEMS_JSONATA",
        "QueryLanguage": "JSONata",
        "StartAt": "MapState",
        "States": {"MapState": {
            "Type": "Map",
            "MaxConcurrency": 1,
            "ItemReader": {
                "ReaderConfig": {"InputType": "JSON", "MaxItems": "{% $maxItems := 2 %}"},
                "Resource": "arn:aws:states:::s3:getObject",
                "Arguments": {"Bucket": "{% $states.input.Bucket %}", "Key": "{% $states.input.Key %}"}
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "PassItem",
                "States": {"PassItem": {"Type": "Pass", "End": true}}
            },
            "End": true
        }}
    });
    let input = json!({"Bucket": "bucket-name", "Key": "file.json", "MaxItems": 2});
    let execution = run_over_file(definition, input).await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(kinds(&execution), PARENT_EVENTS);
    let items = statements();
    assert_eq!(execution.output, Some(json!([items[0], items[1]])));
}

// Source: test_base_scenarios.snapshot.json, test_map_item_batching_base_json_max_per_batch_jsonata
// (template map_item_batcher_base_max_per_batch_jsonata.json5): `MaxItemsPerBatch` and
// `MaxInputBytesPerBatch` are expressions on the input, `BatchInput` a JSONata template over the
// context; `MaxItems` 2 gives one batch of two items.
#[tokio::test(start_paused = true)]
async fn item_batcher_limits_as_expressions_and_a_jsonata_batch_input() {
    let definition = json!({
        "Comment": "MAP_ITEM_BATCHER_BASE_JSON_MAX_PER_BATCH_JSONATA",
        "StartAt": "BatchMapState",
        "QueryLanguage": "JSONata",
        "States": {"BatchMapState": {
            "Type": "Map",
            "ItemReader": {
                "ReaderConfig": {"InputType": "JSON", "MaxItems": 2},
                "Resource": "arn:aws:states:::s3:getObject",
                "Arguments": {"Bucket": "{% $states.input.Bucket %}", "Key": "{% $states.input.Key %}"}
            },
            "ItemBatcher": {
                "MaxItemsPerBatch": "{% $states.input.MaxItemsPerBatch %}",
                "MaxInputBytesPerBatch": "{% $states.input.MaxInputBytesPerBatch %}",
                "BatchInput": {"BatchTimestamp": "{% $states.context.State.EnteredTime %}"}
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "ProcessBatch",
                "States": {"ProcessBatch": {"Type": "Pass", "End": true}}
            },
            "End": true
        }}
    });
    let input = json!({
        "Bucket": "bucket-name", "Key": "file.json", "MaxItemsPerBatch": 2,
        "MaxInputBytesPerBatch": 150000
    });
    let execution = run_over_file(definition, input).await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(kinds(&execution), PARENT_EVENTS);
    let output = execution.output.unwrap_or_default();
    let items = statements();
    // AWS's snapshot masks the timestamp ("date"); here it is the state's entered time.
    let entered = output[0]["BatchInput"]["BatchTimestamp"].as_str().unwrap_or_default();
    assert!(entered.ends_with('Z') && entered.contains('T'), "{output}");
    assert_eq!(
        output,
        json!([{"BatchInput": {"BatchTimestamp": entered}, "Items": [items[0], items[1]]}])
    );
}
