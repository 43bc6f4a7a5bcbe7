//! Incremental reads: where a job's watermark (the highest value of its incremental column
//! that a committed run read) is kept, and how it moves. A reader reads the rows above the
//! last committed watermark and at or below the high-water mark it read when the run began;
//! the new watermark is recorded only after the writer's commit succeeded, so a failed or
//! killed run leaves it where it was and the next run reads the same window again.

use crate::config::{join_path, ConfigError};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// `incremental` in a reader's parameters.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncrementalConfig {
    /// The column whose values only grow as rows are added or changed (`updated_at`, `id`).
    pub column: String,
    /// Where the watermark is kept: `file:PATH` (relative to the working directory), or
    /// `table:[schema.]NAME`, a table in the source database (connection[0]) with one row per
    /// key, created when missing.
    pub state: String,
    /// The row of a state table (several jobs may share one table); default the tables read
    /// and the column, e.g. `orders:updated_at`.
    #[serde(default)]
    pub key: Option<String>,
}

/// A database table that keeps watermarks as JSON text, one row per key (`state:
/// "table:NAME"`); the reader's plugin provides it.
#[async_trait::async_trait]
pub trait StateTable: Send + Sync + std::fmt::Debug {
    /// The text stored under `key` in `table`, if any.
    async fn get(&self, table: &str, key: &str) -> Result<Option<String>, String>;
    /// Stores `text` under `key` (replacing what was there) in one transaction.
    async fn put(&self, table: &str, key: &str, text: &str) -> Result<(), String>;
    /// Removes `key`'s row.
    async fn remove(&self, table: &str, key: &str) -> Result<(), String>;
}

/// Where a watermark is kept.
#[derive(Debug, Clone)]
enum Store {
    /// A JSON file.
    File(PathBuf),
    /// A row of a database table (the backend attached by the reader).
    Table {
        name: String,
        backend: Option<Arc<dyn StateTable>>,
    },
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
    store: Store,
    key: String,
    /// `--full`: read everything up to the high-water mark, then record it.
    full: Mutex<bool>,
    pending: Mutex<Option<String>>,
}

impl Incremental {
    /// The incremental state of `cfg` (at JSON path `at`); `default_key` names its row in a
    /// state table unless `cfg.key` does.
    pub fn new(cfg: &IncrementalConfig, at: &str, default_key: &str) -> Result<Self, ConfigError> {
        if cfg.column.trim().is_empty() {
            return Err(ConfigError::new(
                join_path(at, "column"),
                "expected the incremental column's name",
            ));
        }
        let store = match cfg.state.split_once(':') {
            Some(("file", p)) if !p.trim().is_empty() => Store::File(PathBuf::from(p)),
            Some(("table", t)) if !t.trim().is_empty() => Store::Table {
                name: t.trim().to_string(),
                backend: None,
            },
            _ => {
                return Err(ConfigError::new(
                    join_path(at, "state"),
                    format!(
                        "\"{}\": expected file:PATH or table:[schema.]NAME",
                        cfg.state
                    ),
                ))
            }
        };
        let key = match &cfg.key {
            Some(k) if k.trim().is_empty() || k.len() > 255 => {
                return Err(ConfigError::new(
                    join_path(at, "key"),
                    "expected a name of 1 to 255 characters",
                ))
            }
            Some(k) => k.clone(),
            None => format!("{default_key}:{}", cfg.column),
        };
        Ok(Incremental {
            column: cfg.column.clone(),
            store,
            key,
            full: Mutex::new(false),
            pending: Mutex::new(None),
        })
    }

    /// Gives a `table:` state its table (the reader's database); a file state ignores it.
    pub fn attach_table(&mut self, table: Arc<dyn StateTable>) {
        if let Store::Table { backend, .. } = &mut self.store {
            *backend = Some(table);
        }
    }

    /// Where the watermark is kept, for messages.
    pub fn location(&self) -> String {
        match &self.store {
            Store::File(p) => format!("state file {}", p.display()),
            Store::Table { name, .. } => format!("state table {name} (key {})", self.key),
        }
    }

    /// `--full`: this run ignores the committed watermark.
    pub fn set_full(&self) {
        if let Ok(mut f) = self.full.lock() {
            *f = true;
        }
    }

