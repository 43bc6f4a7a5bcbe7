//! Arrow values as SQL text for the SQL writers, exact: numbers and decimals as digits, text
//! escaped, bytes as hex, timestamps to the microsecond (finer is refused: MySQL and PostgreSQL
//! would round it). Two styles: MySQL tuples `(v1,v2)` for INSERT, and tab-separated lines with
//! backslash escapes and `\N` for NULL, which both MySQL's LOAD DATA and PostgreSQL's text
//! COPY read.

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use datasync_codec::{ValueKind, ValueWriter};

/// Formats rows of one batch as `(v1, v2, ...)` tuples.
pub struct RowLiterals<'a> {
    batch: &'a RecordBatch,
    writers: Vec<ValueWriter<'a>>,
    backslash_escapes: bool,
    empty_as_null: bool,
    /// What is known of each column's target type (see [`RowLiterals::targets`]).
    targets: Vec<TargetKind>,
    field: Vec<u8>,
}

/// What of a MySQL target column's type changes how a value is written into it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TargetKind {
    /// Nothing (or not known).
    #[default]
    Other,
    /// An integer type: MySQL rounds `3.7` into it without a warning, so a value with a
    /// fractional part (`3.7`, `1e-1`) is refused here.
    Whole,
    /// YEAR (whole numbers too). MySQL reads 1 to 99 as 2001..2069 and 1970..1999 and the
    /// text `0` as 2000 without a warning: an integer 0 is written as `0000` (the year 0000
    /// it is) and 1 to 99 are refused.
    Year,
    /// FLOAT: a float is written as its exact value (MySQL reads a literal as a double and
    /// rounds it to FLOAT, and the shortest text of an f32, e.g. 3.4028235e38, can be a
    /// double above FLOAT's range). Elsewhere a float is written as its shortest text, the
    /// value a DOUBLE or DECIMAL column then holds (0.1, not 0.10000000149011612).
    Float,
    /// A PostgreSQL text column (text, varchar, char, json, ...): a binary value goes in as
    /// the UTF-8 text it holds (checked before), not as bytea's `\x` hex.
    Text,
}

impl TargetKind {
    /// The kind of a MySQL `DATA_TYPE` (`int`, `year`, `float`, ...).
    pub fn of_mysql(data_type: &str) -> Self {
        match data_type.to_ascii_lowercase().as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => Self::Whole,
            "year" => Self::Year,
            "float" => Self::Float,
            _ => Self::Other,
        }
    }
}

impl<'a> RowLiterals<'a> {
    /// Prepares formatting of `batch`.
    pub fn new(
        batch: &'a RecordBatch,
        backslash_escapes: bool,
        empty_as_null: bool,
    ) -> Result<Self, String> {
        let writers = batch
            .columns()
            .iter()
            .enumerate()
            .map(|(i, a)| {
                ValueWriter::new(a)
                    .map_err(|e| format!("column {}: {e}", batch.schema().field(i).name()))
            })
            .collect::<Result<_, _>>()?;
        Ok(RowLiterals {
            batch,
            writers,
            backslash_escapes,
            empty_as_null,
            targets: Vec::new(),
            field: Vec::new(),
        })
    }

    /// What is known of each column's target type (see [`TargetKind`]).
    pub fn targets(mut self, targets: &[TargetKind]) -> Self {
        self.targets = targets.to_vec();
        self
    }

    /// Whether the batch can go through lines without hex bytes (it has no binary column).
    #[cfg(feature = "mysql")]
    pub fn load_data_ok(&self) -> bool {
        !self
            .batch
            .schema()
            .fields()
            .iter()
            .any(|f| matches!(f.data_type(), DataType::Binary | DataType::LargeBinary))
    }

    /// Appends row `r` as a tuple to `out`, or says why it cannot be written.
    #[cfg(feature = "mysql")]
    pub fn write_row(&mut self, r: usize, out: &mut Vec<u8>) -> Result<(), String> {
        self.write(r, out, false, false)
    }

