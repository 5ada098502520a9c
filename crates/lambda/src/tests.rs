//! Handler tests against the real embedded S3 endpoint on 127.0.0.1.

use std::io::Write;

use graphetl_core::ErrorName;
use graphetl_core::contract::TransformItem;
use graphetl_storage::{LocalS3, ObjectStore, S3Store};
use graphetl_transform::TransformOptions;

use crate::handlers::transform::TransformHandler;
use crate::kit::diagnostic;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BUCKET: &str = "graphetl-test";
const SPEC: &str = include_str!("../../../datasets/service-calls.toml");
const SAMPLE: &[u8] = include_bytes!(
    "../../../datasets/service-calls/sample/dt=2026-11-20/hour=03/part-00000.json.gz"
);
const RAW_KEY: &str = "raw/service-calls/dt=2026-11-20/hour=03/part-00000.json.gz";

struct Env {
    _root: tempfile::TempDir,
    work: tempfile::TempDir,
    server: LocalS3,
}

impl Env {
    async fn start() -> Result<Env, Box<dyn std::error::Error>> {
        let root = tempfile::tempdir()?;
        let server = LocalS3::start(root.path()).await?;
        let store = server.store();
        store.ensure_bucket(BUCKET).await?;
        store
            .put_bytes(BUCKET, "datasets/service-calls.toml", SPEC.as_bytes().to_vec(), None)
            .await?;
        Ok(Env { _root: root, work: tempfile::tempdir()?, server })
    }
    fn handler(&self) -> TransformHandler<S3Store> {
        TransformHandler::new(
            self.server.store(),
            TransformOptions::default(),
            self.work.path().to_path_buf(),
        )
    }
    async fn keys(&self, prefix: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let mut keys: Vec<String> =
            self.server.store().list(BUCKET, prefix).await?.into_iter().map(|o| o.key).collect();
        keys.sort();
        Ok(keys)
    }
}

fn item(key: &str) -> TransformItem {
    TransformItem {
        bucket: BUCKET.into(),
        key: key.into(),
        dataset: "service-calls".into(),
        run_id: "test-run".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn transforms_a_raw_object_and_publishes_curated_and_quarantine() -> TestResult {
    let env = Env::start().await?;
    env.server.store().put_bytes(BUCKET, RAW_KEY, SAMPLE.to_vec(), None).await?;
    let result = env.handler().handle(item(RAW_KEY)).await?;
    assert_eq!(result.rows_in, 120);
    assert_eq!(result.rows_in, result.rows_written + result.rows_rejected);
    assert!(result.rows_rejected > 0, "the sample has bad rows");
    let curated = env.keys("curated/").await?;
    assert_eq!(curated, result.outputs.iter().map(|o| o.key.clone()).collect::<Vec<_>>());
    assert!(curated.iter().all(|k| k.starts_with("curated/service-calls/dt=2026-11-20/hour=")));
    let quarantine = result.quarantine.as_ref().map(|q| q.key.clone());
    assert_eq!(env.keys("quarantine/").await?, quarantine.into_iter().collect::<Vec<_>>());
    // Idempotent: a second run writes the same keys, nothing more.
    let again = env.handler().handle(item(RAW_KEY)).await?;
    assert_eq!(again, result);
    assert_eq!(env.keys("curated/").await?, curated);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_rerun_removes_an_old_quarantine_file() -> TestResult {
    let env = Env::start().await?;
    let store = env.server.store();
    let key = "raw/service-calls/dt=2026-11-20/hour=07/clean.jsonl";
    store.put_bytes(BUCKET, key, b"{\"timestamp\":\"2026-11-20T07:00:00Z\",\"caller\":\"a\",\"callee\":\"b\",\"latency_ms\":\"x\"}\n".to_vec(), None).await?;
    let first = env.handler().handle(item(key)).await?;
    assert_eq!(first.rows_rejected, 1);
    assert_eq!(env.keys("quarantine/").await?.len(), 1);
    store.put_bytes(BUCKET, key, b"{\"timestamp\":\"2026-11-20T07:00:00Z\",\"caller\":\"a\",\"callee\":\"b\",\"latency_ms\":1}\n".to_vec(), None).await?;
    let second = env.handler().handle(item(key)).await?;
    assert_eq!((second.rows_written, second.quarantine), (1, None));
    assert!(env.keys("quarantine/").await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_file_fails_with_bad_input_and_publishes_nothing() -> TestResult {
    let env = Env::start().await?;
    let mut big = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let line = "{\"timestamp\":\"2026-11-20T03:00:00Z\",\"caller\":\"a\",\"callee\":\"b\",\"latency_ms\":1}\n";
    big.write_all(line.repeat(20_000).as_bytes())?;
    let compressed = big.finish()?;
    let key = "raw/service-calls/dt=2026-11-20/hour=03/truncated.json.gz";
    env.server
        .store()
        .put_bytes(BUCKET, key, compressed[..compressed.len() / 2].to_vec(), None)
        .await?;
    let error = env.handler().handle(item(key)).await.err();
    let error = error.ok_or("a truncated gzip must fail")?;
    assert_eq!(error.name, ErrorName::BadInput);
    assert!(
        error
            .cause
            .starts_with(&format!("s3://{BUCKET}/{key}: the gzip stream is truncated or corrupt")),
        "{}",
        error.cause
    );
    assert!(env.keys("curated/").await?.is_empty());
    assert!(env.keys("quarantine/").await?.is_empty());
    let d = diagnostic(&error);
    assert_eq!(d.error_type, "GraphEtl.BadInput");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_object_spec_and_bad_event_have_stable_names() -> TestResult {
    let env = Env::start().await?;
    let missing = env.handler().handle(item("raw/service-calls/nope.json.gz")).await.err();
    assert_eq!(missing.map(|e| e.name), Some(ErrorName::NotFound));
    let mut other = item(RAW_KEY);
    other.dataset = "products".into();
    let no_spec = env.handler().handle(other).await.err();
    assert_eq!(
        no_spec.map(|e| (e.name, e.cause)),
        Some((
            ErrorName::BadSpec,
            format!("no dataset spec at s3://{BUCKET}/datasets/products.toml")
        ))
    );
    let folder = env.handler().handle(item("raw/service-calls/")).await.err();
    assert_eq!(folder.map(|e| e.name), Some(ErrorName::BadEvent));
    Ok(())
}

mod distributed_map_over_the_local_endpoint {
    //! A Distributed Map over 20,000 objects listed from the real local S3 endpoint: every
    //! execution stays under the history quota and matches the static budget exactly.

    use std::sync::Arc;

    use graphetl_states::asl::StateMachine;
    use graphetl_states::budget::{BudgetInput, history_budget};
    use graphetl_states::exec::{Engine, Status};
    use graphetl_states::history::MAX_HISTORY_EVENTS;
    use graphetl_states::resolve::{FunctionError, Functions};
    use serde_json::{Value, json};

    use super::*;
    use crate::local::StoreItems;

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
        functions.register(
            "Noop",
            Arc::new(|p: Value| async move { Ok::<_, FunctionError>(p) }),
            None,
        );
        let engine = Engine::builder()
            .functions(functions)
            .store(Arc::new(StoreItems(server.store())))
            .build();
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
}
