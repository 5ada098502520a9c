//! Athena adapter tests: a loopback stand-in for the Athena API (awsJson 1.1 over HTTP) that
//! answers scripted responses and records the requests, the SDK client pointed at it, and the
//! result CSV in the real local S3 endpoint.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_athena::Client;
use aws_sdk_athena::config::retry::RetryConfig;
use aws_sdk_athena::config::{BehaviorVersion, Credentials, Region};
use graphetl_core::contract::{ResultValue, Row};
use graphetl_core::errors::ErrorName;
use graphetl_storage::{LocalS3, ObjectStore, S3Store};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::result_csv::{Column, ColumnKind, CsvError, Field, Records, convert, read_result};
use super::{
    AthenaConfig, AthenaConfigError, AthenaEngine, Backoff, Clock, ENV_DATABASE, ENV_GLUE_DATABASE,
    ENV_OUTPUT, ENV_WORKGROUP, client_request_token, client_request_token_for,
};
use crate::engine::{QueryEngine, QueryError, QueryParams, QueryResult, QuerySpecResolved};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BUCKET: &str = "athena-results";
const RESULT_KEY: &str = "results/exec-1.csv";

// ---- the Athena stand-in ----

#[path = "../../../../testkit/aws_json_stub.rs"]
mod aws_json_stub;
use aws_json_stub::{AwsJsonStub, Reply};

/// Scripted answers per operation: each request takes the next one, the last one repeats.
#[derive(Debug, Default)]
struct Script {
    start: VecDeque<Reply>,
    get: VecDeque<Reply>,
    results: VecDeque<Reply>,
    stop: VecDeque<Reply>,
}

impl Script {
    fn next(&mut self, target: &str) -> Reply {
        let queue = match target.strip_prefix("AmazonAthena.") {
            Some("StartQueryExecution") => &mut self.start,
            Some("GetQueryExecution") => &mut self.get,
            Some("GetQueryResults") => &mut self.results,
            Some("StopQueryExecution") => &mut self.stop,
            _ => return Reply::Error("UnknownOperationException", target.to_owned()),
        };
        let reply = if queue.len() > 1 { queue.pop_front() } else { queue.front().cloned() };
        reply.unwrap_or(Reply::Ok(json!({})))
    }
}

struct Stub(AwsJsonStub);

impl Stub {
    fn start(script: Script) -> Stub {
        let script = Mutex::new(script);
        Stub(AwsJsonStub::start("application/x-amz-json-1.1", move |target, _| {
            match script.lock() {
                Ok(mut s) => s.next(target),
                Err(_) => Reply::Error("InternalServerException", "script poisoned".into()),
            }
        }))
    }

    fn requests(&self) -> Vec<(String, Value)> {
        self.0.requests()
    }

