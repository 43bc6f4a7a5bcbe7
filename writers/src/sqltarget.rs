//! What the SQL writers share about their target: the `connection[]` entry, its validation,
//! and matching the writer's `column` list to the incoming batches.

use crate::sqlsteps::TargetSpec;
use arrow_array::RecordBatch;
use datasync_codec::values::column_names;
use datasync_db::sql::{expand_tables, Dialect};
use datasync_engine::config::{join_path, one_or_many, ConfigError};
use datasync_engine::PluginError;
use serde::Deserialize;
use std::sync::Arc;

/// The `parameter` keys every SQL writer shares (DataX's names); each writer parses its own
/// keys (`writeMode`, `batchSize`, ...) beside these.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SqlWriterParams {
    /// User name.
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: datasync_engine::Secret,
    /// Target columns in the order the reader produces them; `["*"]` = the table's columns
    /// (or the reader's names).
    pub column: Vec<String>,
    /// Where to write (one entry, its `table[0]`).
    pub connection: Vec<SqlWriterConnection>,
    /// Statements run before the target table is inspected (`@table` = the table).
    #[serde(default)]
    pub pre_sql: Vec<String>,
    /// Statements run after every task succeeded (`@table` = the table).
    #[serde(default)]
    pub post_sql: Vec<String>,
    /// Statements run on each new connection.
    #[serde(default)]
    pub session: Vec<String>,
    /// Create a missing table from the incoming Arrow schema (off by default).
    #[serde(default, with = "datasync_engine::schema::Lenient::<bool>")]
    pub create_table: bool,
    /// How long a task waits for a lost server to come back (reconnecting with backoff)
    /// before it fails; `0` = fail at once. Default 60s.
    #[serde(default = "default_reconnect_timeout")]
    pub reconnect_timeout: datasync_engine::config::HumanDuration,
    /// `none` (default): units commit into the target as they go; `table`: each task writes
    /// a staging table, commit moves them all in one transaction (see docs/faults.md).
    #[serde(default)]
    pub staging_mode: StagingMode,
}

impl SqlWriterParams {
    /// Folds the names DataX hands to the server unquoted (tables, columns) as server `d`
    /// folds them ([`datasync_db::sql::fold_unquoted`]): the rows then go where `@table` in
    /// preSql/postSql points.
    pub fn fold_names(&mut self, d: Dialect) {
        let fold = |n: &mut String| *n = datasync_db::sql::fold_unquoted(d, n);
        for c in &mut self.connection {
            c.table.iter_mut().for_each(fold);
        }
        if self.column != ["*"] {
            self.column.iter_mut().for_each(fold);
        }
    }
}

/// One `connection[]` entry of a SQL writer.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SqlWriterConnection {
    /// URL (or URLs tried in order).
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "datasync_engine::schema::OneOrMany")]
    pub jdbc_url: Vec<String>,
    /// Target table (one).
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "datasync_engine::schema::OneOrMany")]
    pub table: Vec<String>,
}

/// One target table of a SQL writer: its `connection[]` entry, the table, and the path of the
/// entry's `jdbcUrl`.
pub type SqlTarget<'a> = (&'a SqlWriterConnection, String, String);

/// The writer's target tables in order: every `connection[]` entry's `table` list, with DataX's
/// comma lists and ranges (`order_[0-63]`) expanded. Several targets are DataX's sharded write:
/// writer task i writes table i, paired with reader task i (see [`shards_for`]).
pub fn sql_targets<'a>(
    connection: &'a [SqlWriterConnection],
    column: &[String],
    path: &str,
) -> Result<Vec<SqlTarget<'a>>, ConfigError> {
    let at = join_path(path, "connection");
    if connection.is_empty() {
        return Err(ConfigError::new(at, "needs one entry"));
    }
    let mut out = Vec::new();
    for (i, c) in connection.iter().enumerate() {
        let tables =
            expand_tables(&c.table).map_err(|e| ConfigError::new(format!("{at}[{i}].table"), e))?;
        if tables.is_empty() || tables.iter().any(|t| t.trim().is_empty()) {
            return Err(ConfigError::new(
                format!("{at}[{i}].table"),
                "name the target table",
            ));
        }
        for t in tables {
            out.push((c, t, format!("{at}[{i}].jdbcUrl")));
        }
    }
    if column.is_empty() {
        return Err(ConfigError::new(
            join_path(path, "column"),
            "list the target columns, or [\"*\"]",
        ));
    }
    // A table twice in a sharded write would get two tasks' rows, preSql twice and, staged,
    // one publish replacing the other.
    let mut seen = std::collections::HashSet::new();
    for (c, t, _) in &out {
        if !seen.insert((c.jdbc_url.clone(), t.clone())) {
            return Err(ConfigError::new(
                at,
                format!(
                    "target table {t} is listed twice: a sharded write names each table once \
                     (writer task i writes table i)"
                ),
            ));
        }
    }
    Ok(out)
}

