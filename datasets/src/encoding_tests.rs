//! Unit tests of the canonical encodings (byte-exact goldens, layout independence).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int8Array,
    Int64Array, LargeStringArray, NullArray, StringArray, StringViewArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt16Array,
};
use datafusion::arrow::datatypes::{Field, Int32Type};

use super::*;

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(cols).unwrap()
}

fn encode(b: &RecordBatch, row: usize) -> Vec<u8> {
    let mut out = Vec::new();
    RowEncoder::new("t", b).unwrap().encode_row(row, &mut out);
    out
}

#[test]
fn golden_row_every_tag() {
    let b = batch(vec![
        (
            "s",
            Arc::new(StringArray::from(vec![Some("ab"), None])) as ArrayRef,
        ),
        ("i", Arc::new(Int8Array::from(vec![-1, 2]))),
        ("u", Arc::new(UInt16Array::from(vec![258, 0]))),
        ("f", Arc::new(Float32Array::from(vec![1.5, 0.0]))),
        ("t", Arc::new(TimestampMillisecondArray::from(vec![7, 8]))),
        ("b", Arc::new(BooleanArray::from(vec![true, false]))),
        (
            "x",
            Arc::new(BinaryArray::from(vec![&b"\x00\xff"[..], b""])),
        ),
        ("n", Arc::new(NullArray::new(2))),
    ]);
    let mut want = vec![1u8];
    want.extend(2u64.to_le_bytes());
    want.extend(b"ab");
    want.push(2);
    want.extend((-1i64).to_le_bytes());
    want.push(3);
    want.extend(258u64.to_le_bytes());
    want.push(4);
    want.extend(1.5f64.to_bits().to_le_bytes());
    want.push(5);
    want.extend(7i64.to_le_bytes());
    want.extend([6, 1]);
    want.push(7);
    want.extend(2u64.to_le_bytes());
    want.extend([0x00, 0xff]);
    want.push(0);
    assert_eq!(encode(&b, 0), want);

    // Row 1: the string is null → a lone 0 tag.
    assert_eq!(encode(&b, 1)[0], TAG_NULL);
    assert_eq!(encode(&b, 1)[1], TAG_INT);

    let mut leaf_input = vec![LEAF_PREFIX];
    leaf_input.extend(&want);
    let leaves = leaf_hashes("t", &b).unwrap();
    assert_eq!(leaves[0], *blake3::hash(&leaf_input).as_bytes());
}

#[test]
fn strings_hash_the_same_whatever_the_layout() {
    let vals = vec![
        Some("llamas-env-03"),
        None,
        Some("co2"),
        Some("llamas-env-03"),
    ];
    let plain = batch(vec![(
        "d",
        Arc::new(StringArray::from(vals.clone())) as ArrayRef,
    )]);
    let large = batch(vec![(
        "d",
        Arc::new(LargeStringArray::from(vals.clone())) as ArrayRef,
    )]);
    let view = batch(vec![(
        "d",
        Arc::new(StringViewArray::from(vals.clone())) as ArrayRef,
    )]);
    let dict: DictionaryArray<Int32Type> = vals.iter().copied().collect();
    let dict = batch(vec![("d", Arc::new(dict) as ArrayRef)]);
    let want = leaf_hashes("t", &plain).unwrap();
    for b in [&large, &view, &dict] {
        assert_eq!(leaf_hashes("t", b).unwrap(), want);
    }
    // Slices encode their own rows, not the parent's first rows.
    assert_eq!(leaf_hashes("t", &dict.slice(2, 2)).unwrap(), want[2..]);
    assert_eq!(leaf_hashes("t", &plain.slice(1, 3)).unwrap(), want[1..]);
}

#[test]
fn float32_widens_to_f64_bits() {
    let a = batch(vec![(
        "v",
        Arc::new(Float32Array::from(vec![0.1f32])) as ArrayRef,
    )]);
    let b = batch(vec![(
        "v",
        Arc::new(Float64Array::from(vec![f64::from(0.1f32)])) as ArrayRef,
    )]);
    assert_eq!(encode(&a, 0), encode(&b, 0));
}