    /// The operations called, in order, without the `AmazonAthena.` prefix.
    fn operations(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|(t, _)| t.trim_start_matches("AmazonAthena.").to_owned())
            .collect()
    }

    fn bodies(&self, operation: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|(t, _)| t.strip_prefix("AmazonAthena.") == Some(operation))
            .map(|(_, b)| b)
            .collect()
    }

    fn tokens(&self) -> Vec<String> {
        self.bodies("StartQueryExecution")
            .iter()
            .map(|b| b["ClientRequestToken"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn client(&self) -> Client {
        let config = aws_sdk_athena::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.0.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            // Every scripted answer reaches the adapter: its own retries are under test.
            .retry_config(RetryConfig::disabled())
            .build();
        Client::from_conf(config)
    }
}

// ---- scripted answers ----

fn started(id: &str) -> Reply {
    Reply::Ok(json!({"QueryExecutionId": id}))
}

fn state(state: &str) -> Reply {
    Reply::Ok(json!({"QueryExecution": {
        "QueryExecutionId": "exec-1",
        "Status": {"State": state},
        "ResultConfiguration": {"OutputLocation": format!("s3://{BUCKET}/{RESULT_KEY}")},
    }}))
}

fn failed(retryable: bool, category: i32, error_type: i32, reason: &str) -> Reply {
    Reply::Ok(json!({"QueryExecution": {
        "QueryExecutionId": "exec-1",
        "Status": {
            "State": "FAILED",
            "StateChangeReason": reason,
            "AthenaError": {"ErrorCategory": category, "ErrorType": error_type, "Retryable": retryable, "ErrorMessage": reason},
        },
        "ResultConfiguration": {"OutputLocation": format!("s3://{BUCKET}/{RESULT_KEY}")},
    }}))
}

fn columns(columns: &[(&str, &str)]) -> Reply {
    let info: Vec<Value> =
        columns.iter().map(|(name, ty)| json!({"Name": name, "Type": ty, "Label": name})).collect();
    let header: Vec<Value> =
        columns.iter().map(|(name, _)| json!({"VarCharValue": name})).collect();
    Reply::Ok(json!({"ResultSet": {
        "Rows": [{"Data": header}],
        "ResultSetMetadata": {"ColumnInfo": info},
    }}))
}

fn error(kind: &'static str, message: &str) -> Reply {
    Reply::Error(kind, message.to_owned())
}

fn script(start: Vec<Reply>, get: Vec<Reply>, results: Vec<Reply>) -> Script {
    Script { start: start.into(), get: get.into(), results: results.into(), stop: VecDeque::new() }
}

// ---- the environment: stub, local S3, engine ----

struct Env {
    stub: Stub,
    _root: tempfile::TempDir,
    s3: LocalS3,
}

impl Env {
    async fn start(
        script: Script,
        result_csv: Option<&str>,
    ) -> Result<Env, Box<dyn std::error::Error>> {
        let root = tempfile::tempdir()?;
        let s3 = LocalS3::start(root.path()).await?;
        let store = s3.store();
        store.ensure_bucket(BUCKET).await?;
        if let Some(csv) = result_csv {
            store.put_bytes(BUCKET, RESULT_KEY, csv.as_bytes().to_vec(), None).await?;
        }
        Ok(Env { stub: Stub::start(script), _root: root, s3 })
    }

    fn engine(&self, config: AthenaConfig, deadline: Option<Instant>) -> AthenaEngine<S3Store> {
        AthenaEngine::new(self.stub.client(), self.s3.store(), config, deadline)
    }
}

fn tiny(initial_ms: u64, cap_ms: u64) -> Backoff {
    Backoff {
        initial: Duration::from_millis(initial_ms),
        multiplier: 2,
        cap: Duration::from_millis(cap_ms),
    }
}

/// Test settings: millisecond backoffs so the tests are fast.
fn config() -> AthenaConfig {
    let mut config = AthenaConfig::new("curated");
    config.workgroup = "graphetl".into();
    config.poll = tiny(1, 4);
    config.throttle = tiny(1, 4);
    config
}

fn query(run_id: &str, name: &str) -> QuerySpecResolved {
    QuerySpecResolved {
        name: name.into(),
        sql: "SELECT 1".into(),
        params: QueryParams {
            table: "service_calls".into(),
            dt_from: "2025-06-01".into(),
            dt_to: "2025-06-02".into(),
            run_id: run_id.into(),
        },
    }
}

fn row(values: &[(&str, ResultValue)]) -> Row {
    values.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn s(text: &str) -> ResultValue {
    ResultValue::String(text.into())
}

fn ts(text: &str) -> ResultValue {
    ResultValue::Timestamp(text.into())
}

const ONE_COLUMN_CSV: &str = "\"n\"\n\"1\"\n";

fn one_column() -> Reply {
    columns(&[("n", "integer")])
}

fn one_row() -> QueryResult {
    QueryResult { columns: vec!["n".into()], rows: vec![row(&[("n", ResultValue::Int(1))])] }
}

// ---- the flow ----

#[tokio::test]
async fn queued_running_succeeded_gives_typed_rows_with_null_apart_from_empty() -> TestResult {
    let csv = concat!(
        "\"name\",\"calls\",\"rate\",\"ok\",\"day\",\"at\",\"amount\",\"tags\"\n",
        "\"a, \"\"quoted\"\"\nline\",\"3\",\"0.5\",\"true\",\"2025-06-01\",\"2025-06-01 10:00:00.000\",\"12.50\",\"[x, y]\"\n",
        "\"\",,,,,,,\n",
        ",\"-7\",\"-Infinity\",\"false\",\"2025-06-02\",\"2025-06-02 00:00:00.000\",\"1E+2\",\"\"\n",
    );
    let env = Env::start(
        script(
            vec![started("exec-1")],
            vec![state("QUEUED"), state("RUNNING"), state("RUNNING"), state("SUCCEEDED")],
            vec![columns(&[
                ("name", "varchar"),
                ("calls", "bigint"),
                ("rate", "double"),
                ("ok", "boolean"),
                ("day", "date"),
                ("at", "timestamp"),
                ("amount", "decimal"),
                ("tags", "array"),
            ])],
        ),
        Some(csv),
    )
    .await?;
    let mut config = config();
    config.output_location = Some(format!("s3://{BUCKET}/results/"));
    let result = env.engine(config, None).run(&query("run-1", "calls")).await?;

    assert_eq!(result.columns, ["name", "calls", "rate", "ok", "day", "at", "amount", "tags"]);
    assert_eq!(result.rows.len(), 3);
    assert_eq!(
        result.rows[0],
        row(&[
            ("name", s("a, \"quoted\"\nline")),
            ("calls", ResultValue::Int(3)),
            ("rate", ResultValue::Float(0.5)),
            ("ok", ResultValue::Bool(true)),
            ("day", ts("2025-06-01")),
            ("at", ts("2025-06-01 10:00:00.000")),
            ("amount", ResultValue::Float(12.5)),
            ("tags", s("[x, y]")),
        ])
    );
    // `""` is the empty string, an unquoted empty field is NULL.
    let mut nulls = row(&[("name", s(""))]);
    for c in ["calls", "rate", "ok", "day", "at", "amount", "tags"] {
        nulls.insert(c.into(), ResultValue::Null);
    }
    assert_eq!(result.rows[1], nulls);
    assert_eq!(
        result.rows[2],
        row(&[
            ("name", ResultValue::Null),
            ("calls", ResultValue::Int(-7)),
            ("rate", ResultValue::Float(f64::NEG_INFINITY)),
            ("ok", ResultValue::Bool(false)),
            ("day", ts("2025-06-02")),
            ("at", ts("2025-06-02 00:00:00.000")),
            ("amount", ResultValue::Float(100.0)),
            ("tags", s("")),
        ])
    );

    assert_eq!(
        env.stub.operations(),
        [
            "StartQueryExecution",
            "GetQueryExecution",
            "GetQueryExecution",
            "GetQueryExecution",
            "GetQueryExecution",
            "GetQueryResults",
        ]
    );
    let start = &env.stub.bodies("StartQueryExecution")[0];
    assert_eq!(start["QueryString"], "SELECT 1");
    assert_eq!(start["WorkGroup"], "graphetl");
    assert_eq!(start["QueryExecutionContext"]["Database"], "curated");
    assert_eq!(start["ResultConfiguration"]["OutputLocation"], "s3://athena-results/results/");
    assert_eq!(start["ClientRequestToken"], client_request_token("run-1", "calls"));
    let results = &env.stub.bodies("GetQueryResults")[0];
    assert_eq!(
        (&results["QueryExecutionId"], &results["MaxResults"]),
        (&json!("exec-1"), &json!(1))
    );
    for poll in env.stub.bodies("GetQueryExecution") {
        assert_eq!(poll["QueryExecutionId"], "exec-1");
    }
    Ok(())
}

#[tokio::test]
async fn without_an_output_location_the_workgroups_is_used() -> TestResult {
    let env = Env::start(
        script(vec![started("exec-1")], vec![state("SUCCEEDED")], vec![one_column()]),
        Some(ONE_COLUMN_CSV),
    )
    .await?;
    let result = env.engine(config(), None).run(&query("run-1", "q")).await?;
    assert_eq!(result, one_row());
    let start = &env.stub.bodies("StartQueryExecution")[0];
    assert_eq!(start.get("ResultConfiguration"), None, "{start}");
    Ok(())
}

#[tokio::test]
async fn an_empty_result_has_its_columns_and_no_rows() -> TestResult {
    let env = Env::start(
        script(
            vec![started("exec-1")],
            vec![state("SUCCEEDED")],
            vec![columns(&[("a", "varchar"), ("b", "bigint")])],
        ),
        Some("\"a\",\"b\"\n"),
    )
    .await?;
    let result = env.engine(config(), None).run(&query("run-1", "q")).await?;
    assert_eq!(result, QueryResult { columns: vec!["a".into(), "b".into()], rows: vec![] });
    Ok(())
}

#[tokio::test]
async fn a_throttled_start_is_retried_with_the_same_token() -> TestResult {
    let env = Env::start(
        script(
            vec![
                error("TooManyRequestsException", "You have exceeded the limit for the number of queries you can run concurrently"),
                error("TooManyRequestsException", "You have exceeded the limit for the number of queries you can run concurrently"),
                started("exec-1"),
            ],
            vec![state("RUNNING"), state("SUCCEEDED")],
            vec![one_column()],
        ),
        Some(ONE_COLUMN_CSV),
    )
    .await?;
    let result = env.engine(config(), None).run(&query("run-1", "q")).await?;
    assert_eq!(result, one_row());
    let tokens = env.stub.tokens();
    assert_eq!(tokens.len(), 3);
    assert!(tokens.iter().all(|t| *t == client_request_token("run-1", "q")), "{tokens:?}");
    Ok(())
}

#[tokio::test]
async fn a_start_throttled_past_the_attempts_is_throttled() -> TestResult {
    let env = Env::start(
        script(vec![error("ThrottlingException", "Rate exceeded")], vec![], vec![]),
        None,
    )
    .await?;
    let mut config = config();
    config.start_attempts = 3;
    let err = env.engine(config, None).run(&query("run-1", "q")).await.err();
    let Some(err @ QueryError::Throttled { .. }) = err else { panic!("{err:?}") };
    assert!(err.to_string().contains("Rate exceeded"), "{err}");
    assert_eq!(err.error_name(), ErrorName::AthenaThrottled);
    assert_eq!(env.stub.operations(), ["StartQueryExecution"; 3]);
    Ok(())
}

#[tokio::test]
async fn throttled_polls_back_off_and_continue() -> TestResult {
    let env = Env::start(
        script(
            vec![started("exec-1")],
            vec![
                state("RUNNING"),
                error("ThrottlingException", "Rate exceeded"),
                error("ThrottlingException", "Rate exceeded"),
                state("SUCCEEDED"),
            ],
            vec![one_column()],
        ),
        Some(ONE_COLUMN_CSV),
    )
    .await?;
    let result = env.engine(config(), None).run(&query("run-1", "q")).await?;
    assert_eq!(result, one_row());
    assert_eq!(env.stub.bodies("GetQueryExecution").len(), 4);
    Ok(())
}

#[tokio::test]
async fn polls_throttled_past_the_attempts_leave_the_query_running() -> TestResult {
    let env = Env::start(
        script(
            vec![started("exec-1")],
            vec![state("RUNNING"), error("ThrottlingException", "Rate exceeded")],
            vec![],
        ),
        None,
    )
    .await?;
    let mut config = config();
    config.poll_throttle_attempts = 3;
    let err = env.engine(config, None).run(&query("run-1", "q")).await.err();
    assert!(matches!(err, Some(QueryError::Throttled { .. })), "{err:?}");
    assert_eq!(env.stub.bodies("GetQueryExecution").len(), 4);
    assert!(env.stub.bodies("StopQueryExecution").is_empty());
    Ok(())
}

#[tokio::test]
async fn failed_and_retryable_is_transient_with_athenas_reason() -> TestResult {
    let env = Env::start(
        script(
            vec![started("exec-1")],
            vec![state("RUNNING"), failed(true, 1, 100, "INTERNAL_ERROR: worker lost")],
            vec![],
        ),
        None,
    )
    .await?;
    let err = env.engine(config(), None).run(&query("run-1", "q")).await.err();
    let Some(err @ QueryError::Transient { .. }) = err else { panic!("{err:?}") };
    assert!(err.to_string().contains("INTERNAL_ERROR: worker lost"), "{err}");
    assert_eq!(err.error_name(), ErrorName::AthenaTransient);
    Ok(())
}

#[tokio::test]
async fn failed_by_the_user_is_invalid_and_otherwise_failed() -> TestResult {
    let syntax = "line 1:8: mismatched input 'FROM'";
    let env = Env::start(
        script(
            vec![started("exec-1")],
            vec![state("RUNNING"), failed(false, 2, 1006, syntax)],
            vec![],
        ),
        None,
    )
    .await?;
    let err = env.engine(config(), None).run(&query("run-1", "q")).await.err();
    let Some(err @ QueryError::Invalid { .. }) = err else { panic!("{err:?}") };
    assert!(err.to_string().contains(syntax), "{err}");
    assert_eq!(err.error_name(), ErrorName::BadSpec);

    let exhausted = "Query exhausted resources at this scale factor";
    let env = Env::start(
        script(
            vec![started("exec-1")],
            vec![state("RUNNING"), failed(false, 1, 2, exhausted)],
            vec![],
        ),
        None,
    )
    .await?;
    let err = env.engine(config(), None).run(&query("run-1", "q")).await.err();
    let Some(err @ QueryError::Failed { .. }) = err else { panic!("{err:?}") };
    assert!(err.to_string().contains(exhausted), "{err}");
    Ok(())
}

#[tokio::test]
async fn an_invalid_request_at_start_is_invalid() -> TestResult {
    let env = Env::start(
        script(
            vec![error("InvalidRequestException", "line 1:1: mismatched input 'SELEC'")],
            vec![],
            vec![],
        ),
        None,
    )
    .await?;
    let err = env.engine(config(), None).run(&query("run-1", "q")).await.err();
    let Some(err @ QueryError::Invalid { .. }) = err else { panic!("{err:?}") };
    assert!(err.to_string().contains("mismatched input 'SELEC'"), "{err}");
    assert_eq!(env.stub.operations(), ["StartQueryExecution"]);
    Ok(())
}

#[tokio::test]
async fn near_the_deadline_the_running_query_is_stopped() -> TestResult {
    let env =
        Env::start(script(vec![started("exec-1")], vec![state("RUNNING")], vec![]), None).await?;
    let mut config = config();
    config.stop_margin = Duration::from_secs(60);
    config.poll = tiny(50, 100);
    // The stop point comes 300 ms after the start on the manual clock; the query never finishes.
    let clock = Arc::new(ManualClock::new());
    let deadline = clock.now() + config.stop_margin + Duration::from_millis(300);
    let engine = env.engine(config, Some(deadline)).with_clock(clock.clone());
    let err = engine.run(&query("run-1", "q")).await.err();
    let Some(err @ QueryError::Transient { .. }) = err else { panic!("{err:?}") };
    // The waits between polls add up to exactly the time left: the last one is cut at the stop
    // point, and no query runs past it.
    assert_eq!(clock.elapsed(), Duration::from_millis(300), "{:?}", clock.sleeps());
    assert!(clock.sleeps().len() >= 3, "polled until the stop point: {:?}", clock.sleeps());
    assert!(err.to_string().contains("stopped near the Lambda deadline"), "{err}");
    let stops = env.stub.bodies("StopQueryExecution");
    assert_eq!(stops, [json!({"QueryExecutionId": "exec-1"})]);
    assert_eq!(env.stub.operations().last().map(String::as_str), Some("StopQueryExecution"));
    Ok(())
}

/// A clock that moves only when the engine sleeps: each sleep advances it by the delay at once.
#[derive(Debug)]
struct ManualClock {
    origin: Instant,
    sleeps: Mutex<Vec<Duration>>,
}

impl ManualClock {
    fn new() -> ManualClock {
        ManualClock { origin: Instant::now(), sleeps: Mutex::default() }
    }

    fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn elapsed(&self) -> Duration {
        self.sleeps().iter().sum()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + self.elapsed()
    }

    fn sleep(&self, delay: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        if let Ok(mut sleeps) = self.sleeps.lock() {
            sleeps.push(delay);
        }
        Box::pin(tokio::task::yield_now())
    }
}

#[tokio::test]
async fn past_the_stop_point_no_query_starts() -> TestResult {
    let env =
        Env::start(script(vec![started("exec-1")], vec![state("RUNNING")], vec![]), None).await?;
    let err = env.engine(config(), Some(Instant::now())).run(&query("run-1", "q")).await.err();
    assert!(matches!(err, Some(QueryError::Transient { .. })), "{err:?}");
    assert!(env.stub.operations().is_empty(), "{:?}", env.stub.operations());
    Ok(())
}

#[tokio::test]
async fn runs_with_the_same_run_id_and_name_send_the_same_token() -> TestResult {
    let env = Env::start(
        script(vec![started("exec-1")], vec![state("SUCCEEDED")], vec![one_column()]),
        Some(ONE_COLUMN_CSV),
    )
    .await?;
    let engine = env.engine(config(), None);
    engine.run(&query("run-1", "calls")).await?;
    engine.run(&query("run-1", "calls")).await?;
    engine.run(&query("run-2", "calls")).await?;
    engine.run(&query("run-1", "other")).await?;
    let tokens = env.stub.tokens();
    assert_eq!(tokens.len(), 4);
    assert_eq!(tokens[0], tokens[1]);
    assert_ne!(tokens[0], tokens[2]);
    assert_ne!(tokens[0], tokens[3]);
    assert_ne!(tokens[2], tokens[3]);
    let expected: String =
        Sha256::digest(b"graphetl/run-1/calls").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(tokens[0], expected);
    assert!(tokens.iter().all(|t| t.len() == 64), "{tokens:?}");
    Ok(())
}

#[tokio::test]
async fn a_token_whose_execution_ended_retryably_moves_to_the_next_generation() -> TestResult {
    // The first start returns the execution an earlier invocation left CANCELLED (stopped near
    // its deadline); the next generation's token starts a fresh one.
    let env = Env::start(
        script(
            vec![started("exec-0"), started("exec-1")],
            vec![state("CANCELLED"), state("SUCCEEDED")],
            vec![one_column()],
        ),
        Some(ONE_COLUMN_CSV),
    )
    .await?;
    let result = env.engine(config(), None).run(&query("run-1", "q")).await?;
    assert_eq!(result, one_row());
    assert_eq!(
        env.stub.tokens(),
        [client_request_token_for("run-1", "q", 0), client_request_token_for("run-1", "q", 1)]
    );
    Ok(())
}

#[tokio::test]
async fn a_token_used_with_other_sql_moves_to_the_next_generation() -> TestResult {
    let env = Env::start(
        script(
            vec![
                error("InvalidRequestException", "Idempotent parameters do not match"),
                started("exec-1"),
            ],
            vec![state("SUCCEEDED")],
            vec![one_column()],
        ),
        Some(ONE_COLUMN_CSV),
    )
    .await?;
    let result = env.engine(config(), None).run(&query("run-1", "q")).await?;
    assert_eq!(result, one_row());
    assert_eq!(
        env.stub.tokens(),
        [client_request_token_for("run-1", "q", 0), client_request_token_for("run-1", "q", 1)]
    );
    Ok(())
}

#[tokio::test]
async fn generations_are_bounded() -> TestResult {
    let env =
        Env::start(script(vec![started("exec-0")], vec![state("CANCELLED")], vec![]), None).await?;
    let err = env.engine(config(), None).run(&query("run-1", "q")).await.err();
    assert!(matches!(err, Some(QueryError::Failed { .. })), "{err:?}");
    let tokens = env.stub.tokens();
    assert_eq!(tokens.len(), super::MAX_TOKEN_GENERATIONS as usize);
    let mut unique = tokens.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), tokens.len());
    Ok(())
}

#[tokio::test]
async fn a_bad_cell_is_a_clear_failure() -> TestResult {
    let env = Env::start(
        script(
            vec![started("exec-1")],
            vec![state("SUCCEEDED")],
            vec![columns(&[("n", "bigint")])],
        ),
        Some("\"n\"\n\"1\"\n\"x1\"\n"),
    )
    .await?;
    let err = env.engine(config(), None).run(&query("run-1", "q")).await.err();
    let Some(err @ QueryError::Failed { .. }) = err else { panic!("{err:?}") };
    let text = err.to_string();
    assert!(text.contains("line 3") && text.contains("column n (bigint)"), "{text}");
    assert!(text.contains("\"x1\" is not an integer"), "{text}");
    Ok(())
}

#[tokio::test]
async fn a_missing_result_file_is_a_failure() -> TestResult {
    let env = Env::start(
        script(vec![started("exec-1")], vec![state("SUCCEEDED")], vec![one_column()]),
        None,
    )
    .await?;
    let err = env.engine(config(), None).run(&query("run-1", "q")).await.err();
    let Some(err @ QueryError::Failed { .. }) = err else { panic!("{err:?}") };
    assert!(err.to_string().contains(&format!("s3://{BUCKET}/{RESULT_KEY}")), "{err}");
    Ok(())
}

#[tokio::test]
async fn duplicate_column_names_are_rejected() -> TestResult {
    let env = Env::start(
        script(
            vec![started("exec-1")],
            vec![state("SUCCEEDED")],
            vec![columns(&[("n", "bigint"), ("n", "bigint")])],
        ),
        Some("\"n\",\"n\"\n\"1\",\"2\"\n"),
    )
    .await?;
    let err = env.engine(config(), None).run(&query("run-1", "q")).await.err();
    assert!(matches!(err, Some(QueryError::Invalid { .. })), "{err:?}");
    Ok(())
}

// ---- tokens, config, backoff ----

#[test]
fn tokens_are_deterministic_hex_within_athenas_length() {
    let token = client_request_token("run-1", "calls");
    assert_eq!(token, client_request_token("run-1", "calls"));
    assert_eq!(token, client_request_token_for("run-1", "calls", 0));
    assert_ne!(token, client_request_token_for("run-1", "calls", 1));
    assert_ne!(token, client_request_token("run-2", "calls"));
    assert!((32..=128).contains(&token.len()));
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{token}");
}

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: Vec<(String, String)> =
        vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

#[test]
fn config_from_the_environment() {
    let config = AthenaConfig::from_lookup(lookup(&[(ENV_DATABASE, "curated")]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config, AthenaConfig::new("curated"));
    assert_eq!(config.workgroup, "primary");
    assert_eq!(config.output_location, None);
    assert_eq!(config.poll.ceiling(0), Duration::from_millis(250));
    assert_eq!(config.poll.ceiling(10), Duration::from_secs(5));

    let config = AthenaConfig::from_lookup(lookup(&[
        (ENV_DATABASE, "curated"),
        (ENV_WORKGROUP, "graphetl"),
        (ENV_OUTPUT, "s3://results/athena/"),
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.workgroup, "graphetl");
    assert_eq!(config.output_location.as_deref(), Some("s3://results/athena/"));

    // The template's name for the database, when the Athena one is not set.
    let config = AthenaConfig::from_lookup(lookup(&[(ENV_GLUE_DATABASE, "glue_db")]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.database, "glue_db");
    let config = AthenaConfig::from_lookup(lookup(&[
        (ENV_GLUE_DATABASE, "glue_db"),
        (ENV_DATABASE, "athena_db"),
    ]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.database, "athena_db");

    // Empty values count as unset.
    let config =
        AthenaConfig::from_lookup(lookup(&[(ENV_DATABASE, "curated"), (ENV_WORKGROUP, "")]))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.workgroup, "primary");

    let err = AthenaConfig::from_lookup(lookup(&[(ENV_DATABASE, " ")])).err();
    assert_eq!(err, Some(AthenaConfigError::MissingDatabase));
    assert!(AthenaConfigError::MissingDatabase.to_string().contains(ENV_DATABASE));

    for bad in ["results/athena", "s3:///x", "https://results/x"] {
        let err =
            AthenaConfig::from_lookup(lookup(&[(ENV_DATABASE, "d"), (ENV_OUTPUT, bad)])).err();
        let Some(err @ AthenaConfigError::BadOutput { .. }) = err else { panic!("{bad}: {err:?}") };
        assert!(err.to_string().contains(ENV_OUTPUT), "{err}");
    }
}

#[test]
fn backoff_is_capped_exponential_with_full_jitter() {
    let poll = AthenaConfig::new("d").poll;
    let ceilings: Vec<u64> = (0..8).map(|n| poll.ceiling(n).as_millis() as u64).collect();
    assert_eq!(ceilings, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    assert_eq!(poll.ceiling(u32::MAX), Duration::from_secs(5));
    for attempt in 0..8 {
        for _ in 0..200 {
            assert!(poll.delay(attempt) <= poll.ceiling(attempt));
        }
    }
    // Full jitter: waits spread over the whole range, not just near the ceiling.
    let short = (0..200).filter(|_| poll.delay(4) < poll.ceiling(4) / 2).count();
    assert!(short > 0 && short < 200, "{short}");
}

// ---- the result CSV ----

fn records(text: &str) -> Result<Vec<Vec<(String, bool)>>, CsvError> {
    let mut records = Records::new(text.as_bytes());
    let mut out = Vec::new();
    while let Some((_, fields)) = records.next_record()? {
        out.push(fields.into_iter().map(|f| (f.text, f.quoted)).collect());
    }
    Ok(out)
}

fn f(text: &str, quoted: bool) -> (String, bool) {
    (text.to_owned(), quoted)
}

#[test]
fn records_keep_quoting_and_rfc4180_escapes() {
    let out =
        records("\"a\",,\"\"\r\n\"x,\"\"y\"\"\nz\",\"2\"\n\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out,
        [
            vec![f("a", true), f("", false), f("", true)],
            vec![f("x,\"y\"\nz", true), f("2", true)],
            // An empty line: one NULL field (a one-column row holding NULL).
            vec![f("", false)],
        ]
    );
    // No trailing newline, unquoted values.
    assert_eq!(
        records("1,b").unwrap_or_else(|e| panic!("{e}")),
        [vec![f("1", false), f("b", false)]]
    );
    assert!(records("").unwrap_or_else(|e| panic!("{e}")).is_empty());
}

#[test]
fn malformed_records_are_errors_with_their_line() {
    let cases: [(&[u8], usize, &str); 4] = [
        (b"\"a\"\n\"b", 2, "unclosed quote"),
        (b"\"a\"x\n", 1, "unexpected 'x'"),
        (b"\"a\"\nb\"c\n", 2, "quote inside an unquoted field"),
        (b"\"ok\"\n\"a\nb\"\n\"\xff\"\n", 4, "not UTF-8"),
    ];
    for (bytes, line, needle) in cases {
        let mut records = Records::new(bytes);
        let err = loop {
            match records.next_record() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("{needle}: no error"),
                Err(e) => break e,
            }
        };
        let CsvError::Malformed { line: got, message } = &err else { panic!("{err}") };
        assert_eq!(*got, line, "{err}");
        assert!(message.contains(needle), "{err}");
    }
}

#[test]
fn column_kinds_follow_athena_types() {
    for (ty, kind) in [
        ("varchar", ColumnKind::Text),
        ("char", ColumnKind::Text),
        ("bigint", ColumnKind::Int),
        ("integer", ColumnKind::Int),
        ("smallint", ColumnKind::Int),
        ("tinyint", ColumnKind::Int),
        ("double", ColumnKind::Float),
        ("real", ColumnKind::Float),
        ("float", ColumnKind::Float),
        ("decimal", ColumnKind::Float),
        ("decimal(10,2)", ColumnKind::Float),
        ("boolean", ColumnKind::Bool),
        ("timestamp", ColumnKind::Timestamp),
        ("timestamp with time zone", ColumnKind::Timestamp),
        ("date", ColumnKind::Timestamp),
        ("time", ColumnKind::Text),
        ("array", ColumnKind::Text),
        ("row", ColumnKind::Text),
        ("varbinary", ColumnKind::Text),
        ("BIGINT", ColumnKind::Int),
    ] {
        assert_eq!(ColumnKind::of(ty), kind, "{ty}");
    }
}

#[test]
fn cells_convert_by_kind_and_bad_cells_are_errors() {
    let quoted = |t: &str| Field { text: t.into(), quoted: true };
    let null = Field { text: String::new(), quoted: false };
    for kind in [ColumnKind::Text, ColumnKind::Int, ColumnKind::Float, ColumnKind::Bool] {
        assert_eq!(convert(kind, &null), Ok(ResultValue::Null));
    }
    assert_eq!(convert(ColumnKind::Text, &quoted("")), Ok(s("")));
    assert_eq!(
        convert(ColumnKind::Int, &quoted("9223372036854775807")),
        Ok(ResultValue::Int(i64::MAX))
    );
    assert_eq!(convert(ColumnKind::Float, &quoted("1.0E10")), Ok(ResultValue::Float(1e10)));
    assert_eq!(
        convert(ColumnKind::Float, &quoted("Infinity")),
        Ok(ResultValue::Float(f64::INFINITY))
    );
    assert!(
        matches!(convert(ColumnKind::Float, &quoted("NaN")), Ok(ResultValue::Float(x)) if x.is_nan())
    );
    assert_eq!(convert(ColumnKind::Bool, &quoted("true")), Ok(ResultValue::Bool(true)));
    for (kind, text) in [
        (ColumnKind::Int, ""),
        (ColumnKind::Int, "1.5"),
        (ColumnKind::Int, "9223372036854775808"),
        (ColumnKind::Float, "abc"),
        (ColumnKind::Bool, "yes"),
        (ColumnKind::Bool, ""),
    ] {
        assert!(convert(kind, &quoted(text)).is_err(), "{kind:?} {text:?}");
    }
}

#[test]
fn a_result_whose_rows_do_not_match_the_columns_is_an_error() {
    let columns = [
        Column { name: "a".into(), athena_type: "varchar".into(), kind: ColumnKind::Text },
        Column { name: "b".into(), athena_type: "bigint".into(), kind: ColumnKind::Int },
    ];
    let ok = read_result("\"a\",\"b\"\n\"x\",\"1\"\n".as_bytes(), &columns)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.rows, [row(&[("a", s("x")), ("b", ResultValue::Int(1))])]);
    for (text, needle) in [
        ("", "no header"),
        ("\"a\"\n", "header has 1 fields"),
        ("\"a\",\"b\"\n\"x\"\n", "1 fields"),
        ("\"a\",\"b\"\n\"x\",\"1\",\"2\"\n", "3 fields"),
    ] {
        let err = read_result(text.as_bytes(), &columns).err();
        assert!(err.as_ref().is_some_and(|e| e.to_string().contains(needle)), "{text:?}: {err:?}");
    }
}
