//! The Parquet writer: validation, staging, the per-task file writing, and the commit that
//! publishes partitions, writes `_SUCCESS` and registers partitions in the metastore.

use super::config::{ParquetWriteMode, ParquetWriterConfig};
use super::convert::{convert, BadRows};
use super::file::{FileError, FileLayout, OpenFile};
use super::hms::{self, HmsClient, HmsError};
use crate::file::FileWriter;
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field};
use datasync_codec::hive::{
    check_default_fs, hdfs_text_params, is_hidden_name, parse_hive_type, partition_dir,
    unescape_partition_value, HiveType, DEFAULT_PARTITION,
};
use datasync_codec::values::{column_names, row_values};
use datasync_codec::ValueWriter;
use datasync_engine::channel::BatchReceiver;
use datasync_engine::config::{join_path, parse_params, ConfigError};
use datasync_engine::{
    async_trait, run_id, DirtyRecord, Params, PluginError, TaskContext, Writer, WriterPlugin,
    WriterTask,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Most files a task keeps open at once (one per partition it is writing); the least recently
/// used is finished when a new partition needs one.
const MAX_OPEN_FILES: usize = 32;

/// Errors of the Parquet writer.
#[derive(Debug, thiserror::Error)]
pub enum ParquetWriterError {
    /// A file system call failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing a file failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// The metastore.
    #[error(transparent)]
    Hms(#[from] HmsError),
    /// The metastore did not take the partitions (nothing was published).
    #[error(
        "{parts} partition(s) could not be registered in the metastore, so no file was \
         published; run the job again when the metastore answers"
    )]
    Unregistered {
        /// How many partitions.
        parts: usize,
        /// Why.
        #[source]
        source: Box<ParquetWriterError>,
    },
    /// Configuration that only the target can refute.
    #[error("{0}")]
    Target(String),
    /// `nonConflict` and a target partition has files.
    #[error("writeMode nonConflict: {dir} already has data files: {files}")]
    Conflict {
        /// The partition directory.
        dir: PathBuf,
        /// Some of them.
        files: String,
    },
    /// The incoming batches do not match the declared columns.
    #[error(
        "the reader produces {got} columns ({names}); the writer declares {want} ({declared})"
    )]
    Columns {
        /// Incoming count.
        got: usize,
        /// Incoming names.
        names: String,
        /// Declared count.
        want: usize,
        /// Declared names.
        declared: String,
    },
    /// Arrow refused to assemble, filter or regroup a batch.
    #[error("cannot arrange the rows of a batch")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Publishing or recovering staged files failed.
    #[error(transparent)]
    Publish(#[from] crate::publish::PublishError),
    /// A blocking thread died.
    #[error("parquet writer thread failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl From<ParquetWriterError> for PluginError {
    fn from(e: ParquetWriterError) -> Self {
        let retriable = matches!(&e, ParquetWriterError::Hms(h) if h.is_retriable());
        if retriable {
            PluginError::retriable(e)
        } else {
            PluginError::new(e)
        }
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ParquetWriterError {
    let path = path.to_path_buf();
    move |source| ParquetWriterError::Io {
        action,
        path,
        source,
    }
}

/// Where partitions are registered.
#[derive(Debug, Clone)]
struct HmsTarget {
    uris: String,
    database: String,
    table: String,
    create: bool,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    stem: String,
    mode: ParquetWriteMode,
    columns: Vec<(String, HiveType)>,
    static_parts: Vec<(String, String)>,
    dynamic_parts: Vec<(String, HiveType)>,
    layout: Arc<FileLayout>,
    staging: PathBuf,
    hms: Option<HmsTarget>,
}

/// The Parquet writer.
#[derive(Debug, Clone)]
pub struct ParquetWriter {
    kind: Kind,
}

/// What `fileType` selected.
#[derive(Debug, Clone)]
enum Kind {
    /// Parquet (the default).
    Parquet(Arc<Inner>),
    /// `fileType` text or csv: the file writer with the same path and naming.
    Text(FileWriter),
}

/// Keys of DataX's hdfswriter that mean something for `fileType` text/csv.
const TEXT_KEYS: &[&str] = &[
    "defaultFS",
    "fileType",
    "path",
    "fileName",
    "column",
    "writeMode",
    "fieldDelimiter",
    "compress",
    "encoding",
    "nullFormat",
    "dateFormat",
    "header",
];

/// `hdfswriter` with `fileType` text/csv: the same files the file writer writes (columns as
/// they arrive; `column` only documents them).
fn text_writer(p: Params<'_>, file_type: &str) -> Result<FileWriter, ConfigError> {
    let value = hdfs_text_params(p.value, p.path, file_type, TEXT_KEYS, &["column"])?;
    FileWriter::from_params(Params {
        value: &value,
        path: p.path,
        invoked_as: p.invoked_as,
    })
}

fn err(path: &str, key: &str, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(join_path(path, key), msg)
}

impl WriterPlugin for ParquetWriter {
    const NAME: &'static str = "parquet";
    const ALIASES: &'static [&'static str] = &["hdfswriter"];
    const DESCRIPTION: &'static str =
        "Hive-style Parquet tables on a local or mounted path: partitions, staging, _SUCCESS, Hive Metastore registration";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        if let Some(t) = p.value.get("fileType").and_then(Value::as_str) {
            if t.eq_ignore_ascii_case("text") || t.eq_ignore_ascii_case("csv") {
                return text_writer(p, t).map(|w| ParquetWriter {
                    kind: Kind::Text(w),
                });
            }
        }
        let c: ParquetWriterConfig = parse_params(p.value, p.path)?;
        check_default_fs(p.path, c.default_fs.as_deref())?;
        if let Some(t) = c.file_type.as_deref() {
            if !t.eq_ignore_ascii_case("parquet") {
                return Err(err(
                    p.path,
                    "fileType",
                    format!("\"{t}\": allowed are parquet (default), text and csv"),
                ));
            }
        }
        if c.path.trim().is_empty() {
            return Err(err(p.path, "path", "must name the table's directory"));
        }
        let path = c.path.strip_prefix("file://").unwrap_or(&c.path);
        if c.file_name.is_empty() || c.file_name.contains('/') || is_hidden_name(&c.file_name) {
            return Err(err(
                p.path,
                "fileName",
                "must be a plain file name prefix (no '/', not starting with '.' or '_')",
            ));
        }
        let stem = c
            .file_name
            .strip_suffix(".parquet")
            .unwrap_or(&c.file_name)
            .to_string();
        if c.column.is_empty() {
            return Err(err(p.path, "column", "must declare at least one column"));
        }
        let mut seen: Vec<String> = Vec::new();
        let mut unique = |name: &str, at: String| {
            let lower = name.to_ascii_lowercase();
            if name.trim().is_empty() {
                return Err(ConfigError::new(at, "a column needs a name"));
            }
            if seen.contains(&lower) {
                return Err(ConfigError::new(
                    at,
                    format!("column \"{name}\" is declared twice"),
                ));
            }
            seen.push(lower);
            Ok(())
        };
        let mut columns = Vec::new();
        for (i, col) in c.column.iter().enumerate() {
            unique(&col.name, join_path(p.path, &format!("column[{i}].name")))?;
            let t = parse_hive_type(&col.type_name)
                .map_err(|m| err(p.path, &format!("column[{i}].type"), m))?;
            columns.push((col.name.clone(), t));
        }
        let mut static_parts = Vec::new();
        for (k, v) in &c.partition {
            unique(k, join_path(p.path, &format!("partition.{k}")))?;
            let v = match v {
                Value::String(s) if !s.is_empty() => s.clone(),
                Value::Number(n) => n.to_string(),
                other => {
                    return Err(err(
                        p.path,
                        &format!("partition.{k}"),
                        format!("expected a non-empty string or number, found {other}"),
                    ))
                }
            };
            static_parts.push((k.clone(), v));
        }
        let mut dynamic_parts = Vec::new();
        for (i, pc) in c.partition_columns.iter().enumerate() {
            unique(
                &pc.name,
                join_path(p.path, &format!("partitionColumns[{i}]")),
            )?;
            let t = parse_hive_type(&pc.type_name)
                .map_err(|m| err(p.path, &format!("partitionColumns[{i}].type"), m))?;
            dynamic_parts.push((pc.name.clone(), t));
        }
        let hms = match &c.hive_metastore_uris {
            None => None,
            Some(uris) => {
                hms::parse_uris(uris)
                    .map_err(|e| err(p.path, "hiveMetastoreUris", e.to_string()))?;
                let table = c
                    .table
                    .clone()
                    .filter(|t| !t.trim().is_empty())
                    .ok_or_else(|| {
                        err(
                            p.path,
                            "table",
                            "required with hiveMetastoreUris: the Hive table to register in",
                        )
                    })?;
                Some(HmsTarget {
                    uris: uris.clone(),
                    database: c.database.clone().unwrap_or_else(|| "default".into()),
                    table,
                    create: c.create_table,
                })
            }
        };
        if hms.is_none() && (c.table.is_some() || c.create_table) {
            return Err(err(
                p.path,
                "hiveMetastoreUris",
                "table/createTable need hiveMetastoreUris (thrift://host:9083)",
            ));
        }
        let fields = columns
            .iter()
            .map(|(n, t)| Field::new(n, t.arrow.clone(), true))
            .collect();
        let layout = FileLayout::new(
            fields,
            c.compress,
            c.timestamp_type,
            c.row_group_size.unwrap_or(1_000_000) as usize,
            c.max_file_size.map(|b| b.0).filter(|b| *b > 0),
        )
        .map_err(|e| err(p.path, "column", e.to_string()))?;
        let dir = PathBuf::from(path);
        let staging = dir.join(format!(".datasync-staging-{stem}-{}", run_id()));
        Ok(ParquetWriter {
            kind: Kind::Parquet(Arc::new(Inner {
                dir,
                stem,
                mode: c.write_mode,
                columns,
                static_parts,
                dynamic_parts,
                layout: Arc::new(layout),
                staging,
                hms,
            })),
        })
    }

    fn template() -> Value {
        json!({
            "path": "${output_dir}/orders",
            "fileName": "orders",
            "column": [
                {"name": "id", "type": "BIGINT"},
                {"name": "customer", "type": "VARCHAR(64)"},
                {"name": "amount", "type": "DECIMAL(12,2)"},
                {"name": "created_at", "type": "TIMESTAMP"}
            ],
            "writeMode": "truncate",
            "compress": "snappy",
            "rowGroupSize": 1000000,
            "maxFileSize": "512MB",
            "partition": {"dt": "${biz_date}"},
            "partitionColumns": [],
            "timestampType": "int64-micros"
        })
    }
}

