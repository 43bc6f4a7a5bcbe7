//! Builds a job's plugins from the registry and runs it: prepare, split, at most `channel`
//! reader -> channel -> writer pipelines at once, retries where safe, error limit, commit or
//! abort, report.

use crate::config::ConfigError;
pub use crate::control::{JobControl, StopReason};
use crate::dirty::DirtySink;
use crate::job::JobSpec;
use crate::plugin::{PluginError, ReadBack, Reader, ReaderTask, Resume, Writer, WriterTask};
use crate::progress::{totals, Monitor, ProgressMode, Slot, DONE, PENDING};
use crate::registry::{Params, Registry};
use crate::report::{Report, Status, TaskReport, TaskState};
use crate::runstate::{RunState, TaskDone};
use crate::verify::figures::HashColumns;
use crate::verify::{Figures, Tally};
use datasync_channel::{ChannelCapacity, Counters, Throttle, ThrottleLimits};
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
    /// The reader's name in the report and messages: the plugin's canonical name, or the
    /// protocol it speaks (see [`Reader::shown_name`]).
    pub reader_name: &'static str,
    /// The writer's name likewise.
    pub writer_name: &'static str,
    pub(crate) reader: Box<dyn Reader>,
    pub(crate) writer: Box<dyn Writer>,
    /// A plugin's run-time library this machine lacks: the job fails before it touches
    /// anything.
    pub missing: Option<String>,
    /// `job.verify`: the rules and how the target is read back.
    pub(crate) verify: Option<Arc<VerifyPlan>>,
}

/// `job.verify` of a built job: the rules, how the writer's target is read back, and the
/// reader plugin that reads it.
pub(crate) struct VerifyPlan {
    cfg: crate::verify::VerifyConfig,
    read_back: ReadBack,
    build: Option<crate::registry::BuildFn<dyn Reader>>,
}

impl VerifyPlan {
    /// Whether the target is checked before the commit publishes it.
    fn before_commit(&self) -> bool {
        matches!(self.read_back, ReadBack::Reader { staged: true, .. })
    }

    /// The columns a `sum` rule names.
    fn sums(&self) -> Vec<String> {
        self.cfg
            .rules
            .iter()
            .filter(|r| r.rule == crate::verify::RuleKind::Sum)
            .filter_map(|r| r.column.clone())
            .collect()
    }

    /// The reader side's tally: the rule columns and, for a checksum, the columns the target
    /// can be read back by.
    fn source_tally(&self) -> Tally {
        let positions = match &self.read_back {
            ReadBack::Reader { columns, .. } if !columns.is_empty() => Some(
                columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.is_some())
                    .map(|(i, _)| i)
                    .collect(),
            ),
            _ => None,
        };
        Tally::new(
            self.cfg
                .columns()
                .into_iter()
                .map(|c| (c.clone(), Some(c)))
                .collect(),
            self.cfg
                .wants_checksum()
                .then_some(HashColumns::Positions(positions)),
        )
    }

    /// The target's tally: each rule column under its target name, the checksum over the
    /// target columns in the reader's order (`source`: the reader's column names), the
    /// copies of the reader's `numbers` columns read as numbers where they are text.
    fn target_tally(
        &self,
        columns: &[Option<String>],
        source: &[String],
        numbers: &std::collections::BTreeSet<String>,
    ) -> Tally {
        let map = |c: &str| -> Option<String> {
            if columns.is_empty() {
                return Some(c.to_string());
            }
            let pos = crate::verify::position_of(source.iter().map(String::as_str), c)?;
            columns.get(pos).cloned().flatten()
        };
        let hashed = if columns.is_empty() {
            source.to_vec()
        } else {
            columns.iter().flatten().cloned().collect()
        };
        let as_numbers = numbers.iter().filter_map(|n| map(n)).collect();
        Tally::new(
            self.cfg
                .columns()
                .into_iter()
                .map(|c| {
                    let m = map(&c);
                    (c, m)
                })
                .collect(),
            self.cfg
                .wants_checksum()
                .then_some(HashColumns::Named(hashed)),
        )
        .reading_as_numbers(as_numbers)
    }
}

