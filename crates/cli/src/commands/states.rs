//! `graphetl states validate|run` and `graphetl history-budget`: the local Step Functions
//! interpreter from the command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use graphetl_states::asl::StateMachine;
use graphetl_states::budget::{BudgetInput, history_budget};
use graphetl_states::exec::{Engine, Status};
use graphetl_states::history::MAX_HISTORY_EVENTS;
use graphetl_states::mock::MockCase;

/// Arguments of `graphetl states`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: StatesCommand,
}

#[derive(Debug, clap::Subcommand)]
enum StatesCommand {
    /// Check an ASL definition: every problem is printed with its state and field.
    Validate {
        /// The definition (.asl.json).
        definition: PathBuf,
    },
    /// Run a definition locally and print the execution output (exit 0 on SUCCEEDED).
    ///
    /// A failed, timed-out or aborted execution prints {"error", "cause"} and exits 1; the
    /// history is written to --history whatever the outcome. A run that cannot start (bad
    /// definition, input or mock config, or a test case the mock config does not have) exits 2
    /// with no execution and no history.
    Run(RunArgs),
    /// Benchmark the interpreter: overhead per state transition, and a Distributed Map over
    /// many items with no-op tasks. Build with --release for meaningful figures.
    Bench {
        /// Pass-state transitions for the overhead figure.
        #[arg(long, default_value_t = 200_000)]
        transitions: u64,
        /// Items of the Distributed Map figure.
        #[arg(long, default_value_t = 100_000)]
        items: u64,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The definition (.asl.json).
    #[arg(long)]
    definition: PathBuf,
    /// The execution input: JSON text, or @FILE.
    #[arg(long, default_value = "{}")]
    input: String,
    /// A Step Functions Local MockConfigFile.json whose responses replace task calls.
    ///
    /// As in Step Functions Local, a Task state the test case does not list is not mocked: it
    /// calls its resource (here no function is registered, so a Lambda task fails with
    /// Lambda.ResourceNotFoundException). A state machine or test case the file does not have
    /// is refused before the execution starts, as a StartExecution on
    /// `<stateMachineArn>#<TestCase>` is refused (InvalidName), exit 2.
    #[arg(long, requires_all = ["test_case", "state_machine"])]
    mock_config: Option<PathBuf>,
    /// The test case to use from the mock config (StateMachines.<machine>.TestCases.<case>).
    #[arg(long)]
    test_case: Option<String>,
    /// The state machine name the mock config knows this definition by.
    #[arg(long)]
    state_machine: Option<String>,
    /// Write the execution history (GetExecutionHistory JSON) to this file.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Record waits and retry delays without sleeping (virtual clock).
    #[arg(long)]
    virtual_time: bool,
}

/// Arguments of `graphetl history-budget`.
#[derive(Debug, clap::Args)]
pub(crate) struct BudgetArgs {
    /// The definition (.asl.json).
    #[arg(long)]
    definition: PathBuf,
    /// Items the Distributed Map reads (input files).
    #[arg(long)]
    items: u64,
    /// Failed attempts assumed per task execution (capped by its retriers).
    #[arg(long, default_value_t = 0)]
    retries: u32,
    /// Item count of an inline Map state, as STATE=N (repeatable).
    #[arg(long = "map-items", value_parser = parse_map_items)]
    map_items: Vec<(String, u64)>,
    /// Batch size of Distributed Maps whose MaxItemsPerBatchPath is read at run time.
    #[arg(long)]
    batch_size: Option<u64>,
    /// A definition that startExecution tasks start (repeatable), e.g. statemachine/process-files.asl.json.
    #[arg(long)]
    nested: Vec<PathBuf>,
    /// Fail (exit 1) if any execution's worst case exceeds this many events.
    #[arg(long, default_value_t = MAX_HISTORY_EVENTS as u64)]
    max_events: u64,
}

fn parse_map_items(text: &str) -> Result<(String, u64), String> {
    let (state, n) = text.split_once('=').ok_or("expected STATE=N")?;
    let n = n.parse().map_err(|_| format!("\"{n}\" is not a whole number"))?;
    Ok((state.to_owned(), n))
}

pub(crate) fn load_definition(path: &Path) -> anyhow::Result<StateMachine> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    StateMachine::from_json(&text, &path.display().to_string())
        .map_err(|e| anyhow::anyhow!("invalid definition\n{e}"))
}

/// Runs `graphetl states …`.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.command {
        StatesCommand::Validate { definition } => {
            let text = std::fs::read_to_string(definition)
                .with_context(|| format!("cannot read {}", definition.display()))?;
            match StateMachine::from_json(&text, &definition.display().to_string()) {
                Ok(machine) => {
                    println!("{}: ok ({} states)", definition.display(), machine.states.len());
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        StatesCommand::Run(run) => run_definition(run),
        StatesCommand::Bench { transitions, items } => bench(*transitions, *items),
    }
}

fn run_definition(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let machine = load_definition(&args.definition)?;
    let input_text = match args.input.strip_prefix('@') {
        Some(file) => {
            std::fs::read_to_string(file).with_context(|| format!("cannot read input {file}"))?
        }
        None => args.input.clone(),
    };
    let input: serde_json::Value =
        serde_json::from_str(&input_text).context("--input is not valid JSON")?;
    let name = args.state_machine.clone().unwrap_or_else(|| {
        args.definition
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("local")
            .trim_end_matches(".asl")
            .to_owned()
    });
    let mut builder = Engine::builder();
    if let (Some(config), Some(case), Some(machine_name)) =
        (&args.mock_config, &args.test_case, &args.state_machine)
    {
        let text = std::fs::read_to_string(config)
            .with_context(|| format!("cannot read {}", config.display()))?;
        let mocks = MockCase::from_json(&text, machine_name, case)
            .with_context(|| format!("cannot start {machine_name}#{case}"))?;
        builder = builder.mocks(mocks);
    }
    let engine = builder.build();
    let mut runtime = tokio::runtime::Builder::new_current_thread();
    runtime.enable_all();
    if args.virtual_time {
        runtime.start_paused(true);
    }
    let execution = runtime.build()?.block_on(run_engine(engine, name, machine, input));
    // The history is written and the outcome printed whatever happens to the other.
    let written = match &args.history {
        Some(path) => serde_json::to_vec_pretty(&execution.history.to_json())
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(std::fs::write(path, bytes)?))
            .with_context(|| format!("cannot write {}", path.display())),
        None => Ok(()),
    };
    let code = match execution.status {
        Status::Succeeded => {
            println!("{}", execution.output.unwrap_or_default());
            ExitCode::SUCCESS
        }
        _ => {
            println!("{}", serde_json::json!({"error": execution.error, "cause": execution.cause}));
            ExitCode::from(1)
        }
    };
    written?;
    Ok(code)
}

