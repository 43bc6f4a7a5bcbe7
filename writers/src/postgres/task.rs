//! A writer task: rows gathered into units of one COPY transaction each (binary COPY where
//! every column has an encoder, else text), `update` through a temporary table and
//! `ON CONFLICT`, reconnecting on a lost connection and going on with what had not landed.

use super::binary::{encode, encoder, Enc, HEADER, TRAILER};
use super::config::PostgresWriteMode;
use super::isolate::Isolate;
use super::writer::PostgresWriter;
use crate::sqlsteps::SqlWriterSteps;
use crate::sqltarget::{create_table_sql, staging_comment, staging_table, target_columns};
use crate::sqltext::{RowLiterals, TargetKind};
use arrow_array::{Array, RecordBatch};
use datasync_db::postgres::tokio_postgres::{self, Client};
use datasync_db::postgres::{ddl_for, PostgresError};
use datasync_db::sql::{quote_ident, unquote_ident, Dialect, JdbcUrl};
use datasync_engine::channel::{Batch, BatchReceiver};
use datasync_engine::{async_trait, PluginError, TaskContext};
use futures_util::SinkExt;

/// The staging table of `update` mode (temporary: one per connection).
pub(super) const STAGE: &str = "datasync_stage";

pub(super) struct PostgresTask {
    pub(super) writer: PostgresWriter,
    /// The table this task writes: the target, or its staging table.
    pub(super) table: String,
    /// Table staging: this attempt has created its staging table.
    pub(super) stage_ready: bool,
}

/// What a connection needs for this task's statements.
pub(super) struct Plan {
    /// `COPY target-or-stage (cols) FROM STDIN [(FORMAT binary)]`.
    pub(super) copy: String,
    /// For update mode: the statement moving the staged rows into the table.
    pub(super) merge: Option<String>,
    /// Binary encoders per column, when every column has one; else text COPY.
    pub(super) binary: Option<Vec<Enc>>,
    /// Statements that find a rejected part's bad rows on the server in one round trip.
    pub(super) isolate: Isolate,
    /// The `ON CONFLICT ...` clause of update mode ("" for insert).
    pub(super) conflict: String,
    /// Per column: what PostgreSQL would change without an error (see `narrow`).
    pub(super) narrow: Vec<crate::narrow::Narrow>,
}

/// SQLSTATE classes that mean a row's data is at fault (22 data exception, 23 integrity, and
/// 21000: an upsert that meets the same key twice in one statement).
pub(super) fn is_data_error(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        let c = c.code();
        c.starts_with("22") || c.starts_with("23") || c == "21000"
    })
}

impl PostgresTask {
    pub(super) async fn open(&self) -> Result<(Client, JdbcUrl), PostgresError> {
        let (c, u) = self.writer.conn.connect().await?;
        Ok((c, u.clone()))
    }

    /// `column: ["*"]`: the reader's names when every one is a target column, else (a text
    /// file's `c0`, `c1`, ...) the target's first columns by position, as DataX writes them
    /// and as the mysql writer does, with a warning.
    async fn star_names(
        &self,
        client: &Client,
        url: &JdbcUrl,
        names: Vec<String>,
    ) -> Result<Vec<String>, PostgresError> {
        if self.writer.spec.params.column != ["*"] {
            return Ok(names);
        }
        let probe = format!(
            "SELECT * FROM {} LIMIT 0",
            quote_ident(Dialect::Postgres, &self.table)
        );
        let stmt = client
            .prepare(&probe)
            .await
            .map_err(|e| self.writer.conn.query_error(url, &probe, e))?;
        let target: Vec<String> = stmt
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        // By name: the column of that name, or the one column equal but for letter case
        // (a MySQL reader's `ID` is PostgreSQL's `id`, as an explicit list folds it).
        let by_name: Option<Vec<String>> = names
            .iter()
            .map(|n| {
                if target.contains(n) {
                    return Some(n.clone());
                }
                let mut like = target.iter().filter(|t| t.eq_ignore_ascii_case(n));
                match (like.next(), like.next()) {
                    (Some(t), None) => Some(t.clone()),
                    _ => None,
                }
            })
            .collect();
        if let Some(mapped) = by_name {
            return Ok(mapped);
        }
        if target.len() < names.len() {
            return Err(PostgresError::Invalid(format!(
                "column [\"*\"]: the reader's columns ({}) are not all columns of {}, and by \
                 position its {} column(s) do not hold them; list the target columns",
                names.join(", "),
                self.table,
                target.len()
            )));
        }
        crate::sqltarget::warn_positional(&self.table, &names);
        Ok(target[..names.len()].to_vec())
    }

