//! Crash-safe publication of staged local files, shared by the file and Parquet writers.
//!
//! A commit first writes a journal (`_commit.json`, atomically: temp file, fsync, rename, fsync
//! of the directory) into the run's staging directory, naming every move (staged file -> final
//! path), every marker to remove before and to write after, and every old file truncate
//! replaces. From then on the commit only rolls forward: when the process dies half-way, the
//! next run of the same target (or `datasync recover`) finds the journal and finishes it, so
//! the target never stays a mix of old and new files. A staging directory without a journal
//! whose process is gone is an aborted run and is removed. `_SUCCESS` markers are removed
//! before the first file moves and written after the last, so a directory that has one is never
//! a mix.

use crate::owner::{hostname, owner, owner_state, Owner};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// File in a staging directory naming the process that owns it (`host pid`).
pub(crate) const OWNER_FILE: &str = "_owner";
/// File in a staging directory recording the run's finished tasks (for `--resume`).
pub(crate) const RUN_STATE_FILE: &str = "_run_state.json";

/// File in a staging directory holding the decided commit.
pub(crate) const JOURNAL_FILE: &str = "_commit.json";
/// File in a staging directory naming the output prefix (`fileName`) it stages for: the
/// names of two prefixes' staging directories can meet (`.datasync-staging-o-x-1` is `o`'s
/// with run id `x-1` and `o-x`'s with run id `1`), and one job must not recover, remove or
/// take over another's.
const PREFIX_FILE: &str = "_file_name";

/// The staging directory of run `run` of output prefix `name` (`fileName`) in `dir`.
pub(crate) fn staging_dir(dir: &Path, name: &str, run: &str) -> PathBuf {
    dir.join(format!(".datasync-staging-{name}-{run}"))
}

/// The output prefix staging directory `s` stages for, when it says (one made before
/// [`PREFIX_FILE`] existed does not).
fn staged_for(s: &Path) -> Option<String> {
    fs::read_to_string(s.join(PREFIX_FILE)).ok()
}

/// An error when staging directory `s` holds another prefix's staged output.
fn check_staged_for(s: &Path, name: &str, action: &'static str) -> Result<(), FsError> {
    match staged_for(s) {
        Some(other) if other != name => Err(io(action, s)(std::io::Error::other(format!(
            "it holds the staged output of fileName \"{other}\" under the same directory name; \
             give this run another --run-id"
        )))),
        _ => Ok(()),
    }
}

/// What a commit does, in order: remove `unmark`, do every move, remove `replace`, write
/// `mark`.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Journal {
    /// Markers (e.g. `_SUCCESS`) that must disappear before anything moves.
    pub unmark: Vec<PathBuf>,
    /// Staged file -> final path.
    pub moves: Vec<(PathBuf, PathBuf)>,
    /// Old files the new ones replace (truncate), removed after every move.
    pub replace: Vec<PathBuf>,
    /// Markers written (empty files) when everything else is done.
    pub mark: Vec<PathBuf>,
    /// The store the commit publishes to, when it is not the local file system (an object
    /// store's endpoint, bucket and prefix): a journal is only ever finished there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A file system step that failed (staging, publishing, recovery): what was being done, on
/// which path, and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{action} {}", path.display())]
pub struct FsError {
    action: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl From<FsError> for datasync_engine::PluginError {
    fn from(e: FsError) -> Self {
        datasync_engine::PluginError::new(e)
    }
}

/// The error of `action` on `path`, from its cause.
pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FsError {
    let path = path.to_path_buf();
    move |source| FsError {
        action,
        path,
        source,
    }
}

/// Creates directory `dir` and its parents; when a file stands on the way, the error names it.
pub(crate) fn create_dirs(dir: &Path) -> Result<(), FsError> {
    fs::create_dir_all(dir).map_err(|source| match dir.ancestors().find(|a| a.is_file()) {
        Some(file) => io("cannot create a directory where a file is:", file)(source),
        None => io("cannot create directory", dir)(source),
    })
}

/// Removes file `p`; one that is gone already is fine (a resumed commit may find it so).
fn remove_if_present(p: &Path, action: &'static str) -> Result<(), FsError> {
    match fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(action, p)(e)),
        _ => Ok(()),
    }
}

