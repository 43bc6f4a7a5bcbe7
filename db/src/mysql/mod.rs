//! MySQL / MariaDB / OceanBase (MySQL mode) over `mysql_async` (text protocol, TCP, TLS by
//! rustls as the URL asks: `useSSL`/`requireSSL`/`verifyServerCertificate` or `sslMode`, with
//! an optional `sslCa` PEM file). `sslMode=PREFERRED` connects in plain text.

mod conn;
mod types;

pub use conn::{tls_mode, MysqlConnConfig, MysqlError, Tls, MYSQL_SCHEMES};
pub use types::{arrow_type, ddl_for, ddl_type, source_type, ColumnKind, TYPE_TABLE};

pub use mysql_async;
