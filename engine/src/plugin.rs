//! The plugin contract: job-level [`Reader`]/[`Writer`] built from validated parameters, and
//! the per-task [`ReaderTask`]/[`WriterTask`] the runner connects with a batch channel.
//!
//! Lifecycle: `from_params` (pure) -> `Writer::prepare` -> `Reader::split` ->
//! `Writer::split` -> tasks run -> `Writer::commit` on success, `Writer::abort` otherwise.

pub use crate::dirty::Side;
use crate::dirty::{DirtyRecord, DirtySink, Origin};
use crate::job::BatchSetting;
use async_trait::async_trait;
use datasync_channel::{BatchReceiver, BatchSender, Counters};
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Any error, boxed.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// An error from a plugin, carrying whether retrying the task may help. Plugins define their
/// own `thiserror` enums and convert them with [`PluginError::new`]/[`PluginError::retriable`].
#[derive(Debug)]
pub struct PluginError {
    retriable: bool,
    /// The failure came after the data was committed (see [`PluginError::after_commit`]).
    committed: bool,
    error: BoxError,
}

impl PluginError {
    /// A permanent error: retrying cannot help (bad data, bad config, missing table...).
    pub fn new(error: impl Into<BoxError>) -> Self {
        PluginError::classified(false, error)
    }
    /// A transient error (connection lost, timeout): the task may be retried if its output is
    /// discarded or idempotent.
    pub fn retriable(error: impl Into<BoxError>) -> Self {
        PluginError::classified(true, error)
    }
    /// Marks a [`Writer::commit`] failure that came after the data was committed (a SQL
    /// writer's postSql): the run fails saying the data is committed, and an incremental
    /// watermark moves (the next run must not read the committed rows again).
    pub fn after_commit(mut self) -> Self {
        self.committed = true;
        self
    }
    /// Whether the data was committed before this failure (see [`PluginError::after_commit`]).
    pub fn is_after_commit(&self) -> bool {
        self.committed
    }
    /// Either of the two: transient when `retriable`.
    pub fn classified(retriable: bool, error: impl Into<BoxError>) -> Self {
        PluginError {
            retriable,
            committed: false,
            error: error.into(),
        }
    }
    /// The same error, marked transient (the caller knows its cause was, e.g. a transfer that
    /// failed under a decoder).
    pub fn into_retriable(mut self) -> Self {
        self.retriable = true;
        self
    }
    /// Whether a retry may help.
    pub fn is_retriable(&self) -> bool {
        self.retriable
    }
    /// Whether the error (or the error it wraps) is of type `T`.
    pub fn is<T: StdError + 'static>(&self) -> bool {
        self.error.downcast_ref::<T>().is_some()
            || self
                .error
                .downcast_ref::<PluginError>()
                .is_some_and(|p| p.is::<T>())
    }
    /// The error and its causes, joined by ": " (see [`error_chain`]).
    pub fn chain(&self) -> String {
        error_chain(self.error.as_ref())
    }
}

/// An error and its causes, joined by ": ", each said once: a cause whose text is already in
/// the message is skipped, and a wrapper that only puts a prefix before a deeper cause
/// ("Input/output error: Input/output error: Connection refused") gives way to that cause.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msgs = Vec::new();
    let mut src = e.source();
    while let Some(x) = src {
        msgs.push(x.to_string());
        src = x.source();
    }
    let mut s = e.to_string();
    for (i, m) in msgs.iter().enumerate() {
        let wrapper = msgs[i + 1..]
            .iter()
            .any(|deeper| m.len() > deeper.len() && m.ends_with(deeper.as_str()));
        if !wrapper && !s.contains(m.as_str()) {
            s.push_str(": ");
            s.push_str(m);
        }
    }
    s
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl StdError for PluginError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}

/// The stop that a task hits when the job is being cancelled (error limit, signal, failure
/// elsewhere); the runner reports the cause, not this.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("task cancelled: the job is stopping")]
pub struct Cancelled;

