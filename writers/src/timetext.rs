//! Text going into a date, time or timestamp column: the servers read it by their own,
//! generous rules (PostgreSQL takes `now`, `today`, `epoch`, `1/2/2024` by its DateStyle, and
//! drops an offset or a zone name going into a timestamp without time zone; both round
//! fractional seconds past the column's precision and drop a time of day going into a date).
//! Only plain ISO text whose value the column keeps as written goes in; anything else makes
//! its row dirty, as the typed values' checks in `narrow` do.

/// The kind of target column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeColumn {
    /// A date.
    Date,
    /// A timestamp; `zoned`: one with a time zone (an offset in the text is its instant).
    Timestamp { zoned: bool },
    /// A time of day (MySQL: a duration of up to 838 hours).
    Time,
    /// A PostgreSQL time with time zone (an offset in the text is kept).
    TimeTz,
}

fn digits(s: &str, min: usize, max: usize) -> Option<(&str, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    (min..=max).contains(&n).then(|| s.split_at(n))
}

/// `HH:MM[:SS[.f...]]` at the start of `s` (`long`: up to three hour digits and a sign, as a
/// MySQL TIME, to 838 hours; `day_end`: `24:00:00` too, as a PostgreSQL time keeps it): the
/// rest after it, and the fraction's digits. A leap second or an hour past the day (which
/// the servers roll into the next minute or day) is not taken.
fn time_part(s: &str, long: bool, day_end: bool) -> Option<(&str, &str)> {
    let s = if long {
        s.strip_prefix('-').unwrap_or(s)
    } else {
        s
    };
    let (h, s) = digits(s, 1, if long { 3 } else { 2 })?;
    let (m, s) = digits(s.strip_prefix(':')?, 2, 2)?;
    let (sec, frac, rest) = match s.strip_prefix(':') {
        None => ("00", "", s),
        Some(s) => {
            let (sec, s) = digits(s, 2, 2)?;
            match s.strip_prefix('.') {
                Some(f) => {
                    let (frac, rest) = digits(f, 1, 64)?;
                    (sec, frac, rest)
                }
                None => (sec, "", s),
            }
        }
    };
    let n = |t: &str| t.parse::<u32>().unwrap_or(u32::MAX);
    let zero = frac.bytes().all(|b| b == b'0');
    let hour_ok = match long {
        true => n(h) <= 838,
        false => n(h) <= 23 || (day_end && n(h) == 24 && n(m) == 0 && n(sec) == 0 && zero),
    };
    (hour_ok && n(m) <= 59 && n(sec) <= 59).then_some((rest, frac))
}

/// A UTC offset at the start of `s` (`Z`, `+08`, `+0800`, `+08:00`): the rest after it.
fn offset(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix('Z') {
        return Some(rest);
    }
    let s = s.strip_prefix('+').or_else(|| s.strip_prefix('-'))?;
    let (_, s) = digits(s, 2, 2)?;
    let s = s.strip_prefix(':').unwrap_or(s);
    Some(digits(s, 2, 2).map_or(s, |(_, rest)| rest))
}

