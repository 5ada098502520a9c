//! The local runner: the real statemachine/*.asl.json run by the `states` interpreter against
//! the embedded S3 endpoint, with the Lambda handlers in process. `run --local`, `reprocess
//! --local` and `failures --local` share it.
//!
//! Placeholders are substituted the way infra/template.yaml's DefinitionSubstitutions do, with
//! local names. Each execution is recorded under DATA_DIR/executions/ so that `failures` and
//! `reprocess --failed-of` can find it later; one that did not succeed also keeps what the
//! engine needs to redrive it (`<name>.engine.json`) and the local graph as it left it
//! (`<name>.graph.json`), so that `graphetl redrive --local` continues it in a later process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;
use graphetl_athena::engine::table_name;
use graphetl_athena::local::LocalEngine;
use graphetl_core::contract::{
    AggregateEvent, ExtractRequest, ExtractResult, LoadChunk, TransformItem,
};
use graphetl_core::errors::StepError;
use graphetl_core::{ErrorName, layout};
use graphetl_extract::secrets::LocalSecrets;
use graphetl_graph::local::{GraphSink, LocalGraph, SharedGraph, render_picture};
use graphetl_graph::model::GraphBatch;
use graphetl_graph::{Batcher, Budget, UpsertForm};
use graphetl_lambda::handlers::aggregate::{AggregateHandler, DEFAULT_ROWS_PER_CHUNK};
use graphetl_lambda::handlers::extract::{ExtractHandler, ExtractOptions};
use graphetl_lambda::handlers::load::LoadHandler;
use graphetl_lambda::handlers::load_spec;
use graphetl_lambda::handlers::transform::TransformHandler;
use graphetl_states::exec::{Engine, EngineBuilder, EngineOptions, Execution, Status};
use graphetl_states::resolve::{FunctionError, Functions};
use graphetl_storage::{LocalS3, ObjectStore, S3Store};
use graphetl_transform::TransformOptions;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::faults::{Faults, FaultySink};
use super::items::StoreItems;
pub(crate) use super::workflow::LOCAL_BUCKET;
use super::workflow::{
    FailedItem, PIPELINE, failed_items, function_arn, process_files, substitutions,
    transform_retriers,
};

/// Settings of a local run.
#[derive(Debug, Clone)]
pub(crate) struct LocalSettings {
    /// Where everything goes (`DATA_DIR/s3`, `DATA_DIR/executions`, `DATA_DIR/work`).
    pub(crate) data_dir: PathBuf,
    /// Concurrent invocations of each function before it throttles like Lambda.
    pub(crate) lambda_concurrency: usize,
    /// Options of the extract handler (generator size, HTTP retries).
    pub(crate) extract: ExtractOptions,
    /// Rows per aggregate result chunk (one load invocation each).
    pub(crate) rows_per_chunk: NonZeroUsize,
    /// Every Nth transform invocation fails with `GraphEtl.StorageThrottled` (0 = never): a
    /// fault to watch the state machine's retries work.
    pub(crate) transform_throttle_every: u64,
    /// Seeded faults at every boundary (`graphetl chaos`); none for a normal run.
    pub(crate) faults: Option<Arc<Faults>>,
    /// Write the graph files but print no end-of-run summary.
    pub(crate) quiet: bool,
}

impl LocalSettings {
    /// Settings with the defaults of the Lambda functions.
    pub(crate) fn new(data_dir: PathBuf, lambda_concurrency: usize) -> LocalSettings {
        LocalSettings {
            data_dir,
            lambda_concurrency: lambda_concurrency.max(1),
            extract: ExtractOptions::default(),
            rows_per_chunk: NonZeroUsize::new(DEFAULT_ROWS_PER_CHUNK).unwrap_or(NonZeroUsize::MIN),
            transform_throttle_every: 0,
            faults: None,
            quiet: false,
        }
    }
}

