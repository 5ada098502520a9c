//! `graphetl aggregate` over the sample's curated Parquet: every curated row counted once in the
//! edges and the services, chunk files replaced on a re-run, empty day ranges, the S3 paths
//! through the real local S3 endpoint, and the errors a user meets.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use graphetl_athena::parse_csv_chunk;
use graphetl_graph::model::{ResultValue, Row};
use graphetl_storage::ObjectStore;
use parquet::file::reader::{FileReader, SerializedFileReader};

use super::commands::files_under;
use super::{graphetl, on_local_s3, repo, text};

const SPEC: &str = "datasets/service-calls.toml";

/// Transforms the three sample files (renamed apart, so their outputs never share a name) into
/// `root`; returns the curated folder and its row count read from the Parquet footers.
fn curated_sample(root: &Path) -> (PathBuf, i64) {
    let sample = repo().join("datasets/service-calls/sample");
    std::fs::create_dir_all(root).unwrap_or_else(|e| panic!("{e}"));
    let mut rows_written = 0;
    for (i, file) in files_under(&sample).into_iter().enumerate() {
        let input = root.join(format!("sample-{i}.json.gz"));
        std::fs::copy(&file, &input).unwrap_or_else(|e| panic!("{e}"));
        let out = graphetl(&[
            "transform",
            "--dataset",
            SPEC,
            "--input",
            &input.display().to_string(),
            "--output-dir",
            &root.display().to_string(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let result: serde_json::Value =
            serde_json::from_str(text(&out.stdout).trim()).unwrap_or_default();
        rows_written += result["rows_written"].as_i64().unwrap_or(-1);
    }
    let curated = root.join("curated/service-calls");
    let parquet: Vec<PathBuf> = files_under(&curated)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert_eq!(parquet.len(), 3, "{parquet:?}");
    let footer_rows: i64 = parquet
        .iter()
        .map(|p| {
            let reader = SerializedFileReader::new(File::open(p).unwrap_or_else(|e| panic!("{e}")))
                .unwrap_or_else(|e| panic!("{e}"));
            reader.metadata().file_metadata().num_rows()
        })
        .sum();
    assert_eq!(footer_rows, rows_written);
    assert!(footer_rows > 300, "{footer_rows}");
    (curated, footer_rows)
}

fn aggregate(dataset: &str, curated: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "aggregate".to_owned(),
        "--dataset".to_owned(),
        dataset.to_owned(),
        "--curated".to_owned(),
        curated.display().to_string(),
        "--out".to_owned(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    graphetl(&args)
}

/// The chunk files of `stem` in `dir`, in name order.
fn chunk_files(dir: &Path, stem: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{stem}-")) && n.ends_with(".csv"))
        })
        .collect()
}

/// Every row of the chunks of `stem` in `dir`, each chunk checked to hold at most `max_rows`.
fn read_chunks(dir: &Path, stem: &str, max_rows: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    for path in chunk_files(dir, stem) {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        let chunk = parse_csv_chunk(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            !chunk.rows.is_empty() && chunk.rows.len() <= max_rows,
            "{}: {}",
            path.display(),
            chunk.rows.len()
        );
        rows.extend(chunk.rows);
    }
    rows
}

fn int_sum(rows: &[Row], column: &str) -> i64 {
    rows.iter()
        .map(|r| match r.get(column) {
            Some(ResultValue::Int(n)) => *n,
            other => panic!("{column}: {other:?}"),
        })
        .sum()
}

/// The line of the printout for `name`, split on whitespace.
fn printed(stdout: &str, name: &str) -> Vec<String> {
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} line in {stdout}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[test]
fn aggregate_counts_every_curated_row_once_and_replaces_chunks_on_a_rerun() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (curated, rows) = curated_sample(dir.path());
    let out = dir.path().join("aggregates");

    let run = aggregate(SPEC, &curated, &out, &["--rows-per-chunk", "4"]);
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", text(&run.stderr));
    let edges = read_chunks(&out, "edges", 4);
    let services = read_chunks(&out, "services", 4);
    assert_eq!(int_sum(&edges, "requests"), rows);
    assert_eq!(int_sum(&services, "requests_in"), rows);
    assert_eq!(int_sum(&services, "requests_out"), rows);
    // Each (caller, callee) pair once, each service once.
    let mut pairs: Vec<String> =
        edges.iter().map(|r| format!("{:?}->{:?}", r.get("caller"), r.get("callee"))).collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), edges.len());
    // The printout: rows, chunk files, seconds per query, then the total.
    let edge_chunks = chunk_files(&out, "edges").len();
    assert!(edge_chunks > 1, "{edge_chunks}");
    let line = printed(&stdout, "edges");
    assert_eq!(line[1], edges.len().to_string(), "{stdout}");
    assert_eq!(line[3], edge_chunks.to_string(), "{stdout}");
    assert!(line[6].ends_with('s'), "{stdout}");
    let total = printed(&stdout, "total");
    assert_eq!(total[1], (edges.len() + services.len()).to_string(), "{stdout}");
    assert_eq!(total[3], (edge_chunks + chunk_files(&out, "services").len()).to_string());

    // A re-run with bigger chunks replaces the files: one chunk per query, the same rows.
    let rerun = aggregate(SPEC, &curated, &out, &["--rows-per-chunk", "1000"]);
    assert!(rerun.status.success(), "{}", text(&rerun.stderr));
    let names: Vec<String> = files_under(&out)
        .iter()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
        .collect();
    assert_eq!(names, ["edges-00000.csv", "services-00000.csv"]);
    assert_eq!(int_sum(&read_chunks(&out, "edges", 1000), "requests"), rows);
}

