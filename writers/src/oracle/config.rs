//! Parameters of the Oracle writer, as DataX's oraclewriter spells them.

use serde::Deserialize;

/// How rows are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OracleWriteMode {
    /// `INSERT`: a duplicate key is a dirty record.
    #[default]
    Insert,
    /// `MERGE` on the target's primary (or unique) key: matched rows get the written columns,
    /// others are inserted.
    Update,
    /// The same MERGE (Oracle has no REPLACE; columns not written keep their values).
    Replace,
}

impl OracleWriteMode {
    /// The mode as a job spells it.
    pub fn name(self) -> &'static str {
        match self {
            OracleWriteMode::Insert => "insert",
            OracleWriteMode::Update => "update",
            OracleWriteMode::Replace => "replace",
        }
    }
}

/// The Oracle writer's own `parameter` keys (the shared ones are
/// [`SqlWriterParams`](crate::sqltarget::SqlWriterParams)).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OracleWriterConfig {
    /// `insert` (default), `update` or `replace` (both MERGE on the key).
    #[serde(default)]
    pub write_mode: OracleWriteMode,
    /// Rows per array-bound statement (default 1024).
    #[serde(
        default = "default_batch_size",
        with = "datasync_engine::schema::Lenient::<usize>"
    )]
    pub batch_size: usize,
    /// Write empty strings as NULL (Oracle stores '' as NULL anyway; accepted for templates).
    #[serde(default, with = "datasync_engine::schema::Lenient::<bool>")]
    pub empty_as_null: bool,
}

fn default_batch_size() -> usize {
    1024
}
