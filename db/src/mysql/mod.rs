//! MySQL / MariaDB / OceanBase (MySQL mode) over `mysql_async` (text protocol, TCP, TLS by
//! rustls as the URL asks: `useSSL`/`requireSSL`/`verifyServerCertificate` or `sslMode`, with
//! an optional `sslCa` PEM file). `sslMode=PREFERRED` connects in plain text.

mod conn;
mod types;

pub use conn::{tls_mode, zone_refusal, MysqlConnConfig, MysqlError, Tls, MYSQL_SCHEMES};
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

/// MariaDB's check clauses of `table` that make a LONGTEXT a JSON column
/// (`json_valid(\`c\`)`, which MariaDB adds for a column declared JSON).
pub fn json_checks_sql(table: &str) -> String {
    format!(
        "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE {} \
         AND CHECK_CLAUSE LIKE 'json_valid(%'",
        information_schema_filter(table).replacen("TABLE_SCHEMA", "CONSTRAINT_SCHEMA", 1)
    )
}

/// The column of a `json_valid(\`c\`)` check clause (None for any other clause).
pub fn json_checked_column(clause: &str) -> Option<String> {
    let inner = clause.strip_prefix("json_valid(`")?.strip_suffix("`)")?;
    let name = inner.replace("``", "`");
    // One identifier: any other backtick means another expression.
    (name.matches('`').count() * 2 == inner.matches('`').count()).then_some(name)
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

#[cfg(test)]
mod json_check_tests {
    #[test]
    fn the_column_of_a_json_valid_check() {
        use super::json_checked_column as c;
        assert_eq!(c("json_valid(`js`)").as_deref(), Some("js"));
        assert_eq!(c("json_valid(`a``b`)").as_deref(), Some("a`b"));
        assert_eq!(c("json_valid(`a`) and `b` > 0"), None);
        assert_eq!(c("json_valid(`a` + `b`)"), None);
        assert_eq!(c("`x` > 0"), None);
    }
}
