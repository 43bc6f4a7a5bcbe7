//! `file` reader (DataX `txtfilereader`): local files, globs and directories; CSV, delimited
//! text or JSON Lines via the shared codecs; gzip/zstd; one task per file. Files are decoded on
//! a blocking thread, streaming (never loaded whole).

use datasync_codec::{TextRead, TextReadConfig};
use datasync_engine::channel::BatchSender;
use datasync_engine::config::ConfigError;
use datasync_engine::incremental::Incremental;
use datasync_engine::{
    async_trait, Params, Plugin, PluginError, Reader, ReaderTask, SizeHint, TaskContext,
};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

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
}

impl From<FileReaderError> for PluginError {
    fn from(e: FileReaderError) -> Self {
        PluginError::new(e)
    }
}

/// The file reader.
#[derive(Debug, Clone)]
pub struct FileReader {
    text: Arc<TextRead>,
    /// `modifiedSince`: only files modified since the last committed run.
    incremental: Option<Arc<Incremental>>,
    /// Clients of the buckets `s3://` paths name.
    buckets: crate::remote::Buckets,
}

impl FileReader {
    /// A file reader of checked text options (also the `fileType` text/csv path of `hdfs`).
    pub fn new(text: TextRead) -> Self {
        FileReader {
            text: Arc::new(text),
            incremental: None,
            buckets: Default::default(),
        }
    }
    /// A reader of `c`'s paths: local ones, and `s3://` / `hdfs://` ones reached with `s3`
    /// (also the text path of `hdfs`, its paths joined to `defaultFS`).
    pub fn with_paths(
        at: &str,
        mut c: TextReadConfig,
        s3: Option<datasync_db::store::S3Options>,
    ) -> Result<Self, ConfigError> {
        // Remote paths stay as they are; the others are local.
        let remote: Vec<String> = c
            .path
            .iter()
            .filter(|p| datasync_db::store::is_remote_url(p))
            .map(|p| p.trim().to_string())
            .collect();
        for r in &remote {
            if let Some(Err(e)) = datasync_db::store::parse_location(r) {
                return Err(ConfigError::new(
                    datasync_engine::config::join_path(at, "path"),
                    e,
                ));
            }
        }
        c.path.retain(|p| !datasync_db::store::is_remote_url(p));
        let mut c = if c.path.is_empty() { c } else { c.local(at)? };
        c.path.extend(remote.iter().cloned());
        let mut reader = FileReader::new(c.build(at)?);
        reader.buckets = crate::remote::Buckets::connect(&remote, &s3.clone().unwrap_or_default())
            .map_err(|e| ConfigError::new(datasync_engine::config::join_path(at, "s3"), e))?;
        if datasync_db::store::S3Options::given(&s3) && remote.is_empty() {
            return Err(ConfigError::new(
                datasync_engine::config::join_path(at, "s3"),
                "is for s3:// paths only",
            ));
        }
        Ok(reader)
    }
}

/// The file reader's own keys beside the text options (hdfsreader's text path takes them too).
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileKeys {
    /// Read only the files modified after the last committed run (and not after this run
    /// began): `{"state": "file:PATH"}` keeps that time.
    pub modified_since: Option<crate::paths::ModifiedSince>,
    /// How to reach the store of `s3://` paths (endpoint, region, credentials); what is
    /// missing comes from the standard AWS variables.
    #[serde(default, deserialize_with = "datasync_db::store::opt_s3")]
    #[schemars(with = "Option<datasync_db::store::S3Options>")]
    pub s3: Option<datasync_db::store::S3Options>,
}

impl FileReader {
    /// The reader of the text files `c` names, with the file reader's own `keys` (parameter
    /// at `at`).
    pub fn from_keys(at: &str, keys: FileKeys, c: TextReadConfig) -> Result<Self, ConfigError> {
        if keys.modified_since.is_some()
            && c.path.iter().any(|x| datasync_db::store::is_remote_url(x))
        {
            return Err(ConfigError::new(
                datasync_engine::config::join_path(at, "modifiedSince"),
                "is not supported for s3:// or hdfs:// paths yet",
            ));
        }
        let paths = c.path.clone();
        let mut reader = FileReader::with_paths(at, c, keys.s3)?;
        if let Some(m) = keys.modified_since {
            let at = datasync_engine::config::join_path(at, "modifiedSince");
            reader.incremental = Some(Arc::new(m.incremental(&at, &paths, None)?));
        }
        Ok(reader)
    }
}

