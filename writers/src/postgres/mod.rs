//! `postgres` writer (DataX `postgresqlwriter`): binary `COPY ... FROM STDIN` when every target
//! column has an encoder in `binary.rs`, else text COPY (written by the exact value formatter
//! the MySQL writer uses), one transaction per unit of up to 65,536 rows / 32 MiB; `update` mode
//! COPYs into a temporary table, then `INSERT ... SELECT ... ON CONFLICT (keys) DO UPDATE`.
//! A unit that fails on data is isolated on the server (bisected where that cannot run): bad
//! rows become dirty records with PostgreSQL's error, the rest land. Lost connections
//! reconnect (`reconnectTimeout`) and go on with what had not landed.
//! Limits: no TLS yet; committed units stay when a job fails later.

mod binary;
mod config;
mod isolate;
mod task;
mod writer;

pub use config::{PostgresWriteMode, PostgresWriterConfig};
pub use writer::PostgresWriter;
