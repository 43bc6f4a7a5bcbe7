//! Binary COPY tuples -> Arrow columns. A row is decoded whole into scalars first and only
//! then appended, so a value that does not fit (numeric overflow, infinity dates) makes the
//! row dirty without leaving half of it behind.

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder,
    Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, ListArray, RecordBatch};
use arrow_buffer::{i256, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, FieldRef, SchemaRef};
use datasync_db::postgres::PostgresKind;
use std::sync::Arc;

/// Days from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_DAYS: i64 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The 11-byte signature that starts a binary COPY stream.
pub const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// One decoded value.
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Dec(i128),
    Dec256(i256),
    Str(&'a str),
    Owned(String),
    Bytes(&'a [u8]),
    Date(i32),
    Micros(i64),
    List(Vec<Scalar<'a>>),
}

/// How one column is decoded: its kind, a numeric's precision, an array's element.
#[derive(Debug, Clone, Copy)]
pub struct ColKind {
    /// The column's kind.
    pub kind: PostgresKind,
    /// Precision of a numeric column (or numeric elements).
    pub precision: u8,
    /// Kind and precision of an array's elements.
    pub elem: Option<(PostgresKind, u8)>,
}

fn be<const N: usize>(b: &[u8]) -> Result<[u8; N], String> {
    b.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", b.len()))
}

/// A binary COPY value as readable text for a dirty record: decoded as the column's type
/// where it decodes (numbers, dates, text; arrays as JSON lists), `\\x` hex otherwise.
pub fn readable(col: ColKind, b: &[u8]) -> serde_json::Value {
    match decode(col, b) {
        Ok(v) => scalar_value(&v, col.kind, col.elem.map(|(k, _)| k)),
        Err(_) => match (col.kind, b.get(4..6)) {
            // A numeric's special values (which no decimal holds).
            (PostgresKind::Numeric(_), Some([0xC0, 0])) => "NaN".into(),
            (PostgresKind::Numeric(_), Some([0xD0, 0])) => "Infinity".into(),
            (PostgresKind::Numeric(_), Some([0xF0, 0])) => "-Infinity".into(),
            _ => serde_json::Value::String(hex(b)),
        },
    }
}

fn hex(b: &[u8]) -> String {
    format!(
        "\\x{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

fn scalar_value(
    v: &Scalar<'_>,
    kind: PostgresKind,
    elem: Option<PostgresKind>,
) -> serde_json::Value {
    use serde_json::Value;
    let text = match v {
        Scalar::Null => return Value::Null,
        Scalar::List(items) => {
            let k = elem.unwrap_or(PostgresKind::Text);
            return Value::Array(items.iter().map(|i| scalar_value(i, k, None)).collect());
        }
        Scalar::Bool(x) => x.to_string(),
        Scalar::I16(x) => x.to_string(),
        Scalar::I32(x) => x.to_string(),
        Scalar::I64(x) => x.to_string(),
        Scalar::F32(x) => x.to_string(),
        Scalar::F64(x) => x.to_string(),
        Scalar::Dec(x) => {
            datasync_codec::decimal_string(*x < 0, &x.unsigned_abs().to_string(), scale_of(kind))
        }
        Scalar::Dec256(x) => {
            let digits = x.to_string();
            datasync_codec::decimal_string(
                x.is_negative(),
                digits.trim_start_matches('-'),
                scale_of(kind),
            )
        }
        Scalar::Str(s) => (*s).to_string(),
        Scalar::Owned(s) => s.clone(),
        Scalar::Bytes(b) => hex(b),
        Scalar::Date(d) => chrono::NaiveDate::default()
            .checked_add_signed(chrono::TimeDelta::days(i64::from(*d)))
            .map(|d| d.to_string())
            .unwrap_or_else(|| d.to_string()),
        Scalar::Micros(m) if kind == PostgresKind::Time => {
            let (secs, micros) = (m.div_euclid(1_000_000), m.rem_euclid(1_000_000));
            format!(
                "{:02}:{:02}:{:02}.{micros:06}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            )
        }
        Scalar::Micros(m) => chrono::DateTime::from_timestamp_micros(*m)
            .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string())
            .unwrap_or_else(|| m.to_string()),
    };
    Value::String(text)
}

/// `v` scaled by 10^-`scale`, as exact decimal text.
/// The scale of a numeric column (0 for others).
fn scale_of(kind: PostgresKind) -> u32 {
    match kind {
        PostgresKind::Numeric(s) => s.max(0) as u32,
        _ => 0,
    }
}

/// Decodes one binary value of `kind` (with the column's `precision` for numerics).
pub fn decode<'a>(col: ColKind, b: &'a [u8]) -> Result<Scalar<'a>, String> {
    let precision = col.precision;
    Ok(match col.kind {
        PostgresKind::Array => {
            let (kind, precision) = col.elem.ok_or("array without a known element type")?;
            let elem = ColKind {
                kind,
                precision,
                elem: None,
            };
            let word = |at: usize| -> Result<i32, String> {
                Ok(i32::from_be_bytes(be(b
                    .get(at..at + 4)
                    .ok_or("short array")?)?))
            };
            let ndim = word(0)?;
            if ndim == 0 {
                return Ok(Scalar::List(Vec::new()));
            }
            if ndim != 1 {
                return Err(format!(
                    "{ndim}-dimensional arrays are not supported (one dimension only)"
                ));
            }
            let n = usize::try_from(word(12)?).map_err(|_| "negative array size")?;
            let lower = word(16)?;
            if lower != 1 {
                // A list has no bounds: '[0:1]={7,8}' would come out as '{7,8}'.
                return Err(format!(
                    "array with lower bound {lower} (a list starts at 1; the column was checked \
                     before reading, so the value was written since)"
                ));
            }
            let mut at = 20;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                let len = word(at)?;
                at += 4;
                if len < 0 {
                    items.push(Scalar::Null);
                } else {
                    let end = at + len as usize;
                    items.push(decode(elem, b.get(at..end).ok_or("short array element")?)?);
                    at = end;
                }
            }
            Scalar::List(items)
        }
        PostgresKind::Bool => Scalar::Bool(b.first().copied().ok_or("empty bool")? != 0),
        PostgresKind::I16 => Scalar::I16(i16::from_be_bytes(be(b)?)),
        PostgresKind::I32 => Scalar::I32(i32::from_be_bytes(be(b)?)),
        PostgresKind::I64 => Scalar::I64(i64::from_be_bytes(be(b)?)),
        PostgresKind::F32 => Scalar::F32(f32::from_be_bytes(be(b)?)),
        PostgresKind::F64 => Scalar::F64(f64::from_be_bytes(be(b)?)),
        PostgresKind::Text => {
            Scalar::Str(std::str::from_utf8(b).map_err(|_| "text is not valid UTF-8")?)
        }
        PostgresKind::Jsonb => match b.split_first() {
            Some((1, rest)) => {
                Scalar::Str(std::str::from_utf8(rest).map_err(|_| "jsonb is not valid UTF-8")?)
            }
            _ => return Err("unknown jsonb version".into()),
        },
        PostgresKind::Bytes => Scalar::Bytes(b),
        PostgresKind::Uuid => {
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            if h.len() != 32 {
                return Err("uuid is not 16 bytes".into());
            }
            Scalar::Owned(format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            ))
        }
        PostgresKind::Date => {
            let d = i32::from_be_bytes(be(b)?);
            if datasync_codec::date_infinity(d).is_some() {
                // PostgreSQL stores its infinities as these extremes; so do we (see codec).
                return Ok(Scalar::Date(d));
            }
            Scalar::Date(
                i32::try_from(i64::from(d) + PG_EPOCH_DAYS).map_err(|_| "date out of range")?,
            )
        }
        PostgresKind::Timestamp => {
            let t = i64::from_be_bytes(be(b)?);
            if datasync_codec::timestamp_infinity(t).is_some() {
                return Ok(Scalar::Micros(t));
            }
            Scalar::Micros(
                t.checked_add(PG_EPOCH_MICROS)
                    .ok_or("timestamp out of range")?,
            )
        }
        PostgresKind::Time => Scalar::Micros(i64::from_be_bytes(be(b)?)),
        PostgresKind::Numeric(scale) if precision > 38 => {
            Scalar::Dec256(numeric256(b, precision, scale)?)
        }
        PostgresKind::Numeric(scale) => Scalar::Dec(numeric(b, precision, scale)?),
    })
}

