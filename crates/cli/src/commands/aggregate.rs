//! `graphetl aggregate`: a dataset's aggregation queries on this machine (the local DataFusion
//! engine) over its curated Parquet, each result written as typed CSV chunk files.
//!
//! The curated data is a local folder (`…/curated/<dataset>/`, with the `dt=…/hour=…/` folders
//! below it) or an `s3://bucket/prefix`, downloaded to a temporary folder first through the
//! standard AWS configuration (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`). The chunks go to a
//! local folder or an `s3://bucket/prefix` as `<query>-00000.csv`, `<query>-00001.csv`, …; a
//! re-run replaces a query's chunks (stale higher-numbered chunks are removed), it never adds to
//! them.

use std::num::NonZeroUsize;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use graphetl_athena::chunks::{chunk_file_name, render_csv_chunks, write_csv_chunks};
use graphetl_athena::engine::{
    QueryEngine, QueryError, QueryParams, QueryResult, QuerySpecResolved, aggregate, table_name,
};
use graphetl_athena::local::LocalEngine;
use graphetl_lambda::handlers::aggregate::{ALL_DAYS, DEFAULT_ROWS_PER_CHUNK};
use graphetl_storage::{ObjectStore, S3Store};

use super::{parse_s3_url, read_spec};

/// The `--help` description of `graphetl aggregate`.
pub(crate) const LONG_ABOUT: &str = "Runs every query of a dataset spec ([[aggregate.queries]]) \
with the local SQL engine (DataFusion, the same SQL text Athena runs) over the dataset's curated \
Parquet, and writes each query's result as typed CSV chunk files <query>-00000.csv, \
<query>-00001.csv, … (the files the load step reads). A re-run replaces a query's chunks. Prints \
rows, chunk files and seconds per query, then the total.";

/// Arguments of `graphetl aggregate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  graphetl aggregate --dataset datasets/service-calls.toml \\\n      \
--curated .graphetl/s3/graphetl-local/curated/service-calls --out /tmp/aggregates\n  \
graphetl aggregate --dataset datasets/service-calls.toml \\\n      \
--curated s3://my-bucket/curated/service-calls/ --out s3://my-bucket/aggregates/manual/ \\\n      \
--from 2026-11-20 --to 2026-11-21"
)]
pub(crate) struct Args {
    /// The dataset spec (TOML); its SQL paths are relative to the spec's folder.
    #[arg(long)]
    dataset: PathBuf,
    /// The dataset's curated Parquet: a local folder (…/curated/<dataset>/, holding the
    /// dt=…/hour=…/ folders) or s3://bucket/prefix (downloaded to a temporary folder first).
    #[arg(long, value_name = "PATH|s3://bucket/prefix")]
    curated: String,
    /// Where the chunk files go: a local folder (created if needed) or s3://bucket/prefix.
    #[arg(long, value_name = "PATH|s3://bucket/prefix")]
    out: String,
    /// First day ({dt_from}), inclusive, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", default_value = ALL_DAYS.0, value_parser = parse_day)]
    from: String,
    /// Last day ({dt_to}), inclusive, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", default_value = ALL_DAYS.1, value_parser = parse_day)]
    to: String,
    /// Rows per chunk file at most.
    #[arg(long, value_name = "N", default_value_t = default_rows_per_chunk())]
    rows_per_chunk: NonZeroUsize,
    /// The run id substituted for {run_id} (1-128 characters of A-Za-z0-9._:-).
    #[arg(long, value_name = "ID", default_value = "local-aggregate")]
    run_id: String,
}

fn default_rows_per_chunk() -> NonZeroUsize {
    NonZeroUsize::new(DEFAULT_ROWS_PER_CHUNK).unwrap_or(NonZeroUsize::MIN)
}

/// A day as `YYYY-MM-DD` (four-digit year, two-digit month and day).
fn parse_day(text: &str) -> Result<String, String> {
    let shaped = text.len() == 10
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if shaped && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is not a day (YYYY-MM-DD)"))
    }
}

/// `s3://bucket/prefix` → (bucket, `prefix/`, or empty for the whole bucket).
fn s3_location(url: &str, flag: &str) -> anyhow::Result<Option<(String, String)>> {
    if !url.starts_with("s3://") {
        return Ok(None);
    }
    let (bucket, prefix) = parse_s3_url(url)
        .with_context(|| format!("{flag} {url} is not an s3://bucket/prefix URL"))?;
    let prefix = prefix.trim_matches('/');
    Ok(Some((bucket, if prefix.is_empty() { String::new() } else { format!("{prefix}/") })))
}

