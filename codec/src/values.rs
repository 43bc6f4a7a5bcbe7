//! Arrow values as JSON, for dirty records and printing: exact text, nulls as `null`.

use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use serde_json::Value;

/// The values of one row of `batch`, formatted exactly (decimals keep their scale).
pub fn row_values(batch: &RecordBatch, row: usize) -> Vec<Value> {
    let opts = FormatOptions::default();
    batch
        .columns()
        .iter()
        .map(|col| {
            if col.is_null(row) {
                return Value::Null;
            }
            match ArrayFormatter::try_new(col.as_ref(), &opts) {
                Ok(f) => Value::String(f.value(row).to_string()),
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
