//! The reader: validation, split planning, and streaming a split through binary COPY.

use super::copy::CopyFrames;
use super::decode::{decode, readable, ColKind, Columns, Scalar};
use crate::sqlconfig::SqlReaderConfig;
use crate::sqlreader::{SqlReader, SqlSource};
use crate::sqlsplit::{KeyProbe, Planned, RECONNECT_WINDOW};
use bytes::{Buf, BytesMut};
use datasync_db::postgres::tokio_postgres::Client;
use datasync_db::postgres::{
    array_element, arrow_type, PostgresConnConfig, PostgresError, PostgresKind,
};
use datasync_db::sql::source_type::{primary_key_positions, with_primary_key};
use datasync_db::sql::{quote_ident, reconnect, Dialect, JdbcUrl, SqlSplit};
use datasync_engine::channel::{Batch, BatchSender};
use datasync_engine::config::ConfigError;
use datasync_engine::{
    async_trait, DirtyRecord, Params, Plugin, PluginError, ReaderTask, TaskContext,
};
use futures_util::StreamExt;
use serde_json::Value;
use std::sync::Arc;

/// The PostgreSQL reader.
pub type PostgresReader = SqlReader<PostgresConnConfig>;

impl Plugin for PostgresReader {
    const NAME: &'static str = "postgres";
    const ALIASES: &'static [&'static str] = &["postgresqlreader"];
    const DESCRIPTION: &'static str =
        "PostgreSQL tables or queries via binary COPY, split on an integer or text key";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (mut cfg, conns) = SqlReaderConfig::parse(p, &[], PostgresConnConfig::new)?;
        cfg.fold_names(Dialect::Postgres);
        crate::sqlreader::build(p.path, cfg, conns, ())
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<(SqlReaderConfig,)>(g, &[])
    }

    fn template() -> Value {
        crate::sqlconfig::sql_reader_template("pg", "jdbc:postgresql://${pg_host}:5432/${pg_db}")
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        crate::sqlconfig::sql_reader_notes()
    }
}

/// The PostgreSQL answers to split planning.
pub(crate) struct PostgresProbe {
    client: datasync_db::postgres::tokio_postgres::Client,
    url: datasync_db::sql::JdbcUrl,
    cc: PostgresConnConfig,
}

#[async_trait]
impl KeyProbe for PostgresProbe {
    async fn column_type(&mut self, sql: &str) -> Result<Option<(String, bool)>, PluginError> {
        use datasync_db::postgres::tokio_postgres::types::Type;
        let stmt = self
            .client
            .prepare(sql)
            .await
            .map_err(|e| self.cc.query_error(&self.url, sql, e))?;
        Ok(stmt.columns().first().map(|c| {
            let t = c.type_();
            let integer = matches!(*t, Type::INT2 | Type::INT4 | Type::INT8);
            (t.name().to_string(), integer)
        }))
    }

    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PluginError> {
        let rows = self
            .client
            .query(sql, &[])
            .await
            .map_err(|e| self.cc.query_error(&self.url, sql, e))?;
        let texts = |row: &datasync_db::postgres::tokio_postgres::Row| {
            (0..row.len())
                .map(|i| {
                    row.try_get::<_, Option<String>>(i)
                        .map_err(|e| PluginError::new(format!("{sql}: column {i}: {e}")))
                })
                .collect()
        };
        rows.iter().map(texts).collect()
    }

    async fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, PluginError> {
        let cols = self.cc.describe(&self.client, &self.url, sql).await?;
        // Preparing checks no privilege; running the query (it returns no row) does.
        self.client
            .query(sql, &[])
            .await
            .map_err(|e| self.cc.query_error(&self.url, sql, e))?;
        Ok(cols)
    }

