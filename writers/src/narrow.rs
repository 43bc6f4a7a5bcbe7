//! Values a SQL server would change without an error on their way into a narrower column:
//! PostgreSQL rounds a numeric to the column's scale, cuts trailing spaces past a char/varchar
//! length; both round a timestamp or time to the column's precision, drop the time of day of
//! a timestamp going into a date, and round a number into a float column. Each such value
//! makes its row dirty here instead, with what the column would have made of it.

use crate::timetext::TimeColumn;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use datasync_codec::values::canonical_number;
use datasync_codec::ValueWriter;
#[cfg(feature = "postgres")]
use datasync_db::postgres::tokio_postgres::types::Type;

/// What to check of one column's values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Narrow {
    /// Nothing can change.
    None,
    /// numeric(p, s): no nonzero digit after the scale.
    Scale(u32),
    /// money keeping this many fraction digits: a plain number (money reads text by the
    /// locale: `1,5` is 15) with no nonzero digit after them.
    Money(u32),
    /// timestamp(n) / time(n) with n < 6: microseconds a multiple of 10^(6 - n).
    Micros(u32),
    /// A timestamp into a date: no time of day.
    WholeDays,
    /// char(n) / varchar(n): at most n characters.
    Chars(usize),
    /// real (true) / double precision (false): the float's shortest digits are the number.
    Float(bool),
    /// Text into a date/time column keeping this many fractional second digits (`pg`:
    /// PostgreSQL's forms too): plain ISO text only (see [`crate::timetext`]).
    TimeText(crate::timetext::TimeColumn, u32, bool),
    /// MySQL CHAR(n): no trailing spaces (the column drops them).
    CharPad,
    /// Text into a MySQL YEAR: four digits (MySQL reads `10` as 2010 and `0` as 2000).
    YearText,
    /// A binary value into a PostgreSQL text column: it goes in as the text it holds, so it
    /// must be UTF-8 without a NUL.
    Utf8Bytes,
    /// MySQL ENUM / SET (`set`) of `members`: a value is stored as the member it matches (by
    /// the column's collation, trailing spaces ignored) and a SET's in member order, once each.
    Members { set: bool, members: Vec<String> },
}

/// The members of a MySQL `enum('a','b''c')` / `set(...)` COLUMN_TYPE.
fn members_of(column_type: &str) -> Vec<String> {
    let inner = column_type
        .split_once('(')
        .and_then(|(_, r)| r.rsplit_once(')'))
        .map_or("", |(i, _)| i);
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match (&mut cur, c) {
            (None, '\'') => cur = Some(String::new()),
            (Some(s), '\'') if chars.peek() == Some(&'\'') => {
                chars.next();
                s.push('\'');
            }
            (Some(_), '\'') => out.extend(cur.take()),
            (Some(s), c) => s.push(c),
            (None, _) => {}
        }
    }
    out
}

/// Why text `v` would not be stored as written in an ENUM/SET of `members`.
fn member_change(v: &str, set: bool, members: &[String]) -> Option<String> {
    // Only a member as written goes in unchanged: MySQL takes a number as a member's
    // position and matches the others by the column's collation (case, accents, trailing
    // spaces), storing the member.
    let member = |e: &str| -> Result<usize, String> {
        if let Some(i) = members.iter().position(|m| m == e) {
            return Ok(i);
        }
        let loose = |s: &str| s.trim_end_matches(' ').to_lowercase();
        Err(match members.iter().find(|m| loose(m) == loose(e)) {
            Some(m) => format!("\"{v}\" would be stored as \"{m}\""),
            None => format!(
                "\"{e}\" is not a member of the column as written (MySQL would read a number \
                 as a member's position, or match a member by its collation)"
            ),
        })
    };
    if !set {
        return member(v).err();
    }
    if v.is_empty() {
        return None;
    }
    let mut at = Vec::new();
    for e in v.split(',') {
        match member(e) {
            Ok(i) => at.push(i),
            Err(why) => return Some(why),
        }
    }
    let mut canon = at.clone();
    canon.sort_unstable();
    canon.dedup();
    let written: Vec<&str> = canon.iter().map(|&i| members[i].as_str()).collect();
    let written = written.join(",");
    (written != v).then(|| format!("\"{v}\" would be stored as \"{written}\""))
}

