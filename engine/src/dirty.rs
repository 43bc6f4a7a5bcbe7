//! Dirty records: rows that could not be read or written. Each is counted, checked against the
//! job's error limit and written as one JSON line (values, column names, plugin, task, error),
//! so none is lost or merely counted. The file is created only when the first one arrives. Each
//! line is written whole with one write; when the file cannot be written (full disk, a path that
//! is a directory or a device that refuses), the file is cut back to its last whole line, the
//! count stays at what the file holds, and the sink fails the job: a dirty row that cannot be
//! kept must not turn into a silently dropped row.

use serde::Serialize;
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// Which side of a pipeline a context belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The reader task.
    Reader,
    /// The writer task.
    Writer,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Reader => "reader",
            Side::Writer => "writer",
        })
    }
}

/// Where a dirty record comes from.
pub(crate) struct Origin<'a> {
    pub(crate) task: usize,
    pub(crate) attempt: u32,
    pub(crate) side: Side,
    pub(crate) plugin: &'a str,
}

/// One bad row as a plugin reports it.
#[derive(Debug, Clone, Default)]
pub struct DirtyRecord {
    /// Why the row is dirty.
    pub error: String,
    /// Column names (may be empty when the source has none).
    pub columns: Vec<String>,
    /// The row's values as read (strings, numbers or null).
    pub values: Vec<Value>,
    /// Where the row came from, e.g. `data/a.csv:17`.
    pub location: Option<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    /// The job the record is of (see [`DirtySink::of_job`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<&'a str>,
    task: usize,
    attempt: u32,
    side: Side,
    plugin: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a str>,
    error: &'a str,
    columns: &'a [String],
    values: &'a [Value],
}

/// The first line of the file at `path` when it is a dirty record as [`Line`] writes them.
fn first_record(path: &std::path::Path) -> Option<serde_json::Map<String, Value>> {
    use std::io::{BufRead, Read};
    let f = File::open(path).ok()?;
    let mut first = String::new();
    std::io::BufReader::new(f.take(1 << 20))
        .read_line(&mut first)
        .ok()?;
    serde_json::from_str::<serde_json::Map<String, Value>>(&first)
        .ok()
        .filter(|o| {
            [
                "task", "attempt", "side", "plugin", "error", "columns", "values",
            ]
            .iter()
            .all(|k| o.contains_key(*k))
        })
}

/// The default dirty file of the job named `name` (its job file's stem) that is `job` (its
/// job file's absolute path): `datasync-dirty-<name>.jsonl`, unless that file holds the
/// dirty records of another job file of the same name run from the same directory: then
/// `datasync-dirty-<name>-<8 digits of a hash of job>.jsonl`, so that neither run replaces
/// the other's records. A job that has such a file of its own goes on using it (a resumed run
/// finds its records; a clean run removes them).
pub fn default_path(name: &str, job: &str) -> PathBuf {
    let plain = PathBuf::from(format!("datasync-dirty-{name}.jsonl"));
    let own = PathBuf::from(format!(
        "datasync-dirty-{name}-{}.jsonl",
        crate::runstate::fnv_hex(job).get(..8).unwrap_or_default()
    ));
    let of = |p: &std::path::Path| {
        first_record(p).map(|r| r.get("job").and_then(Value::as_str).map(String::from))
    };
    if of(&own).is_some_and(|j| j.as_deref() == Some(job)) {
        return own;
    }
    // Records without a job are an earlier version's, of no known job: replaced as before.
    if of(&plain).is_none_or(|j| j.is_none_or(|j| j == job)) {
        return plain;
    }
    tracing::info!(
        "{} holds the dirty records of another job file of that name: this job's go to {}",
        plain.display(),
        own.display()
    );
    own
}

/// The error limit was exceeded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("error limit exceeded: {0}")]
pub struct ErrorLimitExceeded(pub String);

