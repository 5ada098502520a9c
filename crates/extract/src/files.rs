//! Generated records as local files (`graphetl generate`): one file, or gzip JSON-lines parts
//! laid out like `raw/<dataset>/` (`dt=YYYY-MM-DD/hour=HH/part-<start>-<end>-NNNNN.jsonl.gz`),
//! one part set per hour of the window, so the folder can be uploaded as a dataset's raw files
//! or passed to `run --local --input`. Same config, same bytes.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use graphetl_core::layout;

use crate::generator::{GeneratorConfig, generate_timed, has_planted_defect};

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GeneratedFiles {
    /// Files written, in order, with their record counts.
    pub files: Vec<(PathBuf, u64)>,
    /// Records written.
    pub records: u64,
    /// Records carrying a planted defect (the transform rejects them).
    pub bad_rows: u64,
}

type Sink = Box<dyn Write>;

fn open(path: &Path) -> std::io::Result<Sink> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let gzip = path.extension().is_some_and(|e| e == "gz");
    Ok(if gzip { Box::new(GzEncoder::new(file, Compression::fast())) } else { Box::new(file) })
}

fn close(sink: Sink) -> std::io::Result<()> {
    // Dropping a GzEncoder writes its trailer; flush first so errors surface.
    let mut sink = sink;
    sink.flush()?;
    drop(sink);
    Ok(())
}

/// Writes every record of `config` to one file (gzip when the name ends in `.gz`).
pub fn write_generated_file(
    config: &GeneratorConfig,
    path: &Path,
) -> std::io::Result<GeneratedFiles> {
    let mut sink = open(path)?;
    let mut out = GeneratedFiles::default();
    for timed in generate_timed(config) {
        serde_json::to_writer(&mut sink, &timed.record)?;
        sink.write_all(b"\n")?;
        out.records += 1;
        out.bad_rows += u64::from(has_planted_defect(&timed.record));
    }
    close(sink)?;
    out.files.push((path.to_owned(), out.records));
    Ok(out)
}

struct HourParts {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    index: u64,
    in_current: u64,
    current: Option<Sink>,
}

/// Writes the records of `config` under `dir` in the raw layout of `dataset` (relative to
/// `raw/<dataset>/`), at most `records_per_file` records per part.
pub fn write_generated_parts(
    config: &GeneratorConfig,
    records_per_file: u64,
    dataset: &str,
    dir: &Path,
) -> std::io::Result<GeneratedFiles> {
    let per_file = records_per_file.max(1);
    let raw = layout::raw_prefix(dataset);
    let (start, end) = (config.window.start(), config.window.end());
    let mut out = GeneratedFiles::default();
    let mut hour: Option<HourParts> = None;
    let finish = |parts: &mut HourParts, out: &mut GeneratedFiles| -> std::io::Result<()> {
        if let Some(sink) = parts.current.take() {
            close(sink)?;
            if let Some(last) = out.files.last_mut() {
                last.1 = parts.in_current;
            }
            parts.index += 1;
            parts.in_current = 0;
        }
        Ok(())
    };
    for timed in generate_timed(config) {
        let Some(at) = DateTime::<Utc>::from_timestamp_millis(timed.at_millis) else { continue };
        let floor = at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at);
        let same = hour.as_ref().is_some_and(|h| at >= h.start && at < h.end);
        if !same {
            if let Some(mut done) = hour.take() {
                finish(&mut done, &mut out)?;
            }
            hour = Some(HourParts {
                start: floor.max(start),
                end: (floor + TimeDelta::hours(1)).min(end),
                index: 0,
                in_current: 0,
                current: None,
            });
        }
        let Some(parts) = hour.as_mut() else { continue };
        if parts.current.is_none() {
            let key = layout::extract_part_key(dataset, parts.start, parts.end, parts.index);
            let path = dir.join(key.strip_prefix(&raw).unwrap_or(&key));
            parts.current = Some(open(&path)?);
            out.files.push((path, 0));
        }
        if let Some(sink) = parts.current.as_mut() {
            serde_json::to_writer(&mut *sink, &timed.record)?;
            sink.write_all(b"\n")?;
        }
        parts.in_current += 1;
        out.records += 1;
        out.bad_rows += u64::from(has_planted_defect(&timed.record));
        if parts.in_current >= per_file {
            finish(parts, &mut out)?;
        }
    }
    if let Some(mut done) = hour.take() {
        finish(&mut done, &mut out)?;
    }
    Ok(out)
}
