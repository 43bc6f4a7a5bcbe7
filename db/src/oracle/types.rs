//! Oracle <-> Arrow types. Reading maps a result column's Oracle type to an Arrow type and how
//! its value is fetched; `createTable` maps Arrow types back to DDL. [`TYPE_TABLE`] is the list
//! both directions follow, walked by a test. Numbers never pass through a float: NUMBER is
//! fetched as the exact decimal text the client makes of it.

use arrow_schema::{DataType, TimeUnit};
use oracle::sql_type::OracleType;

/// How a column's value is fetched and turned into the text the batch builder parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OracleKind {
    /// Fetched as text (character types, CLOB, ROWID, INTERVAL, XMLTYPE, JSON).
    Text,
    /// NUMBER / FLOAT: exact decimal text, normalised by [`number_text`].
    Number,
    /// BINARY_FLOAT (NaN and infinities kept).
    Float32,
    /// BINARY_DOUBLE (NaN and infinities kept).
    Float64,
    /// DATE and TIMESTAMP: a local date-time.
    DateTime,
    /// TIMESTAMP WITH (LOCAL) TIME ZONE: converted to UTC (a timestamp without zone, as
    /// PostgreSQL's timestamptz reads).
    DateTimeTz,
    /// RAW, LONG RAW, BLOB: bytes.
    Binary,
    /// BOOLEAN (23ai).
    Boolean,
}

/// (Oracle type as written in DDL, the Arrow type it reads as, the DDL `createTable` writes
/// for that Arrow type with the source type recorded).
pub const TYPE_TABLE: &[(&str, &str, &str)] = &[
    ("NUMBER(9)", "int64", "NUMBER(9)"),
    ("NUMBER(18,0)", "int64", "NUMBER(18)"),
    ("NUMBER(19)", "decimal(19,0)", "NUMBER(19)"),
    ("NUMBER(12,2)", "decimal(12,2)", "NUMBER(12,2)"),
    ("NUMBER(38,10)", "decimal(38,10)", "NUMBER(38,10)"),
    ("NUMBER(5,-2)", "int64", "NUMBER(5,-2)"),
    ("NUMBER(2,5)", "decimal(5,5)", "NUMBER(2,5)"),
    ("NUMBER", "utf8", "NUMBER"),
    ("FLOAT(126)", "utf8", "NUMBER"),
    ("BINARY_FLOAT", "float32", "BINARY_FLOAT"),
    ("BINARY_DOUBLE", "float64", "BINARY_DOUBLE"),
    ("CHAR(10)", "utf8", "CLOB"),
    ("VARCHAR2(64)", "utf8", "CLOB"),
    ("NCHAR(10)", "utf8", "CLOB"),
    ("NVARCHAR2(64)", "utf8", "CLOB"),
    ("CLOB", "utf8", "CLOB"),
    ("NCLOB", "utf8", "CLOB"),
    ("DATE", "timestamp[us]", "DATE"),
    ("TIMESTAMP(3)", "timestamp[us]", "TIMESTAMP(6)"),
    ("TIMESTAMP(6)", "timestamp[us]", "TIMESTAMP(6)"),
    ("TIMESTAMP(9)", "timestamp[ns]", "TIMESTAMP(9)"),
    (
        "TIMESTAMP(6) WITH TIME ZONE",
        "timestamp[us]",
        "TIMESTAMP(6) WITH TIME ZONE",
    ),
    (
        "TIMESTAMP(9) WITH LOCAL TIME ZONE",
        "timestamp[ns]",
        "TIMESTAMP(9) WITH TIME ZONE",
    ),
    ("RAW(16)", "binary", "BLOB"),
    ("BLOB", "binary", "BLOB"),
    ("INTERVAL DAY TO SECOND", "utf8", "CLOB"),
    ("INTERVAL YEAR TO MONTH", "utf8", "CLOB"),
    ("ROWID", "utf8", "CLOB"),
    ("XMLTYPE", "utf8", "CLOB"),
];

