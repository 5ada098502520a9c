//! Mocked task responses in AWS Step Functions Local's `MockConfigFile.json` format, so users
//! can reuse the mock test cases they already have.
//!
//! `StateMachines → <name> → TestCases → <case> → {state: response name}` picks, per Task
//! state, a `MockedResponses` entry whose keys are invocation numbers (`"0"`) or ranges
//! (`"1-2"`) and whose values are `{"Return": value}` or `{"Throw": {"Error", "Cause"}}`.
//! Invocations are counted per execution and state, retries included.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use crate::error::StatesError;

/// One response for a range of invocations.
#[derive(Debug, Clone, PartialEq)]
enum Response {
    Return(Value),
    Throw { error: String, cause: String },
}

#[derive(Debug, Clone, PartialEq)]
struct Ranged {
    first: u64,
    last: u64,
    response: Response,
}

/// The mocks of one test case of one state machine.
#[derive(Debug)]
pub struct MockCase {
    machine: String,
    states: HashMap<String, Vec<Ranged>>,
    counters: Mutex<HashMap<(String, String), u64>>,
}

/// A MockConfigFile that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mock config: {0}")]
pub struct MockError(pub String);

fn parse_range(key: &str) -> Option<(u64, u64)> {
    match key.split_once('-') {
        Some((a, b)) => {
            let (first, last) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (first <= last).then_some((first, last))
        }
        None => {
            let n = key.trim().parse().ok()?;
            Some((n, n))
        }
    }
}

fn parse_response(name: &str, entries: &Value) -> Result<Vec<Ranged>, MockError> {
    let object = entries.as_object().ok_or_else(|| {
        MockError(format!("MockedResponses.{name}: expected an object of invocation ranges"))
    })?;
    let mut ranged = Vec::new();
    for (key, value) in object {
        let (first, last) = parse_range(key).ok_or_else(|| {
            MockError(format!("MockedResponses.{name}: \"{key}\" is not an invocation number or range like \"1-2\""))
        })?;
        let response = match (value.get("Return"), value.get("Throw")) {
            (Some(returned), None) => Response::Return(returned.clone()),
            (None, Some(thrown)) => Response::Throw {
                error: thrown.get("Error").and_then(Value::as_str).unwrap_or_default().to_owned(),
                cause: thrown.get("Cause").and_then(Value::as_str).unwrap_or_default().to_owned(),
            },
            _ => {
                return Err(MockError(format!(
                    "MockedResponses.{name}.{key}: expected exactly one of \"Return\" or \"Throw\""
                )));
            }
        };
        ranged.push(Ranged { first, last, response });
    }
    ranged.sort_by_key(|r| r.first);
    Ok(ranged)
}

impl MockCase {
    /// Reads the test case `test_case` of state machine `machine` from a MockConfigFile.
    pub fn from_json(text: &str, machine: &str, test_case: &str) -> Result<MockCase, MockError> {
        let config: Value =
            serde_json::from_str(text).map_err(|e| MockError(format!("invalid JSON: {e}")))?;
        let case = config
            .pointer(&format!("/StateMachines/{}/TestCases/{}", escape(machine), escape(test_case)))
            .and_then(Value::as_object)
            .ok_or_else(|| {
                MockError(format!("no test case \"{test_case}\" for state machine \"{machine}\""))
            })?;
        let mut states = HashMap::new();
        for (state, response_name) in case {
            let response_name = response_name.as_str().ok_or_else(|| {
                MockError(format!("test case {test_case}: state {state}: expected a response name"))
            })?;
            let entries = config.pointer(&format!("/MockedResponses/{}", escape(response_name))).ok_or_else(|| {
                MockError(format!("test case {test_case}: state {state}: no MockedResponses entry \"{response_name}\""))
            })?;
            states.insert(state.clone(), parse_response(response_name, entries)?);
        }
        Ok(MockCase { machine: machine.to_owned(), states, counters: Mutex::new(HashMap::new()) })
    }

    /// The mocked result of the next invocation of `state` in `execution`, if it is mocked.
    pub fn response(
        &self,
        execution: &str,
        machine: &str,
        state: &str,
    ) -> Option<Result<Value, StatesError>> {
        if machine != self.machine {
            return None;
        }
        let ranges = self.states.get(state)?;
        let invocation = {
            let mut counters = self.counters.lock().ok()?;
            let counter = counters.entry((execution.to_owned(), state.to_owned())).or_insert(0);
            let current = *counter;
            *counter += 1;
            current
        };
        let found = ranges
            .iter()
            .find(|r| (r.first..=r.last).contains(&invocation))
            .or_else(|| ranges.last());
        Some(match found.map(|r| &r.response) {
            Some(Response::Return(value)) => Ok(value.clone()),
            Some(Response::Throw { error, cause }) => {
                Err(StatesError::new(error.clone(), cause.clone()))
            }
            None => Err(StatesError::new(
                crate::error::names::RUNTIME,
                format!("the mock of state {state} has no response for invocation {invocation}"),
            )),
        })
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Shape from the AWS developer guide, "Using mocked service integrations".
    const CONFIG: &str = r#"{
      "StateMachines": {
        "LambdaSQSIntegration": {
          "TestCases": {
            "HappyPath": { "LambdaState": "MockedLambdaSuccessResponse" },
            "RetryPath": { "LambdaState": "MockedLambdaRetryResponse" }
          }
        }
      },
      "MockedResponses": {
        "MockedLambdaSuccessResponse": { "0": { "Return": { "StatusCode": 200, "Payload": { "ok": true } } } },
        "MockedLambdaRetryResponse": {
          "0": { "Throw": { "Error": "Lambda.ResourceNotFoundException", "Cause": "Lambda resource is not found." } },
          "1-2": { "Throw": { "Error": "Lambda.TimeoutException", "Cause": "Lambda timed out." } },
          "3": { "Return": { "StatusCode": 200, "Payload": { "ok": "late" } } }
        }
      }
    }"#;

    #[test]
    fn ranges_answer_in_invocation_order() -> Result<(), MockError> {
        let case = MockCase::from_json(CONFIG, "LambdaSQSIntegration", "RetryPath")?;
        let errors: Vec<String> = (0..4)
            .map(|_| match case.response("e1", "LambdaSQSIntegration", "LambdaState") {
                Some(Ok(v)) => v["Payload"]["ok"].to_string(),
                Some(Err(e)) => e.error,
                None => "none".into(),
            })
            .collect();
        assert_eq!(
            errors,
            [
                "Lambda.ResourceNotFoundException",
                "Lambda.TimeoutException",
                "Lambda.TimeoutException",
                "\"late\""
            ]
        );
        // Another execution counts from 0 again; other machines and states are not mocked.
        assert!(matches!(case.response("e2", "LambdaSQSIntegration", "LambdaState"), Some(Err(_))));
        assert!(case.response("e1", "Other", "LambdaState").is_none());
        assert!(case.response("e1", "LambdaSQSIntegration", "SQSState").is_none());
        Ok(())
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let missing = MockCase::from_json(CONFIG, "LambdaSQSIntegration", "Nope").err();
        assert_eq!(
            missing.map(|e| e.0),
            Some("no test case \"Nope\" for state machine \"LambdaSQSIntegration\"".into())
        );
        let bad = json!({"StateMachines": {"M": {"TestCases": {"T": {"S": "R"}}}}, "MockedResponses": {"R": {"x": {"Return": 1}}}});
        let error =
            MockCase::from_json(&bad.to_string(), "M", "T").err().map(|e| e.0).unwrap_or_default();
        assert!(error.contains("\"x\" is not an invocation number"), "{error}");
    }
}