/// Wraps an engine and records how long each query took.
struct Timed<'a, E> {
    inner: &'a E,
    seconds: Mutex<Vec<Duration>>,
}

impl<E: QueryEngine + Sync> QueryEngine for Timed<'_, E> {
    async fn run(&self, query: &QuerySpecResolved) -> Result<QueryResult, QueryError> {
        let started = Instant::now();
        let result = self.inner.run(query).await;
        self.seconds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(started.elapsed());
        result
    }
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (spec, _) = read_spec(&args.dataset)?;
    if spec.queries.is_empty() {
        bail!(
            "{}: the dataset declares no [[aggregate.queries]]: nothing to run",
            args.dataset.display()
        );
    }
    if args.from > args.to {
        bail!("--from {} is after --to {}", args.from, args.to);
    }
    let spec_dir = args.dataset.parent().unwrap_or(Path::new("."));
    let curated_s3 = s3_location(&args.curated, "--curated")?;
    let out_s3 = s3_location(&args.out, "--out")?;
    let runtime = super::runtime()?;
    let store = if curated_s3.is_some() || out_s3.is_some() {
        Some(runtime.block_on(S3Store::from_env()))
    } else {
        None
    };

    let scratch = tempfile::Builder::new().prefix("graphetl-aggregate-").tempdir()?;
    let curated_dir = match (&curated_s3, &store) {
        (Some((bucket, prefix)), Some(store)) => {
            let dir = scratch.path().join("curated");
            let files = runtime.block_on(download_parquet(store, bucket, prefix, &dir))?;
            eprintln!("downloaded {files} Parquet file(s) from {}", args.curated);
            dir
        }
        _ => {
            let dir = PathBuf::from(&args.curated);
            check_curated_dir(&dir, &spec.name)?;
            dir
        }
    };
    let parquet_files = count_parquet(&curated_dir)?;

    let table = table_name(&spec.name);
    let params = QueryParams {
        table: table.clone(),
        dt_from: args.from.clone(),
        dt_to: args.to.clone(),
        run_id: args.run_id.clone(),
    };
    let engine = runtime
        .block_on(LocalEngine::over_dir(&spec, &table, &curated_dir))
        .with_context(|| format!("cannot open the curated data {}", args.curated))?;
    let timed = Timed { inner: &engine, seconds: Mutex::new(Vec::new()) };
    let results = runtime
        .block_on(aggregate(&timed, &spec, spec_dir, &params))
        .with_context(|| format!("dataset {}: aggregation failed", spec.name))?;
    let seconds = timed.seconds.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);

    let (mut total_rows, mut total_chunks) = (0, 0);
    let width = results.iter().map(|(name, _)| name.len()).max().unwrap_or(0).max(5);
    for (i, (name, result)) in results.iter().enumerate() {
        let write_started = Instant::now();
        let chunks = match (&out_s3, &store) {
            (Some((bucket, prefix)), Some(store)) => runtime.block_on(upload_chunks(
                store,
                bucket,
                prefix,
                name,
                result,
                args.rows_per_chunk,
            ))?,
            _ => write_csv_chunks(result, Path::new(&args.out), name, args.rows_per_chunk)
                .with_context(|| format!("query {name}: cannot write its chunks"))?
                .len(),
        };
        let query_time = seconds.get(i).copied().unwrap_or_default();
        let elapsed = query_time + write_started.elapsed();
        println!(
            "{name:<width$}  {:>9} rows  {chunks:>4} chunk file(s)  {:>7.2}s",
            result.rows.len(),
            elapsed.as_secs_f64()
        );
        total_rows += result.rows.len();
        total_chunks += chunks;
    }
    println!(
        "{:<width$}  {total_rows:>9} rows  {total_chunks:>4} chunk file(s)  {:>7.2}s",
        "total",
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "{} quer{} over {parquet_files} Parquet file(s), days {}..{}, chunks in {}",
        results.len(),
        if results.len() == 1 { "y" } else { "ies" },
        args.from,
        args.to,
        args.out
    );
    Ok(ExitCode::SUCCESS)
}

