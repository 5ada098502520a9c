//! The S3 key layout: where raw, curated, quarantine, spec and run objects live.
//!
//! Keys are derived deterministically from the raw key, so re-running an item overwrites the
//! same objects instead of adding new ones (every step is idempotent per input key).

/// Prefix of a dataset's raw files: `raw/<dataset>/`.
pub fn raw_prefix(dataset: &str) -> String {
    format!("raw/{dataset}/")
}

/// Key of a raw file given by its path below the dataset's raw area: `raw/<dataset>/<relative>`.
pub fn raw_key(dataset: &str, relative: &str) -> String {
    format!("{}{}", raw_prefix(dataset), relative.trim_start_matches('/'))
}

/// The dataset a raw key `raw/<dataset>/<file>` belongs to, or `None` for any other key.
pub fn dataset_of_raw_key(key: &str) -> Option<&str> {
    let (dataset, rest) = key.strip_prefix("raw/")?.split_once('/')?;
    (!dataset.is_empty() && !rest.is_empty()).then_some(dataset)
}

/// Prefix of a dataset's curated Parquet: `curated/<dataset>/`.
pub fn curated_prefix(dataset: &str) -> String {
    format!("curated/{dataset}/")
}

/// Prefix of a dataset's quarantined rows: `quarantine/<dataset>/`.
pub fn quarantine_prefix(dataset: &str) -> String {
    format!("quarantine/{dataset}/")
}

/// Key of a dataset's spec in the bucket: `datasets/<dataset>.toml`.
pub fn spec_key(dataset: &str) -> String {
    format!("datasets/{dataset}.toml")
}

/// Key of a spec's SQL file in the bucket: the path the spec names, under `datasets/`
/// (`service-calls/edges.sql` → `datasets/service-calls/edges.sql`), as the spec sits in
/// `datasets/` too.
pub fn sql_key(sql_path: &str) -> String {
    format!("datasets/{}", sql_path.trim_start_matches("./"))
}

/// Prefix of every query result of a dataset: `aggregates/<dataset>/`.
pub fn aggregates_prefix(dataset: &str) -> String {
    format!("aggregates/{dataset}/")
}

/// Prefix of one query's result chunks for a range of days:
/// `aggregates/<dataset>/<query>/dt_from=<day>/dt_to=<day>/`. Re-running the same days
/// replaces the chunks there.
pub fn aggregate_prefix(dataset: &str, query: &str, dt_from: &str, dt_to: &str) -> String {
    format!("{}{query}/dt_from={dt_from}/dt_to={dt_to}/", aggregates_prefix(dataset))
}

/// Prefix of one run's files (ResultWriter output, summary): `runs/<run_id>/`.
pub fn run_prefix(run_id: &str) -> String {
    format!("runs/{run_id}/")
}

/// Folder of the raw files extracted for a window starting at `start`:
/// `raw/<dataset>/dt=YYYY-MM-DD/hour=HH/`.
pub fn raw_hour_dir(dataset: &str, start: chrono::DateTime<chrono::Utc>) -> String {
    format!("{}{}", raw_prefix(dataset), start.format("dt=%Y-%m-%d/hour=%H/"))
}

/// Prefix that lists exactly the raw files extracted for the window `[start, end)`:
/// `raw/<dataset>/dt=…/hour=…/part-<start>-<end>-` with compact UTC times
/// (`20261120T030000Z`). Re-extracting the window writes the same keys.
pub fn extract_part_prefix(
    dataset: &str,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> String {
    let compact = "%Y%m%dT%H%M%SZ";
    format!(
        "{}part-{}-{}-",
        raw_hour_dir(dataset, start),
        start.format(compact),
        end.format(compact)
    )
}

/// Key of the `index`-th raw file of an extracted window: the window's part prefix plus
/// `NNNNN.jsonl.gz`.
pub fn extract_part_key(
    dataset: &str,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    index: u64,
) -> String {
    format!("{}{index:05}.jsonl.gz", extract_part_prefix(dataset, start, end))
}

const KNOWN_EXTENSIONS: &[&str] =
    &[".gz", ".json", ".jsonl", ".ndjson", ".csv", ".txt", ".parquet"];

/// FNV-1a, 64 bit: a tiny, stable hash (it must never change between versions).
fn fnv1a64(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A stable, readable name for the outputs of one raw file: its base name without known
/// extensions, plus a hash of the whole key (`part-00000-5d1c0b8e6f9a2c31`).
pub fn output_stem(raw_key: &str) -> String {
    let mut base = raw_key.rsplit('/').next().unwrap_or(raw_key);
    while let Some(ext) =
        KNOWN_EXTENSIONS.iter().find(|e| base.len() > e.len() && base.ends_with(*e))
    {
        base = &base[..base.len() - ext.len()];
    }
    let clean: String =
        base.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
    format!("{clean}-{:016x}", fnv1a64(raw_key))
}

/// The folder of a raw key below `raw/<dataset>/` (e.g. `dt=2026-11-20/hour=03/`), or empty.
pub fn raw_relative_dir(dataset: &str, raw_key: &str) -> String {
    let prefix = raw_prefix(dataset);
    match raw_key.strip_prefix(&prefix).and_then(|rest| rest.rsplit_once('/')) {
        Some((dir, _)) if !dir.split('/').any(|s| s.is_empty() || s == "..") => format!("{dir}/"),
        _ => String::new(),
    }
}

/// Key of the curated Parquet written for `raw_key` in `partition` (`dt=…[/hour=…]` or empty).
pub fn curated_key(dataset: &str, partition: &str, raw_key: &str) -> String {
    let partition = if partition.is_empty() { String::new() } else { format!("{partition}/") };
    format!("{}{partition}{}.parquet", curated_prefix(dataset), output_stem(raw_key))
}

/// Key of the quarantine file for `raw_key`, mirroring the raw file's folder.
pub fn quarantine_key(dataset: &str, raw_key: &str) -> String {
    format!(
        "{}{}{}.jsonl",
        quarantine_prefix(dataset),
        raw_relative_dir(dataset, raw_key),
        output_stem(raw_key)
    )
}
