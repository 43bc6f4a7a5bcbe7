//! `mysql` writer (DataX `mysqlwriter`, `oceanbasev10writer`) over `mysql_async`, one
//! transaction per batch in a strict session so the server rejects values a column cannot
//! hold: plain inserts go as `LOAD DATA LOCAL INFILE` fed from memory (committed only when
//! every row landed without a warning), other modes as multi-row INSERT / REPLACE /
//! INSERT ... ON DUPLICATE KEY UPDATE. A batch that fails on data is rolled back and replayed
//! row by row: bad rows become dirty records with the server's error text, the rest land.
//! Lost connections reconnect (`reconnectTimeout`) and write the batch again. TLS follows the
//! JDBC URL (`sslMode`). Rows committed before a failure stay, unless `stagingMode: table`.

mod checks;
mod config;
mod task;
mod writer;

pub use config::{MysqlWriteMode, MysqlWriterConfig};
pub use writer::MysqlWriter;
