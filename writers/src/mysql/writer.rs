//! The writer: prepare (preSql, table check), per-batch transactions with row-by-row isolation
//! of bad rows, commit (postSql).

use super::config::{MysqlWriteMode, MysqlWriterConfig};
use crate::sqlsteps::{Failure, SqlWriterSteps, TargetConn};
use crate::sqltarget::{
    create_table_sql, single_target, staging_comment, staging_table, target_columns, Staged,
    StagingMode,
};
use crate::sqltext::RowLiterals;
use arrow_array::RecordBatch;
use datasync_codec::values::{column_names, row_values};
use datasync_db::mysql::mysql_async::prelude::Queryable;
use datasync_db::mysql::mysql_async::{self, Conn};
use datasync_db::mysql::{ddl_type, MysqlConnConfig, MysqlError};
use datasync_db::sql::{quote_ident, unquote_ident, Dialect};
use datasync_engine::channel::BatchReceiver;
use datasync_engine::config::{join_path, parse_params, ConfigError};
use datasync_engine::{
    async_trait, DirtyRecord, Params, PluginError, TaskContext, Writer, WriterPlugin, WriterTask,
};
use serde_json::{json, Value};
use std::sync::Arc;

/// Makes the server refuse values a column cannot hold instead of truncating them. A job's
/// `session` runs after this and may loosen it.
const STRICT: &str =
    "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_ALL_TABLES')";

/// Server errors that mean the statement can never work (not a bad row): the task fails.
const STRUCTURAL: &[u16] = &[
    1044, 1045, 1046, 1049, 1054, 1064, 1136, 1142, 1143, 1146, 1149, 1290, 1036, 1227,
];

/// The MySQL writer.
#[derive(Debug, Clone)]
pub struct MysqlWriter {
    cfg: Arc<MysqlWriterConfig>,
    conn: Arc<MysqlConnConfig>,
    table: String,
    created: Arc<tokio::sync::Mutex<bool>>,
    staged: Arc<Staged>,
}

impl WriterPlugin for MysqlWriter {
    const NAME: &'static str = "mysql";
    const ALIASES: &'static [&'static str] = &["mysqlwriter", "oceanbasev10writer"];
    const DESCRIPTION: &'static str =
        "MySQL / MariaDB / OceanBase (MySQL mode): insert, replace or upsert; bad rows isolated";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let cfg: MysqlWriterConfig = parse_params(p.value, p.path)?;
        let (first, table, url_at) = single_target(&cfg.connection, &cfg.column, p.path)?;
        if cfg.batch_size == 0 {
            return Err(ConfigError::new(
                join_path(p.path, "batchSize"),
                "must be at least 1",
            ));
        }
        if cfg.write_mode == MysqlWriteMode::Update && cfg.column == ["*"] {
            return Err(ConfigError::new(
                join_path(p.path, "column"),
                "writeMode update needs the column names",
            ));
        }
        let conn = MysqlConnConfig::new(
            &first.jdbc_url,
            &cfg.username,
            &cfg.password,
            &cfg.session,
            &url_at,
        )?;
        Ok(MysqlWriter {
            cfg: Arc::new(cfg),
            conn: Arc::new(conn),
            table,
            created: Default::default(),
            staged: Default::default(),
        })
    }

    fn template() -> Value {
        json!({
            "username": "${mysql_user}",
            "password": "${mysql_password}",
            "column": ["id", "name", "amount", "created"],
            "writeMode": "insert",
            "preSql": [],
            "postSql": [],
            "batchSize": 1024,
            "session": [],
            "createTable": false,
            "emptyAsNull": false,
            "connection": [{"jdbcUrl": "jdbc:mysql://${mysql_host}:3306/${mysql_db}", "table": ["${mysql_table}"]}]
        })
    }
}

impl MysqlWriter {
    fn qtable(&self) -> String {
        quote_ident(Dialect::MySql, &self.table)
    }
}

