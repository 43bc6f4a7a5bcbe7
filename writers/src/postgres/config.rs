//! Parameters of the PostgreSQL writer, as DataX's postgresqlwriter spells them, plus
//! `writeMode` and `conflictColumns`.

use datasync_engine::Secret;
use serde::Deserialize;

/// How rows are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostgresWriteMode {
    /// COPY: a conflicting key is a dirty record.
    #[default]
    Insert,
    /// Upsert: `INSERT ... ON CONFLICT (conflictColumns or the primary key) DO UPDATE`.
    Update,
}

/// `parameter` of the PostgreSQL writer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PostgresWriterConfig {
    /// User name.
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: Secret,
    /// Target columns in the order the reader produces them; `["*"]` = the reader's names.
    pub column: Vec<String>,
    /// Where to write (one entry, one table).
    pub connection: Vec<crate::sqltarget::SqlWriterConnection>,
    /// `insert` (default) or `update` (upsert).
    #[serde(default)]
    pub write_mode: PostgresWriteMode,
    /// Key columns for `update`; default: the table's primary key.
    #[serde(default)]
    pub conflict_columns: Vec<String>,
    /// Statements run before the target table is inspected (`@table` = the table).
    #[serde(default)]
    pub pre_sql: Vec<String>,
    /// Statements run after every task succeeded (`@table` = the table).
    #[serde(default)]
    pub post_sql: Vec<String>,
    /// Accepted for DataX templates; each engine batch is one COPY.
    #[serde(default)]
    pub batch_size: Option<u64>,
    /// Statements run on each new connection.
    #[serde(default)]
    pub session: Vec<String>,
    /// Create a missing table from the incoming Arrow schema (off by default).
    #[serde(default)]
    pub create_table: bool,
    /// How long a task waits for a lost server to come back (reconnecting with backoff)
    /// before it fails; `0` = fail at once. Default 60s.
    #[serde(default = "crate::sqltarget::default_reconnect_timeout")]
    pub reconnect_timeout: datasync_engine::config::HumanDuration,
    /// `none` (default): units commit into the target as they go; `table`: each task writes
    /// a staging table, commit moves them all in one transaction (see docs/faults.md).
    #[serde(default)]
    pub staging_mode: crate::sqltarget::StagingMode,
}
