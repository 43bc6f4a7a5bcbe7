//! Dates and timestamps as text: a fast path for ISO-like text (`2024-01-31`,
//! `2024-01-31 12:00:00[.ffffff]`, `T` separator too) and user patterns, written either as
//! Java/DataX patterns (`yyyy-MM-dd HH:mm:ss`) or strftime (`%Y-%m-%d`).

use chrono::format::{Item, StrftimeItems};
use chrono::{NaiveDate, NaiveDateTime};

/// A date format from `dateFormat` / a column's `format`.
#[derive(Debug, Clone)]
pub struct DateFormat {
    /// The pattern as the job wrote it (for messages).
    spec: String,
    strftime: String,
    /// What parsing uses: `strftime` with a zone name (`%Z`, which chrono cannot read) as an
    /// offset.
    parse_strftime: String,
    items: Vec<Item<'static>>,
    has_time: bool,
    /// The pattern carries a UTC offset or zone (`Z`, `X`, `z`): parsed text is converted to
    /// UTC, formatted values (UTC) print a zero offset / `UTC`.
    zoned: bool,
    /// Java `k` (clock hour 1-24): midnight is written and read as `24`.
    clock24: Option<Clock24>,
}

/// Where a `k` hour goes: the placeholder the formatting pattern holds instead of the hour.
#[derive(Debug, Clone)]
struct Clock24 {
    padded: bool,
    format_items: Vec<Item<'static>>,
}

/// Stands for a Java `k` hour in the formatting pattern (a private-use character, never in
/// dates).
const CLOCK24_MARK: char = '\u{E000}';

/// Stands for a Java `X` (ISO 8601 offset) in the pattern: written as `Z` (values are UTC),
/// read as `Z`, `+08`, `+0800` or `+08:00`, as Java reads it.
const ISO_OFFSET_MARK: char = '\u{E001}';

impl DateFormat {
    /// Parses a Java pattern (`yyyy-MM-dd HH:mm:ss.SSS`) or, if it contains `%`, a strftime one.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (pattern, clock24) = if spec.contains('%') {
            (spec.to_string(), None)
        } else {
            let j = java_to_strftime(spec)?;
            (j.strftime, j.clock24)
        };
        let strftime = pattern.replace(ISO_OFFSET_MARK, "Z");
        let invalid = |_| format!("\"{spec}\" is not a valid date format");
        let items = StrftimeItems::new(&strftime)
            .parse_to_owned()
            .map_err(invalid)?;
        let clock24 = match clock24 {
            Some(padded) => Some(Clock24 {
                padded,
                format_items: StrftimeItems::new(
                    &strftime.replace("%H", &CLOCK24_MARK.to_string()),
                )
                .parse_to_owned()
                .map_err(invalid)?,
            }),
            None => None,
        };
        let has_time = ["%H", "%I", "%M", "%S", "%T", "%R", "%s", "%f"]
            .iter()
            .any(|t| strftime.contains(t))
            || strftime.contains("3f")
            || strftime.contains("6f")
            || strftime.contains("9f");
        let zoned = ["%z", "%:z", "%#z", "%Z"]
            .iter()
            .any(|t| strftime.contains(t))
            || pattern.contains(ISO_OFFSET_MARK);
        Ok(DateFormat {
            spec: spec.to_string(),
            parse_strftime: pattern.replace("%Z", "%#z").replace(ISO_OFFSET_MARK, "%#z"),
            strftime,
            items,
            has_time,
            zoned,
            clock24,
        })
    }

    /// Parses a date-time; a date-only pattern yields midnight. Text with a UTC offset or zone
    /// is converted to UTC. Refuses what the pattern matches but no column can hold as
    /// written: a leap second (`23:59:60`) and a year outside 0001-9999 (a sign, year 0).
    pub fn parse_datetime(&self, s: &str) -> Option<NaiveDateTime> {
        use chrono::{Datelike, Timelike};
        let dt = match self.parse_as_written(s) {
            // `k` has no hour 0.
            Some(dt) if self.clock24.is_some() && dt.hour() == 0 => return None,
            Some(dt) => dt,
            // `k`: 24 is midnight of the same day; take the reading whose round trip gives
            // back the text exactly.
            None if self.clock24.is_some() => s.match_indices("24").find_map(|(at, _)| {
                let candidate = format!("{}00{}", &s[..at], &s[at + 2..]);
                let dt = self.parse_as_written(&candidate)?;
                let mut back = Vec::new();
                self.format(&dt, &mut back);
                (back == s.as_bytes()).then_some(dt)
            })?,
            None => return None,
        };
        if dt.nanosecond() >= 1_000_000_000 || !(1..=9999).contains(&dt.year()) {
            return None;
        }
        Some(dt)
    }

    fn parse_as_written(&self, s: &str) -> Option<NaiveDateTime> {
        if self.zoned {
            let s = zone_names_as_offsets(s);
            let dt = chrono::DateTime::parse_from_str(&s, &self.parse_strftime).ok()?;
            return Some(dt.naive_utc());
        }
        if self.has_time {
            NaiveDateTime::parse_from_str(s, &self.strftime).ok()
        } else {
            NaiveDate::parse_from_str(s, &self.strftime)
                .ok()?
                .and_hms_opt(0, 0, 0)
        }
    }

    /// Parses a date (a pattern with a time part must match the whole text too).
    pub fn parse_date(&self, s: &str) -> Option<NaiveDate> {
        self.parse_datetime(s).map(|dt| dt.date())
    }

    /// The pattern as the job wrote it.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Whether the pattern has a time of day (otherwise formatting a timestamp would drop it).
    pub fn has_time(&self) -> bool {
        self.has_time
    }

    /// Formats a date-time into `out`.
    /// Values are UTC: a zone prints as `UTC`, an offset as `+0000`.
    pub fn format(&self, dt: &NaiveDateTime, out: &mut Vec<u8>) {
        use std::io::Write;
        let utc = dt.and_utc();
        match &self.clock24 {
            None => {
                let _ = write!(out, "{}", utc.format_with_items(self.items.iter()));
            }
            Some(k) => {
                use chrono::Timelike;
                let text = utc.format_with_items(k.format_items.iter()).to_string();
                let hour = match dt.hour() {
                    0 => 24,
                    h => h,
                };
                let hour = if k.padded {
                    format!("{hour:02}")
                } else {
                    hour.to_string()
                };
                out.extend_from_slice(text.replace(CLOCK24_MARK, &hour).as_bytes());
            }
        }
    }
}

