//! `graphetl transform`: the transform step on one file, from a local path or S3, to a local
//! folder (laid out like the bucket) or to a bucket.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use graphetl_core::contract::FileResult;
use graphetl_core::layout;
use graphetl_lambda::handlers::transform::{plan_outputs, publish};
use graphetl_storage::{ObjectStore, S3Store};
use graphetl_transform::{TransformOptions, TransformOutput, transform_file};

use super::{parse_s3_url, read_spec};

/// Arguments of `graphetl transform`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The dataset spec (TOML).
    #[arg(long)]
    dataset: PathBuf,
    /// The raw file: a local path or s3://bucket/key.
    #[arg(long)]
    input: String,
    /// Where outputs go: a local folder (laid out like the bucket: curated/…, quarantine/…) or
    /// s3://bucket.
    #[arg(long)]
    output_dir: String,
    /// Rows per Parquet row group at most.
    #[arg(long, default_value_t = TransformOptions::default().row_group_rows)]
    row_group_rows: usize,
}

/// Runs the command: prints the file result as one JSON line on stdout.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let (spec, _) = read_spec(&args.dataset)?;
    let options =
        TransformOptions { row_group_rows: args.row_group_rows, ..TransformOptions::default() };
    let started = Instant::now();
    let runtime = super::runtime()?;
    let scratch = tempfile::Builder::new().prefix("graphetl-transform-").tempdir()?;
    let needs_s3 = args.input.starts_with("s3://") || args.output_dir.starts_with("s3://");
    let store = if needs_s3 { Some(runtime.block_on(S3Store::from_env())) } else { None };

    let (input_path, raw_key, source) = match parse_s3_url(&args.input) {
        Some((bucket, key)) => {
            let store = store.as_ref().context("no S3 client")?;
            let base = key.rsplit('/').next().unwrap_or("input");
            let path = scratch.path().join(format!("input-{base}"));
            runtime
                .block_on(store.get_to_file(&bucket, &key, &path))
                .with_context(|| format!("cannot download {}", args.input))?;
            (path, key, args.input.clone())
        }
        None if args.input.starts_with("s3://") => {
            bail!("--input {} is not an s3://bucket/key URL", args.input)
        }
        None => {
            let path = PathBuf::from(&args.input);
            let name =
                path.file_name().and_then(|n| n.to_str()).context("--input has no file name")?;
            let raw_key = format!("{}{name}", layout::raw_prefix(&spec.name));
            (path, raw_key, args.input.clone())
        }
    };

    let output = transform_file(&spec, &input_path, &source, &scratch.path().join("out"), &options)
        .with_context(|| format!("{source}: cannot transform"))?;

    let result = match parse_s3_url(&args.output_dir) {
        Some((bucket, prefix)) => {
            if !prefix.is_empty() {
                bail!(
                    "--output-dir takes s3://BUCKET only; outputs go to curated/<dataset>/ and quarantine/<dataset>/ in it"
                );
            }
            let store = store.as_ref().context("no S3 client")?;
            runtime
                .block_on(publish(store, &bucket, &spec.name, &raw_key, &output))
                .map_err(|e| anyhow::anyhow!(e))?
        }
        None => publish_local(Path::new(&args.output_dir), &spec.name, &raw_key, &output)?,
    };
    eprintln!(
        "{source}: {} rows in, {} written to {} file(s), {} rejected{} in {:.2}s",
        result.rows_in,
        result.rows_written,
        result.outputs.len(),
        result.rows_rejected,
        result.quarantine.as_ref().map(|q| format!(" (see {})", q.key)).unwrap_or_default(),
        started.elapsed().as_secs_f64()
    );
    println!("{}", serde_json::to_string(&result)?);
    Ok(ExitCode::SUCCESS)
}

/// Moves finished outputs into `root` under the bucket's key layout, each file atomically.
fn publish_local(
    root: &Path,
    dataset: &str,
    raw_key: &str,
    output: &TransformOutput,
) -> anyhow::Result<FileResult> {
    let place = |key: &str, from: &Path| -> anyhow::Result<()> {
        let dest = root.join(key);
        let dir = dest.parent().context("output key has no folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let staging = dest.with_extension("partial");
        std::fs::copy(from, &staging)
            .with_context(|| format!("cannot write {}", staging.display()))?;
        std::fs::rename(&staging, &dest)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        Ok(())
    };
    let plan = plan_outputs(dataset, raw_key, output);
    for (path, meta) in &plan.curated {
        place(&meta.key, path)?;
    }
    match &plan.quarantine {
        Some((path, meta)) => place(&meta.key, path)?,
        None => {
            let stale = root.join(&plan.quarantine_key);
            if stale.exists() {
                std::fs::remove_file(&stale)
                    .with_context(|| format!("cannot remove {}", stale.display()))?;
            }
        }
    }
    Ok(plan.file_result(&root.display().to_string(), dataset, raw_key, output))
}