    /// Appends row `r` as one LOAD DATA line (`FIELDS TERMINATED BY '\t' ESCAPED BY '\\'`).
    #[cfg(feature = "mysql")]
    pub fn write_line(&mut self, r: usize, out: &mut Vec<u8>) -> Result<(), String> {
        self.write(r, out, true, false)
    }

    /// Appends row `r` as one PostgreSQL text COPY line (bytea as `\\x` hex, dates before
    /// year 1 as `... BC`).
    #[cfg(feature = "postgres")]
    pub fn write_copy_line(&mut self, r: usize, out: &mut Vec<u8>) -> Result<(), String> {
        self.write(r, out, true, true)
    }

    /// `pg`: PostgreSQL COPY text (hex bytea, BC dates); otherwise MySQL.
    fn write(&mut self, r: usize, out: &mut Vec<u8>, tsv: bool, pg: bool) -> Result<(), String> {
        let start = out.len();
        if !tsv {
            out.push(b'(');
        }
        for (c, w) in self.writers.iter().enumerate() {
            if c > 0 {
                out.push(if tsv { b'\t' } else { b',' });
            }
            let a = self.batch.column(c);
            if a.is_null(r) {
                out.extend_from_slice(if tsv { b"\\N" } else { b"NULL" });
                continue;
            }
            if let DataType::Timestamp(TimeUnit::Nanosecond, _) = a.data_type() {
                let v = a
                    .as_any()
                    .downcast_ref::<arrow_array::TimestampNanosecondArray>()
                    .map(|x| x.value(r));
                if v.is_some_and(|v| v % 1000 != 0) {
                    out.truncate(start);
                    return Err(format!(
                        "column {}: nanoseconds cannot be stored (the database keeps microseconds)",
                        self.batch.schema().field(c).name()
                    ));
                }
            }
            self.field.clear();
            let kind = if pg && matches!(a.data_type(), DataType::List(_)) {
                pg_array(a, r, &mut self.field)
                    .map_err(|e| format!("column {}: {e}", self.batch.schema().field(c).name()))
                    .inspect_err(|_| out.truncate(start))?;
                ValueKind::Text
            } else {
                w.write(r, &mut self.field, None)
                    .inspect_err(|_| out.truncate(start))?
            };
            let target = self.targets.get(c).copied().unwrap_or_default();
            if matches!(target, TargetKind::Whole | TargetKind::Year)
                && matches!(kind, ValueKind::Number | ValueKind::Text)
                && has_fraction(&self.field)
            {
                out.truncate(start);
                return Err(format!(
                    "column {}: {} has a fractional part; the target column holds whole numbers \
                     and MySQL would round it",
                    self.batch.schema().field(c).name(),
                    String::from_utf8_lossy(&self.field)
                ));
            }
            if target == TargetKind::Year && a.data_type().is_integer() {
                match std::str::from_utf8(&self.field)
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                {
                    Some(0) => {
                        self.field.clear();
                        self.field.extend_from_slice(b"0000");
                    }
                    Some(n @ 1..=99) => {
                        out.truncate(start);
                        let as_year = if n < 70 { 2000 + n } else { 1900 + n };
                        return Err(format!(
                            "column {}: {n} into a YEAR column would be stored as {as_year}",
                            self.batch.schema().field(c).name()
                        ));
                    }
                    _ => {}
                }
            }
            if !pg && target == TargetKind::Float && matches!(kind, ValueKind::Number) {
                // The f32's exact value as a double rounds back to the same f32 (see
                // TargetKind::Float).
                if let Some(x) = a.as_any().downcast_ref::<arrow_array::Float32Array>() {
                    self.field.clear();
                    self.field
                        .extend_from_slice(format!("{:e}", f64::from(x.value(r))).as_bytes());
                }
            }
            if pg && matches!(a.data_type(), DataType::Timestamp(..)) && !self.field.is_empty() {
                // The instant is UTC: said so, a session TimeZone does not shift it into a
                // timestamptz (a timestamp without time zone ignores the offset).
                self.field.extend_from_slice(b"+00");
            }
            if pg && matches!(a.data_type(), DataType::Date32 | DataType::Timestamp(..)) {
                bc_year(&mut self.field);
            }
            if tsv {
                match kind {
                    ValueKind::Bool => out.push(if self.field == b"true" { b'1' } else { b'0' }),
                    ValueKind::Text if self.empty_as_null && self.field.is_empty() => {
                        out.extend_from_slice(b"\\N")
                    }
                    ValueKind::Bytes if pg && target != TargetKind::Text => {
                        out.extend_from_slice(b"\\\\x");
                        for b in &self.field {
                            out.extend_from_slice(format!("{b:02x}").as_bytes());
                        }
                    }
                    ValueKind::Bytes if !pg => {
                        out.truncate(start);
                        return Err("binary values go through INSERT, not LOAD DATA".into());
                    }
                    _ => {
                        for &b in &self.field {
                            match b {
                                b'\\' => out.extend_from_slice(b"\\\\"),
                                b'\t' => out.extend_from_slice(b"\\t"),
                                b'\n' => out.extend_from_slice(b"\\n"),
                                // PostgreSQL's COPY takes a raw CR for a line end.
                                b'\r' => out.extend_from_slice(b"\\r"),
                                0 => out.extend_from_slice(b"\\0"),
                                _ => out.push(b),
                            }
                        }
                    }
                }
                continue;
            }
            match kind {
                ValueKind::Number => out.extend_from_slice(&self.field),
                ValueKind::Bool => {
                    out.extend_from_slice(if self.field == b"true" { b"1" } else { b"0" })
                }
                ValueKind::Bytes => {
                    out.extend_from_slice(b"X'");
                    for b in &self.field {
                        out.extend_from_slice(format!("{b:02X}").as_bytes());
                    }
                    out.push(b'\'');
                }
                ValueKind::Text if self.empty_as_null && self.field.is_empty() => {
                    out.extend_from_slice(b"NULL")
                }
                ValueKind::Text | ValueKind::Json => {
                    out.push(b'\'');
                    for &b in &self.field {
                        match b {
                            b'\'' if self.backslash_escapes => out.extend_from_slice(b"\\'"),
                            b'\'' => out.extend_from_slice(b"''"),
                            b'\\' if self.backslash_escapes => out.extend_from_slice(b"\\\\"),
                            0 if self.backslash_escapes => out.extend_from_slice(b"\\0"),
                            _ => out.push(b),
                        }
                    }
                    out.push(b'\'');
                }
            }
        }
        out.push(if tsv { b'\n' } else { b')' });
        Ok(())
    }
}

