//! Parameters of the PostgreSQL writer, as DataX's postgresqlwriter spells them, plus
//! `writeMode` and `conflictColumns`.

use serde::Deserialize;

/// How rows are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PostgresWriteMode {
    /// COPY: a conflicting key is a dirty record.
    #[default]
    Insert,
    /// Upsert: `INSERT ... ON CONFLICT (conflictColumns or the primary key) DO UPDATE`.
    Update,
}

/// The PostgreSQL writer's own `parameter` keys (the shared ones are [`SqlWriterParams`](crate::sqltarget::SqlWriterParams)).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PostgresWriterConfig {
    /// `insert` (default) or `update` (upsert).
    #[serde(default)]
    pub write_mode: PostgresWriteMode,
    /// Key columns for `update`; default: the table's primary key.
    #[serde(default)]
    pub conflict_columns: Vec<String>,
    /// Rows per COPY transaction (as DataX commits every batchSize rows); default 65,536.
    /// A quoted number (`"1024"`, as DataX templates have it) is taken too.
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<usize>")]
    pub batch_size: Option<usize>,
}
