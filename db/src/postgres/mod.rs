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