    /// Creates the target table (createTable) once per job.
    pub(super) async fn ensure_target(
        &self,
        client: &Client,
        url: &JdbcUrl,
        batch: &RecordBatch,
        names: &[String],
    ) -> Result<(), PostgresError> {
        let w = &self.writer;
        if !w.spec.params.create_table {
            return Ok(());
        }
        w.create_once(
            || {
                create_table_sql(Dialect::Postgres, &w.table, batch, names, ddl_for, |_| true)
                    .map_err(PostgresError::Invalid)
            },
            |sql| async move {
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(|e| w.conn.query_error(url, &sql, e))
            },
        )
        .await
    }

    /// Table staging: (re)creates this task's staging table: the target's structure (with its
    /// constraints and indexes, so bad rows are still found per row) for the written columns
    /// only, marked with its owner.
    pub(super) async fn create_stage(
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
        w.spec.staged.set(task, stage.clone(), String::new());
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

    pub(super) async fn plan(
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
        let mut narrow: Vec<crate::narrow::Narrow> = stmt
            .columns()
            .iter()
            .zip(batch.schema().fields())
            .map(|(c, f)| crate::narrow::Narrow::of(c.type_(), c.type_modifier(), f.data_type()))
            .collect();
        let money = |c: &datasync_db::postgres::tokio_postgres::Column| {
            *c.type_() == datasync_db::postgres::tokio_postgres::types::Type::MONEY
        };
        if stmt.columns().iter().any(money) {
            // The fraction digits money keeps in this session's lc_monetary.
            let q = "SELECT scale('1'::money::numeric)";
            let digits: i32 = client
                .query_one(q, &[])
                .await
                .and_then(|r| r.try_get(0))
                .map_err(|e| cc.query_error(url, q, e))?;
            for (n, c) in narrow.iter_mut().zip(stmt.columns()) {
                if money(c) && matches!(n, crate::narrow::Narrow::Money(_)) {
                    *n = crate::narrow::Narrow::Money(u32::try_from(digits).unwrap_or(0));
                }
            }
        }
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
                narrow,
            });
        }
        let keys = if w.cfg.conflict_columns.is_empty() {
            let q = datasync_db::postgres::PRIMARY_KEY_SQL;
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
            narrow,
        })
    }

    /// Writes `lines` (COPY rows) in one transaction.
    pub(super) async fn apply(
        &self,
        client: &Client,
        plan: &Plan,
        lines: &[&[u8]],
    ) -> Result<(), Failed> {
        in_transaction(client, async {
            if plan.merge.is_some() {
                client.batch_execute(&format!("TRUNCATE {STAGE}")).await?;
            }
            let mut took = copy_lines(client, plan, &plan.copy, lines).await?;
            if let Some(m) = &plan.merge {
                took = client.execute(m.as_str(), &[]).await?;
            }
            // A trigger or rule can drop rows without an error (a BEFORE trigger returning
            // NULL); a merge that does nothing on conflict skips rows already there by design.
            if took != lines.len() as u64 && !plan.conflict.ends_with("DO NOTHING") {
                return Err(Failed::Short(format!(
                    "the table took {took} of the unit's {} rows without an error (a trigger or \
                     rule on it?); the unit was rolled back",
                    lines.len()
                )));
            }
            Ok(())
        })
        .await
    }
}

