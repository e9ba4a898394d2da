//! Unit tests of the SOX file splitter and the file source (the decoder's are in `tests.rs`).

use super::*;

/// The records `split` finds in `input` when the buffer grows by `step` bytes whenever it
/// asks for more (as a file read in blocks of `step`).
fn split_all(input: &[u8], step: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let (mut pos, mut have) = (0, step.min(input.len()));
    loop {
        let eof = have == input.len();
        match split(&input[pos..have], eof) {
            Item::End => break,
            Item::Need => {
                assert!(!eof, "Need at the end");
                have = (have + step).min(input.len());
            }
            Item::Skip(n) => {
                assert!(n > 0);
                pos += n;
            }
            Item::Record { start, end } => {
                assert!(start < end);
                out.push(&input[pos + start..pos + end]);
                pos += end;
            }
        }
    }
    out
}

/// [`split_all`] as text.
fn records(input: &str, step: usize) -> Vec<String> {
    split_all(input.as_bytes(), step)
        .into_iter()
        .map(|r| String::from_utf8_lossy(r).into_owned())
        .collect()
}

/// `records` in one piece and in steps of 1, 2, 3, 7 and 64 bytes agree with `expected`.
#[track_caller]
fn assert_records(input: &str, expected: &[&str]) {
    for step in [input.len().max(1), 1, 2, 3, 7, 64] {
        assert_eq!(records(input, step), expected, "step {step} of {input:?}");
    }
}

#[test]
fn split_concatenated_and_wrapped_documents() {
    let a = r#"<data device="a"><transducerValue id="pm25" typedValue="1" timestamp="1"/></data>"#;
    let b = r#"<sox:data device="b"></sox:data>"#;
    let c = r#"<data device="c"/>"#;
    assert_records(&format!("{a}{b}\n{c}\n"), &[a, b, c]);
    assert_records(
        &format!(
            "<?xml version=\"1.0\"?>\n<!-- <data> in a comment -->\n<items node=\"n\">\n <item id=\"1\">{a}</item>\n <item id='2'>{b}</item>\n<item id=\"x>y\">{c}</item></items>\n"
        ),
        &[a, b, c],
    );
    assert_records("", &[]);
    assert_records("  \n<items/>\n", &[]);
    // Names that only end or start like `data` are other elements.
    assert_records("<metadata x=\"1\"><database/></metadata><data-set/>", &[]);
}

#[test]
fn split_skips_markup_inside_documents() {
    let a = r#"<data device="a"><!-- </data> --><![CDATA[</data>]]><?pi </data>?><transducerValue id="a>b" typedValue='x>y'/></data>"#;
    assert_records(&format!("{a}\n{a}"), &[a, a]);
    // `<` cannot be in a value: it ends the (malformed) tag, so an unclosed quote does not
    // swallow the documents after it.
    let b = r#"<data device="b"><transducerValue id="a/></data>"#;
    assert_records(&format!("{b}\n{a}"), &[b, a]);
}

#[test]
fn split_unclosed_documents_end_before_the_next() {
    let a = r#"<data device="a"><transducerValue id="pm25"/>"#;
    let b = r#"<data device="b"></data>"#;
    assert_records(&format!("{a}\n  {b}"), &[a, b]);
    // Wrapper tags after an unclosed document belong to it.
    assert_records(
        &format!("<item>{a}</item>\n<item>{b}</item>"),
        &[&format!("{a}</item>\n<item>"), b],
    );
    // At the end of the input.
    assert_records(&format!("{b}\n{a}\n\n"), &[b, a]);
    assert_records(&format!("{b}<data device=\"x"), &[b, "<data device=\"x"]);
    // An unterminated comment, CDATA section or processing instruction hides nothing.
    assert_records(&format!("<data><!-- {b}"), &["<data><!--", b]);
    assert_records(&format!("<data><![CDATA[ {b}"), &["<data><![CDATA[", b]);
    assert_records(&format!("<data><? {b}"), &["<data><?", b]);
    assert_records(&format!("<!-- {b}"), &["<!--", b]);
    assert_records(&format!("<data><!-- x --> {b}"), &["<data><!-- x -->", b]);
}

