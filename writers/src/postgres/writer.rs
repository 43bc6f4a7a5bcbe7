//! The writer: prepare (preSql, table check), per-batch COPY transactions with bisection of
//! bad rows, upsert through a staging table, commit (postSql).

use super::binary::{encode, encoder, Enc, HEADER, TRAILER};
use super::config::{PostgresWriteMode, PostgresWriterConfig};
use crate::sqlsteps::{Failure, SqlWriterSteps, TargetConn};
use crate::sqltarget::{
    create_table_sql, single_target, staging_comment, staging_table, target_columns, Staged,
    StagingMode,
};
use crate::sqltext::RowLiterals;
use arrow_array::{Array, RecordBatch};
use datasync_codec::values::{column_names, row_values};
use datasync_db::postgres::tokio_postgres::{self, Client};
use datasync_db::postgres::{ddl_type, PostgresConnConfig, PostgresError};
use datasync_db::sql::{quote_ident, unquote_ident, Dialect, JdbcUrl};
use datasync_engine::channel::{Batch, BatchReceiver};
use datasync_engine::config::{parse_params, ConfigError};
use datasync_engine::{
    async_trait, DirtyRecord, Params, PluginError, TaskContext, Writer, WriterPlugin, WriterTask,
};
use futures_util::SinkExt;
use serde_json::{json, Value};
use std::sync::Arc;

/// The staging table of `update` mode (temporary: one per connection).
const STAGE: &str = "datasync_stage";
/// The temporary table rows of a rejected unit are copied into for isolation, numbered.
const ISOLATE: &str = "datasync_isolate";
/// The temporary table the isolation block records rejected rows in.
const REJECTS: &str = "datasync_rejects";
/// Dollar-quote tag of the isolation block.
const DO_TAG: &str = "$datasync_isolate$";

/// The PostgreSQL writer.
#[derive(Debug, Clone)]
pub struct PostgresWriter {
    cfg: Arc<PostgresWriterConfig>,
    conn: Arc<PostgresConnConfig>,
    table: String,
    created: Arc<tokio::sync::Mutex<bool>>,
    staged: Arc<Staged>,
}

impl WriterPlugin for PostgresWriter {
    const NAME: &'static str = "postgres";
    const ALIASES: &'static [&'static str] = &["postgresqlwriter"];
    const DESCRIPTION: &'static str =
        "PostgreSQL: COPY per batch, or upsert (ON CONFLICT); bad rows isolated";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let cfg: PostgresWriterConfig = parse_params(p.value, p.path)?;
        let (first, table, url_at) = single_target(&cfg.connection, &cfg.column, p.path)?;
        let conn = PostgresConnConfig::new(
            &first.jdbc_url,
            &cfg.username,
            &cfg.password,
            &cfg.session,
            &url_at,
        )?;
        Ok(PostgresWriter {
            cfg: Arc::new(cfg),
            conn: Arc::new(conn),
            table,
            created: Default::default(),
            staged: Default::default(),
        })
    }

    fn template() -> Value {
        json!({
            "username": "${pg_user}",
            "password": "${pg_password}",
            "column": ["id", "name", "amount", "created"],
            "writeMode": "insert",
            "conflictColumns": [],
            "preSql": [],
            "postSql": [],
            "session": [],
            "createTable": false,
            "connection": [{"jdbcUrl": "jdbc:postgresql://${pg_host}:5432/${pg_db}", "table": ["${pg_table}"]}]
        })
    }
}

impl PostgresWriter {
    fn qtable(&self) -> String {
        quote_ident(Dialect::Postgres, &self.table)
    }
}

