//! Tests of `handlers::extract`: an http extract of a scheduled window, the generator and
//! none sources, a missing spec.

use graphetl_core::contract::ExtractRequest;
use graphetl_extract::generator::GeneratorConfig;
use graphetl_extract::source::{ServeOptions, serve_generated};
use graphetl_extract::{LocalSecrets, SecretResolver};
use serde_json::json;

use super::*;
use crate::handlers::extract::{ExtractHandler, ExtractOptions, window_raw_prefix};

fn request(window: serde_json::Value) -> Result<ExtractRequest, serde_json::Error> {
    serde_json::from_value(json!({
        "dataset": "service-calls", "window": window, "bucket": BUCKET, "run_id": "r1"
    }))
}

fn handler<R: SecretResolver>(env: &Env, secrets: R) -> ExtractHandler<S3Store, R> {
    ExtractHandler::new(env.server.store(), secrets, ExtractOptions::default())
}

#[tokio::test(flavor = "multi_thread")]
async fn http_extract_of_a_scheduled_window_writes_the_prefix_the_state_machine_reads() -> TestResult
{
    let env = Env::start().await?;
    let window = graphetl_core::contract::Window::parse_interval(
        "2026-11-20T03:00:00Z/2026-11-20T04:00:00Z",
    )?;
    let source = serve_generated(
        &GeneratorConfig::new(10, 1500, window),
        ServeOptions { page_size: 400, ..ServeOptions::default() },
        ([127, 0, 0, 1], 0).into(),
    )
    .await?;
    let spec = SPEC.replace(
        "http://127.0.0.1:8099/api/calls?start={start}&end={end}&cursor={cursor}",
        &source.url_template(),
    );
    assert_ne!(spec, SPEC);
    env.server
        .store()
        .put_bytes(BUCKET, "datasets/service-calls.toml", spec.into_bytes(), None)
        .await?;
    let handler = handler(&env, LocalSecrets::with_lookup(|_| None));
    let result = handler
        .handle(request(json!({"end": "2026-11-20T04:00:00Z", "duration": "PT1H"}))?)
        .await?;
    assert_eq!((result.files, result.records, result.pages), (1, 1500, 4));
    let listed = env.server.store().list(BUCKET, &result.prefix).await?;
    assert_eq!(listed.len(), 1);
    // The Extract state's ResultSelector reads exactly these.
    let payload = serde_json::to_value(&result)?;
    assert!(payload["prefix"].is_string() && payload["files"] == json!(1));

    // The raw file transforms: its planted bad rows are the rejected ones.
    let item = TransformItem {
        bucket: BUCKET.into(),
        key: listed[0].key.clone(),
        dataset: "service-calls".into(),
        run_id: "r1".into(),
    };
    let transformed = env.handler().handle(item).await?;
    assert_eq!(transformed.rows_in, 1500);
    assert_eq!(
        transformed.rows_rejected,
        graphetl_extract::generator::bad_rows(
            1500,
            graphetl_extract::generator::DEFAULT_BAD_ROW_RATE
        )
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn generator_and_none_sources_and_a_missing_spec() -> TestResult {
    let env = Env::start().await?;
    let store = env.server.store();
    let generator = SPEC.replace(
        "kind = \"http\"\nurl = \"http://127.0.0.1:8099/api/calls?start={start}&end={end}&cursor={cursor}\"\nrecords_path = \"data\"\ncursor_path = \"next_cursor\"\nrecords_per_file = 50000",
        "kind = \"generator\"\nservices = 7",
    );
    assert_ne!(generator, SPEC);
    store.put_bytes(BUCKET, "datasets/service-calls.toml", generator.into_bytes(), None).await?;
    let window = json!({"start": "2026-11-20T03:00:00Z", "end": "2026-11-20T05:00:00Z"});
    let handler = handler(&env, LocalSecrets::with_lookup(|_| None));
    let result = handler.handle(request(window.clone())?).await?;
    assert_eq!((result.files, result.records), (1, 10_000));
    let again = handler.handle(request(window.clone())?).await?;
    assert_eq!(again, result);

    let none = SPEC.replace(
        "kind = \"http\"\nurl = \"http://127.0.0.1:8099/api/calls?start={start}&end={end}&cursor={cursor}\"\nrecords_path = \"data\"\ncursor_path = \"next_cursor\"\nrecords_per_file = 50000",
        "kind = \"none\"",
    );
    store.put_bytes(BUCKET, "datasets/service-calls.toml", none.into_bytes(), None).await?;
    let listed = handler.handle(request(window)?).await?;
    assert_eq!(listed.prefix, "raw/service-calls/dt=2026-11-20/hour=0");
    assert_eq!((listed.files, listed.records), (1, 0));
    let w = |s: &str| graphetl_core::contract::Window::parse_interval(s);
    assert_eq!(
        window_raw_prefix("d", &w("2026-11-20T03:00:00Z/PT1H")?),
        "raw/d/dt=2026-11-20/hour=03/"
    );
    assert_eq!(
        window_raw_prefix("d", &w("2026-11-20T00:00:00Z/P1D")?),
        "raw/d/dt=2026-11-20/hour="
    );

    let missing = serde_json::from_value::<ExtractRequest>(json!({
        "dataset": "nope", "window": {"end": "2026-11-20T04:00:00Z", "duration": 3600},
        "bucket": BUCKET, "run_id": "r"
    }))?;
    let error = handler.handle(missing).await.err().ok_or("should fail")?;
    assert_eq!(error.name, ErrorName::BadSpec);
    assert_eq!(diagnostic(&error).error_type, "GraphEtl.BadSpec");
    Ok(())
}