/// Makes a directory's entries durable.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Where a commit publishes: the local file system (files are renamed into place) or an
/// object store (files are uploaded). Journal paths are final paths below the table's local
/// directory; an object store maps them to keys below its prefix.
pub(crate) trait Target: Send + Sync {
    /// Whether `p` exists at the target.
    fn exists(&self, p: &Path) -> Result<bool, FsError>;
    /// Removes `p`; one that is gone already is fine.
    fn remove(&self, p: &Path, action: &'static str) -> Result<(), FsError>;
    /// Publishes the staged file `from` as `to`; in a live commit, records the directories it
    /// created (outermost first) in `created` so they can be undone.
    fn place(
        &self,
        from: &Path,
        to: &Path,
        created: Option<&mut Vec<PathBuf>>,
    ) -> Result<(), FsError>;
    /// Undoes a `place` of a live commit that failed later; whether it could.
    fn unplace(&self, from: &Path, to: &Path) -> bool;
    /// The store, when it is not the local file system (see [`Journal::target`]).
    fn identity(&self) -> Option<String> {
        None
    }
    /// Writes the (empty) marker `m`.
    fn mark(&self, m: &Path) -> Result<(), FsError>;
    /// Whether a placed file leaves staging (a rename): then a roll-forward skips staged files
    /// that are gone and published; otherwise it places every staged file again.
    fn moves(&self) -> bool;
    /// Makes the new entries of these directories durable.
    fn settle(&self, dirs: &[&Path]);
}

/// The local (or mounted) file system.
pub(crate) struct LocalFs;

impl Target for LocalFs {
    fn exists(&self, p: &Path) -> Result<bool, FsError> {
        Ok(p.exists())
    }

    fn remove(&self, p: &Path, action: &'static str) -> Result<(), FsError> {
        remove_if_present(p, action)
    }

    fn place(
        &self,
        from: &Path,
        to: &Path,
        created: Option<&mut Vec<PathBuf>>,
    ) -> Result<(), FsError> {
        if let Some(parent) = to.parent() {
            let mut missing: Vec<PathBuf> = parent
                .ancestors()
                .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
                .map(Path::to_path_buf)
                .collect();
            missing.reverse();
            create_dirs(parent)?;
            if let Some(created) = created {
                created.extend(missing);
            }
        }
        fs::rename(from, to).map_err(io("cannot publish", to))
    }

    fn unplace(&self, from: &Path, to: &Path) -> bool {
        fs::rename(to, from).is_ok()
    }

    fn mark(&self, m: &Path) -> Result<(), FsError> {
        // A partition that got no file (an empty source into a static partition) still gets
        // its directory and marker: the run published it, empty.
        if let Some(parent) = m.parent() {
            create_dirs(parent)?;
        }
        fs::write(m, b"").map_err(io("cannot write", m))?;
        if let Some(parent) = m.parent() {
            sync_dir(parent);
        }
        Ok(())
    }

    fn moves(&self) -> bool {
        true
    }

