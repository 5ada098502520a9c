//! `graphetl failures EXECUTION`: the failed items of a run's Distributed Map (item, error,
//! cause), read from the Map Run's ResultWriter files.

use std::path::PathBuf;
use std::process::ExitCode;

use super::aws::{Aws, AwsTarget, execution_arn};
use super::local::{LocalEnv, LocalSettings, read_record};
use super::workflow::FailedItem;

/// Arguments of `graphetl failures`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The execution: its ARN, or its name (with --state-machine-arn on AWS; as `run --local`
    /// printed it for local runs).
    execution: String,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// Look at a local run instead of AWS.
    #[arg(long)]
    local: bool,
    #[command(flatten)]
    aws: AwsTarget,
    /// The local runs' data folder.
    #[arg(long, default_value = ".graphetl")]
    data_dir: PathBuf,
}

/// Runs the command; exits 0 whether or not there are failures (1 if the execution is unknown).
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    let (status, redrives, failures): (String, i64, Vec<FailedItem>) = if args.local {
        let record = read_record(&args.data_dir, &args.execution)?;
        let settings = LocalSettings::new(args.data_dir.clone(), 1);
        runtime.block_on(async {
            let env = LocalEnv::start(settings).await?;
            let (_, failures) = env.results(&record).await?;
            env.shutdown().await;
            let status = record["status"].as_str().unwrap_or("?").to_owned();
            Ok::<_, anyhow::Error>((
                status,
                record["redrive_count"].as_i64().unwrap_or(0),
                failures,
            ))
        })?
    } else {
        let arn = execution_arn(&args.execution, args.aws.state_machine_arn.as_deref())?;
        runtime.block_on(async {
            let aws = Aws::from_env().await;
            let (described, failures) = aws.failures(&arn, args.aws.bucket.as_deref()).await?;
            let redrives = i64::from(described.redrive_count);
            Ok::<_, anyhow::Error>((described.status, redrives, failures))
        })?
    };
    let redriven = match redrives {
        0 => String::new(),
        1 => ", redriven once".to_owned(),
        n => format!(", redriven {n} times"),
    };
    if args.json {
        for failure in &failures {
            println!("{}", serde_json::to_string(failure)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if failures.is_empty() {
        println!("{}: no failed items ({status}{redriven})", args.execution);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}: {status}{redriven}, {} failed item(s)", args.execution, failures.len());
    let width = failures.iter().map(|f| f.key.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  {:<28}  {:>8}  cause", "item", "error", "attempts");
    for failure in &failures {
        let attempts = failure.attempts.map_or_else(|| "-".to_owned(), |a| a.to_string());
        println!(
            "{:<width$}  {:<28}  {attempts:>8}  {}",
            failure.key, failure.error, failure.cause
        );
    }
    Ok(ExitCode::SUCCESS)
}
