//! Builds a job's plugins from the registry and runs it: prepare, split, at most `channel`
//! reader -> channel -> writer pipelines at once, retries where safe, error limit, commit or
//! abort, report.

use crate::config::ConfigError;
pub use crate::control::{JobControl, StopReason};
use crate::dirty::DirtySink;
use crate::job::JobSpec;
use crate::plugin::{
    Cancelled, PluginError, Reader, ReaderTask, Resume, Side, TaskContext, Writer, WriterTask,
};
use crate::progress::{totals, Monitor, ProgressMode, Slot, DONE, PENDING, RUNNING};
use crate::registry::{Params, Registry};
use crate::report::{Report, Status, TaskReport, TaskState};
use crate::runstate::{RunState, TaskDone};
use datasync_channel::{batch_channel, ChannelCapacity, Counters, Throttle, ThrottleLimits};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// A job whose plugins are built and validated, ready to run.
pub struct BuiltJob {
    /// The job as loaded.
    pub spec: JobSpec,
    /// Canonical reader plugin name.
    pub reader_name: &'static str,
    /// Canonical writer plugin name.
    pub writer_name: &'static str,
    reader: Box<dyn Reader>,
    writer: Box<dyn Writer>,
}

impl BuiltJob {
    /// Whether `run --resume` can work for this job's writer: `Err` says why not.
    pub fn resume_check(&self) -> Result<(), String> {
        match self.writer.resume() {
            Resume::Refused(why) => Err(format!(
                "--resume: the {} writer cannot resume a run: {why}",
                self.writer_name
            )),
            _ => Ok(()),
        }
    }

    /// Finishes or removes what killed runs of this job left at the writer's target (see
    /// [`Writer::recover`]), without running the job.
    pub async fn recover(&self) -> Result<Vec<String>, PluginError> {
        self.writer.recover().await
    }
}

/// Validates both plugins' parameters and builds them. Pure: touches no system.
pub fn build(spec: JobSpec, registry: &Registry) -> Result<BuiltJob, ConfigError> {
    let re = registry.reader(&spec.reader.name, "job.content[0].reader.name")?;
    let we = registry.writer(&spec.writer.name, "job.content[0].writer.name")?;
    let reader = (re.build)(Params {
        value: &spec.reader.parameter,
        path: &spec.reader.path,
        invoked_as: &spec.reader.name,
    })?;
    let writer = (we.build)(Params {
        value: &spec.writer.parameter,
        path: &spec.writer.path,
        invoked_as: &spec.writer.name,
    })?;
    Ok(BuiltJob {
        reader_name: re.name,
        writer_name: we.name,
        spec,
        reader,
        writer,
    })
}

/// Run-time options from the command line.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Where dirty records go.
    pub dirty_file: PathBuf,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// `--resume`: take over the run named by the run id (finished tasks are skipped).
    pub resume: bool,
    /// `--run-id` was given: a failed run keeps its staged output for `--resume`.
    pub keep_staging: bool,
}

struct Env {
    control: Arc<JobControl>,
    dirty: Arc<DirtySink>,
    throttle: Arc<Throttle>,
    slots: Arc<Vec<Slot>>,
    semaphore: Semaphore,
    capacity: ChannelCapacity,
    spec: JobSpec,
    reader_name: Arc<str>,
    writer_name: Arc<str>,
    retries: AtomicU32,
    /// Where finished tasks are recorded (staging writers).
    state: Option<Mutex<(PathBuf, RunState)>>,
}

static RUN_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets this process's run id (`--run-id`) before anything uses it: 1 to 64 letters, digits,
/// `_`, `-` or `.` (it names staging directories and files).
pub fn set_run_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        return Err(format!(
            "run id \"{id}\": use 1 to 64 letters, digits, '_', '-' or '.' (not starting with '.')"
        ));
    }
    RUN_ID
        .set(id.to_string())
        .map_err(|_| "the run id is already set".to_string())
}

/// The id of this process's run: time-based, sortable, safe in file names, the same for the
/// engine and every plugin (staging directories and output names use it).
pub fn run_id() -> &'static str {
    RUN_ID.get_or_init(|| {
        let now = chrono::Utc::now();
        format!(
            "{}_{:05}",
            now.format("%Y%m%d%H%M%S"),
            std::process::id() % 100_000
        )
    })
}

