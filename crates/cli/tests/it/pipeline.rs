//! The pipeline's state machines: they load, stay far under the history quota at scale, use
//! only known placeholders, and retry or catch only error names the code declares.

use std::collections::BTreeSet;

use graphetl_core::ErrorName;
use graphetl_core::errors::Retry;
use graphetl_states::asl::{StateMachine, placeholders};
use graphetl_states::budget::{BudgetInput, history_budget};

use super::repo;

fn load(name: &str) -> (String, StateMachine) {
    let path = repo().join("statemachine").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let machine = StateMachine::from_json(&text, name).unwrap_or_else(|e| panic!("{e}"));
    (text, machine)
}

/// The placeholders infra/template.yaml substitutes (DefinitionSubstitutions) and the local
/// runner maps to in-process handlers.
pub(crate) const PLACEHOLDERS: &[&str] = &[
    "AggregateFunctionArn",
    "DataBucket",
    "ExtractFunctionArn",
    "LoadFunctionArn",
    "ProcessFilesStateMachineArn",
    "TransformFunctionArn",
];

#[test]
fn every_execution_stays_under_2500_events_at_100k_and_10m_files() {
    let (_, pipeline) = load("pipeline.asl.json");
    let (_, process_files) = load("process-files.asl.json");
    for files in [100_000u64, 10_000_000] {
        let input = BudgetInput {
            items: files,
            retries: 2,
            map_items: [
                ("Aggregate".to_owned(), 20),
                // Load chunks per phase: chunks hold many rows (the aggregate step's chunk size),
                // so a run's graph fits in a few dozen.
                ("LoadVertices".to_owned(), 50),
                ("LoadEdges".to_owned(), 50),
            ]
            .into_iter()
            .collect(),
            batch_size: Some(10),
            nested: vec![("process-files".to_owned(), process_files.clone())],
        };
        let budget = history_budget(&pipeline, &input).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = budget.iter().map(|b| b.execution.as_str()).collect();
        assert!(
            names.contains(&"parent/TransformFiles/ProcessBatch -> process-files"),
            "{names:?}"
        );
        for entry in &budget {
            assert!(
                entry.events <= 2_500,
                "{files} files: {} may reach {} events",
                entry.execution,
                entry.events
            );
        }
        let children =
            budget.iter().find(|b| b.execution == "parent/TransformFiles").map(|b| b.count);
        assert_eq!(children, Some(files / 10));
    }
}

#[test]
fn placeholders_are_the_known_substitutions() {
    let mut used = BTreeSet::new();
    for name in ["pipeline.asl.json", "process-files.asl.json", "process-files.jsonata.asl.json"] {
        used.extend(placeholders(&load(name).0));
    }
    let known: BTreeSet<String> = PLACEHOLDERS.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(used, known);
}

fn error_names(value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                if key == "ErrorEquals" {
                    out.extend(
                        v.as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|e| e.as_str().map(str::to_owned)),
                    );
                } else if key == "Error" && v.is_string() {
                    out.extend(v.as_str().map(str::to_owned));
                } else {
                    error_names(v, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| error_names(v, out)),
        _ => {}
    }
}

#[test]
fn error_names_beyond_aws_ones_are_declared_in_core_and_permanent_ones_are_never_retried() {
    for name in ["pipeline.asl.json", "process-files.asl.json", "process-files.jsonata.asl.json"] {
        let (text, _) = load(name);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let mut names = BTreeSet::new();
        error_names(&json, &mut names);
        for error in &names {
            let aws = ["States.", "Lambda.", "StepFunctions."].iter().any(|p| error.starts_with(p));
            assert!(
                aws || ErrorName::from_name(error).is_some(),
                "{name}: {error} is not declared in graphetl-core"
            );
        }
        // Retriers list only transient names.
        let mut retried = BTreeSet::new();
        collect_retried(&json, &mut retried);
        for error in retried {
            if let Some(ours) = ErrorName::from_name(&error) {
                assert_eq!(
                    ours.retry(),
                    Retry::Transient,
                    "{name} retries the permanent error {error}"
                );
            }
            assert_ne!(
                error, "States.ALL",
                "{name} retries States.ALL, which would retry bad input"
            );
        }
    }
}

