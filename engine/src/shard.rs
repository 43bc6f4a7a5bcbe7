//! Container-task mode: a job planned once (`datasync plan`), its tasks run as N shards in
//! separate processes or containers (`datasync run --plan DIR --shard I/N`), and its output
//! published once (`datasync commit DIR`) or removed (`datasync abort DIR`).
//!
//! The plan directory holds `plan.json` (the run id, the plan hash and every task's split),
//! `shards/I.json` (written atomically by shard I when it has staged all its tasks),
//! per-shard dirty files under `dirty/`, and the write-once markers `_COMMITTED` and
//! `_ABORTED`.

use crate::job::JobSpec;
use crate::plugin::PluginError;
use crate::runner::BuiltJob;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The plan file in a plan directory.
pub const PLAN_FILE: &str = "plan.json";
/// The directory of shard reports in a plan directory.
pub const SHARDS_DIR: &str = "shards";
/// Written once when the run's output was published.
pub const COMMITTED: &str = "_COMMITTED";
/// Written when the run was aborted.
pub const ABORTED: &str = "_ABORTED";
/// Written before the writer's commit starts (a commit killed after publishing finds its
/// staging gone and this marker).
pub const COMMITTING: &str = "_COMMITTING";

/// Plan format version.
pub const PLAN_VERSION: u32 = 1;

static PLANNED: AtomicBool = AtomicBool::new(false);
static ATTEMPT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names this shard attempt (a shard process): staged file names carry it, so two attempts
/// of one shard never write the same file, and `commit` publishes only what the reports
/// list. Letters, digits and `-` are kept, anything else becomes `-`, at most 40 characters;
/// a name that had to change gets a short hash of the original, so that two names that
/// differ only there (`a/b`, `a.b`) stay apart.
pub fn set_attempt(name: &str) {
    let mut tag: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    if tag != name || tag.is_empty() {
        let h = crate::runstate::fnv_hex(name);
        tag = format!("{tag}-{}", &h[..6]);
    }
    let _ = ATTEMPT.set(tag);
}

/// This shard attempt's name for staged files (see [`set_attempt`]); `None` outside a shard.
pub fn attempt() -> Option<&'static str> {
    ATTEMPT.get().map(String::as_str)
}

/// Marks this process as part of a planned run (plan, shard, commit or abort): writers'
/// staging then belongs to the run (see [`planned_owner`]), not to this process.
pub fn set_planned() {
    PLANNED.store(true, Ordering::Relaxed);
}

/// Whether this process is part of a planned run.
pub fn planned() -> bool {
    PLANNED.load(Ordering::Relaxed)
}

/// The owner text of a planned run's staging: `planned <run id>`. No other run removes it;
/// `datasync commit` publishes it, `datasync abort` removes it.
pub fn planned_owner() -> String {
    format!("planned {}", crate::run_id())
}

/// Now, RFC 3339 (plan and marker times).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// Whether owner text `owner` names a planned run, and which.
pub fn planned_run_of(owner: &str) -> Option<&str> {
    owner.trim().strip_prefix("planned ").map(str::trim)
}

/// The whole plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    /// [`PLAN_VERSION`].
    pub version: u32,
    /// Names all staging of the run.
    pub run_id: String,
    /// Hash of the job as loaded (parameters filled in) and the shard count.
    pub plan_hash: String,
    /// Number of shards.
    pub shards: usize,
    /// The job file (absolute).
    pub job: PathBuf,
    /// The `-p` values the plan was made with, except those whose names say they are secret
    /// (give them to `commit` again, or through `DATASYNC_PARAM_<name>`).
    pub params: Vec<String>,
    /// Job name.
    pub job_name: String,
    /// Reader and writer as shown.
    pub reader: String,
    /// Writer as shown.
    pub writer: String,
    /// When the plan was made (RFC 3339).
    pub created: String,
    /// Every task, in task order.
    pub tasks: Vec<PlannedTask>,
    /// An incremental job's high-water marks per source: recorded as its watermarks once
    /// `commit` published the run.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub watermark: std::collections::BTreeMap<String, Option<String>>,
}

