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
//! The faults and their hooks are in `faults.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use super::faults::{Faults, KINDS, hash};
use super::files_under;
use super::local::LOCAL_BUCKET;
use super::run::{RunOutcome, run_with};

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
        totals.task_retries += faults.task_failures();
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
