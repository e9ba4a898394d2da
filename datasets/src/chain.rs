//! The chain log `_chain.jsonl`: its records, their JSON lines, the genesis and chain hashes,
//! and strict reading for writers that continue a chain.
//!
//! Line 1 is a [`Header`] (`"kind":"header"`); every further line is an entry. Version 1 has
//! one entry kind, `"segment"` ([`ChainEntry`]); `"erased"` is reserved for row erasure and
//! will carry its own fields and hash encoding (see `docs/FORMAT.md`). A reader meeting an
//! unknown kind must stop and report it, never skip it.
//!
//! Hash inputs use `lp(x)` = u64 LE length ‖ bytes for strings, fixed 8-byte LE integers,
//! raw 32 bytes for digests, and `opt(x)` = `00`, or `01` ‖ value, for optional values.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::encoding::{FieldDesc, fingerprint, put_lp};
use crate::error::{DatasetError, Result, io_err};
use crate::layout::{CHAIN_LOG, segment_file_name};

/// Format identifier in the header.
pub const FORMAT: &str = "msec-chain/1";
/// Domain string of the genesis hash.
pub const GENESIS_DOMAIN: &str = "msec/chain/v1/genesis";
/// Domain string of an entry's chain hash.
pub const ENTRY_DOMAIN: &str = "msec/chain/v1/entry";
/// `kind` of the header line.
pub const KIND_HEADER: &str = "header";
/// `kind` of a segment entry.
pub const KIND_SEGMENT: &str = "segment";
/// `kind` reserved for erasure entries (not written by this version).
pub const KIND_ERASED: &str = "erased";

/// First line of the chain log: who the dataset is, bound into the genesis hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// Dataset name (equals the directory name).
    pub dataset: String,
    /// Random per-dataset creation nonce: two creations of one name get different chains.
    pub nonce: Digest,
    /// Creation time, RFC 3339.
    pub created: String,
    /// The event-time column, if any.
    pub time_column: Option<String>,
    /// The schema, field by field.
    pub schema: Vec<FieldDesc>,
    /// Fingerprint of `schema` (see [`fingerprint`]).
    pub schema_fingerprint: Digest,
    /// The genesis hash: the `prev` of entry 1.
    pub genesis: Digest,
}

impl Header {
    /// A header for a new dataset, with its fingerprint and genesis computed.
    pub fn new(
        dataset: &str,
        nonce: Digest,
        created: String,
        time_column: Option<String>,
        schema: Vec<FieldDesc>,
    ) -> Self {
        let mut h = Header {
            format: FORMAT.to_owned(),
            dataset: dataset.to_owned(),
            nonce,
            created,
            time_column,
            schema_fingerprint: fingerprint(&schema),
            schema,
            genesis: Digest::ZERO,
        };
        h.genesis = h.compute_genesis();
        h
    }

    /// genesis = BLAKE3(lp(GENESIS_DOMAIN) ‖ lp(format) ‖ lp(dataset) ‖ nonce ‖ lp(created)
    /// ‖ opt(lp(time_column)) ‖ schema_fingerprint).
    pub fn compute_genesis(&self) -> Digest {
        let mut h = blake3::Hasher::new();
        put_lp(&mut h, GENESIS_DOMAIN.as_bytes());
        put_lp(&mut h, self.format.as_bytes());
        put_lp(&mut h, self.dataset.as_bytes());
        h.update(self.nonce.as_bytes());
        put_lp(&mut h, self.created.as_bytes());
        if let Some(c) = &self.time_column {
            h.update(&[1]);
            put_lp(&mut h, c.as_bytes());
        } else {
            h.update(&[0]);
        }
        h.update(self.schema_fingerprint.as_bytes());
        h.finalize().into()
    }
}

/// A sealed segment's entry (`"kind":"segment"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainEntry {
    /// Sequence number, 1 for the first entry, +1 per entry.
    pub seq: u64,
    /// Segment file name, `seg-<seq, 8+ digits>.parquet`.
    pub file: String,
    /// Rows in the segment.
    pub rows: u64,
    /// Length of the file in bytes.
    pub bytes: u64,
    /// Smallest event time (epoch ms) of the time column; null without one or if all null.
    pub ts_min: Option<i64>,
    /// Largest event time (epoch ms).
    pub ts_max: Option<i64>,
    /// When the segment was sealed (epoch ms, wall clock).
    pub sealed_at: i64,
    /// Schema fingerprint of the segment.
    pub schema: Digest,
    /// BLAKE3 of the file's bytes.
    pub digest: Digest,
    /// Merkle root over the segment's rows.
    pub merkle: Digest,
    /// The previous entry's `hash` (the header's `genesis` for seq 1).
    pub prev: Digest,
    /// This entry's chain hash ([`ChainEntry::compute_hash`]).
    pub hash: Digest,
}

