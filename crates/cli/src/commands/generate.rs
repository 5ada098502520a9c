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
    #[command(flatten)]
    generator: GeneratorArgs,
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

/// The generator's flags, shared by `generate`, `serve-source` and `run --local`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GeneratorArgs {
    /// Distinct services in the generated call graph.
    #[arg(long, default_value_t = 40)]
    pub(crate) services: u32,
    /// Seed of the generated records: the same seed gives the same records (and bytes).
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// The time window START/END (RFC 3339), START/DURATION or DURATION/END.
    #[arg(long, default_value = DEFAULT_WINDOW)]
    pub(crate) window: String,
}

impl GeneratorArgs {
    /// The parsed `--window`.
    pub(crate) fn window(&self) -> anyhow::Result<Window> {
        Window::parse_interval(&self.window)
            .map_err(|e| anyhow::anyhow!("--window {}: {e}", self.window))
    }

    /// The generator's configuration for `records` records (the default share of bad rows).
    pub(crate) fn config(&self, records: u64) -> anyhow::Result<GeneratorConfig> {
        Ok(GeneratorConfig {
            seed: self.seed,
            bad_row_rate: DEFAULT_BAD_ROW_RATE,
            ..GeneratorConfig::new(self.services, records, self.window()?)
        })
    }
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.bad_row_rate) {
        anyhow::bail!("--bad-row-rate {} is not between 0 and 1", args.bad_row_rate);
    }
    let config =
        GeneratorConfig { bad_row_rate: args.bad_row_rate, ..args.generator.config(args.records)? };
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
