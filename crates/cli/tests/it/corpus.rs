//! The bad-input corpus (`testdata/bad-inputs/products`, table in docs/bad-inputs.md) in one
//! `run --local` next to the good sample: every good file succeeds, each bad one fails with its
//! one reason (and `graphetl failures` names it) or has its bad rows quarantined with the
//! reason, and no row is lost.

use std::collections::BTreeMap;
use std::path::Path;

use super::commands::files_under;
use super::{graphetl, repo, text};

/// The corpus files that must fail, with a text of their cause.
const FAILING: &[(&str, &str)] = &[
    ("drift-missing-required.csv", "the header has no field \"PRODUCT_ID\""),
    ("duplicate-header.csv", "the header names \"PRODUCT_NAME\" twice"),
    ("empty-gzip.csv.gz", "the file has no data"),
    ("invalid-utf8.csv", "row 2: the text is not valid UTF-8"),
    ("truncated.csv.gz", "the gzip stream is truncated or corrupt"),
    ("wrong-delimiter.csv", "the CSV header is one field containing ';'"),
    ("zero-bytes.csv", "the file is empty (0 bytes)"),
];

/// The corpus files that must succeed, with (rows in, rows quarantined) and the quarantine reasons.
const SUCCEEDING: &[(&str, u64, &[&str])] = &[
    ("LOAD00000001.csv", 9, &["not one of the allowed values", "", "", ""]),
    ("bom.csv", 3, &[]),
    ("crlf.csv", 3, &[]),
    ("drift-new-column.csv", 3, &[]),
    ("drift-type-change.csv", 3, &["not an integer", "in a decimal"]),
    ("header-only.csv", 0, &[]),
    ("key with spaces é ☕.csv", 2, &["not a boolean token"]),
    ("mixed-line-endings.csv", 3, &[]),
    ("quoted-newlines.csv", 3, &[]),
];

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn one_run_over_the_corpus_and_the_sample_fails_or_quarantines_each_bad_file_with_its_reason() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap_or_else(|e| panic!("{e}"));
    let corpus = repo().join("testdata/bad-inputs/products");
    let sample = repo().join("datasets/products/sample/LOAD00000001.csv");
    for file in files_under(&corpus).into_iter().chain([sample]) {
        let name = file.file_name().unwrap_or_default();
        std::fs::copy(&file, input.join(name)).unwrap_or_else(|e| panic!("{e}"));
    }
    let data_dir = dir.path().join("data").display().to_string();
    let run = graphetl(&[
        "run",
        "--local",
        "--dataset",
        "datasets/products.toml",
        "--data-dir",
        &data_dir,
        "--input",
        &input.display().to_string(),
        "--batch-size",
        "1",
        "--tolerated-failure-percentage",
        "100",
    ]);
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", text(&run.stderr));
    let summary = format!("files       {} transformed, {} failed", SUCCEEDING.len(), FAILING.len());
    assert!(stdout.contains(&summary), "{stdout}");
    assert!(stdout.contains("execution local-products-0001"), "{stdout}");

    let failures = graphetl(&[
        "failures",
        "local-products-0001",
        "--local",
        "--data-dir",
        &data_dir,
        "--json",
    ]);
    assert!(failures.status.success(), "{}", text(&failures.stderr));
    let mut causes: BTreeMap<String, (String, String)> = BTreeMap::new();
    for row in text(&failures.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    {
        let key = row["key"].as_str().unwrap_or_default().to_owned();
        let error = row["error"].as_str().unwrap_or_default().to_owned();
        causes.insert(key, (error, row["cause"].as_str().unwrap_or_default().to_owned()));
    }
    assert_eq!(causes.len(), FAILING.len(), "{causes:?}");
    for (name, reason) in FAILING {
        let key = format!("raw/products/{name}");
        let (error, cause) = causes.get(&key).unwrap_or_else(|| panic!("{key} not in {causes:?}"));
        assert_eq!(error, "GraphEtl.BadInput", "{key}");
        assert!(cause.contains(reason), "{key}: {cause:?} lacks {reason:?}");
    }

    // Quarantine: one file per raw file with rejected rows, each record naming its raw object.
    let bucket = dir.path().join("data/s3/graphetl-local");
    let mut quarantined: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in files_under(&bucket.join("quarantine/products")) {
        for record in json_lines(&file) {
            let source = record["file"].as_str().unwrap_or_default().to_owned();
            quarantined.entry(source).or_default().push(record["reason"].to_string());
        }
    }
    let mut rows_quarantined = 0;
    for (name, _, reasons) in SUCCEEDING {
        let key = format!("s3://graphetl-local/raw/products/{name}");
        let found = quarantined.get(&key).cloned().unwrap_or_default();
        assert_eq!(found.len(), reasons.len(), "{key}: {found:?} in {quarantined:?}");
        for (reason, expected) in found.iter().zip(reasons.iter()) {
            assert!(reason.contains(expected), "{key}: {reason} lacks {expected:?}");
        }
        rows_quarantined += reasons.len() as u64;
    }
    assert_eq!(
        quarantined.len(),
        SUCCEEDING.iter().filter(|s| !s.2.is_empty()).count(),
        "{quarantined:?}"
    );

    // Nothing lost: the run's rows in are the rows written plus the rows quarantined.
    let rows_in: u64 = SUCCEEDING.iter().map(|s| s.1).sum();
    let rows_line = format!(
        "rows        {rows_in} in, {} written, {rows_quarantined} rejected",
        rows_in - rows_quarantined
    );
    assert!(stdout.contains(&rows_line), "{rows_line:?} not in\n{stdout}");
}