async fn run_engine(
    engine: Arc<Engine>,
    name: String,
    machine: StateMachine,
    input: serde_json::Value,
) -> graphetl_states::exec::Execution {
    engine.run(&name, &machine, input, "local-execution").await
}

/// Runs `graphetl history-budget`.
pub(crate) fn budget(args: &BudgetArgs) -> anyhow::Result<ExitCode> {
    let machine = load_definition(&args.definition)?;
    let mut nested = Vec::new();
    for path in &args.nested {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("nested")
            .trim_end_matches(".json")
            .trim_end_matches(".asl")
            .to_owned();
        nested.push((name, load_definition(path)?));
    }
    let input = BudgetInput {
        items: args.items,
        retries: args.retries,
        map_items: args.map_items.iter().cloned().collect::<BTreeMap<_, _>>(),
        batch_size: args.batch_size,
        nested,
    };
    let budget = history_budget(&machine, &input)?;
    let width = budget.iter().map(|e| e.execution.len()).max().unwrap_or(9).max(9);
    println!("{:<width$} {:>12} {:>14} {:>10}", "execution", "count", "events (max)", "of quota");
    let mut over = false;
    for entry in &budget {
        let share = entry.events as f64 * 100.0 / MAX_HISTORY_EVENTS as f64;
        println!(
            "{:<width$} {:>12} {:>14} {:>9.1}%",
            entry.execution, entry.count, entry.events, share
        );
        over |= entry.events > args.max_events;
    }
    if over {
        bail!("an execution may exceed {} history events", args.max_events);
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(transitions: u64, items: u64) -> anyhow::Result<ExitCode> {
    use graphetl_states::resolve::{FunctionError, Functions};
    use serde_json::{Value, json};
    const CHAIN: u64 = 1_000;
    let mut states = serde_json::Map::new();
    for i in 0..CHAIN {
        let mut pass =
            json!({"Type": "Pass", "Parameters": {"i": i, "previous.$": "$"}, "OutputPath": "$.i"});
        if i + 1 == CHAIN {
            pass["End"] = json!(true);
        } else {
            pass["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), pass);
    }
    let chain = StateMachine::from_json(
        &json!({"StartAt": "S0", "States": states}).to_string(),
        "bench-chain",
    )?;
    let map = StateMachine::from_json(
        &json!({"StartAt": "Files", "States": {"Files": {
            "Type": "Map", "Label": "Files", "ItemsPath": "$.items", "MaxConcurrency": 100,
            "ItemBatcher": {"MaxItemsPerBatch": 100},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Each",
                "States": {"Each": {"Type": "Map", "ItemsPath": "$.Items", "ItemProcessor": {"StartAt": "T", "States": {"T": {
                    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "${Noop}", "Payload.$": "$"}, "OutputPath": "$.Payload", "End": true}}}, "End": true}}},
            "End": true
        }}})
        .to_string(),
        "bench-map",
    )?;
    let runtime = super::runtime()?;
    let executions = transitions.div_ceil(CHAIN).max(1);
    let (chain_seconds, chain_events) = runtime.block_on(async {
        let engine = Engine::builder().build();
        let started = std::time::Instant::now();
        let mut events = 0;
        for n in 0..executions {
            let execution = engine.run("chain", &chain, json!({}), &format!("e{n}")).await;
            events += execution.history.len();
        }
        (started.elapsed().as_secs_f64(), events)
    });
    let done = executions * CHAIN;
    println!(
        "state transitions: {done} Pass states in {chain_seconds:.3} s = {:.2} µs per transition ({chain_events} events)",
        chain_seconds * 1e6 / done as f64
    );
    let (map_seconds, children, status) = runtime.block_on(async {
        let mut functions = Functions::new();
        functions.register(
            "Noop",
            Arc::new(|p: Value| async move { Ok::<_, FunctionError>(p) }),
            None,
        );
        let engine = Engine::builder().functions(functions).build();
        let list: Vec<Value> =
            (0..items).map(|i| json!({"key": format!("raw/bench/part-{i:06}.json.gz")})).collect();
        let started = std::time::Instant::now();
        let execution = engine.run("bench", &map, json!({"items": list}), "map").await;
        (started.elapsed().as_secs_f64(), engine.executions().len() - 1, execution.status)
    });
    println!(
        "distributed map: {items} items, {children} child executions, {} in {map_seconds:.2} s = {:.1} µs per item",
        status.as_str(),
        map_seconds * 1e6 / items.max(1) as f64
    );
    Ok(ExitCode::SUCCESS)
}