impl ChainEntry {
    /// chain hash = BLAKE3(lp(ENTRY_DOMAIN) ‖ lp(dataset) ‖ lp("segment") ‖ u64 seq ‖
    /// lp(file) ‖ u64 rows ‖ u64 bytes ‖ opt(i64 ts_min) ‖ opt(i64 ts_max) ‖ i64 sealed_at ‖
    /// schema ‖ digest ‖ merkle ‖ prev).
    pub fn compute_hash(&self, dataset: &str) -> Digest {
        let mut h = blake3::Hasher::new();
        put_lp(&mut h, ENTRY_DOMAIN.as_bytes());
        put_lp(&mut h, dataset.as_bytes());
        put_lp(&mut h, KIND_SEGMENT.as_bytes());
        h.update(&self.seq.to_le_bytes());
        put_lp(&mut h, self.file.as_bytes());
        h.update(&self.rows.to_le_bytes());
        h.update(&self.bytes.to_le_bytes());
        for t in [self.ts_min, self.ts_max] {
            match t {
                None => h.update(&[0]),
                Some(v) => h.update(&[1]).update(&v.to_le_bytes()),
            };
        }
        h.update(&self.sealed_at.to_le_bytes());
        h.update(self.schema.as_bytes());
        h.update(self.digest.as_bytes());
        h.update(self.merkle.as_bytes());
        h.update(self.prev.as_bytes());
        h.finalize().into()
    }
}

/// One parsed line of the chain log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// The header (line 1 only).
    Header(Header),
    /// A segment entry.
    Segment(ChainEntry),
}

#[derive(Serialize)]
struct Tagged<'a, T> {
    kind: &'a str,
    #[serde(flatten)]
    body: &'a T,
}

fn to_line<T: Serialize>(kind: &str, body: &T) -> String {
    let mut s = serde_json::to_string(&Tagged { kind, body }).unwrap_or_default();
    s.push('\n');
    s
}

impl Record {
    /// The JSON line (with its trailing `\n`).
    pub fn to_line(&self) -> String {
        match self {
            Record::Header(h) => to_line(KIND_HEADER, h),
            Record::Segment(e) => to_line(KIND_SEGMENT, e),
        }
    }

    /// Parses one line (without its `\n`); the error says what is wrong.
    pub fn parse(line: &str) -> Result<Record, String> {
        let mut obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
        let kind = match obj.remove("kind") {
            Some(serde_json::Value::String(k)) => k,
            Some(other) => return Err(format!("kind is not a string: {other}")),
            None => return Err("no kind field".into()),
        };
        let body = serde_json::Value::Object(obj);
        let bad = |e: serde_json::Error| format!("bad {kind} record: {e}");
        match kind.as_str() {
            KIND_HEADER => serde_json::from_value(body)
                .map(Record::Header)
                .map_err(bad),
            KIND_SEGMENT => serde_json::from_value(body)
                .map(Record::Segment)
                .map_err(bad),
            KIND_ERASED => Err("entry kind \"erased\" is not supported by this version".into()),
            other => Err(format!("unknown entry kind {other:?}")),
        }
    }
}

/// What can be wrong with an entry's links, judged from the log alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkIssue {
    /// `seq` is not the previous seq + 1.
    Sequence {
        /// The seq that should follow.
        expected: u64,
    },
    /// `file` is not the canonical name for `seq`.
    FileName {
        /// The canonical name.
        expected: String,
    },
    /// The recorded `hash` is not the hash of the entry's fields.
    Hash {
        /// Recomputed from the fields.
        recomputed: Digest,
    },
    /// `prev` is not the previous entry's hash (or the genesis).
    Prev {
        /// The previous hash.
        expected: Digest,
    },
    /// The entry's schema fingerprint differs from the header's.
    Schema {
        /// The header's fingerprint.
        expected: Digest,
    },
}

impl std::fmt::Display for LinkIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkIssue::Sequence { expected } => {
                write!(f, "out of sequence: expected seq {expected}")
            }
            LinkIssue::FileName { expected } => write!(f, "file name should be {expected}"),
            LinkIssue::Hash { recomputed } => write!(
                f,
                "entry hash differs: recomputed {} (entry edited)",
                recomputed.short()
            ),
            LinkIssue::Prev { expected } => write!(
                f,
                "prev link differs: expected {} (entries removed, reordered or replaced)",
                expected.short()
            ),
            LinkIssue::Schema { expected } => {
                write!(
                    f,
                    "schema fingerprint differs from the header's {}",
                    expected.short()
                )
            }
        }
    }
}

