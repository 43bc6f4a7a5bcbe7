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

fn walk(dir: &Path, out: &mut Vec<PathBuf>, hidden: fn(&str) -> bool) -> Result<(), PathError> {
    let io = |source| PathError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for p in entries {
        if is_hidden(&p, hidden) {
            continue;
        }
        if p.is_dir() {
            walk(&p, out, hidden)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Expands files, directories and globs into a sorted, de-duplicated file list; names for
/// which `hidden` holds are skipped below a directory or a glob's literal prefix.
pub fn expand_paths(
    patterns: &[String],
    hidden: fn(&str) -> bool,
) -> Result<Vec<PathBuf>, PathError> {
    let mut files = Vec::new();
    for pat in patterns {
        let before = files.len();
        let p = Path::new(pat);
        if p.is_dir() {
            walk(p, &mut files, hidden)?;
        } else if p.exists() {
            // A regular file, or a FIFO/device a scheduler hands over.
            files.push(p.to_path_buf());
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
                if path.is_file() && !hidden_below(&path, literal, hidden) {
                    files.push(path);
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
        if files.len() == before {
            return Err(PathError::NoFiles(pat.clone()));
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
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
