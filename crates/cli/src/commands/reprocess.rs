//! `graphetl reprocess`: start a run over one raw prefix, or over just the failed items of an
//! earlier run (`--failed-of`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use graphetl_core::layout;
use graphetl_states::exec::Status;
use graphetl_storage::ObjectStore;
use serde_json::json;

use super::aws::{Aws, AwsTarget, execution_arn};
use super::local::{LOCAL_BUCKET, LocalEnv, LocalSettings, read_record};
use super::workflow::check_prefix;

/// Arguments of `graphetl reprocess`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The dataset name (with --prefix).
    #[arg(long, required_unless_present = "failed_of")]
    dataset: Option<String>,
    /// A prefix in the dataset's raw area, e.g. raw/service-calls/dt=2026-11-20/.
    #[arg(long, conflicts_with = "failed_of", requires = "dataset")]
    prefix: Option<String>,
    /// Re-run only the failed items of this execution.
    #[arg(long)]
    failed_of: Option<String>,
    /// Run locally instead of on AWS.
    #[arg(long)]
    local: bool,
    #[command(flatten)]
    aws: AwsTarget,
    /// Print the execution's ARN and return at once instead of following it (AWS).
    #[arg(long)]
    no_wait: bool,
    /// The local runs' data folder.
    #[arg(long, default_value = ".graphetl")]
    data_dir: PathBuf,
    /// Concurrent transform invocations before the local Lambda throttles.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if !args.local {
        return run_on_aws(args);
    }
    run_local(
        &args.data_dir,
        args.concurrency,
        args.dataset.clone(),
        args.prefix.clone(),
        args.failed_of.clone(),
    )
}

/// Re-runs a raw prefix, or the failed items of a recorded execution, in a local environment
/// over `data_dir` (`reprocess --local` and `run --local --prefix/--failed-of`).
pub(crate) fn run_local(
    data_dir: &Path,
    concurrency: usize,
    dataset: Option<String>,
    prefix: Option<String>,
    failed_of: Option<String>,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let settings = LocalSettings::new(data_dir.to_path_buf(), concurrency.max(1));
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let env = LocalEnv::start(settings).await?;
        let (dataset, input) = match (&prefix, &failed_of) {
            (Some(prefix), None) => {
                let dataset = dataset.clone().context("--prefix needs --dataset")?;
                check_prefix(&dataset, prefix)?;
                let found = env.store.list(LOCAL_BUCKET, prefix).await?;
                if found.is_empty() {
                    bail!("no raw files under s3://{LOCAL_BUCKET}/{prefix}");
                }
                (dataset.clone(), json!({"dataset": dataset, "prefix": prefix}))
            }
            (None, Some(execution)) => {
                let record = read_record(data_dir, execution)?;
                let dataset = record["input"]["dataset"]
                    .as_str()
                    .context("the execution record has no dataset")?
                    .to_owned();
                let (_, failures) = env.results(&record).await?;
                if failures.is_empty() {
                    println!("{execution}: no failed items to re-run");
                    env.shutdown().await;
                    return Ok(ExitCode::SUCCESS);
                }
                let items: Vec<serde_json::Value> =
                    failures.iter().map(|f| json!({"Key": f.key})).collect();
                let key = format!("{}retry-items.json", layout::run_prefix(execution));
                env.store
                    .put_bytes(
                        LOCAL_BUCKET,
                        &key,
                        serde_json::to_vec(&items)?,
                        Some("application/json"),
                    )
                    .await?;
                eprintln!("wrote {} failed item(s) to s3://{LOCAL_BUCKET}/{key}", items.len());
                (dataset.clone(), json!({"dataset": dataset, "items_manifest": key}))
            }
            _ => bail!("give either --dataset with --prefix, or --failed-of"),
        };
        let name = env.next_name(&dataset);
        let run = env.run_pipeline(&name, input).await?;
        run.finish(&dataset, &env.bucket_dir(), data_dir, started.elapsed().as_secs_f64())?;
        env.shutdown().await;
        Ok(if run.execution.status == Status::Succeeded {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}

fn run_on_aws(args: &Args) -> anyhow::Result<ExitCode> {
    let machine = args
        .aws
        .state_machine_arn
        .clone()
        .context("give --state-machine-arn (or GRAPHETL_STATE_MACHINE_ARN): the stack's pipeline state machine")?;
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let aws = Aws::from_env().await;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let (name, input) = match (&args.prefix, &args.failed_of) {
            (Some(prefix), None) => {
                let dataset = args.dataset.clone().context("--prefix needs --dataset")?;
                check_prefix(&dataset, prefix)?;
                (
                    format!("reprocess-{dataset}-{stamp}"),
                    json!({"dataset": dataset, "prefix": prefix}),
                )
            }
            (None, Some(execution)) => {
                let bucket = args
                    .aws
                    .bucket
                    .clone()
                    .context("--failed-of needs --bucket (or GRAPHETL_BUCKET): the data bucket")?;
                let arn = execution_arn(execution, Some(&machine))?;
                let (described, failures) = aws.failures(&arn, Some(&bucket)).await?;
                if failures.is_empty() {
                    println!(
                        "{}: no failed items to re-run ({})",
                        described.name, described.status
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                let dataset = match &args.dataset {
                    Some(d) => d.clone(),
                    None => layout::dataset_of_raw_key(&failures[0].key).map(str::to_owned).with_context(|| {
                        format!(
                            "cannot tell the dataset from the failed item {} (not under raw/<dataset>/): give --dataset",
                            failures[0].key
                        )
                    })?,
                };
                let key = aws.write_manifest(&bucket, &described.name, &failures).await?;
                eprintln!("wrote {} failed item(s) to s3://{bucket}/{key}", failures.len());
                (
                    format!(
                        "retry-{}-{stamp}",
                        described.name.chars().take(40).collect::<String>()
                    ),
                    json!({"dataset": dataset, "items_manifest": key}),
                )
            }
            _ => bail!("give either --dataset with --prefix, or --failed-of"),
        };
        let arn = aws.start(&machine, &name, &input).await?;
        println!("{arn}");
        if args.no_wait {
            return Ok(ExitCode::SUCCESS);
        }
        aws.follow_to_exit(&arn).await
    })
}
