//! `hbase` writer (DataX `hbase11xwriter`) over HBase's Thrift1 gateway: row keys built from
//! columns and constants, cells encoded as HBase's `Bytes.toBytes` (numbers must fit their
//! type exactly), versions from a column or a constant, batched `mutateRows` of about
//! `writeBufferSize` bytes. A batch the gateway refuses is split to isolate the rows it
//! refuses (dirty records with its message); a lost connection is reconnected and the batch
//! sent again. Puts are visible at once: there is no staging and nothing to roll back.

mod config;
mod writer;

pub use writer::HbaseWriter;
