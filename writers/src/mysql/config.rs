//! Parameters of the MySQL writer, as DataX's mysqlwriter spells them.

use serde::Deserialize;

/// How rows are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MysqlWriterConfig {
    /// `insert` (default), `replace` or `update`.
    #[serde(default)]
    pub write_mode: MysqlWriteMode,
    /// Rows per multi-row statement (default 1024; capped by max_allowed_packet).
    #[serde(
        default = "default_batch_size",
        with = "datasync_engine::schema::Lenient::<usize>"
    )]
    pub batch_size: usize,
    /// Write empty strings as NULL.
    #[serde(default, with = "datasync_engine::schema::Lenient::<bool>")]
    pub empty_as_null: bool,
}

impl MysqlWriteMode {
    /// The mode as a job spells it.
    pub fn name(self) -> &'static str {
        match self {
            MysqlWriteMode::Insert => "insert",
            MysqlWriteMode::Replace => "replace",
            MysqlWriteMode::Update => "update",
        }
    }
}

fn default_batch_size() -> usize {
    1024
}

/// oceanbasev10writer's own keys that mean something here.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OceanBaseKeys {
    /// DataX's OceanBase write mode: exactly `insert` inserts; any other value (`update`,
    /// `replace`, ...) upserts the written columns, as DataX's writer does.
    pub ob_write_mode: Option<String>,
    /// Direct-path (bypass) import: refused when true.
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub direct_path: Option<bool>,
    /// The tenant's mode (DataX sets it itself): MYSQL only.
    pub ob_compatibility_mode: Option<String>,
    /// Columns an update-mode write changes: refused (every written column is updated).
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
        "per-batch timing logs: the report (and DATASYNC_LOG=debug) shows the writer's time",
    ),
    (
        "costBound",
        "per-batch timing logs: the report (and DATASYNC_LOG=debug) shows the writer's time",
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

/// DataX's oceanbasev10writer reads only `obWriteMode`; a `writeMode` beside it is ignored the
/// same way here, with a warning.
fn ignored_write_mode(w: &serde_json::Value) {
    tracing::warn!(
        "writeMode {w} is ignored, as DataX's oceanbasev10writer ignores it: its write mode is \
         obWriteMode (\"insert\", or by default an upsert of the written columns)"
    );
}

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
        let ob = p.invoked_as.eq_ignore_ascii_case("oceanbasev10writer");
        let mode_key = join_path(p.path, "obWriteMode");
        match (&self.ob_write_mode, ob) {
            (Some(m), _) => {
                // DataX's buildWriteSql: `!writeMode.equals("insert")` means upsert.
                let mode = if m == "insert" {
                    MysqlWriteMode::Insert
                } else {
                    MysqlWriteMode::Update
                };
                if m != "insert" && m != "update" {
                    tracing::warn!(
                        "{mode_key}: {m:?} upserts (INSERT ... ON DUPLICATE KEY UPDATE of the \
                         written columns; columns not written keep their values), as DataX's \
                         OceanBase writer does for every value but \"insert\""
                    );
                }
                match p.value.get("writeMode") {
                    Some(w) if ob => ignored_write_mode(w),
                    Some(_) if cfg.write_mode != mode => {
                        return Err(ConfigError::new(
                            mode_key,
                            "contradicts writeMode; give one of them",
                        ))
                    }
                    Some(_) => {}
                    // DataX's mysqlwriter does not read obWriteMode (it would insert): which
                    // of the two the job means is not for us to guess.
                    None if !ob => {
                        return Err(ConfigError::new(
                            mode_key,
                            format!(
                                "a key of oceanbasev10writer, which DataX's {} ignores (it would insert); give \
                                 writeMode (\"insert\", \"replace\" or \"update\") instead, or \
                                 name the writer oceanbasev10writer",
                                p.invoked_as
                            ),
                        ))
                    }
                    None => {}
                }
                cfg.write_mode = mode;
            }
            (None, true) => {
                if let Some(w) = p.value.get("writeMode") {
                    ignored_write_mode(w);
                }
                // DataX's default for OceanBase: update (upsert the written columns).
                cfg.write_mode = MysqlWriteMode::Update;
            }
            (None, false) => {}
        }
        Ok(())
    }
}
