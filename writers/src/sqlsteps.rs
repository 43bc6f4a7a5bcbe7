//! The writer steps every SQL writer takes the same way: preSql/postSql, the target probe, and
//! table staging (stale staging tables removed, the publishing transaction, staging dropped).
//! A SQL writer implements [`SqlWriterSteps`] (its connection as a [`TargetConn`] and a few
//! accessors) and gets the steps.

use crate::sqltarget::{
    is_destructive, schema_of, stale_stages, unpublished_message, SqlWriterParams, Staged,
    StagingMode, STAGE_PREFIX,
};
use datasync_db::sql::{quote_ident, Dialect};
use datasync_engine::{async_trait, PluginError, WriterTask};

/// A statement the target did not run.
pub(crate) struct Failure {
    /// The connection was lost (at COMMIT: whether it landed is unknown).
    pub lost: bool,
    /// The server's message.
    pub message: String,
    /// The error to report (names the statement and the server).
    pub error: PluginError,
}

/// One connection to a SQL target, as the shared steps use it.
#[async_trait]
pub(crate) trait TargetConn: Send {
    /// Runs one statement.
    async fn run(&mut self, sql: &str) -> Result<(), Failure>;
    /// Runs one statement and says how many rows it changed (`None`: the driver cannot tell).
    async fn run_counted(&mut self, sql: &str) -> Result<Option<u64>, Failure> {
        self.run(sql).await.map(|()| None)
    }
    /// The tables named `datasync_stg_*` in `schema` (default: the connection's): (name,
    /// comment).
    async fn staging_tables(
        &mut self,
        schema: Option<&str>,
    ) -> Result<Vec<(String, String)>, PluginError>;
    /// The server, for messages (no password).
    fn url(&self) -> String;
    /// The result columns of `sql` (name, the system's type name), reading no row.
    async fn describe(&mut self, sql: &str) -> Result<Vec<(String, String)>, PluginError>;
    /// Whether this login may INSERT into `table` (`None`: the server cannot tell).
    async fn may_insert(&mut self, table: &str) -> Result<Option<bool>, PluginError>;
    /// Whether this login may create `table` (`None`: the server cannot tell).
    async fn may_create(&mut self, table: &str) -> Result<Option<bool>, PluginError> {
        let _ = table;
        Ok(None)
    }
    /// Whether `table` has the key an upsert goes through (the primary key; for MySQL any
    /// unique key).
    async fn has_key(&mut self, table: &str) -> Result<bool, PluginError>;
    /// `SELECT count(*) FROM table` (`table` quoted as the job wrote it).
    async fn count(&mut self, table: &str) -> Result<u64, PluginError>;
}

/// What the shared steps need of a SQL writer's configuration, built once in `from_params`.
#[derive(Debug)]
pub(crate) struct TargetSpec {
    /// The target table as configured.
    pub table: String,
    /// How identifiers are quoted.
    pub dialect: Dialect,
    /// The shared `parameter` keys.
    pub params: SqlWriterParams,
    /// This run's staging tables.
    pub staged: Staged,
    /// The destructive preSql (TRUNCATE/DELETE) that ran before the job, outside any
    /// transaction of the job's (stagingMode none): a failed job must say so.
    pub destructive_ran: std::sync::Mutex<Vec<String>>,
}

impl TargetSpec {
    /// The spec of a writer of `table` in `dialect`.
    pub(crate) fn new(table: &str, dialect: Dialect, params: SqlWriterParams) -> Self {
        TargetSpec {
            table: table.to_string(),
            dialect,
            params,
            staged: Staged::default(),
            destructive_ran: std::sync::Mutex::new(Vec::new()),
        }
    }
}

/// What every SQL writer holds the same way: implemented once, by
/// [`crate::sqltarget::SqlWriter`].
#[async_trait]
pub(crate) trait SqlWriterCore: Sync {
    /// The writer's target spec.
    fn spec(&self) -> &TargetSpec;
    /// Whether a task ran `createTable`'s statement (it needs the reader's first batch).
    async fn table_ensured(&self) -> bool;
    /// The single-table writers of a sharded write (several target tables), in task order;
    /// empty for a writer of one table.
    fn shards(&self) -> &[Self]
    where
        Self: Sized;
}

