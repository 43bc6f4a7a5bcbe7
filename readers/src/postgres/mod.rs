//! `postgres` reader (DataX `postgresqlreader`): `COPY (SELECT ...) TO STDOUT (FORMAT binary)`
//! over `tokio-postgres`, decoded straight into Arrow builders as the bytes stream in (bounded
//! memory). Tables are read whole or split on an integer `splitPk` (key ranges plus NULL keys);
//! `querySql` runs as given. One-dimensional arrays become Arrow lists; types without a native
//! decoder here (interval, inet/cidr, ranges...) are selected as `::text`.
//! Limits: no TLS yet (sslmode disable/allow/prefer only); multi-dimensional array values are
//! dirty records.

mod copy;
mod decode;
mod reader;

pub use reader::PostgresReader;