/// The PostgreSQL side of the shared SQL writer steps.
#[async_trait]
impl SqlWriterSteps for PostgresWriter {
    fn table(&self) -> &str {
        &self.table
    }
    fn quote(&self, name: &str) -> String {
        quote_ident(Dialect::Postgres, name)
    }
    fn pre_sql(&self) -> &[String] {
        &self.cfg.pre_sql
    }
    fn post_sql(&self) -> &[String] {
        &self.cfg.post_sql
    }
    fn staging(&self) -> bool {
        self.cfg.staging_mode == StagingMode::Table
    }
    fn staged(&self) -> &Staged {
        &self.staged
    }
    fn must_exist(&self) -> bool {
        !self.cfg.create_table
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
struct PostgresTarget {
    client: Client,
    url: JdbcUrl,
    cc: Arc<PostgresConnConfig>,
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

    async fn staging_tables(
        &mut self,
        schema: Option<&str>,
    ) -> Result<Vec<(String, String)>, PluginError> {
        let q = "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), coalesce(obj_description(c.oid, 'pg_class'), '') \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind = 'r' AND c.relname LIKE 'datasync\\_stg\\_%' \
                 AND n.nspname = coalesce($1, current_schema())";
        let rows = self
            .client
            .query(q, &[&schema])
            .await
            .map_err(|e| self.cc.query_error(&self.url, q, e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
            .collect())
    }

    fn url(&self) -> String {
        self.url.to_string()
    }
}

#[async_trait]
impl Writer for PostgresWriter {
    async fn prepare(&self) -> Result<(), PluginError> {
        self.prepare_target().await
    }

    async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError> {
        Ok((0..n)
            .map(|_| {
                Box::new(PostgresTask {
                    writer: self.clone(),
                    table: self.table.clone(),
                    stage_ready: false,
                }) as Box<dyn WriterTask>
            })
            .collect())
    }

    async fn commit(&self) -> Result<(), PluginError> {
        self.commit_target().await
    }

    async fn abort(&self) -> Result<(), PluginError> {
        self.drop_stages().await
    }

    async fn recover(&self) -> Result<Vec<String>, PluginError> {
        self.recover_target().await
    }

    fn resume(&self) -> datasync_engine::Resume {
        crate::sqltarget::resume(
            self.staging(),
            self.cfg.write_mode == PostgresWriteMode::Update,
        )
    }
}

struct PostgresTask {
    writer: PostgresWriter,
    /// The table this task writes: the target, or its staging table.
    table: String,
    /// Table staging: this attempt has created its staging table.
    stage_ready: bool,
}

/// What a connection needs for this task's statements.
struct Plan {
    /// `COPY target-or-stage (cols) FROM STDIN [(FORMAT binary)]`.
    copy: String,
    /// For update mode: the statement moving the staged rows into the table.
    merge: Option<String>,
    /// Binary encoders per column, when every column has one; else text COPY.
    binary: Option<Vec<Enc>>,
    /// Statements that find a rejected part's bad rows on the server in one round trip.
    isolate: Isolate,
    /// The `ON CONFLICT ...` clause of update mode ("" for insert).
    conflict: String,
}

/// Server-side isolation of a part the target rejected: the part is copied into a numbered
/// temporary table, then one PL/pgSQL block inserts its rows one by one, each in its own
/// subtransaction, recording the rows (number, message) the target refuses. Thousands of
/// times faster than bisecting with a transaction per step.
struct Isolate {
    /// Creates (once per connection) and empties the temporary tables.
    setup: String,
    /// `COPY datasync_isolate (cols) FROM STDIN ...`.
    copy: String,
    /// The `DO` block.
    block: String,
}

impl Isolate {
    fn new(table: &str, qcols: &[String], format: &str, conflict: &str) -> Self {
        let cols = qcols.join(", ");
        let values: Vec<String> = qcols.iter().map(|c| format!("r.{c}")).collect();
        Isolate {
            setup: format!(
                "CREATE TEMP TABLE IF NOT EXISTS {ISOLATE} AS SELECT {cols} FROM {table} WITH NO DATA; \
                 ALTER TABLE {ISOLATE} ADD COLUMN IF NOT EXISTS datasync_row bigint GENERATED ALWAYS AS IDENTITY; \
                 CREATE TEMP TABLE IF NOT EXISTS {REJECTS} (row_no bigint, message text); \
                 TRUNCATE {ISOLATE} RESTART IDENTITY; TRUNCATE {REJECTS}"
            ),
            copy: format!("COPY {ISOLATE} ({cols}) FROM STDIN{format}"),
            block: format!(
                "DO {DO_TAG} DECLARE r record; d text; BEGIN \
                 FOR r IN SELECT * FROM {ISOLATE} ORDER BY datasync_row LOOP \
                 BEGIN INSERT INTO {table} ({cols}) VALUES ({}){conflict}; \
                 EXCEPTION WHEN data_exception OR integrity_constraint_violation OR cardinality_violation THEN \
                 GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL; \
                 INSERT INTO {REJECTS} VALUES (r.datasync_row, SQLERRM || ' (' || SQLSTATE || ')' \
                 || CASE WHEN coalesce(d, '') <> '' THEN ': ' || d ELSE '' END); \
                 END; END LOOP; END {DO_TAG}",
                values.join(", ")
            ),
        }
    }
}

/// SQLSTATE classes that mean a row's data is at fault (22 data exception, 23 integrity, and
/// 21000: an upsert that meets the same key twice in one statement).
fn is_data_error(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        let c = c.code();
        c.starts_with("22") || c.starts_with("23") || c == "21000"
    })
}

impl PostgresTask {
    async fn open(&self) -> Result<(Client, JdbcUrl), PostgresError> {
        let (c, u) = self.writer.conn.connect().await?;
        Ok((c, u.clone()))
    }