#[async_trait]
impl<C: Send + Sync, K: Send + Sync> SqlWriterCore for crate::sqltarget::SqlWriter<C, K> {
    fn spec(&self) -> &TargetSpec {
        &self.spec
    }
    async fn table_ensured(&self) -> bool {
        *self.created.lock().await
    }
    fn shards(&self) -> &[Self] {
        &self.shards
    }
}

/// What a SQL writer provides so that it gets the shared steps.
#[async_trait]
pub(crate) trait SqlWriterSteps: SqlWriterCore {
    /// A new writer task (each task opens its own connection).
    fn new_task(&self) -> Box<dyn crate::sqltarget::UnitTask>;
    /// [`SqlWriterSteps::new_task`] as the engine's task.
    fn engine_task(&self) -> Box<dyn WriterTask> {
        Box::new(crate::sqltarget::Units {
            task: self.new_task(),
            retry_safe: self.staging() || self.idempotent(),
        })
    }
    /// The target table as a lineage dataset.
    fn dataset(&self) -> datasync_engine::lineage::Dataset;
    /// The writers whose tables this job writes: the shards, or this writer alone.
    fn members(&self) -> &[Self]
    where
        Self: Sized,
    {
        match self.shards() {
            [] => std::slice::from_ref(self),
            many => many,
        }
    }
    /// Whether running every task again writes the same target rows (`writeMode` update or
    /// replace), so a failed run can be resumed by running it all again.
    fn idempotent(&self) -> bool;
    /// The target table as configured.
    fn table(&self) -> &str {
        &self.spec().table
    }
    /// `name` quoted for this system.
    fn quote(&self, name: &str) -> String {
        quote_ident(self.spec().dialect, name)
    }
    /// `preSql`.
    fn pre_sql(&self) -> &[String] {
        &self.spec().params.pre_sql
    }
    /// `postSql`.
    fn post_sql(&self) -> &[String] {
        &self.spec().params.post_sql
    }
    /// Whether `stagingMode` is `table`.
    fn staging(&self) -> bool {
        self.spec().params.staging_mode == StagingMode::Table
    }
    /// This run's staging tables.
    fn staged(&self) -> &Staged {
        &self.spec().staged
    }
    /// Whether the write mode needs a key on the target that the job does not name (an upsert
    /// without `conflictColumns`).
    fn needs_key(&self) -> bool {
        self.idempotent()
    }
    /// Whether the target must exist before the job (no `createTable`).
    fn must_exist(&self) -> bool {
        !self.spec().params.create_table
    }
    /// A connection to the target.
    async fn open(&self) -> Result<Box<dyn TargetConn>, PluginError>;
    /// Refuses table staging where the target cannot take part in a transaction.
    async fn check_transactional(&self) -> Result<(), PluginError> {
        Ok(())
    }
    /// What the system refuses before preSql changes anything (a session that would shift
    /// values, found on the target's own columns).
    async fn check_session(&self) -> Result<(), PluginError> {
        Ok(())
    }
    /// A destructive preSql as it runs inside the publishing transaction.
    fn in_transaction(&self, stmt: &str) -> String {
        stmt.to_string()
    }
    /// Drops table `quoted` if it exists.
    fn drop_table_sql(&self, quoted: &str) -> String {
        format!("DROP TABLE IF EXISTS {quoted}")
    }

    /// Runs `stmts` (`@table` = the table) on one connection.
    async fn run_statements(&self, stmts: &[String]) -> Result<(), PluginError> {
        if stmts.is_empty() {
            return Ok(());
        }
        let mut c = self.open().await?;
        for s in stmts {
            c.run(&s.replace("@table", self.table()))
                .await
                .map_err(|f| f.error)?;
        }
        Ok(())
    }

