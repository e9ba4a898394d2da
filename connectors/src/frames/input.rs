//! One input file of a [`FramesSource`](super::FramesSource): opened (gunzipped when its name
//! ends in `.gz`), read line by line, with the next frame parsed ahead (the *head*) so that
//! several files can be merged in event-time order.
//!
//! A line longer than [`MAX_LINE`] is not buffered: its first [`OVERLONG_RAW`] bytes become
//! the head, marked as a `parse` rejection, and the rest is skipped up to the newline. Blank
//! lines (only spaces, tabs, `\r`) are skipped: their bytes are carried by the next frame (or
//! by [`Input::trailing`] at the end). A UTF-8 byte-order mark at the start is skipped; a
//! trailing `\r` is not part of a line.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use msec_engine::DeadLetterReason;

use super::decode::{Wire, parse};
use crate::error::{ConnectorError, Result};
use crate::file::open_file;
use crate::validate::{Reject, reject};

/// Longest line parsed (a Helium frame is about 2 kB).
pub(crate) const MAX_LINE: usize = 1 << 20;

/// How many bytes of an over-long line are kept in its dead letter.
pub(crate) const OVERLONG_RAW: usize = 4096;

/// The next frame of an input, parsed.
pub(crate) struct Head {
    /// The line without its newline (for an over-long line, its first bytes).
    pub raw: Vec<u8>,
    /// 1-based line number.
    pub line: u64,
    /// Bytes consumed for it: the line, its newline and the blank lines before it.
    pub bytes: u64,
    /// The parsed frame, or why it could not be parsed.
    pub frame: Result<Wire, Reject>,
    /// Merge key: the frame's event time, `i64::MIN` when it has none (taken first).
    pub key: i64,
}

/// An open input file.
pub(crate) struct Input {
    /// The path as given.
    pub path: PathBuf,
    /// Provenance name (the path as given).
    pub source: Arc<str>,
    /// Interned id of `source`.
    pub source_id: u32,
    reader: BufReader<Box<dyn Read + Send>>,
    buf: Vec<u8>,
    line_no: u64,
    read: u64,
    /// Bytes of blank lines after the last frame, reported when the input ends.
    pub trailing: u64,
    /// The next frame, if any.
    pub head: Option<Head>,
}

impl Input {
    /// Opens `path`; returns the input and its size when it is a plain regular file.
    pub(crate) fn open(path: &Path, source_id: u32) -> Result<(Self, Option<u64>)> {
        let opened = open_file(path)?;
        let (read, size) = (opened.reader, opened.size);
        let name = path.display().to_string();
        let input = Self {
            path: path.to_owned(),
            source: Arc::from(name),
            source_id,
            reader: BufReader::with_capacity(1 << 16, read),
            buf: Vec::new(),
            line_no: 0,
            read: 0,
            trailing: 0,
            head: None,
        };
        Ok((input, size))
    }

    /// The 1-based number of the last line read.
    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Reads the next frame into [`head`](Self::head) (`None` at the end of the input).
    pub(crate) fn advance(&mut self) -> Result<()> {
        self.head = None;
        let mut bytes = 0u64;
        loop {
            self.buf.clear();
            let n = (&mut self.reader)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| self.read_err(e))?;
            if n == 0 {
                self.trailing = bytes;
                return Ok(());
            }
            self.line_no += 1;
            self.read += n as u64;
            bytes += n as u64;
            let overlong = self.buf.len() > MAX_LINE && self.buf.last() != Some(&b'\n');
            if overlong {
                let skipped = self.skip_line()?;
                bytes += skipped;
                self.buf.truncate(OVERLONG_RAW);
                let detail = format!(
                    "line of {} bytes is longer than the {MAX_LINE}-byte limit",
                    n as u64 + skipped
                );
                self.head = Some(Head {
                    raw: std::mem::take(&mut self.buf),
                    line: self.line_no,
                    bytes,
                    frame: Err(reject(DeadLetterReason::Parse, None, detail)),
                    key: i64::MIN,
                });
                return Ok(());
            }
            let mut line = self.buf.as_slice();
            if self.line_no == 1 {
                line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            }
            line = line.strip_suffix(b"\n").unwrap_or(line);
            line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
                continue;
            }
            let frame = parse(line);
            let key = frame.as_ref().map_or(i64::MIN, Wire::order_ts);
            self.head = Some(Head {
                raw: line.to_vec(),
                line: self.line_no,
                bytes,
                frame,
                key,
            });
            return Ok(());
        }
    }

    /// Skips the rest of an over-long line, newline included; returns the bytes skipped.
    fn skip_line(&mut self) -> Result<u64> {
        let mut skipped = 0u64;
        loop {
            let step = match self.reader.fill_buf() {
                Ok([]) => return Ok(skipped),
                Ok(avail) => match memchr::memchr(b'\n', avail) {
                    Some(i) => Ok((i + 1, true)),
                    None => Ok((avail.len(), false)),
                },
                Err(e) => Err(e),
            };
            let (take, done) = step.map_err(|e| self.read_err(e))?;
            self.reader.consume(take);
            skipped += take as u64;
            self.read += take as u64;
            if done {
                return Ok(skipped);
            }
        }
    }

    fn read_err(&self, source: std::io::Error) -> ConnectorError {
        ConnectorError::Read {
            path: self.path.clone(),
            line: self.line_no + 1,
            offset: self.read,
            source,
        }
    }
}
