//! Query results as CSV chunk files for the load Map, and back.
//!
//! A result is cut into chunks of at most N rows; each chunk is a self-contained CSV file with a
//! header (RFC 4180, `\n` line ends). The header names each column with its type,
//! `"name:type"`, type ∈ `string`, `int`, `float`, `bool`, `timestamp` (taken from the column's
//! first non-null value over the whole result; an all-null column is `string`), so the load step
//! gets typed [`ResultValue`]s back without the engine's metadata.
//!
//! Cells: SQL NULL is an empty *unquoted* field; strings and timestamps are always quoted (so the
//! empty string `""` stays distinct from NULL, unlike Athena's own result CSV); ints and floats
//! are plain (floats in Rust's shortest round-trip form, `NaN`, `inf`, `-inf`); bools are
//! `true`/`false`. [`parse_csv_chunk`] reverses [`render_csv_chunks`] exactly.

use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use graphetl_core::contract::{ResultValue, Row};

use crate::engine::QueryResult;

/// Why a result could not be written as chunks, or a chunk not read back.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// A column holds values of two types.
    #[error("column {column}: {first} and {second} values in one column")]
    MixedTypes {
        /// Column name.
        column: String,
        /// The type seen first.
        first: &'static str,
        /// The other type.
        second: &'static str,
    },
    /// A row lacks one of the result's columns.
    #[error("row {row} has no column {column}")]
    MissingColumn {
        /// 0-based row index.
        row: usize,
        /// Column name.
        column: String,
    },
    /// A chunk's text is not a chunk this module wrote.
    #[error("chunk line {line}: {message}")]
    Malformed {
        /// 1-based line of the record.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Writing a chunk file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

fn type_name(value: &ResultValue) -> Option<&'static str> {
    match value {
        ResultValue::Null => None,
        ResultValue::String(_) => Some("string"),
        ResultValue::Int(_) => Some("int"),
        ResultValue::Float(_) => Some("float"),
        ResultValue::Bool(_) => Some("bool"),
        ResultValue::Timestamp(_) => Some("timestamp"),
    }
}

fn push_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

fn push_cell(out: &mut String, value: &ResultValue) {
    match value {
        ResultValue::Null => {}
        ResultValue::String(s) | ResultValue::Timestamp(s) => push_quoted(out, s),
        ResultValue::Int(i) => {
            let _ = write!(out, "{i}");
        }
        ResultValue::Float(f) => {
            let _ = write!(out, "{f}");
        }
        ResultValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

/// Cuts `result` into CSV texts of at most `rows_per_chunk` rows each, every one with the typed
/// header. An empty result gives no chunk.
pub fn render_csv_chunks(
    result: &QueryResult,
    rows_per_chunk: NonZeroUsize,
) -> Result<Vec<String>, ChunkError> {
    let mut types: Vec<Option<&'static str>> = vec![None; result.columns.len()];
    for (r, row) in result.rows.iter().enumerate() {
        for (c, column) in result.columns.iter().enumerate() {
            let value = row
                .get(column)
                .ok_or_else(|| ChunkError::MissingColumn { row: r, column: column.clone() })?;
            match (types[c], type_name(value)) {
                (_, None) => {}
                (None, Some(t)) => types[c] = Some(t),
                (Some(a), Some(b)) if a != b => {
                    return Err(ChunkError::MixedTypes {
                        column: column.clone(),
                        first: a,
                        second: b,
                    });
                }
                _ => {}
            }
        }
    }
    let mut header = String::new();
    for (c, column) in result.columns.iter().enumerate() {
        if c > 0 {
            header.push(',');
        }
        push_quoted(&mut header, &format!("{column}:{}", types[c].unwrap_or("string")));
    }
    header.push('\n');

    let mut chunks = Vec::new();
    for rows in result.rows.chunks(rows_per_chunk.get()) {
        let mut text = header.clone();
        for row in rows {
            for (c, column) in result.columns.iter().enumerate() {
                if c > 0 {
                    text.push(',');
                }
                push_cell(&mut text, row.get(column).unwrap_or(&ResultValue::Null));
            }
            text.push('\n');
        }
        chunks.push(text);
    }
    Ok(chunks)
}

/// The file name of chunk `index` of `stem`: `<stem>-00000.csv`.
pub fn chunk_file_name(stem: &str, index: usize) -> String {
    format!("{stem}-{index:05}.csv")
}

fn chunk_index(stem: &str, file_name: &str) -> Option<usize> {
    let digits = file_name.strip_prefix(stem)?.strip_prefix('-')?.strip_suffix(".csv")?;
    (digits.len() >= 5 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Writes the chunks of `result` to `dir/<stem>-NNNNN.csv` and removes chunk files of the same
/// stem left by an earlier, longer run, so a re-run replaces the output instead of adding to it.
/// Each file is written to a temporary name and renamed into place. Returns the files in order.
pub fn write_csv_chunks(
    result: &QueryResult,
    dir: &Path,
    stem: &str,
    rows_per_chunk: NonZeroUsize,
) -> Result<Vec<PathBuf>, ChunkError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ChunkError::Io { path, source }
    };
    let chunks = render_csv_chunks(result, rows_per_chunk)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::with_capacity(chunks.len());
    for (i, text) in chunks.iter().enumerate() {
        let path = dir.join(chunk_file_name(stem, i));
        let tmp = dir.join(format!(".{}.tmp", chunk_file_name(stem, i)));
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        written.push(path);
    }
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let stale =
            name.to_str().and_then(|n| chunk_index(stem, n)).is_some_and(|i| i >= chunks.len());
        if stale {
            std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
        }
    }
    Ok(written)
}

/// One CSV field: its text and whether it was quoted.
struct Field {
    text: String,
    quoted: bool,
}

fn parse_records(text: &str) -> Result<Vec<(usize, Vec<Field>)>, ChunkError> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start_line = line;
        let mut fields = Vec::new();
        loop {
            let mut field = Field { text: String::new(), quoted: false };
            if chars.peek() == Some(&'"') {
                chars.next();
                field.quoted = true;
                loop {
                    match chars.next() {
                        None => {
                            return Err(ChunkError::Malformed {
                                line: start_line,
                                message: "unclosed quote".into(),
                            });
                        }
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.text.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.text.push(c);
                        }
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if matches!(c, ',' | '\n' | '\r' | '"') {
                        break;
                    }
                    field.text.push(c);
                    chars.next();
                }
            }
            fields.push(field);
            match chars.next() {
                Some(',') => continue,
                Some('\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                    line += 1;
                    break;
                }
                Some('\n') | None => {
                    line += 1;
                    break;
                }
                Some(c) => {
                    return Err(ChunkError::Malformed {
                        line: start_line,
                        message: format!("unexpected {c:?} after a field"),
                    });
                }
            }
        }
        records.push((start_line, fields));
    }
    Ok(records)
}

