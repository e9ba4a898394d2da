//! SOX XML source (Pilot 3, Fujisawa): the SOXFire mobile sensing of garbage trucks that
//! measure PM2.5, temperature and humidity along their routes.
//!
//! # The format
//!
//! A SOX *document* is one `data` element (with any namespace prefix: `<sox:data>` too)
//! holding `transducerValue` children:
//!
//! ```xml
//! <data device="fujisawa-truck-07">
//!   <transducerValue id="latitude" typedValue="35.3387" timestamp="2026-06-01T09:00:00.000+09:00"/>
//!   <transducerValue id="longitude" typedValue="139.4871" timestamp="2026-06-01T09:00:00.000+09:00"/>
//!   <transducerValue id="pm2.5" typedValue="18.2" rawValue="18.2" timestamp="2026-06-01T09:00:00.000+09:00"/>
//!   <transducerValue id="temperature" rawValue="21.5" timestamp="2026-06-01T09:00:00.000+09:00"/>
//! </data>
//! ```
//!
//! It maps onto canonical readings (DESIGN §4) as follows:
//!
//! | SOX | reading |
//! | --- | --- |
//! | `device` attribute of `data` | `device`; when absent or blank, the device of the context: the broker topic's, or for a file its name without `.xml` (`fujisawa-truck-07.xml` → `fujisawa-truck-07`); neither: `missing_field` |
//! | `transducerValue` `id` | `sensor`, through aliases (ASCII case-insensitive): `pm2.5`, `pm2_5`, `pm2-5`, `pm25` → `pm25`; `temp` → `temperature`; any [`SensorKind`](msec_engine::SensorKind) name in any case (`Humidity`, `noise`, `co2`, `crowd`, …) |
//! | `typedValue`, else `rawValue` (a blank one counts as absent) | `value`: a decimal number (`18.2`, `-3`, `1.2e3`); `NaN`, `inf`, units are `invalid_type` |
//! | `timestamp` | `ts`: RFC 3339 with an offset (`2026-06-01T09:00:00.000+09:00`), or integer epoch ms |
//! | the values with `id` `latitude` (`lat`) and `longitude` (`lon`, `lng`) | `lat`/`lon` of *every* reading of the document — not readings themselves; both or neither (one alone is `missing_field` for each reading, as in JSON); their own `timestamp` is not read |
//!
//! Every other `transducerValue` is one reading, validated exactly like a JSON reading: the
//! same reasons, in the same order (`decode` module). A value that fails is one dead letter
//! (its `raw` is the whole document, at most 4096 bytes of it; its `detail` names the value:
//! `transducerValue 3 "pm2.5": value 5000 outside [0, 2000] for pm25`); the other values of
//! the document still become readings. A document that is not well-formed XML (unclosed or
//! mismatched tag, bad attribute syntax, not UTF-8, text garbage, no `data` element, two
//! `data` elements, two latitudes) is *one* `parse` dead letter with quick-xml's message and
//! the byte position within the document in `detail`. Attributes other than `device`, `id`,
//! `typedValue`, `rawValue`, `timestamp` are ignored, as are other elements (and
//! `transducerValue`s not directly inside `data`).
//!
//! # Files
//!
//! A SOX file holds a sequence of documents, concatenated or wrapped in any other elements,
//! optionally after an `<?xml ?>` declaration — as an XMPP pubsub archive delivers them:
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <items node="fujisawa-truck-07_data">
//!   <item id="0001"><data device="fujisawa-truck-07">…</data></item>
//!   <item id="0002"><data device="fujisawa-truck-07">…</data></item>
//! </items>
//! ```
//!
//! * **Splitting** happens before parsing, so that a broken document never costs the ones
//!   after it: a document runs from a `<data` (or `<prefix:data`) start tag to the next
//!   `</data>` (`</prefix:data>`) end tag — or, when it never closes, to just before the next
//!   `data` start tag or the end of the file (then it is one `parse` dead letter). Comments,
//!   CDATA sections, processing instructions and quoted attribute values are skipped while
//!   scanning; one that is never closed (no `-->`, `]]>`, `?>` up to the end of the file, no
//!   closing quote before the next `<`) does not hide what follows it. Between documents,
//!   whitespace, comments, declarations and the tags of any other element (the wrappers)
//!   are ignored; anything else there — text, a
//!   `transducerValue` or `</data>` outside a document, a malformed tag — is *stray*: each
//!   run of it up to the next document is one record, one `parse` dead letter. A document
//!   (or stray run) longer than 16 MiB is cut there. A UTF-8 byte-order mark at the start of
//!   a file is skipped.
//! * **Provenance:** a reading's and a dead letter's `offset` is the 1-based number of its
//!   document in its file (documents and stray runs both count); every reading of a document
//!   shares it. The source name is the path as given; dead letters name the file they come
//!   from. `ingest_ts` is the wall clock when the batch began.
//! * **A directory** is every `*.xml` (and `*.xml.gz`) file in it, in name order, read as one
//!   source whose documents are *merged by event time* (each file in time order, a document
//!   keyed by its earliest timestamp, a document with none taken first, ties to the file
//!   named first): two trucks' files that cover the same morning are not `late` against each
//!   other, as they would be read one after the other. Readings carry the directory as their
//!   source; dead letters name their file.
//! * **Gzip:** a name ending in `.gz` is gunzipped.
//! * **Batches:** a batch is sent once it holds `batch_rows` readings or dead letters (so it
//!   may exceed that by the values of one document) and at the end, with the watermark;
//!   `records` counts documents (and stray runs), `bytes` all bytes (decompressed for gzip).
//!
//! The decoder (`SoxDecoder`) is shared with the broker sources, which decode one document
//! per message.

