//! Canonical encodings: the schema fingerprint, the row encoding hashed into Merkle leaves,
//! and the event-time range of a batch. `docs/FORMAT.md` is the normative description; the
//! constants here are its tags.
//!
//! Row encoding, per column in schema order, a tag byte then the value:
//!
//! | Arrow type | bytes |
//! | --- | --- |
//! | null value (any type) | `00` |
//! | Utf8, LargeUtf8, Utf8View, Dictionary(int, any of these) | `01` ‖ u64 LE length ‖ UTF-8 |
//! | Int8, Int16, Int32, Int64 | `02` ‖ i64 LE |
//! | UInt8, UInt16, UInt32, UInt64 | `03` ‖ u64 LE |
//! | Float32, Float64 | `04` ‖ (value as f64) bits, u64 LE |
//! | Timestamp (any unit, any zone) | `05` ‖ i64 LE as stored |
//! | Boolean | `06` ‖ `00`/`01` |
//! | Binary, LargeBinary, BinaryView, FixedSizeBinary | `07` ‖ u64 LE length ‖ bytes |
//!
//! Columns are downcast once per batch ([`RowEncoder::new`]); encoding a row appends to a
//! caller-owned buffer and allocates nothing.

use datafusion::arrow::array::{
    Array, AsArray, BinaryArray, BinaryViewArray, BooleanArray, FixedSizeBinaryArray,
    LargeBinaryArray, LargeStringArray, RecordBatch, StringArray, StringViewArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{
    DataType, Field, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, Schema,
    SchemaRef, TimeUnit, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{DatasetError, Result};
use crate::merkle::{LEAF_PREFIX, MerkleBuilder};

/// Tag of a null value.
pub const TAG_NULL: u8 = 0;
/// Tag of a string value.
pub const TAG_UTF8: u8 = 1;
/// Tag of a signed integer value.
pub const TAG_INT: u8 = 2;
/// Tag of an unsigned integer value.
pub const TAG_UINT: u8 = 3;
/// Tag of a floating-point value.
pub const TAG_FLOAT: u8 = 4;
/// Tag of a timestamp value.
pub const TAG_TIMESTAMP: u8 = 5;
/// Tag of a boolean value.
pub const TAG_BOOL: u8 = 6;
/// Tag of a binary value.
pub const TAG_BINARY: u8 = 7;

/// Domain string of the schema fingerprint.
pub const SCHEMA_DOMAIN: &str = "msec/schema/v1";

/// One field as described in the chain-log header and hashed into the schema fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDesc {
    /// Column name.
    pub name: String,
    /// Canonical type name (see [`type_name`]).
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether the column may hold nulls.
    pub nullable: bool,
}

/// Canonical name of an Arrow type, or `None` if it has no row encoding: `null`, `boolean`,
/// `int8`…`int64`, `uint8`…`uint64`, `float32`, `float64`, `utf8`, `large_utf8`,
/// `utf8_view`, `binary`, `large_binary`, `binary_view`, `fixed_size_binary[N]`,
/// `timestamp[ms|us|ns]` or `timestamp[UNIT,ZONE]`, `dictionary<KEY,VALUE>`. Timestamps in
/// seconds are refused: Parquet cannot store them as timestamps.
pub fn type_name(dt: &DataType) -> Option<String> {
    use DataType as D;
    Some(match dt {
        D::Null => "null".into(),
        D::Boolean => "boolean".into(),
        D::Int8 => "int8".into(),
        D::Int16 => "int16".into(),
        D::Int32 => "int32".into(),
        D::Int64 => "int64".into(),
        D::UInt8 => "uint8".into(),
        D::UInt16 => "uint16".into(),
        D::UInt32 => "uint32".into(),
        D::UInt64 => "uint64".into(),
        D::Float32 => "float32".into(),
        D::Float64 => "float64".into(),
        D::Utf8 => "utf8".into(),
        D::LargeUtf8 => "large_utf8".into(),
        D::Utf8View => "utf8_view".into(),
        D::Binary => "binary".into(),
        D::LargeBinary => "large_binary".into(),
        D::BinaryView => "binary_view".into(),
        D::FixedSizeBinary(n) => format!("fixed_size_binary[{n}]"),
        // Parquet has no seconds timestamp: arrow-rs writes a bare INT64 that readers other
        // than arrow-rs see as an integer, so the values would not hash the same there.
        D::Timestamp(TimeUnit::Second, _) => return None,
        D::Timestamp(unit, tz) => {
            let u = unit_name(*unit);
            match tz {
                Some(tz) => format!("timestamp[{u},{tz}]"),
                None => format!("timestamp[{u}]"),
            }
        }
        D::Dictionary(k, v)
            if k.is_dictionary_key_type()
                && matches!(**v, D::Utf8 | D::LargeUtf8 | D::Utf8View) =>
        {
            format!("dictionary<{},{}>", type_name(k)?, type_name(v)?)
        }
        _ => return None,
    })
}

fn unit_name(unit: TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "us",
        TimeUnit::Nanosecond => "ns",
    }
}