    fn row_estimate_sql(&self, table: &str) -> String {
        // -1 (never analyzed) does not parse as a count: unknown.
        let qt = quote_ident(Dialect::Postgres, table);
        format!(
            "SELECT reltuples::bigint::text FROM pg_class WHERE oid = to_regclass({})",
            datasync_db::sql::literal(Dialect::Postgres, &qt)
        )
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn key_indexed(
        &mut self,
        schema: Option<&str>,
        name: &str,
        pk: &str,
    ) -> Result<Option<bool>, PluginError> {
        // A usable unique index (not partial, not on an expression) on the key alone, of a
        // table no other inherits from (a child's rows are not under the parent's index).
        let q = "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] \
                 WHERE i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL \
                 AND i.indexprs IS NULL AND i.indisvalid AND i.indisready AND i.indislive \
                 AND NOT c.relhassubclass \
                 AND c.relname = $2 AND n.nspname = COALESCE($1, current_schema()) \
                 AND a.attname = $3";
        let row = self
            .client
            .query_one(q, &[&schema, &name, &pk])
            .await
            .map_err(|e| self.cc.query_error(&self.url, q, e))?;
        Ok(Some(row.get::<_, i64>(0) > 0))
    }

    async fn exec(&mut self, sql: &str) -> Result<(), PluginError> {
        self.client
            .batch_execute(sql)
            .await
            .map_err(|e| self.cc.query_error(&self.url, sql, e).into())
    }
}

#[async_trait]
impl SqlSource for PostgresReader {
    type Probe = PostgresProbe;
    const DIALECT: Dialect = Dialect::Postgres;

    async fn open_probe(&self, i: usize) -> Result<(PostgresProbe, String), PluginError> {
        let cc = self.conns[i].clone();
        let (client, url) = cc.connect().await?;
        let url = url.clone();
        let shown = url.to_string();
        Ok((PostgresProbe { client, url, cc }, shown))
    }

    fn task(&self, plan: Planned) -> Box<dyn ReaderTask> {
        Box::new(PostgresTask {
            reader: self.clone(),
            plan,
        })
    }

    fn dataset(&self, i: usize, table: &str) -> datasync_engine::lineage::Dataset {
        datasync_db::sql::dataset("postgres", self.conns[i].url(), 5432, Some("public"), table)
    }

    /// Every task reads the job's irregular array columns as text.
    async fn refine(
        &self,
        mut planned: Vec<Planned>,
        _channels: usize,
    ) -> Result<Vec<Planned>, PluginError> {
        let splits: Vec<&SqlSplit> = planned.iter().map(|p| &p.split).collect();
        let as_text: Vec<String> = self.irregular_arrays(&splits).await?.into_iter().collect();
        for p in &mut planned {
            p.as_text.clone_from(&as_text);
        }
        Ok(planned)
    }
}

impl PostgresReader {
    /// The split's query.
    fn split_sql(&self, split: &SqlSplit) -> String {
        let cfg = &self.cfg;
        split.sql(
            Dialect::Postgres,
            &cfg.column,
            cfg.where_clause.as_deref(),
            cfg.split_pk.as_deref(),
        )
    }