    /// preSql with table staging: the statements before the first one that names TRUNCATE or
    /// DELETE run before the job; from that one on, all run, in their order, in the
    /// publishing transaction (so "clear, then seed" stays in order). Without staging: all
    /// before the job. Returns (before the job, in the publishing transaction).
    fn split_pre_sql(&self) -> (Vec<String>, Vec<String>) {
        let all = self.pre_sql().to_vec();
        if !self.staging() {
            return (all, Vec::new());
        }
        let first = all
            .iter()
            .position(|s| is_destructive(s))
            .unwrap_or(all.len());
        let late = all[first..].to_vec();
        (all[..first].to_vec(), late)
    }

    /// preSql (see [`Self::split_pre_sql`]), stale staging tables of killed runs dropped, the
    /// target checked.
    async fn prepare_target(&self) -> Result<(), PluginError> {
        let staging = self.staging();
        let (early, late) = self.split_pre_sql();
        if staging {
            for s in &early {
                tracing::info!("stagingMode table: preSql \"{s}\" runs now, before the job (it comes before any TRUNCATE or DELETE): what it changes stays even if the job fails");
            }
            for s in &late {
                tracing::info!(
                    "stagingMode table: preSql \"{s}\" runs in the publishing transaction"
                );
            }
        }
        if staging {
            self.check_transactional().await?;
        }
        self.check_session().await?;
        self.run_statements(&early).await?;
        let destructive: Vec<String> = early.into_iter().filter(|s| is_destructive(s)).collect();
        if let Ok(mut ran) = self.spec().destructive_ran.lock() {
            *ran = destructive;
        }
        if staging {
            for line in self.remove_stale_stages().await? {
                tracing::info!("{line}");
            }
        }
        if self.must_exist() {
            let probe = format!("SELECT * FROM {} WHERE 1 = 0", self.quote(self.table()));
            self.open().await?.run(&probe).await.map_err(|f| f.error)?;
        }
        Ok(())
    }

    /// Drops the staging tables killed runs left next to the target; one line per table.
    async fn remove_stale_stages(&self) -> Result<Vec<String>, PluginError> {
        let mut c = self.open().await?;
        let found = c.staging_tables(schema_of(self.table()).as_deref()).await?;
        let mut done = Vec::new();
        for name in stale_stages(found) {
            c.run(&self.drop_table_sql(&self.quote(&name)))
                .await
                .map_err(|f| f.error)?;
            done.push(format!("dropped staging table {name} of a killed run"));
        }
        Ok(done)
    }

    /// `check --connect`: logs in, checks the table and the written columns exist and that
    /// the login may insert, and says what preSql would run; changes nothing.
    async fn probe_target(&self) -> Result<datasync_engine::Probe, PluginError> {
        let mut p = datasync_engine::Probe::default();
        let mut c = self.open().await?;
        p.ok(
            "connection",
            format!("{}: logged in as {}", c.url(), self.spec().params.username),
        );
        let table = self.table();
        let what = format!("table {table}");
        let exists = c
            .describe(&format!("SELECT * FROM {table} WHERE 1 = 0"))
            .await;
        match exists {
            Err(e) if self.spec().params.create_table => {
                match c.may_create(table).await {
                    Ok(Some(false)) => p.problem(
                        what,
                        format!(
                            "not found, and this login may not create it ({})",
                            e.chain()
                        ),
                    ),
                    _ => p.ok(
                        what,
                        format!("not found; createTable will create it ({})", e.chain()),
                    ),
                }
                return Ok(p);
            }
            Err(e) => {
                p.problem(what, e.chain());
                return Ok(p);
            }
            Ok(all) => {
                let columns = &self.spec().params.column;
                let wanted = if columns.len() == 1 && columns[0].trim() == "*" {
                    Ok(all)
                } else {
                    c.describe(&format!(
                        "SELECT {} FROM {table} WHERE 1 = 0",
                        columns.join(", ")
                    ))
                    .await
                };
                match wanted {
                    Ok(cols) => {
                        p.ok(
                            what,
                            format!(
                                "exists; writes {}",
                                datasync_engine::Probe::columns_text(&cols)
                            ),
                        );
                        p.columns = Some(cols);
                    }
                    Err(e) => p.problem(format!("columns of {table}"), e.chain()),
                }
            }
        }
        if self.needs_key() {
            match c.has_key(table).await {
                Ok(true) => p.ok("key", "the upsert's key exists"),
                Ok(false) => p.problem(
                    "key",
                    format!(
                        "{table} has no key for this write mode to go through (add one, or set \
                         conflictColumns where the writer has it)"
                    ),
                ),
                Err(e) => p.problem("key", e.chain()),
            }
        }
        match c.may_insert(table).await {
            Ok(Some(true)) => p.ok("write permission", "INSERT allowed"),
            Ok(Some(false)) => p.problem(
                "write permission",
                format!("this login may not INSERT into {table}"),
            ),
            Ok(None) => p.ok("write permission", "not known until the first write"),
            Err(e) => p.problem("write permission", e.chain()),
        }
        if !self.pre_sql().is_empty() {
            p.ok(
                "preSql",
                format!(
                    "{} statement(s) run when the job starts (not now)",
                    self.pre_sql().len()
                ),
            );
        }
        Ok(p)
    }

