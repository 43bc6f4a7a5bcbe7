//! Connectivity shared by reader and writer plugins of one system (SQL databases, SFTP): connection settings from
//! DataX parameters (JDBC URLs, credentials, session statements), connecting with a timeout and
//! failover across URLs, error classification, and each system's type table.

#[cfg(feature = "hbase")]
pub mod hbase;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "oracle")]
pub mod oracle;
#[cfg(feature = "orc")]
pub mod orc;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sftp")]
pub mod sftp;
pub mod sql;
#[cfg(feature = "s3")]
pub mod store;
#[cfg(feature = "thrift")]
pub mod thrift;
#[cfg(any(feature = "postgres", feature = "sftp"))]
pub mod tls;