/// Wall-clock spans of the functions' invocations during one run.
#[derive(Clone, Default)]
struct StepTimings(Arc<Mutex<BTreeMap<&'static str, Span>>>);

/// First start, last end and number of invocations of one function.
type Span = (Instant, Instant, u64);

impl StepTimings {
    fn record(&self, name: &'static str, started: Instant) {
        let ended = Instant::now();
        if let Ok(mut spans) = self.0.lock() {
            let span = spans.entry(name).or_insert((started, ended, 0));
            span.0 = span.0.min(started);
            span.1 = span.1.max(ended);
            span.2 += 1;
        }
    }

    /// One line for the progress display: invocations finished per function so far.
    fn progress_line(&self) -> String {
        let Ok(spans) = self.0.lock() else { return String::new() };
        ["extract", "transform", "aggregate", "load"]
            .iter()
            .map(|name| format!("{name} {}", spans.get(name).map_or(0, |s| s.2)))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// (function, seconds from first start to last end, invocations), in pipeline order.
    fn spans(&self) -> Vec<(String, f64, u64)> {
        let Ok(spans) = self.0.lock() else { return Vec::new() };
        ["extract", "transform", "aggregate", "load"]
            .iter()
            .filter_map(|name| {
                spans.get(name).map(|(a, b, n)| ((*name).to_owned(), (*b - *a).as_secs_f64(), *n))
            })
            .collect()
    }
}

/// Registers a step handler as the local Lambda function `graphetl-<name>`: the event is decoded
/// with the handler's contract, a `StepError` becomes the Lambda error with its stable name, and
/// the invocation's time is recorded.
fn register<E, R, F, Fut>(
    functions: &mut Functions,
    name: &'static str,
    concurrency: Option<usize>,
    timings: &StepTimings,
    faults: Option<Arc<Faults>>,
    handler: F,
) where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(E) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, StepError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    let timings = timings.clone();
    functions.register(
        &function_arn(name),
        Arc::new(move |payload: Value| {
            let (handler, timings, faults) = (handler.clone(), timings.clone(), faults.clone());
            async move {
                let started = Instant::now();
                let injected = faults.as_ref().and_then(|f| f.lambda(name, &payload));
                if injected.is_some()
                    && let Some(faults) = &faults
                {
                    faults.count_task_failure();
                }
                let event: E = serde_json::from_value(payload).map_err(|e| {
                    FunctionError::new(
                        "GraphEtl.BadEvent",
                        format!("the event does not match the contract: {e}"),
                    )
                })?;
                if injected == Some(super::faults::LAMBDA_THROTTLED) {
                    timings.record(name, started);
                    return Err(FunctionError::new(
                        "Lambda.TooManyRequestsException",
                        format!("injected by graphetl chaos: {name} throttled (Rate Exceeded)"),
                    ));
                }
                let result = handler(event).await;
                timings.record(name, started);
                if result.is_err()
                    && let Some(faults) = &faults
                {
                    faults.count_task_failure();
                }
                if injected == Some(super::faults::LAMBDA_CRASHED) {
                    // The function did its work (wrote its outputs) and died before answering.
                    return Err(FunctionError::new(
                        "Lambda.ServiceException",
                        format!(
                            "injected by graphetl chaos: {name} crashed after writing its output"
                        ),
                    ));
                }
                let response = result.map_err(|e| FunctionError::new(e.name.as_str(), e.cause))?;
                serde_json::to_value(response)
                    .map_err(|e| FunctionError::new("GraphEtl.Internal", e.to_string()))
            }
        }),
        concurrency,
    );
}

/// A started local environment: the S3 endpoint and a store on it.
pub(crate) struct LocalEnv {
    server: LocalS3,
    /// The fault proxy the handlers' S3 client goes through (`graphetl chaos` only).
    proxy: Option<graphetl_storage::FaultProxy>,
    pub(crate) store: S3Store,
    settings: LocalSettings,
}

/// The local functions and what their invocations record.
pub(crate) struct LocalFunctions {
    /// The functions, to give an engine.
    pub(crate) functions: Functions,
    /// Wall-clock spans of the invocations.
    timings: StepTimings,
    /// The graph the load function writes (the local stand-in for Neptune).
    graph: SharedGraph,
    /// What each extract invocation returned.
    extracted: Arc<Mutex<Vec<ExtractResult>>>,
}

/// The record of one local execution, kept in DATA_DIR/executions/<name>.json.
/// The environment variable that makes a local run write its child executions' histories to
/// `executions/NAME.children.json` (for tests and debugging; off by default).
pub(crate) const CHILD_HISTORIES_VAR: &str = "GRAPHETL_LOCAL_CHILD_HISTORIES";

/// Whether [`CHILD_HISTORIES_VAR`] is set to `1`.
fn keep_child_histories() -> bool {
    std::env::var(CHILD_HISTORIES_VAR).is_ok_and(|v| v == "1")
}

pub(crate) fn record_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("executions").join(format!("{name}.json"))
}