/// Runs a built job to the end and reports. Never panics on plugin errors: every outcome is a
/// [`Report`] with its exit code.
pub async fn run(job: BuiltJob, opts: RunOptions, control: Arc<JobControl>) -> Report {
    let t0 = Instant::now();
    let spec = job.spec.clone();
    let setting = &spec.setting;
    let channels = setting
        .speed
        .channel
        .map(|c| c as usize)
        .unwrap_or(1)
        .max(1);
    let dirty = Arc::new(DirtySink::new(
        opts.dirty_file.clone(),
        setting.error_limit.record,
        control.cancel.clone(),
    ));
    let mut base = Report::begin(&spec, job.reader_name, job.writer_name, run_id(), channels);
    let writer = job.writer;
    let reader = job.reader;
    // Staging writers record finished tasks next to their staged output, so a failed or
    // killed run can be resumed (`--resume --run-id`).
    let state_path = match writer.resume() {
        Resume::StateFile(p) => Some(p),
        _ => None,
    };
    let end = Ending {
        writer: writer.as_ref(),
        control: &control,
        dirty: &dirty,
        t0,
        setting,
        keep: opts.keep_staging && state_path.is_some(),
    };
    let hash = crate::runstate::job_hash(&spec, channels);
    let prior = match crate::runstate::prior(
        opts.resume,
        state_path.as_deref(),
        &hash,
        &base.run_id,
        job.writer_name,
    ) {
        Ok(p) => p,
        Err(e) => return end.early(base, e).await,
    };
    let names = (job.reader_name, job.writer_name);
    let planned = tokio::select! {
        p = plan_tasks(reader.as_ref(), writer.as_ref(), channels, names) => p,
        _ = control.cancel.cancelled() => Err("stopped before any task started".to_string()),
    };
    let (rtasks, wtasks) = match planned {
        Ok(p) => p,
        Err(e) => return end.early(base, e).await,
    };
    base.tasks = rtasks.len();
    // Tasks an earlier attempt of this run finished (same task number, same source, same
    // staged output).
    let sources: Vec<String> = rtasks.iter().map(|r| r.describe()).collect();
    let done = crate::runstate::finished(prior.as_ref(), &sources, |i| writer.task_fingerprint(i));
    if opts.resume && prior.is_some() {
        tracing::info!(
            "--resume: {} of {} task(s) of run {} had finished and are not run again",
            done.len(),
            rtasks.len(),
            base.run_id
        );
        if let Err(e) = keep_dirty_records(&dirty, &done) {
            return end.early(base, e).await;
        }
    }
    let state = state_path.map(|p| {
        Mutex::new((
            p,
            RunState {
                run_id: base.run_id.clone(),
                job_hash: hash.clone(),
                tasks: done.clone(),
            },
        ))
    });
    tracing::info!(tasks = rtasks.len(), channels, "job {} planned", spec.name);

    let slots = Arc::new(make_slots(&rtasks, &done));
    let env = Arc::new(Env {
        control: control.clone(),
        dirty: dirty.clone(),
        throttle: Arc::new(Throttle::new(ThrottleLimits {
            records_per_sec: setting.speed.record,
            bytes_per_sec: setting.speed.byte,
        })),
        slots: slots.clone(),
        semaphore: Semaphore::new(channels),
        capacity: ChannelCapacity::default(),
        spec: spec.clone(),
        reader_name: Arc::from(job.reader_name),
        writer_name: Arc::from(job.writer_name),
        retries: AtomicU32::new(0),
        state,
    });
    let monitor_done = CancellationToken::new();
    let monitor = tokio::spawn(
        Monitor {
            slots: slots.clone(),
            control: control.clone(),
            mode: opts.progress,
            stall_timeout: setting.stall_timeout(),
            stall_action: setting.stall_action,
            done: monitor_done.clone(),
        }
        .run(),
    );

    let mut reports = run_pipelines(rtasks, wtasks, &done, &env, writer.as_ref()).await;
    monitor_done.cancel();
    let _ = monitor.await;
    reports.sort_by_key(|r| r.id);
    base.task_reports = reports;
    base.retries = env.retries.load(Ordering::Relaxed);
    finish(base, &end, &slots).await
}

