//! `graphetl run --local` end to end: the graph against an independent computation from the raw
//! records, byte-identical re-runs, reprocessing one prefix, and injected throttling.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use graphetl_extract::generator::has_planted_defect;

use super::commands::files_under;
use super::{graphetl, text};

const BUCKET_DIR: &str = "s3/graphetl-local";

fn run_local(data_dir: &Path, extra: &[&str]) -> String {
    let dir = data_dir.display().to_string();
    let mut args = vec!["run", "--local", "--data-dir", &dir];
    args.extend_from_slice(extra);
    let out = graphetl(&args);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("status      SUCCEEDED"), "{stdout}");
    stdout
}

/// Every file under `root` with its bytes, keyed by the path below `root`.
pub(crate) fn snapshot(root: &Path, extension: &str) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.strip_prefix(root).unwrap_or(&p).to_path_buf(), bytes)
        })
        .collect()
}

/// The raw records the extract wrote (gzip JSON lines).
fn raw_records(data_dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for file in files_under(&data_dir.join(BUCKET_DIR).join("raw/service-calls")) {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        out.extend(text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}"))));
    }
    out
}

/// The spec's bool tokens for false (`ok` = `success`); anything else that parsed is true.
fn is_false(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Bool(b) => !b,
        serde_json::Value::String(s) => {
            matches!(s.to_ascii_lowercase().as_str(), "false" | "0" | "no" | "n" | "f")
        }
        serde_json::Value::Number(n) => n.as_i64() == Some(0),
        _ => false,
    }
}

/// (requests, errors) per `caller->callee`, computed straight from the raw records: rows the
/// generator planted as bad are the ones the transform rejects.
fn expected_edges(records: &[serde_json::Value]) -> BTreeMap<String, (i64, i64)> {
    let mut edges: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in records.iter().filter(|r| !has_planted_defect(r)) {
        let (Some(caller), Some(callee)) = (r["caller"].as_str(), r["callee"].as_str()) else {
            panic!("a good record without caller/callee: {r}");
        };
        let error = is_false(&r["success"]) || r["status"].as_i64().is_some_and(|s| s >= 500);
        let e = edges.entry(format!("{caller}->{callee}")).or_default();
        e.0 += 1;
        e.1 += i64::from(error);
    }
    edges
}

/// Rows of a Neptune bulk-load CSV as header name → cell (header names without `:Type`).
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{e}"));
    let headers: Vec<String> = reader
        .headers()
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|h| h.split(':').next().unwrap_or(h).to_owned())
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("{e}"));
            headers.iter().cloned().zip(r.iter().map(str::to_owned)).collect()
        })
        .collect()
}

/// (requests, errors) per edge id of a graph's Neptune edges.csv.
fn edge_counts(path: &Path) -> BTreeMap<String, (i64, i64)> {
    csv_rows(path)
        .iter()
        .map(|e| {
            let n = |k: &str| e[k].parse::<i64>().unwrap_or_else(|_| panic!("{k}: {e:?}"));
            (e["~id"].clone(), (n("requests"), n("errors")))
        })
        .collect()
}

#[test]
fn the_graph_matches_the_raw_records_and_a_second_run_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let args = ["--records", "3000", "--services", "12", "--seed", "7"];
    let stdout = run_local(dir.path(), &args);
    let records = raw_records(dir.path());
    assert_eq!(records.len(), 3000);
    let expected = expected_edges(&records);
    let graph_dir = dir.path().join("graph/service-calls");
    assert_eq!(edge_counts(&graph_dir.join("edges.csv")), expected);
    // Vertices: every service seen, with its calls in and out.
    let mut io: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (id, (requests, _)) in &expected {
        let (caller, callee) = id.split_once("->").unwrap_or_else(|| panic!("{id}"));
        io.entry(callee.to_owned()).or_default().0 += requests;
        io.entry(caller.to_owned()).or_default().1 += requests;
    }
    let vertices: BTreeMap<String, (i64, i64)> = csv_rows(&graph_dir.join("vertices.csv"))
        .iter()
        .map(|v| {
            let n = |k: &str| v[k].parse::<i64>().unwrap_or_else(|_| panic!("{k}: {v:?}"));
            (v["~id"].clone(), (n("requests_in"), n("requests_out")))
        })
        .collect();
    assert_eq!(vertices, io);
    let good = records.iter().filter(|r| !has_planted_defect(r)).count();
    assert!(
        stdout.contains(&format!("rows        3000 in, {good} written, {} rejected", 3000 - good)),
        "{stdout}"
    );

    let graph_before = snapshot(&graph_dir, "csv");
    let graphml_before = snapshot(&graph_dir, "graphml");
    let curated = dir.path().join(BUCKET_DIR).join("curated/service-calls");
    let parquet_before = snapshot(&curated, "parquet");
    assert!(!parquet_before.is_empty());
    run_local(dir.path(), &args);
    assert!(snapshot(&graph_dir, "csv") == graph_before, "graph CSV changed on the second run");
    assert!(snapshot(&graph_dir, "graphml") == graphml_before, "GraphML changed");
    assert!(snapshot(&curated, "parquet") == parquet_before, "curated Parquet changed");
}