    /// The array columns that hold a value an Arrow list cannot: more than one dimension, or a
    /// lower bound other than 1 (`'[0:2]={1,2,3}'`). Such a column is read as PostgreSQL's
    /// array text for the whole job (one schema for every task), so no valid value becomes
    /// dirty; the check reads only those columns, once over all splits, and only when the
    /// result has array columns.
    async fn irregular_arrays(
        &self,
        splits: &[&SqlSplit],
    ) -> Result<std::collections::BTreeSet<String>, PluginError> {
        let mut found = std::collections::BTreeSet::new();
        let Some(first) = splits.first() else {
            return Ok(found);
        };
        let cc = &self.conns[first.conn()];
        let (client, url) = cc.connect().await?;
        let sql = self.split_sql(first);
        let stmt = client
            .prepare(&sql)
            .await
            .map_err(|e| cc.query_error(url, &sql, e))?;
        let arrays: Vec<String> = stmt
            .columns()
            .iter()
            .filter(|c| array_element(c.type_()).is_some())
            .map(|c| c.name().to_string())
            .collect();
        drop(client);
        if arrays.is_empty() {
            return Ok(found);
        }
        let checks: Vec<String> = arrays
            .iter()
            .map(|a| {
                let q = format!("q.{}", quote_ident(Dialect::Postgres, a));
                format!(
                    "coalesce(bool_or(array_ndims({q}) > 1 OR array_lower({q}, 1) <> 1), false)"
                )
            })
            .collect();
        for split in splits {
            let cc = &self.conns[split.conn()];
            let (client, url) = cc.connect().await?;
            let q = format!(
                "SELECT {} FROM ({}) AS q",
                checks.join(", "),
                self.split_sql(split)
            );
            let row = client
                .query_one(q.as_str(), &[])
                .await
                .map_err(|e| cc.query_error(url, &q, e))?;
            for (i, a) in arrays.iter().enumerate() {
                if row.get::<_, bool>(i) {
                    found.insert(a.clone());
                }
            }
        }
        for a in &found {
            tracing::info!(
                "column {a} holds arrays of more than one dimension or with a lower bound \
                 other than 1: read as PostgreSQL array text (createTable keeps the array type)"
            );
        }
        Ok(found)
    }
}

/// Precision of a decimal type (0 for others).
fn precision(t: &arrow_schema::DataType) -> u8 {
    match t {
        arrow_schema::DataType::Decimal128(p, _) | arrow_schema::DataType::Decimal256(p, _) => *p,
        _ => 0,
    }
}

/// A split; `plan.as_text`: array columns read as text (see
/// `PostgresReader::irregular_arrays`); `plan.resumable`: a key range on an indexed splitPk,
/// read in key order and continued after the last key when the connection is lost.
struct PostgresTask {
    reader: PostgresReader,
    plan: Planned,
}

/// What a split's read builds up across reconnects.
struct SplitRead {
    /// Names of the columns sent (an appended key is not one).
    names: Vec<String>,
    /// Decoders of every COPY column (an appended key last).
    kinds: Vec<ColKind>,
    /// How many columns are sent.
    width: usize,
    /// The batch being built.
    cols: Columns,
    /// Where the split key is in a COPY row, while the read can go on after it.
    key_col: Option<usize>,
    /// The last key read.
    after: Option<i128>,
}

#[async_trait]
impl ReaderTask for PostgresTask {
    crate::sqlsplit::planned_task!();

