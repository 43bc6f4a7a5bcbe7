//! Arrow -> CSV / delimited text / JSON Lines. Values are written exactly (decimals with their
//! scale, floats in shortest round-trip form, timestamps to their precision). A value the
//! format or the encoding cannot hold makes its row dirty instead of being altered.

use crate::datetime::{nanos_to_naive, write_iso_date, write_iso_timestamp_nanos};
use crate::options::{FileFormat, TextOptions};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};

/// Formats the values of one Arrow column as text, exactly (decimals with their scale, floats
/// in shortest round-trip form, timestamps to their precision). Downcasts once per column.
pub struct ValueWriter<'a>(Col<'a>);

/// What a written value is, so a format can quote or escape it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A number as digits (a finite float, an integer, a decimal).
    Number,
    /// `true` / `false`.
    Bool,
    /// Text (strings, dates, timestamps, non-finite floats, anything else).
    Text,
    /// A JSON array (list columns): JSON Lines embeds it as an array, other formats as text.
    Json,
    /// Raw bytes of a binary column.
    Bytes,
}

static FORMAT_OPTIONS: arrow_cast::display::FormatOptions<'static> =
    arrow_cast::display::FormatOptions::new();

impl<'a> ValueWriter<'a> {
    /// A writer for `array`.
    pub fn new(array: &'a ArrayRef) -> Result<Self, String> {
        Col::new(array, &FORMAT_OPTIONS).map(ValueWriter)
    }

    /// Appends the value at row `i` (which MUST not be null) to `out`; dates and timestamps use
    /// `date_format` or ISO `yyyy-MM-dd HH:mm:ss[.fff...]`.
    pub fn write(
        &self,
        i: usize,
        out: &mut Vec<u8>,
        date_format: Option<&crate::DateFormat>,
    ) -> Result<ValueKind, String> {
        self.0.write(i, out, date_format)
    }
}

