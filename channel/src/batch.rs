//! [`Batch`]: the unit of data that crosses from a reader to a writer.

use arrow_array::{Array, RecordBatch};

/// An Arrow record batch plus its payload size in bytes.
///
/// The size counts the bytes the rows occupy (value, offset and validity buffers of the
/// batch's slice), not the capacity of the allocations behind them, so that throttling and
/// the report speak about data, not about allocator behaviour.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The rows.
    pub data: RecordBatch,
    /// Payload size in bytes, see [`batch_bytes`].
    pub bytes: usize,
}

impl Batch {
    /// Wraps a record batch, measuring its payload size.
    pub fn new(data: RecordBatch) -> Self {
        let bytes = batch_bytes(&data);
        Batch { data, bytes }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.num_rows()
    }
}

/// Payload bytes of a record batch: the sum over its columns of the memory their slice uses.
pub fn batch_bytes(data: &RecordBatch) -> usize {
    data.columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn size_counts_values_not_capacity() {
        let ints = Int64Array::from_iter_values(0..100);
        let strs = StringArray::from_iter_values((0..100).map(|_| "abcd"));
        let batch = RecordBatch::try_from_iter(vec![
            ("a", Arc::new(ints) as _),
            ("b", Arc::new(strs) as _),
        ])
        .expect("valid batch");
        let b = Batch::new(batch);
        // 800 bytes of i64, 400 bytes of string data, 101 i32 offsets.
        assert_eq!(b.bytes, 800 + 400 + 101 * 4);
        assert_eq!(b.rows(), 100);
    }
}
