//! One ORC file being written (hdfswriter `fileType: "orc"`): batches already converted to the
//! declared Hive types are encoded by orc-rust (batches cross to its arrow through
//! `datasync_db::orc`).

use super::config::ParquetCompression;
use super::file::FileError;
use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema, SchemaRef, TimeUnit};
use datasync_db::orc::orc_rust::compression::CompressionType;
use datasync_db::orc::orc_rust::{ArrowWriter, ArrowWriterBuilder};
use datasync_db::orc::{schema_to_orc, to_orc};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A stripe is flushed at this many buffered bytes (or at a quarter of `maxFileSize`).
const STRIPE_BYTES: usize = 64 << 20;

/// Whether ORC files can hold a column of this (converted) type; the reason when not.
pub fn check_type(t: &DataType) -> Result<(), String> {
    match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::Binary
        | DataType::Boolean
        | DataType::Date32
        | DataType::Timestamp(TimeUnit::Microsecond, None) => Ok(()),
        DataType::Decimal128(..) => Err(
            "DECIMAL cannot be written to ORC yet (the ORC encoder this build uses has no \
             decimal writer); write this table as Parquet, or declare the column STRING"
                .into(),
        ),
        other => Err(format!("{other} cannot be written to ORC")),
    }
}

/// The ORC codec of `compress`; `None`: uncompressed.
pub fn codec(c: ParquetCompression) -> Result<Option<CompressionType>, String> {
    Ok(match c {
        ParquetCompression::None => None,
        ParquetCompression::Snappy => Some(CompressionType::Snappy),
        ParquetCompression::Zstd => Some(CompressionType::Zstd),
        ParquetCompression::Zlib => Some(CompressionType::Zlib),
        ParquetCompression::Lz4 => Some(CompressionType::Lz4),
        ParquetCompression::Gzip => {
            return Err("gzip is not an ORC codec; ORC takes none, zlib, snappy, zstd, lz4".into())
        }
    })
}

/// `schema` with TIMESTAMP columns as wall-clock time (no zone): Hive's ORC TIMESTAMP.
fn wall_clock_schema(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Timestamp(u, Some(_)) => f
                    .as_ref()
                    .clone()
                    .with_data_type(DataType::Timestamp(*u, None)),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ))
}

/// The batch's UTC-adjusted timestamps (the layout's) as the same wall-clock values.
fn wall_clock(batch: &RecordBatch) -> Result<RecordBatch, arrow_schema::ArrowError> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMicrosecondType;
    let cols = batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => Arc::new(
                c.as_primitive::<TimestampMicrosecondType>()
                    .clone()
                    .with_timezone_opt(None::<String>),
            )
                as arrow_array::ArrayRef,
            _ => Arc::clone(c),
        })
        .collect();
    RecordBatch::try_new(wall_clock_schema(&batch.schema()), cols)
}

/// Refuses, naming the column and the value, a timestamp in the second before 1970-01-01 with
/// a fraction (`1969-12-31 23:59:59.5`): ORC stores seconds and nanoseconds apart, and readers
/// adjust negative seconds with a fraction by one (ORC-763), so that second cannot be stored
/// without reading back as another time; the encoder would fail with a bare number.
fn unencodable_timestamps(batch: &RecordBatch) -> Result<(), String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMicrosecondType;
    use arrow_array::Array;
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        if let DataType::Timestamp(TimeUnit::Microsecond, _) = c.data_type() {
            let a = c.as_primitive::<TimestampMicrosecondType>();
            let bad = (0..a.len()).find(|&i| {
                let v = a.value(i);
                a.is_valid(i) && v.div_euclid(1_000_000) == -1 && v.rem_euclid(1_000_000) >= 1000
            });
            if let Some(i) = bad {
                let v = a.value(i);
                let shown = chrono::DateTime::from_timestamp_micros(v)
                    .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string())
                    .unwrap_or_else(|| v.to_string());
                return Err(format!(
                    "column \"{}\": the timestamp {shown} (within the second before \
                     1970-01-01, with a fraction) cannot be stored in ORC so that readers get it \
                     back (ORC-763); write this table as Parquet",
                    f.name()
                ));
            }
        }
    }
    Ok(())
}

/// The file, written without a buffer of ours (the encoder writes whole streams), counting
/// bytes; shared so it can be synced after the encoder is done with it.
struct Sink {
    file: Arc<File>,
    written: Arc<AtomicU64>,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = (&*self.file).write(buf)?;
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        (&*self.file).flush()
    }
}

/// One open ORC file.
pub struct OrcFile {
    path: PathBuf,
    file: Arc<File>,
    written: Arc<AtomicU64>,
    writer: ArrowWriter<Sink>,
    max_file_bytes: Option<u64>,
}

impl OrcFile {
    /// Creates the file at `path` for batches of `schema`.
    pub fn create(
        path: &Path,
        schema: &Schema,
        compress: ParquetCompression,
        max_file_bytes: Option<u64>,
    ) -> Result<Self, FileError> {
        let orc = |e: String| FileError::Orc {
            path: path.to_path_buf(),
            message: e,
        };
        let file = Arc::new(File::create(path).map_err(|source| FileError::Io {
            path: path.to_path_buf(),
            source,
        })?);
        let written = Arc::new(AtomicU64::new(0));
        let sink = Sink {
            file: Arc::clone(&file),
            written: Arc::clone(&written),
        };
        let stripe = max_file_bytes
            .map(|m| (m / 4).clamp(1 << 20, STRIPE_BYTES as u64) as usize)
            .unwrap_or(STRIPE_BYTES);
        let mut b = ArrowWriterBuilder::new(
            sink,
            schema_to_orc(&wall_clock_schema(schema)).map_err(orc)?,
        )
        .with_stripe_byte_size(stripe);
        if let Some(c) = codec(compress).map_err(orc)? {
            b = b.with_compression(c);
        }
        let writer = b.try_build().map_err(|e| orc(e.to_string()))?;
        Ok(OrcFile {
            path: path.to_path_buf(),
            file,
            written,
            writer,
            max_file_bytes,
        })
    }

    /// Appends a batch already converted to the layout's schema.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), FileError> {
        let orc = |e: String| FileError::Orc {
            path: self.path.clone(),
            message: e,
        };
        unencodable_timestamps(batch).map_err(orc)?;
        let b = to_orc(&wall_clock(batch).map_err(|e| orc(e.to_string()))?).map_err(orc)?;
        self.writer.write(&b).map_err(|e| orc(e.to_string()))
    }

    /// Bytes written so far (whole stripes; the open stripe is not counted).
    pub fn size(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Whether the file reached `maxFileSize`.
    pub fn full(&self) -> bool {
        self.max_file_bytes.is_some_and(|m| self.size() >= m)
    }

    /// Writes the last stripe and the footer, and syncs; returns the file and its size.
    pub fn finish(self) -> Result<(PathBuf, u64), FileError> {
        let path = self.path;
        self.writer.close().map_err(|e| FileError::Orc {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let io = |source| FileError::Io {
            path: path.clone(),
            source,
        };
        self.file.sync_all().map_err(io)?;
        let len = self.file.metadata().map_err(io)?.len();
        Ok((path, len))
    }
}