    /// Creates the target table (createTable) once per job.
    async fn ensure_target(
        &self,
        client: &Client,
        url: &JdbcUrl,
        batch: &RecordBatch,
        names: &[String],
    ) -> Result<(), PostgresError> {
        let w = &self.writer;
        if !w.cfg.create_table {
            return Ok(());
        }
        let mut created = w.created.lock().await;
        if !*created {
            let sql = create_table_sql(Dialect::Postgres, &w.table, batch, names, ddl_type)
                .map_err(PostgresError::Invalid)?;
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| w.conn.query_error(url, &sql, e))?;
            *created = true;
        }
        Ok(())
    }

    /// Table staging: (re)creates this task's staging table: the target's structure (with its
    /// constraints and indexes, so bad rows are still found per row) for the written columns
    /// only, marked with its owner.
    async fn create_stage(
        &mut self,
        client: &Client,
        url: &JdbcUrl,
        task: usize,
        names: &[String],
    ) -> Result<(), PostgresError> {
        let w = &self.writer;
        let stage = staging_table(&w.table, task);
        let qstage = quote_ident(Dialect::Postgres, &stage);
        // Known before it exists, so that abort drops it whatever happens next.
        w.staged.set(task, stage.clone(), String::new());
        let sql = format!(
            "DROP TABLE IF EXISTS {qstage}; \
             CREATE TABLE {qstage} (LIKE {} INCLUDING CONSTRAINTS INCLUDING INDEXES); \
             COMMENT ON TABLE {qstage} IS '{}'",
            w.qtable(),
            staging_comment(&w.table)
        );
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| w.conn.query_error(url, &sql, e))?;
        let q = "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped";
        let rows = client
            .query(q, &[&qstage])
            .await
            .map_err(|e| w.conn.query_error(url, q, e))?;
        let extra: Vec<String> = rows
            .iter()
            .map(|r| r.get::<_, String>(0))
            .filter(|c| !names.iter().any(|n| unquote_ident(n) == *c))
            .map(|c| format!("DROP COLUMN {} CASCADE", quote_ident(Dialect::Postgres, &c)))
            .collect();
        if !extra.is_empty() {
            let sql = format!("ALTER TABLE {qstage} {}", extra.join(", "));
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| w.conn.query_error(url, &sql, e))?;
        }
        self.table = stage;
        self.stage_ready = true;
        Ok(())
    }

    async fn plan(
        &self,
        client: &Client,
        url: &JdbcUrl,
        batch: &RecordBatch,
        names: &[String],
    ) -> Result<Plan, PostgresError> {
        let w = &self.writer;
        let cc = &w.conn;
        let qtable = quote_ident(Dialect::Postgres, &self.table);
        let qcols: Vec<String> = names
            .iter()
            .map(|n| quote_ident(Dialect::Postgres, n))
            .collect();
        let cols = qcols.join(", ");
        // Binary COPY when every target column has an encoder for what arrives; else text.
        let probe = format!("SELECT {cols} FROM {qtable} LIMIT 0");
        let stmt = client
            .prepare(&probe)
            .await
            .map_err(|e| cc.query_error(url, &probe, e))?;
        let binary: Option<Vec<Enc>> = stmt
            .columns()
            .iter()
            .zip(batch.schema().fields())
            .map(|(c, f)| encoder(c.type_(), f.data_type()))
            .collect();
        if binary.is_none() {
            tracing::debug!(
                "{}: some column has no binary encoder for its input; using text COPY",
                w.table
            );
        }
        let format = if binary.is_some() {
            " (FORMAT binary)"
        } else {
            ""
        };
        if w.cfg.write_mode == PostgresWriteMode::Insert {
            return Ok(Plan {
                copy: format!("COPY {qtable} ({cols}) FROM STDIN{format}"),
                merge: None,
                isolate: Isolate::new(&qtable, &qcols, format, ""),
                conflict: String::new(),
                binary,
            });
        }
        let keys = if w.cfg.conflict_columns.is_empty() {
            let q = "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
                     WHERE i.indrelid = $1::text::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)";
            let rows = client
                .query(q, &[&qtable])
                .await
                .map_err(|e| cc.query_error(url, q, e))?;
            let keys: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
            if keys.is_empty() {
                return Err(PostgresError::Invalid(format!(
                    "writeMode update: {} has no primary key; set conflictColumns",
                    w.table
                )));
            }
            keys
        } else {
            w.cfg.conflict_columns.clone()
        };
        let stage = format!(
            "CREATE TEMP TABLE IF NOT EXISTS {STAGE} AS SELECT {cols} FROM {qtable} WITH NO DATA"
        );
        client
            .batch_execute(&stage)
            .await
            .map_err(|e| cc.query_error(url, &stage, e))?;
        let key_set: Vec<String> = keys
            .iter()
            .map(|k| quote_ident(Dialect::Postgres, k))
            .collect();
        let sets: Vec<String> = qcols
            .iter()
            .filter(|c| !key_set.contains(c))
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        let action = if sets.is_empty() {
            "NOTHING".to_string()
        } else {
            format!("UPDATE SET {}", sets.join(", "))
        };
        let conflict = format!(" ON CONFLICT ({}) DO {action}", key_set.join(", "));
        let merge = format!("INSERT INTO {qtable} ({cols}) SELECT {cols} FROM {STAGE}{conflict}");
        Ok(Plan {
            copy: format!("COPY {STAGE} ({cols}) FROM STDIN{format}"),
            merge: Some(merge),
            isolate: Isolate::new(&qtable, &qcols, format, &conflict),
            conflict,
            binary,
        })
    }

    /// Writes `lines` (COPY rows) in one transaction.
    async fn apply(&self, client: &Client, plan: &Plan, lines: &[&[u8]]) -> Result<(), Failed> {
        in_transaction(client, async {
            if plan.merge.is_some() {
                client.batch_execute(&format!("TRUNCATE {STAGE}")).await?;
            }
            copy_lines(client, plan, &plan.copy, lines).await?;
            if let Some(m) = &plan.merge {
                client.batch_execute(m).await?;
            }
            Ok(())
        })
        .await
    }

    /// Writes `lines` row by row on the server in one transaction (see [`Isolate`]); returns
    /// the rows the target refused: (index into `lines`, the server's message).
    async fn isolate(
        &self,
        client: &Client,
        plan: &Plan,
        lines: &[&[u8]],
    ) -> Result<Vec<(usize, String)>, Failed> {
        in_transaction(client, async {
            let iso = &plan.isolate;
            client.batch_execute(&iso.setup).await?;
            copy_lines(client, plan, &iso.copy, lines).await?;
            client.batch_execute(&iso.block).await?;
            let rows = client
                .query(
                    &format!("SELECT row_no, message FROM {REJECTS} ORDER BY row_no"),
                    &[],
                )
                .await?;
            let mut bad = Vec::with_capacity(rows.len());
            for r in rows {
                let n: i64 = r.try_get(0)?;
                let msg: String = r.try_get(1)?;
                // Rows are numbered from 1 in the order they were copied.
                bad.push((usize::try_from(n - 1).unwrap_or(usize::MAX), msg));
            }
            Ok(bad)
        })
        .await
    }
}

