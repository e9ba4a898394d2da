//! One test per kind of tampering (DESIGN §7): each writes a 4-segment dataset, checks that
//! it verifies, tampers, and checks that verify names the right segment and what differs.

use std::fs;

use msec_datasets::chain::{ChainLog, Record};
use msec_datasets::layout::segment_file_name;
use msec_datasets::{Catalog, What};

use crate::common::*;

#[test]
fn byte_changed_inside_a_segment() {
    let (dir, _) = fixture();
    let p = seg(dir.path(), "readings", 2);
    let mut bytes = fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(&p, bytes).unwrap();
    let r = assert_fails(
        dir.path(),
        "readings",
        Some(2),
        Some("seg-00000002.parquet"),
        What::Digest,
    );
    let msg = r.problems[0].to_string();
    assert!(
        msg.starts_with(
            "dataset readings: segment 2 (seg-00000002.parquet): digest differs: chain "
        ),
        "{msg}"
    );
    assert_eq!(r.problems.len(), 1, "{r}");
}

#[test]
fn truncated_segment() {
    let (dir, _) = fixture();
    let p = seg(dir.path(), "readings", 3);
    let len = fs::metadata(&p).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let r = assert_fails(dir.path(), "readings", Some(3), None, What::Length);
    assert!(
        r.problems[0].detail.contains(&format!("chain {len} bytes")),
        "{r}"
    );
}

#[test]
fn deleted_segment() {
    let (dir, _) = fixture();
    fs::remove_file(seg(dir.path(), "readings", 2)).unwrap();
    assert_fails(dir.path(), "readings", Some(2), None, What::Missing);
}

#[test]
fn extra_segment_dropped_into_the_directory() {
    let (dir, _) = fixture();
    let extra = seg(dir.path(), "readings", 5);
    fs::copy(seg(dir.path(), "readings", 1), &extra).unwrap();
    assert_fails(
        dir.path(),
        "readings",
        None,
        Some("seg-00000005.parquet"),
        What::Unchained,
    );
    // Any *.parquet name counts, not only ours.
    fs::rename(&extra, dir.path().join("readings").join("zz-extra.parquet")).unwrap();
    assert_fails(
        dir.path(),
        "readings",
        None,
        Some("zz-extra.parquet"),
        What::Unchained,
    );
}

#[cfg(unix)]
#[test]
fn extra_segment_symlinked_into_the_directory() {
    let (dir, _) = fixture();
    let outside = dir.path().join("outside.parquet");
    fs::copy(seg(dir.path(), "readings", 1), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, dir.path().join("readings").join("link.parquet")).unwrap();
    assert_fails(
        dir.path(),
        "readings",
        None,
        Some("link.parquet"),
        What::Unchained,
    );
}

#[test]
fn two_segments_swapped() {
    let (dir, _) = fixture();
    let (a, b) = (
        seg(dir.path(), "readings", 2),
        seg(dir.path(), "readings", 3),
    );
    let tmp = dir.path().join("swap");
    fs::rename(&a, &tmp).unwrap();
    fs::rename(&b, &a).unwrap();
    fs::rename(&tmp, &b).unwrap();
    let r = verify_first_is_segment(&dir, 2);
    assert_eq!(r.problems[1].seq, Some(3), "{r}");
}

fn verify_first_is_segment(dir: &tempfile::TempDir, seq: u64) -> msec_datasets::VerifyReport {
    let r = msec_datasets::verify_dataset(dir.path(), "readings").unwrap();
    assert!(!r.ok);
    assert_eq!(r.problems[0].seq, Some(seq), "{r}");
    // Same-size segments differ in digest; others in length. Either names the segment.
    assert!(
        matches!(r.problems[0].what, What::Digest | What::Length),
        "{r}"
    );
    r
}

#[test]
fn chain_entry_edited() {
    let (dir, _) = fixture();
    let log = chain_log(dir.path(), "readings");
    let text = fs::read_to_string(&log).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    assert!(lines[2].contains("\"seq\":2,"));
    lines[2] = lines[2].replacen("\"rows\":10", "\"rows\":11", 1);
    fs::write(&log, lines.join("\n") + "\n").unwrap();
    let r = assert_fails(dir.path(), "readings", Some(2), None, What::EntryHash);
    // The file disagrees too.
    assert!(
        r.problems
            .iter()
            .any(|p| p.what == What::Rows && p.seq == Some(2)),
        "{r}"
    );
}

#[test]
fn chain_entry_edited_and_rehashed() {
    // The attacker recomputes the edited entry's hash: the next entry's prev link breaks,
    // and the file still contradicts the edited entry.
    let (dir, _) = fixture();
    let mut log = ChainLog::read(dir.path(), "readings").unwrap();
    let e = &mut log.entries[1];
    e.rows = 9;
    e.hash = e.compute_hash("readings");
    write_log(dir.path(), &log);
    let r = assert_fails(dir.path(), "readings", Some(2), None, What::Rows);
    assert!(
        r.problems
            .iter()
            .any(|p| p.what == What::PrevLink && p.seq == Some(3)),
        "{r}"
    );
}