/// One task of a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlannedTask {
    /// Task number (names its staged output).
    pub id: usize,
    /// The shard that runs it.
    pub shard: usize,
    /// What it reads, for people.
    pub source: String,
    /// The reader's value for [`crate::Reader::task_from_plan`].
    pub split: serde_json::Value,
    /// The input's fingerprint when planned (a file's size and modification time, see
    /// [`crate::ReaderTask::input_fingerprint`]): a shard refuses an input that changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

/// What shard `shard` reports when it has staged all its tasks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardReport {
    /// The run.
    pub run_id: String,
    /// The plan's hash.
    pub plan_hash: String,
    /// This shard.
    pub shard: usize,
    /// Of how many.
    pub shards: usize,
    /// The attempt that wrote it.
    pub attempt: String,
    /// Host that ran it.
    pub host: String,
    /// Start and end (RFC 3339).
    pub start: String,
    /// End.
    pub end: String,
    /// Figures of this shard.
    pub records_read: u64,
    /// Records written (staged).
    pub records_written: u64,
    /// Payload bytes read.
    pub bytes_read: u64,
    /// Payload bytes written.
    pub bytes_written: u64,
    /// Dirty records.
    pub dirty_records: u64,
    /// Its dirty file, when it wrote any.
    pub dirty_file: Option<String>,
    /// Task retries.
    pub retries: u32,
    /// Each task's staged output (`path:size` list), as the writer sees it: `commit` checks
    /// the staging still holds exactly this.
    pub tasks: Vec<ShardTask>,
}

/// One task of a shard report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardTask {
    /// Task number.
    pub id: usize,
    /// Records read.
    pub records_read: u64,
    /// Records written.
    pub records_written: u64,
    /// Staged output, when the writer can tell.
    pub staged: Option<String>,
    /// `job.verify`: the reader side's figures of this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures: Option<crate::verify::Figures>,
}

/// Errors of container-task mode, each with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// The command line, the plan or the job does not fit (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Something failed that a retry will not fix (exit 42 in a shard).
    #[error("{0}")]
    Permanent(String),
    /// Something failed that a retry may fix (exit 75 in a shard, 1 elsewhere).
    #[error("{0}")]
    Transient(String),
}

/// The hash a plan is made for: both plugins and their parameters as loaded (placeholders
/// filled in), the shard count and every task. Secret values are masked first (see
/// [`crate::secrets`]): a rotated password does not invalidate a plan, and the hash tells
/// nothing of it.
pub fn plan_hash(spec: &JobSpec, shards: usize, tasks: &[PlannedTask]) -> String {
    let tasks = serde_json::to_value(tasks).unwrap_or_default();
    let text = crate::runstate::identity(spec, [("shards", shards.into()), ("tasks", tasks)]);
    crate::runstate::fnv_hex(&crate::secrets::redact(&text))
}

/// The shard of task `id` of `tasks`: contiguous blocks, so neighbouring key ranges stay
/// together, sizes differing by at most one.
pub fn shard_of(id: usize, tasks: usize, shards: usize) -> usize {
    if tasks == 0 {
        return 0;
    }
    id * shards / tasks
}

/// `bytes` written and synced to a temporary file beside `path`: (its directory, the file).
fn synced_temp<'a>(path: &'a Path, bytes: &[u8]) -> std::io::Result<(&'a Path, PathBuf)> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok((dir, tmp))
}

/// Writes `bytes` to `path` so that readers see the old content or the new, never a part:
/// a temporary file in the same directory, synced, renamed over, the directory synced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (dir, tmp) = synced_temp(path, bytes)?;
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `bytes` to `path` only if nothing is there yet (write-once markers). `Ok(false)`:
/// it was there already.
pub fn write_once(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    let (dir, tmp) = synced_temp(path, bytes)?;
    // A hard link fails when the target exists: the marker is written whole, once.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads `DIR/plan.json`.
pub fn load_plan(dir: &Path) -> Result<Plan, ShardError> {
    let path = dir.join(PLAN_FILE);
    let bytes = std::fs::read(&path).map_err(|e| {
        ShardError::Usage(format!(
            "cannot read the plan {}: {e} (make it with `datasync plan JOB --shards N --out {}`)",
            path.display(),
            dir.display()
        ))
    })?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| {
        ShardError::Usage(format!("{} is not a datasync plan: {e}", path.display()))
    })?;
    if plan.version != PLAN_VERSION {
        return Err(ShardError::Usage(format!(
            "{}: plan version {} (this datasync reads version {PLAN_VERSION})",
            path.display(),
            plan.version
        )));
    }
    Ok(plan)
}