/// Whether `t` goes into a `column` keeping `keep` fractional second digits unchanged
/// (`pg`: PostgreSQL's forms too: infinities, ` BC`); the error says why not.
pub(crate) fn check(t: &str, column: TimeColumn, keep: u32, pg: bool) -> Result<(), String> {
    let s = t.trim();
    let what = match column {
        TimeColumn::Date => "date (YYYY-MM-DD)",
        TimeColumn::Timestamp { .. } => "timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])",
        TimeColumn::Time | TimeColumn::TimeTz => "time (HH:MM:SS[.ffffff])",
    };
    let plain = || {
        format!(
            "\"{t}\" is not a plain {what}: the server would read it by its own rules (words \
             such as now or today, day/month orders, time zone names)"
        )
    };
    if pg
        && !matches!(column, TimeColumn::Time | TimeColumn::TimeTz)
        && ["infinity", "+infinity", "-infinity"].contains(&s.to_ascii_lowercase().as_str())
    {
        return Ok(());
    }
    let (rest, frac) = if matches!(column, TimeColumn::Time | TimeColumn::TimeTz) {
        time_part(s, !pg, pg).ok_or_else(plain)?
    } else {
        let body = s.strip_prefix('-').unwrap_or(s);
        let (_, r) = digits(body, 4, 6).ok_or_else(plain)?;
        let (_, r) = digits(r.strip_prefix('-').ok_or_else(plain)?, 2, 2).ok_or_else(plain)?;
        let (_, r) = digits(r.strip_prefix('-').ok_or_else(plain)?, 2, 2).ok_or_else(plain)?;
        match r.strip_prefix(' ').or_else(|| r.strip_prefix('T')) {
            Some(time) if !time.starts_with("BC") => {
                let (rest, frac) = time_part(time, false, false).ok_or_else(plain)?;
                if column == TimeColumn::Date {
                    let zero = |p: &str| p.bytes().all(|b| matches!(b, b'0' | b':' | b'.'));
                    if !zero(&time[..time.len() - rest.len()]) {
                        return Err(format!(
                            "\"{t}\" has a time of day; a date column would drop it (use a \
                             timestamp column)"
                        ));
                    }
                }
                (rest, frac)
            }
            _ => (r, ""),
        }
    };
    let rest = match (column, offset(rest)) {
        (TimeColumn::Timestamp { zoned: true } | TimeColumn::TimeTz, Some(after)) => after,
        (_, Some(_)) if !rest.is_empty() && !rest.starts_with(' ') => {
            return Err(format!(
                "\"{t}\" has a time zone offset; the column keeps no zone and would drop it"
            ))
        }
        _ => rest,
    };
    let rest = if pg {
        rest.strip_suffix(" BC").unwrap_or(rest)
    } else {
        rest
    };
    if !rest.is_empty() {
        return Err(plain());
    }
    if frac.bytes().skip(keep as usize).any(|b| b != b'0') {
        return Err(format!(
            "\"{t}\" has digits beyond the column's {keep} fractional second digit(s); the \
             database would round it"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use TimeColumn::*;

    const NAIVE: TimeColumn = Timestamp { zoned: false };
    const ZONED: TimeColumn = Timestamp { zoned: true };

    #[test]
    fn plain_iso_text_goes_in_and_what_a_server_would_change_does_not() {
        for (t, col, keep, pg) in [
            ("2024-01-01", Date, 6, true),
            ("2024-01-01 00:00:00", Date, 6, true),
            ("0000-00-00", Date, 6, false),
            ("0044-03-15 BC", Date, 6, true),
            ("-infinity", Date, 6, true),
            ("2024-01-01 10:00:00", NAIVE, 6, true),
            ("2024-01-01T10:00:00.123456", NAIVE, 6, false),
            ("2024-01-01 10:00:00.500000", NAIVE, 1, true),
            ("2024-01-01", NAIVE, 0, true),
            ("2024-01-01 10:00:00+08", ZONED, 6, true),
            ("2024-01-01 10:00:00.5+05:30", ZONED, 6, true),
            ("2024-01-01 10:00:00Z", ZONED, 6, true),
            ("12:00:00.4", Time, 6, true),
            ("24:00:00", Time, 6, true),
            ("-838:59:59", Time, 0, false),
            ("10:00:00+09", TimeTz, 6, true),
            ("10:00:00", TimeTz, 6, true),
            (" 2024-01-01 ", Date, 6, false),
        ] {
            assert_eq!(check(t, col, keep, pg), Ok(()), "{t} {col:?}");
        }
        for (t, col, keep, pg, why) in [
            ("now", ZONED, 6, true, "not a plain"),
            ("today", Date, 6, true, "not a plain"),
            ("epoch", NAIVE, 6, true, "not a plain"),
            ("01/02/2024", Date, 6, true, "not a plain"),
            ("Jan 2 2024", Date, 6, true, "not a plain"),
            ("2024-01-01 23:59:59", Date, 6, true, "time of day"),
            ("2024-01-01 10:00:00+08", NAIVE, 6, true, "offset"),
            (
                "2024-01-01 10:00:00 America/New_York",
                ZONED,
                6,
                true,
                "not a plain",
            ),
            ("2024-01-01 10:00:00+08", NAIVE, 6, false, "offset"),
            ("2024-01-01 00:00:00.5", NAIVE, 0, true, "fractional"),
            ("12:00:00.4", Time, 0, false, "fractional"),
            ("infinity", Date, 6, false, "not a plain"),
            ("838:59:59", Time, 6, true, "not a plain"),
            ("23:59:60", Time, 6, true, "not a plain"),
            ("now", TimeTz, 6, true, "not a plain"),
            ("allballs", TimeTz, 6, true, "not a plain"),
            ("2024-01-02 10:00:00", TimeTz, 6, true, "not a plain"),
            ("04:05:06 PST", TimeTz, 6, true, "not a plain"),
            ("10:00:00.1234567", TimeTz, 6, true, "fractional"),
            ("24:00:01", Time, 6, true, "not a plain"),
            ("839:00:00", Time, 0, false, "not a plain"),
            ("12:60:00", Time, 0, false, "not a plain"),
            ("2024-01-02 23:59:60", NAIVE, 6, true, "not a plain"),
            ("2024-01-02 24:00:00", NAIVE, 6, true, "not a plain"),
            ("", Date, 6, true, "not a plain"),
        ] {
            let e = check(t, col, keep, pg).unwrap_err();
            assert!(e.contains(why), "{t} {col:?}: {e}");
        }
    }
}