impl Narrow {
    /// MySQL: the check for a value of Arrow type `from` going into a column of `data_type`
    /// (information_schema's) with `datetime_precision`.
    #[cfg(feature = "mysql")]
    pub(crate) fn of_mysql(
        data_type: &str,
        datetime_precision: Option<u32>,
        column_type: &str,
        from: &DataType,
    ) -> Narrow {
        let number = from.is_integer()
            || matches!(from, DataType::Decimal128(..) | DataType::Decimal256(..));
        let text = matches!(from, DataType::Utf8 | DataType::LargeUtf8);
        let timestamp = matches!(from, DataType::Timestamp(..));
        match data_type.to_ascii_lowercase().as_str() {
            "datetime" | "timestamp" | "time"
                if datetime_precision.is_some_and(|p| p < 6)
                    && (timestamp || matches!(from, DataType::Time64(_))) =>
            {
                Narrow::Micros(datetime_precision.unwrap_or(6))
            }
            "date" if timestamp => Narrow::WholeDays,
            "date" if text => Narrow::TimeText(TimeColumn::Date, 0, false),
            "datetime" | "timestamp" if text => Narrow::TimeText(
                TimeColumn::Timestamp { zoned: false },
                datetime_precision.unwrap_or(0),
                false,
            ),
            "time" if text => {
                Narrow::TimeText(TimeColumn::Time, datetime_precision.unwrap_or(0), false)
            }
            "float" if number || *from == DataType::Float64 || text => Narrow::Float(true),
            "double" if number || text => Narrow::Float(false),
            "char" if text => Narrow::CharPad,
            "year" if text => Narrow::YearText,
            "enum" | "set" if text => Narrow::Members {
                set: data_type.eq_ignore_ascii_case("set"),
                members: members_of(column_type),
            },
            _ => Narrow::None,
        }
    }

    /// PostgreSQL: the check for a value of Arrow type `from` going into a column of `t` with
    /// `typmod`.
    #[cfg(feature = "postgres")]
    pub(crate) fn of(t: &Type, typmod: i32, from: &DataType) -> Narrow {
        let number = from.is_integer()
            || matches!(from, DataType::Decimal128(..) | DataType::Decimal256(..));
        let text = matches!(from, DataType::Utf8 | DataType::LargeUtf8);
        let timestamp = matches!(from, DataType::Timestamp(..));
        match *t {
            Type::NUMERIC if typmod >= 4 => {
                let scale = ((typmod - 4) & 0xffff) as u32;
                match from {
                    // Whole numbers, and decimals whose scale the column holds, fit as they are.
                    t if t.is_integer() => Narrow::None,
                    DataType::Decimal128(_, s) | DataType::Decimal256(_, s)
                        if i64::from(*s) <= i64::from(scale) =>
                    {
                        Narrow::None
                    }
                    _ if number || text || from.is_floating() => Narrow::Scale(scale),
                    _ => Narrow::None,
                }
            }
            Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::TIME
                if (0..6).contains(&typmod)
                    && (timestamp || matches!(from, DataType::Time64(_))) =>
            {
                Narrow::Micros(typmod as u32)
            }
            Type::DATE if timestamp => Narrow::WholeDays,
            // money keeps the locale's fraction digits (lc_monetary; the writer asks the
            // server, 2 until then).
            Type::MONEY if number || text || from.is_floating() => Narrow::Money(2),
            // typmod -1: no precision given, six digits kept.
            Type::DATE if text => Narrow::TimeText(TimeColumn::Date, 0, true),
            Type::TIMESTAMP | Type::TIMESTAMPTZ if text => Narrow::TimeText(
                TimeColumn::Timestamp {
                    zoned: *t == Type::TIMESTAMPTZ,
                },
                u32::try_from(typmod).unwrap_or(6).min(6),
                true,
            ),
            Type::TIME | Type::TIMETZ if text => Narrow::TimeText(
                match *t == Type::TIMETZ {
                    true => TimeColumn::TimeTz,
                    false => TimeColumn::Time,
                },
                u32::try_from(typmod).unwrap_or(6).min(6),
                true,
            ),
            Type::TEXT
            | Type::VARCHAR
            | Type::BPCHAR
            | Type::NAME
            | Type::JSON
            | Type::JSONB
            | Type::XML
                if matches!(from, DataType::Binary | DataType::LargeBinary) =>
            {
                Narrow::Utf8Bytes
            }
            Type::BPCHAR | Type::VARCHAR if typmod >= 4 && text => {
                Narrow::Chars((typmod - 4) as usize)
            }
            Type::FLOAT4 if number || *from == DataType::Float64 || text => Narrow::Float(true),
            Type::FLOAT8 if number || text => Narrow::Float(false),
            _ => Narrow::None,
        }
    }
}

