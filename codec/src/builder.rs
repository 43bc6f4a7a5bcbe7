//! Per-column buffers that parse text values exactly into Arrow types and can be rolled back,
//! and the row-atomic [`TextBatchBuilder`] built on them (used by the file decoder and by SQL
//! readers whose drivers deliver values as text).

use crate::datetime::{naive_to_nanos, parse_iso_date, parse_iso_timestamp_nanos, DateFormat};
use crate::CodecError;
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Decimal256Array,
    Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, Int8Array, RecordBatch,
    StringArray, TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow_buffer::{i256, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datasync_engine::job::BatchSetting;
use std::sync::Arc;

/// Values of one column of the batch being built.
enum Vals {
    I64(Vec<i64>),
    U64(Vec<u64>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    Bytes { data: Vec<u8>, offsets: Vec<i32> },
    Dec(Vec<i128>),
    Dec256(Vec<i256>),
}

struct ColBuf {
    ty: DataType,
    format: Option<DateFormat>,
    vals: Vals,
    valid: Vec<bool>,
}

impl ColBuf {
    fn new(ty: DataType, format: Option<DateFormat>) -> Self {
        let vals = match &ty {
            DataType::UInt64 => Vals::U64(Vec::new()),
            DataType::Float32 | DataType::Float64 => Vals::F64(Vec::new()),
            DataType::Boolean => Vals::Bool(Vec::new()),
            DataType::Utf8 | DataType::Binary => Vals::Bytes {
                data: Vec::new(),
                offsets: vec![0],
            },
            DataType::Decimal128(..) => Vals::Dec(Vec::new()),
            DataType::Decimal256(..) => Vals::Dec256(Vec::new()),
            _ => Vals::I64(Vec::new()),
        };
        ColBuf {
            ty,
            format,
            vals,
            valid: Vec::new(),
        }
    }

    fn push_null(&mut self) {
        self.valid.push(false);
        match &mut self.vals {
            Vals::I64(v) => v.push(0),
            Vals::U64(v) => v.push(0),
            Vals::F64(v) => v.push(0.0),
            Vals::Bool(v) => v.push(false),
            Vals::Dec(v) => v.push(0),
            Vals::Dec256(v) => v.push(i256::ZERO),
            Vals::Bytes { data, offsets } => offsets.push(data.len() as i32),
        }
    }

    /// Parses `text` (not null) and appends it, or says why it does not fit the column.
    fn push(&mut self, text: &[u8], check_replacement: bool) -> Result<(), String> {
        let is_text = matches!(self.ty, DataType::Utf8 | DataType::Binary);
        if !is_text && text.iter().all(u8::is_ascii_whitespace) {
            // An empty field cannot be a number or date: it is NULL.
            self.push_null();
            return Ok(());
        }
        let s = || std::str::from_utf8(text).map_err(|_| "not valid UTF-8".to_string());
        let t = || s().map(str::trim);
        let ty = &self.ty;
        let bad = |what: &str| format!("\"{}\" is not {what}", String::from_utf8_lossy(text));
        match &mut self.vals {
            Vals::I64(v) => {
                let x: i64 = match ty {
                    DataType::Date32 => {
                        let days = match &self.format {
                            Some(f) => f.parse_date(t()?).map(|d| {
                                d.signed_duration_since(chrono::NaiveDate::default())
                                    .num_days()
                            }),
                            None => parse_iso_date(t()?.as_bytes()),
                        }
                        .ok_or_else(|| bad(&date_expectation(&self.format, false)))?;
                        i32::try_from(days).map_err(|_| bad("a date in range"))?;
                        days
                    }
                    DataType::Timestamp(unit, _) => {
                        let nanos = match &self.format {
                            Some(f) => f.parse_datetime(t()?).map(|dt| naive_to_nanos(&dt)),
                            None => parse_iso_timestamp_nanos(t()?.as_bytes()),
                        }
                        .ok_or_else(|| bad(&date_expectation(&self.format, true)))?;
                        let (per, unit_name) = match unit {
                            TimeUnit::Second => (1_000_000_000, "whole seconds"),
                            TimeUnit::Millisecond => (1_000_000, "milliseconds"),
                            TimeUnit::Microsecond => (1_000, "microseconds"),
                            TimeUnit::Nanosecond => (1, "nanoseconds"),
                        };
                        if nanos % per != 0 {
                            return Err(bad(&format!(
                                "representable in {unit_name} without losing precision"
                            )));
                        }
                        i64::try_from(nanos / per).map_err(|_| bad("a timestamp in range"))?
                    }
                    _ => {
                        let x: i64 = t()?.parse().map_err(|_| bad("an integer"))?;
                        let fits = match ty {
                            DataType::Int8 => i8::try_from(x).is_ok(),
                            DataType::Int16 => i16::try_from(x).is_ok(),
                            DataType::Int32 => i32::try_from(x).is_ok(),
                            DataType::UInt8 => u8::try_from(x).is_ok(),
                            DataType::UInt16 => u16::try_from(x).is_ok(),
                            DataType::UInt32 => u32::try_from(x).is_ok(),
                            _ => true,
                        };
                        if !fits {
                            return Err(bad(&format!("in the range of {ty}")));
                        }
                        x
                    }
                };
                v.push(x);
            }
            Vals::U64(v) => v.push(t()?.parse().map_err(|_| bad("an unsigned integer"))?),
            Vals::F64(v) => {
                let single = *ty == DataType::Float32;
                v.push(parse_float(t()?, single).map_err(|why| bad(&why))?);
            }
            Vals::Bool(v) => {
                let x = t()?;
                v.push(if x.eq_ignore_ascii_case("true") {
                    true
                } else if x.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return Err(bad("a boolean (true or false)"));
                });
            }
            Vals::Dec(v) => {
                let DataType::Decimal128(p, sc) = ty else {
                    unreachable!("Dec buffers are decimal columns")
                };
                v.push(
                    parse_decimal(t()?, *p, *sc)
                        .ok_or_else(|| bad(&format!("a decimal({p},{sc}) without rounding")))?,
                );
            }
            Vals::Dec256(v) => {
                let DataType::Decimal256(p, sc) = ty else {
                    unreachable!("Dec256 buffers are decimal256 columns")
                };
                v.push(
                    parse_decimal256(t()?, *p, *sc)
                        .ok_or_else(|| bad(&format!("a decimal({p},{sc}) without rounding")))?,
                );
            }
            Vals::Bytes { data, offsets } => {
                if *ty == DataType::Utf8 {
                    let st = s()?;
                    if check_replacement && st.contains('\u{FFFD}') {
                        return Err("bytes that are not valid in the file's encoding".to_string());
                    }
                }
                data.extend_from_slice(text);
                let end =
                    i32::try_from(data.len()).map_err(|_| "batch text over 2 GiB".to_string())?;
                offsets.push(end);
            }
        }
        self.valid.push(true);
        Ok(())
    }

    fn len(&self) -> usize {
        self.valid.len()
    }

    fn truncate(&mut self, n: usize) {
        self.valid.truncate(n);
        match &mut self.vals {
            Vals::I64(v) => v.truncate(n),
            Vals::U64(v) => v.truncate(n),
            Vals::F64(v) => v.truncate(n),
            Vals::Bool(v) => v.truncate(n),
            Vals::Dec(v) => v.truncate(n),
            Vals::Dec256(v) => v.truncate(n),
            Vals::Bytes { data, offsets } => {
                offsets.truncate(n + 1);
                data.truncate(offsets[n] as usize);
            }
        }
    }

    fn bytes(&self) -> usize {
        match &self.vals {
            Vals::Bytes { data, offsets } => data.len() + offsets.len() * 4,
            Vals::Dec(v) => v.len() * 16,
            Vals::Dec256(v) => v.len() * 32,
            _ => self.valid.len() * 8,
        }
    }

    fn finish(&mut self) -> Result<ArrayRef, CodecError> {
        let valid = std::mem::take(&mut self.valid);
        let nulls = if valid.iter().all(|v| *v) {
            None
        } else {
            Some(NullBuffer::from(valid))
        };
        let fresh = ColBuf::new(self.ty.clone(), None).vals;
        let vals = std::mem::replace(&mut self.vals, fresh);
        macro_rules! prim {
            ($arr:ty, $v:expr, $t:ty) => {
                Arc::new(<$arr>::new(
                    ScalarBuffer::from($v.into_iter().map(|x| x as $t).collect::<Vec<$t>>()),
                    nulls,
                )) as ArrayRef
            };
        }
        Ok(match (vals, &self.ty) {
            (Vals::I64(v), DataType::Int64) => {
                Arc::new(Int64Array::new(ScalarBuffer::from(v), nulls))
            }
            (Vals::I64(v), DataType::Int8) => prim!(Int8Array, v, i8),
            (Vals::I64(v), DataType::Int16) => prim!(Int16Array, v, i16),
            (Vals::I64(v), DataType::Int32) => prim!(Int32Array, v, i32),
            (Vals::I64(v), DataType::UInt8) => prim!(UInt8Array, v, u8),
            (Vals::I64(v), DataType::UInt16) => prim!(UInt16Array, v, u16),
            (Vals::I64(v), DataType::UInt32) => prim!(UInt32Array, v, u32),
            (Vals::I64(v), DataType::Date32) => prim!(Date32Array, v, i32),
            (Vals::I64(v), DataType::Timestamp(TimeUnit::Second, _)) => {
                Arc::new(TimestampSecondArray::new(ScalarBuffer::from(v), nulls))
            }
            (Vals::I64(v), DataType::Timestamp(TimeUnit::Millisecond, _)) => {
                Arc::new(TimestampMillisecondArray::new(ScalarBuffer::from(v), nulls))
            }
            (Vals::I64(v), DataType::Timestamp(TimeUnit::Microsecond, _)) => {
                Arc::new(TimestampMicrosecondArray::new(ScalarBuffer::from(v), nulls))
            }
            (Vals::I64(v), DataType::Timestamp(TimeUnit::Nanosecond, _)) => {
                Arc::new(TimestampNanosecondArray::new(ScalarBuffer::from(v), nulls))
            }
            (Vals::U64(v), _) => Arc::new(UInt64Array::new(ScalarBuffer::from(v), nulls)),
            (Vals::F64(v), DataType::Float32) => prim!(Float32Array, v, f32),
            (Vals::F64(v), _) => Arc::new(Float64Array::new(ScalarBuffer::from(v), nulls)),
            (Vals::Bool(v), _) => Arc::new(BooleanArray::new(v.into_iter().collect(), nulls)),
            (Vals::Dec(v), DataType::Decimal128(p, s)) => Arc::new(
                Decimal128Array::new(ScalarBuffer::from(v), nulls)
                    .with_precision_and_scale(*p, *s)?,
            ),
            (Vals::Dec256(v), DataType::Decimal256(p, s)) => Arc::new(
                Decimal256Array::new(ScalarBuffer::from(v), nulls)
                    .with_precision_and_scale(*p, *s)?,
            ),
            (Vals::Bytes { data, offsets }, DataType::Utf8) => Arc::new(StringArray::try_new(
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                Buffer::from_vec(data),
                nulls,
            )?),
            (Vals::Bytes { data, offsets }, _) => Arc::new(BinaryArray::try_new(
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                Buffer::from_vec(data),
                nulls,
            )?),
            (_, t) => {
                return Err(CodecError::Arrow(arrow_schema::ArrowError::SchemaError(
                    format!("no decoder for type {t}"),
                )))
            }
        })
    }
}

/// A float as text [`parse_float`] reads back to the same value: the shortest round-trip
/// digits (of the f32 itself when `single`), `NaN`, `Infinity`, `-Infinity`.
pub fn float_text(x: f64, single: bool) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if single {
        format!("{:?}", x as f32)
    } else {
        format!("{x:?}")
    }
}

