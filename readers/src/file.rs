//! `file` reader (DataX `txtfilereader`): local files, globs and directories; CSV, delimited
//! text or JSON Lines via the shared codecs; gzip/zstd; one task per file. Files are decoded on
//! a blocking thread, streaming (never loaded whole).

use datasync_codec::{parse_columns, Compression, FileFormat, ReadColumns, TextOptions};
use datasync_engine::channel::BatchSender;
use datasync_engine::config::{join_path, one_or_many, parse_params, ConfigError};
use datasync_engine::{
    async_trait, Params, PluginError, Reader, ReaderPlugin, ReaderTask, SizeHint, TaskContext,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// `parameter` of the file reader.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileReaderConfig {
    /// Files, directories (every non-hidden file below) or globs (`*`, `?`, `[..]`, `**`).
    #[serde(deserialize_with = "one_or_many")]
    pub path: Vec<String>,
    /// `["*"]` (every field as string) or `[{index, type, format}]` / `[{value, type}]`;
    /// JSON Lines: `[{name, type}]`.
    #[serde(default = "default_column")]
    pub column: Vec<Value>,
    /// One ASCII character (default `,`).
    #[serde(default)]
    pub field_delimiter: Option<String>,
    /// Character encoding (default UTF-8; GBK, GB18030, ...).
    #[serde(default = "datasync_codec::default_encoding")]
    pub encoding: String,
    /// Skip the first line of every file.
    #[serde(default)]
    pub skip_header: bool,
    /// Text that reads as NULL (default `\N`).
    #[serde(default = "datasync_codec::default_null_format")]
    pub null_format: String,
    /// `none` (default), `gzip` or `zstd`.
    #[serde(default)]
    pub compress: Compression,
    /// `csv` (default), `text` or `jsonl`.
    #[serde(default)]
    pub file_format: FileFormat,
    /// Default pattern for date columns without their own `format`.
    #[serde(default)]
    pub date_format: Option<String>,
}

fn default_column() -> Vec<Value> {
    vec![Value::String("*".into())]
}

/// Errors of the file reader.
#[derive(Debug, thiserror::Error)]
pub enum FileReaderError {
    /// Listing the input failed.
    #[error(transparent)]
    Paths(#[from] crate::paths::PathError),
    /// A file or directory cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The blocking decode thread died.
    #[error("file decoding thread failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl From<FileReaderError> for PluginError {
    fn from(e: FileReaderError) -> Self {
        PluginError::new(e)
    }
}

/// The file reader.
#[derive(Debug, Clone)]
pub struct FileReader {
    pub(crate) paths: Vec<String>,
    pub(crate) opts: Arc<TextOptions>,
    pub(crate) columns: Arc<ReadColumns>,
    pub(crate) compress: Compression,
}

impl ReaderPlugin for FileReader {
    const NAME: &'static str = "file";
    const ALIASES: &'static [&'static str] = &["txtfilereader"];
    const DESCRIPTION: &'static str =
        "local CSV / delimited text / JSON Lines files, globs and directories; gzip, bzip2, zstd";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let c: FileReaderConfig = parse_params(p.value, p.path)?;
        if c.path.is_empty() || c.path.iter().any(|s| s.trim().is_empty()) {
            return Err(ConfigError::new(
                join_path(p.path, "path"),
                "must name at least one file, directory or glob",
            ));
        }
        let opts = TextOptions::new(
            p.path,
            c.file_format,
            c.field_delimiter.as_deref(),
            &c.encoding,
            &c.null_format,
            c.date_format.as_deref(),
            c.skip_header,
        )?;
        let columns = parse_columns(&c.column, &join_path(p.path, "column"), c.file_format)?;
        Ok(FileReader {
            paths: c.path,
            opts: Arc::new(opts),
            columns: Arc::new(columns),
            compress: c.compress,
        })
    }

    fn template() -> Value {
        json!({
            "path": ["${input_path}"],
            "column": [
                {"index": 0, "type": "long"},
                {"index": 1, "type": "string"},
                {"index": 2, "type": "decimal(12,2)"},
                {"index": 3, "type": "date", "format": "yyyy-MM-dd HH:mm:ss"}
            ],
            "fieldDelimiter": ",",
            "encoding": "UTF-8",
            "skipHeader": false,
            "nullFormat": "\\N",
            "compress": "none",
            "fileFormat": "csv"
        })
    }
}

#[async_trait]
impl Reader for FileReader {
    async fn split(&self, _channels: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError> {
        let patterns = self.paths.clone();
        let files = tokio::task::spawn_blocking(move || {
            crate::paths::expand_paths(&patterns, |n| n.starts_with('.'))
        })
        .await
        .map_err(FileReaderError::from)?
        .map_err(FileReaderError::from)?;
        Ok(files
            .into_iter()
            .map(|path| {
                let size = std::fs::metadata(&path).map(|m| m.len()).ok();
                Box::new(FileTask {
                    reader: self.clone(),
                    path,
                    size,
                }) as Box<dyn ReaderTask>
            })
            .collect())
    }
}

struct FileTask {
    reader: FileReader,
    path: PathBuf,
    size: Option<u64>,
}

#[async_trait]
impl ReaderTask for FileTask {
    fn input_fingerprint(&self) -> Option<String> {
        crate::paths::file_fingerprint(&self.path)
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn size_hint(&self) -> Option<SizeHint> {
        self.size.map(SizeHint::Bytes)
    }

    async fn read(&mut self, out: BatchSender, ctx: TaskContext) -> Result<(), PluginError> {
        let path = self.path.clone();
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let io = |source| FileReaderError::Io {
                path: path.clone(),
                source,
            };
            let file = std::fs::File::open(&path).map_err(io)?;
            let location = path.display().to_string();
            crate::text::decode_file(
                Box::new(file),
                reader.compress,
                &reader.opts,
                &reader.columns,
                &location,
                out,
                ctx,
            )
            .map_err(|e| match e {
                crate::text::TextError::Io(source) => FileReaderError::Io { path, source }.into(),
                crate::text::TextError::Plugin(p) => p,
            })
        })
        .await
        .map_err(FileReaderError::from)?
    }
}