/// How much input a reader task has, so progress can show a real percentage and ETA.
/// The task advances [`Counters::add_input_done`] in the same unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeHint {
    /// Records the task will produce.
    Records(u64),
    /// About this many records (from the source's statistics): progress says "estimated".
    RecordsEstimate(u64),
    /// Bytes of input the task will consume.
    Bytes(u64),
}

/// What a task gets from the engine: its id, its counters, the job's cancellation token, the
/// dirty-record sink and the job's batch setting.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// Task number (0-based), the same for the reader and writer of one pipeline.
    pub task_id: usize,
    /// Attempt number (1 for the first run).
    pub attempt: u32,
    /// Which side this context serves.
    pub side: Side,
    /// Name of the plugin this context serves (for dirty records).
    pub plugin: Arc<str>,
    /// Counters of this pipeline.
    pub counters: Arc<Counters>,
    /// Cancelled when the job stops; long loops on blocking threads MUST check it.
    pub cancel: CancellationToken,
    /// Batch size limits readers should honour.
    pub batch: BatchSetting,
    pub(crate) dirty: Arc<DirtySink>,
}

impl From<datasync_channel::Closed> for PluginError {
    fn from(e: datasync_channel::Closed) -> Self {
        PluginError::new(e)
    }
}

impl TaskContext {
    /// Records a dirty record (counted, written to the dirty file). Fails once the job's error
    /// limit is exceeded: the task should then stop by returning the error.
    pub fn dirty(&self, record: DirtyRecord) -> Result<(), PluginError> {
        self.counters.add_dirty();
        if self.side == Side::Reader {
            self.dirty.add_reader_side();
        }
        self.dirty
            .record(
                Origin {
                    task: self.task_id,
                    attempt: self.attempt,
                    side: self.side,
                    plugin: &self.plugin,
                },
                record,
            )
            .map_err(PluginError::new)
    }

    /// Fails with [`Cancelled`] when the job is stopping.
    pub fn check_cancelled(&self) -> Result<(), PluginError> {
        if self.cancel.is_cancelled() {
            Err(PluginError::new(Cancelled))
        } else {
            Ok(())
        }
    }
}

/// A blocking thread of a plugin panicked or was cancelled.
#[derive(Debug, thiserror::Error)]
#[error("a blocking worker thread failed: {0}")]
pub struct BlockingFailed(#[from] tokio::task::JoinError);

/// Runs `f` (file or SSH I/O, decoding) on tokio's blocking pool and returns its result as a
/// plugin result; a thread that panicked or was cancelled is an error too.
pub async fn blocking<T, E, F>(f: F) -> Result<T, PluginError>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<PluginError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Into::into),
        Err(e) => Err(PluginError::new(BlockingFailed(e))),
    }
}

/// A writer task whose work is blocking I/O (local files, SSH): it writes on a blocking thread
/// and starts from scratch each time (a retry recreates its output), so it is retry-safe.
/// Box it with [`blocking_task`].
pub trait BlockingWriterTask: Clone + Send + 'static {
    /// Writes everything `input` brings; runs on a blocking thread.
    fn write_blocking(self, input: BatchReceiver, ctx: TaskContext) -> Result<(), PluginError>;
}

/// A [`WriterTask`] that runs a [`BlockingWriterTask`] on the blocking pool.
pub fn blocking_task<T: BlockingWriterTask>(task: T) -> Box<dyn WriterTask> {
    Box::new(OnBlockingPool(task))
}

struct OnBlockingPool<T>(T);

#[async_trait]
impl<T: BlockingWriterTask> WriterTask for OnBlockingPool<T> {
    fn retry_safe(&self) -> bool {
        true
    }

    async fn write(&mut self, input: BatchReceiver, ctx: TaskContext) -> Result<(), PluginError> {
        let task = self.0.clone();
        blocking(move || task.write_blocking(input, ctx)).await
    }
}

/// A task's split as a plan value (see [`ReaderTask::planned`]).
pub fn to_plan<T: serde::Serialize>(split: &T) -> Option<serde_json::Value> {
    serde_json::to_value(split).ok()
}

