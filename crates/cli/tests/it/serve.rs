//! `graphetl serve` driven by the real clients: the aws CLI (PyPI `awscli`), boto3 and the Rust
//! aws-sdk-sfn, against the built binary on a free port. A Pass/Choice/inline-Map machine and a
//! failing one run to SUCCEEDED/FAILED with their histories; a Distributed Map over objects on
//! the embedded S3 endpoint reports its Map Run and child counts.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

/// A running `graphetl serve`; killed when dropped.
struct Server {
    child: Child,
    states: String,
    s3: String,
    /// Held open: the server prints to it.
    _stdout: std::io::Lines<BufReader<ChildStdout>>,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphetl"))
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data.path())
        .current_dir(super::repo())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start graphetl serve: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut lines = BufReader::new(stdout).lines();
    let field = |lines: &mut std::io::Lines<BufReader<ChildStdout>>, prefix: &str| -> String {
        let line = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("graphetl serve ended before printing {prefix}"));
        let rest = line.strip_prefix(prefix).unwrap_or_else(|| panic!("unexpected line {line}"));
        rest.split_whitespace().next().unwrap_or_default().to_owned()
    };
    let states = field(&mut lines, "states endpoint ");
    let s3 = field(&mut lines, "s3 endpoint ");
    Server { child, states, s3, _stdout: lines, _data: data }
}

const MISSING: &str = "the serve tests drive graphetl serve with the real aws CLI and boto3: run `pip install awscli boto3`";

/// Runs `aws stepfunctions …` against the server; Ok(JSON) or Err(stderr).
fn aws(server: &Server, args: &[&str]) -> Result<Value, String> {
    let output = Command::new("aws")
        .args(["stepfunctions", "--endpoint-url", &server.states, "--region", "us-east-1"])
        .args(["--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|e| panic!("{MISSING} ({e})"));
    if !output.status.success() {
        return Err(super::text(&output.stderr));
    }
    let text = super::text(&output.stdout);
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))
}

fn ok(server: &Server, args: &[&str]) -> Value {
    aws(server, args).unwrap_or_else(|e| panic!("aws {args:?} failed: {e}"))
}

fn create(server: &Server, name: &str, definition: &Value) -> String {
    let created = ok(
        server,
        &[
            "create-state-machine",
            "--name",
            name,
            "--role-arn",
            "arn:aws:iam::123456789012:role/local",
            "--definition",
            &definition.to_string(),
        ],
    );
    created["stateMachineArn"].as_str().unwrap_or_default().to_owned()
}