    /// After a failed job: drops this run's staging tables, and warns when a destructive
    /// preSql had already changed the target for good.
    async fn abort_target(&self) -> Result<(), PluginError> {
        let ran = self
            .spec()
            .destructive_ran
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default();
        for s in ran {
            datasync_engine::report::warn(format!(
                "the job failed after preSql \"{s}\" ran on {}: the rows it removed are gone, \
                 and the table holds only what this run had committed (stagingMode: table runs \
                 it in the publishing transaction, so a failed job leaves the table as it was)",
                self.table()
            ));
        }
        if datasync_engine::shard::planned() {
            return self.drop_planned_stages().await;
        }
        self.drop_stages().await
    }

    /// Drops this run's staging tables.
    async fn drop_stages(&self) -> Result<(), PluginError> {
        let stages = self.staged().all();
        if stages.is_empty() {
            return Ok(());
        }
        let mut c = self.open().await?;
        for (stage, _) in stages {
            c.run(&self.drop_table_sql(&self.quote(&stage)))
                .await
                .map_err(|f| f.error)?;
        }
        self.staged().clear();
        Ok(())
    }

    /// Table staging: in one transaction, the destructive preSql, then every staging table
    /// moved into the target. A refusal rolls back: nothing published.
    async fn publish_stages(&self) -> Result<(), PluginError> {
        let mut c = self.open().await?;
        let (_, late) = self.split_pre_sql();
        let mut stmts: Vec<String> = late
            .iter()
            .map(|s| self.in_transaction(&s.replace("@table", self.table())))
            .collect();
        for (stage, move_sql) in self.staged().all() {
            if move_sql.is_empty() {
                continue;
            }
            stmts.push(move_sql);
            // A planned run's commit may be run again after a crash: the staged rows leave
            // in the same transaction that publishes them, so a second commit moves nothing.
            if datasync_engine::shard::planned() {
                stmts.push(format!("DELETE FROM {}", self.quote(&stage)));
            }
        }
        // In insert mode each move must add every staged row: a trigger or rule on the
        // target that drops rows is found here, and nothing is published.
        let moves: std::collections::BTreeMap<String, String> = self
            .staged()
            .all()
            .into_iter()
            .filter(|(_, m)| !m.is_empty() && !self.idempotent())
            .map(|(stage, m)| (m, stage))
            .collect();
        c.run("BEGIN").await.map_err(|f| f.error)?;
        for sql in &stmts {
            let staged = match moves.get(sql) {
                Some(stage) => match c.count(&self.quote(stage)).await {
                    Ok(n) => Some((stage, n)),
                    Err(e) => {
                        let _ = c.run("ROLLBACK").await;
                        return Err(e);
                    }
                },
                None => None,
            };
            let done = match staged {
                Some(_) => c.run_counted(sql).await,
                None => c.run(sql).await.map(|()| None),
            };
            match (done, staged) {
                (Err(f), _) => {
                    let _ = c.run("ROLLBACK").await;
                    if f.lost {
                        return Err(f.error);
                    }
                    return Err(PluginError::new(unpublished_message(
                        self.table(),
                        sql,
                        &f.message,
                    )));
                }
                (Ok(Some(moved)), Some((stage, n))) if moved != n => {
                    let _ = c.run("ROLLBACK").await;
                    return Err(PluginError::new(format!(
                        "{}: publishing {stage} added {moved} of its {n} rows (a trigger or rule \
                         on the table?); rolled back, nothing was published",
                        self.table()
                    )));
                }
                _ => {}
            }
        }
        match c.run("COMMIT").await {
            Ok(()) => Ok(()),
            Err(f) if f.lost => {
                let mut kept = String::new();
                if !datasync_engine::shard::planned() {
                    // Kept for that check: the abort drops only the listed ones, `datasync
                    // recover` (or a later run) drops them once this process is gone.
                    let stages: Vec<String> =
                        self.staged().all().into_iter().map(|(s, _)| s).collect();
                    self.staged().clear();
                    kept = format!(
                        " (the staging tables {} are kept for it; `datasync recover` drops them)",
                        stages.join(", ")
                    );
                }
                Err(PluginError::new(format!(
                    "{}: the connection was lost at the COMMIT that publishes the staging \
                     tables ({}); whether it landed is unknown: check {}{kept}",
                    c.url(),
                    f.message,
                    self.table()
                )))
            }
            Err(f) => Err(f.error),
        }
    }

