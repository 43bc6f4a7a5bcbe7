//! The canonical form of a value for verification and comparison: what stays the same when a
//! writer converts a value the way the writers do (an INT into a BIGINT, a DECIMAL(10,2) into
//! a NUMERIC(12,4), a string into a LargeUtf8, a boolean into 0/1), so that a figure taken on
//! the reader's batches equals the one taken on the target's.
//!
//! - exact numbers (integers of any width, decimals, booleans as 0/1) are one kind, compared
//!   and hashed by value with trailing fraction zeros removed (`1.50` = `1.5` = `1.500`);
//! - floating point numbers are another (`f32` widened to `f64`);
//! - text and binary are their bytes (text and binary are different kinds);
//! - dates are days, times and timestamps nanoseconds (the instant Arrow stores; a time zone
//!   annotation does not change it);
//! - anything else (lists, structs) is its Arrow display text.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_buffer::i256;
use arrow_schema::{DataType, TimeUnit};
use std::borrow::Cow;
use std::cmp::Ordering;

/// An exact number: `unscaled / 10^scale`, with no trailing zero in the fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Dec {
    /// The digits.
    pub unscaled: i128,
    /// Digits after the point (0 or more).
    pub scale: u8,
}

impl Dec {
    /// `unscaled / 10^scale`, normalised.
    pub fn new(mut unscaled: i128, scale: i8) -> Dec {
        if scale < 0 {
            let up = 10i128.checked_pow(u32::from(scale.unsigned_abs()));
            return match up.and_then(|u| unscaled.checked_mul(u)) {
                Some(v) => Dec {
                    unscaled: v,
                    scale: 0,
                },
                None => Dec { unscaled, scale: 0 },
            };
        }
        let mut scale = scale as u8;
        while scale > 0 && unscaled % 10 == 0 {
            unscaled /= 10;
            scale -= 1;
        }
        Dec { unscaled, scale }
    }

    /// The value at `scale` (≥ its own), if it fits.
    pub fn at_scale(self, scale: u8) -> Option<i128> {
        let up = 10i128.checked_pow(u32::from(scale.checked_sub(self.scale)?))?;
        self.unscaled.checked_mul(up)
    }

    /// The nearest `f64`.
    pub fn to_f64(self) -> f64 {
        self.unscaled as f64 / 10f64.powi(i32::from(self.scale))
    }
}

impl Ord for Dec {
    fn cmp(&self, other: &Self) -> Ordering {
        let s = self.scale.max(other.scale);
        match (self.at_scale(s), other.at_scale(s)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.to_f64().total_cmp(&other.to_f64()),
        }
    }
}

impl PartialOrd for Dec {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Dec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.unscaled.unsigned_abs().to_string();
        f.write_str(&with_point(self.unscaled < 0, &digits, self.scale))
    }
}

