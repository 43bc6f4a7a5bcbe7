//! A writer task: one transaction per batch (LOAD DATA LOCAL INFILE from memory for plain
//! inserts, multi-row statements otherwise), bad rows replayed one by one into dirty records,
//! reconnecting on a lost connection.

use super::checks::{is_structural, too_big, value_changes, Failed};
use super::config::MysqlWriteMode;
use super::writer::{MysqlWriter, STRICT};
use crate::sqlsteps::SqlWriterSteps;
use crate::sqltarget::{create_table_sql, staging_comment, staging_table, target_columns};
use crate::sqltext::RowLiterals;
use arrow_array::RecordBatch;
use datasync_db::mysql::mysql_async::prelude::Queryable;
use datasync_db::mysql::mysql_async::{self, Conn};
use datasync_db::mysql::{ddl_for, MysqlError};
use datasync_db::sql::{quote_ident, unquote_ident, Dialect};
use datasync_engine::channel::BatchReceiver;
use datasync_engine::{async_trait, PluginError, TaskContext};

pub(super) struct MysqlTask {
    pub(super) writer: MysqlWriter,
    /// The table this task writes: the target, or its staging table.
    pub(super) table: String,
    /// Table staging: this attempt has created its staging table.
    pub(super) stage_ready: bool,
    /// Per incoming column: what of its target column's type changes how values are written.
    pub(super) kinds: Vec<crate::sqltext::TargetKind>,
    /// `column: ["*"]` and the reader's names are not all the target's: rows go by position
    /// (as DataX writes them), not by name.
    pub(super) positional: bool,
    /// Per incoming column: what the server would change without an error (see `narrow`).
    pub(super) narrow: Vec<crate::narrow::Narrow>,
    /// The target column of each incoming column, for messages.
    pub(super) targets: Vec<String>,
}

/// A connection with what statement building needs to know about its session.
pub(super) struct Session {
    pub(super) conn: Conn,
    pub(super) url: datasync_db::sql::JdbcUrl,
    pub(super) backslash_escapes: bool,
    pub(super) max_packet: usize,
}

impl MysqlTask {
    /// ` (`a`, `b`)` for the target columns, or nothing when rows go by position.
    /// The rows of a query, a failure named with the statement.
    async fn rows(&self, s: &mut Session, q: &str) -> Result<Vec<mysql_async::Row>, MysqlError> {
        s.conn
            .query(q)
            .await
            .map_err(|e| self.writer.conn.query_error(&s.url, q, e))
    }

    pub(super) fn column_list(&self, names: &[String]) -> String {
        if self.positional {
            return String::new();
        }
        let quoted: Vec<String> = names
            .iter()
            .map(|c| quote_ident(Dialect::MySql, c))
            .collect();
        format!(" ({})", quoted.join(", "))
    }

    pub(super) async fn open(&self) -> Result<Session, MysqlError> {
        let cc = &self.writer.conn;
        let (mut conn, url) = cc.connect(&[STRICT]).await?;
        let url = url.clone();
        let q = "SELECT @@SESSION.sql_mode, @@max_allowed_packet";
        let (mode, packet): (String, u64) = conn
            .query_first(q)
            .await
            .map_err(|e| cc.query_error(&url, q, e))?
            .unwrap_or_default();
        Ok(Session {
            conn,
            url,
            backslash_escapes: !mode.to_ascii_uppercase().contains("NO_BACKSLASH_ESCAPES"),
            max_packet: (packet as usize).clamp(1 << 16, 1 << 30),
        })
    }