    fn settle(&self, dirs: &[&Path]) {
        for d in dirs {
            sync_dir(d);
        }
    }
}

impl FsError {
    /// A failed step on a remote target: `what` is the object's URL.
    pub(crate) fn remote(action: &'static str, what: &str, e: impl std::fmt::Display) -> Self {
        FsError {
            action,
            path: PathBuf::from(what),
            source: std::io::Error::other(e.to_string()),
        }
    }
}

/// Creates a fresh staging directory that names its owner.
pub(crate) fn create_staging(staging: &Path, name: &str) -> Result<(), FsError> {
    if datasync_engine::runstate::resuming() {
        if !staging.is_dir() {
            return Err(io("--resume: nothing to resume at", staging)(
                std::io::Error::other(
                    "no staged output of this run id (the run finished, never started, or a \
                     later run removed its staging); run the job without --resume",
                ),
            ));
        }
        check_staged_for(staging, name, "--resume cannot take over")?;
        return take_over(staging);
    }
    if staging.exists() && datasync_engine::shard::planned() {
        return Err(io("cannot plan a run in", staging)(std::io::Error::other(
            "this run id was planned already (its staging exists): give the new plan another \
             --run-id, or `datasync abort` the old one",
        )));
    }
    if staging.exists() {
        check_staged_for(staging, name, "cannot start a run in")?;
        // Only an explicit `--run-id` can meet an existing staging directory of its own name:
        // never take it from a run that is still going.
        let was = fs::read_to_string(staging.join(OWNER_FILE)).unwrap_or_default();
        if let Owner::Elsewhere(why) = owner_state(&was, &hostname()) {
            return Err(io("cannot start a run in", staging)(std::io::Error::other(
                format!("a run with the same run id is still going ({why})"),
            )));
        }
        fs::remove_dir_all(staging).map_err(io("cannot clear staging directory", staging))?;
    }
    fs::create_dir_all(staging).map_err(io("cannot create staging directory", staging))?;
    let prefix_file = staging.join(PREFIX_FILE);
    fs::write(&prefix_file, name).map_err(io("cannot write", &prefix_file))?;
    let owner_file = staging.join(OWNER_FILE);
    fs::write(&owner_file, owner()).map_err(io("cannot write", &owner_file))
}

/// `--resume`: takes over the staging directory of the run being resumed, keeping what its
/// finished tasks staged. Refused while its owner still runs, and when it holds a decided
/// commit (that run was publishing: `recover` finishes it, a resume must not redo it).
fn take_over(staging: &Path) -> Result<(), FsError> {
    let owner_file = staging.join(OWNER_FILE);
    let was = fs::read_to_string(&owner_file).unwrap_or_default();
    if let Owner::Elsewhere(why) = owner_state(&was, &hostname()) {
        return Err(io("--resume cannot take over", staging)(
            std::io::Error::other(format!(
                "its run is still going ({why}); a run cannot be resumed while it runs"
            )),
        ));
    }
    if staging.join(JOURNAL_FILE).exists() {
        return Err(io("--resume cannot take over", staging)(
            std::io::Error::other(
                "the run was publishing when it stopped (this holds its commit journal): \
                 `datasync recover JOB` finishes that commit; there is nothing to resume",
            ),
        ));
    }
    fs::write(&owner_file, owner()).map_err(io("cannot write", &owner_file))?;
    tracing::info!("--resume: taking over {}", staging.display());
    Ok(())
}

/// A fingerprint of staged files (`--resume` compares it): `relative path:size` of each file
/// in `names` (directly in `staging`; a missing one counts as `-`) and of every file anywhere
/// below `staging` whose name `matches`, sorted.
pub(crate) fn fingerprint(
    staging: &Path,
    names: &[String],
    matches: impl Fn(&str) -> bool,
) -> Option<String> {
    fn walk(root: &Path, dir: &Path, matches: &dyn Fn(&str) -> bool, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(root, &path, matches, out);
            } else if matches(&e.file_name().to_string_lossy()) {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(format!("{rel}:{len}"));
            }
        }
    }
    let mut out: Vec<String> = names
        .iter()
        .map(|n| match fs::metadata(staging.join(n)) {
            Ok(m) => format!("{n}:{}", m.len()),
            Err(_) => format!("{n}:-"),
        })
        .collect();
    walk(staging, staging, &matches, &mut out);
    out.sort();
    Some(out.join(" "))
}

/// What each task of this process staged, as the task saw it (`relative path:bytes` of its
/// own files), for its shard's report in container-task mode; in the form of
/// [`fingerprint`], so `commit` can compare it with what is there.
#[derive(Debug, Clone, Default)]
pub(crate) struct StagedSizes(std::sync::Arc<std::sync::Mutex<FilesByTask>>);

/// Per task: `(relative path, bytes)` of each file it staged.
type FilesByTask = std::collections::BTreeMap<usize, Vec<(String, u64)>>;

impl StagedSizes {
    /// Task `task` starts (again): forgets what an earlier attempt recorded.
    pub(crate) fn start(&self, task: usize) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(task, Vec::new());
        }
    }
    /// Task `task` finished file `rel` (relative to the staging) of `bytes`.
    pub(crate) fn record(&self, task: usize, rel: &str, bytes: u64) {
        if let Ok(mut m) = self.0.lock() {
            m.entry(task).or_default().push((rel.to_string(), bytes));
        }
    }
    /// What task `task` staged: a JSON list of `[relative path, bytes]` (names may hold any
    /// character), sorted.
    pub(crate) fn of(&self, task: usize) -> Option<String> {
        let m = self.0.lock().ok()?;
        let mut v = m.get(&task)?.clone();
        v.sort();
        serde_json::to_string(&v).ok()
    }
}