/// Describes `schema` field by field; errors on a type without a row encoding.
pub fn describe_schema(dataset: &str, schema: &Schema) -> Result<Vec<FieldDesc>> {
    schema
        .fields()
        .iter()
        .map(|f| {
            let data_type =
                type_name(f.data_type()).ok_or_else(|| DatasetError::UnsupportedType {
                    dataset: dataset.to_owned(),
                    column: f.name().clone(),
                    data_type: f.data_type().to_string(),
                })?;
            Ok(FieldDesc {
                name: f.name().clone(),
                data_type,
                nullable: f.is_nullable(),
            })
        })
        .collect()
}

/// The inverse of [`type_name`]: the Arrow type of a canonical type name.
pub fn parse_type_name(name: &str) -> Option<DataType> {
    use DataType as D;
    let unit = |u: &str| match u {
        "s" => Some(TimeUnit::Second),
        "ms" => Some(TimeUnit::Millisecond),
        "us" => Some(TimeUnit::Microsecond),
        "ns" => Some(TimeUnit::Nanosecond),
        _ => None,
    };
    Some(match name {
        "null" => D::Null,
        "boolean" => D::Boolean,
        "int8" => D::Int8,
        "int16" => D::Int16,
        "int32" => D::Int32,
        "int64" => D::Int64,
        "uint8" => D::UInt8,
        "uint16" => D::UInt16,
        "uint32" => D::UInt32,
        "uint64" => D::UInt64,
        "float32" => D::Float32,
        "float64" => D::Float64,
        "utf8" => D::Utf8,
        "large_utf8" => D::LargeUtf8,
        "utf8_view" => D::Utf8View,
        "binary" => D::Binary,
        "large_binary" => D::LargeBinary,
        "binary_view" => D::BinaryView,
        _ => {
            if let Some(n) = name
                .strip_prefix("fixed_size_binary[")
                .and_then(|r| r.strip_suffix(']'))
            {
                D::FixedSizeBinary(n.parse().ok()?)
            } else if let Some(inner) = name
                .strip_prefix("timestamp[")
                .and_then(|r| r.strip_suffix(']'))
            {
                match inner.split_once(',') {
                    Some((u, tz)) => D::Timestamp(unit(u)?, Some(tz.into())),
                    None => D::Timestamp(unit(inner)?, None),
                }
            } else if let Some(inner) = name
                .strip_prefix("dictionary<")
                .and_then(|r| r.strip_suffix('>'))
            {
                let (k, v) = inner.split_once(',')?;
                D::Dictionary(Box::new(parse_type_name(k)?), Box::new(parse_type_name(v)?))
            } else {
                return None;
            }
        }
    })
}

/// The Arrow schema described by a chain-log header's fields (e.g. to expose a dataset that
/// has no sealed segment yet as an empty table).
pub fn arrow_schema(dataset: &str, fields: &[FieldDesc]) -> Result<SchemaRef> {
    let fields: Result<Vec<Field>> = fields
        .iter()
        .map(|f| {
            let dt =
                parse_type_name(&f.data_type).ok_or_else(|| DatasetError::UnsupportedType {
                    dataset: dataset.to_owned(),
                    column: f.name.clone(),
                    data_type: f.data_type.clone(),
                })?;
            Ok(Field::new(&f.name, dt, f.nullable))
        })
        .collect();
    Ok(Arc::new(Schema::new(fields?)))
}

/// The schema as stored in the chain-log header and the catalog: a JSON array of
/// `{"name","type","nullable"}` objects.
pub fn schema_json(fields: &[FieldDesc]) -> String {
    serde_json::to_string(fields).unwrap_or_default()
}