    /// `INSERT INTO t (cols) VALUES` and the upsert tail for the configured mode.
    pub(super) fn statement_parts(&self, names: &[String]) -> (String, String) {
        let w = &self.writer;
        let verb = if w.cfg.write_mode == MysqlWriteMode::Replace {
            "REPLACE"
        } else {
            "INSERT"
        };
        let cols = self.column_list(names);
        let head = format!(
            "{verb} INTO {}{cols} VALUES ",
            quote_ident(Dialect::MySql, &self.table)
        );
        let tail = if w.cfg.write_mode == MysqlWriteMode::Update {
            let sets: Vec<String> = names
                .iter()
                .map(|c| {
                    let q = quote_ident(Dialect::MySql, c);
                    format!("{q}=VALUES({q})")
                })
                .collect();
            format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", "))
        } else {
            String::new()
        };
        (head, tail)
    }

    /// Table staging: (re)creates this task's staging table, a copy of the target's structure
    /// (with its indexes, so bad rows are still found per row) for the written columns only,
    /// marked with its owner; records the statement that moves its rows into the target.
    pub(super) async fn create_stage(
        &mut self,
        s: &mut Session,
        task: usize,
        names: &[String],
    ) -> Result<(), MysqlError> {
        let w = self.writer.clone();
        let stage = staging_table(&w.table, task);
        let qstage = quote_ident(Dialect::MySql, &stage);
        // Known before it exists, so that abort drops it whatever happens next.
        w.spec.staged.set(task, stage.clone(), String::new());
        let star = w.spec.params.column == ["*"];
        let mut stmts = vec![
            format!("DROP TABLE IF EXISTS {qstage}"),
            format!("CREATE TABLE {qstage} LIKE {}", w.qtable()),
        ];
        let mut alter = vec![format!("COMMENT = '{}'", staging_comment(&w.table))];
        if !star {
            let written = |c: &str| {
                names
                    .iter()
                    .any(|n| unquote_ident(n).eq_ignore_ascii_case(c))
            };
            // An index over a column the job does not write goes whole (shrinking it would
            // change what it makes unique), then the column.
            let keys = self
                .rows(s, &format!("SHOW INDEX FROM {}", w.qtable()))
                .await?;
            let mut dropped_keys: Vec<String> = Vec::new();
            for k in keys {
                let key: String = k.get("Key_name").unwrap_or_default();
                let col: String = k.get("Column_name").unwrap_or_default();
                if !written(&col) && !dropped_keys.contains(&key) {
                    alter.push(if key == "PRIMARY" {
                        "DROP PRIMARY KEY".to_string()
                    } else {
                        format!("DROP INDEX {}", quote_ident(Dialect::MySql, &key))
                    });
                    dropped_keys.push(key);
                }
            }
            let fields = self
                .rows(s, &format!("SHOW COLUMNS FROM {}", w.qtable()))
                .await?;
            for f in fields {
                let name: String = f.get(0).unwrap_or_default();
                if !written(&name) {
                    alter.push(format!(
                        "DROP COLUMN {}",
                        quote_ident(Dialect::MySql, &name)
                    ));
                }
            }
        }
        stmts.push(format!("ALTER TABLE {qstage} {}", alter.join(", ")));
        for sql in &stmts {
            s.conn
                .query_drop(sql.as_str())
                .await
                .map_err(|e| w.conn.query_error(&s.url, sql, e))?;
        }
        let (verb, tail) = {
            let (head, tail) = self.statement_parts(names);
            (
                head.split(" INTO ").next().unwrap_or("INSERT").to_string(),
                tail,
            )
        };
        let list: Vec<String> = names
            .iter()
            .map(|c| quote_ident(Dialect::MySql, c))
            .collect();
        let (into, select) = if star {
            (String::new(), "*".to_string())
        } else {
            (format!(" ({})", list.join(", ")), list.join(", "))
        };
        let move_sql = format!(
            "{verb} INTO {}{into} SELECT {select} FROM {qstage}{tail}",
            w.qtable()
        );
        w.spec.staged.set(task, stage.clone(), move_sql);
        self.table = stage;
        self.stage_ready = true;
        Ok(())
    }

    /// `update`/`replace` work through a primary or unique key: without one every row would
    /// be inserted (a rerun duplicating them), so that is refused, as the PostgreSQL writer
    /// refuses an upsert without a key.
    async fn check_unique_key(&self, s: &mut Session) -> Result<(), MysqlError> {
        if self.writer.cfg.write_mode == MysqlWriteMode::Insert {
            return Ok(());
        }
        let q = datasync_db::mysql::unique_key_count_sql(&self.writer.table);
        let n: Option<u64> = s
            .conn
            .query_first(q.as_str())
            .await
            .map_err(|e| self.writer.conn.query_error(&s.url, &q, e))?;
        if n.unwrap_or(0) == 0 {
            return Err(MysqlError::Invalid(format!(
                "writeMode {}: {} has no primary or unique key, so every row would be inserted \
                 (and a rerun would insert them again); add a key, or use writeMode insert",
                self.writer.cfg.write_mode.name(),
                self.writer.table
            )));
        }
        Ok(())
    }

    pub(super) async fn create_table(
        &self,
        s: &mut Session,
        batch: &RecordBatch,
        names: &[String],
    ) -> Result<(), MysqlError> {
        let w = &self.writer;
        w.create_once(
            || {
                create_table_sql(
                    Dialect::MySql,
                    &w.table,
                    batch,
                    names,
                    ddl_for,
                    datasync_db::mysql::key_type_ok,
                )
                .map_err(MysqlError::Invalid)
            },
            |sql| async move {
                s.conn
                    .query_drop(sql.as_str())
                    .await
                    .map_err(|e| w.conn.query_error(&s.url, &sql, e))
            },
        )
        .await
    }

    /// Writes `rows` (literal tuples) in one transaction, in statements capped by batchSize and
    /// the packet size. An error at COMMIT comes back as [`Failed::AtCommit`]: the unit may or
    /// may not have landed.
    pub(super) async fn write_all(
        &self,
        s: &mut Session,
        head: &str,
        tail: &str,
        rows: &[(usize, Vec<u8>)],
    ) -> Result<(), Failed> {
        let budget = s.max_packet / 2;
        s.conn.query_drop("START TRANSACTION").await?;
        let mut sql: Vec<u8> = Vec::with_capacity(budget.min(16 << 20));
        let mut n = 0;
        for (i, (_, r)) in rows.iter().enumerate() {
            if n == 0 {
                sql.clear();
                sql.extend_from_slice(head.as_bytes());
            } else {
                sql.push(b',');
            }
            sql.extend_from_slice(r);
            n += 1;
            let last = i + 1 == rows.len();
            let next_big = rows
                .get(i + 1)
                .is_some_and(|(_, nx)| sql.len() + nx.len() + tail.len() > budget);
            if last || n >= self.writer.cfg.batch_size || next_big {
                sql.extend_from_slice(tail.as_bytes());
                let text = String::from_utf8_lossy(&sql);
                if let Err(e) = s.conn.query_drop(text.as_ref()).await {
                    let _ = s.conn.query_drop("ROLLBACK").await;
                    return Err(e.into());
                }
                if let Some(changed) = value_changes(&mut s.conn).await? {
                    s.conn.query_drop("ROLLBACK").await?;
                    return Err(Failed::Changed(changed));
                }
                n = 0;
            }
        }
        s.conn.query_drop("COMMIT").await.map_err(Failed::AtCommit)
    }

    /// A new session after a lost connection, waiting up to `reconnectTimeout` for the server.
    pub(super) async fn reopen(&self, url: &str) -> Result<Session, PluginError> {
        let limit = self.writer.spec.params.reconnect_timeout.0;
        Ok(
            datasync_db::sql::reconnect(url, limit, MysqlError::is_retriable, || self.open())
                .await?,
        )
    }

    /// A unit whose COMMIT was cut off cannot be replayed in insert mode without risking a
    /// duplicate; replace and update modes replay it (the same rows again change nothing).
    pub(super) fn replay_after_commit_loss(
        &self,
        url: &str,
        e: mysql_async::Error,
    ) -> Result<(), PluginError> {
        if self.writer.cfg.write_mode == MysqlWriteMode::Insert {
            return Err(PluginError::new(MysqlError::Invalid(format!(
                "{url}: the connection was lost while committing a unit ({e}); it may or may not \
                 have landed, and writeMode insert cannot replay it without risking duplicates \
                 (replace or update can)"
            ))));
        }
        Ok(())
    }
}

