//! One Parquet file being written: row groups are encoded column by column with the `parquet`
//! crate's Arrow column writers; TIMESTAMP columns in `int96` mode go through its INT96 column
//! writer instead (the Arrow writer cannot produce INT96).

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowSchemaConverter;
use parquet::basic::{
    Compression, GzipLevel, LogicalType, Repetition, Type as PhysicalType, ZstdLevel,
};
use parquet::data_type::{Int96, Int96Type};
use parquet::errors::ParquetError;
use parquet::file::properties::{WriterProperties, WriterPropertiesPtr};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::config::{DataFormat, ParquetCompression, TimestampType};
use super::orc::OrcFile;

/// A row group closes at this many encoded bytes even below `rowGroupSize` rows.
const ROW_GROUP_BYTES: usize = 128 << 20;

/// Julian day number of 1970-01-01.
const JULIAN_EPOCH: i64 = 2_440_588;

/// The layout every file of a job shares.
#[derive(Debug, Clone)]
pub struct FileLayout {
    /// Arrow schema of the converted batches (TIMESTAMP as microseconds, UTC-adjusted).
    pub schema: SchemaRef,
    /// Parquet schema.
    pub parquet: Arc<Type>,
    /// Writer properties.
    pub props: WriterPropertiesPtr,
    /// Columns written as INT96.
    pub int96: Vec<bool>,
    /// Rows per row group.
    pub row_group_rows: usize,
    /// Roll to a new file at this size.
    pub max_file_bytes: Option<u64>,
    /// Parquet or ORC.
    pub format: DataFormat,
    /// The codec asked for.
    pub compress: ParquetCompression,
}

impl FileLayout {
    /// The layout for data `fields` (converted Arrow types).
    pub fn new(
        format: DataFormat,
        fields: Vec<Field>,
        compress: ParquetCompression,
        timestamps: TimestampType,
        row_group_rows: usize,
        max_file_bytes: Option<u64>,
    ) -> Result<Self, ParquetError> {
        match format {
            DataFormat::Orc => {
                super::orc::codec(compress).map_err(ParquetError::General)?;
            }
            DataFormat::Parquet if compress == ParquetCompression::Zlib => {
                return Err(ParquetError::General(
                    "compress zlib is an ORC codec; Parquet takes snappy, zstd, gzip, lz4, none"
                        .into(),
                ))
            }
            DataFormat::Parquet => {}
        }
        let fields: Vec<Field> = fields
            .into_iter()
            .map(|f| match f.data_type() {
                // Hive's TIMESTAMP has no zone; Hive and Spark store it as a UTC instant.
                DataType::Timestamp(TimeUnit::Microsecond, None) => f.with_data_type(
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                ),
                _ => f,
            })
            .collect();
        let int96: Vec<bool> = fields
            .iter()
            .map(|f| {
                timestamps == TimestampType::Int96
                    && matches!(f.data_type(), DataType::Timestamp(..))
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let converted = ArrowSchemaConverter::new().convert(&schema)?;
        let mut leaves = Vec::new();
        for ((f, is96), field) in converted
            .root_schema()
            .get_fields()
            .iter()
            .zip(&int96)
            .zip(schema.fields())
        {
            if let DataType::Decimal128(p, s) = field.data_type() {
                // Hive before 4.0 reads decimals only as FIXED_LEN_BYTE_ARRAY (Arrow's default
                // is INT32/INT64 for small precisions), so every decimal is written that way.
                leaves.push(Arc::new(
                    Type::primitive_type_builder(f.name(), PhysicalType::FIXED_LEN_BYTE_ARRAY)
                        .with_repetition(Repetition::OPTIONAL)
                        .with_length(decimal_bytes(*p))
                        .with_logical_type(Some(LogicalType::decimal(i32::from(*s), i32::from(*p))))
                        .with_precision(i32::from(*p))
                        .with_scale(i32::from(*s))
                        .build()?,
                ));
            } else if *is96 {
                leaves.push(Arc::new(
                    Type::primitive_type_builder(f.name(), PhysicalType::INT96)
                        .with_repetition(Repetition::OPTIONAL)
                        .build()?,
                ));
            } else {
                leaves.push(Arc::clone(f));
            }
        }
        let parquet = Arc::new(
            Type::group_type_builder("schema")
                .with_fields(leaves)
                .build()?,
        );
        let compression = match compress {
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
            ParquetCompression::Gzip => Compression::GZIP(GzipLevel::default()),
            ParquetCompression::Lz4 => Compression::LZ4_RAW,
            ParquetCompression::None | ParquetCompression::Zlib => Compression::UNCOMPRESSED,
        };
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(compression)
                .set_created_by(format!("datasync version {}", env!("CARGO_PKG_VERSION")))
                .build(),
        );
        Ok(FileLayout {
            schema,
            parquet,
            props,
            int96,
            row_group_rows: row_group_rows.max(1),
            max_file_bytes,
            format,
            compress,
        })
    }
}

/// Fewest bytes whose two's complement holds every `precision`-digit number.
fn decimal_bytes(precision: u8) -> i32 {
    let max = 10f64.powi(i32::from(precision));
    (1..=16).find(|n| 2f64.powi(8 * n - 1) > max).unwrap_or(16)
}

/// INT96 values and definition levels of one column's open row group.
#[derive(Default)]
struct Int96Buf {
    values: Vec<Int96>,
    defs: Vec<i16>,
}

/// One open data file, Parquet or ORC as the layout says.
pub enum OpenFile {
    /// A Parquet file.
    Parquet(ParquetFile),
    /// An ORC file.
    Orc(OrcFile),
}

impl OpenFile {
    /// Creates the file at `path`.
    pub fn create(path: &Path, layout: Arc<FileLayout>) -> Result<Self, FileError> {
        Ok(match layout.format {
            DataFormat::Parquet => OpenFile::Parquet(ParquetFile::create(path, layout)?),
            DataFormat::Orc => OpenFile::Orc(OrcFile::create(
                path,
                &layout.schema,
                layout.compress,
                layout.max_file_bytes,
            )?),
        })
    }

