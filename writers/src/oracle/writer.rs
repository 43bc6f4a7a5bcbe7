//! The writer: parameters, the shared SQL writer steps (preSql/postSql, table staging,
//! publish), and the plugin contract.

use super::config::{OracleWriteMode, OracleWriterConfig};
use super::sql::drop_if_exists_sql;
use super::task::OracleTask;
use crate::sqlsteps::{Failure, SqlWriterSteps, TargetConn};
use crate::sqltarget::{sql_targets, SqlWriter, SqlWriterParams};
use datasync_db::oracle::{OracleConn, OracleConnConfig, OracleError};
use datasync_db::sql::{Dialect, DriverError};
use datasync_engine::config::{join_path, ConfigError};
use datasync_engine::{async_trait, Params, Plugin, PluginError};
use serde_json::{json, Value};

/// The Oracle writer.
pub type OracleWriter = SqlWriter<OracleConnConfig, OracleWriterConfig>;

/// The Oracle writer's `parameter`: the shared SQL writer keys, then its own.
type Layout = (SqlWriterParams, OracleWriterConfig);

/// Keys in DataX's oraclewriter doc examples that DataX never reads.
const IGNORED: &[(&str, &str)] = &[
    ("jdbcConfig", "DataX's oraclewriter does not read it either"),
    (
        "truncate",
        "DataX's oraclewriter does not read it either; clear the table with preSql \
         (e.g. \"TRUNCATE TABLE @table\")",
    ),
];

impl Plugin for OracleWriter {
    const NAME: &'static str = "oracle";
    const ALIASES: &'static [&'static str] = &["oraclewriter"];
    const DESCRIPTION: &'static str = "Oracle: array-bound insert or MERGE; bad rows isolated by batch errors (needs Oracle Instant Client at run time)";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (sql, cfg): Layout = p.parts(IGNORED)?;
        let targets = sql_targets(&sql.connection, &sql.column, p.path)?;
        if cfg.batch_size == 0 || cfg.batch_size > 65_535 {
            return Err(ConfigError::new(
                join_path(p.path, "batchSize"),
                "expected rows per round trip between 1 and 65535",
            ));
        }
        if cfg.write_mode != OracleWriteMode::Insert && sql.column == ["*"] {
            return Err(ConfigError::new(
                join_path(p.path, "column"),
                format!("writeMode {} needs the column names", cfg.write_mode.name()),
            ));
        }
        SqlWriter::build(&targets, &sql, Dialect::Oracle, cfg, OracleConnConfig::new)
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<Layout>(g, IGNORED)
    }

    fn template() -> Value {
        crate::sqltarget::sql_writer_template(
            "oracle",
            "jdbc:oracle:thin:@//${oracle_host}:1521/${oracle_service}",
            json!({"writeMode": "insert", "batchSize": 1024, "emptyAsNull": false}),
        )
    }

    fn runtime() -> Result<(), datasync_engine::RuntimeMissing> {
        datasync_db::oracle::runtime()
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::note;
        datasync_engine::template::override_notes(
            crate::sqltarget::sql_writer_notes(),
            vec![
                note("connection[].jdbcUrl", "jdbc:oracle:thin:@host:port:SID, @//host:port/service, @host:port/service, @(DESCRIPTION=...) or @tnsalias."),
                note("writeMode", "insert (default), update or replace (both MERGE on the target's primary or unique key)."),
                note("batchSize", "Rows per array-bound round trip; default 1024."),
                note("emptyAsNull", "Accepted for templates: Oracle stores an empty string as NULL whatever it is."),
                note("reconnectTimeout", "Accepted; the Oracle writer does not reconnect within a task: a lost connection fails the task, which is retried where that is safe (update/replace, stagingMode table)."),
            ],
        )
    }
}

impl OracleWriter {
    /// The key a MERGE goes through: the target's primary key, else its first unique
    /// constraint (`None`: it has neither).
    pub(super) async fn merge_key(
        &self,
        c: &OracleConn,
    ) -> Result<Option<Vec<String>>, OracleError> {
        let sql = key_columns_sql(&self.table);
        let rows: Vec<(String, String)> = c.rows_as(&sql).await?;
        let first = rows.first().map(|r| r.0.clone());
        let key: Vec<String> = rows
            .into_iter()
            .filter(|(name, _)| Some(name) == first.as_ref())
            .map(|(_, col)| format!("\"{}\"", col.replace('"', "\"\"")))
            .collect();
        Ok((!key.is_empty()).then_some(key))
    }
}