/// The file reader's `parameter`: its own keys, then the text-file options.
type Layout = (FileKeys, TextReadConfig);

/// `charset` appears in DataX's hbase11xwriter doc example; its txtfilereader never reads it
/// (the key is `encoding`).
const IGNORED: &[(&str, &str)] = &[(
    "charset",
    "DataX's txtfilereader does not read it either; the files are read as \"encoding\" (default UTF-8)",
)];

impl Plugin for FileReader {
    const NAME: &'static str = "file";
    const ALIASES: &'static [&'static str] = &["txtfilereader"];
    const DESCRIPTION: &'static str =
        "local CSV / delimited text / JSON Lines files, globs and directories; gzip, bzip2, zstd";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (keys, c): Layout = p.parts(IGNORED)?;
        FileReader::from_keys(p.path, keys, c)
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<Layout>(g, IGNORED)
    }

    fn template() -> Value {
        let own = json!({
            "path": ["${input_path}"],
            "column": [
                {"index": 0, "type": "long"},
                {"index": 1, "type": "string"},
                {"index": 2, "type": "decimal(12,2)"},
                {"index": 3, "type": "date", "format": "yyyy-MM-dd HH:mm:ss"}
            ]
        });
        datasync_engine::template::merged([own, datasync_codec::text_read_template()])
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        let mut n = datasync_codec::text_read_notes();
        n.push(datasync_engine::template::alt(
            "modifiedSince",
            "{\"state\": \"file:state/files.json\"}",
            "Read only the files modified after the last committed run (the time kept in state, moved after a successful commit); `datasync run --full` reads all, `datasync state` shows/sets/resets it.",
        ));
        n.push(datasync_engine::template::alt(
            "s3",
            "{\"endpoint\": \"http://minio:9000\", \"region\": \"us-east-1\", \"accessKey\": \"${env:S3_KEY}\", \"secretKey\": \"${env:S3_SECRET}\"}",
            "For s3:// paths: endpoint (default AWS), region, pathStyle, accessKey, secretKey, sessionToken; missing keys come from the AWS_* variables. Never printed.",
        ));
        n
    }
}

/// `check --connect` for local inputs: what the paths match (files and bytes), hidden entries
/// skipped.
pub(crate) fn probe_paths(patterns: &[String], hidden: fn(&str) -> bool) -> datasync_engine::Probe {
    let mut p = datasync_engine::Probe::default();
    for pat in patterns {
        let mut skipped = Vec::new();
        match crate::paths::expand_paths(std::slice::from_ref(pat), hidden, &mut skipped) {
            Ok(files) => {
                let bytes: u64 = files
                    .iter()
                    .filter_map(|f| std::fs::metadata(f).ok())
                    .map(|m| m.len())
                    .sum();
                let hidden_note = if skipped.is_empty() {
                    String::new()
                } else {
                    format!(" ({} hidden skipped)", skipped.len())
                };
                p.ok(
                    format!("path {pat}"),
                    format!("{} file(s), {bytes} bytes{hidden_note}", files.len()),
                );
            }
            Err(e) => p.problem(format!("path {pat}"), e.to_string()),
        }
    }
    p
}