/// The Arrow type a result column reads as, how it is fetched, and the source type to record
/// (where the Arrow type alone would not recreate the column: NUMBER's precision and scale,
/// DATE).
pub fn arrow_type(t: &OracleType) -> (DataType, OracleKind, Option<String>) {
    use OracleType as O;
    let us = |p: u8| {
        if p > 6 {
            TimeUnit::Nanosecond
        } else {
            TimeUnit::Microsecond
        }
    };
    match t {
        O::Number(p, s) => number_type(*p, *s),
        O::Float(_) => (DataType::Utf8, OracleKind::Number, Some("number".into())),
        O::BinaryFloat => (DataType::Float32, OracleKind::Float32, None),
        O::BinaryDouble => (DataType::Float64, OracleKind::Float64, None),
        O::Date => (
            DataType::Timestamp(TimeUnit::Microsecond, None),
            OracleKind::DateTime,
            Some("date".into()),
        ),
        O::Timestamp(p) => (
            DataType::Timestamp(us(*p), None),
            OracleKind::DateTime,
            None,
        ),
        // In UTC, as PostgreSQL's timestamptz reads; the zone is recorded for createTable.
        O::TimestampTZ(p) | O::TimestampLTZ(p) => (
            DataType::Timestamp(us(*p), None),
            OracleKind::DateTimeTz,
            Some(format!("timestamp({p}) with time zone")),
        ),
        O::Raw(_) | O::LongRaw | O::BLOB | O::BFILE => (DataType::Binary, OracleKind::Binary, None),
        O::Boolean => (DataType::Boolean, OracleKind::Boolean, None),
        O::Int64 => (DataType::Int64, OracleKind::Number, None),
        _ => (DataType::Utf8, OracleKind::Text, None),
    }
}

/// NUMBER(p,s): whole numbers of up to 18 digits as Int64, else Decimal128 when the digits fit
/// 38, else exact text. A negative scale rounds to tens, hundreds...: whole numbers of p - s
/// digits. NUMBER without precision (p = 0) holds any number: exact text.
fn number_type(p: u8, s: i8) -> (DataType, OracleKind, Option<String>) {
    let src = || {
        if s == 0 {
            format!("number({p})")
        } else {
            format!("number({p},{s})")
        }
    };
    if p == 0 {
        return (DataType::Utf8, OracleKind::Number, Some("number".into()));
    }
    let (p, s) = (i16::from(p), i16::from(s));
    if s <= 0 {
        let digits = p - s;
        let recorded = Some(src());
        if digits <= 18 {
            return (DataType::Int64, OracleKind::Number, recorded);
        }
        if digits <= 38 {
            return (
                DataType::Decimal128(digits as u8, 0),
                OracleKind::Number,
                recorded,
            );
        }
        return (DataType::Utf8, OracleKind::Number, Some(src()));
    }
    // NUMBER(2,5) holds 0.00099 at most: five digits, all after the point.
    let digits = p.max(s);
    if digits <= 38 {
        let recorded = Some(src());
        (
            DataType::Decimal128(digits as u8, s as i8),
            OracleKind::Number,
            recorded,
        )
    } else {
        (DataType::Utf8, OracleKind::Number, Some(src()))
    }
}

