use std::sync::Arc;

use msec_engine::intern::InternCache;
use msec_engine::{Interner, ReadingBatch};

use super::*;
use crate::jsonl::decode::Decoder;

const T0: i64 = 1_772_409_600_000;

fn devices() -> Devices {
    let mut d = Devices::default();
    d.add("llamas-env-01".into());
    d.add("home-001-bed".into());
    d
}

fn lines(out: &[u8]) -> Vec<&[u8]> {
    out.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn integers_and_floats_round_trip() {
    for v in [0i64, 7, -7, 1_772_409_600_123, i64::MAX, i64::MIN] {
        let mut out = Vec::new();
        int(&mut out, v);
        assert_eq!(
            std::str::from_utf8(&out)
                .ok()
                .and_then(|s| s.parse::<i64>().ok()),
            Some(v)
        );
    }
    let mut rng = Rng::new(3, 3);
    for i in 0..10_000 {
        let v = match i % 4 {
            0 => round_to(rng.uniform(-60.0, 70.0), 2),
            1 => round_to(rng.uniform(-180.0, 180.0), 6),
            2 => rng.uniform(-1e20, 1e20),
            _ => rng.below(2_000) as f64,
        };
        let mut out = Vec::new();
        float(&mut out, v);
        let text = std::str::from_utf8(&out).expect("ascii");
        assert_eq!(text.parse::<f64>().ok(), Some(v), "{text}");
        assert!(!text.contains('e') || v.abs() >= 1e15, "{text}");
    }
    let mut out = Vec::new();
    float(&mut out, 1.0);
    float(&mut out, -0.0);
    out.push(b' ');
    float(&mut out, 412.5);
    assert_eq!(out, b"10 412.5");
}

#[test]
fn canonical_line_layout() {
    let d = devices();
    let mut e = Emitter::new(1, 0, 0.0);
    let mut out = Vec::new();
    e.push(
        SimReading::new(T0, 0, SensorKind::Co2, 412.5).at(43.4721, -3.8012),
        &mut out,
        &d,
    );
    e.push(
        SimReading::new(T0 + 1, 1, SensorKind::Bed, 1.0),
        &mut out,
        &d,
    );
    assert_eq!(
        String::from_utf8(out).expect("utf8"),
        format!(
            "{{\"device\":\"llamas-env-01\",\"sensor\":\"co2\",\"ts\":{T0},\"value\":412.5,\"lat\":43.4721,\"lon\":-3.8012}}\n\
             {{\"device\":\"home-001-bed\",\"sensor\":\"bed\",\"ts\":{},\"value\":1}}\n",
            T0 + 1
        )
    );
    assert_eq!((e.records, e.readings), (2, 2));
}

#[test]
fn disorder_is_bounded_and_nothing_is_lost() {
    let d = devices();
    for disorder in [2u64, 250, 5_000] {
        let mut e = Emitter::new(9, disorder, 0.0);
        let mut out = Vec::new();
        let mut ts = T0;
        let mut rng = Rng::new(5, 5);
        for slice in 0..50 {
            let end = T0 + (slice + 1) * 1_000;
            while ts < end {
                e.push(
                    SimReading::new(ts, 0, SensorKind::Noise, 40.0),
                    &mut out,
                    &d,
                );
                ts += rng.below(40) as i64;
            }
            e.drain(end, &mut out, &d);
        }
        e.drain(i64::MAX, &mut out, &d);
        let times: Vec<i64> = lines(&out)
            .iter()
            .map(|l| {
                serde_json::from_slice::<serde_json::Value>(l).expect("json")["ts"]
                    .as_i64()
                    .expect("ts")
            })
            .collect();
        assert_eq!(times.len() as u64, e.records);
        let mut max = times[0];
        let mut displaced = 0;
        for &t in &times {
            assert!(
                max - t <= disorder as i64,
                "disorder {disorder}: {} behind",
                max - t
            );
            displaced += usize::from(t < max);
            max = max.max(t);
        }
        assert!(displaced > 0, "disorder {disorder} reorders something");
        let mut sorted = times.clone();
        sorted.sort_unstable();
        assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
    }
}

#[test]
fn every_bad_kind_is_rejected_for_its_reason() {
    let d = devices();
    let interner = Interner::shared();
    let mut decoder = Decoder::new(
        Arc::from("t"),
        InternCache::new(Arc::clone(&interner)),
        0,
        u64::MAX / 2,
    );
    let mut batch = ReadingBatch::default();
    let mut dead = Vec::new();
    let mut e = Emitter::new(11, 0, 1.0);
    let mut out = Vec::new();
    let kinds = [
        SimReading::new(T0, 0, SensorKind::Temperature, 12.5).at(43.47, -3.8),
        SimReading::new(T0, 1, SensorKind::Bed, 1.0),
        SimReading::new(T0, 0, SensorKind::Crowd, 150.0).at(43.47, -3.8),
    ];
    for i in 0..3_000 {
        e.push(kinds[i % 3], &mut out, &d);
    }
    let mut evidence = SimReading::new(T0, 1, SensorKind::Bed, 0.0);
    evidence.evidence = true;
    e.push(evidence, &mut out, &d);
    assert_eq!(e.readings, 1, "only the evidence survives bad_rate 1.0");
    for (i, l) in lines(&out).iter().enumerate() {
        decoder.decode(l, i as u64 + 1, T0, &mut batch, &mut dead);
    }
    assert_eq!(batch.len(), 1);
    let mut got: BTreeMap<String, u64> = BTreeMap::new();
    for dl in &dead {
        *got.entry(dl.reason.as_str().to_owned()).or_default() += 1;
    }
    assert_eq!(got, e.bad_counts());
    assert_eq!(got.len(), 5, "all kinds drawn: {got:?}");
    assert!(got.values().all(|&n| n > 450), "{got:?}");
    for name in UNKNOWN_SENSORS {
        assert_eq!(SensorKind::from_name(name), None);
    }
}