/// A SQL writer of one system: its connection settings `C` and its own parameters `K`
/// beside the shared target spec. Every SQL system's writer is this struct (one alias each).
pub struct SqlWriter<C, K> {
    pub(crate) cfg: Arc<K>,
    pub(crate) conn: Arc<C>,
    pub(crate) table: String,
    /// Whether a task ran `createTable`'s statement.
    pub(crate) created: Arc<tokio::sync::Mutex<bool>>,
    pub(crate) spec: Arc<TargetSpec>,
    /// A sharded write's single-table writers (see `SqlWriterSteps::shards`).
    pub(crate) shards: Arc<Vec<SqlWriter<C, K>>>,
}

impl<C, K> Clone for SqlWriter<C, K> {
    fn clone(&self) -> Self {
        SqlWriter {
            cfg: self.cfg.clone(),
            conn: self.conn.clone(),
            table: self.table.clone(),
            created: self.created.clone(),
            spec: self.spec.clone(),
            shards: self.shards.clone(),
        }
    }
}

impl<C, K> SqlWriter<C, K> {
    /// Records row `r` of `batch` as dirty, located at the target table.
    pub(crate) fn dirty(
        &self,
        ctx: &datasync_engine::TaskContext,
        batch: &RecordBatch,
        r: usize,
        error: String,
    ) -> Result<(), datasync_engine::PluginError> {
        ctx.dirty(datasync_codec::values::dirty_row(
            batch,
            r,
            error,
            Some(self.table.clone()),
        ))
    }

    /// `createTable`: the first task to get here builds the CREATE TABLE statement (`sql`) and
    /// runs it (`run`); the others wait for it and go on. A failure leaves it to the next task.
    pub(crate) async fn create_once<E, Fut>(
        &self,
        sql: impl FnOnce() -> Result<String, E>,
        run: impl FnOnce(String) -> Fut,
    ) -> Result<(), E>
    where
        Fut: std::future::Future<Output = Result<(), E>>,
    {
        let mut created = self.created.lock().await;
        if !*created {
            run(sql()?).await?;
            *created = true;
        }
        Ok(())
    }
}

/// Counts a committed unit in `done` (units, rows) and the job's counters: `landed` of its
/// `rows` rows went in; the bytes written are their share of the unit's `bytes`.
pub(crate) fn count_unit(
    ctx: &datasync_engine::TaskContext,
    done: &mut (u64, u64),
    landed: usize,
    rows: usize,
    bytes: u64,
) {
    ctx.counters
        .add_written(landed as u64, bytes * landed as u64 / (rows as u64).max(1));
    done.0 += 1;
    done.1 += landed as u64;
}