/// Schema fingerprint = BLAKE3(lp("msec/schema/v1") ‖ u64 field count ‖ for each field:
/// lp(name) ‖ lp(type name) ‖ u8 nullable). `lp(x)` = u64 LE byte length ‖ bytes.
pub fn fingerprint(fields: &[FieldDesc]) -> Digest {
    let mut h = blake3::Hasher::new();
    put_lp(&mut h, SCHEMA_DOMAIN.as_bytes());
    h.update(&(fields.len() as u64).to_le_bytes());
    for f in fields {
        put_lp(&mut h, f.name.as_bytes());
        put_lp(&mut h, f.data_type.as_bytes());
        h.update(&[u8::from(f.nullable)]);
    }
    h.finalize().into()
}

/// [`fingerprint`] of an Arrow schema.
pub fn schema_fingerprint(dataset: &str, schema: &Schema) -> Result<Digest> {
    Ok(fingerprint(&describe_schema(dataset, schema)?))
}

pub(crate) fn put_lp(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

enum Strs<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Strs<'a> {
    fn of(a: &'a dyn Array) -> Option<Self> {
        match a.data_type() {
            DataType::Utf8 => Some(Self::Utf8(a.as_string::<i32>())),
            DataType::LargeUtf8 => Some(Self::Large(a.as_string::<i64>())),
            DataType::Utf8View => Some(Self::View(a.as_string_view())),
            _ => None,
        }
    }

    #[inline]
    fn bytes(&self, i: usize) -> &'a [u8] {
        match self {
            Self::Utf8(a) => a.value(i).as_bytes(),
            Self::Large(a) => a.value(i).as_bytes(),
            Self::View(a) => a.value(i).as_bytes(),
        }
    }

    #[inline]
    fn is_null(&self, i: usize) -> bool {
        match self {
            Self::Utf8(a) => a.is_null(i),
            Self::Large(a) => a.is_null(i),
            Self::View(a) => a.is_null(i),
        }
    }
}