/// The decimal `digits / 10^scale` (negative with `neg`) written out, the point before its
/// last `scale` digits (none for 0), leading zeros added where the digits are fewer.
fn with_point(neg: bool, digits: &str, scale: u8) -> String {
    let sign = if neg { "-" } else { "" };
    let scale = usize::from(scale);
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// One value in canonical form, borrowing text and bytes from the array.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Canon<'a> {
    /// An exact number (integer, decimal, boolean).
    Num(Dec),
    /// A floating point number.
    Float(#[serde(with = "f64_bits")] f64),
    /// Text (UTF-8 bytes).
    Text(Cow<'a, [u8]>),
    /// Binary.
    Bytes(Cow<'a, [u8]>),
    /// A date: days since 1970-01-01.
    Date(i64),
    /// A time of day: nanoseconds since midnight.
    Time(i128),
    /// A timestamp: nanoseconds since 1970-01-01 00:00 (UTC, or wall clock without a zone).
    Timestamp(i128),
    /// An exact number too wide for 38 digits: its normalised decimal text.
    Wide(Cow<'a, str>),
}

impl Canon<'_> {
    fn tag(&self) -> u8 {
        match self {
            Canon::Num(_) => 1,
            Canon::Float(_) => 2,
            Canon::Text(_) => 3,
            Canon::Bytes(_) => 4,
            Canon::Date(_) => 5,
            Canon::Time(_) => 6,
            Canon::Timestamp(_) => 7,
            Canon::Wide(_) => 8,
        }
    }

    /// Whether both are of the same kind.
    pub fn tag_eq(&self, other: &Canon<'_>) -> bool {
        self.tag() == other.tag()
    }

    /// The order used for min and max: by value within a kind (text by bytes, as a binary
    /// collation orders it), kinds in a fixed order.
    pub fn order(&self, other: &Canon<'_>) -> Ordering {
        match (self, other) {
            (Canon::Num(a), Canon::Num(b)) => a.cmp(b),
            (Canon::Float(a), Canon::Float(b)) => a.total_cmp(b),
            (Canon::Num(a), Canon::Float(b)) => a.to_f64().total_cmp(b),
            (Canon::Float(a), Canon::Num(b)) => a.total_cmp(&b.to_f64()),
            (Canon::Text(a), Canon::Text(b)) => a.as_ref().cmp(b.as_ref()),
            (Canon::Bytes(a), Canon::Bytes(b)) => a.as_ref().cmp(b.as_ref()),
            (Canon::Date(a), Canon::Date(b)) => a.cmp(b),
            (Canon::Time(a), Canon::Time(b)) | (Canon::Timestamp(a), Canon::Timestamp(b)) => {
                a.cmp(b)
            }
            (Canon::Wide(_), _) | (_, Canon::Wide(_))
                if self.number().is_some() && other.number().is_some() =>
            {
                let f = |c: &Canon<'_>| c.number().map_or(0.0, Number::to_f64);
                f(self)
                    .total_cmp(&f(other))
                    .then_with(|| self.show().cmp(&other.show()))
            }
            _ => self.tag().cmp(&other.tag()),
        }
    }

    /// Feeds the value, with its kind, into `h`.
    pub fn hash_into(&self, h: &mut Fnv) {
        h.byte(self.tag());
        match self {
            Canon::Num(d) => {
                h.bytes(&d.unscaled.to_le_bytes());
                h.byte(d.scale);
            }
            Canon::Float(f) => {
                // -0.0 = 0.0; every NaN alike.
                let v = if *f == 0.0 {
                    0.0f64
                } else if f.is_nan() {
                    f64::NAN
                } else {
                    *f
                };
                h.bytes(&v.to_bits().to_le_bytes())
            }
            Canon::Text(b) => {
                h.bytes(&(b.len() as u64).to_le_bytes());
                h.bytes(b);
            }
            Canon::Bytes(b) => {
                h.bytes(&(b.len() as u64).to_le_bytes());
                h.bytes(b);
            }
            Canon::Date(d) => h.bytes(&d.to_le_bytes()),
            Canon::Time(t) | Canon::Timestamp(t) => h.bytes(&t.to_le_bytes()),
            Canon::Wide(t) => {
                h.bytes(&(t.len() as u64).to_le_bytes());
                h.bytes(t.as_bytes());
            }
        }
    }

    /// The value as text for the report.
    pub fn show(&self) -> String {
        match self {
            Canon::Num(d) => d.to_string(),
            Canon::Wide(t) => t.to_string(),
            Canon::Float(f) => f.to_string(),
            Canon::Text(b) => String::from_utf8_lossy(b).into_owned(),
            Canon::Bytes(b) => {
                let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                format!("0x{hex}")
            }
            Canon::Date(d) => chrono::NaiveDate::from_num_days_from_ce_opt(
                i32::try_from(*d + 719_163).unwrap_or(i32::MAX),
            )
            .map(|d| d.to_string())
            .unwrap_or_else(|| format!("day {d}")),
            Canon::Time(ns) => {
                let secs = (*ns / 1_000_000_000) as u32;
                let nano = (*ns % 1_000_000_000) as u32;
                chrono::NaiveTime::from_num_seconds_from_midnight_opt(secs, nano)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| format!("{ns} ns"))
            }
            Canon::Timestamp(ns) => {
                let secs = ns.div_euclid(1_000_000_000) as i64;
                let nano = ns.rem_euclid(1_000_000_000) as u32;
                chrono::DateTime::from_timestamp(secs, nano)
                    .map(|t| t.naive_utc().to_string())
                    .unwrap_or_else(|| format!("{ns} ns"))
            }
        }
    }

    /// The value as a number, for sums (`None`: not a number).
    pub fn number(&self) -> Option<Number> {
        match self {
            Canon::Num(d) => Some(Number::Exact(*d)),
            Canon::Float(f) => Some(Number::Float(*f)),
            Canon::Wide(t) => Some(match big_of(t) {
                Some((v, s)) => Number::Big(v, s),
                None => Number::Huge(t.parse().unwrap_or(f64::NAN)),
            }),
            _ => None,
        }
    }

    /// An owned copy (kept as a minimum or maximum).
    pub fn owned(&self) -> Canon<'static> {
        match self {
            Canon::Num(d) => Canon::Num(*d),
            Canon::Float(f) => Canon::Float(*f),
            Canon::Text(b) => Canon::Text(Cow::Owned(b.to_vec())),
            Canon::Bytes(b) => Canon::Bytes(Cow::Owned(b.to_vec())),
            Canon::Date(d) => Canon::Date(*d),
            Canon::Time(t) => Canon::Time(*t),
            Canon::Timestamp(t) => Canon::Timestamp(*t),
            Canon::Wide(t) => Canon::Wide(Cow::Owned(t.to_string())),
        }
    }
}

/// Arrow field metadata the SQL readers set where the Arrow type carries only the values
/// (decimal text, JSON, TIME beyond a day, interval); the same key as
/// `datasync_db::sql::source_type::SOURCE_TYPE` (the engine does not depend on `db`).
const SOURCE_TYPE: &str = "datasync.source_type";

/// Whether field `f` holds numbers (integers, decimals, floats; decimal text by its source
/// type), which a writer may store as text.
pub fn holds_numbers(f: &arrow_schema::Field) -> bool {
    f.data_type().is_numeric()
        || f.metadata()
            .get(SOURCE_TYPE)
            .is_some_and(|t| t.starts_with("decimal"))
}

/// An exact number from its decimal text (`-12.3400`, `1e3` is not one): normalised.
pub fn decimal_text(t: &str) -> Option<Canon<'static>> {
    let t = t.trim();
    // PostgreSQL numeric's special values: as a float column's.
    match t {
        "NaN" => return Some(Canon::Float(f64::NAN)),
        "Infinity" => return Some(Canon::Float(f64::INFINITY)),
        "-Infinity" => return Some(Canon::Float(f64::NEG_INFINITY)),
        _ => {}
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    let int = int.trim_start_matches('0');
    let digits = format!("{int}{frac}");
    let zero = digits.bytes().all(|b| b == b'0');
    if let (Ok(scale), Ok(v)) = (i8::try_from(frac.len()), digits.parse::<i128>()) {
        return Some(Canon::Num(Dec::new(if neg { -v } else { v }, scale)));
    }
    if digits.is_empty() || zero {
        return Some(Canon::Num(Dec::new(0, 0)));
    }
    let int = if int.is_empty() { "0" } else { int };
    let sign = if neg { "-" } else { "" };
    Some(Canon::Wide(Cow::Owned(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })))
}