pub(crate) mod decode;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use msec_engine::Interner;
use msec_engine::config::PipelineConfig;
use msec_engine::intern::InternCache;
use msec_engine::source::{BatchSender, Source, SourceSummary};

pub(crate) use self::decode::SoxDecoder;
use self::decode::parse_document;
use crate::error::{ConnectorError, Result};
use crate::file::open_file;
use crate::pending::Pending;

/// Bytes read from a file at a time.
const BLOCK: usize = 1 << 20;

/// Longest document (or stray run) buffered whole; a longer one is cut at this length.
const MAX_DOC: usize = 16 << 20;

/// Callback told the number of input bytes consumed so far, once per batch.
type Progress = Box<dyn FnMut(u64) + Send>;

/// A source reading SOX XML documents from a file or a directory of `.xml` files.
///
/// ```no_run
/// use std::path::Path;
/// use msec_connectors::SoxSource;
/// use msec_engine::{Interner, config::PipelineConfig, source::{Source, batch_channel}};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cfg = PipelineConfig::default();
/// let source = SoxSource::open(Path::new("fujisawa/"), Interner::shared(), &cfg)?;
/// let (tx, rx) = batch_channel(source.name(), cfg.channel_capacity);
/// let reader = std::thread::spawn(move || source.run(&tx));
/// let readings: usize = rx.iter().map(|b| b.readings.len()).sum();
/// let summary = reader.join().expect("source thread")?;
/// assert_eq!(summary.readings as usize, readings);
/// # Ok(()) }
/// ```
pub struct SoxSource {
    name: String,
    paths: Vec<PathBuf>,
    total_bytes: Option<u64>,
    pump: Pump,
}

impl std::fmt::Debug for SoxSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoxSource")
            .field("name", &self.name)
            .field("paths", &self.paths)
            .field("total_bytes", &self.total_bytes)
            .finish()
    }
}

