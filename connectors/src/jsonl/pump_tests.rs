use std::io::Cursor;
use std::sync::{Arc, Mutex};

use msec_engine::config::PipelineConfig;
use msec_engine::source::{SourceBatch, batch_channel};
use msec_engine::{DeadLetterReason, Interner};

use super::super::new_pump;
use super::*;

const T0: i64 = 1_772_409_600_000;

fn reading(device: &str, i: i64) -> String {
    format!(
        r#"{{"device":"{device}","sensor":"noise","ts":{},"value":{}}}"#,
        T0 + i * 1000,
        40 + i % 30
    )
}

fn pump<R: Read>(input: R, block: usize, batch_rows: usize) -> Pump<R> {
    let cfg = PipelineConfig {
        batch_rows,
        ..PipelineConfig::default()
    };
    let mut p = new_pump(
        PathBuf::from("t.jsonl"),
        input,
        false,
        &Interner::shared(),
        &cfg,
    );
    p.block = block;
    p
}

fn run_all<R: Read>(p: Pump<R>) -> (SourceSummary, Vec<SourceBatch>) {
    let (tx, rx) = batch_channel("t", 1 << 20);
    let (summary, _) = p.run(&tx).expect("run");
    drop(tx);
    (summary, rx.iter().collect())
}

fn offsets(batches: &[SourceBatch]) -> Vec<u64> {
    batches
        .iter()
        .flat_map(|b| b.readings.offset.iter().copied())
        .collect()
}

#[test]
fn lines_split_across_blocks_are_reassembled() {
    let text: String = (0..50).map(|i| reading("home-001-bed", i) + "\n").collect();
    let (want, _) = run_all(pump(Cursor::new(text.clone()), BLOCK, 16));
    assert_eq!(want.readings, 50);
    for block in [97, 128, 1000] {
        let (summary, batches) = run_all(pump(Cursor::new(text.clone()), block, 16));
        assert_eq!(summary, want, "block {block}");
        assert_eq!(offsets(&batches), (1..=50).collect::<Vec<u64>>());
        assert_eq!(summary.bytes, text.len() as u64);
    }
}

#[test]
fn crlf_blank_lines_bom_and_missing_final_newline() {
    let text = format!(
        "\u{feff}{}\r\n\r\n   \n\t\n{}\r\n{}",
        reading("a", 1),
        reading("a", 2),
        reading("a", 3)
    );
    let (summary, batches) = run_all(pump(Cursor::new(text.clone()), BLOCK, 16));
    assert_eq!(summary.records, 3, "blank lines are not records");
    assert_eq!(summary.readings, 3);
    assert_eq!(summary.dead_lettered(), 0);
    assert_eq!(summary.bytes, text.len() as u64);
    assert_eq!(
        offsets(&batches),
        vec![1, 5, 6],
        "blank lines still count as lines"
    );
}

#[test]
fn batches_respect_batch_rows_and_carry_the_watermark() {
    let mut text = String::new();
    for i in 0..20 {
        text += &reading("a", i);
        text += "\n";
        if i % 3 == 0 {
            text += "{broken\n";
        }
    }
    let (summary, batches) = run_all(pump(Cursor::new(text), BLOCK, 7));
    assert_eq!(summary.readings, 20);
    assert_eq!(summary.dead_letters.get(&DeadLetterReason::Parse), Some(&7));
    assert_eq!(
        batches.iter().map(|b| b.readings.len()).collect::<Vec<_>>(),
        vec![7, 7, 6]
    );
    assert_eq!(batches.iter().map(|b| b.records).sum::<u64>(), 27);
    assert_eq!(batches[0].watermark, Some(T0 + 6_000 - 5_000));
    assert_eq!(batches[2].watermark, Some(T0 + 19_000 - 5_000));
    let dead_offsets: Vec<u64> = batches
        .iter()
        .flat_map(|b| b.dead_letters.iter().map(|d| d.offset))
        .collect();
    assert_eq!(dead_offsets, vec![2, 6, 10, 14, 18, 22, 26]);
}

