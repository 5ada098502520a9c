//! Opening text inputs: gzip detection (suffix or magic bytes) and a guard on line length, so
//! a file with no newlines cannot make the engine buffer it whole.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::TransformError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const READ_BUFFER: usize = 256 * 1024;

/// Marker carried inside an `io::Error` when a line exceeds the limit.
#[derive(Debug)]
pub(crate) struct LineTooLong;

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("line too long")
    }
}

impl std::error::Error for LineTooLong {}

/// A reader that fails once more than `limit` bytes pass without a newline.
pub(crate) struct LineLimit<R> {
    inner: R,
    limit: usize,
    since_newline: usize,
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        match chunk.iter().position(|b| *b == b'\n') {
            None => self.since_newline += n,
            Some(first) => {
                if self.since_newline + first > self.limit {
                    return Err(io::Error::other(LineTooLong));
                }
                let last = chunk.iter().rposition(|b| *b == b'\n').unwrap_or(first);
                // Lines wholly inside a chunk longer than the limit need a full scan.
                if last - first > self.limit
                    && chunk[first..=last]
                        .split(|b| *b == b'\n')
                        .any(|line| line.len() > self.limit)
                {
                    return Err(io::Error::other(LineTooLong));
                }
                self.since_newline = n - last - 1;
            }
        }
        if self.since_newline > self.limit {
            return Err(io::Error::other(LineTooLong));
        }
        Ok(n)
    }
}

/// An opened text input.
pub(crate) struct TextInput {
    /// The decoded bytes.
    pub(crate) reader: BufReader<LineLimit<Box<dyn Read + Send>>>,
    /// How to classify read errors.
    pub(crate) errors: ReadErrors,
}

/// What is needed to turn a read error into a typed error.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadErrors {
    gzip: bool,
    limit: usize,
}

/// Opens `path`, decompressing gzip when the name ends in `.gz` or the magic bytes say so.
pub(crate) fn open_text(path: &Path, limit: usize) -> Result<TextInput, TransformError> {
    let io_err = |source| TransformError::Io { path: path.to_path_buf(), source };
    let mut file = BufReader::with_capacity(READ_BUFFER, File::open(path).map_err(io_err)?);
    let head = file.fill_buf().map_err(io_err)?;
    let gzip = head.starts_with(&GZIP_MAGIC)
        || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let inner: Box<dyn Read + Send> =
        if gzip { Box::new(MultiGzDecoder::new(file)) } else { Box::new(file) };
    let limited = LineLimit { inner, limit, since_newline: 0 };
    Ok(TextInput {
        reader: BufReader::with_capacity(READ_BUFFER, limited),
        errors: ReadErrors { gzip, limit },
    })
}

impl ReadErrors {
    /// Turns a read error at `row` into the right typed error.
    pub(crate) fn classify(self, source: io::Error, row: u64) -> TransformError {
        if source.get_ref().is_some_and(|e| e.is::<LineTooLong>()) {
            return TransformError::RecordTooLong { row, limit: self.limit };
        }
        if self.gzip
            && matches!(
                source.kind(),
                io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::InvalidData
            )
        {
            return TransformError::Gzip { message: source.to_string() };
        }
        if source.kind() == io::ErrorKind::InvalidData {
            return TransformError::InvalidUtf8 { row };
        }
        TransformError::Io { path: "input".into(), source }
    }
}