    /// Commit: with table staging, publish and drop the staging tables; then postSql.
    async fn commit_target(&self) -> Result<(), PluginError> {
        if self.spec().params.create_table && !self.table_ensured().await {
            datasync_engine::report::warn(format!(
                "createTable: no row reached {}, so it was not created (its columns come from \
                 the rows the reader sends)",
                self.table()
            ));
        }
        if self.staging() {
            self.publish_stages().await?;
            if let Err(e) = self.drop_stages().await {
                tracing::warn!("the staging tables were published but not dropped: {e}");
            }
        }
        // The rows are in the table now (published here, or unit by unit without staging).
        self.run_statements(self.post_sql())
            .await
            .map_err(PluginError::after_commit)
    }

    /// Container-task mode: whether this writer can run as shards.
    fn plannable_target(&self) -> Result<(), String> {
        if !self.staging() {
            return Err(
                "it commits as it goes; set stagingMode: \"table\" (each shard loads \
                        staging tables, the commit moves them in one transaction)"
                    .into(),
            );
        }
        if self.spec().params.create_table {
            return Err(
                "createTable builds the table from the first rows a task sees; create \
                        the table before planning (or run the job once without shards)"
                    .into(),
            );
        }
        Ok(())
    }

    /// Container-task mode, in `datasync commit`: the staging tables the shards reported
    /// (`{"stage", "move"}` per task, see [`Self::stage_fingerprint`]). With `verify` each
    /// must exist; finishing an interrupted commit, those gone (published and dropped) are
    /// skipped.
    async fn adopt_stages(
        &self,
        staged: &[datasync_engine::plugin::StagedTask],
        verify: bool,
    ) -> Result<(), PluginError> {
        let mut c = self.open().await?;
        let found = c.staging_tables(schema_of(self.table()).as_deref()).await?;
        let base = |t: &str| datasync_db::sql::schema_and_name(t).1;
        let exists = |stage: &str| found.iter().any(|(n, _)| base(n) == base(stage));
        for datasync_engine::plugin::StagedTask {
            id: task,
            staged: fp,
            records,
        } in staged
        {
            // A task that saw no row made no staging table.
            let Some(fp) = fp else { continue };
            let v: serde_json::Value = serde_json::from_str(fp).map_err(|e| {
                PluginError::new(format!(
                    "task {task}: not a staging table record ({e}): {fp}"
                ))
            })?;
            let (Some(stage), Some(move_sql)) = (v["stage"].as_str(), v["move"].as_str()) else {
                return Err(PluginError::new(format!(
                    "task {task}: not a staging table record: {fp}"
                )));
            };
            // The statement comes from a file in the plan directory: it must be the move of
            // this run's staging table of this task, one statement, into the target.
            let own = crate::sqltarget::staging_table(self.table(), *task);
            let shape_ok = (move_sql.starts_with("INSERT INTO ")
                || move_sql.starts_with("REPLACE INTO ")
                || move_sql.starts_with("MERGE INTO "))
                && !move_sql.contains(';')
                && datasync_db::sql::schema_and_name(stage).1
                    == datasync_db::sql::schema_and_name(&own).1
                && move_sql.contains(&datasync_db::sql::schema_and_name(&own).1);
            if !shape_ok {
                return Err(PluginError::new(format!(
                    "task {task}: the shard report's staging record is not this run's move of \
                     staging table {own} (edited?): {}",
                    datasync_db::sql::shorten_sql(move_sql)
                )));
            }
            if !exists(stage) {
                if verify {
                    return Err(PluginError::new(format!(
                        "task {task}: its staging table {stage} is gone"
                    )));
                }
                tracing::info!("staging table {stage} was published and dropped already");
                continue;
            }
            if verify {
                // What the shard reported staged must be what the staging table holds.
                let n = c.count(&self.quote(stage)).await?;
                if n != *records {
                    return Err(PluginError::new(format!(
                        "task {task}: its staging table {stage} holds {n} row(s), its shard \
                         reported {records}"
                    )));
                }
            }
            self.staged()
                .set(*task, stage.to_string(), move_sql.to_string());
        }
        Ok(())
    }

