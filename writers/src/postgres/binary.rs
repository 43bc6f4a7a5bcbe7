//! Arrow -> PostgreSQL binary COPY tuples, for the target columns' types. A target type without
//! an encoder here makes the writer use text COPY for the table instead (see `encoders`).

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use datasync_db::postgres::tokio_postgres::types::{Kind, Type};

/// The 19-byte header of a binary COPY stream (signature, flags, extension length).
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The trailer: a tuple with -1 fields.
pub const TRAILER: &[u8] = &[0xff, 0xff];

const PG_EPOCH_DAYS: i64 = 10_957;
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// How one column is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    Numeric,
    Text,
    /// A binary value into a text column: its bytes, which must be UTF-8.
    TextBytes,
    Jsonb,
    Bytea,
    Date,
    Timestamp,
    Time,
    Uuid,
}

fn is_int(t: &DataType) -> bool {
    t.is_integer()
}

/// The encoder for an Arrow column going into a target type, if there is one.
pub fn encoder(target: &Type, source: &DataType) -> Option<Enc> {
    let text = matches!(source, DataType::Utf8 | DataType::LargeUtf8);
    let target = match target.kind() {
        Kind::Enum(_) if text => return Some(Enc::Text),
        Kind::Domain(inner) => inner,
        _ => target,
    };
    Some(match (target, source) {
        (&Type::BOOL, DataType::Boolean) => Enc::Bool,
        (&Type::INT2, t) if is_int(t) => Enc::I16,
        (&Type::INT4, t) if is_int(t) => Enc::I32,
        (&Type::INT8, t) if is_int(t) => Enc::I64,
        (&Type::FLOAT4, DataType::Float32) => Enc::F32,
        (&Type::FLOAT8, DataType::Float32 | DataType::Float64) => Enc::F64,
        (&Type::NUMERIC, DataType::Decimal128(_, s)) if *s >= 0 => Enc::Numeric,
        (&Type::NUMERIC, t) if is_int(t) => Enc::Numeric,
        (
            &Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME | &Type::JSON | &Type::XML,
            _,
        ) if text => Enc::Text,
        (
            &Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME | &Type::JSON | &Type::XML,
            DataType::Binary,
        ) => Enc::TextBytes,
        (&Type::JSONB, _) if text => Enc::Jsonb,
        (&Type::BYTEA, DataType::Binary) => Enc::Bytea,
        (&Type::DATE, DataType::Date32) => Enc::Date,
        (&Type::TIMESTAMP | &Type::TIMESTAMPTZ, DataType::Timestamp(_, None)) => Enc::Timestamp,
        (&Type::TIME, DataType::Time64(_)) => Enc::Time,
        (&Type::UUID, _) if text => Enc::Uuid,
        _ => return None,
    })
}