impl BuiltJob {
    /// The reader's incremental state, if it reads incrementally.
    pub fn incremental(&self) -> Option<&crate::incremental::Incremental> {
        self.reader.incremental()
    }

    /// The datasets the job reads and writes, as the plugins name them (for lineage).
    pub fn datasets(&self) -> (Vec<crate::lineage::Dataset>, Vec<crate::lineage::Dataset>) {
        (self.reader.datasets(), self.writer.datasets())
    }

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

    /// `check --connect`: both sides' probes (see [`Reader::probe`], [`Writer::probe`]).
    pub async fn probe(
        &self,
    ) -> (
        Result<crate::plugin::Probe, PluginError>,
        Result<crate::plugin::Probe, PluginError>,
    ) {
        let mut reader = self.reader.probe().await;
        if let (Ok(p), Some(inc)) = (&mut reader, self.reader.incremental()) {
            inc.probe(p);
        }
        (reader, self.writer.probe().await)
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
    let reader = (re.build)(Params::new(
        &spec.reader.parameter,
        &spec.reader.path,
        &spec.reader.name,
    ))?;
    let writer = (we.build)(Params::new(
        &spec.writer.parameter,
        &spec.writer.path,
        &spec.writer.name,
    ))?;
    // Found before anything runs (preSql included), not at the first row.
    if let (Some(r), Some(w)) = (reader.column_count(), writer.column_count()) {
        if r != w {
            return Err(ConfigError::new(
                format!("{}.column", spec.writer.path),
                format!(
                    "lists {w} column(s), but the reader's {}.column gives every row {r}: \
                     the lists pair up one to one",
                    spec.reader.path
                ),
            ));
        }
    }
    let missing = [
        ("reader", re.name, (re.runtime)()),
        ("writer", we.name, (we.runtime)()),
    ]
    .into_iter()
    .find_map(|(side, name, r)| {
        r.err()
            .map(|m| format!("the {name} {side} cannot run on this machine: {}", m.detail))
    });
    let verify = match &spec.verify {
        None => None,
        Some(cfg) => {
            let read_back = writer.read_back(cfg.target_where.as_deref());
            if let (Some(_), ReadBack::Reader { filters: false, .. }) =
                (&cfg.target_where, &read_back)
            {
                return Err(ConfigError::new(
                    "job.verify.targetWhere",
                    format!(
                        "the {} writer's target is files, not a SQL table: targetWhere \
                         applies to SQL table writers",
                        we.name
                    ),
                ));
            }
            let build = match &read_back {
                ReadBack::Reader { plugin, .. } => {
                    Some(registry.reader(plugin, "job.verify")?.build)
                }
                ReadBack::Unavailable(_) => None,
            };
            Some(Arc::new(VerifyPlan {
                cfg: cfg.clone(),
                read_back,
                build,
            }))
        }
    };
    Ok(BuiltJob {
        verify,
        missing,
        reader_name: reader.shown_name().unwrap_or(re.name),
        writer_name: writer.shown_name().unwrap_or(we.name),
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
    /// Which job the dirty records are of (the job file's absolute path; `None`: the job's
    /// identity hash): a clean run removes only its own job's earlier dirty file.
    pub dirty_job: Option<String>,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// `--resume`: take over the run named by the run id (finished tasks are skipped).
    pub resume: bool,
    /// `--run-id` was given: a failed run keeps its staged output for `--resume`.
    pub keep_staging: bool,
    /// Container-task mode: run only these tasks of a plan, stage their output and neither
    /// commit nor abort (see [`crate::shard`]).
    pub shard: Option<crate::shard::ShardTasks>,
    /// Metrics updated while the run goes on (`--metrics-file`, `--metrics-push`).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
    /// `--full`: an incremental reader ignores its committed watermark this run.
    pub full: bool,
}

pub(super) struct Env {
    pub(super) control: Arc<JobControl>,
    pub(super) dirty: Arc<DirtySink>,
    pub(super) throttle: Arc<Throttle>,
    pub(super) slots: Arc<Vec<Slot>>,
    pub(super) semaphore: Semaphore,
    pub(super) capacity: ChannelCapacity,
    pub(super) spec: JobSpec,
    pub(super) reader_name: Arc<str>,
    pub(super) writer_name: Arc<str>,
    pub(super) retries: AtomicU32,
    /// Each task's input fingerprint when planned (recorded with it when it finishes).
    pub(super) inputs: Vec<Option<String>>,
    /// Where finished tasks are recorded (staging writers).
    pub(super) state: Option<Mutex<(PathBuf, RunState)>>,
    /// The task number each pipeline shows plugins: its index, or in a shard the plan's
    /// task number (staging names carry it).
    pub(super) task_numbers: Vec<usize>,
    /// `job.verify`: the reader side's tally to copy for each attempt, and each task's tally
    /// of its latest attempt.
    pub(super) tallies: Option<(Tally, Vec<TaskTally>)>,
}

/// The tally of a task's latest attempt (`job.verify`).
pub(super) type TaskTally = Mutex<Option<Arc<Tally>>>;

static RUN_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Whether `id` can be a run id: 1 to 64 letters, digits, `_`, `-` or `.`, not starting with
/// `.` or `_` (it names staging directories and files, and output files are
/// `<fileName>__<run id>_...`: a leading `_` would make `o___x` ambiguous between the
/// `fileName`s `o` and `o_`).
pub fn is_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with(['.', '_'])
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

static RUN_ID_CHOSEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the run id was chosen (`--run-id`, a plan's), not generated: only a chosen one can
/// meet output of an earlier run with the same id.
pub fn run_id_chosen() -> bool {
    RUN_ID_CHOSEN.load(std::sync::atomic::Ordering::Relaxed)
}

/// Sets this process's run id (`--run-id`) before anything uses it (see [`is_run_id`]).
pub fn set_run_id(id: &str) -> Result<(), String> {
    if !is_run_id(id) {
        return Err(format!(
            "run id \"{id}\": use 1 to 64 letters, digits, '_', '-' or '.' (not starting with '.' or '_')"
        ));
    }
    RUN_ID
        .set(id.to_string())
        .map_err(|_| "the run id is already set".to_string())?;
    RUN_ID_CHOSEN.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// The run id when one is set or was generated already (log lines must not fix it early).
pub fn run_id_if_set() -> Option<&'static str> {
    RUN_ID.get().map(String::as_str)
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
    let channels = setting.speed.channels();
    let hash = crate::runstate::job_hash(&spec, channels);
    let dirty = Arc::new(
        DirtySink::new(
            opts.dirty_file.clone(),
            setting.error_limit.record,
            control.cancel.clone(),
        )
        .of_job(opts.dirty_job.clone().unwrap_or_else(|| hash.clone())),
    );
    let mut base = Report::begin(&spec, job.reader_name, job.writer_name, run_id(), channels);
    let writer = job.writer;
    let reader = job.reader;
    // Staging writers record finished tasks next to their staged output, so a failed or
    // killed run can be resumed (`--resume --run-id`).
    let state_path = match writer.resume() {
        Resume::StateFile(p) if opts.shard.is_none() => Some(p),
        _ => None,
    };
    let end = Ending {
        reader: reader.as_ref(),
        writer: writer.as_ref(),
        control: &control,
        dirty: &dirty,
        t0,
        setting,
        keep: state_path.as_deref().filter(|_| opts.keep_staging),
        shard: opts.shard.is_some(),
        staging_refused: false,
        verify: None,
    };
    if let Some(why) = job.missing.clone() {
        return end.early(base, why).await;
    }
    if let Some(v) = &job.verify {
        let whole_table = matches!(v.read_back, ReadBack::Reader { staged: false, .. })
            && v.cfg.target_where.is_none();
        if whole_table && reader.incremental().is_some() {
            tracing::warn!(
                "job.verify compares this run's rows with the whole target table (no \
                 job.verify.targetWhere); an incremental run reads only its window, so set \
                 targetWhere to the rows it writes"
            );
        }
    }
    if let Some(inc) = reader.incremental() {
        if opts.resume {
            let why = "an incremental read cannot be resumed (the resumed tasks would read a \
                       later window than the finished ones): run the job again without --resume; \
                       its watermark did not move, so it reads the same rows"
                .to_string();
            return end.early(base, why).await;
        }
        if opts.full {
            inc.set_full();
        }
        // Found now, not after the data is committed.
        if let Err(e) = inc.check_writable().await {
            return end.early(base, e).await;
        }
    }
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
    let mut prepare_refused = false;
    let planned = tokio::select! {
        p = async {
            match &opts.shard {
                Some(s) => shard_tasks(reader.as_ref(), writer.as_ref(), s, names).await,
                None => {
                    let refused = &mut prepare_refused;
                    plan_tasks(reader.as_ref(), writer.as_ref(), channels, names, refused).await
                }
            }
        } => p,
        _ = control.cancel.cancelled() => Err("stopped before any task started".to_string()),
    };
    let (rtasks, wtasks) = match planned {
        Ok(p) => p,
        Err(e) => {
            // A staging directory under this run id that the writer refused to prepare (another
            // fileName's, a live run's, a decided commit's) is not this run's to keep or remove.
            let end = Ending {
                staging_refused: prepare_refused,
                ..end
            };
            return end.early(base, e).await;
        }
    };
    base.tasks = rtasks.len();
    // Tasks an earlier attempt of this run finished (same task number, same source, same
    // staged output).
    let sources: Vec<(String, Option<String>)> = rtasks
        .iter()
        .map(|r| (r.describe(), r.input_fingerprint()))
        .collect();
    let done = crate::runstate::finished(prior.as_ref(), &sources, |i| writer.task_fingerprint(i));
    if job.verify.is_some() && done.values().any(|d| d.figures.is_none()) {
        let why = "--resume: the finished tasks were recorded without job.verify figures (by a \
                   run without job.verify), so the whole run cannot be verified: run the job \
                   again without --resume"
            .to_string();
        return end.early(base, why).await;
    }
    if opts.resume && prior.is_some() {
        tracing::info!(
            "--resume: {} of {} task(s) of run {} had finished and are not run again",
            done.len(),
            rtasks.len(),
            base.run_id
        );
    }
    // The dirty file keeps the finished tasks' records only: none when no task had finished
    // (the earlier run's records of the tasks that run again would be there twice, or stale).
    if opts.resume {
        if let Err(e) = keep_dirty_records(&dirty, &done) {
            return end.early(base, e).await;
        }
    }
    let state = state_path.clone().map(|p| {
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
        inputs: sources.into_iter().map(|(_, i)| i).collect(),
        state,
        task_numbers: match &opts.shard {
            Some(s) => s.tasks.iter().map(|(id, _)| *id).collect(),
            None => (0..rtasks.len()).collect(),
        },
        tallies: job.verify.as_ref().map(|v| {
            (
                v.source_tally().checking(control.clone(), v.sums()),
                (0..rtasks.len()).map(|_| Mutex::new(None)).collect(),
            )
        }),
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
            metrics: opts.metrics.clone(),
        }
        .run(),
    );

    let mut reports = run_pipelines(rtasks, wtasks, &done, &env, writer.as_ref()).await;
    monitor_done.cancel();
    let _ = monitor.await;
    reports.sort_by_key(|r| r.id);
    if let Some(s) = &opts.shard {
        // Task numbers in the report are the plan's.
        for r in &mut reports {
            if let Some((global, _)) = s.tasks.get(r.id) {
                r.id = *global;
            }
        }
        base.staged = s
            .tasks
            .iter()
            .map(|(id, _)| (*id, writer.task_staged(*id)))
            .collect();
        if let Some((_, cells)) = &env.tallies {
            base.task_figures = s
                .tasks
                .iter()
                .zip(cells)
                .filter_map(|((id, _), c)| {
                    let t = c.lock().ok()?.clone()?;
                    Some((*id, t.figures()))
                })
                .collect();
        }
    }
    // The reader side's figures: every task's last attempt (all of them succeeded when the
    // job did).
    let source = env.tallies.as_ref().map(|(_, cells)| {
        let mut all = Figures::default();
        for c in cells {
            if let Some(t) = c.lock().ok().and_then(|t| t.clone()) {
                all.merge(&t.figures());
            }
        }
        // Tasks an earlier attempt of the run finished (`--resume`): their recorded figures.
        for d in done.values() {
            if let Some(f) = d
                .figures
                .clone()
                .and_then(|v| serde_json::from_value::<Figures>(v).ok())
            {
                all.merge(&f);
            }
        }
        all
    });
    base.task_reports = reports;
    base.retries = env.retries.load(Ordering::Relaxed);
    let end = Ending {
        verify: job.verify.as_deref().zip(source),
        ..end
    };
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
    prepare_refused: &mut bool,
) -> Result<(Vec<Box<dyn ReaderTask>>, Vec<Box<dyn WriterTask>>), String> {
    let rtasks = reader
        .split(channels)
        .await
        .map_err(|e| format!("reader {reader_name} split: {}", e.chain()))?;
    let described: Vec<String> = rtasks.iter().map(|t| t.describe()).collect();
    writer
        .accepts_tasks(&described)
        .map_err(|e| format!("writer {writer_name}: {}", e.chain()))?;
    writer.prepare().await.map_err(|e| {
        *prepare_refused = true;
        format!("writer {writer_name} prepare: {}", e.chain())
    })?;
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

/// Container-task mode: this shard's tasks rebuilt from the plan, the writer joined to the
/// planned run (no prepare: `datasync plan` ran it) and split as for the whole plan, so
/// each task's staged output carries its plan task number.
async fn shard_tasks(
    reader: &dyn Reader,
    writer: &dyn Writer,
    shard: &crate::shard::ShardTasks,
    (reader_name, writer_name): (&str, &str),
) -> Result<(Vec<Box<dyn ReaderTask>>, Vec<Box<dyn WriterTask>>), String> {
    let mut rtasks = Vec::with_capacity(shard.tasks.len());
    for (id, split) in &shard.tasks {
        rtasks.push(
            reader
                .task_from_plan(split)
                .map_err(|e| format!("reader {reader_name}: plan task {id}: {}", e.chain()))?,
        );
    }
    let joined = writer
        .join_planned()
        .await
        .map_err(|e| format!("writer {writer_name}: {}", e.chain()))?;
    if !joined {
        return Err(format!(
            "writer {writer_name}: the planned run's staging is gone (the run was committed or \
             aborted): nothing to do for this shard"
        ));
    }
    let mut all = writer
        .split(shard.total)
        .await
        .map_err(|e| format!("writer {writer_name} split: {}", e.chain()))?;
    if all.len() != shard.total {
        return Err(format!(
            "writer {writer_name} returned {} tasks for {} planned tasks",
            all.len(),
            shard.total
        ));
    }
    let mut wtasks: Vec<Option<Box<dyn WriterTask>>> = all.drain(..).map(Some).collect();
    let mut picked = Vec::with_capacity(shard.tasks.len());
    for (id, _) in &shard.tasks {
        let t = wtasks
            .get_mut(*id)
            .and_then(Option::take)
            .ok_or_else(|| format!("plan task {id} is not one of {} tasks", shard.total))?;
        picked.push(t);
    }
    Ok((rtasks, picked))
}

/// `--resume`: the dirty file keeps the records of the finished tasks only.
fn keep_dirty_records(
    dirty: &DirtySink,
    done: &std::collections::BTreeMap<usize, TaskDone>,
) -> Result<(), String> {
    let keep_tasks = done.keys().copied().collect();
    let recorded: u64 = done.values().map(|d| d.dirty).sum();
    match dirty.resume(&keep_tasks) {
        Ok(n) if n < recorded => {
            tracing::warn!(
                "--resume: the finished tasks had {recorded} dirty record(s), but {} holds {n} \
                 of them (did the earlier run write them to another --dirty-file?); all \
                 {recorded} count",
                dirty.path().display()
            );
            dirty.count_elsewhere(recorded - n);
        }
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
    reader: &'a dyn Reader,
    writer: &'a dyn Writer,
    control: &'a JobControl,
    dirty: &'a DirtySink,
    t0: Instant,
    setting: &'a crate::job::Setting,
    /// Keep the staged output (whose run state lives at this path) for a resume instead of
    /// aborting.
    keep: Option<&'a std::path::Path>,
    /// A shard of a planned run: its staged output is neither published nor removed here
    /// (`datasync commit` publishes it; the shard's next attempt replaces it).
    shard: bool,
    /// The writer refused to prepare: what stands under this run id is not this run's, and is
    /// neither kept for a resume (no advice) nor removed.
    staging_refused: bool,
    /// `job.verify` with the reader side's figures.
    verify: Option<(&'a VerifyPlan, Figures)>,
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
    if let Some(schema) = slots
        .iter()
        .find_map(|s| s.counters.lock().ok().and_then(|c| c.schema()))
    {
        rep.columns = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().to_string()))
            .collect();
    }
    let Ending {
        reader,
        writer,
        control,
        dirty,
        t0,
        setting,
        keep,
        shard,
        staging_refused,
        ref verify,
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
    dirty.remove_stale();
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
    if shard {
        if rep.status != Status::Succeeded {
            tracing::warn!(
                "this shard's staged output stays uncommitted; its next attempt replaces it"
            );
        }
    } else if rep.status == Status::Succeeded {
        let names: Vec<String> = rep.columns.iter().map(|(n, _)| n.clone()).collect();
        let channels = rep.channels;
        let check = |committed: bool| {
            verify
                .as_ref()
                .filter(|(plan, _)| plan.before_commit() != committed)
                .map(|(plan, source)| VerifyRun {
                    plan,
                    control,
                    writer,
                    source,
                    names: &names,
                    written: t.records_written,
                    channels,
                    cancel: control.cancel.child_token(),
                })
        };
        if let Some(v) = check(false) {
            v.run(&mut rep, false).await;
        }
        // The commit failed after the data was committed (a SQL writer's postSql).
        let mut failed_after_commit = false;
        let committed = if rep.status != Status::Succeeded {
            // A strong rule failed on the staged output: nothing is published (a run named
            // with --run-id keeps it, as any failed run does).
            abort(writer, &mut rep, keep).await;
            false
        } else if let Err(e) = {
            control.begin_commit();
            writer.commit().await
        } {
            rep.status = Status::Failed;
            rep.exit_code = 1;
            if e.is_after_commit() {
                rep.error = Some(format!(
                    "the data is committed, but writer {} then failed: {}",
                    rep.writer,
                    e.chain()
                ));
                failed_after_commit = true;
                true
            } else {
                rep.error = Some(format!("writer {} commit: {}", rep.writer, e.chain()));
                abort(writer, &mut rep, keep).await;
                false
            }
        } else {
            true
        };
        if let Some(v) = check(true).filter(|_| committed) {
            v.run(&mut rep, true).await;
        }
        if !committed || (rep.status != Status::Succeeded && !failed_after_commit) {
            // The watermark stays: the next run reads this window again.
        } else if let Some(inc) = reader.incremental() {
            // Only now: a run that failed before this point leaves the watermark where it
            // was, and the next run reads the same window.
            if let Err(e) = inc.commit(&rep.run_id).await {
                rep.status = Status::Failed;
                rep.exit_code = 1;
                rep.error = Some(format!(
                    "the data is committed, but the new watermark was not recorded ({e}): the \
                     next run reads this run's rows again"
                ));
            }
        }
    } else if staging_refused && keep.is_some() {
        // Nothing of this run's was staged; what stands under its run id stays as it is.
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
    rep.dirty_samples = dirty
        .samples()
        .into_iter()
        .map(|(error, count)| crate::report::DirtySample { error, count })
        .collect();
    rep.warnings = crate::report::take_warnings();
    rep.records_per_second = t.records_written as f64 / secs.max(1e-9);
    rep.mb_per_second = t.bytes_written as f64 / 1e6 / secs.max(1e-9);
    rep.reader_wait_seconds = t.reader_wait_ns as f64 / 1e9;
    rep.writer_wait_seconds = t.writer_wait_ns as f64 / 1e9;
    rep.throttle_wait_seconds = t.throttle_wait_ns as f64 / 1e9;
    rep.isolation_seconds = t.isolation_ns as f64 / 1e9;
    rep
}

async fn abort(writer: &dyn Writer, rep: &mut Report, keep: Option<&std::path::Path>) {
    // (A commit that failed once decided is finished by `recover`: not "none published".)
    let stages = matches!(writer.resume(), Resume::StateFile(_)) && !writer.commit_decided();
    if let Some(state) = keep {
        if !state.parent().is_some_and(|d| d.exists()) {
            return;
        }
        rep.unpublished = Some("staged, kept for --resume: none published");
        tracing::warn!(
            "the staged output of run {} is kept: `datasync run JOB --run-id {} --resume` goes on \
             from the finished tasks; a later run without --resume removes it",
            rep.run_id,
            rep.run_id
        );
        return;
    }
    if stages {
        rep.unpublished = Some("staged, then removed: none published");
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

impl BuiltJob {
    /// Container-task mode, in `datasync commit`: whether `job.verify` reads the staged output
    /// (checked before the commit publishes it) or the target after it; `None`: no verify.
    pub fn verify_before_commit(&self) -> Option<bool> {
        self.verify.as_ref().map(|v| v.before_commit())
    }

    /// Container-task mode, in `datasync commit`: compares the shards' summed reader-side
    /// figures (`source`) with the target's, as a run does (`committed`: the data is
    /// published). Returns each rule's outcome and, when the run must not count as a
    /// success, its exit code (4 for a strong mismatch, 1 when the target cannot be read)
    /// and why.
    pub async fn verify_planned(
        &self,
        source: &Figures,
        written: u64,
        committed: bool,
    ) -> (Vec<crate::verify::RuleOutcome>, Option<(i32, String)>) {
        let Some(plan) = self.verify.as_deref() else {
            return (Vec::new(), None);
        };
        let channels = self.spec.setting.speed.channels();
        let mut rep = Report::begin(
            &self.spec,
            self.reader_name,
            self.writer_name,
            run_id(),
            channels,
        );
        let control = JobControl::new();
        let names = source.names.clone();
        VerifyRun {
            plan,
            control: &control,
            writer: self.writer.as_ref(),
            source,
            names: &names,
            written,
            channels,
            cancel: control.cancel.child_token(),
        }
        .run(&mut rep, committed)
        .await;
        let failed = (rep.status != Status::Succeeded)
            .then(|| (rep.exit_code, rep.error.unwrap_or_default()));
        (rep.verify, failed)
    }
}

/// Reads the target back, compares its figures with the reader side's and records the
/// outcome in `rep`: a strong mismatch is exit 4, a weak one a warning, a target that cannot
/// be read back exit 1 (`committed`: the data is already in the target).
struct VerifyRun<'a> {
    plan: &'a VerifyPlan,
    control: &'a JobControl,
    writer: &'a dyn Writer,
    source: &'a Figures,
    names: &'a [String],
    written: u64,
    channels: usize,
    cancel: CancellationToken,
}

impl VerifyRun<'_> {
    async fn run(self, rep: &mut Report, committed: bool) {
        let VerifyRun {
            plan,
            control,
            writer,
            source,
            names,
            written,
            channels,
            cancel,
        } = self;
        let after = if committed {
            " (the data is committed)"
        } else {
            " (nothing was published)"
        };
        let read_back = writer.read_back(plan.cfg.target_where.as_deref());
        let target = match (&read_back, plan.build) {
            (
                ReadBack::Reader {
                    plugin,
                    parameter,
                    columns,
                    count_only,
                    ..
                },
                Some(build),
            ) => {
                let reader = build(crate::registry::Params::new(
                    parameter,
                    "job.verify (target read-back)",
                    plugin,
                ));
                let figures = match reader {
                    Ok(r) => {
                        let tally = Arc::new(if *count_only {
                            // Rows only: every rule column, and the checksum, unread.
                            Tally::new(
                                plan.cfg.columns().into_iter().map(|c| (c, None)).collect(),
                                None,
                            )
                        } else {
                            plan.target_tally(columns, names, &source.numbers)
                        });
                        crate::verify::read_target(r, tally, channels, cancel)
                            .await
                            .map(|mut f| {
                                if *count_only {
                                    f.unread.insert(String::new());
                                }
                                f
                            })
                    }
                    Err(e) => Err(e.to_string()),
                };
                match figures {
                    Ok(f) => Some(f),
                    Err(_) if control.reason().is_some() => {
                        // Stopped (a signal): the run's own outcome, not a verification one.
                        let (status, code, why) = match control.reason() {
                            Some(StopReason::Signal(sig)) => (
                                Status::Interrupted,
                                128 + sig,
                                format!("interrupted by signal {}", signal_name(sig)),
                            ),
                            Some(StopReason::Failed(m)) | Some(StopReason::Stalled(m)) => {
                                (Status::Failed, 1, m)
                            }
                            None => (Status::Failed, 1, "stopped".into()),
                        };
                        rep.status = status;
                        rep.exit_code = code;
                        rep.error = Some(format!("{why} while job.verify read the target{after}"));
                        return;
                    }
                    Err(e) if written == 0 => {
                        // Nothing written: a target that is not there (no file staged, a
                        // table createTable makes with the first batch) holds none of this
                        // run's rows.
                        tracing::warn!(
                            "job.verify: the target could not be read back ({e}); no row was \
                             written, so it is taken as holding none"
                        );
                        Some(Figures::default())
                    }
                    Err(e) => {
                        rep.status = Status::Failed;
                        rep.exit_code = 1;
                        rep.error = Some(format!(
                            "job.verify: cannot read the target back with the {plugin} reader: \
                         {e}{after}"
                        ));
                        return;
                    }
                }
            }
            _ => None,
        };
        let unavailable = match &read_back {
            ReadBack::Unavailable(why) => why.as_str(),
            _ => "",
        };
        rep.verify =
            crate::verify::compare(&plan.cfg, source, target.as_ref(), written, unavailable);
        let mut strong = Vec::new();
        for o in &rep.verify {
            match (o.verdict, o.level) {
                (crate::verify::Verdict::Failed, crate::verify::Level::Strong) => {
                    tracing::error!("verify: {}", o.line());
                    strong.push(o.rule.clone());
                }
                (crate::verify::Verdict::Failed, crate::verify::Level::Weak) => {
                    crate::report::warn(format!("verify (weak rule): {}", o.line()));
                }
                _ => tracing::info!("verify: {}", o.line()),
            }
        }
        if !strong.is_empty() {
            rep.status = Status::VerificationFailed;
            rep.exit_code = 4;
            rep.error = Some(format!(
                "verification failed{after}: {} strong rule(s) do not match: {}",
                strong.len(),
                strong.join(", ")
            ));
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "?",
    }
}

mod pipeline;
#[cfg(test)]
mod tests;

use pipeline::{pipeline, record_done};
