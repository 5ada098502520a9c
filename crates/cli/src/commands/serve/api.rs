//! The Step Functions operations `graphetl serve` answers, in the API's JSON shapes (the
//! `AWSStepFunctions` service model: camelCase members, timestamps as epoch seconds, errors as
//! `{"__type", "message"}`), over one engine that keeps every execution's history.
//!
//! State machines and the top-level executions started here live in memory; child executions
//! and Map Runs come from the engine's records ([`EngineOptions::keep_records`]).
//!
//! [`EngineOptions::keep_records`]: graphetl_states::exec::EngineOptions

use std::sync::{Arc, Mutex, MutexGuard};

use graphetl_states::asl::StateMachine;
use graphetl_states::exec::{Engine, Execution, MapRunRecord, Status};
use graphetl_states::history::History;
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;

use crate::commands::workflow::substitutions;

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// An API error: its code (`__type`) and message, sent as HTTP 400.
#[derive(Debug)]
pub(crate) struct ApiError {
    /// The error code, e.g. `ExecutionDoesNotExist`.
    pub(crate) code: String,
    message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub(crate) fn new(code: &str, message: impl Into<String>) -> ApiError {
        ApiError { code: code.to_owned(), message: message.into() }
    }

    /// The response body.
    pub(crate) fn body(&self) -> Value {
        json!({"__type": self.code, "message": self.message})
    }
}

type Outcome = Result<Value, ApiError>;

/// A state machine created through the API.
struct Machine {
    arn: String,
    name: String,
    definition: String,
    role_arn: String,
    kind: String,
    created: f64,
    parsed: Arc<StateMachine>,
}

/// A top-level execution started through the API.
struct Started {
    arn: String,
    name: String,
    machine_arn: String,
    input: String,
    start: f64,
    handle: JoinHandle<Execution>,
    /// Stop date, error and cause when `StopExecution` aborted it.
    aborted: Option<(f64, Option<String>, Option<String>)>,
    /// The definition it started with (a redrive runs the same one).
    parsed: Arc<StateMachine>,
    /// Redrives asked for, and when the last one was: while the engine's kept execution has
    /// fewer, a redrive is running.
    redrives: u32,
    redrive_date: Option<f64>,
    /// The running redrive, if any.
    redrive_task: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Registry {
    machines: Vec<Machine>,
    executions: Vec<Started>,
}

/// The API over one engine.
pub(crate) struct Api {
    engine: Arc<Engine>,
    registry: Mutex<Registry>,
}

/// Epoch seconds (the API's timestamp form) of epoch milliseconds.
fn seconds(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

fn now() -> f64 {
    seconds(chrono::Utc::now().timestamp_millis())
}

fn status_text(status: Status) -> &'static str {
    status.as_str()
}

/// A string member of the request, required.
fn required<'a>(request: &'a Value, member: &str) -> Result<&'a str, ApiError> {
    request[member].as_str().ok_or_else(|| {
        ApiError::new(
            "ValidationException",
            format!("1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"),
        )
    })
}

/// AWS's name rules for state machines and executions.
fn check_name(name: &str) -> Result<(), ApiError> {
    let bad = name.is_empty()
        || name.chars().count() > 80
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c));
    if bad {
        return Err(ApiError::new("InvalidName", format!("Invalid Name: '{name}'")));
    }
    Ok(())
}

/// `maxResults` and `nextToken` (an offset) applied to `items`; the next token if more remain.
fn page<T>(
    items: Vec<T>,
    request: &Value,
    default: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let size = match request["maxResults"].as_u64() {
        Some(0) | None => default,
        Some(n) => n.min(1000) as usize,
    };
    let start = match request["nextToken"].as_str() {
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|s| *s <= items.len())
            .ok_or_else(|| ApiError::new("InvalidToken", format!("Invalid Token: '{token}'")))?,
        None => 0,
    };
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items.into_iter().skip(start).take(end - start).collect(), next))
}

fn with_token(mut body: Map<String, Value>, next: Option<String>) -> Value {
    if let Some(token) = next {
        body.insert("nextToken".into(), json!(token));
    }
    Value::Object(body)
}