fn collect_retried(value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                if key == "Retry" {
                    for retrier in v.as_array().into_iter().flatten() {
                        out.extend(
                            retrier["ErrorEquals"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|e| e.as_str().map(str::to_owned)),
                        );
                    }
                } else {
                    collect_retried(v, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_retried(v, out)),
        _ => {}
    }
}

/// Parses `| policy | makespan | retries | exhausted | events |` rows.
fn simulation_rows(stdout: &str) -> Vec<(String, u64, u64, u64)> {
    stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| policy"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            Some((
                cells.first()?.to_string(),
                cells.get(1)?.parse().ok()?,
                cells.get(2)?.parse().ok()?,
                cells.get(3)?.parse().ok()?,
            ))
        })
        .collect()
}

#[test]
fn the_chosen_throttling_policy_beats_the_seed_policy_under_contention() {
    let out = super::graphetl(&["simulate-retries", "--files", "200", "--concurrency", "2"]);
    assert!(out.status.success(), "{}", super::text(&out.stderr));
    let rows = simulation_rows(&super::text(&out.stdout));
    assert_eq!(rows.len(), 3, "{rows:?}");
    let (chosen, seed) = (&rows[0], &rows[1]);
    assert!(chosen.0.starts_with("chosen") && seed.0.starts_with("seed"), "{rows:?}");
    assert_eq!(chosen.3, 0, "the chosen policy lets items exhaust their retries: {rows:?}");
    assert!(seed.3 > 0, "the simulation no longer separates the policies: {rows:?}");
    assert!(chosen.1 < seed.1, "the chosen policy is slower than the seed policy: {rows:?}");
}

/// A state machine of statemachine/ with its placeholders filled as the template would.
fn substituted(name: &str) -> StateMachine {
    let mut text = load(name).0;
    for (placeholder, value) in [
        ("DataBucket", "data"),
        ("TransformFunctionArn", "arn:aws:lambda:us-east-1:123456789012:function:transform"),
        ("ExtractFunctionArn", "arn:aws:lambda:us-east-1:123456789012:function:extract"),
        ("AggregateFunctionArn", "arn:aws:lambda:us-east-1:123456789012:function:aggregate"),
        ("LoadFunctionArn", "arn:aws:lambda:us-east-1:123456789012:function:load"),
        (
            "ProcessFilesStateMachineArn",
            "arn:aws:states:us-east-1:123456789012:stateMachine:process-files",
        ),
    ] {
        text = text.replace(&format!("${{{placeholder}}}"), value);
    }
    StateMachine::from_json(&text, name).unwrap_or_else(|e| panic!("{e}"))
}