#[async_trait]
impl crate::sqltarget::UnitTask for MysqlTask {
    /// Every batch, one transaction each.
    async fn write_units(
        &mut self,
        mut input: BatchReceiver,
        ctx: TaskContext,
        done: &mut (u64, u64),
    ) -> Result<(), PluginError> {
        self.stage_ready = false;
        let mut s = self.open().await?;
        let mut parts: Option<(String, String, String)> = None;
        // LOAD DATA needs backslash escapes and only suits plain inserts.
        let mut use_load =
            self.writer.cfg.write_mode == MysqlWriteMode::Insert && s.backslash_escapes;
        while let Some(b) = input.recv().await {
            let batch = &b.data;
            if parts.is_none() {
                let names = target_columns(&self.writer.spec.params.column, batch)
                    .map_err(MysqlError::Invalid)?;
                if self.writer.spec.params.create_table {
                    self.create_table(&mut s, batch, &names).await?;
                }
                if self.writer.staging() && !self.stage_ready {
                    self.create_stage(&mut s, ctx.task_id, &names).await?;
                }
                self.kinds = self.target_kinds(&mut s, &names, batch).await?;
                self.check_unique_key(&mut s).await?;
                let (h, t) = self.statement_parts(&names);
                let cols = self.column_list(&names);
                parts = Some((h, t, cols));
            }
            let Some((head, tail, cols)) = &parts else {
                continue;
            };
            let all: Vec<usize> = (0..batch.num_rows()).collect();
            let mut landed = None;
            if use_load {
                let lines = self.format_lines(&s, batch)?;
                if let Some((data, ok_rows, bad)) = lines {
                    for (r, error) in bad {
                        self.writer.dirty(&ctx, batch, r, error)?;
                    }
                    match self.load_lines(&mut s, data, ok_rows.len(), cols).await {
                        Ok(true) => landed = Some(ok_rows.len()),
                        Ok(false) => {
                            tracing::debug!("LOAD DATA reported warnings or skipped rows; replaying the batch with INSERT to isolate them");
                            landed = Some(
                                self.insert_rows(&mut s, batch, &ok_rows, head, tail, &ctx)
                                    .await?,
                            );
                        }
                        Err(Failed::AtCommit(e)) if e.is_fatal() => {
                            let url = s.url.to_string();
                            self.replay_after_commit_loss(&url, e)?;
                            s = self.reopen(&url).await?;
                            landed = Some(
                                self.insert_rows(&mut s, batch, &ok_rows, head, tail, &ctx)
                                    .await?,
                            );
                        }
                        Err(Failed::Before(e)) if e.is_fatal() => {
                            tracing::warn!(
                                "{}: connection lost during LOAD DATA ({e}); reconnecting",
                                s.url
                            );
                            s = self.reopen(&s.url.to_string()).await?;
                            landed = Some(
                                self.insert_rows(&mut s, batch, &ok_rows, head, tail, &ctx)
                                    .await?,
                            );
                        }
                        Err(Failed::Changed(_)) => {
                            landed = Some(
                                self.insert_rows(&mut s, batch, &ok_rows, head, tail, &ctx)
                                    .await?,
                            );
                        }
                        Err(Failed::Before(e) | Failed::AtCommit(e)) => {
                            tracing::warn!("{}: LOAD DATA LOCAL INFILE refused ({e}); writing with multi-row INSERT instead", s.url);
                            use_load = false;
                            landed = Some(
                                self.insert_rows(&mut s, batch, &ok_rows, head, tail, &ctx)
                                    .await?,
                            );
                        }
                    }
                }
            }
            let ok = match landed {
                Some(n) => n,
                None => {
                    self.insert_rows(&mut s, batch, &all, head, tail, &ctx)
                        .await?
                }
            };
            crate::sqltarget::count_unit(&ctx, done, ok, batch.num_rows(), b.bytes as u64);
            ctx.check_cancelled()?;
        }
        let _ = s.conn.disconnect().await;
        Ok(())
    }
}