impl SoxSource {
    /// Opens a SOX file, or every `*.xml` / `*.xml.gz` file of a directory (in name order,
    /// merged by event time). The files are opened now, so a missing one fails here; a
    /// directory without such a file fails with [`ConnectorError::Open`].
    pub fn open(path: &Path, interner: Arc<Interner>, cfg: &PipelineConfig) -> Result<Self> {
        let files = expand(path)?;
        let mut inputs = Vec::with_capacity(files.len());
        let mut total = Some(0u64);
        for f in &files {
            let (input, size) = Input::open(f)?;
            total = total.zip(size).map(|(a, b)| a + b);
            inputs.push(input);
        }
        let name = path.display().to_string();
        let source: Arc<str> = Arc::from(name.as_str());
        let source_id = interner.intern(&source);
        let decoder = SoxDecoder::new(
            source,
            InternCache::new(interner),
            cfg.lateness_ms,
            cfg.max_future_ms,
        );
        Ok(Self {
            name: name.clone(),
            paths: files,
            total_bytes: total,
            pump: Pump {
                name,
                inputs,
                decoder,
                source_id,
                batch_rows: cfg.batch_rows.max(1),
                progress: None,
            },
        })
    }

    /// Calls `f` with the number of input bytes consumed so far, at most once per batch
    /// (after it is sent). For gzip input these are decompressed bytes.
    pub fn with_progress(mut self, f: Box<dyn FnMut(u64) + Send>) -> Self {
        self.pump.progress = Some(f);
        self
    }

    /// The inputs' total size in bytes, for a progress bar: `None` when one is gzipped or
    /// not a regular file.
    pub fn total_bytes(&self) -> Option<u64> {
        self.total_bytes
    }

    /// The files read, in name order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }
}

impl Source for SoxSource {
    type Error = ConnectorError;

    fn name(&self) -> &str {
        &self.name
    }

    /// Reads every input. Fails on an I/O error (after sending the batches before it) or
    /// when the channel closes early ([`ConnectorError::Downstream`]).
    fn run(self, out: &BatchSender) -> Result<SourceSummary> {
        crate::pending::run_traced(&self.name, || self.pump.run(out))
    }
}

/// Whether `name` is a SOX file name of a directory: `*.xml` or `*.xml.gz`, any case.
fn is_sox_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".xml") || lower.ends_with(".xml.gz")
}

/// `path` itself, or a directory's SOX files in name order.
fn expand(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let open_err = |source| ConnectorError::Open {
        path: path.to_owned(),
        source,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(path).map_err(open_err)? {
        let p = entry.map_err(open_err)?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_file() && is_sox_name(name) {
            found.push(p);
        }
    }
    if found.is_empty() {
        return Err(open_err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no .xml or .xml.gz file",
        )));
    }
    found.sort();
    Ok(found)
}

/// The device a file's name gives: the name without `.gz` and its last extension
/// (`fujisawa-truck-07.xml` → `fujisawa-truck-07`).
fn file_device(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let name = match name.len().checked_sub(3) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".gz") => {
            &name[..cut]
        }
        _ => name,
    };
    let stem = Path::new(name).file_stem()?.to_str()?.trim();
    (!stem.is_empty()).then(|| stem.to_owned())
}

/// What [`split`] found at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    /// The input is exhausted.
    End,
    /// The first `n` bytes hold no record (whitespace, wrapper tags, comments, declarations).
    Skip(usize),
    /// A record at `start..end`, after `start` bytes that hold none: a document, a document
    /// that never closes, or a run of stray content.
    Record { start: usize, end: usize },
    /// More input is needed to decide.
    Need,
}

/// One lexical unit of a SOX file, as far as splitting cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// Ends at `.0`: whitespace, a comment, a declaration, a processing instruction, a CDATA
    /// section, or a tag of an element other than `data` and `transducerValue`.
    Neutral(usize),
    /// Ends at `.0`: text, a malformed or unterminated tag, a `transducerValue` tag.
    Stray(usize),
    /// A `data` start tag ending at `end`; `empty` for `<data …/>`.
    Open { end: usize, empty: bool },
    /// A `data` end tag ending at `.0`.
    Close(usize),
    /// The buffer ends inside the token.
    Partial,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The end of the first `pat` at or after `from`, if any.
fn find_end(buf: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    memchr::memmem::find(buf.get(from..)?, pat).map(|i| from + i + pat.len())
}

