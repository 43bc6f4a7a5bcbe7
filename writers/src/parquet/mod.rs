//! `parquet` writer (DataX `hdfswriter` with `fileType: parquet`): Hive-style Parquet tables on
//! a local or mounted path, with the `parquet` crate. Values are converted exactly to the
//! declared Hive types (misfits are dirty records); each task writes its own files into a
//! staging directory beside the table, and commit moves them into their partitions
//! (`dt=.../`), writes `_SUCCESS`, and registers the partitions in a Hive Metastore over Thrift.
//! The same writer writes ORC files for hdfswriter's `fileType: "orc"` (see `orc.rs`).
//! Limits: no HDFS client (mounted paths or S3 only); text goes elsewhere.

mod config;
pub(crate) mod convert;
mod file;
mod hms;
mod orc;
mod staging;
mod task;
mod writer;

pub use config::{
    ColumnSpec, DataFormat, ParquetCompression, ParquetWriteMode, ParquetWriterConfig,
    TimestampType,
};
pub use writer::{ParquetWriter, ParquetWriterError};
