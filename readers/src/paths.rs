//! Input listing shared by the file-like readers: files, directories (walked) and globs, with
//! hidden names skipped (`.` for text files; `.` and `_` for Hive tables).

use std::path::{Path, PathBuf};

/// Errors listing input paths.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// No file matched.
    #[error("no file matches {0}")]
    NoFiles(String),
    /// A file or directory cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A directory read holds a commit a killed datasync run left half-done.
    #[error(
        "{0}: a datasync commit is half-done here (the directory holds old and new files at \
         once): a run is publishing now, or one was killed doing so; then run `datasync \
         recover` on the job that wrote it first"
    )]
    HalfPublished(PathBuf),
}

/// A datasync writer's staging directory in `dir` holding a commit journal: its commit was
/// decided and not finished (a killed run), so `dir` holds part of the old and part of the new
/// output; reading it now would read rows twice or miss some.
fn half_published(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".datasync-staging-"))
                && p.join("_commit.json").exists()
        })
}

fn is_hidden(p: &Path, hidden: fn(&str) -> bool) -> bool {
    p.file_name().and_then(|n| n.to_str()).is_some_and(hidden)
}

/// Whether a component of `path` after the first `skip` ones is hidden.
fn hidden_below(path: &Path, skip: usize, hidden: fn(&str) -> bool) -> bool {
    path.components()
        .skip(skip)
        .any(|c| hidden(&c.as_os_str().to_string_lossy()))
}

/// What listing collects: the files, the directories already walked (by their real path, so
/// a symbolic link back up the tree is walked once) and the hidden names skipped.
struct Listing {
    hidden: fn(&str) -> bool,
    files: Vec<PathBuf>,
    walked: std::collections::HashSet<PathBuf>,
    skipped: Vec<PathBuf>,
    /// Directories of glob matches checked for a half-done commit.
    checked: std::collections::HashSet<PathBuf>,
}

impl Listing {
    fn walk(&mut self, dir: &Path) -> Result<(), PathError> {
        let io = |source| PathError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let real = std::fs::canonicalize(dir).map_err(io)?;
        if !self.walked.insert(real.clone()) {
            tracing::warn!(
                "{}: not walked again: it is {} (a symbolic link to a directory already read)",
                dir.display(),
                real.display()
            );
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort();
        if let Some(s) = half_published(dir) {
            return Err(PathError::HalfPublished(s));
        }
        for p in entries {
            if is_hidden(&p, self.hidden) {
                self.skipped.push(p);
                continue;
            }
            if p.is_dir() {
                self.walk(&p)?;
            } else {
                self.files.push(p);
            }
        }
        Ok(())
    }
}

/// Expands files, directories and globs into a sorted, de-duplicated file list; names for
/// which `hidden` holds are skipped below a directory or a glob's literal prefix and listed
/// in `skipped`. A file reached by two paths (a symbolic link) is listed once.
pub fn expand_paths(
    patterns: &[String],
    hidden: fn(&str) -> bool,
    skipped: &mut Vec<PathBuf>,
) -> Result<Vec<PathBuf>, PathError> {
    let mut l = Listing {
        hidden,
        files: Vec::new(),
        walked: Default::default(),
        skipped: Vec::new(),
        checked: Default::default(),
    };
    for pat in patterns {
        let before = l.files.len();
        let p = Path::new(pat);
        if p.is_dir() {
            l.walk(p)?;
        } else if p.exists() {
            // A regular file, or a FIFO/device a scheduler hands over.
            l.files.push(p.to_path_buf());
        } else if pat.contains(['*', '?', '[']) {
            // Like directories, globs skip hidden names (staging directories among them); the
            // glob crate's `**` does not, so hidden parts below the literal prefix are checked here.
            let literal = Path::new(pat)
                .components()
                .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
                .count();
            let paths = glob::glob(pat)
                .map_err(|e| PathError::NoFiles(format!("{pat} (bad glob: {e})")))?;
            for entry in paths {
                let path = entry.map_err(|e| {
                    let path = e.path().to_path_buf();
                    PathError::Io {
                        path,
                        source: e.into(),
                    }
                })?;
                if !path.is_file() {
                    continue;
                }
                if hidden_below(&path, literal, hidden) {
                    l.skipped.push(path);
                } else {
                    if let Some(parent) = path.parent() {
                        if l.checked.insert(parent.to_path_buf()) {
                            if let Some(s) = half_published(parent) {
                                return Err(PathError::HalfPublished(s));
                            }
                        }
                    }
                    l.files.push(path);
                }
            }
        } else {
            return Err(PathError::Io {
                path: p.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        }
        if l.files.len() == before {
            return Err(PathError::NoFiles(pat.clone()));
        }
    }
    let mut files = l.files;
    files.sort();
    files.dedup();
    // The same file under two names (a symbolic or a hard link) is read once, under its first
    // name: the file system's device and inode numbers say which is which.
    let mut seen = std::collections::HashMap::new();
    files.retain(|f| {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(f) {
            Ok(m) if m.is_file() => match seen.entry((m.dev(), m.ino())) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    let first: &PathBuf = first.get();
                    tracing::warn!(
                        "{}: not read again: it is the same file as {} (read already under \
                         that name)",
                        f.display(),
                        first.display()
                    );
                    false
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(f.clone());
                    true
                }
            },
            _ => true,
        }
    });
    skipped.extend(l.skipped);
    Ok(files)
}

/// Says which hidden entries a listing of `location` skipped (names starting with '.', e.g.
/// another job's staging), so that reading less than the path names is never silent.
pub fn warn_skipped(location: &str, skipped: &[String]) {
    if skipped.is_empty() {
        return;
    }
    let shown: Vec<&str> = skipped.iter().take(5).map(String::as_str).collect();
    tracing::warn!(
        "{location}: skipped {} hidden entr{} (names starting with '.', such as another job's \
         staging): {}{}",
        skipped.len(),
        if skipped.len() == 1 { "y" } else { "ies" },
        shown.join(", "),
        if skipped.len() > shown.len() {
            ", ..."
        } else {
            ""
        }
    );
}

/// Size and modification time of a local file (`--resume` compares them), or `None` when it
/// cannot be read.
pub fn file_fingerprint(path: &std::path::Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    let modified = m
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "{} bytes, modified {}.{:09}",
        m.len(),
        modified.as_secs(),
        modified.subsec_nanos()
    ))
}

