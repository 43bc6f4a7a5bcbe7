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

/// oceanbasev10writer's own keys that mean something here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OceanBaseKeys {
    /// DataX's OceanBase spelling of `writeMode` (`insert`, `update`, `replace`).
    #[serde(default)]
    pub ob_write_mode: Option<MysqlWriteMode>,
    /// Direct-path (bypass) import: refused when true.
    #[serde(default, deserialize_with = "datasync_engine::config::lenient_opt")]
    pub direct_path: Option<bool>,
    /// The tenant's mode (DataX sets it itself): MYSQL only.
    #[serde(default)]
    pub ob_compatibility_mode: Option<String>,
    /// Columns an update-mode write changes: refused (every written column is updated).
    #[serde(default)]
    pub ob_update_columns: Option<serde_json::Value>,
}

/// oceanbasev10writer's tuning keys that have no effect here, and why.
pub const OCEANBASE_IGNORED: &[(&str, &str)] = &[
    (
        "memstoreThreshold",
        "no memstore throttling: writes go through ordinary transactions that OceanBase \
         throttles itself",
    ),
    (
        "writerThreadCount",
        "write parallelism is the job's channel count (job.setting.speed.channel)",
    ),
    (
        "rpcPort",
        "used only by direct-path import, which datasync does not do",
    ),
    (
        "parallel",
        "used only by direct-path import, which datasync does not do",
    ),
    (
        "bufferSize",
        "used only by direct-path import, which datasync does not do",
    ),
    (
        "heartBeatInterval",
        "used only by direct-path import, which datasync does not do",
    ),
    (
        "heartBeatTimeout",
        "used only by direct-path import, which datasync does not do",
    ),
    (
        "blocksCount",
        "used only by direct-path import, which datasync does not do",
    ),
    (
        "maxErrors",
        "used only by direct-path import, which datasync does not do (the dirty-record \
         limit is job.setting.errorLimit)",
    ),
    (
        "memstoreCheckIntervalSecond",
        "no memstore throttling: writes go through ordinary transactions that OceanBase \
         throttles itself",
    ),
    (
        "failTryCount",
        "a failed batch is retried per job.setting.retry, and a batch a row of which is \
         refused is split to find that row",
    ),
    (
        "concurrentWrite",
        "write parallelism is the job's channel count (job.setting.speed.channel)",
    ),
    (
        "writerSubTaskCount",
        "write parallelism is the job's channel count (job.setting.speed.channel)",
    ),
    ("maxActiveConnection", "one connection per channel, no pool"),
    (
        "obVersion",
        "the server is spoken to over the MySQL protocol, which does not depend on it",
    ),
    (
        "timeout",
        "the timeout of DataX's connection pool; datasync has no pool (connect and read \
         timeouts come from the jdbcUrl's connectTimeout/socketTimeout)",
    ),
    (
        "printCost",
        "per-batch timing logs: the report and -v logs show the writer's time",
    ),
    (
        "costBound",
        "per-batch timing logs: the report and -v logs show the writer's time",
    ),
    (
        "usePartCalculator",
        "rows are not grouped by partition before writing",
    ),
    (
        "ocjGetConnectTimeout",
        "a setting of OceanBase's Java connector; datasync connects over the MySQL protocol",
    ),
    (
        "ocjProxyConnectTimeout",
        "a setting of OceanBase's Java connector; datasync connects over the MySQL protocol",
    ),
    (
        "ocjCreateResourceTimeout",
        "a setting of OceanBase's Java connector; datasync connects over the MySQL protocol",
    ),
];

impl OceanBaseKeys {
    /// Folds `obWriteMode` into the write mode; refuses direct-path import.
    pub fn apply(
        &self,
        cfg: &mut MysqlWriterConfig,
        p: datasync_engine::Params<'_>,
    ) -> Result<(), datasync_engine::ConfigError> {
        use datasync_engine::config::join_path;
        use datasync_engine::ConfigError;
        if self.direct_path == Some(true) {
            return Err(ConfigError::new(
                join_path(p.path, "directPath"),
                "direct-path (bypass) import needs OceanBase's own RPC protocol, which datasync \
                 does not speak; remove directPath (rows are written with batched INSERTs)",
            ));
        }
        if let Some(m) = &self.ob_compatibility_mode {
            if !m.eq_ignore_ascii_case("mysql") {
                return Err(ConfigError::new(
                    join_path(p.path, "obCompatibilityMode"),
                    format!(
                        "{m:?}: only MySQL-mode tenants are written (over the MySQL protocol); \
                         an Oracle-mode tenant is not supported"
                    ),
                ));
            }
        }
        if self.ob_update_columns.is_some() {
            return Err(ConfigError::new(
                join_path(p.path, "obUpdateColumns"),
                "not supported: an update-mode write changes every written column; remove \
                 obUpdateColumns, or write only the columns to change with writeMode update",
            ));
        }
        if let Some(mode) = self.ob_write_mode {
            if p.value.get("writeMode").is_some() && cfg.write_mode != mode {
                return Err(ConfigError::new(
                    join_path(p.path, "obWriteMode"),
                    "contradicts writeMode; give one of them",
                ));
            }
            cfg.write_mode = mode;
        }
        Ok(())
    }
}