impl Inner {
    fn static_rel(&self) -> String {
        let (keys, values): (Vec<String>, Vec<Option<String>>) = self
            .static_parts
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .unzip();
        partition_dir(&keys, &values)
    }

    fn partition_keys(&self) -> Vec<String> {
        self.static_parts
            .iter()
            .map(|(k, _)| k.clone())
            .chain(self.dynamic_parts.iter().map(|(k, _)| k.clone()))
            .collect()
    }

    /// Data files (not hidden, not directories) in `dir`.
    fn data_files(dir: &Path) -> Result<Vec<PathBuf>, ParquetWriterError> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("cannot list", dir)(e)),
        };
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(io("cannot list", dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_hidden_name(&name) && e.file_type().is_ok_and(|t| t.is_file()) {
                out.push(e.path());
            }
        }
        out.sort();
        Ok(out)
    }

    fn check_conflict(&self, rel: &str) -> Result<(), ParquetWriterError> {
        if self.mode != ParquetWriteMode::NonConflict {
            return Ok(());
        }
        let dir = self.dir.join(rel);
        let files = Self::data_files(&dir)?;
        if files.is_empty() {
            return Ok(());
        }
        Err(ParquetWriterError::Conflict {
            dir,
            files: crate::file::some_paths(&files),
        })
    }

    /// Finishes or removes what earlier runs of this table's `fileName` left in staging.
    fn recover(&self) -> Result<Vec<String>, ParquetWriterError> {
        let prefix = format!(".datasync-staging-{}-", self.stem);
        let done = crate::publish::recover(&self.dir, &prefix, Some(&self.staging))?;
        Ok(crate::publish::describe(&done))
    }

    fn location(dir: &Path) -> Result<String, ParquetWriterError> {
        let abs = fs::canonicalize(dir).map_err(io("cannot resolve", dir))?;
        Ok(format!("file:{}", abs.display()))
    }

    /// Checks (and with `createTable` creates) the Hive table.
    fn prepare_hms(&self, t: &HmsTarget) -> Result<(), ParquetWriterError> {
        let mut c = HmsClient::connect(&t.uris, Duration::from_secs(10))?;
        if !c.database_exists(&t.database)? {
            return Err(ParquetWriterError::Target(format!(
                "Hive database \"{}\" does not exist in the metastore at {}",
                t.database, t.uris
            )));
        }
        let keys = self.partition_keys();
        match c.get_table(&t.database, &t.table)? {
            Some(table) => {
                let have = hms::partition_key_names(&table);
                let same = have.len() == keys.len()
                    && have.iter().zip(&keys).all(|(a, b)| a.eq_ignore_ascii_case(b));
                if !same {
                    return Err(ParquetWriterError::Target(format!(
                        "Hive table {}.{} is partitioned by [{}], the job writes partitions [{}]",
                        t.database,
                        t.table,
                        have.join(", "),
                        keys.join(", ")
                    )));
                }
                if let Some(loc) = hms::table_location(&table) {
                    let ours = Self::location(&self.dir)?;
                    if loc.trim_end_matches('/') != ours.trim_end_matches('/') {
                        tracing::warn!(
                            "Hive table {}.{} is located at {loc}, the job writes to {ours}",
                            t.database,
                            t.table
                        );
                    }
                }
                Ok(())
            }
            None if t.create => {
                let cols = self
                    .columns
                    .iter()
                    .map(|(n, ty)| hms::field_schema(n, &ty.name))
                    .collect();
                let pkeys = self
                    .static_parts
                    .iter()
                    .map(|(k, _)| hms::field_schema(k, "string"))
                    .chain(
                        self.dynamic_parts
                            .iter()
                            .map(|(k, ty)| hms::field_schema(k, &ty.name)),
                    )
                    .collect();
                let sd = hms::parquet_sd(cols, &Self::location(&self.dir)?);
                let table =
                    hms::external_table(&t.database, &t.table, &owner(), sd, pkeys, now_secs());
                c.create_table(table)?;
                tracing::info!("created Hive table {}.{}", t.database, t.table);
                Ok(())
            }
            None => Err(ParquetWriterError::Target(format!(
                "Hive table {}.{} does not exist in the metastore; create it or set createTable: true",
                t.database, t.table
            ))),
        }
    }

    fn prepare(&self) -> Result<(), ParquetWriterError> {
        fs::create_dir_all(&self.dir).map_err(io("cannot create directory", &self.dir))?;
        self.recover()?;
        if self.dynamic_parts.is_empty() {
            self.check_conflict(&self.static_rel())?;
        }
        if let Some(t) = &self.hms {
            self.prepare_hms(t)?;
        }
        crate::publish::create_staging(&self.staging)?;
        Ok(())
    }

    /// Staged files by partition directory (relative to the table).
    fn staged(&self) -> Result<BTreeMap<String, Vec<PathBuf>>, ParquetWriterError> {
        fn walk(
            root: &Path,
            dir: &Path,
            out: &mut BTreeMap<String, Vec<PathBuf>>,
        ) -> Result<(), ParquetWriterError> {
            for e in fs::read_dir(dir).map_err(io("cannot list", dir))? {
                let e = e.map_err(io("cannot list", dir))?;
                let path = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(root, &path, out)?;
                } else if !is_hidden_name(&e.file_name().to_string_lossy()) {
                    let rel = dir
                        .strip_prefix(root)
                        .map(|r| r.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    out.entry(rel).or_default().push(path);
                }
            }
            Ok(())
        }
        let mut out = BTreeMap::new();
        walk(&self.staging, &self.staging, &mut out)?;
        for files in out.values_mut() {
            files.sort();
        }
        Ok(out)
    }

    fn publish(&self) -> Result<(), ParquetWriterError> {
        let mut staged = self.staged()?;
        if self.dynamic_parts.is_empty() {
            staged.entry(self.static_rel()).or_default();
        }
        for rel in staged.keys() {
            self.check_conflict(rel)?;
        }
        // The files truncate replaces, listed before anything moves.
        let mut old = Vec::new();
        if self.mode == ParquetWriteMode::Truncate {
            for rel in staged.keys() {
                old.extend(Self::data_files(&self.dir.join(rel))?);
            }
        }
        // One journaled commit: old `_SUCCESS` markers out, every new file in, the files
        // truncate replaces out, new markers in (see crate::publish). A file that cannot move
        // puts back what moved, so a failed commit leaves the table as it was.
        let mut journal = crate::publish::Journal::default();
        for (rel, files) in &staged {
            let target = self.dir.join(rel);
            journal.unmark.push(target.join("_SUCCESS"));
            journal.mark.push(target.join("_SUCCESS"));
            for f in files {
                if let Some(name) = f.file_name() {
                    journal.moves.push((f.clone(), target.join(name)));
                }
            }
        }
        journal.replace = old;
        // Partitions are registered (idempotently) before any file moves: a metastore that is
        // down fails the job with nothing published, and a commit that a crash cut short is
        // finished by the journal alone (`recover` needs no metastore). A new partition's
        // directory is made first, so it never points at nothing.
        if let Some(t) = &self.hms {
            let parts: Vec<&String> = staged.keys().filter(|r| !r.is_empty()).collect();
            if !parts.is_empty() {
                for rel in &parts {
                    let d = self.dir.join(rel);
                    std::fs::create_dir_all(&d).map_err(|source| ParquetWriterError::Io {
                        action: "create partition directory",
                        path: d.clone(),
                        source,
                    })?;
                }
                self.register(t, &parts)
                    .map_err(|source| ParquetWriterError::Unregistered {
                        parts: parts.len(),
                        source: Box::new(source),
                    })?;
            }
        }
        crate::publish::commit(&self.staging, &journal)?;
        Ok(())
    }

    fn register(&self, t: &HmsTarget, rels: &[&String]) -> Result<(), ParquetWriterError> {
        let mut c = HmsClient::connect(&t.uris, Duration::from_secs(10))?;
        let table = c.get_table(&t.database, &t.table)?.ok_or_else(|| {
            ParquetWriterError::Target(format!(
                "Hive table {}.{} disappeared from the metastore during the job",
                t.database, t.table
            ))
        })?;
        let cols = table
            .field(7)
            .and_then(|sd| sd.field(1))
            .cloned()
            .unwrap_or_else(|| hms::struct_list(vec![]));
        let cols: Vec<hms::TValue> = cols.as_list().to_vec();
        let now = now_secs();
        let mut parts = Vec::new();
        for rel in rels {
            let values: Vec<String> = rel
                .split('/')
                .map(|kv| {
                    let v = kv.split_once('=').map(|(_, v)| v).unwrap_or(kv);
                    unescape_partition_value(v).unwrap_or_else(|| DEFAULT_PARTITION.to_string())
                })
                .collect();
            let sd = hms::parquet_sd(cols.clone(), &Self::location(&self.dir.join(rel))?);
            parts.push(hms::partition(&t.database, &t.table, &values, sd, now));
        }
        // Requests stay small: the metastore holds each one in memory.
        let mut left = parts;
        while !left.is_empty() {
            let rest = left.split_off(left.len().min(500));
            c.add_partitions(&t.database, &t.table, left)?;
            left = rest;
        }
        tracing::info!(
            "registered {} partition(s) in Hive table {}.{}",
            rels.len(),
            t.database,
            t.table
        );
        Ok(())
    }
}