/// A local path (or pattern) as a lineage dataset in the `file` namespace, made absolute.
pub(crate) fn file_dataset(p: &str) -> datasync_engine::lineage::Dataset {
    datasync_engine::lineage::Dataset::file(p)
}

/// `modifiedSince` of the local file readers: `{"state": "file:PATH"}`.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifiedSince {
    /// Where the last committed modification time is kept: `file:PATH`.
    pub state: String,
}

impl ModifiedSince {
    /// The reader's incremental state (`at`: the key's JSON path); one source, `files`, whose
    /// mark covers `paths` (made absolute: a relative path read from another directory is
    /// another input) and, for the Parquet reader, `filter` (the partition filter; `None`: no
    /// filter key; a filter removed reads more, so it is another input too).
    pub fn incremental(
        &self,
        at: &str,
        paths: &[String],
        filter: Option<&std::collections::BTreeMap<String, Vec<String>>>,
    ) -> Result<datasync_engine::incremental::Incremental, datasync_engine::ConfigError> {
        if !self.state.starts_with("file:") {
            return Err(datasync_engine::ConfigError::new(
                datasync_engine::config::join_path(at, "state"),
                format!("\"{}\": expected file:PATH", self.state),
            ));
        }
        let cfg = datasync_engine::incremental::IncrementalConfig {
            column: "mtime".into(),
            state: self.state.clone(),
            key: None,
            inclusive: Some(false),
        };
        let files = ["files".to_string()];
        let mut inputs: Vec<String> = paths
            .iter()
            .map(|p| match std::path::absolute(p) {
                Ok(a) => a.display().to_string(),
                Err(_) => p.clone(),
            })
            .collect();
        inputs.sort();
        inputs.dedup();
        if let Some(f) = filter {
            let parts: Vec<String> = f
                .iter()
                .map(|(k, v)| {
                    let mut v = v.clone();
                    v.sort();
                    v.dedup();
                    format!("{k}={}", v.join("|"))
                })
                .collect();
            inputs.push(format!("partition filter: {}", parts.join(", ")));
        }
        Ok(
            datasync_engine::incremental::Incremental::new(&cfg, at, &files, &files)?
                .check_values_with(check_set_mark)
                .covering(inputs),
        )
    }
}

/// A mark given to `datasync state set`: a modification time, not in the future (no file
/// would be read until then, and none modified before it ever).
fn check_set_mark(t: &str) -> Result<(), String> {
    let mark = parse_mark(t)?;
    let now = chrono::Utc::now();
    if mark > now {
        return Err(format!(
            "\"{t}\" is in the future (now {}): no file would be read until then",
            mtime_text(now)
        ));
    }
    Ok(())
}

/// A committed mark: a modification time in RFC 3339.
fn parse_mark(t: &str) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
    chrono::DateTime::parse_from_rfc3339(t).map_err(|e| {
        format!(
            "\"{t}\" is not a modification time ({e}); `datasync state set` one such as \
             2026-01-31T00:00:00Z, or `datasync state reset`"
        )
    })
}

/// A file's modification time as a watermark: RFC 3339 in UTC with nanoseconds.
fn mtime_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// How long a file must rest before `modifiedSince` takes it: a file written in the same
/// clock tick as the newest file taken (file systems keep times to a second or two) would
/// otherwise share the mark and be skipped by the next run.
const SETTLE: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// `modifiedSince`: the `items` whose file (`path_of`) was modified after `low` (the committed
/// mark, RFC 3339) and at least [`SETTLE`] before now, and the newest of their times (this
/// run's mark; `low` when none is newer). Younger files are left for the next run; one dated
/// in the future with a warning.
pub fn modified_since<T>(
    items: Vec<T>,
    path_of: impl Fn(&T) -> &Path,
    low: Option<&str>,
) -> Result<(Vec<T>, Option<String>), String> {
    let since = low.map(parse_mark).transpose()?;
    let now = chrono::Utc::now();
    let (mut keep, mut newest, mut future, mut young) = (Vec::new(), None, Vec::new(), 0);
    let total = items.len();
    for item in items {
        let path = path_of(&item);
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let m = chrono::DateTime::<chrono::Utc>::from(modified);
        if m > now {
            future.push(path.display().to_string());
            continue;
        }
        if m > now - SETTLE {
            young += 1;
            continue;
        }
        if since.is_some_and(|l| m <= l) {
            continue;
        }
        if newest.is_none_or(|n| m > n) {
            newest = Some(m);
        }
        keep.push(item);
    }
    if !future.is_empty() {
        tracing::warn!(
            "modifiedSince: {} file(s) modified in the future are left for a later run: {}",
            future.len(),
            future.join(", ")
        );
    }
    tracing::info!(
        "modifiedSince: {} of {total} file(s) modified after {}{}",
        keep.len(),
        low.unwrap_or("the beginning"),
        if young > 0 {
            format!(" ({young} modified in the last 2 s left for the next run)")
        } else {
            String::new()
        }
    );
    Ok((keep, newest.map(mtime_text).or(low.map(String::from))))
}