#[test]
fn a_day_range_selects_partitions_and_one_without_data_writes_no_chunks() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (curated, rows) = curated_sample(dir.path());

    let day = dir.path().join("day");
    let run = aggregate(SPEC, &curated, &day, &["--from", "2026-11-20", "--to", "2026-11-20"]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(int_sum(&read_chunks(&day, "edges", 5000), "requests"), rows);

    let empty = dir.path().join("empty");
    let run = aggregate(SPEC, &curated, &empty, &["--from", "2026-11-21", "--to", "2026-12-31"]);
    let stdout = text(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{}", text(&run.stderr));
    assert_eq!(files_under(&empty), Vec::<PathBuf>::new());
    assert_eq!(printed(&stdout, "edges")[1], "0", "{stdout}");
    assert_eq!(printed(&stdout, "total")[3], "0", "{stdout}");
}

#[test]
fn missing_folders_bad_days_and_bad_sql_fail_with_a_readable_message() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out");

    let missing = aggregate(SPEC, &dir.path().join("no-such/curated"), &out, &[]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = text(&missing.stderr);
    assert!(stderr.contains("no-such/curated: no such folder"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let bad_day = aggregate(SPEC, dir.path(), &out, &["--from", "2026-02-30"]);
    assert_eq!(bad_day.status.code(), Some(2));
    assert!(
        text(&bad_day.stderr).contains("\"2026-02-30\" is not a day (YYYY-MM-DD)"),
        "{}",
        text(&bad_day.stderr)
    );
    let reversed =
        aggregate(SPEC, dir.path(), &out, &["--from", "2026-11-21", "--to", "2026-11-20"]);
    assert_eq!(reversed.status.code(), Some(2));
    assert!(
        text(&reversed.stderr).contains("--from 2026-11-21 is after --to 2026-11-20"),
        "{}",
        text(&reversed.stderr)
    );

    let no_queries = aggregate("bench/service-calls-csv.toml", dir.path(), &out, &[]);
    assert_eq!(no_queries.status.code(), Some(2));
    assert!(
        text(&no_queries.stderr).contains("declares no [[aggregate.queries]]"),
        "{}",
        text(&no_queries.stderr)
    );

    // A spec copy whose edges SQL names a column the table does not have.
    let (curated, _) = curated_sample(&dir.path().join("data"));
    let specs = dir.path().join("specs");
    std::fs::create_dir_all(specs.join("service-calls")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(repo().join(SPEC), specs.join("service-calls.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    for name in ["edges.sql", "services.sql"] {
        let sql = std::fs::read_to_string(repo().join("datasets/service-calls").join(name))
            .unwrap_or_else(|e| panic!("{e}"));
        let sql =
            if name == "edges.sql" { sql.replace("sum(bytes)", "sum(byte_count)") } else { sql };
        std::fs::write(specs.join("service-calls").join(name), sql)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let spec = specs.join("service-calls.toml").display().to_string();
    let bad_sql = aggregate(&spec, &curated, &out, &[]);
    assert_ne!(bad_sql.status.code(), Some(0));
    let stderr = text(&bad_sql.stderr);
    assert!(stderr.contains("query edges: invalid SQL"), "{stderr}");
    assert!(stderr.contains("byte_count"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(chunk_files(&out, "edges").is_empty());
}

#[test]
fn curated_data_and_chunks_on_s3_go_through_the_local_endpoint() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (curated, rows) = curated_sample(&dir.path().join("data"));
    let root = dir.path().join("s3");
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let server =
        runtime.block_on(graphetl_storage::LocalS3::start(&root)).unwrap_or_else(|e| panic!("{e}"));
    let store = server.store();
    let bucket = "graphetl-agg";
    runtime.block_on(async {
        store.ensure_bucket(bucket).await.unwrap_or_else(|e| panic!("{e}"));
        for path in files_under(&curated) {
            let relative = path.strip_prefix(&curated).unwrap_or_else(|e| panic!("{e}"));
            let key = format!("curated/service-calls/{}", relative.display());
            store.put_file(bucket, &key, &path, None).await.unwrap_or_else(|e| panic!("{e}"));
        }
        // A chunk an earlier, longer result left, and a file that is not a chunk.
        for key in ["aggregates/edges-00007.csv", "aggregates/edges-notes.txt"] {
            store
                .put_bytes(bucket, key, b"old".to_vec(), None)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
    });

    let missing = dir.path().join("no-aws-config");
    let run = |curated: &str| {
        on_local_s3(
            Command::new(env!("CARGO_BIN_EXE_graphetl"))
                .args(["aggregate", "--dataset", SPEC, "--curated", curated])
                .args(["--out", &format!("s3://{bucket}/aggregates")]),
            server.endpoint_url(),
            &missing,
        )
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run graphetl: {e}"))
    };
    let out = run(&format!("s3://{bucket}/curated/service-calls/"));
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).contains("downloaded 3 Parquet file(s)"), "{}", text(&out.stderr));

    let objects: Vec<(String, Vec<u8>)> = runtime.block_on(async {
        let mut out = Vec::new();
        for o in store.list(bucket, "aggregates/").await.unwrap_or_else(|e| panic!("{e}")) {
            let bytes = store.get_bytes(bucket, &o.key).await.unwrap_or_else(|e| panic!("{e}"));
            out.push((o.key, bytes));
        }
        out.sort();
        out
    });
    let keys: Vec<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "aggregates/edges-00000.csv",
            "aggregates/edges-notes.txt",
            "aggregates/services-00000.csv"
        ]
    );
    let chunk = |i: usize| {
        parse_csv_chunk(&String::from_utf8_lossy(&objects[i].1)).unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(int_sum(&chunk(0).rows, "requests"), rows);
    assert_eq!(int_sum(&chunk(2).rows, "requests_in"), rows);

    let empty = run(&format!("s3://{bucket}/curated/other-dataset/"));
    assert_eq!(empty.status.code(), Some(2));
    assert!(text(&empty.stderr).contains("no objects"), "{}", text(&empty.stderr));
}