/// A JSON document in canonical form: object keys sorted, no insignificant whitespace,
/// numbers by value (`2.0` = `2`). A JSON column and a `jsonb` one store the same document
/// differently; so do a PostgreSQL array and the MySQL JSON array it was written as.
fn canonical_json(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut kv: Vec<(&String, &Value)> = m.iter().collect();
            kv.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in kv.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(v, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(v, out);
            }
            out.push(']');
        }
        Value::Number(n) => {
            let t = n.to_string();
            out.push_str(&canonical_text(&t).unwrap_or(t))
        }
        // A number, marked by `mark_numbers` so that its digits were kept.
        Value::String(t) if t.starts_with(NUMBER) => out.push_str(&t[NUMBER.len()..]),
        other => out.push_str(&other.to_string()),
    }
}

/// Marks a number that [`mark_numbers`] turned into a string (a code point no text holds in
/// practice, then the number's canonical form).
const NUMBER: &str = "\u{10FFFF}#";

/// A decimal number's canonical form: (negative, significant digits, exponent), exponents
/// allowed (`1.50` and `15e-1` are the same; zero is `(false, "", 0)`), exact whatever its
/// size. None for what is not a plain or exponent-form decimal (`NaN`, `inf`, text).
pub fn canonical_number(s: &str) -> Option<(bool, String, i64)> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (mant, exp) = match rest.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (rest, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{int}{frac}");
    let lead = digits.trim_start_matches('0');
    if lead.is_empty() {
        return Some((false, String::new(), 0));
    }
    let sig = lead.trim_end_matches('0');
    let exp = exp - frac.len() as i64 + (lead.len() - sig.len()) as i64;
    Some((neg, sig.to_string(), exp))
}

