//! INT96 timestamps (Hive, Impala and Spark write them): nanoseconds of a Julian day. The
//! decoder's default, nanoseconds since 1970 in an i64, holds only 1677-09-21 .. 2262-04-11
//! and wraps outside it without an error (9999-12-31, a common "open end" date, would arrive
//! as 1816-03-30). They are read as microseconds instead, and because that conversion drops
//! the last three digits, the columns are also decoded as nanoseconds beside it: a value with
//! a digit below the microsecond fails the read, naming it, rather than lose it.

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMicrosecondType, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};
use std::sync::Arc;

const MICROS_PER_DAY: i64 = 86_400_000_000;
const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// The file's top-level columns stored as INT96.
pub(super) fn int96_roots(meta: &ArrowReaderMetadata) -> Vec<usize> {
    let descr = meta.metadata().file_metadata().schema_descr();
    descr
        .root_schema()
        .get_fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_primitive() && f.get_physical_type() == parquet::basic::Type::INT96)
        .map(|(i, _)| i)
        .collect()
}

/// `meta` with its INT96 columns read as microseconds (see the module doc).
pub(crate) fn int96_as_micros(
    meta: ArrowReaderMetadata,
) -> Result<ArrowReaderMetadata, ParquetError> {
    let int96 = int96_roots(&meta);
    if int96.is_empty() {
        return Ok(meta);
    }
    let schema = meta.schema();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = f.as_ref().clone();
            match int96.contains(&i) {
                true => f.with_data_type(DataType::Timestamp(TimeUnit::Microsecond, None)),
                false => f,
            }
        })
        .collect();
    let hinted = Schema::new_with_metadata(fields, schema.metadata().clone());
    ArrowReaderMetadata::try_new(
        Arc::clone(meta.metadata()),
        ArrowReaderOptions::new().with_schema(Arc::new(hinted)),
    )
}

/// Where a value of an INT96 column, read as microseconds (`micros`) and as wrapped
/// nanoseconds (`nanos`), has a digit below the microsecond: its row and those nanoseconds.
pub(super) fn sub_micro(micros: &dyn Array, nanos: &dyn Array) -> Option<(usize, i64)> {
    let us = micros.as_primitive_opt::<TimestampMicrosecondType>()?;
    let ns = nanos.as_primitive_opt::<TimestampNanosecondType>()?;
    (0..us.len().min(ns.len())).find_map(|i| {
        if us.is_null(i) {
            return None;
        }
        // The day since 1970 from the microseconds (exact), then the nanoseconds of that day
        // from the wrapped value (the wrapping arithmetic undoes the decoder's).
        let day = us.value(i).div_euclid(MICROS_PER_DAY);
        let of_day = ns.value(i).wrapping_sub(day.wrapping_mul(NANOS_PER_DAY));
        (of_day.rem_euclid(1000) != 0).then_some((i, of_day.rem_euclid(1000)))
    })
}

/// The first row of `batch` (columns `micros` of it, each with its nanosecond twin in
/// `nanos`) whose INT96 value has a digit below the microsecond: (column, row, nanoseconds).
pub(super) fn first_sub_micro(
    batch: &RecordBatch,
    micros: &[usize],
    nanos: &RecordBatch,
) -> Option<(usize, usize, i64)> {
    micros.iter().enumerate().find_map(|(k, &c)| {
        sub_micro(batch.column(c).as_ref(), nanos.column(k).as_ref()).map(|(r, n)| (c, r, n))
    })
}

/// One opened file (or object) read by two decoders.
pub(super) struct Shared<T>(pub(super) Arc<T>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<T: Length> Length for Shared<T> {
    fn len(&self) -> u64 {
        self.0.len()
    }
}

impl<T: ChunkReader> ChunkReader for Shared<T> {
    type T = T::T;
    fn get_read(&self, start: u64) -> Result<Self::T, ParquetError> {
        self.0.get_read(start)
    }
    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes, ParquetError> {
        self.0.get_bytes(start, length)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::{TimestampMicrosecondArray, TimestampNanosecondArray};

    #[test]
    fn finds_digits_below_the_microsecond_also_where_nanoseconds_wrapped() {
        // 9999-12-31 23:59:59.999999: the nanoseconds since 1970 do not fit an i64.
        let day = 2_932_896i64;
        let of_day = NANOS_PER_DAY - 1_000;
        let exact = day * MICROS_PER_DAY + of_day / 1000;
        let wrapped = day.wrapping_mul(NANOS_PER_DAY).wrapping_add(of_day);
        let us = TimestampMicrosecondArray::from(vec![Some(exact), None, Some(exact)]);
        let ns = TimestampNanosecondArray::from(vec![Some(wrapped), None, Some(wrapped + 7)]);
        assert_eq!(sub_micro(&us, &ns), Some((2, 7)));
        // Before 1970, and exact.
        let us = TimestampMicrosecondArray::from(vec![-1i64]);
        let ns = TimestampNanosecondArray::from(vec![-1000i64]);
        assert_eq!(sub_micro(&us, &ns), None);
        let ns = TimestampNanosecondArray::from(vec![-999i64]);
        assert_eq!(sub_micro(&us, &ns), Some((0, 1)));
    }
}
