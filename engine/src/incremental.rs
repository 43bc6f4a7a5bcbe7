//! Incremental reads: where a job's watermark (the highest value of its incremental column
//! that a committed run read) is kept, and how it moves. A reader reads the rows above the
//! last committed watermark and at or below the high-water mark it read when the run began;
//! the new watermark is recorded only after the writer's commit succeeded, so a failed or
//! killed run leaves it where it was and the next run reads the same window again.

use crate::config::{join_path, ConfigError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// `incremental` in a reader's parameters.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncrementalConfig {
    /// The column whose values only grow as rows are added or changed (`updated_at`, `id`).
    pub column: String,
    /// Where the watermark is kept: `file:PATH` (relative to the working directory).
    pub state: String,
}

/// A committed watermark, as kept in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Watermark {
    /// The incremental column.
    pub column: String,
    /// Its highest value read by the last committed run, as the source prints it.
    pub value: String,
    /// The run that committed it (`datasync state set`: "manual").
    pub run_id: String,
    /// When it was recorded (RFC 3339).
    pub updated_at: String,
}

/// The window of one run: rows with `column > low` (no lower bound for a first or `--full`
/// run) and `column <= high` (`None`: the source has no rows, nothing to read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The last committed watermark.
    pub low: Option<String>,
    /// The high-water mark read when the run began.
    pub high: Option<String>,
}

/// A reader's incremental state: the watermark store, and the high-water mark of the run in
/// progress, recorded by [`Incremental::commit`].
#[derive(Debug)]
pub struct Incremental {
    /// The incremental column.
    pub column: String,
    path: PathBuf,
    /// `--full`: read everything up to the high-water mark, then record it.
    full: Mutex<bool>,
    pending: Mutex<Option<String>>,
}