/// `UTC`, `GMT`, `GMT+08:00` (Java's `z` names that mean one offset) as numeric offsets
/// chrono reads; other zone names (`CST` means different zones) stay and do not parse.
fn zone_names_as_offsets(s: &str) -> std::borrow::Cow<'_, str> {
    for name in ["UTC", "GMT"] {
        if let Some(at) = s.find(name) {
            let rest = &s[at + name.len()..];
            let offset_given = rest.starts_with(['+', '-']);
            let replaced = if offset_given { "" } else { "+00:00" };
            return format!("{}{}{}", &s[..at], replaced, rest).into();
        }
    }
    s.into()
}

/// A Java pattern as strftime, and whether it used `k` (Some(padded)).
struct JavaPattern {
    strftime: String,
    clock24: Option<bool>,
}

impl DateFormat {
    #[cfg(test)]
    fn strftime(&self) -> &str {
        &self.strftime
    }
}

fn java_to_strftime(p: &str) -> Result<JavaPattern, String> {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::new();
    let mut clock24 = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; '' is a single quote.
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                out.push(chars[j]);
                j += 1;
            }
            if j == i + 1 {
                out.push('\'');
            }
            i = j + 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let tok = match (c, n) {
            ('y', 2) => "%y",
            ('y', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('H', _) => "%H",
            ('k', _) if clock24.is_some() => {
                return Err(format!(
                    "date format \"{p}\": pattern letter 'k' may appear once"
                ))
            }
            ('k', _) => {
                clock24 = Some(n >= 2);
                "%H"
            }
            ('D', 1 | 2) => "%-j",
            ('D', _) => "%j",
            ('z', _) => "%Z",
            ('h', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', 1..=3) => "%3f",
            ('S', 4..=6) => "%6f",
            ('S', _) => "%9f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('Z', _) => "%z",
            ('X', _) => {
                out.push(ISO_OFFSET_MARK);
                i += n;
                continue;
            }
            (c, _) if c.is_ascii_alphabetic() => {
                return Err(format!(
                    "date format \"{p}\": pattern letter '{c}' is not supported"
                ))
            }
            _ => {
                for _ in 0..n {
                    if c == '%' {
                        out.push_str("%%");
                    } else {
                        out.push(c);
                    }
                }
                i += n;
                continue;
            }
        };
        out.push_str(tok);
        i += n;
    }
    Ok(JavaPattern {
        strftime: out,
        clock24,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// (year, month, day) of days since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses `YYYY-MM-DD` (years 0001-9999: no sign, no year 0) to days since the epoch.
pub fn parse_iso_date(s: &[u8]) -> Option<i64> {
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?);
    if y == 0 || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y as i64, m) {
        return None;
    }
    Some(days_from_civil(y as i64, m, d))
}

/// Parses `YYYY-MM-DD[( |T)HH:MM[:SS[.f{1,9}]]]` to nanoseconds since the epoch (no leap
/// second, years 0001-9999).
pub fn parse_iso_timestamp_nanos(s: &[u8]) -> Option<i128> {
    let days = parse_iso_date(s.get(..10)?)?;
    let rest = &s[10..];
    let mut nanos: i128 = 0;
    if !rest.is_empty() {
        if rest[0] != b' ' && rest[0] != b'T' {
            return None;
        }
        let t = &rest[1..];
        if t.len() < 5 || t[2] != b':' {
            return None;
        }
        let (h, mi) = (digits(&t[0..2])?, digits(&t[3..5])?);
        let mut sec = 0;
        let mut frac: i128 = 0;
        let tail = &t[5..];
        if !tail.is_empty() {
            if tail.len() < 3 || tail[0] != b':' {
                return None;
            }
            sec = digits(&tail[1..3])?;
            let f = &tail[3..];
            if !f.is_empty() {
                if f[0] != b'.' || f.len() < 2 || f.len() > 10 {
                    return None;
                }
                let fd = digits(&f[1..])? as i128;
                frac = fd * 10i128.pow(9 - (f.len() as u32 - 1));
            }
        }
        if h > 23 || mi > 59 || sec > 59 {
            return None;
        }
        nanos =
            (i128::from(h) * 3600 + i128::from(mi) * 60 + i128::from(sec)) * 1_000_000_000 + frac;
    }
    Some(i128::from(days) * 86_400_000_000_000 + nanos)
}

fn push2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Writes `YYYY-MM-DD`.
pub(crate) fn write_iso_date(days: i64, out: &mut Vec<u8>) {
    let (y, m, d) = civil_from_days(days);
    if (0..=9999).contains(&y) {
        let y = y as u32;
        push2(out, y / 100);
        push2(out, y % 100);
    } else {
        out.extend_from_slice(y.to_string().as_bytes());
    }
    out.push(b'-');
    push2(out, m);
    out.push(b'-');
    push2(out, d);
}

/// Writes `YYYY-MM-DD HH:MM:SS[.fff|.ffffff|.fffffffff]` from nanoseconds since the epoch;
/// the fraction appears only when non-zero, in as many digit triples as it needs.
pub(crate) fn write_iso_timestamp_nanos(nanos: i128, out: &mut Vec<u8>) {
    let days = nanos.div_euclid(86_400_000_000_000);
    let in_day = nanos.rem_euclid(86_400_000_000_000);
    write_iso_date(days as i64, out);
    out.push(b' ');
    write_time_of_day(in_day, out);
}

/// `HH:mm:ss[.fff...]` of nanoseconds since midnight (24:00:00 included, as PostgreSQL's
/// `time` allows it), the fraction in 3, 6 or 9 digits as needed.
pub(crate) fn write_time_of_day(in_day: i128, out: &mut Vec<u8>) {
    let secs = (in_day / 1_000_000_000) as u32;
    let frac = (in_day % 1_000_000_000) as u32;
    push2(out, secs / 3600);
    out.push(b':');
    push2(out, secs / 60 % 60);
    out.push(b':');
    push2(out, secs % 60);
    if frac != 0 {
        let (value, width) = if frac.is_multiple_of(1_000_000) {
            (frac / 1_000_000, 3)
        } else if frac.is_multiple_of(1000) {
            (frac / 1000, 6)
        } else {
            (frac, 9)
        };
        out.push(b'.');
        let s = format!("{value:0width$}");
        out.extend_from_slice(s.as_bytes());
    }
}

/// PostgreSQL's `infinity` / `-infinity` dates travel as the extreme Date32 values (which is how
/// PostgreSQL itself stores them): no real date is that far out, so writers know them. Text
/// writers write `infinity` / `-infinity`, PostgreSQL gets its own infinities back, and a
/// target without infinities (MySQL, Parquet) makes the row dirty.
pub const DATE_INFINITY: (i32, i32) = (i32::MIN, i32::MAX);

/// The timestamp counterpart of [`DATE_INFINITY`]: `i64::MIN` / `i64::MAX` microseconds (the
/// unit PostgreSQL uses; in nanoseconds those values are real instants of 1677 and 2262).
pub const TIMESTAMP_INFINITY: (i64, i64) = (i64::MIN, i64::MAX);

/// `-infinity` / `infinity` for a Date32 infinity, else None.
pub fn date_infinity(days: i32) -> Option<&'static str> {
    infinity_text(days == DATE_INFINITY.0, days == DATE_INFINITY.1)
}