/// The `[relative path, bytes]` entries of a [`StagedSizes::of`] text.
pub(crate) fn staged_entries(text: &str) -> Result<Vec<(String, u64)>, String> {
    serde_json::from_str(text).map_err(|e| format!("not a staged-files list ({e}): {text}"))
}

/// Test hook: a pause after every step of a commit, so the fault tests can kill the process
/// in the middle of one. Unset in production.
fn step_pause() {
    if let Some(ms) = std::env::var("DATASYNC_TEST_COMMIT_STEP_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// Decides the commit (writes the journal durably), then carries it out. When a file cannot
/// be moved, the moves made so far are undone and the journal removed, so the target is as it
/// was and the error is returned; once every file has moved, the commit can only go forward:
/// a later failure leaves the journal for the next run or `datasync recover` to finish.
pub(crate) fn commit(
    staging: &Path,
    journal: &Journal,
    target: &dyn Target,
) -> Result<(), FsError> {
    let mut journal = journal.clone();
    journal.target = target.identity();
    let journal = &journal;
    // Staged files must be on disk before the journal says they are the new state.
    for (from, _) in &journal.moves {
        if let Ok(f) = fs::File::open(from) {
            f.sync_all().map_err(io("cannot sync", from))?;
        }
    }
    let path = staging.join(JOURNAL_FILE);
    let tmp = staging.join(format!("{JOURNAL_FILE}.tmp"));
    let text = serde_json::to_vec_pretty(journal)
        .map_err(|e| io("cannot encode", &path)(std::io::Error::other(e)))?;
    let mut f = fs::File::create(&tmp).map_err(io("cannot write", &tmp))?;
    f.write_all(&text).map_err(io("cannot write", &tmp))?;
    f.sync_all().map_err(io("cannot sync", &tmp))?;
    fs::rename(&tmp, &path).map_err(io("cannot write", &path))?;
    sync_dir(staging);
    step_pause();
    let mut unmarked = Vec::new();
    for m in &journal.unmark {
        if target.exists(m)? {
            unmarked.push(m);
        }
    }
    let mut moved = Vec::new();
    let mut created = Vec::new();
    if let Err(e) = unmark_and_move(journal, target, Some((&mut moved, &mut created))) {
        let mut undone = true;
        for (from, to) in moved.iter().rev() {
            undone &= target.unplace(from, to);
        }
        if !undone {
            // What was published cannot be taken back now (the store is unreachable): the
            // journal stays, so the next run or `datasync recover` finishes the commit instead
            // of leaving a partial one behind.
            tracing::warn!(
                "the failed commit could not be taken back; {} keeps its journal: the next \
                 run or `datasync recover` finishes it",
                staging.display()
            );
            return Err(e);
        }
        for d in created.iter().rev() {
            let _ = fs::remove_dir(d);
        }
        for m in unmarked {
            let _ = target.mark(m);
        }
        let _ = fs::remove_file(&path);
        return Err(e);
    }
    finish(staging, journal, target)
}

/// Removes the markers and moves every staged file not yet moved; records what it moved and
/// which directories it created (outermost first) when asked, so a live commit can undo them.
#[allow(clippy::type_complexity)]
fn unmark_and_move(
    journal: &Journal,
    target: &dyn Target,
    mut undo: Option<(&mut Vec<(PathBuf, PathBuf)>, &mut Vec<PathBuf>)>,
) -> Result<(), FsError> {
    for m in &journal.unmark {
        target.remove(m, "cannot remove")?;
    }
    for (from, to) in &journal.moves {
        if !from.exists() {
            if target.moves() && target.exists(to)? {
                continue; // moved before the interruption
            }
            return Err(io("staged file missing for", to)(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is gone", from.display()),
            )));
        }
        // A roll-forward onto a store that copies places every file again, over what an
        // interrupted commit put there; a live commit never overwrites.
        if (undo.is_some() || target.moves()) && target.exists(to)? {
            return Err(io("will not overwrite", to)(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "file exists",
            )));
        }
        target.place(from, to, undo.as_mut().map(|(_, created)| &mut **created))?;
        if let Some((moved, _)) = undo.as_mut() {
            moved.push((from.clone(), to.clone()));
        }
        step_pause();
    }
    Ok(())
}