impl<C, K> std::fmt::Debug for SqlWriter<C, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlWriter")
            .field("table", &self.table)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl<C, K> SqlWriter<C, K> {
    /// The writer of `targets`: for one table its writer; for several (a sharded write) the
    /// first table's writer with every table's writer as its shards. `connect` makes the
    /// connection settings of a target's connection (`url_at`: its jdbcUrl's JSON path).
    pub(crate) fn build(
        targets: &[SqlTarget<'_>],
        sql: &SqlWriterParams,
        dialect: Dialect,
        cfg: K,
        connect: datasync_db::sql::ConnFromParams<C>,
    ) -> Result<Self, ConfigError> {
        let cfg = Arc::new(cfg);
        let mut shards = targets
            .iter()
            .map(|(c, table, url_at)| {
                Ok(SqlWriter {
                    cfg: cfg.clone(),
                    conn: Arc::new(connect(datasync_db::sql::ConnKeys {
                        urls: &c.jdbc_url,
                        username: &sql.username,
                        password: &sql.password,
                        session: &sql.session,
                        at: url_at,
                    })?),
                    table: table.to_string(),
                    created: Default::default(),
                    spec: Arc::new(TargetSpec::new(table, dialect, sql.clone())),
                    shards: Default::default(),
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(if shards.len() == 1 {
            shards.remove(0)
        } else {
            SqlWriter {
                shards: Arc::new(shards.clone()),
                ..shards.remove(0)
            }
        })
    }

    /// The target table, quoted for `dialect`.
    pub(crate) fn qtable(&self) -> String {
        datasync_db::sql::quote_ident(self.spec.dialect, &self.table)
    }
}

/// `job.verify`: the target tables read back, after the commit, by the same system's reader,
/// through the writer's connection settings (and `filter` as its `where`). With
/// `stagingMode: table` (one connection) the run's `staged` tables are read instead, before
/// the commit moves them: they hold this run's rows only, so `filter` does not apply.
/// `staged: None`: the published table (`datasync diff`).
pub(crate) fn read_back(
    spec: &crate::sqlsteps::TargetSpec,
    filter: Option<&str>,
    staged: Option<Vec<String>>,
) -> datasync_engine::plugin::ReadBack {
    let p = &spec.params;
    let staging = p.staging_mode == StagingMode::Table && p.connection.len() == 1;
    let staged = staged.filter(|_| staging);
    let staging = staged.is_some();
    let plugin = match spec.dialect {
        Dialect::MySql => "mysql",
        Dialect::Postgres => "postgres",
        Dialect::Oracle => "oracle",
    };
    let all = p.column == ["*"];
    let names: Vec<String> = if all {
        Vec::new()
    } else {
        p.column
            .iter()
            .map(|c| datasync_db::sql::unquote_ident(c.trim()))
            .collect()
    };
    let select: Vec<String> = if all {
        vec!["*".into()]
    } else {
        names
            .iter()
            .map(|n| datasync_db::sql::quote_ident(spec.dialect, n))
            .collect()
    };
    let mut parameter = serde_json::json!({
        "username": p.username,
        "password": p.password.expose(),
        "column": select,
        "session": p.session,
        "connection": p.connection.iter().map(|c| serde_json::json!({
            "jdbcUrl": c.jdbc_url,
            "table": staged.clone().unwrap_or_else(|| c.table.clone()),
        })).collect::<Vec<_>>(),
    });
    if let Some(w) = filter.filter(|_| !staging) {
        parameter["where"] = serde_json::Value::String(w.to_string());
    }
    datasync_engine::plugin::ReadBack::Reader {
        plugin,
        parameter,
        staged: staging,
        columns: names.into_iter().map(Some).collect(),
        count_only: false,
        filters: true,
    }
}

/// A sharded write pairs target table i with reader task i (as DataX does), so the reader must
/// make exactly one task per target table; each pair is logged, so the job says which source
/// went to which table.
pub(crate) fn pair_shards<W>(
    shards: &[W],
    tasks: &[String],
    table: impl Fn(&W) -> &str,
) -> Result<(), PluginError> {
    if shards.is_empty() {
        return Ok(());
    }
    if shards.len() != tasks.len() {
        return Err(PluginError::new(format!(
            "the writer has {} target tables ({} .. {}) and the reader made {} task(s): a \
             sharded write pairs reader task i with target table i, as DataX does, so the reader \
             must read as many tables as the writer names, one task each (no splitPk)",
            shards.len(),
            shards.first().map(&table).unwrap_or_default(),
            shards.last().map(&table).unwrap_or_default(),
            tasks.len(),
        )));
    }
    for (w, t) in shards.iter().zip(tasks) {
        tracing::info!("sharded write: {t} -> {}", table(w));
    }
    Ok(())
}

/// `column: ["*"]` with reader `names` that are not all columns of `table`: the rows go by
/// position into its first columns, as DataX writes them; says so.
pub fn warn_positional(table: &str, names: &[String]) {
    tracing::warn!(
        "{table}: column [\"*\"]: the reader's columns ({}) are not all columns of the target, \
         so rows are written by position into its first {} columns, as DataX does; list the \
         target columns to write by name",
        names.join(", "),
        names.len()
    );
}

/// The target column names for `batch`: the configured list (which must match the batch's
/// width) or, for `["*"]`, the batch's own names.
pub fn target_columns(column: &[String], batch: &RecordBatch) -> Result<Vec<String>, String> {
    if column == ["*"] {
        return Ok(column_names(batch));
    }
    if column.len() != batch.num_columns() {
        return Err(format!(
            "the writer lists {} columns ({}) but the reader produces {} ({})",
            column.len(),
            column.join(", "),
            batch.num_columns(),
            column_names(batch).join(", ")
        ));
    }
    Ok(column.to_vec())
}

/// `CREATE TABLE IF NOT EXISTS` for `createTable`: the batch's columns mapped by `ddl` (the
/// system's type table, which honours a recorded source type) under the target column `names`.
pub fn create_table_sql(
    d: datasync_db::sql::Dialect,
    table: &str,
    batch: &RecordBatch,
    names: &[String],
    ddl: fn(&arrow_schema::Field) -> Option<String>,
    key_ok: fn(&str) -> bool,
) -> Result<String, String> {
    let schema = batch.schema();
    let mut cols = Vec::with_capacity(names.len());
    let mut key_types_ok = true;
    for (f, name) in schema.fields().iter().zip(names) {
        let t = ddl(f).ok_or_else(|| {
            format!(
                "createTable: no {} type for column {name} of type {}",
                d.name(),
                datasync_codec::types::type_name(f.data_type())
            )
        })?;
        if f.metadata()
            .contains_key(datasync_db::sql::source_type::PRIMARY_KEY)
            && !key_ok(&t)
        {
            key_types_ok = false;
        }
        cols.push(format!("{} {t}", datasync_db::sql::quote_ident(d, name)));
    }
    // The source's primary key (when the reader read all of it), so update/upsert work on
    // the created table.
    let key = datasync_db::sql::source_type::primary_key_of(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref())
            .zip(names.iter().map(String::as_str)),
    );
    if !key.is_empty() && !key_types_ok {
        tracing::warn!(
            "createTable: {table} gets no primary key: the source's key ({}) has a text column, \
             and {}'s text collations would merge keys the source keeps apart (case, accents, \
             trailing spaces); add a key yourself for writeMode update",
            key.join(", "),
            d.name()
        );
    } else if !key.is_empty() {
        cols.push(format!(
            "PRIMARY KEY ({})",
            key.iter()
                .map(|k| datasync_db::sql::quote_ident(d, k))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        datasync_db::sql::quote_ident(d, table),
        cols.join(", ")
    ))
}

/// Default of the SQL writers' `reconnectTimeout`: long enough for a server restart or a
/// failover, short enough that a dead server fails the job within minutes.
pub fn default_reconnect_timeout() -> datasync_engine::config::HumanDuration {
    datasync_engine::config::HumanDuration(std::time::Duration::from_secs(60))
}

/// A SQL writer task's failure after it had committed some units: those stay in the target
/// (no job-wide transaction), and the report says how many.
#[derive(Debug, thiserror::Error)]
#[error("{source} ({units} unit(s), {rows} row(s) of this task were committed before; they stay in the target)")]
pub struct AfterCommitted {
    /// Units (transactions) committed by this task.
    pub units: u64,
    /// Rows in them.
    pub rows: u64,
    source: datasync_engine::PluginError,
}

/// A SQL writer's task: batches written in units of one transaction, counted as they commit.
#[datasync_engine::async_trait]
pub(crate) trait UnitTask: Send {
    /// Writes every batch; `done` counts the committed units and rows.
    async fn write_units(
        &mut self,
        input: datasync_engine::channel::BatchReceiver,
        ctx: datasync_engine::TaskContext,
        done: &mut (u64, u64),
    ) -> Result<(), PluginError>;
}

/// A [`UnitTask`] as the engine's task: an error after some units committed says how many.
pub(crate) struct Units {
    pub task: Box<dyn UnitTask>,
    /// Whether a failed attempt can run again from the start without duplicating rows: each
    /// attempt makes its staging table afresh, or the write mode rewrites the same rows.
    pub retry_safe: bool,
}

#[datasync_engine::async_trait]
impl datasync_engine::WriterTask for Units {
    fn retry_safe(&self) -> bool {
        self.retry_safe
    }

    async fn write(
        &mut self,
        input: datasync_engine::channel::BatchReceiver,
        ctx: datasync_engine::TaskContext,
    ) -> Result<(), PluginError> {
        let mut done = (0, 0);
        self.task
            .write_units(input, ctx, &mut done)
            .await
            .map_err(|e| after_committed(e, done.0, done.1))
    }
}

/// Wraps `e` with what the task had committed, unless nothing was, or `e` is the job stopping
/// (cancellation, the error limit, a closed channel), which the runner reports on its own.
pub(crate) fn after_committed(
    e: datasync_engine::PluginError,
    units: u64,
    rows: u64,
) -> datasync_engine::PluginError {
    use datasync_engine::plugin::Cancelled;
    if units == 0
        || e.is::<Cancelled>()
        || e.is::<datasync_engine::dirty::DirtyError>()
        || e.is::<datasync_engine::channel::Closed>()
    {
        return e;
    }
    let retriable = e.is_retriable();
    let wrapped = AfterCommitted {
        units,
        rows,
        source: e,
    };
    if retriable {
        datasync_engine::PluginError::retriable(wrapped)
    } else {
        datasync_engine::PluginError::new(wrapped)
    }
}

/// `stagingMode` of the SQL writers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StagingMode {
    /// Tasks write into the target; each unit commits on its own (DataX's behaviour).
    #[default]
    None,
    /// Each task writes into its own staging table; commit moves every staging table into
    /// the target in one transaction, with the destructive `preSql` (truncate/delete) first;
    /// abort drops them. A failed job leaves the target as it was.
    Table,
}

/// Name prefix of staging tables; they live in the target's schema.
pub(crate) const STAGE_PREFIX: &str = "datasync_stg_";

/// The staging table of task `task` of this run, next to `table` (same schema, written as the
/// job wrote it).
pub(crate) fn staging_table(table: &str, task: usize) -> String {
    let name = format!("{STAGE_PREFIX}{}_{task}", datasync_engine::run_id());
    let parts = datasync_db::sql::split_ident(table);
    match parts.split_last() {
        Some((_, schema)) if !schema.is_empty() => format!("{}.{name}", schema.join(".")),
        _ => name,
    }
}

/// The schema `table` names, as the server stores it (quotes removed), if it names one.
pub(crate) fn schema_of(table: &str) -> Option<String> {
    datasync_db::sql::schema_and_name(table).0
}

/// The comment a staging table carries: what it stages and which process owns it.
pub(crate) fn staging_comment(table: &str) -> String {
    format!(
        "datasync staging of {} by {}",
        table.replace('\'', ""),
        crate::owner::owner()
    )
}

/// Whether a preSql statement may remove rows of the target (it names `TRUNCATE` or `DELETE`
/// anywhere, e.g. in a `WITH` or after a comment): in table staging mode it runs in the final
/// transaction, so a failed job leaves the target as it was. A false alarm only runs a
/// statement later.
pub(crate) fn is_destructive(stmt: &str) -> bool {
    stmt.to_ascii_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w == "truncate" || w == "delete")
}

/// `stmt` without the comments (`-- ...` lines, `/* ... */`) and blanks before its first word.
#[cfg(any(feature = "mysql", test))]
pub(crate) fn strip_leading_comments(stmt: &str) -> &str {
    let mut rest = stmt.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r
                .split_once('\n')
                .map(|(_, t)| t)
                .unwrap_or("")
                .trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r
                .split_once("*/")
                .map(|(_, t)| t)
                .unwrap_or("")
                .trim_start();
        } else {
            return rest;
        }
    }
}

/// The staging tables of a run: per task, the staging table and the statement that moves its
/// rows into the target (set when the task has seen its first batch).
#[derive(Debug, Default)]
pub(crate) struct Staged(std::sync::Mutex<std::collections::BTreeMap<usize, (String, String)>>);

impl Staged {
    /// Records (or replaces, on a retry) task `task`'s staging table and move statement.
    pub(crate) fn set(&self, task: usize, table: String, move_sql: String) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(task, (table, move_sql));
        }
    }
    /// Every (staging table, move statement), in task order.
    pub(crate) fn all(&self) -> Vec<(String, String)> {
        self.0
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
    /// Task `task`'s staging table and move statement, once it has them.
    pub(crate) fn get(&self, task: usize) -> Option<(String, String)> {
        self.0.lock().ok().and_then(|m| m.get(&task).cloned())
    }
    /// Forgets every staging table (after they were dropped).
    pub(crate) fn clear(&self) {
        if let Ok(mut m) = self.0.lock() {
            m.clear();
        }
    }
}

