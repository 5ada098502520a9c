//! Tests of `handlers::transform`: a raw object to curated Parquet and quarantine, reruns,
//! broken files and stable error names.

use super::*;

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
    assert_eq!(result.output_files, curated.len() as u64);
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
async fn a_file_over_many_partitions_publishes_them_all_and_lists_a_bounded_few() -> TestResult {
    // One year of the sample's records, one a day at 03:00: 365 partitions in one raw file.
    let env = Env::start().await?;
    let mut text = String::new();
    let start = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).ok_or("date")?;
    for day in start.iter_days().take(365) {
        text.push_str(&format!(
            "{{\"timestamp\":\"{day}T03:00:00Z\",\"caller\":\"a\",\"callee\":\"b\",\"latency_ms\":1}}\n"
        ));
    }
    let key = "raw/service-calls/backfill-2025.jsonl";
    env.server.store().put_bytes(BUCKET, key, text.into_bytes(), None).await?;
    let result = env.handler().handle(item(key)).await?;
    assert_eq!((result.rows_in, result.rows_written), (365, 365));
    let curated = env.keys("curated/").await?;
    assert_eq!(curated.len(), 365);
    assert_eq!(result.output_files, 365);
    // The response names the first few objects in key order and stays small.
    assert_eq!(result.outputs.len(), graphetl_core::contract::MAX_LISTED_OUTPUTS);
    let listed: Vec<String> = result.outputs.iter().map(|o| o.key.clone()).collect();
    assert_eq!(listed, curated[..graphetl_core::contract::MAX_LISTED_OUTPUTS]);
    assert!(serde_json::to_vec(&result)?.len() < 8 * 1024);
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
