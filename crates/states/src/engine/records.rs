//! What an engine keeps when [`EngineOptions::keep_records`](super::EngineOptions) is on: every
//! finished execution (children included) with its full history, and each Map Run's dates,
//! settings and child counts as `DescribeMapRun` reports them, updated while it runs. A server
//! answering the Step Functions API reads them; a one-shot run leaves them off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{Engine, Execution, Status};
use crate::history::History;

/// A Map Run as `DescribeMapRun` and `ListMapRuns` see it.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRunRecord {
    /// Map Run ARN.
    pub arn: String,
    /// The parent execution's ARN.
    pub execution_arn: String,
    /// The children's state machine ARN (`…:stateMachine:parent/Label`).
    pub state_machine_arn: String,
    /// `RUNNING`, `SUCCEEDED` or `FAILED`.
    pub status: &'static str,
    /// Start, milliseconds since the epoch.
    pub start_millis: i64,
    /// Stop, once it has ended.
    pub stop_millis: Option<i64>,
    /// The concurrency limit it ran with.
    pub max_concurrency: u64,
    /// `ToleratedFailureCount` (0 when unset).
    pub tolerated_failure_count: u64,
    /// `ToleratedFailurePercentage` (0 when unset).
    pub tolerated_failure_percentage: f64,
    /// Items read (before batching); 0 until they are read.
    pub items: u64,
    /// Child executions to run (items or batches); 0 until the items are read.
    pub executions: u64,
    /// Finished children that succeeded.
    pub succeeded: u64,
    /// Finished children that failed.
    pub failed: u64,
    /// Finished children that timed out.
    pub timed_out: u64,
    /// ARNs of the finished children, in the order they finished.
    pub children: Vec<String>,
    /// How many times the Map Run was redriven.
    pub redrive_count: u32,
}

/// The kept executions and Map Runs.
#[derive(Debug, Default)]
pub(super) struct Records {
    /// The histories of executions still running, by ARN.
    live: HashMap<String, Arc<Mutex<History>>>,
    executions: HashMap<String, Arc<Execution>>,
    order: Vec<String>,
    map_runs: Vec<MapRunRecord>,
}

impl Engine {
    /// Runs `f` on the records when they are kept.
    fn kept<T>(&self, f: impl FnOnce(&mut Records) -> T) -> Option<T> {
        if !self.options.keep_records {
            return None;
        }
        let mut records = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        Some(f(&mut records))
    }

    /// Notes (or, with `None`, forgets) the history of a running execution.
    pub(super) fn note_live(&self, arn: &str, history: Option<&Arc<Mutex<History>>>) {
        self.kept(|r| match history {
            Some(history) => {
                r.live.insert(arn.to_owned(), history.clone());
            }
            None => {
                r.live.remove(arn);
            }
        });
    }

    /// The history so far of an execution that is running (with
    /// [`super::EngineOptions::keep_records`]): what `GetExecutionHistory` shows before it ends.
    pub fn live_history(&self, arn: &str) -> Option<History> {
        let shared = self.kept(|r| r.live.get(arn).cloned()).flatten()?;
        let history = shared.lock().map(|h| h.clone()).unwrap_or_else(|p| p.into_inner().clone());
        Some(history)
    }

    /// Keeps a finished execution.
    pub(super) fn keep_execution(&self, execution: &Execution) {
        self.kept(|r| {
            if r.executions.insert(execution.arn.clone(), Arc::new(execution.clone())).is_none() {
                r.order.push(execution.arn.clone());
            }
        });
    }

    /// Notes a Map Run that has just started, or been redriven (its counts start again; its
    /// start date stays).
    pub(super) fn note_map_run_started(&self, mut run: MapRunRecord) {
        self.kept(|r| match r.map_runs.iter_mut().find(|m| m.arn == run.arn) {
            Some(earlier) => {
                run.start_millis = earlier.start_millis;
                *earlier = run;
            }
            None => r.map_runs.push(run),
        });
    }