/// COPYs `lines` (binary tuples or text lines, as `plan` says) with `statement`.
async fn copy_lines(
    client: &Client,
    plan: &Plan,
    statement: &str,
    lines: &[&[u8]],
) -> Result<(), tokio_postgres::Error> {
    let sink = client.copy_in::<_, bytes::Bytes>(statement).await?;
    futures_util::pin_mut!(sink);
    let mut data = Vec::with_capacity(lines.iter().map(|l| l.len()).sum::<usize>() + 32);
    if plan.binary.is_some() {
        data.extend_from_slice(HEADER);
    }
    for l in lines {
        data.extend_from_slice(l);
    }
    if plan.binary.is_some() {
        data.extend_from_slice(TRAILER);
    }
    sink.send(bytes::Bytes::from(data)).await?;
    sink.as_mut().finish().await?;
    Ok(())
}

/// Runs `body` between BEGIN and COMMIT (ROLLBACK when it fails).
async fn in_transaction<T>(
    client: &Client,
    body: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, Failed> {
    client.batch_execute("BEGIN").await?;
    let result = body.await;
    match result {
        // A refused COMMIT (a deferred constraint) rolled back; a lost one is unknown.
        Ok(v) => match client.batch_execute("COMMIT").await {
            Ok(()) => Ok(v),
            Err(e) if e.is_closed() => Err(Failed::AtCommit(e)),
            Err(e) => Err(Failed::Before(e)),
        },
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e.into())
        }
    }
}

