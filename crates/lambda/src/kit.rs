//! lambda-kit: tracing (JSON in Lambda), settings from the environment, and `StepError` →
//! `Diagnostic` with the stable error name as `errorType`.

use std::future::Future;

use graphetl_core::errors::StepError;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The error a Lambda binary's `main` returns at init.
pub type Error = lambda_runtime::Error;

/// Turns a step error into the Lambda error payload (`errorType` = stable name).
pub fn diagnostic(error: &StepError) -> Diagnostic {
    Diagnostic { error_type: error.name.as_str().to_owned(), error_message: error.cause.clone() }
}

/// Sets up JSON logs for CloudWatch, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// Runs `handler` as the Lambda's function: decodes each event, encodes the response, and
/// reports failures with their stable names.
pub async fn run<E, R, F, Fut>(handler: F) -> Result<(), Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(E) -> Fut + Send + Sync,
    Fut: Future<Output = Result<R, StepError>> + Send,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let handler = &handler;
        async move {
            let payload: E = serde_json::from_value(event.payload).map_err(|e| {
                diagnostic(&StepError::new(
                    graphetl_core::ErrorName::BadEvent,
                    format!("the event does not match the contract: {e}"),
                ))
            })?;
            handler(payload).await.map_err(|e| {
                tracing::error!(error_type = e.name.as_str(), cause = %e.cause, "step failed");
                diagnostic(&e)
            })
        }
    }))
    .await
}

/// Typed settings of the transform function, read once at init.
#[derive(Debug, Clone)]
pub struct TransformSettings {
    /// Where temporary files go (`GRAPHETL_WORK_DIR`, default the system temp dir, `/tmp` in Lambda).
    pub work_dir: std::path::PathBuf,
}

impl TransformSettings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<TransformSettings, Error> {
        let work_dir = std::env::var_os("GRAPHETL_WORK_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        if !work_dir.is_dir() {
            return Err(
                format!("GRAPHETL_WORK_DIR {} is not a directory", work_dir.display()).into()
            );
        }
        Ok(TransformSettings { work_dir })
    }
}