#[test]
fn dead_letters_alone_also_fill_batches() {
    let text = "x\n".repeat(10);
    let (summary, batches) = run_all(pump(Cursor::new(text), BLOCK, 4));
    assert_eq!(summary.dead_lettered(), 10);
    assert_eq!(
        batches
            .iter()
            .map(|b| b.dead_letters.len())
            .collect::<Vec<_>>(),
        vec![4, 4, 2]
    );
    assert!(batches.iter().all(|b| b.watermark.is_none()));
}

#[test]
fn overlong_lines_are_dead_lettered_and_skipped() {
    let long = format!(
        r#"{{"device":"a","pad":"{}","sensor":"noise","ts":{T0},"value":1}}"#,
        "x".repeat(10_000)
    );
    for tail in ["\n", ""] {
        let text = format!(
            "{}\n{long}{tail}{}\n",
            reading("a", 1),
            if tail.is_empty() {
                String::new()
            } else {
                reading("a", 2)
            }
        );
        let (summary, batches) = run_all(pump(Cursor::new(text.clone()), 256, 16));
        assert_eq!(summary.bytes, text.len() as u64);
        let dead: Vec<_> = batches.iter().flat_map(|b| b.dead_letters.iter()).collect();
        assert_eq!(dead.len(), 1, "{tail:?}");
        assert_eq!(dead[0].reason, DeadLetterReason::Parse);
        assert_eq!(dead[0].offset, 2);
        assert_eq!(dead[0].raw.len(), 256.min(OVERLONG_RAW));
        assert!(dead[0].detail.contains("longer than"), "{}", dead[0].detail);
        let want: Vec<u64> = if tail.is_empty() { vec![1] } else { vec![1, 3] };
        assert_eq!(offsets(&batches), want);
    }
}

#[test]
fn progress_is_reported_once_per_batch() {
    let text: String = (0..10).map(|i| reading("a", i) + "\n").collect();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut p = pump(Cursor::new(text.clone()), BLOCK, 3);
    let log = Arc::clone(&seen);
    p.progress = Some(Box::new(move |b| log.lock().expect("lock").push(b)));
    let (_, batches) = run_all(p);
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), batches.len());
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(seen.last().copied(), Some(text.len() as u64));
}

/// Yields some bytes, then fails.
struct Failing {
    data: Cursor<Vec<u8>>,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.data.read(buf)? {
            0 => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "corrupt deflate stream",
            )),
            n => Ok(n),
        }
    }
}

#[test]
fn read_errors_name_the_position() {
    let text: String = (0..5).map(|i| reading("a", i) + "\n").collect();
    let len = text.len() as u64;
    let p = pump(
        Failing {
            data: Cursor::new(text.into_bytes()),
        },
        128,
        2,
    );
    let (tx, rx) = batch_channel("t", 64);
    let err = p.run(&tx).map(|_| ()).expect_err("must fail");
    match &err {
        ConnectorError::Read { line, offset, .. } => {
            assert_eq!(*offset, len);
            assert_eq!(*line, 6);
        }
        other => panic!("unexpected error {other}"),
    }
    assert_eq!(err.fault(), crate::error::Fault::User);
    drop(tx);
    assert_eq!(
        rx.iter().map(|b| b.readings.len()).sum::<usize>(),
        5,
        "every line read before the failure was sent"
    );
}

#[test]
fn a_closed_channel_stops_the_source() {
    let text: String = (0..10).map(|i| reading("a", i) + "\n").collect();
    let (tx, rx) = batch_channel("t", 1);
    drop(rx);
    let err = pump(Cursor::new(text), BLOCK, 2)
        .run(&tx)
        .map(|_| ())
        .expect_err("must fail");
    assert!(
        matches!(err, ConnectorError::Downstream { line: 2, .. }),
        "{err}"
    );
}
