//! The reader: validation, split planning, and streaming a split's rows into Arrow batches.

use crate::sqlconfig::SqlReaderConfig;
use crate::sqlreader::{SqlReader, SqlSource};
use crate::sqlsplit::{KeyProbe, Planned, RECONNECT_WINDOW};
use datasync_codec::TextBatchBuilder;
use datasync_db::mysql::mysql_async::prelude::Queryable;
use datasync_db::mysql::mysql_async::{Row, Value as MyValue};
use datasync_db::mysql::{arrow_type, ColumnKind, MysqlConnConfig, MysqlError};
use datasync_db::sql::source_type::{primary_key_positions, with_primary_key, with_source_type};

/// Session timeouts of a read connection: a day, so back-pressure never resets the read (the
/// engine's stall watchdog is what notices a consumer that is truly stuck).
const PACED_READ: &str = "SET SESSION net_write_timeout = 86400, net_read_timeout = 86400";
use datasync_db::sql::{quote_ident, reconnect, Dialect, SqlSplit};
use datasync_engine::channel::{Batch, BatchSender};
use datasync_engine::config::{join_path, ConfigError};
use datasync_engine::{
    async_trait, DirtyRecord, Params, Plugin, PluginError, ReaderTask, TaskContext,
};
use serde_json::Value;
use std::sync::Arc;

/// The MySQL reader.
pub type MysqlReader = SqlReader<MysqlConnConfig, MysqlSettings>;

/// The MySQL reader's own setting.
#[derive(Debug)]
pub struct MysqlSettings {
    /// `zeroDateTimeBehavior=convertToNull` in the URL: zero dates are read as NULL.
    zero_to_null: bool,
}

/// OceanBase's reader tuning, accepted and ignored: each split is streamed in one query.
const IGNORED: &[(&str, &str)] = &[
    (
        "readBatchSize",
        "rows are streamed from one query per split, not read in batches",
    ),
    (
        "readByPartition",
        "splits come from splitPk key ranges, not from OceanBase partitions",
    ),
    (
        "timeout",
        "queries run without a client-side time limit (set one with a session statement, e.g. \
         SET ob_query_timeout=...)",
    ),
];

impl Plugin for MysqlReader {
    const NAME: &'static str = "mysql";
    const ALIASES: &'static [&'static str] = &["mysqlreader", "oceanbasev10reader"];
    const DESCRIPTION: &'static str =
        "MySQL / MariaDB / OceanBase (MySQL mode) tables or queries, split on an integer or text key";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (cfg, conns) = SqlReaderConfig::parse(p, IGNORED, MysqlConnConfig::new)?;
        let zero_to_null = conns[0].zero_date_to_null().map_err(|e| {
            ConfigError::new(format!("{}[0].jdbcUrl", join_path(p.path, "connection")), e)
        })?;
        crate::sqlreader::build(p.path, cfg, conns, MysqlSettings { zero_to_null })
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<(SqlReaderConfig,)>(g, IGNORED)
    }

    fn template() -> Value {
        crate::sqlconfig::sql_reader_template(
            "mysql",
            "jdbc:mysql://${mysql_host}:3306/${mysql_db}",
        )
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        crate::sqlconfig::sql_reader_notes()
    }
}

/// The MySQL answers to split planning.
pub(crate) struct MysqlProbe {
    conn: datasync_db::mysql::mysql_async::Conn,
    url: datasync_db::sql::JdbcUrl,
    cc: MysqlConnConfig,
}

