//! The writer: parameters, the shared SQL writer steps (preSql/postSql, table staging,
//! publish), and the plugin contract.

use super::config::{PostgresWriteMode, PostgresWriterConfig};
use super::task::PostgresTask;
use crate::sqlsteps::{Failure, SqlWriterSteps, TargetConn};
use crate::sqltarget::{sql_targets, SqlWriter, SqlWriterParams};
use datasync_db::postgres::tokio_postgres::types::{FromSql, ToSql};
use datasync_db::postgres::tokio_postgres::{Client, Row};
use datasync_db::postgres::PostgresConnConfig;
use datasync_db::sql::{Dialect, JdbcUrl};
use datasync_engine::config::{join_path, ConfigError};
use datasync_engine::{async_trait, Params, Plugin, PluginError};
use serde_json::{json, Value};
use std::sync::Arc;

/// The PostgreSQL writer.
pub type PostgresWriter = SqlWriter<PostgresConnConfig, PostgresWriterConfig>;

/// The PostgreSQL writer's `parameter`: the shared SQL writer keys, then its own.
type Layout = (SqlWriterParams, PostgresWriterConfig);

impl Plugin for PostgresWriter {
    const NAME: &'static str = "postgres";
    const ALIASES: &'static [&'static str] = &["postgresqlwriter"];
    const DESCRIPTION: &'static str =
        "PostgreSQL: COPY per batch, or upsert (ON CONFLICT); bad rows isolated";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (mut sql, mut cfg): Layout = p.parts(&[])?;
        sql.fold_names(Dialect::Postgres);
        for c in &mut cfg.conflict_columns {
            *c = datasync_db::sql::fold_unquoted(Dialect::Postgres, c);
        }
        if cfg.batch_size == Some(0) {
            return Err(ConfigError::new(
                join_path(p.path, "batchSize"),
                "must be at least 1 (rows per COPY transaction)",
            ));
        }
        let targets = sql_targets(&sql.connection, &sql.column, p.path)?;
        SqlWriter::build(
            &targets,
            &sql,
            Dialect::Postgres,
            cfg,
            PostgresConnConfig::new,
        )
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<Layout>(g, &[])
    }

    fn template() -> Value {
        crate::sqltarget::sql_writer_template(
            "pg",
            "jdbc:postgresql://${pg_host}:5432/${pg_db}",
            json!({"writeMode": "insert", "conflictColumns": [], "batchSize": 65536}),
        )
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::note;
        let mut n = crate::sqltarget::sql_writer_notes();
        n.extend([
            note("writeMode", "insert (default) or update (upsert: INSERT ... ON CONFLICT (conflictColumns) DO UPDATE)."),
            note("conflictColumns", "Key columns of update; default the table's primary key."),
            note("batchSize", "Rows per COPY transaction; default 65536 (DataX templates carry 1024: a commit per 1,024 rows)."),
        ]);
        n
    }
}

/// The PostgreSQL side of the shared SQL writer steps.
#[async_trait]
impl SqlWriterSteps for PostgresWriter {
    fn dataset(&self) -> datasync_engine::lineage::Dataset {
        datasync_db::sql::dataset(
            "postgres",
            self.conn.url(),
            5432,
            Some("public"),
            &self.table,
        )
    }
    fn new_task(&self) -> Box<dyn crate::sqltarget::UnitTask> {
        Box::new(PostgresTask {
            writer: self.clone(),
            table: self.table.clone(),
            stage_ready: false,
        })
    }
    fn idempotent(&self) -> bool {
        self.cfg.write_mode == PostgresWriteMode::Update
    }
    fn needs_key(&self) -> bool {
        self.idempotent() && self.cfg.conflict_columns.is_empty()
    }
    async fn open(&self) -> Result<Box<dyn TargetConn>, PluginError> {
        let (client, url) = self.conn.connect().await?;
        Ok(Box::new(PostgresTarget {
            client,
            url: url.clone(),
            cc: Arc::clone(&self.conn),
        }))
    }
}

/// A PostgreSQL connection for the shared steps.
pub(super) struct PostgresTarget {
    pub(super) client: Client,
    pub(super) url: JdbcUrl,
    pub(super) cc: Arc<PostgresConnConfig>,
}

impl PostgresTarget {
    /// The rows of a query, a failure named with the statement.
    async fn rows(&self, q: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, PluginError> {
        Ok(self
            .client
            .query(q, params)
            .await
            .map_err(|e| self.cc.query_error(&self.url, q, e))?)
    }

    /// The first column of a query's one row.
    async fn value<T>(&self, q: &str, params: &[&(dyn ToSql + Sync)]) -> Result<T, PluginError>
    where
        T: for<'a> FromSql<'a>,
    {
        let row = self
            .client
            .query_one(q, params)
            .await
            .map_err(|e| self.cc.query_error(&self.url, q, e))?;
        Ok(row.get::<_, T>(0))
    }
}

#[async_trait]
impl TargetConn for PostgresTarget {
    async fn run(&mut self, sql: &str) -> Result<(), Failure> {
        self.client.batch_execute(sql).await.map_err(|e| Failure {
            lost: e.is_closed(),
            message: datasync_db::postgres::db_message(&e),
            error: self.cc.query_error(&self.url, sql, e).into(),
        })
    }

    async fn run_counted(&mut self, sql: &str) -> Result<Option<u64>, Failure> {
        self.client
            .execute(sql, &[])
            .await
            .map(Some)
            .map_err(|e| Failure {
                lost: e.is_closed(),
                message: datasync_db::postgres::db_message(&e),
                error: self.cc.query_error(&self.url, sql, e).into(),
            })
    }

    async fn staging_tables(
        &mut self,
        schema: Option<&str>,
    ) -> Result<Vec<(String, String)>, PluginError> {
        let q = "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), coalesce(obj_description(c.oid, 'pg_class'), '') \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind = 'r' AND c.relname LIKE 'datasync\\_stg\\_%' \
                 AND n.nspname = coalesce($1, current_schema())";
        let rows = self.rows(q, &[&schema]).await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect())
    }

    fn url(&self) -> String {
        self.url.to_string()
    }

    async fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, PluginError> {
        Ok(self.cc.describe(&self.client, &self.url, sql).await?)
    }

    async fn has_key(&mut self, table: &str) -> Result<bool, PluginError> {
        let q = datasync_db::postgres::PRIMARY_KEY_SQL;
        Ok(!self.rows(q, &[&table]).await?.is_empty())
    }

    async fn count(&mut self, table: &str) -> Result<u64, PluginError> {
        let q = format!("SELECT count(*) FROM {table}");
        Ok(u64::try_from(self.value::<i64>(&q, &[]).await?).unwrap_or(0))
    }

    async fn may_create(&mut self, table: &str) -> Result<Option<bool>, PluginError> {
        let q = "SELECT has_schema_privilege(coalesce($1, current_schema()), 'CREATE')";
        let schema = datasync_db::sql::schema_and_name(table).0;
        Ok(Some(self.value(q, &[&schema]).await?))
    }

    async fn may_insert(&mut self, table: &str) -> Result<Option<bool>, PluginError> {
        let q = "SELECT has_table_privilege($1, 'INSERT')";
        Ok(Some(self.value(q, &[&table]).await?))
    }
}
