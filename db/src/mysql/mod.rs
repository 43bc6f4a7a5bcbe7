//! MySQL / MariaDB / OceanBase (MySQL mode) over `mysql_async` (text protocol, TCP).
//! Known limits: no TLS in this build (`useSSL=true` / `sslMode=REQUIRED` are refused with a
//! clear message rather than silently connecting in plain text).

mod conn;
mod types;

pub use conn::{MysqlConnConfig, MysqlError, MYSQL_SCHEMES};
pub use types::{arrow_type, ddl_type, ColumnKind, TYPE_TABLE};

pub use mysql_async;