/// Polls describe-execution until the execution is no longer RUNNING (bounded by a count of
/// polls, not by time: the assertion is on the final status only).
fn finish(server: &Server, arn: &str) -> Value {
    for _ in 0..600 {
        let described = ok(server, &["describe-execution", "--execution-arn", arn]);
        if described["status"] != "RUNNING" {
            return described;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{arn} never finished");
}

fn kinds(history: &Value) -> Vec<String> {
    let events = history["events"].as_array().cloned().unwrap_or_default();
    events.iter().map(|e| e["type"].as_str().unwrap_or_default().to_owned()).collect()
}

#[test]
fn the_aws_cli_creates_runs_and_inspects_executions() {
    let server = start();
    let definition = json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.n", "items": [1, 2]}, "Next": "Big"},
        "Big": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Each"}], "Default": "Small"},
        "Small": {"Type": "Pass", "Result": "small", "End": true},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ItemProcessor": {"StartAt": "Double", "States": {
            "Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "End": true}}}, "End": true}
    }});
    let machine = create(&server, "flow", &definition);
    assert_eq!(machine, "arn:aws:states:us-east-1:123456789012:stateMachine:flow");
    let listed = ok(&server, &["list-state-machines"]);
    assert_eq!(listed["stateMachines"][0]["name"], "flow");
    let described = ok(&server, &["describe-state-machine", "--state-machine-arn", &machine]);
    assert_eq!(
        (described["status"].clone(), described["type"].clone()),
        (json!("ACTIVE"), json!("STANDARD"))
    );

    let bad = aws(
        &server,
        &[
            "create-state-machine",
            "--name",
            "bad",
            "--role-arn",
            "arn:aws:iam::1:role/r",
            "--definition",
            r#"{"StartAt": "Nope", "States": {"X": {"Type": "Pass", "End": true}}}"#,
        ],
    );
    let bad = bad.err().unwrap_or_default();
    assert!(bad.contains("InvalidDefinition") && bad.contains("Nope"), "{bad}");

    let started = ok(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--name",
            "big",
            "--input",
            r#"{"n": 7}"#,
        ],
    );
    let arn = started["executionArn"].as_str().unwrap_or_default().to_owned();
    assert_eq!(arn, "arn:aws:states:us-east-1:123456789012:execution:flow:big");
    let done = finish(&server, &arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let output: Value =
        serde_json::from_str(done["output"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(output, json!([{"v": 2}, {"v": 4}]));
    assert_eq!(done["redriveCount"], 0);
    assert!(done["stopDate"].as_f64() >= done["startDate"].as_f64(), "{done}");

    let again = aws(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--name",
            "big",
            "--input",
            r#"{"n": 1}"#,
        ],
    );
    assert!(again.err().unwrap_or_default().contains("ExecutionAlreadyExists"));
    let small = ok(
        &server,
        &["start-execution", "--state-machine-arn", &machine, "--input", r#"{"n": 1}"#],
    );
    let small_arn = small["executionArn"].as_str().unwrap_or_default().to_owned();
    assert_eq!(finish(&server, &small_arn)["output"], "\"small\"");

    let history = ok(&server, &["get-execution-history", "--execution-arn", &arn]);
    let expected = [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ];
    assert_eq!(kinds(&history), expected);
    let events = history["events"].as_array().cloned().unwrap_or_default();
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["id"], json!(i + 1), "{event}");
        assert!(event["timestamp"].is_string() || event["timestamp"].is_number(), "{event}");
    }
    assert_eq!(events[1]["previousEventId"], 1);
    // The CLI follows nextToken through pages of two; reverse order reverses.
    let paged =
        ok(&server, &["get-execution-history", "--execution-arn", &arn, "--page-size", "2"]);
    assert_eq!(kinds(&paged), expected);
    let reversed = ok(
        &server,
        &["get-execution-history", "--execution-arn", &arn, "--reverse-order", "--max-items", "3"],
    );
    assert_eq!(kinds(&reversed), ["ExecutionSucceeded", "MapStateExited", "MapStateSucceeded"]);

    let failing = create(
        &server,
        "failing",
        &json!({"StartAt": "Boom", "States": {
        "Boom": {"Type": "Fail", "Error": "Local.Broken", "Cause": "it broke"}}}),
    );
    let started =
        ok(&server, &["start-execution", "--state-machine-arn", &failing, "--name", "f1"]);
    let failed_arn = started["executionArn"].as_str().unwrap_or_default().to_owned();
    let failed = finish(&server, &failed_arn);
    assert_eq!(
        (failed["status"].clone(), failed["error"].clone(), failed["cause"].clone()),
        (json!("FAILED"), json!("Local.Broken"), json!("it broke"))
    );
    assert_eq!(failed["redriveStatus"], "REDRIVABLE");
    let history = ok(&server, &["get-execution-history", "--execution-arn", &failed_arn]);
    assert_eq!(kinds(&history), ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]);
    assert_eq!(history["events"][2]["executionFailedEventDetails"]["error"], "Local.Broken");

    let listed = ok(&server, &["list-executions", "--state-machine-arn", &machine]);
    let names: Vec<&str> = listed["executions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2);
    assert_eq!(names[1], "big", "newest first");
    let none = ok(
        &server,
        &["list-executions", "--state-machine-arn", &machine, "--status-filter", "FAILED"],
    );
    assert_eq!(none["executions"], json!([]));
    let missing = aws(
        &server,
        &[
            "describe-execution",
            "--execution-arn",
            "arn:aws:states:us-east-1:123456789012:execution:flow:nope",
        ],
    );
    assert!(missing.err().unwrap_or_default().contains("ExecutionDoesNotExist"));
    ok(&server, &["delete-state-machine", "--state-machine-arn", &failing]);
    assert_eq!(
        ok(&server, &["list-state-machines"])["stateMachines"].as_array().map(Vec::len),
        Some(1)
    );
}