    /// The stored text of the watermark, if any.
    async fn read(&self) -> Result<Option<String>, String> {
        match &self.store {
            Store::File(path) => match std::fs::read_to_string(path) {
                Ok(t) => Ok(Some(t)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{}: {e}", self.location())),
            },
            Store::Table { name, backend } => match backend {
                Some(b) => b
                    .get(name, &self.key)
                    .await
                    .map_err(|e| format!("{}: {e}", self.location())),
                None => Err(format!(
                    "{}: this reader cannot keep state in a table",
                    self.location()
                )),
            },
        }
    }

    /// The committed watermark, if any; one of another column is an error (the job's column
    /// changed: `--full` or `datasync state reset` start over).
    pub async fn load(&self) -> Result<Option<Watermark>, String> {
        let Some(text) = self.read().await? else {
            return Ok(None);
        };
        let w: Watermark = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: not a datasync watermark ({e}); fix it with `datasync state set` or remove \
                 it with `datasync state reset`",
                self.location()
            )
        })?;
        if w.column != self.column {
            return Err(format!(
                "{} holds the watermark of column {}, not {}: run with --full, or `datasync \
                 state reset` the job",
                self.location(),
                w.column,
                self.column
            ));
        }
        Ok(Some(w))
    }

    /// The lower bound of this run: none with `--full`, else the committed watermark.
    pub async fn low(&self) -> Result<Option<String>, String> {
        if self.is_full() {
            return Ok(None);
        }
        Ok(self.load().await?.map(|w| w.value))
    }

    /// Whether `--full` was given.
    pub fn is_full(&self) -> bool {
        self.full.lock().map(|f| *f).unwrap_or(false)
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
    pub async fn commit(&self, run_id: &str) -> Result<(), String> {
        match self.pending() {
            Some(v) => self.save(&v, run_id).await,
            None => Ok(()),
        }
    }

    /// Writes `value` as the committed watermark: a file is replaced atomically (a
    /// temporary file beside it, synced, renamed over it, the directory synced: a crash leaves
    /// the old or the new state, never half of one); a table row in one transaction.
    pub async fn save(&self, value: &str, run_id: &str) -> Result<(), String> {
        let w = Watermark {
            column: self.column.clone(),
            value: value.to_string(),
            run_id: run_id.to_string(),
            updated_at: chrono::Utc::now().to_rfc3339(),
        };
        let text = serde_json::to_string_pretty(&w).map_err(|e| e.to_string())?;
        match &self.store {
            Store::File(path) => {
                write_file(path, &text).map_err(|e| format!("{}: {e}", self.location()))
            }
            Store::Table { name, backend } => match backend {
                Some(b) => b
                    .put(name, &self.key, &text)
                    .await
                    .map_err(|e| format!("{}: {e}", self.location())),
                None => Err(format!(
                    "{}: this reader cannot keep state in a table",
                    self.location()
                )),
            },
        }
    }

    /// Removes the committed watermark (the next run reads everything); whether there was one.
    pub async fn reset(&self) -> Result<bool, String> {
        let had = self.read().await?.is_some();
        match &self.store {
            Store::File(path) => match std::fs::remove_file(path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(format!("{}: {e}", self.location())),
            },
            Store::Table { name, backend } => match backend {
                Some(b) if had => b
                    .remove(name, &self.key)
                    .await
                    .map(|()| true)
                    .map_err(|e| format!("{}: {e}", self.location())),
                Some(_) => Ok(false),
                None => Err(format!(
                    "{}: this reader cannot keep state in a table",
                    self.location()
                )),
            },
        }
    }
}

/// Replaces `path` with `text` atomically.
fn write_file(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::Path;

    fn inc(dir: &Path, column: &str) -> Incremental {
        let cfg = IncrementalConfig {
            column: column.into(),
            state: format!("file:{}", dir.join("s/orders.json").display()),
            key: None,
        };
        Incremental::new(&cfg, "p.incremental", "orders").unwrap()
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn watermark_moves_only_on_commit() {
        block(async {
            let t = tempfile::tempdir().unwrap();
            let i = inc(t.path(), "id");
            assert_eq!(i.low().await.unwrap(), None);
            i.begin(&Window {
                low: None,
                high: Some("10".into()),
            });
            assert_eq!(i.low().await.unwrap(), None, "not before commit");
            i.commit("r1").await.unwrap();
            assert_eq!(i.low().await.unwrap().as_deref(), Some("10"));
            // An empty window keeps the watermark.
            let j = inc(t.path(), "id");
            j.begin(&Window {
                low: Some("10".into()),
                high: None,
            });
            j.commit("r2").await.unwrap();
            assert_eq!(j.load().await.unwrap().unwrap().run_id, "r2");
            assert_eq!(j.low().await.unwrap().as_deref(), Some("10"));
            j.set_full();
            assert_eq!(j.low().await.unwrap(), None);
            let other = inc(t.path(), "updated_at").load().await.unwrap_err();
            assert!(other.contains("column id"), "{other}");
            assert!(j.reset().await.unwrap());
            assert!(!j.reset().await.unwrap());
        });
    }

    #[test]
    fn bad_state_settings_are_refused() {
        for (s, key, want, at) in [
            ("x.json", None, "file:PATH", "state"),
            ("file:", None, "file:PATH", "state"),
            ("table:", None, "table:", "state"),
            ("table:t", Some(""), "1 to 255", "key"),
        ] {
            let cfg = IncrementalConfig {
                column: "id".into(),
                state: s.into(),
                key: key.map(String::from),
            };
            let e = Incremental::new(&cfg, "p.incremental", "t").unwrap_err();
            assert!(e.to_string().contains(want), "{s}: {e}");
            assert_eq!(e.path, format!("p.incremental.{at}"));
        }
    }

    #[test]
    fn a_table_state_needs_its_backend_and_names_its_key() {
        let cfg = IncrementalConfig {
            column: "updated_at".into(),
            state: "table:meta.watermarks".into(),
            key: None,
        };
        let i = Incremental::new(&cfg, "p", "orders").unwrap();
        assert_eq!(
            i.location(),
            "state table meta.watermarks (key orders:updated_at)"
        );
        assert!(block(i.load())
            .unwrap_err()
            .contains("cannot keep state in a table"));
    }

    #[test]
    fn a_damaged_state_file_is_an_error_not_a_restart() {
        let t = tempfile::tempdir().unwrap();
        let i = inc(t.path(), "id");
        std::fs::create_dir_all(t.path().join("s")).unwrap();
        std::fs::write(t.path().join("s/orders.json"), "{garbage").unwrap();
        assert!(block(i.low()).unwrap_err().contains("datasync state"));
    }
}
