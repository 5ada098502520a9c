//! The JSONata process-files definition (statemachine/process-files.jsonata.asl.json) runs
//! locally with the same results as the JSONPath one: `graphetl run --local` once with each
//! (`GRAPHETL_PROCESS_FILES_ASL`) over the sample plus one corrupt file, one file per batch, 30 %
//! tolerated, gives byte-equal graph CSV and curated Parquet, the same failed items and child
//! histories of the same event types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::commands::files_under;
use super::e2e::snapshot;
use super::{repo, text};

const CORRUPT: &str = "dt=2026-11-20/hour=04/part-00001.json.gz";

/// The sample's three files plus a corrupt gzip file at [`CORRUPT`], under `dir`.
fn input_with_corrupt_file(dir: &Path) {
    let sample = repo().join("datasets/service-calls/sample");
    for entry in files_under(&sample) {
        let relative = entry.strip_prefix(&sample).unwrap_or_else(|e| panic!("{e}"));
        let target = dir.join(relative);
        std::fs::create_dir_all(target.parent().unwrap_or(dir)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(&entry, &target).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(dir.join(CORRUPT), b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03not deflate")
        .unwrap_or_else(|e| panic!("{e}"));
}

/// `graphetl` with `GRAPHETL_PROCESS_FILES_ASL=asl` and child histories kept.
fn graphetl_with(asl: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graphetl"))
        .args(args)
        .env("GRAPHETL_PROCESS_FILES_ASL", asl)
        .env("GRAPHETL_LOCAL_CHILD_HISTORIES", "1")
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run graphetl: {e}"))
}

/// What one run left: graph CSV, curated Parquet, failed items (`failures --json`) and, per
/// process-files execution (by ARN), its history's event types.
struct Outcome {
    graph: BTreeMap<PathBuf, Vec<u8>>,
    parquet: BTreeMap<PathBuf, Vec<u8>>,
    failures: Vec<serde_json::Value>,
    children: BTreeMap<String, Vec<String>>,
}

fn run_with(asl: &str, input: &Path, data: &Path) -> Outcome {
    let (input, data_dir) = (input.display().to_string(), data.display().to_string());
    let run = graphetl_with(
        asl,
        &[
            "run",
            "--local",
            "--data-dir",
            &data_dir,
            "--input",
            &input,
            "--batch-size",
            "1",
            "--tolerated-failure-percentage",
            "30",
        ],
    );
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{asl}: {stdout}\n{}", text(&run.stderr));
    assert!(stdout.contains("status      SUCCEEDED"), "{asl}: {stdout}");
    assert!(stdout.contains("files       3 transformed, 1 failed"), "{asl}: {stdout}");
    let name = "local-service-calls-0001";
    let failures =
        graphetl_with(asl, &["failures", name, "--local", "--data-dir", &data_dir, "--json"]);
    assert!(failures.status.success(), "{asl}: {}", text(&failures.stderr));
    let failures: Vec<serde_json::Value> =
        text(&failures.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let children_file = data.join(format!("executions/{name}.children.json"));
    let children: Vec<serde_json::Value> = serde_json::from_slice(
        &std::fs::read(&children_file)
            .unwrap_or_else(|e| panic!("{}: {e}", children_file.display())),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // The Map Run's children start the process-files executions; keep those.
    let children = children
        .iter()
        .filter(|child| {
            child["arn"].as_str().is_some_and(|a| a.contains(":execution:graphetl-process-files:"))
        })
        .map(|child| {
            let types = child["history"]["events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["type"].as_str().map(str::to_owned))
                .collect();
            (child["arn"].as_str().unwrap_or_default().to_owned(), types)
        })
        .collect();
    let bucket = data.join("s3/graphetl-local");
    Outcome {
        graph: snapshot(&data.join("graph/service-calls"), "csv"),
        parquet: snapshot(&bucket.join("curated/service-calls"), "parquet"),
        failures,
        children,
    }
}

#[test]
fn the_jsonata_process_files_runs_locally_with_the_same_results_as_the_jsonpath_one() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = dir.path().join("in");
    input_with_corrupt_file(&input);
    let jsonpath = run_with("jsonpath", &input, &dir.path().join("jsonpath"));
    let jsonata = run_with("jsonata", &input, &dir.path().join("jsonata"));

    assert!(!jsonpath.graph.is_empty() && !jsonpath.parquet.is_empty());
    assert!(jsonata.graph == jsonpath.graph, "the graph CSV files differ");
    assert!(jsonata.parquet == jsonpath.parquet, "the curated Parquet files differ");

    assert_eq!(jsonpath.failures.len(), 1, "{:?}", jsonpath.failures);
    assert!(
        jsonpath.failures[0]["key"].as_str().is_some_and(|k| k.ends_with(CORRUPT)),
        "{:?}",
        jsonpath.failures
    );
    assert_eq!(jsonata.failures, jsonpath.failures);

    // Four batches of one file: four process-files executions, one of them failed.
    assert_eq!(jsonpath.children.len(), 4, "{:?}", jsonpath.children.keys());
    let types = |outcome: &Outcome| -> Vec<Vec<String>> {
        let mut all: Vec<Vec<String>> = outcome.children.values().cloned().collect();
        all.sort();
        all
    };
    assert_eq!(types(&jsonata), types(&jsonpath));
    assert!(
        types(&jsonpath).iter().any(|t| t.last().map(String::as_str) == Some("ExecutionFailed")),
        "{:?}",
        types(&jsonpath)
    );
    assert!(
        types(&jsonpath).iter().all(|t| t.iter().any(|e| e == "MapStateEntered")),
        "{:?}",
        types(&jsonpath)
    );
}

/// The Transform task of a process-files definition (inside TransformEach).
fn transform_task(file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join("statemachine").join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    json["States"]["TransformEach"]["ItemProcessor"]["States"]["Transform"].clone()
}

#[test]
fn the_jsonata_process_files_validates_and_has_the_same_retriers_and_catchers() {
    let out =
        super::graphetl(&["states", "validate", "statemachine/process-files.jsonata.asl.json"]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("ok (6 states)"), "{}", text(&out.stdout));
    let (jsonpath, jsonata) = (
        transform_task("process-files.asl.json"),
        transform_task("process-files.jsonata.asl.json"),
    );
    assert!(jsonpath["Retry"].as_array().is_some_and(|r| r.len() == 3), "{jsonpath}");
    assert_eq!(jsonata["Retry"], jsonpath["Retry"]);
    assert_eq!(jsonata["Catch"][0]["ErrorEquals"], jsonpath["Catch"][0]["ErrorEquals"]);
    assert_eq!(jsonata["Catch"][0]["Next"], jsonpath["Catch"][0]["Next"]);
}