/// Of the staging tables `found` (name, comment) next to a target, those a killed run left
/// behind (owner process gone, on this host): they may be dropped. Others are logged.
pub(crate) fn stale_stages(found: Vec<(String, String)>) -> Vec<String> {
    let host = crate::owner::hostname();
    let mut stale = Vec::new();
    for (name, comment) in found {
        if name.contains(datasync_engine::run_id()) {
            continue;
        }
        let owner = comment.rsplit_once(" by ").map(|(_, o)| o).unwrap_or("");
        match crate::owner::owner_state(owner, &host) {
            crate::owner::Owner::Gone => stale.push(name),
            crate::owner::Owner::Elsewhere(why) => {
                tracing::info!("staging table {name} belongs to {why}; left alone")
            }
            crate::owner::Owner::Unknown => {
                tracing::warn!("staging table {name} names no owner; left alone (drop it by hand if no run uses it)")
            }
        }
    }
    stale
}

/// Why table staging published nothing: the target refused the publishing transaction (e.g.
/// an insert-mode row whose key is already in the target) and rolled it back.
pub(crate) fn unpublished_message(table: &str, sql: &str, cause: &str) -> String {
    format!(
        "{table} refused the rows of the staging tables ({cause}); the publishing transaction \
         was rolled back, so {table} is as it was: nothing was published to it (statement: {})",
        datasync_db::sql::shorten_sql(sql)
    )
}