impl PostgresTask {
    /// Applies the parts of `unit` still in `pending` (ranges of its lines). A part the target
    /// rejects on data is isolated on the server (see [`Isolate`]); where that cannot run, it
    /// is split in halves until single bad rows are found. Bad rows become dirty records.
    /// Parts that landed leave `pending` and add to `landed`; on any other error the failing
    /// part stays in `pending`, so the caller can reconnect and go on where it stopped.
    async fn apply_isolating(
        &self,
        client: &Client,
        plan: &Plan,
        unit: &Unit,
        pending: &mut Vec<std::ops::Range<usize>>,
        landed: &mut usize,
        ctx: &TaskContext,
    ) -> Result<Result<(), Failed>, PluginError> {
        let mut server_side = true;
        while let Some(range) = pending.pop() {
            if range.is_empty() {
                continue;
            }
            let part = &unit.lines[range.clone()];
            let lines: Vec<&[u8]> = part.iter().map(|(_, _, l)| l.as_slice()).collect();
            let e = match self.apply(client, plan, &lines).await {
                Ok(()) => {
                    *landed += part.len();
                    continue;
                }
                Err(Failed::Before(e)) if is_data_error(&e) => e,
                Err(other) => {
                    pending.push(range);
                    return Ok(Err(other));
                }
            };
            if part.len() == 1 {
                self.dirty_row(unit, &part[0], datasync_db::postgres::db_message(&e), ctx)?;
                continue;
            }
            if server_side {
                let started = std::time::Instant::now();
                ctx.counters.set_isolating(part.len() as u64);
                let found = self.isolate(client, plan, &lines).await;
                ctx.counters.set_isolating(0);
                match found {
                    Ok(bad) => {
                        tracing::info!(
                            "{}: isolated {} rejected row(s) of {} in {:.1}s",
                            self.writer.table,
                            bad.len(),
                            part.len(),
                            started.elapsed().as_secs_f64()
                        );
                        *landed += part.len() - bad.len();
                        for (i, msg) in bad {
                            let row = part.get(i).ok_or_else(|| {
                                PostgresError::Invalid(format!(
                                    "isolation named row {} of a part of {}",
                                    i + 1,
                                    part.len()
                                ))
                            })?;
                            self.dirty_row(unit, row, msg, ctx)?;
                        }
                        continue;
                    }
                    Err(Failed::Before(e)) if !e.is_closed() => {
                        // The rows do not even copy (a value the column type refuses), or
                        // PL/pgSQL is not there: bisect.
                        tracing::debug!(
                            "{}: server-side isolation did not run ({}); bisecting",
                            self.writer.table,
                            datasync_db::postgres::db_message(&e)
                        );
                        server_side = false;
                    }
                    Err(other) => {
                        pending.push(range);
                        return Ok(Err(other));
                    }
                }
            }
            let mid = range.start + range.len() / 2;
            pending.push(mid..range.end);
            pending.push(range.start..mid);
        }
        Ok(Ok(()))
    }

