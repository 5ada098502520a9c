//! The partition spill: rows of partitions that found no open writer, kept as converted values
//! in a compact binary form, sorted by partition in bounded runs on disk, and merged back one
//! partition at a time after the input ends.
//!
//! A run is at most `budget` bytes of encoded rows: when the buffer is full it is stably sorted
//! by partition key and written to `<dir>/run-N.bin`. The merge reads every run through a small
//! buffer and yields rows ordered by (partition key, run, position), so each partition's rows come
//! back in input order. Memory is the buffer plus one read buffer per run, whatever the number
//! of partitions.
//!
//! Row encoding (the column types come from the spec, so no type tags): per column one byte,
//! 0 = null, 1 = value, then the value: string = u32 length + UTF-8 bytes, bool = u8, int and
//! timestamp = i64, float = f64 bits, decimal = i128, date = i32, list = u32 count + strings;
//! integers little-endian. A run record is day i64, hour i64, payload length u32, payload.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use graphetl_core::convert::Value;
use graphetl_core::spec::{Column, ColumnType};

use crate::TransformError;

/// A partition key: (days since the epoch, hour), -1 where absent.
pub(crate) type Key = (i64, i64);

/// Read buffer per run during the merge.
const RUN_READ_BUFFER: usize = 64 * 1024;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TransformError + '_ {
    move |source| TransformError::Io { path: path.to_path_buf(), source }
}

