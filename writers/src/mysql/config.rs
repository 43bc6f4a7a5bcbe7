//! Parameters of the MySQL writer, as DataX's mysqlwriter spells them.

use datasync_engine::Secret;
use serde::Deserialize;

/// How rows are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MysqlWriteMode {
    /// `INSERT`: a duplicate key is a dirty record.
    #[default]
    Insert,
    /// `REPLACE`: delete-then-insert on a duplicate key.
    Replace,
    /// `INSERT ... ON DUPLICATE KEY UPDATE` of the written columns.
    Update,
}

/// `parameter` of the MySQL writer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MysqlWriterConfig {
    /// User name.
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: Secret,
    /// Target columns in the order the reader produces them; `["*"]` = the table's columns.
    pub column: Vec<String>,
    /// Where to write (the first entry; its `table[0]`).
    pub connection: Vec<crate::sqltarget::SqlWriterConnection>,
    /// `insert` (default), `replace` or `update`.
    #[serde(default)]
    pub write_mode: MysqlWriteMode,
    /// Statements run before the target table is inspected (`@table` = the table).
    #[serde(default)]
    pub pre_sql: Vec<String>,
    /// Statements run after every task succeeded (`@table` = the table).
    #[serde(default)]
    pub post_sql: Vec<String>,
    /// Rows per multi-row statement (default 1024; capped by max_allowed_packet).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Statements run on each new connection.
    #[serde(default)]
    pub session: Vec<String>,
    /// Create a missing table from the incoming Arrow schema (off by default).
    #[serde(default)]
    pub create_table: bool,
    /// Write empty strings as NULL.
    #[serde(default)]
    pub empty_as_null: bool,
    /// How long a task waits for a lost server to come back (reconnecting with backoff)
    /// before it fails; `0` = fail at once. Default 60s.
    #[serde(default = "crate::sqltarget::default_reconnect_timeout")]
    pub reconnect_timeout: datasync_engine::config::HumanDuration,
    /// `none` (default): units commit into the target as they go; `table`: each task writes
    /// a staging table, commit moves them all in one transaction (see docs/faults.md).
    #[serde(default)]
    pub staging_mode: crate::sqltarget::StagingMode,
}

fn default_batch_size() -> usize {
    1024
}
