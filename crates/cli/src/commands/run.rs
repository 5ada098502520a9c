//! `graphetl run --local`: the whole pipeline on one machine.
//!
//! It starts the embedded S3 endpoint, uploads the dataset's spec and SQL, and runs the real
//! statemachine/pipeline.asl.json in the local interpreter with the four handlers in process:
//! extract, transform (Distributed Map over the raw prefix, process-files batches), aggregate
//! (DataFusion over the curated Parquet, the same SQL Athena runs) and load (a local graph with
//! Neptune's upsert semantics, written as Neptune CSV, GraphML and DOT).
//!
//! Where the raw records come from:
//! - `--input PATH`: local files uploaded as the dataset's raw files (extract skipped, as for a
//!   dataset whose source kind is `none`);
//! - an `http` source: the spec's own API (its `url`, headers resolved as in the Lambda), paged
//!   by the real extract over `--window`; with `--generated-source`, and by default for the
//!   bundled example dataset only, a local copy of the API (`graphetl serve-source`) serving
//!   `--records` generated records on 127.0.0.1 instead;
//! - a `generator` source: the extract step generates `--records` records over `--window`;
//! - a `none` source without `--input`: the dataset's sample (`<spec dir>/<name>/sample`).
//!
//! `--prefix` and `--failed-of` re-run part of an earlier local run, like `graphetl reprocess`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use graphetl_core::layout;
use graphetl_core::spec::{DatasetSpec, Source};
use graphetl_extract::source::{LocalSource, serve_generated};
use graphetl_states::exec::Status;
use graphetl_storage::ObjectStore;
use serde_json::{Value, json};

use super::generate::GeneratorArgs;
use super::local::{LOCAL_BUCKET, LocalEnv, LocalSettings};
use super::{files_under, read_spec};

/// The bundled example dataset, relative to the repository root.
const EXAMPLE_DATASET: &str = "datasets/service-calls.toml";

/// Arguments of `graphetl run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Run on this machine (the only mode here; on AWS the schedule starts runs).
    #[arg(long)]
    local: bool,
    /// The dataset spec. Default: the bundled example, datasets/service-calls.toml under the
    /// current folder (the repository root), whose http source is served from generated records.
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// For an http source: serve generated records from a local copy of the API on 127.0.0.1
    /// in place of the spec's `url` (the default for the bundled example only; a spec given with
    /// --dataset is extracted from its own API unless this is set).
    #[arg(long)]
    generated_source: bool,
    /// Raw input files (a file or a folder), uploaded as the dataset's raw files; extract is
    /// skipped.
    #[arg(long, conflicts_with_all = ["prefix", "failed_of"])]
    input: Option<PathBuf>,
    /// Records the generated source serves (http source with --generated-source) or the
    /// generator writes (generator source).
    #[arg(long, default_value_t = 10_000)]
    records: u64,
    /// The run's window (`--window`), and the generated records' services and seed.
    #[command(flatten)]
    generator: GeneratorArgs,
    /// Re-run one raw prefix of an earlier local run (like `graphetl reprocess --prefix`).
    #[arg(long, conflicts_with = "failed_of")]
    prefix: Option<String>,
    /// Re-run only the failed items of an earlier local execution (like `reprocess --failed-of`).
    #[arg(long)]
    failed_of: Option<String>,
    /// Where everything the run writes goes: the local bucket (DATA_DIR/s3), graph files
    /// (DATA_DIR/graph), execution records (DATA_DIR/executions).
    #[arg(long, default_value = ".graphetl")]
    data_dir: PathBuf,
    /// Concurrent invocations of each function before the local Lambda throttles.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Files per process-files batch (the Distributed Map's ItemBatcher).
    #[arg(long, default_value_t = 10)]
    batch_size: u64,
    /// Tolerated share of failed batches, in percent.
    #[arg(long, default_value_t = 5.0)]
    tolerated_failure_percentage: f64,
    /// Batches the transform Map Run runs at once (its MaxConcurrency; the state machine's
    /// default is 50). Default here: as many as fit in --concurrency with --file-concurrency
    /// files each, so the local Lambda is not throttled by the run's own defaults.
    #[arg(long)]
    max_concurrency: Option<u64>,
    /// Files each batch transforms at once (1 to 20; the state machine's default is 10).
    /// Default here: --concurrency, at most 10.
    #[arg(long)]
    file_concurrency: Option<u64>,
    /// Testing aid: every Nth transform invocation fails with GraphEtl.StorageThrottled, to
    /// watch the state machine retry it (0 = never).
    #[arg(long, default_value_t = 0)]
    inject_transform_throttling: u64,
}