#[async_trait]
impl KeyProbe for MysqlProbe {
    async fn column_type(&mut self, sql: &str) -> Result<Option<(String, bool)>, PluginError> {
        let result = self
            .conn
            .query_iter(sql)
            .await
            .map_err(|e| self.cc.query_error(&self.url, sql, e))?;
        let col = result.columns_ref().first().cloned();
        result
            .drop_result()
            .await
            .map_err(|e| self.cc.query_error(&self.url, sql, e))?;
        Ok(col.map(|c| {
            use datasync_db::mysql::mysql_async::consts::ColumnFlags;
            // ENUM and SET compare by their list position in ORDER BY but as text against a
            // string: ranges cut on one order and filtered on the other would overlap.
            if c.flags().contains(ColumnFlags::ENUM_FLAG) {
                return ("enum".to_string(), false);
            }
            if c.flags().contains(ColumnFlags::SET_FLAG) {
                return ("set".to_string(), false);
            }
            let (t, _) = arrow_type(&c);
            (t.to_string(), t.is_integer())
        }))
    }

    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PluginError> {
        let rows: Vec<Row> = self
            .conn
            .query(sql)
            .await
            .map_err(|e| self.cc.query_error(&self.url, sql, e))?;
        // The text protocol: every value is NULL or its text.
        let text = |(i, v): (usize, Option<MyValue>)| match v {
            None | Some(MyValue::NULL) => Ok(None),
            Some(MyValue::Bytes(b)) => String::from_utf8(b)
                .map(Some)
                .map_err(|e| PluginError::new(format!("{sql}: column {i}: {e}"))),
            Some(other) => Ok(Some(other.as_sql(true).trim_matches('\'').to_string())),
        };
        rows.into_iter()
            .map(|r| r.unwrap_raw().into_iter().enumerate().map(text).collect())
            .collect()
    }

    async fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, PluginError> {
        let cols = self.cc.describe(&mut self.conn, &self.url, sql).await?;
        Ok(datasync_codec::types::named_columns(cols))
    }

    fn row_estimate_sql(&self, table: &str) -> String {
        format!(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE {}",
            datasync_db::mysql::information_schema_filter(table)
        )
    }

    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }

    async fn exec(&mut self, sql: &str) -> Result<(), PluginError> {
        self.conn
            .query_drop(sql)
            .await
            .map_err(|e| self.cc.query_error(&self.url, sql, e).into())
    }

    async fn key_indexed(
        &mut self,
        schema: Option<&str>,
        name: &str,
        pk: &str,
    ) -> Result<Option<bool>, PluginError> {
        // A unique index on the key alone: rows come in key order and no two share a key, so
        // "after the last key read" misses none and repeats none.
        let q = "SELECT COUNT(*) FROM information_schema.statistics s \
                 WHERE s.table_schema = COALESCE(?, DATABASE()) AND s.table_name = ? \
                 AND s.column_name = ? AND s.seq_in_index = 1 AND s.non_unique = 0 \
                 AND NOT EXISTS (SELECT 1 FROM information_schema.statistics s2 \
                   WHERE s2.table_schema = s.table_schema AND s2.table_name = s.table_name \
                   AND s2.index_name = s.index_name AND s2.seq_in_index = 2)";
        let n: Option<u64> = self
            .conn
            .exec_first(q, (schema, name, pk))
            .await
            .map_err(|e| self.cc.query_error(&self.url, q, e))?;
        Ok(Some(n.unwrap_or(0) > 0))
    }
}

#[async_trait]
impl SqlSource for MysqlReader {
    type Probe = MysqlProbe;
    const DIALECT: Dialect = Dialect::MySql;

    async fn open_probe(&self, i: usize) -> Result<(MysqlProbe, String), PluginError> {
        let cc = self.conns[i].clone();
        let (conn, url) = cc.connect(&[]).await?;
        let url = url.clone();
        let shown = url.to_string();
        Ok((MysqlProbe { conn, url, cc }, shown))
    }

    fn task(&self, plan: Planned) -> Box<dyn ReaderTask> {
        Box::new(MysqlTask {
            reader: self.clone(),
            plan,
        })
    }

    fn dataset(&self, i: usize, table: &str) -> datasync_engine::lineage::Dataset {
        datasync_db::sql::dataset("mysql", self.conns[i].url(), 3306, None, table)
    }
}

/// A split; `plan.resumable`: a key range on an indexed splitPk, read in key order and
/// continued after the last key when the connection is lost.
struct MysqlTask {
    reader: MysqlReader,
    plan: Planned,
}

fn bit_text(bytes: &[u8], boolean: bool) -> String {
    let v = bytes.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
    if boolean {
        (v != 0).to_string()
    } else {
        v.to_string()
    }
}

