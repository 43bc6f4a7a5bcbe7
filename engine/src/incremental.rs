//! Incremental reads: where a job's watermarks (per source table, the highest value of its
//! incremental column that a committed run read) are kept, and how they move. A reader reads
//! the rows above the last committed watermark and at or below the high-water mark it read
//! when the run began; the new watermarks are recorded only after the writer's commit
//! succeeded, so a failed or killed run leaves them where they were and the next run reads the
//! same window again.

use crate::config::{join_path, ConfigError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    /// The row of a state table (several jobs may share one table; give each job reading the
    /// same table with another `where` its own key); default the tables read and the column,
    /// e.g. `orders:updated_at`.
    pub key: Option<String>,
    /// Whether rows equal to the watermark are read again (`>=`) or not (`>`). Default: not
    /// when the column alone has a unique index (an id: no later row can share a value read),
    /// else again (a timestamp: rows committed later with the same value are not lost; an
    /// upsert target keeps them once).
    #[serde(default, with = "crate::schema::LenientOpt::<bool>")]
    pub inclusive: Option<bool>,
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
    /// Makes `table` if missing and checks this login may insert into and delete from it
    /// (nothing is changed).
    async fn check(&self, table: &str) -> Result<(), String>;
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

/// The committed watermarks, as kept in the state file or table row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Watermark {
    /// The incremental column.
    pub column: String,
    /// Per source (a table, or `files`): the highest value read by the last committed run,
    /// as the source prints it (`null`: read, but it held only NULLs).
    pub values: BTreeMap<String, Option<String>>,
    /// The run that committed it (`datasync state set`: "manual").
    pub run_id: String,
    /// When it was recorded (RFC 3339).
    pub updated_at: String,
    /// What one mark covers where the reader keeps one for all its inputs (a file reader's
    /// `files`: the paths and partition filter as the job gave them). A run over other inputs
    /// is refused, as files of a new input older than the mark would be skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
}

/// A reader's incremental state: the watermark store, the sources it covers, and the
/// high-water marks of the run in progress, recorded by [`Incremental::commit`].
#[derive(Debug)]
pub struct Incremental {
    /// The incremental column.
    pub column: String,
    /// `inclusive` as configured (`None`: the reader decides).
    pub inclusive: Option<bool>,
    store: Store,
    key: String,
    /// The sources (tables, or `files`) with a watermark each.
    sources: Vec<String>,
    /// `--full`: read everything up to the high-water mark, then record it.
    full: Mutex<bool>,
    pending: Mutex<BTreeMap<String, Option<String>>>,
    /// Checks a value `datasync state set` is given, where the reader knows its form.
    value_check: Option<ValueCheck>,
    /// What the marks cover (see [`Watermark::inputs`]).
    inputs: Option<Vec<String>>,
}

/// Checks a watermark value given by hand (`datasync state set`); the error says what is wrong.
pub type ValueCheck = fn(&str) -> Result<(), String>;

/// Where a source's window starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Low {
    /// Never read by a committed run (or `--full`): everything, NULLs included.
    First,
    /// Read, but it held only NULLs: every value (not NULLs again).
    Nulls,
    /// Above (or at) this committed value.
    Above(String),
}

