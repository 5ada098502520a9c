//! The four Lambda binaries through the real Lambda Runtime API protocol: `cargo lambda watch
//! --only-lambda-apis` (cargo-lambda's emulator of the Runtime and Invoke APIs) runs on
//! 127.0.0.1, each binary is started the way Lambda starts a `provided.al2023` bootstrap (the
//! `AWS_LAMBDA_*` variables, `AWS_LAMBDA_RUNTIME_API` pointing at the emulator), and every
//! function gets its fixture event from `crates/core/fixtures/` through
//! `cargo lambda invoke --data-file`. S3 is the real embedded endpoint; the source API, Athena and
//! Neptune's Gremlin endpoint are loopback stand-ins (testkit/aws_json_stub.rs). A failure must
//! come back with the stable `GraphEtl.*` name as `errorType`, which the state machine retries
//! and catches on.
//!
//! Needs `cargo-lambda` on PATH (`pip install cargo-lambda`; `.ci/run` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // test code

#[path = "../../../testkit/aws_json_stub.rs"]
mod aws_json_stub;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_json_stub::{AwsJsonStub, Reply};
use graphetl_storage::{LocalS3, ObjectStore};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The buckets the fixtures name (the aggregate fixture's differs from the others').
const BUCKET: &str = "graphetl-data-123456789012";
const AGGREGATE_BUCKET: &str = "graphetl-data-123456789012-eu-west-1";
const SPEC: &str = include_str!("../../../datasets/service-calls.toml");
const EDGES_SQL: &str = include_str!("../../../datasets/service-calls/edges.sql");
const SERVICES_SQL: &str = include_str!("../../../datasets/service-calls/services.sql");
const SAMPLE: &[u8] = include_bytes!(
    "../../../datasets/service-calls/sample/dt=2026-11-20/hour=03/part-00000.json.gz"
);
/// The key `transform-item.json` names.
const RAW_KEY: &str = "raw/service-calls/dt=2026-11-20/hour=03/part-00000.json.gz";
/// The key `load-chunk.json` names.
const LOAD_KEY: &str = "results/service-calls/scheduled-2026-11-20T04-00/edges/chunk-00000.csv";
/// Where the Athena stand-in says the edges query's result CSV is.
const ATHENA_RESULT_KEY: &str = "athena-results/exec-edges.csv";
/// Records the source stand-in serves for the extract fixture's window.
const SOURCE_RECORDS: usize = 40;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/fixtures").join(name)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap()
}

/// Kills the child when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cargo_lambda() -> Command {
    let mut command = Command::new("cargo");
    command.arg("lambda");
    command
}

/// `cargo lambda watch --only-lambda-apis` on 127.0.0.1:`port`, ready to take invocations.
fn start_emulator(port: u16) -> Killed {
    let probe = cargo_lambda().arg("--help").output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "cargo-lambda is not installed (pip install cargo-lambda): {probe:?}"
    );
    let child = cargo_lambda()
        .args(["watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", &port.to_string()])
        // An invocation no function answers fails after this long instead of hanging.
        .args(["--timeout", "120"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start cargo lambda watch");
    let emulator = Killed(child);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(60), "cargo lambda watch did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    emulator
}

/// Starts one function binary as Lambda starts a bootstrap, registered with the emulator under
/// `name`.
fn start_function(binary: &str, name: &str, port: u16, env: &[(&str, String)]) -> Killed {
    let work = std::env::temp_dir();
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt/{name}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", graphetl_storage::LOCAL_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", graphetl_storage::LOCAL_SECRET_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("GRAPHETL_WORK_DIR", &work)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    Killed(command.spawn().unwrap_or_else(|e| panic!("start {binary}: {e}")))
}

/// What one invocation answered: the response, or the Lambda error's `errorType` and message.
#[derive(Debug)]
enum Answer {
    Ok(Value),
    Failed { error_type: String, text: String },
}

/// Panics if a function process has exited: an invocation would wait for it in vain.
fn all_running(functions: &mut [Killed]) {
    for function in functions {
        if let Ok(Some(status)) = function.0.try_wait() {
            panic!("a function exited before its invocation ({status}); its stderr is above");
        }
    }
}

fn invoke(port: u16, name: &str, data: InvokeData<'_>) -> Answer {
    let mut command = cargo_lambda();
    command.args(["invoke", name, "-A", "127.0.0.1", "-P", &port.to_string(), "-o", "json"]);
    match data {
        InvokeData::File(path) => command.arg("--data-file").arg(path),
        InvokeData::Ascii(text) => command.args(["--data-ascii", text]),
    };
    let Output { status, stdout, stderr } = command.output().expect("run cargo lambda invoke");
    let out = String::from_utf8_lossy(&stdout).into_owned();
    let err = String::from_utf8_lossy(&stderr).into_owned();
    if status.success() {
        let value = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("{name}: the response is not JSON ({e}): {out}\n{err}"));
        return Answer::Ok(value);
    }
    let text = format!("{out}\n{err}");
    let error_type = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
        .find(|word| word.starts_with("GraphEtl."))
        .unwrap_or_default()
        .to_owned();
    Answer::Failed { error_type, text }
}

