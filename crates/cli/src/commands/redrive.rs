//! `graphetl redrive EXECUTION`: continue a failed run where it stopped (Step Functions'
//! RedriveExecution), after fixing the cause: same execution, same input and definition; only
//! the states, iterations and Map Run children that had not succeeded run again.
//!
//! On AWS it calls `RedriveExecution` and follows the execution; with `--local` it redrives a
//! recorded local execution with the same engine code `run --local` uses.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use graphetl_states::exec::Status;

use super::aws::{Aws, AwsTarget, execution_arn};
use super::local::{LocalEnv, LocalSettings, read_record};

/// Arguments of `graphetl redrive`.
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT)]
pub(crate) struct Args {
    /// The execution: its ARN, or its name (with --state-machine-arn on AWS; as `run --local`
    /// printed it for local runs).
    execution: String,
    /// Redrive a local run instead of an AWS execution.
    #[arg(long)]
    local: bool,
    #[command(flatten)]
    aws: AwsTarget,
    /// Print the redrive date and return at once instead of following the execution (AWS).
    #[arg(long)]
    no_wait: bool,
    /// The local runs' data folder.
    #[arg(long, default_value = ".graphetl")]
    data_dir: PathBuf,
    /// Concurrent invocations of each function before the local Lambda throttles.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// `redrive --help`.
const LONG_ABOUT: &str = "Continue a failed run where it stopped (Step Functions RedriveExecution).

Fix the cause first (a bad file replaced, a permission granted, a Lambda fixed), then redrive: the \
same execution continues in its failed step with the same input; the steps that succeeded do not \
run again, and in the transform Map Run only the failed (and never started) batches run again. \
An execution can be redriven when it FAILED, TIMED_OUT or was ABORTED, within 14 days of its end, \
with fewer than 24,999 history events; the definition is the one it started with, so a fix to \
the state machine itself needs a new run.

Redrive or reprocess? Redrive a run that FAILED (for example more failed files than its \
tolerated percentage): it finishes that run, aggregates and loads included. Use \
`graphetl reprocess --failed-of` for the failed files of a run that SUCCEEDED within its \
tolerance, or to re-run them with a changed definition: that starts a new execution.";

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let runtime = super::runtime()?;
    if args.local {
        let record = read_record(&args.data_dir, &args.execution)?;
        let dataset = record["input"]["dataset"].as_str().unwrap_or_default().to_owned();
        let settings = LocalSettings::new(args.data_dir.clone(), args.concurrency.max(1));
        return runtime.block_on(async {
            let env = LocalEnv::start(settings).await?;
            let run = env.redrive_pipeline(&args.execution).await;
            let run = match run {
                Ok(run) => run,
                Err(e) => {
                    env.shutdown().await;
                    return Err(e);
                }
            };
            run.finish(
                &dataset,
                &env.bucket_dir(),
                &args.data_dir,
                started.elapsed().as_secs_f64(),
            )?;
            env.shutdown().await;
            Ok(if run.execution.status == Status::Succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        });
    }
    let arn = execution_arn(&args.execution, args.aws.state_machine_arn.as_deref())?;
    runtime.block_on(async {
        let aws = Aws::from_env().await;
        let redriven_at = aws.redrive(&arn).await?;
        println!("{arn}: redriven at {redriven_at}");
        if args.no_wait {
            return Ok(ExitCode::SUCCESS);
        }
        aws.follow_to_exit(&arn).await
    })
}
