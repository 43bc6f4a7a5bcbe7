//! `postgres` writer (DataX `postgresqlwriter`): `COPY ... FROM STDIN` (text format, written by
//! the exact value formatter the MySQL writer uses), one transaction per unit of up to 65,536
//! rows / 32 MiB (several engine batches); `update` mode
//! COPYs into a temporary table, then `INSERT ... SELECT ... ON CONFLICT (keys) DO UPDATE`.
//! A unit that fails on data is bisected: bad rows become dirty records with PostgreSQL's
//! error, the rest land. Lost connections reconnect and retry the batch (bounded).
//! Limits: no TLS yet; text COPY rather than binary COPY (the server parses every type, so any
//! target column type works); committed batches stay when a job fails later.

mod binary;
mod config;
mod writer;

pub use config::{PgWriteMode, PostgresWriterConfig};
pub use writer::PostgresWriter;
