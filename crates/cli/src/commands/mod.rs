//! One module per subcommand, plus what they share (reading a spec file).

pub(crate) mod aggregate;
pub(crate) mod aws;
pub(crate) mod chaos;
pub(crate) mod failures;
pub(crate) mod faults;
pub(crate) mod generate;
pub(crate) mod items;
pub(crate) mod load;
pub(crate) mod local;
pub(crate) mod mock_neptune;
pub(crate) mod redrive;
pub(crate) mod reprocess;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod serve_source;
pub(crate) mod simulate;
pub(crate) mod states;
pub(crate) mod stream;
pub(crate) mod transform;
pub(crate) mod validate;
pub(crate) mod workflow;

use std::path::{Path, PathBuf};

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

/// The tokio runtime a command runs its async work on (every command but the interpreter's
/// virtual-clock ones, which need a paused current-thread runtime).
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Every file under `root` (not following symlinked folders), sorted; an unreadable folder is an
/// error naming it.
pub(crate) fn files_under(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let path = entry.with_context(|| format!("cannot read {}", dir.display()))?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}
