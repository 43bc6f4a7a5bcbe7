//! Incoming Arrow columns -> the declared Hive types, exactly: integers and decimals are
//! range-checked, decimals rescaled only without losing digits, strings length-checked against
//! VARCHAR/CHAR(n), timestamps kept to the microsecond. A value that does not fit marks its row
//! bad (a dirty record) with the reason; it is never rounded, clipped or replaced.

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, Date32Array, Decimal128Array, TimestampMicrosecondArray};
use arrow_cast::cast::{cast_with_options, CastOptions};
use arrow_schema::{DataType, TimeUnit};
use datasync_codec::hive::HiveType;
use datasync_codec::values::canonical_number;
use datasync_codec::ValueWriter;
use std::collections::BTreeMap;
use std::sync::Arc;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Rows that failed conversion, each with its first reason.
#[derive(Debug, Default)]
pub struct BadRows(pub BTreeMap<usize, String>);

impl BadRows {
    fn mark(&mut self, row: usize, why: impl FnOnce() -> String) {
        self.0.entry(row).or_insert_with(why);
    }
}

/// Text of row `i` of `a`, for error messages.
pub fn show(a: &ArrayRef, i: usize) -> String {
    if a.is_null(i) {
        return "NULL".into();
    }
    let mut out = Vec::new();
    match ValueWriter::new(a).and_then(|w| w.write(i, &mut out, None)) {
        Ok(_) => {
            let mut s = String::from_utf8_lossy(&out).into_owned();
            if s.len() > 80 {
                let cut = (0..=80).rev().find(|c| s.is_char_boundary(*c)).unwrap_or(0);
                s.truncate(cut);
                s.push_str("...");
            }
            format!("\"{s}\"")
        }
        Err(_) => "a value".into(),
    }
}

