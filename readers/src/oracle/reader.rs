//! The reader: validation, split planning (key ranges, ROWID ranges), and streaming a split's
//! rows into Arrow batches on a blocking thread.

use crate::sqlconfig::SqlReaderConfig;
use crate::sqlreader::{SqlReader, SqlSource};
use crate::sqlsplit::{KeyProbe, Planned};
use datasync_codec::TextBatchBuilder;
use datasync_db::oracle::oracle::sql_type::{OracleType, Timestamp};
use datasync_db::oracle::oracle::Row;
use datasync_db::oracle::{
    arrow_type, datetime_text, float_text, number_text, OracleConn, OracleConnConfig, OracleKind,
};
use datasync_db::sql::source_type::{primary_key_positions, with_primary_key, with_source_type};
use datasync_db::sql::{Dialect, SqlSplit};
use datasync_engine::channel::{Batch, BatchSender};
use datasync_engine::config::{join_path, ConfigError};
use datasync_engine::{
    async_trait, DirtyRecord, Params, Plugin, PluginError, ReaderTask, TaskContext,
};
use serde_json::Value;

/// Rows per fetch round trip (and prefetched) unless `fetchSize` says otherwise.
const DEFAULT_FETCH: u32 = 1024;

/// The Oracle reader.
pub type OracleReader = SqlReader<OracleConnConfig, OracleSettings>;

/// The Oracle reader's own settings.
#[derive(Debug)]
pub struct OracleSettings {
    /// The job's columns with `hint` placed after SELECT.
    columns: Vec<String>,
    /// Rows per fetch round trip.
    fetch: u32,
}

impl Plugin for OracleReader {
    const NAME: &'static str = "oracle";
    const ALIASES: &'static [&'static str] = &["oraclereader"];
    const DESCRIPTION: &'static str = "Oracle tables or queries, split on a key or by ROWID ranges (needs Oracle Instant Client at run time)";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        // `hint` is Oracle's own key: an optimizer hint for the generated SELECT.
        let mut value = p.value.clone();
        let hint = match value.as_object_mut().and_then(|o| o.remove("hint")) {
            None | Some(Value::Null) => None,
            Some(Value::String(h)) if h.trim().is_empty() => None,
            Some(Value::String(h)) => Some(h),
            Some(_) => {
                return Err(ConfigError::new(
                    join_path(p.path, "hint"),
                    "expected a string such as \"/*+ PARALLEL(4) */\"",
                ))
            }
        };
        let p = Params { value: &value, ..p };
        let (cfg, conns) = SqlReaderConfig::parse(p, &[], OracleConnConfig::new)?;
        let fetch = match cfg.fetch_size {
            None => DEFAULT_FETCH,
            Some(n) if (1..=100_000).contains(&n) => n as u32,
            Some(n) => {
                return Err(ConfigError::new(
                    join_path(p.path, "fetchSize"),
                    format!("{n}: expected rows per fetch between 1 and 100000"),
                ))
            }
        };
        let mut columns = cfg.column.clone();
        if hint.is_some() && cfg.connection.iter().any(|c| !c.query_sql.is_empty()) {
            tracing::warn!(
                "{}: ignored for querySql (it goes into the SELECT of table reads; put a hint in \
                 the query itself)",
                join_path(p.path, "hint")
            );
        }
        if let (Some(h), Some(first)) = (hint, columns.first_mut()) {
            let h = h.trim();
            let h = if h.starts_with("/*") {
                h.to_string()
            } else {
                format!("/*+ {h} */")
            };
            // `SELECT /*+ ... */ a, b`: the hint goes right after SELECT.
            *first = format!("{h} {first}");
        }
        crate::sqlreader::build(p.path, cfg, conns, OracleSettings { columns, fetch })
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::ParamsSchema::new(g)
            .part::<SqlReaderConfig>()
            .key(
                "hint",
                serde_json::json!({"type": ["string", "null"], "description": "An optimizer hint placed after SELECT in table reads, e.g. /*+ PARALLEL(4) */."}),
                false,
            )
            .build()
    }

    fn template() -> Value {
        let mut t = crate::sqlconfig::sql_reader_template(
            "oracle",
            "jdbc:oracle:thin:@//${oracle_host}:1521/${oracle_service}",
        );
        t["hint"] = Value::from("");
        t
    }

    fn runtime() -> Result<(), datasync_engine::RuntimeMissing> {
        datasync_db::oracle::runtime()
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::note;
        datasync_engine::template::override_notes(
            crate::sqlconfig::sql_reader_notes(),
            vec![
                note("connection[].jdbcUrl", "jdbc:oracle:thin:@host:port:SID, @//host:port/service, @host:port/service, @(DESCRIPTION=...) or @tnsalias; a list is tried in order."),
                note("splitPk", "Column to split each table on (integer key ranges or text quantiles, plus a NULL-key task); empty: ROWID ranges from the table's extents when channel > 1 and DBA_EXTENTS is readable, else one task per table."),
                note("fetchSize", "Rows per fetch round trip (also prefetched); default 1024."),
                note("hint", "Optimizer hint placed after SELECT in table reads, e.g. \"/*+ PARALLEL(4) */\"; empty: none."),
            ],
        )
    }
}

