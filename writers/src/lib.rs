//! Writer plugins, one module per target system, each behind its cargo feature.
//! [`register`] is the one place that lists them.

#[cfg(feature = "file")]
pub mod file;
#[cfg(feature = "hbase")]
pub mod hbase;
#[cfg(feature = "parquet")]
pub mod hdfs;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "sql")]
mod narrow;
#[cfg(feature = "oracle")]
pub mod oracle;
#[cfg(any(feature = "file", feature = "sql"))]
mod owner;
#[cfg(feature = "parquet")]
pub mod parquet;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "file")]
pub mod publish;
#[cfg(feature = "file")]
mod remote;
#[cfg(feature = "sftp")]
pub mod sftp;
#[cfg(feature = "sql")]
mod sqlsteps;
#[cfg(feature = "sql")]
mod sqltarget;
#[cfg(feature = "sql")]
mod sqltext;
#[cfg(feature = "stream")]
pub mod stream;
#[cfg(feature = "file")]
pub mod textfiles;
#[cfg(feature = "sql")]
mod timetext;

use datasync_engine::Registry;

/// Registers every writer compiled into this build.
pub fn register(registry: &mut Registry) {
    #[cfg(feature = "stream")]
    registry.add_writer::<stream::StreamWriter>();
    #[cfg(feature = "file")]
    registry.add_writer::<file::FileWriter>();
    #[cfg(feature = "mysql")]
    registry.add_writer::<mysql::MysqlWriter>();
    #[cfg(feature = "postgres")]
    registry.add_writer::<postgres::PostgresWriter>();
    #[cfg(feature = "oracle")]
    registry.add_writer::<oracle::OracleWriter>();
    #[cfg(feature = "hbase")]
    registry.add_writer::<hbase::HbaseWriter>();
    #[cfg(feature = "parquet")]
    registry.add_writer::<parquet::ParquetWriter>();
    #[cfg(feature = "parquet")]
    registry.add_writer::<hdfs::HdfsWriter>();
    #[cfg(feature = "sftp")]
    registry.add_writer::<sftp::SftpWriter>();
    let _ = registry;
}