impl MysqlTask {
    /// The batch as LOAD DATA lines, the rows they hold, and rows that cannot be expressed;
    /// `None` when the batch has columns LOAD DATA cannot carry (binary).
    #[allow(clippy::type_complexity)]
    pub(super) fn format_lines(
        &self,
        s: &Session,
        batch: &RecordBatch,
    ) -> Result<Option<(Vec<u8>, Vec<usize>, Vec<(usize, String)>)>, PluginError> {
        let mut lits = RowLiterals::new(batch, s.backslash_escapes, self.writer.cfg.empty_as_null)
            .map_err(|e| PluginError::new(MysqlError::Invalid(e)))?
            .targets(&self.kinds);
        if !lits.load_data_ok() {
            return Ok(None);
        }
        let checks = crate::narrow::Checks::new(&self.narrow, batch, &self.targets);
        let mut data = Vec::with_capacity(batch.num_rows() * 64);
        let (mut ok, mut bad) = (Vec::with_capacity(batch.num_rows()), Vec::new());
        for r in 0..batch.num_rows() {
            let start = data.len();
            match checks.row(r).and_then(|()| lits.write_line(r, &mut data)) {
                Ok(()) if data.len() - start > s.max_packet => {
                    bad.push((r, too_big(data.len() - start, s.max_packet)));
                    data.truncate(start);
                }
                Ok(()) => ok.push(r),
                Err(e) => bad.push((r, e)),
            }
        }
        Ok(Some((data, ok, bad)))
    }