/// The part of a commit after every file moved: old files out, markers in, staging gone.
fn finish(staging: &Path, journal: &Journal, target: &dyn Target) -> Result<(), FsError> {
    for o in &journal.replace {
        target.remove(o, "cannot remove the old file")?;
        step_pause();
    }
    let mut dirs: Vec<&Path> = journal
        .moves
        .iter()
        .filter_map(|(_, to)| to.parent())
        .collect();
    dirs.dedup();
    target.settle(&dirs);
    for m in &journal.mark {
        target.mark(m)?;
    }
    // Done: the journal goes first, so a leftover staging directory is never rolled again.
    let jf = staging.join(JOURNAL_FILE);
    fs::remove_file(&jf).map_err(io("cannot remove", &jf))?;
    sync_dir(staging);
    fs::remove_dir_all(staging).map_err(io("cannot remove staging directory", staging))
}

/// Carries out a decided commit whose process died; every step may already have happened.
fn roll_forward(staging: &Path, journal: &Journal, target: &dyn Target) -> Result<(), FsError> {
    if journal.target != target.identity() {
        let name = |t: &Option<String>| t.clone().unwrap_or_else(|| "the local file system".into());
        return Err(io("will not finish the commit recorded in", staging)(
            std::io::Error::other(format!(
                "it publishes to {}, this job to {}: run `datasync recover` with the job that \
                 wrote it",
                name(&journal.target),
                name(&target.identity())
            )),
        ));
    }
    unmark_and_move(journal, target, None)?;
    finish(staging, journal, target)
}

/// Container-task mode: takes up the planned run's staging directory. `Ok(false)`: it is not
/// there (the run was committed or aborted); an error when another run owns it.
pub(crate) fn join_planned(staging: &Path) -> Result<bool, FsError> {
    if !staging.is_dir() {
        return Ok(false);
    }
    let owner_file = staging.join(OWNER_FILE);
    let was = match fs::read_to_string(&owner_file) {
        Ok(w) => w,
        // No owner: the tail of a finished commit (its journal removed first, then the
        // directory), or a decided commit whose directory lost its owner file: the journal
        // tells which.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(staging.join(JOURNAL_FILE).exists());
        }
        Err(e) => return Err(io("cannot read", &owner_file)(e)),
    };
    match datasync_engine::shard::planned_run_of(&was) {
        Some(run) if run == datasync_engine::run_id() => Ok(true),
        _ => Err(io("cannot take up", staging)(std::io::Error::other(
            format!(
                "it is not the staging of planned run {} (owner: \"{}\")",
                datasync_engine::run_id(),
                was.trim()
            ),
        ))),
    }
}

/// Container-task mode, in `commit`: takes over what the shards reported staged. With
/// `verify`, every reported file must be there with its reported size; then every data file
/// in `staging` (a name `data` accepts) that no report lists is removed: what killed,
/// failed or concurrent attempts left, so the commit publishes exactly the reported files.
/// Without `verify` (an interrupted commit being finished) nothing is checked or removed.
pub(crate) fn adopt_reported(
    staging: &Path,
    staged: &[datasync_engine::plugin::StagedTask],
    verify: bool,
    data: impl Fn(&str) -> bool,
) -> Result<(), datasync_engine::PluginError> {
    use datasync_engine::PluginError;
    if !verify {
        return Ok(());
    }
    let mut wanted: std::collections::BTreeSet<PathBuf> = Default::default();
    let mut complete = true;
    for t in staged {
        let Some(list) = &t.staged else {
            complete = false;
            continue;
        };
        let entries =
            staged_entries(list).map_err(|e| PluginError::new(format!("task {}: {e}", t.id)))?;
        for (rel, size) in entries {
            let path = staging.join(&rel);
            let now = fs::metadata(&path).ok().map(|m| m.len());
            if now != Some(size) {
                return Err(PluginError::new(format!(
                    "task {}: its staged output changed after its shard reported it ({} was \
                     {size} bytes, now {})",
                    t.id,
                    path.display(),
                    now.map_or("missing".into(), |n| format!("{n} bytes"))
                )));
            }
            wanted.insert(path);
        }
    }
    if !complete {
        tracing::warn!(
            "a shard report does not say what some task staged: files no report lists are kept"
        );
        return Ok(());
    }
    fn walk(dir: &Path, data: &dyn Fn(&str) -> bool, out: &mut Vec<PathBuf>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&path, data, out);
            } else if data(&e.file_name().to_string_lossy()) {
                out.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(staging, &data, &mut found);
    let strays: Vec<PathBuf> = found.into_iter().filter(|p| !wanted.contains(p)).collect();
    for p in &strays {
        fs::remove_file(p).map_err(|e| PluginError::new(io("cannot remove", p)(e)))?;
    }
    if !strays.is_empty() {
        tracing::info!(
            "removed {} staged file(s) no shard report lists (left by earlier or concurrent \
             attempts)",
            strays.len()
        );
    }
    Ok(())
}