/// What the engine needs to redrive an execution that did not succeed.
fn engine_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("executions").join(format!("{name}.engine.json"))
}

/// The local graph as an execution that did not succeed left it.
fn graph_path(data_dir: &Path, name: &str) -> PathBuf {
    data_dir.join("executions").join(format!("{name}.graph.json"))
}

/// The engine and what its functions report, for one run or redrive.
struct Wired {
    engine: Arc<Engine>,
    timings: StepTimings,
    graph: SharedGraph,
    extracted: Arc<Mutex<Vec<ExtractResult>>>,
}

/// An empty local graph that counts requests as the load Lambda's Neptune writer would.
pub(crate) fn new_graph() -> SharedGraph {
    SharedGraph::new(Batcher::new(UpsertForm::MergeSingleMap, Budget::default()))
}

impl LocalEnv {
    /// Starts the embedded S3 endpoint over DATA_DIR/s3 and makes sure the bucket exists.
    pub(crate) async fn start(settings: LocalSettings) -> anyhow::Result<LocalEnv> {
        let s3_root = settings.data_dir.join("s3");
        std::fs::create_dir_all(&s3_root)
            .with_context(|| format!("cannot create {}", s3_root.display()))?;
        let server = LocalS3::start(&s3_root).await?;
        let store = server.store();
        store.ensure_bucket(LOCAL_BUCKET).await?;
        let proxy = match &settings.faults {
            Some(faults) => Some(faults.s3_proxy(server.endpoint_url()).await?),
            None => None,
        };
        Ok(LocalEnv { server, proxy, store, settings })
    }

    /// The local bucket's folder on disk.
    pub(crate) fn bucket_dir(&self) -> PathBuf {
        self.settings.data_dir.join("s3").join(LOCAL_BUCKET)
    }

    /// A fresh execution name: `local-<dataset>-0001`, `-0002`, …
    pub(crate) fn next_name(&self, dataset: &str) -> String {
        (1..)
            .map(|n| format!("local-{dataset}-{n:04}"))
            .find(|name| !record_path(&self.settings.data_dir, name).exists())
            .unwrap_or_else(|| format!("local-{dataset}"))
    }

    /// Runs statemachine/pipeline.asl.json with `input` as execution `name`, records it and
    /// returns it with the per-file results the run's ResultWriter files hold.
    pub(crate) async fn run_pipeline(&self, name: &str, input: Value) -> anyhow::Result<LocalRun> {
        let pipeline = PIPELINE.load()?;
        let wired = self.wire(new_graph())?;
        let run = wired.engine.run("graphetl-pipeline", &pipeline, input, name);
        let execution = with_progress(name, &wired.timings, run).await;
        self.record(name, wired, execution, Vec::new()).await
    }