/// Runs every task that is not done (at most `channel` at once, see [`pipeline`]), records
/// each one that succeeds in the run state, and returns every task's report (done ones as
/// resumed).
async fn run_pipelines(
    rtasks: Vec<Box<dyn ReaderTask>>,
    wtasks: Vec<Box<dyn WriterTask>>,
    done: &std::collections::BTreeMap<usize, TaskDone>,
    env: &Arc<Env>,
    writer: &dyn Writer,
) -> Vec<TaskReport> {
    let mut set = tokio::task::JoinSet::new();
    let mut reports = Vec::new();
    for (id, (r, w)) in rtasks.into_iter().zip(wtasks).enumerate() {
        match done.get(&id) {
            Some(d) => reports.push(TaskReport::resumed(id, d)),
            None => {
                set.spawn(pipeline(id, r, w, env.clone()));
            }
        }
    }
    while let Some(res) = set.join_next().await {
        match res {
            Ok(rep) => {
                if rep.state == TaskState::Succeeded {
                    record_done(env, &rep, writer.task_fingerprint(rep.id));
                }
                reports.push(rep)
            }
            Err(e) => env
                .control
                .stop(StopReason::Failed(format!("a pipeline panicked: {e}"))),
        }
    }
    reports
}

/// Splits the source, then prepares the writer (a source that cannot be read, e.g. no file
/// matches or the server refuses, fails the job before a preSql empties the target), then
/// splits the writer into as many tasks.
async fn plan_tasks(
    reader: &dyn Reader,
    writer: &dyn Writer,
    channels: usize,
    (reader_name, writer_name): (&str, &str),
) -> Result<(Vec<Box<dyn ReaderTask>>, Vec<Box<dyn WriterTask>>), String> {
    let rtasks = reader
        .split(channels)
        .await
        .map_err(|e| format!("reader {reader_name} split: {}", e.chain()))?;
    writer
        .prepare()
        .await
        .map_err(|e| format!("writer {writer_name} prepare: {}", e.chain()))?;
    let wtasks = writer
        .split(rtasks.len())
        .await
        .map_err(|e| format!("writer {writer_name} split: {}", e.chain()))?;
    if wtasks.len() != rtasks.len() {
        return Err(format!(
            "writer {writer_name} returned {} tasks for {} reader tasks",
            wtasks.len(),
            rtasks.len()
        ));
    }
    Ok((rtasks, wtasks))
}

/// `--resume`: the dirty file keeps the records of the finished tasks only.
fn keep_dirty_records(
    dirty: &DirtySink,
    done: &std::collections::BTreeMap<usize, TaskDone>,
) -> Result<(), String> {
    let keep_tasks = done.keys().copied().collect();
    let recorded: u64 = done.values().map(|d| d.dirty).sum();
    match dirty.resume(&keep_tasks) {
        Ok(n) if n < recorded => tracing::warn!(
            "--resume: the finished tasks had {recorded} dirty record(s), but {} holds {n} of \
             them (did the earlier run write them to another --dirty-file?)",
            dirty.path().display()
        ),
        Ok(0) => {}
        Ok(n) => tracing::info!(
            "--resume: {n} dirty record(s) of the finished tasks stay in {}",
            dirty.path().display()
        ),
        Err(e) => return Err(e.to_string()),
    }
    Ok(())
}

/// One monitor slot per task; finished tasks of a resumed run start done, with their figures.
fn make_slots(
    rtasks: &[Box<dyn ReaderTask>],
    done: &std::collections::BTreeMap<usize, TaskDone>,
) -> Vec<Slot> {
    rtasks
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let counters = Counters::default();
            let state = match done.get(&i) {
                Some(d) => {
                    counters.add_read(d.records_read, d.bytes_read);
                    counters.add_written(d.records_written, d.bytes_written);
                    DONE
                }
                None => PENDING,
            };
            Slot {
                source: r.describe(),
                hint: r.size_hint(),
                counters: Mutex::new(Arc::new(counters)),
                state: state.into(),
            }
        })
        .collect()
}

/// What ending a run needs, whichever way it ends.
struct Ending<'a> {
    writer: &'a dyn Writer,
    control: &'a JobControl,
    dirty: &'a DirtySink,
    t0: Instant,
    setting: &'a crate::job::Setting,
    /// Keep the staged output for a resume instead of aborting.
    keep: bool,
}