/// A split back from its plan value (see [`Reader::task_from_plan`]); a value that does not
/// fit is an error that says so (a plan made by another version, or edited).
pub fn from_plan<T: serde::de::DeserializeOwned>(
    planned: &serde_json::Value,
) -> Result<T, PluginError> {
    serde_json::from_value(planned.clone()).map_err(|e| {
        PluginError::new(format!(
            "the plan's split {planned} does not fit this reader: {e}"
        ))
    })
}

/// A reader's task rebuilt from its plan value: `make` turns the split [`from_plan`] reads
/// into the task (the same function `split` uses, so both make the same task).
pub fn task_from<T: serde::de::DeserializeOwned>(
    planned: &serde_json::Value,
    make: impl FnOnce(T) -> Box<dyn ReaderTask>,
) -> Result<Box<dyn ReaderTask>, PluginError> {
    Ok(make(from_plan(planned)?))
}

/// A job-level reader: validated configuration that can plan its tasks.
#[async_trait]
pub trait Reader: Send + Sync {
    /// Splits the read into tasks. `channels` is the job's parallelism; a reader that splits
    /// by ranges may return a small multiple of it for balance, a file reader one task per file.
    async fn split(&self, channels: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError>;
    /// The datasets this reader reads, for lineage (none when it cannot name them).
    fn datasets(&self) -> Vec<crate::lineage::Dataset> {
        Vec::new()
    }
    /// How many columns every row has, when the parameters alone say so (a column list that
    /// is not `*` or a query): the job is refused before it runs when the writer's own list
    /// says another number.
    fn column_count(&self) -> Option<usize> {
        None
    }
    /// This reader's incremental state (`incremental` in its parameters), if any: the runner
    /// applies `--full` to it before planning and records the run's watermark once the
    /// writer's commit succeeded; `datasync state` shows and edits it.
    fn incremental(&self) -> Option<&crate::incremental::Incremental> {
        None
    }
    /// The name the report and messages show for this reader when it is not the plugin's
    /// (one plugin that speaks several protocols names the one in use).
    fn shown_name(&self) -> Option<&'static str> {
        None
    }
    /// `check --connect`: logs in and checks what the read needs (tables, columns, the split
    /// key, files), reading no rows. An `Err` is a problem that stopped the probe (e.g. the
    /// login failed).
    async fn probe(&self) -> Result<Probe, PluginError> {
        Ok(Probe::only_ok(
            "source",
            "not checked: this reader has no live check",
        ))
    }
    /// Container-task mode (`datasync plan`): rebuilds a task from the value its
    /// [`ReaderTask::planned`] gave when the plan was made, so that every shard reads exactly
    /// the split the plan holds (key ranges are not probed again).
    fn task_from_plan(
        &self,
        planned: &serde_json::Value,
    ) -> Result<Box<dyn ReaderTask>, PluginError> {
        let _ = planned;
        Err(PluginError::new(
            "this reader's tasks cannot be planned for shards",
        ))
    }
}

/// One unit of reading. It may be run again after a failure, so `read` starts from scratch.
#[async_trait]
pub trait ReaderTask: Send {
    /// Short description for logs and the report (a file, a key range), without secrets.
    fn describe(&self) -> String;
    /// Total input, when known up front.
    fn size_hint(&self) -> Option<SizeHint> {
        None
    }
    /// A short text that changes when this task's input does (a file's size and modification
    /// time): `--resume` runs a finished task again when it no longer matches. `None`: the
    /// source cannot tell.
    fn input_fingerprint(&self) -> Option<String> {
        None
    }
    /// The split this task reads, as a value [`Reader::task_from_plan`] turns back into the
    /// same task (container-task mode). `None`: the reader cannot be sharded.
    fn planned(&self) -> Option<serde_json::Value> {
        None
    }
    /// Reads everything this task covers into `out`.
    async fn read(&mut self, out: BatchSender, ctx: TaskContext) -> Result<(), PluginError>;
}