    /// Appends a batch already converted to the layout's schema.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), FileError> {
        match self {
            OpenFile::Parquet(f) => f.write(batch),
            OpenFile::Orc(f) => f.write(batch),
        }
    }

    /// Whether the file reached `maxFileSize`.
    pub fn full(&self) -> bool {
        match self {
            OpenFile::Parquet(f) => f.full(),
            OpenFile::Orc(f) => f.full(),
        }
    }

    /// Writes the footer and syncs; returns the file and its size in bytes.
    pub fn finish(self) -> Result<(PathBuf, u64), FileError> {
        match self {
            OpenFile::Parquet(f) => f.finish(),
            OpenFile::Orc(f) => f.finish(),
        }
    }
}

/// One open Parquet file.
pub struct ParquetFile {
    path: PathBuf,
    layout: Arc<FileLayout>,
    writer: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    columns: Vec<ArrowColumnWriter>,
    int96: Vec<Option<Int96Buf>>,
    rows: usize,
    row_groups: usize,
}

impl ParquetFile {
    /// Creates the file at `path`.
    pub fn create(path: &Path, layout: Arc<FileLayout>) -> Result<Self, FileError> {
        let file = File::create(path).map_err(|source| FileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let writer = SerializedFileWriter::new(
            BufWriter::with_capacity(1 << 20, file),
            Arc::clone(&layout.parquet),
            Arc::clone(&layout.props),
        )
        .map_err(|e| FileError::parquet(path, e))?;
        let factory = ArrowRowGroupWriterFactory::new(&writer, Arc::clone(&layout.schema));
        let columns = factory
            .create_column_writers(0)
            .map_err(|e| FileError::parquet(path, e))?;
        let int96 = layout
            .int96
            .iter()
            .map(|b| b.then(Int96Buf::default))
            .collect();
        Ok(ParquetFile {
            path: path.to_path_buf(),
            layout,
            writer,
            factory,
            columns,
            int96,
            rows: 0,
            row_groups: 0,
        })
    }

    /// Appends a batch already converted to the layout's schema.
    /// Row groups hold exactly `rowGroupSize` rows (the last one fewer), whatever the batch size.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), FileError> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let room = self.layout.row_group_rows.saturating_sub(self.rows).max(1);
            let take = room.min(batch.num_rows() - offset);
            self.write_slice(&batch.slice(offset, take))?;
            offset += take;
        }
        Ok(())
    }

    fn write_slice(&mut self, batch: &RecordBatch) -> Result<(), FileError> {
        let path = self.path.clone();
        let err = |e| FileError::parquet(&path, e);
        for (i, (field, col)) in self
            .layout
            .schema
            .fields()
            .iter()
            .zip(batch.columns())
            .enumerate()
        {
            if let Some(buf) = &mut self.int96[i] {
                push_int96(buf, col);
                continue;
            }
            for leaf in compute_leaves(field, col).map_err(err)? {
                self.columns[i].write(&leaf).map_err(err)?;
            }
        }
        self.rows += batch.num_rows();
        if self.rows >= self.layout.row_group_rows || self.buffered_bytes() >= ROW_GROUP_BYTES {
            self.flush_row_group()?;
        }
        Ok(())
    }

    fn buffered_bytes(&self) -> usize {
        let arrow: usize = self
            .columns
            .iter()
            .zip(&self.int96)
            .filter(|(_, b)| b.is_none())
            .map(|(c, _)| c.get_estimated_total_bytes())
            .sum();
        let legacy: usize = self
            .int96
            .iter()
            .flatten()
            .map(|b| b.values.len() * 12)
            .sum();
        arrow + legacy
    }

    /// Bytes on disk plus what the open row group would add, roughly.
    pub fn size(&self) -> u64 {
        (self.writer.bytes_written() + self.buffered_bytes()) as u64
    }

    /// Whether the file reached `maxFileSize`.
    pub fn full(&self) -> bool {
        self.layout.max_file_bytes.is_some_and(|m| self.size() >= m)
    }

    fn flush_row_group(&mut self) -> Result<(), FileError> {
        if self.rows == 0 {
            return Ok(());
        }
        let path = self.path.clone();
        let err = |e| FileError::parquet(&path, e);
        self.row_groups += 1;
        let next = self
            .factory
            .create_column_writers(self.row_groups)
            .map_err(err)?;
        let columns = std::mem::replace(&mut self.columns, next);
        let mut rg = self.writer.next_row_group().map_err(err)?;
        for (i, col) in columns.into_iter().enumerate() {
            match &mut self.int96[i] {
                Some(buf) => {
                    let mut cw = rg
                        .next_column()
                        .map_err(err)?
                        .ok_or_else(|| err(ParquetError::General("missing INT96 column".into())))?;
                    cw.typed::<Int96Type>()
                        .write_batch(&buf.values, Some(&buf.defs), None)
                        .map_err(err)?;
                    cw.close().map_err(err)?;
                    buf.values.clear();
                    buf.defs.clear();
                }
                None => col
                    .close()
                    .and_then(|c| c.append_to_row_group(&mut rg))
                    .map_err(err)?,
            }
        }
        rg.close().map_err(err)?;
        self.rows = 0;
        Ok(())
    }

    /// Writes the last row group and the footer, and syncs the file.
    /// Writes the footer and syncs; returns the file and its size in bytes.
    pub fn finish(mut self) -> Result<(PathBuf, u64), FileError> {
        self.flush_row_group()?;
        let path = self.path.clone();
        let file = self
            .writer
            .into_inner()
            .map_err(|e| FileError::parquet(&path, e))?
            .into_inner()
            .map_err(|e| FileError::Io {
                path: path.clone(),
                source: e.into_error(),
            })?;
        file.sync_all().map_err(|source| FileError::Io {
            path: path.clone(),
            source,
        })?;
        let len = file
            .metadata()
            .map_err(|source| FileError::Io {
                path: path.clone(),
                source,
            })?
            .len();
        Ok((path, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_widths_match_hive() {
        // Hive's table: precision 1-2 -> 1 byte, 9 -> 4, 18 -> 8, 38 -> 16.
        assert_eq!(decimal_bytes(2), 1);
        assert_eq!(decimal_bytes(3), 2);
        assert_eq!(decimal_bytes(9), 4);
        assert_eq!(decimal_bytes(18), 8);
        assert_eq!(decimal_bytes(38), 16);
    }
}

fn push_int96(buf: &mut Int96Buf, col: &ArrayRef) {
    let a = col.as_primitive::<TimestampMicrosecondType>();
    for i in 0..a.len() {
        if a.is_null(i) {
            buf.defs.push(0);
            continue;
        }
        let micros = a.value(i);
        let day = micros.div_euclid(86_400_000_000);
        let nanos = micros.rem_euclid(86_400_000_000) * 1000;
        let mut v = Int96::new();
        v.set_data(
            nanos as u32,
            (nanos >> 32) as u32,
            (day + JULIAN_EPOCH) as u32,
        );
        buf.values.push(v);
        buf.defs.push(1);
    }
}

/// Errors writing one file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file system.
    #[error("cannot write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The ORC encoder.
    #[error("cannot encode ORC file {path}: {message}")]
    Orc {
        /// The file.
        path: PathBuf,
        /// What the encoder said.
        message: String,
    },
    /// The Parquet encoder.
    #[error("cannot encode Parquet file {path}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: ParquetError,
    },
}

impl FileError {
    fn parquet(path: &Path, source: ParquetError) -> Self {
        FileError::Parquet {
            path: path.to_path_buf(),
            source,
        }
    }
}
