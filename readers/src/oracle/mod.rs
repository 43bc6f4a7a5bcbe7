//! `oracle` reader (DataX `oraclereader`) over the `oracle` crate (ODPI-C; the Oracle client
//! library is loaded at run time). Tables, queries, `splitPk` key ranges (integer MIN/MAX or
//! text quantiles, plus the NULL-key task), ROWID ranges from the table's extents when there is
//! no key; values fetched in arrays of `fetchSize` rows and typed exactly (NUMBER never through
//! a float).

mod reader;

pub use reader::OracleReader;
