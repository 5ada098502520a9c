//! `graphetl run --local`: the pipeline on one machine.
//!
//! It starts the embedded S3 endpoint, uploads the dataset's spec and raw files, and runs the
//! real statemachine/pipeline.asl.json (Distributed Map over the raw prefix, process-files
//! batches, ResultWriter) in the local interpreter with the transform handler in process.
//! Extract, aggregate and load are not wired locally yet, so the run uses `transform_only`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use graphetl_core::layout;
use graphetl_states::exec::Status;
use graphetl_storage::ObjectStore;
use serde_json::json;

use super::local::{LOCAL_BUCKET, LocalEnv, LocalSettings};
use super::read_spec;

/// Arguments of `graphetl run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Run on this machine (the only mode here; on AWS the schedule starts runs).
    #[arg(long)]
    local: bool,
    /// The dataset spec.
    #[arg(long, default_value = "datasets/service-calls.toml")]
    dataset: PathBuf,
    /// Raw input: a file or a folder (default: the dataset's sample, <spec dir>/<name>/sample).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Where everything the run writes goes (the local bucket lives in DATA_DIR/s3).
    #[arg(long, default_value = ".graphetl")]
    data_dir: PathBuf,
    /// Concurrent transform invocations before the local Lambda throttles (like reserved concurrency).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Files per process-files batch (the Distributed Map's ItemBatcher).
    #[arg(long, default_value_t = 10)]
    batch_size: u64,
    /// Tolerated share of failed batches, in percent.
    #[arg(long, default_value_t = 5.0)]
    tolerated_failure_percentage: f64,
}

fn collect_files(root: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    if root.is_file() {
        let name = root.file_name().and_then(|n| n.to_str()).context("input has no file name")?;
        return Ok(vec![(root.to_path_buf(), name.to_owned())]);
    }
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
            {
                let relative = path
                    .strip_prefix(root)?
                    .to_str()
                    .context("non-UTF-8 file name")?
                    .replace('\\', "/");
                files.push((path, relative));
            }
        }
    }
    files.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(files)
}

/// The repository root that holds statemachine/ (the current folder, or the binary's checkout).
pub(crate) fn repo_root() -> PathBuf {
    let here = PathBuf::from(".");
    if here.join("statemachine").is_dir() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if !args.local {
        bail!(
            "only local runs start here: use `graphetl run --local` (on AWS the schedule starts runs, and `graphetl reprocess` starts one)"
        );
    }
    let started = Instant::now();
    let (spec, spec_text) = read_spec(&args.dataset)?;
    let spec_dir = args.dataset.parent().unwrap_or(Path::new("."));
    let input = args.input.clone().unwrap_or_else(|| spec_dir.join(&spec.name).join("sample"));
    let files =
        collect_files(&input).with_context(|| format!("cannot read input {}", input.display()))?;
    if files.is_empty() {
        bail!("no input files under {}", input.display());
    }
    let settings = LocalSettings {
        data_dir: args.data_dir.clone(),
        repo: repo_root(),
        lambda_concurrency: args.concurrency.max(1),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let env = LocalEnv::start(settings).await?;
        // A run starts from a clean dataset area so that the same inputs give the same outputs.
        for prefix in [layout::raw_prefix(&spec.name), layout::curated_prefix(&spec.name), layout::quarantine_prefix(&spec.name)] {
            env.store.delete_prefix(LOCAL_BUCKET, &prefix).await?;
        }
        env.store.put_bytes(LOCAL_BUCKET, &layout::spec_key(&spec.name), spec_text.into_bytes(), Some("application/toml")).await?;
        for (path, relative) in &files {
            let key = format!("{}{relative}", layout::raw_prefix(&spec.name));
            env.store.put_file(LOCAL_BUCKET, &key, path, None).await?;
        }
        eprintln!("uploaded {} raw file(s) to s3://{LOCAL_BUCKET}/{}; running statemachine/pipeline.asl.json", files.len(), layout::raw_prefix(&spec.name));
        let name = env.next_name(&spec.name);
        let input = json!({
            "dataset": spec.name,
            "prefix": layout::raw_prefix(&spec.name),
            "transform_only": true,
            "batch_size": args.batch_size.max(1),
            "tolerated_failure_percentage": args.tolerated_failure_percentage,
        });
        let run = env.run_pipeline(&name, input).await?;
        run.print_summary(&spec.name, &env.bucket_dir(), &args.data_dir, started.elapsed().as_secs_f64());
        env.shutdown().await;
        Ok(if run.execution.status == Status::Succeeded { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}