impl MysqlTask {
    /// The column list to select: the job's, with FLOAT columns read as `(c + 0e0)`. Over the
    /// text protocol the server prints a FLOAT with 6 significant digits (16777216 arrives as
    /// 16777200); as a DOUBLE it prints the float's exact value, which parses back to the same
    /// float. Only for table reads whose column list matches the result one to one.
    async fn exact_floats(
        &self,
        conn: &mut datasync_db::mysql::mysql_async::Conn,
        url: &datasync_db::sql::JdbcUrl,
    ) -> Result<(Vec<String>, Vec<usize>), PluginError> {
        use datasync_db::mysql::mysql_async::consts::ColumnType;
        let cfg = &self.reader.cfg;
        if !matches!(self.plan.split, SqlSplit::Table { .. }) {
            return Ok((cfg.column.clone(), Vec::new()));
        }
        let sql = self.plan.split.sql(
            Dialect::MySql,
            &cfg.column,
            cfg.where_clause.as_deref(),
            cfg.split_pk.as_deref(),
        );
        let cc = &self.reader.conns[self.plan.split.conn()];
        let stmt = conn
            .prep(sql.as_str())
            .await
            .map_err(|e| cc.query_error(url, &sql, e))?;
        let cols = stmt.columns().to_vec();
        let _ = conn.close(stmt).await;
        let floats: Vec<usize> = (0..cols.len())
            .filter(|i| cols[*i].column_type() == ColumnType::MYSQL_TYPE_FLOAT)
            .collect();
        if floats.is_empty() {
            return Ok((cfg.column.clone(), floats));
        }
        let star = cfg.column == ["*"];
        if !star && cfg.column.len() != cols.len() {
            tracing::warn!(
                "{}: FLOAT columns are read as the server prints them (6 significant digits): \
                 the column list does not match the result one to one",
                self.plan.split.describe()
            );
            return Ok((cfg.column.clone(), Vec::new()));
        }
        let list = cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let name = quote_ident(Dialect::MySql, &c.name_str());
                let expr = if star {
                    name.clone()
                } else {
                    cfg.column[i].clone()
                };
                if c.column_type() == ColumnType::MYSQL_TYPE_FLOAT {
                    format!("({expr} + 0e0) AS {name}")
                } else {
                    expr
                }
            })
            .collect();
        Ok((list, floats))
    }
}

#[async_trait]
impl ReaderTask for MysqlTask {
    crate::sqlsplit::planned_task!();