/// Whether this staging directory holds a decided commit (its journal).
pub(crate) fn decided(staging: &Path) -> bool {
    staging.join(JOURNAL_FILE).exists()
}

/// Finishes a commit this staging directory holds the journal of (a commit killed after it
/// was decided). `Ok(false)`: there is none.
pub(crate) fn finish_decided(staging: &Path, target: &dyn Target) -> Result<bool, FsError> {
    let jf = staging.join(JOURNAL_FILE);
    match fs::read(&jf) {
        Ok(bytes) => {
            let journal: Journal = serde_json::from_slice(&bytes)
                .map_err(|e| io("cannot read the commit journal", &jf)(std::io::Error::other(e)))?;
            tracing::info!("finishing the commit recorded in {}", jf.display());
            roll_forward(staging, &journal, target)?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io("cannot read", &jf)(e)),
    }
}

/// `Writer::commit` of a writer `w` that stages its files in a directory and publishes them to
/// a [`Target`] (the file and Parquet writers): a commit an earlier attempt decided (its
/// journal says so) is finished, else `publish` publishes every staged file. `staged` gives
/// the run's staging directory and where its files go.
pub(crate) async fn commit_staged<W, E>(
    w: W,
    staged: fn(&W) -> (&Path, &dyn Target),
    publish: fn(&W) -> Result<(), E>,
) -> Result<(), datasync_engine::PluginError>
where
    W: Send + 'static,
    E: From<FsError> + Into<datasync_engine::PluginError> + Send + 'static,
{
    datasync_engine::plugin::blocking(move || {
        let (staging, target) = staged(&w);
        if finish_decided(staging, target)? {
            return Ok(());
        }
        publish(&w)
    })
    .await
}

/// Removes this run's staging directory on abort, unless it holds a decided commit (a commit
/// that failed after every file moved): that one is left for recovery to finish.
pub(crate) fn abort(staging: &Path) -> Result<(), FsError> {
    if staging.join(JOURNAL_FILE).exists() {
        tracing::warn!(
            "leaving {}: it holds a decided commit that the next run (or `datasync recover`) finishes",
            staging.display()
        );
        return Ok(());
    }
    use std::io::ErrorKind::{NotADirectory, NotFound};
    match fs::remove_dir_all(staging) {
        // Never made (the target path could not be a directory): nothing to remove.
        Err(e) if matches!(e.kind(), NotFound | NotADirectory) => Ok(()),
        Err(e) => Err(io("cannot remove staging directory", staging)(e)),
        Ok(()) => Ok(()),
    }
}

/// What [`recover`] did with one staging directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recovered {
    /// A commit interrupted half-way was finished.
    RolledForward(PathBuf),
    /// An aborted or killed run's staging was removed.
    Removed(PathBuf),
    /// Left alone: its process still runs, or it belongs to another host.
    Left(PathBuf, String),
}

