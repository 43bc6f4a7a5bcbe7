//! What every text-file writer (file, SFTP, hdfs text/csv) shares: the target keys
//! (`path`, `fileName`, `writeMode`), the names of the files a run writes and which existing
//! files belong to `fileName`, and the encoding of batches into one file.

use crate::file::FileWriterError;
use arrow_array::RecordBatch;
use datasync_codec::values::{column_names, dirty_row};
use datasync_codec::{Compressor, Header, TextEncoder, TextWrite, TextWriteConfig};
use datasync_engine::channel::BatchReceiver;
use datasync_engine::config::{join_path, ConfigError};
use datasync_engine::{run_id, PluginError, TaskContext};
use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What happens to files already in `path` that belong to `fileName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FileWriteMode {
    /// Replace them: at commit the new files are published, then the old ones removed.
    Truncate,
    /// Keep them; add new files beside them.
    Append,
    /// Fail (before writing anything) if any exists.
    NonConflict,
}

/// Keys DataX's text-file writers ignore that its doc examples carry, and why we do too.
pub(crate) const IGNORED_WRITER_KEYS: &[(&str, &str)] = &[(
    "format",
    "not a key of this writer (DataX ignores it too); dates are written with dateFormat",
)];

/// Says so when a DataX template (`txtfilewriter`, `ftpwriter`) leaves `fileFormat` unset:
/// DataX writes `text` (no quoting) then, datasync `csv` (quoted where needed).
pub(crate) fn note_default_format(p: &datasync_engine::Params<'_>) {
    if p.invoked_as.ends_with("writer") && p.value.get("fileFormat").is_none() {
        tracing::warn!(
            "{}: fileFormat is not set: writing csv (a value holding the delimiter, a quote or \
             a line break is quoted); DataX's {} writes text without quoting by default. Set \
             fileFormat to \"csv\" or \"text\" to choose",
            p.path,
            p.invoked_as
        );
    }
}

/// The target keys of a text-file writer.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileTarget {
    /// Target directory (created if missing).
    pub path: String,
    /// File name prefix; an extension (`out.csv`) is kept at the end of each file's name.
    pub file_name: String,
    /// `truncate`, `append` or `nonConflict`.
    pub write_mode: FileWriteMode,
    /// Appended to every file's name (DataX's ftpwriter `suffix`, e.g. `.csv`).
    pub suffix: Option<String>,
}

/// Converts a batch to declared columns: the rows that fit, and each row that did not with
/// its reason; an error when the batch can never convert.
pub type Conform =
    dyn Fn(&RecordBatch) -> Result<(RecordBatch, Vec<(usize, String)>), String> + Send + Sync;

#[derive(Clone)]
struct ConformFn(Arc<Conform>);

impl std::fmt::Debug for ConformFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("declared columns")
    }
}

/// The files of one `fileName` and how rows are encoded into them.
#[derive(Debug, Clone)]
pub struct TextFiles {
    pub(crate) file_name: String,
    suffix: String,
    /// Declared columns (hdfswriter text): converts each batch to them before it is encoded,
    /// returning the rows that fit and the rows that did not (dirty), each with its reason.
    conform: Option<ConformFn>,
    pub(crate) mode: FileWriteMode,
    text: Arc<TextWrite>,
    /// The text reader's options that read these files back (`job.verify`); `None` for JSON
    /// Lines.
    pub(crate) read_options: Option<serde_json::Value>,
}

impl TextFiles {
    /// Checks `fileName` and the text options, with errors under `at`.
    pub fn new(at: &str, target: &FileTarget, text: TextWriteConfig) -> Result<Self, ConfigError> {
        let name = &target.file_name;
        if name.is_empty() || name.contains('/') || name.starts_with('.') || name.contains("__") {
            return Err(ConfigError::new(
                join_path(at, "fileName"),
                "must be a plain file name prefix (no '/', not starting with '.', no '__': it \
                 separates the prefix from the run id in the files' names, so that one job's \
                 truncate can tell its files from those of a job whose prefix starts the same)",
            ));
        }
        let suffix = target.suffix.clone().unwrap_or_default().trim().to_string();
        if suffix.contains('/') {
            return Err(ConfigError::new(
                join_path(at, "suffix"),
                "must not contain '/' (it ends each file's name, e.g. \".csv\")",
            ));
        }
        let read_options = match text.file_format {
            datasync_codec::FileFormat::Jsonl => None,
            f => Some(serde_json::json!({
                "fileFormat": if f == datasync_codec::FileFormat::Text { "text" } else { "csv" },
                "fieldDelimiter": text.field_delimiter,
                "encoding": text.encoding,
                "nullFormat": text.null_format,
                "skipHeader": text.header != datasync_codec::Header::None,
                "compress": text.compress.name(),
            })),
        };
        Ok(TextFiles {
            file_name: name.clone(),
            suffix,
            conform: None,
            mode: target.write_mode,
            text: Arc::new(text.build(at)?),
            read_options,
        })
    }

    /// Converts every batch with `conform` before encoding it.
    pub(crate) fn conform_with(&mut self, conform: Arc<Conform>) {
        self.conform = Some(ConformFn(conform));
    }

    /// Name of task `i`'s file: `<fileName>__<run id>_<task>[.<attempt>][.ext][suffix][.gz|.zst|.bz2]` (the attempt in a shard).
    pub(crate) fn output_name(&self, i: usize) -> String {
        let (stem, ext) = match self.file_name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() && !e.is_empty() => (s, format!(".{e}")),
            _ => (self.file_name.as_str(), String::new()),
        };
        // A shard attempt names its files (see `datasync_engine::shard::set_attempt`).
        let tag = datasync_engine::shard::attempt()
            .map(|a| format!(".{a}"))
            .unwrap_or_default();
        let mut name = format!("{stem}__{}_{i:05}{tag}{ext}{}", run_id(), self.suffix);
        let suffix = self.text.compress.suffix();
        if !name.ends_with(suffix) {
            name.push_str(suffix);
        }
        name
    }

    /// Whether an existing file in the target directory belongs to `fileName`: the name itself,
    /// or `<fileName or its stem>__<run id>_<task, 5 digits or more>...` as [`Self::output_name`]
    /// makes them. A `fileName` holds no `__` and a run id does not start with `_`, so a file
    /// of another prefix (`o_`, `o__x`: `o___...`, `o__x__...`) is not taken for one of `o`, nor
    /// is a name of another shape (`o__notes.txt`).
    pub(crate) fn owns(&self, name: &str) -> bool {
        let stem = self
            .file_name
            .rsplit_once('.')
            .map(|(s, _)| s)
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.file_name);
        let run_after = |prefix: &str| {
            let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix("__")) else {
                return false;
            };
            rest.match_indices('_').any(|(k, _)| {
                let digits = rest[k + 1..].bytes().take_while(u8::is_ascii_digit).count();
                digits >= 5 && datasync_engine::runner::is_run_id(&rest[..k])
            })
        };
        name == self.file_name || run_after(stem) || run_after(&self.file_name)
    }

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
                PluginError::new(crate::publish::io(action, Path::new(&location))(source))
            }
        };
        // A zip or tar archive's one entry is the file's own name (without `.zip`/`.tar.gz`
        // and the upload's temporary prefix).
        let base = location.rsplit('/').next().unwrap_or(location);
        let base = match base.strip_prefix(".datasync-tmp-") {
            Some(rest) => rest.split_once('-').map_or(rest, |(_, name)| name),
            None => base,
        };
        let entry = base
            .strip_suffix(self.text.compress.suffix())
            .unwrap_or(base);
        let mut out = Compressor::named(out, self.text.compress, entry)
            .map_err(ioerr("cannot start compressing"))?;
        let mut enc = TextEncoder::new(self.text.opts.clone());
        let mut buf = Vec::with_capacity(1 << 20);
        let mut first = true;
        if let Header::Names(names) = &self.text.header {
            enc.header(names, &mut buf).map_err(PluginError::new)?;
        }
        while let Some(b) = input.recv_blocking() {
            ctx.check_cancelled()?;
            let data = match &self.conform {
                None => b.data,
                Some(ConformFn(conform)) => {
                    let (data, bad) = conform(&b.data)
                        .map_err(|m| PluginError::new(FileWriterError::Columns(m)))?;
                    for (row, error) in bad {
                        ctx.dirty(dirty_row(&b.data, row, error, Some(location.to_string())))?;
                    }
                    data
                }
            };
            if first && self.text.header == Header::ColumnNames {
                enc.header(&column_names(&data), &mut buf)
                    .map_err(PluginError::new)?;
            }
            first = false;
            let written = enc.encode(&data, &mut buf, |row, error| {
                ctx.dirty(dirty_row(&data, row, error, Some(location.to_string())))
            })?;
            out.write_all(&buf).map_err(ioerr("cannot write"))?;
            // Bytes written: the text this writer produced (before compression), not the
            // batch's in-memory size.
            ctx.counters.add_written(written, buf.len() as u64);
            buf.clear();
        }
        out.write_all(&buf).map_err(ioerr("cannot write"))?;
        out.finish().map_err(ioerr("cannot finish"))
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