fn owner() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "datasync".into())
}

fn now_secs() -> i32 {
    i32::try_from(chrono::Utc::now().timestamp()).unwrap_or(i32::MAX)
}

#[async_trait]
impl Writer for ParquetWriter {
    async fn prepare(&self) -> Result<(), PluginError> {
        let w = match &self.kind {
            Kind::Text(t) => return t.prepare().await,
            Kind::Parquet(w) => Arc::clone(w),
        };
        tokio::task::spawn_blocking(move || w.prepare())
            .await
            .map_err(ParquetWriterError::from)??;
        Ok(())
    }

    async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError> {
        let w = match &self.kind {
            Kind::Text(t) => return t.split(n).await,
            Kind::Parquet(w) => w,
        };
        Ok((0..n)
            .map(|task| {
                Box::new(ParquetTask {
                    w: Arc::clone(w),
                    task,
                }) as Box<dyn WriterTask>
            })
            .collect())
    }

    async fn commit(&self) -> Result<(), PluginError> {
        let w = match &self.kind {
            Kind::Text(t) => return t.commit().await,
            Kind::Parquet(w) => Arc::clone(w),
        };
        tokio::task::spawn_blocking(move || w.publish())
            .await
            .map_err(ParquetWriterError::from)??;
        Ok(())
    }

