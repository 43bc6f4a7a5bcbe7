//! The Parquet reader: parameters, files and partitions, planning the splits (row-group ranges).

use super::task::ParquetTask;
use crate::paths::{expand_paths, PathError};
use arrow_schema::{DataType, Schema, SchemaRef};
use datasync_codec::hive::{
    is_hidden_name, parse_hive_type, resolve_default_fs, unescape_partition_value,
};
use datasync_codec::types::parse_type;
use datasync_codec::{all_columns, ColumnSpec, FieldSpec};
use datasync_engine::config::{join_path, one_or_many, ConfigError};
use datasync_engine::{async_trait, Params, Plugin, PluginError, Reader, ReaderTask};
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A task covers at least this many compressed bytes of row groups (unless a file is smaller).
pub(super) const TASK_BYTES: i64 = 64 << 20;

/// `parameter` of the Parquet reader.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ParquetReaderConfig {
    /// `file:///` or absent: a local or mounted file system; `s3a://bucket` (or `s3://`):
    /// each `path` is a key (prefix or glob) in that bucket.
    #[serde(default, rename = "defaultFS")]
    pub default_fs: Option<String>,
    /// Files, table directories (walked; `.`/`_` names skipped) or globs; local, or
    /// `s3://bucket/key`.
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "datasync_engine::schema::OneOrMany")]
    pub path: Vec<String>,
    /// Read only the files modified after the last committed run (and not after this run
    /// began): `{"state": "file:PATH"}` keeps that time.
    pub modified_since: Option<crate::paths::ModifiedSince>,
    /// `["*"]` (every file column, then the partition keys), or a list of column names,
    /// `{"name", "type"}` (a partition key with its type), `{"index", "type"}` (DataX) or
    /// `{"value", "type"}` (a constant).
    #[serde(default = "all_columns")]
    pub column: Vec<ColumnSpec>,
    /// Only these partitions: `{"dt": "2024-01-01"}` or `{"dt": ["2024-01-01", "2024-01-02"]}`.
    #[serde(default)]
    pub partition: serde_json::Map<String, Value>,
    /// How to reach the store of `s3://` paths (endpoint, region, credentials); what is
    /// missing comes from the standard AWS variables.
    #[serde(default, deserialize_with = "datasync_db::store::opt_s3")]
    #[schemars(with = "Option<datasync_db::store::S3Options>")]
    pub s3: Option<datasync_db::store::S3Options>,
}

/// Errors of the Parquet reader.
#[derive(Debug, thiserror::Error)]
pub enum ParquetReaderError {
    /// Listing the input failed.
    #[error(transparent)]
    Paths(#[from] PathError),
    /// A file cannot be opened.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid Parquet or cannot be decoded.
    #[error("cannot decode Parquet file {path}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An S3 call failed.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    /// A file is not valid ORC or cannot be decoded.
    #[error("cannot decode ORC file {path}: {message}")]
    Orc {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        message: String,
    },
    /// A requested column is not in a file.
    #[error("{path}: {message}")]
    Schema {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No file is left after the partition filter.
    #[error("no Parquet file under {0} matches the partition filter")]
    Filtered(String),
    /// `modifiedSince`'s mark cannot be used.
    #[error("modifiedSince: {0}")]
    Since(String),
}

impl From<ParquetReaderError> for PluginError {
    fn from(e: ParquetReaderError) -> Self {
        PluginError::new(e)
    }
}

/// One output column.
#[derive(Debug, Clone)]
pub(super) enum OutColumn {
    /// A file column by name, or else a partition key of that name.
    Name(String),
    /// A file column by position (DataX `index`).
    Index(usize),
    /// A constant.
    Value(String, DataType),
    /// Every file column, then every partition key (as strings).
    All,
}

/// The Parquet reader.
#[derive(Debug, Clone)]
pub struct ParquetReader {
    pub(super) paths: Vec<String>,
    pub(super) columns: Arc<Vec<(OutColumn, Option<DataType>)>>,
    pub(super) filter: Arc<BTreeMap<String, Vec<String>>>,
    /// `modifiedSince`: only files modified since the last committed run.
    pub(super) incremental: Option<Arc<datasync_engine::incremental::Incremental>>,
    /// Clients of the buckets `s3://` paths name.
    pub(super) buckets: crate::remote::Buckets,
    /// The files are ORC (hdfsreader `fileType: "orc"`), not Parquet.
    pub(super) orc: bool,
}

pub(super) fn type_of(name: &str) -> Result<DataType, String> {
    parse_hive_type(name)
        .map(|h| h.arrow)
        .or_else(|_| parse_type(name))
}

impl Plugin for ParquetReader {
    const NAME: &'static str = "parquet";
    const ALIASES: &'static [&'static str] = &[];
    const DESCRIPTION: &'static str =
        "Parquet files and Hive-partitioned tables on a local or mounted path; projection, partition filter";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (c,): (ParquetReaderConfig,) = p.parts(&[])?;
        ParquetReader::from_config(p.path, c)
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<(ParquetReaderConfig,)>(g, &[])
    }

