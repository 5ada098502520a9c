//! Athena's result CSV (`<QueryExecutionId>.csv`) → typed rows, read as a stream.
//!
//! Athena writes a header line of column labels, then one line per row; every non-null value is
//! quoted (`"a","1","true"`) and SQL NULL is an empty *unquoted* field, so `""` (the empty string)
//! and NULL stay distinct. The `csv` crate hides whether a field was quoted, hence this small
//! RFC 4180 reader that keeps it. Cells are typed by the column's Athena type
//! (`ResultSetMetadata.ColumnInfo.Type`), see [`ColumnKind::of`].

use std::io::{BufRead, Bytes};
use std::iter::Peekable;

use graphetl_core::contract::{ResultValue, Row};

use crate::engine::QueryResult;

/// How the cells of one column become [`ResultValue`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    /// `varchar`, `char`, and every type without a closer match (`time`, `array`, `map`, `row`,
    /// `json`, `varbinary`, `interval …`, `uuid`, `ipaddress`): the text as written.
    Text,
    /// `bigint`, `integer`/`int`, `smallint`, `tinyint`.
    Int,
    /// `double`, `real`, `float`, `decimal` (decimals lose exactness beyond f64).
    Float,
    /// `boolean`.
    Bool,
    /// `timestamp` (with or without time zone) and `date`: the text as written.
    Timestamp,
}

impl ColumnKind {
    /// The kind of an Athena type name (`varchar`, `decimal(10,2)`, `timestamp with time zone`).
    pub(crate) fn of(athena_type: &str) -> ColumnKind {
        let lower = athena_type.trim().to_ascii_lowercase();
        let base = lower.split(['(', ' ']).next().unwrap_or_default();
        match base {
            "bigint" | "integer" | "int" | "smallint" | "tinyint" => ColumnKind::Int,
            "double" | "real" | "float" | "decimal" => ColumnKind::Float,
            "boolean" => ColumnKind::Bool,
            "timestamp" | "date" => ColumnKind::Timestamp,
            _ => ColumnKind::Text,
        }
    }
}

/// A result column: its name and how its cells are typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    /// Column name (`ColumnInfo.Name`).
    pub(crate) name: String,
    /// The Athena type as reported (`ColumnInfo.Type`), for messages.
    pub(crate) athena_type: String,
    /// How cells are converted.
    pub(crate) kind: ColumnKind,
}

