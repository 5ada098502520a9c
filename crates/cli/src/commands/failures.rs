//! `graphetl failures EXECUTION`: the failed items of a run's Distributed Map (item, error,
//! cause), read from the Map Run's ResultWriter files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use super::local::{LocalEnv, LocalSettings, read_record};
use super::run::repo_root;

/// Arguments of `graphetl failures`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The execution name (local runs: as `run --local` printed it).
    execution: String,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// Look at a local run (the only mode implemented so far).
    #[arg(long)]
    local: bool,
    /// The local runs' data folder.
    #[arg(long, default_value = ".graphetl")]
    data_dir: PathBuf,
}

/// Runs the command; exits 0 whether or not there are failures (1 if the execution is unknown).
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if !args.local {
        bail!(
            "reading failures of AWS executions is not implemented yet; use --local for local runs"
        );
    }
    let record = read_record(&args.data_dir, &args.execution)?;
    let settings =
        LocalSettings { data_dir: args.data_dir.clone(), repo: repo_root(), lambda_concurrency: 1 };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let failures = runtime.block_on(async {
        let env = LocalEnv::start(settings).await?;
        let (_, failures) = env.results(&record).await?;
        env.shutdown().await;
        Ok::<_, anyhow::Error>(failures)
    })?;
    if args.json {
        for failure in &failures {
            println!("{}", serde_json::to_string(failure)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if failures.is_empty() {
        println!(
            "{}: no failed items ({})",
            args.execution,
            record["status"].as_str().unwrap_or("?")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let width = failures.iter().map(|f| f.key.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  {:<28}  cause", "item", "error");
    for failure in &failures {
        println!("{:<width$}  {:<28}  {}", failure.key, failure.error, failure.cause);
    }
    Ok(ExitCode::SUCCESS)
}