/// Parses a floating-point number the way a value must never change on the way: text that
/// overflows to infinity ("1e400"; "inf"/"Infinity" themselves are fine) or underflows to zero
/// ("1e-400") is refused, as is a float32 column's value outside float32. The error says what
/// was expected.
pub fn parse_float(text: &str, single: bool) -> Result<f64, String> {
    let ty = if single { "float32" } else { "float64" };
    // Java's spellings only, as DataX reads them: "inf", "nan", "+Infinity" are not numbers.
    let named = text
        .bytes()
        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E');
    if named && !matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return Err("a number (NaN, Infinity and -Infinity are written so)".to_string());
    }
    let x: f64 = text.parse().map_err(|_| "a number".to_string())?;
    let spelled_infinite = text.to_ascii_lowercase().contains("inf");
    let mantissa = text.split(['e', 'E']).next().unwrap_or("");
    let spelled_nonzero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    let narrowed = if single { x as f32 as f64 } else { x };
    if narrowed.is_infinite() && !spelled_infinite {
        return Err(format!("in the range of {ty} (it overflows to infinity)"));
    }
    if narrowed == 0.0 && spelled_nonzero && !x.is_nan() {
        return Err(format!(
            "in the range of {ty} (it is too small and would become 0)"
        ));
    }
    Ok(x)
}