/// Why a result CSV could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CsvError {
    /// Reading the file failed.
    #[error("cannot read the result file: {0}")]
    Io(#[from] std::io::Error),
    /// The text is not CSV as Athena writes it.
    #[error("line {line}: {message}")]
    Malformed {
        /// 1-based line where the record starts.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// One field: its text and whether it was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) text: String,
    pub(crate) quoted: bool,
}

/// Reads records one by one from a byte stream.
pub(crate) struct Records<R: BufRead> {
    bytes: Peekable<Bytes<R>>,
    line: usize,
}

impl<R: BufRead> Records<R> {
    pub(crate) fn new(reader: R) -> Self {
        Records { bytes: reader.bytes().peekable(), line: 1 }
    }

    fn peek(&mut self) -> Result<Option<u8>, CsvError> {
        match self.bytes.peek() {
            None => Ok(None),
            Some(Ok(b)) => Ok(Some(*b)),
            Some(Err(_)) => match self.bytes.next() {
                Some(Err(e)) => Err(CsvError::Io(e)),
                _ => Ok(None),
            },
        }
    }

    fn next_byte(&mut self) -> Result<Option<u8>, CsvError> {
        self.bytes.next().transpose().map_err(CsvError::Io)
    }

    /// The next record and the line it starts on; `None` at the end of the stream. An empty
    /// line is a record of one empty unquoted field (a one-column row holding NULL).
    pub(crate) fn next_record(&mut self) -> Result<Option<(usize, Vec<Field>)>, CsvError> {
        if self.peek()?.is_none() {
            return Ok(None);
        }
        let start = self.line;
        let malformed = |message: String| CsvError::Malformed { line: start, message };
        let mut fields = Vec::new();
        loop {
            let mut raw = Vec::new();
            let quoted = self.peek()? == Some(b'"');
            if quoted {
                self.next_byte()?;
                loop {
                    match self.next_byte()? {
                        None => return Err(malformed("unclosed quote".into())),
                        Some(b'"') if self.peek()? == Some(b'"') => {
                            self.next_byte()?;
                            raw.push(b'"');
                        }
                        Some(b'"') => break,
                        Some(b) => {
                            if b == b'\n' {
                                self.line += 1;
                            }
                            raw.push(b);
                        }
                    }
                }
            } else {
                while let Some(b) = self.peek()? {
                    match b {
                        b',' | b'\n' | b'\r' => break,
                        b'"' => return Err(malformed("a quote inside an unquoted field".into())),
                        _ => {
                            raw.push(b);
                            self.next_byte()?;
                        }
                    }
                }
            }
            let text = String::from_utf8(raw)
                .map_err(|_| malformed(format!("field {} is not UTF-8", fields.len() + 1)))?;
            fields.push(Field { text, quoted });
            match self.next_byte()? {
                Some(b',') => {}
                Some(b'\n') | None => break,
                Some(b'\r') if self.peek()? == Some(b'\n') => {
                    self.next_byte()?;
                    break;
                }
                Some(b) => {
                    return Err(malformed(format!(
                        "unexpected {:?} after field {}",
                        char::from(b),
                        fields.len()
                    )));
                }
            }
        }
        self.line += 1;
        Ok(Some((start, fields)))
    }
}

/// Converts one cell of a column of `kind`: an unquoted empty field is NULL, anything else must
/// parse as the column's type.
pub(crate) fn convert(kind: ColumnKind, field: &Field) -> Result<ResultValue, String> {
    if !field.quoted && field.text.is_empty() {
        return Ok(ResultValue::Null);
    }
    let text = field.text.as_str();
    match kind {
        ColumnKind::Text => Ok(ResultValue::String(field.text.clone())),
        ColumnKind::Timestamp => Ok(ResultValue::Timestamp(field.text.clone())),
        ColumnKind::Int => text
            .parse()
            .map(ResultValue::Int)
            .map_err(|e| format!("{text:?} is not an integer ({e})")),
        // Rust's parser takes Athena's `NaN`, `Infinity`, `-Infinity` and `1.0E10` forms.
        ColumnKind::Float => text
            .parse()
            .map(ResultValue::Float)
            .map_err(|e| format!("{text:?} is not a number ({e})")),
        ColumnKind::Bool => match text {
            "true" => Ok(ResultValue::Bool(true)),
            "false" => Ok(ResultValue::Bool(false)),
            _ => Err(format!("{text:?} is not true or false")),
        },
    }
}

/// Reads a whole result CSV (header line first) into typed rows of `columns`.
pub(crate) fn read_result<R: BufRead>(
    reader: R,
    columns: &[Column],
) -> Result<QueryResult, CsvError> {
    let mut records = Records::new(reader);
    let Some((line, header)) = records.next_record()? else {
        return Err(CsvError::Malformed { line: 1, message: "empty file, no header line".into() });
    };
    if header.len() != columns.len() {
        return Err(CsvError::Malformed {
            line,
            message: format!(
                "the header has {} fields but the query has {} columns",
                header.len(),
                columns.len()
            ),
        });
    }
    let mut rows = Vec::new();
    while let Some((line, fields)) = records.next_record()? {
        if fields.len() != columns.len() {
            return Err(CsvError::Malformed {
                line,
                message: format!(
                    "{} fields, the query has {} columns",
                    fields.len(),
                    columns.len()
                ),
            });
        }
        let mut row = Row::new();
        for (column, field) in columns.iter().zip(&fields) {
            let value = convert(column.kind, field).map_err(|message| CsvError::Malformed {
                line,
                message: format!("column {} ({}): {message}", column.name, column.athena_type),
            })?;
            row.insert(column.name.clone(), value);
        }
        rows.push(row);
    }
    Ok(QueryResult { columns: columns.iter().map(|c| c.name.clone()).collect(), rows })
}