    async fn read(&mut self, mut out: BatchSender, ctx: TaskContext) -> Result<(), PluginError> {
        let cfg = &self.reader.cfg;
        let cc = &self.reader.conns[self.plan.split.conn()];
        let keyed_pk = cfg.split_pk.as_deref().filter(|_| self.plan.resumable);
        let open = || async { cc.connect().await.map(|(c, u)| (c, u.clone())) };
        let (mut client, mut url) = open().await?;
        let mut read: Option<SplitRead> = None;
        let mut lost: Option<std::time::Instant> = None;
        loop {
            let after = read.as_ref().and_then(|r| r.after);
            let keyed = keyed_pk.and_then(|pk| {
                self.plan.split.keyed_sql(
                    Dialect::Postgres,
                    &cfg.column,
                    cfg.where_clause.as_deref(),
                    pk,
                    after,
                )
            });
            // Where the key is in each row: one of the job's columns, or an extra last one.
            let key_at = keyed.as_ref().map(|(_, at)| *at);
            let sql = keyed
                .map(|(sql, _)| sql)
                .unwrap_or_else(|| self.reader.split_sql(&self.plan.split));
            // How long to wait for the source: after a cut, the whole window; after a query
            // that failed on the new connection, what is left of it.
            let wait = match self
                .open_split(&client, &url, &sql, key_at, &mut read)
                .await
            {
                Ok((copy_sql, r)) => {
                    let Some(cut) = self
                        .copy_into(&client, &url, &copy_sql, r, &mut out, &ctx)
                        .await?
                    else {
                        break;
                    };
                    if key_at.is_none() || r.key_col.is_none() {
                        return Err(cut.into());
                    }
                    crate::sqlsplit::warn_cut(ctx.task_id, &cut, r.after);
                    lost = Some(std::time::Instant::now());
                    RECONNECT_WINDOW
                }
                // A server that came back but cannot take the query yet.
                Err(e) => {
                    match crate::sqlsplit::time_left(lost, key_at.is_some(), e.is_retriable()) {
                        Some(left) => left,
                        None => return Err(e.into()),
                    }
                }
            };
            (client, url) =
                reconnect(&url.to_string(), wait, PostgresError::is_retriable, open).await?;
        }
        if let Some(b) = read
            .as_mut()
            .map(|r| r.cols.finish())
            .transpose()
            .map_err(|e| PluginError::new(PostgresError::Invalid(e)))?
            .flatten()
        {
            ctx.counters.add_input_done(b.num_rows() as u64);
            out.send(Batch::new(b)).await?;
        }
        Ok(())
    }
}

impl PostgresTask {
    /// Prepares `sql` and plans its COPY; the first time, also the split's read (the Arrow
    /// schema, with the table's primary key). Returns the COPY statement and the read.
    async fn open_split<'r>(
        &self,
        client: &Client,
        url: &JdbcUrl,
        sql: &str,
        key_at: Option<Option<usize>>,
        read: &'r mut Option<SplitRead>,
    ) -> Result<(String, &'r mut SplitRead), PostgresError> {
        let cc = &self.reader.conns[self.plan.split.conn()];
        let stmt = client
            .prepare(sql)
            .await
            .map_err(|e| cc.query_error(url, sql, e))?;
        let mut plan = plan_columns(stmt.columns(), sql, &self.plan.as_text)?;
        if let Some(r) = read {
            if plan.kinds.len() != r.kinds.len() {
                return Err(PostgresError::Invalid(format!(
                    "{}: the query returned {} columns after reconnecting, {} before",
                    self.plan.split.describe(),
                    plan.kinds.len(),
                    r.kinds.len()
                )));
            }
            return Ok((plan.copy_sql, r));
        }
        let appended = key_at == Some(None);
        let width = plan.fields.len().saturating_sub(usize::from(appended));
        plan.fields.truncate(width);
        // A table's primary key travels with the columns, so a writer's createTable makes it.
        if let SqlSplit::Table { table, .. } = &self.plan.split {
            let q = datasync_db::postgres::PRIMARY_KEY_SQL;
            let regclass = quote_ident(Dialect::Postgres, table);
            match client.query(q, &[&regclass]).await {
                Ok(rows) => {
                    let key: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
                    let names: Vec<String> = plan.fields.iter().map(|f| f.name().clone()).collect();
                    for (position, i) in primary_key_positions(&names, &key).into_iter().enumerate()
                    {
                        plan.fields[i] = with_primary_key(plan.fields[i].clone(), position + 1);
                    }
                }
                Err(e) => tracing::debug!("no primary key of {table}: {e}"),
            }
        }
        let names: Vec<String> = plan.fields.iter().map(|f| f.name().clone()).collect();
        let types = plan.fields.iter().map(|f| f.data_type());
        let line = datasync_codec::types::columns_line(&names, types);
        tracing::debug!("columns {line}");
        let schema = Arc::new(arrow_schema::Schema::new(plan.fields));
        let cols = Columns::new(schema).map_err(PostgresError::Invalid)?;
        // Only an integer key is one to go on after.
        let key_col = key_at
            .map(|at| at.unwrap_or(width))
            .filter(|k| plan.kinds.get(*k).is_some_and(|c| integer(*c)));
        let r = read.insert(SplitRead {
            names,
            kinds: plan.kinds,
            width,
            cols,
            key_col,
            after: None,
        });
        Ok((plan.copy_sql, r))
    }