    /// Records one line of `unit` as a dirty record with `error`.
    fn dirty_row(
        &self,
        unit: &Unit,
        (bi, r, _): &(usize, usize, Vec<u8>),
        error: String,
        ctx: &TaskContext,
    ) -> Result<(), PluginError> {
        let batch = &unit.batches[*bi].data;
        ctx.dirty(DirtyRecord {
            error,
            columns: column_names(batch),
            values: row_values(batch, *r),
            location: Some(self.writer.table.clone()),
        })
    }

    /// Writes a unit (reconnecting on a lost connection, going on with the parts that had not
    /// landed) and counts what landed.
    async fn flush(
        &self,
        st: &mut State,
        unit: &mut Unit,
        ctx: &TaskContext,
        done: &mut (u64, u64),
    ) -> Result<(), PluginError> {
        if unit.lines.is_empty() {
            unit.clear();
            return Ok(());
        }
        let mut pending = Vec::with_capacity(8);
        pending.push(0..unit.lines.len());
        let mut landed = 0;
        while let Some((p, names)) = st.plan.as_ref() {
            let e = match self
                .apply_isolating(&st.client, p, unit, &mut pending, &mut landed, ctx)
                .await?
            {
                Ok(()) => break,
                Err(Failed::AtCommit(e)) => {
                    if self.writer.cfg.write_mode == PostgresWriteMode::Insert {
                        return Err(PostgresError::Invalid(format!(
                            "{}: the connection was lost while committing a unit ({e}); it may or may \
                             not have landed, and writeMode insert cannot replay it without risking \
                             duplicates (update can)",
                            st.url
                        ))
                        .into());
                    }
                    e
                }
                Err(Failed::Before(e)) if e.is_closed() => e,
                Err(Failed::Before(e)) => {
                    return Err(self.writer.conn.query_error(&st.url, &p.copy, e).into())
                }
            };
            let names = names.clone();
            let url = st.url.to_string();
            tracing::warn!(
                "{url}: connection lost ({e}); reconnecting to write the rest of the unit"
            );
            let limit = self.writer.cfg.reconnect_timeout.0;
            (st.client, st.url) =
                crate::sqltarget::reconnect(&url, limit, PostgresError::is_retriable, || {
                    self.open()
                })
                .await?;
            // Temporary staging tables live per connection: set them up again.
            let again = self
                .plan(&st.client, &st.url, &unit.batches[0].data, &names)
                .await?;
            st.plan = Some((again, names));
        }
        let rows: usize = unit.batches.iter().map(|b| b.rows()).sum();
        let bytes: u64 = unit.batches.iter().map(|b| b.bytes as u64).sum();
        ctx.counters
            .add_written(landed as u64, bytes * landed as u64 / (rows as u64).max(1));
        done.0 += 1;
        done.1 += landed as u64;
        unit.clear();
        Ok(())
    }
}

/// How a unit (or part of one) failed: before COMMIT (rolled back) or with the connection
/// lost at COMMIT (landed or not: unknown).
enum Failed {
    Before(tokio_postgres::Error),
    AtCommit(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Self {
        Failed::Before(e)
    }
}

/// One binary COPY tuple: the field count, then each field's length and bytes (-1 = NULL).
fn binary_tuple(
    encs: &[Enc],
    batch: &RecordBatch,
    r: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    out.extend_from_slice(&(encs.len() as i16).to_be_bytes());
    for (c, (enc, a)) in encs.iter().zip(batch.columns()).enumerate() {
        if a.is_null(r) {
            out.extend_from_slice(&(-1i32).to_be_bytes());
        } else {
            encode(*enc, a, r, out)
                .map_err(|e| format!("column {}: {e}", batch.schema().field(c).name()))?;
        }
    }
    Ok(())
}

/// Rows gathered into one COPY transaction: several engine batches, so that a transaction's
/// fixed cost (round trips, commit flush) is paid per 64 k rows, not per 8 k.
#[derive(Default)]
struct Unit {
    batches: Vec<Batch>,
    /// (batch index, row, COPY line)
    lines: Vec<(usize, usize, Vec<u8>)>,
    bytes: usize,
}

impl Unit {
    fn clear(&mut self) {
        self.batches.clear();
        self.lines.clear();
        self.bytes = 0;
    }
    fn full(&self) -> bool {
        self.lines.len() >= UNIT_ROWS || self.bytes >= UNIT_BYTES
    }
}

/// Rows per COPY transaction.
const UNIT_ROWS: usize = 65_536;
/// Bytes of COPY text per transaction.
const UNIT_BYTES: usize = 32 << 20;

/// The task's connection and statements.
struct State {
    client: Client,
    url: JdbcUrl,
    plan: Option<(Plan, Vec<String>)>,
}

#[async_trait]
impl WriterTask for PostgresTask {
    fn retry_safe(&self) -> bool {
        // A staging table is made afresh by each attempt; upserts repeat to the same rows.
        self.writer.staging() || self.writer.cfg.write_mode == PostgresWriteMode::Update
    }

