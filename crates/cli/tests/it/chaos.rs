//! `graphetl chaos` and crash consistency: a small seeded fault campaign whose runs all equal
//! the fault-free run, and `run --local` killed (SIGKILL) at seeded points then re-run on the
//! same data dir, whose outputs equal an uninterrupted run's.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::commands::files_under;
use super::{graphetl, repo, text};

/// The number after `label` on the table line that starts with `label` (after indentation).
fn figure(table: &str, label: &str) -> u64 {
    let line = table
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no line {label:?} in\n{table}"));
    let rest = line.trim_start()[label.len()..].trim_start();
    rest.split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {line:?}"))
}

#[test]
fn a_small_campaign_ends_with_every_run_identical_to_the_fault_free_run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data_dir = dir.path().join("chaos");
    let data = data_dir.to_string_lossy().into_owned();
    let args =
        ["chaos", "--runs", "3", "--records", "600", "--seed", "7", "--rate", "0.3", "--data-dir"];
    let output = graphetl(&[&args[..], &[data.as_str()]].concat());
    let table = text(&output.stdout);
    assert!(output.status.success(), "{table}\n{}", text(&output.stderr));
    assert!(table.contains("3 succeeded, 3 identical to the baseline of 3"), "{table}");
    assert_eq!(figure(&table, "rows lost"), 0, "{table}");
    assert!(table.contains("duplicated  0 vertices, 0 edges"), "{table}");
    // The per-kind counts add up to the total, and faults were injected.
    let section: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.contains("faults injected"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .collect();
    let per_kind: u64 = section
        .iter()
        .filter(|l| !l.trim_start().starts_with("total"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum();
    let total = figure(&table, "total");
    assert_eq!(per_kind, total, "{table}");
    assert!(total > 0, "{table}");
    assert!(section.len() >= 14, "{table}");
    // Every injected Lambda, Athena or Neptune fault was a failed task the state machine retried.
    let task_faults: u64 = section
        .iter()
        .filter(|l| ["lambda", "athena", "neptune"].iter().any(|k| l.trim_start().starts_with(k)))
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum();
    assert_eq!(figure(&table, "retries"), task_faults, "{table}");
    // Each run's folder holds the compared outputs.
    assert!(data_dir.join("run-003/graph").is_dir());
}

/// Relative path → bytes of the graph files (the picture left out) and the curated Parquet of
/// the run in `data_dir`.
fn outputs(data_dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut tree = BTreeMap::new();
    for root in [data_dir.join("graph"), data_dir.join("s3/graphetl-local/curated")] {
        for path in files_under(&root) {
            let relative = path.strip_prefix(data_dir).unwrap_or_else(|e| panic!("{e}"));
            let relative = relative.to_string_lossy().into_owned();
            if relative.ends_with(".svg") || relative.contains("/.") {
                continue;
            }
            tree.insert(relative, std::fs::read(&path).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    tree
}

fn run_args(data_dir: &str) -> Vec<&str> {
    vec!["run", "--local", "--records", "2000", "--data-dir", data_dir]
}

#[test]
fn run_local_killed_at_seeded_points_and_rerun_equals_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let clean = dir.path().join("clean").to_string_lossy().into_owned();
    let output = graphetl(&run_args(&clean));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let expected = outputs(Path::new(&clean));
    assert!(expected.keys().any(|k| k.ends_with(".parquet")), "{:?}", expected.keys());

    let crashed = dir.path().join("crashed").to_string_lossy().into_owned();
    // Seeded kill points (milliseconds after the start): the same every time the test runs.
    let mut state: u64 = 0x6b69_6c6c;
    for kill in 0..3 {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let delay = 100 + (state >> 33) % 900;
        let mut child = Command::new(env!("CARGO_BIN_EXE_graphetl"))
            .args(run_args(&crashed))
            .current_dir(repo())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start graphetl: {e}"));
        std::thread::sleep(Duration::from_millis(delay));
        // SIGKILL on Unix; an error means the run had already finished, which is a fine point too.
        let _ = child.kill();
        let _ = child.wait();
        let output = graphetl(&run_args(&crashed));
        assert!(
            output.status.success(),
            "re-run after kill {kill} ({delay} ms): {}",
            text(&output.stderr)
        );
        let got = outputs(Path::new(&crashed));
        let differing: Vec<&String> =
            expected.keys().chain(got.keys()).filter(|k| expected.get(*k) != got.get(*k)).collect();
        assert!(differing.is_empty(), "after kill {kill} ({delay} ms): {differing:?}");
        // No half-written execution record is left behind.
        for path in files_under(&Path::new(&crashed).join("executions")) {
            let name = path.to_string_lossy().into_owned();
            if name.ends_with(".partial") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(), "{name}");
        }
    }
}