    async fn read(&mut self, mut out: BatchSender, ctx: TaskContext) -> Result<(), PluginError> {
        let cfg = &self.reader.cfg;
        let conn_ix = self.plan.split.conn();
        let cc = &self.reader.conns[conn_ix];
        let keyed_pk = cfg.split_pk.as_deref().filter(|_| self.plan.resumable);
        let mut after: Option<i128> = None;
        let mut lost: Option<std::time::Instant> = None;
        let mut state: Option<ReadState> = None;
        // The server aborts a result set whose client does not take it for net_write_timeout
        // (60 s by default); a reader paced by a slow writer (a lock on the target, dirty-row
        // isolation) may legitimately wait longer. The job's `session` can still lower it.
        let open = || async { cc.connect(&[PACED_READ]).await.map(|(c, u)| (c, u.clone())) };
        let (mut conn, mut url) = open().await?;
        // Every connection of the task runs the same session statements.
        let zone = cc.shifted_zone(&mut conn, &url).await?;
        // A table's primary key and MariaDB's JSON columns (LONGTEXT with a json_valid check)
        // travel with the columns, so a writer's createTable makes them.
        let mut catalog = Catalog::default();
        if let SqlSplit::Table { table, .. } = &self.plan.split {
            let q = datasync_db::mysql::primary_key_sql(table);
            catalog.key = conn.query(q.as_str()).await.unwrap_or_else(|e| {
                tracing::debug!("task {}: no primary key of {table}: {e}", ctx.task_id);
                Vec::new()
            });
            // MySQL's own JSON type says so itself (and its CHECK_CONSTRAINTS has no TABLE_NAME).
            let q = datasync_db::mysql::json_checks_sql(table);
            let clauses: Vec<String> = conn.query(q.as_str()).await.unwrap_or_else(|e| {
                tracing::debug!("task {}: no check constraints of {table}: {e}", ctx.task_id);
                Vec::new()
            });
            catalog.json = clauses
                .iter()
                .filter_map(|c| datasync_db::mysql::json_checked_column(c))
                .collect();
        }
        // FLOAT columns come as exact doubles, and are floats again in Arrow.
        let (columns_sql, floats) = self.exact_floats(&mut conn, &url).await?;
        catalog.floats = floats;
        loop {
            let keyed_sql = keyed_pk.and_then(|pk| {
                self.plan.split.keyed_sql(
                    Dialect::MySql,
                    &columns_sql,
                    cfg.where_clause.as_deref(),
                    pk,
                    after,
                )
            });
            let keyed = keyed_sql.is_some();
            // Where the key is in each row: one of the job's columns, or an extra last one.
            let key_at = keyed_sql.as_ref().map(|(_, at)| *at);
            let sql = keyed_sql.map(|(sql, _)| sql).unwrap_or_else(|| {
                self.plan.split.sql(
                    Dialect::MySql,
                    &columns_sql,
                    cfg.where_clause.as_deref(),
                    cfg.split_pk.as_deref(),
                )
            });
            let mut result = match conn.query_iter(sql.as_str()).await {
                Ok(r) => r,
                Err(e) => {
                    let e = cc.query_error(&url, &sql, e);
                    match crate::sqlsplit::time_left(lost, keyed, e.is_retriable()) {
                        Some(left) => {
                            (conn, url) =
                                reconnect(&url.to_string(), left, MysqlError::is_retriable, open)
                                    .await?;
                            continue;
                        }
                        _ => return Err(e.into()),
                    }
                }
            };
            let columns = result.columns().unwrap_or_else(|| Arc::from(Vec::new()));
            let appended = key_at == Some(None);
            let width = columns.len() - usize::from(appended && !columns.is_empty());
            let key_col = key_at.flatten().unwrap_or(width);
            let st = match &mut state {
                Some(st) => st,
                None => {
                    if let Some(zone) = &zone {
                        refuse_shifted(zone, &columns[..width])?;
                    }
                    state.insert(ReadState::new(&columns[..width], &ctx, &catalog))
                }
            };
            let mut cut = false;
            loop {
                let row: Row = match result.next().await {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) => {
                        let e = cc.query_error(&url, &sql, e);
                        if keyed && e.is_retriable() {
                            cut = true;
                            crate::sqlsplit::warn_cut(ctx.task_id, &e, after);
                            lost = Some(std::time::Instant::now());
                            break;
                        }
                        return Err(e.into());
                    }
                };
                if keyed {
                    after = match row.as_ref(key_col) {
                        Some(MyValue::Bytes(b)) => {
                            std::str::from_utf8(b).ok().and_then(|t| t.parse().ok())
                        }
                        _ => None,
                    }
                    .or(after);
                }
                st.push(
                    &row,
                    width,
                    self.reader.own.zero_to_null,
                    &ctx,
                    &self.plan.split,
                )?;
                if st.builder.full() {
                    if let Some(b) = st.builder.finish()? {
                        ctx.counters.add_input_done(b.num_rows() as u64);
                        out.send(Batch::new(b)).await?;
                    }
                    ctx.check_cancelled()?;
                }
            }
            drop(result);
            if cut {
                let at = url.to_string();
                (conn, url) =
                    reconnect(&at, RECONNECT_WINDOW, MysqlError::is_retriable, open).await?;
                continue;
            }
            let _ = conn.disconnect().await;
            break;
        }
        if let Some(st) = &mut state {
            if let Some(b) = st.builder.finish()? {
                ctx.counters.add_input_done(b.num_rows() as u64);
                out.send(Batch::new(b)).await?;
            }
        }
        Ok(())
    }
}

/// What the catalog says of a table read: its primary key and MariaDB's JSON columns.
#[derive(Default)]
struct Catalog {
    key: Vec<String>,
    json: Vec<String>,
    /// Result positions of FLOAT columns selected as doubles (see `exact_floats`).
    floats: Vec<usize>,
}

/// What a split's read builds up across reconnects: the column types and the batch builder.
struct ReadState {
    kinds: Vec<(arrow_schema::DataType, ColumnKind)>,
    builder: TextBatchBuilder,
    has_bits: bool,
    bits: Vec<Option<String>>,
}

