//! `verify`: recomputes everything a dataset commits to and reports every difference.
//!
//! For one dataset: the header (format, name, schema fingerprint, genesis); for each entry its
//! sequence, file name, chain hash, prev link and schema fingerprint; for each segment file
//! its existence, length, BLAKE3 digest and — reading it back as Parquet — its schema
//! fingerprint, row count, Merkle root and event-time range; `*.parquet` files that no entry
//! names; and, when `<root>/_catalog.json` lists the dataset, its genesis and head.
//!
//! Tampering is data, not an error: [`VerifyReport::problems`] lists what differs in chain
//! order, first broken link first. `Err` is returned only when verification itself cannot
//! run (I/O failures, an invalid or unknown dataset name).

mod segment;

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::chain::{ChainEntry, Header, LinkIssue, Record, check_header, link_issues};
use crate::digest::Digest;
use crate::error::{DatasetError, Result, io_err};
use crate::layout::{
    CATALOG_FILE, CHAIN_LOG, is_parquet, list_files, segment_file_name, validate_name,
};

/// What kind of difference a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum What {
    /// The chain log is missing, unparseable, or ends in a torn line.
    ChainLog,
    /// The header is wrong (format, dataset name, fingerprint, genesis).
    Header,
    /// An entry's seq is not the previous + 1.
    Sequence,
    /// An entry's file name is not the canonical one for its seq.
    FileName,
    /// An entry's recorded hash is not the hash of its fields (entry edited).
    EntryHash,
    /// An entry's prev is not the previous entry's hash.
    PrevLink,
    /// Schema fingerprint differs (entry vs header, or file vs entry).
    Schema,
    /// The segment file does not exist.
    Missing,
    /// The file's length differs from the entry's.
    Length,
    /// The file's BLAKE3 digest differs from the entry's.
    Digest,
    /// The file cannot be read as Parquet.
    Unreadable,
    /// Row count differs.
    Rows,
    /// Merkle root over the rows differs.
    Merkle,
    /// Event-time range differs.
    TimeRange,
    /// A `*.parquet` file that no chain entry names.
    Unchained,
    /// The catalog disagrees (head, genesis, totals), cannot be read, or lists a missing dataset.
    Catalog,
}

/// One difference found by verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The dataset.
    pub dataset: String,
    /// The segment's sequence number, when the problem concerns one entry.
    pub seq: Option<u64>,
    /// The file concerned, if any.
    pub file: Option<String>,
    /// The kind of difference.
    pub what: What,
    /// What differs, with both values (e.g. `digest differs: chain 1f2e…, file 9a0b…`).
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dataset {}: ", self.dataset)?;
        match (self.seq, &self.file) {
            (Some(seq), Some(file)) => write!(f, "segment {seq} ({file}): ")?,
            (Some(seq), None) => write!(f, "segment {seq}: ")?,
            (None, Some(file)) => write!(f, "{file}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.detail)
    }
}

/// The outcome of verifying one dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The dataset.
    pub dataset: String,
    /// True when no problem was found.
    pub ok: bool,
    /// Entries read from the chain log.
    pub segments: u64,
    /// Rows over those entries (as recorded).
    pub rows: u64,
    /// Bytes over those entries (as recorded).
    pub bytes: u64,
    /// The last entry's recorded hash.
    pub head: Option<Digest>,
    /// What differs, first broken link first.
    pub problems: Vec<Problem>,
    /// Observations that are not problems (e.g. the chain extends beyond the catalog head).
    pub notes: Vec<String>,
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ok {
            write!(
                f,
                "{}: ok, {} segments, {} rows, {} bytes, head {}",
                self.dataset,
                self.segments,
                self.rows,
                self.bytes,
                self.head.map_or_else(|| "none".into(), |h| h.short())
            )
        } else {
            write!(f, "{}: FAILED", self.dataset)?;
            for p in &self.problems {
                write!(f, "\n  {p}")?;
            }
            Ok(())
        }
    }
}

/// Verifies `<root>/<name>`; see the module docs.
pub fn verify_dataset(root: &Path, name: &str) -> Result<VerifyReport> {
    validate_name(name)?;
    let dir = root.join(name);
    if !dir.is_dir() {
        return Err(DatasetError::NotFound {
            dataset: name.to_owned(),
            root: root.to_owned(),
        });
    }
    let catalog = load_catalog(root, name)?;
    let mut v = Verifier::new(name);
    let log_path = dir.join(CHAIN_LOG);
    let (header, entries) = match std::fs::read(&log_path) {
        Ok(bytes) => v.walk_log(&dir, &String::from_utf8_lossy(&bytes))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            v.problem(
                None,
                None,
                What::ChainLog,
                format!("no chain log {CHAIN_LOG}"),
            );
            (None, Vec::new())
        }
        Err(e) => return Err(io_err(name, &log_path)(e)),
    };
    let chained: HashSet<&str> = entries.iter().map(|e| e.file.as_str()).collect();
    for f in list_files(name, &dir)? {
        if is_parquet(&f) && !chained.contains(f.as_str()) {
            v.problem(
                None,
                Some(f),
                What::Unchained,
                "segment file not in the chain log (added, or left by a crashed writer)".into(),
            );
        }
    }
    match catalog {
        Ok(Some(c)) => v.check_catalog(&c, header.as_ref(), &entries),
        Ok(None) => {}
        Err(detail) => v.problem(None, Some(CATALOG_FILE.into()), What::Catalog, detail),
    }
    Ok(v.report(&entries))
}