    async fn abort(&self) -> Result<(), PluginError> {
        match &self.kind {
            Kind::Text(t) => t.abort().await,
            Kind::Parquet(w) => crate::file::remove_staging(w.staging.clone()).await,
        }
    }

    async fn recover(&self) -> Result<Vec<String>, PluginError> {
        let w = match &self.kind {
            Kind::Text(t) => return Writer::recover(t).await,
            Kind::Parquet(w) => Arc::clone(w),
        };
        let lines = tokio::task::spawn_blocking(move || w.recover())
            .await
            .map_err(ParquetWriterError::from)??;
        Ok(lines)
    }

    fn task_fingerprint(&self, task: usize) -> Option<String> {
        match &self.kind {
            Kind::Text(t) => Writer::task_fingerprint(t, task),
            Kind::Parquet(w) => {
                let prefix = format!("{}__{}_{task:05}_", w.stem, run_id());
                crate::publish::fingerprint(&w.staging, &[], |name| name.starts_with(&prefix))
            }
        }
    }

    fn resume(&self) -> datasync_engine::Resume {
        match &self.kind {
            Kind::Text(t) => Writer::resume(t),
            Kind::Parquet(w) => {
                datasync_engine::Resume::StateFile(w.staging.join(crate::publish::RUN_STATE_FILE))
            }
        }
    }
}