/// Path of shard `i`'s report.
pub fn report_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(SHARDS_DIR).join(format!("{i}.json"))
}

/// Shard `i`'s report, when it has written one.
pub fn load_report(dir: &Path, i: usize) -> Result<Option<ShardReport>, ShardError> {
    let path = report_path(dir, i);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            ShardError::Permanent(format!(
                "{} is not a shard report ({e}): remove it and run shard {i} again",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ShardError::Transient(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Which shard this process runs: `--shard I/N` when given, else from the environment:
/// `DATASYNC_SHARD_INDEX`/`DATASYNC_SHARD_COUNT`, Kubernetes' `JOB_COMPLETION_INDEX`
/// (count from `DATASYNC_SHARD_COUNT` or the plan), Slurm's array
/// (`SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`). `None`: no
/// count from anywhere (the plan's is used).
pub fn shard_index(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(usize, Option<usize>), String> {
    let num = |what: &str, v: &str| -> Result<usize, String> {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("{what} = \"{v}\": expected a whole number >= 0"))
    };
    let count_of = |what: &str, v: &str| -> Result<usize, String> {
        match num(what, v)? {
            0 => Err(format!(
                "{what} = \"{v}\": expected a shard count of at least 1"
            )),
            n => Ok(n),
        }
    };
    if let Some(f) = flag {
        let (i, n) = f
            .split_once('/')
            .ok_or_else(|| format!("--shard \"{f}\": expected I/N, e.g. 0/4"))?;
        return Ok((
            num("--shard index", i)?,
            Some(count_of("--shard count", n)?),
        ));
    }
    let count = env("DATASYNC_SHARD_COUNT")
        .map(|v| count_of("DATASYNC_SHARD_COUNT", &v))
        .transpose()?;
    if let Some(i) = env("DATASYNC_SHARD_INDEX") {
        return Ok((num("DATASYNC_SHARD_INDEX", &i)?, count));
    }
    if let Some(i) = env("JOB_COMPLETION_INDEX") {
        return Ok((num("JOB_COMPLETION_INDEX", &i)?, count));
    }
    if let Some(id) = env("SLURM_ARRAY_TASK_ID") {
        let id = num("SLURM_ARRAY_TASK_ID", &id)?;
        let min = env("SLURM_ARRAY_TASK_MIN")
            .map(|v| num("SLURM_ARRAY_TASK_MIN", &v))
            .transpose()?
            .unwrap_or(0);
        let n = env("SLURM_ARRAY_TASK_COUNT")
            .map(|v| count_of("SLURM_ARRAY_TASK_COUNT", &v))
            .transpose()?;
        let i = id.checked_sub(min).ok_or_else(|| {
            format!("SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}")
        })?;
        return Ok((i, count.or(n)));
    }
    Err(
        "no shard given: use --shard I/N, or set DATASYNC_SHARD_INDEX (Kubernetes: \
         JOB_COMPLETION_INDEX; Slurm: an array job's SLURM_ARRAY_TASK_ID)"
            .into(),
    )
}

/// This attempt's name: `--attempt`, else the scheduler's (Slurm's `SLURM_RESTART_COUNT`,
/// YARN's `CONTAINER_ID`, a pod's `HOSTNAME` under Kubernetes, Spark's
/// `DATASYNC_SPARK_ATTEMPT` set by the launcher), else host and process id.
pub fn attempt_name(flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> String {
    if let Some(a) = flag {
        return a.to_string();
    }
    for (var, label) in [
        ("SLURM_RESTART_COUNT", "slurm-restart-"),
        ("CONTAINER_ID", ""),
        ("DATASYNC_SPARK_ATTEMPT", "spark-attempt-"),
    ] {
        if let Some(v) = env(var).filter(|v| !v.trim().is_empty()) {
            return format!("{label}{}", v.trim());
        }
    }
    if env("KUBERNETES_SERVICE_HOST").is_some() {
        if let Some(h) = env("HOSTNAME") {
            return format!("pod-{h}");
        }
    }
    format!("{}-{}", crate::runstate::hostname(), std::process::id())
}

/// The tasks of shard `shard` as the runner takes them: (task number, split).
#[derive(Debug, Clone)]
pub struct ShardTasks {
    /// This shard's tasks.
    pub tasks: Vec<(usize, serde_json::Value)>,
    /// Tasks in the whole plan (the writer is split into as many, so staged names are the
    /// plan's task numbers).
    pub total: usize,
}

impl BuiltJob {
    /// `datasync plan`: checks both sides can be sharded, splits the source into tasks for
    /// `shards` shards of `channels` pipelines each, runs the writer's prepare (preSql,
    /// staging, createTable) and returns the tasks with their splits.
    pub async fn plan_tasks(
        &self,
        shards: usize,
        channels: usize,
    ) -> Result<Vec<PlannedTask>, ShardError> {
        if let Some(why) = &self.missing {
            return Err(ShardError::Permanent(why.clone()));
        }
        self.writer.plannable().map_err(|why| {
            ShardError::Usage(format!(
                "the {} writer cannot run as shards: {why}",
                self.writer_name
            ))
        })?;
        let tasks = self
            .reader
            .split(shards.saturating_mul(channels).max(1))
            .await
            .map_err(|e| {
                ShardError::Transient(format!("reader {} split: {}", self.reader_name, e.chain()))
            })?;
        let mut planned = Vec::with_capacity(tasks.len());
        let n = tasks.len();
        for (id, t) in tasks.iter().enumerate() {
            let split = t.planned().ok_or_else(|| {
                ShardError::Usage(format!(
                    "the {} reader cannot run as shards: its tasks cannot be written into a plan",
                    self.reader_name
                ))
            })?;
            planned.push(PlannedTask {
                id,
                shard: shard_of(id, n, shards),
                source: t.describe(),
                split,
                input: t.input_fingerprint(),
            });
        }
        let described: Vec<String> = planned.iter().map(|t| t.source.clone()).collect();
        self.writer.accepts_tasks(&described).map_err(|e| {
            ShardError::Usage(format!("writer {}: {}", self.writer_name, e.chain()))
        })?;
        self.writer.prepare().await.map_err(|e| {
            ShardError::Transient(format!(
                "writer {} prepare: {}",
                self.writer_name,
                e.chain()
            ))
        })?;
        Ok(planned)
    }

    /// A shard's check before it runs: each of its tasks rebuilt from the plan reads the
    /// same input as planned (a file that changed since is refused, permanently).
    pub fn check_inputs(&self, tasks: &[PlannedTask]) -> Result<(), ShardError> {
        for t in tasks {
            let task = self
                .reader
                .task_from_plan(&t.split)
                .map_err(|e| ShardError::Permanent(format!("plan task {}: {}", t.id, e.chain())))?;
            let Some(was) = &t.input else { continue };
            let now = task.input_fingerprint();
            if now.as_deref() != Some(was.as_str()) {
                return Err(ShardError::Permanent(format!(
                    "task {} ({}): its input changed since the plan was made (planned {was}, now \
                     {}): the shards would not read what was planned; make a new plan",
                    t.id,
                    t.source,
                    now.unwrap_or_else(|| "gone".into())
                )));
            }
        }
        Ok(())
    }

    /// Whether the writer holds a decided commit of the planned run (see
    /// [`crate::Writer::commit_decided`]).
    pub fn commit_decided(&self) -> bool {
        self.writer.commit_decided()
    }

    /// Takes up the planned run's staging (shards, `commit`): `Ok(false)` when it is not
    /// there (the run was committed or aborted).
    pub async fn join_planned(&self) -> Result<bool, PluginError> {
        self.writer.join_planned().await
    }

    /// Hands the writer what the shards reported staged (see
    /// [`crate::Writer::adopt_staged`]).
    pub async fn adopt_staged(
        &self,
        staged: &[crate::plugin::StagedTask],
        verify: bool,
    ) -> Result<(), PluginError> {
        self.writer.adopt_staged(staged, verify).await
    }

    /// The writer's one commit of a planned run.
    pub async fn commit_planned(&self) -> Result<(), PluginError> {
        self.writer.commit().await
    }

    /// Removes the planned run's staging.
    pub async fn abort_planned(&self) -> Result<(), PluginError> {
        self.writer.abort().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn shards_are_contiguous_and_balanced() {
        let of: Vec<usize> = (0..10).map(|i| shard_of(i, 10, 4)).collect();
        assert_eq!(of, vec![0, 0, 0, 1, 1, 2, 2, 2, 3, 3]);
        // Fewer tasks than shards: some shards get none, none gets two.
        let of: Vec<usize> = (0..2).map(|i| shard_of(i, 2, 4)).collect();
        assert_eq!(of, vec![0, 2]);
    }

    #[test]
    fn shard_index_from_flag_and_schedulers() {
        let none = env_of(&[]);
        assert_eq!(shard_index(Some("2/4"), &none).unwrap(), (2, Some(4)));
        assert!(shard_index(Some("2"), &none).is_err());
        assert!(shard_index(Some("x/4"), &none).is_err());
        assert!(shard_index(None, &none).is_err());
        let k8s = env_of(&[("JOB_COMPLETION_INDEX", "3")]);
        assert_eq!(shard_index(None, &k8s).unwrap(), (3, None));
        let slurm = env_of(&[
            ("SLURM_ARRAY_TASK_ID", "12"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(shard_index(None, &slurm).unwrap(), (2, Some(4)));
        let ours = env_of(&[
            ("DATASYNC_SHARD_INDEX", "1"),
            ("DATASYNC_SHARD_COUNT", "3"),
            ("JOB_COMPLETION_INDEX", "0"),
        ]);
        assert_eq!(shard_index(None, &ours).unwrap(), (1, Some(3)));
    }

    #[test]
    fn attempt_from_schedulers() {
        assert_eq!(attempt_name(Some("7"), &env_of(&[])), "7");
        let slurm = env_of(&[("SLURM_RESTART_COUNT", "2")]);
        assert_eq!(attempt_name(None, &slurm), "slurm-restart-2");
        let pod = env_of(&[
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
            ("HOSTNAME", "sync-3-x"),
        ]);
        assert_eq!(attempt_name(None, &pod), "pod-sync-3-x");
    }

    #[test]
    fn the_plan_hash_covers_tasks_and_parameters_but_not_secrets() {
        let spec = |pw: &str, table: &str| {
            let text = format!(
                r#"{{"job": {{"content": [{{"reader": {{"name": "mysqlreader", "parameter":
                   {{"password": "{pw}", "table": "{table}"}}}}, "writer": {{"name": "streamwriter",
                   "parameter": {{}}}}}}]}}}}"#
            );
            crate::job::parse_job(&text, "j", "j.json", &Default::default()).unwrap()
        };
        crate::secrets::register("rotated-Secret-1");
        crate::secrets::register("rotated-Secret-2");
        let task = |id| PlannedTask {
            id,
            shard: 0,
            source: "t".into(),
            split: serde_json::json!({"range": [1, 2]}),
            input: None,
        };
        let h = plan_hash(&spec("rotated-Secret-1", "t"), 2, &[task(0)]);
        assert_eq!(h, plan_hash(&spec("rotated-Secret-2", "t"), 2, &[task(0)]));
        assert_ne!(h, plan_hash(&spec("rotated-Secret-1", "u"), 2, &[task(0)]));
        assert_ne!(h, plan_hash(&spec("rotated-Secret-1", "t"), 3, &[task(0)]));
        assert_ne!(
            h,
            plan_hash(&spec("rotated-Secret-1", "t"), 2, &[task(0), task(1)])
        );
    }

    #[test]
    fn write_once_writes_once() {
        let dir = std::env::temp_dir().join(format!("ds-once-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(COMMITTED);
        assert!(write_once(&p, b"first").unwrap());
        assert!(!write_once(&p, b"second").unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"first");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