impl Ending<'_> {
    /// Ends a run that failed before its tasks ran.
    async fn early(&self, base: Report, why: String) -> Report {
        self.control.stop(StopReason::Failed(why));
        finish(base, self, &[]).await
    }
}

/// Decides the outcome, commits or aborts (or, with `keep`, keeps the staged output for a
/// resume), fills the totals.
async fn finish(mut rep: Report, end: &Ending<'_>, slots: &[Slot]) -> Report {
    let Ending {
        writer,
        control,
        dirty,
        t0,
        setting,
        keep,
    } = *end;
    let t = totals(slots);
    // The percentage limit is judged on the whole run (small samples early on mislead).
    if control.reason().is_none() && dirty.exceeded().is_none() {
        if let Some(max) = setting.error_limit.percentage {
            let total = t.records_read + dirty.reader_side();
            let n = dirty.count();
            if total > 0 && n as f64 / total as f64 > max {
                dirty.trip(format!(
                    "{n} dirty of {total} records ({:.2}%), more than errorLimit.percentage = {max}",
                    100.0 * n as f64 / total as f64
                ));
            }
        }
    }
    // Dirty rows must be on disk before anything is published; a dirty file that cannot be
    // written fails the job (its rows would otherwise be lost without a trace).
    if let Err(e) = dirty.flush() {
        tracing::error!("{e}");
    }
    let (status, exit_code, error) = match (control.reason(), dirty.exceeded()) {
        (Some(StopReason::Signal(sig)), _) => (
            Status::Interrupted,
            128 + sig,
            Some(format!("interrupted by signal {}", signal_name(sig))),
        ),
        (Some(StopReason::Failed(m)), _) | (Some(StopReason::Stalled(m)), _) => {
            (Status::Failed, 1, Some(m))
        }
        _ if dirty.failure().is_some() => (Status::Failed, 1, dirty.failure()),
        (None, Some(e)) => (Status::ErrorLimitExceeded, 3, Some(e.to_string())),
        (None, None) if control.cancel.is_cancelled() => {
            (Status::Failed, 1, Some("job cancelled".into()))
        }
        (None, None) => (Status::Succeeded, 0, None),
    };
    rep.status = status;
    rep.exit_code = exit_code;
    rep.error = error;
    if rep.status == Status::Succeeded {
        if let Err(e) = writer.commit().await {
            rep.status = Status::Failed;
            rep.exit_code = 1;
            rep.error = Some(format!("writer {} commit: {}", rep.writer, e.chain()));
            abort(writer, &mut rep, keep).await;
        }
    } else {
        abort(writer, &mut rep, keep).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    rep.end = chrono::Utc::now().to_rfc3339();
    rep.duration_seconds = secs;
    rep.records_read = t.records_read;
    rep.records_written = t.records_written;
    rep.bytes_read = t.bytes_read;
    rep.bytes_written = t.bytes_written;
    rep.dirty_records = dirty.count();
    rep.dirty_file = dirty.written().then(|| dirty.path().display().to_string());
    rep.records_per_second = t.records_written as f64 / secs.max(1e-9);
    rep.mb_per_second = t.bytes_written as f64 / 1e6 / secs.max(1e-9);
    rep.reader_wait_seconds = t.reader_wait_ns as f64 / 1e9;
    rep.writer_wait_seconds = t.writer_wait_ns as f64 / 1e9;
    rep.throttle_wait_seconds = t.throttle_wait_ns as f64 / 1e9;
    rep
}

async fn abort(writer: &dyn Writer, rep: &mut Report, keep: bool) {
    if keep {
        tracing::warn!(
            "the staged output of run {} is kept: `datasync run JOB --run-id {} --resume` goes on \
             from the finished tasks; a later run without --resume removes it",
            rep.run_id,
            rep.run_id
        );
        return;
    }
    if let Err(e) = writer.abort().await {
        let msg = format!("writer {} abort: {}", rep.writer, e.chain());
        tracing::error!("{msg}");
        rep.error = Some(match rep.error.take() {
            Some(prev) => format!("{prev}; then {msg}"),
            None => msg,
        });
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "?",
    }
}

/// How long a stopping job lets a writer task reach its next batch boundary.
const WRITER_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// What one attempt of a pipeline gives back: both tasks (for a retry) and the error that
/// ended it, with its side; `Err` when a task panicked.
type Attempt = Result<
    (
        Box<dyn ReaderTask>,
        Box<dyn WriterTask>,
        Option<(Side, PluginError)>,
    ),
    String,
>;

/// Runs one attempt: the reader and the writer task on their own tokio tasks, joined by a
/// fresh bounded channel counted by `counters`.
async fn run_attempt(
    id: usize,
    attempt: u32,
    mut r: Box<dyn ReaderTask>,
    mut w: Box<dyn WriterTask>,
    env: &Env,
    counters: &Arc<Counters>,
) -> Attempt {
    let cancel = env.control.cancel.clone();
    let (tx, rx) = batch_channel(env.capacity, env.throttle.clone(), counters.clone());
    let ctx = |side, plugin: &Arc<str>| TaskContext {
        task_id: id,
        attempt,
        side,
        plugin: plugin.clone(),
        counters: counters.clone(),
        cancel: cancel.clone(),
        batch: env.spec.setting.batch,
        dirty: env.dirty.clone(),
    };
    let rctx = ctx(Side::Reader, &env.reader_name);
    let wctx = ctx(Side::Writer, &env.writer_name);
    let rh = tokio::spawn(async move {
        let cancel = rctx.cancel.clone();
        let res = tokio::select! {
            res = r.read(tx, rctx) => res,
            _ = cancel.cancelled() => Err(PluginError::new(Cancelled)),
        };
        (r, res)
    });
    let wh = tokio::spawn(async move {
        let cancel = wctx.cancel.clone();
        let res = {
            let write = w.write(rx, wctx);
            tokio::pin!(write);
            tokio::select! {
                res = &mut write => res,
                // The writer stops at its next batch boundary (it checks cancellation there,
                // and its input ends with the reader): a unit it is committing is finished and
                // counted, not cut off with its outcome unknown. A writer stuck on its target
                // is dropped after the grace period.
                _ = cancel.cancelled() => {
                    match tokio::time::timeout(WRITER_STOP_GRACE, &mut write).await {
                        Ok(res) => res,
                        Err(_) => Err(PluginError::new(Cancelled)),
                    }
                }
            }
        };
        (w, res)
    });
    let (rj, wj) = (rh.await, wh.await);
    let ((r, rres), (w, wres)) = match (rj, wj) {
        (Ok(rr), Ok(ww)) => (rr, ww),
        (rj, wj) => {
            return Err(format!(
                "task {id} panicked: {}",
                [rj.err(), wj.err()]
                    .into_iter()
                    .flatten()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        }
    };
    // The writer's error is the cause when the reader only saw the channel close.
    let err = match (rres, wres) {
        (Ok(()), Ok(())) => None,
        (Err(re), Ok(())) => Some((Side::Reader, re)),
        (Ok(()), Err(we)) => Some((Side::Writer, we)),
        (Err(re), Err(we)) => {
            if re.is::<datasync_channel::Closed>() || re.is::<Cancelled>() {
                Some((Side::Writer, we))
            } else {
                Some((Side::Reader, re))
            }
        }
    };
    Ok((r, w, err))
}

/// Runs one reader task into one writer task, retrying where safe.
async fn pipeline(
    id: usize,
    mut r: Box<dyn ReaderTask>,
    mut w: Box<dyn WriterTask>,
    env: Arc<Env>,
) -> TaskReport {
    let slot = &env.slots[id];
    let mut rep = TaskReport {
        id,
        source: slot.source.clone(),
        attempts: 0,
        state: TaskState::NotStarted,
        records_read: 0,
        records_written: 0,
        bytes_read: 0,
        dirty: 0,
        seconds: 0.0,
        reader_wait_seconds: 0.0,
        writer_wait_seconds: 0.0,
        error: None,
    };
    let cancel = env.control.cancel.clone();
    let _permit = tokio::select! {
        p = env.semaphore.acquire() => match p { Ok(p) => p, Err(_) => return rep },
        _ = cancel.cancelled() => return rep,
    };
    slot.state.store(RUNNING, Ordering::Relaxed);
    let retry = &env.spec.setting.retry;
    let mut attempt = 1u32;
    loop {
        let started = Instant::now();
        let counters = Arc::new(Counters::default());
        if let Ok(mut c) = slot.counters.lock() {
            *c = counters.clone();
        }
        let attempt_result = run_attempt(id, attempt, r, w, &env, &counters).await;
        let snap = counters.snapshot();
        rep.attempts = attempt;
        rep.records_read = snap.records_read;
        rep.records_written = snap.records_written;
        rep.bytes_read = snap.bytes_read;
        rep.dirty = snap.dirty;
        rep.seconds = started.elapsed().as_secs_f64();
        rep.reader_wait_seconds = snap.reader_wait_ns as f64 / 1e9;
        rep.writer_wait_seconds = snap.writer_wait_ns as f64 / 1e9;
        let err = match attempt_result {
            Ok((rb, wb, err)) => {
                r = rb;
                w = wb;
                err
            }
            Err(msg) => {
                env.control.stop(StopReason::Failed(msg.clone()));
                rep.state = TaskState::Failed;
                rep.error = Some(msg);
                break;
            }
        };
        let Some((side, e)) = err else {
            rep.state = TaskState::Succeeded;
            break;
        };
        if cancel.is_cancelled() || e.is::<Cancelled>() || e.is::<crate::dirty::DirtyError>() {
            rep.state = TaskState::Cancelled;
            break;
        }
        let plugin = match side {
            Side::Reader => &env.reader_name,
            Side::Writer => &env.writer_name,
        };
        let msg = format!("task {id} ({}) {side} {plugin}: {}", slot.source, e.chain());
        if e.is_retriable() && w.retry_safe() && attempt <= retry.count {
            let wait = retry.backoff.0 * 2u32.saturating_pow(attempt - 1);
            tracing::warn!(
                "{msg}; retrying in {wait:?} (attempt {} of {})",
                attempt + 1,
                retry.count + 1
            );
            env.retries.fetch_add(1, Ordering::Relaxed);
            env.dirty.forget(snap.dirty);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = cancel.cancelled() => { rep.state = TaskState::Cancelled; break; }
            }
            attempt += 1;
            continue;
        }
        tracing::error!("{msg}");
        env.control.stop(StopReason::Failed(msg.clone()));
        rep.state = TaskState::Failed;
        rep.error = Some(msg);
        break;
    }
    slot.state.store(DONE, Ordering::Relaxed);
    rep
}

/// Records a finished task in the run state (atomically replaced). A state that cannot be
/// written loses nothing: a resume would run the task again.
fn record_done(env: &Env, rep: &TaskReport, output: Option<String>) {
    let Some(state) = &env.state else { return };
    let Ok(mut guard) = state.lock() else { return };
    let (path, st) = &mut *guard;
    let snap = env.slots[rep.id].snapshot();
    st.tasks.insert(
        rep.id,
        TaskDone {
            source: rep.source.clone(),
            records_read: rep.records_read,
            records_written: rep.records_written,
            bytes_read: rep.bytes_read,
            bytes_written: snap.bytes_written,
            dirty: rep.dirty,
            output,
        },
    );
    if let Err(e) = crate::runstate::save(path, st) {
        tracing::warn!("{e}; a resume of this run would run task {} again", rep.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::parse_job;
    use crate::plugin::{ReaderTask, WriterTask};
    use crate::{async_trait, PluginError};
    use arrow_array::{Int64Array, RecordBatch};
    use datasync_channel::{Batch, BatchReceiver, BatchSender};
    use std::sync::atomic::AtomicUsize;

    /// Reader whose task fails `fail_times` times (retriable or not) before producing 10 rows.
    struct FlakyReader {
        fail_times: usize,
        retriable: bool,
        attempts: Arc<AtomicUsize>,
    }
    struct FlakyTask {
        fail_times: usize,
        retriable: bool,
        attempts: Arc<AtomicUsize>,
    }
    #[async_trait]
    impl Reader for FlakyReader {
        async fn split(&self, _: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError> {
            Ok(vec![Box::new(FlakyTask {
                fail_times: self.fail_times,
                retriable: self.retriable,
                attempts: self.attempts.clone(),
            })])
        }
    }
    #[async_trait]
    impl ReaderTask for FlakyTask {
        fn describe(&self) -> String {
            "flaky".into()
        }
        async fn read(
            &mut self,
            mut out: BatchSender,
            _ctx: TaskContext,
        ) -> Result<(), PluginError> {
            let n = self.attempts.fetch_add(1, Ordering::SeqCst);
            let batch = RecordBatch::try_from_iter(vec![(
                "a",
                Arc::new(Int64Array::from_iter_values(0..10)) as arrow_array::ArrayRef,
            )])
            .map_err(PluginError::new)?;
            out.send(Batch::new(batch)).await?;
            if n < self.fail_times {
                let e = std::io::Error::other("connection reset");
                return Err(if self.retriable {
                    PluginError::retriable(e)
                } else {
                    PluginError::new(e)
                });
            }
            Ok(())
        }
    }

    #[derive(Default)]
    struct Recorder {
        committed: AtomicUsize,
        aborted: AtomicUsize,
    }
    struct RecWriter(Arc<Recorder>);
    struct RecTask;
    #[async_trait]
    impl Writer for RecWriter {
        async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError> {
            Ok((0..n)
                .map(|_| Box::new(RecTask) as Box<dyn WriterTask>)
                .collect())
        }
        async fn commit(&self) -> Result<(), PluginError> {
            self.0.committed.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        async fn abort(&self) -> Result<(), PluginError> {
            self.0.aborted.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }
    #[async_trait]
    impl WriterTask for RecTask {
        fn retry_safe(&self) -> bool {
            true
        }
        async fn write(
            &mut self,
            mut input: BatchReceiver,
            ctx: TaskContext,
        ) -> Result<(), PluginError> {
            while let Some(b) = input.recv().await {
                ctx.counters.add_written(b.rows() as u64, b.bytes as u64);
            }
            Ok(())
        }
    }

    async fn run_flaky(fail_times: usize, retriable: bool) -> (Report, Arc<Recorder>, usize) {
        let text = r#"{"job": {"setting": {"retry": {"count": 2, "backoff": "10ms"}},
            "content": [{"reader": {"name": "x"}, "writer": {"name": "y"}}]}}"#;
        let spec = parse_job(text, "flaky", "flaky.json", &Default::default()).expect("valid job");
        let rec = Arc::new(Recorder::default());
        let attempts = Arc::new(AtomicUsize::new(0));
        let job = BuiltJob {
            spec,
            reader_name: "flaky",
            writer_name: "rec",
            reader: Box::new(FlakyReader {
                fail_times,
                retriable,
                attempts: attempts.clone(),
            }),
            writer: Box::new(RecWriter(rec.clone())),
        };
        let dir = std::env::temp_dir().join(format!("datasync-runner-test-{}", std::process::id()));
        let opts = RunOptions {
            resume: false,
            keep_staging: false,
            dirty_file: dir.join("dirty.jsonl"),
            progress: ProgressMode::Off,
        };
        let report = run(job, opts, JobControl::new()).await;
        (report, rec, attempts.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_counted_once() {
        let (r, rec, attempts) = run_flaky(2, true).await;
        assert_eq!(r.status, Status::Succeeded, "{:?}", r.error);
        assert_eq!((attempts, r.retries), (3, 2));
        // Rows of failed attempts are not counted twice.
        assert_eq!((r.records_read, r.records_written), (10, 10));
        assert_eq!(r.task_reports[0].attempts, 3);
        assert_eq!(
            (
                rec.committed.load(Ordering::SeqCst),
                rec.aborted.load(Ordering::SeqCst)
            ),
            (1, 0)
        );
    }

    #[tokio::test]
    async fn retries_are_bounded_and_failure_aborts() {
        let (r, rec, attempts) = run_flaky(5, true).await;
        assert_eq!((r.status, r.exit_code), (Status::Failed, 1));
        assert_eq!(attempts, 3, "1 try + 2 retries");
        assert!(
            r.error
                .as_deref()
                .unwrap_or_default()
                .contains("connection reset"),
            "{:?}",
            r.error
        );
        assert_eq!(
            (
                rec.committed.load(Ordering::SeqCst),
                rec.aborted.load(Ordering::SeqCst)
            ),
            (0, 1)
        );
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let (r, _, attempts) = run_flaky(1, false).await;
        assert_eq!(r.status, Status::Failed);
        assert_eq!((attempts, r.retries), (1, 0));
    }
}
