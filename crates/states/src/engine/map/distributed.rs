//! Distributed Map: a Map Run (`MapRunStarted` … `MapRunSucceeded`/`MapRunFailed`) whose items
//! or batches each run as a child execution with its own history (STANDARD or EXPRESS), up to
//! `MaxConcurrency` at once (10,000 by default), stopping once failures pass
//! `ToleratedFailureCount`/`ToleratedFailurePercentage`. The parent's history holds six events
//! whatever the item count.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use serde_json::{Value, json};

use super::{MapCall, batcher};
use crate::asl::{Dynamic, ExecutionType, MapMode};
use crate::engine::execution::{Ctx, Names, json_map};
use crate::engine::progress::{ChildOutcome, ChildSlot, MapRunProgress};
use crate::engine::{Engine, Execution, FailedItem, MapRun, MapRunRecord, Status};
use crate::error::{StatesError, names};
use crate::history::History;
use crate::resolve::BoxFuture;

/// Distributed Map children run at most this many at once when nothing else is set.
const DISTRIBUTED_MAP_DEFAULT_CONCURRENCY: usize = 10_000;

/// The identity of one Map Run.
pub(super) struct RunIds {
    /// The children's state machine name, `parent/Label`.
    child_machine: String,
    /// The Map Run ARN.
    pub(super) arn: String,
    /// Its last `:`-separated part (the ResultWriter folder).
    pub(super) id: String,
}

/// How many failed children a Map Run tolerates.
struct Tolerance {
    count: Option<u64>,
    percentage: Option<f64>,
}

impl Tolerance {
    /// `ToleratedFailureCount(Path)` and `ToleratedFailurePercentage(Path)`.
    fn of(call: &MapCall<'_>) -> Result<Tolerance, StatesError> {
        let count = match &call.map.tolerated_failure_count {
            Some(Dynamic::Fixed(n)) => Some(*n),
            Some(dynamic) => {
                Some(call.dynamic("ToleratedFailureCount", dynamic)?.as_u64().ok_or_else(|| {
                    StatesError::new(names::RUNTIME, "ToleratedFailureCount cannot be negative.")
                })?)
            }
            None => None,
        };
        let percentage = match &call.map.tolerated_failure_percentage {
            Some(Dynamic::Fixed(p)) => Some(*p),
            Some(dynamic) => {
                let value = call
                    .dynamic("ToleratedFailurePercentage", dynamic)?
                    .as_f64()
                    .filter(|p| (0.0..=100.0).contains(p));
                Some(value.ok_or_else(|| {
                    StatesError::new(
                        names::RUNTIME,
                        "ToleratedFailurePercentage must be between 0 and 100.",
                    )
                })?)
            }
            None => None,
        };
        Ok(Tolerance { count, percentage })
    }

    /// Whether `failed` of `total` children is more than tolerated (any failure when nothing
    /// is tolerated).
    fn exceeded(&self, failed: u64, total: u64) -> bool {
        let by_count = self.count.is_some_and(|c| failed > c);
        let by_pct = self
            .percentage
            .is_some_and(|p| total > 0 && (failed as f64) * 100.0 / (total as f64) > p);
        let strict = self.count.is_none() && self.percentage.is_none() && failed > 0;
        by_count || by_pct || strict
    }
}

impl ChildOutcome {
    /// What a finished child did.
    fn of(execution: &Execution) -> ChildOutcome {
        ChildOutcome {
            arn: execution.arn.clone(),
            name: execution.name.clone(),
            output: execution.output.clone(),
            error: execution.error.clone(),
            cause: execution.cause.clone(),
            status: execution.status.as_str().to_owned(),
            start_millis: execution.start_millis,
            stop_millis: execution.stop_millis,
            redrive_count: execution.redrive_count,
        }
    }