fn date_expectation(f: &Option<DateFormat>, time: bool) -> String {
    match (f, time) {
        (Some(f), _) => format!("a date in the format \"{}\"", f.spec()),
        (None, false) => "a date (YYYY-MM-DD; set \"format\" for others)".into(),
        (None, true) => {
            "a date-time (YYYY-MM-DD[ HH:MM:SS[.ffffff]]; set \"format\" for others)".into()
        }
    }
}

/// The parts of a plain decimal text checked against `precision` and `scale`: the sign, the
/// integer digits without leading zeros, the fraction digits kept (at most `scale`; the ones
/// beyond must be zeros) and how many zeros pad them to the scale. None: not a plain decimal
/// (no exponent), or it does not fit without rounding.
fn decimal_parts(s: &str, precision: u8, scale: i8) -> Option<(bool, &str, &str, usize)> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let scale = usize::try_from(scale).ok()?;
    let (kept, dropped) = frac.split_at(frac.len().min(scale));
    if dropped.bytes().any(|b| b != b'0') {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() + scale > precision as usize {
        return None;
    }
    Some((neg, int, kept, scale - kept.len()))
}

/// A number in exponent form (`15e-1`, `1E3`, as Java's BigDecimal reads them) written out as
/// a plain decimal; None for other text, and for exponents no decimal column could hold.
fn plain_of_exponent(s: &str) -> Option<String> {
    if !s.contains(['e', 'E']) {
        return None;
    }
    let (neg, sig, exp) = crate::values::canonical_number(s)?;
    if sig.is_empty() {
        return Some("0".into());
    }
    if exp.unsigned_abs() > 160 {
        return None;
    }
    let text = if exp >= 0 {
        format!("{sig}{}", "0".repeat(exp as usize))
    } else {
        let frac = exp.unsigned_abs() as usize;
        let pad = frac.saturating_sub(sig.len());
        let whole = format!("{}{sig}", "0".repeat(pad));
        let (int, fraction) = whole.split_at(whole.len() - frac);
        format!("{int}.{fraction}")
    };
    Some(if neg { format!("-{text}") } else { text })
}

