//! `graphetl simulate-retries`: the retry-tuning evidence. Runs the real
//! statemachine/process-files.asl.json in the local interpreter on a virtual clock, with N files
//! contending for a Lambda concurrency limit C, under several retry policies for
//! `Lambda.TooManyRequestsException`, and reports makespan, retries, exhausted items and history.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use graphetl_states::asl::StateMachine;
use graphetl_states::exec::{Engine, EngineOptions};
use graphetl_states::resolve::{FunctionError, Functions};
use serde_json::{Value, json};

use super::workflow::PROCESS_FILES;

/// Arguments of `graphetl simulate-retries`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The batch state machine whose Transform retries are compared (default: the
    /// statemachine/process-files.asl.json this binary was built with).
    #[arg(long)]
    definition: Option<PathBuf>,
    /// Files in the batch.
    #[arg(long, default_value_t = 1_000)]
    files: u64,
    /// Lambda concurrency limit of the transform function (reserved concurrency).
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// Files transformed at once by the Map (its MaxConcurrency).
    #[arg(long, default_value_t = 40)]
    file_concurrency: u64,
    /// How long one transform takes, in milliseconds of virtual time.
    #[arg(long, default_value_t = 2_000)]
    duration_ms: u64,
    /// Seed of the jitter.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// A retrier for throttling under comparison.
struct Policy {
    name: &'static str,
    retrier: Option<Value>,
}

fn with_policy(definition: &Value, policy: &Policy) -> Value {
    let mut definition = definition.clone();
    let transform =
        &mut definition["States"]["TransformEach"]["ItemProcessor"]["States"]["Transform"];
    if let (Some(retrier), Some(retry)) = (&policy.retrier, transform["Retry"].as_array_mut()) {
        for entry in retry.iter_mut() {
            let throttling = entry["ErrorEquals"]
                .as_array()
                .is_some_and(|names| names.iter().any(|n| n == "Lambda.TooManyRequestsException"));
            if throttling {
                *entry = retrier.clone();
            }
        }
    }
    definition
}

fn throttle_retrier(definition: &Value) -> Option<Value> {
    definition["States"]["TransformEach"]["ItemProcessor"]["States"]["Transform"]["Retry"]
        .as_array()?
        .iter()
        .find(|r| {
            r["ErrorEquals"]
                .as_array()
                .is_some_and(|n| n.iter().any(|e| e == "Lambda.TooManyRequestsException"))
        })
        .cloned()
}

/// Runs the simulation and prints a Markdown table.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let (text, file) = match &args.definition {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
            path.display().to_string(),
        ),
        None => (PROCESS_FILES.text.to_owned(), PROCESS_FILES.file.to_owned()),
    };
    let definition: Value = serde_json::from_str(&text)?;
    let chosen = throttle_retrier(&definition)
        .context("the Transform state has no retrier for Lambda.TooManyRequestsException")?;
    let mut no_jitter = chosen.clone();
    no_jitter["JitterStrategy"] = json!("NONE");
    let policies = [
        Policy {
            name: "chosen (statemachine/process-files.asl.json)",
            retrier: Some(chosen.clone()),
        },
        Policy {
            name: "seed note 004 (2 s, ×1.85, 7 attempts, no jitter)",
            retrier: Some(
                json!({"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 2, "BackoffRate": 1.85, "MaxAttempts": 7}),
            ),
        },
        Policy { name: "chosen without jitter", retrier: Some(no_jitter) },
    ];
    println!(
        "{} files, Lambda concurrency {}, Map MaxConcurrency {}, {} ms per transform (virtual time)\n",
        args.files, args.concurrency, args.file_concurrency, args.duration_ms
    );
    println!("| policy | makespan (s) | retries | items that exhausted retries | history events |");
    println!("|---|---:|---:|---:|---:|");
    for policy in &policies {
        let machine = StateMachine::from_json(&with_policy(&definition, policy).to_string(), &file)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let files: Vec<Value> = (0..args.files)
            .map(|i| json!({"bucket": "sim", "key": format!("raw/sim/part-{i:05}.json.gz"), "dataset": "sim", "run_id": "sim"}))
            .collect();
        let input = json!({"files": files, "file_concurrency": args.file_concurrency});
        let mut functions = Functions::new();
        let duration = Duration::from_millis(args.duration_ms);
        functions.register(
            "TransformFunctionArn",
            Arc::new(move |payload: Value| async move {
                tokio::time::sleep(duration).await;
                Ok::<_, FunctionError>(payload)
            }),
            Some(args.concurrency),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()?;
        let seed = args.seed;
        let (seconds, execution, throttles) = runtime.block_on(async move {
            let options = EngineOptions { seed, start_millis: 0, ..EngineOptions::default() };
            let engine = Engine::builder().functions(functions).options(options).build();
            let started = tokio::time::Instant::now();
            let execution = engine.run("process-files", &machine, input, "simulation").await;
            let throttles = engine.functions().throttles().values().sum::<u64>();
            (started.elapsed().as_secs_f64(), execution, throttles)
        });
        let exhausted = match &execution.cause {
            Some(cause) if execution.error.as_deref() == Some("GraphEtl.FilesFailed") => {
                serde_json::from_str::<Value>(cause)
                    .ok()
                    .and_then(|v| v.as_array().map(Vec::len))
                    .unwrap_or(0)
            }
            _ => 0,
        };
        let note = match execution.error.as_deref() {
            None | Some("GraphEtl.FilesFailed") => String::new(),
            Some(other) => format!(" (execution failed: {other})"),
        };
        println!(
            "| {}{note} | {seconds:.0} | {throttles} | {exhausted} | {} |",
            policy.name,
            execution.history.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