/// Checks `e` against the entry before it (`prev_seq` 0 and the genesis for the first).
pub fn link_issues(
    dataset: &str,
    header: &Header,
    prev_seq: u64,
    prev: &Digest,
    e: &ChainEntry,
) -> Vec<LinkIssue> {
    let mut out = Vec::new();
    if e.seq != prev_seq + 1 {
        out.push(LinkIssue::Sequence {
            expected: prev_seq + 1,
        });
    }
    let canonical = segment_file_name(e.seq);
    if e.file != canonical {
        out.push(LinkIssue::FileName {
            expected: canonical,
        });
    }
    let recomputed = e.compute_hash(dataset);
    if recomputed != e.hash {
        out.push(LinkIssue::Hash { recomputed });
    }
    if e.prev != *prev {
        out.push(LinkIssue::Prev { expected: *prev });
    }
    if e.schema != header.schema_fingerprint {
        out.push(LinkIssue::Schema {
            expected: header.schema_fingerprint,
        });
    }
    out
}

/// A chain log read strictly: every line parsed and every link checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLog {
    /// The header.
    pub header: Header,
    /// The entries, in order.
    pub entries: Vec<ChainEntry>,
}

impl ChainLog {
    /// Reads `<root>/<name>/_chain.jsonl` strictly (see [`ChainLog::parse`]).
    pub fn read(root: &Path, name: &str) -> Result<Self> {
        let path = root.join(name).join(CHAIN_LOG);
        let text = std::fs::read_to_string(&path).map_err(io_err(name, &path))?;
        Self::parse(name, &text)
    }

    /// Parses a chain log's text; any unparseable line, torn last line, header mismatch or
    /// broken link is an error naming its line. Files are not looked at (that is `verify`).
    pub fn parse(dataset: &str, text: &str) -> Result<Self> {
        let err = |line: usize, detail: String| DatasetError::ChainLog {
            dataset: dataset.to_owned(),
            line,
            detail,
        };
        let Some(body) = text.strip_suffix('\n') else {
            return Err(err(
                text.lines().count().max(1),
                "incomplete last line (torn write)".into(),
            ));
        };
        let mut lines = body.split('\n').enumerate().map(|(i, l)| (i + 1, l));
        let header = match lines.next().map(|(n, l)| (n, Record::parse(l))) {
            Some((_, Ok(Record::Header(h)))) => h,
            Some((n, Ok(_))) => return Err(err(n, "first line is not the header".into())),
            Some((n, Err(e))) => return Err(err(n, e)),
            None => return Err(err(1, "empty chain log".into())),
        };
        check_header(dataset, &header).map_err(|e| err(1, e))?;
        let mut entries: Vec<ChainEntry> = Vec::new();
        for (n, line) in lines {
            let e = match Record::parse(line).map_err(|e| err(n, e))? {
                Record::Segment(e) => e,
                Record::Header(_) => return Err(err(n, "a second header".into())),
            };
            let (prev_seq, prev) = entries
                .last()
                .map_or((0, header.genesis), |p| (p.seq, p.hash));
            if let Some(issue) = link_issues(dataset, &header, prev_seq, &prev, &e).first() {
                return Err(err(n, format!("segment {} ({}): {issue}", e.seq, e.file)));
            }
            entries.push(e);
        }
        Ok(ChainLog { header, entries })
    }

    /// The last entry's hash, or `None` before the first segment.
    pub fn head(&self) -> Option<Digest> {
        self.entries.last().map(|e| e.hash)
    }
}

/// Checks a header on its own: format, dataset name, schema fingerprint, genesis.
pub fn check_header(dataset: &str, h: &Header) -> Result<(), String> {
    if h.format != FORMAT {
        return Err(format!(
            "unsupported format {:?} (expected {FORMAT})",
            h.format
        ));
    }
    if h.dataset != dataset {
        return Err(format!(
            "header names dataset {:?}, not {dataset:?} (directory holds another dataset)",
            h.dataset
        ));
    }
    let fp = fingerprint(&h.schema);
    if fp != h.schema_fingerprint {
        return Err(format!(
            "header schema fingerprint {} does not match its schema ({})",
            h.schema_fingerprint.short(),
            fp.short()
        ));
    }
    let g = h.compute_genesis();
    if g != h.genesis {
        return Err(format!(
            "header genesis {} differs from recomputed {} (header edited)",
            h.genesis.short(),
            g.short()
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
