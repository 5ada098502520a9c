//! The extract step: one window of the dataset's source in, raw files out.
//!
//! The spec is read from the bucket like the other steps; its `[source]` picks what happens:
//! `http` pages the API (graphetl-extract), `generator` writes synthetic records, and `none`
//! writes nothing and reports the window's raw folder with the files already in it. The
//! response's `prefix` lists exactly the files the transform step should read.

use graphetl_core::contract::{ExtractRequest, ExtractResult, Window};
use graphetl_core::errors::StepError;
use graphetl_core::spec::Source;
use graphetl_core::{ErrorName, layout};
use graphetl_extract::generator::DEFAULT_BAD_ROW_RATE;
use graphetl_extract::{
    GeneratorConfig, HttpOptions, SecretResolver, extract_generator, extract_http_with,
};
use graphetl_storage::ObjectStore;

use super::{load_spec, store_error};

/// Records per raw file of the generator (its spec has no `records_per_file`).
pub const GENERATOR_RECORDS_PER_FILE: u64 = 50_000;

/// What the extract handler needs beyond the spec.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Records the `generator` source writes per window.
    pub generator_records: u64,
    /// The generator's seed; `None` derives one from the dataset and the window, so each
    /// window gets its own records and a re-run the same ones.
    pub generator_seed: Option<u64>,
    /// Retry, pacing and clock of the `http` source.
    pub http: HttpOptions,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            generator_records: 10_000,
            generator_seed: None,
            http: HttpOptions::default(),
        }
    }
}

/// The extract handler: a store, a secret resolver and options.
pub struct ExtractHandler<S, R> {
    store: S,
    secrets: R,
    options: ExtractOptions,
}

/// FNV-1a over the dataset name and the window: a stable per-window generator seed.
pub fn window_seed(dataset: &str, window: &Window) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("{dataset}/{window}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The longest common prefix of the raw hour folders the window touches.
pub fn window_raw_prefix(dataset: &str, window: &Window) -> String {
    let first = layout::raw_hour_dir(dataset, window.start());
    let last_instant = window.end() - chrono::TimeDelta::milliseconds(1);
    let last = layout::raw_hour_dir(dataset, last_instant.max(window.start()));
    let common = first.bytes().zip(last.bytes()).take_while(|(a, b)| a == b).count();
    first[..common].to_owned()
}

impl<S: ObjectStore, R: SecretResolver> ExtractHandler<S, R> {
    /// Builds a handler.
    pub fn new(store: S, secrets: R, options: ExtractOptions) -> ExtractHandler<S, R> {
        ExtractHandler { store, secrets, options }
    }

    /// The store this handler writes to.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Extracts one window.
    pub async fn handle(&self, request: ExtractRequest) -> Result<ExtractResult, StepError> {
        if request.bucket.is_empty() || request.dataset.is_empty() {
            return Err(StepError::new(
                ErrorName::BadEvent,
                format!("bucket and dataset are required, got {request:?}"),
            ));
        }
        let spec = load_spec(&self.store, &request.bucket, &request.dataset).await?;
        let window = &request.window;
        let to_step = |e: graphetl_extract::ExtractError| {
            StepError::new(e.error_name(), format!("extract {} {window}: {e}", spec.name))
        };
        let result = match &spec.source {
            Source::Http(source) => extract_http_with(
                source,
                window,
                &self.store,
                &request.bucket,
                &spec.name,
                &self.secrets,
                &self.options.http,
            )
            .await
            .map_err(to_step)?,
            Source::Generator { services } => {
                let config = GeneratorConfig {
                    services: *services,
                    records: self.options.generator_records,
                    seed: self
                        .options
                        .generator_seed
                        .unwrap_or_else(|| window_seed(&spec.name, window)),
                    window: window.clone(),
                    bad_row_rate: DEFAULT_BAD_ROW_RATE,
                    error_bursts: 2,
                };
                extract_generator(
                    &config,
                    GENERATOR_RECORDS_PER_FILE,
                    &self.store,
                    &request.bucket,
                    &spec.name,
                )
                .await
                .map_err(to_step)?
            }
            Source::None => {
                let prefix = window_raw_prefix(&spec.name, window);
                let files = self
                    .store
                    .list(&request.bucket, &prefix)
                    .await
                    .map_err(|e| store_error(&e))?
                    .len() as u64;
                ExtractResult { prefix, files, ..ExtractResult::default() }
            }
        };
        tracing::info!(
            dataset = %spec.name,
            run_id = %request.run_id,
            window = %window,
            prefix = %result.prefix,
            files = result.files,
            records = result.records,
            pages = result.pages,
            "extract done"
        );
        Ok(result)
    }
}