/// A local curated folder must exist and be the dataset's folder, not the bucket root.
fn check_curated_dir(dir: &Path, dataset: &str) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => bail!("--curated {} is not a folder", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "--curated {}: no such folder (expected …/curated/{dataset}/, the folder holding dt=… partitions)",
            dir.display()
        ),
        Err(e) => bail!("--curated {}: {e}", dir.display()),
    }
    let nested = dir.join("curated").join(dataset);
    if nested.is_dir() {
        bail!(
            "--curated {} looks like a bucket root: pass {} instead",
            dir.display(),
            nested.display()
        );
    }
    Ok(())
}

fn count_parquet(dir: &Path) -> anyhow::Result<usize> {
    Ok(super::files_under(dir)?
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .count())
}

/// The part of `key` below `prefix` as a relative path, refusing anything that would leave the
/// download folder.
fn relative_path(key: &str, prefix: &str) -> Option<PathBuf> {
    let rest = key.strip_prefix(prefix)?;
    let path = PathBuf::from(rest);
    let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
    (plain && !rest.is_empty()).then_some(path)
}

/// Downloads every `.parquet` object under `prefix` into `dir`, keeping the key layout below the
/// prefix (`dt=…/hour=…/…`). An empty prefix is an error, like a missing local folder.
async fn download_parquet(
    store: &S3Store,
    bucket: &str,
    prefix: &str,
    dir: &Path,
) -> anyhow::Result<usize> {
    let objects = store
        .list(bucket, prefix)
        .await
        .with_context(|| format!("cannot list s3://{bucket}/{prefix}"))?;
    if objects.is_empty() {
        bail!(
            "--curated s3://{bucket}/{prefix}: no objects (expected curated/<dataset>/, holding dt=… partitions)"
        );
    }
    let mut downloads = Vec::new();
    for object in objects.into_iter().filter(|o| o.key.ends_with(".parquet")) {
        let relative = relative_path(&object.key, prefix).with_context(|| {
            format!("s3://{bucket}/{}: not a plain key below the prefix", object.key)
        })?;
        downloads.push((object.key, dir.join(relative)));
    }
    let count = downloads.len();
    futures::stream::iter(downloads)
        .map(|(key, path)| async move {
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            store
                .get_to_file(bucket, &key, &path)
                .await
                .with_context(|| format!("cannot download s3://{bucket}/{key}"))?;
            anyhow::Ok(())
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(count)
}

/// Uploads the chunks of `result` as `<prefix><stem>-NNNNN.csv` and deletes chunks of the same
/// stem an earlier, longer result left there. Returns the number of chunks.
async fn upload_chunks(
    store: &S3Store,
    bucket: &str,
    prefix: &str,
    stem: &str,
    result: &QueryResult,
    rows_per_chunk: NonZeroUsize,
) -> anyhow::Result<usize> {
    let chunks = render_csv_chunks(result, rows_per_chunk)
        .with_context(|| format!("query {stem}: cannot write its chunks"))?;
    let count = chunks.len();
    let mut written = Vec::with_capacity(count);
    for (index, text) in chunks.into_iter().enumerate() {
        let key = format!("{prefix}{}", chunk_file_name(stem, index));
        store
            .put_bytes(bucket, &key, text.into_bytes(), Some("text/csv"))
            .await
            .with_context(|| format!("cannot upload s3://{bucket}/{key}"))?;
        written.push(key);
    }
    let listed = store
        .list(bucket, &format!("{prefix}{stem}-"))
        .await
        .with_context(|| format!("cannot list s3://{bucket}/{prefix}"))?;
    for object in listed {
        let stale = !written.contains(&object.key)
            && object.key.strip_prefix(prefix).is_some_and(|name| is_chunk_of(stem, name));
        if stale {
            store
                .delete_prefix(bucket, &object.key)
                .await
                .with_context(|| format!("cannot delete s3://{bucket}/{}", object.key))?;
        }
    }
    Ok(count)
}

/// Whether `name` is a chunk file of `stem` (`<stem>-` five or more digits `.csv`).
fn is_chunk_of(stem: &str, name: &str) -> bool {
    name.strip_prefix(stem)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|rest| rest.strip_suffix(".csv"))
        .is_some_and(|digits| digits.len() >= 5 && digits.bytes().all(|b| b.is_ascii_digit()))
}