    /// Task `task`'s staging table and move statement, as JSON text (what a shard reports).
    fn stage_fingerprint(&self, task: usize) -> Option<String> {
        let (stage, move_sql) = self.staged().get(task)?;
        (!move_sql.is_empty())
            .then(|| serde_json::json!({"stage": stage, "move": move_sql}).to_string())
    }

    /// Container-task mode, `datasync abort`: drops every staging table of the planned run.
    async fn drop_planned_stages(&self) -> Result<(), PluginError> {
        let mut c = self.open().await?;
        let mine = format!("{STAGE_PREFIX}{}_", datasync_engine::run_id());
        let found = c.staging_tables(schema_of(self.table()).as_deref()).await?;
        let base = |t: &str| datasync_db::sql::schema_and_name(t).1;
        for (name, _) in found
            .into_iter()
            .filter(|(n, _)| base(n).starts_with(&mine))
        {
            c.run(&self.drop_table_sql(&self.quote(&name)))
                .await
                .map_err(|f| f.error)?;
        }
        Ok(())
    }

    /// `datasync recover`: with table staging, drop killed runs' staging tables.
    async fn recover_target(&self) -> Result<Vec<String>, PluginError> {
        if !self.staging() {
            return Ok(Vec::new());
        }
        self.remove_stale_stages().await
    }
}