fn corrupt(path: &Path, what: &str) -> TransformError {
    TransformError::Output { message: format!("spill run {} is corrupt: {what}", path.display()) }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    // A value longer than 4 GiB cannot come from a record under input.max_record_bytes.
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_len(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

/// Appends the encoding of one converted row to `out`.
pub(crate) fn encode_row(values: &[Option<Value<'_>>], out: &mut Vec<u8>) {
    for value in values {
        let Some(value) = value else {
            out.push(0);
            continue;
        };
        out.push(1);
        match value {
            Value::Str(s) => put_str(out, s),
            Value::Bool(b) => out.push(u8::from(*b)),
            Value::Int(v) | Value::Timestamp(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Float(v) => out.extend_from_slice(&v.to_bits().to_le_bytes()),
            Value::Decimal(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Date(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::List(items) => {
                put_len(out, items.len());
                for item in items {
                    put_str(out, item);
                }
            }
        }
    }
}

/// Reads the encoding of [`encode_row`] back; `None` when the bytes are not a row of `columns`.
pub(crate) fn decode_row<'a>(
    columns: &[Column],
    mut bytes: &'a [u8],
    out: &mut Vec<Option<Value<'a>>>,
) -> Option<()> {
    fn take<const N: usize>(bytes: &mut &[u8]) -> Option<[u8; N]> {
        let (head, rest) = bytes.split_first_chunk::<N>()?;
        *bytes = rest;
        Some(*head)
    }
    fn take_str<'a>(bytes: &mut &'a [u8]) -> Option<&'a str> {
        let len = usize::try_from(u32::from_le_bytes(take::<4>(bytes)?)).ok()?;
        let (text, rest) = bytes.split_at_checked(len)?;
        *bytes = rest;
        std::str::from_utf8(text).ok()
    }
    out.clear();
    for column in columns {
        let [present] = take::<1>(&mut bytes)?;
        if present == 0 {
            out.push(None);
            continue;
        }
        let value = match column.ty {
            ColumnType::String => Value::Str(Cow::Borrowed(take_str(&mut bytes)?)),
            ColumnType::Bool => Value::Bool(take::<1>(&mut bytes)? != [0]),
            ColumnType::Int => Value::Int(i64::from_le_bytes(take(&mut bytes)?)),
            ColumnType::Timestamp => Value::Timestamp(i64::from_le_bytes(take(&mut bytes)?)),
            ColumnType::Float => {
                Value::Float(f64::from_bits(u64::from_le_bytes(take(&mut bytes)?)))
            }
            ColumnType::Decimal { .. } => Value::Decimal(i128::from_le_bytes(take(&mut bytes)?)),
            ColumnType::Date => Value::Date(i32::from_le_bytes(take(&mut bytes)?)),
            ColumnType::ListString => {
                let count = u32::from_le_bytes(take::<4>(&mut bytes)?);
                let mut items = Vec::new();
                for _ in 0..count {
                    items.push(Cow::Borrowed(take_str(&mut bytes)?));
                }
                Value::List(items)
            }
        };
        out.push(Some(value));
    }
    bytes.is_empty().then_some(())
}

/// One buffered row: its key and where its encoding sits in the arena.
struct Entry {
    key: Key,
    start: usize,
    len: usize,
}

/// Rows of partitions without an open writer, buffered and written in sorted runs.
pub(crate) struct Spill {
    dir: PathBuf,
    budget: usize,
    arena: Vec<u8>,
    entries: Vec<Entry>,
    runs: Vec<PathBuf>,
}

impl Spill {
    /// A spill writing its runs under `dir` (created on the first run), `budget` bytes a run.
    pub(crate) fn new(dir: PathBuf, budget: usize) -> Spill {
        Spill {
            dir,
            budget: budget.max(1),
            arena: Vec::new(),
            entries: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// Buffers one converted row of partition `key`.
    pub(crate) fn push(
        &mut self,
        key: Key,
        values: &[Option<Value<'_>>],
    ) -> Result<(), TransformError> {
        let start = self.arena.len();
        encode_row(values, &mut self.arena);
        self.entries.push(Entry { key, start, len: self.arena.len() - start });
        if self.arena.len() + self.entries.len() * std::mem::size_of::<Entry>() >= self.budget {
            self.write_run()?;
        }
        Ok(())
    }

    fn write_run(&mut self) -> Result<(), TransformError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        if self.runs.is_empty() {
            std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        }
        let path = self.dir.join(format!("run-{}.bin", self.runs.len()));
        // Stable: rows of one partition keep their input order.
        self.entries.sort_by_key(|e| e.key);
        let file = File::create(&path).map_err(io_err(&path))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let write = |out: &mut BufWriter<File>| -> std::io::Result<()> {
            for entry in &self.entries {
                let payload = &self.arena[entry.start..entry.start + entry.len];
                out.write_all(&entry.key.0.to_le_bytes())?;
                out.write_all(&entry.key.1.to_le_bytes())?;
                out.write_all(&u32::try_from(entry.len).unwrap_or(u32::MAX).to_le_bytes())?;
                out.write_all(payload)?;
            }
            out.flush()
        };
        write(&mut out).map_err(io_err(&path))?;
        self.runs.push(path);
        self.arena.clear();
        self.entries.clear();
        Ok(())
    }

    /// Writes the last run and starts the merge over all of them.
    pub(crate) fn into_merge(mut self) -> Result<Merge, TransformError> {
        self.write_run()?;
        let mut runs = Vec::with_capacity(self.runs.len());
        let mut heap = BinaryHeap::with_capacity(self.runs.len());
        for (index, path) in self.runs.into_iter().enumerate() {
            let file = File::open(&path).map_err(io_err(&path))?;
            let mut run = Run {
                reader: BufReader::with_capacity(RUN_READ_BUFFER, file),
                path,
                key: (0, 0),
                payload: Vec::new(),
            };
            if run.advance()? {
                heap.push(Reverse((run.key, index)));
            }
            runs.push(run);
        }
        Ok(Merge { dir: self.dir, runs, heap })
    }
}

/// One run being read back.
struct Run {
    reader: BufReader<File>,
    path: PathBuf,
    key: Key,
    payload: Vec<u8>,
}

impl Run {
    /// Reads the next record; false at the end of the run.
    fn advance(&mut self) -> Result<bool, TransformError> {
        let mut day = [0u8; 8];
        let mut filled = 0;
        while filled < day.len() {
            let n = self.reader.read(&mut day[filled..]).map_err(io_err(&self.path))?;
            if n == 0 {
                return if filled == 0 {
                    Ok(false)
                } else {
                    Err(corrupt(&self.path, "cut record"))
                };
            }
            filled += n;
        }
        let mut hour = [0u8; 8];
        let mut len = [0u8; 4];
        self.reader.read_exact(&mut hour).map_err(io_err(&self.path))?;
        self.reader.read_exact(&mut len).map_err(io_err(&self.path))?;
        let len = usize::try_from(u32::from_le_bytes(len))
            .map_err(|_| corrupt(&self.path, "record length"))?;
        self.key = (i64::from_le_bytes(day), i64::from_le_bytes(hour));
        self.payload.resize(len, 0);
        self.reader.read_exact(&mut self.payload).map_err(io_err(&self.path))?;
        Ok(true)
    }
}

/// The k-way merge of the runs, by (key, run): each partition's rows in input order.
pub(crate) struct Merge {
    dir: PathBuf,
    runs: Vec<Run>,
    heap: BinaryHeap<Reverse<(Key, usize)>>,
}

impl Merge {
    /// Calls `row` with every spilled row, ordered by partition key then input order.
    pub(crate) fn for_each(
        mut self,
        mut row: impl FnMut(Key, &[u8]) -> Result<(), TransformError>,
    ) -> Result<(), TransformError> {
        while let Some(Reverse((key, index))) = self.heap.pop() {
            let Some(run) = self.runs.get_mut(index) else {
                return Err(TransformError::Output { message: "spill run vanished".into() });
            };
            row(key, &run.payload)?;
            if run.advance()? {
                self.heap.push(Reverse((run.key, index)));
            }
        }
        drop(self.runs);
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&self.dir)(e)),
            _ => Ok(()),
        }
    }
}