    /// Redrives the recorded execution `name` (RedriveExecution): the same engine code as a run,
    /// continuing from the engine records and the local graph the execution left.
    pub(crate) async fn redrive_pipeline(&self, name: &str) -> anyhow::Result<LocalRun> {
        let record = read_record(&self.settings.data_dir, name)?;
        let status = record["status"].as_str().unwrap_or("?");
        let saved = engine_path(&self.settings.data_dir, name);
        let text = std::fs::read_to_string(&saved).map_err(|_| {
            anyhow::anyhow!(
                "execution {name} is {status} and cannot be redriven (nothing to redrive: {} does not exist)",
                saved.display()
            )
        })?;
        let records: Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", saved.display()))?;
        let graph = new_graph();
        let graph_file = graph_path(&self.settings.data_dir, name);
        if graph_file.exists() {
            let text = std::fs::read_to_string(&graph_file)
                .with_context(|| format!("cannot read {}", graph_file.display()))?;
            let batch: GraphBatch = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a saved graph", graph_file.display()))?;
            graph.clone().upsert(&batch).map_err(|e| {
                anyhow::anyhow!("the saved graph {} does not load: {e}", graph_file.display())
            })?;
        }
        let pipeline = PIPELINE.load()?;
        let wired = self.wire(graph)?;
        wired.engine.import_records(&records)?;
        let arn = record["arn"].as_str().context("the execution record has no arn")?.to_owned();
        let redrive = wired.engine.redrive(&arn, &pipeline);
        let execution = with_progress(name, &wired.timings, redrive).await?;
        let earlier_runs = record["map_runs"].as_array().cloned().unwrap_or_default();
        self.record(name, wired, execution, earlier_runs).await
    }

    /// The engine with the four handlers registered as local Lambda functions, loading into
    /// `graph`.
    fn wire(&self, graph: SharedGraph) -> anyhow::Result<Wired> {
        let LocalFunctions { functions, timings, graph, extracted } = self.functions(graph)?;
        let mut builder = self.engine_builder(functions)?;
        if keep_child_histories() {
            builder =
                builder.options(EngineOptions { keep_records: true, ..EngineOptions::default() });
        }
        let engine = builder.build();
        Ok(Wired { engine, timings, graph, extracted })
    }

    /// The endpoint URL of the embedded S3 server.
    pub(crate) fn endpoint_url(&self) -> &str {
        self.server.endpoint_url()
    }

    /// The Lambda handlers as the local functions `graphetl-extract`, `-transform`,
    /// `-aggregate` and `-load` against the embedded S3 endpoint (the load function writing
    /// into `graph`), and what they record.
    pub(crate) fn functions(&self, graph: SharedGraph) -> anyhow::Result<LocalFunctions> {
        let work = self.settings.data_dir.join("work");
        std::fs::create_dir_all(&work)
            .with_context(|| format!("cannot create {}", work.display()))?;
        let store = self.handler_store();
        let faults = self.settings.faults.clone();
        let concurrency = Some(self.settings.lambda_concurrency);
        let timings = StepTimings::default();
        let mut functions = Functions::new();
        let extract = Arc::new(ExtractHandler::new(
            store.clone(),
            LocalSecrets::from_env(),
            self.settings.extract.clone(),
        ));
        // What each extract invocation returned (pages, retries, waits), for the summary.
        let extracted: Arc<Mutex<Vec<ExtractResult>>> = Arc::default();
        let extracts = extracted.clone();
        register(
            &mut functions,
            "extract",
            concurrency,
            &timings,
            faults.clone(),
            move |request: ExtractRequest| {
                let (extract, extracts) = (extract.clone(), extracts.clone());
                async move {
                    let result = extract.handle(request).await?;
                    if let Ok(mut all) = extracts.lock() {
                        all.push(result.clone());
                    }
                    Ok(result)
                }
            },
        );

        let transform =
            Arc::new(TransformHandler::new(store.clone(), TransformOptions::default(), work));
        let throttle_every = self.settings.transform_throttle_every;
        let invocations = Arc::new(std::sync::atomic::AtomicU64::new(0));
        register(
            &mut functions,
            "transform",
            concurrency,
            &timings,
            faults.clone(),
            move |item: TransformItem| {
                let transform = transform.clone();
                let n = invocations.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                async move {
                    if throttle_every > 0 && n.is_multiple_of(throttle_every) {
                        return Err(StepError::new(
                            ErrorName::StorageThrottled,
                            format!(
                                "injected: invocation {n} throttled (--inject-transform-throttling)"
                            ),
                        ));
                    }
                    transform.handle(item).await
                }
            },
        );

        let aggregate =
            Arc::new(AggregateHandler::new(store.clone(), self.settings.rows_per_chunk));
        let bucket_dir = self.bucket_dir();
        let spec_store = store.clone();
        let athena_faults = faults.clone();
        register(
            &mut functions,
            "aggregate",
            concurrency,
            &timings,
            faults.clone(),
            move |event: AggregateEvent| {
                let (aggregate, store, bucket_dir) =
                    (aggregate.clone(), spec_store.clone(), bucket_dir.clone());
                let athena_faults = athena_faults.clone();
                async move {
                    let response = match event {
                        AggregateEvent::Plan(request) => {
                            serde_json::to_value(aggregate.plan(request).await?)
                        }
                        AggregateEvent::Query(request) => {
                            if let Some(error) =
                                athena_faults.as_ref().and_then(|f| f.athena(&request))
                            {
                                return Err(error);
                            }
                            let spec = load_spec(&store, &request.bucket, &request.dataset).await?;
                            let curated = bucket_dir.join(layout::curated_prefix(&request.dataset));
                            let engine = LocalEngine::over_dir(
                                &spec,
                                &table_name(&request.dataset),
                                &curated,
                            )
                            .await
                            .map_err(|e| StepError::new(ErrorName::Internal, e.to_string()))?;
                            serde_json::to_value(
                                aggregate.query_with_spec(request, &spec, &engine).await?,
                            )
                        }
                    };
                    response.map_err(|e| StepError::new(ErrorName::Internal, e.to_string()))
                }
            },
        );

        let load = Arc::new(LoadHandler::new(store.clone()));
        let sink = graph.clone();
        let sink_faults = faults.clone();
        register(&mut functions, "load", concurrency, &timings, faults, move |item: LoadChunk| {
            let (load, sink, faults) = (load.clone(), sink.clone(), sink_faults.clone());
            async move {
                match faults {
                    Some(faults) => {
                        let mut sink = FaultySink::new(sink, faults, &item);
                        load.handle(item, &mut sink).await
                    }
                    None => load.handle(item, &mut sink.clone()).await,
                }
            }
        });

        Ok(LocalFunctions { functions, timings, graph, extracted })
    }