/// The [`Writer`](datasync_engine::Writer) contract of every SQL writer, entirely through its
/// [`SqlWriterSteps`]: prepare, one task per reader task, commit, abort, recover, resume.
#[async_trait]
impl<C, K> datasync_engine::Writer for crate::sqltarget::SqlWriter<C, K>
where
    C: Send + Sync,
    K: Send + Sync,
    crate::sqltarget::SqlWriter<C, K>: SqlWriterSteps,
{
    fn datasets(&self) -> Vec<datasync_engine::lineage::Dataset> {
        SqlWriterSteps::members(self)
            .iter()
            .map(SqlWriterSteps::dataset)
            .collect()
    }

    async fn prepare(&self) -> Result<(), datasync_engine::PluginError> {
        for w in SqlWriterSteps::members(self) {
            SqlWriterSteps::prepare_target(w).await?;
        }
        Ok(())
    }

    fn column_count(&self) -> Option<usize> {
        let column = &SqlWriterSteps::members(self).first()?.spec().params.column;
        (column != &["*"]).then_some(column.len())
    }

    fn accepts_tasks(&self, tasks: &[String]) -> Result<(), datasync_engine::PluginError> {
        crate::sqltarget::pair_shards(self.shards(), tasks, |w| w.table())
    }

    async fn split(
        &self,
        n: usize,
    ) -> Result<Vec<Box<dyn datasync_engine::WriterTask>>, datasync_engine::PluginError> {
        if !self.shards().is_empty() && self.shards().len() != n {
            return Err(datasync_engine::PluginError::new(format!(
                "{} reader tasks for {} target tables",
                n,
                self.shards().len()
            )));
        }
        Ok(match self.shards() {
            [] => (0..n).map(|_| self.engine_task()).collect(),
            shards => shards.iter().map(|w| w.engine_task()).collect(),
        })
    }

    /// Each table commits on its own (a sharded write is not one transaction): a failure
    /// names the tables committed before it.
    async fn commit(&self) -> Result<(), datasync_engine::PluginError> {
        let mut done: Vec<&str> = Vec::new();
        for w in SqlWriterSteps::members(self) {
            if let Err(e) = SqlWriterSteps::commit_target(w).await {
                if done.is_empty() {
                    return Err(e);
                }
                let told = PluginError::new(format!(
                    "{}; the tables before it are committed: {} (a sharded write commits each \
                     table on its own)",
                    e.chain(),
                    done.join(", ")
                ));
                return Err(if e.is_after_commit() {
                    told.after_commit()
                } else {
                    told
                });
            }
            done.push(w.table());
        }
        Ok(())
    }

    async fn abort(&self) -> Result<(), datasync_engine::PluginError> {
        let mut first = None;
        for w in SqlWriterSteps::members(self) {
            if let Err(e) = SqlWriterSteps::abort_target(w).await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    async fn probe(&self) -> Result<datasync_engine::Probe, datasync_engine::PluginError> {
        let mut all = datasync_engine::Probe::default();
        for w in SqlWriterSteps::members(self) {
            let p = SqlWriterSteps::probe_target(w).await?;
            all.lines.extend(p.lines);
            if all.columns.is_none() {
                all.columns = p.columns;
            }
        }
        Ok(all)
    }

    async fn recover(&self) -> Result<Vec<String>, datasync_engine::PluginError> {
        let mut done = Vec::new();
        for w in SqlWriterSteps::members(self) {
            done.extend(SqlWriterSteps::recover_target(w).await?);
        }
        Ok(done)
    }

    fn plannable(&self) -> Result<(), String> {
        if !self.shards().is_empty() {
            return Err("a sharded write (several target tables) cannot be planned yet".into());
        }
        self.plannable_target()
    }

    fn task_staged(&self, task: usize) -> Option<String> {
        SqlWriterSteps::stage_fingerprint(self, task)
    }

    async fn adopt_staged(
        &self,
        staged: &[datasync_engine::plugin::StagedTask],
        verify: bool,
    ) -> Result<(), datasync_engine::PluginError> {
        SqlWriterSteps::adopt_stages(self, staged, verify).await
    }

    fn resume(&self) -> datasync_engine::Resume {
        crate::sqltarget::resume(
            SqlWriterSteps::staging(self),
            SqlWriterSteps::idempotent(self),
        )
    }

    fn read_back(&self, filter: Option<&str>) -> datasync_engine::plugin::ReadBack {
        let staged: Vec<String> = SqlWriterSteps::members(self)
            .iter()
            .flat_map(|w| w.spec.staged.all().into_iter().map(|(t, _)| t))
            .collect();
        crate::sqltarget::read_back(&self.spec, filter, Some(staged))
    }

    fn read_published(&self, filter: Option<&str>) -> datasync_engine::plugin::ReadBack {
        crate::sqltarget::read_back(&self.spec, filter, None)
    }
}