/// boto3 puts objects on the embedded S3 endpoint, runs a Distributed Map over them (one item
/// fails) and reads the Map Run and its children back.
const BOTO3_SCRIPT: &str = r#"
import json, sys, time, boto3
states_url, s3_url = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1",
                  aws_access_key_id="graphetl-local", aws_secret_access_key="graphetl-local-secret")
for i in range(5):
    s3.put_object(Bucket="graphetl-local", Key=f"items/part-{i}.json", Body=b"{}")
sfn = boto3.client("stepfunctions", endpoint_url=states_url, region_name="us-east-1",
                   aws_access_key_id="x", aws_secret_access_key="y")
definition = {"StartAt": "Each", "States": {"Each": {
    "Type": "Map", "MaxConcurrency": 2, "ToleratedFailurePercentage": 50,
    "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                   "Parameters": {"Bucket": "graphetl-local", "Prefix": "items/"}},
    "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [
                {"Variable": "$.key", "StringEquals": "items/part-3.json", "Next": "Bad"}], "Default": "Good"},
            "Bad": {"Type": "Fail", "Error": "Item.Bad", "Cause": "part-3 is bad"},
            "Good": {"Type": "Succeed"}}},
    "End": True}}}
machine = sfn.create_state_machine(name="dmap", definition=json.dumps(definition),
                                   roleArn="arn:aws:iam::123456789012:role/local")["stateMachineArn"]
arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
for _ in range(600):
    described = sfn.describe_execution(executionArn=arn)
    if described["status"] != "RUNNING":
        break
    time.sleep(0.1)
runs = sfn.list_map_runs(executionArn=arn)["mapRuns"]
run = sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])
failed = sfn.list_executions(mapRunArn=runs[0]["mapRunArn"], statusFilter="FAILED")["executions"]
children = sfn.list_executions(mapRunArn=runs[0]["mapRunArn"])["executions"]
child = sfn.describe_execution(executionArn=failed[0]["executionArn"])
history = sfn.get_execution_history(executionArn=arn)["events"]
print(json.dumps({
    "status": described["status"], "runs": len(runs), "run_status": run["status"],
    "items": run["itemCounts"], "executions": run["executionCounts"],
    "max_concurrency": run["maxConcurrency"], "tolerated": run["toleratedFailurePercentage"],
    "stopped_after_start": run["stopDate"] >= run["startDate"],
    "failed": len(failed), "children": len(children),
    "child_input": child["input"], "child_error": child["error"], "child_cause": child["cause"],
    "child_map_run": child["mapRunArn"] == runs[0]["mapRunArn"],
    "history": [e["type"] for e in history],
}))
"#;

