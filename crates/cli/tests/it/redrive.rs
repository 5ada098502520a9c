//! `graphetl redrive --local`: a run that failed on a corrupt file is redriven after the file is
//! fixed; only the failed and never-started batches run again, in the same execution, and the
//! graph equals that of a clean run over the fixed files.

use std::path::Path;

use super::commands::files_under;
use super::e2e::snapshot;
use super::{graphetl, text};

const CORRUPT: &str = "dt=2026-11-20/hour=04/part-00001.json.gz";

/// The sample's three files, plus `extra` at [`CORRUPT`]'s place, under `dir`.
fn input_with(dir: &Path, extra: &[u8]) {
    let sample = super::repo().join("datasets/service-calls/sample");
    for entry in files_under(&sample) {
        let relative = entry.strip_prefix(&sample).unwrap_or_else(|e| panic!("{e}"));
        let target = dir.join(relative);
        std::fs::create_dir_all(target.parent().unwrap_or(dir)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(&entry, &target).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(dir.join(CORRUPT), extra).unwrap_or_else(|e| panic!("{e}"));
}

/// A good file for the corrupt one's place: the same hour's first file.
fn good_bytes() -> Vec<u8> {
    let path = super::repo()
        .join("datasets/service-calls/sample/dt=2026-11-20/hour=04/part-00000.json.gz");
    std::fs::read(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Puts `body` at `key` of the local bucket through the embedded S3 endpoint over `s3_root`.
fn put_object(s3_root: &Path, key: &str, body: Vec<u8>) {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        use graphetl_storage::ObjectStore;
        let server =
            graphetl_storage::LocalS3::start(s3_root).await.unwrap_or_else(|e| panic!("{e}"));
        server
            .store()
            .put_bytes("graphetl-local", key, body, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        server.shutdown().await;
    });
}

fn run_local(data_dir: &str, input: &str) -> std::process::Output {
    graphetl(&[
        "run",
        "--local",
        "--data-dir",
        data_dir,
        "--input",
        input,
        "--batch-size",
        "1",
        "--tolerated-failure-percentage",
        "0",
        "--max-concurrency",
        "1",
    ])
}

#[test]
fn a_failed_run_is_redriven_after_the_fix_and_only_the_unfinished_batches_run_again() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (input, data) = (dir.path().join("in"), dir.path().join("data"));
    input_with(&input, b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03not deflate");
    let data_dir = data.display().to_string();
    let first = run_local(&data_dir, &input.display().to_string());
    let stdout = text(&first.stdout);
    // Nothing tolerated: the Map Run stops at the corrupt file (the third of four, one at a
    // time) and the execution fails in the transform step.
    assert_eq!(first.status.code(), Some(1), "{stdout}\n{}", text(&first.stderr));
    assert!(stdout.contains("status      FAILED"), "{stdout}");
    assert!(stdout.contains("States.ExceedToleratedFailureThreshold"), "{stdout}");
    assert!(stdout.contains("graphetl redrive local-service-calls-0001 --local"), "{stdout}");
    assert!(data.join("executions/local-service-calls-0001.engine.json").is_file());

    // The fix: the raw object is replaced by a good file.
    put_object(&data.join("s3"), &format!("raw/service-calls/{CORRUPT}"), good_bytes());
    let redrive =
        graphetl(&["redrive", "local-service-calls-0001", "--local", "--data-dir", &data_dir]);
    let stdout = text(&redrive.stdout);
    assert!(redrive.status.success(), "{stdout}\n{}", text(&redrive.stderr));
    assert!(stdout.contains("execution local-service-calls-0001"), "{stdout}");
    assert!(stdout.contains("status      SUCCEEDED"), "{stdout}");
    assert!(stdout.contains("redriven    1 time(s)"), "{stdout}");
    assert!(stdout.contains("files       4 transformed, 0 failed"), "{stdout}");
    // The two files that had succeeded are not transformed again: the fixed file's batch is
    // redriven and the never-started one starts.
    assert!(stdout.contains("transform "), "{stdout}");
    assert!(stdout.contains("(2 call(s))"), "{stdout}");
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("executions/local-service-calls-0001.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(record["redrive_count"], 1);
    let history: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("executions/local-service-calls-0001.history.json"))
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let kinds: Vec<&str> = history["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "ExecutionStarted").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "ExecutionRedriven").count(), 1, "{kinds:?}");
    assert!(kinds.contains(&"MapRunRedriven"), "{kinds:?}");
    assert!(!data.join("executions/local-service-calls-0001.engine.json").exists());

    // The same graph as a clean run over the fixed files.
    let clean_input = dir.path().join("fixed");
    input_with(&clean_input, &good_bytes());
    let clean_data = dir.path().join("clean");
    let clean = run_local(&clean_data.display().to_string(), &clean_input.display().to_string());
    assert!(clean.status.success(), "{}", text(&clean.stdout));
    let graph = |data: &Path| snapshot(&data.join("graph/service-calls"), "csv");
    assert!(!graph(&data).is_empty());
    assert!(graph(&data) == graph(&clean_data), "the redriven graph differs from a clean run");

    let failures =
        graphetl(&["failures", "local-service-calls-0001", "--local", "--data-dir", &data_dir]);
    let stdout = text(&failures.stdout);
    assert!(stdout.contains("no failed items (SUCCEEDED, redriven once)"), "{stdout}");
    let again =
        graphetl(&["redrive", "local-service-calls-0001", "--local", "--data-dir", &data_dir]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr)
            .contains("local-service-calls-0001 is SUCCEEDED and cannot be redriven"),
        "{}",
        text(&again.stderr)
    );
}
