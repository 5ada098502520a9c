//! `graphetl run --local`: the pipeline on one machine.
//!
//! At this stage it starts the embedded S3 endpoint, uploads the dataset's spec and raw files,
//! lists the raw prefix (as the Distributed Map's ItemReader does) and runs the transform
//! handler on every file in process, with capped concurrency. The Step Functions interpreter
//! replaces this loop when `crates/states` lands; the handler is the same one the Lambda runs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use futures::StreamExt;
use graphetl_core::contract::{FileResult, TransformItem};
use graphetl_core::layout;
use graphetl_lambda::handlers::transform::TransformHandler;
use graphetl_storage::{LocalS3, ObjectStore};
use graphetl_transform::TransformOptions;

use super::read_spec;

/// The bucket `run --local` uses on the local endpoint.
pub(crate) const LOCAL_BUCKET: &str = "graphetl-local";

/// Arguments of `graphetl run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Run on this machine (the only mode so far; AWS runs start with `graphetl reprocess`).
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
    /// Files transformed at once (like the Map's MaxConcurrency).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
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

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if !args.local {
        bail!("only local runs are supported here: use `graphetl run --local`");
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
    let s3_root = args.data_dir.join("s3");
    std::fs::create_dir_all(&s3_root)
        .with_context(|| format!("cannot create {}", s3_root.display()))?;
    let work = args.data_dir.join("work");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let server = LocalS3::start(&s3_root).await?;
        let store = server.store();
        store.ensure_bucket(LOCAL_BUCKET).await?;
        // A run starts from a clean dataset area so that the same inputs give the same outputs.
        for prefix in [
            layout::raw_prefix(&spec.name),
            layout::curated_prefix(&spec.name),
            layout::quarantine_prefix(&spec.name),
        ] {
            store.delete_prefix(LOCAL_BUCKET, &prefix).await?;
        }
        store
            .put_bytes(
                LOCAL_BUCKET,
                &layout::spec_key(&spec.name),
                spec_text.into_bytes(),
                Some("application/toml"),
            )
            .await?;
        for (path, relative) in &files {
            let key = format!("{}{relative}", layout::raw_prefix(&spec.name));
            store.put_file(LOCAL_BUCKET, &key, path, None).await?;
        }
        eprintln!(
            "uploaded {} raw file(s) to s3://{LOCAL_BUCKET}/{} on {}",
            files.len(),
            layout::raw_prefix(&spec.name),
            server.endpoint_url()
        );

        let items: Vec<TransformItem> = store
            .list(LOCAL_BUCKET, &layout::raw_prefix(&spec.name))
            .await?
            .into_iter()
            .map(|o| TransformItem {
                bucket: LOCAL_BUCKET.into(),
                key: o.key,
                dataset: spec.name.clone(),
                run_id: "local".into(),
            })
            .collect();
        let handler = TransformHandler::new(store, TransformOptions::default(), work.clone());
        let total = items.len();
        let mut done = 0usize;
        let mut results: Vec<(String, Result<FileResult, graphetl_lambda::StepError>)> =
            futures::stream::iter(items)
                .map(|item| {
                    let handler = &handler;
                    async move { (item.key.clone(), handler.handle(item).await) }
                })
                .buffer_unordered(args.concurrency.max(1))
                .inspect(|(key, result)| {
                    done += 1;
                    let status = match result {
                        Ok(r) => format!("{} rows, {} rejected", r.rows_in, r.rows_rejected),
                        Err(e) => format!("FAILED {}", e.name),
                    };
                    eprintln!("[{done}/{total}] {key}: {status}");
                })
                .collect()
                .await;
        results.sort_by(|a, b| a.0.cmp(&b.0));
        server.shutdown().await;
        Ok::<_, anyhow::Error>(print_summary(args, &spec.name, &results, started))
    })
}

fn print_summary(
    args: &Args,
    dataset: &str,
    results: &[(String, Result<FileResult, graphetl_lambda::StepError>)],
    started: Instant,
) -> ExitCode {
    let ok: Vec<&FileResult> = results.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
    let failed: Vec<(&String, &graphetl_lambda::StepError)> =
        results.iter().filter_map(|(k, r)| r.as_ref().err().map(|e| (k, e))).collect();
    let rows_in: u64 = ok.iter().map(|r| r.rows_in).sum();
    let written: u64 = ok.iter().map(|r| r.rows_written).sum();
    let rejected: u64 = ok.iter().map(|r| r.rows_rejected).sum();
    let parquet: usize = ok.iter().map(|r| r.outputs.len()).sum();
    let bucket_dir = args.data_dir.join("s3").join(LOCAL_BUCKET);
    println!("graphetl run --local: dataset {dataset}");
    println!("  files       {} transformed, {} failed", ok.len(), failed.len());
    println!("  rows        {rows_in} in, {written} written, {rejected} rejected");
    println!(
        "  parquet     {parquet} file(s) under {}",
        bucket_dir.join(layout::curated_prefix(dataset)).display()
    );
    if rejected > 0 {
        println!("  quarantine  {}", bucket_dir.join(layout::quarantine_prefix(dataset)).display());
    }
    for (key, error) in &failed {
        println!("  failed      {key}: {}: {}", error.name, error.cause);
    }
    println!("  time        {:.2}s", started.elapsed().as_secs_f64());
    println!(
        "  note        aggregation, graph load and the state machine arrive with their issues; this run covers extract-free transform of every raw file"
    );
    if failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
