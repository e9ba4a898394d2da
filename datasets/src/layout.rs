//! On-disk layout: dataset name rules, file names, and the durable-write helpers (fsync of
//! files and directories, atomic replace) that every writer in this crate uses.
//!
//! ```text
//! <root>/_catalog.json            the catalog (catalog.rs)
//! <root>/.catalog.lock            lock serialising catalog updates (empty)
//! <root>/<name>/_chain.jsonl      the chain log (chain.rs)
//! <root>/<name>/seg-00000001.parquet ... sealed segments
//! <root>/<name>/.seg-00000002.tmp the segment being written (hidden, not *.parquet)
//! ```

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use crate::digest::Digest;
use crate::error::{DatasetError, Result};

/// File name of a dataset's chain log, inside the dataset directory.
pub const CHAIN_LOG: &str = "_chain.jsonl";
/// File name of the catalog, at the datasets root.
pub const CATALOG_FILE: &str = "_catalog.json";
/// Lock file serialising catalog updates, at the datasets root.
pub const CATALOG_LOCK: &str = ".catalog.lock";
/// Longest accepted dataset name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a dataset name: 1 to 64 bytes of `[a-z0-9_]`, not starting with `_` (reserved for
/// msec's own files). This rules out path separators, `..`, hidden names and absolute paths.
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(DatasetError::InvalidName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("longer than 64 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return bad("only a-z, 0-9 and _ are allowed");
    }
    if name.starts_with('_') {
        return bad("must not start with _");
    }
    Ok(())
}

/// Final file name of segment `seq`: `seg-` + seq as at least 8 decimal digits + `.parquet`.
pub fn segment_file_name(seq: u64) -> String {
    format!("seg-{seq:08}.parquet")
}

/// Temporary file name of segment `seq` while it is written: hidden, and not `*.parquet`, so
/// that Parquet readers listing the directory skip it.
pub fn temp_segment_name(seq: u64) -> String {
    format!(".seg-{seq:08}.tmp")
}

/// Whether `file` is a temporary segment left behind by a writer that stopped mid-segment.
pub fn is_temp_segment(file: &str) -> bool {
    file.starts_with(".seg-") && file.ends_with(".tmp")
}

/// Whether `file` is a Parquet file name (what readers listing the directory will open).
pub fn is_parquet(file: &str) -> bool {
    file.ends_with(".parquet") && !file.starts_with('.') && !file.starts_with('_')
}

/// Names of the entries of `dir` that are not directories (files and symbolic links, which a
/// Parquet reader listing the directory would follow), sorted. Names that are not UTF-8 are
/// returned lossily.
pub fn list_files(dataset: &str, dir: &Path) -> Result<Vec<String>> {
    let rd = std::fs::read_dir(dir).map_err(crate::error::io_err(dataset, dir))?;
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(crate::error::io_err(dataset, dir))?;
        let is_dir = ent
            .file_type()
            .map_err(crate::error::io_err(dataset, ent.path()))?
            .is_dir();
        if !is_dir {
            out.push(ent.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// Flushes a directory's entries (new or renamed files) to disk. A no-op where directories
/// cannot be opened (Windows).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Writes `bytes` to `dir/temp`, fsyncs it, renames it to `dir/name` (replacing any file of
/// that name) and fsyncs the directory: readers see the old file or the new one, never a mix.
pub fn write_atomic(dir: &Path, temp: &str, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(temp);
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// RFC 3339 UTC time now, with milliseconds (`2025-03-01T12:00:00.123Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A fresh 32-byte creation nonce. It needs to be unique, not secret: BLAKE3 over the
/// process-random `RandomState` keys, the time in nanoseconds, the process id, a counter and
/// the dataset name.
pub fn new_nonce(name: &str) -> Digest {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);

    let mut h = blake3::Hasher::new();
    h.update(b"msec/nonce");
    for i in 0..4u64 {
        let mut s = std::collections::hash_map::RandomState::new().build_hasher();
        s.write_u64(i);
        h.update(&s.finish().to_le_bytes());
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    h.update(&nanos.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.update(name.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["readings", "agg_1m", "dead_letter", "a", "x9"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in [
            "", "..", "../x", "a/b", "A", "_catalog", ".hidden", "a b", "é", "a-b", &long,
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_names() {
        assert_eq!(segment_file_name(3), "seg-00000003.parquet");
        assert_eq!(segment_file_name(123_456_789), "seg-123456789.parquet");
        let t = temp_segment_name(3);
        assert!(is_temp_segment(&t) && !is_parquet(&t) && t.starts_with('.'));
        assert!(is_parquet("seg-00000003.parquet"));
        assert!(!is_parquet(CHAIN_LOG) && !is_parquet(CATALOG_FILE));
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(new_nonce("a"), new_nonce("a"));
    }
}