/// The columns of `data` converted to the declared `(name, type)`s, in order, named as
/// declared, and the rows that did not fit (each with its first reason). Fails when the column
/// count differs or a source type can never convert.
pub fn conform(
    data: &arrow_array::RecordBatch,
    declared: &[(String, HiveType)],
) -> Result<(arrow_array::RecordBatch, BTreeMap<usize, String>), String> {
    if data.num_columns() != declared.len() {
        return Err(format!(
            "the reader sends {} columns ({}), the writer declares {} ({})",
            data.num_columns(),
            data.schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
            declared.len(),
            declared
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut bad: BTreeMap<usize, String> = BTreeMap::new();
    let mut cols = Vec::with_capacity(declared.len());
    let mut fields = Vec::with_capacity(declared.len());
    for (i, (name, t)) in declared.iter().enumerate() {
        let mut b = BadRows::default();
        let out =
            convert(data.column(i), t, &mut b).map_err(|m| format!("column \"{name}\": {m}"))?;
        for (row, why) in b.0 {
            bad.entry(row)
                .or_insert_with(|| format!("column \"{name}\": {why}"));
        }
        fields.push(arrow_schema::Field::new(
            name,
            out.data_type().clone(),
            true,
        ));
        cols.push(out);
    }
    let schema = Arc::new(arrow_schema::Schema::new(fields));
    let batch = arrow_array::RecordBatch::try_new(schema, cols).map_err(|e| e.to_string())?;
    Ok((batch, bad))
}

/// [`conform`], with the rows that did not fit taken out of the batch.
pub fn conform_good_rows(
    data: &arrow_array::RecordBatch,
    declared: &[(String, HiveType)],
) -> Result<(arrow_array::RecordBatch, Vec<(usize, String)>), String> {
    let (batch, bad) = conform(data, declared)?;
    if bad.is_empty() {
        return Ok((batch, Vec::new()));
    }
    let keep: arrow_array::BooleanArray = (0..batch.num_rows())
        .map(|r| Some(!bad.contains_key(&r)))
        .collect();
    let good =
        arrow_select::filter::filter_record_batch(&batch, &keep).map_err(|e| e.to_string())?;
    Ok((good, bad.into_iter().collect()))
}

/// Converts `src` to `target`, marking rows that do not fit in `bad`.
/// Fails only when the source type can never convert (a job error, not a row error).
pub fn convert(src: &ArrayRef, target: &HiveType, bad: &mut BadRows) -> Result<ArrayRef, String> {
    let out = match &target.arrow {
        DataType::Decimal128(p, s) => to_decimal(src, *p, *s, target, bad)?,
        DataType::Utf8 => to_string(src, target, bad)?,
        DataType::Date32 => to_date(src, target, bad)?,
        DataType::Timestamp(TimeUnit::Microsecond, None) => to_timestamp(src, target, bad)?,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            whole_numbers_only(src, target, bad);
            cast_checked(src, target, bad)?
        }
        DataType::Boolean if is_text(src) => bool_from_text(src, target, bad)?,
        DataType::Boolean => {
            zero_or_one_only(src, target, bad);
            cast_checked(src, target, bad)?
        }
        DataType::Float32 | DataType::Float64 if is_text(src) => float_from_text(src, target, bad)?,
        DataType::Float64 if src.data_type() == &DataType::Float32 => Arc::new(
            src.as_primitive::<Float32Type>()
                .unary::<_, Float64Type>(datasync_codec::values::float_as_double),
        ),
        _ => cast_checked(src, target, bad)?,
    };
    if let DataType::Float32 | DataType::Float64 = target.arrow {
        finite_stays_finite(src, &out, target, bad);
        float_holds_number(src, &out, target, bad);
    }
    debug_assert_eq!(out.len(), src.len());
    Ok(out)
}

fn is_text(a: &ArrayRef) -> bool {
    matches!(
        a.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// The values of a text column, as `&str`s.
fn text_values(src: &ArrayRef) -> Result<arrow_array::StringArray, String> {
    let a = cast_with_options(src, &DataType::Utf8, &safe()).map_err(|e| e.to_string())?;
    Ok(a.as_string::<i32>().clone())
}

/// Each value of a text column through `parse` (trimmed); a value it refuses is marked bad
/// with "`<value>` is not <what it says> (<type>)".
fn parse_text<T>(
    src: &ArrayRef,
    target: &HiveType,
    bad: &mut BadRows,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<Option<T>>, String> {
    Ok(text_values(src)?
        .iter()
        .enumerate()
        .map(|(i, v)| match parse(v?.trim()) {
            Ok(x) => Some(x),
            Err(why) => {
                bad.mark(i, || {
                    format!("{} is not {why} ({})", show(src, i), target.name)
                });
                None
            }
        })
        .collect())
}

/// BOOLEAN from text: `true`/`false` in any case, as DataX reads them; `yes`, `1`, `on`, `t`
/// (which Arrow's cast would take) are not truth values there.
fn bool_from_text(
    src: &ArrayRef,
    target: &HiveType,
    bad: &mut BadRows,
) -> Result<ArrayRef, String> {
    let values = parse_text(src, target, bad, |v| {
        if v.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if v.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err("true or false".to_string())
        }
    })?;
    Ok(Arc::new(arrow_array::BooleanArray::from(values)))
}

/// FLOAT/DOUBLE from text: a number that would overflow to infinity or underflow to zero is
/// refused, not changed.
fn float_from_text(
    src: &ArrayRef,
    target: &HiveType,
    bad: &mut BadRows,
) -> Result<ArrayRef, String> {
    let single = target.arrow == DataType::Float32;
    let values = parse_text(src, target, bad, |v| datasync_codec::parse_float(v, single))?;
    Ok(if single {
        Arc::new(arrow_array::Float32Array::from(
            values
                .into_iter()
                .map(|v| v.map(|x| x as f32))
                .collect::<Vec<_>>(),
        ))
    } else {
        Arc::new(arrow_array::Float64Array::from(values))
    })
}

fn cannot(src: &ArrayRef, i: usize, target: &HiveType) -> String {
    format!("{} does not fit in {}", show(src, i), target.name)
}

fn safe() -> CastOptions<'static> {
    CastOptions {
        safe: true,
        ..Default::default()
    }
}

/// Arrow's cast, with every value that became NULL marked bad.
fn cast_checked(src: &ArrayRef, target: &HiveType, bad: &mut BadRows) -> Result<ArrayRef, String> {
    if src.data_type() == &target.arrow {
        return Ok(Arc::clone(src));
    }
    let out = cast_with_options(src, &target.arrow, &safe()).map_err(|e| {
        format!(
            "cannot convert {} to {}: {e}",
            datasync_codec::types::type_name(src.data_type()),
            target.name
        )
    })?;
    for i in 0..src.len() {
        if src.is_valid(i) && out.is_null(i) {
            bad.mark(i, || cannot(src, i, target));
        }
    }
    Ok(out)
}

/// Integer targets: a fractional float or decimal would be truncated by the cast.
fn whole_numbers_only(src: &ArrayRef, target: &HiveType, bad: &mut BadRows) {
    let frac = |i: usize, bad: &mut BadRows| {
        bad.mark(i, || {
            format!(
                "{} has a fractional part; {} holds whole numbers",
                show(src, i),
                target.name
            )
        })
    };
    match src.data_type() {
        DataType::Float32 => {
            for (i, v) in src.as_primitive::<Float32Type>().iter().enumerate() {
                if v.is_some_and(|v| v.fract() != 0.0) {
                    frac(i, bad);
                }
            }
        }
        DataType::Float64 => {
            for (i, v) in src.as_primitive::<Float64Type>().iter().enumerate() {
                if v.is_some_and(|v| v.fract() != 0.0) {
                    frac(i, bad);
                }
            }
        }
        DataType::Decimal128(_, s) if *s > 0 => {
            let unit = 10i128.pow(*s as u32);
            for (i, v) in src.as_primitive::<Decimal128Type>().iter().enumerate() {
                if v.is_some_and(|v| v % unit != 0) {
                    frac(i, bad);
                }
            }
        }
        _ => {}
    }
}

/// BOOLEAN targets from numbers: only 0 and 1 are truth values (MySQL's TINYINT(1) holds
/// -128..127; a cast would turn every non-zero into true).
fn zero_or_one_only(src: &ArrayRef, target: &HiveType, bad: &mut BadRows) {
    if !(src.data_type().is_numeric()) {
        return;
    }
    let Ok(as_f64) = cast_with_options(src, &DataType::Float64, &safe()) else {
        return;
    };
    let f = as_f64.as_primitive::<Float64Type>();
    for i in 0..src.len() {
        if src.is_valid(i) && !(f.is_valid(i) && (f.value(i) == 0.0 || f.value(i) == 1.0)) {
            bad.mark(i, || {
                format!(
                    "{} is not a truth value; {} holds only 0 and 1 from numbers",
                    show(src, i),
                    target.name
                )
            });
        }
    }
}

/// A finite double that became infinite in a float column did not fit (other sources are
/// checked where they are converted: text by [`float_from_text`]).
fn finite_stays_finite(src: &ArrayRef, out: &ArrayRef, target: &HiveType, bad: &mut BadRows) {
    if src.data_type() != &DataType::Float64 {
        return;
    }
    let finite_in = |i: usize| src.as_primitive::<Float64Type>().value(i).is_finite();
    if let DataType::Float32 = out.data_type() {
        let o = out.as_primitive::<Float32Type>();
        for i in 0..o.len() {
            if o.is_valid(i) && !o.value(i).is_finite() && finite_in(i) {
                bad.mark(i, || cannot(src, i, target));
            }
        }
    }
}

/// Every value of `a` as plain decimal text: floats in their shortest round-trip digits
/// without an exponent (`1e20` is `100000000000000000000`), decimals and integers as written,
/// text as it is; None for a NULL or what is not a finite number, and for an array that holds
/// no numbers at all.
fn number_texts(a: &ArrayRef) -> Option<Vec<Option<String>>> {
    let each = |f: &dyn Fn(usize) -> Option<String>| {
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| f(i)).flatten())
            .collect()
    };
    Some(match a.data_type() {
        DataType::Float32 => {
            let v = a.as_primitive::<Float32Type>();
            each(&|i| v.value(i).is_finite().then(|| format!("{}", v.value(i))))
        }
        DataType::Float64 => {
            let v = a.as_primitive::<Float64Type>();
            each(&|i| v.value(i).is_finite().then(|| format!("{}", v.value(i))))
        }
        t if t.is_integer() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) => {
            let w = ValueWriter::new(a).ok()?;
            each(&|i| {
                let mut out = Vec::new();
                w.write(i, &mut out, None).ok()?;
                String::from_utf8(out).ok()
            })
        }
        _ if is_text(a) => {
            let t = text_values(a).ok()?;
            each(&|i| Some(t.value(i).trim().to_string()))
        }
        _ => return None,
    })
}

