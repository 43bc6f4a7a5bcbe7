//! PostgreSQL over `tokio-postgres` (plain TCP): connection settings from DataX parameters, the
//! error type, and the PostgreSQL <-> Arrow type table.
//! Known limits: no TLS in this build (`sslmode=require` and stricter are refused clearly).

mod conn;
pub mod tls;
mod types;

pub use conn::{db_message, PostgresConnConfig, PostgresError, PG_SCHEMES};
pub use types::{
    array_element, arrow_type, ddl_for, ddl_type, source_type, PostgresKind, TYPE_TABLE,
};

pub use tokio_postgres;

/// The primary key columns of the table `$1` (a name `to_regclass` reads), in key order.
pub const PRIMARY_KEY_SQL: &str = "SELECT a.attname::text FROM pg_index i \
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
     WHERE i.indrelid = to_regclass($1) AND i.indisprimary \
     ORDER BY array_position(i.indkey::int2[], a.attnum)";