/// Finishes or removes the staging directories of output prefix `name` in `dir` whose process
/// is gone (all but `own`, this run's; another prefix's are left alone). Returns what it
/// did, in name order.
pub(crate) fn recover(
    dir: &Path,
    name: &str,
    own: Option<&Path>,
    target: &dyn Target,
) -> Result<Vec<Recovered>, FsError> {
    let prefix = staging_dir(Path::new(""), name, "");
    let prefix = prefix.to_string_lossy();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("cannot list", dir)(e)),
    };
    let mut found: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&*prefix))
        .map(|e| e.path())
        .filter(|p| Some(p.as_path()) != own && p.is_dir())
        .filter(|p| staged_for(p).is_none_or(|n| n == name))
        .collect();
    found.sort();
    let host = hostname();
    let mut done = Vec::new();
    for s in found {
        let owner = fs::read_to_string(s.join(OWNER_FILE)).unwrap_or_default();
        // A staging directory without an owner file predates them: its run is over.
        if let Owner::Elsewhere(why) = owner_state(&owner, &host) {
            done.push(Recovered::Left(s, why));
            continue;
        }
        let jf = s.join(JOURNAL_FILE);
        match fs::read(&jf) {
            Ok(bytes) => {
                let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| {
                    io("cannot read the commit journal", &jf)(std::io::Error::other(e))
                })?;
                roll_forward(&s, &journal, target)?;
                done.push(Recovered::RolledForward(s));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::remove_dir_all(&s).map_err(io("cannot remove stale staging directory", &s))?;
                done.push(Recovered::Removed(s));
            }
            Err(e) => return Err(io("cannot read", &jf)(e)),
        }
    }
    Ok(done)
}