/// Float and double targets: the float must hold the source's number, i.e. its shortest digits
/// are the same number (9007199254740993 into DOUBLE, 2147483647 into FLOAT or a 30-digit
/// decimal into DOUBLE would change, and are dirty; 0.1 into DOUBLE is 0.1). A float widened
/// to a double is the double of its shortest digits (see `float_as_double`): not checked.
fn float_holds_number(src: &ArrayRef, out: &ArrayRef, target: &HiveType, bad: &mut BadRows) {
    if src.data_type() == out.data_type()
        || (src.data_type() == &DataType::Float32 && out.data_type() == &DataType::Float64)
    {
        return;
    }
    let (Some(from), Some(to)) = (number_texts(src), number_texts(out)) else {
        return;
    };
    for (i, (a, b)) in from.iter().zip(&to).enumerate() {
        let (Some(a), Some(b)) = (a, b) else {
            continue;
        };
        if canonical_number(a) != canonical_number(b) {
            bad.mark(i, || {
                format!(
                    "{} would become {b} in {}: the float cannot hold the number exactly",
                    show(src, i),
                    target.name
                )
            });
        }
    }
}

/// Rescales `v` from scale `from` to scale `to`; `None` if digits would be lost or it overflows.
fn rescale(v: i128, from: i8, to: i8) -> Option<i128> {
    if to >= from {
        10i128
            .checked_pow((to - from) as u32)
            .and_then(|m| v.checked_mul(m))
    } else {
        let d = 10i128.checked_pow((from - to) as u32)?;
        (v % d == 0).then_some(v / d)
    }
}