/// The input files with their paths below `root` (hidden files left out), in name order.
fn collect_files(root: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    if root.is_file() {
        let name = root.file_name().and_then(|n| n.to_str()).context("input has no file name")?;
        return Ok(vec![(root.to_path_buf(), name.to_owned())]);
    }
    let mut files = Vec::new();
    for path in files_under(root)? {
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
            continue;
        }
        let relative =
            path.strip_prefix(root)?.to_str().context("non-UTF-8 file name")?.replace('\\', "/");
        files.push((path, relative));
    }
    files.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(files)
}

/// Uploads the spec (as given, or `spec_text`) and each of its SQL files to `datasets/`.
async fn upload_spec(
    env: &LocalEnv,
    spec: &DatasetSpec,
    spec_text: String,
    spec_dir: &Path,
) -> anyhow::Result<()> {
    env.store
        .put_bytes(
            LOCAL_BUCKET,
            &layout::spec_key(&spec.name),
            spec_text.into_bytes(),
            Some("application/toml"),
        )
        .await?;
    for query in &spec.queries {
        let path = spec_dir.join(&query.sql);
        env.store
            .put_file(LOCAL_BUCKET, &layout::sql_key(&query.sql), &path, Some("application/sql"))
            .await
            .with_context(|| format!("query {}: cannot upload {}", query.name, path.display()))?;
    }
    Ok(())
}

