//! `graphetl reprocess`: start a run over one raw prefix, or over just the failed items of an
//! earlier run (`--failed-of`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use graphetl_core::layout;
use graphetl_states::exec::Status;
use graphetl_storage::ObjectStore;
use serde_json::json;

use super::local::{LOCAL_BUCKET, LocalEnv, LocalSettings, check_prefix, read_record};
use super::run::repo_root;

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
    /// Run locally (the only mode implemented so far).
    #[arg(long)]
    local: bool,
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
        bail!("starting executions on AWS is not implemented yet; use --local for local runs");
    }
    let started = Instant::now();
    let settings = LocalSettings {
        data_dir: args.data_dir.clone(),
        repo: repo_root(),
        lambda_concurrency: args.concurrency.max(1),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let env = LocalEnv::start(settings).await?;
        let (dataset, input) = match (&args.prefix, &args.failed_of) {
            (Some(prefix), None) => {
                let dataset = args.dataset.clone().context("--prefix needs --dataset")?;
                check_prefix(&dataset, prefix)?;
                let found = env.store.list(LOCAL_BUCKET, prefix).await?;
                if found.is_empty() {
                    bail!("no raw files under s3://{LOCAL_BUCKET}/{prefix}");
                }
                (
                    dataset.clone(),
                    json!({"dataset": dataset, "prefix": prefix, "transform_only": true}),
                )
            }
            (None, Some(execution)) => {
                let record = read_record(&args.data_dir, execution)?;
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
                (
                    dataset.clone(),
                    json!({"dataset": dataset, "items_manifest": key, "transform_only": true}),
                )
            }
            _ => bail!("give either --dataset with --prefix, or --failed-of"),
        };
        let name = env.next_name(&dataset);
        let run = env.run_pipeline(&name, input).await?;
        run.print_summary(
            &dataset,
            &env.bucket_dir(),
            &args.data_dir,
            started.elapsed().as_secs_f64(),
        );
        env.shutdown().await;
        Ok(if run.execution.status == Status::Succeeded {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    })
}
