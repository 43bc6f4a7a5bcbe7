//! Arrow values as MySQL literals, exact: numbers and decimals as digits, text escaped for the
//! session's sql_mode, bytes as hex, timestamps to the microsecond (finer is refused, since
//! MySQL would round it).

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use datasync_codec::{ValueKind, ValueWriter};

/// Formats rows of one batch as `(v1, v2, ...)` tuples.
pub struct RowLiterals<'a> {
    batch: &'a RecordBatch,
    writers: Vec<ValueWriter<'a>>,
    backslash_escapes: bool,
    empty_as_null: bool,
    field: Vec<u8>,
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
            field: Vec::new(),
        })
    }

    /// Appends row `r` as a tuple to `out`, or says why it cannot be written.
    pub fn write_row(&mut self, r: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let start = out.len();
        out.push(b'(');
        for (c, w) in self.writers.iter().enumerate() {
            if c > 0 {
                out.push(b',');
            }
            let a = self.batch.column(c);
            if a.is_null(r) {
                out.extend_from_slice(b"NULL");
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
                        "column {}: nanoseconds cannot be stored (MySQL keeps microseconds)",
                        self.batch.schema().field(c).name()
                    ));
                }
            }
            self.field.clear();
            let kind = w
                .write(r, &mut self.field, None)
                .inspect_err(|_| out.truncate(start))?;
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
                ValueKind::Text => {
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
        out.push(b')');
        Ok(())
    }
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
}