impl OracleReader {
    /// The splits without a key split into ROWID ranges from the table's extents, where the
    /// login may read DBA_EXTENTS; else as they are, with a log line saying why.
    async fn rowid_ranges(
        &self,
        planned: Vec<Planned>,
        channels: usize,
    ) -> Result<Vec<Planned>, PluginError> {
        let mut out = Vec::new();
        for p in planned {
            let table = match &p.split {
                SqlSplit::Table {
                    conn,
                    table,
                    range: None,
                    text_range: None,
                    null_keys: false,
                } if channels > 1 => (*conn, table.clone()),
                _ => {
                    out.push(p);
                    continue;
                }
            };
            let (conn_ix, table) = table;
            let conn = self.conns[conn_ix].connect().await?;
            let q = datasync_db::oracle::extents_sql(&table);
            let extents = match extents(&conn, &q).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::info!(
                        "{table}: read in one task: no splitPk, and its extents cannot be read \
                         for ROWID ranges ({}; grant SELECT_CATALOG_ROLE or set splitPk)",
                        datasync_engine::plugin::error_chain(&e)
                    );
                    out.push(p);
                    continue;
                }
            };
            let cuts = datasync_db::oracle::rowid_cuts(&extents, channels);
            if cuts.is_empty() {
                tracing::info!(
                    "{table}: read in one task: no splitPk, and it has {} extent(s), too few for \
                     ROWID ranges",
                    extents.len()
                );
                out.push(p);
                continue;
            }
            tracing::info!(
                "{table}: no splitPk: {} ROWID ranges from {} extents",
                cuts.len() + 1,
                extents.len()
            );
            let mut edges: Vec<Option<&str>> = vec![None];
            edges.extend(cuts.iter().map(|c| Some(c.as_str())));
            edges.push(None);
            let share = p.estimate.map(|r| r / (cuts.len() as u64 + 1));
            // An incremental window goes into the ranges' own SQL.
            let filtered = match (self.cfg.where_clause.as_deref(), p.filter.as_deref()) {
                (Some(w), Some(f)) if !w.trim().is_empty() => Some(format!("({w}) AND {f}")),
                (_, Some(f)) => Some(f.to_string()),
                (w, None) => w.map(String::from),
            };
            for w in edges.windows(2) {
                out.push(Planned {
                    split: SqlSplit::Query {
                        conn: conn_ix,
                        sql: datasync_db::oracle::rowid_range_sql(
                            &table,
                            &self.own.columns,
                            filtered.as_deref(),
                            w[0],
                            w[1],
                        ),
                    },
                    estimate: share,
                    resumable: false,
                    as_text: Vec::new(),
                    filter: None,
                });
            }
        }
        Ok(out)
    }
}

/// The extents of a table (first ROWID, last ROWID, blocks), in ROWID order.
async fn extents(
    conn: &OracleConn,
    q: &str,
) -> Result<Vec<(String, String, u64)>, datasync_db::oracle::OracleError> {
    conn.rows_as(q).await
}

/// The Oracle answers to split planning.
pub(crate) struct OracleProbe {
    conn: OracleConn,
}

#[async_trait]
impl KeyProbe for OracleProbe {
    async fn column_type(&mut self, sql: &str) -> Result<Option<(String, bool)>, PluginError> {
        let cols = self.conn.columns(sql).await?;
        let Some((_, t)) = cols.first() else {
            return Ok(None);
        };
        Ok(Some(match t {
            // Whole numbers only: NUMBER(p) / NUMBER(p,-s).
            OracleType::Number(p, s) if *p > 0 && *s <= 0 => (t.to_string(), true),
            // Any other number compares exactly by value: cut at quantiles like text.
            OracleType::Number(..) | OracleType::Float(_) => ("varchar2".into(), false),
            OracleType::Varchar2(_) | OracleType::Char(_) => ("varchar2".into(), false),
            OracleType::NVarchar2(_) | OracleType::NChar(_) => ("nvarchar2".into(), false),
            other => (other.to_string(), false),
        }))
    }

