//! `file` writer (DataX `txtfilewriter`): each task writes one file into a hidden staging
//! directory beside the target (`<path>/.datasync-staging-<fileName>-<run id>/`); commit renames
//! them into place per `writeMode`, abort removes the staging directory, so an aborted job
//! publishes nothing. Output names follow DataX: `<fileName>__<run id>_<task>[.ext][.gz|.zst]`.

use datasync_codec::values::{column_names, row_values};
use datasync_codec::{Compression, Compressor, FileFormat, TextEncoder, TextOptions};
use datasync_engine::channel::BatchReceiver;
use datasync_engine::config::{join_path, parse_params, ConfigError};
use datasync_engine::{
    async_trait, run_id, DirtyRecord, Params, PluginError, Resume, TaskContext, Writer,
    WriterPlugin, WriterTask,
};
use serde::de::Deserializer;
use serde::Deserialize;
use serde_json::{json, Value};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What happens to files already in `path` that belong to `fileName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FileWriteMode {
    /// Replace them: at commit the new files are published, then the old ones removed.
    Truncate,
    /// Keep them; add new files beside them.
    Append,
    /// Fail (before writing anything) if any exists.
    NonConflict,
}

/// `header`: `true` writes the column names, a list writes those names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Header {
    /// No header line.
    #[default]
    None,
    /// The incoming column names.
    ColumnNames,
    /// These names.
    Names(Vec<String>),
}

fn header<'de, D: Deserializer<'de>>(d: D) -> Result<Header, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(true) => Ok(Header::ColumnNames),
        Value::Bool(false) | Value::Null => Ok(Header::None),
        Value::Array(v) if v.is_empty() => Ok(Header::None),
        Value::Array(v) => v
            .into_iter()
            .map(|x| match x {
                Value::String(s) => Ok(s),
                other => Err(serde::de::Error::custom(format!(
                    "wrong type: found {other}, expected a column name"
                ))),
            })
            .collect::<Result<_, _>>()
            .map(Header::Names),
        other => Err(serde::de::Error::custom(format!(
            "wrong type: found {other}, expected true/false or a list of names"
        ))),
    }
}

/// `parameter` of the file writer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileWriterConfig {
    /// Target directory (created if missing).
    pub path: String,
    /// File name prefix; an extension (`out.csv`) is kept at the end of each file's name.
    pub file_name: String,
    /// `truncate`, `append` or `nonConflict`.
    pub write_mode: FileWriteMode,
    /// One ASCII character (default `,`).
    #[serde(default)]
    pub field_delimiter: Option<String>,
    /// Character encoding (default UTF-8).
    #[serde(default = "datasync_codec::default_encoding")]
    pub encoding: String,
    /// Text written for NULL (default `\N`).
    #[serde(default = "datasync_codec::default_null_format")]
    pub null_format: String,
    /// Pattern for dates and timestamps (default ISO `yyyy-MM-dd HH:mm:ss[.ffffff]`).
    #[serde(default)]
    pub date_format: Option<String>,
    /// `csv` (default), `text` or `jsonl`.
    #[serde(default)]
    pub file_format: FileFormat,
    /// `true`, or a list of names, for a header line.
    #[serde(default, deserialize_with = "header")]
    pub header: Header,
    /// `none` (default), `gzip` or `zstd`.
    #[serde(default)]
    pub compress: Compression,
}

/// Errors of the file writer.
#[derive(Debug, thiserror::Error)]
pub enum FileWriterError {
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
    /// `nonConflict` and files of `fileName` exist.
    #[error("writeMode nonConflict: {dir} already has files of \"{prefix}\": {files}")]
    Conflict {
        /// Target directory.
        dir: PathBuf,
        /// `fileName`.
        prefix: String,
        /// Some of the files.
        files: String,
    },
    /// Publishing or recovering staged files failed.
    #[error(transparent)]
    Publish(#[from] crate::publish::PublishError),
    /// The blocking writer thread died.
    #[error("file writing thread failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl From<FileWriterError> for PluginError {
    fn from(e: FileWriterError) -> Self {
        PluginError::new(e)
    }
}

/// The first three of `paths` for a message, with `...` when there are more.
pub(crate) fn some_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths
        .iter()
        .take(3)
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "{}{}",
        shown.join(", "),
        if paths.len() > 3 { ", ..." } else { "" }
    )
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> FileWriterError {
    let path = path.to_path_buf();
    move |source| FileWriterError::Io {
        action,
        path,
        source,
    }
}

/// The file writer.
#[derive(Debug, Clone)]
pub struct FileWriter {
    dir: PathBuf,
    file_name: String,
    mode: FileWriteMode,
    opts: Arc<TextOptions>,
    header: Header,
    compress: Compression,
    staging: PathBuf,
}

impl WriterPlugin for FileWriter {
    const NAME: &'static str = "file";
    const ALIASES: &'static [&'static str] = &["txtfilewriter"];
    const DESCRIPTION: &'static str =
        "local CSV / delimited text / JSON Lines files, staged and renamed at commit";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let c: FileWriterConfig = parse_params(p.value, p.path)?;
        if c.path.trim().is_empty() {
            return Err(ConfigError::new(
                join_path(p.path, "path"),
                "must name the target directory",
            ));
        }
        if c.file_name.is_empty() || c.file_name.contains('/') || c.file_name.starts_with('.') {
            return Err(ConfigError::new(
                join_path(p.path, "fileName"),
                "must be a plain file name prefix (no '/', not starting with '.')",
            ));
        }
        let opts = TextOptions::new(
            p.path,
            c.file_format,
            c.field_delimiter.as_deref(),
            &c.encoding,
            &c.null_format,
            c.date_format.as_deref(),
            false,
        )?;
        let dir = PathBuf::from(&c.path);
        let staging = dir.join(format!(".datasync-staging-{}-{}", c.file_name, run_id()));
        Ok(FileWriter {
            dir,
            file_name: c.file_name,
            mode: c.write_mode,
            opts: Arc::new(opts),
            header: c.header,
            compress: c.compress,
            staging,
        })
    }

    fn template() -> Value {
        json!({
            "path": "${output_dir}",
            "fileName": "${file_name}",
            "writeMode": "truncate",
            "fieldDelimiter": ",",
            "encoding": "UTF-8",
            "nullFormat": "\\N",
            "dateFormat": "yyyy-MM-dd HH:mm:ss",
            "fileFormat": "csv",
            "header": true,
            "compress": "none"
        })
    }
}

impl FileWriter {
    /// Name of task `i`'s file.
    pub(crate) fn output_name(&self, i: usize) -> String {
        let (stem, ext) = match self.file_name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() && !e.is_empty() => (s, format!(".{e}")),
            _ => (self.file_name.as_str(), String::new()),
        };
        let mut name = format!("{stem}__{}_{i:05}{ext}", run_id());
        if !name.ends_with(self.compress.suffix()) {
            name.push_str(self.compress.suffix());
        }
        name
    }

    /// Whether an existing file in the target directory belongs to `fileName`.
    pub(crate) fn owns(&self, name: &str) -> bool {
        let stem = self
            .file_name
            .rsplit_once('.')
            .map(|(s, _)| s)
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.file_name);
        name == self.file_name
            || name.starts_with(&format!("{stem}__"))
            || name.starts_with(&format!("{}__", self.file_name))
    }

    fn existing(&self) -> Result<Vec<PathBuf>, FileWriterError> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("cannot list", &self.dir)(e)),
        };
        for e in rd {
            let e = e.map_err(io("cannot list", &self.dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if self.owns(&name) && e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                out.push(e.path());
            }
        }
        out.sort();
        Ok(out)
    }

    fn check_conflict(&self) -> Result<(), FileWriterError> {
        if self.mode != FileWriteMode::NonConflict {
            return Ok(());
        }
        let files = self.existing()?;
        if files.is_empty() {
            return Ok(());
        }
        Err(FileWriterError::Conflict {
            dir: self.dir.clone(),
            prefix: self.file_name.clone(),
            files: crate::file::some_paths(&files),
        })
    }

    /// Finishes or removes what earlier runs of this `fileName` left in staging (a commit
    /// interrupted half-way is finished; an aborted or killed run's files are removed).
    pub(crate) fn recover(&self) -> Result<Vec<String>, FileWriterError> {
        let prefix = format!(".datasync-staging-{}-", self.file_name);
        let done = crate::publish::recover(&self.dir, &prefix, Some(&self.staging))?;
        Ok(crate::publish::describe(&done))
    }

    fn publish(&self) -> Result<(), FileWriterError> {
        self.check_conflict()?;
        let old = if self.mode == FileWriteMode::Truncate {
            self.existing()?
        } else {
            Vec::new()
        };
        let mut staged: Vec<PathBuf> = fs::read_dir(&self.staging)
            .map_err(io("cannot list", &self.staging))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io("cannot list", &self.staging))?;
        staged.retain(|p| {
            p.file_name()
                .is_some_and(|n| self.owns(&n.to_string_lossy()))
        });
        staged.sort();
        // New names carry this run's id, so they cannot clash with the old files; the journal
        // publishes the new ones first and removes the old ones after.
        let mut journal = crate::publish::Journal::default();
        for s in staged {
            if let Some(name) = s.file_name() {
                let target = self.dir.join(name);
                journal.moves.push((s, target));
            }
        }
        journal.replace = old
            .into_iter()
            .filter(|o| !journal.moves.iter().any(|(_, t)| t == o))
            .collect();
        crate::publish::commit(&self.staging, &journal)?;
        Ok(())
    }
}

#[cfg(feature = "sftp")]
impl FileWriter {
    /// The write mode.
    pub(crate) fn mode(&self) -> FileWriteMode {
        self.mode
    }

    /// The `fileName` prefix.
    pub(crate) fn file_name(&self) -> &str {
        &self.file_name
    }
}

impl FileWriter {
    /// Encodes every batch of `input` into `out` (compressed as configured) and returns `out`
    /// once the compressor's trailer is written. Rows that cannot be encoded are dirty records.
    pub(crate) fn encode_into<W: Write>(
        &self,
        out: W,
        input: &mut BatchReceiver,
        ctx: &TaskContext,
        location: &str,
    ) -> Result<W, PluginError> {
        let ioerr = |action: &'static str| {
            let location = location.to_string();
            move |source: std::io::Error| {
                PluginError::new(FileWriterError::Io {
                    action,
                    path: PathBuf::from(location),
                    source,
                })
            }
        };
        let mut out =
            Compressor::new(out, self.compress).map_err(ioerr("cannot start compressing"))?;
        let mut enc = TextEncoder::new((*self.opts).clone());
        let mut buf = Vec::with_capacity(1 << 20);
        let mut first = true;
        if let Header::Names(names) = &self.header {
            enc.header(names, &mut buf).map_err(PluginError::new)?;
        }
        while let Some(b) = input.recv_blocking() {
            ctx.check_cancelled()?;
            if first && self.header == Header::ColumnNames {
                enc.header(&column_names(&b.data), &mut buf)
                    .map_err(PluginError::new)?;
            }
            first = false;
            let written = enc.encode(&b.data, &mut buf, |row, error| {
                ctx.dirty(DirtyRecord {
                    error,
                    columns: column_names(&b.data),
                    values: row_values(&b.data, row),
                    location: Some(location.to_string()),
                })
            })?;
            out.write_all(&buf).map_err(ioerr("cannot write"))?;
            buf.clear();
            ctx.counters.add_written(
                written,
                (b.bytes as u64 * written) / (b.rows() as u64).max(1),
            );
        }
        out.write_all(&buf).map_err(ioerr("cannot write"))?;
        out.finish().map_err(ioerr("cannot finish"))
    }
}

#[async_trait]
impl Writer for FileWriter {
    async fn prepare(&self) -> Result<(), PluginError> {
        let w = self.clone();
        tokio::task::spawn_blocking(move || {
            fs::create_dir_all(&w.dir).map_err(io("cannot create directory", &w.dir))?;
            w.recover()?;
            w.check_conflict()?;
            crate::publish::create_staging(&w.staging)?;
            Ok::<_, FileWriterError>(())
        })
        .await
        .map_err(FileWriterError::from)??;
        Ok(())
    }

    async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError> {
        Ok((0..n)
            .map(|i| {
                Box::new(FileTask {
                    writer: self.clone(),
                    staged: self.staging.join(self.output_name(i)),
                }) as Box<dyn WriterTask>
            })
            .collect())
    }

    async fn commit(&self) -> Result<(), PluginError> {
        let w = self.clone();
        tokio::task::spawn_blocking(move || w.publish())
            .await
            .map_err(FileWriterError::from)??;
        Ok(())
    }

    async fn abort(&self) -> Result<(), PluginError> {
        remove_staging(self.staging.clone()).await
    }

    async fn recover(&self) -> Result<Vec<String>, PluginError> {
        let w = self.clone();
        let lines = tokio::task::spawn_blocking(move || w.recover())
            .await
            .map_err(FileWriterError::from)??;
        Ok(lines)
    }

    fn resume(&self) -> Resume {
        Resume::StateFile(self.staging.join(crate::publish::RUN_STATE_FILE))
    }

    fn task_fingerprint(&self, task: usize) -> Option<String> {
        crate::publish::fingerprint(&self.staging, &[self.output_name(task)], |_| false)
    }
}

/// Removes a staging directory on a blocking thread (one that is gone already is fine; one
/// that holds a decided commit is left for recovery).
pub(crate) async fn remove_staging(staging: PathBuf) -> Result<(), PluginError> {
    tokio::task::spawn_blocking(move || crate::publish::abort(&staging))
        .await
        .map_err(FileWriterError::from)?
        .map_err(FileWriterError::from)?;
    Ok(())
}

struct FileTask {
    writer: FileWriter,
    staged: PathBuf,
}

#[async_trait]
impl WriterTask for FileTask {
    fn retry_safe(&self) -> bool {
        // The staged file is recreated from scratch on a retry.
        true
    }

    async fn write(
        &mut self,
        mut input: BatchReceiver,
        ctx: TaskContext,
    ) -> Result<(), PluginError> {
        let w = self.writer.clone();
        let path = self.staged.clone();
        tokio::task::spawn_blocking(move || -> Result<(), PluginError> {
            let file = fs::File::create(&path).map_err(io("cannot create", &path))?;
            let location = path.display().to_string();
            let inner = w.encode_into(
                BufWriter::with_capacity(1 << 20, file),
                &mut input,
                &ctx,
                &location,
            )?;
            let file = inner
                .into_inner()
                .map_err(|e| io("cannot flush", &path)(e.into_error()))?;
            file.sync_all().map_err(io("cannot sync", &path))?;
            Ok(())
        })
        .await
        .map_err(FileWriterError::from)?
    }
}
