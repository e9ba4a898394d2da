//! The CSV source's line reader and batcher: reads lines into one reused buffer, decodes
//! them and sends [`SourceBatch`]es of at most `batch_rows` readings downstream.
//!
//! A line longer than [`MAX_LINE`] is not buffered: it is dead-lettered as `parse` with its
//! first [`OVERLONG_RAW`] bytes. Blank lines (only spaces, tabs, `\r`) are skipped: they
//! count in `bytes` and line numbers, not in `records`. A UTF-8 byte-order mark at the start
//! is skipped; a trailing `\r` (CRLF) is not part of a row.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use msec_engine::source::{BatchSender, SourceSummary};

use super::decode::Decoder;
use crate::error::{ConnectorError, Result};
use crate::jsonl::pump::{OVERLONG_RAW, Progress};
use crate::pending::Pending;

/// Longest line that is parsed rather than dead-lettered.
pub(crate) const MAX_LINE: usize = 4 << 20;

/// Buffered reader capacity.
pub(crate) const BUFFER: usize = 1 << 20;

/// A line read by [`LineReader::next_line`].
pub(crate) struct Line {
    /// Bytes consumed, line ending included.
    pub bytes: u64,
    /// Whether the line was longer than the buffer limit (the buffer holds its prefix).
    pub overlong: bool,
}

/// Reads lines into a reused buffer.
pub(crate) struct LineReader {
    pub input: BufReader<Box<dyn Read + Send>>,
    /// The current line, without `\n` and `\r`.
    pub line: Vec<u8>,
    /// 1-based number of the current line.
    pub line_no: u64,
    pub max_line: usize,
    first: bool,
}

impl LineReader {
    pub(crate) fn new(input: Box<dyn Read + Send>) -> Self {
        Self {
            input: BufReader::with_capacity(BUFFER, input),
            line: Vec::new(),
            line_no: 0,
            max_line: MAX_LINE,
            first: true,
        }
    }

    /// Reads the next line; `None` at the end of input.
    pub(crate) fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        self.line.clear();
        let mut bytes = 0u64;
        let mut overlong = false;
        loop {
            let buf = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                if bytes == 0 {
                    return Ok(None);
                }
                break;
            }
            if self.first {
                // A byte-order mark at the start of the input is not data.
                self.first = false;
                if buf.starts_with(b"\xEF\xBB\xBF") {
                    self.input.consume(3);
                    bytes += 3;
                    continue;
                }
            }
            let (take, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let content = &buf[..if done { take - 1 } else { take }];
            // One byte more than the limit, for a `\r` before the newline.
            let room = (self.max_line + 1).saturating_sub(self.line.len());
            overlong |= content.len() > room;
            self.line
                .extend_from_slice(&content[..content.len().min(room)]);
            self.input.consume(take);
            bytes += take as u64;
            if done {
                break;
            }
        }
        self.line_no += 1;
        if !overlong && self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        if self.line.len() > self.max_line {
            overlong = true;
            self.line.truncate(self.max_line);
        }
        Ok(Some(Line { bytes, overlong }))
    }

    /// Whether the current line is blank.
    pub(crate) fn blank(&self) -> bool {
        self.line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
    }
}

/// Reads rows and turns them into batches.
pub(crate) struct Pump {
    pub path: PathBuf,
    pub reader: LineReader,
    pub decoder: Decoder,
    pub source_id: u32,
    pub batch_rows: usize,
    /// Bytes consumed before the first row (the header), counted in the first batch.
    pub header_bytes: u64,
    pub progress: Option<Progress>,
}

impl Pump {
    /// Reads everything and sends the batches.
    pub(crate) fn run(mut self, out: &BatchSender) -> Result<SourceSummary> {
        let mut summary = SourceSummary::default();
        let mut p = self.new_pending();
        p.bytes = self.header_bytes;
        let per_row = self.decoder.max_per_row();
        loop {
            let line = match self.reader.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(source) => {
                    // Send what was read before the failure, then report it.
                    self.flush(&mut p, &mut summary, out)?;
                    return Err(ConnectorError::Read {
                        path: self.path.clone(),
                        line: self.reader.line_no + 1,
                        offset: summary.bytes,
                        source,
                    });
                }
            };
            p.bytes += line.bytes;
            if !line.overlong && self.reader.blank() {
                continue;
            }
            if p.readings.len() + per_row > self.batch_rows
                || p.dead.len() + per_row > self.batch_rows
            {
                let bytes = std::mem::take(&mut p.bytes);
                self.flush(&mut p, &mut summary, out)?;
                p.bytes = bytes;
            }
            p.records += 1;
            let line_no = self.reader.line_no;
            if line.overlong {
                let keep = self.reader.line.len().min(OVERLONG_RAW);
                let detail = format!(
                    "line of {} bytes is longer than the {}-byte limit",
                    line.bytes, self.reader.max_line
                );
                p.dead.push(self.decoder.dead_letter_parse(
                    &self.reader.line[..keep],
                    line_no,
                    p.now,
                    detail,
                ));
            } else {
                self.decoder.decode(
                    &self.reader.line,
                    line_no,
                    p.now,
                    &mut p.readings,
                    &mut p.dead,
                );
            }
        }
        self.flush(&mut p, &mut summary, out)?;
        Ok(summary)
    }

    fn new_pending(&self) -> Pending {
        Pending::new(self.source_id, self.batch_rows)
    }

    fn flush(
        &mut self,
        p: &mut Pending,
        summary: &mut SourceSummary,
        out: &BatchSender,
    ) -> Result<()> {
        let sent = p
            .flush(self.batch_rows, self.decoder.watermark(), summary, out)
            .map_err(|engine| ConnectorError::Downstream {
                source_name: self.path.display().to_string(),
                line: self.reader.line_no,
                engine,
            })?;
        if sent && let Some(progress) = self.progress.as_mut() {
            progress(summary.bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_bom_crlf_and_overlong() {
        let text = b"\xEF\xBB\xBFab\r\n0123456789\n\nlast".to_vec();
        let mut r = LineReader::new(Box::new(std::io::Cursor::new(text)));
        r.max_line = 4;
        let mut got = Vec::new();
        while let Some(line) = r.next_line().expect("read") {
            got.push((r.line_no, r.line.clone(), line.bytes, line.overlong));
        }
        assert_eq!(
            got,
            vec![
                (1, b"ab".to_vec(), 7, false),
                (2, b"0123".to_vec(), 11, true),
                (3, Vec::new(), 1, false),
                (4, b"last".to_vec(), 4, false),
            ]
        );
    }
}
