//! `graphetl chaos`: a seeded fault campaign over the whole local pipeline.
//!
//! One fault-free baseline `run --local`, then K runs of the same command, each with faults
//! drawn from the seed at every boundary the real system has: S3 (SlowDown, 500, connection
//! reset, a stalled request, through a `FaultProxy` between the handlers' S3 client, the
//! interpreter's ItemReader/ResultWriter store and the embedded endpoint), Lambda (throttling,
//! and a crash after the function wrote its output), the aggregate step (Athena throttling and a
//! retryable failure), Neptune (ConcurrentModificationException, throttling,
//! ReadOnlyViolationException, a 5xx after part of a batch was written) and the source API
//! (429 with `Retry-After`, 503). Every fault is transient: a retry of the same request or
//! invocation succeeds, so every run must end SUCCEEDED with curated Parquet, quarantine files
//! and graph files byte-identical to the baseline's.
//!
//! A fault is drawn from a hash of (seed, run, site, request or invocation payload), and only
//! on the first time that request or payload is seen, so the same seed injects the same faults
//! whatever the order the concurrent invocations run in.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use graphetl_core::ErrorName;
use graphetl_core::errors::StepError;
use graphetl_extract::source::{InjectedFailure, ServeOptions};
use graphetl_neptune::local::SharedGraph;
use graphetl_neptune::{GraphBatch, GraphSink, SinkError, UpsertStats};
use graphetl_storage::{
    Fault, FaultProxy, LOCAL_ACCESS_KEY, LOCAL_REGION, LOCAL_SECRET_KEY, RetrySettings, S3Store,
};
use serde::Serialize;
use serde_json::Value;

use super::files_under;
use super::local::LOCAL_BUCKET;
use super::run::{RunOutcome, run_with};

/// A Lambda invocation answered `Lambda.TooManyRequestsException` before it ran.
pub(crate) const LAMBDA_THROTTLED: &str = "lambda throttled";
/// A Lambda invocation that wrote its output and then failed with `Lambda.ServiceException`.
pub(crate) const LAMBDA_CRASHED: &str = "lambda crashed after output";
const ATHENA_THROTTLED: &str = "athena throttled";
const ATHENA_TRANSIENT: &str = "athena transient";
const NEPTUNE_CONFLICT: &str = "neptune ConcurrentModification";
const NEPTUNE_THROTTLED: &str = "neptune throttling";
const NEPTUNE_READ_ONLY: &str = "neptune ReadOnlyViolation";
const NEPTUNE_5XX: &str = "neptune 5xx mid-batch";
const S3_SLOW_DOWN: &str = "s3 SlowDown";
const S3_500: &str = "s3 500";
const S3_RESET: &str = "s3 connection reset";
const S3_STALL: &str = "s3 stalled request";
const SOURCE_429: &str = "source 429 Retry-After";
const SOURCE_503: &str = "source 503";

/// Every fault kind, in table order.
const KINDS: [&str; 14] = [
    S3_SLOW_DOWN,
    S3_500,
    S3_RESET,
    S3_STALL,
    LAMBDA_THROTTLED,
    LAMBDA_CRASHED,
    ATHENA_THROTTLED,
    ATHENA_TRANSIENT,
    NEPTUNE_CONFLICT,
    NEPTUNE_THROTTLED,
    NEPTUNE_READ_ONLY,
    NEPTUNE_5XX,
    SOURCE_429,
    SOURCE_503,
];

/// `graphetl chaos --help`.
pub(crate) const LONG_ABOUT: &str = "A seeded fault campaign over the whole local pipeline. \
One fault-free baseline `run --local` (in DATA_DIR/baseline), then --runs runs of the same command \
(DATA_DIR/run-001, ...), each with faults drawn from --seed at every boundary: S3 SlowDown, 500, \
connection reset and stalled requests (GET, PUT, multipart parts; a fault proxy in front of the \
embedded endpoint), Lambda throttling and a crash after the function wrote its output, Athena \
throttling and a retryable failure in the aggregate step, Neptune ConcurrentModificationException, \
throttling, ReadOnlyViolationException and a 5xx after part of a batch, and 429 (Retry-After) / 503 \
from the source API. Every fault is transient, so every run must end SUCCEEDED with curated \
Parquet, quarantine files and graph files byte-identical to the baseline's. The same seed injects \
the same faults and prints the same table. Exits 1 if any run differs.";

