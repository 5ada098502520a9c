//! Raw part files of one window: gzip JSON lines, at most N records each, uploaded as each
//! fills, under keys named after the window; `finish` deletes the window's higher-numbered
//! parts an earlier run left behind.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use graphetl_core::contract::Window;
use graphetl_core::layout;
use graphetl_storage::ObjectStore;

use crate::ExtractError;

const CONTENT_TYPE: &str = "application/x-ndjson";

/// What a [`PartWriter`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenParts {
    /// The prefix listing exactly this window's parts.
    pub prefix: String,
    /// Part files written.
    pub files: u64,
    /// Records written.
    pub records: u64,
    /// Stale parts of an earlier run deleted.
    pub stale_deleted: u64,
}

/// Writes one window's records as numbered gzip JSON-lines parts.
pub struct PartWriter<'a, S> {
    store: &'a S,
    bucket: &'a str,
    dataset: &'a str,
    window: &'a Window,
    per_file: u64,
    current: Option<GzEncoder<Vec<u8>>>,
    in_current: u64,
    files: u64,
    records: u64,
    line: Vec<u8>,
}

impl<'a, S: ObjectStore> PartWriter<'a, S> {
    /// A writer for `window`'s parts of `dataset` in `bucket`, `per_file` records each (≥ 1).
    pub fn new(
        store: &'a S,
        bucket: &'a str,
        dataset: &'a str,
        window: &'a Window,
        per_file: u64,
    ) -> PartWriter<'a, S> {
        PartWriter {
            store,
            bucket,
            dataset,
            window,
            per_file: per_file.max(1),
            current: None,
            in_current: 0,
            files: 0,
            records: 0,
            line: Vec::with_capacity(512),
        }
    }

    /// The prefix of this window's parts.
    pub fn prefix(&self) -> String {
        layout::extract_part_prefix(self.dataset, self.window.start(), self.window.end())
    }

    /// Appends one record (one JSON line); uploads the part when it is full.
    pub async fn push(&mut self, record: &serde_json::Value) -> Result<(), ExtractError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, record)
            .map_err(|e| ExtractError::BadSource(format!("a record cannot be written: {e}")))?;
        self.line.push(b'\n');
        self.append_line().await
    }

    /// Appends one record as the source sent it (its exact text, on one line).
    pub async fn push_raw(
        &mut self,
        record: &serde_json::value::RawValue,
    ) -> Result<(), ExtractError> {
        self.line.clear();
        self.line.extend_from_slice(record.get().as_bytes());
        // A line break in valid JSON is whitespace between tokens (strings cannot hold one
        // unescaped), so a pretty-printed record becomes one line by blanking them.
        for byte in &mut self.line {
            if matches!(*byte, b'\n' | b'\r') {
                *byte = b' ';
            }
        }
        self.line.push(b'\n');
        self.append_line().await
    }

    async fn append_line(&mut self) -> Result<(), ExtractError> {
        let encoder = self.current.get_or_insert_with(|| {
            GzEncoder::new(Vec::with_capacity(1 << 20), Compression::fast())
        });
        encoder.write_all(&self.line).map_err(|e| {
            ExtractError::BadSource(format!("cannot compress a raw file in memory: {e}"))
        })?;
        self.in_current += 1;
        self.records += 1;
        if self.in_current >= self.per_file {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), ExtractError> {
        let Some(encoder) = self.current.take() else { return Ok(()) };
        let bytes = encoder.finish().map_err(|e| {
            ExtractError::BadSource(format!("cannot compress a raw file in memory: {e}"))
        })?;
        let key = layout::extract_part_key(
            self.dataset,
            self.window.start(),
            self.window.end(),
            self.files,
        );
        let size = bytes.len();
        self.store.put_bytes(self.bucket, &key, bytes, Some(CONTENT_TYPE)).await?;
        tracing::debug!(key = %key, records = self.in_current, bytes = size, "raw part written");
        self.files += 1;
        self.in_current = 0;
        Ok(())
    }

    /// Uploads the last part and deletes this window's parts numbered from `files` on.
    pub async fn finish(mut self) -> Result<WrittenParts, ExtractError> {
        self.flush().await?;
        let prefix = self.prefix();
        let mut stale_deleted = 0;
        for object in self.store.list(self.bucket, &prefix).await? {
            let index = object
                .key
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(".jsonl.gz"))
                .and_then(|n| n.parse::<u64>().ok());
            if index.is_some_and(|i| i >= self.files) {
                stale_deleted += self.store.delete_prefix(self.bucket, &object.key).await?;
            }
        }
        if stale_deleted > 0 {
            tracing::info!(prefix = %prefix, stale_deleted, "deleted parts left by an earlier run");
        }
        Ok(WrittenParts { prefix, files: self.files, records: self.records, stale_deleted })
    }
}
