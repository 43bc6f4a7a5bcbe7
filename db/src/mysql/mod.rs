//! MySQL / MariaDB / OceanBase (MySQL mode) over `mysql_async` (text protocol, TCP, TLS by
//! rustls as the URL asks: `useSSL`/`requireSSL`/`verifyServerCertificate` or `sslMode`, with
//! an optional `sslCa` PEM file). `sslMode=PREFERRED` connects in plain text.

mod conn;
mod types;

pub use conn::{tls_mode, MysqlConnConfig, MysqlError, Tls, MYSQL_SCHEMES};
pub use types::{arrow_type, ddl_for, ddl_type, key_type_ok, source_type, ColumnKind, TYPE_TABLE};

pub use mysql_async;

/// The query of how many unique indexes (the primary key among them) `table` has.
pub fn unique_key_count_sql(table: &str) -> String {
    format!(
        "SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS WHERE {} \
         AND NON_UNIQUE = 0",
        information_schema_filter(table)
    )
}

/// The query of `table`'s primary key columns, in key order.
pub fn primary_key_sql(table: &str) -> String {
    format!(
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE {} \
         AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
        information_schema_filter(table)
    )
}

/// `TABLE_SCHEMA = ... AND TABLE_NAME = ...` for `table` in an information_schema query (the
/// connection's database when `table` names no schema); the names go as hex literals.
pub fn information_schema_filter(table: &str) -> String {
    use crate::sql::{literal, schema_and_name, Dialect};
    let (schema, name) = schema_and_name(table);
    let schema = schema.map_or_else(|| "DATABASE()".to_string(), |s| literal(Dialect::MySql, &s));
    format!(
        "TABLE_SCHEMA = {schema} AND TABLE_NAME = {}",
        literal(Dialect::MySql, &name)
    )
}
