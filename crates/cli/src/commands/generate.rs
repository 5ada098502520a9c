//! `graphetl generate`: synthetic service-call records (graphetl-extract's generator) written
//! as local files: gzip JSON-lines parts in the raw layout, or one file.

use std::path::PathBuf;
use std::process::ExitCode;

use graphetl_core::contract::Window;
use graphetl_extract::files::{write_generated_file, write_generated_parts};
use graphetl_extract::generator::{DEFAULT_BAD_ROW_RATE, DEFAULT_WINDOW, GeneratorConfig};

/// Arguments of `graphetl generate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Records to generate.
    #[arg(long)]
    records: u64,
    /// Distinct services in the call graph.
    #[arg(long, default_value_t = 40)]
    services: u32,
    /// Seed: the same arguments write the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The time window START/END (RFC 3339), START/DURATION or DURATION/END.
    #[arg(long, default_value = DEFAULT_WINDOW)]
    window: String,
    /// Share of bad rows (quarantined by the transform).
    #[arg(long, default_value_t = DEFAULT_BAD_ROW_RATE)]
    bad_row_rate: f64,
    /// Records per part file at most (folder output).
    #[arg(long, default_value_t = 50_000)]
    records_per_file: u64,
    /// Dataset name in the part file names.
    #[arg(long, default_value = "service-calls")]
    dataset_name: String,
    /// A folder (parts laid out as dt=…/hour=…/part-….jsonl.gz, as under raw/<dataset>/), or a
    /// file ending in .jsonl (plain) or .gz (gzip) for everything in one file.
    #[arg(long)]
    out: PathBuf,
}

/// Parses `--window`.
pub(crate) fn parse_window(text: &str) -> anyhow::Result<Window> {
    Window::parse_interval(text).map_err(|e| anyhow::anyhow!("--window {text}: {e}"))
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.bad_row_rate) {
        anyhow::bail!("--bad-row-rate {} is not between 0 and 1", args.bad_row_rate);
    }
    let config = GeneratorConfig {
        seed: args.seed,
        bad_row_rate: args.bad_row_rate,
        ..GeneratorConfig::new(args.services, args.records, parse_window(&args.window)?)
    };
    let name = args.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let written = if name.ends_with(".jsonl") || name.ends_with(".gz") {
        write_generated_file(&config, &args.out)?
    } else {
        write_generated_parts(&config, args.records_per_file, &args.dataset_name, &args.out)?
    };
    println!(
        "wrote {} records ({} bad) in {} files under {}",
        written.records,
        written.bad_rows,
        written.files.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