/// COPYs `lines` (binary tuples or text lines, as `plan` says) with `statement`.
pub(super) async fn copy_lines(
    client: &Client,
    plan: &Plan,
    statement: &str,
    lines: &[&[u8]],
) -> Result<u64, tokio_postgres::Error> {
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
    sink.as_mut().finish().await
}

/// Runs `body` between BEGIN and COMMIT (ROLLBACK when it fails).
pub(super) async fn in_transaction<T>(
    client: &Client,
    body: impl std::future::Future<Output = Result<T, Failed>>,
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
            Err(e)
        }
    }
}

impl PostgresTask {
    /// Writes a unit (reconnecting on a lost connection, going on with the parts that had not
    /// landed) and counts what landed, also when the unit stops half-way (the error limit,
    /// the job stopping): its parts commit on their own.
    pub(super) async fn flush(
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
        let mut landed = 0;
        let result = self.write_unit(st, unit, ctx, &mut landed).await;
        let rows: usize = unit.batches.iter().map(|b| b.rows()).sum();
        let bytes: u64 = unit.batches.iter().map(|b| b.bytes as u64).sum();
        if result.is_ok() || landed > 0 {
            crate::sqltarget::count_unit(ctx, done, landed, rows, bytes);
        }
        unit.clear();
        result
    }

    /// [`PostgresTask::flush`]'s writing: `landed` counts the rows that committed.
    async fn write_unit(
        &self,
        st: &mut State,
        unit: &Unit,
        ctx: &TaskContext,
        landed: &mut usize,
    ) -> Result<(), PluginError> {
        let mut pending = Vec::with_capacity(8);
        pending.push(0..unit.lines.len());
        while let Some((p, names)) = st.plan.as_ref() {
            let e = match self
                .apply_isolating(&st.client, p, unit, &mut pending, landed, ctx)
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
                Err(Failed::Short(why)) => {
                    return Err(
                        PostgresError::Invalid(format!("{}: {why}", self.writer.table)).into(),
                    )
                }
            };
            let names = names.clone();
            let url = st.url.to_string();
            tracing::warn!(
                "{url}: connection lost ({e}); reconnecting to write the rest of the unit"
            );
            let limit = self.writer.spec.params.reconnect_timeout.0;
            (st.client, st.url) =
                datasync_db::sql::reconnect(&url, limit, PostgresError::is_retriable, || {
                    self.open()
                })
                .await?;
            // Temporary staging tables live per connection: set them up again.
            let again = self
                .plan(&st.client, &st.url, &unit.batches[0].data, &names)
                .await?;
            st.plan = Some((again, names));
        }
        Ok(())
    }
}

/// How a unit (or part of one) failed: before COMMIT (rolled back) or with the connection
/// lost at COMMIT (landed or not: unknown).
pub(super) enum Failed {
    Before(tokio_postgres::Error),
    AtCommit(tokio_postgres::Error),
    /// The table took fewer rows than were sent, without an error (rolled back).
    Short(String),
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Self {
        Failed::Before(e)
    }
}