fn int_at(a: &ArrayRef, i: usize) -> Option<i128> {
    Some(match a.data_type() {
        DataType::Int8 => a.as_primitive::<Int8Type>().value(i).into(),
        DataType::Int16 => a.as_primitive::<Int16Type>().value(i).into(),
        DataType::Int32 => a.as_primitive::<Int32Type>().value(i).into(),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(i).into(),
        DataType::UInt8 => a.as_primitive::<UInt8Type>().value(i).into(),
        DataType::UInt16 => a.as_primitive::<UInt16Type>().value(i).into(),
        DataType::UInt32 => a.as_primitive::<UInt32Type>().value(i).into(),
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(i).into(),
        _ => return None,
    })
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// PostgreSQL's binary numeric for the integer `v` at `scale` (base-10000 digits).
pub fn numeric(v: i128, scale: u32) -> Vec<u8> {
    let neg = v < 0;
    // Work on decimal digits: 38-digit values leave no headroom for arithmetic padding.
    let digits = v.unsigned_abs().to_string();
    let s = scale as usize;
    let digits = if digits.len() <= s {
        format!("{}{digits}", "0".repeat(s + 1 - digits.len()))
    } else {
        digits
    };
    let (int, frac) = digits.split_at(digits.len() - s);
    let int = int.trim_start_matches('0');
    let int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
    let frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
    let group = |c: &[u8]| c.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0'));
    let mut groups: Vec<u16> = int
        .as_bytes()
        .chunks(4)
        .chain(frac.as_bytes().chunks(4))
        .map(group)
        .collect();
    let mut weight = (int.len() / 4) as i32 - 1;
    // Strip leading zero groups (moving the weight down) and trailing ones.
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let mut out = Vec::with_capacity(8 + 2 * groups.len());
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(
        &(if neg && !groups.is_empty() {
            0x4000u16
        } else {
            0
        })
        .to_be_bytes(),
    );
    out.extend_from_slice(&(scale as u16).to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    out
}

/// Microseconds since the Unix epoch of row `r` of a timestamp column; `None` when out of
/// range, an error for nanoseconds PostgreSQL cannot keep.
fn timestamp_micros(a: &ArrayRef, r: usize) -> Result<Option<i64>, String> {
    Ok(match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => a
            .as_primitive::<arrow_array::types::TimestampSecondType>()
            .value(r)
            .checked_mul(1_000_000),
        DataType::Timestamp(TimeUnit::Millisecond, _) => a
            .as_primitive::<arrow_array::types::TimestampMillisecondType>()
            .value(r)
            .checked_mul(1_000),
        DataType::Timestamp(TimeUnit::Microsecond, _) => Some(
            a.as_primitive::<arrow_array::types::TimestampMicrosecondType>()
                .value(r),
        ),
        _ => {
            let ns = a
                .as_primitive::<arrow_array::types::TimestampNanosecondType>()
                .value(r);
            if ns % 1000 != 0 {
                return Err("nanoseconds cannot be stored (PostgreSQL keeps microseconds)".into());
            }
            Some(ns / 1000)
        }
    })
}

/// Microseconds since midnight of row `r` of a time column.
fn time_micros(a: &ArrayRef, r: usize) -> Result<i64, String> {
    Ok(match a.data_type() {
        DataType::Time64(TimeUnit::Microsecond) => a
            .as_primitive::<arrow_array::types::Time64MicrosecondType>()
            .value(r),
        _ => {
            let ns = a
                .as_primitive::<arrow_array::types::Time64NanosecondType>()
                .value(r);
            if ns % 1000 != 0 {
                return Err("nanoseconds cannot be stored (PostgreSQL keeps microseconds)".into());
            }
            ns / 1000
        }
    })
}

/// Appends row `r`'s value of column `a` (not null) with `enc`, or says why it cannot go.
pub fn encode(enc: Enc, a: &ArrayRef, r: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let range = |what: &str| {
        format!(
            "{} does not fit {what}",
            int_at(a, r).map(|v| v.to_string()).unwrap_or_default()
        )
    };
    match enc {
        Enc::Bool => field(out, &[u8::from(a.as_boolean().value(r))]),
        Enc::I16 => field(
            out,
            &i16::try_from(int_at(a, r).unwrap_or_default())
                .map_err(|_| range("smallint"))?
                .to_be_bytes(),
        ),
        Enc::I32 => field(
            out,
            &i32::try_from(int_at(a, r).unwrap_or_default())
                .map_err(|_| range("integer"))?
                .to_be_bytes(),
        ),
        Enc::I64 => field(
            out,
            &i64::try_from(int_at(a, r).unwrap_or_default())
                .map_err(|_| range("bigint"))?
                .to_be_bytes(),
        ),
        Enc::F32 => field(out, &a.as_primitive::<Float32Type>().value(r).to_be_bytes()),
        Enc::F64 => {
            let x = match a.data_type() {
                DataType::Float32 => datasync_codec::values::float_as_double(
                    a.as_primitive::<Float32Type>().value(r),
                ),
                _ => a.as_primitive::<Float64Type>().value(r),
            };
            field(out, &x.to_be_bytes())
        }
        Enc::Numeric => {
            let bytes = match a.data_type() {
                DataType::Decimal128(_, s) => {
                    numeric(a.as_primitive::<Decimal128Type>().value(r), *s as u32)
                }
                _ => numeric(int_at(a, r).unwrap_or_default(), 0),
            };
            field(out, &bytes)
        }
        Enc::Text => {
            let t = crate::narrow::text_at(a, r);
            if t.contains('\0') {
                return Err("text contains a NUL character, which PostgreSQL cannot store".into());
            }
            field(out, t.as_bytes())
        }
        Enc::Jsonb => {
            let t = crate::narrow::text_at(a, r);
            out.extend_from_slice(&(t.len() as i32 + 1).to_be_bytes());
            out.push(1);
            out.extend_from_slice(t.as_bytes());
        }
        Enc::Bytea => field(out, a.as_binary::<i32>().value(r)),
        // UTF-8 without a NUL: checked with the row (`Narrow::Utf8Bytes`) before it is encoded.
        Enc::TextBytes => field(out, a.as_binary::<i32>().value(r)),
        Enc::Date => {
            let d = a.as_primitive::<Date32Type>().value(r);
            if datasync_codec::date_infinity(d).is_some() {
                // Our infinities are PostgreSQL's own.
                field(out, &d.to_be_bytes());
                return Ok(());
            }
            let d = i64::from(d) - PG_EPOCH_DAYS;
            field(
                out,
                &i32::try_from(d)
                    .map_err(|_| "date out of range".to_string())?
                    .to_be_bytes(),
            )
        }
        Enc::Timestamp => {
            let micros = timestamp_micros(a, r)?;
            if let Some(m) = micros.filter(|m| datasync_codec::timestamp_infinity(*m).is_some()) {
                field(out, &m.to_be_bytes());
                return Ok(());
            }
            let v = micros
                .and_then(|m| m.checked_sub(PG_EPOCH_MICROS))
                .ok_or("timestamp out of range")?;
            field(out, &v.to_be_bytes())
        }
        Enc::Time => {
            let micros = time_micros(a, r)?;
            field(out, &micros.to_be_bytes())
        }
        Enc::Uuid => {
            let t = crate::narrow::text_at(a, r);
            let hex: String = t.chars().filter(|c| *c != '-').collect();
            if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!("\"{t}\" is not a uuid"));
            }
            let bytes: Vec<u8> = (0..16)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or_default())
                .collect();
            field(out, &bytes)
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_match_postgres_layout() {
        // 12345.67: groups [1, 2345, 6700], weight 1, dscale 2
        assert_eq!(
            numeric(1_234_567, 2),
            [0, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1a, 0x2c]
        );
        // -0.05: [500], weight -1
        assert_eq!(
            numeric(-5, 2),
            [0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x01, 0xf4]
        );
        // 0 at scale 2: no digits
        assert_eq!(numeric(0, 2), [0, 0, 0, 0, 0, 0, 0, 2]);
        // 10000: [1] weight 1 after stripping the trailing zero group
        assert_eq!(numeric(10_000, 0), [0, 1, 0, 1, 0, 0, 0, 0, 0, 1]);
        // 38 digits at scale 10 must not overflow: 1234567890123456789012345678.0123456789
        let big = numeric(12_345_678_901_234_567_890_123_456_780_123_456_789, 10);
        assert_eq!(&big[..8], [0, 10, 0, 6, 0, 0, 0, 10]);
        assert_eq!(&big[8..10], [4, 210], "first group 1234");
    }
}
