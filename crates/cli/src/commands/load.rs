//! `graphetl load`: aggregate result files (CSV with a header, or Parquet) into Neptune with
//! batched mergeV/mergeE over SigV4-signed HTTPS, or into a local graph (Neptune CSV, GraphML,
//! DOT), using the dataset spec's `[graph]` mapping.
//!
//! With `--bulk-role-arn` and `--bulk-s3`, a load of at least `--bulk-min-records` records takes
//! Neptune's bulk loader instead: the graph is written as bulk-load CSV to
//! `<bulk-s3>/<dataset>-<UTC time>/` (through the standard AWS configuration: `AWS_REGION`,
//! credentials, `AWS_ENDPOINT_URL`) and a `/loader` job is started and polled. The printout says
//! which path was taken.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use graphetl_graph::gremlin::{Batcher, Budget, EngineVersion, UpsertForm};
use graphetl_graph::local::{LocalGraph, render_picture};
use graphetl_graph::model::{ResultValue, Row};
use graphetl_lambda::bulk::S3CsvUpload;
use graphetl_neptune::bulk::BulkConfig;
use graphetl_neptune::http::{Auth, CachedCredentials, ClientConfig, NeptuneClient};
use graphetl_neptune::load::{BulkRoute, ResultsReport, load_results, load_results_routed};
use graphetl_neptune::writers::NeptuneSink;

use super::read_spec;

/// Arguments of `graphetl load`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The dataset spec (its [graph] section maps result columns to vertices and edges).
    #[arg(long)]
    dataset: PathBuf,
    /// A query result as NAME=PATH (CSV with a header, or .parquet); repeatable.
    #[arg(long = "result", value_parser = parse_result, required = true)]
    results: Vec<(String, PathBuf)>,
    /// Neptune's endpoint, e.g. https://my-cluster.cluster-xyz.us-east-1.neptune.amazonaws.com:8182.
    #[arg(long, required_unless_present = "local_graph")]
    neptune_endpoint: Option<String>,
    /// Do not sign requests (IAM auth off on the cluster, or a local stand-in).
    #[arg(long)]
    no_iam: bool,
    /// The cluster's region for SigV4 (default: the AWS configuration's).
    #[arg(long)]
    region: Option<String>,
    /// Parallel writers, each with one request in flight (default: 2 × this machine's cores).
    #[arg(long)]
    writers: Option<usize>,
    /// Neptune engine version; decides the mergeV/mergeE form.
    #[arg(long, default_value = "1.3.2.0")]
    engine_version: String,
    /// Write the graph to this folder instead (vertices.csv, edges.csv, GraphML, DOT, SVG).
    #[arg(long, conflicts_with = "neptune_endpoint")]
    local_graph: Option<PathBuf>,
    /// Turns the bulk path on: the IAM role the cluster assumes to read --bulk-s3 (it must be
    /// attached to the cluster).
    #[arg(long, requires = "bulk_s3", requires = "neptune_endpoint")]
    bulk_role_arn: Option<String>,
    /// Where bulk-load CSV goes, as s3://bucket/prefix (each load writes a new folder under it).
    #[arg(long, value_parser = parse_s3_url, requires = "bulk_role_arn")]
    bulk_s3: Option<(String, String)>,
    /// Loads of at least this many records (a label or a property each) take the bulk path.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    bulk_min_records: u64,
    /// Pause between loader status polls, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    bulk_poll_ms: u64,
    /// Stop waiting for the loader job after this many seconds (the job keeps running).
    #[arg(long, default_value_t = 3_600)]
    bulk_max_wait_secs: u64,
}

/// A Neptune client for `endpoint`: SigV4 with the standard credential chain unless `no_iam`.
pub(crate) async fn neptune_client(
    endpoint: &str,
    no_iam: bool,
    region: Option<&str>,
) -> anyhow::Result<NeptuneClient> {
    let auth = if no_iam {
        Auth::None
    } else {
        let region = match region {
            Some(region) => region.to_owned(),
            None => graphetl_neptune::http::default_region()
                .await
                .context("no region: give --region or set AWS_REGION")?,
        };
        Auth::Iam { region, credentials: Arc::new(CachedCredentials::default_chain().await) }
    };
    NeptuneClient::new(ClientConfig::new(endpoint.to_owned(), auth))
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn parse_result(text: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = text.split_once('=').ok_or("expected NAME=PATH")?;
    Ok((name.to_owned(), PathBuf::from(path)))
}

/// `s3://bucket/prefix` → (bucket, prefix without surrounding slashes).
fn parse_s3_url(text: &str) -> Result<(String, String), String> {
    let rest = text.strip_prefix("s3://").ok_or("expected s3://bucket/prefix")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err("expected s3://bucket/prefix: the bucket is empty".into());
    }
    Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

fn looks_like_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b' ') && b[13] == b':'
}

/// Types a CSV cell: empty is null; integers, floats, booleans and ISO timestamps keep their type.
fn csv_value(text: &str) -> ResultValue {
    if text.is_empty() {
        ResultValue::Null
    } else if let Ok(i) = text.parse::<i64>() {
        ResultValue::Int(i)
    } else if text.bytes().any(|b| b.is_ascii_digit())
        && let Ok(f) = text.parse::<f64>()
    {
        ResultValue::Float(f)
    } else if text == "true" || text == "false" {
        ResultValue::Bool(text == "true")
    } else if looks_like_timestamp(text) {
        ResultValue::Timestamp(text.to_owned())
    } else {
        ResultValue::String(text.to_owned())
    }
}

fn read_csv(path: &Path) -> anyhow::Result<Vec<Row>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: row {}", path.display(), i + 1))?;
        rows.push(header.iter().cloned().zip(record.iter().map(csv_value)).collect());
    }
    Ok(rows)
}