/// A UUID-shaped execution name (version 4 layout).
fn uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    let word = |salt: u64| {
        let mut hasher = state.build_hasher();
        hasher.write_u64(salt);
        hasher.write_i64(chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
        hasher.finish()
    };
    let (a, b) = (word(1), word(2));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        a & 0xfff,
        ((b >> 48) as u16 & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

impl Api {
    /// The API over `engine` (built with `keep_records`).
    pub(crate) fn new(engine: Arc<Engine>) -> Api {
        Api { engine, registry: Mutex::default() }
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answers one operation with its JSON request body.
    pub(crate) fn call(&self, operation: &str, body: &[u8]) -> Outcome {
        let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(body).map_err(|e| {
                ApiError::new("SerializationException", format!("the body is not JSON: {e}"))
            })?
        };
        match operation {
            "CreateStateMachine" => self.create_state_machine(&request),
            "ListStateMachines" => self.list_state_machines(&request),
            "DescribeStateMachine" => self.describe_state_machine(&request),
            "DeleteStateMachine" => self.delete_state_machine(&request),
            "StartExecution" => self.start_execution(&request),
            "StopExecution" => self.stop_execution(&request),
            "DescribeExecution" => self.describe_execution(&request),
            "DescribeStateMachineForExecution" => self.describe_machine_for_execution(&request),
            "ListExecutions" => self.list_executions(&request),
            "GetExecutionHistory" => self.get_execution_history(&request),
            "ListMapRuns" => self.list_map_runs(&request),
            "DescribeMapRun" => self.describe_map_run(&request),
            "RedriveExecution" => self.redrive_execution(&request),
            other => Err(ApiError::new(
                "UnknownOperationException",
                format!("graphetl serve does not implement {other}"),
            )),
        }
    }

    fn create_state_machine(&self, request: &Value) -> Outcome {
        let name = required(request, "name")?;
        let definition = required(request, "definition")?;
        let role_arn = required(request, "roleArn")?;
        check_name(name)?;
        let kind = request["type"].as_str().unwrap_or("STANDARD");
        if kind != "STANDARD" && kind != "EXPRESS" {
            return Err(ApiError::new(
                "ValidationException",
                format!(
                    "Value '{kind}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
                ),
            ));
        }
        let mut text = definition.to_owned();
        for (placeholder, value) in substitutions() {
            text = text.replace(&format!("${{{placeholder}}}"), &value);
        }
        let parsed = StateMachine::from_json(&text, name).map_err(|e| {
            let problems: Vec<String> = e.problems.iter().map(|p| p.to_string()).collect();
            ApiError::new(
                "InvalidDefinition",
                format!("Invalid State Machine Definition: '{}'", problems.join(", ")),
            )
        })?;
        let arn = format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}");
        let mut registry = self.registry();
        if let Some(existing) = registry.machines.iter().find(|m| m.name == name) {
            // AWS answers an identical request with the existing machine.
            if existing.definition == definition
                && existing.role_arn == role_arn
                && existing.kind == kind
            {
                return Ok(
                    json!({"stateMachineArn": existing.arn, "creationDate": existing.created}),
                );
            }
            return Err(ApiError::new(
                "StateMachineAlreadyExists",
                format!("State Machine Already Exists: '{arn}'"),
            ));
        }
        let created = now();
        registry.machines.push(Machine {
            arn: arn.clone(),
            name: name.to_owned(),
            definition: definition.to_owned(),
            role_arn: role_arn.to_owned(),
            kind: kind.to_owned(),
            created,
            parsed: Arc::new(parsed),
        });
        Ok(json!({"stateMachineArn": arn, "creationDate": created}))
    }

    fn list_state_machines(&self, request: &Value) -> Outcome {
        let registry = self.registry();
        let machines: Vec<Value> = registry
            .machines
            .iter()
            .map(|m| {
                json!({"stateMachineArn": m.arn, "name": m.name, "type": m.kind, "creationDate": m.created})
            })
            .collect();
        let (machines, next) = page(machines, request, 100)?;
        let mut body = Map::new();
        body.insert("stateMachines".into(), Value::Array(machines));
        Ok(with_token(body, next))
    }

    fn machine_json(machine: &Machine) -> Value {
        json!({
            "stateMachineArn": machine.arn,
            "name": machine.name,
            "status": "ACTIVE",
            "definition": machine.definition,
            "roleArn": machine.role_arn,
            "type": machine.kind,
            "creationDate": machine.created,
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
        })
    }

    fn no_machine(arn: &str) -> ApiError {
        ApiError::new("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
    }

    fn describe_state_machine(&self, request: &Value) -> Outcome {
        let arn = required(request, "stateMachineArn")?;
        let registry = self.registry();
        let machine =
            registry.machines.iter().find(|m| m.arn == arn).ok_or_else(|| Self::no_machine(arn))?;
        Ok(Self::machine_json(machine))
    }

    fn delete_state_machine(&self, request: &Value) -> Outcome {
        let arn = required(request, "stateMachineArn")?;
        self.registry().machines.retain(|m| m.arn != arn);
        Ok(json!({}))
    }

    fn start_execution(&self, request: &Value) -> Outcome {
        let machine_arn = required(request, "stateMachineArn")?;
        let name = match request["name"].as_str() {
            Some(name) => name.to_owned(),
            None => uuid(),
        };
        check_name(&name)?;
        let input_text = request["input"].as_str().unwrap_or("{}").to_owned();
        let input: Value = serde_json::from_str(&input_text).map_err(|e| {
            ApiError::new("InvalidExecutionInput", format!("Invalid execution input: {e}"))
        })?;
        let mut registry = self.registry();
        let machine = registry
            .machines
            .iter()
            .find(|m| m.arn == machine_arn)
            .ok_or_else(|| Self::no_machine(machine_arn))?;
        let (machine_name, parsed) = (machine.name.clone(), machine.parsed.clone());
        let arn = format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine_name}:{name}");
        if let Some(existing) = registry.executions.iter().find(|e| e.arn == arn) {
            // AWS answers a repeated StartExecution of a running one with the same input as
            // the same execution.
            let running = existing.aborted.is_none() && self.engine.kept_execution(&arn).is_none();
            if running && existing.input == input_text {
                return Ok(json!({"executionArn": arn, "startDate": existing.start}));
            }
            return Err(ApiError::new(
                "ExecutionAlreadyExists",
                format!("Execution Already Exists: '{arn}'"),
            ));
        }
        let start = now();
        let (started_arn, handle) = self.engine.start(&machine_name, parsed.clone(), input, &name);
        registry.executions.push(Started {
            arn: started_arn.clone(),
            name,
            machine_arn: machine_arn.to_owned(),
            input: input_text,
            start,
            handle,
            aborted: None,
            parsed,
            redrives: 0,
            redrive_date: None,
            redrive_task: None,
        });
        Ok(json!({"executionArn": started_arn, "startDate": start}))
    }

    fn no_execution(arn: &str) -> ApiError {
        ApiError::new("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))
    }

    fn stop_execution(&self, request: &Value) -> Outcome {
        let arn = required(request, "executionArn")?;
        if let Some(done) = self.engine.kept_execution(arn) {
            return Ok(json!({"stopDate": seconds(done.stop_millis)}));
        }
        let mut registry = self.registry();
        let started = registry
            .executions
            .iter_mut()
            .find(|e| e.arn == arn)
            .ok_or_else(|| Self::no_execution(arn))?;
        if let Some((stop, _, _)) = started.aborted {
            return Ok(json!({"stopDate": stop}));
        }
        started.handle.abort();
        if let Some(task) = &started.redrive_task {
            task.abort();
        }
        let stop = now();
        let text = |member: &str| request[member].as_str().map(str::to_owned);
        started.aborted = Some((stop, text("error"), text("cause")));
        Ok(json!({"stopDate": stop}))
    }

    /// The Map Run a child execution belongs to.
    fn map_run_of(&self, execution_arn: &str) -> Option<MapRunRecord> {
        self.engine
            .map_run_records()
            .into_iter()
            .find(|r| r.children.iter().any(|c| c == execution_arn))
    }

    fn describe_execution(&self, request: &Value) -> Outcome {
        let arn = required(request, "executionArn")?;
        if let Some(execution) = self.engine.kept_execution(arn) {
            let mut body = self.finished_json(&execution);
            let registry = self.registry();
            if let Some(started) = registry.executions.iter().find(|e| e.arn == arn) {
                if let Some(date) = started.redrive_date {
                    body["redriveDate"] = json!(date);
                }
                if started.redrives > execution.redrive_count {
                    // Redriven, not finished yet: RUNNING again, with the new count.
                    body["status"] = json!("RUNNING");
                    body["redriveCount"] = json!(started.redrives);
                    body["redriveStatus"] = json!("NOT_REDRIVABLE");
                    body["redriveStatusReason"] =
                        json!("Execution is RUNNING and cannot be redriven");
                    if let Value::Object(object) = &mut body {
                        for member in ["stopDate", "output", "outputDetails", "error", "cause"] {
                            object.remove(member);
                        }
                    }
                }
            }
            return Ok(body);
        }
        let registry = self.registry();
        let started = registry
            .executions
            .iter()
            .find(|e| e.arn == arn)
            .ok_or_else(|| Self::no_execution(arn))?;
        let mut body = json!({
            "executionArn": started.arn,
            "stateMachineArn": started.machine_arn,
            "name": started.name,
            "status": "RUNNING",
            "startDate": started.start,
            "input": started.input,
            "inputDetails": {"included": true},
            "redriveCount": 0,
            "redriveStatus": "NOT_REDRIVABLE",
            "redriveStatusReason": "Execution is RUNNING and cannot be redriven",
        });
        if let Some((stop, error, cause)) = &started.aborted {
            body["status"] = json!("ABORTED");
            body["stopDate"] = json!(stop);
            body["redriveStatus"] = json!("REDRIVABLE");
            body["redriveStatusReason"] = json!("");
            if let Some(error) = error {
                body["error"] = json!(error);
            }
            if let Some(cause) = cause {
                body["cause"] = json!(cause);
            }
        }
        Ok(body)
    }

    /// `DescribeExecution` of a finished execution.
    fn finished_json(&self, execution: &Execution) -> Value {
        let status = status_text(execution.status);
        let map_run = self.map_run_of(&execution.arn);
        let mut body = json!({
            "executionArn": execution.arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": status,
            "startDate": seconds(execution.start_millis),
            "stopDate": seconds(execution.stop_millis),
            "input": execution.input.to_string(),
            "inputDetails": {"included": true},
            "redriveCount": execution.redrive_count,
        });
        if let Some(output) = &execution.output {
            body["output"] = json!(output.to_string());
            body["outputDetails"] = json!({"included": true});
        }
        if let Some(error) = &execution.error {
            body["error"] = json!(error);
        }
        if let Some(cause) = &execution.cause {
            body["cause"] = json!(cause);
        }
        let (redrive, reason) = match (self.engine.redrive_status(&execution.arn), &map_run) {
            (Ok(Some(reason)), _) => ("NOT_REDRIVABLE", reason.to_owned()),
            (Err(_), _) if execution.status == Status::Succeeded => {
                ("NOT_REDRIVABLE", format!("Execution is {status} and cannot be redriven"))
            }
            (_, Some(_)) => ("REDRIVABLE_BY_MAP_RUN", String::new()),
            _ => ("REDRIVABLE", String::new()),
        };
        body["redriveStatus"] = json!(redrive);
        if !reason.is_empty() {
            body["redriveStatusReason"] = json!(reason);
        }
        if let Some(run) = map_run {
            body["mapRunArn"] = json!(run.arn);
        }
        body
    }

    /// `RedriveExecution`: checked at once (AWS's `ExecutionNotRedrivable` reasons), then run
    /// in the background; `DescribeExecution` says RUNNING until it ends.
    fn redrive_execution(&self, request: &Value) -> Outcome {
        let arn = required(request, "executionArn")?.to_owned();
        let mut registry = self.registry();
        let Some(started) = registry.executions.iter_mut().find(|e| e.arn == arn) else {
            return Err(match self.engine.kept_execution(&arn) {
                // A Map Run's child: AWS redrives those through their parent.
                Some(_) => ApiError::new(
                    "ExecutionNotRedrivable",
                    format!("Execution {arn} is a Map Run child: redrive its parent execution"),
                ),
                None => Self::no_execution(&arn),
            });
        };
        if started.aborted.is_some() {
            return Err(ApiError::new(
                "ExecutionNotRedrivable",
                format!(
                    "Execution {arn} was stopped; graphetl serve keeps no progress of a stopped execution, so it cannot be redriven"
                ),
            ));
        }
        let finished = self.engine.kept_execution(&arn);
        if finished.as_ref().is_none_or(|e| started.redrives > e.redrive_count) {
            return Err(ApiError::new(
                "ExecutionNotRedrivable",
                "Execution is RUNNING and cannot be redriven",
            ));
        }
        match self.engine.redrive_status(&arn) {
            Ok(None) => {}
            Ok(Some(reason)) => return Err(ApiError::new("ExecutionNotRedrivable", reason)),
            Err(e) => return Err(ApiError::new(e.code(), e.to_string())),
        }
        let date = now();
        started.redrives += 1;
        started.redrive_date = Some(date);
        let (engine, machine) = (self.engine.clone(), started.parsed.clone());
        started.redrive_task = Some(tokio::spawn(async move {
            // Checked above; a redrive that cannot start leaves the execution as it was.
            let _ = engine.redrive(&arn, &machine).await;
        }));
        Ok(json!({"redriveDate": date}))
    }

    fn describe_machine_for_execution(&self, request: &Value) -> Outcome {
        let arn = required(request, "executionArn")?;
        let machine_arn = match self.engine.kept_execution(arn) {
            Some(execution) => execution.state_machine_arn.clone(),
            None => self
                .registry()
                .executions
                .iter()
                .find(|e| e.arn == arn)
                .map(|e| e.machine_arn.clone())
                .ok_or_else(|| Self::no_execution(arn))?,
        };
        let registry = self.registry();
        let machine = registry
            .machines
            .iter()
            .find(|m| m.arn == machine_arn)
            .ok_or_else(|| Self::no_machine(&machine_arn))?;
        let mut body = Self::machine_json(machine);
        if let Value::Object(map) = &mut body {
            map.remove("status");
            map.remove("type");
            map.remove("creationDate");
            map.insert("updateDate".into(), json!(machine.created));
        }
        Ok(body)
    }

    /// One `ListExecutions` entry.
    fn list_entry(&self, arn: &str, started: Option<&Started>) -> Option<Value> {
        if let Some(execution) = self.engine.kept_execution(arn) {
            let mut entry = json!({
                "executionArn": execution.arn,
                "stateMachineArn": execution.state_machine_arn,
                "name": execution.name,
                "status": status_text(execution.status),
                "startDate": seconds(execution.start_millis),
                "stopDate": seconds(execution.stop_millis),
                "redriveCount": execution.redrive_count,
            });
            if let Some(run) = self.map_run_of(arn) {
                entry["mapRunArn"] = json!(run.arn);
            }
            return Some(entry);
        }
        let started = started?;
        let mut entry = json!({
            "executionArn": started.arn,
            "stateMachineArn": started.machine_arn,
            "name": started.name,
            "status": "RUNNING",
            "startDate": started.start,
            "redriveCount": 0,
        });
        if let Some((stop, _, _)) = started.aborted {
            entry["status"] = json!("ABORTED");
            entry["stopDate"] = json!(stop);
        }
        Some(entry)
    }

    fn list_executions(&self, request: &Value) -> Outcome {
        let machine_arn = request["stateMachineArn"].as_str();
        let map_run_arn = request["mapRunArn"].as_str();
        let mut entries: Vec<Value> = match (machine_arn, map_run_arn) {
            (Some(machine_arn), None) => {
                let registry = self.registry();
                if !registry.machines.iter().any(|m| m.arn == machine_arn) {
                    return Err(Self::no_machine(machine_arn));
                }
                // Newest first, as AWS lists them.
                registry
                    .executions
                    .iter()
                    .rev()
                    .filter(|e| e.machine_arn == machine_arn)
                    .filter_map(|e| self.list_entry(&e.arn, Some(e)))
                    .collect()
            }
            (None, Some(map_run_arn)) => {
                let run = self
                    .engine
                    .map_run_records()
                    .into_iter()
                    .find(|r| r.arn == map_run_arn)
                    .ok_or_else(|| {
                        ApiError::new(
                            "ResourceNotFound",
                            format!("Resource not found: '{map_run_arn}'"),
                        )
                    })?;
                run.children.iter().rev().filter_map(|c| self.list_entry(c, None)).collect()
            }
            _ => {
                return Err(ApiError::new(
                    "ValidationException",
                    "Exactly one of stateMachineArn and mapRunArn must be given",
                ));
            }
        };
        if let Some(filter) = request["statusFilter"].as_str() {
            entries.retain(|e| e["status"] == filter);
        }
        let (entries, next) = page(entries, request, 100)?;
        let mut body = Map::new();
        body.insert("executions".into(), Value::Array(entries));
        Ok(with_token(body, next))
    }

    fn get_execution_history(&self, request: &Value) -> Outcome {
        let arn = required(request, "executionArn")?;
        // A running execution (or one being redriven) shows its events so far.
        let history = match self.engine.live_history(arn) {
            Some(history) => history,
            None => match self.engine.kept_execution(arn) {
                Some(execution) => execution.history.clone(),
                None if self.registry().executions.iter().any(|e| e.arn == arn) => {
                    History::default()
                }
                None => return Err(Self::no_execution(arn)),
            },
        };
        let mut events: Vec<Value> = history
            .events()
            .iter()
            .map(|event| {
                let mut json = event.to_json();
                json["timestamp"] = json!(seconds(event.timestamp_millis));
                json
            })
            .collect();
        if request["reverseOrder"].as_bool() == Some(true) {
            events.reverse();
        }
        let (events, next) = page(events, request, 100)?;
        let mut body = Map::new();
        body.insert("events".into(), Value::Array(events));
        Ok(with_token(body, next))
    }

    fn list_map_runs(&self, request: &Value) -> Outcome {
        let arn = required(request, "executionArn")?;
        let known = self.engine.kept_execution(arn).is_some()
            || self.registry().executions.iter().any(|e| e.arn == arn);
        if !known {
            return Err(Self::no_execution(arn));
        }
        let runs: Vec<Value> = self
            .engine
            .map_run_records()
            .into_iter()
            .filter(|r| r.execution_arn == arn)
            .map(|r| {
                let mut run = json!({
                    "executionArn": r.execution_arn,
                    "mapRunArn": r.arn,
                    "stateMachineArn": r.state_machine_arn,
                    "startDate": seconds(r.start_millis),
                });
                if let Some(stop) = r.stop_millis {
                    run["stopDate"] = json!(seconds(stop));
                }
                run
            })
            .collect();
        let (runs, next) = page(runs, request, 100)?;
        let mut body = Map::new();
        body.insert("mapRuns".into(), Value::Array(runs));
        Ok(with_token(body, next))
    }

    fn describe_map_run(&self, request: &Value) -> Outcome {
        let arn = required(request, "mapRunArn")?;
        let run =
            self.engine.map_run_records().into_iter().find(|r| r.arn == arn).ok_or_else(|| {
                ApiError::new("ResourceNotFound", format!("Resource not found: '{arn}'"))
            })?;
        let written = self.engine.map_runs().iter().any(|m| m.arn == arn && m.manifest.is_some());
        let executions = Counts::of_executions(&run);
        let items = if run.items == run.executions {
            executions.clone()
        } else {
            // Batched: each child's input holds its batch under `Items`.
            let size = |arn: &String| {
                self.engine
                    .kept_execution(arn)
                    .map_or(0, |e| e.input["Items"].as_array().map_or(0, Vec::len))
                    as u64
            };
            let mut counts = Counts { total: run.items, ..Counts::default() };
            for child in &run.children {
                match self.engine.kept_execution(child).map(|e| e.status) {
                    Some(Status::Succeeded) => counts.succeeded += size(child),
                    Some(Status::Failed) => counts.failed += size(child),
                    Some(Status::TimedOut) => counts.timed_out += size(child),
                    None => {}
                }
            }
            counts.split_rest(&run);
            counts
        };
        let mut body = json!({
            "mapRunArn": run.arn,
            "executionArn": run.execution_arn,
            "status": run.status,
            "startDate": seconds(run.start_millis),
            "maxConcurrency": run.max_concurrency,
            "toleratedFailurePercentage": run.tolerated_failure_percentage,
            "toleratedFailureCount": run.tolerated_failure_count,
            "itemCounts": items.to_json(written),
            "executionCounts": executions.to_json(written),
            "redriveCount": run.redrive_count,
        });
        if let Some(stop) = run.stop_millis {
            body["stopDate"] = json!(seconds(stop));
        }
        Ok(body)
    }
}

/// A Map Run's `itemCounts` or `executionCounts`.
#[derive(Debug, Clone, Default)]
struct Counts {
    pending: u64,
    running: u64,
    succeeded: u64,
    failed: u64,
    timed_out: u64,
    aborted: u64,
    total: u64,
}

impl Counts {
    fn of_executions(run: &MapRunRecord) -> Counts {
        let mut counts = Counts {
            succeeded: run.succeeded,
            failed: run.failed,
            timed_out: run.timed_out,
            total: run.executions,
            ..Counts::default()
        };
        counts.split_rest(run);
        counts
    }

    /// What has not finished is running (up to the concurrency) or pending while the run
    /// runs, and pending (never started) after it stopped.
    fn split_rest(&mut self, run: &MapRunRecord) {
        let rest = self.total.saturating_sub(self.succeeded + self.failed + self.timed_out);
        if run.status == "RUNNING" {
            self.running = rest.min(run.max_concurrency.max(1));
            self.pending = rest - self.running;
        } else {
            self.pending = rest;
        }
    }

    fn to_json(&self, written: bool) -> Value {
        let finished = self.succeeded + self.failed + self.timed_out + self.aborted;
        json!({
            "pending": self.pending,
            "running": self.running,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "timedOut": self.timed_out,
            "aborted": self.aborted,
            "total": self.total,
            "resultsWritten": if written { finished } else { 0 },
            "failuresNotRedrivable": 0,
            "pendingRedrive": 0,
        })
    }
}