#[test]
fn split_stray_content_is_one_record_per_run() {
    let b = r#"<data device="b"></data>"#;
    assert_records(&format!("garbage {b}"), &["garbage", b]);
    assert_records(
        &format!("{b}\nsome text\n<!-- c --><item>more</item>\n{b}\ntail  \n"),
        &[b, "some text\n<!-- c --><item>more", b, "tail"],
    );
    assert_records(
        &format!("</data>{b}<transducerValue id=\"x\"/>"),
        &["</data>", b, "<transducerValue id=\"x\"/>"],
    );
    assert_records(&format!("<1bad>{b}"), &["<1bad>", b]);
    assert_records(&format!("<item attr=\"<\">{b}"), &["<item attr=\"<\">", b]);
    assert_records("<!-- unterminated", &["<!-- unterminated"]);
    assert_records("<item", &["<item"]);
}

/// SplitMix64: a small deterministic generator for the mutation test.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_files_split_the_same_in_any_blocks_and_never_panic() {
    let base: String = (0..6)
        .map(|s| {
            format!(
                "<item id='{s}'><!-- c -->{}</item>\n",
                doc(&tv("pm2.5", "12.5", &format!("{}", T0 + s * 10_000)))
            )
        })
        .collect();
    let specials = b"<>/\"'=!-?[]& \nax:\xff";
    let mut rng = Mix(7);
    for round in 0..300 {
        let mut input = base.as_bytes().to_vec();
        let mutations = 1 + rng.below(3);
        for _ in 0..mutations {
            let at = rng.below(input.len());
            match rng.below(3) {
                0 => input[at] = specials[rng.below(specials.len())],
                1 => {
                    input.remove(at);
                }
                _ => input.insert(at, specials[rng.below(specials.len())]),
            }
        }
        let whole = split_all(&input, input.len().max(1));
        for step in [1, 5, 64] {
            assert_eq!(split_all(&input, step), whole, "round {round} step {step}");
        }
        let (mut d, _) = decoder();
        let (mut readings, mut dead) = (ReadingBatch::with_capacity(0, 8), Vec::new());
        for (i, record) in whole.iter().enumerate() {
            d.decode(record, None, i as u64 + 1, NOW, &mut readings, &mut dead);
        }
        // One mutation costs at most one document: the others still give their reading.
        assert!(
            readings.len() + mutations >= 6,
            "round {round}: {:?}",
            String::from_utf8_lossy(&input)
        );
        assert!(dead.iter().all(|d| d.reason != Late), "round {round}");
    }
}

#[test]
fn file_devices_are_file_stems() {
    for (path, device) in [
        ("dir/fujisawa-truck-07.xml", Some("fujisawa-truck-07")),
        ("fujisawa-truck-07.XML.gz", Some("fujisawa-truck-07")),
        ("truck.v2.xml", Some("truck.v2")),
        ("noext", Some("noext")),
        (".xml", Some(".xml")),
    ] {
        assert_eq!(
            file_device(std::path::Path::new(path)).as_deref(),
            device,
            "{path}"
        );
    }
}

// ---- the file source ----

fn drain(source: SoxSource, cfg: &PipelineConfig) -> (SourceSummary, Vec<SourceBatch>) {
    let (tx, rx) = batch_channel(source.name(), cfg.channel_capacity);
    let handle = std::thread::spawn(move || source.run(&tx));
    let batches: Vec<SourceBatch> = rx.iter().collect();
    let summary = handle.join().expect("source thread").expect("source run");
    (summary, batches)
}

