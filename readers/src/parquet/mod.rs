//! `parquet` reader (DataX `hdfsreader` with `fileType: parquet`): Parquet files, directories
//! and globs on a local or mounted path or on S3-compatible storage (`s3://`, read by ranged
//! requests), with Hive partition columns recovered from
//! `key=value` directories, an optional partition filter, splits by file and by row-group
//! ranges, and projection pushed into the decoder (only the requested columns are decoded).

mod int96;
mod reader;
mod task;

pub use reader::{ParquetReader, ParquetReaderConfig, ParquetReaderError};