/// A JSON number token's canonical text: its significant digits and the power of ten they
/// are scaled by (`1.50` -> `15e-1`, `100` -> `1e2`, `2.0` -> `2`, `1e400` = the same number
/// written out). None for what JSON does not take as a number (`+1`, `.5`).
fn canonical_text(tok: &str) -> Option<String> {
    let body = tok.strip_prefix('-').unwrap_or(tok);
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (neg, sig, exp) = canonical_number(tok)?;
    let sign = if neg { "-" } else { "" };
    Some(match (sig.is_empty(), exp) {
        (true, _) => "0".into(),
        (false, 0) => format!("{sign}{sig}"),
        (false, _) => format!("{sign}{sig}e{exp}"),
    })
}

/// The JSON text with every number outside strings replaced by a marked string holding its
/// canonical form, so parsing keeps every digit (a parser reads numbers as 64-bit floats).
fn mark_numbers(t: &str) -> String {
    let b = t.as_bytes();
    let mut out = String::with_capacity(t.len() + 16);
    let (mut i, mut start) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let from = i;
                while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let tok = &t[from..i];
                out.push_str(&t[start..from]);
                match canonical_text(tok) {
                    Some(c) => {
                        out.push('"');
                        out.push_str(NUMBER);
                        out.push_str(&c);
                        out.push('"');
                    }
                    None => out.push_str(tok),
                }
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(t.get(start..).unwrap_or_default());
    out
}

/// JSON text in canonical form (see [`canonical_json`]), when it is a JSON document.
fn json_text(t: &str) -> Option<String> {
    let v = serde_json::from_str::<serde_json::Value>(&mark_numbers(t)).ok()?;
    let mut out = String::new();
    canonical_json(&v, &mut out);
    Some(out)
}

/// A number as the marked string [`canonical_json`] prints as its canonical form.
fn number_value(text: &str) -> serde_json::Value {
    match canonical_text(text) {
        Some(c) => serde_json::Value::String(format!("{NUMBER}{c}")),
        None => serde_json::Value::String(text.to_string()),
    }
}

/// A list as a JSON array in canonical form (elements by their canonical value, NULL as
/// `null`), so an array column equals the JSON array a writer made of it.
fn list_json(values: &ArrayRef) -> String {
    let col = Column::new(values);
    let items: Vec<serde_json::Value> = (0..values.len())
        .map(|i| match col.get(i) {
            None => serde_json::Value::Null,
            Some(Canon::Num(d)) => number_value(&d.to_string()),
            Some(Canon::Wide(t)) => number_value(&t),
            Some(Canon::Float(f)) if f.is_finite() => number_value(&f.to_string()),
            Some(Canon::Text(t)) => {
                let t = String::from_utf8_lossy(&t).into_owned();
                // A nested list comes back as its canonical JSON text.
                if values.data_type().is_nested() {
                    serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t))
                } else {
                    serde_json::Value::String(t)
                }
            }
            Some(other) => serde_json::Value::String(other.show()),
        })
        .collect();
    let mut out = String::new();
    canonical_json(&serde_json::Value::Array(items), &mut out);
    out
}

/// Text in canonical form, whichever column it came from: a JSON object or array as
/// canonical JSON, `HH:MM:SS[.fff]` within a day as a time of day, a longer duration `[-]H:MM:SS.fff` without the fraction's
/// trailing zeros (a writer that copies such text as text, and one that stores it as a JSON
/// or TIME column, give the same).
fn text_canon(t: &str) -> Option<Canon<'static>> {
    let first = t.trim_start().as_bytes().first()?;
    if matches!(first, b'{' | b'[') {
        return json_text(t).map(|j| Canon::Text(Cow::Owned(j.into_bytes())));
    }
    // A time of day written as text equals the TIME it came from.
    if (8..=18).contains(&t.len()) && t.as_bytes().get(2) == Some(&b':') {
        if let Some(ns) = time_of_day(t) {
            return Some(Canon::Time(ns));
        }
    }
    let (whole, frac) = t.split_once('.')?;
    (frac.ends_with('0') && whole.contains(':') && frac.bytes().all(|b| b.is_ascii_digit()))
        .then(|| Canon::Text(Cow::Owned(time_text(t).into_bytes())))
}