fn parse_cell(ty: &str, field: &Field) -> Result<ResultValue, String> {
    if !field.quoted && field.text.is_empty() {
        return Ok(ResultValue::Null);
    }
    match (ty, field.quoted) {
        ("string", true) => Ok(ResultValue::String(field.text.clone())),
        ("timestamp", true) => Ok(ResultValue::Timestamp(field.text.clone())),
        ("int", false) => field.text.parse().map(ResultValue::Int).map_err(|e| e.to_string()),
        ("float", false) => field.text.parse().map(ResultValue::Float).map_err(|e| e.to_string()),
        ("bool", false) => match field.text.as_str() {
            "true" => Ok(ResultValue::Bool(true)),
            "false" => Ok(ResultValue::Bool(false)),
            other => Err(format!("{other:?} is not true or false")),
        },
        (ty, quoted) => {
            Err(format!("a {} field in a {ty} column", if quoted { "quoted" } else { "plain" }))
        }
    }
}

/// Reads a chunk written by [`render_csv_chunks`] back into columns and typed rows.
pub fn parse_csv_chunk(text: &str) -> Result<QueryResult, ChunkError> {
    let mut records = parse_records(text)?.into_iter();
    let Some((_, header)) = records.next() else {
        return Err(ChunkError::Malformed { line: 1, message: "no header".into() });
    };
    let mut columns = Vec::with_capacity(header.len());
    let mut types = Vec::with_capacity(header.len());
    for field in &header {
        let (name, ty) = field.text.rsplit_once(':').ok_or_else(|| ChunkError::Malformed {
            line: 1,
            message: format!("header field {:?} is not name:type", field.text),
        })?;
        if !["string", "int", "float", "bool", "timestamp"].contains(&ty) {
            return Err(ChunkError::Malformed { line: 1, message: format!("unknown type {ty:?}") });
        }
        columns.push(name.to_owned());
        types.push(ty);
    }
    let mut rows = Vec::new();
    for (line, fields) in records {
        if fields.len() != columns.len() {
            return Err(ChunkError::Malformed {
                line,
                message: format!("{} fields, header has {}", fields.len(), columns.len()),
            });
        }
        let mut row = Row::new();
        for ((column, ty), field) in columns.iter().zip(&types).zip(&fields) {
            let value = parse_cell(ty, field).map_err(|message| ChunkError::Malformed {
                line,
                message: format!("column {column}: {message}"),
            })?;
            row.insert(column.clone(), value);
        }
        rows.push(row);
    }
    Ok(QueryResult { columns, rows })
}