/// Parses a decimal exactly: no rounding; more fraction digits than the scale are accepted
/// only when they are zeros; an exponent form (`15e-1`) is the number it writes.
pub fn parse_decimal(s: &str, precision: u8, scale: i8) -> Option<i128> {
    parse_plain_decimal(s, precision, scale)
        .or_else(|| parse_plain_decimal(&plain_of_exponent(s)?, precision, scale))
}

fn parse_plain_decimal(s: &str, precision: u8, scale: i8) -> Option<i128> {
    let (neg, int, kept, pad) = decimal_parts(s, precision, scale)?;
    let mut v: i128 = 0;
    for b in int.bytes().chain(kept.bytes()) {
        v = v * 10 + i128::from(b - b'0');
    }
    v *= 10i128.pow(pad as u32);
    Some(if neg { -v } else { v })
}

/// A decimal of 39 to 76 digits: the same rules as [`parse_decimal`], the scaled integer built
/// as digits and read into an i256.
pub(crate) fn parse_decimal256(s: &str, precision: u8, scale: i8) -> Option<i256> {
    parse_plain_decimal256(s, precision, scale)
        .or_else(|| parse_plain_decimal256(&plain_of_exponent(s)?, precision, scale))
}

fn parse_plain_decimal256(s: &str, precision: u8, scale: i8) -> Option<i256> {
    let (neg, int, kept, pad) = decimal_parts(s, precision, scale)?;
    let mut digits = String::with_capacity(int.len() + kept.len() + pad + 1);
    if neg {
        digits.push('-');
    }
    digits.push_str(int);
    digits.push_str(kept);
    digits.extend(std::iter::repeat_n('0', pad));
    if digits.trim_start_matches('-').is_empty() {
        return Some(i256::ZERO);
    }
    i256::from_string(&digits)
}