    async fn write(&mut self, input: BatchReceiver, ctx: TaskContext) -> Result<(), PluginError> {
        self.stage_ready = false;
        let mut done = (0, 0);
        self.write_units(input, ctx, &mut done)
            .await
            .map_err(|e| crate::sqltarget::after_committed(e, done.0, done.1))
    }
}

impl PostgresTask {
    /// Writes every batch in units of one transaction; `done` counts committed units and rows.
    async fn write_units(
        &mut self,
        mut input: BatchReceiver,
        ctx: TaskContext,
        done: &mut (u64, u64),
    ) -> Result<(), PluginError> {
        let (client, url) = self.open().await?;
        let mut st = State {
            client,
            url,
            plan: None,
        };
        let mut unit = Unit::default();
        while let Some(b) = input.recv().await {
            let batch = &b.data;
            let names =
                target_columns(&self.writer.cfg.column, batch).map_err(PostgresError::Invalid)?;
            if st.plan.is_none() {
                self.ensure_target(&st.client, &st.url, batch, &names)
                    .await?;
                let w = self.writer.clone();
                if w.staging() && !self.stage_ready {
                    self.create_stage(&st.client, &st.url, ctx.task_id, &names)
                        .await?;
                }
                let plan = self.plan(&st.client, &st.url, batch, &names).await?;
                if w.staging() {
                    let cols: Vec<String> = names
                        .iter()
                        .map(|n| quote_ident(Dialect::Postgres, n))
                        .collect();
                    let cols = cols.join(", ");
                    let move_sql = format!(
                        "INSERT INTO {} ({cols}) SELECT {cols} FROM {}{}",
                        w.qtable(),
                        quote_ident(Dialect::Postgres, &self.table),
                        plan.conflict
                    );
                    w.staged.set(ctx.task_id, self.table.clone(), move_sql);
                }
                st.plan = Some((plan, names));
            }
            let bi = unit.batches.len();
            let binary = st.plan.as_ref().and_then(|(p, _)| p.binary.clone());
            let bad = {
                let mut lits = RowLiterals::new(batch, true, false)
                    .map_err(|e| PluginError::new(PostgresError::Invalid(e)))?;
                let mut bad = Vec::new();
                for r in 0..batch.num_rows() {
                    let mut line = Vec::new();
                    let row = match &binary {
                        Some(encs) => binary_tuple(encs, batch, r, &mut line),
                        None => lits.write_copy_line(r, &mut line),
                    };
                    match row {
                        Ok(()) => {
                            unit.bytes += line.len();
                            unit.lines.push((bi, r, line));
                        }
                        Err(e) => bad.push((r, e)),
                    }
                }
                bad
            };
            for (r, error) in bad {
                ctx.dirty(DirtyRecord {
                    error,
                    columns: column_names(batch),
                    values: row_values(batch, r),
                    location: Some(self.writer.table.clone()),
                })?;
            }
            unit.batches.push(b);
            if unit.full() {
                self.flush(&mut st, &mut unit, &ctx, done).await?;
            }
            ctx.check_cancelled()?;
        }
        // A stopping job's input ends early: its partial unit is not committed.
        ctx.check_cancelled()?;
        self.flush(&mut st, &mut unit, &ctx, done).await
    }
}