/// A float as the number its shortest digits (`shown`, in its own width) write: what the
/// writers store when they put a float into a decimal, an integer or a wider float column,
/// so `REAL 0.1` = `DOUBLE 0.1` = `DECIMAL 0.10` and `7.0` = `7`. NaN and the infinities stay
/// floats.
fn float(v: f64, shown: &str) -> Canon<'static> {
    if !v.is_finite() {
        return Canon::Float(v);
    }
    decimal_text(shown).unwrap_or(Canon::Float(v))
}

/// A text value in canonical form (see [`text_canon`]).
fn text(t: &str) -> Canon<'_> {
    text_canon(t).unwrap_or(Canon::Text(Cow::Borrowed(t.as_bytes())))
}

/// `HH:MM:SS[.fff]` within a day as nanoseconds since midnight.
fn time_of_day(t: &str) -> Option<i128> {
    let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
    let mut parts = hms.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |x: &str| -> Option<i128> {
        (!x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse().ok())
            .flatten()
    };
    let (h, m, s) = (num(h)?, num(m)?, num(s)?);
    let midnight_after = h == 24 && m == 0 && s == 0 && frac.bytes().all(|b| b == b'0');
    if (h >= 24 && !midnight_after) || m >= 60 || s >= 60 {
        return None;
    }
    let ns = if frac.is_empty() {
        0
    } else {
        num(frac)? * 10i128.pow(9 - frac.len() as u32)
    };
    Some(((h * 60 + m) * 60 + s) * 1_000_000_000 + ns)
}

/// A time or interval text `[-]H:MM:SS[.fff]` with the fraction's trailing zeros removed.
fn time_text(t: &str) -> String {
    match t.split_once('.') {
        Some((whole, frac)) if whole.contains(':') && frac.bytes().all(|b| b.is_ascii_digit()) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{frac}")
            }
        }
        _ => t.to_string(),
    }
}

/// A float kept by its bits (JSON has no NaN or infinity; shard reports carry figures).
pub(crate) mod f64_bits {
    /// Writes the bits.
    pub fn serialize<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(v.to_bits())
    }
    /// Reads the bits.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(f64::from_bits)
    }
}

/// A number for a sum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// Exact.
    Exact(Dec),
    /// Exact, past 38 digits: unscaled digits in 256 bits and the scale.
    Big(i256, u8),
    /// Exact, past 76 digits: no exact sum is kept (its nearest double, for ordering).
    Huge(f64),
    /// Floating point.
    Float(f64),
}

impl Number {
    /// Whether the number is exact (not a float).
    pub fn is_exact(self) -> bool {
        !matches!(self, Number::Float(_))
    }

    /// The nearest double.
    pub fn to_f64(self) -> f64 {
        match self {
            Number::Exact(d) => d.to_f64(),
            Number::Big(v, s) => big_text(v, s).parse().unwrap_or(f64::NAN),
            Number::Huge(f) | Number::Float(f) => f,
        }
    }
}

/// Canonical decimal text (see [`decimal_text`]) of up to 76 digits as unscaled digits in 256
/// bits and a scale.
fn big_of(text: &str) -> Option<(i256, u8)> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let scale = u8::try_from(frac.len()).ok()?;
    i256::from_string(&format!("{int}{frac}")).map(|v| (v, scale))
}

/// `unscaled / 10^scale` as canonical decimal text (no trailing fraction zeros).
pub fn big_text(unscaled: i256, scale: u8) -> String {
    let text = unscaled.to_string();
    let mut digits = text.trim_start_matches('-');
    let mut scale = scale;
    if digits == "0" {
        return digits.to_string();
    }
    while scale > 0 && digits.ends_with('0') {
        digits = &digits[..digits.len() - 1];
        scale -= 1;
    }
    with_point(unscaled.is_negative(), digits, scale)
}