    /// Streams one COPY into `r`, sending full batches and dirty rows. `Some(e)`: the
    /// connection was lost (`e` is retriable); what was read stays in `r`, and `r.after` is
    /// the last key read.
    async fn copy_into(
        &self,
        client: &Client,
        url: &JdbcUrl,
        copy_sql: &str,
        r: &mut SplitRead,
        out: &mut BatchSender,
        ctx: &TaskContext,
    ) -> Result<Option<PostgresError>, PluginError> {
        let cc = &self.reader.conns[self.plan.split.conn()];
        let lost_or_failed = |e| {
            let e = cc.query_error(url, copy_sql, e);
            if e.is_retriable() {
                Ok(Some(e))
            } else {
                Err(PluginError::from(e))
            }
        };
        let stream = match client.copy_out(copy_sql).await {
            Ok(s) => s,
            Err(e) => return lost_or_failed(e),
        };
        futures_util::pin_mut!(stream);
        let invalid = |e| PluginError::new(PostgresError::Invalid(e));
        let mut buf = BytesMut::new();
        let mut frames = CopyFrames::new(r.kinds.len());
        let mut dirty_rows: Vec<(String, Vec<Value>)> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => return lost_or_failed(e),
            };
            buf.extend_from_slice(&chunk);
            while let Some((spans, len)) = frames.next(&mut buf).map_err(invalid)? {
                if let Some(k) = r.key_col {
                    // A row is read once it is whole, dirty or not: the read goes on after it.
                    match spans[k].and_then(|(at, n)| key_of(r.kinds[k], &buf[at..at + n])) {
                        Some(key) => r.after = Some(key),
                        None => r.key_col = None,
                    }
                }
                let w = r.width;
                match decode_row(&buf, &spans[..w], &r.kinds[..w], &r.names) {
                    Ok(row) => r.cols.push(&row),
                    Err(bad) => dirty_rows.push(bad),
                }
                buf.advance(len);
                let (n, bytes) = r.cols.size();
                if n >= ctx.batch.rows || bytes >= ctx.batch.bytes {
                    break;
                }
            }
            for (error, values) in dirty_rows.drain(..) {
                ctx.dirty(DirtyRecord {
                    error,
                    columns: r.names.clone(),
                    values,
                    location: Some(self.plan.split.describe()),
                })?;
            }
            let (n, bytes) = r.cols.size();
            if n >= ctx.batch.rows || bytes >= ctx.batch.bytes {
                if let Some(b) = r.cols.finish().map_err(invalid)? {
                    ctx.counters.add_input_done(b.num_rows() as u64);
                    out.send(Batch::new(b)).await?;
                }
                ctx.check_cancelled()?;
            }
        }
        Ok(None)
    }
}

/// Whether a column holds integers: a split key the read can go on after.
fn integer(kind: ColKind) -> bool {
    matches!(
        kind.kind,
        PostgresKind::I16 | PostgresKind::I32 | PostgresKind::I64
    )
}

/// The value of an integer split key (`None`: not an integer).
fn key_of(kind: ColKind, b: &[u8]) -> Option<i128> {
    match decode(kind, b).ok()? {
        Scalar::I16(v) => Some(v.into()),
        Scalar::I32(v) => Some(v.into()),
        Scalar::I64(v) => Some(v.into()),
        _ => None,
    }
}

/// The Arrow fields, decoders and the COPY statement for a query's result columns.
struct ColumnPlan {
    fields: Vec<arrow_schema::Field>,
    kinds: Vec<ColKind>,
    copy_sql: String,
}

