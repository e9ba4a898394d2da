//! `msec verify` on a real run: intact data verifies; tampering fails with a non-zero exit that
//! names the dataset and the segment. (Every tamper case is tested at the library level in
//! `datasets/tests/chain`; these go through the command line.)

use std::path::{Path, PathBuf};

use crate::common::*;

fn fresh_run(dir: &Path) -> PathBuf {
    let (input, _) = simulate(dir, "in", &["--hours", "0.25"]);
    let data = dir.join("data");
    ok(&[
        "run",
        "--input",
        s(&input),
        "--data",
        s(&data),
        "--segment-rows",
        "4000",
    ]);
    data
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    v.sort();
    v
}

fn verify_fails(data: &Path, must_name: &[&str]) {
    let out = run(&["verify", "--data", s(data)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "verify must fail: {stdout}");
    for needle in must_name {
        assert!(
            stderr.contains(needle) || stdout.contains(needle),
            "{needle:?} not named:\n{stdout}\n{stderr}"
        );
    }
}

#[test]
fn intact_run_verifies_and_each_tamper_is_caught() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = fresh_run(dir.path());
    let out = ok(&["verify", "--data", s(&data)]);
    let datasets = std::fs::read_dir(&data)
        .expect("data dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().join("_chain.jsonl").exists())
        })
        .count();
    assert!(datasets >= 5, "{datasets} datasets");
    assert_eq!(out.lines().count(), datasets, "one line per dataset: {out}");

    // 1. A byte changed inside a segment.
    let segs = segments(&data.join("readings"));
    assert!(segs.len() >= 3, "several segments: {}", segs.len());
    let victim = &segs[1];
    let original = std::fs::read(victim).expect("read");
    let mut bytes = original.clone();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(victim, &bytes).expect("write");
    let name = victim.file_name().and_then(|n| n.to_str()).expect("name");
    verify_fails(&data, &["readings", name]);
    std::fs::write(victim, &original).expect("restore");
    ok(&["verify", "--data", s(&data)]);

    // 2. Two segments swapped.
    let (a, b) = (&segs[0], &segs[2]);
    let tmp = dir.path().join("swap");
    std::fs::rename(a, &tmp).expect("mv");
    std::fs::rename(b, a).expect("mv");
    std::fs::rename(&tmp, b).expect("mv");
    verify_fails(&data, &["readings"]);
    std::fs::rename(b, &tmp).expect("mv");
    std::fs::rename(a, b).expect("mv");
    std::fs::rename(&tmp, a).expect("mv");
    ok(&["verify", "--data", s(&data)]);

    // 3. A segment deleted.
    let last = segs.last().expect("segment");
    let kept = std::fs::read(last).expect("read");
    std::fs::remove_file(last).expect("rm");
    verify_fails(&data, &["readings"]);
    std::fs::write(last, kept).expect("restore");

    // 4. The catalog's head edited.
    let catalog = data.join("_catalog.json");
    let text = std::fs::read_to_string(&catalog).expect("catalog");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let head = v["datasets"]
        .as_array()
        .expect("datasets")
        .iter()
        .find(|d| d["name"] == "agg_1m")
        .expect("agg_1m")["head"]
        .as_str()
        .expect("head")
        .to_owned();
    let forged = format!(
        "{}{}",
        if head.starts_with('0') { "1" } else { "0" },
        &head[1..]
    );
    std::fs::write(&catalog, text.replace(&head, &forged)).expect("write");
    verify_fails(&data, &["agg_1m"]);
    std::fs::write(&catalog, text).expect("restore");
    ok(&["verify", "--data", s(&data)]);
}

#[test]
fn segments_are_sealed_by_age_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = simulate(dir.path(), "in", &["--hours", "0.25"]);
    let data = dir.path().join("data");
    let config = dir.path().join("pipeline.toml");
    // With a 1 ms limit, a segment is sealed by the first batch written after it is 1 ms old.
    std::fs::write(
        &config,
        "[pipeline]\nsegment_max_age_ms = 1\nbatch_rows = 20000\n",
    )
    .expect("config");
    let out = ok(&[
        "run",
        "--input",
        s(&input),
        "--data",
        s(&data),
        "--config",
        s(&config),
    ]);
    let segs = segments(&data.join("readings")).len();
    assert!(
        segs >= 2,
        "sealed by age, not only at the end: {segs} segments\n{out}"
    );
    ok(&["verify", "--data", s(&data)]);
}