enum Bins<'a> {
    Bin(&'a BinaryArray),
    Large(&'a LargeBinaryArray),
    View(&'a BinaryViewArray),
    Fixed(&'a FixedSizeBinaryArray),
}

impl<'a> Bins<'a> {
    #[inline]
    fn bytes(&self, i: usize) -> &'a [u8] {
        match self {
            Self::Bin(a) => a.value(i),
            Self::Large(a) => a.value(i),
            Self::View(a) => a.value(i),
            Self::Fixed(a) => a.value(i),
        }
    }
}

enum Col<'a> {
    AllNull,
    Bool(&'a BooleanArray),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
    Ts(&'a [i64]),
    Str(Strs<'a>),
    Bin(Bins<'a>),
    /// Keys normalised to indexes into `values` (one allocation per batch, not per row).
    Dict(Vec<usize>, Strs<'a>),
}

struct ColView<'a> {
    nulls: Option<&'a NullBuffer>,
    col: Col<'a>,
}

/// Encodes the rows of one batch canonically. Built once per batch.
pub struct RowEncoder<'a> {
    cols: Vec<ColView<'a>>,
    rows: usize,
}

impl<'a> RowEncoder<'a> {
    /// Downcasts each column of `batch`; errors naming the first column without a row
    /// encoding.
    pub fn new(dataset: &str, batch: &'a RecordBatch) -> Result<Self> {
        let schema = batch.schema_ref();
        let mut cols = Vec::with_capacity(batch.num_columns());
        for (field, array) in schema.fields().iter().zip(batch.columns()) {
            let unsupported = || DatasetError::UnsupportedType {
                dataset: dataset.to_owned(),
                column: field.name().clone(),
                data_type: array.data_type().to_string(),
            };
            let a: &'a dyn Array = array.as_ref();
            use DataType as D;
            let col = match a.data_type() {
                D::Null => Col::AllNull,
                D::Boolean => Col::Bool(a.as_boolean()),
                D::Int8 => Col::I8(a.as_primitive::<Int8Type>().values()),
                D::Int16 => Col::I16(a.as_primitive::<Int16Type>().values()),
                D::Int32 => Col::I32(a.as_primitive::<Int32Type>().values()),
                D::Int64 => Col::I64(a.as_primitive::<Int64Type>().values()),
                D::UInt8 => Col::U8(a.as_primitive::<UInt8Type>().values()),
                D::UInt16 => Col::U16(a.as_primitive::<UInt16Type>().values()),
                D::UInt32 => Col::U32(a.as_primitive::<UInt32Type>().values()),
                D::UInt64 => Col::U64(a.as_primitive::<UInt64Type>().values()),
                D::Float32 => Col::F32(a.as_primitive::<Float32Type>().values()),
                D::Float64 => Col::F64(a.as_primitive::<Float64Type>().values()),
                D::Timestamp(unit, _) => Col::Ts(timestamp_values(a, *unit)),
                D::Utf8 | D::LargeUtf8 | D::Utf8View => {
                    Col::Str(Strs::of(a).ok_or_else(unsupported)?)
                }
                D::Binary => Col::Bin(Bins::Bin(a.as_binary::<i32>())),
                D::LargeBinary => Col::Bin(Bins::Large(a.as_binary::<i64>())),
                D::BinaryView => Col::Bin(Bins::View(a.as_binary_view())),
                D::FixedSizeBinary(_) => Col::Bin(Bins::Fixed(a.as_fixed_size_binary())),
                D::Dictionary(_, _) => {
                    let dict = a.as_any_dictionary_opt().ok_or_else(unsupported)?;
                    let values: &'a dyn Array = dict.values().as_ref();
                    let strs = Strs::of(values).ok_or_else(unsupported)?;
                    if values.is_empty() {
                        // Every key is null (a valid key would be out of range).
                        Col::AllNull
                    } else {
                        Col::Dict(dict.normalized_keys(), strs)
                    }
                }
                _ => return Err(unsupported()),
            };
            cols.push(ColView {
                nulls: a.nulls(),
                col,
            });
        }
        Ok(Self {
            cols,
            rows: batch.num_rows(),
        })
    }

    /// Number of rows in the batch.
    pub fn num_rows(&self) -> usize {
        self.rows
    }

    /// Appends the canonical encoding of `row` to `out`.
    #[inline]
    pub fn encode_row(&self, row: usize, out: &mut Vec<u8>) {
        for c in &self.cols {
            if c.nulls.is_some_and(|n| n.is_null(row)) {
                out.push(TAG_NULL);
                continue;
            }
            match &c.col {
                Col::AllNull => out.push(TAG_NULL),
                Col::Bool(a) => out.extend_from_slice(&[TAG_BOOL, u8::from(a.value(row))]),
                Col::I8(v) => put_i64(out, TAG_INT, i64::from(v[row])),
                Col::I16(v) => put_i64(out, TAG_INT, i64::from(v[row])),
                Col::I32(v) => put_i64(out, TAG_INT, i64::from(v[row])),
                Col::I64(v) => put_i64(out, TAG_INT, v[row]),
                Col::U8(v) => put_u64(out, TAG_UINT, u64::from(v[row])),
                Col::U16(v) => put_u64(out, TAG_UINT, u64::from(v[row])),
                Col::U32(v) => put_u64(out, TAG_UINT, u64::from(v[row])),
                Col::U64(v) => put_u64(out, TAG_UINT, v[row]),
                Col::F32(v) => put_u64(out, TAG_FLOAT, f64::from(v[row]).to_bits()),
                Col::F64(v) => put_u64(out, TAG_FLOAT, v[row].to_bits()),
                Col::Ts(v) => put_i64(out, TAG_TIMESTAMP, v[row]),
                Col::Str(s) => put_bytes(out, TAG_UTF8, s.bytes(row)),
                Col::Bin(b) => put_bytes(out, TAG_BINARY, b.bytes(row)),
                Col::Dict(keys, values) => {
                    let k = keys[row];
                    if values.is_null(k) {
                        out.push(TAG_NULL);
                    } else {
                        put_bytes(out, TAG_UTF8, values.bytes(k));
                    }
                }
            }
        }
    }

    /// Leaf hash of `row`: BLAKE3(0x00 ‖ encoding). `buf` is scratch space, reused.
    #[inline]
    pub fn leaf(&self, row: usize, buf: &mut Vec<u8>) -> [u8; 32] {
        buf.clear();
        buf.push(LEAF_PREFIX);
        self.encode_row(row, buf);
        *blake3::hash(buf).as_bytes()
    }

    /// Pushes the leaf of every row, in order, into `merkle`.
    pub fn push_leaves(&self, merkle: &mut MerkleBuilder, buf: &mut Vec<u8>) {
        for row in 0..self.rows {
            merkle.push(self.leaf(row, buf));
        }
    }
}

/// Leaf hashes of every row of `batch` (for tests and erasure; the writer streams instead).
pub fn leaf_hashes(dataset: &str, batch: &RecordBatch) -> Result<Vec<[u8; 32]>> {
    let enc = RowEncoder::new(dataset, batch)?;
    let mut buf = Vec::new();
    Ok((0..enc.num_rows()).map(|r| enc.leaf(r, &mut buf)).collect())
}

fn timestamp_values(a: &dyn Array, unit: TimeUnit) -> &[i64] {
    use datafusion::arrow::datatypes::{
        TimestampMicrosecondType as Us, TimestampMillisecondType as Ms,
        TimestampNanosecondType as Ns, TimestampSecondType as S,
    };
    match unit {
        TimeUnit::Second => a.as_primitive::<S>().values(),
        TimeUnit::Millisecond => a.as_primitive::<Ms>().values(),
        TimeUnit::Microsecond => a.as_primitive::<Us>().values(),
        TimeUnit::Nanosecond => a.as_primitive::<Ns>().values(),
    }
}

#[inline]
fn put_i64(out: &mut Vec<u8>, tag: u8, v: i64) {
    out.push(tag);
    out.extend_from_slice(&v.to_le_bytes());
}

#[inline]
fn put_u64(out: &mut Vec<u8>, tag: u8, v: u64) {
    out.push(tag);
    out.extend_from_slice(&v.to_le_bytes());
}

#[inline]
fn put_bytes(out: &mut Vec<u8>, tag: u8, b: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

/// Finds the time column `column` in `schema` and checks its type: a timestamp of any unit,
/// or `Int64` holding epoch milliseconds. Returns its index.
pub fn time_column(dataset: &str, schema: &Schema, column: &str) -> Result<usize> {
    let err = |reason: String| DatasetError::TimeColumn {
        dataset: dataset.to_owned(),
        column: column.to_owned(),
        reason,
    };
    let (idx, field) = schema
        .column_with_name(column)
        .ok_or_else(|| err("no such column".into()))?;
    match field.data_type() {
        DataType::Timestamp(_, _) | DataType::Int64 => Ok(idx),
        other => Err(err(format!(
            "type {other} is neither a timestamp nor Int64 epoch ms"
        ))),
    }
}

/// Min and max of a time column in epoch ms (timestamps converted from their unit, rounding
/// towards −∞; Int64 taken as epoch ms), ignoring nulls. `None` if every value is null or
/// the column is of another type.
pub fn time_range(array: &dyn Array) -> Option<(i64, i64)> {
    let (values, unit) = match array.data_type() {
        DataType::Timestamp(unit, _) => (timestamp_values(array, *unit), *unit),
        DataType::Int64 => (
            &array.as_primitive::<Int64Type>().values()[..],
            TimeUnit::Millisecond,
        ),
        _ => return None,
    };
    let (lo, hi) = match array.nulls() {
        None => values.iter().fold(None, |acc, &v| fold_min_max(acc, v)),
        Some(n) => n
            .valid_indices()
            .fold(None, |acc, i| fold_min_max(acc, values[i])),
    }?;
    Some((to_millis(lo, unit), to_millis(hi, unit)))
}

#[inline]
fn fold_min_max(acc: Option<(i64, i64)>, v: i64) -> Option<(i64, i64)> {
    Some(match acc {
        None => (v, v),
        Some((lo, hi)) => (lo.min(v), hi.max(v)),
    })
}

fn to_millis(v: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => v.saturating_mul(1000),
        TimeUnit::Millisecond => v,
        TimeUnit::Microsecond => v.div_euclid(1000),
        TimeUnit::Nanosecond => v.div_euclid(1_000_000),
    }
}

/// Merges two optional ranges.
pub fn merge_range(a: Option<(i64, i64)>, b: Option<(i64, i64)>) -> Option<(i64, i64)> {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
        (x, None) | (None, x) => x,
    }
}

#[cfg(test)]
#[path = "encoding_tests.rs"]
mod tests;