/// Errors of the dirty sink: the limit, or the dirty file itself failing.
#[derive(Debug, thiserror::Error)]
pub enum DirtyError {
    /// Too many dirty records.
    #[error(transparent)]
    Limit(#[from] ErrorLimitExceeded),
    /// The dirty file cannot be written: failing is better than losing rows.
    #[error("cannot write the dirty-record file {path}")]
    Io {
        /// The dirty file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The open dirty file and the length of its whole lines.
#[derive(Debug)]
struct Open {
    file: File,
    len: u64,
}

/// The job's dirty-record file, count and record limit.
#[derive(Debug)]
pub struct DirtySink {
    path: PathBuf,
    file: Mutex<Option<Open>>,
    failure: Mutex<Option<String>>,
    count: AtomicU64,
    reader_side: AtomicU64,
    limit: Option<u64>,
    exceeded: Mutex<Option<ErrorLimitExceeded>>,
    cancel: CancellationToken,
    /// The first distinct kinds of error message (see [`message_kind`]): the first message of
    /// each kind, and how many records had a message of that kind.
    samples: Mutex<Vec<(String, String, u64)>>,
    /// The job's identity (see [`DirtySink::of_job`]).
    job: Mutex<Option<String>>,
}

/// A message with its values blanked, so that messages differing only in the value fall into
/// one group: double-quoted parts, single-quoted parts that start after a non-word character
/// (MySQL's `Duplicate entry '1'`, not `column's`), and digit runs (PostgreSQL's `(id)=(100)`).
fn message_kind(m: &str) -> String {
    let mut out = String::with_capacity(m.len());
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for c in m.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => {}
            None if c == '"' || (c == '\'' && !prev.is_alphanumeric()) => {
                quote = Some(c);
                out.push(c);
            }
            None if c.is_ascii_digit() => {
                if !prev.is_ascii_digit() {
                    out.push('#');
                }
            }
            None => out.push(c),
        }
        prev = c;
    }
    out
}

/// How many distinct dirty-record messages the summary shows (the most frequent ones).
const SAMPLES: usize = 3;
/// How many distinct kinds are counted to find the most frequent.
const KINDS: usize = 64;

impl DirtySink {
    /// A sink writing to `path` (created on first use); exceeding `limit` cancels `cancel`.
    pub fn new(path: PathBuf, limit: Option<u64>, cancel: CancellationToken) -> Self {
        DirtySink {
            path,
            file: Mutex::new(None),
            failure: Mutex::new(None),
            count: AtomicU64::new(0),
            reader_side: AtomicU64::new(0),
            limit,
            exceeded: Mutex::new(None),
            cancel,
            samples: Mutex::new(Vec::new()),
            job: Mutex::new(None),
        }
    }

    /// Tags every record with the job it is of (its identity hash), so that a run removes
    /// only its own job's earlier dirty file.
    pub fn of_job(self, job: String) -> Self {
        if let Ok(mut j) = self.job.lock() {
            *j = Some(job);
        }
        self
    }

    /// The most frequent kinds of error message of the dirty records (at most three): the
    /// first message of each kind, and how many records had a message of that kind (the same
    /// message but for the value: `"x" is not an integer` and `"y" is not an integer`).
    pub fn samples(&self) -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> = self
            .samples
            .lock()
            .map(|s| s.iter().map(|(_, m, n)| (m.clone(), *n)).collect())
            .unwrap_or_default();
        // The most frequent first; ties in order of first appearance.
        all.sort_by_key(|s| std::cmp::Reverse(s.1));
        all.truncate(SAMPLES);
        all
    }

    fn sample(&self, error: &str) {
        let kind = message_kind(error);
        if let Ok(mut s) = self.samples.lock() {
            if let Some((_, _, n)) = s.iter_mut().find(|(k, _, _)| *k == kind) {
                *n += 1;
            } else if s.len() < KINDS {
                s.push((kind, error.to_string(), 1));
            }
        }
    }

    /// The dirty file's path.
    pub fn path(&self) -> &PathBuf {
        &self.path
    }

    /// Dirty records so far (of attempts that count).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Dirty records found by readers (rows that never reached the channel).
    pub fn reader_side(&self) -> u64 {
        self.reader_side.load(Ordering::Relaxed)
    }

    pub(crate) fn add_reader_side(&self) {
        self.reader_side.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the dirty file was created.
    pub fn written(&self) -> bool {
        self.file.lock().map(|f| f.is_some()).unwrap_or(false)
    }

    /// At the end of a run that found no dirty record: removes the dirty file an earlier run
    /// left at this path, so that the file there is always the last run's (a run that finds
    /// some replaces it). Only a regular file whose first line is a dirty record: any other
    /// file at the path (`--dirty-file` naming something else by mistake) stays.
    pub fn remove_stale(&self) {
        let regular = std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.is_file());
        let Some(first) = first_record(&self.path).filter(|_| !self.written() && regular) else {
            return;
        };
        // Only this job's: another job writing the same default name (a job file of the same
        // name run in the same directory) keeps its records.
        let job = self.job.lock().ok().and_then(|j| j.clone());
        if job.is_none() || first.get("job").and_then(Value::as_str) != job.as_deref() {
            tracing::info!(
                "kept {}: it holds another job's dirty records (or an earlier version's of \
                 this job)",
                self.path.display()
            );
            return;
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => tracing::info!(
                "removed {}: it held an earlier run's dirty records, and this run has none",
                self.path.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                "cannot remove {} (an earlier run's dirty records; this run has none): {e}",
                self.path.display()
            ),
        }
    }