fn to_decimal(
    src: &ArrayRef,
    p: u8,
    s: i8,
    target: &HiveType,
    bad: &mut BadRows,
) -> Result<ArrayRef, String> {
    let limit = 10i128.pow(p as u32);
    let fits = |v: Option<i128>| v.filter(|v| v.abs() < limit);
    // Text is cast once: parsed here, and shown in the messages below. Decimals of 39+ digits
    // go through their exact text too (Arrow's cast would round away extra scale digits).
    let texts = if is_text(src) || matches!(src.data_type(), DataType::Decimal256(..)) {
        Some(text_values(src)?)
    } else if matches!(src.data_type(), DataType::Float32 | DataType::Float64) {
        // A float's own shortest digits, never its binary expansion (16777217.0 is not
        // 16777216.999999999339134976) nor a rounding to the scale.
        let t: arrow_array::StringArray = (0..src.len())
            .map(|i| {
                src.is_valid(i).then(|| match src.data_type() {
                    DataType::Float32 => format!("{}", src.as_primitive::<Float32Type>().value(i)),
                    _ => format!("{}", src.as_primitive::<Float64Type>().value(i)),
                })
            })
            .collect();
        Some(t)
    } else {
        None
    };
    let values: Vec<Option<Option<i128>>> = match (src.data_type(), &texts) {
        (DataType::Decimal128(_, s0), _) => {
            let a = src.as_primitive::<Decimal128Type>();
            a.iter()
                .map(|v| v.map(|v| fits(rescale(v, *s0, s))))
                .collect()
        }
        (_, Some(a)) => a
            .iter()
            .map(|v| v.map(|v| fits(datasync_codec::parse_decimal(v.trim(), p, s))))
            .collect(),
        (t, None) if t.is_integer() => {
            let a = cast_with_options(src, &DataType::Decimal128(38, 0), &safe())
                .map_err(|e| e.to_string())?;
            a.as_primitive::<Decimal128Type>()
                .iter()
                .map(|v| v.map(|v| fits(rescale(v, 0, s))))
                .collect()
        }
        _ => {
            // Floats and wider decimals: Arrow's cast (floats are inexact to begin with).
            return cast_checked(src, target, bad);
        }
    };
    let mut out = Vec::with_capacity(values.len());
    for (i, v) in values.into_iter().enumerate() {
        match v {
            Some(Some(v)) => out.push(Some(v)),
            Some(None) => {
                let number = texts
                    .as_ref()
                    .is_none_or(|t| canonical_number(t.value(i).trim()).is_some());
                bad.mark(i, || {
                    if number {
                        format!(
                            "{} does not fit in {} (too many digits, or digits after the scale)",
                            show(src, i),
                            target.name
                        )
                    } else {
                        format!(
                            "{} is not a decimal number for {}",
                            show(src, i),
                            target.name
                        )
                    }
                });
                out.push(None);
            }
            None => out.push(None),
        }
    }
    let a = Decimal128Array::from(out)
        .with_precision_and_scale(p, s)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(a))
}