    /// The child as an execution without its history (it is not run again).
    fn execution(&self, state_machine_arn: &str, input: &Value) -> Execution {
        let status = match self.status.as_str() {
            "SUCCEEDED" => Status::Succeeded,
            "TIMED_OUT" => Status::TimedOut,
            _ => Status::Failed,
        };
        Execution {
            arn: self.arn.clone(),
            name: self.name.clone(),
            state_machine_arn: state_machine_arn.to_owned(),
            status,
            input: input.clone(),
            output: self.output.clone(),
            error: self.error.clone(),
            cause: self.cause.clone(),
            start_millis: self.start_millis,
            stop_millis: self.stop_millis,
            redrive_count: self.redrive_count,
            history: History::new(),
        }
    }
}

/// What the children of a Map Run did.
pub(super) struct Children {
    /// Finished children, in item order.
    pub(super) finished: Vec<(usize, Execution)>,
    /// Inputs of the items or batches never started.
    pub(super) never_started: Vec<Value>,
    failed: u64,
    stopped: bool,
}

impl Engine {
    /// Runs a Distributed Map: the Map Run's events around its body. When a redrive finds the
    /// Map Run of the previous attempt, it is redriven (same ARN, `MapRunRedriven`).
    pub(super) async fn run_distributed_map(
        self: &Arc<Self>,
        ctx: &Ctx,
        call: &MapCall<'_>,
    ) -> Result<Value, StatesError> {
        let key = call.path.child(&call.state.name, 0);
        let previous = ctx.previous(|p| p.take_map_run(&key));
        let length =
            if call.map.item_reader.is_some() { 0 } else { call.items().map_or(0, |i| i.len()) };
        self.push(ctx, "MapStateStarted", Some(json_map(json!({"length": length}))))?;
        let label = call.map.label.clone().unwrap_or_else(|| call.state.name.clone());
        let id = match &previous {
            Some(run) => run.id.clone(),
            None => self.child_name(),
        };
        let ids = RunIds {
            child_machine: format!("{}/{label}", ctx.machine_name),
            arn: format!(
                "arn:aws:states:{}:{}:mapRun:{}/{label}:{id}",
                self.options.region, self.options.account, ctx.machine_name
            ),
            id,
        };
        // Read before the Map Run starts: AWS fails a bad `ToleratedFailure…Path` right after
        // MapStateStarted (`test_map_state_tolerated_failure_count_path`).
        let tolerance = Tolerance::of(call)?;
        let redrive_count = match &previous {
            Some(run) => {
                let count = run.redrive_count.saturating_add(1);
                let details = json!({"mapRunArn": ids.arn, "redriveCount": count});
                self.push(ctx, "MapRunRedriven", Some(json_map(details)))?;
                count
            }
            None => {
                self.push(ctx, "MapRunStarted", Some(json_map(json!({"mapRunArn": ids.arn}))))?;
                0
            }
        };
        self.note_map_run_started(MapRunRecord {
            arn: ids.arn.clone(),
            execution_arn: ctx.arn.clone(),
            state_machine_arn: self.machine_arn(&ids.child_machine),
            status: "RUNNING",
            start_millis: self.now_millis(),
            stop_millis: None,
            max_concurrency: 0,
            tolerated_failure_count: tolerance.count.unwrap_or(0),
            tolerated_failure_percentage: tolerance.percentage.unwrap_or(0.0),
            items: 0,
            executions: 0,
            succeeded: 0,
            failed: 0,
            timed_out: 0,
            children: Vec::new(),
            redrive_count,
        });
        let arn = ids.arn.clone();
        let run = Run { ids: &ids, tolerance: &tolerance, previous, redrive_count };
        let result = self.distributed_body(ctx, call, run).await;
        let stop = self.now_millis();
        self.note_map_run(&arn, |run| {
            run.status = if result.is_ok() { "SUCCEEDED" } else { "FAILED" };
            run.stop_millis = Some(stop);
        });
        match result {
            Ok(output) => {
                self.push(ctx, "MapRunSucceeded", None)?;
                Ok(output)
            }
            Err(error) => {
                self.push(
                    ctx,
                    "MapRunFailed",
                    Some(json_map(json!({"error": error.error, "cause": error.cause}))),
                )?;
                Err(error)
            }
        }
    }

