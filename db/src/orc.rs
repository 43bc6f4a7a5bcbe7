//! ORC files for hdfswriter/hdfsreader `fileType: "orc"`, through orc-rust. orc-rust is built
//! on arrow 59, one release behind the rest of the workspace, so batches and schemas cross
//! between the two as Arrow IPC streams (one copy, no unsafe code).

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
pub use orc_rust;

/// The reader of an ORC file as datasync reads them all: timestamps at microseconds, datasync's
/// precision, so every year a warehouse holds decodes (9999-12-31 end-of-time markers overflow
/// nanoseconds) and a value with digits below the microsecond fails rather than being cut.
/// The planner (footer, schema) and the tasks (rows) must agree on it.
pub fn reader<R: orc_rust::reader::ChunkReader>(
    r: R,
) -> Result<orc_rust::ArrowReaderBuilder<R>, orc_rust::error::OrcError> {
    Ok(orc_rust::ArrowReaderBuilder::try_new(r)?
        .with_timestamp_precision(orc_rust::TimestampPrecision::Microsecond))
}

/// arrow 59's record batch (orc-rust's).
pub type OrcBatch = arrow59::record_batch::RecordBatch;

/// `batch` as orc-rust takes it.
pub fn to_orc(batch: &RecordBatch) -> Result<OrcBatch, String> {
    let mut buf = Vec::new();
    {
        let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut buf, &batch.schema())
            .map_err(|e| e.to_string())?;
        w.write(batch).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
    }
    let mut r = arrow59::ipc::reader::StreamReader::try_new(std::io::Cursor::new(buf), None)
        .map_err(|e| e.to_string())?;
    match r.next() {
        Some(b) => b.map_err(|e| e.to_string()),
        None => Err("the IPC stream held no batch".into()),
    }
}

/// `schema` as orc-rust takes it.
pub fn schema_to_orc(schema: &SchemaRef) -> Result<arrow59::datatypes::SchemaRef, String> {
    Ok(to_orc(&RecordBatch::new_empty(SchemaRef::clone(schema)))?.schema())
}

/// A batch orc-rust decoded, as ours.
pub fn from_orc(batch: &OrcBatch) -> Result<RecordBatch, String> {
    let mut buf = Vec::new();
    {
        let mut w = arrow59::ipc::writer::StreamWriter::try_new(&mut buf, &batch.schema())
            .map_err(|e| e.to_string())?;
        w.write(batch).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
    }
    let mut r = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(buf), None)
        .map_err(|e| e.to_string())?;
    match r.next() {
        Some(b) => b.map_err(|e| e.to_string()),
        None => Err("the IPC stream held no batch".into()),
    }
}

/// An orc-rust schema as ours.
pub fn schema_from_orc(schema: &arrow59::datatypes::SchemaRef) -> Result<SchemaRef, String> {
    Ok(
        from_orc(&OrcBatch::new_empty(arrow59::datatypes::SchemaRef::clone(
            schema,
        )))?
        .schema(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use std::sync::Arc;

    #[test]
    fn batches_cross_both_ways_unchanged() {
        let b = RecordBatch::try_from_iter(vec![
            (
                "id",
                Arc::new(Int64Array::from(vec![Some(1), None, Some(i64::MAX)])) as _,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("é"), Some(""), None])) as _,
            ),
            (
                "ts",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(-1),
                    Some(0),
                    None,
                ])) as _,
            ),
        ])
        .unwrap();
        let back = from_orc(&to_orc(&b).unwrap()).unwrap();
        assert_eq!(back, b);
        assert_eq!(
            schema_from_orc(&schema_to_orc(&b.schema()).unwrap()).unwrap(),
            b.schema()
        );
    }
}