impl Incremental {
    /// The incremental state of `cfg` (at JSON path `at`): `file:PATH` only.
    pub fn new(cfg: &IncrementalConfig, at: &str) -> Result<Self, ConfigError> {
        if cfg.column.trim().is_empty() {
            return Err(ConfigError::new(
                join_path(at, "column"),
                "expected the incremental column's name",
            ));
        }
        let path = match cfg.state.split_once(':') {
            Some(("file", p)) if !p.trim().is_empty() => PathBuf::from(p),
            Some(("table", _)) => {
                return Err(ConfigError::new(
                    join_path(at, "state"),
                    "a state table is not supported yet: use file:PATH",
                ))
            }
            _ => {
                return Err(ConfigError::new(
                    join_path(at, "state"),
                    format!("\"{}\": expected file:PATH", cfg.state),
                ))
            }
        };
        Ok(Incremental {
            column: cfg.column.clone(),
            path,
            full: Mutex::new(false),
            pending: Mutex::new(None),
        })
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `--full`: this run ignores the committed watermark.
    pub fn set_full(&self) {
        if let Ok(mut f) = self.full.lock() {
            *f = true;
        }
    }

    /// The committed watermark, if any; one of another column is an error (the job's column
    /// changed: `--full` or `datasync state reset` start over).
    pub fn load(&self) -> Result<Option<Watermark>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("state file {}: {e}", self.path.display())),
        };
        let w: Watermark = serde_json::from_str(&text).map_err(|e| {
            format!(
                "state file {}: not a datasync watermark ({e}); fix it with `datasync state set` \
                 or remove it with `datasync state reset`",
                self.path.display()
            )
        })?;
        if w.column != self.column {
            return Err(format!(
                "state file {} holds the watermark of column {}, not {}: run with --full, or \
                 `datasync state reset` the job",
                self.path.display(),
                w.column,
                self.column
            ));
        }
        Ok(Some(w))
    }

    /// The lower bound of this run: none with `--full`, else the committed watermark.
    pub fn low(&self) -> Result<Option<String>, String> {
        if self.full.lock().map(|f| *f).unwrap_or(false) {
            return Ok(None);
        }
        Ok(self.load()?.map(|w| w.value))
    }

    /// Remembers this run's high-water mark until [`Incremental::commit`].
    pub fn begin(&self, window: &Window) {
        let high = window.high.clone().or_else(|| window.low.clone());
        if let Ok(mut p) = self.pending.lock() {
            *p = high;
        }
    }

    /// This run's high-water mark, once planned (what [`Incremental::commit`] records).
    pub fn pending(&self) -> Option<String> {
        self.pending.lock().ok().and_then(|p| p.clone())
    }

    /// Records this run's high-water mark (after the writer's commit succeeded). Nothing to
    /// record (an empty source) leaves the state as it is.
    pub fn commit(&self, run_id: &str) -> Result<(), String> {
        let pending = self.pending.lock().ok().and_then(|p| p.clone());
        match pending {
            Some(v) => self.save(&v, run_id),
            None => Ok(()),
        }
    }

    /// Writes `value` as the committed watermark: a temporary file beside the state file,
    /// synced, renamed over it, the directory synced (a crash leaves the old or the new
    /// state, never half of one).
    pub fn save(&self, value: &str, run_id: &str) -> Result<(), String> {
        let w = Watermark {
            column: self.column.clone(),
            value: value.to_string(),
            run_id: run_id.to_string(),
            updated_at: chrono::Utc::now().to_rfc3339(),
        };
        let err = |e: std::io::Error| format!("state file {}: {e}", self.path.display());
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(err)?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "state".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let text = serde_json::to_string_pretty(&w).map_err(|e| e.to_string())?;
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.write_all(b"\n"))
            .and_then(|_| f.sync_all())
            .map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Removes the committed watermark (the next run reads everything); whether there was one.
    pub fn reset(&self) -> Result<bool, String> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(format!("state file {}: {e}", self.path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn inc(dir: &Path, column: &str) -> Incremental {
        let cfg = IncrementalConfig {
            column: column.into(),
            state: format!("file:{}", dir.join("s/orders.json").display()),
        };
        Incremental::new(&cfg, "p.incremental").unwrap()
    }

    #[test]
    fn watermark_moves_only_on_commit() {
        let t = tempfile::tempdir().unwrap();
        let i = inc(t.path(), "id");
        assert_eq!(i.low().unwrap(), None);
        i.begin(&Window {
            low: None,
            high: Some("10".into()),
        });
        assert_eq!(i.low().unwrap(), None, "not before commit");
        i.commit("r1").unwrap();
        assert_eq!(i.low().unwrap().as_deref(), Some("10"));
        // An empty window keeps the watermark.
        let j = inc(t.path(), "id");
        j.begin(&Window {
            low: Some("10".into()),
            high: None,
        });
        j.commit("r2").unwrap();
        assert_eq!(j.load().unwrap().unwrap().run_id, "r2");
        assert_eq!(j.low().unwrap().as_deref(), Some("10"));
        j.set_full();
        assert_eq!(j.low().unwrap(), None);
        assert!(inc(t.path(), "updated_at")
            .load()
            .unwrap_err()
            .contains("column id"));
        assert!(j.reset().unwrap());
        assert!(!j.reset().unwrap());
    }

    #[test]
    fn bad_state_settings_are_refused() {
        for (s, want) in [
            ("table:db.t", "not supported yet"),
            ("x.json", "file:PATH"),
            ("file:", "file:PATH"),
        ] {
            let cfg = IncrementalConfig {
                column: "id".into(),
                state: s.into(),
            };
            let e = Incremental::new(&cfg, "p.incremental").unwrap_err();
            assert!(e.to_string().contains(want), "{s}: {e}");
            assert_eq!(e.path, "p.incremental.state");
        }
    }

    #[test]
    fn a_damaged_state_file_is_an_error_not_a_restart() {
        let t = tempfile::tempdir().unwrap();
        let i = inc(t.path(), "id");
        std::fs::create_dir_all(t.path().join("s")).unwrap();
        std::fs::write(i.path(), "{garbage").unwrap();
        assert!(i.low().unwrap_err().contains("datasync state"));
    }
}
