//! `hbase` reader (DataX `hbase11xreader`) over HBase's Thrift1 gateway: one task per region
//! overlapping `range`, a scanner per task (always closed, also on error and cancel), cells
//! decoded as HBase's `Bytes.toBytes` wrote them (a cell that does not decode is a dirty row,
//! never a NULL); `normal` mode gives one row per HBase row, `multiVersionFixedColumn` one row
//! per cell version (rowkey, column, timestamp, value).

mod config;
mod reader;

pub use reader::HbaseReader;