    /// Updates a Map Run with `f`.
    pub(super) fn note_map_run(&self, arn: &str, f: impl FnOnce(&mut MapRunRecord)) {
        self.kept(|r| {
            if let Some(run) = r.map_runs.iter_mut().find(|m| m.arn == arn) {
                f(run);
            }
        });
    }

    /// Counts a finished child of a Map Run.
    pub(super) fn note_map_child(&self, arn: &str, child: &Execution) {
        self.note_map_run(arn, |run| {
            match child.status {
                Status::Succeeded => run.succeeded += 1,
                Status::Failed => run.failed += 1,
                Status::TimedOut => run.timed_out += 1,
            }
            run.children.push(child.arn.clone());
        });
    }

    /// A kept execution by ARN (with [`super::EngineOptions::keep_records`]).
    pub fn kept_execution(&self, arn: &str) -> Option<Arc<Execution>> {
        self.kept(|r| r.executions.get(arn).cloned()).flatten()
    }

    /// Every kept execution, in the order they finished.
    pub fn kept_executions(&self) -> Vec<Arc<Execution>> {
        self.kept(|r| r.order.iter().filter_map(|a| r.executions.get(a).cloned()).collect())
            .unwrap_or_default()
    }

    /// Every Map Run started so far, running ones included, in start order (with
    /// [`super::EngineOptions::keep_records`]).
    pub fn map_run_records(&self) -> Vec<MapRunRecord> {
        self.kept(|r| r.map_runs.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Engine, EngineOptions};
    use crate::asl::StateMachine;

    #[tokio::test(start_paused = true)]
    async fn kept_records_hold_every_history_and_the_map_run_counts() {
        let definition = json!({"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "MaxConcurrency": 2, "ToleratedFailureCount": 1,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Check",
                "States": {
                    "Check": {"Type": "Choice", "Choices": [
                        {"Variable": "$.bad", "BooleanEquals": true, "Next": "Boom"}
                    ], "Default": "Ok"},
                    "Boom": {"Type": "Fail", "Error": "Item.Bad", "Cause": "bad item"},
                    "Ok": {"Type": "Succeed"}
                }
            },
            "End": true
        }}});
        let machine = match StateMachine::from_json(&definition.to_string(), "t.asl.json") {
            Ok(machine) => machine,
            Err(e) => panic!("{e}"),
        };
        let input = json!([{"bad": false}, {"bad": true}, {"bad": false}]);
        let off = Engine::builder().build();
        off.run("m", &machine, input.clone(), "e0").await;
        assert!(off.kept_executions().is_empty() && off.map_run_records().is_empty());

        let options = EngineOptions { keep_records: true, ..EngineOptions::default() };
        let engine = Engine::builder().options(options).build();
        let execution = engine.run("m", &machine, input, "e1").await;
        let kept = engine.kept_executions();
        assert_eq!(kept.len(), 4, "three children and the parent");
        let parent = engine.kept_execution(&execution.arn);
        assert_eq!(parent.map(|p| p.history.len()), Some(execution.history.len()));
        let runs = engine.map_run_records();
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(run.status, "SUCCEEDED");
        assert_eq!(run.execution_arn, execution.arn);
        assert_eq!(
            run.state_machine_arn,
            "arn:aws:states:us-east-1:123456789012:stateMachine:m/Each"
        );
        assert_eq!((run.items, run.executions, run.max_concurrency), (3, 3, 2));
        assert_eq!((run.succeeded, run.failed, run.timed_out), (2, 1, 0));
        assert_eq!(run.tolerated_failure_count, 1);
        assert!(run.stop_millis.is_some_and(|stop| stop >= run.start_millis));
        assert_eq!(run.children.len(), 3);
        for child in &run.children {
            let kept = engine.kept_execution(child);
            assert!(kept.is_some_and(|k| !k.history.is_empty()), "{child}");
        }
    }
}