/// The checks of one batch's columns.
pub(crate) struct Checks<'a> {
    /// Only the columns with something to check: (index, check, values, their text).
    cols: Vec<(usize, &'a Narrow, &'a ArrayRef, Option<ValueWriter<'a>>)>,
    names: Vec<String>,
}

impl<'a> Checks<'a> {
    /// Prepares the checks of `narrow` (one per column) on `batch`, whose columns go into the
    /// target columns `targets` (named in messages; the batch's names where none is given).
    pub(crate) fn new(narrow: &'a [Narrow], batch: &'a RecordBatch, targets: &[String]) -> Self {
        let cols = narrow
            .iter()
            .zip(batch.columns())
            .enumerate()
            .filter(|(_, (n, _))| **n != Narrow::None)
            .map(|(i, (n, a))| {
                let w = matches!(n, Narrow::Scale(_) | Narrow::Money(_) | Narrow::Float(_))
                    .then(|| ValueWriter::new(a).ok())
                    .flatten();
                (i, n, a, w)
            })
            .collect();
        let names = batch
            .schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| targets.get(i).unwrap_or(f.name()).clone())
            .collect();
        Checks { cols, names }
    }

    /// Why row `r` cannot go in unchanged, if it cannot.
    pub(crate) fn row(&self, r: usize) -> Result<(), String> {
        for (c, narrow, a, w) in &self.cols {
            if a.is_null(r) {
                continue;
            }
            check(narrow, a, w.as_ref(), r)
                .map_err(|e| format!("column {}: {e}", self.names[*c]))?;
        }
        Ok(())
    }
}

/// Row `r` of a Utf8 or LargeUtf8 array.
pub(crate) fn text_at(a: &ArrayRef, r: usize) -> &str {
    match a.data_type() {
        DataType::LargeUtf8 => a.as_string::<i64>().value(r),
        _ => a.as_string::<i32>().value(r),
    }
}

fn text_of(w: Option<&ValueWriter<'_>>, r: usize) -> Option<String> {
    let mut out = Vec::new();
    w?.write(r, &mut out, None).ok()?;
    String::from_utf8(out).ok()
}

fn micros_of(a: &ArrayRef, r: usize) -> Option<i128> {
    Some(match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            i128::from(a.as_primitive::<TimestampSecondType>().value(r)) * 1_000_000
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            i128::from(a.as_primitive::<TimestampMillisecondType>().value(r)) * 1_000
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            i128::from(a.as_primitive::<TimestampMicrosecondType>().value(r))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            i128::from(a.as_primitive::<TimestampNanosecondType>().value(r)) / 1000
        }
        DataType::Time64(TimeUnit::Microsecond) => i128::from(
            a.as_primitive::<arrow_array::types::Time64MicrosecondType>()
                .value(r),
        ),
        DataType::Time64(TimeUnit::Nanosecond) => {
            i128::from(
                a.as_primitive::<arrow_array::types::Time64NanosecondType>()
                    .value(r),
            ) / 1000
        }
        _ => return None,
    })
}

