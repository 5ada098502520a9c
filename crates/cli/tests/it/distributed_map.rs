//! The interpreter's Distributed Map over the real local S3 endpoint, through the CLI's
//! `ItemStore` adapter (`commands/items.rs`, compiled into this binary too): 20,000 objects
//! stay under the history quota and match the static budget exactly; a missing object is
//! `NotFound` to the interpreter.

use std::sync::Arc;

use graphetl_states::asl::StateMachine;
use graphetl_states::budget::{BudgetInput, history_budget};
use graphetl_states::exec::{Engine, Status};
use graphetl_states::history::MAX_HISTORY_EVENTS;
use graphetl_states::resolve::{FunctionError, Functions};
use serde_json::{Value, json};

use graphetl_storage::{LocalS3, ObjectStore};

use super::items::StoreItems;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BUCKET: &str = "graphetl-test";

#[tokio::test(flavor = "multi_thread")]
async fn twenty_thousand_objects() -> TestResult {
    let root = tempfile::tempdir()?;
    let server = LocalS3::start(root.path()).await?;
    let store = server.store();
    store.ensure_bucket(BUCKET).await?;
    // s3s-fs keeps objects as plain files: create them directly, list them through S3.
    let dir = root.path().join(BUCKET).join("raw/many");
    std::fs::create_dir_all(&dir)?;
    for i in 0..20_000 {
        std::fs::write(dir.join(format!("part-{i:05}.json")), b"{}")?;
    }
    let definition = json!({"StartAt": "TransformFiles", "States": {"TransformFiles": {
        "Type": "Map", "Label": "TransformFiles", "MaxConcurrency": 50,
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": BUCKET, "Prefix": "raw/many/"}},
        "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
        "ItemBatcher": {"MaxItemsPerBatch": 100},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Each",
            "States": {"Each": {"Type": "Map", "ItemsPath": "$.Items", "MaxConcurrency": 10, "ItemProcessor": {"StartAt": "T", "States": {"T": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${Noop}", "Payload.$": "$"}, "OutputPath": "$.Payload", "End": true}}}, "End": true}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": BUCKET, "Prefix": "runs/many"}},
        "End": true
    }}});
    let machine = StateMachine::from_json(&definition.to_string(), "many.asl.json")?;
    let mut functions = Functions::new();
    functions.register("Noop", Arc::new(|p: Value| async move { Ok::<_, FunctionError>(p) }), None);
    let engine =
        Engine::builder().functions(functions).store(Arc::new(StoreItems(server.store()))).build();
    let execution = engine.run("pipeline", &machine, json!({}), "many").await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    let budget =
        history_budget(&machine, &BudgetInput { items: 20_000, ..BudgetInput::default() })?;
    let executions = engine.executions();
    assert_eq!(executions.len(), 1 + 200);
    assert!(executions.iter().all(|e| e.events < MAX_HISTORY_EVENTS));
    assert_eq!(execution.history.len() as u64, budget[0].events);
    assert_eq!(budget[1].count, 200);
    assert!(
        executions
            .iter()
            .filter(|e| e.state_machine == "pipeline/TransformFiles")
            .all(|e| e.events as u64 == budget[1].events)
    );
    let manifest = execution
        .output
        .as_ref()
        .and_then(|o| o["ResultWriterDetails"]["Key"].as_str())
        .unwrap_or_default()
        .to_owned();
    let manifest: Value =
        serde_json::from_slice(&server.store().get_bytes(BUCKET, &manifest).await?)?;
    assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
    Ok(())
}

#[tokio::test]
async fn a_missing_object_is_not_found_to_the_interpreter() -> TestResult {
    use graphetl_states::resolve::{ItemStore, ItemStoreErrorKind};

    let root = tempfile::tempdir()?;
    let server = LocalS3::start(root.path()).await?;
    server.store().ensure_bucket(BUCKET).await?;
    let items = StoreItems(server.store());
    let missing = items.get(BUCKET, "raw/none.json").await.map_err(|e| e.kind);
    assert_eq!(missing, Err(ItemStoreErrorKind::NotFound));
    items.put(BUCKET, "raw/one.json", b"[1]".to_vec()).await?;
    assert_eq!(items.get(BUCKET, "raw/one.json").await?, b"[1]".to_vec());
    Ok(())
}