/// What `datasync check --connect` found on one side of a job: one line per thing checked,
/// and the columns (with the system's type names) where the plugin knows them. Probing reads
/// metadata only: no row is read or written.
#[derive(Debug, Default)]
pub struct Probe {
    /// (checked, what was found, whether it is fine).
    pub lines: Vec<(String, String, bool)>,
    /// The columns read or written, in order, with their types as the system names them.
    pub columns: Option<Vec<(String, String)>>,
}

impl Probe {
    /// `check --connect` for a local directory (a target, or where a state file goes): whether
    /// it exists and a file can be created in it (a probe file, removed at once), or else
    /// whether the nearest existing directory above it would let it be created.
    pub fn directory(&mut self, dir: &std::path::Path) {
        let what = format!("directory {}", dir.display());
        let probe_name = format!(".datasync-probe-{}", std::process::id());
        if dir.is_dir() {
            let f = dir.join(&probe_name);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&f)
            {
                Ok(_) => {
                    let _ = std::fs::remove_file(&f);
                    self.ok(what, "exists, writable")
                }
                Err(e) => self.problem(
                    what,
                    format!("exists but a file cannot be created in it: {e}"),
                ),
            }
            return;
        }
        if dir.exists() {
            self.problem(what, "exists but is not a directory");
            return;
        }
        let mut up = dir.parent();
        while let Some(a) = up {
            if a.exists() && !a.is_dir() {
                self.problem(
                    what,
                    format!("cannot be created: {} is not a directory", a.display()),
                );
                return;
            }
            if a.is_dir() {
                let d = a.join(&probe_name);
                match std::fs::create_dir(&d) {
                    Ok(()) => {
                        let _ = std::fs::remove_dir(&d);
                        self.ok(
                            what,
                            format!("does not exist; will be created in {}", a.display()),
                        )
                    }
                    Err(e) => self.problem(
                        what,
                        format!(
                            "does not exist and cannot be created in {}: {e}",
                            a.display()
                        ),
                    ),
                }
                return;
            }
            up = a.parent();
        }
        self.problem(what, "does not exist and no directory above it does");
    }

    /// A probe of one line that is fine.
    pub fn only_ok(what: impl Into<String>, found: impl Into<String>) -> Self {
        let mut p = Probe::default();
        p.ok(what, found);
        p
    }
    /// Adds a line that is fine.
    pub fn ok(&mut self, what: impl Into<String>, found: impl Into<String>) {
        self.lines.push((what.into(), found.into(), true));
    }
    /// Adds a line that is a problem (the job would fail on it).
    pub fn problem(&mut self, what: impl Into<String>, found: impl Into<String>) {
        self.lines.push((what.into(), found.into(), false));
    }
    /// `N column(s): name type, ...`, for a probe line.
    pub fn columns_text(cols: &[(String, String)]) -> String {
        let list: Vec<String> = cols.iter().map(|(n, t)| format!("{n} {t}")).collect();
        format!("{} column(s): {}", cols.len(), list.join(", "))
    }
    /// Whether every line is fine.
    pub fn fine(&self) -> bool {
        self.lines.iter().all(|l| l.2)
    }
}

