//! One module per subcommand, plus what they share (reading a spec file).

pub(crate) mod aggregate;
pub(crate) mod aws;
pub(crate) mod failures;
pub(crate) mod generate;
pub(crate) mod load;
pub(crate) mod local;
pub(crate) mod mock_neptune;
pub(crate) mod reprocess;
pub(crate) mod run;
pub(crate) mod serve_source;
pub(crate) mod simulate;
pub(crate) mod states;
pub(crate) mod stream;
pub(crate) mod transform;
pub(crate) mod validate;

use std::path::Path;

use anyhow::Context;
use graphetl_core::DatasetSpec;

/// Reads and validates a spec file; spec problems are returned as the error text.
pub(crate) fn read_spec(path: &Path) -> anyhow::Result<(DatasetSpec, String)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read dataset spec {}", path.display()))?;
    let spec = DatasetSpec::from_toml_str(&text, &path.display().to_string())
        .map_err(|e| anyhow::anyhow!("invalid dataset spec\n{e}"))?;
    Ok((spec, text))
}

/// Splits `s3://bucket/key` into its parts.
pub(crate) fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_owned(), key.to_owned()))
}