/// Logs what [`recover`] did (and returns the same as lines for `datasync recover`).
pub(crate) fn describe(done: &[Recovered]) -> Vec<String> {
    let lines: Vec<String> = done
        .iter()
        .map(|r| match r {
            Recovered::RolledForward(p) => format!(
                "finished the interrupted commit recorded in {}",
                p.display()
            ),
            Recovered::Removed(p) => {
                format!(
                    "removed staging directory {} (its run is gone)",
                    p.display()
                )
            }
            Recovered::Left(p, why) => {
                format!("left staging directory {} ({why})", p.display())
            }
        })
        .collect();
    for (l, r) in lines.iter().zip(done) {
        match r {
            Recovered::Left(..) => tracing::warn!("{l}"),
            _ => tracing::info!("{l}"),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn staged(root: &Path, names: &[&str]) -> (PathBuf, Journal) {
        let staging = root.join(".datasync-staging-x-1");
        create_staging(&staging, "x").unwrap();
        let mut j = Journal::default();
        for n in names {
            let f = staging.join(n);
            fs::write(&f, n).unwrap();
            j.moves.push((f, root.join("out").join(n)));
        }
        (staging, j)
    }

    /// Files a and b staged to replace `out/old`.
    fn staged_over_old(root: &Path) -> (PathBuf, Journal) {
        fs::create_dir_all(root.join("out")).unwrap();
        fs::write(root.join("out/old"), "old").unwrap();
        let (staging, mut j) = staged(root, &["a", "b"]);
        j.replace.push(root.join("out/old"));
        (staging, j)
    }

    #[test]
    fn aborting_a_staging_directory_that_could_not_be_made_is_not_an_error() {
        let t = tempfile::tempdir().unwrap();
        abort(&t.path().join("never/.datasync-staging-x")).unwrap();
        fs::write(t.path().join("afile"), "x").unwrap();
        abort(&t.path().join("afile/out/.datasync-staging-x")).unwrap();
        let made = t.path().join(".datasync-staging-y");
        create_staging(&made, "x").unwrap();
        abort(&made).unwrap();
        assert!(!made.exists());
    }

    #[test]
    fn an_empty_partition_gets_its_directory_and_marker() {
        let t = tempfile::tempdir().unwrap();
        let (staging, mut j) = staged(t.path(), &[]);
        let marker = t.path().join("out/dt=2024-01-01/_SUCCESS");
        j.unmark.push(marker.clone());
        j.mark.push(marker.clone());
        commit(&staging, &j, &LocalFs).unwrap();
        assert!(marker.exists());
        assert!(!staging.exists());
    }

    #[test]
    fn commit_moves_replaces_and_marks() {
        let t = tempfile::tempdir().unwrap();
        let (staging, mut j) = staged_over_old(t.path());
        fs::write(t.path().join("out/_SUCCESS"), "").unwrap();
        j.unmark.push(t.path().join("out/_SUCCESS"));
        j.mark.push(t.path().join("out/_SUCCESS"));
        commit(&staging, &j, &LocalFs).unwrap();
        let mut names: Vec<_> = fs::read_dir(t.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["_SUCCESS", "a", "b"]);
        assert!(!staging.exists());
    }

    #[test]
    fn an_interrupted_commit_rolls_forward_and_an_uncommitted_run_is_removed() {
        let t = tempfile::tempdir().unwrap();
        let (staging, j) = staged_over_old(t.path());
        // The journal is written and one file moved, then the process "dies": its owner is a
        // pid that cannot exist.
        fs::write(staging.join(JOURNAL_FILE), serde_json::to_vec(&j).unwrap()).unwrap();
        fs::rename(&j.moves[0].0, &j.moves[0].1).unwrap();
        fs::write(
            staging.join(OWNER_FILE),
            format!("{} 4194304999", hostname()),
        )
        .unwrap();
        // A second staging directory of a run that never committed.
        let other = t.path().join(".datasync-staging-x-2");
        create_staging(&other, "x").unwrap();
        fs::write(other.join("c"), "c").unwrap();
        fs::write(other.join(OWNER_FILE), format!("{} 4194304999", hostname())).unwrap();
        let done = recover(t.path(), "x", None, &LocalFs).unwrap();
        assert_eq!(
            done,
            [
                Recovered::RolledForward(staging.clone()),
                Recovered::Removed(other.clone())
            ]
        );
        assert_eq!(fs::read_to_string(t.path().join("out/a")).unwrap(), "a");
        assert_eq!(fs::read_to_string(t.path().join("out/b")).unwrap(), "b");
        assert!(!t.path().join("out/old").exists());
        assert!(!staging.exists() && !other.exists());
    }

    #[test]
    fn a_live_or_foreign_owner_is_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let mine = t.path().join(".datasync-staging-x-1");
        create_staging(&mine, "x").unwrap();
        let foreign = t.path().join(".datasync-staging-x-2");
        create_staging(&foreign, "x").unwrap();
        fs::write(foreign.join(OWNER_FILE), "elsewhere 1").unwrap();
        // pid 1 always runs.
        let live = t.path().join(".datasync-staging-x-3");
        create_staging(&live, "x").unwrap();
        fs::write(live.join(OWNER_FILE), format!("{} 1", hostname())).unwrap();
        let done = recover(t.path(), "x", Some(&mine), &LocalFs).unwrap();
        assert!(
            matches!(&done[0], Recovered::Left(p, why) if p == &foreign && why.contains("elsewhere"))
        );
        assert!(
            matches!(&done[1], Recovered::Left(p, why) if p == &live && why.contains("still runs"))
        );
        assert!(mine.exists() && foreign.exists() && live.exists());
    }

    /// `.datasync-staging-o-x-1` is the name of `o`'s run `x-1` and of `o-x`'s run `1`: the
    /// marker inside tells them apart, so neither job recovers, removes or reuses the other's.
    #[test]
    fn another_prefix_s_staging_of_the_same_name_is_not_touched() {
        let t = tempfile::tempdir().unwrap();
        let theirs = staging_dir(t.path(), "o-x", "1");
        create_staging(&theirs, "o-x").unwrap();
        fs::write(theirs.join("c"), "c").unwrap();
        fs::write(
            theirs.join(OWNER_FILE),
            format!("{} 4194304999", hostname()),
        )
        .unwrap();
        assert_eq!(theirs, staging_dir(t.path(), "o", "x-1"));
        let done = recover(t.path(), "o", None, &LocalFs).unwrap();
        assert_eq!(done, []);
        let e = create_staging(&theirs, "o").unwrap_err();
        assert!(e.to_string().contains("cannot start a run in"), "{e}");
        assert!(
            std::error::Error::source(&e)
                .unwrap()
                .to_string()
                .contains("fileName \"o-x\""),
            "{e}"
        );
        assert_eq!(fs::read_to_string(theirs.join("c")).unwrap(), "c");
        // Its own job recovers it (the run is gone: removed).
        let done = recover(t.path(), "o-x", None, &LocalFs).unwrap();
        assert_eq!(done, [Recovered::Removed(theirs.clone())]);
    }
}