/// A job-level writer.
#[async_trait]
pub trait Writer: Send + Sync {
    /// Runs before any task (preSql, staging, conflict checks).
    async fn prepare(&self) -> Result<(), PluginError> {
        Ok(())
    }
    /// How many columns each row must have, when the parameters alone say so (see
    /// [`Reader::column_count`]).
    fn column_count(&self) -> Option<usize> {
        None
    }
    /// Refuses reader tasks (described as `ReaderTask::describe` says, in task order) the
    /// writer cannot pair with its own (a sharded SQL write has one task per target table).
    /// Checked before `prepare`, so nothing ran on the target.
    fn accepts_tasks(&self, _tasks: &[String]) -> Result<(), PluginError> {
        Ok(())
    }
    /// Returns exactly `n` writer tasks, one per reader task.
    async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError>;
    /// Publishes the job's output after every task succeeded (postSql, renames, partitions).
    async fn commit(&self) -> Result<(), PluginError> {
        Ok(())
    }
    /// Removes whatever the job staged and leaves the target as it was where possible.
    async fn abort(&self) -> Result<(), PluginError> {
        Ok(())
    }
    /// Finishes or removes what earlier, killed runs of this job left behind (a commit
    /// interrupted half-way is finished, a killed run's staging removed) without running the
    /// job; `prepare` does the same first. Returns one line per thing done, for the user.
    async fn recover(&self) -> Result<Vec<String>, PluginError> {
        Ok(Vec::new())
    }
    /// What task `task` has staged, as a short text that changes when its staged output
    /// does (names and sizes); `--resume` runs a finished task again when it no longer
    /// matches. `None`: nothing to check.
    fn task_fingerprint(&self, task: usize) -> Option<String> {
        let _ = task;
        None
    }
    /// The datasets this writer writes, for lineage (none when it cannot name them).
    fn datasets(&self) -> Vec<crate::lineage::Dataset> {
        Vec::new()
    }
    /// The name the report and messages show for this writer when it is not the plugin's
    /// (see [`Reader::shown_name`]).
    fn shown_name(&self) -> Option<&'static str> {
        None
    }
    /// `check --connect`: logs in and checks what the write needs (the table and its
    /// columns, write permission, the target directory), writing nothing.
    async fn probe(&self) -> Result<Probe, PluginError> {
        Ok(Probe::only_ok(
            "target",
            "not checked: this writer has no live check",
        ))
    }
    /// Container-task mode: what task `task` staged in this process, in the form of
    /// [`Writer::task_fingerprint`] but as the task itself saw it when it finished (its own
    /// files' sizes), for its shard's report; `commit` then compares it with what is there.
    fn task_staged(&self, task: usize) -> Option<String> {
        self.task_fingerprint(task)
    }
    /// Container-task mode: `Ok` when this writer can stage the output of shards run in other
    /// processes for one later [`Writer::commit`]; `Err` says why not.
    fn plannable(&self) -> Result<(), String> {
        Err("it does not stage its output for a later commit".into())
    }
    /// Container-task mode, in each shard and in `datasync commit`: takes up the run
    /// `datasync plan` prepared, without running prepare again. `Ok(false)`: the run's
    /// staging is not there (it was committed or aborted); `Err`: it belongs to another run.
    async fn join_planned(&self) -> Result<bool, PluginError> {
        Ok(true)
    }
    /// Container-task mode, in `datasync commit`: takes over what the shards reported each
    /// task staged (task number, [`Writer::task_fingerprint`] as the shard saw it), before
    /// [`Writer::commit`]. With `verify` (not when an interrupted commit is finished) the
    /// default checks the staged output is still exactly that (a later attempt or a zombie
    /// of an earlier one may not have changed it since).
    async fn adopt_staged(&self, staged: &[StagedTask], verify: bool) -> Result<(), PluginError> {
        if !verify {
            return Ok(());
        }
        for StagedTask {
            id, staged: was, ..
        } in staged
        {
            let Some(was) = was else { continue };
            let now = self.task_fingerprint(*id);
            if now.as_deref() != Some(was.as_str()) {
                return Err(PluginError::new(format!(
                    "task {id}: its staged output changed after its shard reported it (reported \
                     {was}, now {})",
                    now.unwrap_or_else(|| "nothing".into())
                )));
            }
        }
        Ok(())
    }
    /// Container-task mode: whether a commit of the planned run was decided and not finished
    /// (a commit killed half-way): `abort` must not undo it, `commit` finishes it.
    fn commit_decided(&self) -> bool {
        false
    }
    /// How a failed or killed run of this writer can be resumed (`run --resume`).
    fn resume(&self) -> Resume {
        Resume::Refused("it keeps no staged output a later run could take over".into())
    }
    /// `job.verify`: how this writer's target is read back to take the target's figures
    /// (`filter`: `job.verify.targetWhere`, for SQL targets). Called before the run starts
    /// (it must name the reader then) and again when the figures are taken.
    fn read_back(&self, filter: Option<&str>) -> ReadBack {
        let _ = filter;
        ReadBack::Unavailable("this writer's target cannot be read back".into())
    }
    /// `datasync diff`: how the published target (not a run's staged output) is read.
    fn read_published(&self, filter: Option<&str>) -> ReadBack {
        match self.read_back(filter) {
            ReadBack::Reader { staged: true, .. } => {
                ReadBack::Unavailable("this writer's published target cannot be read back".into())
            }
            other => other,
        }
    }
}