/// `-infinity` / `infinity` for a timestamp infinity, else None.
pub fn timestamp_infinity(v: i64) -> Option<&'static str> {
    infinity_text(v == TIMESTAMP_INFINITY.0, v == TIMESTAMP_INFINITY.1)
}

fn infinity_text(neg: bool, pos: bool) -> Option<&'static str> {
    match (neg, pos) {
        (true, _) => Some("-infinity"),
        (_, true) => Some("infinity"),
        _ => None,
    }
}

/// A timestamp as chrono's naive date-time.
pub(crate) fn nanos_to_naive(nanos: i128) -> Option<NaiveDateTime> {
    let secs = i64::try_from(nanos.div_euclid(1_000_000_000)).ok()?;
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    chrono::DateTime::from_timestamp(secs, sub).map(|d| d.naive_utc())
}

/// Nanoseconds since the epoch of a naive date-time.
pub(crate) fn naive_to_nanos(dt: &NaiveDateTime) -> i128 {
    let u = dt.and_utc();
    i128::from(u.timestamp()) * 1_000_000_000 + i128::from(u.timestamp_subsec_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns() {
        assert_eq!(
            java_to_strftime("yyyy-MM-dd HH:mm:ss").unwrap().strftime,
            "%Y-%m-%d %H:%M:%S"
        );
        assert_eq!(
            java_to_strftime("yyyyMMdd'T'HHmmss.SSS").unwrap().strftime,
            "%Y%m%dT%H%M%S.%3f"
        );
        assert!(java_to_strftime("yyyy-QQ").is_err());
        let f = DateFormat::parse("dd/MM/yyyy").unwrap();
        assert!(!f.has_time());
        assert_eq!(
            f.parse_date("31/01/2024"),
            NaiveDate::from_ymd_opt(2024, 1, 31)
        );
        assert!(f.parse_date("31/13/2024").is_none());
        let f = DateFormat::parse("yyyy-MM-dd HH:mm:ss").unwrap();
        assert!(
            f.parse_datetime("2016-12-31 23:59:60").is_none(),
            "leap second"
        );
        assert!(
            f.parse_datetime("-0001-01-01 00:00:00").is_none(),
            "year -1"
        );
        assert!(f.parse_datetime("0000-01-01 00:00:00").is_none(), "year 0");
        assert!(f.parse_datetime("9999-12-31 23:59:59").is_some());
    }

    fn formatted(f: &DateFormat, dt: NaiveDateTime) -> String {
        let mut out = Vec::new();
        f.format(&dt, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    #[test]
    fn iso_offset_x_reads_zulu_and_every_width_and_writes_zulu() {
        for spec in [
            "yyyy-MM-dd'T'HH:mm:ssX",
            "yyyy-MM-dd'T'HH:mm:ssXX",
            "yyyy-MM-dd'T'HH:mm:ssXXX",
        ] {
            let f = DateFormat::parse(spec).unwrap();
            for (text, hour) in [
                ("2024-01-02T03:04:05Z", 3),
                ("2024-01-02T11:04:05+08", 3),
                ("2024-01-02T11:04:05+0800", 3),
                ("2024-01-02T11:04:05+08:00", 3),
                ("2024-01-02T01:04:05-02", 3),
            ] {
                let dt = f.parse_datetime(text);
                assert_eq!(
                    dt,
                    NaiveDate::from_ymd_opt(2024, 1, 2).and_then(|d| d.and_hms_opt(hour, 4, 5)),
                    "{spec} {text}"
                );
            }
            assert!(
                f.parse_datetime("2024-01-02T03:04:05").is_none(),
                "{spec}: no offset"
            );
            assert_eq!(
                formatted(&f, at(2024, 1, 2, 3, 4)),
                "2024-01-02T03:04:00Z",
                "{spec}"
            );
        }
    }

    #[test]
    fn day_of_year_clock_hour_and_zones() {
        // D: day of the year.
        let f = DateFormat::parse("yyyy-DDD").unwrap();
        assert_eq!(f.strftime(), "%Y-%j");
        assert_eq!(formatted(&f, at(2024, 3, 1, 0, 0)), "2024-061");
        assert_eq!(
            f.parse_date("2024-061"),
            NaiveDate::from_ymd_opt(2024, 3, 1)
        );
        let f = DateFormat::parse("yyyy D").unwrap();
        assert_eq!(formatted(&f, at(2024, 1, 5, 0, 0)), "2024 5");

        // k: clock hour 1-24, midnight is 24 of the same day, both ways.
        let f = DateFormat::parse("yyyy-MM-dd kk:mm").unwrap();
        assert_eq!(formatted(&f, at(2024, 1, 5, 0, 30)), "2024-01-05 24:30");
        assert_eq!(formatted(&f, at(2024, 1, 5, 13, 0)), "2024-01-05 13:00");
        for (text, day, hour, minute) in [
            ("2024-01-05 24:30", 5, 0, 30),
            ("2024-01-24 13:24", 24, 13, 24),
            ("2024-01-24 24:24", 24, 0, 24),
        ] {
            assert_eq!(
                f.parse_datetime(text),
                Some(at(2024, 1, day, hour, minute)),
                "{text}"
            );
        }
        assert!(f.parse_datetime("2024-01-05 00:30").is_none(), "k has no 0");
        let f = DateFormat::parse("k").unwrap();
        assert_eq!(formatted(&f, at(2024, 1, 5, 7, 0)), "7");

        // Z / z: the instant is kept (converted to UTC); UTC values print a zero offset.
        let f = DateFormat::parse("yyyy-MM-dd HH:mm:ss Z").unwrap();
        assert_eq!(
            f.parse_datetime("2024-01-05 08:00:00 +0800"),
            Some(at(2024, 1, 5, 0, 0))
        );
        assert_eq!(
            formatted(&f, at(2024, 1, 5, 0, 0)),
            "2024-01-05 00:00:00 +0000"
        );
        let f = DateFormat::parse("yyyy-MM-dd HH:mm z").unwrap();
        assert_eq!(formatted(&f, at(2024, 1, 5, 0, 0)), "2024-01-05 00:00 UTC");
        for text in ["2024-01-05 00:00 UTC", "2024-01-05 08:00 GMT+08:00"] {
            assert_eq!(f.parse_datetime(text), Some(at(2024, 1, 5, 0, 0)), "{text}");
        }
        assert!(
            f.parse_datetime("2024-01-05 08:00 CST").is_none(),
            "an ambiguous zone name is not guessed"
        );
    }

    #[test]
    fn civil_round_trip() {
        for d in [-719468i64, -1, 0, 1, 10957, 19753, 2932896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(parse_iso_date(b"2024-02-29"), Some(19782));
        assert_eq!(parse_iso_date(b"2023-02-29"), None);
        assert_eq!(parse_iso_date(b"0000-01-01"), None, "no year 0");
        assert_eq!(parse_iso_date(b"-001-01-01"), None);
    }

    #[test]
    fn iso_timestamps() {
        let n = parse_iso_timestamp_nanos(b"2024-01-31 23:59:58.123456").unwrap();
        let mut out = Vec::new();
        write_iso_timestamp_nanos(n, &mut out);
        assert_eq!(out, b"2024-01-31 23:59:58.123456");
        out.clear();
        write_iso_timestamp_nanos(
            parse_iso_timestamp_nanos(b"1969-12-31T00:00").unwrap(),
            &mut out,
        );
        assert_eq!(out, b"1969-12-31 00:00:00");
        assert!(parse_iso_timestamp_nanos(b"2024-01-31 24:00:00").is_none());
        assert!(parse_iso_timestamp_nanos(b"2024-01-31 10:00:00.").is_none());
        let dt = nanos_to_naive(n).unwrap();
        assert_eq!(naive_to_nanos(&dt), n);
    }
}