    /// Why the dirty file could not be written, if it could not: the job must fail.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }

    /// The limit breach, if any.
    pub fn exceeded(&self) -> Option<ErrorLimitExceeded> {
        self.exceeded.lock().ok().and_then(|e| e.clone())
    }

    /// `--resume`: keeps only the dirty records of the finished `tasks` of the resumed run
    /// in the dirty file (the others' tasks run again and find theirs again), appends after
    /// them, and counts them. Returns how many were kept.
    pub fn resume(&self, tasks: &std::collections::BTreeSet<usize>) -> Result<u64, DirtyError> {
        use std::io::Read;
        let mut text = String::new();
        match File::open(&self.path) {
            Ok(mut f) => {
                f.read_to_string(&mut text).map_err(|e| self.fail(e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(self.fail(e)),
        }
        let mut kept = String::with_capacity(text.len());
        let mut n = 0;
        for line in text.lines() {
            let task = serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("task").and_then(|t| t.as_u64()));
            if task.is_some_and(|t| tasks.contains(&(t as usize))) {
                kept.push_str(line);
                kept.push('\n');
                n += 1;
            }
        }
        let tmp = self.path.with_extension("jsonl.tmp");
        std::fs::write(&tmp, &kept).map_err(|e| self.fail(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.fail(e))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| self.fail(e))?;
        self.own(&file).map_err(|e| self.fail(e))?;
        if let Ok(mut guard) = self.file.lock() {
            *guard = Some(Open {
                file,
                len: kept.len() as u64,
            });
        }
        self.count.store(n, Ordering::Relaxed);
        Ok(n)
    }

    /// `--resume`: counts `n` dirty records of finished tasks that are not in this file (the
    /// earlier run wrote them elsewhere): the report and the error limit take them.
    pub fn count_elsewhere(&self, n: u64) {
        self.count.fetch_add(n, Ordering::Relaxed);
    }

    /// Forgets `n` records of a failed attempt that is being retried (their lines stay in the
    /// file, marked with their attempt number).
    pub fn forget(&self, n: u64) {
        self.count.fetch_sub(n.min(self.count()), Ordering::Relaxed);
    }

    /// Marks the limit as exceeded and cancels the job.
    pub fn trip(&self, why: String) -> ErrorLimitExceeded {
        let e = ErrorLimitExceeded(why);
        if let Ok(mut slot) = self.exceeded.lock() {
            slot.get_or_insert_with(|| e.clone());
        }
        self.cancel.cancel();
        e
    }

    pub(crate) fn record(&self, ctx: Origin<'_>, rec: DirtyRecord) -> Result<(), DirtyError> {
        // The values are data, kept as they are; the message is ours or a server's, and may
        // quote a secret (see `secrets`).
        let error = crate::secrets::redact(&rec.error);
        let job = self.job.lock().ok().and_then(|j| j.clone());
        let line = Line {
            job: job.as_deref(),
            task: ctx.task,
            attempt: ctx.attempt,
            side: ctx.side,
            plugin: ctx.plugin,
            location: rec.location.as_deref(),
            error: &error,
            columns: &rec.columns,
            values: &rec.values,
        };
        let mut buf = serde_json::to_vec(&line).map_err(|e| self.fail(e.into()))?;
        buf.push(b'\n');
        {
            let mut guard = self
                .file
                .lock()
                .map_err(|_| self.fail(std::io::Error::other("dirty sink lock poisoned")))?;
            if let Some(msg) = self.failure() {
                return Err(DirtyError::Io {
                    path: self.path.clone(),
                    source: std::io::Error::other(msg),
                });
            }
            if guard.is_none() {
                *guard = Some(self.create().map_err(|e| self.fail(e))?);
            }
            if let Some(open) = guard.as_mut() {
                if let Err(e) = open.file.write_all(&buf) {
                    // Keep the file at its last whole line: a torn line helps nobody.
                    let _ = open.file.set_len(open.len);
                    return Err(self.fail(e));
                }
                open.len += buf.len() as u64;
            }
        }
        self.sample(&rec.error);
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        match self.limit {
            Some(limit) if n > limit => Err(self
                .trip(format!(
                    "stopped at dirty record {n}, more than errorLimit.record = {limit} allows \
                     (the final count adds what tasks still running found)"
                ))
                .into()),
            _ => Ok(()),
        }
    }

    fn create(&self) -> std::io::Result<Open> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(std::io::Error::other(
                "it is a symbolic link: the records are not written through it (name the file \
                 it points to)",
            ));
        }
        // Emptied only once it is ours alone: another run writing it now keeps its records.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)?;
        if file.metadata()?.is_file() {
            self.own(&file)?;
            file.set_len(0)?;
        }
        Ok(Open { file, len: 0 })
    }

