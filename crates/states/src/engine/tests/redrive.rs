//! Redrive as a caller uses it: a run fails, the cause is fixed, the same execution is
//! redriven and only what had not finished runs again, in the same history.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::machine;
use crate::engine::{Engine, EngineOptions, Execution, RedriveError, Status};
use crate::resolve::{FunctionError, Functions};

/// A function `Work` that echoes its payload, failing with `Work.Broken` for payloads whose
/// `bad` is true until `fixed` is set; it counts its calls per payload.
struct Work {
    fixed: Arc<AtomicBool>,
    calls: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl Work {
    fn new() -> Work {
        Work {
            fixed: Arc::new(AtomicBool::new(false)),
            calls: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    fn functions(&self) -> Functions {
        let (fixed, calls) = (self.fixed.clone(), self.calls.clone());
        let mut functions = Functions::new();
        functions.register(
            "Work",
            Arc::new(move |payload: Value| {
                let (fixed, calls) = (fixed.clone(), calls.clone());
                async move {
                    if let Ok(mut calls) = calls.lock() {
                        *calls.entry(payload.to_string()).or_default() += 1;
                    }
                    if payload["bad"] == json!(true) && !fixed.load(Ordering::SeqCst) {
                        return Err(FunctionError::new("Work.Broken", "broken until fixed"));
                    }
                    Ok(payload)
                }
            }),
            None,
        );
        functions
    }

    fn fix(&self) {
        self.fixed.store(true, Ordering::SeqCst);
    }

    /// How many times the function saw each payload.
    fn calls(&self) -> BTreeMap<String, u32> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn total_calls(&self) -> u32 {
        self.calls().values().sum()
    }
}

fn work_task(extra: Value) -> Value {
    let mut task = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "Work", "Payload.$": "$"},
        "OutputPath": "$.Payload",
    });
    if let (Value::Object(task), Value::Object(extra)) = (&mut task, extra) {
        task.extend(extra);
    }
    task
}

fn engine(work: &Work) -> Arc<Engine> {
    Engine::builder().functions(work.functions()).build()
}

async fn redriven(engine: &Arc<Engine>, first: &Execution, definition: &Value) -> Execution {
    match engine.redrive(&first.arn, &machine(definition.clone())).await {
        Ok(execution) => execution,
        Err(e) => panic!("redrive refused: {e}"),
    }
}

/// The event types after the last `ExecutionRedriven`.
fn after_redrive(execution: &Execution) -> Vec<&'static str> {
    let kinds = execution.history.kinds();
    let at = kinds.iter().rposition(|k| *k == "ExecutionRedriven").map_or(0, |i| i + 1);
    kinds[at..].to_vec()
}

