//! `graphetl validate`, `transform`, `run --local`, `load` and `stream` as a user runs them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::Array;
use arrow_array::cast::AsArray;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{graphetl, on_local_s3, repo, text};

pub(crate) fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn validate_accepts_the_shipped_specs_and_explains_a_bad_one() {
    for spec in
        ["datasets/service-calls.toml", "datasets/products.toml", "bench/service-calls-csv.toml"]
    {
        let out = graphetl(&["validate", "--dataset", spec]);
        assert!(out.status.success(), "{spec}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains(": ok: dataset"), "{}", text(&out.stdout));
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.path().join("bad.toml");
    let spec = "name = \"bad\"\n[input]\nformat = \"csv\"\n[[columns]]\nname = \"a\"\ntype = \"decimel(10,2)\"\n[aggregate]\n[[aggregate.queries]]\nname = \"q\"\nsql = \"q.sql\"\n";
    std::fs::write(&bad, spec).unwrap_or_else(|e| panic!("{e}"));
    let out = graphetl(&["validate", "--dataset", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("bad.toml: columns[0].type: unknown type \"decimel(10,2)\""),
        "{}",
        text(&out.stderr)
    );
    // With a valid spec, a missing SQL file and an unknown placeholder are reported.
    std::fs::write(&bad, spec.replace("decimel", "decimal")).unwrap_or_else(|e| panic!("{e}"));
    let out = graphetl(&["validate", "--dataset", &bad.display().to_string()]);
    assert!(
        text(&out.stderr).contains("aggregate.queries[0].sql: cannot read"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(dir.path().join("q.sql"), "SELECT * FROM {tabel}")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = graphetl(&["validate", "--dataset", &bad.display().to_string()]);
    assert!(text(&out.stderr).contains("unknown placeholder(s) {tabel}"), "{}", text(&out.stderr));
    // validate renders as the aggregate step does, so an unclosed brace (which the step refuses)
    // is refused here too.
    std::fs::write(dir.path().join("q.sql"), "SELECT * FROM {table\nWHERE dt = '{dt_from}'")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = graphetl(&["validate", "--dataset", &bad.display().to_string()]);
    assert!(text(&out.stderr).contains("unclosed '{' at line 1"), "{}", text(&out.stderr));
    std::fs::write(dir.path().join("q.sql"), "SELECT caller, count(* FROM {table}")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = graphetl(&["validate", "--dataset", &bad.display().to_string()]);
    assert!(text(&out.stderr).contains("does not parse"), "{}", text(&out.stderr));
    std::fs::write(dir.path().join("q.sql"), "DELETE FROM {table}")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = graphetl(&["validate", "--dataset", &bad.display().to_string()]);
    assert!(text(&out.stderr).contains("expected one SELECT query"), "{}", text(&out.stderr));
}

#[test]
fn transform_of_a_messy_dms_csv_gives_exactly_the_typed_rows() {
    let out_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = graphetl(&[
        "transform",
        "--dataset",
        "datasets/products.toml",
        "--input",
        "datasets/products/sample/LOAD00000001.csv",
        "--output-dir",
        &out_dir.path().display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result: serde_json::Value =
        serde_json::from_str(text(&out.stdout).trim()).unwrap_or_default();
    assert_eq!(
        (
            result["rows_in"].as_u64(),
            result["rows_written"].as_u64(),
            result["rows_rejected"].as_u64()
        ),
        (Some(9), Some(5), Some(4))
    );
    let keys: Vec<&str> = result["outputs"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["key"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys[0].starts_with("curated/products/dt=2024-03-27/LOAD00000001-"), "{keys:?}");
    assert!(keys[1].starts_with("curated/products/dt=2024-03-28/LOAD00000001-"), "{keys:?}");

    let path = out_dir.path().join(keys[0]);
    let reader = ParquetRecordBatchReaderBuilder::try_new(
        File::open(&path).unwrap_or_else(|e| panic!("{e}")),
    )
    .and_then(|b| b.build())
    .unwrap_or_else(|e| panic!("{e}"));
    let mut rows = Vec::new();
    for batch in reader.flatten() {
        for i in 0..batch.num_rows() {
            let ids = batch.column(1).as_primitive::<arrow_array::types::Int64Type>();
            let prices = batch.column(6).as_primitive::<arrow_array::types::Decimal128Type>();
            let active = batch.column(4).as_boolean();
            let tags = batch.column(7).as_list::<i32>();
            let tag_text: Vec<String> = if tags.is_null(i) {
                vec!["∅".into()]
            } else {
                tags.value(i).as_string::<i32>().iter().flatten().map(str::to_owned).collect()
            };
            rows.push(format!(
                "{} {} {} {}",
                ids.value(i),
                active.value(i),
                prices.value(i),
                tag_text.join("+")
            ));
        }
    }
    assert_eq!(
        rows,
        [
            "1001 true 123450 steel+electric",
            "1002 true 999 ceramic",
            "1003 false -500 led+dimmable"
        ]
    );

    let quarantine = result["quarantine"]["key"].as_str().unwrap_or_default();
    let lines = std::fs::read_to_string(out_dir.path().join(quarantine)).unwrap_or_default();
    let reasons: Vec<String> = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            format!(
                "{} {} {}",
                v["row"],
                v["column"].as_str().unwrap_or(""),
                v["value"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        reasons,
        ["6 op X", "7 is_active maybe", "8 created_date 2024-02-30", "9 product_id "]
    );
}

#[test]
fn a_broken_file_fails_clearly_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = dir.path().join("part-0.json.gz");
    std::fs::write(
        &input,
        [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xab, 0x56],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out_dir = dir.path().join("out");
    let out = graphetl(&[
        "transform",
        "--dataset",
        "datasets/service-calls.toml",
        "--input",
        &input.display().to_string(),
        "--output-dir",
        &out_dir.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the gzip stream is truncated or corrupt"),
        "{}",
        text(&out.stderr)
    );
    assert!(files_under(&out_dir).is_empty());
}

#[test]
fn a_corrupt_file_is_listed_by_failures_and_failed_of_reruns_only_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let input = dir.path().join("in");
    let sample = super::repo().join("datasets/service-calls/sample");
    for entry in files_under(&sample) {
        let relative = entry.strip_prefix(&sample).unwrap_or_else(|e| panic!("{e}"));
        let target = input.join(relative);
        std::fs::create_dir_all(target.parent().unwrap_or(&input))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(&entry, &target).unwrap_or_else(|e| panic!("{e}"));
    }
    let corrupt_key = "raw/service-calls/dt=2026-11-20/hour=04/part-00001.json.gz";
    std::fs::write(
        input.join("dt=2026-11-20/hour=04/part-00001.json.gz"),
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03not deflate",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let data_dir = dir.path().join("data").display().to_string();
    let input_arg = input.display().to_string();
    let run = graphetl(&[
        "run",
        "--local",
        "--data-dir",
        &data_dir,
        "--input",
        &input_arg,
        "--batch-size",
        "1",
        "--tolerated-failure-percentage",
        "30",
    ]);
    let stdout = text(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", text(&run.stderr));
    assert!(stdout.contains("files       3 transformed, 1 failed"), "{stdout}");
    assert!(stdout.contains("execution local-service-calls-0001"), "{stdout}");

    let failures = graphetl(&[
        "failures",
        "local-service-calls-0001",
        "--local",
        "--data-dir",
        &data_dir,
        "--json",
    ]);
    assert!(failures.status.success(), "{}", text(&failures.stderr));
    let rows: Vec<serde_json::Value> =
        text(&failures.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["key"], corrupt_key);
    assert_eq!(rows[0]["error"], "GraphEtl.BadInput");
    assert!(
        rows[0]["cause"]
            .as_str()
            .unwrap_or_default()
            .contains("the gzip stream is truncated or corrupt"),
        "{rows:?}"
    );

    let rerun = graphetl(&[
        "reprocess",
        "--local",
        "--data-dir",
        &data_dir,
        "--failed-of",
        "local-service-calls-0001",
    ]);
    let stdout = text(&rerun.stdout);
    // Only the corrupt file runs again (and fails again, since it is still corrupt).
    assert!(stdout.contains("files       0 transformed, 1 failed"), "{stdout}");
    assert!(stdout.contains(&format!("failed      {corrupt_key}: GraphEtl.BadInput")), "{stdout}");
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("data/executions/local-service-calls-0002.json"))
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(record["input"]["items_manifest"], "runs/local-service-calls-0001/retry-items.json");
}

#[test]
fn reprocess_rejects_prefixes_outside_the_raw_area() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data_dir = dir.path().display().to_string();
    for (prefix, expected) in [
        ("raw/other/", "outside the dataset's raw area"),
        ("raw/service-calls/../x/", "contains '..'"),
        ("", "is empty"),
        ("s3://bucket/raw/service-calls/", "names a bucket"),
    ] {
        let out = graphetl(&[
            "reprocess",
            "--local",
            "--data-dir",
            &data_dir,
            "--dataset",
            "service-calls",
            "--prefix",
            prefix,
        ]);
        assert_eq!(out.status.code(), Some(2), "{prefix}");
        assert!(text(&out.stderr).contains(expected), "{prefix}: {}", text(&out.stderr));
    }
}

const EDGES_CSV: &str = "caller,callee,requests,errors,error_rate,p50_ms,p95_ms,p99_ms,bytes,first_seen,last_seen\n\
web,api,120,3,0.025,10.5,40.0,80.25,102400,2026-11-20T03:00:00Z,2026-11-20T05:59:00Z\n\
api,db,90,0,0.0,3.0,9.0,12.0,5120,2026-11-20T03:01:00Z,2026-11-20T05:58:00Z\n";
const SERVICES_CSV: &str =
    "name,requests_in,requests_out,error_rate\nweb,0,120,\napi,120,90,0.025\ndb,90,0,0.0\n";

fn load_inputs(dir: &Path) -> (String, String) {
    let edges = dir.join("edges.csv");
    let services = dir.join("services.csv");
    std::fs::write(&edges, EDGES_CSV).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&services, SERVICES_CSV).unwrap_or_else(|e| panic!("{e}"));
    (format!("edges={}", edges.display()), format!("services={}", services.display()))
}

#[test]
fn load_into_a_local_graph_writes_neptune_csv() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (edges, services) = load_inputs(dir.path());
    let out_dir = dir.path().join("graph").display().to_string();
    let out = graphetl(&[
        "load",
        "--dataset",
        "datasets/service-calls.toml",
        "--result",
        &edges,
        "--result",
        &services,
        "--local-graph",
        &out_dir,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("loaded 3 vertices and 2 edges"), "{}", text(&out.stdout));
    let vertices =
        std::fs::read_to_string(dir.path().join("graph/vertices.csv")).unwrap_or_default();
    assert_eq!(
        vertices,
        "~id,~label,error_rate:Double(single),name:String(single),requests_in:Long(single),requests_out:Long(single)\n\
         api,Service,0.025,api,120,90\ndb,Service,0.0,db,90,0\nweb,Service,,web,0,120\n"
    );
    let edges = std::fs::read_to_string(dir.path().join("graph/edges.csv")).unwrap_or_default();
    assert!(
        edges.contains("web->api,web,api,CALLS,102400,0.025,3,2026-11-20T03:00:00Z"),
        "{edges}"
    );
}

#[test]
fn load_into_the_neptune_stand_in_batches_vertices_then_edges() {
    let mock = start_mock_neptune();
    let endpoint = mock.url.clone();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (edges, services) = load_inputs(dir.path());
    let out = graphetl(&[
        "load",
        "--dataset",
        "datasets/service-calls.toml",
        "--result",
        &edges,
        "--result",
        &services,
        "--neptune-endpoint",
        &endpoint,
        "--no-iam",
        "--writers",
        "4",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // 3 vertices × 5 records (less web's null error_rate) and 2 edges × 10 records: one vertex
    // request, then one edge request.
    assert!(
        text(&out.stdout)
            .contains("loaded 3 vertices and 2 edges: 34 records in 2 requests, 0 retries"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn stream_reads_through_the_stand_in_and_rejects_bad_positions() {
    let mock = start_mock_neptune();
    let endpoint = mock.url.clone();
    let out = graphetl(&["stream", "--endpoint", &endpoint, "--no-iam", "--from", "after:12/3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "no changes");
    let bad = graphetl(&["stream", "--endpoint", &endpoint, "--no-iam", "--from", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr)
            .contains("expected trim-horizon, latest, at:COMMIT/OP or after:COMMIT/OP"),
        "{}",
        text(&bad.stderr)
    );
}

/// A request claiming a terabyte body is refused with 413 (not allocated), a header line
/// without end with 431, and the stand-in keeps serving.
#[test]
fn the_neptune_stand_in_refuses_requests_it_would_have_to_allocate_without_bound() {
    use std::io::{Read, Write};
    let mock = start_mock_neptune();
    let endpoint = mock.url.clone();
    let addr = endpoint.trim_start_matches("http://").to_owned();
    let ask = |request: &[u8]| {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap_or_else(|e| panic!("{e}"));
        stream.write_all(request).unwrap_or_else(|e| panic!("{e}"));
        // End of the request: the stand-in then closes the connection after its answer.
        stream.shutdown(std::net::Shutdown::Write).unwrap_or_else(|e| panic!("{e}"));
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    let huge = ask(b"POST /gremlin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000\r\n\r\n");
    let long = [b"POST /gremlin HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 20_000]].concat();
    let long = ask(&long);
    let fine = ask(
        b"POST /gremlin HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    assert!(huge.starts_with("HTTP/1.1 413 Payload Too Large"), "{huge}");
    assert!(long.starts_with("HTTP/1.1 431 Request Header Fields Too Large"), "{long}");
    assert!(fine.starts_with("HTTP/1.1 200 OK"), "{fine}");
}

/// A running `graphetl mock-neptune`, stopped when dropped (also when a test fails).
struct MockNeptune {
    child: std::process::Child,
    /// Its endpoint URL.
    url: String,
}

impl Drop for MockNeptune {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `graphetl mock-neptune` with no latency.
fn start_mock_neptune() -> MockNeptune {
    start_mock_neptune_with(&[])
}

/// Starts `graphetl mock-neptune` with no latency and `extra` arguments.
fn start_mock_neptune_with(extra: &[&str]) -> MockNeptune {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_graphetl"))
        .args(["mock-neptune", "--latency-ms", "0"])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        use std::io::BufRead;
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
    }
    MockNeptune { child, url: line.trim().to_owned() }
}

const BULK_BUCKET: &str = "graphetl-bulk";

/// The real local S3 endpoint for `graphetl load --bulk-s3`, with the bucket created; the
/// runtime serves it while the test waits for the command.
struct BulkS3 {
    runtime: tokio::runtime::Runtime,
    server: graphetl_storage::LocalS3,
    _root: tempfile::TempDir,
}

impl BulkS3 {
    fn start() -> BulkS3 {
        use graphetl_storage::ObjectStore;
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let server = runtime
            .block_on(graphetl_storage::LocalS3::start(root.path()))
            .unwrap_or_else(|e| panic!("{e}"));
        runtime
            .block_on(server.store().ensure_bucket(BULK_BUCKET))
            .unwrap_or_else(|e| panic!("{e}"));
        BulkS3 { runtime, server, _root: root }
    }

    /// `graphetl load` of the test results into `endpoint` with the bulk path at `min_records`,
    /// the standard AWS configuration pointed at the local endpoint.
    fn load(&self, endpoint: &str, min_records: &str) -> Output {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (edges, services) = load_inputs(dir.path());
        let missing = dir.path().join("no-aws-config");
        on_local_s3(
            Command::new(env!("CARGO_BIN_EXE_graphetl"))
                .args(["load", "--dataset", "datasets/service-calls.toml"])
                .args(["--result", &edges, "--result", &services])
                .args(["--neptune-endpoint", endpoint, "--no-iam", "--region", "us-east-1"])
                .args(["--bulk-role-arn", "arn:aws:iam::123456789012:role/NeptuneLoadFromS3"])
                .args(["--bulk-s3", &format!("s3://{BULK_BUCKET}/loads/")])
                .args(["--bulk-min-records", min_records, "--bulk-poll-ms", "10"]),
            self.server.endpoint_url(),
            &missing,
        )
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run graphetl: {e}"))
    }

    /// Keys and contents of every object under `loads/`.
    fn objects(&self) -> Vec<(String, String)> {
        use graphetl_storage::ObjectStore;
        let store = self.server.store();
        self.runtime.block_on(async {
            let mut out = Vec::new();
            for object in store.list(BULK_BUCKET, "loads/").await.unwrap_or_else(|e| panic!("{e}"))
            {
                let bytes = store.get_bytes(BULK_BUCKET, &object.key).await.unwrap_or_default();
                out.push((object.key, String::from_utf8_lossy(&bytes).into_owned()));
            }
            out.sort();
            out
        })
    }
}

#[test]
fn load_above_the_bulk_threshold_uploads_csv_to_s3_and_runs_a_loader_job() {
    let s3 = BulkS3::start();
    let mock = start_mock_neptune();
    let endpoint = mock.url.clone();
    // 34 records (see the stand-in test above): at the threshold.
    let out = s3.load(&endpoint, "34");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}{stdout}", text(&out.stderr));
    assert!(stdout.contains("loaded 3 vertices and 2 edges: 34 records in 3 requests"), "{stdout}");
    let objects = s3.objects();
    let keys: Vec<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let folder = keys[0].strip_suffix("edges.csv").unwrap_or_else(|| panic!("{keys:?}"));
    assert!(folder.starts_with("loads/service-calls-"), "{folder}");
    assert_eq!(keys[1], format!("{folder}vertices.csv"));
    assert_eq!(
        objects[1].1,
        "~id,~label,error_rate:Double(single),name:String(single),requests_in:Long(single),requests_out:Long(single)\n\
         api,Service,0.025,api,120,90\ndb,Service,0.0,db,90,0\nweb,Service,,web,0,120\n"
    );
    assert!(objects[0].1.contains("web->api,web,api,CALLS,"), "{}", objects[0].1);
    // One start, a poll answered LOAD_IN_PROGRESS, then LOAD_COMPLETED.
    let expected = format!(
        "path: bulk loader, job mock-load-1 over s3://{BULK_BUCKET}/{folder} (LOAD_COMPLETED, 0 records, 2 status polls)"
    );
    assert!(stdout.contains(&expected), "{stdout}");
}

#[test]
fn a_failed_loader_job_fails_the_load_with_a_stable_name() {
    let s3 = BulkS3::start();
    let mock = start_mock_neptune_with(&["--loader-status", "LOAD_FAILED"]);
    let endpoint = mock.url.clone();
    let out = s3.load(&endpoint, "1");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    for part in ["mock-load-1", "LOAD_FAILED", "FROM_OR_TO_VERTEX_ARE_MISSING", "GraphEtl.BadInput"]
    {
        assert!(stderr.contains(part), "{part} not in {stderr}");
    }
}

#[test]
fn load_below_the_bulk_threshold_upserts_with_gremlin() {
    let s3 = BulkS3::start();
    let mock = start_mock_neptune();
    let endpoint = mock.url.clone();
    let out = s3.load(&endpoint, "35");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}{stdout}", text(&out.stderr));
    assert!(stdout.contains("34 records in 2 requests, 0 retries"), "{stdout}");
    assert!(stdout.contains("path: upsert (Gremlin mergeV/mergeE)"), "{stdout}");
    assert!(s3.objects().is_empty(), "nothing uploaded below the threshold");
}

#[test]
fn bulk_flags_need_each_other_and_an_s3_url() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (edges, _) = load_inputs(dir.path());
    let base = ["load", "--dataset", "datasets/service-calls.toml", "--result", &edges];
    let endpoint = ["--neptune-endpoint", "http://127.0.0.1:1", "--no-iam"];
    let role = ["--bulk-role-arn", "arn:aws:iam::123456789012:role/R"];
    let alone = graphetl(&[&base[..], &endpoint, &role].concat());
    assert_eq!(alone.status.code(), Some(2));
    assert!(text(&alone.stderr).contains("--bulk-s3"), "{}", text(&alone.stderr));
    let not_s3 = graphetl(&[&base[..], &endpoint, &role, &["--bulk-s3", "bucket/prefix"]].concat());
    assert_eq!(not_s3.status.code(), Some(2));
    assert!(
        text(&not_s3.stderr).contains("expected s3://bucket/prefix"),
        "{}",
        text(&not_s3.stderr)
    );
}

#[test]
fn generate_writes_identical_raw_parts_whose_bad_rows_are_exactly_the_rejected_ones() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let generate = |name: &str| {
        let out_dir = dir.path().join(name);
        let out = graphetl(&[
            "generate",
            "--records",
            "3000",
            "--services",
            "8",
            "--seed",
            "5",
            "--window",
            "2026-11-20T03:00:00Z/2026-11-20T05:00:00Z",
            "--records-per-file",
            "1000",
            "--out",
            &out_dir.display().to_string(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("wrote 3000 records (15 bad) in 4 files"),
            "{}",
            text(&out.stdout)
        );
        out_dir
    };
    let first = generate("a");
    let files = files_under(&first);
    let relative: Vec<String> =
        files.iter().map(|f| f.strip_prefix(&first).unwrap_or(f).display().to_string()).collect();
    assert_eq!(
        relative,
        [
            "dt=2026-11-20/hour=03/part-20261120T030000Z-20261120T040000Z-00000.jsonl.gz",
            "dt=2026-11-20/hour=03/part-20261120T030000Z-20261120T040000Z-00001.jsonl.gz",
            "dt=2026-11-20/hour=04/part-20261120T040000Z-20261120T050000Z-00000.jsonl.gz",
            "dt=2026-11-20/hour=04/part-20261120T040000Z-20261120T050000Z-00001.jsonl.gz",
        ]
    );
    let second = generate("b");
    for (a, b) in files.iter().zip(files_under(&second)) {
        let (a_bytes, b_bytes) = (std::fs::read(a), std::fs::read(&b));
        assert!(a_bytes.is_ok() && a_bytes.ok() == b_bytes.ok(), "{} differs", b.display());
    }
    let (mut rows_in, mut rejected) = (0, 0);
    for file in &files {
        let out = graphetl(&[
            "transform",
            "--dataset",
            "datasets/service-calls.toml",
            "--input",
            &file.display().to_string(),
            "--output-dir",
            &dir.path().join("out").display().to_string(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let result: serde_json::Value =
            serde_json::from_str(text(&out.stdout).trim()).unwrap_or_else(|e| panic!("{e}"));
        rows_in += result["rows_in"].as_u64().unwrap_or(0);
        rejected += result["rows_rejected"].as_u64().unwrap_or(0);
    }
    assert_eq!((rows_in, rejected), (3000, 15));
}