/// FNV-1a, 64 bits: stable across runs and machines (the figures are compared within one
/// run, but `diff` buckets are compared across two reads).
#[derive(Debug, Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// One byte.
    #[inline]
    pub fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
    /// Several bytes.
    #[inline]
    pub fn bytes(&mut self, bs: &[u8]) {
        for b in bs {
            self.byte(*b);
        }
    }
}

/// Spreads a row's hash over all 64 bits before it is summed (splitmix64's finaliser).
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn time_ns(unit: &TimeUnit, v: i64) -> i128 {
    let f: i128 = match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    i128::from(v) * f
}

/// A column whose values can be read in canonical form.
pub struct Column<'a> {
    array: &'a dyn Array,
    /// Each value's canonical form, prepared for types without one of their own (their
    /// display text) and for text that stands for another type (see [`SOURCE_TYPE`]).
    prepared: Option<Vec<Option<Canon<'static>>>>,
}

impl<'a> Column<'a> {
    /// Column `i` of `batch`, read as its field's source type says (decimal, JSON, time or
    /// interval text compare by what they stand for).
    pub fn of(batch: &'a arrow_array::RecordBatch, i: usize) -> Column<'a> {
        Column::of_as(batch, i, false)
    }

    /// [`Column::of`]; `number`: text read as the decimal number it holds.
    pub fn of_as(batch: &'a arrow_array::RecordBatch, i: usize, number: bool) -> Column<'a> {
        let array = batch.column(i);
        let schema = batch.schema_ref();
        let kind = match number {
            true => Some("decimal".to_string()),
            false => schema.field(i).metadata().get(SOURCE_TYPE).cloned(),
        };
        let text = matches!(
            array.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        );
        match kind.filter(|_| text) {
            Some(k) => {
                let plain = Column::new(array);
                let prepared = (0..array.len())
                    .map(|r| {
                        plain.get(r).map(|v| {
                            let t = v.show();
                            if k.starts_with("decimal") {
                                decimal_text(&t).unwrap_or_else(|| v.owned())
                            } else if k == "json" {
                                json_text(&t)
                                    .map(|j| Canon::Text(Cow::Owned(j.into_bytes())))
                                    .unwrap_or_else(|| v.owned())
                            } else if k == "time" || k == "interval" {
                                // Within a day it is a time of day, as a TIME column's.
                                match time_of_day(&t) {
                                    Some(ns) => Canon::Time(ns),
                                    None => Canon::Text(Cow::Owned(time_text(&t).into_bytes())),
                                }
                            } else {
                                v.owned()
                            }
                        })
                    })
                    .collect();
                Column {
                    array: array.as_ref(),
                    prepared: Some(prepared),
                }
            }
            None => Column::new(array),
        }
    }

    /// Wraps an array.
    pub fn new(array: &'a ArrayRef) -> Column<'a> {
        let known = matches!(
            array.data_type(),
            DataType::Boolean
                | DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64
                | DataType::Float16
                | DataType::Float32
                | DataType::Float64
                | DataType::Decimal128(..)
                | DataType::Decimal256(..)
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
                | DataType::FixedSizeBinary(_)
                | DataType::Date32
                | DataType::Date64
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Timestamp(..)
        );
        // A list of either offset width: each row as the JSON array it stands for.
        let item: Option<Box<dyn Fn(usize) -> ArrayRef + '_>> = match array.data_type() {
            DataType::List(_) => Some(Box::new(|i| array.as_list::<i32>().value(i))),
            DataType::LargeList(_) => Some(Box::new(|i| array.as_list::<i64>().value(i))),
            _ => None,
        };
        if let Some(item) = item {
            let prepared = (0..array.len())
                .map(|i| {
                    array
                        .is_valid(i)
                        .then(|| Canon::Text(Cow::Owned(list_json(&item(i)).into_bytes())))
                })
                .collect();
            return Column {
                array: array.as_ref(),
                prepared: Some(prepared),
            };
        }
        let prepared = (!known).then(|| {
            let opts = arrow_cast::display::FormatOptions::default();
            match arrow_cast::display::ArrayFormatter::try_new(array.as_ref(), &opts) {
                Ok(f) => (0..array.len())
                    .map(|i| {
                        array
                            .is_valid(i)
                            .then(|| Canon::Text(Cow::Owned(f.value(i).to_string().into_bytes())))
                    })
                    .collect(),
                Err(_) => vec![None; array.len()],
            }
        });
        Column {
            array: array.as_ref(),
            prepared,
        }
    }

    /// The value of row `i` (`None`: null).
    pub fn get(&self, i: usize) -> Option<Canon<'_>> {
        let a = self.array;
        if a.is_null(i) {
            return None;
        }
        if let Some(prepared) = &self.prepared {
            return prepared[i].clone();
        }
        let int = |v: i128| Some(Canon::Num(Dec::new(v, 0)));
        match a.data_type() {
            DataType::Boolean => int(i128::from(a.as_boolean().value(i))),
            DataType::Int8 => int(a.as_primitive::<Int8Type>().value(i).into()),
            DataType::Int16 => int(a.as_primitive::<Int16Type>().value(i).into()),
            DataType::Int32 => int(a.as_primitive::<Int32Type>().value(i).into()),
            DataType::Int64 => int(a.as_primitive::<Int64Type>().value(i).into()),
            DataType::UInt8 => int(a.as_primitive::<UInt8Type>().value(i).into()),
            DataType::UInt16 => int(a.as_primitive::<UInt16Type>().value(i).into()),
            DataType::UInt32 => int(a.as_primitive::<UInt32Type>().value(i).into()),
            DataType::UInt64 => int(a.as_primitive::<UInt64Type>().value(i).into()),
            DataType::Float16 => Some(float(
                a.as_primitive::<Float16Type>().value(i).to_f64(),
                &a.as_primitive::<Float16Type>().value(i).to_string(),
            )),
            DataType::Float32 => {
                let v = a.as_primitive::<Float32Type>().value(i);
                Some(float(v.into(), &v.to_string()))
            }
            DataType::Float64 => {
                let v = a.as_primitive::<Float64Type>().value(i);
                Some(float(v, &v.to_string()))
            }
            DataType::Decimal128(_, s) => Some(Canon::Num(Dec::new(
                a.as_primitive::<Decimal128Type>().value(i),
                *s,
            ))),
            DataType::Decimal256(_, s) => {
                let v = a.as_primitive::<Decimal256Type>().value(i);
                match v.to_i128() {
                    Some(v) => Some(Canon::Num(Dec::new(v, *s))),
                    None => {
                        let digits = v.to_string();
                        let (sign, digits) = match digits.strip_prefix('-') {
                            Some(d) => ("-", d),
                            None => ("", digits.as_str()),
                        };
                        let scale = usize::try_from(*s).unwrap_or(0);
                        let padded = format!("{digits:0>width$}", width = scale + 1);
                        let (int, frac) = padded.split_at(padded.len() - scale);
                        decimal_text(&format!("{sign}{int}.{frac}"))
                    }
                }
            }
            DataType::Utf8 => Some(text(a.as_string::<i32>().value(i))),
            DataType::LargeUtf8 => Some(text(a.as_string::<i64>().value(i))),
            DataType::Utf8View => Some(text(a.as_string_view().value(i))),
            DataType::Binary => Some(Canon::Bytes(Cow::Borrowed(a.as_binary::<i32>().value(i)))),
            DataType::LargeBinary => {
                Some(Canon::Bytes(Cow::Borrowed(a.as_binary::<i64>().value(i))))
            }
            DataType::BinaryView => Some(Canon::Bytes(Cow::Borrowed(a.as_binary_view().value(i)))),
            DataType::FixedSizeBinary(_) => Some(Canon::Bytes(Cow::Borrowed(
                a.as_fixed_size_binary().value(i),
            ))),
            DataType::Date32 => Some(Canon::Date(a.as_primitive::<Date32Type>().value(i).into())),
            DataType::Date64 => Some(Canon::Date(
                a.as_primitive::<Date64Type>()
                    .value(i)
                    .div_euclid(86_400_000),
            )),
            DataType::Time32(u) => {
                let v = match u {
                    TimeUnit::Second => a.as_primitive::<Time32SecondType>().value(i),
                    _ => a.as_primitive::<Time32MillisecondType>().value(i),
                };
                Some(Canon::Time(time_ns(u, v.into())))
            }
            DataType::Time64(u) => {
                let v = match u {
                    TimeUnit::Microsecond => a.as_primitive::<Time64MicrosecondType>().value(i),
                    _ => a.as_primitive::<Time64NanosecondType>().value(i),
                };
                Some(Canon::Time(time_ns(u, v)))
            }
            DataType::Timestamp(u, _) => {
                let v = match u {
                    TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i),
                    TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i),
                    TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
                    TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(i),
                };
                Some(Canon::Timestamp(time_ns(u, v)))
            }
            _ => None,
        }
    }
}