/// Refuses TIMESTAMP columns in a session with another time zone than UTC.
fn refuse_shifted(
    zone: &str,
    columns: &[datasync_db::mysql::mysql_async::Column],
) -> Result<(), MysqlError> {
    use datasync_db::mysql::mysql_async::consts::ColumnType;
    let stamps: Vec<String> = columns
        .iter()
        .filter(|c| {
            matches!(
                c.column_type(),
                ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2
            )
        })
        .map(|c| c.name_str().into_owned())
        .collect();
    if stamps.is_empty() {
        return Ok(());
    }
    Err(datasync_db::mysql::zone_refusal(zone, "read", &stamps))
}

fn names_of(c: &datasync_db::mysql::mysql_async::Column) -> String {
    c.org_name_str().into_owned()
}

impl ReadState {
    fn new(
        columns: &[datasync_db::mysql::mysql_async::Column],
        ctx: &TaskContext,
        catalog: &Catalog,
    ) -> Self {
        let mut kinds: Vec<(arrow_schema::DataType, ColumnKind)> =
            columns.iter().map(arrow_type).collect();
        for &i in &catalog.floats {
            if let Some(k) = kinds.get_mut(i) {
                k.0 = arrow_schema::DataType::Float32;
            }
        }
        let names: Vec<String> = columns.iter().map(|c| c.name_str().into_owned()).collect();
        let line = datasync_codec::types::columns_line(&names, kinds.iter().map(|(t, _)| t));
        tracing::debug!("task {}: columns {line}", ctx.task_id);
        let key_at = primary_key_positions(&names, &catalog.key);
        let fields = names
            .into_iter()
            .zip(&kinds)
            .map(|(n, (t, _))| (n, t.clone(), None))
            .collect();
        let has_bits = kinds.iter().any(|(_, k)| *k == ColumnKind::Bit);
        let mut builder = TextBatchBuilder::new(fields, ctx.batch, false);
        for (i, c) in columns.iter().enumerate() {
            let json = (kinds[i].0 == arrow_schema::DataType::Utf8
                && catalog.json.iter().any(|j| *j == names_of(c)))
            .then(|| "json".to_string());
            if let Some(t) = json.or_else(|| datasync_db::mysql::source_type(c)) {
                builder.map_field(i, |f| with_source_type(f, &t));
            }
        }
        for (position, &i) in key_at.iter().enumerate() {
            builder.map_field(i, |f| with_primary_key(f, position + 1));
        }
        ReadState {
            bits: vec![None; kinds.len()],
            builder,
            kinds,
            has_bits,
        }
    }

    /// Adds the first `width` values of `row`; a value that does not convert makes the row a
    /// dirty record.
    fn push(
        &mut self,
        row: &Row,
        width: usize,
        zero_to_null: bool,
        ctx: &TaskContext,
        split: &SqlSplit,
    ) -> Result<(), PluginError> {
        let kinds = &self.kinds;
        if self.has_bits {
            for (i, (t, k)) in kinds.iter().enumerate() {
                if *k == ColumnKind::Bit {
                    self.bits[i] = match row.as_ref(i) {
                        Some(MyValue::Bytes(b)) => {
                            Some(bit_text(b, *t == arrow_schema::DataType::Boolean))
                        }
                        _ => None,
                    };
                }
            }
        }
        let bits = &self.bits;
        let pushed = self.builder.push_row(|i| match row.as_ref(i) {
            None | Some(MyValue::NULL) => Ok(None),
            Some(MyValue::Bytes(b)) => match kinds[i].1 {
                ColumnKind::Bit => Ok(bits[i].as_deref().map(str::as_bytes)),
                ColumnKind::Temporal if b.starts_with(b"0000-00-00") => {
                    if zero_to_null {
                        Ok(None)
                    } else {
                        Err("zero date 0000-00-00 (zeroDateTimeBehavior=exception; use convertToNull to read it as NULL)".to_string())
                    }
                }
                _ => Ok(Some(b.as_slice())),
            },
            Some(other) => Err(format!("unexpected value {other:?} in the text protocol")),
        });
        if let Err(error) = pushed {
            let values = (0..width)
                .map(|i| match row.as_ref(i) {
                    Some(MyValue::Bytes(b)) => {
                        Value::String(String::from_utf8_lossy(b).into_owned())
                    }
                    _ => Value::Null,
                })
                .collect();
            ctx.dirty(DirtyRecord {
                error,
                columns: self.builder.names(),
                values,
                location: Some(split.describe()),
            })?;
        }
        Ok(())
    }
}