fn arrow_value(array: &dyn Array, i: usize) -> ResultValue {
    if array.is_null(i) {
        return ResultValue::Null;
    }
    match array.data_type() {
        DataType::Utf8 => ResultValue::String(array.as_string::<i32>().value(i).to_owned()),
        DataType::LargeUtf8 => ResultValue::String(array.as_string::<i64>().value(i).to_owned()),
        DataType::Int64 => ResultValue::Int(array.as_primitive::<Int64Type>().value(i)),
        DataType::Int32 => ResultValue::Int(i64::from(array.as_primitive::<Int32Type>().value(i))),
        DataType::Float64 => ResultValue::Float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Float32 => {
            ResultValue::Float(f64::from(array.as_primitive::<Float32Type>().value(i)))
        }
        DataType::Boolean => ResultValue::Bool(array.as_boolean().value(i)),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(i);
            ResultValue::Timestamp(graphetl_core::convert::format_timestamp(micros))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            let millis = array.as_primitive::<TimestampMillisecondType>().value(i);
            ResultValue::Timestamp(graphetl_core::convert::format_timestamp(
                millis.saturating_mul(1000),
            ))
        }
        other => ResultValue::String(format!("<{other}>")),
    }
}

fn read_parquet(path: &Path) -> anyhow::Result<Vec<Row>> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch?;
        let schema = batch.schema();
        for i in 0..batch.num_rows() {
            rows.push(
                schema
                    .fields()
                    .iter()
                    .zip(batch.columns())
                    .map(|(field, column)| (field.name().clone(), arrow_value(column.as_ref(), i)))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

fn print_report(report: &ResultsReport, seconds: f64) {
    let upsert = &report.upsert;
    println!(
        "loaded {} vertices and {} edges: {} records in {} requests, {} retries, {seconds:.3}s",
        upsert.vertices, upsert.edges, upsert.records, upsert.requests, upsert.retries
    );
    match &report.bulk {
        Some(bulk) => println!(
            "path: bulk loader, job {} over {} ({}, {} records, {} status polls)",
            bulk.load_id, bulk.source, bulk.status.status, bulk.status.total_records, bulk.polls
        ),
        None => println!("path: upsert (Gremlin mergeV/mergeE)"),
    }
    if !report.rejected.is_empty() {
        println!("rejected {} row(s):", report.rejected.len());
        for (query, row) in report.rejected.iter().take(20) {
            println!("  {query}: {row:?}");
        }
    }
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (spec, _) = read_spec(&args.dataset)?;
    let mut results = Vec::new();
    for (name, path) in &args.results {
        let rows = if path.extension().is_some_and(|e| e == "parquet") {
            read_parquet(path)?
        } else {
            read_csv(path)?
        };
        results.push((name.clone(), rows));
    }
    let version: EngineVersion =
        args.engine_version.parse().map_err(|e| anyhow::anyhow!("--engine-version: {e}"))?;
    let batcher = Batcher::new(UpsertForm::for_engine(&version), Budget::default());
    let runtime = super::runtime()?;
    runtime.block_on(async {
        if let Some(dir) = &args.local_graph {
            let mut graph = LocalGraph::new();
            let report = load_results(&spec, &results, &mut graph)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let files = graph.write_files(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
            print_report(&report, started.elapsed().as_secs_f64());
            println!(
                "wrote {}, {}, {}, {}",
                files.vertices_csv.display(),
                files.edges_csv.display(),
                files.graphml.display(),
                files.dot.display()
            );
            let svg = files.dot.with_extension("svg");
            match render_picture(&files.dot, &svg) {
                Ok(true) => println!("drew {}", svg.display()),
                Ok(false) => println!(
                    "no picture: Graphviz `dot` is not installed (apt-get install graphviz)"
                ),
                Err(e) => println!("no picture: {e}"),
            }
            return Ok(ExitCode::SUCCESS);
        }
        let Some(endpoint) = &args.neptune_endpoint else {
            bail!("give --neptune-endpoint or --local-graph")
        };
        let client = neptune_client(endpoint, args.no_iam, args.region.as_deref()).await?;
        let writers = args.writers.unwrap_or_else(|| {
            2 * std::thread::available_parallelism().map(usize::from).unwrap_or(1)
        });
        let client = Arc::new(client);
        let mut sink = NeptuneSink::new(client.clone(), batcher, writers.max(1));
        let report = match (&args.bulk_role_arn, &args.bulk_s3) {
            (Some(role), Some((bucket, prefix))) => {
                let region = match &args.region {
                    Some(region) => region.clone(),
                    None => graphetl_neptune::http::default_region()
                        .await
                        .context("the bulk path needs a region: give --region or set AWS_REGION")?,
                };
                let folder =
                    format!("{}-{}", spec.name, chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"));
                let key_prefix =
                    if prefix.is_empty() { folder } else { format!("{prefix}/{folder}") };
                let mut config = BulkConfig::new(role.clone(), region, key_prefix);
                config.min_records = usize::try_from(args.bulk_min_records).unwrap_or(usize::MAX);
                config.poll_interval = std::time::Duration::from_millis(args.bulk_poll_ms);
                config.max_wait = std::time::Duration::from_secs(args.bulk_max_wait_secs);
                let store = graphetl_storage::S3Store::from_env().await;
                let upload = S3CsvUpload::new(&store, bucket);
                let route = BulkRoute { client: &client, upload: &upload, config: &config };
                load_results_routed(&spec, &results, &mut sink, Some(route)).await
            }
            _ => load_results(&spec, &results, &mut sink).await,
        }
        .map_err(|e| anyhow::anyhow!("{} ({})", e, e.error_name()))?;
        print_report(&report, started.elapsed().as_secs_f64());
        Ok(ExitCode::SUCCESS)
    })
}