/// The hash of each row of `columns` (in that order): every value with its kind and the null
/// marker, so `(1, NULL)` and `(NULL, 1)` differ.
pub fn row_hashes(columns: &[Column<'_>], rows: usize) -> Vec<u64> {
    let mut out = vec![Fnv::default(); rows];
    for c in columns {
        for (i, h) in out.iter_mut().enumerate() {
            match c.get(i) {
                Some(v) => v.hash_into(h),
                None => h.byte(0),
            }
        }
    }
    out.into_iter().map(|h| mix(h.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Decimal128Array, Int32Array, Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn decimals_and_integers_are_one_kind() {
        assert_eq!(Dec::new(150, 2), Dec::new(15, 1));
        assert_eq!(Dec::new(1500, 2), Dec::new(15, 0));
        assert_eq!(Dec::new(-5, 3).to_string(), "-0.005");
        assert_eq!(Dec::new(12345, 2).to_string(), "123.45");
        assert!(Dec::new(1, 1) > Dec::new(2, 2));
        let a: ArrayRef = Arc::new(Int32Array::from(vec![7]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![7]));
        let c: ArrayRef = Arc::new(
            Decimal128Array::from(vec![700])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        );
        let h = |x: &ArrayRef| row_hashes(&[Column::new(x)], 1)[0];
        assert_eq!(h(&a), h(&b));
        assert_eq!(h(&a), h(&c));
        let s: ArrayRef = Arc::new(StringArray::from(vec!["7"]));
        assert_ne!(h(&a), h(&s));
    }

    #[test]
    fn json_compares_by_document_and_numbers_by_every_digit() {
        let j = |t: &str| json_text(t).unwrap();
        assert_eq!(j(r#"{"z":1, "a":[1, 2.0]}"#), j(r#"{"a":[1,2],"z":1}"#));
        assert_eq!(
            j(r#"{"a":1e400}"#),
            j(&format!(r#"{{"a":1{}}}"#, "0".repeat(400)))
        );
        assert_eq!(j(r#"{"a":"\u00e9\/"}"#), j(r#"{"a":"é/"}"#));
        assert_ne!(
            j(r#"{"a":12345678901234567890123}"#),
            j(r#"{"a":12345678901234567890124}"#)
        );
        assert_ne!(j(r#"{"a":0.1}"#), j(r#"{"a":0.10000000000000001}"#));
        assert_ne!(j(r#"{"a":"1"}"#), j(r#"{"a":1}"#));
        assert_eq!(j("[-0.0, 1.50]"), "[0,15e-1]");
        // Not JSON numbers, so not a JSON document.
        assert_eq!(json_text("[-.5]"), None);
        assert_eq!(json_text("[-+1]"), None);
        // Decimal text of other sources: signs, exponents, no integer part.
        let n = |t: &str| canonical_number(t);
        assert_eq!(n("+1.50"), Some((false, "15".into(), -1)));
        assert_eq!(n("15e-1"), n("1.5"));
        assert_eq!(n("-.500"), Some((true, "5".into(), -1)));
        assert_eq!(n("-000"), Some((false, String::new(), 0)));
        assert_eq!(n("1200"), Some((false, "12".into(), 2)));
        for bad in ["", ".", "NaN", "inf", "1e", "1.2.3", "--1", "0x10"] {
            assert_eq!(n(bad), None, "{bad}");
        }
        assert_eq!(time_of_day("24:00:00"), Some(86_400_000_000_000));
        assert_eq!(time_of_day("24:00:01"), None);
    }

    #[test]
    fn column_order_and_nulls_count() {
        let x: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None]));
        let y: ArrayRef = Arc::new(Int32Array::from(vec![None, Some(1)]));
        let hx = row_hashes(&[Column::new(&x), Column::new(&y)], 2);
        assert_ne!(hx[0], hx[1]);
    }
}