fn entered(execution: &Execution, state: &str) -> usize {
    execution
        .history
        .events()
        .iter()
        .filter(|e| {
            e.kind.ends_with("StateEntered")
                && e.details.as_ref().and_then(|d| d["name"].as_str()) == Some(state)
        })
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_redrive_continues_at_the_failed_state_with_its_input_in_the_same_history() {
    let work = Work::new();
    let engine = engine(&work);
    let definition = json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Parameters": {"bad": true, "n.$": "$.n"}, "Next": "Do"},
        "Do": work_task(json!({"Next": "Report"})),
        "Report": {"Type": "Pass", "Parameters": {
            "n.$": "$.n", "redrives.$": "$$.Execution.RedriveCount"}, "End": true}
    }});
    let first = engine.run("m", &machine(definition.clone()), json!({"n": 7}), "e1").await;
    assert_eq!(first.status, Status::Failed);
    assert_eq!(first.error.as_deref(), Some("Work.Broken"));
    work.fix();
    let second = redriven(&engine, &first, &definition).await;
    assert_eq!(second.status, Status::Succeeded, "{:?}", second.cause);
    assert_eq!(second.arn, first.arn);
    assert_eq!(second.redrive_count, 1);
    assert_eq!(second.output, Some(json!({"n": 7, "redrives": 1})));
    // The same history goes on: the first attempt's events, then the redrive's.
    assert_eq!(&second.history.events()[..first.history.len()], first.history.events());
    let redrive_event = &second.history.events()[first.history.len()];
    assert_eq!(redrive_event.kind, "ExecutionRedriven");
    assert_eq!(redrive_event.details, Some(json!({"redriveCount": 1})));
    assert_eq!(
        after_redrive(&second),
        [
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    // Prepare ran once; Do got the input it had the first time.
    assert_eq!(entered(&second, "Prepare"), 1);
    assert_eq!(work.calls().get(&json!({"bad": true, "n": 7}).to_string()), Some(&2));
    let described = engine.describe_execution(&first.arn);
    assert_eq!(described.map(|d| (d.status, d.redrive_count)), Some(("SUCCEEDED", 1)));
}

#[tokio::test(start_paused = true)]
async fn an_inline_map_runs_again_only_the_iterations_that_had_not_finished() {
    let work = Work::new();
    let engine = engine(&work);
    let definition = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map",
        "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "Do", "States": {"Do": work_task(json!({"End": true}))}},
        "End": true
    }}});
    let items: Vec<Value> = (0..5).map(|i| json!({"i": i, "bad": i == 2})).collect();
    let first = engine.run("m", &machine(definition.clone()), json!(items), "e1").await;
    assert_eq!(first.status, Status::Failed);
    // One at a time: items 0 and 1 succeeded, 2 failed, 3 and 4 never started.
    assert_eq!(work.total_calls(), 3);
    work.fix();
    let second = redriven(&engine, &first, &definition).await;
    assert_eq!(second.status, Status::Succeeded, "{:?}", second.cause);
    assert_eq!(second.output, Some(json!(items)));
    let calls = work.calls();
    for (i, item) in items.iter().enumerate() {
        let expected = if i == 2 { 2 } else { 1 };
        assert_eq!(calls.get(&item.to_string()), Some(&expected), "item {i}");
    }
    let redrive_events = after_redrive(&second);
    let iterations = redrive_events.iter().filter(|k| **k == "MapIterationStarted").count();
    assert_eq!(iterations, 3, "{redrive_events:?}");
    assert_eq!(redrive_events[..2], ["MapStateEntered", "MapStateStarted"]);
}

#[tokio::test(start_paused = true)]
async fn a_parallel_runs_again_only_its_failed_branches() {
    let work = Work::new();
    let engine = engine(&work);
    let branch = |bad: bool| {
        let (shape, work) = (format!("Shape{bad}"), format!("Do{bad}"));
        json!({"StartAt": shape, "States": {
            shape.clone(): {"Type": "Pass", "Parameters": {"bad": bad}, "Next": work},
            work.clone(): work_task(json!({"End": true}))
        }})
    };
    let definition = json!({"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "Branches": [branch(false), branch(true)], "End": true
    }}});
    let first = engine.run("m", &machine(definition.clone()), json!({}), "e1").await;
    assert_eq!(first.status, Status::Failed);
    work.fix();
    let second = redriven(&engine, &first, &definition).await;
    assert_eq!(second.status, Status::Succeeded, "{:?}", second.cause);
    assert_eq!(second.output, Some(json!([{"bad": false}, {"bad": true}])));
    let calls = work.calls();
    assert_eq!(calls.get(&json!({"bad": false}).to_string()), Some(&1));
    assert_eq!(calls.get(&json!({"bad": true}).to_string()), Some(&2));
    // The failed branch continues at its failed Task: its Pass does not run again.
    let redrive_events = after_redrive(&second);
    assert!(!redrive_events.contains(&"PassStateEntered"), "{redrive_events:?}");
}

fn distributed(tolerated: Value) -> Value {
    json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map",
        "MaxConcurrency": 1,
        "ToleratedFailureCount": tolerated,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Shape",
            "States": {
                "Shape": {"Type": "Pass", "Next": "Do"},
                "Do": work_task(json!({"End": true}))
            }
        },
        "End": true
    }}})
}