    /// Loads `rows` lines in one transaction; true when committed with every row and no
    /// warning, false when rolled back (LOCAL turns errors into warnings, so any warning means
    /// a value may have been altered).
    pub(super) async fn load_lines(
        &self,
        s: &mut Session,
        data: Vec<u8>,
        rows: usize,
        cols: &str,
    ) -> Result<bool, Failed> {
        if rows == 0 {
            return Ok(true);
        }
        let data = bytes::Bytes::from(data);
        s.conn.set_infile_handler(async move {
            let chunks: mysql_async::InfileData =
                Box::pin(futures_util::stream::iter(std::iter::once(Ok(data))));
            Ok(chunks)
        });
        s.conn.query_drop("START TRANSACTION").await?;
        let sql = format!(
            "LOAD DATA LOCAL INFILE 'datasync-batch' INTO TABLE {} CHARACTER SET utf8mb4 \
             FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'{cols}",
            quote_ident(Dialect::MySql, &self.table)
        );
        if let Err(e) = s.conn.query_drop(sql.as_str()).await {
            let _ = s.conn.query_drop("ROLLBACK").await;
            return Err(e.into());
        }
        if s.conn.affected_rows() == rows as u64 && s.conn.get_warnings() == 0 {
            s.conn
                .query_drop("COMMIT")
                .await
                .map_err(Failed::AtCommit)?;
            Ok(true)
        } else {
            s.conn.query_drop("ROLLBACK").await?;
            Ok(false)
        }
    }