    fn template() -> Value {
        json!({
            "path": ["${input_path}"],
            "column": ["id", "amount", {"name": "dt", "type": "date"}],
            "partition": {"dt": ["2024-01-01", "2024-01-02"]}
        })
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::{alt, note};
        vec![
            note("path", "Parquet files, directories (Hive partition directories below are read) or globs, local or s3://bucket/key; a string or a list."),
            note("column", "[\"*\"], or names and {name, type} to read (projection: other columns are not read)."),
            note("partition", "Partition filter: {column: value or [values]}; partitions that do not match are not read."),
            alt("defaultFS", "\"file:///\"", "file:/// or absent: path is on a local or mounted file system; s3a://bucket: each path is a key in that bucket."),
            alt("s3", "{\"endpoint\": \"http://minio:9000\", \"region\": \"us-east-1\", \"accessKey\": \"${env:S3_KEY}\", \"secretKey\": \"${env:S3_SECRET}\"}", "For s3:// paths: endpoint (default AWS), region, pathStyle (default true with an endpoint), accessKey, secretKey, sessionToken; missing keys come from the AWS_* variables. Objects are read by ranged requests (footer, projected columns), never whole."),
            alt("modifiedSince", "{\"state\": \"file:state/files.json\"}", "Read only the files modified after the last committed run (the time kept in state, moved after a successful commit); `datasync run --full` reads all, `datasync state` shows/sets/resets it."),
        ]
    }
}

impl ParquetReader {
    /// Checks a parsed `parameter` (also the `fileType` parquet path of `hdfs`) and builds the
    /// reader; errors point under `at`.
    pub fn from_config(at: &str, c: ParquetReaderConfig) -> Result<Self, ConfigError> {
        Self::from_config_as(at, c, false)
    }