    /// An engine builder with `functions`, the process-files state machine registered under its
    /// substituted ARN and the Distributed Map's items on the embedded S3 endpoint: what
    /// `run --local` and `serve` both run on.
    pub(crate) fn engine_builder(&self, functions: Functions) -> anyhow::Result<EngineBuilder> {
        let process_files = Arc::new(process_files()?.load()?);
        Ok(Engine::builder()
            .functions(functions)
            .machine(&substitutions()["ProcessFilesStateMachineArn"], process_files)
            .store(Arc::new(StoreItems(self.handler_store()))))
    }

    /// Writes the execution's record and history (and, unless it succeeded, what a redrive
    /// needs), and reads its per-file results. `earlier_runs` are the Map Runs an earlier
    /// attempt recorded (a redrive that does not run them again keeps them).
    async fn record(
        &self,
        name: &str,
        wired: Wired,
        execution: Execution,
        earlier_runs: Vec<Value>,
    ) -> anyhow::Result<LocalRun> {
        let Wired { engine, timings, graph, extracted } = wired;
        let largest_child =
            engine.executions().iter().filter(|e| e.arn != execution.arn).map(|e| e.events).max();
        let mut map_runs: Vec<Value> = engine
            .map_runs()
            .into_iter()
            .map(|run| {
                json!({
                    "arn": run.arn,
                    "succeeded": run.succeeded,
                    "failed": run.failed,
                    "pending": run.pending,
                    "redrive_count": run.redrive_count,
                    "manifest": run.manifest.map(|(bucket, key)| json!({"bucket": bucket, "key": key})),
                })
            })
            .collect();
        for earlier in earlier_runs {
            if !map_runs.iter().any(|run| run["arn"] == earlier["arn"]) {
                map_runs.push(earlier);
            }
        }
        let record = json!({
            "name": execution.name,
            "arn": execution.arn,
            "status": execution.status.as_str(),
            "input": execution.input,
            "output": execution.output,
            "error": execution.error,
            "cause": execution.cause,
            "redrive_count": execution.redrive_count,
            "history_events": execution.history.len(),
            "largest_child_history_events": largest_child,
            "executions": engine.executions().len(),
            "map_runs": map_runs,
        });
        let path = record_path(&self.settings.data_dir, name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        // The record goes last, and every file whole (written aside, then renamed): a process
        // killed here leaves either no record (the next run starts afresh) or a complete one
        // with what a redrive needs already in place.
        if keep_child_histories() {
            let children: Vec<Value> = engine
                .kept_executions()
                .iter()
                .filter(|child| child.arn != execution.arn)
                .map(|child| {
                    json!({"arn": child.arn, "status": child.status.as_str(), "history": child.history.to_json()})
                })
                .collect();
            let file = path.with_extension("children.json");
            write_whole(&file, &serde_json::to_vec_pretty(&children)?)?;
        }
        self.keep_for_redrive(name, &execution, &engine, &graph)?;
        let history = path.with_extension("history.json");
        write_whole(&history, &serde_json::to_vec_pretty(&execution.history.to_json())?)?;
        write_whole(&path, &serde_json::to_vec_pretty(&record)?)?;
        let (files, failures) = self.results(&record).await?;
        Ok(LocalRun {
            execution,
            files,
            failures,
            largest_child,
            graph: graph.snapshot(),
            timings: timings.spans(),
            extracts: extracted.lock().map(|all| all.clone()).unwrap_or_default(),
            source: None,
            quiet: self.settings.quiet,
        })
    }

    /// Saves what `redrive --local` needs of an execution that did not succeed (the engine's
    /// records, the graph as loaded so far); removes it once the execution has succeeded.
    fn keep_for_redrive(
        &self,
        name: &str,
        execution: &Execution,
        engine: &Engine,
        graph: &SharedGraph,
    ) -> anyhow::Result<()> {
        let data_dir = &self.settings.data_dir;
        let (saved, graph_file) = (engine_path(data_dir, name), graph_path(data_dir, name));
        if execution.status == Status::Succeeded {
            for path in [saved, graph_file] {
                if path.exists() {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("cannot remove {}", path.display()))?;
                }
            }
            return Ok(());
        }
        if let Some(dir) = saved.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        write_whole(&saved, &serde_json::to_vec(&engine.export_records())?)?;
        let snapshot = graph.snapshot();
        let batch = GraphBatch {
            vertices: snapshot.vertices().cloned().collect(),
            edges: snapshot.edges().cloned().collect(),
        };
        write_whole(&graph_file, &serde_json::to_vec(&batch)?)?;
        Ok(())
    }