/// PostgreSQL's binary numeric (base-10000 digits) at `scale`, exactly: more fraction digits
/// than the scale, or more digits than the precision, is an error, never a rounding.
pub fn numeric(b: &[u8], precision: u8, scale: i8) -> Result<i128, String> {
    let (n, weight, negative) = numeric_header(b)?;
    let scale = i32::from(scale);
    let mut acc: i128 = 0;
    let overflow = || format!("does not fit decimal({precision},{scale})");
    for i in 0..n {
        let digit = i128::from(u16::from_be_bytes([b[8 + 2 * i], b[9 + 2 * i]]));
        // This digit's power of ten once scaled: 4 * (weight - i) + scale.
        let exp = 4 * (weight - i as i32) + scale;
        let v = if exp >= 0 {
            digit
                .checked_mul(10i128.checked_pow(exp as u32).ok_or_else(overflow)?)
                .ok_or_else(overflow)?
        } else {
            let div = 10i128.pow((-exp).min(38) as u32);
            if digit % div != 0 {
                return Err(format!("has more fraction digits than scale {scale}"));
            }
            digit / div
        };
        acc = acc.checked_add(v).ok_or_else(overflow)?;
    }
    if acc >= 10i128.pow(u32::from(precision)) {
        return Err(overflow());
    }
    Ok(if negative { -acc } else { acc })
}

