//! The operator commands against AWS: start and follow executions (aws-sdk-sfn) and read the
//! failed items of a run's Distributed Map, from ResultWriter's files when the run has ended
//! and from the Map Run's failed child executions while it is still running.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_sfn::types::ExecutionStatus;
use graphetl_core::layout;
use graphetl_storage::{ObjectStore, S3Store};
use serde_json::{Value, json};

use super::workflow::{FailedItem, failed_items, transform_retriers};

/// Where a run is on AWS: the pipeline state machine and the data bucket (flags or environment).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AwsTarget {
    /// The pipeline state machine's ARN (AWS): to start a run, and to find an execution by name.
    #[arg(long, env = "GRAPHETL_STATE_MACHINE_ARN")]
    pub(crate) state_machine_arn: Option<String>,
    /// The data bucket (AWS), where ResultWriter's files and the retry manifests are.
    #[arg(long, env = "GRAPHETL_BUCKET")]
    pub(crate) bucket: Option<String>,
}

/// Clients built once from the standard AWS configuration (AWS_REGION, AWS_ENDPOINT_URL,
/// credential chain).
pub(crate) struct Aws {
    sfn: aws_sdk_sfn::Client,
    store: S3Store,
}

/// What DescribeExecution says.
pub(crate) struct Described {
    /// Execution name.
    pub(crate) name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`…
    pub(crate) status: String,
    /// Error name, if it failed.
    pub(crate) error: Option<String>,
    /// Cause, if it failed.
    pub(crate) cause: Option<String>,
    /// How many times it was redriven.
    pub(crate) redrive_count: i32,
}

/// An execution given by ARN, or by name with the state machine's ARN.
pub(crate) fn execution_arn(
    execution: &str,
    state_machine_arn: Option<&str>,
) -> anyhow::Result<String> {
    if execution.starts_with("arn:") {
        return Ok(execution.to_owned());
    }
    let machine = state_machine_arn.context(
        "give the execution's ARN, or its name with --state-machine-arn (or GRAPHETL_STATE_MACHINE_ARN)",
    )?;
    if !machine.contains(":stateMachine:") {
        bail!("{machine} is not a state machine ARN");
    }
    Ok(format!("{}:{execution}", machine.replacen(":stateMachine:", ":execution:", 1)))
}

impl Aws {
    /// Builds the clients.
    pub(crate) async fn from_env() -> Aws {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        Aws { sfn: aws_sdk_sfn::Client::new(&sdk), store: S3Store::from_sdk_config(&sdk) }
    }

    /// Describes an execution.
    pub(crate) async fn describe(&self, arn: &str) -> anyhow::Result<Described> {
        let out = self
            .sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .with_context(|| format!("DescribeExecution {arn}"))?;
        Ok(Described {
            name: out.name().unwrap_or_default().to_owned(),
            status: out.status().as_str().to_owned(),
            error: out.error().map(str::to_owned),
            cause: out.cause().map(str::to_owned),
            redrive_count: out.redrive_count().unwrap_or(0),
        })
    }

    /// Redrives an execution (RedriveExecution); returns the redrive date.
    pub(crate) async fn redrive(&self, arn: &str) -> anyhow::Result<String> {
        let out = self.sfn.redrive_execution().execution_arn(arn).send().await.map_err(|e| {
            anyhow::anyhow!(
                "RedriveExecution {arn}: {}",
                aws_sdk_sfn::error::DisplayErrorContext(&e)
            )
        })?;
        Ok(out
            .redrive_date()
            .fmt(aws_sdk_sfn::primitives::DateTimeFormat::DateTime)
            .unwrap_or_default())
    }

    async fn map_runs(&self, arn: &str) -> anyhow::Result<Vec<String>> {
        let mut runs = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .sfn
                .list_map_runs()
                .execution_arn(arn)
                .set_next_token(token.clone())
                .send()
                .await
                .with_context(|| format!("ListMapRuns {arn}"))?;
            runs.extend(out.map_runs().iter().map(|r| r.map_run_arn().to_owned()));
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(runs);
            }
        }
    }

    /// The failed children of a Map Run, as ResultWriter-shaped records.
    async fn failed_children(&self, map_run_arn: &str) -> anyhow::Result<Vec<Value>> {
        let mut records = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .sfn
                .list_executions()
                .map_run_arn(map_run_arn)
                .status_filter(ExecutionStatus::Failed)
                .set_next_token(token.clone())
                .send()
                .await
                .with_context(|| format!("ListExecutions {map_run_arn}"))?;
            for child in out.executions() {
                let described = self
                    .sfn
                    .describe_execution()
                    .execution_arn(child.execution_arn())
                    .send()
                    .await
                    .with_context(|| format!("DescribeExecution {}", child.execution_arn()))?;
                records.push(json!({
                    "ExecutionArn": child.execution_arn(),
                    "Input": described.input().unwrap_or("{}"),
                    "Error": described.error(),
                    "Cause": described.cause(),
                }));
            }
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(records);
            }
        }
    }

    /// The failed items of an execution's Distributed Maps.
    pub(crate) async fn failures(
        &self,
        arn: &str,
        bucket: Option<&str>,
    ) -> anyhow::Result<(Described, Vec<FailedItem>)> {
        let described = self.describe(arn).await?;
        let retriers = transform_retriers()?;
        let mut items = Vec::new();
        for map_run in self.map_runs(arn).await? {
            let id = map_run.rsplit(':').next().unwrap_or_default();
            let manifest_key = format!("{}{id}/manifest.json", layout::run_prefix(&described.name));
            let manifest = match (described.status.as_str(), bucket) {
                ("RUNNING", _) | (_, None) => None,
                (_, Some(bucket)) => match self.store.head(bucket, &manifest_key).await? {
                    Some(_) => Some(serde_json::from_slice::<Value>(
                        &self.store.get_bytes(bucket, &manifest_key).await?,
                    )?),
                    None => None,
                },
            };
            match (manifest, bucket) {
                (Some(manifest), Some(bucket)) => {
                    for file in manifest["ResultFiles"]["FAILED"].as_array().into_iter().flatten() {
                        let Some(key) = file["Key"].as_str() else { continue };
                        let records: Value =
                            serde_json::from_slice(&self.store.get_bytes(bucket, key).await?)?;
                        for record in records.as_array().into_iter().flatten() {
                            items.extend(failed_items(record, &retriers));
                        }
                    }
                }
                _ => {
                    for record in self.failed_children(&map_run).await? {
                        items.extend(failed_items(&record, &retriers));
                    }
                }
            }
        }
        items.sort_by(|a, b| a.key.cmp(&b.key));
        Ok((described, items))
    }

    /// Writes a manifest of `items` for the ItemReader of a failed-items run; returns its key.
    pub(crate) async fn write_manifest(
        &self,
        bucket: &str,
        execution: &str,
        items: &[FailedItem],
    ) -> anyhow::Result<String> {
        let key = format!("{}retry-items.json", layout::run_prefix(execution));
        let body: Vec<Value> = items.iter().map(|i| json!({"Key": i.key})).collect();
        self.store
            .put_bytes(bucket, &key, serde_json::to_vec(&body)?, Some("application/json"))
            .await?;
        Ok(key)
    }

    /// Starts an execution; returns its ARN.
    pub(crate) async fn start(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &Value,
    ) -> anyhow::Result<String> {
        let out = self
            .sfn
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
            .with_context(|| format!("StartExecution {state_machine_arn}"))?;
        Ok(out.execution_arn().to_owned())
    }

    /// Follows an execution until it ends, prints how it ended (with its redrives, if any) and
    /// gives the command's exit code: 0 when it SUCCEEDED, 1 otherwise.
    pub(crate) async fn follow_to_exit(&self, arn: &str) -> anyhow::Result<std::process::ExitCode> {
        let done = self.follow(arn, Duration::from_secs(5)).await?;
        let redriven = match done.redrive_count {
            0 => String::new(),
            n => format!(" after {n} redrive(s)"),
        };
        let error = done.error.map(|e| format!(" ({e}: {})", done.cause.unwrap_or_default()));
        eprintln!("{}: {}{redriven}{}", done.name, done.status, error.unwrap_or_default());
        Ok(if done.status == "SUCCEEDED" {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::from(1)
        })
    }

    /// Follows an execution until it ends, printing a progress line now and then.
    pub(crate) async fn follow(&self, arn: &str, every: Duration) -> anyhow::Result<Described> {
        let started = Instant::now();
        loop {
            let described = self.describe(arn).await?;
            if described.status != "RUNNING" {
                return Ok(described);
            }
            let mut progress = String::new();
            if let Some(map_run) = self.map_runs(arn).await?.first() {
                let run = self
                    .sfn
                    .describe_map_run()
                    .map_run_arn(map_run)
                    .send()
                    .await
                    .with_context(|| format!("DescribeMapRun {map_run}"))?;
                if let Some(counts) = run.item_counts() {
                    progress = format!(
                        ", files {}/{} done ({} failed, {} running)",
                        counts.succeeded() + counts.failed(),
                        counts.total(),
                        counts.failed(),
                        counts.running()
                    );
                }
            }
            eprintln!("{}: RUNNING for {}s{progress}", described.name, started.elapsed().as_secs());
            tokio::time::sleep(every).await;
        }
    }
}