/// Whether [`parse_text_column`] parses into `ty` (the scalar types the text codecs read).
pub fn parses_text_into(ty: &DataType) -> bool {
    use DataType::*;
    matches!(
        ty,
        Int8 | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Float32
            | Float64
            | Boolean
            | Decimal128(..)
            | Decimal256(..)
            | Date32
            | Timestamp(_, None)
            | Time64(_)
    )
}

/// A column of text (`Utf8`) parsed as `ty` with the text codecs' exact rules (no rounding of
/// decimals, no overflow to infinity, no time of day dropped, `true`/`false` only; blank is
/// NULL). Errors: the index of the first value that does not parse, and why.
pub fn parse_text_column(
    text: &arrow_array::StringArray,
    ty: &DataType,
) -> Result<ArrayRef, (usize, String)> {
    use arrow_array::Array;
    let mut b = ColBuf::new(ty.clone(), None);
    for i in 0..text.len() {
        if text.is_null(i) {
            b.push_null();
        } else {
            b.push(text.value(i).as_bytes(), false)
                .map_err(|e| (i, e))?;
        }
    }
    b.finish().map_err(|e| (0, e.to_string()))
}

/// Checks that a constant parses as the column's type (used when validating the config).
pub(crate) fn check_value(
    ty: &DataType,
    format: Option<&DateFormat>,
    text: &str,
) -> Result<(), String> {
    let mut b = ColBuf::new(ty.clone(), format.cloned());
    b.push(text.as_bytes(), false)
}

/// Builds Arrow record batches from rows of text values, one row at a time and atomically: a
/// row with a value that does not parse exactly as its column's type is rolled back whole.
/// Used by the file codecs and by SQL readers whose drivers deliver values as text.
pub struct TextBatchBuilder {
    bufs: Vec<ColBuf>,
    schema: SchemaRef,
    batch: BatchSetting,
    check_replacement: bool,
}

impl TextBatchBuilder {
    /// A builder for `fields` (name, type, optional date pattern); batches close at the
    /// `batch` limits. `check_replacement` makes U+FFFD in text a decoding error (for input
    /// that was transcoded from another encoding).
    pub fn new(
        fields: Vec<(String, DataType, Option<DateFormat>)>,
        batch: BatchSetting,
        check_replacement: bool,
    ) -> Self {
        let schema = Arc::new(Schema::new(
            fields
                .iter()
                .map(|(n, t, _)| Field::new(n, t.clone(), true))
                .collect::<Vec<_>>(),
        ));
        let bufs = fields
            .into_iter()
            .map(|(_, t, f)| ColBuf::new(t, f))
            .collect();
        TextBatchBuilder {
            bufs,
            schema,
            batch,
            check_replacement,
        }
    }

    /// The schema of the batches.
    /// Replaces column `i`'s field (same name and type; e.g. with metadata) in the schema of
    /// the batches to come.
    pub fn map_field(&mut self, i: usize, f: impl FnOnce(Field) -> Field) {
        let mut fields: Vec<Field> = self.schema.fields().iter().map(|f| (**f).clone()).collect();
        if let Some(slot) = fields.get_mut(i) {
            *slot = f(slot.clone());
            self.schema = Arc::new(Schema::new(fields));
        }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Column names.
    pub fn names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    /// Appends one row; `get(i)` gives column i's text (`Ok(None)` = NULL). On any error the
    /// row is rolled back and the error names the column.
    pub fn push_row<'r>(
        &mut self,
        mut get: impl FnMut(usize) -> Result<Option<&'r [u8]>, String>,
    ) -> Result<(), String> {
        let n = self.rows();
        for i in 0..self.bufs.len() {
            let r = match get(i) {
                Ok(None) => {
                    self.bufs[i].push_null();
                    Ok(())
                }
                Ok(Some(text)) => self.bufs[i].push(text, self.check_replacement),
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                for b in &mut self.bufs[..=i] {
                    b.truncate(n);
                }
                let f = self.schema.field(i);
                return Err(format!(
                    "column {} ({}): {e}",
                    f.name(),
                    crate::types::type_name(f.data_type())
                ));
            }
        }
        Ok(())
    }

    /// Rows buffered.
    pub fn rows(&self) -> usize {
        self.bufs.first().map(ColBuf::len).unwrap_or(0)
    }