/// A binary numeric's digit count, weight and sign; NaN and infinities refused.
fn numeric_header(b: &[u8]) -> Result<(usize, i32, bool), String> {
    if b.len() < 8 {
        return Err("short numeric".into());
    }
    let n = i16::from_be_bytes([b[0], b[1]]) as usize;
    let weight = i16::from_be_bytes([b[2], b[3]]) as i32;
    let negative = match u16::from_be_bytes([b[4], b[5]]) {
        0x0000 => false,
        0x4000 => true,
        0xC000 => return Err("NaN has no decimal value".into()),
        _ => return Err("infinity has no decimal value".into()),
    };
    if b.len() < 8 + 2 * n {
        return Err("short numeric digits".into());
    }
    Ok((n, weight, negative))
}

/// A binary numeric as the scaled integer of a decimal(precision <= 76, scale): the text of
/// its digits, read into an i256 (the same checks as [`numeric`]).
pub fn numeric256(b: &[u8], precision: u8, scale: i8) -> Result<i256, String> {
    let (n, weight, negative) = numeric_header(b)?;
    let scale = i32::from(scale);
    let overflow = || format!("does not fit decimal({precision},{scale})");
    // Base-10000 digits as decimal text, then the point moved by the scale.
    let mut digits = String::new();
    for i in 0..n {
        let d = u16::from_be_bytes([b[8 + 2 * i], b[9 + 2 * i]]);
        digits.push_str(&format!("{d:04}"));
    }
    // The text's last digit stands for 10^(4 * (weight - n + 1)); scaled: + scale.
    let exp = 4 * (weight - n as i32 + 1) + scale;
    if exp >= 0 {
        digits.extend(std::iter::repeat_n('0', exp as usize));
    } else {
        let cut = digits.len().saturating_sub((-exp) as usize);
        if digits[cut..].bytes().any(|c| c != b'0') {
            return Err(format!("has more fraction digits than scale {scale}"));
        }
        digits.truncate(cut);
    }
    let digits = digits.trim_start_matches('0');
    if digits.len() > usize::from(precision) {
        return Err(overflow());
    }
    if digits.is_empty() {
        return Ok(i256::ZERO);
    }
    let v = i256::from_string(digits).ok_or_else(overflow)?;
    Ok(if negative { v.wrapping_neg() } else { v })
}

enum Builder {
    Bool(BooleanBuilder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Dec(Decimal128Builder),
    Dec256(Decimal256Builder),
    Str(StringBuilder),
    Bin(BinaryBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
    Time(Time64MicrosecondBuilder),
    List {
        field: FieldRef,
        offsets: Vec<i32>,
        valid: Vec<bool>,
        child: Box<Builder>,
    },
}

impl Builder {
    fn new(t: &DataType) -> Result<Self, String> {
        Ok(match t {
            DataType::Boolean => Builder::Bool(BooleanBuilder::new()),
            DataType::Int16 => Builder::I16(Int16Builder::new()),
            DataType::Int32 => Builder::I32(Int32Builder::new()),
            DataType::Int64 => Builder::I64(Int64Builder::new()),
            DataType::Float32 => Builder::F32(Float32Builder::new()),
            DataType::Float64 => Builder::F64(Float64Builder::new()),
            DataType::Decimal128(p, s) => Builder::Dec(
                Decimal128Builder::new()
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| e.to_string())?,
            ),
            DataType::Decimal256(p, s) => Builder::Dec256(
                Decimal256Builder::new()
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| e.to_string())?,
            ),
            DataType::Utf8 => Builder::Str(StringBuilder::new()),
            DataType::Binary => Builder::Bin(BinaryBuilder::new()),
            DataType::Date32 => Builder::Date(Date32Builder::new()),
            DataType::Timestamp(..) => Builder::Ts(TimestampMicrosecondBuilder::new()),
            DataType::Time64(..) => Builder::Time(Time64MicrosecondBuilder::new()),
            DataType::List(f) => Builder::List {
                field: f.clone(),
                offsets: vec![0],
                valid: Vec::new(),
                child: Box::new(Builder::new(f.data_type())?),
            },
            other => return Err(format!("no builder for {other}")),
        })
    }

