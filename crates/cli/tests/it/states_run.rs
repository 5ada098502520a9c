//! `graphetl states run`: the failure contract ({"error", "cause"} on stdout, exit 1, the
//! history always written) and `--mock-config` as Step Functions Local uses it (unlisted Task
//! states call their resource; an unknown state machine or test case refuses to start).

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use super::{graphetl, text};

const MOCKS: &str = r#"{
  "StateMachines": {
    "Machine": {"TestCases": {
      "HappyPath": {"Call": "CallOk"},
      "Hybrid": {}
    }}
  },
  "MockedResponses": {"CallOk": {"0": {"Return": {"Payload": {"ok": true}}}}}
}"#;

fn write(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

fn task_machine(dir: &Path) -> String {
    let definition = json!({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${Work}", "Payload.$": "$"}, "OutputPath": "$.Payload", "End": true
    }}});
    write(dir, "machine.asl.json", &definition.to_string())
}

fn run_mocked(dir: &Path, case: &str, history: &str) -> Output {
    let definition = task_machine(dir);
    let mocks = write(dir, "MockConfigFile.json", MOCKS);
    graphetl(&[
        "states",
        "run",
        "--definition",
        &definition,
        "--mock-config",
        &mocks,
        "--state-machine",
        "Machine",
        "--test-case",
        case,
        "--history",
        history,
        "--virtual-time",
    ])
}

fn history_kinds(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no history: {e}"));
    let history: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let events = history["events"].as_array().cloned().unwrap_or_default();
    events.iter().map(|e| e["type"].as_str().unwrap_or_default().to_owned()).collect()
}

#[test]
fn states_run_mocked_test_case_succeeds() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let history = dir.path().join("history.json").display().to_string();
    let out = run_mocked(dir.path(), "HappyPath", &history);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let output: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap_or_default();
    assert_eq!(output, json!({"ok": true}));
    assert_eq!(history_kinds(&history).last().map(String::as_str), Some("ExecutionSucceeded"));
}

#[test]
fn states_run_unmocked_task_calls_its_resource_and_fails_with_error_and_cause() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let history = dir.path().join("history.json").display().to_string();
    let out = run_mocked(dir.path(), "Hybrid", &history);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let failure: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap_or_default();
    assert_eq!(failure["error"], "Lambda.ResourceNotFoundException");
    assert!(failure["cause"].as_str().is_some_and(|c| !c.is_empty()), "{failure}");
    let kinds = history_kinds(&history);
    assert!(kinds.iter().any(|k| k == "TaskFailed"), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("ExecutionFailed"));
}

#[test]
fn states_run_unknown_test_case_or_machine_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let history = dir.path().join("history.json").display().to_string();
    let out = run_mocked(dir.path(), "NoSuchCase", &history);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Machine#NoSuchCase") && stderr.contains("NoSuchCase"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(!Path::new(&history).exists(), "no execution, no history");

    let definition = task_machine(dir.path());
    let mocks = write(dir.path(), "MockConfigFile.json", MOCKS);
    let out = graphetl(&[
        "states",
        "run",
        "--definition",
        &definition,
        "--mock-config",
        &mocks,
        "--state-machine",
        "Other",
        "--test-case",
        "HappyPath",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("\"Other\""), "{}", text(&out.stderr));
}

#[test]
fn states_run_failed_execution_prints_error_and_cause_and_writes_history() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let definition = json!({"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "TimestampPath": "$.at", "Next": "Boom"},
        "Boom": {"Type": "Fail", "Error": "Custom.Error", "Cause": "it broke"}
    }});
    let definition = write(dir.path(), "fail.asl.json", &definition.to_string());
    let cases = [
        (r#"{"at": "2016-03-14T01:59:00Z"}"#, "Custom.Error", "it broke"),
        (
            r#"{"at": "2016-03-14 01:59:00Z"}"#,
            "States.Runtime",
            "An error occurred while executing the state 'Wait' (entered at the event id #2). \
             The TimestampPath parameter does not reference a valid ISO-8601 extended offset \
             date-time format string: $.at == 2016-03-14 01:59:00Z",
        ),
    ];
    for (input, error, cause) in cases {
        let history = dir.path().join("history.json");
        let _ = std::fs::remove_file(&history);
        let history = history.display().to_string();
        let out = graphetl(&[
            "states",
            "run",
            "--definition",
            &definition,
            "--input",
            input,
            "--history",
            &history,
        ]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let failure: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap_or_default();
        assert_eq!(failure, json!({"error": error, "cause": cause}));
        assert_eq!(history_kinds(&history).last().map(String::as_str), Some("ExecutionFailed"));
    }
}