/// Arguments of `graphetl chaos`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Runs with faults (after one fault-free baseline run).
    #[arg(long, default_value_t = 5)]
    runs: u64,
    /// Seed of the faults: the same seed injects the same faults and prints the same table.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Records the generated source serves in each run.
    #[arg(long, default_value_t = 2_000)]
    records: u64,
    /// Share of Lambda invocations, aggregate queries and Neptune writes that get a fault (S3
    /// requests get a quarter of it).
    #[arg(long, default_value_t = 0.15)]
    rate: f64,
    /// Where the runs go: DIR/baseline, DIR/run-001, … (each emptied first).
    #[arg(long, default_value = ".graphetl-chaos")]
    data_dir: PathBuf,
    /// The dataset spec (default: the bundled example, as for `run --local`).
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Crash consistency: also start `run --local` as a child process this many times on
    /// DIR/killed, SIGKILL it at a seeded point, re-run the same command on the same data dir
    /// and compare with the baseline.
    #[arg(long, default_value_t = 0)]
    kills: u64,
}

/// The faults of one run: what to inject where, and what was injected.
#[derive(Debug)]
pub(crate) struct Faults {
    seed: u64,
    rate: f64,
    seen: Mutex<HashMap<u64, u32>>,
    injected: Mutex<BTreeMap<&'static str, u64>>,
    task_failures: AtomicU64,
}

/// FNV-1a over the parts, then a splitmix64 finish: stable across processes and platforms.
fn hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*byte);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

impl Faults {
    /// The faults of run `run` of a campaign with `seed`; `rate` is the share of sites hit.
    pub(crate) fn new(seed: u64, run: u64, rate: f64) -> Faults {
        Faults {
            seed: hash(&[&seed.to_le_bytes(), &run.to_le_bytes()]),
            rate: rate.clamp(0.0, 1.0),
            seen: Mutex::default(),
            injected: Mutex::default(),
            task_failures: AtomicU64::new(0),
        }
    }

    /// Picks one of `kinds` for the first sight of `key` at `site`, with probability `rate`.
    fn pick(
        &self,
        site: &str,
        key: &str,
        rate: f64,
        kinds: &[&'static str],
    ) -> Option<&'static str> {
        let h = hash(&[&self.seed.to_le_bytes(), site.as_bytes(), key.as_bytes()]);
        let first = {
            let mut seen = self.seen.lock().ok()?;
            let count = seen.entry(h).or_insert(0);
            *count += 1;
            *count == 1
        };
        if !first || kinds.is_empty() || (h % 1_000_000) as f64 >= rate * 1_000_000.0 {
            return None;
        }
        let kind = kinds[((h >> 32) % kinds.len() as u64) as usize];
        self.count(kind);
        Some(kind)
    }

    fn count(&self, kind: &'static str) {
        if let Ok(mut injected) = self.injected.lock() {
            *injected.entry(kind).or_insert(0) += 1;
        }
    }