#[test]
fn unsupported_type_names_the_column() {
    let schema = Schema::new(vec![
        Field::new("ok", DataType::Utf8, false),
        Field::new("when", DataType::Date32, true),
    ]);
    let err = describe_schema("ds", &schema).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("\"when\"") && msg.contains("ds"), "{msg}");
}

#[test]
fn fingerprint_is_stable_and_sensitive() {
    let fields = |name: &str, dt: DataType, nullable: bool| {
        Schema::new(vec![
            Field::new("device", DataType::Utf8, false),
            Field::new(name, dt, nullable),
        ])
    };
    let base = schema_fingerprint("t", &fields("value", DataType::Float64, true)).unwrap();
    let again = schema_fingerprint("t", &fields("value", DataType::Float64, true)).unwrap();
    assert_eq!(base, again);
    for other in [
        fields("valu", DataType::Float64, true),
        fields("value", DataType::Float32, true),
        fields("value", DataType::Float64, false),
    ] {
        assert_ne!(schema_fingerprint("t", &other).unwrap(), base);
    }
    // Field metadata does not count.
    let mut s = fields("value", DataType::Float64, true);
    s.fields = s
        .fields
        .iter()
        .map(|f| {
            Arc::new(
                f.as_ref()
                    .clone()
                    .with_metadata([("k".into(), "v".into())].into()),
            )
        })
        .collect();
    assert_eq!(schema_fingerprint("t", &s).unwrap(), base);
}

#[test]
fn type_names() {
    use DataType as D;
    let ts = D::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
    assert_eq!(type_name(&ts).as_deref(), Some("timestamp[ms,UTC]"));
    let d = D::Dictionary(Box::new(D::UInt16), Box::new(D::Utf8));
    assert_eq!(type_name(&d).as_deref(), Some("dictionary<uint16,utf8>"));
    let d = D::Dictionary(Box::new(D::Int32), Box::new(D::Int64));
    assert_eq!(type_name(&d), None);
    assert_eq!(type_name(&D::Float16), None);
    assert_eq!(type_name(&D::Timestamp(TimeUnit::Second, None)), None);
}

#[test]
fn time_ranges() {
    let ms = TimestampMillisecondArray::from(vec![Some(5), None, Some(-3), Some(9)]);
    assert_eq!(time_range(&ms), Some((-3, 9)));
    let ns = TimestampNanosecondArray::from(vec![1_999_999, -1]);
    assert_eq!(time_range(&ns), Some((-1, 1)));
    let s = TimestampSecondArray::from(vec![2]);
    assert_eq!(time_range(&s), Some((2000, 2000)));
    let i = Int64Array::from(vec![None, Some(42)]);
    assert_eq!(time_range(&i), Some((42, 42)));
    assert_eq!(time_range(&Int64Array::from(vec![None::<i64>])), None);
    assert_eq!(time_range(&Float64Array::from(vec![1.0])), None);
    assert_eq!(merge_range(Some((1, 2)), Some((0, 1))), Some((0, 2)));
    assert_eq!(merge_range(None, Some((0, 1))), Some((0, 1)));
}

#[test]
fn type_names_parse_back() {
    use DataType as D;
    for dt in [
        D::Boolean,
        D::Int64,
        D::UInt64,
        D::Float64,
        D::Utf8,
        D::Binary,
        D::FixedSizeBinary(16),
        D::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        D::Timestamp(TimeUnit::Nanosecond, None),
        D::Dictionary(Box::new(D::Int32), Box::new(D::Utf8)),
    ] {
        let name = type_name(&dt).expect("named");
        assert_eq!(parse_type_name(&name), Some(dt), "{name}");
    }
    assert_eq!(parse_type_name("decimal128"), None);
    assert_eq!(parse_type_name("dictionary<int32"), None);
}