/// The MySQL side of the shared SQL writer steps.
#[async_trait]
impl SqlWriterSteps for MysqlWriter {
    fn table(&self) -> &str {
        &self.table
    }
    fn quote(&self, name: &str) -> String {
        quote_ident(Dialect::MySql, name)
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
    async fn check_transactional(&self) -> Result<(), PluginError> {
        let (mut conn, url) = self.conn.connect(&[]).await?;
        let parts = datasync_db::sql::split_ident(&self.table);
        let name = parts.last().map(|p| unquote_ident(p)).unwrap_or_default();
        let schema = crate::sqltarget::schema_of(&self.table);
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
struct MysqlTarget {
    conn: Conn,
    url: datasync_db::sql::JdbcUrl,
    cc: Arc<MysqlConnConfig>,
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
}

/// A destructive preSql as it can run inside a transaction: MySQL's TRUNCATE commits on its
/// own, so `TRUNCATE [TABLE] t` becomes `DELETE FROM t`.
fn transactional(stmt: &str) -> String {
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

#[async_trait]
impl Writer for MysqlWriter {
    async fn prepare(&self) -> Result<(), PluginError> {
        self.prepare_target().await
    }

    async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError> {
        Ok((0..n)
            .map(|_| {
                Box::new(MysqlTask {
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
            self.cfg.write_mode != MysqlWriteMode::Insert,
        )
    }
}

struct MysqlTask {
    writer: MysqlWriter,
    /// The table this task writes: the target, or its staging table.
    table: String,
    /// Table staging: this attempt has created its staging table.
    stage_ready: bool,
}

/// A connection with what statement building needs to know about its session.
struct Session {
    conn: Conn,
    url: datasync_db::sql::JdbcUrl,
    backslash_escapes: bool,
    max_packet: usize,
}

impl MysqlTask {
    async fn open(&self) -> Result<Session, MysqlError> {
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
    fn statement_parts(&self, names: &[String]) -> (String, String) {
        let w = &self.writer;
        let verb = if w.cfg.write_mode == MysqlWriteMode::Replace {
            "REPLACE"
        } else {
            "INSERT"
        };
        let cols = if w.cfg.column == ["*"] {
            String::new()
        } else {
            format!(
                " ({})",
                names
                    .iter()
                    .map(|c| quote_ident(Dialect::MySql, c))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
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
    async fn create_stage(
        &mut self,
        s: &mut Session,
        task: usize,
        names: &[String],
    ) -> Result<(), MysqlError> {
        let w = self.writer.clone();
        let stage = staging_table(&w.table, task);
        let qstage = quote_ident(Dialect::MySql, &stage);
        // Known before it exists, so that abort drops it whatever happens next.
        w.staged.set(task, stage.clone(), String::new());
        let star = w.cfg.column == ["*"];
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
            let q = format!("SHOW INDEX FROM {}", w.qtable());
            let keys: Vec<mysql_async::Row> = s
                .conn
                .query(q.as_str())
                .await
                .map_err(|e| w.conn.query_error(&s.url, &q, e))?;
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
            let q = format!("SHOW COLUMNS FROM {}", w.qtable());
            let fields: Vec<mysql_async::Row> = s
                .conn
                .query(q.as_str())
                .await
                .map_err(|e| w.conn.query_error(&s.url, &q, e))?;
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
        w.staged.set(task, stage.clone(), move_sql);
        self.table = stage;
        self.stage_ready = true;
        Ok(())
    }

    async fn create_table(
        &self,
        s: &mut Session,
        batch: &RecordBatch,
        names: &[String],
    ) -> Result<(), MysqlError> {
        let mut created = self.writer.created.lock().await;
        if *created {
            return Ok(());
        }
        let sql = create_table_sql(Dialect::MySql, &self.writer.table, batch, names, ddl_type)
            .map_err(MysqlError::Invalid)?;
        s.conn
            .query_drop(sql.as_str())
            .await
            .map_err(|e| self.writer.conn.query_error(&s.url, &sql, e))?;
        *created = true;
        Ok(())
    }

    /// Writes `rows` (literal tuples) in one transaction, in statements capped by batchSize and
    /// the packet size. An error at COMMIT comes back as [`Failed::AtCommit`]: the unit may or
    /// may not have landed.
    async fn write_all(
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
                n = 0;
            }
        }
        s.conn.query_drop("COMMIT").await.map_err(Failed::AtCommit)
    }

    /// A new session after a lost connection, waiting up to `reconnectTimeout` for the server.
    async fn reopen(&self, url: &str) -> Result<Session, PluginError> {
        let limit = self.writer.cfg.reconnect_timeout.0;
        Ok(
            crate::sqltarget::reconnect(url, limit, MysqlError::is_retriable, || self.open())
                .await?,
        )
    }

    /// A unit whose COMMIT was cut off cannot be replayed in insert mode without risking a
    /// duplicate; replace and update modes replay it (the same rows again change nothing).
    fn replay_after_commit_loss(
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

/// The dirty-record text of a row the server cannot take in one packet.
fn too_big(bytes: usize, room: usize) -> String {
    format!(
        "the row is {bytes} bytes as SQL, more than the server's max_allowed_packet lets one \
         statement carry ({room} bytes); raise max_allowed_packet on the server to load it"
    )
}

/// How a unit failed: before COMMIT (rolled back by the server) or at it (unknown).
enum Failed {
    Before(mysql_async::Error),
    AtCommit(mysql_async::Error),
}

impl From<mysql_async::Error> for Failed {
    fn from(e: mysql_async::Error) -> Self {
        Failed::Before(e)
    }
}

fn is_structural(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(se) if STRUCTURAL.contains(&se.code))
}

#[async_trait]
impl WriterTask for MysqlTask {
    fn retry_safe(&self) -> bool {
        // A staging table is made afresh by each attempt; re-running replace/upsert leaves the
        // same rows; plain inserts into the target would duplicate.
        self.writer.staging() || self.writer.cfg.write_mode != MysqlWriteMode::Insert
    }

    async fn write(&mut self, input: BatchReceiver, ctx: TaskContext) -> Result<(), PluginError> {
        self.stage_ready = false;
        let mut done = (0, 0);
        self.write_batches(input, ctx, &mut done)
            .await
            .map_err(|e| crate::sqltarget::after_committed(e, done.0, done.1))
    }
}

impl MysqlTask {
    /// Writes every batch, one transaction each; `done` counts the committed units and rows.
    async fn write_batches(
        &mut self,
        mut input: BatchReceiver,
        ctx: TaskContext,
        done: &mut (u64, u64),
    ) -> Result<(), PluginError> {
        let mut s = self.open().await?;
        let mut parts: Option<(String, String, String)> = None;
        // LOAD DATA needs backslash escapes and only suits plain inserts.
        let mut use_load =
            self.writer.cfg.write_mode == MysqlWriteMode::Insert && s.backslash_escapes;
        while let Some(b) = input.recv().await {
            let batch = &b.data;
            if parts.is_none() {
                let names =
                    target_columns(&self.writer.cfg.column, batch).map_err(MysqlError::Invalid)?;
                if self.writer.cfg.create_table {
                    self.create_table(&mut s, batch, &names).await?;
                }
                if self.writer.staging() && !self.stage_ready {
                    self.create_stage(&mut s, ctx.task_id, &names).await?;
                }
                let (h, t) = self.statement_parts(&names);
                let cols = if self.writer.cfg.column == ["*"] {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        names
                            .iter()
                            .map(|c| quote_ident(Dialect::MySql, c))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
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
                        self.dirty(&ctx, batch, r, error)?;
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
            ctx.counters.add_written(
                ok as u64,
                (b.bytes as u64 * ok as u64) / (batch.num_rows() as u64).max(1),
            );
            done.0 += 1;
            done.1 += ok as u64;
            ctx.check_cancelled()?;
        }
        let _ = s.conn.disconnect().await;
        Ok(())
    }

    fn dirty(
        &self,
        ctx: &TaskContext,
        batch: &RecordBatch,
        r: usize,
        error: String,
    ) -> Result<(), PluginError> {
        ctx.dirty(DirtyRecord {
            error,
            columns: column_names(batch),
            values: row_values(batch, r),
            location: Some(self.writer.table.clone()),
        })
    }

    /// The batch as LOAD DATA lines, the rows they hold, and rows that cannot be expressed;
    /// `None` when the batch has columns LOAD DATA cannot carry (binary).
    #[allow(clippy::type_complexity)]
    fn format_lines(
        &self,
        s: &Session,
        batch: &RecordBatch,
    ) -> Result<Option<(Vec<u8>, Vec<usize>, Vec<(usize, String)>)>, PluginError> {
        let mut lits = RowLiterals::new(batch, s.backslash_escapes, self.writer.cfg.empty_as_null)
            .map_err(|e| PluginError::new(MysqlError::Invalid(e)))?;
        if !lits.load_data_ok() {
            return Ok(None);
        }
        let mut data = Vec::with_capacity(batch.num_rows() * 64);
        let (mut ok, mut bad) = (Vec::with_capacity(batch.num_rows()), Vec::new());
        for r in 0..batch.num_rows() {
            let start = data.len();
            match lits.write_line(r, &mut data) {
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
    async fn load_lines(
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
    async fn insert_rows(
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
                    .map_err(|e| PluginError::new(MysqlError::Invalid(e)))?;
            let mut tuples: Vec<(usize, Vec<u8>)> = Vec::with_capacity(rows.len());
            let mut bad = Vec::new();
            // One row must fit in one statement, and a statement in one packet.
            let room = s.max_packet.saturating_sub(head.len() + tail.len() + 16);
            for &r in rows {
                let mut lit = Vec::new();
                match lits.write_row(r, &mut lit) {
                    Ok(()) if lit.len() > room => bad.push((r, too_big(lit.len(), room))),
                    Ok(()) => tuples.push((r, lit)),
                    Err(error) => bad.push((r, error)),
                }
            }
            (tuples, bad)
        };
        for (r, error) in bad {
            self.dirty(ctx, batch, r, error)?;
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
                Err(Failed::Before(e) | Failed::AtCommit(e)) => {
                    tracing::debug!("batch failed on data ({e}); isolating bad rows one by one");
                    let mut landed = 0;
                    ctx.counters.set_isolating(tuples.len() as u64);
                    let isolated = async {
                        for (r, lit) in &tuples {
                            let sql = format!("{head}{}{tail}", String::from_utf8_lossy(lit));
                            match s.conn.query_drop(sql.as_str()).await {
                                Ok(()) => landed += 1,
                                Err(e) if e.is_fatal() || is_structural(&e) => {
                                    return Err(cc.query_error(&s.url, head, e).into())
                                }
                                Err(e) => self.dirty(ctx, batch, *r, e.to_string())?,
                            }
                        }
                        Ok::<_, PluginError>(())
                    }
                    .await;
                    ctx.counters.set_isolating(0);
                    isolated?;
                    return Ok(landed);
                }
            }
        }
    }
}