    /// Appends one value (a mismatched scalar, such as Null, appends NULL); returns its bytes.
    fn append(&mut self, v: &Scalar<'_>) -> usize {
        match (self, v) {
            (Builder::Bool(b), Scalar::Bool(x)) => b.append_value(*x),
            (Builder::I16(b), Scalar::I16(x)) => b.append_value(*x),
            (Builder::I32(b), Scalar::I32(x)) => b.append_value(*x),
            (Builder::I64(b), Scalar::I64(x)) => b.append_value(*x),
            (Builder::F32(b), Scalar::F32(x)) => b.append_value(*x),
            (Builder::F64(b), Scalar::F64(x)) => b.append_value(*x),
            (Builder::Dec(b), Scalar::Dec(x)) => b.append_value(*x),
            (Builder::Dec256(b), Scalar::Dec256(x)) => b.append_value(*x),
            (Builder::Str(b), Scalar::Str(x)) => {
                b.append_value(x);
                return x.len() + 8;
            }
            (Builder::Str(b), Scalar::Owned(x)) => {
                b.append_value(x);
                return x.len() + 8;
            }
            (Builder::Bin(b), Scalar::Bytes(x)) => {
                b.append_value(x);
                return x.len() + 8;
            }
            (Builder::Date(b), Scalar::Date(x)) => b.append_value(*x),
            (Builder::Ts(b), Scalar::Micros(x)) => b.append_value(*x),
            (Builder::Time(b), Scalar::Micros(x)) => b.append_value(*x),
            (
                Builder::List {
                    offsets,
                    valid,
                    child,
                    ..
                },
                Scalar::List(items),
            ) => {
                let bytes: usize = items.iter().map(|i| child.append(i)).sum();
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last + items.len() as i32);
                valid.push(true);
                return bytes + 8;
            }
            (b, _) => b.append_null(),
        }
        8
    }

    fn append_null(&mut self) {
        match self {
            Builder::Bool(b) => b.append_null(),
            Builder::I16(b) => b.append_null(),
            Builder::I32(b) => b.append_null(),
            Builder::I64(b) => b.append_null(),
            Builder::F32(b) => b.append_null(),
            Builder::F64(b) => b.append_null(),
            Builder::Dec(b) => b.append_null(),
            Builder::Dec256(b) => b.append_null(),
            Builder::Str(b) => b.append_null(),
            Builder::Bin(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::Ts(b) => b.append_null(),
            Builder::Time(b) => b.append_null(),
            Builder::List { offsets, valid, .. } => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                valid.push(false);
            }
        }
    }

    fn finish(&mut self) -> Result<ArrayRef, String> {
        Ok(match self {
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::I16(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::F32(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
            Builder::Dec(b) => Arc::new(b.finish()),
            Builder::Dec256(b) => Arc::new(b.finish()),
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Bin(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Ts(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::List {
                field,
                offsets,
                valid,
                child,
            } => {
                let values = child.finish()?;
                let offsets =
                    OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                let valid = std::mem::take(valid);
                let nulls = (!valid.iter().all(|v| *v)).then(|| NullBuffer::from(valid));
                Arc::new(
                    ListArray::try_new(field.clone(), offsets, values, nulls)
                        .map_err(|e| e.to_string())?,
                )
            }
        })
    }
}

/// Accumulates decoded rows into a record batch.
pub struct Columns {
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
    bytes: usize,
}

impl Columns {
    /// Builders for `schema`.
    pub fn new(schema: SchemaRef) -> Result<Self, String> {
        let builders = schema
            .fields()
            .iter()
            .map(|f| Builder::new(f.data_type()))
            .collect::<Result<_, String>>()?;
        Ok(Columns {
            schema,
            builders,
            rows: 0,
            bytes: 0,
        })
    }

    /// Appends a fully decoded row.
    pub fn push(&mut self, row: &[Scalar<'_>]) {
        for (b, v) in self.builders.iter_mut().zip(row) {
            self.bytes += b.append(v);
        }
        self.rows += 1;
    }

    /// Rows and approximate bytes buffered.
    pub fn size(&self) -> (usize, usize) {
        (self.rows, self.bytes)
    }

    /// Takes the buffered rows as a batch.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>, String> {
        if self.rows == 0 {
            return Ok(None);
        }
        let arrays = self
            .builders
            .iter_mut()
            .map(Builder::finish)
            .collect::<Result<Vec<_>, _>>()?;
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(n: &[u16], weight: i16, neg: bool) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(n.len() as i16).to_be_bytes());
        v.extend_from_slice(&weight.to_be_bytes());
        v.extend_from_slice(&(if neg { 0x4000u16 } else { 0 }).to_be_bytes());
        v.extend_from_slice(&0u16.to_be_bytes());
        for d in n {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn dirty_values_are_readable_text() {
        let col = |kind| ColKind {
            kind,
            precision: 12,
            elem: None,
        };
        assert_eq!(readable(col(PostgresKind::I32), &1i32.to_be_bytes()), "1");
        assert_eq!(
            readable(
                col(PostgresKind::Numeric(2)),
                &num(&[1, 2345, 6700], 1, true)
            ),
            "-12345.67"
        );
        assert_eq!(
            readable(col(PostgresKind::Date), &(-10_957i32).to_be_bytes()),
            "1970-01-01"
        );
        assert_eq!(
            readable(col(PostgresKind::Time), &3_723_000_001i64.to_be_bytes()),
            "01:02:03.000001"
        );
        assert_eq!(readable(col(PostgresKind::Bytes), &[0, 255]), "\\x00ff");
        assert_eq!(
            readable(col(PostgresKind::I32), &[1]),
            "\\x01",
            "undecodable: hex"
        );
        assert_eq!(datasync_codec::decimal_string(false, "5", 2), "0.05");
        assert_eq!(datasync_codec::decimal_string(true, "12345", 2), "-123.45");
    }

    #[test]
    fn dirty_numerics_show_their_special_values() {
        let col = ColKind {
            kind: PostgresKind::Numeric(2),
            precision: 12,
            elem: None,
        };
        for (sign, want) in [(0xC0u8, "NaN"), (0xD0, "Infinity"), (0xF0, "-Infinity")] {
            assert_eq!(readable(col, &[0, 0, 0, 0, sign, 0, 0, 0]), want);
        }
    }

    #[test]
    fn wide_numerics_are_exact_in_256_bits() {
        // 12345678901234567890123456789012345678.5 = digits of 4 from weight 9
        let groups = [
            12, 3456, 7890, 1234, 5678, 9012, 3456, 7890, 1234, 5678, 5000,
        ];
        let v = numeric256(&num(&groups, 9, true), 60, 2).unwrap();
        assert_eq!(v.to_string(), "-1234567890123456789012345678901234567850");
        // Too many digits for the precision, digits beyond the scale, NaN.
        assert!(numeric256(&num(&groups, 9, false), 39, 2).is_err());
        assert!(numeric256(&num(&groups, 9, false), 40, 2).is_ok());
        assert!(numeric256(&num(&[1, 2345], 0, false), 60, 2).is_err());
        assert_eq!(numeric256(&num(&[], 0, false), 60, 2), Ok(i256::ZERO));
    }

    #[test]
    fn numerics_are_exact() {
        // 12345.67 = [1, 2345, 6700] weight 1
        assert_eq!(
            numeric(&num(&[1, 2345, 6700], 1, false), 12, 2),
            Ok(1_234_567)
        );
        assert_eq!(
            numeric(&num(&[1, 2345, 6700], 1, true), 12, 2),
            Ok(-1_234_567)
        );
        // 0.05 = [500] weight -1
        assert_eq!(numeric(&num(&[500], -1, false), 12, 2), Ok(5));
        assert!(
            numeric(&num(&[1, 2345, 6710], 1, false), 12, 2).is_err(),
            "12345.671 would round"
        );
        assert!(
            numeric(&num(&[1, 0, 0, 0], 3, false), 12, 2).is_err(),
            "10^12 overflows decimal(12,2)"
        );
        assert_eq!(numeric(&num(&[], 0, false), 12, 2), Ok(0));
    }
}