impl Incremental {
    /// The incremental state of `cfg` (at JSON path `at`) over `sources` (the tables read, or
    /// `files`); `key_parts` (the datasets read: database and table) make the default key of a
    /// state-table row.
    pub fn new(
        cfg: &IncrementalConfig,
        at: &str,
        sources: &[String],
        key_parts: &[String],
    ) -> Result<Self, ConfigError> {
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
            None => default_key(key_parts, &cfg.column),
        };
        Ok(Incremental {
            column: cfg.column.clone(),
            inclusive: cfg.inclusive,
            store,
            key,
            sources: sources.to_vec(),
            full: Mutex::new(false),
            pending: Mutex::new(BTreeMap::new()),
            value_check: None,
            inputs: None,
        })
    }

    /// One mark covers `inputs` (see [`Watermark::inputs`]): a committed mark of other inputs
    /// is refused by [`Incremental::lows`] (not with `--full`); a commit or `datasync state
    /// set` records these.
    pub fn covering(mut self, inputs: Vec<String>) -> Self {
        self.inputs = Some(inputs);
        self
    }

    /// Makes `datasync state set` check its value with `check` (a reader whose marks have one
    /// form, e.g. a modification time); others are taken as given.
    pub fn check_values_with(mut self, check: ValueCheck) -> Self {
        self.value_check = Some(check);
        self
    }

    /// Gives a `table:` state its table (the reader's database); a file state ignores it.
    pub fn attach_table(&mut self, table: Arc<dyn StateTable>) {
        if let Store::Table { backend, .. } = &mut self.store {
            *backend = Some(table);
        }
    }

    /// Where the watermarks are kept, for messages.
    pub fn location(&self) -> String {
        match &self.store {
            Store::File(p) => format!("state file {}", p.display()),
            Store::Table { name, .. } => format!("state table {name} (key {})", self.key),
        }
    }

    /// `--full`: this run ignores the committed watermarks.
    pub fn set_full(&self) {
        if let Ok(mut f) = self.full.lock() {
            *f = true;
        }
    }

    /// Whether `--full` was given.
    pub fn is_full(&self) -> bool {
        self.full.lock().map(|f| *f).unwrap_or(false)
    }

    /// The stored text, if any.
    async fn read(&self) -> Result<Option<String>, String> {
        match &self.store {
            Store::File(path) => match std::fs::read_to_string(path) {
                Ok(t) => Ok(Some(t)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{}: {e}", self.location())),
            },
            Store::Table { name, .. } => self
                .backend()?
                .get(name, &self.key)
                .await
                .map_err(|e| format!("{}: {e}", self.location())),
        }
    }

    fn backend(&self) -> Result<&Arc<dyn StateTable>, String> {
        match &self.store {
            Store::Table {
                backend: Some(b), ..
            } => Ok(b),
            _ => Err(format!(
                "{}: this reader cannot keep state in a table",
                self.location()
            )),
        }
    }

    /// The committed watermarks, if any; those of another column are an error (the job's
    /// column changed: `--full` or `datasync state reset` start over).
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

    /// Where this run's window of each source starts: everything with `--full` or before
    /// any committed run, else its committed watermark. The state is read once; watermarks of
    /// sources the job no longer reads are reported (they stay in the state).
    pub async fn lows(&self) -> Result<BTreeMap<String, Low>, String> {
        let w = self.load().await?;
        if let (Some(w), Some(mine), false) = (&w, &self.inputs, self.is_full()) {
            // Fewer inputs are fine; a new one may hold files older than the mark.
            if w.inputs.is_none() {
                tracing::warn!(
                    "{}: the mark does not say which inputs it covers (an earlier version wrote \
                     it); it is taken to cover this job's [{}], and this run records them",
                    self.location(),
                    mine.join(", ")
                );
            }
            if let Some(theirs) = &w.inputs {
                if mine.iter().any(|i| !theirs.contains(i)) {
                    return Err(format!(
                        "{} holds a mark for the inputs [{}], and this job reads [{}]: files of \
                         a new input that are older than the mark would never be read. Run with \
                         --full (reads every file), or `datasync state set` a mark older than \
                         the files still to read, or `datasync state reset`",
                        self.location(),
                        theirs.join(", "),
                        mine.join(", ")
                    ));
                }
            }
        }
        if let Some(w) = &w {
            let stale: Vec<&str> = w
                .values
                .keys()
                .filter(|k| !self.sources.contains(k))
                .map(String::as_str)
                .collect();
            if !stale.is_empty() {
                tracing::warn!(
                    "{} holds watermarks of sources this job does not read ({}); its sources are {}",
                    self.location(),
                    stale.join(", "),
                    self.sources.join(", ")
                );
            }
        }
        let values = w.map(|w| w.values).unwrap_or_default();
        Ok(self
            .sources
            .iter()
            .map(|s| {
                let low = match values.get(s) {
                    _ if self.is_full() => Low::First,
                    None => Low::First,
                    Some(None) => Low::Nulls,
                    Some(Some(v)) => Low::Above(v.clone()),
                };
                (s.clone(), low)
            })
            .collect())
    }

    /// Where this run's window of `source` starts (see [`Incremental::lows`]).
    pub async fn low(&self, source: &str) -> Result<Low, String> {
        Ok(self.lows().await?.remove(source).unwrap_or(Low::First))
    }

    /// Remembers `source`'s high-water mark of this run until [`Incremental::commit`] (none:
    /// it held no value, only NULLs or no rows).
    pub fn begin(&self, source: &str, high: Option<String>) {
        if let Ok(mut p) = self.pending.lock() {
            p.insert(source.to_string(), high);
        }
    }

    /// This run's high-water marks, once planned (what [`Incremental::commit`] records).
    pub fn pending(&self) -> BTreeMap<String, Option<String>> {
        self.pending.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Records this run's high-water marks (after the writer's commit succeeded); sources
    /// without one keep theirs.
    pub async fn commit(&self, run_id: &str) -> Result<(), String> {
        self.record(self.pending(), run_id).await
    }

    /// Records `marks` over the committed watermarks (`datasync commit` of a plan: the
    /// plan's marks).
    pub async fn record(
        &self,
        marks: BTreeMap<String, Option<String>>,
        run_id: &str,
    ) -> Result<(), String> {
        if marks.is_empty() {
            return Ok(());
        }
        let mut values = self.load().await?.map(|w| w.values).unwrap_or_default();
        for (k, v) in marks {
            // A source that held a value keeps it when this run saw none above it.
            if v.is_some() || !matches!(values.get(&k), Some(Some(_))) {
                values.insert(k, v);
            }
        }
        self.save(values, run_id).await
    }

    /// `datasync state set`: `value` as the watermark of `source`, or of every source.
    pub async fn set(&self, source: Option<&str>, value: &str) -> Result<(), String> {
        let names: Vec<String> = match source {
            Some(s) if self.sources.iter().any(|x| x == s) => vec![s.to_string()],
            Some(s) => {
                return Err(format!(
                    "\"{s}\" is not one of the job's sources ({})",
                    self.sources.join(", ")
                ))
            }
            None => self.sources.clone(),
        };
        if let Some(check) = self.value_check {
            check(value)?;
        }
        let mut values = self.load().await?.map(|w| w.values).unwrap_or_default();
        for n in names {
            values.insert(n, Some(value.to_string()));
        }
        self.save(values, "manual").await
    }

    /// Writes `values` as the committed watermarks: a file is replaced atomically (a
    /// temporary file beside it, synced, renamed over it, the directory synced: a crash leaves
    /// the old or the new state, never half of one); a table row in one transaction.
    async fn save(
        &self,
        values: BTreeMap<String, Option<String>>,
        run_id: &str,
    ) -> Result<(), String> {
        let w = Watermark {
            column: self.column.clone(),
            values,
            run_id: run_id.to_string(),
            updated_at: chrono::Utc::now().to_rfc3339(),
            inputs: self.inputs.clone(),
        };
        let text = serde_json::to_string_pretty(&w).map_err(|e| e.to_string())?;
        match &self.store {
            Store::File(path) => {
                write_file(path, &text).map_err(|e| format!("{}: {e}", self.location()))
            }
            Store::Table { name, .. } => self
                .backend()?
                .put(name, &self.key, &text)
                .await
                .map_err(|e| format!("{}: {e}", self.location())),
        }
    }

    /// Checks before a run that its watermarks can be recorded after the commit (the state
    /// file's directory writable; the state table there, made if missing, and writable), so a
    /// run does not commit data it then cannot account for.
    pub async fn check_writable(&self) -> Result<(), String> {
        match &self.store {
            Store::File(path) => {
                let probe = path.with_file_name(format!(
                    ".{}.probe-{}",
                    path.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default(),
                    std::process::id()
                ));
                write_file(&probe, "")
                    .and_then(|()| std::fs::remove_file(&probe))
                    .map_err(|e| format!("{}: cannot be written: {e}", self.location()))
            }
            Store::Table { name, .. } => self
                .backend()?
                .check(name)
                .await
                .map_err(|e| format!("{}: {e}", self.location())),
        }
    }

    /// `check --connect`: whether the state file can be written where it is configured (its
    /// directory as a target directory is probed); a state table is checked when the job runs
    /// (making it is a write).
    pub fn probe(&self, p: &mut crate::plugin::Probe) {
        let what = "incremental state";
        let Store::File(path) = &self.store else {
            return p.ok(
                what,
                format!(
                    "{}: checked (made if missing) when the job runs",
                    self.location()
                ),
            );
        };
        if path.is_dir() {
            return p.problem(what, format!("{}: is a directory", self.location()));
        }
        let found = if path.is_file() {
            "holds the committed watermark"
        } else {
            "none yet; made after the first commit"
        };
        p.ok(what, format!("{}: {found}", self.location()));
        match path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => p.directory(dir),
            None => p.directory(std::path::Path::new(".")),
        }
    }

    /// Removes the committed watermarks (the next run reads everything); whether there were.
    pub async fn reset(&self) -> Result<bool, String> {
        let had = self.read().await?.is_some();
        match &self.store {
            Store::File(path) => match std::fs::remove_file(path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(format!("{}: {e}", self.location())),
            },
            Store::Table { name, .. } if had => self
                .backend()?
                .remove(name, &self.key)
                .await
                .map(|()| true)
                .map_err(|e| format!("{}: {e}", self.location())),
            Store::Table { .. } => Ok(false),
        }
    }
}