/// Whether numeric text has a non-zero fractional part (`3.7`, `-0.50`, `1e-1`); text that is
/// not a number is left to the server, which refuses it.
fn has_fraction(t: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(t) else {
        return false;
    };
    let s = s.trim();
    if s.contains(['e', 'E']) {
        return s
            .parse::<f64>()
            .is_ok_and(|x| x.is_finite() && x.fract() != 0.0);
    }
    match s.split_once('.') {
        Some((i, f)) => {
            let i = i.trim_start_matches(['+', '-']);
            i.bytes().all(|b| b.is_ascii_digit())
                && !f.is_empty()
                && f.bytes().all(|b| b.is_ascii_digit())
                && f.bytes().any(|b| b != b'0')
        }
        None => false,
    }
}

/// A list value as a PostgreSQL array literal: `{1,2,NULL}`, `{"a \\"q\\"",NULL}`.
fn pg_array(a: &arrow_array::ArrayRef, r: usize, out: &mut Vec<u8>) -> Result<(), String> {
    use arrow_array::cast::AsArray;
    let values = a.as_list::<i32>().value(r);
    if matches!(
        values.data_type(),
        DataType::List(_) | DataType::LargeBinary
    ) {
        return Err(format!(
            "arrays of {} cannot be written to PostgreSQL",
            values.data_type()
        ));
    }
    let w = ValueWriter::new(&values)?;
    let mut item = Vec::new();
    out.push(b'{');
    for i in 0..values.len() {
        if i > 0 {
            out.push(b',');
        }
        if values.is_null(i) {
            out.extend_from_slice(b"NULL");
            continue;
        }
        item.clear();
        let kind = w.write(i, &mut item, None)?;
        if matches!(
            values.data_type(),
            DataType::Date32 | DataType::Timestamp(..)
        ) {
            bc_year(&mut item);
        }
        match kind {
            ValueKind::Number | ValueKind::Bool => out.extend_from_slice(&item),
            // bytea's hex input form, its backslash escaped for the array literal.
            ValueKind::Bytes => {
                out.extend_from_slice(b"\"\\\\x");
                for b in &item {
                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                }
                out.push(b'"');
            }
            _ => {
                out.push(b'"');
                for &b in &item {
                    if b == b'"' || b == b'\\' {
                        out.push(b'\\');
                    }
                    out.push(b);
                }
                out.push(b'"');
            }
        }
    }
    out.push(b'}');
    Ok(())
}