/// Verifies every dataset directory under `root` (names not starting with `.` or `_` that
/// hold a chain log or Parquet files), plus one failed report per catalog entry whose
/// directory is missing. Sorted by dataset name.
pub fn verify_all(root: &Path) -> Result<Vec<VerifyReport>> {
    let rd = std::fs::read_dir(root).map_err(io_err("", root))?;
    let mut names = Vec::new();
    for ent in rd {
        let ent = ent.map_err(io_err("", root))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        let is_dir = ent.file_type().map_err(io_err("", ent.path()))?.is_dir();
        if !is_dir || name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let holds_data = ent.path().join(CHAIN_LOG).exists()
            || list_files(&name, &ent.path())?
                .iter()
                .any(|f| is_parquet(f));
        if holds_data {
            names.push(name);
        }
    }
    let mut reports = Vec::new();
    for name in &names {
        match verify_dataset(root, name) {
            Ok(r) => reports.push(r),
            Err(DatasetError::InvalidName { reason, .. }) => {
                let mut v = Verifier::new(name);
                v.problem(
                    None,
                    None,
                    What::ChainLog,
                    format!("invalid dataset name: {reason}"),
                );
                reports.push(v.report(&[]));
            }
            Err(e) => return Err(e),
        }
    }
    if let Ok(Some(c)) = load_catalog(root, "")? {
        for e in &c.datasets {
            if !names.contains(&e.name) {
                let mut v = Verifier::new(&e.name);
                v.problem(
                    None,
                    None,
                    What::Catalog,
                    "listed in the catalog, but its directory is missing or holds no data".into(),
                );
                reports.push(v.report(&[]));
            }
        }
    }
    reports.sort_by(|a, b| a.dataset.cmp(&b.dataset));
    Ok(reports)
}

/// The catalog if it exists: `Ok(Ok(None))` if absent, `Ok(Err(..))` if unparseable.
fn load_catalog(root: &Path, name: &str) -> Result<Result<Option<Catalog>, String>> {
    if !root.join(CATALOG_FILE).exists() {
        return Ok(Ok(None));
    }
    match Catalog::load(root) {
        Ok(c) => Ok(Ok(Some(c))),
        Err(DatasetError::Catalog { detail, .. }) => {
            Ok(Err(format!("unreadable catalog: {detail}")))
        }
        Err(DatasetError::Io { path, source, .. }) => Err(DatasetError::Io {
            dataset: name.to_owned(),
            path,
            source,
        }),
        Err(e) => Err(e),
    }
}

/// Collects problems for one dataset.
pub(crate) struct Verifier {
    dataset: String,
    problems: Vec<Problem>,
    notes: Vec<String>,
}