    async fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, PluginError> {
        let cols = self.conn.columns(sql).await?;
        Ok(cols.into_iter().map(|(n, t)| (n, t.to_string())).collect())
    }

    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PluginError> {
        Ok(self.conn.rows(sql).await?)
    }

    fn row_estimate_sql(&self, table: &str) -> String {
        datasync_db::oracle::row_estimate_sql(table)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Oracle
    }

    async fn exec(&mut self, sql: &str) -> Result<(), PluginError> {
        Ok(self.conn.execute(sql).await?)
    }
}

#[async_trait]
impl SqlSource for OracleReader {
    type Probe = OracleProbe;
    const DIALECT: Dialect = Dialect::Oracle;

    async fn open_probe(&self, i: usize) -> Result<(OracleProbe, String), PluginError> {
        let conn = self.conns[i].connect().await?;
        let url = conn.url.to_string();
        Ok((OracleProbe { conn }, url))
    }

    fn task(&self, plan: Planned) -> Box<dyn ReaderTask> {
        Box::new(OracleTask {
            reader: self.clone(),
            plan,
        })
    }

    fn dataset(&self, i: usize, table: &str) -> datasync_engine::lineage::Dataset {
        datasync_engine::lineage::Dataset::new(self.conns[i].url().namespace(), table)
    }

    async fn refine(
        &self,
        planned: Vec<Planned>,
        channels: usize,
    ) -> Result<Vec<Planned>, PluginError> {
        // Fails before any task starts when the client is missing (planning itself does not
        // need a connection).
        datasync_db::oracle::client_status().map_err(PluginError::new)?;
        self.rowid_ranges(planned, channels).await
    }
}

struct OracleTask {
    reader: OracleReader,
    plan: Planned,
}

#[async_trait]
impl ReaderTask for OracleTask {
    crate::sqlsplit::planned_task!();

    async fn read(&mut self, out: BatchSender, ctx: TaskContext) -> Result<(), PluginError> {
        let cfg = &self.reader.cfg;
        let conn = self.reader.conns[self.plan.split.conn()].connect().await?;
        // A table's primary key travels with the columns, so a writer's createTable makes it.
        let key: Vec<String> = match &self.plan.split {
            SqlSplit::Table { table, .. } => {
                let q = datasync_db::oracle::primary_key_sql(table);
                conn.texts(&q)
                    .await
                    .map(|v| v.into_iter().flatten().collect())
                    .unwrap_or_else(|e| {
                        tracing::debug!("task {}: no primary key of {table}: {e}", ctx.task_id);
                        Vec::new()
                    })
            }
            SqlSplit::Query { .. } => Vec::new(),
        };
        let sql = self.plan.split.sql(
            Dialect::Oracle,
            &self.reader.own.columns,
            cfg.where_clause.as_deref(),
            cfg.split_pk.as_deref(),
        );
        let fetch = self.reader.own.fetch;
        let location = self.plan.split.describe();
        let job = tokio::task::spawn_blocking(move || {
            read_rows(&conn, &sql, fetch, &key, out, &ctx, &location)
        });
        job.await
            .map_err(|e| PluginError::new(format!("the Oracle read did not finish: {e}")))?
    }
}

/// Streams the rows of `sql` into batches (on a blocking thread).
fn read_rows(
    conn: &OracleConn,
    sql: &str,
    fetch: u32,
    key: &[String],
    mut out: BatchSender,
    ctx: &TaskContext,
    location: &str,
) -> Result<(), PluginError> {
    let c = &conn.conn;
    let mut st = c
        .statement(sql)
        .prefetch_rows(fetch)
        .fetch_array_size(fetch)
        .build()
        .map_err(|e| conn.query_error(sql, e))?;
    let rows = st.query(&[]).map_err(|e| conn.query_error(sql, e))?;
    let mut state = ReadState::new(rows.column_info(), key, ctx);
    for row in rows {
        let row = row.map_err(|e| conn.query_error(sql, e))?;
        state.push(&row, ctx, location)?;
        if state.builder.full() {
            if let Some(b) = state.builder.finish()? {
                ctx.counters.add_input_done(b.num_rows() as u64);
                out.send_blocking(Batch::new(b))?;
            }
            ctx.check_cancelled()?;
        }
    }
    if let Some(b) = state.builder.finish()? {
        ctx.counters.add_input_done(b.num_rows() as u64);
        out.send_blocking(Batch::new(b))?;
    }
    Ok(())
}