#[tokio::test(start_paused = true)]
async fn a_distributed_map_redrives_its_map_run_failed_children_and_starts_the_rest() {
    let work = Work::new();
    let engine = engine(&work);
    let definition = distributed(json!(0));
    let items: Vec<Value> = (0..4).map(|i| json!({"i": i, "bad": i == 1})).collect();
    let first = engine.run("m", &machine(definition.clone()), json!(items), "e1").await;
    assert_eq!(first.status, Status::Failed);
    assert_eq!(first.error.as_deref(), Some("States.ExceedToleratedFailureThreshold"));
    let runs = engine.map_runs();
    assert_eq!(runs.len(), 1);
    let (run_arn, failed_child) =
        (runs[0].arn.clone(), runs[0].failed_items[0].execution_arn.clone());
    assert_eq!((runs[0].succeeded, runs[0].failed, runs[0].pending), (1, 1, 2));
    work.fix();
    let second = redriven(&engine, &first, &definition).await;
    assert_eq!(second.status, Status::Succeeded, "{:?}", second.cause);
    assert_eq!(second.output, Some(json!(items)));
    // The Map Run is redriven under its ARN, not started again.
    let redrive_events = after_redrive(&second);
    assert!(redrive_events.contains(&"MapRunRedriven"), "{redrive_events:?}");
    assert!(!redrive_events.contains(&"MapRunStarted"), "{redrive_events:?}");
    let redriven_run = second
        .history
        .events()
        .iter()
        .find(|e| e.kind == "MapRunRedriven")
        .and_then(|e| e.details.clone());
    assert_eq!(redriven_run, Some(json!({"mapRunArn": run_arn, "redriveCount": 1})));
    let runs = engine.map_runs();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].succeeded, runs[0].failed, runs[0].pending), (4, 0, 0));
    assert_eq!(runs[0].redrive_count, 1);
    // Item 0 ran once, item 1 twice (in the same child execution, redriven), 2 and 3 once.
    let calls = work.calls();
    for (i, item) in items.iter().enumerate() {
        let expected = if i == 1 { 2 } else { 1 };
        assert_eq!(calls.get(&item.to_string()), Some(&expected), "item {i}");
    }
    let child = engine.describe_execution(&failed_child);
    assert_eq!(child.map(|c| (c.status, c.redrive_count)), Some(("SUCCEEDED", 1)));
    let children = engine.executions().into_iter().filter(|e| e.state_machine == "m/Each").count();
    assert_eq!(children, 4, "one child per item, the failed one redriven in place");
}

#[tokio::test(start_paused = true)]
async fn a_redrive_that_fails_again_can_be_redriven_again() {
    let work = Work::new();
    let engine = engine(&work);
    let definition = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "Do", "States": {"Do": work_task(json!({"End": true}))}},
        "End": true
    }}});
    let items = json!([{"bad": false}, {"bad": true}]);
    let first = engine.run("m", &machine(definition.clone()), items.clone(), "e1").await;
    let second = redriven(&engine, &first, &definition).await;
    assert_eq!((second.status, second.redrive_count), (Status::Failed, 1));
    work.fix();
    let third = redriven(&engine, &second, &definition).await;
    assert_eq!((third.status, third.redrive_count), (Status::Succeeded, 2));
    assert_eq!(third.output, Some(items));
    // The good item ran once across the three attempts.
    assert_eq!(work.calls().get(&json!({"bad": false}).to_string()), Some(&1));
    let redrives: Vec<Option<Value>> = third
        .history
        .events()
        .iter()
        .filter(|e| e.kind == "ExecutionRedriven")
        .map(|e| e.details.clone())
        .collect();
    assert_eq!(redrives, [Some(json!({"redriveCount": 1})), Some(json!({"redriveCount": 2}))]);
}

#[tokio::test(start_paused = true)]
async fn what_cannot_be_redriven_is_refused_with_aws_reasons() {
    let work = Work::new();
    let engine = engine(&work);
    let ok = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let done = engine.run("m", &machine(ok.clone()), json!({}), "ok").await;
    let refused = engine.redrive(&done.arn, &machine(ok.clone())).await.map(|e| e.status);
    assert_eq!(
        refused,
        Err(RedriveError::NotRedrivable {
            arn: done.arn.clone(),
            reason: "Execution is SUCCEEDED and cannot be redriven".into()
        })
    );
    let unknown = engine
        .redrive("arn:aws:states:us-east-1:123456789012:execution:m:nope", &machine(ok))
        .await;
    assert_eq!(unknown.map(|e| e.status).map_err(|e| e.code()), Err("ExecutionDoesNotExist"));

    let failing = json!({"StartAt": "Do", "States": {"Do": work_task(json!({"End": true}))}});
    let failed = engine.run("m", &machine(failing.clone()), json!({"bad": true}), "late").await;
    assert_eq!(engine.redrive_status(&failed.arn), Ok(None));
    tokio::time::advance(std::time::Duration::from_secs(15 * 24 * 3600)).await;
    let late = engine.redrive(&failed.arn, &machine(failing)).await.map(|e| e.status);
    assert_eq!(
        late.map_err(|e| e.to_string()),
        Err(format!(
            "Execution {} cannot be redriven: Execution redrivable period exceeded",
            failed.arn
        ))
    );
}