fn to_string(src: &ArrayRef, target: &HiveType, bad: &mut BadRows) -> Result<ArrayRef, String> {
    let out: ArrayRef = match src.data_type() {
        DataType::Utf8 => Arc::clone(src),
        DataType::LargeUtf8 | DataType::Utf8View | DataType::Binary | DataType::LargeBinary => {
            cast_checked(src, target, bad)?
        }
        _ => {
            // Text exactly as the file writers print it (decimals with their scale, ISO
            // timestamps with a space), not Arrow's display form.
            let w = ValueWriter::new(src)?;
            let mut b = StringBuilder::with_capacity(src.len(), src.len() * 8);
            let mut buf = Vec::new();
            for i in 0..src.len() {
                if src.is_null(i) {
                    b.append_null();
                    continue;
                }
                buf.clear();
                w.write(i, &mut buf, None)?;
                match std::str::from_utf8(&buf) {
                    Ok(s) => b.append_value(s),
                    Err(_) => {
                        bad.mark(i, || format!("{} is not valid UTF-8", show(src, i)));
                        b.append_null();
                    }
                }
            }
            Arc::new(b.finish())
        }
    };
    if let Some(n) = target.max_chars {
        let a = out.as_string::<i32>();
        for (i, v) in a.iter().enumerate() {
            if let Some(v) = v {
                // Byte length bounds the character count from above: count only when needed.
                if v.len() > n as usize {
                    let chars = v.chars().count();
                    if chars > n as usize {
                        bad.mark(i, || {
                            format!(
                                "{} has {chars} characters, more than {} allows",
                                show(src, i),
                                target.name
                            )
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Microseconds since the epoch of every value of a timestamp column; a value that cannot be
/// held in microseconds (sub-microsecond digits, overflow) is marked bad.
fn timestamp_micros(
    src: &ArrayRef,
    target: &HiveType,
    bad: &mut BadRows,
) -> Option<Vec<Option<i64>>> {
    let mut mark =
        |i: usize, why: &str| bad.mark(i, || format!("{} {why} for {}", show(src, i), target.name));
    let out = match src.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => src
            .as_primitive::<TimestampSecondType>()
            .iter()
            .map(|v| v.map(|v| v.checked_mul(1_000_000)))
            .collect::<Vec<_>>(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => src
            .as_primitive::<TimestampMillisecondType>()
            .iter()
            .map(|v| v.map(|v| v.checked_mul(1_000)))
            .collect(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => src
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .map(|v| v.map(|v| datasync_codec::timestamp_infinity(v).is_none().then_some(v)))
            .collect(),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => src
            .as_primitive::<TimestampNanosecondType>()
            .iter()
            .map(|v| v.map(|v| (v % 1000 == 0).then_some(v / 1000)))
            .collect(),
        DataType::Date32 => src
            .as_primitive::<Date32Type>()
            .iter()
            .map(|v| v.map(|d| (d as i64).checked_mul(MICROS_PER_DAY)))
            .collect(),
        _ => return None,
    };
    Some(
        out.into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                None => None,
                Some(Some(v)) => Some(v),
                Some(None) => {
                    mark(
                        i,
                        "is an infinity, out of range or has digits below a microsecond",
                    );
                    None
                }
            })
            .collect(),
    )
}

fn to_timestamp(src: &ArrayRef, target: &HiveType, bad: &mut BadRows) -> Result<ArrayRef, String> {
    if let Some(v) = timestamp_micros(src, target, bad) {
        return Ok(Arc::new(TimestampMicrosecondArray::from(v)));
    }
    if is_text(src) {
        // Arrow's text cast would cut digits below a microsecond, take a leap second into the
        // next day and accept signed years: each is refused here instead.
        let values = parse_text(src, target, bad, |v| {
            let nanos =
                datasync_codec::parse_iso_timestamp_nanos(v.as_bytes()).ok_or_else(|| {
                    "a date-time YYYY-MM-DD[ HH:MM[:SS[.fraction]]] (years 0001-9999, no leap \
                 second :60)"
                        .to_string()
                })?;
            if nanos % 1000 != 0 {
                return Err("a date-time without digits below a microsecond".to_string());
            }
            i64::try_from(nanos / 1000).map_err(|_| "a date-time in range".to_string())
        })?;
        return Ok(Arc::new(TimestampMicrosecondArray::from(values)));
    }
    cast_checked(src, target, bad)
}

fn to_date(src: &ArrayRef, target: &HiveType, bad: &mut BadRows) -> Result<ArrayRef, String> {
    if let DataType::Date32 = src.data_type() {
        // PostgreSQL's infinity dates have no DATE value in Parquet.
        let days = src.as_primitive::<Date32Type>();
        let values: Vec<Option<i32>> = days
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let d = v?;
                if let Some(t) = datasync_codec::date_infinity(d) {
                    bad.mark(i, || format!("{t} has no value in {}", target.name));
                    return None;
                }
                Some(d)
            })
            .collect();
        return Ok(Arc::new(Date32Array::from(values)));
    }
    if let DataType::Timestamp(..) = src.data_type() {
        let micros = timestamp_micros(src, target, bad).unwrap_or_default();
        let days: Vec<Option<i32>> = micros
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let v = v?;
                if v.rem_euclid(MICROS_PER_DAY) != 0 {
                    bad.mark(i, || {
                        format!(
                            "{} has a time of day; DATE would drop it (declare TIMESTAMP)",
                            show(src, i)
                        )
                    });
                    return None;
                }
                i32::try_from(v.div_euclid(MICROS_PER_DAY)).ok()
            })
            .collect();
        return Ok(Arc::new(Date32Array::from(days)));
    }
    if is_text(src) {
        // Arrow's text cast accepts signed years and year 0, which a text DATE column then
        // writes in a form no reader takes back.
        let values = parse_text(src, target, bad, |v| {
            datasync_codec::parse_iso_date(v.as_bytes())
                .and_then(|d| i32::try_from(d).ok())
                .ok_or_else(|| "a date YYYY-MM-DD (years 0001-9999)".to_string())
        })?;
        return Ok(Arc::new(Date32Array::from(values)));
    }
    cast_checked(src, target, bad)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::{Float64Array, Int64Array, Int8Array, StringArray, TimestampNanosecondArray};
    use datasync_codec::hive::parse_hive_type;

    fn run(src: ArrayRef, t: &str) -> (ArrayRef, BadRows) {
        let mut bad = BadRows::default();
        let out = convert(&src, &parse_hive_type(t).unwrap(), &mut bad).unwrap();
        (out, bad)
    }

    #[test]
    fn decimals_are_exact() {
        let src: ArrayRef = Arc::new(StringArray::from(vec![
            Some("12.5"),
            Some("-0.01"),
            Some("1.005"),
            Some("123456789"),
            None,
            Some("x"),
        ]));
        let (out, bad) = run(src, "decimal(10,2)");
        let d = out.as_primitive::<Decimal128Type>();
        assert_eq!(d.value(0), 1250);
        assert_eq!(d.value(1), -1);
        assert!(d.is_null(4));
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![2, 3, 5]);
        assert!(bad.0[&3].contains("too many digits"), "{:?}", bad.0);
        assert!(bad.0[&5].contains("not a decimal number"), "{:?}", bad.0);
        let src: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(12345), Some(12340)])
                .with_precision_and_scale(10, 3)
                .unwrap(),
        );
        let (out, bad) = run(src, "decimal(12,2)");
        assert_eq!(out.as_primitive::<Decimal128Type>().value(1), 1234);
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![0]);
    }

    #[test]
    fn booleans_from_numbers_are_zero_or_one() {
        let (out, bad) = run(Arc::new(Int8Array::from(vec![0, 1, 127, -128])), "boolean");
        assert_eq!(bad.0.len(), 2, "127 and -128 are not truth values");
        assert!(out.as_boolean().value(1));
    }

    #[test]
    fn integers_are_range_checked() {
        let (out, bad) = run(Arc::new(Int64Array::from(vec![1, 300, -128])), "tinyint");
        assert_eq!(out.data_type(), &DataType::Int8);
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert!(bad.0[&1].contains("tinyint"));
        let (_, bad) = run(Arc::new(Float64Array::from(vec![1.0, 1.5])), "bigint");
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn strings_are_length_checked() {
        let src: ArrayRef = Arc::new(StringArray::from(vec!["abc", "abcd", "日本語"]));
        let (_, bad) = run(src, "varchar(3)");
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![1]);
        let (out, _) = run(
            Arc::new(
                Decimal128Array::from(vec![150])
                    .with_precision_and_scale(5, 2)
                    .unwrap(),
            ),
            "string",
        );
        assert_eq!(out.as_string::<i32>().value(0), "1.50");
    }

    #[test]
    fn text_into_float_boolean_and_timestamp_is_exact() {
        let src: ArrayRef = Arc::new(StringArray::from(vec![
            "1.5",
            "1e400",
            "1e-400",
            "-Infinity",
            "NaN",
            "0.0",
            "x",
        ]));
        let (out, bad) = run(Arc::clone(&src), "double");
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![1, 2, 6]);
        assert!(bad.0[&1].contains("overflows"), "{:?}", bad.0);
        assert!(bad.0[&2].contains("too small"), "{:?}", bad.0);
        let f = out.as_primitive::<Float64Type>();
        assert_eq!(f.value(0), 1.5);
        assert_eq!(f.value(3), f64::NEG_INFINITY);
        assert!(f.value(4).is_nan());
        let (_, bad) = run(
            Arc::new(StringArray::from(vec!["3e38", "4e38", "1e-50"])),
            "float",
        );
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![1, 2]);

        let src: ArrayRef = Arc::new(StringArray::from(vec![
            "true", "FALSE", "yes", "1", "on", "Y", "T",
        ]));
        let (out, bad) = run(src, "boolean");
        assert_eq!(
            bad.0.keys().copied().collect::<Vec<_>>(),
            vec![2, 3, 4, 5, 6]
        );
        assert!(out.as_boolean().value(0) && !out.as_boolean().value(1));

        let src: ArrayRef = Arc::new(StringArray::from(vec![
            "2024-01-02 03:04:05.123456",
            "2024-01-02 03:04:05.1234567",
            "2024-01-02 03:04:05.123456000",
            "2016-12-31 23:59:60",
            "-0001-01-01 00:00:00",
            "0000-01-01 00:00:00",
        ]));
        let (out, bad) = run(src, "timestamp");
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![1, 3, 4, 5]);
        let src: ArrayRef = Arc::new(StringArray::from(vec![
            "2024-01-02",
            "-0001-01-01",
            "-0044-03-15",
            "0000-01-01",
            "2024-02-30",
        ]));
        let (_, bad) = run(src, "date");
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!(
            out.as_primitive::<TimestampMicrosecondType>().value(2) % 1_000_000,
            123_456
        );
    }

    #[test]
    fn timestamps_and_dates() {
        let src: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![
            1_000_000_000,
            1_000_000_001,
            86_400_000_000_000,
        ]));
        let (out, bad) = run(Arc::clone(&src), "timestamp");
        assert_eq!(
            out.as_primitive::<TimestampMicrosecondType>().value(0),
            1_000_000
        );
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![1]);
        let (out, bad) = run(src, "date");
        assert_eq!(out.as_primitive::<Date32Type>().value(2), 1);
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
        let (out, bad) = run(
            Arc::new(StringArray::from(vec!["2024-02-29", "2023-02-29"])),
            "date",
        );
        assert_eq!(out.as_primitive::<Date32Type>().value(0), 19782);
        assert_eq!(bad.0.keys().copied().collect::<Vec<_>>(), vec![1]);
    }
}
