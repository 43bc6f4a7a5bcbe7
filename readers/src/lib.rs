//! Reader plugins, one module per source system, each behind its cargo feature.
//! [`register`] is the one place that lists them.

#[cfg(feature = "file")]
pub mod file;
#[cfg(feature = "hbase")]
pub mod hbase;
#[cfg(feature = "parquet")]
pub mod hdfs;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "oracle")]
pub mod oracle;
#[cfg(feature = "parquet")]
pub mod parquet;
#[cfg(feature = "file")]
pub mod paths;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "file")]
pub mod remote;
#[cfg(feature = "sftp")]
pub mod sftp;
#[cfg(feature = "sql")]
pub mod sqlconfig;
#[cfg(feature = "sql")]
pub mod sqlreader;
#[cfg(feature = "sql")]
mod sqlsplit;
#[cfg(feature = "stream")]
pub mod stream;
#[cfg(feature = "file")]
pub mod text;

use datasync_engine::Registry;

/// Registers every reader compiled into this build.
pub fn register(registry: &mut Registry) {
    #[cfg(feature = "stream")]
    registry.add_reader::<stream::StreamReader>();
    #[cfg(feature = "file")]
    registry.add_reader::<file::FileReader>();
    #[cfg(feature = "mysql")]
    registry.add_reader::<mysql::MysqlReader>();
    #[cfg(feature = "postgres")]
    registry.add_reader::<postgres::PostgresReader>();
    #[cfg(feature = "oracle")]
    registry.add_reader::<oracle::OracleReader>();
    #[cfg(feature = "hbase")]
    registry.add_reader::<hbase::HbaseReader>();
    #[cfg(feature = "parquet")]
    registry.add_reader::<parquet::ParquetReader>();
    #[cfg(feature = "parquet")]
    registry.add_reader::<hdfs::HdfsReader>();
    #[cfg(feature = "sftp")]
    registry.add_reader::<sftp::SftpReader>();
    let _ = registry;
}