/// The token starting at `buf[i]` (`i < buf.len()`); `eof`: nothing follows the buffer.
fn token(buf: &[u8], i: usize, eof: bool) -> Tok {
    let unterminated = || {
        if eof {
            Tok::Stray(buf.len())
        } else {
            Tok::Partial
        }
    };
    let rest = &buf[i..];
    if rest.first().copied().is_some_and(is_space) {
        let n = rest
            .iter()
            .position(|&b| !is_space(b))
            .unwrap_or(rest.len());
        return Tok::Neutral(i + n);
    }
    if rest.first() != Some(&b'<') {
        // Text up to the next markup, without its trailing whitespace.
        let n = memchr::memchr(b'<', rest).unwrap_or(rest.len());
        let kept = rest[..n]
            .iter()
            .rposition(|&b| !is_space(b))
            .map_or(n, |k| k + 1);
        return Tok::Stray(i + kept);
    }
    // Every markup needs its closing `>`; without one in the buffer, wait for more.
    if !eof && memchr::memchr(b'>', rest).is_none() {
        return Tok::Partial;
    }
    // A comment, CDATA section, processing instruction or declaration runs to its closing
    // delimiter; one that never closes is only its opening characters (stray), so that it
    // cannot swallow the documents after it.
    let delimited = |open: &[u8], close: &[u8]| {
        rest.starts_with(open)
            .then(|| match find_end(buf, i + open.len(), close) {
                Some(end) => Tok::Neutral(end),
                None if eof => Tok::Stray(i + open.len()),
                None => Tok::Partial,
            })
    };
    if let Some(t) = delimited(b"<!--", b"-->")
        .or_else(|| delimited(b"<![CDATA[", b"]]>"))
        .or_else(|| delimited(b"<?", b"?>"))
        .or_else(|| delimited(b"<!", b">"))
    {
        return t;
    }
    let closing = rest.get(1) == Some(&b'/');
    let name_start = i + 1 + usize::from(closing);
    let name_len = buf[name_start..]
        .iter()
        .position(|&b| is_space(b) || matches!(b, b'>' | b'/' | b'<' | b'"' | b'\'' | b'='))
        .unwrap_or(buf.len() - name_start);
    let name = &buf[name_start..name_start + name_len];
    if name.is_empty() || name[0].is_ascii_digit() || matches!(name[0], b'-' | b'.') {
        return Tok::Stray(i + 1);
    }
    if name_start + name_len == buf.len() {
        return unterminated();
    }
    let local = decode::local_name(name);
    // Find the tag's `>` outside quoted values; a `<` (illegal in a tag) ends it malformed.
    let mut j = name_start + name_len;
    let mut quote: Option<u8> = None;
    loop {
        // Tags are short: a plain scan, linear in the tag.
        let found = match quote {
            Some(q) => memchr::memchr2(q, b'<', &buf[j..]),
            None => buf[j..]
                .iter()
                .position(|&b| matches!(b, b'>' | b'<' | b'"' | b'\'')),
        };
        let Some(k) = found else {
            return unterminated();
        };
        let at = j + k;
        match (buf[at], quote) {
            (b'<', _) => return Tok::Stray(at),
            (b'>', None) => {
                let end = at + 1;
                return match (local, closing) {
                    (b"data", true) => Tok::Close(end),
                    (b"data", false) => Tok::Open {
                        end,
                        empty: buf[at - 1] == b'/',
                    },
                    (b"transducerValue", false) => Tok::Stray(end),
                    _ => Tok::Neutral(end),
                };
            }
            (q, None) => quote = Some(q),
            (_, Some(_)) => quote = None,
        }
        j = at + 1;
    }
}

/// Finds the next record at the front of `buf` (see the module docs); `eof`: nothing
/// follows the buffer.
fn split(buf: &[u8], eof: bool) -> Item {
    let mut i = 0;
    // The stray run so far: from its first stray token to the end of its last.
    let mut stray: Option<(usize, usize)> = None;
    while i < buf.len() {
        match token(buf, i, eof) {
            Tok::Partial => {
                return match stray {
                    None if i > 0 => Item::Skip(i),
                    _ => Item::Need,
                };
            }
            Tok::Neutral(end) => i = end,
            // A `</data>` outside a document is stray too.
            Tok::Stray(end) | Tok::Close(end) => {
                stray = Some((stray.map_or(i, |s| s.0), end));
                i = end;
            }
            Tok::Open { .. } if stray.is_some() => break,
            Tok::Open { end, empty: true } => return Item::Record { start: i, end },
            Tok::Open { end, empty: false } => return document(buf, i, end, eof),
        }
    }
    match stray {
        Some((start, end)) if eof || i < buf.len() => Item::Record { start, end },
        Some(_) => Item::Need,
        None if i > 0 => Item::Skip(i),
        None if eof => Item::End,
        None => Item::Need,
    }
}