#[async_trait]
impl Reader for FileReader {
    fn datasets(&self) -> Vec<datasync_engine::lineage::Dataset> {
        self.text
            .paths
            .iter()
            .map(|p| crate::remote::dataset(p))
            .collect()
    }

    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        let (patterns, buckets) = (self.text.paths.clone(), self.buckets.clone());
        Ok(datasync_engine::plugin::blocking(move || {
            let (remote, local): (Vec<String>, Vec<String>) = patterns
                .into_iter()
                .partition(|p| datasync_db::store::is_remote_url(p));
            let mut p = probe_paths(&local, |n| n.starts_with('.'));
            buckets.probe(&remote, |n| n.starts_with('.'), &mut p);
            Ok::<_, PluginError>(p)
        })
        .await?)
    }

    fn incremental(&self) -> Option<&Incremental> {
        self.incremental.as_deref()
    }

    async fn split(&self, _channels: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError> {
        let (patterns, buckets) = (self.text.paths.clone(), self.buckets.clone());
        let (files, listed) = datasync_engine::plugin::blocking(move || {
            let (remote, local): (Vec<String>, Vec<String>) = patterns
                .into_iter()
                .partition(|p| datasync_db::store::is_remote_url(p));
            let mut skipped = Vec::new();
            let files = match local.is_empty() {
                true => Vec::new(),
                false => crate::paths::expand_paths(&local, |n| n.starts_with('.'), &mut skipped)
                    .map_err(FileReaderError::from)?,
            };
            let skipped: Vec<String> = skipped.iter().map(|p| p.display().to_string()).collect();
            crate::paths::warn_skipped(&local.join(", "), &skipped);
            let mut listed = Vec::new();
            for pat in &remote {
                let found = buckets.list(pat, |n| n.starts_with('.'))?;
                if found.is_empty() {
                    return Err(PluginError::from(FileReaderError::from(
                        crate::paths::PathError::NoFiles(pat.clone()),
                    )));
                }
                listed.extend(found);
            }
            // Two patterns naming one object read it once (as local paths do).
            listed.sort_by(|a, b| a.url.cmp(&b.url));
            listed.dedup_by(|a, b| a.url == b.url);
            Ok::<_, PluginError>((files, listed))
        })
        .await?;
        let files = match &self.incremental {
            Some(inc) => modified_window(inc, files).await?,
            None => files,
        };
        Ok(files
            .into_iter()
            .map(|path| {
                let size = std::fs::metadata(&path).map(|m| m.len()).ok();
                self.task(FileSplit {
                    path,
                    size,
                    version: None,
                })
            })
            .chain(listed.into_iter().map(|l| {
                self.task(FileSplit {
                    path: l.url,
                    size: Some(l.size),
                    version: Some(l.version),
                })
            }))
            .collect())
    }

    fn task_from_plan(
        &self,
        planned: &serde_json::Value,
    ) -> Result<Box<dyn ReaderTask>, PluginError> {
        datasync_engine::plugin::task_from(planned, |s| self.task(s))
    }
}

/// `modifiedSince`: the files modified since the committed mark; this run's mark recorded
/// for the commit.
async fn modified_window(
    inc: &Incremental,
    files: Vec<PathBuf>,
) -> Result<Vec<PathBuf>, PluginError> {
    let low = match inc.low("files").await.map_err(PluginError::new)? {
        datasync_engine::incremental::Low::Above(v) => Some(v),
        _ => None,
    };
    let (keep, high) = crate::paths::modified_since(files, |p| p.as_path(), low.as_deref())
        .map_err(|e| PluginError::new(format!("{}: {e}", inc.location())))?;
    inc.begin("files", high);
    Ok(keep)
}

impl FileReader {
    fn task(&self, split: FileSplit) -> Box<dyn ReaderTask> {
        Box::new(FileTask {
            reader: self.clone(),
            split,
        })
    }
}

/// One file to read.
#[derive(serde::Serialize, serde::Deserialize)]
struct FileSplit {
    path: PathBuf,
    size: Option<u64>,
    /// An S3 object's ETag (or modification time) when listed (`path` is its URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
}

struct FileTask {
    reader: FileReader,
    split: FileSplit,
}

#[async_trait]
impl ReaderTask for FileTask {
    fn planned(&self) -> Option<serde_json::Value> {
        datasync_engine::plugin::to_plan(&self.split)
    }

    fn input_fingerprint(&self) -> Option<String> {
        match (&self.split.version, self.split.size) {
            (Some(v), Some(size)) => Some(format!("{size}:{v}")),
            _ => crate::paths::file_fingerprint(&self.split.path),
        }
    }

    fn describe(&self) -> String {
        format!("file {}", self.split.path.display())
    }

    fn size_hint(&self) -> Option<SizeHint> {
        self.split.size.map(SizeHint::Bytes)
    }

    async fn read(&mut self, out: BatchSender, ctx: TaskContext) -> Result<(), PluginError> {
        let path = self.split.path.clone();
        let (version, size) = (self.split.version.clone(), self.split.size);
        let reader = self.reader.clone();
        datasync_engine::plugin::blocking(move || {
            let io = |source| FileReaderError::Io {
                path: path.clone(),
                source,
            };
            let input: Box<dyn std::io::Read + Send> = match (&version, size) {
                (Some(v), Some(size)) => reader.buckets.open_sequential(&path, size, Some(v))?,
                _ => Box::new(std::fs::File::open(&path).map_err(io)?),
            };
            let location = path.display().to_string();
            crate::text::decode_file(input, &reader.text, &location, out, ctx).map_err(
                |e| match e {
                    crate::text::TextError::Io(source) => {
                        FileReaderError::Io { path, source }.into()
                    }
                    crate::text::TextError::Plugin(p) => p,
                },
            )
        })
        .await
    }
}
