//! Dead letters per reason equal exactly what the simulator injected; nothing is dropped:
//! readings + dead letters = input lines.

use crate::common::*;

#[test]
fn dead_letter_counts_equal_injected_bad_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, manifest) = simulate(
        dir.path(),
        "bad",
        &["--bad-rate", "0.01", "--disorder-ms", "2000"],
    );
    let data = dir.path().join("data");
    ok(&[
        "run",
        "--input",
        s(&input),
        "--data",
        s(&data),
        "--segment-rows",
        "5000",
    ]);

    let ctx = session(
        None,
        &[
            ("dl", &data.join("dead_letter")),
            ("readings", &data.join("readings")),
        ],
    );
    let injected = manifest["bad"].as_object().expect("bad counts");
    assert!(
        injected
            .values()
            .map(|v| v.as_u64().unwrap_or(0))
            .sum::<u64>()
            > 50,
        "{manifest}"
    );
    let mut total_bad = 0;
    for (reason, n) in injected {
        let got = count(
            &ctx,
            &format!("SELECT count(*) FROM dl WHERE reason = '{reason}'"),
        );
        assert_eq!(got as u64, n.as_u64().expect("count"), "reason {reason}");
        total_bad += got;
    }
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM dl"),
        total_bad,
        "no other reasons"
    );
    let lines = std::fs::read_to_string(&input)
        .expect("read")
        .lines()
        .count() as i64;
    assert_eq!(
        count(&ctx, "SELECT count(*) FROM readings") + total_bad,
        lines,
        "nothing dropped"
    );
    // Every dead letter keeps its raw bytes and position.
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM dl WHERE length(raw) = 0 OR \"offset\" = 0"
        ),
        0
    );
}

#[test]
fn garbage_input_gives_dead_letters_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("garbage.jsonl");
    let mut bytes =
        b"{\"device\":\"a\",\"sensor\":\"co2\",\"ts\":1772409600000,\"value\":400}\n".to_vec();
    bytes.extend_from_slice(b"\xff\xfe not utf8\n{\"device\":\"a\"\n[1,2,3]\n{\"device\":\"b\",\"sensor\":\"bed\",\"ts\":1772409600000,\"value\":7}\n");
    bytes.extend_from_slice(
        b"{\"device\":\"c\",\"sensor\":\"smoke\",\"ts\":1772409600000,\"value\":1}\n",
    );
    std::fs::write(&input, bytes).expect("write");
    let data = dir.path().join("data");
    let out = ok(&["run", "--input", s(&input), "--data", s(&data)]);
    assert!(out.contains("readings:        1"), "{out}");
    let ctx = session(None, &[("dl", &data.join("dead_letter"))]);
    assert_eq!(count(&ctx, "SELECT count(*) FROM dl"), 5);
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM dl WHERE reason = 'out_of_range'"
        ),
        1
    );
    assert_eq!(
        count(
            &ctx,
            "SELECT count(*) FROM dl WHERE reason = 'unknown_sensor'"
        ),
        1
    );
}

#[test]
fn missing_input_fails_with_one_line_and_touches_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let missing = dir.path().join("nope.jsonl");
    let out = run(&["run", "--input", s(&missing), "--data", s(&data)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("msec: error:") && stderr.contains("nope.jsonl"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        !data.exists(),
        "no dataset may be created for an input that cannot be opened"
    );
}

#[test]
fn a_source_that_fails_midway_seals_no_partial_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, _) = simulate(dir.path(), "full", &["--hours", "0.5"]);
    let want = oracle(&input, "");
    let status = std::process::Command::new("gzip")
        .args(["-k", "-f", s(&input)])
        .status()
        .expect("gzip");
    assert!(status.success());
    let gz = dir.path().join("full.jsonl.gz");
    let bytes = std::fs::read(&gz).expect("read gz");
    let cut = dir.path().join("cut.jsonl.gz");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write");

    let data = dir.path().join("data");
    let out = run(&["run", "--input", s(&cut), "--data", s(&data)]);
    assert_eq!(out.status.code(), Some(1), "a truncated input is an error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cut.jsonl.gz"),
        "the error names the file: {stderr}"
    );

    // Windows that closed before the failure are complete; none flushed by the shutdown is
    // sealed as if it were: every agg_1m row equals the oracle's row over the whole file.
    ok(&["verify", "--data", s(&data)]);
    let got = agg_1m(&data);
    assert!(!got.is_empty(), "windows before the cut were sealed");
    assert!(got.len() < want.len(), "windows after the cut were not");
    for row in &got {
        let expected = want
            .iter()
            .find(|w| (&w.0, &w.1, w.2) == (&row.0, &row.1, row.2))
            .expect("window exists in the oracle");
        assert_agg_eq(std::slice::from_ref(row), std::slice::from_ref(expected));
    }
}