impl Verifier {
    fn new(dataset: &str) -> Self {
        Self {
            dataset: dataset.to_owned(),
            problems: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn problem(
        &mut self,
        seq: Option<u64>,
        file: Option<String>,
        what: What,
        detail: String,
    ) {
        self.problems.push(Problem {
            dataset: self.dataset.clone(),
            seq,
            file,
            what,
            detail,
        });
    }

    fn entry_problem(&mut self, e: &ChainEntry, what: What, detail: String) {
        self.problem(Some(e.seq), Some(e.file.clone()), what, detail);
    }

    /// Parses the log line by line, checking the header and every link. Stops at the first
    /// line it cannot parse (nothing after it can be linked). Returns the header (if it
    /// parsed) and the entries read.
    fn walk_log(&mut self, dir: &Path, text: &str) -> Result<(Option<Header>, Vec<ChainEntry>)> {
        // A torn last line (a crash mid-append) is reported after the entries before it.
        let (body, torn) = match text.strip_suffix('\n') {
            Some(b) => (b, None),
            None => (
                text.rsplit_once('\n').map_or("", |(b, _)| b),
                Some(text.lines().count().max(1)),
            ),
        };
        let (header, entries) = self.walk_lines(dir, body)?;
        if let Some(n) = torn {
            self.log_problem(n, "incomplete last line (torn write); ignored".into());
        }
        Ok((header, entries))
    }

    /// Walks the complete lines; each entry's link problems, then its file's, in chain order.
    fn walk_lines(&mut self, dir: &Path, body: &str) -> Result<(Option<Header>, Vec<ChainEntry>)> {
        let mut lines = body.split('\n').enumerate().map(|(i, l)| (i + 1, l));
        let header = match lines.next().map(|(n, l)| (n, Record::parse(l))) {
            Some((_, Ok(Record::Header(h)))) => h,
            Some((n, Ok(_))) => {
                self.log_problem(n, "first line is not the header".into());
                return Ok((None, Vec::new()));
            }
            Some((n, Err(e))) => {
                self.log_problem(n, e);
                return Ok((None, Vec::new()));
            }
            None => {
                self.log_problem(1, "empty chain log".into());
                return Ok((None, Vec::new()));
            }
        };
        if let Err(detail) = check_header(&self.dataset, &header) {
            self.problem(None, Some(CHAIN_LOG.into()), What::Header, detail);
        }
        let mut entries: Vec<ChainEntry> = Vec::new();
        for (n, line) in lines {
            let e = match Record::parse(line) {
                Ok(Record::Segment(e)) => e,
                Ok(Record::Header(_)) => {
                    self.log_problem(n, "a second header".into());
                    break;
                }
                Err(detail) => {
                    self.log_problem(n, detail);
                    break;
                }
            };
            let (prev_seq, prev) = entries
                .last()
                .map_or((0, header.genesis), |p| (p.seq, p.hash));
            for issue in link_issues(&self.dataset, &header, prev_seq, &prev, &e) {
                let what = match issue {
                    LinkIssue::Sequence { .. } => What::Sequence,
                    LinkIssue::FileName { .. } => What::FileName,
                    LinkIssue::Hash { .. } => What::EntryHash,
                    LinkIssue::Prev { .. } => What::PrevLink,
                    LinkIssue::Schema { .. } => What::Schema,
                };
                let detail = match issue {
                    LinkIssue::Hash { recomputed } => format!(
                        "entry hash differs: chain {}, recomputed {} (entry edited)",
                        e.hash.short(),
                        recomputed.short()
                    ),
                    LinkIssue::Prev { expected } => format!(
                        "prev link differs: entry {}, previous hash {} \
                         (entries removed, reordered or replaced)",
                        e.prev.short(),
                        expected.short()
                    ),
                    other => other.to_string(),
                };
                self.entry_problem(&e, what, detail);
            }
            // A non-canonical file name was reported above; never open what it points to.
            if e.file == segment_file_name(e.seq) {
                segment::check(self, dir, &e, header.time_column.as_deref())?;
            }
            entries.push(e);
        }
        Ok((Some(header), entries))
    }

    fn log_problem(&mut self, line: usize, detail: String) {
        self.problem(
            None,
            Some(CHAIN_LOG.into()),
            What::ChainLog,
            format!("line {line}: {detail}"),
        );
    }

    /// The catalog's genesis must be the chain's, and its head the hash of entry
    /// `segments` (a longer chain is fine: segments sealed since the catalog was updated).
    fn check_catalog(&mut self, c: &Catalog, header: Option<&Header>, entries: &[ChainEntry]) {
        let Some(ce) = c.get(&self.dataset) else {
            return;
        };
        let file = Some(CATALOG_FILE.to_owned());
        if let Some(h) = header
            && ce.genesis != h.genesis
        {
            let detail = format!(
                "genesis differs: catalog {}, chain {} (the dataset directory holds another \
                 creation's files)",
                ce.genesis.short(),
                h.genesis.short()
            );
            self.problem(None, file, What::Catalog, detail);
            return;
        }
        let n = ce.segments;
        let covered = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| entries.get(i));
        let chain_head = entries
            .last()
            .map_or_else(|| "none".into(), |e| e.hash.short());
        match (ce.head, covered) {
            (None, _) if n == 0 => {}
            (Some(head), Some(e)) if e.seq == n => {
                if e.hash != head {
                    let detail = format!(
                        "catalog head differs: catalog {} at segment {n}, chain {}",
                        head.short(),
                        e.hash.short()
                    );
                    self.problem(Some(n), Some(e.file.clone()), What::Catalog, detail);
                    return;
                }
            }
            (head, _) => {
                let detail = format!(
                    "chain truncated: catalog lists {n} segments (head {}), chain has {} (head {})",
                    head.map_or_else(|| "none".into(), |h| h.short()),
                    entries.len(),
                    chain_head
                );
                self.problem(None, file, What::Catalog, detail);
                return;
            }
        }
        let prefix = &entries[..entries.len().min(n as usize)];
        let (rows, bytes) = prefix
            .iter()
            .fold((0u64, 0u64), |(r, b), e| (r + e.rows, b + e.bytes));
        if (rows, bytes) != (ce.rows, ce.bytes) {
            let detail = format!(
                "catalog totals differ: catalog {} rows / {} bytes, chain {rows} rows / {bytes} bytes",
                ce.rows, ce.bytes
            );
            self.problem(None, file, What::Catalog, detail);
        }
        if entries.len() as u64 > n {
            self.notes.push(format!(
                "the chain extends {} segment(s) beyond the catalog head",
                entries.len() as u64 - n
            ));
        }
    }

    fn report(self, entries: &[ChainEntry]) -> VerifyReport {
        VerifyReport {
            dataset: self.dataset,
            ok: self.problems.is_empty(),
            segments: entries.len() as u64,
            rows: entries.iter().map(|e| e.rows).sum(),
            bytes: entries.iter().map(|e| e.bytes).sum(),
            head: entries.last().map(|e| e.hash),
            problems: self.problems,
            notes: self.notes,
        }
    }
}