    /// Reads the per-file results and failures of a recorded execution from its ResultWriter
    /// files (the same files `graphetl failures` reads on AWS).
    pub(crate) async fn results(
        &self,
        record: &Value,
    ) -> anyhow::Result<(Vec<Value>, Vec<FailedItem>)> {
        let mut files = Vec::new();
        let mut failures = Vec::new();
        let retriers = transform_retriers()?;
        for run in record["map_runs"].as_array().into_iter().flatten() {
            let (Some(bucket), Some(key)) =
                (run["manifest"]["bucket"].as_str(), run["manifest"]["key"].as_str())
            else {
                continue;
            };
            let manifest: Value =
                serde_json::from_slice(&self.store.get_bytes(bucket, key).await?)?;
            for entry in manifest["ResultFiles"]["SUCCEEDED"].as_array().into_iter().flatten() {
                let Some(file_key) = entry["Key"].as_str() else { continue };
                let records: Value =
                    serde_json::from_slice(&self.store.get_bytes(bucket, file_key).await?)?;
                for child in records.as_array().into_iter().flatten() {
                    let output: Value =
                        serde_json::from_str(child["Output"].as_str().unwrap_or("[]"))
                            .unwrap_or_default();
                    files.extend(output.as_array().into_iter().flatten().cloned());
                }
            }
            for entry in manifest["ResultFiles"]["FAILED"].as_array().into_iter().flatten() {
                let Some(file_key) = entry["Key"].as_str() else { continue };
                let records: Value =
                    serde_json::from_slice(&self.store.get_bytes(bucket, file_key).await?)?;
                for child in records.as_array().into_iter().flatten() {
                    failures.extend(failed_items(child, &retriers));
                }
            }
        }
        failures.sort_by(|a, b| a.key.cmp(&b.key));
        Ok((files, failures))
    }

