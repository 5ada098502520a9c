//! The operator commands against AWS, with a loopback stand-in for the Step Functions API
//! (awsJson 1.0 over HTTP) that answers scripted responses and records the requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{repo, text};

type Requests = Arc<Mutex<Vec<(String, Value)>>>;

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:graphetl-pipeline";
const PARENT: &str = "arn:aws:states:us-east-1:123456789012:execution:graphetl-pipeline:exec-1";
const MAP_RUN: &str =
    "arn:aws:states:us-east-1:123456789012:mapRun:graphetl-pipeline/TransformFiles:5d1c";
const CHILD: &str =
    "arn:aws:states:us-east-1:123456789012:execution:graphetl-pipeline/TransformFiles:c-1";

fn answer(target: &str, body: &Value) -> Value {
    match target {
        "AWSStepFunctions.StartExecution" => {
            json!({"executionArn": format!("{MACHINE}:{}", body["name"].as_str().unwrap_or_default()).replace(":stateMachine:", ":execution:"), "startDate": 1.7e9})
        }
        "AWSStepFunctions.DescribeExecution" if body["executionArn"] == CHILD => {
            let files = json!([{"bucket": "data", "key": "raw/service-calls/dt=2026-11-20/hour=04/bad.json.gz", "failed": true, "error": "GraphEtl.BadInput", "cause": "{\"errorMessage\":\"the gzip stream is truncated or corrupt\",\"errorType\":\"GraphEtl.BadInput\"}"}]);
            let nested = json!({"Error": "GraphEtl.FilesFailed", "Cause": files.to_string(), "Status": "FAILED"});
            json!({
                "executionArn": CHILD, "stateMachineArn": MACHINE, "name": "c-1", "status": "FAILED", "startDate": 1.7e9,
                "input": json!({"Items": [{"key": "raw/service-calls/dt=2026-11-20/hour=04/bad.json.gz"}, {"key": "raw/service-calls/dt=2026-11-20/hour=04/good.json.gz"}]}).to_string(),
                "error": "States.TaskFailed", "cause": nested.to_string(),
            })
        }
        "AWSStepFunctions.DescribeExecution" => {
            json!({"executionArn": PARENT, "stateMachineArn": MACHINE, "name": "exec-1", "status": "RUNNING", "startDate": 1.7e9})
        }
        "AWSStepFunctions.ListMapRuns" => {
            json!({"mapRuns": [{"executionArn": PARENT, "mapRunArn": MAP_RUN, "stateMachineArn": MACHINE, "startDate": 1.7e9}]})
        }
        "AWSStepFunctions.ListExecutions" => {
            json!({"executions": [{"executionArn": CHILD, "stateMachineArn": MACHINE, "name": "c-1", "status": "FAILED", "startDate": 1.7e9}]})
        }
        _ => json!({}),
    }
}

fn serve(stream: TcpStream, requests: Requests) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut target = String::new();
        let mut line = String::new();
        let mut first = true;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() && !first {
                break;
            }
            first = false;
            if let Some((name, value)) = trimmed.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "x-amz-target" => target = value.trim().to_owned(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        let reply = answer(&target, &body).to_string();
        if let Ok(mut r) = requests.lock() {
            r.push((target, body));
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn stub() -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let requests: Requests = Arc::default();
    let recorded = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let recorded = recorded.clone();
            std::thread::spawn(move || serve(stream, recorded));
        }
    });
    (format!("http://{address}"), requests)
}

fn graphetl_aws(endpoint: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graphetl"))
        .args(args)
        .current_dir(repo())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("GRAPHETL_STATE_MACHINE_ARN")
        .env_remove("GRAPHETL_BUCKET")
        .output()
        .unwrap_or_else(|e| panic!("cannot run graphetl: {e}"))
}

#[test]
fn failures_of_a_running_execution_come_from_its_failed_children() {
    let (endpoint, requests) = stub();
    let out =
        graphetl_aws(&endpoint, &["failures", "exec-1", "--state-machine-arn", MACHINE, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<Value> =
        text(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["key"], "raw/service-calls/dt=2026-11-20/hour=04/bad.json.gz");
    assert_eq!(rows[0]["error"], "GraphEtl.BadInput");
    assert_eq!(rows[0]["cause"], "the gzip stream is truncated or corrupt");
    assert_eq!(rows[0]["attempts"], 1);
    let targets: Vec<String> =
        requests.lock().map(|r| r.iter().map(|(t, _)| t.clone()).collect()).unwrap_or_default();
    assert!(targets.contains(&"AWSStepFunctions.ListExecutions".to_owned()), "{targets:?}");
    let listed = requests.lock().ok().and_then(|r| {
        r.iter().find(|(t, _)| t.ends_with("ListExecutions")).map(|(_, b)| b.clone())
    });
    assert_eq!(
        listed.map(|b| (b["mapRunArn"].clone(), b["statusFilter"].clone())),
        Some((json!(MAP_RUN), json!("FAILED")))
    );
}

#[test]
fn reprocess_starts_an_execution_over_the_prefix() {
    let (endpoint, requests) = stub();
    let out = graphetl_aws(
        &endpoint,
        &[
            "reprocess",
            "--dataset",
            "service-calls",
            "--prefix",
            "raw/service-calls/dt=2026-11-20/",
            "--state-machine-arn",
            MACHINE,
            "--no-wait",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).trim().starts_with(
        "arn:aws:states:us-east-1:123456789012:execution:graphetl-pipeline:reprocess-service-calls-"
    ));
    let start = requests.lock().ok().and_then(|r| {
        r.iter().find(|(t, _)| t.ends_with("StartExecution")).map(|(_, b)| b.clone())
    });
    let start = start.unwrap_or_default();
    assert_eq!(start["stateMachineArn"], MACHINE);
    let input: Value =
        serde_json::from_str(start["input"].as_str().unwrap_or("{}")).unwrap_or_default();
    assert_eq!(
        input,
        json!({"dataset": "service-calls", "prefix": "raw/service-calls/dt=2026-11-20/"})
    );
    // Without a state machine ARN nothing is started, and the error says what to give.
    let out = graphetl_aws(
        &endpoint,
        &["reprocess", "--dataset", "service-calls", "--prefix", "raw/service-calls/x/"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--state-machine-arn"), "{}", text(&out.stderr));
}