/// What a split's read builds up: the fetch kinds, the batch builder, one row's texts.
struct ReadState {
    kinds: Vec<OracleKind>,
    builder: TextBatchBuilder,
    texts: Vec<Option<Vec<u8>>>,
}

impl ReadState {
    fn new(
        columns: &[datasync_db::oracle::oracle::ColumnInfo],
        key: &[String],
        ctx: &TaskContext,
    ) -> Self {
        let typed: Vec<_> = columns
            .iter()
            .map(|c| arrow_type(c.oracle_type()))
            .collect();
        let names: Vec<String> = columns.iter().map(|c| c.name().to_string()).collect();
        let line = datasync_codec::types::columns_line(&names, typed.iter().map(|t| &t.0));
        tracing::debug!("task {}: columns {line}", ctx.task_id);
        let key_at = primary_key_positions(&names, key);
        let fields = names
            .iter()
            .zip(&typed)
            .map(|(n, t)| (n.clone(), t.0.clone(), None))
            .collect();
        let mut builder = TextBatchBuilder::new(fields, ctx.batch, false);
        for (i, t) in typed.iter().enumerate() {
            if let Some(src) = &t.2 {
                builder.map_field(i, |f| with_source_type(f, src));
            }
        }
        for (position, &i) in key_at.iter().enumerate() {
            builder.map_field(i, |f| with_primary_key(f, position + 1));
        }
        ReadState {
            kinds: typed.iter().map(|t| t.1).collect(),
            texts: vec![None; typed.len()],
            builder,
        }
    }

    /// Adds one row; a value that does not convert makes the row a dirty record.
    fn push(&mut self, row: &Row, ctx: &TaskContext, location: &str) -> Result<(), PluginError> {
        let mut failed = None;
        for (i, kind) in self.kinds.iter().enumerate() {
            match value_text(row, i, *kind) {
                Ok(t) => self.texts[i] = t,
                Err(e) => {
                    self.texts[i] = None;
                    let name = self.builder.schema().field(i).name().clone();
                    failed.get_or_insert(format!("column {name}: {e}"));
                }
            }
        }
        let texts = &self.texts;
        let pushed = match failed {
            Some(e) => Err(e),
            None => self.builder.push_row(|i| Ok(texts[i].as_deref())),
        };
        if let Err(error) = pushed {
            let values = texts
                .iter()
                .map(|t| match t {
                    Some(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
                    None => Value::Null,
                })
                .collect();
            ctx.dirty(DirtyRecord {
                error,
                columns: self.builder.names(),
                values,
                location: Some(location.to_string()),
            })?;
        }
        Ok(())
    }
}

/// Column `i` of `row` as the text the batch builder parses (`None`: NULL).
fn value_text(row: &Row, i: usize, kind: OracleKind) -> Result<Option<Vec<u8>>, String> {
    let e = |e: datasync_db::oracle::oracle::Error| e.to_string();
    Ok(match kind {
        OracleKind::Text => row
            .get::<usize, Option<String>>(i)
            .map_err(e)?
            .map(String::into_bytes),
        OracleKind::Number => match row.get::<usize, Option<String>>(i).map_err(e)? {
            Some(t) => Some(number_text(&t)?.into_bytes()),
            None => None,
        },
        OracleKind::Float32 => row
            .get::<usize, Option<f32>>(i)
            .map_err(e)?
            .map(|x| float_text(f64::from(x), true).into_bytes()),
        OracleKind::Float64 => row
            .get::<usize, Option<f64>>(i)
            .map_err(e)?
            .map(|x| float_text(x, false).into_bytes()),
        OracleKind::DateTime | OracleKind::DateTimeTz => {
            match row.get::<usize, Option<Timestamp>>(i).map_err(e)? {
                None => None,
                Some(ts) => {
                    let offset = if kind == OracleKind::DateTimeTz {
                        ts.tz_offset()
                    } else {
                        0
                    };
                    let month = ts.month();
                    let t = datetime_text(
                        (ts.year(), month, ts.day()),
                        (ts.hour(), ts.minute(), ts.second(), ts.nanosecond()),
                        offset,
                    )?;
                    Some(t.into_bytes())
                }
            }
        }
        OracleKind::Binary => row.get::<usize, Option<Vec<u8>>>(i).map_err(e)?,
        OracleKind::Boolean => row
            .get::<usize, Option<bool>>(i)
            .map_err(e)?
            .map(|b| b.to_string().into_bytes()),
    })
}