/// What one local run ended with, for `graphetl chaos`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RunOutcome {
    /// The execution's status (`SUCCEEDED`, …).
    pub(crate) status: String,
    /// Rows read and written by the transform step.
    pub(crate) rows_in: u64,
    /// Rows written to curated Parquet.
    pub(crate) rows_written: u64,
    /// Vertices and edges of the local graph.
    pub(crate) vertices: usize,
    /// Edges of the local graph.
    pub(crate) edges: usize,
    /// Source API requests the extract step retried.
    pub(crate) extract_retries: u64,
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let outcome = run_with(args, None, false)?;
    Ok(if outcome.status == Status::Succeeded.as_str() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A local run, with `faults` injected at every boundary (`graphetl chaos`) and the summary
/// left out when `quiet`.
pub(crate) fn run_with(
    args: &Args,
    faults: Option<std::sync::Arc<super::faults::Faults>>,
    quiet: bool,
) -> anyhow::Result<RunOutcome> {
    if !args.local {
        bail!(
            "only local runs start here: use `graphetl run --local` (on AWS the schedule starts runs, and `graphetl reprocess` starts one)"
        );
    }
    let dataset = match &args.dataset {
        Some(path) => path.clone(),
        None => {
            let example = PathBuf::from(EXAMPLE_DATASET);
            if !example.is_file() {
                bail!(
                    "the bundled example dataset {EXAMPLE_DATASET} is not under the current folder: run from the repository root, or give --dataset FILE"
                );
            }
            example
        }
    };
    if args.prefix.is_some() || args.failed_of.is_some() {
        let (spec, _) = read_spec(&dataset)?;
        let code = super::reprocess::run_local(
            &args.data_dir,
            args.concurrency,
            Some(spec.name),
            args.prefix.clone(),
            args.failed_of.clone(),
        )?;
        let status = if code == ExitCode::SUCCESS { "SUCCEEDED" } else { "FAILED" };
        return Ok(RunOutcome { status: status.to_owned(), ..RunOutcome::default() });
    }
    let started = Instant::now();
    let (spec, spec_text) = read_spec(&dataset)?;
    let spec_dir = dataset.parent().unwrap_or(Path::new(".")).to_path_buf();
    let window = args.generator.window()?;
    let input = match (&args.input, &spec.source) {
        (Some(path), _) => Some(path.clone()),
        (None, Source::None) => Some(spec_dir.join(&spec.name).join("sample")),
        (None, _) => None,
    };
    let files = match &input {
        Some(path) => {
            let files = collect_files(path)
                .with_context(|| format!("cannot read input {}", path.display()))?;
            if files.is_empty() {
                bail!("no input files under {}", path.display());
            }
            files
        }
        None => Vec::new(),
    };
    let mut settings = LocalSettings::new(args.data_dir.clone(), args.concurrency.max(1));
    settings.extract.generator_records = args.records;
    settings.extract.generator_seed = Some(args.generator.seed);
    settings.transform_throttle_every = args.inject_transform_throttling;
    let serve_options = faults.as_ref().map(|f| f.serve_options()).unwrap_or_default();
    settings.faults = faults;
    settings.quiet = quiet;
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let env = LocalEnv::start(settings).await?;
        // A run starts from a clean dataset area so that the same inputs give the same outputs.
        for prefix in [
            layout::raw_prefix(&spec.name),
            layout::curated_prefix(&spec.name),
            layout::quarantine_prefix(&spec.name),
            layout::aggregates_prefix(&spec.name),
        ] {
            env.store.delete_prefix(LOCAL_BUCKET, &prefix).await?;
        }
        let mut source: Option<LocalSource> = None;
        let mut source_label = None;
        let mut run_input = json!({
            "dataset": spec.name,
            "batch_size": args.batch_size.max(1),
            "tolerated_failure_percentage": args.tolerated_failure_percentage,
        });
        // Batches x files at once stay within the local Lambda's concurrency: more would
        // only be throttled and retried after a backoff, with the cores idle meanwhile.
        let concurrency = args.concurrency.max(1) as u64;
        let file_concurrency = args.file_concurrency.unwrap_or(concurrency.min(10));
        run_input["file_concurrency"] = json!(file_concurrency);
        run_input["max_concurrency"] =
            json!(args.max_concurrency.unwrap_or((concurrency / file_concurrency.max(1)).max(1)));
        if input.is_some() {
            upload_spec(&env, &spec, spec_text, &spec_dir).await?;
            for (path, relative) in &files {
                let key = layout::raw_key(&spec.name, relative);
                env.store.put_file(LOCAL_BUCKET, &key, path, None).await?;
            }
            eprintln!(
                "uploaded {} raw file(s) to s3://{LOCAL_BUCKET}/{}",
                files.len(),
                layout::raw_prefix(&spec.name)
            );
            run_input["prefix"] = Value::String(layout::raw_prefix(&spec.name));
        } else {
            let mut text = spec_text;
            // Generated records stand in for the API only when asked, or for the bundled example.
            let generated = args.generated_source || args.dataset.is_none();
            if let Source::Http(http) = &spec.source {
                if !generated {
                    source_label = Some(format!("{} (the spec's own API)", http.url));
                    eprintln!("extracting from the spec's source: {}", http.url);
                } else {
                    let config = args.generator.config(args.records)?;
                    let server =
                        serve_generated(&config, serve_options.clone(), "127.0.0.1:0".parse()?)
                            .await
                            .context("cannot start the local source")?;
                    // The spec's URL points at the real API; locally it points at this copy.
                    text = text.replace(&http.url, &server.url_template());
                    if !quiet {
                        eprintln!(
                            "serving {} generated record(s) at http://{}/ for the http source",
                            args.records,
                            server.addr()
                        );
                    }
                    let why = if args.generated_source {
                        "--generated-source"
                    } else {
                        "the bundled example; give --dataset to extract from a spec's own API"
                    };
                    source_label = Some(format!(
                        "{} generated record(s) served at http://{}/ in place of {} ({why})",
                        args.records,
                        server.addr(),
                        http.url
                    ));
                    source = Some(server);
                }
            }
            upload_spec(&env, &spec, text, &spec_dir).await?;
            run_input["window"] = serde_json::to_value(&window)?;
        }
        if !quiet {
            eprintln!("running statemachine/pipeline.asl.json");
        }
        let name = env.next_name(&spec.name);
        let mut run = env.run_pipeline(&name, run_input).await?;
        run.source = source_label;
        if let Some(server) = source {
            server.shutdown().await;
        }
        run.finish(&spec.name, &env.bucket_dir(), &args.data_dir, started.elapsed().as_secs_f64())?;
        env.shutdown().await;
        let sum = |field: &str| -> u64 { run.files.iter().filter_map(|f| f[field].as_u64()).sum() };
        Ok(RunOutcome {
            status: run.execution.status.as_str().to_owned(),
            rows_in: sum("rows_in"),
            rows_written: sum("rows_written"),
            vertices: run.graph.vertices().count(),
            edges: run.graph.edges().count(),
            extract_retries: run.extracts.iter().map(|e| e.retries).sum(),
        })
    })
}