    /// The fault of a Lambda invocation of function `name` (throttled, or crashed after its
    /// output for transform and load), if any.
    pub(crate) fn lambda(&self, name: &str, payload: &Value) -> Option<&'static str> {
        let kinds: &[&'static str] = match name {
            "transform" | "load" => &[LAMBDA_THROTTLED, LAMBDA_CRASHED],
            _ => &[LAMBDA_THROTTLED],
        };
        self.pick(&format!("lambda {name}"), &payload.to_string(), self.rate, kinds)
    }

    /// A handler answered an error (an injected one included): the state machine retried it.
    pub(crate) fn count_task_failure(&self) {
        self.task_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The fault of an aggregate query (Athena throttled, or a retryable FAILED), if any.
    pub(crate) fn athena(&self, request: &impl Serialize) -> Option<StepError> {
        let key = serde_json::to_string(request).unwrap_or_default();
        match self.pick("athena", &key, self.rate, &[ATHENA_THROTTLED, ATHENA_TRANSIENT])? {
            ATHENA_THROTTLED => Some(StepError::new(
                ErrorName::AthenaThrottled,
                "injected by graphetl chaos: TooManyRequestsException from StartQueryExecution",
            )),
            _ => Some(StepError::new(
                ErrorName::AthenaTransient,
                "injected by graphetl chaos: the query FAILED with a retryable internal error",
            )),
        }
    }

    /// How the local source API fails: every Nth request (N drawn from the seed) answers 429
    /// with `Retry-After: 1` or 503.
    pub(crate) fn serve_options(&self) -> ServeOptions {
        let h = hash(&[&self.seed.to_le_bytes(), b"source"]);
        let failure = if h.is_multiple_of(2) {
            InjectedFailure::TooManyRequests { retry_after_seconds: 1 }
        } else {
            InjectedFailure::Unavailable
        };
        ServeOptions { fail_every: 2 + (h >> 8) % 4, failure, ..ServeOptions::default() }
    }

    /// Counts the source API failures the extract step retried (every one of them is injected).
    fn count_source(&self, retries: u64) {
        let kind = match self.serve_options().failure {
            InjectedFailure::TooManyRequests { .. } => SOURCE_429,
            InjectedFailure::Unavailable => SOURCE_503,
        };
        for _ in 0..retries {
            self.count(kind);
        }
    }

    /// Starts a fault proxy in front of the endpoint at `upstream`.
    pub(crate) async fn s3_proxy(self: &Arc<Self>, upstream: &str) -> anyhow::Result<FaultProxy> {
        let faults = Arc::clone(self);
        FaultProxy::start(upstream, move |_, line| faults.s3(line))
            .await
            .context("cannot start the S3 fault proxy")
    }

    /// The fault of one S3 request, keyed on its method, path and query (upload ids left out,
    /// they differ between runs).
    fn s3(&self, request_line: &str) -> Option<Fault> {
        let mut words = request_line.split(' ');
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query: Vec<&str> = query.split('&').filter(|p| !p.starts_with("uploadId=")).collect();
        let key = format!("{method} {path}?{}", query.join("&"));
        let kinds = [S3_SLOW_DOWN, S3_500, S3_RESET, S3_STALL];
        Some(match self.pick("s3", &key, self.rate / 4.0, &kinds)? {
            S3_SLOW_DOWN => Fault::SlowDown,
            S3_500 => Fault::InternalError,
            S3_RESET => Fault::Reset,
            _ => Fault::Stall,
        })
    }

    /// A store that goes through `proxy`, with an attempt timeout so that a stall is retried.
    pub(crate) fn store_via(&self, proxy: &FaultProxy) -> S3Store {
        let retry = RetrySettings {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            attempt_timeout: Some(Duration::from_secs(3)),
            ..RetrySettings::default()
        };
        S3Store::for_endpoint(proxy.url(), LOCAL_REGION, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, retry)
    }

    fn injected(&self) -> BTreeMap<&'static str, u64> {
        self.injected.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// A sink around the local graph that fails some upserts the way Neptune does, with the error
/// names the real client maps them to (`GraphEtl.NeptuneThrottled` / `NeptuneTransient`); a
/// failure can come after half of the batch's vertices were written.
pub(crate) struct FaultySink {
    inner: SharedGraph,
    faults: Arc<Faults>,
    key: String,
    calls: u32,
}

impl FaultySink {
    /// A sink for one load invocation with event `item`.
    pub(crate) fn new(inner: SharedGraph, faults: Arc<Faults>, item: &impl Serialize) -> Self {
        let key = serde_json::to_string(item).unwrap_or_default();
        FaultySink { inner, faults, key, calls: 0 }
    }
}

impl GraphSink for FaultySink {
    fn upsert(&mut self, batch: &GraphBatch) -> Result<UpsertStats, SinkError> {
        self.calls += 1;
        let key = format!("{}#{}", self.key, self.calls);
        let kinds = [NEPTUNE_CONFLICT, NEPTUNE_THROTTLED, NEPTUNE_READ_ONLY, NEPTUNE_5XX];
        let Some(kind) = self.faults.pick("neptune", &key, self.faults.rate, &kinds) else {
            return self.inner.upsert(batch);
        };
        let (name, message) = match kind {
            NEPTUNE_CONFLICT => (
                ErrorName::NeptuneTransient,
                "ConcurrentModificationException: Failed to complete the operation due to conflicting concurrent operations",
            ),
            NEPTUNE_THROTTLED => {
                (ErrorName::NeptuneThrottled, "ThrottlingException: Too many requests")
            }
            NEPTUNE_READ_ONLY => (
                ErrorName::NeptuneTransient,
                "ReadOnlyViolationException: The request is rejected, the writer moved (failover)",
            ),
            _ => {
                // Half of the batch's vertices are in before the server fails.
                let half = GraphBatch {
                    vertices: batch.vertices[..batch.vertices.len() / 2].to_vec(),
                    edges: Vec::new(),
                };
                self.inner.upsert(&half)?;
                (ErrorName::NeptuneThrottled, "HTTP 503 in the middle of the batch")
            }
        };
        Err(SinkError::Neptune {
            name,
            source: Box::new(std::io::Error::other(format!(
                "injected by graphetl chaos: {message}"
            ))),
        })
    }
}

/// `run --local`'s arguments, parsed as the command line would.
#[derive(Debug, Parser)]
struct RunCommand {
    #[command(flatten)]
    args: super::run::Args,
}

/// What a run's output folders hold: relative path → bytes.
type Tree = BTreeMap<String, Vec<u8>>;

/// The curated Parquet, quarantine files and graph files of the run in `dir`.
fn outputs(dir: &Path) -> anyhow::Result<Tree> {
    let bucket = dir.join("s3").join(LOCAL_BUCKET);
    let mut tree = Tree::new();
    for root in [bucket.join("curated"), bucket.join("quarantine"), dir.join("graph")] {
        if !root.exists() {
            continue;
        }
        for path in files_under(&root)? {
            let relative = path.strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
            // s3s-fs keeps metadata sidecars; the picture depends on Graphviz being installed.
            if relative.ends_with(".svg")
                || path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            tree.insert(relative, bytes);
        }
    }
    Ok(tree)
}

/// The `run --local` command line of a campaign's run in `dir`.
fn run_argv(args: &Args, dir: &Path) -> anyhow::Result<Vec<String>> {
    let dir_text = dir.to_str().context("the data dir is not UTF-8")?;
    let mut argv: Vec<String> = ["run", "--local", "--data-dir", dir_text, "--records"]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    argv.push(args.records.to_string());
    if let Some(dataset) = &args.dataset {
        argv.extend(["--dataset".to_owned(), dataset.to_string_lossy().into_owned()]);
    }
    Ok(argv)
}

/// One local run in `dir` (emptied first unless `keep`), with `faults`.
fn one_run(
    args: &Args,
    dir: &Path,
    faults: Option<Arc<Faults>>,
    keep: bool,
) -> anyhow::Result<RunOutcome> {
    if dir.exists() && !keep {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    let command = RunCommand::try_parse_from(run_argv(args, dir)?)?;
    run_with(&command.args, faults, true)
}

/// `--kills`: `run --local` as a child process SIGKILLed at seeded points up to `span` after
/// its start, each time re-run on the same data dir; returns (kills that hit a running
/// process, re-runs identical to the baseline, what differed).
fn kill_campaign(
    args: &Args,
    span: Duration,
    expected: &Tree,
) -> anyhow::Result<(u64, u64, Vec<String>)> {
    let dir = args.data_dir.join("killed");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    let exe = std::env::current_exe().context("cannot find the graphetl executable")?;
    let (mut hit, mut identical, mut differing) = (0, 0, Vec::new());
    for kill in 1..=args.kills {
        let h = hash(&[&args.seed.to_le_bytes(), b"kill", &kill.to_le_bytes()]);
        let delay = Duration::from_millis(h % (span.as_millis().max(1) as u64));
        let mut child = std::process::Command::new(&exe)
            .args(run_argv(args, &dir)?)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("cannot start graphetl run --local")?;
        std::thread::sleep(delay);
        let running = child.try_wait()?.is_none();
        child.kill().ok();
        child.wait()?;
        hit += u64::from(running);
        let outcome = one_run(args, &dir, None, true)?;
        let got = outputs(&dir)?;
        let same = outcome.status == "SUCCEEDED" && &got == expected;
        eprintln!(
            "chaos: kill {kill}/{} at {} ms ({}): re-run {} · {}",
            args.kills,
            delay.as_millis(),
            if running { "killed" } else { "had finished" },
            outcome.status,
            if same { "identical" } else { "DIFFERS" }
        );
        if same {
            identical += 1;
        } else {
            differing.push(format!("kill {kill} at {} ms ({})", delay.as_millis(), outcome.status));
        }
    }
    Ok((hit, identical, differing))
}

/// The campaign's totals.
#[derive(Debug, Default)]
struct Totals {
    injected: BTreeMap<&'static str, u64>,
    task_retries: u64,
    extract_retries: u64,
    identical: u64,
    succeeded: u64,
    rows_lost: u64,
    duplicated_vertices: u64,
    duplicated_edges: u64,
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    eprintln!("chaos: baseline run (no faults)");
    let started = std::time::Instant::now();
    let baseline = one_run(args, &args.data_dir.join("baseline"), None, false)?;
    let span = started.elapsed();
    if baseline.status != "SUCCEEDED" {
        anyhow::bail!("the fault-free baseline run ended {}", baseline.status);
    }
    let expected = outputs(&args.data_dir.join("baseline"))?;
    let mut totals = Totals::default();
    let mut differing = Vec::new();
    for run in 1..=args.runs {
        let faults = Arc::new(Faults::new(args.seed, run, args.rate));
        let dir = args.data_dir.join(format!("run-{run:03}"));
        let outcome = one_run(args, &dir, Some(faults.clone()), false)?;
        faults.count_source(outcome.extract_retries);
        let got = outputs(&dir)?;
        let same = got == expected;
        let injected = faults.injected();
        eprintln!(
            "chaos: run {run}/{}: {} · {} fault(s) · {}",
            args.runs,
            outcome.status,
            injected.values().sum::<u64>(),
            if same { "identical" } else { "DIFFERS" }
        );
        for (kind, n) in injected {
            *totals.injected.entry(kind).or_insert(0) += n;
        }
        totals.task_retries += faults.task_failures.load(Ordering::Relaxed);
        totals.extract_retries += outcome.extract_retries;
        totals.succeeded += u64::from(outcome.status == "SUCCEEDED");
        totals.rows_lost += baseline.rows_written.saturating_sub(outcome.rows_written);
        totals.duplicated_vertices += outcome.vertices.saturating_sub(baseline.vertices) as u64;
        totals.duplicated_edges += outcome.edges.saturating_sub(baseline.edges) as u64;
        if same && outcome.status == "SUCCEEDED" {
            totals.identical += 1;
        } else {
            let changed: Vec<&String> = expected
                .keys()
                .chain(got.keys())
                .filter(|k| expected.get(*k) != got.get(*k))
                .collect();
            differing.push(format!("run {run} ({}): {changed:?}", outcome.status));
        }
    }
    print_table(args, &baseline, &totals);
    if args.kills > 0 {
        let (hit, identical, failed) = kill_campaign(args, span, &expected)?;
        println!(
            "  kills       {} SIGKILL(s), {hit} of a running process; {identical} re-run(s) identical to the baseline",
            args.kills
        );
        differing.extend(failed);
    }
    for line in &differing {
        println!("  differs     {line}");
    }
    Ok(if differing.is_empty() && totals.rows_lost == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_table(args: &Args, baseline: &RunOutcome, totals: &Totals) {
    println!(
        "graphetl chaos: seed {}, {} run(s) of {} record(s), fault rate {}",
        args.seed, args.runs, args.records, args.rate
    );
    println!(
        "  baseline    {} rows written, {} vertices, {} edges",
        baseline.rows_written, baseline.vertices, baseline.edges
    );
    println!("  faults injected");
    for kind in KINDS {
        println!("    {kind:<32} {}", totals.injected.get(kind).copied().unwrap_or(0));
    }
    println!("    {:<32} {}", "total", totals.injected.values().sum::<u64>());
    println!(
        "  retries     {} failed task(s) retried by the state machine, {} source request(s) retried by extract (S3 faults are retried inside the S3 client)",
        totals.task_retries, totals.extract_retries
    );
    println!(
        "  runs        {} succeeded, {} identical to the baseline of {}",
        totals.succeeded, totals.identical, args.runs
    );
    println!("  rows lost   {}", totals.rows_lost);
    println!(
        "  duplicated  {} vertices, {} edges",
        totals.duplicated_vertices, totals.duplicated_edges
    );
}