enum InvokeData<'a> {
    File(&'a Path),
    Ascii(&'a str),
}

fn ok(answer: Answer, what: &str) -> Value {
    match answer {
        Answer::Ok(value) => value,
        Answer::Failed { text, .. } => panic!("{what} failed: {text}"),
    }
}

fn failed_with(answer: Answer, expected: &str, what: &str) {
    match answer {
        Answer::Failed { error_type, text } => {
            assert_eq!(error_type, expected, "{what}: {text}");
        }
        Answer::Ok(value) => panic!("{what} succeeded: {value}"),
    }
}

/// Lines of the sample the source stand-in serves as one page, with no next cursor.
fn source_page() -> Value {
    let mut text = String::new();
    flate2::read::GzDecoder::new(SAMPLE).read_to_string(&mut text).unwrap();
    let records: Vec<Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .take(SOURCE_RECORDS)
        .collect();
    assert_eq!(records.len(), SOURCE_RECORDS);
    json!({"data": records, "next_cursor": null})
}

/// Athena's answers for one query whose result CSV is at `ATHENA_RESULT_KEY`.
fn athena(target: &str, _body: &Value) -> Reply {
    let columns = [
        ("caller", "varchar"),
        ("callee", "varchar"),
        ("requests", "bigint"),
        ("errors", "bigint"),
        ("error_rate", "double"),
        ("p50_ms", "double"),
        ("p95_ms", "double"),
        ("p99_ms", "double"),
        ("bytes", "bigint"),
        ("first_seen", "timestamp"),
        ("last_seen", "timestamp"),
    ];
    match target.rsplit('.').next().unwrap_or_default() {
        "StartQueryExecution" => Reply::Ok(json!({"QueryExecutionId": "exec-edges"})),
        "GetQueryExecution" => Reply::Ok(json!({"QueryExecution": {
            "QueryExecutionId": "exec-edges",
            "Status": {"State": "SUCCEEDED"},
            "ResultConfiguration": {"OutputLocation": format!("s3://{AGGREGATE_BUCKET}/{ATHENA_RESULT_KEY}")},
        }})),
        "GetQueryResults" => {
            let info: Vec<Value> = columns
                .iter()
                .map(|(name, ty)| json!({"Name": name, "Type": ty, "Label": name}))
                .collect();
            let header: Vec<Value> =
                columns.iter().map(|(name, _)| json!({"VarCharValue": name})).collect();
            Reply::Ok(json!({"ResultSet": {
                "Rows": [{"Data": header}],
                "ResultSetMetadata": {"ColumnInfo": info},
            }}))
        }
        other => Reply::Error("InvalidRequestException", format!("not scripted: {other}")),
    }
}

/// The result CSV Athena would write for the edges query: two caller → callee pairs.
const ATHENA_RESULT: &str = "\"caller\",\"callee\",\"requests\",\"errors\",\"error_rate\",\"p50_ms\",\"p95_ms\",\"p99_ms\",\"bytes\",\"first_seen\",\"last_seen\"\n\
\"checkout\",\"payments\",\"120\",\"3\",\"0.025\",\"12.5\",\"40.0\",\"80.0\",\"51200\",\"2026-11-20 03:00:01.000\",\"2026-11-20 03:59:58.000\"\n\
\"checkout\",\"inventory\",\"80\",\"0\",\"0.0\",\"8.0\",\"20.0\",\"31.5\",\"20480\",\"2026-11-20 03:00:02.000\",\"2026-11-20 03:59:59.000\"\n";

/// The Gremlin endpoint's success answer (an empty GraphSON result), as Neptune sends it.
fn gremlin(_target: &str, _body: &Value) -> Reply {
    Reply::Ok(json!({
        "requestId": "stand-in",
        "status": {"message": "", "code": 200, "attributes": {"@type": "g:Map", "@value": []}},
        "result": {"data": {"@type": "g:List", "@value": []}, "meta": {"@type": "g:Map", "@value": []}},
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_answers_its_fixture_event_through_the_runtime_api() -> TestResult {
    // The world the fixtures describe: two buckets on the real local S3, the spec (its source
    // URL pointing at the loopback source), the SQL, the raw file the transform item names.
    let root = tempfile::tempdir()?;
    let s3 = LocalS3::start(root.path()).await?;
    let store = s3.store();
    let source = AwsJsonStub::start("application/json", move |_, _| Reply::Ok(source_page()));
    let source_url =
        format!("{}/api/calls?start={{start}}&end={{end}}&cursor={{cursor}}", source.endpoint);
    let spec = SPEC.replace(
        "http://127.0.0.1:8099/api/calls?start={start}&end={end}&cursor={cursor}",
        &source_url,
    );
    assert_ne!(spec, SPEC, "the sample spec's source URL moved; update this test");
    for bucket in [BUCKET, AGGREGATE_BUCKET] {
        store.ensure_bucket(bucket).await?;
        for (key, text) in [
            ("datasets/service-calls.toml", spec.as_str()),
            ("datasets/service-calls/edges.sql", EDGES_SQL),
            ("datasets/service-calls/services.sql", SERVICES_SQL),
        ] {
            store.put_bytes(bucket, key, text.as_bytes().to_vec(), None).await?;
        }
    }
    store.put_bytes(BUCKET, RAW_KEY, SAMPLE.to_vec(), None).await?;
    store
        .put_bytes(AGGREGATE_BUCKET, ATHENA_RESULT_KEY, ATHENA_RESULT.as_bytes().to_vec(), None)
        .await?;
    let athena_stub = AwsJsonStub::start("application/x-amz-json-1.1", athena);
    let neptune = AwsJsonStub::start("application/json", gremlin);

    let port = free_port();
    let endpoint = s3.endpoint_url().to_owned();
    let (athena_url, neptune_url) = (athena_stub.endpoint.clone(), neptune.endpoint.clone());
    let outcome = tokio::task::spawn_blocking(move || {
        let emulator = start_emulator(port);
        let s3_env = ("AWS_ENDPOINT_URL_S3", endpoint);
        let mut functions = [
            start_function(
                env!("CARGO_BIN_EXE_extract"),
                "extract",
                port,
                &[s3_env.clone(), ("GRAPHETL_SOURCE_ALLOWED_HOSTS", "127.0.0.1".to_owned())],
            ),
            start_function(
                env!("CARGO_BIN_EXE_transform"),
                "transform",
                port,
                std::slice::from_ref(&s3_env),
            ),
            start_function(
                env!("CARGO_BIN_EXE_aggregate"),
                "aggregate",
                port,
                &[
                    s3_env.clone(),
                    ("AWS_ENDPOINT_URL_ATHENA", athena_url),
                    ("GRAPHETL_ATHENA_DATABASE", "graphetl".to_owned()),
                    ("GRAPHETL_ATHENA_WORKGROUP", "graphetl".to_owned()),
                    ("GRAPHETL_ATHENA_OUTPUT", format!("s3://{AGGREGATE_BUCKET}/athena-results/")),
                ],
            ),
            start_function(
                env!("CARGO_BIN_EXE_load"),
                "load",
                port,
                &[
                    s3_env,
                    ("GRAPHETL_NEPTUNE_ENDPOINT", neptune_url),
                    ("GRAPHETL_NEPTUNE_IAM_AUTH", "false".to_owned()),
                    ("GRAPHETL_NEPTUNE_WRITERS", "2".to_owned()),
                ],
            ),
        ];
        std::thread::sleep(Duration::from_millis(300));
        all_running(&mut functions);
        let extract = ok(
            invoke(port, "extract", InvokeData::File(&fixture("extract-request.json"))),
            "extract",
        );
        let transform = ok(
            invoke(port, "transform", InvokeData::File(&fixture("transform-item.json"))),
            "transform",
        );
        let aggregate = ok(
            invoke(port, "aggregate", InvokeData::File(&fixture("aggregate-query.json"))),
            "aggregate",
        );
        (emulator, functions, extract, transform, aggregate)
    })
    .await?;
    let (emulator, functions, extract, transform, aggregate) = outcome;

    // extract: one page of the source's records, written under the window's raw prefix.
    assert_eq!(extract["records"], json!(SOURCE_RECORDS), "{extract}");
    assert_eq!(extract["pages"], json!(1), "{extract}");
    let prefix = extract["prefix"].as_str().unwrap_or_default().to_owned();
    assert!(prefix.starts_with("raw/service-calls/dt=2026-11-20/"), "{extract}");
    let raw = store.list(BUCKET, &prefix).await?;
    assert_eq!(raw.len() as u64, extract["files"].as_u64().unwrap_or(0), "{raw:?}");
    assert!(!raw.is_empty());

    // transform: every row of the sample accounted for, curated Parquet published.
    let rows_in = transform["rows_in"].as_u64().unwrap_or(0);
    assert!(rows_in > 0, "{transform}");
    assert_eq!(
        rows_in,
        transform["rows_written"].as_u64().unwrap_or(0)
            + transform["rows_rejected"].as_u64().unwrap_or(0),
        "{transform}"
    );
    let curated = store.list(BUCKET, "curated/service-calls/dt=2026-11-20/").await?;
    assert_eq!(curated.len() as u64, transform["output_files"].as_u64().unwrap_or(0));
    assert!(curated.iter().all(|o| o.key.ends_with(".parquet")), "{curated:?}");

    // aggregate: Athena's two rows written as the run's chunk.
    assert_eq!(aggregate["rows"], json!(2), "{aggregate}");
    let chunk = aggregate["chunks"][0]["key"].as_str().unwrap_or_default().to_owned();
    assert!(
        chunk.starts_with("aggregates/service-calls/edges/dt_from=2026-11-20/dt_to=2026-11-20/"),
        "{aggregate}"
    );
    let started = athena_stub.requests();
    assert!(started.iter().any(|(t, b)| t.ends_with("StartQueryExecution")
        && b["QueryString"].as_str().is_some_and(|q| q.contains("2026-11-20"))));

    // load: the load fixture's chunk is the aggregate's output, upserted as two edges.
    let bytes = store.get_bytes(AGGREGATE_BUCKET, &chunk).await?;
    store.put_bytes(BUCKET, LOAD_KEY, bytes, None).await?;
    let (load, failures) = tokio::task::spawn_blocking(move || {
        let load = ok(invoke(port, "load", InvokeData::File(&fixture("load-chunk.json"))), "load");
        // Failures come back with the stable names the state machine retries and catches on.
        let missing = invoke(
            port,
            "transform",
            InvokeData::Ascii(
                r#"{"bucket":"graphetl-data-123456789012","key":"raw/service-calls/dt=2026-11-20/hour=03/absent.json.gz","dataset":"service-calls","run_id":"r"}"#,
            ),
        );
        let malformed = invoke(port, "load", InvokeData::Ascii(r#"{"bucket": 7}"#));
        drop((functions, emulator));
        (load, [missing, malformed])
    })
    .await?;
    assert_eq!(load["edges"], json!(2), "{load}");
    assert!(load["requests"].as_u64().unwrap_or(0) >= 1, "{load}");
    let gremlin_bodies: Vec<String> = neptune
        .requests()
        .into_iter()
        .filter_map(|(_, body)| body["gremlin"].as_str().map(str::to_owned))
        .collect();
    assert!(gremlin_bodies.iter().any(|g| g.contains("mergeE")), "{gremlin_bodies:?}");
    let [missing, malformed] = failures;
    failed_with(missing, "GraphEtl.NotFound", "transform of a missing object");
    failed_with(malformed, "GraphEtl.BadEvent", "load of a malformed event");
    Ok(())
}