    /// [`Self::from_config`] for ORC files (`orc`: hdfsreader `fileType: "orc"`).
    pub fn from_config_as(
        at: &str,
        mut c: ParquetReaderConfig,
        orc: bool,
    ) -> Result<Self, ConfigError> {
        if c.path.is_empty() || c.path.iter().any(|s| s.trim().is_empty()) {
            return Err(ConfigError::new(
                join_path(at, "path"),
                "must name at least one file, directory or glob",
            ));
        }
        // DataX's spelling: the store in defaultFS, the directory in path.
        c.path = c
            .path
            .iter()
            .map(|p| resolve_default_fs(at, c.default_fs.as_deref(), p))
            .collect::<Result<_, _>>()?;
        c.path = c
            .path
            .iter()
            .map(|p| match datasync_db::store::parse_location(p) {
                Some(Ok(_)) => Ok(p.trim().to_string()),
                Some(Err(e)) => Err(ConfigError::new(join_path(at, "path"), e)),
                None => datasync_codec::hive::local_path(at, "path", p),
            })
            .collect::<Result<_, _>>()?;
        let buckets = crate::remote::Buckets::connect(&c.path, &c.s3.clone().unwrap_or_default())
            .map_err(|e| ConfigError::new(join_path(at, "s3"), e))?;
        if buckets.is_empty() && datasync_db::store::S3Options::given(&c.s3) {
            return Err(ConfigError::new(
                join_path(at, "s3"),
                "is for s3:// paths only",
            ));
        }
        if !buckets.is_empty() && c.modified_since.is_some() {
            return Err(ConfigError::new(
                join_path(at, "modifiedSince"),
                "is not supported for s3:// paths yet",
            ));
        }
        let mut columns = Vec::new();
        for (i, v) in c.column.iter().enumerate() {
            let col = parse_column(v, &join_path(at, &format!("column[{i}]")))?;
            columns.push(col);
        }
        if columns.is_empty() {
            return Err(ConfigError::new(
                join_path(at, "column"),
                "must list at least one column (or \"*\")",
            ));
        }
        if columns.iter().any(|(c, _)| matches!(c, OutColumn::All)) && columns.len() > 1 {
            return Err(ConfigError::new(
                join_path(at, "column"),
                "\"*\" cannot be combined with other columns",
            ));
        }
        let mut filter = BTreeMap::new();
        for (k, v) in &c.partition {
            let at = join_path(at, &format!("partition.{k}"));
            let text = |v: &Value| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(ConfigError::new(
                    at.clone(),
                    format!("expected a value or a list of values, found {other}"),
                )),
            };
            let values = match v {
                Value::Array(a) => a.iter().map(text).collect::<Result<Vec<_>, _>>()?,
                v => vec![text(v)?],
            };
            filter.insert(k.clone(), values);
        }
        let incremental = match &c.modified_since {
            Some(m) => Some(Arc::new(m.incremental(
                &join_path(at, "modifiedSince"),
                &c.path,
                Some(&filter),
            )?)),
            None => None,
        };
        Ok(ParquetReader {
            paths: c.path,
            columns: Arc::new(columns),
            filter: Arc::new(filter),
            incremental,
            buckets,
            orc,
        })
    }
}

/// The `key=value` directories of `file` below the pattern root `root`.
pub(super) fn partitions_of(file: &Path, root: &Path) -> Vec<(String, Option<String>)> {
    let rel = file.strip_prefix(root).unwrap_or(file);
    let mut out = Vec::new();
    let parent = rel.parent().unwrap_or(Path::new(""));
    for c in parent.components() {
        let s = c.as_os_str().to_string_lossy();
        if let Some((k, v)) = s.split_once('=') {
            if let Some(k) = unescape_partition_value(k) {
                out.push((k, unescape_partition_value(v)));
            }
        }
    }
    out
}

/// The directory a pattern starts from (its part before the first glob character).
pub(super) fn pattern_root(pattern: &str) -> PathBuf {
    let p = Path::new(pattern);
    if p.is_dir() {
        return p.to_path_buf();
    }
    p.components()
        .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
        .collect::<PathBuf>()
}

/// A unit of reading: row groups of one file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct ParquetSplit {
    pub(super) path: PathBuf,
    pub(super) row_groups: Vec<usize>,
    pub(super) rows: u64,
    pub(super) partitions: Vec<(String, Option<String>)>,
    /// The object's size, for a file on S3 (`path` is then its `s3://` URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) size: Option<u64>,
    /// The object's ETag (or modification time) when it was listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) version: Option<String>,
}