/// One binary COPY tuple: the field count, then each field's length and bytes (-1 = NULL).
pub(super) fn binary_tuple(
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
pub(super) struct Unit {
    pub(super) batches: Vec<Batch>,
    /// (batch index, row, COPY line)
    pub(super) lines: Vec<(usize, usize, Vec<u8>)>,
    pub(super) bytes: usize,
    /// Rows after which the unit is full (batchSize, else [`UNIT_ROWS`]).
    pub(super) max_rows: usize,
}

impl Unit {
    pub(super) fn clear(&mut self) {
        self.batches.clear();
        self.lines.clear();
        self.bytes = 0;
    }
    pub(super) fn full(&self) -> bool {
        self.lines.len() >= self.max_rows || self.bytes >= UNIT_BYTES
    }
}

/// Rows per COPY transaction.
pub(super) const UNIT_ROWS: usize = 65_536;
/// Bytes of COPY text per transaction.
pub(super) const UNIT_BYTES: usize = 32 << 20;

/// The task's connection and statements.
pub(super) struct State {
    pub(super) client: Client,
    pub(super) url: JdbcUrl,
    pub(super) plan: Option<(Plan, Vec<String>)>,
}

#[async_trait]
impl crate::sqltarget::UnitTask for PostgresTask {
    /// Every batch in units of one transaction.
    async fn write_units(
        &mut self,
        mut input: BatchReceiver,
        ctx: TaskContext,
        done: &mut (u64, u64),
    ) -> Result<(), PluginError> {
        self.stage_ready = false;
        let (client, url) = self.open().await?;
        let mut st = State {
            client,
            url,
            plan: None,
        };
        let mut unit = Unit {
            max_rows: self.writer.cfg.batch_size.unwrap_or(UNIT_ROWS),
            ..Unit::default()
        };
        while let Some(b) = input.recv().await {
            let batch = &b.data;
            let names = target_columns(&self.writer.spec.params.column, batch)
                .map_err(PostgresError::Invalid)?;
            if st.plan.is_none() {
                self.ensure_target(&st.client, &st.url, batch, &names)
                    .await?;
                let names = self.star_names(&st.client, &st.url, names).await?;
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
                    w.spec.staged.set(ctx.task_id, self.table.clone(), move_sql);
                }
                st.plan = Some((plan, names));
            }
            let binary = st.plan.as_ref().and_then(|(p, _)| p.binary.clone());
            let (narrow, targets) = st
                .plan
                .as_ref()
                .map(|(p, n)| (p.narrow.clone(), n.clone()))
                .unwrap_or_default();
            let (lines, bad) = {
                let kinds: Vec<TargetKind> = narrow
                    .iter()
                    .map(|n| match n {
                        crate::narrow::Narrow::Utf8Bytes => TargetKind::Text,
                        _ => TargetKind::Other,
                    })
                    .collect();
                let mut lits = RowLiterals::new(batch, true, false)
                    .map_err(|e| PluginError::new(PostgresError::Invalid(e)))?
                    .targets(&kinds);
                let checks = crate::narrow::Checks::new(&narrow, batch, &targets);
                let mut lines = Vec::with_capacity(batch.num_rows());
                let mut bad = Vec::new();
                for r in 0..batch.num_rows() {
                    let mut line = Vec::new();
                    let row = checks.row(r).and_then(|()| match &binary {
                        Some(encs) => binary_tuple(encs, batch, r, &mut line),
                        None => lits.write_copy_line(r, &mut line),
                    });
                    match row {
                        Ok(()) => lines.push((r, line)),
                        Err(e) => bad.push((r, e)),
                    }
                }
                (lines, bad)
            };
            for (r, error) in bad {
                self.writer.dirty(&ctx, batch, r, error)?;
            }
            // A batch may fill more than one unit (a batchSize below the engine's batch).
            let mut lines = lines.into_iter().peekable();
            loop {
                let bi = unit.batches.len();
                unit.batches.push(b.clone());
                while let Some((r, line)) = lines.next_if(|_| unit.lines.len() < unit.max_rows) {
                    unit.bytes += line.len();
                    unit.lines.push((bi, r, line));
                }
                if unit.full() {
                    self.flush(&mut st, &mut unit, &ctx, done).await?;
                }
                if lines.peek().is_none() {
                    break;
                }
            }
            ctx.check_cancelled()?;
        }
        // A stopping job's input ends early: its partial unit is not committed.
        ctx.check_cancelled()?;
        self.flush(&mut st, &mut unit, &ctx, done).await
    }
}