struct ParquetTask {
    w: Arc<Inner>,
    task: usize,
}

/// A partition's open file and how many files the task has written there.
struct Part {
    open: Option<OpenFile>,
    seq: usize,
    used: u64,
}

/// The per-task state on the blocking thread.
struct TaskWriter {
    w: Arc<Inner>,
    prefix: String,
    parts: HashMap<String, Part>,
    tick: u64,
}

impl TaskWriter {
    fn write(&mut self, rel: &str, batch: &RecordBatch) -> Result<(), ParquetWriterError> {
        self.tick += 1;
        let open_count = self.parts.values().filter(|p| p.open.is_some()).count();
        let needs_open = self.parts.get(rel).is_none_or(|p| p.open.is_none());
        if needs_open && open_count >= MAX_OPEN_FILES {
            let lru = self
                .parts
                .iter()
                .filter(|(_, p)| p.open.is_some())
                .min_by_key(|(_, p)| p.used)
                .map(|(k, _)| k.clone());
            if let Some(k) = lru {
                if let Some(f) = self.parts.get_mut(&k).and_then(|p| p.open.take()) {
                    f.finish()?;
                }
            }
        }
        let part = self.parts.entry(rel.to_string()).or_insert(Part {
            open: None,
            seq: 0,
            used: 0,
        });
        part.used = self.tick;
        if part.open.is_none() {
            let dir = self.w.staging.join(rel);
            fs::create_dir_all(&dir).map_err(io("cannot create directory", &dir))?;
            let path = dir.join(format!("{}{:04}.parquet", self.prefix, part.seq));
            part.seq += 1;
            part.open = Some(OpenFile::create(&path, Arc::clone(&self.w.layout))?);
        }
        if let Some(f) = &mut part.open {
            f.write(batch)?;
            if f.full() {
                if let Some(f) = part.open.take() {
                    f.finish()?;
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ParquetWriterError> {
        for p in self.parts.values_mut() {
            if let Some(f) = p.open.take() {
                f.finish()?;
            }
        }
        Ok(())
    }

    /// Removes files an earlier attempt of this task staged.
    fn clear_earlier_attempt(&self) -> Result<(), ParquetWriterError> {
        fn walk(dir: &Path, prefix: &str) -> Result<(), ParquetWriterError> {
            let rd = match fs::read_dir(dir) {
                Ok(rd) => rd,
                Err(_) => return Ok(()),
            };
            for e in rd.flatten() {
                let path = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&path, prefix)?;
                } else if e.file_name().to_string_lossy().starts_with(prefix) {
                    fs::remove_file(&path).map_err(io("cannot remove", &path))?;
                }
            }
            Ok(())
        }
        walk(&self.w.staging, &self.prefix)
    }
}

/// Text of each row of a partition column, as Hive names the partition.
fn partition_texts(a: &ArrayRef) -> Result<Vec<Option<String>>, String> {
    let w = ValueWriter::new(a)?;
    let mut buf = Vec::new();
    (0..a.len())
        .map(|i| {
            if a.is_null(i) {
                return Ok(None);
            }
            buf.clear();
            w.write(i, &mut buf, None)?;
            Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
        })
        .collect()
}

#[async_trait]
impl WriterTask for ParquetTask {
    fn retry_safe(&self) -> bool {
        // Files of an earlier attempt are removed from staging before a retry writes anew.
        true
    }

    async fn write(
        &mut self,
        mut input: BatchReceiver,
        ctx: TaskContext,
    ) -> Result<(), PluginError> {
        let w = Arc::clone(&self.w);
        let task = self.task;
        tokio::task::spawn_blocking(move || -> Result<(), PluginError> {
            let mut tw = TaskWriter {
                prefix: format!("{}__{}_{task:05}_", w.stem, run_id()),
                w: Arc::clone(&w),
                parts: HashMap::new(),
                tick: 0,
            };
            tw.clear_earlier_attempt()?;
            let want = w.columns.len() + w.dynamic_parts.len();
            let keys = w.partition_keys();
            let static_rel = w.static_rel();
            while let Some(b) = input.recv_blocking() {
                ctx.check_cancelled()?;
                let data = &b.data;
                if data.num_columns() != want {
                    return Err(ParquetWriterError::Columns {
                        got: data.num_columns(),
                        names: column_names(data).join(", "),
                        want,
                        declared: w
                            .columns
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .chain(w.dynamic_parts.iter().map(|(n, _)| n.as_str()))
                            .collect::<Vec<_>>()
                            .join(", "),
                    }
                    .into());
                }
                let mut bad: BTreeMap<usize, String> = BTreeMap::new();
                let mut convert_col = |i: usize, name: &str, t: &HiveType| {
                    let mut b = BadRows::default();
                    let out = convert(data.column(i), t, &mut b).map_err(|m| {
                        PluginError::new(ParquetWriterError::Target(format!(
                            "column \"{name}\": {m}"
                        )))
                    })?;
                    for (row, why) in b.0 {
                        bad.entry(row)
                            .or_insert_with(|| format!("column \"{name}\": {why}"));
                    }
                    Ok::<_, PluginError>(out)
                };
                let mut cols = Vec::with_capacity(w.columns.len());
                for (i, (name, t)) in w.columns.iter().enumerate() {
                    let out = convert_col(i, name, t)?;
                    let out: ArrayRef = match out.data_type() {
                        DataType::Timestamp(..) => Arc::new(
                            out.as_primitive::<TimestampMicrosecondType>()
                                .clone()
                                .with_timezone("UTC"),
                        ),
                        _ => out,
                    };
                    cols.push(out);
                }
                let mut dyn_texts = Vec::with_capacity(w.dynamic_parts.len());
                for (j, (name, t)) in w.dynamic_parts.iter().enumerate() {
                    let out = convert_col(w.columns.len() + j, name, t)?;
                    dyn_texts.push(partition_texts(&out).map_err(|m| {
                        PluginError::new(ParquetWriterError::Target(format!(
                            "column \"{name}\": {m}"
                        )))
                    })?);
                }
                for (row, why) in &bad {
                    ctx.dirty(DirtyRecord {
                        error: why.clone(),
                        columns: column_names(data),
                        values: row_values(data, *row),
                        location: None,
                    })?;
                }
                let mut batch = RecordBatch::try_new(Arc::clone(&w.layout.schema), cols)
                    .map_err(ParquetWriterError::from)?;
                let rows = data.num_rows();
                let good = rows - bad.len();
                if good == 0 {
                    continue;
                }
                if dyn_texts.is_empty() {
                    if !bad.is_empty() {
                        let keep: BooleanArray =
                            (0..rows).map(|r| Some(!bad.contains_key(&r))).collect();
                        batch = arrow_select::filter::filter_record_batch(&batch, &keep)
                            .map_err(ParquetWriterError::from)?;
                    }
                    tw.write(&static_rel, &batch)?;
                } else {
                    // Group the good rows by partition, keeping their order within each.
                    let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
                    let mut index: HashMap<String, usize> = HashMap::new();
                    for r in (0..rows).filter(|r| !bad.contains_key(r)) {
                        let mut values: Vec<Option<String>> = w
                            .static_parts
                            .iter()
                            .map(|(_, v)| Some(v.clone()))
                            .collect();
                        values.extend(dyn_texts.iter().map(|t| t[r].clone()));
                        let rel = partition_dir(&keys, &values);
                        let g = *index.entry(rel.clone()).or_insert_with(|| {
                            groups.push((rel, Vec::new()));
                            groups.len() - 1
                        });
                        groups[g].1.push(r as u32);
                    }
                    for (rel, idx) in groups {
                        let take = UInt32Array::from(idx);
                        let cols = batch
                            .columns()
                            .iter()
                            .map(|c| arrow_select::take::take(c.as_ref(), &take, None))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(ParquetWriterError::from)?;
                        let sub = RecordBatch::try_new(Arc::clone(&w.layout.schema), cols)
                            .map_err(ParquetWriterError::from)?;
                        tw.write(&rel, &sub)?;
                    }
                }
                ctx.counters.add_written(
                    good as u64,
                    (b.bytes as u64 * good as u64) / rows.max(1) as u64,
                );
            }
            tw.finish()?;
            Ok(())
        })
        .await
        .map_err(ParquetWriterError::from)?
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn build(v: Value) -> Result<ParquetWriter, ConfigError> {
        ParquetWriter::from_params(Params {
            value: &v,
            path: "job.content[0].writer.parameter",
            invoked_as: "parquet",
        })
    }

    fn base() -> Value {
        json!({"path": "/tmp/t", "fileName": "f", "writeMode": "append",
               "column": [{"name": "id", "type": "bigint"}]})
    }

    #[test]
    fn validates_parameters() {
        assert!(build(base()).is_ok());
        let mut v = base();
        v["column"][0]["type"] = json!("varchar");
        let e = build(v).unwrap_err();
        assert!(e.to_string().contains("column[0].type"), "{e}");
        let mut v = base();
        v["defaultFS"] = json!("hdfs://nn:8020");
        assert!(build(v).unwrap_err().to_string().contains("defaultFS"));
        let mut v = base();
        v["fileType"] = json!("orc");
        assert!(build(v).unwrap_err().to_string().contains("fileType"));
        let mut v = base();
        v["hiveMetastoreUris"] = json!("thrift://127.0.0.1:9083");
        assert!(build(v).unwrap_err().to_string().contains("table"));
        let mut v = base();
        v["partition"] = json!({"id": "1"});
        assert!(build(v).unwrap_err().to_string().contains("twice"));
        let mut v = base();
        v["compress"] = json!("SNAPPY");
        v["maxFileSize"] = json!("128MB");
        v["partition"] = json!({"dt": "2024-01-01", "hour": 3});
        v["partitionColumns"] = json!(["region", {"name": "day", "type": "date"}]);
        let Kind::Parquet(w) = build(v).unwrap().kind else {
            panic!("parquet expected")
        };
        assert_eq!(w.static_rel(), "dt=2024-01-01/hour=3");
        assert_eq!(w.partition_keys(), vec!["dt", "hour", "region", "day"]);
        let mut v = base();
        v["fileType"] = json!("text");
        v["fieldDelimiter"] = json!("\t");
        v["compress"] = json!("GZIP");
        assert!(matches!(build(v).unwrap().kind, Kind::Text(_)));
        let mut v = base();
        v["fileType"] = json!("csv");
        v["rowGroupSize"] = json!(10);
        assert!(build(v).unwrap_err().to_string().contains("rowGroupSize"));
    }
}