/// How a writer's target is read back for `job.verify` (see [`Writer::read_back`]).
#[derive(Debug, Clone)]
pub enum ReadBack {
    /// Read it with this reader plugin and parameter.
    Reader {
        /// The reader plugin's name.
        plugin: &'static str,
        /// Its `parameter`.
        parameter: serde_json::Value,
        /// `true`: this reads the staged output, checked before the commit publishes it;
        /// `false`: it reads the target, checked after the commit.
        staged: bool,
        /// The target column of each column the reader produces, in order (`None`: that
        /// column is not read back); empty: the target columns have the reader's names.
        columns: Vec<Option<String>>,
        /// Only rows are counted (text files hold text: the typed figures stay reader side
        /// only).
        count_only: bool,
        /// Whether a `targetWhere` given to [`Writer::read_back`] narrows this read (a SQL
        /// table); the engine refuses one for a target it cannot narrow (files).
        filters: bool,
    },
    /// The target cannot be read back (why): rules other than `count` are reader side only,
    /// and `count` is compared with the records the writer reported written.
    Unavailable(String),
}

/// What a shard reported one task staged (container-task mode).
#[derive(Debug, Clone)]
pub struct StagedTask {
    /// The plan's task number.
    pub id: usize,
    /// [`Writer::task_staged`] as the shard saw it (`None`: the writer could not tell).
    pub staged: Option<String>,
    /// Records the task wrote.
    pub records: u64,
}

/// How a writer's run can be resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// Tasks stage their output; the run state lives at this path, inside the staging, so it
    /// lives and goes with the staged output. Finished tasks are not run again.
    StateFile(std::path::PathBuf),
    /// The write is idempotent (replace/upsert into the target): every task runs again.
    RerunAll,
    /// Resuming is not possible (the reason, for the user).
    Refused(String),
}

/// One unit of writing, fed by one reader task.
#[async_trait]
pub trait WriterTask: Send {
    /// Whether running `write` again after a failure is safe (its earlier output is discarded
    /// or the write is idempotent). Only then does the engine retry the pipeline.
    fn retry_safe(&self) -> bool;
    /// Writes every batch of `input` until it ends.
    async fn write(&mut self, input: BatchReceiver, ctx: TaskContext) -> Result<(), PluginError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{msg}")]
    struct E {
        msg: String,
        #[source]
        src: Option<Box<E>>,
    }

    fn e(msgs: &[&str]) -> E {
        let mut cur: Option<Box<E>> = None;
        for m in msgs.iter().rev() {
            cur = Some(Box::new(E {
                msg: m.to_string(),
                src: cur,
            }));
        }
        *cur.expect("one message")
    }

    #[test]
    fn causes_are_said_once_root_cause_kept() {
        let x = e(&[
            "cannot connect to db as u",
            "Input/output error: Input/output error: Connection refused",
            "Input/output error: Connection refused",
            "Connection refused",
        ]);
        assert_eq!(
            error_chain(&x),
            "cannot connect to db as u: Connection refused"
        );
        let y = e(&["cannot read /x", "Permission denied"]);
        assert_eq!(error_chain(&y), "cannot read /x: Permission denied");
        let z = e(&["copy failed: disk full", "disk full"]);
        assert_eq!(error_chain(&z), "copy failed: disk full");
    }
}