#[test]
fn reprocessing_one_prefix_changes_only_that_partition() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sample = super::repo().join("datasets/service-calls/sample").display().to_string();
    run_local(dir.path(), &["--input", &sample]);
    let curated = dir.path().join(BUCKET_DIR).join("curated/service-calls");
    let before = snapshot(&curated, "parquet");
    assert_eq!(before.len(), 3);
    // A late file arrives in hour 04 (through S3): ten more records of that hour.
    let raw_04 = dir
        .path()
        .join(BUCKET_DIR)
        .join("raw/service-calls/dt=2026-11-20/hour=04/part-00000.json.gz");
    let bytes = std::fs::read(&raw_04).unwrap_or_else(|e| panic!("{e}"));
    let mut all = String::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_string(&mut all)
        .unwrap_or_else(|e| panic!("{e}"));
    let kept: String = all.lines().take(10).map(|l| format!("{l}\n")).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, kept.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let late = gz.finish().unwrap_or_else(|e| panic!("{e}"));
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        use graphetl_storage::ObjectStore;
        let server = graphetl_storage::LocalS3::start(&dir.path().join("s3"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let key = "raw/service-calls/dt=2026-11-20/hour=04/part-00001.json.gz";
        server
            .store()
            .put_bytes("graphetl-local", key, late, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        server.shutdown().await;
    });

    let stdout = run_local(dir.path(), &["--prefix", "raw/service-calls/dt=2026-11-20/hour=04/"]);
    assert!(stdout.contains("files       2 transformed, 0 failed"), "{stdout}");
    let after = snapshot(&curated, "parquet");
    // Every file outside hour 04 is untouched; hour 04 has the late file's output beside the
    // re-written (identical) output of the first file.
    for (path, bytes) in &before {
        assert_eq!(after.get(path), Some(bytes), "{} changed", path.display());
    }
    let added: Vec<&PathBuf> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert!(added[0].to_string_lossy().contains("dt=2026-11-20/hour=04/"), "{added:?}");
}

#[test]
fn injected_transform_throttling_is_retried_and_gives_the_same_graph() {
    let sample = super::repo().join("datasets/service-calls/sample").display().to_string();
    let clean = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    run_local(clean.path(), &["--input", &sample, "--batch-size", "1"]);
    let throttled = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stdout = run_local(
        throttled.path(),
        &["--input", &sample, "--batch-size", "1", "--inject-transform-throttling", "2"],
    );
    assert!(stdout.contains("files       3 transformed, 0 failed"), "{stdout}");
    // Three files, every second invocation throttled and retried: more calls than files.
    let calls = stdout
        .split("transform ")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no transform calls in {stdout}"));
    assert!(calls > 3, "{calls} transform calls: {stdout}");
    let graph = |d: &Path| snapshot(&d.join("graph/service-calls"), "csv");
    assert!(graph(clean.path()) == graph(throttled.path()), "throttling changed the graph");
    assert!(!graph(clean.path()).is_empty());
}