    /// Writes `rows` of the batch with multi-row statements in one transaction; on a data
    /// error replays them one by one, making the failing ones dirty. Returns rows landed.
    pub(super) async fn insert_rows(
        &self,
        s: &mut Session,
        batch: &RecordBatch,
        rows: &[usize],
        head: &str,
        tail: &str,
        ctx: &TaskContext,
    ) -> Result<usize, PluginError> {
        let cc = &self.writer.conn;
        // Rows that cannot even be expressed as literals are dirty before any SQL runs.
        // (The formatter is not Send, so it lives only in this block, not across awaits.)
        let (tuples, bad) = {
            let mut lits =
                RowLiterals::new(batch, s.backslash_escapes, self.writer.cfg.empty_as_null)
                    .map_err(|e| PluginError::new(MysqlError::Invalid(e)))?
                    .targets(&self.kinds);
            let mut tuples: Vec<(usize, Vec<u8>)> = Vec::with_capacity(rows.len());
            let mut bad = Vec::new();
            // One row must fit in one statement, and a statement in one packet.
            let room = s.max_packet.saturating_sub(head.len() + tail.len() + 16);
            let checks = crate::narrow::Checks::new(&self.narrow, batch, &self.targets);
            for &r in rows {
                let mut lit = Vec::new();
                match checks.row(r).and_then(|()| lits.write_row(r, &mut lit)) {
                    Ok(()) if lit.len() > room => bad.push((r, too_big(lit.len(), room))),
                    Ok(()) => tuples.push((r, lit)),
                    Err(error) => bad.push((r, error)),
                }
            }
            (tuples, bad)
        };
        for (r, error) in bad {
            self.writer.dirty(ctx, batch, r, error)?;
        }
        loop {
            match self.write_all(s, head, tail, &tuples).await {
                Ok(()) => return Ok(tuples.len()),
                Err(Failed::AtCommit(e)) if e.is_fatal() => {
                    let url = s.url.to_string();
                    self.replay_after_commit_loss(&url, e)?;
                    *s = self.reopen(&url).await?;
                }
                Err(Failed::Before(e)) if e.is_fatal() => {
                    tracing::warn!(
                        "{}: connection lost ({e}); reconnecting to write the unit again",
                        s.url
                    );
                    *s = self.reopen(&s.url.to_string()).await?;
                }
                Err(Failed::Before(e) | Failed::AtCommit(e))
                    if e.is_fatal() || is_structural(&e) =>
                {
                    return Err(cc.query_error(&s.url, head, e).into())
                }
                Err(f) => {
                    match f {
                        Failed::Changed(w) => {
                            tracing::debug!("batch changed values ({w}); isolating them row by row")
                        }
                        Failed::Before(e) | Failed::AtCommit(e) => tracing::debug!(
                            "batch failed on data ({e}); isolating bad rows one by one"
                        ),
                    }
                    let (mut landed, mut landed_bytes) = (0, 0);
                    ctx.counters.set_isolating(tuples.len() as u64);
                    let isolated = async {
                        for (r, lit) in &tuples {
                            // Each row commits on its own: a stopped job stops here.
                            ctx.check_cancelled()?;
                            let sql = format!("{head}{}{tail}", String::from_utf8_lossy(lit));
                            match self.insert_one(s, &sql).await {
                                Ok(None) => {
                                    landed += 1;
                                    landed_bytes += lit.len() as u64;
                                }
                                Ok(Some(changed)) => self.writer.dirty(ctx, batch, *r, changed)?,
                                Err(e) if e.is_fatal() || is_structural(&e) => {
                                    return Err(cc.query_error(&s.url, head, e).into())
                                }
                                Err(e) => self.writer.dirty(ctx, batch, *r, e.to_string())?,
                            }
                        }
                        Ok::<_, PluginError>(())
                    }
                    .await;
                    ctx.counters.set_isolating(0);
                    if let Err(e) = isolated {
                        // Each isolated row committed on its own: those that landed before
                        // the stop (the error limit, a lost server) are in the table.
                        ctx.counters.add_written(landed as u64, landed_bytes);
                        return Err(e);
                    }
                    return Ok(landed);
                }
            }
        }
    }
}
