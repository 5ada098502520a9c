//! `graphetl`: the command line. It owns argument parsing, configuration and turning errors
//! into exit codes; every command calls into the library crates.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// graphetl turns raw event records into a property graph in Amazon Neptune.
///
/// The same code runs in AWS Lambda under Step Functions and, with `run --local`, on one
/// machine with no AWS account.
#[derive(Debug, Parser)]
#[command(name = "graphetl", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a dataset spec (and that its SQL files exist) without running anything.
    Validate(commands::validate::Args),
    /// Transform one raw file (local path or s3://) into typed Parquet plus a quarantine file.
    Transform(commands::transform::Args),
    /// Run the pipeline on this machine against a local S3 endpoint (no AWS account needed).
    Run(commands::run::Args),
    /// Start a run over one raw prefix, or over the failed items of an earlier run.
    Reprocess(commands::reprocess::Args),
    /// List the failed items (file, error, cause) of a run.
    Failures(commands::failures::Args),
    /// Continue a failed run where it stopped, after fixing the cause (RedriveExecution).
    Redrive(commands::redrive::Args),
    /// A seeded fault campaign: K local runs with faults at every boundary, compared byte for
    /// byte with a fault-free run.
    #[command(long_about = commands::chaos::LONG_ABOUT)]
    Chaos(commands::chaos::Args),
    /// Run a dataset's aggregation queries locally (DataFusion) over curated Parquet → CSV chunks.
    #[command(long_about = commands::aggregate::LONG_ABOUT)]
    Aggregate(commands::aggregate::Args),
    /// Load aggregate results into Neptune (batched mergeV/mergeE, SigV4) or a local graph.
    Load(commands::load::Args),
    /// Show what a load changed, from Neptune Streams (optionally resuming from a checkpoint).
    Stream(commands::stream::Args),
    /// A loopback stand-in for Neptune's Gremlin endpoint (benchmarks, trying `load`).
    MockNeptune(commands::mock_neptune::Args),
    /// The local Step Functions interpreter: validate or run an ASL definition.
    States(commands::states::Args),
    /// Worst-case history events of every execution a definition starts, for N input items.
    HistoryBudget(commands::states::BudgetArgs),
    /// Compare retry policies for Lambda throttling on the real process-files state machine.
    SimulateRetries(commands::simulate::Args),
    /// Write synthetic service-call records (gzip JSON lines in the raw layout, or one file).
    Generate(commands::generate::Args),
    /// Serve the Step Functions API (aws CLI, boto3, SDKs) over the local engine on 127.0.0.1.
    #[command(long_about = commands::serve::LONG_ABOUT)]
    Serve(commands::serve::Args),
    /// Serve synthetic service-call records as the http source API on 127.0.0.1.
    ServeSource(commands::serve_source::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let result = match cli.command {
        Command::Validate(args) => commands::validate::run(&args),
        Command::Transform(args) => commands::transform::run(&args),
        Command::Run(args) => commands::run::run(&args),
        Command::Reprocess(args) => commands::reprocess::run(&args),
        Command::Failures(args) => commands::failures::run(&args),
        Command::Redrive(args) => commands::redrive::run(&args),
        Command::Chaos(args) => commands::chaos::run(&args),
        Command::Aggregate(args) => commands::aggregate::run(&args),
        Command::Load(args) => commands::load::run(&args),
        Command::MockNeptune(args) => commands::mock_neptune::run(&args),
        Command::Stream(args) => commands::stream::run(&args),
        Command::States(args) => commands::states::run(&args),
        Command::HistoryBudget(args) => commands::states::budget(&args),
        Command::SimulateRetries(args) => commands::simulate::run(&args),
        Command::Generate(args) => commands::generate::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::ServeSource(args) => commands::serve_source::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