/// A user's own API on loopback: pages of `page` records with an offset cursor, a required
/// `X-Api-Key`, one 429 with `Retry-After: 1` (the 2nd request) and one 503 (the 4th). It
/// answers each request on its own connection and records the request lines it got.
struct UsersApi {
    addr: std::net::SocketAddr,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl UsersApi {
    fn start(records: Vec<serde_json::Value>, page: usize, key: &'static str) -> UsersApi {
        use std::io::{BufRead, BufReader, Write};
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader =
                    BufReader::new(stream.try_clone().unwrap_or_else(|e| panic!("{e}")));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut has_key = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    has_key |= lower.starts_with("x-api-key:") && line.trim_end().ends_with(key);
                }
                seen.lock().unwrap_or_else(|e| e.into_inner()).push(request_line.clone());
                let (status, extra, body) = if !has_key {
                    ("401 Unauthorized", String::new(), r#"{"error":"no key"}"#.to_owned())
                } else if n == 1 {
                    ("429 Too Many Requests", "Retry-After: 1\r\n".to_owned(), "{}".to_owned())
                } else if n == 3 {
                    ("503 Service Unavailable", String::new(), "{}".to_owned())
                } else {
                    let cursor = request_line
                        .split_whitespace()
                        .nth(1)
                        .and_then(|target| target.split("cursor=").nth(1))
                        .map(|c| c.split('&').next().unwrap_or_default().to_owned())
                        .unwrap_or_default();
                    let offset: usize = cursor.parse().unwrap_or(0);
                    let end = (offset + page).min(records.len());
                    let next = if end < records.len() {
                        serde_json::Value::String(end.to_string())
                    } else {
                        serde_json::Value::Null
                    };
                    let body =
                        serde_json::json!({"data": &records[offset..end], "next_cursor": next});
                    ("200 OK", String::new(), body.to_string())
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
                    body.len()
                );
            }
        });
        UsersApi { addr, requests }
    }
}

