//! `graphetl stream`: what a load changed, read from Neptune Streams (/propertygraph/stream),
//! one line per change, optionally resuming from a checkpoint file.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use graphetl_neptune::streams::{EventId, Op, Position, StreamReader};

use super::load::neptune_client;

/// Arguments of `graphetl stream`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Neptune's endpoint, e.g. https://my-cluster.cluster-xyz.us-east-1.neptune.amazonaws.com:8182.
    #[arg(long)]
    endpoint: String,
    /// Do not sign requests (IAM auth off on the cluster, or a local stand-in).
    #[arg(long)]
    no_iam: bool,
    /// The cluster's region for SigV4 (default: the AWS configuration's).
    #[arg(long)]
    region: Option<String>,
    /// Records per read (1–100,000).
    #[arg(long, default_value_t = 1_000)]
    limit: u32,
    /// Where to start: trim-horizon, latest, at:COMMIT/OP or after:COMMIT/OP.
    #[arg(long, default_value = "trim-horizon", value_parser = parse_position)]
    from: Position,
    /// Resume after the position kept in this file, and advance it (overrides --from).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
}

fn parse_event(text: &str) -> Result<EventId, String> {
    let (commit, op) = text.split_once('/').ok_or("expected COMMIT/OP, e.g. 1234/1")?;
    Ok(EventId {
        commit_num: commit.parse().map_err(|_| format!("\"{commit}\" is not a commit number"))?,
        op_num: op.parse().map_err(|_| format!("\"{op}\" is not an operation number"))?,
    })
}

fn parse_position(text: &str) -> Result<Position, String> {
    match text {
        "trim-horizon" => Ok(Position::TrimHorizon),
        "latest" => Ok(Position::Latest),
        other => match other.split_once(':') {
            Some(("at", event)) => parse_event(event).map(Position::At),
            Some(("after", event)) => parse_event(event).map(Position::After),
            _ => Err(format!(
                "\"{other}\": expected trim-horizon, latest, at:COMMIT/OP or after:COMMIT/OP"
            )),
        },
    }
}

/// Runs the command.
pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let client = neptune_client(&args.endpoint, args.no_iam, args.region.as_deref()).await?;
        let mut reader = StreamReader::new(Arc::new(client), args.limit);
        let poll = match &args.checkpoint {
            Some(path) => {
                reader = reader.with_checkpoint(path.clone());
                reader.poll().await
            }
            None => reader.read(args.from).await,
        };
        let poll = match poll {
            Ok(poll) => poll,
            Err(e) => bail!("{e} ({})", e.error_name()),
        };
        for warning in &poll.warnings {
            eprintln!("warning: {warning}");
        }
        let Some(response) = poll.response else {
            println!("no changes");
            return Ok(ExitCode::SUCCESS);
        };
        for record in &response.records {
            let op = match record.op {
                Op::Add => "ADD",
                Op::Remove => "REMOVE",
            };
            let ends = match (&record.data.from, &record.data.to) {
                (Some(from), Some(to)) => format!(" [{from} -> {to}]"),
                _ => String::new(),
            };
            println!(
                "{}/{} {op} {} {} {}={}{ends}",
                record.event_id.commit_num,
                record.event_id.op_num,
                record.data.kind,
                record.data.id,
                record.data.key,
                record.data.value.value
            );
        }
        println!(
            "{} record(s); last event {}/{}",
            response.records.len(),
            response.last_event_id.commit_num,
            response.last_event_id.op_num
        );
        Ok(ExitCode::SUCCESS)
    })
}