/// The columns of `table`'s primary key (or else unique constraints), as (constraint, column),
/// the primary key first, in key order.
fn key_columns_sql(table: &str) -> String {
    let (owner, name) = datasync_db::oracle::owner_and_name(table);
    format!(
        "SELECT c.CONSTRAINT_NAME, cc.COLUMN_NAME FROM ALL_CONSTRAINTS c JOIN ALL_CONS_COLUMNS cc \
         ON cc.OWNER = c.OWNER AND cc.CONSTRAINT_NAME = c.CONSTRAINT_NAME \
         WHERE c.CONSTRAINT_TYPE IN ('P', 'U') AND c.OWNER = {owner} AND c.TABLE_NAME = {name} \
         ORDER BY DECODE(c.CONSTRAINT_TYPE, 'P', 0, 1), c.CONSTRAINT_NAME, cc.POSITION"
    )
}

/// The Oracle side of the shared SQL writer steps.
#[async_trait]
impl SqlWriterSteps for OracleWriter {
    fn dataset(&self) -> datasync_engine::lineage::Dataset {
        datasync_engine::lineage::Dataset::new(self.conn.url().namespace(), self.table.clone())
    }
    fn new_task(&self) -> Box<dyn crate::sqltarget::UnitTask> {
        Box::new(OracleTask::new(self.clone()))
    }
    fn idempotent(&self) -> bool {
        self.cfg.write_mode != OracleWriteMode::Insert
    }
    async fn open(&self) -> Result<Box<dyn TargetConn>, PluginError> {
        Ok(Box::new(OracleTarget(self.conn.connect().await?)))
    }
    fn drop_table_sql(&self, quoted: &str) -> String {
        drop_if_exists_sql(quoted)
    }
}

/// An Oracle connection for the shared steps.
pub(super) struct OracleTarget(pub(super) OracleConn);

#[async_trait]
impl TargetConn for OracleTarget {
    async fn run(&mut self, sql: &str) -> Result<(), Failure> {
        // The shared steps' transaction control: Oracle opens a transaction with the first
        // change (the connection does not autocommit).
        let r = match sql.trim().to_ascii_uppercase().as_str() {
            "BEGIN" | "START TRANSACTION" => return Ok(()),
            "COMMIT" => self.0.commit().await,
            "ROLLBACK" => self.0.rollback().await,
            _ => self.0.execute(sql).await,
        };
        r.map_err(|e| Failure {
            lost: match &e {
                OracleError::Query { source, .. } => source.connection_lost(),
                _ => false,
            },
            message: e.to_string(),
            error: e.into(),
        })
    }

    async fn staging_tables(
        &mut self,
        schema: Option<&str>,
    ) -> Result<Vec<(String, String)>, PluginError> {
        let owner = match schema {
            Some(s) => datasync_db::sql::literal(Dialect::Oracle, &s.to_uppercase()),
            None => "SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')".into(),
        };
        let sql = format!(
            "SELECT t.TABLE_NAME, NVL(c.COMMENTS, ' ') FROM ALL_TABLES t LEFT JOIN \
             ALL_TAB_COMMENTS c ON c.OWNER = t.OWNER AND c.TABLE_NAME = t.TABLE_NAME \
             WHERE t.OWNER = {owner} AND t.TABLE_NAME LIKE 'DATASYNC\\_STG\\_%' ESCAPE '\\'"
        );
        let found: Vec<(String, String)> = self.0.rows_as(&sql).await?;
        // Staging names are written unquoted (Oracle stores them upper-cased): given back the
        // way the job's run wrote them.
        Ok(found
            .into_iter()
            .map(|(n, c)| {
                let n = n.to_lowercase();
                match schema {
                    Some(sc) => (format!("{sc}.{n}"), c),
                    None => (n, c),
                }
            })
            .collect())
    }

    fn url(&self) -> String {
        self.0.url.to_string()
    }

    async fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, PluginError> {
        let cols = self.0.columns(sql).await?;
        Ok(cols.into_iter().map(|(n, t)| (n, t.to_string())).collect())
    }

    async fn has_key(&mut self, table: &str) -> Result<bool, PluginError> {
        let sql = key_columns_sql(table);
        Ok(!self.0.texts(&sql).await?.is_empty())
    }

    async fn count(&mut self, table: &str) -> Result<u64, PluginError> {
        let sql = format!("SELECT TO_CHAR(COUNT(*)) FROM {table}");
        let n = self.0.texts(&sql).await?;
        Ok(n.into_iter()
            .flatten()
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0))
    }

    async fn may_insert(&mut self, table: &str) -> Result<Option<bool>, PluginError> {
        // An INSERT of no row checks the privilege and changes nothing.
        let sql = format!("INSERT INTO {table} SELECT * FROM {table} WHERE 1 = 0");
        match self.0.execute(&sql).await {
            Ok(()) => {
                let _ = self.0.rollback().await;
                Ok(Some(true))
            }
            Err(OracleError::Query { source, .. })
                if source.db_error().is_some_and(|d| d.code() == 1031) =>
            {
                Ok(Some(false))
            }
            Err(e) => Err(e.into()),
        }
    }
}