#[test]
fn boto3_runs_a_distributed_map_over_the_embedded_s3_endpoint() {
    let server = start();
    let output = Command::new("python3")
        .args(["-c", BOTO3_SCRIPT, &server.states, &server.s3])
        .output()
        .unwrap_or_else(|e| panic!("{MISSING} ({e})"));
    let stderr = super::text(&output.stderr);
    assert!(!stderr.contains("No module named 'boto3'"), "{MISSING}");
    assert!(output.status.success(), "{stderr}");
    let result: Value = serde_json::from_str(&super::text(&output.stdout))
        .unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(result["status"], "SUCCEEDED", "{result}");
    assert_eq!(
        (result["runs"].clone(), result["run_status"].clone()),
        (json!(1), json!("SUCCEEDED"))
    );
    let counts = json!({"pending": 0, "running": 0, "succeeded": 4, "failed": 1, "timedOut": 0, "aborted": 0,
        "total": 5, "resultsWritten": 0, "failuresNotRedrivable": 0, "pendingRedrive": 0});
    assert_eq!(result["items"], counts);
    assert_eq!(result["executions"], counts);
    assert_eq!(
        (result["max_concurrency"].clone(), result["tolerated"].clone()),
        (json!(2), json!(50.0))
    );
    assert_eq!(result["stopped_after_start"], true);
    assert_eq!((result["failed"].clone(), result["children"].clone()), (json!(1), json!(5)));
    assert_eq!(result["child_input"], r#"{"key":"items/part-3.json"}"#);
    assert_eq!(
        (result["child_error"].clone(), result["child_cause"].clone()),
        (json!("Item.Bad"), json!("part-3 is bad"))
    );
    assert_eq!(result["child_map_run"], true);
    assert_eq!(
        result["history"],
        json!([
            "ExecutionStarted",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunStarted",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_sdk_sfn_talks_to_the_server() -> Result<(), Box<dyn std::error::Error>> {
    use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
    let server = start();
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&server.states)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("x", "y", None, None, "test"))
        .build();
    let client = aws_sdk_sfn::Client::from_conf(config);
    let definition = json!({"StartAt": "Hello", "States": {"Hello": {"Type": "Pass", "Result": {"hi": 1}, "End": true}}});
    let machine = client
        .create_state_machine()
        .name("sdk")
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/local")
        .send()
        .await?;
    let started = client
        .start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .name("one")
        .send()
        .await?;
    let mut described =
        client.describe_execution().execution_arn(started.execution_arn()).send().await?;
    for _ in 0..600 {
        if described.status() != &aws_sdk_sfn::types::ExecutionStatus::Running {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        described =
            client.describe_execution().execution_arn(started.execution_arn()).send().await?;
    }
    assert_eq!(described.status(), &aws_sdk_sfn::types::ExecutionStatus::Succeeded);
    assert_eq!(described.output(), Some(r#"{"hi":1}"#));
    assert!(described.stop_date().is_some_and(|stop| stop >= described.start_date()));
    let history =
        client.get_execution_history().execution_arn(started.execution_arn()).send().await?;
    let kinds: Vec<String> =
        history.events().iter().map(|e| e.r#type().as_str().to_owned()).collect();
    assert_eq!(
        kinds,
        ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    );
    let missing = client
        .describe_execution()
        .execution_arn("arn:aws:states:us-east-1:123456789012:execution:sdk:none")
        .send()
        .await;
    let error = missing.err().map(|e| e.into_service_error());
    assert!(error.is_some_and(|e| e.is_execution_does_not_exist()));
    Ok(())
}

/// Puts a local file at `key` of the local bucket with the aws CLI's s3api, on the server's
/// embedded S3 endpoint (its fixed local credentials).
fn s3_put(server: &Server, key: &str, file: &std::path::Path) {
    let output = Command::new("aws")
        .args(["s3api", "put-object", "--endpoint-url", &server.s3, "--region", "us-east-1"])
        .args(["--bucket", "graphetl-local", "--key", key, "--body"])
        .arg(file)
        .env("AWS_ACCESS_KEY_ID", graphetl_storage::LOCAL_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", graphetl_storage::LOCAL_SECRET_KEY)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|e| panic!("{MISSING} ({e})"));
    assert!(output.status.success(), "put-object {key}: {}", super::text(&output.stderr));
}

/// The page at `url` as headless Chromium renders it (Debian's `chromium`, as the env notes
/// start it), as HTML text.
fn rendered(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let output = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .output()
        .unwrap_or_else(|e| {
            panic!("the page test renders with Debian's chromium: apt-get install chromium ({e})")
        });
    assert!(output.status.success(), "chromium failed: {}", super::text(&output.stderr));
    super::text(&output.stdout)
}

#[test]
fn the_aws_cli_redrives_a_failed_pipeline_run_and_only_the_unfinished_batches_run_again() {
    let server = start();
    let repo = super::repo();
    let spec_path = repo.join("datasets/service-calls.toml");
    let spec_text = std::fs::read_to_string(&spec_path).unwrap_or_else(|e| panic!("{e}"));
    let spec = graphetl_core::DatasetSpec::from_toml_str(&spec_text, "service-calls.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    s3_put(&server, &graphetl_core::layout::spec_key(&spec.name), &spec_path);
    for query in &spec.queries {
        s3_put(
            &server,
            &graphetl_core::layout::sql_key(&query.sql),
            &repo.join("datasets").join(&query.sql),
        );
    }
    let sample = repo.join("datasets/service-calls/sample");
    for file in super::commands::files_under(&sample) {
        let relative = file.strip_prefix(&sample).unwrap_or_else(|e| panic!("{e}"));
        let key = format!("raw/service-calls/{}", relative.display());
        s3_put(&server, &key, &file);
    }
    let scratch = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let corrupt = scratch.path().join("corrupt.json.gz");
    std::fs::write(&corrupt, b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03not deflate")
        .unwrap_or_else(|e| panic!("{e}"));
    let bad_key = "raw/service-calls/dt=2026-11-20/hour=04/part-00001.json.gz";
    s3_put(&server, bad_key, &corrupt);

    let definition: Value = serde_json::from_str(
        &std::fs::read_to_string(repo.join("statemachine/pipeline.asl.json")).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let machine = create(&server, "graphetl-pipeline", &definition);
    let input = json!({"dataset": "service-calls", "prefix": "raw/service-calls/",
        "batch_size": 1, "tolerated_failure_percentage": 0, "max_concurrency": 1});
    let started = ok(
        &server,
        &[
            "start-execution",
            "--state-machine-arn",
            &machine,
            "--name",
            "run-1",
            "--input",
            &input.to_string(),
        ],
    );
    let arn = started["executionArn"].as_str().unwrap_or_default().to_owned();
    let failed = finish(&server, &arn);
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert_eq!(failed["error"], "States.ExceedToleratedFailureThreshold", "{failed}");
    assert_eq!(failed["redriveStatus"], "REDRIVABLE", "{failed}");

    // The console's view, locally: the run is listed, and its page names the failed file and
    // its cause among the Map Run's failed items.
    let index = rendered(&format!("{}/", server.states));
    assert!(index.contains("run-1") && index.contains("FAILED"), "{index}");
    let href = format!("/execution?arn={}", arn.replace(':', "%3A").replace('/', "%2F"));
    assert!(index.contains(&href), "no link {href} in {index}");
    let page = rendered(&format!("{}{href}", server.states));
    let failed_items = page.split("Failed items").nth(1).unwrap_or_default();
    assert!(failed_items.starts_with(" (1)"), "{page}");
    assert!(failed_items.contains(bad_key), "{page}");
    assert!(failed_items.contains("the gzip stream is truncated or corrupt"), "{page}");
    assert!(page.contains("States.ExceedToleratedFailureThreshold"), "{page}");

    // The fix: a good file where the corrupt one was; then the console's Redrive, as the CLI.
    s3_put(&server, bad_key, &sample.join("dt=2026-11-20/hour=04/part-00000.json.gz"));
    let redriven = ok(&server, &["redrive-execution", "--execution-arn", &arn]);
    assert!(redriven["redriveDate"].is_number(), "{redriven}");
    let done = finish(&server, &arn);
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["redriveCount"], 1, "{done}");
    assert_eq!(done["redriveStatus"], "NOT_REDRIVABLE", "{done}");

    let history = ok(&server, &["get-execution-history", "--execution-arn", &arn]);
    let types = kinds(&history);
    let count = |kind: &str| types.iter().filter(|k| *k == kind).count();
    assert_eq!((count("ExecutionStarted"), count("ExecutionRedriven")), (1, 1), "{types:?}");
    assert_eq!((count("MapRunStarted"), count("MapRunRedriven")), (1, 1), "{types:?}");
    assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"), "{types:?}");
    let runs = ok(&server, &["list-map-runs", "--execution-arn", &arn]);
    let run_arn = runs["mapRuns"][0]["mapRunArn"].as_str().unwrap_or_default().to_owned();
    let run = ok(&server, &["describe-map-run", "--map-run-arn", &run_arn]);
    assert_eq!(run["redriveCount"], 1, "{run}");
    assert_eq!(run["executionCounts"]["succeeded"], 4, "{run}");
    assert_eq!(run["executionCounts"]["failed"], 0, "{run}");
    // The two batches that had succeeded were not run again: of the four children, the two
    // that had succeeded kept their one history; the failed one was redriven in place.
    let children = ok(&server, &["list-executions", "--map-run-arn", &run_arn]);
    let redriven_children: Vec<&Value> = children["executions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["redriveCount"] == 1)
        .collect();
    assert_eq!(redriven_children.len(), 1, "{children}");

    let again = aws(&server, &["redrive-execution", "--execution-arn", &arn]);
    let refused = again.err().unwrap_or_default();
    assert!(refused.contains("ExecutionNotRedrivable"), "{refused}");
    assert!(refused.contains("Execution is SUCCEEDED and cannot be redriven"), "{refused}");

    // graphetl's own AWS commands against the same server: `failures` reads the Map Run's
    // ResultWriter files from S3 and the redrive count from DescribeExecution; `redrive` calls
    // RedriveExecution and reports the refusal.
    let on_server = |args: &[&str]| {
        let no_config = scratch.path().join("no-aws-config");
        let mut command = Command::new(env!("CARGO_BIN_EXE_graphetl"));
        super::on_local_s3(&mut command, &server.s3, &no_config);
        command.env("AWS_ENDPOINT_URL_SFN", &server.states).args(args).output()
    };
    let failures = on_server(&["failures", &arn, "--bucket", "graphetl-local"])
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = super::text(&failures.stdout);
    assert!(failures.status.success(), "{stdout}{}", super::text(&failures.stderr));
    assert!(stdout.contains("no failed items (SUCCEEDED, redriven once)"), "{stdout}");
    let redrive = on_server(&["redrive", &arn, "--no-wait"]).unwrap_or_else(|e| panic!("{e}"));
    let stderr = super::text(&redrive.stderr);
    assert_eq!(redrive.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ExecutionNotRedrivable"), "{stderr}");
}

#[test]
fn a_running_execution_shows_its_history_so_far() {
    let server = start();
    let definition = json!({"StartAt": "Shape", "States": {
        "Shape": {"Type": "Pass", "Next": "Hold"},
        "Hold": {"Type": "Wait", "Seconds": 60, "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let machine = create(&server, "holds", &definition);
    let started =
        ok(&server, &["start-execution", "--state-machine-arn", &machine, "--name", "h1"]);
    let arn = started["executionArn"].as_str().unwrap_or_default().to_owned();
    // The execution waits a minute; its history so far is served while it runs.
    let mut types = Vec::new();
    for _ in 0..50 {
        let history = ok(&server, &["get-execution-history", "--execution-arn", &arn]);
        types = kinds(&history);
        if types.iter().any(|k| k == "WaitStateEntered") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        types,
        ["ExecutionStarted", "PassStateEntered", "PassStateExited", "WaitStateEntered"],
        "{types:?}"
    );
    let described = ok(&server, &["describe-execution", "--execution-arn", &arn]);
    assert_eq!(described["status"], "RUNNING", "{described}");
    ok(&server, &["stop-execution", "--execution-arn", &arn]);
}
