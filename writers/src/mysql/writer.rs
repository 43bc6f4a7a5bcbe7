//! The writer: parameters, the shared SQL writer steps (preSql/postSql, table staging,
//! publish), and the plugin contract.

use super::config::{MysqlWriteMode, MysqlWriterConfig, OceanBaseKeys, OCEANBASE_IGNORED};
use super::task::MysqlTask;
use crate::sqlsteps::{Failure, SqlWriterSteps, TargetConn};
use crate::sqltarget::{sql_targets, SqlWriter, SqlWriterParams};
use datasync_db::mysql::mysql_async::prelude::Queryable;
use datasync_db::mysql::mysql_async::Conn;
use datasync_db::mysql::{MysqlConnConfig, MysqlError};
use datasync_db::sql::{quote_ident, Dialect};
use datasync_engine::config::{join_path, ConfigError};
use datasync_engine::{async_trait, Params, Plugin, PluginError};
use serde_json::{json, Value};
use std::sync::Arc;

/// Makes the server refuse values a column cannot hold instead of truncating them. A job's
/// `session` runs after this and may loosen it.
pub(super) const STRICT: &str =
    "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')";

/// Server errors that mean the statement can never work (not a bad row): the task fails.
pub(super) const STRUCTURAL: &[u16] = &[
    1044, 1045, 1046, 1049, 1054, 1064, 1136, 1142, 1143, 1146, 1149, 1290, 1036, 1227,
];

/// The MySQL writer.
pub type MysqlWriter = SqlWriter<MysqlConnConfig, MysqlWriterConfig>;

/// The MySQL writer's `parameter`: the shared SQL writer keys, OceanBase's, its own.
type Layout = (SqlWriterParams, OceanBaseKeys, MysqlWriterConfig);

impl Plugin for MysqlWriter {
    const NAME: &'static str = "mysql";
    const ALIASES: &'static [&'static str] = &["mysqlwriter", "oceanbasev10writer"];
    const DESCRIPTION: &'static str =
        "MySQL / MariaDB / OceanBase (MySQL mode): insert, replace or upsert; bad rows isolated";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (sql, ob, mut cfg): Layout = p.parts(OCEANBASE_IGNORED)?;
        ob.apply(&mut cfg, p)?;
        let targets = sql_targets(&sql.connection, &sql.column, p.path)?;
        if cfg.batch_size == 0 {
            return Err(ConfigError::new(
                join_path(p.path, "batchSize"),
                "must be at least 1",
            ));
        }
        if cfg.write_mode == MysqlWriteMode::Update && sql.column == ["*"] {
            return Err(ConfigError::new(
                join_path(p.path, "column"),
                "writeMode update needs the column names",
            ));
        }
        SqlWriter::build(&targets, &sql, Dialect::MySql, cfg, MysqlConnConfig::new)
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<Layout>(g, OCEANBASE_IGNORED)
    }

    fn template() -> Value {
        crate::sqltarget::sql_writer_template(
            "mysql",
            "jdbc:mysql://${mysql_host}:3306/${mysql_db}",
            json!({"writeMode": "insert", "batchSize": 1024, "emptyAsNull": false}),
        )
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::{alt, note};
        let mut n = crate::sqltarget::sql_writer_notes();
        n.extend([
            note("writeMode", "insert (default), replace (REPLACE INTO) or update (INSERT ... ON DUPLICATE KEY UPDATE); replace/update need a unique key."),
            note("batchSize", "Rows per multi-row statement; default 1024, capped by max_allowed_packet."),
            note("emptyAsNull", "Write empty strings as NULL; default false."),
            alt("obWriteMode", "\"update\"", "oceanbasev10writer: insert inserts; any other value or none upserts (as DataX's OceanBase writer)."),
        ]);
        n
    }
}

/// The MySQL side of the shared SQL writer steps.
#[async_trait]
impl SqlWriterSteps for MysqlWriter {
    fn dataset(&self) -> datasync_engine::lineage::Dataset {
        datasync_db::sql::dataset("mysql", self.conn.url(), 3306, None, &self.table)
    }
    fn new_task(&self) -> Box<dyn crate::sqltarget::UnitTask> {
        Box::new(MysqlTask {
            writer: self.clone(),
            table: self.table.clone(),
            stage_ready: false,
            kinds: Vec::new(),
            positional: false,
            narrow: Vec::new(),
            targets: Vec::new(),
        })
    }
    fn idempotent(&self) -> bool {
        self.cfg.write_mode != MysqlWriteMode::Insert
    }
    async fn open(&self) -> Result<Box<dyn TargetConn>, PluginError> {
        let (conn, url) = self.conn.connect(&[]).await?;
        Ok(Box::new(MysqlTarget {
            conn,
            url: url.clone(),
            cc: Arc::clone(&self.conn),
        }))
    }
    fn in_transaction(&self, stmt: &str) -> String {
        transactional(stmt)
    }
    async fn check_session(&self) -> Result<(), PluginError> {
        let (mut conn, url) = self.conn.connect(&[]).await?;
        let Some(zone) = self.conn.shifted_zone(&mut conn, url).await? else {
            let _ = conn.disconnect().await;
            return Ok(());
        };
        let q = format!(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE {} AND DATA_TYPE = 'timestamp'",
            datasync_db::mysql::information_schema_filter(&self.table)
        );
        let stamps: Vec<String> = conn
            .query(q.as_str())
            .await
            .map_err(|e| self.conn.query_error(url, &q, e))?;
        let _ = conn.disconnect().await;
        let written = &self.spec.params.column;
        let stamps: Vec<String> = stamps
            .into_iter()
            .filter(|c| {
                written == &["*"]
                    || written
                        .iter()
                        .any(|w| datasync_db::sql::unquote_ident(w.trim()).eq_ignore_ascii_case(c))
            })
            .collect();
        if stamps.is_empty() {
            return Ok(());
        }
        Err(datasync_db::mysql::zone_refusal(&zone, "written", &stamps).into())
    }
    async fn check_transactional(&self) -> Result<(), PluginError> {
        let (mut conn, url) = self.conn.connect(&[]).await?;
        let (schema, name) = datasync_db::sql::schema_and_name(&self.table);
        let q = "SELECT t.ENGINE, e.TRANSACTIONS FROM information_schema.TABLES t \
                 JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE \
                 WHERE t.TABLE_SCHEMA = COALESCE(?, DATABASE()) AND t.TABLE_NAME = ?";
        let found: Option<(String, String)> = conn
            .exec_first(q, (schema, name))
            .await
            .map_err(|e| self.conn.query_error(url, q, e))?;
        let _ = conn.disconnect().await;
        match found {
            Some((engine, tx)) if !tx.eq_ignore_ascii_case("YES") => {
                Err(PluginError::new(MysqlError::Invalid(format!(
                    "stagingMode table needs a transactional table: {} uses the {engine} engine, \
                     which cannot roll back, so a failed publish would leave it half-changed \
                     (use InnoDB, or stagingMode none)",
                    self.table
                ))))
            }
            _ => Ok(()),
        }
    }
}