    /// Whether the batch limits are reached.
    pub fn full(&self) -> bool {
        self.rows() >= self.batch.rows
            || self.bufs.iter().map(ColBuf::bytes).sum::<usize>() >= self.batch.bytes
    }

    /// Takes the buffered rows as a batch (`None` when there are none).
    pub fn finish(&mut self) -> Result<Option<RecordBatch>, CodecError> {
        if self.rows() == 0 {
            return Ok(None);
        }
        let arrays = self
            .bufs
            .iter_mut()
            .map(ColBuf::finish)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(RecordBatch::try_new(self.schema.clone(), arrays)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_decimals_are_exact() {
        let v = parse_decimal256(
            "-99999999999999999999999999999999999.999999999999999999999999999999",
            65,
            30,
        )
        .unwrap();
        assert_eq!(v.to_string(), format!("-{}", "9".repeat(65)));
        assert_eq!(
            parse_decimal256("1.5", 65, 30).unwrap().to_string(),
            format!("15{}", "0".repeat(29))
        );
        assert_eq!(parse_decimal256("0", 65, 30), Some(i256::ZERO));
        assert_eq!(parse_decimal256("-0.00", 65, 30), Some(i256::ZERO));
        // A digit beyond the scale, too many digits, not a number.
        assert_eq!(parse_decimal256("0.1234", 50, 3), None);
        assert_eq!(parse_decimal256(&"9".repeat(51), 50, 0), None);
        assert_eq!(parse_decimal256("x1", 50, 0), None);
        // An exponent form is the number it writes.
        assert_eq!(
            parse_decimal256("-1.5E40", 50, 0).unwrap().to_string(),
            format!("-15{}", "0".repeat(39))
        );
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("123.45", 12, 2), Some(12345));
        assert_eq!(parse_decimal("-0.5", 12, 2), Some(-50));
        assert_eq!(parse_decimal("7", 12, 2), Some(700));
        assert_eq!(parse_decimal("1.250", 12, 2), Some(125));
        assert_eq!(parse_decimal("1.255", 12, 2), None, "would round");
        // Exponent forms (Java's BigDecimal reads them): exact, or refused as rounding.
        assert_eq!(parse_decimal("1e5", 12, 2), Some(10_000_000));
        assert_eq!(parse_decimal("15e-1", 12, 2), Some(150));
        assert_eq!(parse_decimal("-2.5E-2", 12, 2), None, "would round");
        assert_eq!(parse_decimal("25E-3", 12, 3), Some(25));
        assert_eq!(parse_decimal("0e7", 12, 2), Some(0));
        assert_eq!(parse_decimal("1e10", 12, 2), None, "overflows precision");
        assert_eq!(parse_decimal("1e999999999", 12, 2), None);
        assert_eq!(parse_decimal("1e", 12, 2), None);
        assert_eq!(
            parse_decimal("12345678901", 12, 2),
            None,
            "overflows precision"
        );
        assert_eq!(parse_decimal("9999999999.99", 12, 2), Some(999_999_999_999));
        assert_eq!(parse_decimal(".", 12, 2), None);
    }

    #[test]
    fn constants_are_checked() {
        assert!(check_value(&DataType::Int64, None, "12").is_ok());
        assert!(check_value(&DataType::Int64, None, "x").is_err());
        assert!(check_value(&DataType::Int8, None, "300").is_err());
        let e = check_value(&DataType::Float64, None, "1e400").unwrap_err();
        assert!(e.contains("overflows"), "{e}");
        assert!(check_value(&DataType::Float64, None, "-Infinity").is_ok());
        assert!(check_value(&DataType::Float64, None, "inf").is_err());
        assert!(check_value(&DataType::Float64, None, "NaN").is_ok());
        assert!(check_value(&DataType::Float64, None, "nan").is_err());
        assert!(check_value(&DataType::Float32, None, "1e39").is_err());
        let e = check_value(&DataType::Float64, None, "1e-400").unwrap_err();
        assert!(e.contains("too small"), "{e}");
        assert!(check_value(&DataType::Float32, None, "1e-50").is_err());
        assert!(check_value(&DataType::Float64, None, "0e-400").is_ok());
        assert!(check_value(&DataType::Float64, None, "5e-324").is_ok());
    }
}