    /// Reads and batches the items (a redrive keeps the previous attempt's), runs the
    /// children, writes the results, records the run and what each child did.
    async fn distributed_body(
        self: &Arc<Self>,
        ctx: &Ctx,
        call: &MapCall<'_>,
        run: Run<'_>,
    ) -> Result<Value, StatesError> {
        let Run { ids, tolerance, previous, redrive_count } = run;
        let (inputs, slots, item_count) = match previous {
            Some(previous) => (previous.inputs, previous.children, previous.items),
            None => {
                let items = self.read_items(call).await?;
                let selected = call.select_items(&items)?;
                let item_count = selected.len() as u64;
                (batcher::batches(call, selected)?, Vec::new(), item_count)
            }
        };
        let total = inputs.len() as u64;
        let limit = call.concurrency(DISTRIBUTED_MAP_DEFAULT_CONCURRENCY)?;
        self.note_map_run(&ids.arn, |run| {
            run.items = item_count;
            run.executions = total;
            run.max_concurrency = limit as u64;
        });
        let children = self.run_children(call, ids, &inputs, &slots, limit, tolerance).await;
        let mut slots = vec![ChildSlot::Pending; inputs.len()];
        for (index, execution) in &children.finished {
            if let Some(slot) = slots.get_mut(*index) {
                let outcome = ChildOutcome::of(execution);
                *slot = if execution.status == Status::Succeeded {
                    ChildSlot::Succeeded(outcome)
                } else {
                    ChildSlot::Failed(outcome)
                };
            }
        }
        let key = call.path.child(&call.state.name, 0);
        let progress = MapRunProgress {
            arn: ids.arn.clone(),
            id: ids.id.clone(),
            inputs,
            items: item_count,
            children: slots,
            redrive_count,
        };
        ctx.progress(|p| p.set_map_run(&key, progress));
        let manifest = match &call.map.result_writer {
            Some(writer) => Some(self.write_results(writer, call, ids, &children).await?),
            None => None,
        };
        let Children { finished, failed, stopped, .. } = children;
        let counts = (failed, total, redrive_count);
        self.record_map_run(ctx, ids, &finished, counts, manifest.clone());
        if stopped || tolerance.exceeded(failed, total) {
            return Err(StatesError::new(
                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                format!(
                    "The specified tolerated failure threshold was exceeded: {failed} of {total} child executions failed"
                ),
            ));
        }
        Ok(match manifest {
            Some((bucket, key)) => {
                json!({"MapRunArn": ids.arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}})
            }
            None => Value::Array(
                finished
                    .into_iter()
                    .map(|(_, e)| {
                        e.output.unwrap_or_else(|| json!({"Error": e.error, "Cause": e.cause}))
                    })
                    .collect(),
            ),
        })
    }

    /// Runs one child execution per input, `limit` at once, until all finish or the failures
    /// pass the tolerance. With the previous attempt's `slots` (a redrive), a succeeded child
    /// stands, a failed Standard child is redriven and the rest start.
    async fn run_children<'a>(
        self: &'a Arc<Self>,
        call: &'a MapCall<'_>,
        ids: &'a RunIds,
        inputs: &'a [Value],
        slots: &'a [ChildSlot],
        limit: usize,
        tolerance: &Tolerance,
    ) -> Children {
        let total = inputs.len() as u64;
        let processor = &call.map.processor;
        let express = matches!(
            call.map.mode,
            MapMode::Distributed { execution_type: ExecutionType::Express }
        );
        let child_machine = ids.child_machine.as_str();
        let machine_arn = self.machine_arn(child_machine);
        let machine_arn = &machine_arn;
        // Over indices, not `(index, &input)` pairs: a closure taking a reference makes the
        // stream's future not `Send` for every lifetime.
        let children = (0..inputs.len()).map(move |index| {
            let input = &inputs[index];
            let child: BoxFuture<'a, (usize, Execution)> = match slots.get(index) {
                Some(ChildSlot::Succeeded(outcome)) => {
                    let execution = outcome.execution(machine_arn, input);
                    Box::pin(async move { (index, execution) })
                }
                Some(ChildSlot::Failed(outcome)) if !express => {
                    let outcome = outcome.clone();
                    let machine_arn = machine_arn.clone();
                    Box::pin(async move {
                        // A child that cannot be redriven (its history is full) stays failed.
                        match self.redrive(&outcome.arn, processor).await {
                            Ok(execution) => (index, execution),
                            Err(_) => (index, outcome.execution(&machine_arn, input)),
                        }
                    })
                }
                _ => {
                    // Named when the stream pulls the item, as before: names draw from the
                    // run's random numbers in the order children start.
                    let name = self.child_name();
                    let arn = format!(
                        "arn:aws:states:{}:{}:execution:{child_machine}:{name}",
                        self.options.region, self.options.account
                    );
                    let machine_arn = machine_arn.clone();
                    let input = input.clone();
                    Box::pin(async move {
                        let names = Names { machine: child_machine, name: &name, arn, machine_arn };
                        (index, self.run_execution(names, processor, input, express).await)
                    })
                }
            };
            child
        });
        let mut stream = futures::stream::iter(children).buffer_unordered(limit.max(1));
        let mut finished: Vec<(usize, Execution)> = Vec::new();
        let mut failed = 0u64;
        let mut stopped = false;
        while let Some((index, execution)) = stream.next().await {
            if execution.status != Status::Succeeded {
                failed += 1;
            }
            self.note_map_child(&ids.arn, &execution);
            finished.push((index, execution));
            if tolerance.exceeded(failed, total) {
                stopped = true;
                break;
            }
        }
        drop(stream);
        finished.sort_by_key(|(index, _)| *index);
        let started: HashSet<usize> = finished.iter().map(|(i, _)| *i).collect();
        let never_started = inputs
            .iter()
            .enumerate()
            .filter(|(i, _)| !started.contains(i))
            .map(|(_, input)| input.clone())
            .collect();
        Children { finished, never_started, failed, stopped }
    }

    /// Adds the run to [`Engine::map_runs`] (a redriven run replaces its earlier entry).
    fn record_map_run(
        &self,
        ctx: &Ctx,
        ids: &RunIds,
        finished: &[(usize, Execution)],
        (failed, total, redrive_count): (u64, u64, u32),
        manifest: Option<(String, String)>,
    ) {
        let succeeded =
            finished.iter().filter(|(_, e)| e.status == Status::Succeeded).count() as u64;
        let failed_items = finished
            .iter()
            .filter(|(_, e)| e.status != Status::Succeeded)
            .map(|(_, e)| FailedItem {
                execution_arn: e.arn.clone(),
                input: e.input.clone(),
                status: e.status,
                error: e.error.clone(),
                cause: e.cause.clone(),
            })
            .collect();
        let run = MapRun {
            arn: ids.arn.clone(),
            execution_arn: ctx.arn.clone(),
            succeeded,
            failed,
            pending: total - finished.len() as u64,
            manifest,
            failed_items,
            redrive_count,
        };
        if let Ok(mut runs) = self.map_runs.lock() {
            match runs.iter_mut().find(|r| r.arn == run.arn) {
                Some(existing) => *existing = run,
                None => runs.push(run),
            }
        }
    }
}

/// One Map Run attempt: its identity, its tolerance and, when redriven, the previous attempt.
struct Run<'a> {
    ids: &'a RunIds,
    tolerance: &'a Tolerance,
    previous: Option<MapRunProgress>,
    redrive_count: u32,
}