/// A MySQL connection for the shared steps.
pub(super) struct MysqlTarget {
    pub(super) conn: Conn,
    pub(super) url: datasync_db::sql::JdbcUrl,
    pub(super) cc: Arc<MysqlConnConfig>,
}

#[async_trait]
impl TargetConn for MysqlTarget {
    async fn run(&mut self, sql: &str) -> Result<(), Failure> {
        self.conn.query_drop(sql).await.map_err(|e| Failure {
            lost: e.is_fatal(),
            message: e.to_string(),
            error: self.cc.query_error(&self.url, sql, e).into(),
        })
    }

    async fn run_counted(&mut self, sql: &str) -> Result<Option<u64>, Failure> {
        self.run(sql).await?;
        Ok(Some(self.conn.affected_rows()))
    }

    async fn staging_tables(
        &mut self,
        schema: Option<&str>,
    ) -> Result<Vec<(String, String)>, PluginError> {
        let q = "SELECT table_name, table_comment FROM information_schema.tables \
                 WHERE table_schema = COALESCE(?, DATABASE()) AND table_name LIKE 'datasync\\_stg\\_%'";
        let found: Vec<(String, String)> = self
            .conn
            .exec(q, (schema,))
            .await
            .map_err(|e| self.cc.query_error(&self.url, q, e))?;
        let q = |n: &str| quote_ident(Dialect::MySql, &format!("`{}`", n.replace('`', "``")));
        Ok(found
            .into_iter()
            .map(|(n, c)| match schema {
                Some(sc) => (format!("{}.{}", q(sc), q(&n)), c),
                None => (q(&n), c),
            })
            .collect())
    }

    fn url(&self) -> String {
        self.url.to_string()
    }

    async fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, PluginError> {
        let cols = self.cc.describe(&mut self.conn, &self.url, sql).await?;
        Ok(datasync_codec::types::named_columns(cols))
    }

    async fn has_key(&mut self, table: &str) -> Result<bool, PluginError> {
        let q = datasync_db::mysql::unique_key_count_sql(table);
        let n: Option<u64> = self
            .conn
            .query_first(q.as_str())
            .await
            .map_err(|e| self.cc.query_error(&self.url, &q, e))?;
        Ok(n.unwrap_or(0) > 0)
    }

    async fn count(&mut self, table: &str) -> Result<u64, PluginError> {
        let q = format!("SELECT count(*) FROM {table}");
        let n: Option<u64> = self
            .conn
            .query_first(q.as_str())
            .await
            .map_err(|e| self.cc.query_error(&self.url, &q, e))?;
        Ok(n.unwrap_or(0))
    }

    async fn may_insert(&mut self, table: &str) -> Result<Option<bool>, PluginError> {
        // EXPLAIN checks the INSERT privilege without inserting anything.
        let sql = format!("EXPLAIN INSERT INTO {table} SELECT * FROM {table} WHERE 1 = 0");
        match self.conn.query_drop(sql.as_str()).await {
            Ok(()) => Ok(Some(true)),
            Err(e) if e.to_string().contains("command denied") => Ok(Some(false)),
            Err(e) => Err(self.cc.query_error(&self.url, &sql, e).into()),
        }
    }
}

/// A destructive preSql as it can run inside a transaction: MySQL's TRUNCATE commits on its
/// own, so `TRUNCATE [TABLE] t` becomes `DELETE FROM t`.
pub(super) fn transactional(stmt: &str) -> String {
    let t = crate::sqltarget::strip_leading_comments(stmt)
        .trim()
        .trim_end_matches(';')
        .trim();
    let mut words = t.split_whitespace();
    if !words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("truncate"))
    {
        return t.to_string();
    }
    let rest: Vec<&str> = words.collect();
    let rest = match rest.split_first() {
        Some((w, tail)) if w.eq_ignore_ascii_case("table") => tail.join(" "),
        _ => rest.join(" "),
    };
    tracing::info!("stagingMode table: preSql \"{t}\" runs as DELETE FROM {rest} in the publishing transaction (TRUNCATE cannot be rolled back)");
    format!("DELETE FROM {rest}")
}