#[test]
fn chain_log_truncated() {
    let (dir, _) = fixture();
    let log = chain_log(dir.path(), "readings");
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    fs::write(&log, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    // The last segment is now outside the chain, and the catalog head is beyond it.
    let r = assert_fails(
        dir.path(),
        "readings",
        None,
        Some("seg-00000004.parquet"),
        What::Unchained,
    );
    assert!(r.problems.iter().any(|p| p.what == What::Catalog), "{r}");
}

#[test]
fn chain_log_truncated_with_its_segment() {
    let (dir, _) = fixture();
    let log = chain_log(dir.path(), "readings");
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    fs::write(&log, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    fs::remove_file(seg(dir.path(), "readings", 4)).unwrap();
    // Self-consistent now: only the catalog head catches it.
    let r = assert_fails(
        dir.path(),
        "readings",
        None,
        Some("_catalog.json"),
        What::Catalog,
    );
    assert_eq!(r.problems.len(), 1, "{r}");
    assert!(r.problems[0].detail.contains("chain truncated"), "{r}");
    // Without the catalog, nothing could tell.
    fs::remove_file(dir.path().join("_catalog.json")).unwrap();
    assert_ok(dir.path(), "readings");
}

#[test]
fn segment_deleted_and_chain_rebuilt() {
    // The attacker deletes segment 2 and re-chains segments 3 and 4 as 2 and 3, recomputing
    // every hash from the (public) genesis: a consistent chain that only the catalog refutes.
    let (dir, _) = fixture();
    let root = dir.path();
    let mut log = ChainLog::read(root, "readings").unwrap();
    log.entries.remove(1);
    fs::remove_file(seg(root, "readings", 2)).unwrap();
    let mut prev = log.header.genesis;
    for (i, e) in log.entries.iter_mut().enumerate() {
        let seq = i as u64 + 1;
        if e.seq != seq {
            fs::rename(seg(root, "readings", e.seq), seg(root, "readings", seq)).unwrap();
        }
        e.seq = seq;
        e.file = segment_file_name(seq);
        e.prev = prev;
        e.hash = e.compute_hash("readings");
        prev = e.hash;
    }
    write_log(root, &log);
    let r = assert_fails(root, "readings", None, Some("_catalog.json"), What::Catalog);
    assert_eq!(r.problems.len(), 1, "{r}");
}

#[test]
fn segment_replaced_by_another_datasets_segment() {
    let (dir, _) = fixture();
    let root = dir.path();
    write_dataset(root, "other", 4, 0.5);
    fs::copy(seg(root, "other", 2), seg(root, "readings", 2)).unwrap();
    assert_fails_at_file(root, 2);
}

#[test]
fn segment_replaced_by_another_runs_segment() {
    // A second run of the same dataset (another root), same schema and row count.
    let (dir, _) = fixture();
    let other = tempfile::tempdir().unwrap();
    write_dataset(other.path(), "readings", 4, 1.0);
    fs::copy(
        seg(other.path(), "readings", 3),
        seg(dir.path(), "readings", 3),
    )
    .unwrap();
    assert_fails_at_file(dir.path(), 3);
}

fn assert_fails_at_file(root: &std::path::Path, seq: u64) {
    let r = msec_datasets::verify_dataset(root, "readings").unwrap();
    assert!(!r.ok);
    assert_eq!(r.problems[0].seq, Some(seq), "{r}");
    assert!(
        matches!(r.problems[0].what, What::Digest | What::Length),
        "{r}"
    );
}

#[test]
fn catalog_head_no_longer_matches() {
    let (dir, s) = fixture();
    let root = dir.path();
    let mut c = Catalog::load(root).unwrap();
    let e = c
        .datasets
        .iter_mut()
        .find(|e| e.name == "readings")
        .unwrap();
    assert_eq!(e.head, s.head);
    let mut h = e.head.unwrap();
    h.0[0] ^= 0xff;
    e.head = Some(h);
    c.save(root).unwrap();
    let r = assert_fails(root, "readings", Some(4), None, What::Catalog);
    assert!(r.problems[0].detail.contains("catalog head differs"), "{r}");
}

#[test]
fn whole_directory_swapped_for_another_runs() {
    let (dir, _) = fixture();
    let root = dir.path();
    let other = tempfile::tempdir().unwrap();
    write_dataset(other.path(), "readings", 4, 0.0);
    // Another run with the same data and name: a valid chain of its own.
    assert_ok(other.path(), "readings");
    fs::remove_dir_all(root.join("readings")).unwrap();
    fs::rename(other.path().join("readings"), root.join("readings")).unwrap();
    let r = assert_fails(root, "readings", None, Some("_catalog.json"), What::Catalog);
    assert!(r.problems[0].detail.contains("genesis differs"), "{r}");
}

#[test]
fn whole_directory_swapped_for_another_datasets() {
    let (dir, _) = fixture();
    let root = dir.path();
    write_dataset(root, "alerts", 4, 0.0);
    fs::remove_dir_all(root.join("readings")).unwrap();
    copy_dir(&root.join("alerts"), &root.join("readings"));
    let r = assert_fails(root, "readings", None, Some("_chain.jsonl"), What::Header);
    assert!(r.problems[0].detail.contains("\"alerts\""), "{r}");
}

#[test]
fn header_edited() {
    let (dir, _) = fixture();
    let mut log = ChainLog::read(dir.path(), "readings").unwrap();
    log.header.created = "2020-01-01T00:00:00.000Z".into();
    write_log(dir.path(), &log);
    assert_fails(
        dir.path(),
        "readings",
        None,
        Some("_chain.jsonl"),
        What::Header,
    );
    // Re-deriving the genesis breaks the first link (and the catalog's genesis).
    log.header.genesis = log.header.compute_genesis();
    write_log(dir.path(), &log);
    assert_fails(dir.path(), "readings", Some(1), None, What::PrevLink);
}

fn write_log(root: &std::path::Path, log: &ChainLog) {
    let mut text = Record::Header(log.header.clone()).to_line();
    for e in &log.entries {
        text.push_str(&Record::Segment(e.clone()).to_line());
    }
    fs::write(chain_log(root, &log.header.dataset), text).unwrap();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    fs::create_dir(to).unwrap();
    for ent in fs::read_dir(from).unwrap() {
        let ent = ent.unwrap();
        fs::copy(ent.path(), to.join(ent.file_name())).unwrap();
    }
}