#[async_trait]
impl Reader for ParquetReader {
    fn datasets(&self) -> Vec<datasync_engine::lineage::Dataset> {
        self.paths
            .iter()
            .map(|p| crate::remote::dataset(p))
            .collect()
    }

    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        let r = self.clone();
        Ok(datasync_engine::plugin::blocking(move || {
            let (remote, local): (Vec<String>, Vec<String>) = r
                .paths
                .iter()
                .cloned()
                .partition(|p| datasync_db::store::is_remote_url(p));
            let mut p = crate::file::probe_paths(&local, is_hidden_name);
            r.buckets.probe(&remote, is_hidden_name, &mut p);
            Ok::<_, PluginError>(p)
        })
        .await?)
    }

    fn incremental(&self) -> Option<&datasync_engine::incremental::Incremental> {
        self.incremental.as_deref()
    }

    async fn split(&self, channels: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError> {
        let r = self.clone();
        let low = match &self.incremental {
            Some(inc) => Some(match inc.low("files").await.map_err(PluginError::new)? {
                datasync_engine::incremental::Low::Above(v) => Some(v),
                _ => None,
            }),
            None => None,
        };
        let (splits, high) =
            datasync_engine::plugin::blocking(move || r.plan(channels, low)).await?;
        if let Some(inc) = &self.incremental {
            inc.begin("files", high);
        }
        Ok(splits.into_iter().map(|s| self.task(s)).collect())
    }

    fn task_from_plan(
        &self,
        planned: &serde_json::Value,
    ) -> Result<Box<dyn ReaderTask>, PluginError> {
        datasync_engine::plugin::task_from(planned, |s| self.task(s))
    }
}

impl ParquetReader {
    fn task(&self, split: ParquetSplit) -> Box<dyn ReaderTask> {
        Box::new(ParquetTask {
            reader: self.clone(),
            split,
        })
    }