/// The document whose `data` start tag spans `start..body`.
fn document(buf: &[u8], start: usize, body: usize, eof: bool) -> Item {
    let mut j = body;
    while j < buf.len() {
        match token(buf, j, eof) {
            Tok::Partial => return Item::Need,
            Tok::Close(end) => return Item::Record { start, end },
            // Never closed: it ends before the next document.
            Tok::Open { .. } => break,
            Tok::Neutral(end) | Tok::Stray(end) => j = end,
        }
    }
    if j == buf.len() && !eof {
        return Item::Need;
    }
    let end = buf[..j]
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(j, |k| k + 1);
    Item::Record { start, end }
}

/// The next record of an input, in the input's buffer.
struct Head {
    start: usize,
    end: usize,
    /// 1-based record number in the file.
    doc: u64,
    /// Bytes consumed for it: the record and what was skipped before it.
    bytes: u64,
    /// Merge key: the earliest event time of the document, `i64::MIN` when it has none.
    key: i64,
}

/// One open SOX file.
struct Input {
    path: PathBuf,
    /// Provenance name of its dead letters (the path).
    source: Arc<str>,
    /// Device named by the file's name.
    device: Option<String>,
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// Bytes of `buf` consumed.
    pos: usize,
    eof: bool,
    started: bool,
    /// Bytes read so far.
    read: u64,
    records: u64,
    /// Bytes skipped since the last record, not yet accounted.
    skipped: u64,
    head: Option<Head>,
}

impl Input {
    /// Opens `path`; returns the input and its size when it is a plain regular file.
    fn open(path: &Path) -> Result<(Self, Option<u64>)> {
        let opened = open_file(path)?;
        let (reader, size) = (opened.reader, opened.size);
        let input = Self {
            path: path.to_owned(),
            source: Arc::from(path.display().to_string()),
            device: file_device(path),
            reader,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            started: false,
            read: 0,
            records: 0,
            skipped: 0,
            head: None,
        };
        Ok((input, size))
    }

    /// The record at the head.
    fn record(&self, head: &Head) -> &[u8] {
        &self.buf[head.start..head.end]
    }

    /// Bytes skipped after the last record, once the input is exhausted.
    fn take_skipped(&mut self) -> u64 {
        std::mem::take(&mut self.skipped)
    }

    /// Finds the next record (`keyed`: compute its merge key). Leaves `head` empty at the end.
    fn advance(&mut self, keyed: bool) -> Result<()> {
        self.head = None;
        loop {
            let window = &self.buf[self.pos..];
            let force = !self.eof && window.len() >= MAX_DOC;
            match split(window, self.eof || force) {
                Item::End => return Ok(()),
                Item::Need => self.fill()?,
                Item::Skip(n) => {
                    self.pos += n;
                    self.skipped += n as u64;
                }
                Item::Record { start, end } => {
                    let (start, end) = (self.pos + start, self.pos + end);
                    let bytes = self.skipped + (end - self.pos) as u64;
                    self.skipped = 0;
                    self.pos = end;
                    self.records += 1;
                    let key = if keyed {
                        parse_document(&self.buf[start..end])
                            .ok()
                            .and_then(|d| d.min_ts())
                            .unwrap_or(i64::MIN)
                    } else {
                        i64::MIN
                    };
                    self.head = Some(Head {
                        start,
                        end,
                        doc: self.records,
                        bytes,
                        key,
                    });
                    return Ok(());
                }
            }
        }
    }