    /// Locks the dirty file for this run: another run writing it now is an error, not
    /// interleaved records. (A device such as /dev/null is not locked: runs share it.)
    fn own(&self, file: &File) -> std::io::Result<()> {
        if !file.metadata()?.is_file() {
            return Ok(());
        }
        match file.try_lock() {
            Ok(()) => Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => Err(std::io::Error::other(
                "another datasync run is writing its dirty records there now (a run of the same \
                 job, or of another job file of the same name, from this directory): give one \
                 of them --dirty-file",
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Records that the dirty file cannot be written and stops the job.
    fn fail(&self, source: std::io::Error) -> DirtyError {
        let msg = format!(
            "cannot write the dirty-record file {}: {source}",
            self.path.display()
        );
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(msg);
        }
        self.cancel.cancel();
        DirtyError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Makes the file durable (fsync). A failure fails the job like a failed write.
    pub fn flush(&self) -> Result<(), DirtyError> {
        let res = match self.file.lock() {
            Ok(mut g) => match g.as_mut() {
                // A device or pipe (`--dirty-file /dev/null`) has nothing to sync.
                Some(open) if open.file.metadata().is_ok_and(|m| m.is_file()) => {
                    open.file.sync_all()
                }
                _ => Ok(()),
            },
            Err(_) => Err(std::io::Error::other("dirty sink lock poisoned")),
        };
        res.map_err(|e| self.fail(e))
    }
}

#[cfg(test)]
mod kind_tests {
    #[test]
    fn message_kinds_blank_values_but_not_words() {
        let k = super::message_kind;
        assert_eq!(
            k("Duplicate entry '1' for key 'PRIMARY'"),
            k("Duplicate entry '22' for key 'PRIMARY'")
        );
        assert_eq!(
            k("Key (id)=(100) already exists"),
            k("Key (id)=(7) already exists")
        );
        assert_eq!(
            k("column \"a\": \"x\" is not an integer"),
            k("column \"a\": \"y\" is not an integer")
        );
        assert_eq!(k("the column's scale 2"), "the column's scale #");
    }
}

#[cfg(test)]
mod file_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sink(path: &std::path::Path) -> DirtySink {
        DirtySink::new(path.to_path_buf(), None, CancellationToken::new()).of_job("j".into())
    }

    fn bad(s: &DirtySink) -> Result<(), DirtyError> {
        let at = Origin {
            task: 0,
            attempt: 1,
            side: Side::Writer,
            plugin: "t",
        };
        s.record(
            at,
            DirtyRecord {
                error: "bad".into(),
                ..Default::default()
            },
        )
    }

    #[test]
    fn a_dirty_file_another_run_writes_now_is_an_error_and_keeps_its_records() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("dirty.jsonl");
        let first = sink(&p);
        bad(&first).unwrap();
        first.flush().unwrap();
        let second = sink(&p);
        let e = crate::plugin::error_chain(&bad(&second).unwrap_err());
        assert!(e.contains("another datasync run is writing"), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 1);
        // Once the first is done (its file closed), a later run replaces the records.
        drop(first);
        let third = sink(&p);
        bad(&third).unwrap();
        bad(&third).unwrap();
        third.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 2);
    }

    #[test]
    fn a_symbolic_link_is_not_written_through() {
        let d = tempfile::tempdir().unwrap();
        let precious = d.path().join("precious.txt");
        std::fs::write(&precious, "keep").unwrap();
        let p = d.path().join("dirty.jsonl");
        std::os::unix::fs::symlink(&precious, &p).unwrap();
        let e = crate::plugin::error_chain(&bad(&sink(&p)).unwrap_err());
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep");
    }
}