    /// The splits, and with `modifiedSince` (`since`: `Some(committed mark)`) only of the
    /// files modified since; then also this run's mark.
    pub(super) fn plan(
        &self,
        channels: usize,
        since: Option<Option<String>>,
    ) -> Result<(Vec<ParquetSplit>, Option<String>), ParquetReaderError> {
        let mut files = Vec::new();
        let mut sizes = BTreeMap::new();
        for pat in &self.paths {
            let root = pattern_root(pat);
            // Hive's hidden names (_SUCCESS, .hive-staging) are skipped without a word: they
            // are never table data.
            let mut hidden = Vec::new();
            let found = if datasync_db::store::is_remote_url(pat) {
                let listed = self.buckets.list(pat, is_hidden_name)?;
                if listed.is_empty() {
                    return Err(PathError::NoFiles(pat.clone()).into());
                }
                listed
                    .into_iter()
                    .map(|l| {
                        sizes.insert(l.url.clone(), (l.size, l.version));
                        l.url
                    })
                    .collect()
            } else {
                expand_paths(std::slice::from_ref(pat), is_hidden_name, &mut hidden)?
            };
            for f in found {
                let parts = partitions_of(&f, &root);
                let keep = self.filter.iter().all(|(k, want)| {
                    parts.iter().any(|(pk, pv)| {
                        pk == k && want.iter().any(|w| pv.as_deref() == Some(w.as_str()))
                    })
                });
                if keep {
                    files.push((f, parts));
                }
            }
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files.dedup_by(|a, b| a.0 == b.0);
        if files.is_empty() {
            return Err(ParquetReaderError::Filtered(self.paths.join(", ")));
        }
        let mut high = None;
        if let Some(low) = since {
            let (kept, h) =
                crate::paths::modified_since(files, |(f, _)| f.as_path(), low.as_deref())
                    .map_err(ParquetReaderError::Since)?;
            files = kept;
            high = h;
        }
        // Split large files by row-group ranges, so a table of few big files still spreads
        // over the channels.
        let total: i64 = files
            .iter()
            .map(|(f, _)| match sizes.get(f) {
                Some((s, _)) => *s as i64,
                None => std::fs::metadata(f).map(|m| m.len() as i64).unwrap_or(0),
            })
            .sum();
        let target = (total / channels.max(1) as i64).clamp(1, TASK_BYTES);
        let mut out = Vec::new();
        let mut first: Option<(PathBuf, Vec<(String, DataType)>)> = None;
        for (path, partitions) in files {
            let (size, version) = match sizes.get(&path) {
                Some((s, v)) => (Some(*s), Some(v.clone())),
                None => (None, None),
            };
            if self.orc {
                // One split per ORC file (its stripes are not split yet).
                let (rows, schema) = self.orc_footer(&path, size, version.as_deref())?;
                self.same_columns(&mut first, &path, &schema)?;
                out.push(ParquetSplit {
                    path,
                    row_groups: Vec::new(),
                    rows,
                    partitions,
                    size,
                    version,
                });
                continue;
            }
            let meta = self.open_metadata(&path, size, version.as_deref())?;
            self.same_columns(&mut first, &path, meta.schema())?;
            let md = meta.metadata();
            let mut cur = Vec::new();
            let (mut bytes, mut rows) = (0i64, 0u64);
            for (i, rg) in md.row_groups().iter().enumerate() {
                cur.push(i);
                bytes += rg.compressed_size();
                rows += rg.num_rows().max(0) as u64;
                if bytes >= target {
                    out.push(ParquetSplit {
                        path: path.clone(),
                        row_groups: std::mem::take(&mut cur),
                        rows,
                        partitions: partitions.clone(),
                        size,
                        version: version.clone(),
                    });
                    bytes = 0;
                    rows = 0;
                }
            }
            if !cur.is_empty() || md.row_groups().is_empty() {
                out.push(ParquetSplit {
                    path: path.clone(),
                    row_groups: cur,
                    rows,
                    partitions,
                    size,
                    version,
                });
            }
        }
        Ok((out, high))
    }
}

impl ParquetReader {
    /// With `column: ["*"]`, refuses a file whose columns (names, order, types) differ from
    /// the first file's (`first`, set by the first call): `*` takes each file's columns as they
    /// are, so such files would send rows of different shapes down one job.
    fn same_columns(
        &self,
        first: &mut Option<(PathBuf, Vec<(String, DataType)>)>,
        path: &Path,
        schema: &Schema,
    ) -> Result<(), ParquetReaderError> {
        if !self
            .columns
            .iter()
            .any(|(c, _)| matches!(c, OutColumn::All))
        {
            return Ok(());
        }
        let cols: Vec<(String, DataType)> = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        let Some((first_path, want)) = first else {
            *first = Some((path.to_path_buf(), cols));
            return Ok(());
        };
        if *want == cols {
            return Ok(());
        }
        let show = |c: &[(String, DataType)]| {
            c.iter()
                .map(|(n, t)| format!("{n} {}", datasync_codec::types::type_name(t)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(ParquetReaderError::Schema {
            path: path.to_path_buf(),
            message: format!(
                "its columns ({}) differ from those of {} ({}): with column [\"*\"] every file \
                 must have the same columns in the same order; name the columns (with types) \
                 in column to read such files by name",
                show(&cols),
                first_path.display(),
                show(want)
            ),
        })
    }

    /// The rows and columns of an ORC file (its footer says).
    fn orc_footer(
        &self,
        path: &Path,
        size: Option<u64>,
        version: Option<&str>,
    ) -> Result<(u64, SchemaRef), ParquetReaderError> {
        use datasync_db::orc::orc_rust::reader::ChunkReader;
        fn footer<R: ChunkReader>(r: R) -> Result<(u64, SchemaRef), String> {
            let b = datasync_db::orc::reader(r).map_err(|e| e.to_string())?;
            let schema = datasync_db::orc::schema_from_orc(&b.schema())?;
            Ok((b.file_metadata().number_of_rows(), schema))
        }
        let got = match size {
            Some(size) => footer(self.buckets.open(path, size, version)?),
            None => footer(File::open(path).map_err(|source| ParquetReaderError::Io {
                path: path.to_path_buf(),
                source,
            })?),
        };
        got.map_err(|message| ParquetReaderError::Orc {
            path: path.to_path_buf(),
            message,
        })
    }

    /// The footer of a file (`size`: an S3 object's, from its listing).
    pub(super) fn open_metadata(
        &self,
        path: &Path,
        size: Option<u64>,
        version: Option<&str>,
    ) -> Result<ArrowReaderMetadata, ParquetReaderError> {
        let perr = |source| ParquetReaderError::Parquet {
            path: path.to_path_buf(),
            source,
        };
        if let Some(size) = size {
            let obj = self.buckets.open(path, size, version)?;
            return ArrowReaderMetadata::load(&obj, Default::default())
                .and_then(super::int96::int96_as_micros)
                .map_err(perr);
        }
        let file = File::open(path).map_err(|source| ParquetReaderError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        ArrowReaderMetadata::load(&file, Default::default())
            .and_then(super::int96::int96_as_micros)
            .map_err(perr)
    }
}

/// One `column[]` entry: `"*"`, a name, or an object with one of `name` / `index` / `value`
/// (and an optional `type`).
fn parse_column(v: &ColumnSpec, at: &str) -> Result<(OutColumn, Option<DataType>), ConfigError> {
    let f = match v {
        ColumnSpec::All => return Ok((OutColumn::All, None)),
        ColumnSpec::Name(n) => return Ok((OutColumn::Name(n.clone()), None)),
        ColumnSpec::Field(f) => f,
    };
    // `format` (DataX's date pattern for text files) is accepted and has nothing to do here:
    // Parquet columns carry their own types.
    let ty =
        f.ty.as_deref()
            .map(type_of)
            .transpose()
            .map_err(|m| ConfigError::new(join_path(at, "type"), m))?;
    Ok(match f {
        FieldSpec {
            name: Some(n),
            index: None,
            value: None,
            ..
        } => (OutColumn::Name(n.clone()), ty),
        FieldSpec {
            name: None,
            index: Some(ix),
            value: None,
            ..
        } => (OutColumn::Index(*ix), ty),
        FieldSpec {
            name: None,
            index: None,
            value: Some(v),
            ..
        } => {
            let text = datasync_engine::config::constant_text(v);
            (OutColumn::Value(text, ty.unwrap_or(DataType::Utf8)), None)
        }
        _ => {
            return Err(ConfigError::new(
                at,
                "expected exactly one of name, index or value",
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn partitions_come_from_directory_names() {
        let p = partitions_of(
            Path::new("/t/dt=2024-01-01/region=a%2Fb/f.parquet"),
            Path::new("/t"),
        );
        assert_eq!(
            p,
            vec![
                ("dt".to_string(), Some("2024-01-01".to_string())),
                ("region".to_string(), Some("a/b".to_string()))
            ]
        );
        let p = partitions_of(
            Path::new("/t/dt=__HIVE_DEFAULT_PARTITION__/f.parquet"),
            Path::new("/t"),
        );
        assert_eq!(p, vec![("dt".to_string(), None)]);
        assert_eq!(pattern_root("/t/dt=*/x*.parquet"), PathBuf::from("/t"));
    }

    #[test]
    fn validates_columns() {
        let build = |v: Value| ParquetReader::from_params(Params::new(&v, "r", "parquet"));
        assert!(build(json!({"path": "/t"})).is_ok());
        assert!(
            build(json!({"path": "/t", "column": ["a", {"name": "dt", "type": "date"}]})).is_ok()
        );
        let e =
            build(json!({"path": "/t", "column": [{"name": "dt", "type": "nope"}]})).unwrap_err();
        assert!(e.to_string().contains("column[0].type"), "{e}");
        let e = build(json!({"path": "/t", "column": ["*", "a"]})).unwrap_err();
        assert!(e.to_string().contains("\"*\""), "{e}");
        let e = build(json!({"path": "/t", "column": [{"nme": "a"}]})).unwrap_err();
        assert_eq!(e.path, "r.column[0].nme", "{e}");
        let e = build(json!({"path": "/t", "column": [{"name": "a", "index": 1}]})).unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
        let e = build(json!({"path": "/t", "fileType": "parquet"})).unwrap_err();
        assert!(e.to_string().contains("fileType"), "{e}");
    }
}