    /// Drops the consumed bytes and reads another block (at least 3 bytes at the start, to
    /// see a byte-order mark); sets `eof` when the file ends.
    fn fill(&mut self) -> Result<()> {
        self.buf.drain(..self.pos);
        self.pos = 0;
        let want = if self.started { 1 } else { 3 };
        let mut got = 0;
        while got < want {
            let old = self.buf.len();
            self.buf.resize(old + BLOCK, 0);
            let n = loop {
                match self.reader.read(&mut self.buf[old..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(source) => {
                        self.buf.truncate(old);
                        return Err(ConnectorError::Read {
                            path: self.path.clone(),
                            line: self.records + 1,
                            offset: self.read,
                            source,
                        });
                    }
                }
            };
            self.buf.truncate(old + n);
            self.read += n as u64;
            got += n;
            if n == 0 {
                self.eof = true;
                break;
            }
        }
        if !self.started {
            self.started = true;
            if self.buf.starts_with(b"\xEF\xBB\xBF") {
                self.buf.drain(..3);
                self.skipped += 3;
            }
        }
        Ok(())
    }
}

/// The inputs of one source and what turns their documents into batches.
struct Pump {
    name: String,
    inputs: Vec<Input>,
    decoder: SoxDecoder,
    source_id: u32,
    batch_rows: usize,
    progress: Option<Progress>,
}

impl Pump {
    /// Reads every input to its end (merged by event time) and sends the batches.
    fn run(mut self, out: &BatchSender) -> Result<SourceSummary> {
        let mut summary = SourceSummary::default();
        let mut pending = Pending::new(self.source_id, self.batch_rows);
        let keyed = self.inputs.len() > 1;
        for i in 0..self.inputs.len() {
            self.advance(i, keyed, &mut pending, &mut summary, out)?;
        }
        loop {
            let next = self
                .inputs
                .iter()
                .enumerate()
                .filter_map(|(i, input)| input.head.as_ref().map(|h| (h.key, i)))
                .min();
            let Some((_, i)) = next else { break };
            let Some(head) = self.inputs[i].head.take() else {
                break;
            };
            let input = &self.inputs[i];
            pending.records += 1;
            pending.bytes += head.bytes;
            let before = pending.dead.len();
            self.decoder.decode(
                input.record(&head),
                input.device.as_deref(),
                head.doc,
                pending.now,
                &mut pending.readings,
                &mut pending.dead,
            );
            if keyed {
                for d in &mut pending.dead[before..] {
                    d.source = Arc::clone(&input.source);
                }
            }
            self.advance(i, keyed, &mut pending, &mut summary, out)?;
            if pending.readings.len() >= self.batch_rows || pending.dead.len() >= self.batch_rows {
                self.flush(&mut pending, &mut summary, out, i)?;
            }
        }
        let last = self.inputs.len().saturating_sub(1);
        self.flush(&mut pending, &mut summary, out, last)?;
        Ok(summary)
    }

    /// Moves input `i` to its next record; on a read error, sends what was read before it
    /// and returns the error.
    fn advance(
        &mut self,
        i: usize,
        keyed: bool,
        pending: &mut Pending,
        summary: &mut SourceSummary,
        out: &BatchSender,
    ) -> Result<()> {
        if let Err(e) = self.inputs[i].advance(keyed) {
            self.flush(pending, summary, out, i)?;
            return Err(e);
        }
        if self.inputs[i].head.is_none() {
            pending.bytes += self.inputs[i].take_skipped();
        }
        Ok(())
    }

    /// Sends the pending batch; `input` names the input for a downstream error.
    fn flush(
        &mut self,
        p: &mut Pending,
        summary: &mut SourceSummary,
        out: &BatchSender,
        input: usize,
    ) -> Result<()> {
        let doc = self.inputs.get(input).map_or(0, |i| i.records);
        let sent = p
            .flush(self.batch_rows, self.decoder.watermark(), summary, out)
            .map_err(|engine| ConnectorError::Downstream {
                source_name: self.name.clone(),
                line: doc,
                engine,
            })?;
        if sent && let Some(progress) = self.progress.as_mut() {
            progress(summary.bytes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