#[tokio::test(start_paused = true)]
async fn an_execution_at_the_history_quota_cannot_be_redriven() {
    let engine = Engine::builder().build();
    // 12,500 iterations of four events each pass the 25,000-event quota.
    let definition = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
        "End": true
    }}});
    let items: Vec<Value> = (0..12_500).map(|i| json!(i)).collect();
    let full = engine.run("m", &machine(definition.clone()), json!(items), "full").await;
    assert_eq!(full.status, Status::Failed);
    assert_eq!(
        engine.redrive_status(&full.arn),
        Ok(Some("Execution history event limit exceeded"))
    );
}

#[tokio::test(start_paused = true)]
async fn the_quota_counts_the_events_of_every_attempt() {
    let work = Work::new();
    let options = EngineOptions { history_limit: 24, ..EngineOptions::default() };
    let engine = Engine::builder().functions(work.functions()).options(options).build();
    let definition = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map",
        "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "Do", "States": {"Do": work_task(json!({"End": true}))}},
        "End": true
    }}});
    // Each iteration records 7 events: the first attempt fails in the second one.
    let items = json!([{"bad": false}, {"bad": true}, {"bad": false}, {"bad": false}]);
    let first = engine.run("m", &machine(definition.clone()), items, "e1").await;
    assert_eq!(first.status, Status::Failed);
    work.fix();
    let second = redriven(&engine, &first, &definition).await;
    assert_eq!(second.status, Status::Failed);
    assert_eq!(second.cause.as_deref(), Some(crate::history::QUOTA_CAUSE));
    assert_eq!(second.history.len(), 25, "24 events and the final ExecutionFailed");
}

#[tokio::test(start_paused = true)]
async fn saved_records_let_another_engine_redrive() {
    let work = Work::new();
    let first_engine = engine(&work);
    let definition = distributed(json!(0));
    let items: Vec<Value> = (0..3).map(|i| json!({"i": i, "bad": i == 0})).collect();
    let first = first_engine.run("m", &machine(definition.clone()), json!(items), "e1").await;
    assert_eq!(first.status, Status::Failed);
    let saved = match serde_json::to_string(&first_engine.export_records()) {
        Ok(text) => text,
        Err(e) => panic!("records do not serialize: {e}"),
    };
    drop(first_engine);

    work.fix();
    let later = engine(&work);
    let parsed: Value = serde_json::from_str(&saved).unwrap_or_default();
    // The execution and its failed child.
    assert_eq!(later.import_records(&parsed), Ok(2));
    let second = redriven(&later, &first, &definition).await;
    assert_eq!(second.status, Status::Succeeded, "{:?}", second.cause);
    assert_eq!(second.output, Some(json!(items)));
    assert_eq!(&second.history.events()[..first.history.len()], first.history.events());
    assert_eq!(work.calls().get(&items[0].to_string()), Some(&2));
    assert_eq!(
        later.import_records(&json!([{"arn": 1}])).map_err(|e| e.code()),
        Err("ValidationException")
    );
}

#[tokio::test(start_paused = true)]
async fn a_redrive_keeps_the_variables_assigned_before_the_failed_state() {
    let work = Work::new();
    let engine = engine(&work);
    let definition = json!({"StartAt": "Remember", "States": {
        "Remember": {"Type": "Pass", "Assign": {"seen.$": "$.n"},
                     "Parameters": {"bad": true, "n.$": "$.n"}, "Next": "Do"},
        "Do": work_task(json!({"Next": "Report"})),
        "Report": {"Type": "Pass", "QueryLanguage": "JSONata",
                   "Output": "{% {'seen': $seen, 'redrives': $states.context.Execution.RedriveCount} %}",
                   "End": true}
    }});
    let first = engine.run("m", &machine(definition.clone()), json!({"n": 41}), "e1").await;
    assert_eq!(first.status, Status::Failed);
    work.fix();
    let second = redriven(&engine, &first, &definition).await;
    assert_eq!(second.status, Status::Succeeded, "{:?}", second.cause);
    assert_eq!(second.output, Some(json!({"seen": 41, "redrives": 1})));
    assert_eq!(entered(&second, "Remember"), 1);
}
