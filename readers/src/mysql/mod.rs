//! `mysql` reader (DataX `mysqlreader`, `oceanbasev10reader`): MySQL, MariaDB and OceanBase's
//! MySQL mode over `mysql_async`'s text protocol, streamed row by row into Arrow batches (never
//! a whole result set in memory). Tables are read whole, or split on an integer `splitPk` into
//! contiguous key ranges plus one task for NULL keys; `querySql` runs as given.
//! Limits: no TLS yet (refused clearly); `fetchSize` is accepted and unused (always streams).

mod reader;

pub use reader::MysqlReader;