fn check(
    narrow: &Narrow,
    a: &ArrayRef,
    w: Option<&ValueWriter<'_>>,
    r: usize,
) -> Result<(), String> {
    match narrow {
        Narrow::None => Ok(()),
        Narrow::Money(s) => {
            let Some(t) = text_of(w, r) else {
                return Ok(());
            };
            if canonical_number(t.trim()).is_none() {
                return Err(format!(
                    "\"{t}\" is not a plain number; money would read it by the locale \
                     (separators, currency signs)"
                ));
            }
            check(&Narrow::Scale(*s), a, w, r)
        }
        Narrow::Scale(s) => {
            let Some(t) = text_of(w, r) else {
                return Ok(());
            };
            // The digits after the point the number needs, exponent forms too (1e-10 needs
            // ten); NaN, Infinity or text that is not a number: the server decides.
            let needs = canonical_number(t.trim())
                .filter(|(_, sig, _)| !sig.is_empty())
                .map_or(0, |(_, _, exp)| exp.min(0).unsigned_abs());
            if needs > u64::from(*s) {
                return Err(format!(
                    "{t} has digits after the column's scale {s}; PostgreSQL would round it"
                ));
            }
            Ok(())
        }
        Narrow::Micros(n) => {
            let Some(us) = micros_of(a, r) else {
                return Ok(());
            };
            if datasync_codec::timestamp_infinity(us as i64).is_some() {
                return Ok(());
            }
            let unit = 10i128.pow(6 - n);
            if us.rem_euclid(unit) != 0 {
                return Err(format!(
                    "it has digits beyond the column's {n} fractional second digit(s); the \
                     database would round it"
                ));
            }
            Ok(())
        }
        Narrow::WholeDays => {
            let Some(us) = micros_of(a, r) else {
                return Ok(());
            };
            if datasync_codec::timestamp_infinity(us as i64).is_some() {
                return Ok(());
            }
            if us.rem_euclid(86_400_000_000) != 0 {
                return Err(
                    "it has a time of day; a date column would drop it (use a timestamp column)"
                        .into(),
                );
            }
            Ok(())
        }
        Narrow::Utf8Bytes => {
            let b = match a.data_type() {
                DataType::LargeBinary => a.as_binary::<i64>().value(r),
                _ => a.as_binary::<i32>().value(r),
            };
            match std::str::from_utf8(b) {
                Ok(t) if !t.contains('\0') => Ok(()),
                Ok(_) => Err(
                    "the binary value holds a NUL byte, which a text column cannot store".into(),
                ),
                Err(e) => Err(format!(
                    "the binary value is not UTF-8 text ({e}); a text column holds text (write it \
                     into a bytea column)"
                )),
            }
        }
        Narrow::CharPad | Narrow::Members { .. } | Narrow::YearText => {
            let t = text_at(a, r);
            match narrow {
                Narrow::Members { set, members } => match member_change(t, *set, members) {
                    Some(why) => Err(why),
                    None => Ok(()),
                },
                Narrow::YearText => {
                    let y = t.trim();
                    match y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) {
                        true => Ok(()),
                        false => Err(format!(
                            "\"{t}\" is not a four-digit year; MySQL would read it as another \
                             (10 as 2010, 0 as 2000)"
                        )),
                    }
                }
                _ if t.ends_with(' ') => {
                    Err(format!("\"{t}\" ends in spaces, which a CHAR column drops"))
                }
                _ => Ok(()),
            }
        }
        Narrow::TimeText(column, keep, pg) => {
            let t = text_at(a, r);
            crate::timetext::check(t, *column, *keep, *pg)
        }
        Narrow::Chars(n) => {
            let len = text_at(a, r).chars().count();
            if len > *n {
                return Err(format!("{len} characters do not fit the column's {n}"));
            }
            Ok(())
        }
        Narrow::Float(single) => {
            let Some(t) = text_of(w, r).or_else(|| {
                (a.data_type() == &DataType::Float64).then(|| {
                    format!(
                        "{}",
                        a.as_primitive::<arrow_array::types::Float64Type>().value(r)
                    )
                })
            }) else {
                return Ok(());
            };
            let t = t.trim();
            if canonical_number(t).is_none() {
                let word = t.trim_start_matches(['+', '-']).to_ascii_lowercase();
                return match ["nan", "inf", "infinity"].contains(&word.as_str()) {
                    true => Ok(()),
                    false => Err(format!(
                        "\"{t}\" is not a plain number; the server would read it its own way \
                         (0x10 as 16)"
                    )),
                };
            }
            let Ok(x) = t.parse::<f64>() else {
                return Ok(());
            };
            if !x.is_finite() {
                return Ok(());
            }
            let back = if *single {
                format!("{}", x as f32)
            } else {
                format!("{x}")
            };
            if canonical_number(t) != canonical_number(&back) {
                let kind = if *single { "real" } else { "double precision" };
                return Err(format!(
                    "{t} would become {back} in {kind}: the float cannot hold the number exactly"
                ));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Decimal128Array, Float64Array, Int64Array, StringArray};
    use std::sync::Arc;

    fn run(n: Narrow, a: ArrayRef) -> Vec<bool> {
        let batch = RecordBatch::try_from_iter([("c", a)]).unwrap();
        let narrow = [n];
        let c = Checks::new(&narrow, &batch, &[]);
        (0..batch.num_rows()).map(|r| c.row(r).is_ok()).collect()
    }

    #[test]
    fn enum_and_set_values_are_stored_as_written_or_found() {
        let m = members_of("set('a','b''c','d ')");
        assert_eq!(m, ["a", "b'c", "d "]);
        assert_eq!(member_change("a,b'c", true, &m), None);
        assert_eq!(member_change("", true, &m), None);
        for v in ["zz", "1", "3", "á"] {
            assert!(
                member_change(v, true, &m).unwrap().contains("not a member"),
                "{v}"
            );
        }
        for (v, stored) in [("b'c,a", "a,b'c"), ("a,a", "a"), ("A", "a"), ("d", "d ")] {
            let why = member_change(v, true, &m).unwrap();
            assert!(
                why.ends_with(&format!("stored as \"{stored}\"")),
                "{v}: {why}"
            );
        }
        let e = members_of("enum('x','Y')");
        assert_eq!(member_change("Y", false, &e), None);
        assert!(member_change("y", false, &e).unwrap().contains("\"Y\""));
        assert!(member_change("z", false, &e)
            .unwrap()
            .contains("not a member"));
        assert!(member_change("1", false, &e)
            .unwrap()
            .contains("not a member"));
        let c = run(
            Narrow::CharPad,
            Arc::new(StringArray::from(vec!["ab", "ab  ", " ab"])),
        );
        assert_eq!(c, [true, false, true]);
    }

    #[test]
    #[cfg(feature = "mysql")]
    fn mysql_float_columns_check_text_too() {
        for t in ["float", "double"] {
            assert!(matches!(
                Narrow::of_mysql(t, None, t, &DataType::Utf8),
                Narrow::Float(_)
            ));
        }
    }

    #[test]
    #[cfg(feature = "postgres")]
    fn values_the_server_would_change_are_found() {
        let dec: ArrayRef = Arc::new(
            Decimal128Array::from(vec![12345, 12300, -1])
                .with_precision_and_scale(10, 4)
                .unwrap(),
        );
        assert_eq!(run(Narrow::Scale(2), dec), [false, true, false]);
        let text: ArrayRef = Arc::new(StringArray::from(vec!["1.20", "1.234", "NaN", "ab   "]));
        assert_eq!(
            run(Narrow::Scale(2), text.clone()),
            [true, false, true, true]
        );
        assert_eq!(run(Narrow::Chars(2), text), [false, false, false, false]);
        // Exponent forms need the digits they write out (1e-10: ten; 1.2345e1: two).
        let exp: ArrayRef = Arc::new(StringArray::from(vec![
            "1e-10", "1.2345e1", "1.2e1", "-4E-7", "0e-9", "5e3",
        ]));
        assert_eq!(
            run(Narrow::Scale(2), exp),
            [false, false, true, false, true, true]
        );
        // Text into floats: what the float cannot hold exactly, and text that is not a plain
        // number (the server would read it its own way).
        let t: ArrayRef = Arc::new(StringArray::from(vec![
            "9007199254740993",
            "1e-400",
            "0.1",
            "16777217",
            "x",
        ]));
        assert_eq!(
            run(Narrow::Float(false), t.clone()),
            [false, false, true, true, false]
        );
        assert_eq!(
            run(Narrow::Float(true), t),
            [false, false, true, false, false]
        );
        let ts: ArrayRef = Arc::new(arrow_array::TimestampMicrosecondArray::from(vec![
            1_000_000,
            1_500_000,
            86_400_000_000,
        ]));
        assert_eq!(run(Narrow::Micros(0), ts.clone()), [true, false, true]);
        assert_eq!(run(Narrow::Micros(1), ts.clone()), [true, true, true]);
        assert_eq!(run(Narrow::WholeDays, ts), [false, false, true]);
        let big: ArrayRef = Arc::new(Int64Array::from(vec![9007199254740993, 2]));
        assert_eq!(run(Narrow::Float(false), big.clone()), [false, true]);
        assert_eq!(run(Narrow::Float(true), big), [false, true]);
        let f: ArrayRef = Arc::new(Float64Array::from(vec![0.1, 16777217.0]));
        assert_eq!(run(Narrow::Float(true), f), [true, false]);
        assert_eq!(
            Narrow::of(&Type::NUMERIC, (30 << 16 | 2) + 4, &DataType::Utf8),
            Narrow::Scale(2)
        );
        assert_eq!(
            Narrow::of(&Type::NUMERIC, -1, &DataType::Utf8),
            Narrow::None
        );
        assert_eq!(
            Narrow::of(
                &Type::TIMESTAMP,
                6,
                &DataType::Timestamp(TimeUnit::Microsecond, None)
            ),
            Narrow::None
        );
    }
}
