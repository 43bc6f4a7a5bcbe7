//! Arrow values as JSON, for dirty records and printing: exact text, nulls as `null`.

use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use serde_json::Value;

/// A dirty record of one row of a batch: its column names and values as written.
pub fn dirty_row(
    batch: &RecordBatch,
    row: usize,
    error: String,
    location: Option<String>,
) -> datasync_engine::DirtyRecord {
    datasync_engine::DirtyRecord {
        error,
        columns: column_names(batch),
        values: row_values(batch, row),
        location,
    }
}

/// The values of one row of `batch`, formatted exactly as the text writers write them
/// (decimals keep their scale, lists are JSON arrays, infinities and 24:00:00 spelled out;
/// bytes that are not UTF-8 as base64 with a flag), Arrow's display for other types.
pub fn row_values(batch: &RecordBatch, row: usize) -> Vec<Value> {
    let opts = FormatOptions::default();
    batch
        .columns()
        .iter()
        .map(|col| {
            if col.is_null(row) {
                return Value::Null;
            }
            let mut out = Vec::new();
            if let Ok(w) = crate::ValueWriter::new(col) {
                if w.write(row, &mut out, None).is_ok() {
                    return raw_value(&out);
                }
            }
            match ArrayFormatter::try_new(col.as_ref(), &opts) {
                Ok(f) => match f.value(row).try_to_string() {
                    Ok(s) => Value::String(s),
                    Err(e) => Value::String(format!("<unprintable: {e}>")),
                },
                Err(e) => Value::String(format!("<unprintable: {e}>")),
            }
        })
        .collect()
}

/// Column names of a batch.
pub fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Raw bytes of a dirty record as JSON: the text when it is valid UTF-8, else
/// `{"base64": ..., "invalidUtf8": true}` so the original bytes are kept, not replaced.
pub fn raw_value(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => serde_json::json!({"base64": base64(b), "invalidUtf8": true}),
    }
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A float as a double: the double of its shortest decimal (`0.1f32` is 0.1, not the
/// 0.10000000149011612 its bits widen to), as a reader of the float's text gets it. FLOAT/REAL
/// sources print their values so, and the writers store them so in wider float columns.
pub fn float_as_double(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// A decimal number's canonical form (see the engine's, which `datasync verify` compares by).
pub use datasync_engine::verify::canon::canonical_number;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_kept_as_base64() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[0xff, 0x00, 0xfe, 0x41]), "/wD+QQ==");
        assert_eq!(raw_value(b"ok"), Value::String("ok".into()));
        assert_eq!(
            raw_value(&[b'a', 0xff]),
            serde_json::json!({"base64": "Yf8=", "invalidUtf8": true})
        );
    }
}