/// A NUMBER's text as a plain decimal: no exponent, no '+', a '0' before a leading point, no
/// negative zero. The client gives plain digits; exponent forms are accepted all the same.
pub fn number_text(t: &str) -> Result<String, String> {
    let t = t.trim();
    let bad = || format!("\"{t}\" is not a number");
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (body, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if !(-400..=400).contains(&exp) {
        return Err(bad());
    }
    // All digits, and where the point goes.
    let digits: String = format!("{int}{frac}");
    let point = int.len() as i32 + exp;
    let (ip, fp) = if point <= 0 {
        (
            String::new(),
            format!("{}{digits}", "0".repeat((-point) as usize)),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{digits}{}", "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    };
    let ip = ip.trim_start_matches('0');
    let fp = fp.trim_end_matches('0');
    let ip = if ip.is_empty() { "0" } else { ip };
    let zero = ip == "0" && fp.is_empty();
    let mut out = String::with_capacity(ip.len() + fp.len() + 2);
    if neg && !zero {
        out.push('-');
    }
    out.push_str(ip);
    if !fp.is_empty() {
        out.push('.');
        out.push_str(fp);
    }
    Ok(out)
}

/// A date-time as `YYYY-MM-DD HH:MM:SS.fffffffff`, moved to UTC by `offset_secs` (0 for
/// values without a zone). Years outside 1..=9999 are refused (no ISO text for them).
pub fn datetime_text(
    (y, mo, d): (i32, u32, u32),
    (h, mi, s, ns): (u32, u32, u32, u32),
    offset_secs: i32,
) -> Result<String, String> {
    use chrono::{NaiveDate, TimeDelta};
    let dt = NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_nano_opt(h, mi, s, ns))
        .ok_or_else(|| format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} is not a date-time"))?;
    let utc = dt - TimeDelta::seconds(i64::from(offset_secs));
    let year = chrono::Datelike::year(&utc);
    if !(1..=9999).contains(&year) {
        return Err(format!(
            "{} is outside the years 1..9999 that a timestamp column holds",
            utc.format("%Y-%m-%d %H:%M:%S")
        ));
    }
    Ok(utc.format("%Y-%m-%d %H:%M:%S%.9f").to_string())
}

/// The column type `createTable` uses for a column: its recorded source type where it says
/// more than the Arrow type, else the Arrow type's; `None` if there is none.
pub fn ddl_for(f: &arrow_schema::Field) -> Option<String> {
    let src = crate::sql::source_type::source_type(f).map(str::to_ascii_lowercase);
    let key = f
        .metadata()
        .contains_key(crate::sql::source_type::PRIMARY_KEY);
    if let Some(src) = src.as_deref() {
        if src == "date" {
            return Some("DATE".into());
        }
        if src.starts_with("timestamp(") && src.ends_with("with time zone") {
            return Some(src.to_ascii_uppercase());
        }
        if src == "number" || src == "numeric" || src == "decimal" {
            return Some("NUMBER".into());
        }
        if let Some((p, s)) = src
            .strip_prefix("number(")
            .and_then(|r| r.strip_suffix(')'))
            .map(|r| r.split_once(',').unwrap_or((r, "0")))
        {
            if let (Ok(p), Ok(s)) = (p.trim().parse::<u8>(), s.trim().parse::<i8>()) {
                if (1..=38).contains(&p) && (-84..=127).contains(&s) {
                    return Some(if s == 0 {
                        format!("NUMBER({p})")
                    } else {
                        format!("NUMBER({p},{s})")
                    });
                }
            }
        }
        if let Some((p, s)) = crate::sql::source_type::source_decimal(src) {
            return Some(match (p, s) {
                (Some(p), Some(s)) if p <= 38 => format!("NUMBER({p},{s})"),
                _ => "NUMBER".into(),
            });
        }
    }
    let t = ddl_type(f.data_type())?;
    // A key column cannot be a LOB: bounded types compare and index.
    Some(match t.as_str() {
        "CLOB" if key => "VARCHAR2(4000 CHAR)".into(),
        "BLOB" if key => "RAW(2000)".into(),
        _ => t,
    })
}

/// The column type `createTable` uses for an Arrow type, or `None` if there is none.
pub fn ddl_type(t: &DataType) -> Option<String> {
    Some(match t {
        DataType::Boolean => "NUMBER(1)".into(),
        DataType::Int8 | DataType::UInt8 => "NUMBER(3)".into(),
        DataType::Int16 | DataType::UInt16 => "NUMBER(5)".into(),
        DataType::Int32 | DataType::UInt32 => "NUMBER(10)".into(),
        DataType::Int64 => "NUMBER(19)".into(),
        DataType::UInt64 => "NUMBER(20)".into(),
        DataType::Float32 => "BINARY_FLOAT".into(),
        DataType::Float64 => "BINARY_DOUBLE".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if *p <= 38 => {
            if *s == 0 {
                format!("NUMBER({p})")
            } else {
                format!("NUMBER({p},{s})")
            }
        }
        // Wider than Oracle's 38 digits: exact text.
        DataType::Decimal256(..) => "VARCHAR2(200)".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(TimeUnit::Nanosecond, None) => "TIMESTAMP(9)".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP(6)".into(),
        DataType::Timestamp(TimeUnit::Nanosecond, Some(_)) => "TIMESTAMP(9) WITH TIME ZONE".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP(6) WITH TIME ZONE".into(),
        DataType::Time64(_) => "INTERVAL DAY(0) TO SECOND(6)".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::List(_) => "CLOB".into(),
        DataType::Binary | DataType::LargeBinary => "BLOB".into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datasync_codec::float_text;
    use datasync_codec::types::parse_type;

    /// The Oracle type a DDL name of [`TYPE_TABLE`] is, as the client describes it.
    fn oracle_type(ddl: &str) -> OracleType {
        use OracleType as O;
        let inner = |s: &str| -> Vec<i32> {
            s.split_once('(')
                .map(|(_, r)| {
                    r.split(')')
                        .next()
                        .unwrap_or("")
                        .split(',')
                        .filter_map(|x| x.trim().parse().ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        let a = inner(ddl);
        let head = ddl.split('(').next().unwrap_or(ddl);
        match head {
            "NUMBER" => O::Number(
                a.first().copied().unwrap_or(0) as u8,
                a.get(1)
                    .copied()
                    .unwrap_or(if a.is_empty() { -127 } else { 0 }) as i8,
            ),
            "FLOAT" => O::Float(a[0] as u8),
            "BINARY_FLOAT" => O::BinaryFloat,
            "BINARY_DOUBLE" => O::BinaryDouble,
            "CHAR" => O::Char(a[0] as u32),
            "NCHAR" => O::NChar(a[0] as u32),
            "VARCHAR2" => O::Varchar2(a[0] as u32),
            "NVARCHAR2" => O::NVarchar2(a[0] as u32),
            "CLOB" => O::CLOB,
            "NCLOB" => O::NCLOB,
            "DATE" => O::Date,
            "TIMESTAMP" if ddl.contains("LOCAL") => O::TimestampLTZ(a[0] as u8),
            "TIMESTAMP" if ddl.contains("ZONE") => O::TimestampTZ(a[0] as u8),
            "TIMESTAMP" => O::Timestamp(a[0] as u8),
            "RAW" => O::Raw(a[0] as u32),
            "BLOB" => O::BLOB,
            "INTERVAL DAY TO SECOND" => O::IntervalDS(2, 6),
            "INTERVAL YEAR TO MONTH" => O::IntervalYM(2),
            "ROWID" => O::Rowid,
            "XMLTYPE" => O::Xml,
            other => panic!("no Oracle type for {other}"),
        }
    }

    #[test]
    fn the_type_table_in_both_directions() {
        for (ora, arrow, ddl) in TYPE_TABLE {
            let (t, _, src) = arrow_type(&oracle_type(ora));
            let want = parse_type(arrow).unwrap_or_else(|e| panic!("{ora}: {e}"));
            assert_eq!(t, want, "{ora} reads as {arrow}");
            let mut f = arrow_schema::Field::new("c", t, true);
            if let Some(src) = src {
                f = crate::sql::source_type::with_source_type(f, &src);
            }
            assert_eq!(
                ddl_for(&f).as_deref(),
                Some(*ddl),
                "{ora} -> {arrow} -> DDL"
            );
        }
        // Other systems' types.
        let f = |t: DataType, src: Option<&str>| {
            let f = arrow_schema::Field::new("c", t, true);
            match src {
                Some(s) => crate::sql::source_type::with_source_type(f, s),
                None => f,
            }
        };
        assert_eq!(
            ddl_for(&f(DataType::Int32, None)).as_deref(),
            Some("NUMBER(10)")
        );
        assert_eq!(ddl_for(&f(DataType::Date32, None)).as_deref(), Some("DATE"));
        assert_eq!(
            ddl_for(&f(DataType::Utf8, Some("decimal(65,30)"))).as_deref(),
            Some("NUMBER")
        );
        assert_eq!(
            ddl_for(&f(DataType::Decimal256(60, 2), None)).as_deref(),
            Some("VARCHAR2(200)")
        );
        let key = crate::sql::source_type::with_primary_key(
            arrow_schema::Field::new("k", DataType::Utf8, false),
            0,
        );
        assert_eq!(ddl_for(&key).as_deref(), Some("VARCHAR2(4000 CHAR)"));
        assert_eq!(ddl_type(&DataType::Float16), None);
    }

    #[test]
    fn number_text_edge_cases() {
        for (raw, want) in [
            ("0", "0"),
            ("-0", "0"),
            ("-0.000", "0"),
            (".5", "0.5"),
            ("-.5", "-0.5"),
            ("+12.50", "12.5"),
            ("1E+3", "1000"),
            ("1.5e-3", "0.0015"),
            ("-12300e-2", "-123"),
            (
                "12345678901234567890123456789012345678",
                "12345678901234567890123456789012345678",
            ),
            (
                "-9.9999999999999999999999999999999999999E+125",
                &format!("-99999999999999999999999999999999999999{}", "0".repeat(88)),
            ),
            ("1e-130", &format!("0.{}1", "0".repeat(129))),
            ("00042", "42"),
        ] {
            assert_eq!(number_text(raw).as_deref(), Ok(want), "{raw}");
        }
        for bad in ["", "-", ".", "1.2.3", "1e", "1e5000", "abc", "1,5", "~"] {
            assert!(number_text(bad).is_err(), "{bad}");
        }
        // NUMBER(5,-2) holds whole hundreds: read as a 7-digit integer.
        assert_eq!(number_type(5, -2).0, DataType::Int64);
        assert_eq!(number_type(38, -2).0, DataType::Utf8);
        assert_eq!(number_type(38, 0).0, DataType::Decimal128(38, 0));
        assert_eq!(number_type(18, 0).0, DataType::Int64);
    }

    #[test]
    fn floats_and_datetimes() {
        assert_eq!(float_text(f64::NAN, false), "NaN");
        assert_eq!(float_text(f64::NEG_INFINITY, true), "-Infinity");
        assert_eq!(float_text(0.1f32 as f64, true), "0.1");
        assert_eq!(float_text(0.1, false), "0.1");
        assert_eq!(float_text(-0.0, false), "-0.0");
        let x = f64::from(16777217.0f32);
        assert_eq!(
            datasync_codec::parse_float(&float_text(x, true), true).map(|v| v as f32),
            Ok(x as f32)
        );
        assert_eq!(
            datetime_text((2024, 2, 29), (23, 59, 59, 123_456_789), 0).as_deref(),
            Ok("2024-02-29 23:59:59.123456789")
        );
        // +08:00 local time is 8 hours earlier in UTC, across the day.
        assert_eq!(
            datetime_text((2024, 3, 1), (7, 0, 0, 0), 8 * 3600).as_deref(),
            Ok("2024-02-29 23:00:00.000000000")
        );
        assert!(datetime_text((-4712, 1, 1), (0, 0, 0, 0), 0).is_err());
        assert!(datetime_text((2023, 2, 29), (0, 0, 0, 0), 0).is_err());
    }
}
