//! The run state of a resumable run: which tasks finished, with their figures, kept next to
//! the writer's staged output (see [`crate::plugin::Resume`]) and replaced atomically after
//! each task, so `run --resume --run-id ID` skips exactly the tasks whose output is complete.

use crate::job::JobSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// One finished task as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDone {
    /// What the task read (its `describe()`): a task is only skipped when this matches.
    pub source: String,
    /// Records read.
    pub records_read: u64,
    /// Records written (staged).
    pub records_written: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Dirty records.
    pub dirty: u64,
    /// The writer's fingerprint of the task's staged output when it finished.
    pub output: Option<String>,
    /// The reader's fingerprint of the task's input when it was planned.
    pub input: Option<String>,
    /// `job.verify`: the task's reader-side figures ([`crate::verify::Figures`]), so a
    /// resumed run compares the whole run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub figures: Option<serde_json::Value>,
}

/// The state file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// The run.
    pub run_id: String,
    /// Hash of the job (plugins, their parameters, channel count): a changed job is not
    /// resumed.
    pub job_hash: String,
    /// Finished tasks by task number.
    pub tasks: BTreeMap<usize, TaskDone>,
}

static RESUMING: AtomicBool = AtomicBool::new(false);

/// Marks this process as resuming an earlier run (`run --resume`): writers then take over the
/// staged output of [`crate::run_id`] instead of starting it afresh.
pub fn set_resuming() {
    RESUMING.store(true, Ordering::Relaxed);
}

/// Whether this process resumes an earlier run.
pub fn resuming() -> bool {
    RESUMING.load(Ordering::Relaxed)
}

/// A stable hash (FNV-1a, 64 bit, hex) of what decides a job's tasks and output.
pub fn job_hash(spec: &JobSpec, channels: usize) -> String {
    fnv_hex(&identity(spec, [("channels", channels.into())]))
}

/// What of `spec` decides its tasks, output and figures, as JSON text: both plugins and their
/// parameters as loaded (placeholders filled in), then `plan` (how it is cut into tasks), then
/// the verify rules (the finished tasks' figures were taken for them; absent, the text of a
/// job without verify stays what it was).
pub(crate) fn identity<const N: usize>(
    spec: &JobSpec,
    plan: [(&str, serde_json::Value); N],
) -> String {
    let mut v = serde_json::json!({
        "reader": [&spec.reader.name, &spec.reader.parameter],
        "writer": [&spec.writer.name, &spec.writer.parameter],
    });
    for (key, value) in plan {
        v[key] = value;
    }
    if let Some(verify) = &spec.verify {
        v["verify"] = serde_json::to_value(verify).unwrap_or_default();
    }
    v.to_string()
}

/// FNV-1a (64 bit) of `text`, 16 hex digits: stable across processes and builds.
pub fn fnv_hex(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// This machine's host name (empty when it cannot be read).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Errors of the run state file.
#[derive(Debug, thiserror::Error)]
pub enum RunStateError {
    /// Reading or writing failed.
    #[error("run state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a run state.
    #[error("run state file {path} cannot be read: {msg}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
}

/// Reads the state at `path`; `None` when there is none.
pub fn load(path: &Path) -> Result<Option<RunState>, RunStateError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| RunStateError::Format {
                path: path.to_path_buf(),
                msg: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RunStateError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Replaces the state at `path` atomically and durably (temporary file, fsync, rename, fsync
/// of the directory): a crash leaves the old state or the new one, never a torn one.
pub fn save(path: &Path, state: &RunState) -> Result<(), RunStateError> {
    use std::io::Write;
    let err = |source| RunStateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(state).map_err(|e| err(e.into()))?;
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(&text).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The state a run starts from: with `--resume` and a writer that keeps state at `path`, the
/// recorded state (refused when the job changed), else none.
pub fn prior(
    resume: bool,
    path: Option<&Path>,
    hash: &str,
    run_id: &str,
    writer: &str,
) -> Result<Option<RunState>, String> {
    match (resume, path) {
        (true, Some(p)) => match load(p) {
            Ok(Some(st)) if st.job_hash != hash => Err(format!(
                "--resume: the job is not the one run {} ran (its plugins, parameters or channel \
                 count changed); run it without --resume",
                st.run_id
            )),
            Ok(Some(st)) => Ok(Some(st)),
            Ok(None) => {
                tracing::info!(
                    "--resume: no run state at {}: no task of run {run_id} had finished; every task runs",
                    p.display()
                );
                Ok(None)
            }
            Err(e) => Err(format!("--resume: {e}")),
        },
        (true, None) => {
            tracing::info!(
                "--resume: the {writer} writer's output is idempotent: every task runs again"
            );
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// The tasks of `prior` that need not run again: same task number, source and input
/// (`sources[i]` is task i's source and input fingerprint now), and staged output that still
/// matches what was recorded (`now(i)`).
pub fn finished(
    prior: Option<&RunState>,
    sources: &[(String, Option<String>)],
    now: impl Fn(usize) -> Option<String>,
) -> BTreeMap<usize, TaskDone> {
    let Some(st) = prior else {
        return BTreeMap::new();
    };
    st.tasks
        .iter()
        .filter(|(i, d)| {
            let Some((source, input)) = sources.get(**i) else {
                return false;
            };
            if *source != d.source {
                return false;
            }
            if d.input.is_some() && d.input != *input {
                tracing::warn!(
                    "--resume: the input of task {i} ({source}) changed since it finished; it \
                     runs again"
                );
                return false;
            }
            let found = now(**i);
            let intact = d.output.is_none() || d.output == found;
            if !intact {
                tracing::warn!(
                    "--resume: the staged output of task {i} changed since it finished \
                     (recorded {}, found {}); it runs again",
                    d.output.as_deref().unwrap_or("-"),
                    found.as_deref().unwrap_or("nothing")
                );
            }
            intact
        })
        .map(|(i, d)| (*i, d.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn save_then_load_is_the_same_and_a_missing_file_is_none() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("_run_state.json");
        assert_eq!(load(&p).unwrap(), None);
        let mut s = RunState {
            run_id: "r1".into(),
            job_hash: "abc".into(),
            ..Default::default()
        };
        s.tasks.insert(
            3,
            TaskDone {
                source: "file a.csv".into(),
                records_read: 7,
                ..Default::default()
            },
        );
        save(&p, &s).unwrap();
        assert_eq!(load(&p).unwrap(), Some(s));
        std::fs::write(&p, "{").unwrap();
        assert!(load(&p).unwrap_err().to_string().contains("cannot be read"));
    }
}