/// Maps each result column to an Arrow type and decoder; a type without a binary decoder
/// here is selected as `::text` (the query wrapped once, so its names must be unique).
fn plan_columns(
    columns: &[datasync_db::postgres::tokio_postgres::Column],
    sql: &str,
    as_text: &[String],
) -> Result<ColumnPlan, PostgresError> {
    let mut fields = Vec::new();
    let mut kinds = Vec::new();
    let mut select = Vec::new();
    let mut needs_wrap = false;
    for c in columns {
        let q = format!("q.{}", quote_ident(Dialect::Postgres, c.name()));
        let typed = match arrow_type(c.type_(), c.type_modifier()) {
            Some(_) if as_text.iter().any(|a| a == c.name()) => None,
            t => t,
        };
        match typed {
            Some((t, kind)) => {
                let elem = array_element(c.type_()).map(|(et, ek)| (ek, precision(&et)));
                kinds.push(ColKind {
                    kind,
                    precision: precision(&t),
                    elem,
                });
                fields.push(arrow_schema::Field::new(c.name(), t, true));
                select.push(q);
            }
            None => {
                needs_wrap = true;
                fields.push(arrow_schema::Field::new(
                    c.name(),
                    arrow_schema::DataType::Utf8,
                    true,
                ));
                kinds.push(ColKind {
                    kind: PostgresKind::Text,
                    precision: 0,
                    elem: None,
                });
                // money's text carries the locale's currency sign and separators
                // ($1,234.50): its numeric value is what a target can hold.
                use datasync_db::postgres::tokio_postgres::types::Type;
                if *c.type_() == Type::MONEY {
                    select.push(format!("{q}::numeric::text"));
                } else if *c.type_() == Type::INET {
                    // inet's cast to text always adds the netmask (10.0.0.1/32); its output
                    // (what psql and DataX show) drops it for a single host.
                    select.push(format!("abbrev({q})"));
                } else {
                    select.push(format!("{q}::text"));
                }
            }
        }
    }
    for (f, c) in fields.iter_mut().zip(columns) {
        let array_text = as_text
            .iter()
            .any(|a| a == c.name())
            .then(|| array_element(c.type_()))
            .flatten()
            .and_then(|(elem, _)| datasync_db::postgres::ddl_type(&elem))
            .map(|elem| format!("array:{elem}[]"));
        if let Some(t) =
            array_text.or_else(|| datasync_db::postgres::source_type(c.type_(), c.type_modifier()))
        {
            *f = datasync_db::sql::source_type::with_source_type(f.clone(), &t);
        }
    }
    let copy_sql = if needs_wrap {
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = fields.iter().find(|f| !seen.insert(f.name().clone())) {
            return Err(PostgresError::Invalid(format!(
                "column name {} appears twice; alias the columns so each name is unique",
                dup.name()
            )));
        }
        format!(
            "COPY (SELECT {} FROM ({sql}) AS q) TO STDOUT (FORMAT binary)",
            select.join(", ")
        )
    } else {
        format!("COPY ({sql}) TO STDOUT (FORMAT binary)")
    };
    Ok(ColumnPlan {
        fields,
        kinds,
        copy_sql,
    })
}

/// Decodes one tuple (its field spans in `buf`); a value that does not decode makes the row a
/// dirty record: (error, the row's values as readable text).
fn decode_row<'a>(
    buf: &'a [u8],
    spans: &[Option<(usize, usize)>],
    kinds: &[ColKind],
    names: &[String],
) -> Result<Vec<Scalar<'a>>, (String, Vec<Value>)> {
    let mut row: Vec<Scalar<'a>> = Vec::with_capacity(spans.len());
    for (i, span) in spans.iter().enumerate() {
        let v = match span {
            None => Ok(Scalar::Null),
            Some((at, len)) => decode(kinds[i], &buf[*at..*at + *len]),
        };
        match v {
            Ok(v) => row.push(v),
            Err(e) => {
                let values = spans
                    .iter()
                    .zip(kinds)
                    .map(|(s, k)| match s {
                        None => Value::Null,
                        Some((at, len)) => readable(*k, &buf[*at..*at + *len]),
                    })
                    .collect();
                return Err((format!("column {}: {e}", names[i]), values));
            }
        }
    }
    Ok(row)
}
