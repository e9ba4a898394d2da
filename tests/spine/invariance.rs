//! The same `agg_1m`, row for row — and byte for byte: the same segment digests and Merkle
//! roots — whatever the arrival order within the lateness bound, the number of workers, and
//! the batch size.

use crate::common::*;

#[test]
fn same_output_for_shuffles_workers_and_batch_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = simulate(dir.path(), "ordered", &[]);
    let shuffled = dir.path().join("shuffled.jsonl");
    shuffle_within(&input, &shuffled, 5_000, 99);

    let run = |name: &str, input: &std::path::Path, extra: &[&str]| {
        let data = dir.path().join(name);
        let mut args = vec!["run", "--input", s(input), "--data", s(&data)];
        args.extend_from_slice(extra);
        let out = ok(&args);
        assert!(
            !out.contains("late="),
            "no record may be late within the bound: {out}"
        );
        (agg_1m(&data), segment_hashes(&data.join("agg_1m")))
    };
    let reference = run("ref", &input, &["--workers", "1"]);
    assert!(reference.0.len() > 100);
    for (name, file, extra) in [
        ("shuffled", &shuffled, vec!["--workers", "1"]),
        ("w2", &shuffled, vec!["--workers", "2"]),
        ("w4", &input, vec!["--workers", "4"]),
        (
            "b1000",
            &shuffled,
            vec!["--batch-rows", "1000", "--workers", "2"],
        ),
        ("b97", &input, vec!["--batch-rows", "97"]),
    ] {
        let got = run(name, file, &extra);
        // Exact equality, including every bit of avg, and the same file bytes.
        assert_eq!(got.0, reference.0, "{name}: rows differ");
        assert_eq!(
            got.1, reference.1,
            "{name}: segment digests or Merkle roots differ"
        );
    }
}

/// (digest, merkle root) of every segment entry of a dataset's chain log.
fn segment_hashes(dir: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join("_chain.jsonl"))
        .expect("chain log")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "segment")
        .map(|v| {
            (
                v["digest"].as_str().unwrap_or("").to_owned(),
                v["merkle"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}
