//! Unit tests of chain records, hashes and strict parsing.

use super::*;
use crate::encoding::FieldDesc;

fn header(name: &str) -> Header {
    let schema = vec![FieldDesc {
        name: "ts".into(),
        data_type: "timestamp[ms,UTC]".into(),
        nullable: false,
    }];
    Header::new(
        name,
        Digest([7; 32]),
        "2025-01-01T00:00:00.000Z".into(),
        Some("ts".into()),
        schema,
    )
}

fn entry(h: &Header, seq: u64, prev: Digest) -> ChainEntry {
    let mut e = ChainEntry {
        seq,
        file: segment_file_name(seq),
        rows: 10,
        bytes: 1000,
        ts_min: Some(1),
        ts_max: None,
        sealed_at: 5,
        schema: h.schema_fingerprint,
        digest: Digest([1; 32]),
        merkle: Digest([2; 32]),
        prev,
        hash: Digest::ZERO,
    };
    e.hash = e.compute_hash(&h.dataset);
    e
}

fn log_text(h: &Header, n: u64) -> (String, Vec<ChainEntry>) {
    let mut text = Record::Header(h.clone()).to_line();
    let mut prev = h.genesis;
    let mut entries = Vec::new();
    for seq in 1..=n {
        let e = entry(h, seq, prev);
        prev = e.hash;
        text.push_str(&Record::Segment(e.clone()).to_line());
        entries.push(e);
    }
    (text, entries)
}

#[test]
fn lines_round_trip() {
    let h = header("readings");
    let e = entry(&h, 1, h.genesis);
    let line = Record::Segment(e.clone()).to_line();
    assert!(
        line.starts_with("{\"kind\":\"segment\",\"seq\":1,"),
        "{line}"
    );
    assert!(line.ends_with("}\n"));
    assert_eq!(Record::parse(line.trim_end()), Ok(Record::Segment(e)));
    let hl = Record::Header(h.clone()).to_line();
    assert!(
        hl.starts_with("{\"kind\":\"header\",\"format\":\"msec-chain/1\""),
        "{hl}"
    );
    assert_eq!(Record::parse(hl.trim_end()), Ok(Record::Header(h)));
}

#[test]
fn parse_rejects_unknown_things() {
    let h = header("readings");
    let line = Record::Segment(entry(&h, 1, h.genesis)).to_line();
    let extra = line.replacen("\"seq\"", "\"note\":\"x\",\"seq\"", 1);
    assert!(
        Record::parse(extra.trim_end())
            .unwrap_err()
            .contains("note")
    );
    let erased = line.replacen("\"segment\"", "\"erased\"", 1);
    assert!(
        Record::parse(erased.trim_end())
            .unwrap_err()
            .contains("erased")
    );
    let other = line.replacen("\"segment\"", "\"mystery\"", 1);
    assert!(
        Record::parse(other.trim_end())
            .unwrap_err()
            .contains("mystery")
    );
    assert!(Record::parse("[1]").is_err());
    assert!(Record::parse("{}").unwrap_err().contains("kind"));
}

#[test]
fn every_field_and_the_name_are_hashed() {
    let h = header("readings");
    let e = entry(&h, 1, h.genesis);
    let base = e.compute_hash("readings");
    assert_ne!(e.compute_hash("alerts"), base);
    let variants: Vec<fn(&mut ChainEntry)> = vec![
        |e| e.seq += 1,
        |e| e.file.push('x'),
        |e| e.rows += 1,
        |e| e.bytes += 1,
        |e| e.ts_min = None,
        |e| e.ts_max = Some(0),
        |e| e.sealed_at += 1,
        |e| e.schema.0[0] ^= 1,
        |e| e.digest.0[31] ^= 1,
        |e| e.merkle.0[5] ^= 1,
        |e| e.prev.0[9] ^= 1,
    ];
    for (i, edit) in variants.iter().enumerate() {
        let mut x = e.clone();
        edit(&mut x);
        assert_ne!(x.compute_hash("readings"), base, "field {i} not hashed");
    }
    // ts_min Some(0) and None must differ (the option tag is hashed).
    let mut a = e.clone();
    a.ts_max = Some(0);
    assert_ne!(a.compute_hash("readings"), e.compute_hash("readings"));
}

#[test]
fn genesis_binds_the_header() {
    let h = header("readings");
    assert_eq!(h.compute_genesis(), h.genesis);
    assert_ne!(header("alerts").genesis, h.genesis);
    let mut x = h.clone();
    x.nonce.0[0] ^= 1;
    assert_ne!(x.compute_genesis(), h.genesis);
    let mut x = h.clone();
    x.time_column = None;
    assert_ne!(x.compute_genesis(), h.genesis);
    let mut x = h.clone();
    x.created.push('x');
    assert_ne!(x.compute_genesis(), h.genesis);
}

#[test]
fn strict_parse_accepts_good_and_rejects_broken_logs() {
    let h = header("readings");
    let (text, entries) = log_text(&h, 3);
    let log = ChainLog::parse("readings", &text).unwrap();
    assert_eq!(log.entries, entries);
    assert_eq!(log.head(), Some(entries[2].hash));

    // The directory holds another dataset.
    assert!(ChainLog::parse("alerts", &text).is_err());
    // Torn last line.
    let torn = &text[..text.len() - 5];
    let e = ChainLog::parse("readings", torn).unwrap_err();
    assert!(e.to_string().contains("torn"), "{e}");
    // An edited entry is caught on its line.
    let edited = text.replacen("\"rows\":10", "\"rows\":11", 1);
    match ChainLog::parse("readings", &edited).unwrap_err() {
        DatasetError::ChainLog { line, detail, .. } => {
            assert_eq!(line, 2);
            assert!(detail.contains("entry hash differs"), "{detail}");
        }
        other => panic!("{other}"),
    }
    // A removed middle entry breaks the next one's sequence and prev link.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(2);
    let gap = lines.join("\n") + "\n";
    let e = ChainLog::parse("readings", &gap).unwrap_err();
    assert!(e.to_string().contains("segment 3"), "{e}");
}