/// How a SQL writer's run resumes: a direct write in an idempotent mode (replace/upsert) runs
/// every task again; insert mode would write the committed rows twice; table staging starts
/// afresh (a failed run changed nothing in the target).
pub(crate) fn resume(staging: bool, idempotent: bool) -> datasync_engine::Resume {
    use datasync_engine::Resume;
    if staging {
        Resume::Refused(
            "with stagingMode table a failed run left the target as it was: run the job again \
             without --resume"
                .into(),
        )
    } else if idempotent {
        Resume::RerunAll
    } else {
        Resume::Refused(
            "writeMode insert committed its units as it went, and running its tasks again would \
             write those rows twice; use writeMode replace/update (idempotent) or stagingMode table"
                .into(),
        )
    }
}

/// `datasync template`'s parameters of a SQL writer (placeholders named `<prefix>_user`, ...),
/// with the writer's own (`extra`, an object) after the login and columns.
pub(crate) fn sql_writer_template(
    prefix: &str,
    url: &str,
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut t = serde_json::json!({
        "username": format!("${{{prefix}_user}}"),
        "password": format!("${{{prefix}_password}}"),
        "column": ["id", "name", "amount", "created"],
    });
    let tail = serde_json::json!({
        "preSql": [],
        "postSql": [],
        "session": [],
        "createTable": false,
        "stagingMode": "none",
        "reconnectTimeout": "60s",
        "connection": [{"jdbcUrl": url, "table": [format!("${{{prefix}_table}}")]}]
    });
    if let (Some(o), serde_json::Value::Object(e), serde_json::Value::Object(tail)) =
        (t.as_object_mut(), extra, tail)
    {
        o.extend(e);
        o.extend(tail);
    }
    t
}

