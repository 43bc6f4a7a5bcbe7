//! `mysql` writer (DataX `mysqlwriter`, `oceanbasev10writer`): multi-row INSERT / REPLACE /
//! INSERT ... ON DUPLICATE KEY UPDATE over `mysql_async`, one transaction per batch, in a
//! strict session so the server rejects values a column cannot hold. A batch that fails on data
//! is rolled back and replayed row by row: bad rows become dirty records with the server's
//! error text, the rest land. Lost connections reconnect and retry the batch (bounded).
//! Limits: no TLS yet; rows committed before a failure stay (per-batch transactions).

mod config;
mod writer;

pub use config::{MysqlWriteMode, MysqlWriterConfig};
pub use writer::MysqlWriter;
