//! The block reader shared by every line-oriented source: reads large blocks, splits lines
//! with `memchr`, decodes them into [`SourceBatch`]es and sends those downstream.
//!
//! A partial last line is carried over to the next block. A line longer than the block
//! (4 MiB by default) is not buffered: it is dead-lettered as `parse` with its first
//! [`OVERLONG_RAW`] bytes and skipped up to its newline. Blank lines (only spaces, tabs,
//! `\r`) are skipped: they count in `bytes` and in line numbers, not in `records`. A UTF-8
//! byte-order mark at the very start of the input is skipped. A trailing `\r` (CRLF files) is
//! not part of a dead letter's `raw` bytes.

use std::io::Read;
use std::path::PathBuf;

use msec_engine::source::{BatchSender, SourceSummary};

use super::decode::Decoder;
use crate::error::{ConnectorError, Result};
use crate::pending::Pending;

/// Default block size: also the longest line that is parsed rather than dead-lettered.
pub(crate) const BLOCK: usize = 4 << 20;

/// How many bytes of an over-long line are kept in its dead letter.
pub(crate) const OVERLONG_RAW: usize = 4096;

/// Callback told the number of input bytes consumed so far, once per batch.
pub(crate) type Progress = Box<dyn FnMut(u64) + Send>;

/// Reads lines from `input` and turns them into batches.
pub(crate) struct Pump<R> {
    /// Name for errors (the path as given, `-`, `simulator`).
    pub path: PathBuf,
    pub input: R,
    pub decoder: Decoder,
    /// Interned id of the source name, for [`ReadingBatch::source`].
    pub source_id: u32,
    pub batch_rows: usize,
    pub block: usize,
    /// Flush a partial batch whenever a read returns less than asked (pipes, terminals), so
    /// that a slow live input is not held back waiting for a full batch.
    pub live: bool,
    pub progress: Option<Progress>,
}

/// A line too long to buffer, being skipped.
struct Overlong {
    line: u64,
    prefix: Vec<u8>,
    len: u64,
}

impl<R: Read> Pump<R> {
    /// Reads everything and sends the batches; returns the summary and the input.
    pub(crate) fn run(mut self, out: &BatchSender) -> Result<(SourceSummary, R)> {
        let mut summary = SourceSummary::default();
        let mut buf = vec![0u8; self.block.max(2)];
        let (mut start, mut end) = (0usize, 0usize);
        let mut line_no: u64 = 0;
        let mut read_total: u64 = 0;
        let mut first = true;
        let mut overlong: Option<Overlong> = None;
        let mut pending = self.new_pending();

        loop {
            // Make room: move the partial line to the front.
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            }
            if end == buf.len() {
                // A whole block without a newline: skip that line instead of buffering it.
                line_no += 1;
                let keep = end.min(OVERLONG_RAW);
                overlong = Some(Overlong {
                    line: line_no,
                    prefix: buf[..keep].to_vec(),
                    len: end as u64,
                });
                end = 0;
            }
            // On a read error, the bytes read before it are still processed, so that the
            // error names the exact line it interrupted.
            let (n, short, failed) = self.fill(&mut buf[end..]);
            read_total += n as u64;
            if self.live && n > 0 {
                pending.restamp();
            }
            if first && n > 0 {
                first = false;
                if buf[end..end + n].starts_with(b"\xEF\xBB\xBF") {
                    buf.copy_within(end + 3..end + n, end);
                    pending.bytes += 3;
                    end += n - 3;
                } else {
                    end += n;
                }
            } else {
                end += n;
            }
            let eof = n == 0 && failed.is_none();

            let mut pos = start;
            if let Some(mut skip) = overlong.take() {
                match memchr::memchr(b'\n', &buf[pos..end]) {
                    Some(i) => {
                        skip.len += i as u64 + 1;
                        pos += i + 1;
                        self.finish_overlong(skip, &mut pending);
                    }
                    None if eof => self.finish_overlong(skip, &mut pending),
                    None => {
                        skip.len += (end - pos) as u64;
                        overlong = Some(skip);
                        pos = end;
                    }
                }
            }
            if overlong.is_none() {
                while let Some(i) = memchr::memchr(b'\n', &buf[pos..end]) {
                    line_no += 1;
                    self.line(&buf[pos..pos + i], line_no, i as u64 + 1, &mut pending);
                    pos += i + 1;
                    if self.full(&pending) {
                        self.flush(&mut pending, &mut summary, out, line_no)?;
                    }
                }
                if eof && pos < end {
                    line_no += 1;
                    self.line(&buf[pos..end], line_no, (end - pos) as u64, &mut pending);
                    pos = end;
                }
            }
            start = pos;
            if let Some(source) = failed {
                // What was read before the error still goes downstream, as documented.
                self.flush(&mut pending, &mut summary, out, line_no)?;
                return Err(ConnectorError::Read {
                    path: self.path.clone(),
                    line: line_no + 1,
                    offset: read_total,
                    source,
                });
            }
            if eof || (self.live && short) {
                self.flush(&mut pending, &mut summary, out, line_no)?;
            }
            if eof {
                break;
            }
        }
        Ok((summary, self.input))
    }

    /// Reads into `dst` until it is full or the input ends; returns the bytes read, whether a
    /// read came back short, and the error that stopped it, if any. In live mode, returns
    /// after the first successful read.
    fn fill(&mut self, dst: &mut [u8]) -> (usize, bool, Option<std::io::Error>) {
        let mut n = 0;
        while n < dst.len() {
            match self.input.read(&mut dst[n..]) {
                Ok(0) => return (n, true, None),
                Ok(k) => {
                    n += k;
                    if self.live {
                        return (n, n < dst.len(), None);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return (n, true, Some(e)),
            }
        }
        (n, false, None)
    }

    fn new_pending(&self) -> Pending {
        Pending::new(self.source_id, self.batch_rows)
    }

    fn full(&self, p: &Pending) -> bool {
        p.readings.len() >= self.batch_rows || p.dead.len() >= self.batch_rows
    }

    /// One line without its newline; `bytes` counts the newline too.
    #[inline]
    fn line(&mut self, mut line: &[u8], line_no: u64, bytes: u64, p: &mut Pending) {
        p.bytes += bytes;
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            return;
        }
        p.records += 1;
        self.decoder.decode_any(
            line,
            line_no,
            p.now,
            &mut p.readings,
            &mut p.reports,
            &mut p.dead,
        );
    }

    fn finish_overlong(&mut self, skip: Overlong, p: &mut Pending) {
        p.bytes += skip.len;
        p.records += 1;
        let detail = format!(
            "line of {} bytes is longer than the {}-byte limit",
            skip.len, self.block
        );
        p.dead.push(
            self.decoder
                .dead_letter_parse(&skip.prefix, skip.line, p.now, detail),
        );
    }

    fn flush(
        &mut self,
        p: &mut Pending,
        summary: &mut SourceSummary,
        out: &BatchSender,
        line: u64,
    ) -> Result<()> {
        let sent = p
            .flush(self.batch_rows, self.decoder.watermark(), summary, out)
            .map_err(|engine| ConnectorError::Downstream {
                source_name: self.path.display().to_string(),
                line,
                engine,
            })?;
        if sent && let Some(progress) = self.progress.as_mut() {
            progress(summary.bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "pump_tests.rs"]
mod tests;