/// One execution can take only so much: a concurrency override above its documented maximum
/// (or 0, which a Map reads as unlimited) fails the run before any step runs.
#[test]
fn concurrency_overrides_above_their_maxima_fail_the_run_before_any_step() {
    use std::sync::Arc;

    use graphetl_states::exec::{Engine, Status};
    use graphetl_states::resolve::{FunctionError, Functions};
    use serde_json::{Value, json};

    let pipeline = substituted("pipeline.asl.json");
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut functions = Functions::new();
    for name in ["extract", "transform", "aggregate", "load"] {
        let calls = calls.clone();
        functions.register(
            name,
            Arc::new(move |_: Value| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move { Err::<Value, _>(FunctionError::new("Unexpected", "called")) }
            }),
            None,
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let engine = Engine::builder().functions(functions).build();
    for (field, value, maximum) in [
        ("max_concurrency", json!(500), 100),
        ("max_concurrency", json!(0), 100),
        ("file_concurrency", json!(21), 20),
        ("aggregate_concurrency", json!(1000), 20),
        ("load_writers", json!(33), 32),
        ("load_writers", json!("8"), 32),
    ] {
        let mut input = json!({"dataset": "service-calls", "prefix": "raw/service-calls/"});
        input[field] = value.clone();
        let execution =
            runtime.block_on(engine.run("graphetl-pipeline", &pipeline, input, "capped"));
        assert_eq!(execution.status, Status::Failed, "{field} = {value}");
        assert_eq!(execution.error.as_deref(), Some("GraphEtl.BadEvent"), "{field} = {value}");
        let cause = execution.cause.unwrap_or_default();
        assert!(
            cause.starts_with(&format!("{field} must be a number from 1 to {maximum}")),
            "{field} = {value}: {cause}"
        );
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0, "no step ran");
}

/// The real pipeline over 20,000 raw files (transform_only, a no-op transform function): every
/// execution's history equals the static budget's count for it.
#[test]
fn a_run_over_20000_files_matches_the_static_budget() {
    use std::sync::Arc;

    use graphetl_states::exec::{Engine, Status};
    use graphetl_states::resolve::{FunctionError, Functions, MemoryStore};
    use serde_json::{Value, json};

    let pipeline = substituted("pipeline.asl.json");
    let process_files = substituted("process-files.asl.json");
    let store = Arc::new(MemoryStore::new());
    for i in 0..20_000 {
        store.insert(
            "data",
            &format!("raw/service-calls/dt=2026-11-20/part-{i:05}.json.gz"),
            vec![],
        );
    }
    let mut functions = Functions::new();
    functions.register(
        "transform",
        Arc::new(|p: Value| async move { Ok::<_, FunctionError>(json!({"key": p["key"]})) }),
        Some(100),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let (execution, executions) = runtime.block_on(async {
        let engine = Engine::builder()
            .functions(functions)
            .machine("process-files", Arc::new(process_files.clone()))
            .store(store)
            .build();
        let input = json!({"dataset": "service-calls", "prefix": "raw/service-calls/", "transform_only": true});
        let execution = engine.run("graphetl-pipeline", &pipeline, input, "big").await;
        (execution, engine.executions())
    });
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    let input = BudgetInput {
        items: 20_000,
        retries: 0,
        batch_size: Some(10),
        nested: vec![("process-files".to_owned(), process_files)],
        ..BudgetInput::default()
    };
    let budget = history_budget(&pipeline, &input).unwrap_or_else(|e| panic!("{e}"));
    let row = |name: &str| {
        budget.iter().find(|b| b.execution == name).map(|b| (b.count, b.events)).unwrap_or_default()
    };
    let children: Vec<usize> = executions
        .iter()
        .filter(|e| e.state_machine == "graphetl-pipeline/TransformFiles")
        .map(|e| e.events)
        .collect();
    let batches: Vec<usize> = executions
        .iter()
        .filter(|e| e.state_machine == "process-files")
        .map(|e| e.events)
        .collect();
    assert_eq!(children.len() as u64, row("parent/TransformFiles").0);
    assert!(
        children.iter().all(|e| *e as u64 == row("parent/TransformFiles").1),
        "{:?}",
        row("parent/TransformFiles")
    );
    let (batch_count, batch_budget) = row("parent/TransformFiles/ProcessBatch -> process-files");
    assert_eq!(batches.len() as u64, batch_count);
    // The budget's worst case has every file caught (Transform 5 + FileFailed 2 per file); on
    // the success path each batch of 10 costs exactly 2 + (4 + 10 × (2 + 5)) + 3 × 2 + 2 = 84.
    assert!(batches.iter().all(|e| *e == 84), "{:?}", &batches[..3.min(batches.len())]);
    assert_eq!(batch_budget, 2 + (4 + 10 * (2 + 5 + 2)) + 3 * 2 + 2);
    // The parent took the transform_only path, which the budget's worst case (aggregate and
    // load) bounds from above.
    assert!((execution.history.len() as u64) < row("parent").1);
}
