//! Parameters of the SQL readers (MySQL, PostgreSQL), as DataX's mysqlreader and
//! postgresqlreader spell them (the same shape).

use datasync_engine::config::one_or_many;
use datasync_engine::Secret;
use serde::Deserialize;

/// `parameter` of a SQL reader.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SqlReaderConfig {
    /// User name (OceanBase: `user@tenant#cluster`).
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: Secret,
    /// Columns: names, `*`, or SQL expressions, passed to SELECT as written. Required with `table`.
    #[serde(default)]
    pub column: Vec<String>,
    /// Where to read.
    pub connection: Vec<ReaderConnection>,
    /// Filter added to every table read (raw SQL, as DataX).
    #[serde(default, rename = "where")]
    pub where_clause: Option<String>,
    /// Integer column to split each table on.
    #[serde(default)]
    pub split_pk: Option<String>,
    /// Accepted for DataX templates; rows are always streamed.
    #[serde(default)]
    pub fetch_size: Option<i64>,
    /// Statements run on each new connection.
    #[serde(default)]
    pub session: Vec<String>,
}

/// One `connection[]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReaderConnection {
    /// URLs tried in order until one connects.
    #[serde(deserialize_with = "one_or_many")]
    pub jdbc_url: Vec<String>,
    /// Tables read fully (or by splitPk ranges).
    #[serde(default, deserialize_with = "one_or_many")]
    pub table: Vec<String>,
    /// Queries run as written (instead of `table`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub query_sql: Vec<String>,
}
