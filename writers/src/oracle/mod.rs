//! `oracle` writer (DataX `oraclewriter`) over the `oracle` crate (ODPI-C; the Oracle client
//! library is loaded at run time). Rows go as array-bound INSERT (`writeMode` insert) or MERGE
//! on the target's key (`update` / `replace`), `batchSize` rows per round trip, one transaction
//! per batch. Oracle's batch errors name the rows it refused: they become dirty records with
//! its message, the rest commit. A value the target would silently round (more fraction digits
//! than a NUMBER's scale, fractional seconds into DATE) is refused as a dirty row instead.
//! `stagingMode: table` loads per-task staging tables published in one transaction.

mod config;
mod sql;
mod task;
mod writer;

pub use config::{OracleWriteMode, OracleWriterConfig};
pub use writer::OracleWriter;