enum Col<'a> {
    Int(Box<dyn Fn(usize) -> i64 + 'a>),
    U64(&'a [u64]),
    Float(Box<dyn Fn(usize) -> f64 + 'a>, bool),
    Bool(&'a arrow_array::BooleanArray),
    Str(&'a arrow_array::StringArray),
    LargeStr(&'a arrow_array::LargeStringArray),
    Bin(&'a arrow_array::BinaryArray),
    Dec(&'a [i128], u32),
    /// A decimal of 39 to 76 digits.
    Dec256(&'a [arrow_buffer::i256], u32),
    Date(&'a [i32]),
    Ts(&'a [i64], i128),
    /// A time of day: the value at a row and nanoseconds per unit.
    Time(Box<dyn Fn(usize) -> i64 + 'a>, i128),
    List(&'a arrow_array::ListArray),
    /// A struct: a JSON object of its fields.
    Struct(Vec<(&'a str, &'a ArrayRef, Col<'a>)>),
    /// A map: a JSON object of its entries (keys as text).
    Map(&'a arrow_array::MapArray),
    Other(arrow_cast::display::ArrayFormatter<'a>),
}

impl<'a> Col<'a> {
    fn new(a: &'a ArrayRef, opts: &arrow_cast::display::FormatOptions<'a>) -> Result<Self, String> {
        macro_rules! int {
            ($t:ty) => {{
                let v = a.as_primitive::<$t>().values();
                Col::Int(Box::new(move |i| v[i] as i64))
            }};
        }
        Ok(match a.data_type() {
            DataType::Int8 => int!(Int8Type),
            DataType::Int16 => int!(Int16Type),
            DataType::Int32 => int!(Int32Type),
            DataType::Int64 => int!(Int64Type),
            DataType::UInt8 => int!(UInt8Type),
            DataType::UInt16 => int!(UInt16Type),
            DataType::UInt32 => int!(UInt32Type),
            DataType::UInt64 => Col::U64(a.as_primitive::<UInt64Type>().values()),
            DataType::Float32 => {
                let v = a.as_primitive::<Float32Type>().values();
                Col::Float(Box::new(move |i| v[i] as f64), true)
            }
            DataType::Float64 => {
                let v = a.as_primitive::<Float64Type>().values();
                Col::Float(Box::new(move |i| v[i]), false)
            }
            DataType::Boolean => Col::Bool(a.as_boolean()),
            DataType::Utf8 => Col::Str(a.as_string::<i32>()),
            DataType::LargeUtf8 => Col::LargeStr(a.as_string::<i64>()),
            DataType::Binary => Col::Bin(a.as_binary::<i32>()),
            DataType::Decimal128(_, s) if *s >= 0 => Col::Dec(
                a.as_primitive::<arrow_array::types::Decimal128Type>()
                    .values(),
                *s as u32,
            ),
            DataType::Decimal256(_, s) if *s >= 0 => Col::Dec256(
                a.as_primitive::<arrow_array::types::Decimal256Type>()
                    .values(),
                *s as u32,
            ),
            DataType::Date32 => {
                Col::Date(a.as_primitive::<arrow_array::types::Date32Type>().values())
            }
            // A zoned timestamp holds UTC instants: written as UTC wall-clock time, like the
            // SQL readers deliver `timestamptz`.
            DataType::Timestamp(unit, _) => {
                let per: i128 = match unit {
                    TimeUnit::Second => 1_000_000_000,
                    TimeUnit::Millisecond => 1_000_000,
                    TimeUnit::Microsecond => 1_000,
                    TimeUnit::Nanosecond => 1,
                };
                let v = match unit {
                    TimeUnit::Second => a
                        .as_primitive::<arrow_array::types::TimestampSecondType>()
                        .values(),
                    TimeUnit::Millisecond => a
                        .as_primitive::<arrow_array::types::TimestampMillisecondType>()
                        .values(),
                    TimeUnit::Microsecond => a
                        .as_primitive::<arrow_array::types::TimestampMicrosecondType>()
                        .values(),
                    TimeUnit::Nanosecond => a
                        .as_primitive::<arrow_array::types::TimestampNanosecondType>()
                        .values(),
                };
                Col::Ts(v, per)
            }
            DataType::Time32(unit) => {
                let per = if *unit == TimeUnit::Second {
                    1_000_000_000
                } else {
                    1_000_000
                };
                match unit {
                    TimeUnit::Second => {
                        let v = a.as_primitive::<Time32SecondType>().values();
                        Col::Time(Box::new(move |i| i64::from(v[i])), per)
                    }
                    _ => {
                        let v = a.as_primitive::<Time32MillisecondType>().values();
                        Col::Time(Box::new(move |i| i64::from(v[i])), per)
                    }
                }
            }
            DataType::Time64(unit) => {
                let per = if *unit == TimeUnit::Nanosecond {
                    1
                } else {
                    1_000
                };
                match unit {
                    TimeUnit::Nanosecond => {
                        let v = a.as_primitive::<Time64NanosecondType>().values();
                        Col::Time(Box::new(move |i| v[i]), per)
                    }
                    _ => {
                        let v = a.as_primitive::<Time64MicrosecondType>().values();
                        Col::Time(Box::new(move |i| v[i]), per)
                    }
                }
            }
            DataType::List(_) => Col::List(a.as_list::<i32>()),
            DataType::Struct(fields) => Col::Struct(
                fields
                    .iter()
                    .zip(a.as_struct().columns())
                    .map(|(f, c)| Ok((f.name().as_str(), c, Col::new(c, opts)?)))
                    .collect::<Result<_, String>>()?,
            ),
            DataType::Map(_, _) => Col::Map(a.as_map()),
            _ => Col::Other(
                arrow_cast::display::ArrayFormatter::try_new(a.as_ref(), opts)
                    .map_err(|e| e.to_string())?,
            ),
        })
    }

    /// Appends the value at `i` as a JSON value: `null`, a number or boolean as itself, text
    /// as a JSON string, nested values as JSON.
    fn write_json(
        &self,
        null: bool,
        i: usize,
        out: &mut Vec<u8>,
        date_format: Option<&crate::DateFormat>,
    ) -> Result<(), String> {
        if null {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        let mut item = Vec::new();
        match self.write(i, &mut item, date_format)? {
            ValueKind::Number | ValueKind::Bool | ValueKind::Json => out.extend_from_slice(&item),
            ValueKind::Text | ValueKind::Bytes => {
                let text = std::str::from_utf8(&item)
                    .map_err(|_| "binary values cannot be written as JSON".to_string())?;
                serde_json::to_writer(&mut *out, text).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Appends the value at `i` (not null) to `out`.
    fn write(
        &self,
        i: usize,
        out: &mut Vec<u8>,
        date_format: Option<&crate::DateFormat>,
    ) -> Result<ValueKind, String> {
        match self {
            Col::Int(f) => out.extend_from_slice(itoa::Buffer::new().format(f(i)).as_bytes()),
            Col::U64(v) => out.extend_from_slice(itoa::Buffer::new().format(v[i]).as_bytes()),
            Col::Float(f, single) => {
                let x = f(i);
                if x.is_nan() {
                    out.extend_from_slice(b"NaN");
                } else if x.is_infinite() {
                    // Java's spelling (DataX, Hive, Spark read it; so do PostgreSQL and Python).
                    out.extend_from_slice(if x > 0.0 { b"Infinity" } else { b"-Infinity" });
                } else if *single {
                    out.extend_from_slice(ryu::Buffer::new().format_finite(x as f32).as_bytes());
                } else {
                    out.extend_from_slice(ryu::Buffer::new().format_finite(x).as_bytes());
                }
                if !x.is_finite() {
                    return Ok(ValueKind::Text);
                }
            }
            Col::Bool(a) => {
                out.extend_from_slice(if a.value(i) { b"true" } else { b"false" });
                return Ok(ValueKind::Bool);
            }
            Col::Str(a) => {
                out.extend_from_slice(a.value(i).as_bytes());
                return Ok(ValueKind::Text);
            }
            Col::LargeStr(a) => {
                out.extend_from_slice(a.value(i).as_bytes());
                return Ok(ValueKind::Text);
            }
            Col::Bin(a) => {
                out.extend_from_slice(a.value(i));
                return Ok(ValueKind::Bytes);
            }
            Col::Dec(v, scale) => write_decimal(v[i], *scale, out),
            Col::Dec256(v, scale) => {
                let x = v[i];
                let text = x.to_string();
                write_scaled(x.is_negative(), text.trim_start_matches('-'), *scale, out);
                // Quoted where quoting applies (JSON, SQL): most JSON readers and MySQL's numeric
                // literals go through a double beyond 38 digits; as text they stay exact.
                return Ok(ValueKind::Text);
            }
            Col::Date(v) => {
                if let Some(t) = crate::datetime::date_infinity(v[i]) {
                    out.extend_from_slice(t.as_bytes());
                    return Ok(ValueKind::Text);
                }
                match date_format {
                    Some(f) => {
                        let d =
                            chrono::NaiveDate::default() + chrono::Duration::days(i64::from(v[i]));
                        f.format(&d.and_time(chrono::NaiveTime::MIN), out);
                    }
                    None => write_iso_date(i64::from(v[i]), out),
                }
                return Ok(ValueKind::Text);
            }
            Col::Ts(v, per) => {
                // Microseconds only: PostgreSQL's unit (i64::MAX nanoseconds is a real instant
                // in 2262; i64::MAX microseconds is year 294,247, which no reader here makes).
                if let Some(t) = (*per == 1_000)
                    .then(|| crate::datetime::timestamp_infinity(v[i]))
                    .flatten()
                {
                    out.extend_from_slice(t.as_bytes());
                    return Ok(ValueKind::Text);
                }
                let nanos = i128::from(v[i]) * per;
                match date_format {
                    Some(f) => {
                        let dt = nanos_to_naive(nanos)
                            .ok_or_else(|| format!("timestamp {} out of range", v[i]))?;
                        f.format(&dt, out);
                    }
                    None => write_iso_timestamp_nanos(nanos, out),
                }
                return Ok(ValueKind::Text);
            }
            Col::Time(f, per) => {
                let nanos = i128::from(f(i)) * per;
                if !(0..=86_400_000_000_000).contains(&nanos) {
                    return Err(format!("time of day {} is out of range", f(i)));
                }
                crate::datetime::write_time_of_day(nanos, out);
                return Ok(ValueKind::Text);
            }
            Col::List(a) => {
                // A JSON array, so NULL elements and text with commas stay unambiguous.
                let values = a.value(i);
                let w = Col::new(&values, &FORMAT_OPTIONS)?;
                out.push(b'[');
                for j in 0..values.len() {
                    if j > 0 {
                        out.push(b',');
                    }
                    w.write_json(values.is_null(j), j, out, date_format)?;
                }
                out.push(b']');
                return Ok(ValueKind::Json);
            }
            Col::Struct(fields) => {
                // A JSON object: quotes escaped, a NULL field `null`, not an empty string.
                out.push(b'{');
                for (k, (name, array, c)) in fields.iter().enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, name).map_err(|e| e.to_string())?;
                    out.push(b':');
                    c.write_json(array.is_null(i), i, out, date_format)?;
                }
                out.push(b'}');
                return Ok(ValueKind::Json);
            }
            Col::Map(a) => {
                let entries = a.value(i);
                let (keys, values) = (entries.column(0), entries.column(1));
                let (kw, vw) = (
                    Col::new(keys, &FORMAT_OPTIONS)?,
                    Col::new(values, &FORMAT_OPTIONS)?,
                );
                out.push(b'{');
                let mut key = Vec::new();
                for j in 0..entries.len() {
                    if j > 0 {
                        out.push(b',');
                    }
                    key.clear();
                    kw.write(j, &mut key, date_format)?;
                    let text = std::str::from_utf8(&key)
                        .map_err(|_| "binary map keys cannot be written as JSON".to_string())?;
                    serde_json::to_writer(&mut *out, text).map_err(|e| e.to_string())?;
                    out.push(b':');
                    vw.write_json(values.is_null(j), j, out, date_format)?;
                }
                out.push(b'}');
                return Ok(ValueKind::Json);
            }
            Col::Other(f) => {
                // Arrow's own error text must never become a value.
                let mut text = String::new();
                f.value(i)
                    .write(&mut text)
                    .map_err(|e| format!("cannot format the value: {e}"))?;
                out.extend_from_slice(text.as_bytes());
                return Ok(ValueKind::Text);
            }
        }
        Ok(ValueKind::Number)
    }
}

fn write_decimal(v: i128, scale: u32, out: &mut Vec<u8>) {
    write_scaled(v < 0, &v.unsigned_abs().to_string(), scale, out);
}

/// The decimal text of a scaled integer given as its `digits` (no sign): `scale` of them after
/// the point, zero-padded (`5` at scale 2 is `0.05`).
pub fn decimal_string(neg: bool, digits: &str, scale: u32) -> String {
    let mut out = Vec::with_capacity(digits.len() + 3);
    write_scaled(neg, digits, scale, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the integer `digits` (no sign) with `scale` of them after the point.
fn write_scaled(neg: bool, digits: &str, scale: u32, out: &mut Vec<u8>) {
    if neg {
        out.push(b'-');
    }
    let s = scale as usize;
    if s == 0 {
        out.extend_from_slice(digits.as_bytes());
    } else if digits.len() > s {
        let (a, b) = digits.split_at(digits.len() - s);
        out.extend_from_slice(a.as_bytes());
        out.push(b'.');
        out.extend_from_slice(b.as_bytes());
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', s - digits.len()));
        out.extend_from_slice(digits.as_bytes());
    }
}

/// Encodes record batches as lines of text.
pub struct TextEncoder {
    opts: TextOptions,
    row: Vec<u8>,
    field: Vec<u8>,
}

impl TextEncoder {
    /// An encoder with the given options.
    pub fn new(opts: TextOptions) -> Self {
        TextEncoder {
            opts,
            row: Vec::with_capacity(256),
            field: Vec::with_capacity(64),
        }
    }

    /// The options.
    pub fn options(&self) -> &TextOptions {
        &self.opts
    }

    /// Writes a header line of column names (CSV/text only; JSON Lines has none).
    pub fn header(&mut self, names: &[String], out: &mut Vec<u8>) -> Result<(), String> {
        if self.opts.format == FileFormat::Jsonl {
            return Ok(());
        }
        self.row.clear();
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                self.row.push(self.opts.delimiter);
            }
            self.field.clear();
            self.field.extend_from_slice(n.as_bytes());
            push_delimited(&self.opts, &self.field, &mut self.row)?;
        }
        self.row.push(b'\n');
        self.transcode(out)
    }

    /// Appends every row of `batch` to `out`. A row that cannot be written goes to `dirty`
    /// (row index, reason) and is left out. Returns the number of rows written.
    pub fn encode<E>(
        &mut self,
        batch: &RecordBatch,
        out: &mut Vec<u8>,
        mut dirty: impl FnMut(usize, String) -> Result<(), E>,
    ) -> Result<u64, E> {
        let fopts = arrow_cast::display::FormatOptions::default();
        let schema = batch.schema();
        let cols: Vec<Result<Col<'_>, String>> = batch
            .columns()
            .iter()
            .map(|a| Col::new(a, &fopts))
            .collect();
        let names: Vec<Vec<u8>> = schema
            .fields()
            .iter()
            .map(|f| serde_json::to_vec(f.name()).unwrap_or_else(|_| b"\"?\"".to_vec()))
            .collect();
        let mut written = 0;
        for r in 0..batch.num_rows() {
            match self.encode_row(batch, &cols, &names, r) {
                Ok(()) => match self.transcode(out) {
                    Ok(()) => written += 1,
                    Err(e) => dirty(r, e)?,
                },
                Err(e) => dirty(r, e)?,
            }
        }
        Ok(written)
    }

    fn encode_row(
        &mut self,
        batch: &RecordBatch,
        cols: &[Result<Col<'_>, String>],
        names: &[Vec<u8>],
        r: usize,
    ) -> Result<(), String> {
        let opts = &self.opts;
        self.row.clear();
        let jsonl = opts.format == FileFormat::Jsonl;
        if jsonl {
            self.row.push(b'{');
        }
        for (c, (col, array)) in cols.iter().zip(batch.columns()).enumerate() {
            let col = col.as_ref().map_err(|e| format!("column {c}: {e}"))?;
            if c > 0 {
                self.row.push(if jsonl { b',' } else { opts.delimiter });
            }
            if jsonl {
                self.row.extend_from_slice(&names[c]);
                self.row.push(b':');
            }
            if array.is_null(r) {
                if jsonl {
                    self.row.extend_from_slice(b"null");
                } else {
                    self.row.extend_from_slice(opts.null_format.as_bytes());
                }
                continue;
            }
            self.field.clear();
            let kind = col
                .write(r, &mut self.field, opts.date_format.as_ref())
                .map_err(|e| format!("column {}: {e}", batch.schema().field(c).name()))?;
            let named = |e: String| format!("column {}: {e}", batch.schema().field(c).name());
            if jsonl {
                match kind {
                    ValueKind::Number | ValueKind::Bool | ValueKind::Json => {
                        self.row.extend_from_slice(&self.field)
                    }
                    ValueKind::Bytes | ValueKind::Text => {
                        let s = std::str::from_utf8(&self.field).map_err(|_| {
                            named(
                                "binary value is not valid UTF-8; JSON Lines cannot hold raw bytes"
                                    .into(),
                            )
                        })?;
                        serde_json::to_writer(&mut self.row, s)
                            .map_err(|e| named(e.to_string()))?;
                    }
                }
            } else {
                if !opts.null_format.is_empty() && self.field == opts.null_format.as_bytes() {
                    return Err(named(format!(
                        "the value is the nullFormat {:?}, so it would read back as NULL (set \
                         another nullFormat)",
                        opts.null_format
                    )));
                }
                if self.field.is_empty() && batch.num_columns() == 1 {
                    // A row of one empty field would be a blank line, which readers skip.
                    match opts.format {
                        FileFormat::Csv => self.row.extend_from_slice(b"\"\""),
                        _ => {
                            return Err(named(
                                "an empty value alone on its line would be a blank line, which \
                                 readers skip (use fileFormat \"csv\", which quotes it)"
                                    .into(),
                            ))
                        }
                    }
                    continue;
                }
                push_delimited(opts, &self.field, &mut self.row).map_err(named)?;
            }
        }
        self.row.push(if jsonl { b'}' } else { b'\n' });
        if jsonl {
            self.row.push(b'\n');
        }
        Ok(())
    }

    /// Moves the finished row into `out`, converting from UTF-8 to the file's encoding.
    fn transcode(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        if self.opts.encoding == encoding_rs::UTF_8 {
            out.extend_from_slice(&self.row);
            return Ok(());
        }
        let text = std::str::from_utf8(&self.row).map_err(|_| {
            format!(
                "binary value cannot be written in {}",
                self.opts.encoding.name()
            )
        })?;
        let (bytes, _, unmappable) = self.opts.encoding.encode(text);
        if unmappable {
            return Err(format!(
                "the row has characters that {} cannot represent",
                self.opts.encoding.name()
            ));
        }
        out.extend_from_slice(&bytes);
        Ok(())
    }
}

/// Appends a field for CSV (quoted when needed) or plain text (refused when it would corrupt).
fn push_delimited(opts: &TextOptions, field: &[u8], row: &mut Vec<u8>) -> Result<(), String> {
    let special = |b: &u8| *b == opts.delimiter || *b == b'\n' || *b == b'\r';
    match opts.format {
        FileFormat::Csv if field.iter().any(|b| special(b) || *b == b'"') => {
            row.push(b'"');
            for &b in field {
                if b == b'"' {
                    row.push(b'"');
                }
                row.push(b);
            }
            row.push(b'"');
        }
        FileFormat::Text if field.iter().any(special) => {
            return Err("the value contains the field delimiter or a line break, which fileFormat \"text\" cannot hold (use \"csv\")".into());
        }
        _ => row.extend_from_slice(field),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structs_and_maps_are_json() {
        use arrow_array::builder::{Int64Builder, MapBuilder, StringBuilder};
        use arrow_array::{Int64Array, StringArray, StructArray};
        use arrow_schema::Field;
        use std::sync::Arc;
        let s: ArrayRef = Arc::new(StructArray::from(vec![
            (
                Arc::new(Field::new("a", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("x, \"y\"}"), Some("")])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("b", DataType::Int64, true)),
                Arc::new(Int64Array::from(vec![None, Some(2)])) as ArrayRef,
            ),
        ]));
        let w = ValueWriter::new(&s).unwrap();
        let mut out = Vec::new();
        assert_eq!(w.write(0, &mut out, None).unwrap(), ValueKind::Json);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":"x, \"y\"}","b":null}"#
        );
        let mut out = Vec::new();
        w.write(1, &mut out, None).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":"","b":2}"#);
        let mut m = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
        m.keys().append_value("k\"1");
        m.values().append_value(7);
        m.keys().append_value("k2");
        m.values().append_null();
        m.append(true).unwrap();
        let m: ArrayRef = Arc::new(m.finish());
        let mut out = Vec::new();
        ValueWriter::new(&m)
            .unwrap()
            .write(0, &mut out, None)
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"k\"1":7,"k2":null}"#);
    }

    #[test]
    fn decimals_keep_their_scale() {
        let mut out = Vec::new();
        for (v, s, want) in [
            (12345i128, 2u32, "123.45"),
            (-5, 2, "-0.05"),
            (7, 0, "7"),
            (0, 3, "0.000"),
        ] {
            out.clear();
            write_decimal(v, s, &mut out);
            assert_eq!(String::from_utf8_lossy(&out), want);
        }
    }

    fn csv_rows(batch: &RecordBatch) -> (String, Vec<(usize, String)>) {
        let opts =
            TextOptions::new("p", FileFormat::Csv, None, "UTF-8", "\\N", None, false).unwrap();
        let mut enc = TextEncoder::new(opts);
        let mut out = Vec::new();
        let mut dirty = Vec::new();
        enc.encode(batch, &mut out, |r, e| {
            dirty.push((r, e));
            Ok::<(), ()>(())
        })
        .unwrap();
        (String::from_utf8(out).unwrap(), dirty)
    }

    #[test]
    fn an_empty_value_alone_on_its_line_is_quoted_not_a_blank_line() {
        use arrow_array::StringArray;
        use std::sync::Arc;
        let one = RecordBatch::try_from_iter([(
            "s",
            Arc::new(StringArray::from(vec![Some(""), Some("x"), None])) as _,
        )])
        .unwrap();
        assert_eq!(csv_rows(&one), ("\"\"\nx\n\\N\n".to_string(), vec![]));
        let two = RecordBatch::try_from_iter([
            ("a", Arc::new(StringArray::from(vec![""])) as _),
            ("b", Arc::new(StringArray::from(vec![""])) as _),
        ])
        .unwrap();
        assert_eq!(csv_rows(&two), (",\n".to_string(), vec![]));
    }

    #[test]
    fn times_of_day_up_to_24_hours_and_null_format_values_refused() {
        use arrow_array::{StringArray, Time64MicrosecondArray};
        use std::sync::Arc;
        let batch = RecordBatch::try_from_iter([
            (
                "t",
                Arc::new(Time64MicrosecondArray::from(vec![
                    0,
                    86_399_999_999,
                    86_400_000_000,
                    86_400_000_001,
                    1_500,
                ])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec!["a", "\\N", "", "b", "c"])) as ArrayRef,
            ),
        ])
        .unwrap();
        let (text, dirty) = csv_rows(&batch);
        // PostgreSQL's time allows 24:00:00; past it is no time of day.
        assert_eq!(text, "00:00:00,a\n24:00:00,\n00:00:00.001500,c\n");
        assert_eq!(dirty.len(), 2, "{dirty:?}");
        assert_eq!(dirty[0].0, 1);
        assert!(dirty[0].1.contains("nullFormat"), "{dirty:?}");
        assert_eq!(dirty[1].0, 3);
        assert!(dirty[1].1.contains("out of range"), "{dirty:?}");
    }

    #[test]
    fn arrow_format_errors_never_become_values() {
        use arrow_array::Time32SecondArray;
        use std::sync::Arc;
        // Formatted by Arrow (a type without a writer of ours): a date it cannot format is an
        // error, not Arrow's error text as the value.
        let a: ArrayRef = Arc::new(arrow_array::Date64Array::from(vec![86_400_000, i64::MAX]));
        let w = ValueWriter::new(&a).unwrap();
        let mut out = Vec::new();
        w.write(0, &mut out, None).unwrap();
        assert_eq!(String::from_utf8_lossy(&out), "1970-01-02T00:00:00");
        let e = w.write(1, &mut Vec::new(), None).unwrap_err();
        assert!(e.contains("cannot format"), "{e}");
        let t: ArrayRef = Arc::new(Time32SecondArray::from(vec![90_000]));
        let w = ValueWriter::new(&t).unwrap();
        let e = w.write(0, &mut Vec::new(), None).unwrap_err();
        assert!(e.contains("out of range"), "{e}");
    }
}
