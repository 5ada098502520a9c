//! The operator commands against AWS, with a loopback stand-in for the Step Functions API
//! (awsJson 1.0 over HTTP) that answers scripted responses and records the requests.

use std::process::{Command, Output};

use serde_json::{Value, json};

use super::{repo, text};

#[path = "../../../../testkit/aws_json_stub.rs"]
mod aws_json_stub;
use aws_json_stub::{AwsJsonStub, Reply};

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

/// The Step Functions stand-in: every operation answered by [`answer`].
fn stub() -> AwsJsonStub {
    AwsJsonStub::start("application/x-amz-json-1.0", |target, body| Reply::Ok(answer(target, body)))
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
    let stub = stub();
    let endpoint = &stub.endpoint;
    let out =
        graphetl_aws(endpoint, &["failures", "exec-1", "--state-machine-arn", MACHINE, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<Value> =
        text(&out.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["key"], "raw/service-calls/dt=2026-11-20/hour=04/bad.json.gz");
    assert_eq!(rows[0]["error"], "GraphEtl.BadInput");
    assert_eq!(rows[0]["cause"], "the gzip stream is truncated or corrupt");
    assert_eq!(rows[0]["attempts"], 1);
    let targets: Vec<String> = stub.requests().into_iter().map(|(t, _)| t).collect();
    assert!(targets.contains(&"AWSStepFunctions.ListExecutions".to_owned()), "{targets:?}");
    let listed = stub.requests().into_iter().find(|(t, _)| t.ends_with("ListExecutions"));
    let listed = listed.map(|(_, b)| b);
    assert_eq!(
        listed.map(|b| (b["mapRunArn"].clone(), b["statusFilter"].clone())),
        Some((json!(MAP_RUN), json!("FAILED")))
    );
}

#[test]
fn reprocess_starts_an_execution_over_the_prefix() {
    let stub = stub();
    let endpoint = &stub.endpoint;
    let out = graphetl_aws(
        endpoint,
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
    let start = stub.requests().into_iter().find(|(t, _)| t.ends_with("StartExecution"));
    let start = start.map(|(_, b)| b).unwrap_or_default();
    assert_eq!(start["stateMachineArn"], MACHINE);
    let input: Value =
        serde_json::from_str(start["input"].as_str().unwrap_or("{}")).unwrap_or_default();
    assert_eq!(
        input,
        json!({"dataset": "service-calls", "prefix": "raw/service-calls/dt=2026-11-20/"})
    );
    // Without a state machine ARN nothing is started, and the error says what to give.
    let out = graphetl_aws(
        endpoint,
        &["reprocess", "--dataset", "service-calls", "--prefix", "raw/service-calls/x/"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--state-machine-arn"), "{}", text(&out.stderr));
}