/// Rewrites an ISO date with a year <= 0 (astronomical: year 0 is 1 BC) into PostgreSQL's
/// `YYYY-MM-DD[ time] BC`.
fn bc_year(field: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(field).into_owned();
    let body = text.strip_prefix('-').unwrap_or(&text);
    let Some((year, rest)) = body.split_once('-') else {
        return;
    };
    let Ok(y) = year.parse::<i64>() else { return };
    let y = if text.starts_with('-') { -y } else { y };
    if y > 0 {
        return;
    }
    field.clear();
    field.extend_from_slice(format!("{:04}-{rest} BC", 1 - y).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{
        ArrayRef, BinaryArray, BooleanArray, Decimal128Array, Int64Array, StringArray,
    };
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            (
                "i",
                Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("it's a \\ test"), Some("")])) as ArrayRef,
            ),
            (
                "d",
                Arc::new(
                    Decimal128Array::from(vec![Some(-5), Some(12345)])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ) as ArrayRef,
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![true, false])) as ArrayRef,
            ),
            (
                "x",
                Arc::new(BinaryArray::from(vec![&b"\x00\xff"[..], &b""[..]])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn fractions_are_found() {
        for t in ["3.7", "-0.50", "1e-1", "+2.000001", "0.1E0"] {
            assert!(has_fraction(t.as_bytes()), "{t}");
        }
        for t in ["3", "3.0", "-4.000", "1e3", "abc", "1.5.5", "", "."] {
            assert!(!has_fraction(t.as_bytes()), "{t}");
        }
    }

    #[test]
    fn literals_are_exact_and_escaped() {
        let b = batch();
        let mut out = Vec::new();
        let mut l = RowLiterals::new(&b, true, false).unwrap();
        l.write_row(0, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "(1,'it\\'s a \\\\ test',-0.05,1,X'00FF')"
        );
        out.clear();
        let mut l = RowLiterals::new(&b, false, true).unwrap();
        l.write_row(0, &mut out).unwrap();
        l.write_row(1, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "(1,'it''s a \\ test',-0.05,1,X'00FF')(NULL,NULL,123.45,0,X'')"
        );
    }

    #[test]
    fn bc_dates_for_postgres() {
        for (iso, pg) in [
            ("-4712-01-01", "4713-01-01 BC"),
            ("0000-12-31 10:00:00", "0001-12-31 10:00:00 BC"),
            ("2024-01-01", "2024-01-01"),
        ] {
            let mut f = iso.as_bytes().to_vec();
            bc_year(&mut f);
            assert_eq!(String::from_utf8(f).unwrap(), pg);
        }
    }

    #[test]
    fn load_data_lines_escape_and_refuse_bytes() {
        let b = RecordBatch::try_from_iter(vec![
            (
                "i",
                Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("a\tb\nc\\d\r"), Some("")])) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut l = RowLiterals::new(&b, true, false).unwrap();
        assert!(l.load_data_ok());
        let mut out = Vec::new();
        l.write_line(0, &mut out).unwrap();
        l.write_line(1, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1\ta\\tb\\nc\\\\d\\r\n\\N\t\n"
        );
        assert!(!RowLiterals::new(&batch(), true, false)
            .unwrap()
            .load_data_ok());
    }
}
