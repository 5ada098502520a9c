//! Child executions started by `states:startExecution` tasks: fire-and-forget, `.sync` (the
//! child's `DescribeExecution` with string `Input`/`Output`) and `.sync:2` (parsed JSON). The
//! child is a registered state machine and gets its own history.

use std::sync::Arc;

use serde_json::{Value, json};

use super::execution::{Ctx, json_map};
use super::{Engine, Execution, Status};
use crate::asl::ExecMode;
use crate::error::{StatesError, names};
use crate::resolve::resolve_name;

/// A finished execution as `DescribeExecution` shows it; `parsed` keeps `Input`/`Output` as
/// JSON (`.sync:2`) instead of strings (`.sync`).
pub(super) fn describe(child: &Execution, parsed: bool, engine: &Engine) -> Value {
    let encode = |v: &Value| if parsed { v.clone() } else { json!(v.to_string()) };
    let mut description = json!({
        "ExecutionArn": child.arn,
        "Input": encode(&child.input),
        "InputDetails": {"Included": true},
        "Name": child.name,
        "StartDate": engine.iso(child.start_millis),
        "StateMachineArn": child.state_machine_arn,
        "Status": child.status.as_str(),
        "StopDate": engine.iso(child.stop_millis),
    });
    if let Value::Object(object) = &mut description {
        match &child.output {
            Some(output) => {
                object.insert("Output".into(), encode(output));
                object.insert("OutputDetails".into(), json!({"Included": true}));
            }
            None => {
                object.insert("Error".into(), json!(child.error));
                object.insert("Cause".into(), json!(child.cause));
            }
        }
    }
    description
}

impl Engine {
    /// Starts the child execution a `states:startExecution` task asks for.
    pub(super) async fn start_child(
        self: &Arc<Self>,
        ctx: &Ctx,
        mode: ExecMode,
        parameters: Value,
    ) -> Result<Value, StatesError> {
        let reference =
            parameters.get("StateMachineArn").and_then(Value::as_str).unwrap_or_default();
        let machine_name = resolve_name(reference);
        let Some(machine) = self.machines.get(&machine_name).cloned() else {
            return Err(StatesError::new(
                "StepFunctions.StateMachineDoesNotExistException",
                format!(
                    "State Machine Does Not Exist: '{reference}' (no local state machine is registered as \"{machine_name}\")"
                ),
            ));
        };
        let input = parameters.get("Input").cloned().unwrap_or_else(|| json!({}));
        let name = parameters
            .get("Name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| self.child_name());
        let arn = self.execution_arn(&machine_name, &name);
        let start_iso = self.iso(self.now_millis());
        if mode == ExecMode::FireAndForget {
            let engine = self.clone();
            tokio::spawn(async move {
                engine.run(&machine_name, &machine, input, &name).await;
            });
            return Ok(json!({"ExecutionArn": arn, "StartDate": start_iso}));
        }
        self.push(ctx, "TaskSubmitted", Some(json_map(json!({
            "resourceType": "states",
            "resource": if mode == ExecMode::Sync { "startExecution.sync" } else { "startExecution.sync:2" },
            "output": json!({"ExecutionArn": arn, "StartDate": start_iso}).to_string(),
            "outputDetails": {"truncated": false},
        }))))?;
        let child = self.run(&machine_name, &machine, input, &name).await;
        let description = describe(&child, mode == ExecMode::Sync2, self);
        match child.status {
            Status::Succeeded => Ok(description),
            _ => Err(StatesError::new(names::TASK_FAILED, description.to_string())),
        }
    }
}