/// A user's spec in `dir/specs/my.toml`: the shipped service-calls spec (and its SQL) with its
/// `url` line replaced by `source_lines` (their API's URL and headers).
fn users_spec(dir: &Path, source_lines: &str) -> PathBuf {
    let spec_dir = dir.join("specs");
    std::fs::create_dir_all(spec_dir.join("service-calls")).unwrap_or_else(|e| panic!("{e}"));
    let shipped = super::repo().join("datasets");
    for sql in ["edges.sql", "services.sql"] {
        std::fs::copy(
            shipped.join("service-calls").join(sql),
            spec_dir.join("service-calls").join(sql),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let shipped_url =
        "url = \"http://127.0.0.1:8099/api/calls?start={start}&end={end}&cursor={cursor}\"";
    let text = std::fs::read_to_string(shipped.join("service-calls.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains(shipped_url), "the shipped spec's url line changed");
    let spec = spec_dir.join("my.toml");
    std::fs::write(&spec, text.replace(shipped_url, source_lines))
        .unwrap_or_else(|e| panic!("{e}"));
    spec
}

#[test]
fn run_local_extracts_from_the_specs_own_api_with_its_retries_and_gives_the_right_graph() {
    use graphetl_extract::generator::{DEFAULT_WINDOW, GeneratorConfig, generate};
    let window = graphetl_core::contract::Window::parse_interval(DEFAULT_WINDOW)
        .unwrap_or_else(|e| panic!("{e}"));
    let records: Vec<serde_json::Value> =
        generate(&GeneratorConfig::new(9, 1_000, window)).collect();
    let api = UsersApi::start(records.clone(), 300, "k-123");

    // The user's spec: the shipped one with their API's URL and a header secret by reference.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = users_spec(
        dir.path(),
        &format!(
            "url = \"http://{}/v1/calls?from={{start}}&to={{end}}&cursor={{cursor}}\"\nheaders = {{ X-Api-Key = \"env:GRAPHETL_SECRET_E2E_KEY\" }}",
            api.addr
        ),
    );

    let data_dir = dir.path().join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graphetl"))
        .args(["run", "--local", "--dataset"])
        .arg(&spec)
        .arg("--data-dir")
        .arg(&data_dir)
        .env("GRAPHETL_SECRET_E2E_KEY", "k-123")
        .current_dir(super::repo())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("status      SUCCEEDED"), "{stdout}");
    assert!(stdout.contains(&format!("source      http://{}/v1/calls", api.addr)), "{stdout}");
    // 4 pages of 300, plus the 429 and the 503 retried; Retry-After asked for 1 s.
    assert!(
        stdout.contains(
            "extract     4 page(s), 1000 record(s) in 1 raw file(s); 2 retried request(s)"
        ),
        "{stdout}"
    );
    let seen = api.requests.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(
        seen.iter().all(|line| line.starts_with("GET /v1/calls?from=2026-11-20T03")),
        "{seen:?}"
    );

    // The graph is the one the served records give.
    assert_eq!(raw_records(&data_dir), records);
    let expected = expected_edges(&records);
    assert_eq!(edge_counts(&data_dir.join("graph/service-calls/edges.csv")), expected);
}

#[test]
fn run_local_without_the_secret_sends_nothing_and_says_which_variable_is_missing() {
    let api = UsersApi::start(Vec::new(), 10, "k-123");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = users_spec(
        dir.path(),
        &format!(
            "url = \"http://{}/v1/calls?cursor={{cursor}}\"\nheaders = {{ X-Api-Key = \"env:GRAPHETL_SECRET_E2E_MISSING\" }}",
            api.addr
        ),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graphetl"))
        .args(["run", "--local", "--dataset"])
        .arg(&spec)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("GRAPHETL_SECRET_E2E_MISSING")
        .current_dir(super::repo())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("status      FAILED"), "{stdout}");
    assert!(stdout.contains("GRAPHETL_SECRET_E2E_MISSING"), "{stdout}");
    assert!(api.requests.lock().unwrap_or_else(|e| e.into_inner()).is_empty());
}

#[test]
fn a_file_covering_a_year_gives_the_same_graph_as_the_same_records_split_by_month() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let year = dir.path().join("year/calls-2025.jsonl");
    std::fs::create_dir_all(dir.path().join("year")).unwrap_or_else(|e| panic!("{e}"));
    let generated = graphetl(&[
        "generate",
        "--records",
        "6000",
        "--services",
        "10",
        "--window",
        "2025-01-01T00:00:00Z/2026-01-01T00:00:00Z",
        "--out",
        &year.display().to_string(),
    ]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    // The same records as twelve monthly files, each in its own folder.
    let lines = std::fs::read_to_string(&year).unwrap_or_else(|e| panic!("{e}"));
    let mut months: BTreeMap<String, String> = BTreeMap::new();
    for line in lines.lines() {
        let record: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        let month = record["timestamp"].as_str().map_or("bad", |t| t.get(..7).unwrap_or("bad"));
        let file = months.entry(month.to_owned()).or_default();
        file.push_str(line);
        file.push('\n');
    }
    assert!(months.len() >= 12, "{:?}", months.keys().collect::<Vec<_>>());
    let monthly = dir.path().join("monthly");
    for (month, text) in &months {
        let folder = monthly.join(month);
        std::fs::create_dir_all(&folder).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(folder.join("calls.jsonl"), text).unwrap_or_else(|e| panic!("{e}"));
    }

    let one = dir.path().join("one");
    let stdout = run_local(&one, &["--input", &year.display().to_string()]);
    assert!(stdout.contains("files       1 transformed, 0 failed"), "{stdout}");
    let split = dir.path().join("split");
    let split_stdout = run_local(&split, &["--input", &monthly.display().to_string()]);
    assert!(
        split_stdout.contains(&format!("files       {} transformed", months.len())),
        "{split_stdout}"
    );
    let rows = |out: &str| out.lines().find(|l| l.contains("rows  ")).map(str::to_owned);
    assert_eq!(rows(&stdout), rows(&split_stdout));
    // Thousands of hourly partitions from one file, and the very same graph.
    let partitions = files_under(&one.join(BUCKET_DIR).join("curated/service-calls")).len();
    assert!(partitions > 4_000, "{partitions} curated files");
    for file in ["vertices.csv", "edges.csv"] {
        let a = std::fs::read(one.join("graph/service-calls").join(file)).unwrap_or_default();
        let b = std::fs::read(split.join("graph/service-calls").join(file)).unwrap_or_default();
        assert!(!a.is_empty(), "{file} is empty");
        assert!(a == b, "{file} differs between the year file and the monthly files");
    }
}