/// The default state-table key: the sources and the column, a long list shortened with a
/// hash of the whole (a key holds at most 255 characters).
fn default_key(sources: &[String], column: &str) -> String {
    let key = format!("{}:{column}", sources.join(","));
    if key.len() <= 200 {
        return key;
    }
    // FNV-1a: the same key from every build of datasync.
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut cut = 150;
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}..{h:016x}:{column}", &key[..cut])
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
            inclusive: None,
        };
        Incremental::new(
            &cfg,
            "p.incremental",
            &["a".into(), "b".into()],
            &["db.a".into()],
        )
        .unwrap()
    }

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn watermarks_move_per_source_only_on_commit() {
        block(async {
            let t = tempfile::tempdir().unwrap();
            let i = inc(t.path(), "id");
            i.check_writable().await.unwrap();
            assert_eq!(i.low("a").await.unwrap(), Low::First);
            i.begin("a", Some("10".into()));
            i.begin("b", None);
            assert_eq!(i.low("a").await.unwrap(), Low::First, "not before commit");
            i.commit("r1").await.unwrap();
            assert_eq!(i.low("a").await.unwrap(), Low::Above("10".into()));
            assert_eq!(i.low("b").await.unwrap(), Low::Nulls, "read, only NULLs");
            // A later run moves b only; a keeps its mark.
            let j = inc(t.path(), "id");
            j.begin("b", Some("3".into()));
            j.commit("r2").await.unwrap();
            let w = j.load().await.unwrap().unwrap();
            assert_eq!(w.run_id, "r2");
            assert_eq!(w.values.get("a"), Some(&Some("10".to_string())));
            assert_eq!(w.values.get("b"), Some(&Some("3".to_string())));
            // A later run that saw nothing above a value keeps the value.
            let k = inc(t.path(), "id");
            k.begin("a", None);
            k.commit("r3").await.unwrap();
            assert_eq!(k.low("a").await.unwrap(), Low::Above("10".into()));
            j.set_full();
            assert_eq!(j.low("a").await.unwrap(), Low::First);
            j.set(Some("a"), "7").await.unwrap();
            assert_eq!(
                inc(t.path(), "id").low("a").await.unwrap(),
                Low::Above("7".into())
            );
            assert!(j
                .set(Some("c"), "7")
                .await
                .unwrap_err()
                .contains("not one of"));
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
                inclusive: None,
            };
            let e =
                Incremental::new(&cfg, "p.incremental", &["t".into()], &["t".into()]).unwrap_err();
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
            inclusive: None,
        };
        let i = Incremental::new(&cfg, "p", &["orders".into()], &["orders".into()]).unwrap();
        assert_eq!(
            i.location(),
            "state table meta.watermarks (key orders:updated_at)"
        );
        assert!(block(i.load())
            .unwrap_err()
            .contains("cannot keep state in a table"));
        let many: Vec<String> = (0..64).map(|n| format!("orders_{n:02}")).collect();
        let k = default_key(&many, "updated_at");
        assert!(k.len() <= 255 && k.ends_with(":updated_at"), "{k}");
        assert_ne!(k, default_key(&many[1..], "updated_at"));
    }

    #[test]
    fn a_damaged_state_file_is_an_error_not_a_restart() {
        let t = tempfile::tempdir().unwrap();
        let i = inc(t.path(), "id");
        std::fs::create_dir_all(t.path().join("s")).unwrap();
        std::fs::write(t.path().join("s/orders.json"), "{garbage").unwrap();
        assert!(block(i.low("a")).unwrap_err().contains("datasync state"));
    }

    #[test]
    fn an_unwritable_state_is_found_before_the_run() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("s"), "a file where a directory should be").unwrap();
        let i = inc(t.path(), "id");
        assert!(block(i.check_writable())
            .unwrap_err()
            .contains("cannot be written"));
    }
}