/// A document of `device` (none: no attribute) with one pm25 `value` at `T0 + s` seconds.
fn pm(device: Option<&str>, s: i64, value: f64) -> String {
    let attr = device.map_or(String::new(), |d| format!(r#" device="{d}""#));
    format!(
        r#"<data{attr}><transducerValue id="pm25" typedValue="{value}" timestamp="{}"/></data>"#,
        T0 + s * 1000
    )
}

#[test]
fn a_file_in_batches_with_bom_and_stems() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("truck-3.xml");
    let mut text = b"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<items>".to_vec();
    for s in 0..5 {
        text.extend(format!("<item>{}</item>\n", pm(None, s * 10, 1.0 + s as f64)).bytes());
    }
    text.extend(b"oops</items>\n");
    std::fs::write(&path, &text).expect("write");

    let cfg = PipelineConfig {
        batch_rows: 2,
        ..PipelineConfig::default()
    };
    let interner = Interner::shared();
    let progress = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&progress);
    let source = SoxSource::open(&path, Arc::clone(&interner), &cfg)
        .expect("open")
        .with_progress(Box::new(move |n| seen.lock().expect("lock").push(n)));
    assert_eq!(source.total_bytes(), Some(text.len() as u64));
    assert_eq!(source.paths(), std::slice::from_ref(&path));
    let name = source.name().to_owned();
    let (summary, batches) = drain(source, &cfg);
    assert_eq!(summary.records, 6);
    assert_eq!(summary.readings, 5);
    assert_eq!(summary.bytes, text.len() as u64);
    assert_eq!(summary.dead_letters.get(&Parse), Some(&1));
    let sizes: Vec<_> = batches.iter().map(|b| b.readings.len()).collect();
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(batches[0].watermark, Some(T0 + 10_000 - 5_000));
    assert_eq!(batches[2].watermark, Some(T0 + 40_000 - 5_000));
    let r = &batches[1].readings;
    assert_eq!(interner.name(r.source).as_deref(), Some(name.as_str()));
    assert_eq!(interner.name(r.device[0]).as_deref(), Some("truck-3"));
    assert_eq!(r.offset, vec![3, 4]);
    let dead = &batches[2].dead_letters;
    assert_eq!((dead[0].offset, &*dead[0].source), (6, name.as_str()));
    assert_eq!(dead[0].raw, b"oops");
    let progress = progress.lock().expect("lock").clone();
    assert_eq!(progress.last(), Some(&(text.len() as u64)));
    assert_eq!(progress.len(), 3);
}

#[test]
fn a_directory_is_merged_by_event_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two trucks over the same minute: read one after the other, the second would be late.
    let a: String = (0..6).map(|s| pm(Some("a"), s * 10, 1.0)).collect();
    let b: String = (0..6).map(|s| pm(None, s * 10 + 5, 2.0)).collect();
    std::fs::write(dir.path().join("a.xml"), &a).expect("write");
    std::fs::write(dir.path().join("b.XML"), format!("{b}<data>")).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not sox").expect("write");
    let cfg = PipelineConfig::default();
    let interner = Interner::shared();
    let source = SoxSource::open(dir.path(), Arc::clone(&interner), &cfg).expect("open");
    assert_eq!(source.paths().len(), 2);
    let (summary, batches) = drain(source, &cfg);
    assert_eq!(summary.readings, 12, "{summary:?}");
    assert_eq!(summary.records, 13);
    assert_eq!(summary.dead_lettered(), 1);
    let r = &batches[0].readings;
    let order: Vec<_> = (0..r.len())
        .map(|i| {
            (
                interner.name(r.device[i]).map(|n| n.to_string()),
                r.offset[i],
            )
        })
        .collect();
    assert_eq!(
        order[..3],
        [
            (Some("a".into()), 1),
            (Some("b".into()), 1),
            (Some("a".into()), 2)
        ]
    );
    assert_eq!(
        interner.name(r.source).as_deref(),
        Some(dir.path().display().to_string().as_str())
    );
    let dead = &batches[0].dead_letters[0];
    assert_eq!(dead.offset, 7);
    assert!(dead.source.ends_with("b.XML"), "{}", dead.source);
}

#[test]
fn gzip_files_are_read() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("z-truck.xml.gz");
    let text: String = (0..3).map(|s| pm(None, s, 3.0)).collect();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("create"),
        flate2::Compression::fast(),
    );
    gz.write_all(text.as_bytes()).expect("gzip");
    gz.finish().expect("gzip");
    let cfg = PipelineConfig::default();
    let interner = Interner::shared();
    let source = SoxSource::open(dir.path(), Arc::clone(&interner), &cfg).expect("open");
    assert_eq!(source.total_bytes(), None);
    let (summary, batches) = drain(source, &cfg);
    assert_eq!((summary.readings, summary.bytes), (3, text.len() as u64));
    let device = batches[0].readings.device[0];
    assert_eq!(interner.name(device).as_deref(), Some("z-truck"));
}

#[test]
fn open_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = PipelineConfig::default();
    let err = SoxSource::open(&dir.path().join("nope.xml"), Interner::shared(), &cfg)
        .expect_err("missing file");
    assert!(matches!(err, crate::ConnectorError::Open { .. }), "{err}");
    let err = SoxSource::open(dir.path(), Interner::shared(), &cfg).expect_err("empty dir");
    assert!(err.to_string().contains("no .xml"), "{err}");
}
