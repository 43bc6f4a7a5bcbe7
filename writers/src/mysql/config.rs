//! Parameters of the MySQL writer, as DataX's mysqlwriter spells them.

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

/// The MySQL writer's own `parameter` keys (the shared ones are [`SqlWriterParams`](crate::sqltarget::SqlWriterParams)).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MysqlWriterConfig {
    /// `insert` (default), `replace` or `update`.
    #[serde(default)]
    pub write_mode: MysqlWriteMode,
    /// Rows per multi-row statement (default 1024; capped by max_allowed_packet).
    #[serde(
        default = "default_batch_size",
        deserialize_with = "datasync_engine::config::lenient"
    )]
    pub batch_size: usize,
    /// Write empty strings as NULL.
    #[serde(default)]
    pub empty_as_null: bool,
}

fn default_batch_size() -> usize {
    1024
}