/// `datasync template` comments of the parameters every SQL writer shares.
pub(crate) fn sql_writer_notes() -> Vec<datasync_engine::template::TemplateNote> {
    use datasync_engine::template::note;
    vec![
        note("username", "Login user."),
        note("password", "Password; use ${env:NAME} or ${file:PATH} to keep it off the command line. Never printed."),
        note("column", "Target columns in the reader's order, or [\"*\"] for the reader's names."),
        note("preSql", "Statements run before writing (@table = the table); a destructive one (TRUNCATE/DELETE) is reported if the job then fails."),
        note("postSql", "Statements run after every task succeeded (@table = the table)."),
        note("session", "Statements run on every new connection; default none."),
        note("createTable", "Create a missing table from the reader's columns (types and primary key kept); default false."),
        note("stagingMode", "none (default): units commit as they go; table: tasks write staging tables moved in one transaction at commit (nothing visible before)."),
        note("reconnectTimeout", "How long a task reconnects to a lost server before it fails; 0: fail at once; default 60s."),
        note("connection", "One entry per target database: jdbcUrl and table."),
        note("connection[].jdbcUrl", "The target database's URL."),
        note("connection[].table", "The target table; several (a list, \"a,b\", a range o_[0-63], or several connection entries) make a sharded write: task i writes table i, fed by reader task i."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_tables_expand_lists_and_ranges_across_connections() {
        let conn = |tables: &[&str]| SqlWriterConnection {
            jdbc_url: vec!["jdbc:mysql://h/d".into()],
            table: tables.iter().map(|t| t.to_string()).collect(),
        };
        let cols = vec!["id".to_string()];
        let one = [conn(&["t"])];
        let t = sql_targets(&one, &cols, "w").unwrap();
        assert_eq!(
            (t[0].1.as_str(), t[0].2.as_str()),
            ("t", "w.connection[0].jdbcUrl")
        );
        let two = [conn(&["a_[0-1]", "b"]), conn(&["c,d"])];
        let t = sql_targets(&two, &cols, "w").unwrap();
        let names: Vec<(&str, &str)> = t
            .iter()
            .map(|(_, t, at)| (t.as_str(), at.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("a_0", "w.connection[0].jdbcUrl"),
                ("a_1", "w.connection[0].jdbcUrl"),
                ("b", "w.connection[0].jdbcUrl"),
                ("c", "w.connection[1].jdbcUrl"),
                ("d", "w.connection[1].jdbcUrl")
            ]
        );
        let e = sql_targets(&[conn(&[])], &cols, "w").unwrap_err();
        assert_eq!(e.path, "w.connection[0].table");
        let e = sql_targets(&[], &cols, "w").unwrap_err();
        assert_eq!(e.path, "w.connection");
        let e = sql_targets(&one, &[], "w").unwrap_err();
        assert_eq!(e.path, "w.column");
        let e = sql_targets(&[conn(&["d_x,d_x"])], &cols, "w").unwrap_err();
        assert!(e.message.contains("d_x is listed twice"), "{e}");
        // The same name on two databases is two tables.
        assert_eq!(
            sql_targets(
                &[
                    conn(&["t"]),
                    SqlWriterConnection {
                        jdbc_url: vec!["jdbc:mysql://h/e".into()],
                        table: vec!["t".into()]
                    }
                ],
                &cols,
                "w"
            )
            .unwrap()
            .len(),
            2
        );
        let tasks = |n: usize| (0..n).map(|i| format!("task {i}")).collect::<Vec<_>>();
        let e = pair_shards(&[1, 2], &tasks(3), |_| "t").unwrap_err();
        assert!(e.to_string().contains("2 target tables"), "{e}");
        assert!(pair_shards(&[1, 2], &tasks(2), |_| "t").is_ok());
        assert!(pair_shards::<u8>(&[], &tasks(5), |_| "t").is_ok());
    }

    #[test]
    fn destructive_pre_sql_is_found_behind_comments_and_in_ctes() {
        for s in [
            "TRUNCATE t",
            "  delete from t where 1",
            "/* x */ TRUNCATE pt",
            "-- c\nTRUNCATE t1",
            "WITH d AS (DELETE FROM pt RETURNING 1) SELECT count(*) FROM d",
        ] {
            assert!(is_destructive(s), "{s}");
        }
        for s in [
            "CREATE TABLE IF NOT EXISTS t (id int)",
            "SET x = 1",
            "UPDATE deleted_at SET a = 1",
        ] {
            assert!(!is_destructive(s), "{s}");
        }
        assert_eq!(
            strip_leading_comments("/* a */ -- b\n  TRUNCATE t"),
            "TRUNCATE t"
        );
    }
}