    /// The store the handlers and the interpreter's ItemReader/ResultWriter use: through the
    /// fault proxy when there is one.
    fn handler_store(&self) -> S3Store {
        match (&self.proxy, &self.settings.faults) {
            (Some(proxy), Some(faults)) => faults.store_via(proxy),
            _ => self.server.store(),
        }
    }

    /// Stops the endpoint.
    pub(crate) async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Runs `work` with a spinner on stderr showing the invocations done per step (hidden when
/// stderr is not a terminal, so logs and tests see nothing of it).
async fn with_progress<T>(name: &str, timings: &StepTimings, work: impl Future<Output = T>) -> T {
    let progress = indicatif::ProgressBar::new_spinner();
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    let ticker = {
        let (progress, timings, started) = (progress.clone(), timings.clone(), Instant::now());
        let name = name.to_owned();
        tokio::spawn(async move {
            loop {
                progress.set_message(format!(
                    "{name}: {} calls done · {:.1}s",
                    timings.progress_line(),
                    started.elapsed().as_secs_f64()
                ));
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
    };
    let output = work.await;
    ticker.abort();
    progress.finish_and_clear();
    output
}

/// A finished local execution and what it did.
pub(crate) struct LocalRun {
    /// The parent execution.
    pub(crate) execution: Execution,
    /// Per-file results of the files that succeeded (FileResult JSON).
    pub(crate) files: Vec<Value>,
    /// Files that failed, with error and cause.
    pub(crate) failures: Vec<FailedItem>,
    /// The largest history of any child execution.
    pub(crate) largest_child: Option<usize>,
    /// The graph the load step wrote (the local stand-in for Neptune).
    pub(crate) graph: LocalGraph,
    /// Per function: wall time from its first invocation's start to its last one's end, and calls.
    pub(crate) timings: Vec<(String, f64, u64)>,
    /// What each extract invocation returned.
    pub(crate) extracts: Vec<ExtractResult>,
    /// Where the http source's records came from, when there was one (for the summary).
    pub(crate) source: Option<String>,
    /// Print no summary in `finish` (`graphetl chaos`).
    pub(crate) quiet: bool,
}

impl LocalRun {
    /// Writes the graph files under DATA_DIR/graph/<dataset>/ and prints the end-of-run summary.
    pub(crate) fn finish(
        &self,
        dataset: &str,
        bucket_dir: &Path,
        data_dir: &Path,
        seconds: f64,
    ) -> anyhow::Result<()> {
        let graph_dir = data_dir.join("graph").join(dataset);
        let files = self
            .graph
            .write_files(&graph_dir)
            .map_err(|e| anyhow::anyhow!("writing the graph to {}: {e}", graph_dir.display()))?;
        let svg = files.dot.with_extension("svg");
        if self.quiet {
            return Ok(());
        }
        let picture = match render_picture(&files.dot, &svg) {
            Ok(true) => Some(svg),
            _ => None,
        };
        let output = self.execution.output.clone().unwrap_or(Value::Null);
        let sum =
            |field: &str| -> u64 { self.files.iter().filter_map(|f| f[field].as_u64()).sum() };
        let parquet: u64 =
            self.files.iter().filter_map(|f| f["output_files"].as_u64()).sum::<u64>();
        println!("graphetl run --local: dataset {dataset}, execution {}", self.execution.name);
        println!("  status      {}", self.execution.status.as_str());
        if let Some(source) = &self.source {
            println!("  source      {source}");
        }
        if !self.extracts.is_empty() {
            let total = |f: fn(&ExtractResult) -> u64| -> u64 { self.extracts.iter().map(f).sum() };
            println!(
                "  extract     {} page(s), {} record(s) in {} raw file(s); {} retried request(s) ({:.1}s waited), rate limit held back {:.1}s",
                total(|e| e.pages),
                total(|e| e.records),
                total(|e| e.files),
                total(|e| e.retries),
                total(|e| e.retry_wait_ms) as f64 / 1000.0,
                total(|e| e.rate_limit_wait_ms) as f64 / 1000.0,
            );
        }
        println!("  files       {} transformed, {} failed", self.files.len(), self.failures.len());
        println!(
            "  rows        {} in, {} written, {} rejected",
            sum("rows_in"),
            sum("rows_written"),
            sum("rows_rejected")
        );
        let queries: Vec<String> = output["aggregates"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                format!(
                    "{} {} rows ({} chunk(s))",
                    a["query"].as_str().unwrap_or("?"),
                    a["rows"].as_u64().unwrap_or(0),
                    a["chunks"].as_array().map_or(0, Vec::len)
                )
            })
            .collect();
        if !queries.is_empty() {
            println!("  queries     {}", queries.join(", "));
        }
        let loads: Vec<&Value> = ["vertex_loads", "loads"]
            .iter()
            .flat_map(|k| output[*k].as_array().into_iter().flatten())
            .collect();
        let requests: u64 = loads.iter().filter_map(|l| l["requests"].as_u64()).sum();
        let rejected: u64 = loads.iter().filter_map(|l| l["rejected_rows"].as_u64()).sum();
        println!(
            "  graph       {} vertices, {} edges; Neptune would get {requests} request(s) from {} load invocation(s){}",
            self.graph.vertices().count(),
            self.graph.edges().count(),
            loads.len(),
            if rejected > 0 {
                format!("; {rejected} row(s) rejected by the mapping")
            } else {
                String::new()
            }
        );
        println!(
            "  history     parent {} events, largest child {} events (quota 25,000)",
            self.execution.history.len(),
            self.largest_child.unwrap_or(0)
        );
        let steps: Vec<String> = self
            .timings
            .iter()
            .map(|(name, secs, calls)| format!("{name} {secs:.2}s ({calls} call(s))"))
            .collect();
        if !steps.is_empty() {
            println!("  steps       {}", steps.join(", "));
        }
        println!("  time        {seconds:.2}s");
        println!(
            "  graph files {}, {}, {}, {}",
            files.vertices_csv.display(),
            files.edges_csv.display(),
            files.graphml.display(),
            files.dot.display()
        );
        match &picture {
            Some(svg) => println!("  picture     {}", svg.display()),
            None => println!("  picture     none (install Graphviz `dot` to draw graph.svg)"),
        }
        println!(
            "  parquet     {parquet} file(s) under {}",
            bucket_dir.join(layout::curated_prefix(dataset)).display()
        );
        if sum("rows_rejected") > 0 {
            println!(
                "  quarantine  {}",
                bucket_dir.join(layout::quarantine_prefix(dataset)).display()
            );
        }
        println!(
            "  run folder  {}",
            bucket_dir.join(layout::run_prefix(&self.execution.name)).display()
        );
        println!("  record      {}", record_path(data_dir, &self.execution.name).display());
        for failure in &self.failures {
            println!("  failed      {}: {}: {}", failure.key, failure.error, failure.cause);
        }
        if !self.failures.is_empty() {
            println!(
                "  next        graphetl failures {} --local; graphetl reprocess --local --failed-of {}",
                self.execution.name, self.execution.name
            );
        }
        if self.execution.redrive_count > 0 {
            println!("  redriven    {} time(s)", self.execution.redrive_count);
        }
        if let (Status::Failed | Status::TimedOut, Some(error)) =
            (self.execution.status, &self.execution.error)
        {
            println!("  error       {error}: {}", self.execution.cause.clone().unwrap_or_default());
            println!(
                "  redrive     after fixing the cause: graphetl redrive {} --local",
                self.execution.name
            );
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` whole or not at all: to a temporary file next to it, then renamed
/// over it, so that a process killed midway never leaves a half-written file.
fn write_whole(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".partial");
    let aside = PathBuf::from(aside);
    std::fs::write(&aside, bytes).with_context(|| format!("cannot write {}", aside.display()))?;
    std::fs::rename(&aside, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a recorded local execution.
pub(crate) fn read_record(data_dir: &Path, name: &str) -> anyhow::Result<Value> {
    let path = record_path(data_dir, name);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("no local execution named {name} (looked for {})", path.display())
    })?;
    Ok(serde_json::from_str(&text)?)
}
