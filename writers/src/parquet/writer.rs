//! The Parquet writer: validation, staging, the per-task file writing, and the commit that
//! publishes partitions, writes `_SUCCESS` and registers partitions in the metastore.

use super::config::{ParquetCompression, ParquetWriteMode, ParquetWriterConfig};
use super::file::{FileError, FileLayout};
use super::hms::{self, HmsError};
use super::task::ParquetTask;
use arrow_schema::Field;
use datasync_codec::hive::{is_hidden_name, parse_hive_type, resolve_default_fs, HiveType};
use datasync_engine::config::{join_path, ConfigError};
use datasync_engine::{async_trait, run_id, Params, Plugin, PluginError, Writer, WriterTask};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// Most files a task keeps open at once (one per partition it is writing); the least recently
/// used is finished when a new partition needs one.
pub(super) const MAX_OPEN_FILES: usize = 32;

/// Errors of the Parquet writer.
#[derive(Debug, thiserror::Error)]
pub enum ParquetWriterError {
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
    Publish(#[from] crate::publish::FsError),
    /// A call to the S3 store of an `s3://` table failed.
    #[error(transparent)]
    Store(#[from] datasync_db::store::StoreError),
}

impl From<ParquetWriterError> for PluginError {
    fn from(e: ParquetWriterError) -> Self {
        let retriable = matches!(&e, ParquetWriterError::Hms(h) if h.is_retriable());
        PluginError::classified(retriable, e)
    }
}

/// Where partitions are registered.
#[derive(Debug, Clone)]
pub(super) struct HmsTarget {
    pub(super) uris: String,
    pub(super) database: String,
    pub(super) table: String,
    pub(super) create: bool,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) dir: PathBuf,
    pub(super) stem: String,
    pub(super) mode: ParquetWriteMode,
    pub(super) columns: Vec<(String, HiveType)>,
    pub(super) static_parts: Vec<(String, String)>,
    pub(super) dynamic_parts: Vec<(String, HiveType)>,
    pub(super) layout: Arc<FileLayout>,
    pub(super) staging: PathBuf,
    pub(super) hms: Option<HmsTarget>,
    /// What each task of this process staged (container-task mode).
    pub(super) sizes: crate::publish::StagedSizes,
    /// An `s3://` table: `dir` is then the local staging root, whose paths map to keys.
    pub(super) remote: Option<crate::remote::RemoteTarget>,
    /// The `s3` options of an `s3://` table (for reading it back).
    pub(super) s3_options: datasync_db::store::S3Options,
    /// Parquet, or ORC for hdfswriter's `fileType: "orc"`.
    pub(super) format: super::config::DataFormat,
}

impl Inner {
    /// Where the commit publishes.
    pub(super) fn target(&self) -> &dyn crate::publish::Target {
        match &self.remote {
            Some(r) => r,
            None => &crate::publish::LocalFs,
        }
    }

    /// How the table (or a directory below it) is named to users and the metastore.
    pub(super) fn display(&self, rel: &str) -> String {
        match &self.remote {
            Some(r) => r.s3.url(rel),
            None => self.dir.join(rel).display().to_string(),
        }
    }
}

/// The Parquet writer.
#[derive(Debug, Clone)]
pub struct ParquetWriter {
    w: Arc<Inner>,
}

fn err(path: &str, key: &str, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(join_path(path, key), msg)
}

impl Plugin for ParquetWriter {
    const NAME: &'static str = "parquet";
    const ALIASES: &'static [&'static str] = &[];
    const DESCRIPTION: &'static str =
        "Hive-style Parquet tables on a local or mounted path or on S3-compatible storage: partitions, staging, _SUCCESS, Hive Metastore registration";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (c,): (ParquetWriterConfig,) = p.parts(&[])?;
        ParquetWriter::from_config(p.path, c)
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<(ParquetWriterConfig,)>(g, &[])
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

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::{alt, note};
        vec![
            alt("defaultFS", "\"file:///\"", "file:/// or absent: path is on a local or mounted file system; s3a://bucket: path is a key prefix in that bucket."),
            note("path", "The table's directory (created if missing), or s3://bucket/prefix; files are staged and published at commit with _SUCCESS."),
            alt("s3", "{\"endpoint\": \"http://minio:9000\", \"region\": \"us-east-1\", \"accessKey\": \"${env:S3_KEY}\", \"secretKey\": \"${env:S3_SECRET}\"}", "For an s3:// path: endpoint (default AWS), region, pathStyle (default true with an endpoint), accessKey, secretKey, sessionToken; missing keys come from the AWS_* variables. Never printed."),
            alt("stagingDir", "\"/var/lib/datasync/staging/orders\"", "For an s3:// path: local directory files are staged in until the commit uploads them (default <temp dir>/datasync-s3/<bucket>/<prefix>); keep it the same between runs."),
            note("fileName", "File name prefix."),
            note("column", "Data columns in the reader's order with Hive types: TINYINT SMALLINT INT BIGINT FLOAT DOUBLE DECIMAL(p<=38,s) STRING VARCHAR(n) CHAR(n) BOOLEAN DATE TIMESTAMP BINARY. A value the type cannot hold exactly is dirty."),
            note("writeMode", "truncate (replace the target partition's files), append, or nonConflict (fail if any exist)."),
            note("compress", "snappy (default), zstd, gzip, lz4 or none."),
            note("rowGroupSize", "Rows per row group; default 1000000 (a row group also closes at 128 MiB)."),
            note("maxFileSize", "Start a new file once one reaches this size, e.g. 512MB; default no limit."),
            note("partition", "Static partition values in key order: {\"dt\": \"2024-01-01\"} writes under dt=2024-01-01/."),
            note("partitionColumns", "Dynamic partitions: the reader's columns after `column`, by name (STRING) or {name, type}."),
            note("timestampType", "int64-micros (default) or int96 (Hive before 3, Impala)."),
            alt("hiveMetastoreUris", "\"thrift://metastore:9083\"", "Register the table's partitions in this Hive Metastore (comma-separated list)."),
            alt("database", "\"default\"", "Hive database with hiveMetastoreUris; default default."),
            alt("table", "\"orders\"", "Hive table; required with hiveMetastoreUris."),
            alt("createTable", "true", "Create the Hive table (external, Parquet, LOCATION = path) if missing; default false."),
        ]
    }
}

impl ParquetWriter {
    /// The Parquet files below `dir` as the Parquet reader reads them, each written column
    /// by its name (partition columns are not compared).
    fn read_dir(&self, dir: &std::path::Path, staged: bool) -> datasync_engine::plugin::ReadBack {
        let w = &self.w;
        let (plugin, parameter) = match w.format {
            super::config::DataFormat::Orc => (
                "hdfs",
                serde_json::json!({"path": dir.display().to_string(), "column": ["*"], "fileType": "orc"}),
            ),
            super::config::DataFormat::Parquet => (
                "parquet",
                serde_json::json!({"path": dir.display().to_string(), "column": ["*"]}),
            ),
        };
        datasync_engine::plugin::ReadBack::Reader {
            plugin,
            parameter,
            staged,
            count_only: false,
            filters: false,
            columns: w
                .columns
                .iter()
                .map(|(n, _)| Some(n.clone()))
                .chain(w.dynamic_parts.iter().map(|_| None))
                .collect(),
        }
    }

    /// Checks a parsed `parameter` (also the `fileType` parquet path of `hdfs`) and builds the
    /// writer; errors point under `at`.
    pub fn from_config(at: &str, c: ParquetWriterConfig) -> Result<Self, ConfigError> {
        Self::from_config_as(at, c, super::config::DataFormat::Parquet)
    }

    /// [`Self::from_config`] writing `format` files (hdfswriter `fileType: "orc"`).
    pub fn from_config_as(
        at: &str,
        c: ParquetWriterConfig,
        format: super::config::DataFormat,
    ) -> Result<Self, ConfigError> {
        if c.path.trim().is_empty() {
            return Err(err(at, "path", "must name the table's directory"));
        }
        let location = resolve_default_fs(at, c.default_fs.as_deref(), &c.path)?;
        let loc = match datasync_db::store::parse_location(&location) {
            Some(Ok(loc)) => Some(loc),
            Some(Err(e)) => return Err(err(at, "path", e)),
            None => None,
        };
        let keys = crate::remote::RemoteKeys {
            s3: c.s3.clone(),
            staging_dir: c.staging_dir.clone(),
        };
        let remote = keys.target(at, loc)?;
        let path = &match &remote {
            Some(r) => r.root.display().to_string(),
            None => datasync_codec::hive::local_path(at, "path", &location)?,
        };
        if c.file_name.is_empty() || c.file_name.contains('/') || is_hidden_name(&c.file_name) {
            return Err(err(
                at,
                "fileName",
                "must be a plain file name prefix (no '/', not starting with '.' or '_')",
            ));
        }
        let stem = c
            .file_name
            .strip_suffix(format.extension())
            .unwrap_or(&c.file_name)
            .to_string();
        if c.column.is_empty() {
            return Err(err(at, "column", "must declare at least one column"));
        }
        let (columns, static_parts, dynamic_parts) = declared_columns(&c, at)?;
        let hms = hms_target(&c, at)?;
        let fields = columns
            .iter()
            .map(|(n, t)| Field::new(n, t.arrow.clone(), true))
            .collect();
        match format {
            super::config::DataFormat::Orc => {
                super::orc::codec(c.compress).map_err(|e| err(at, "compress", e))?;
                for (i, (n, t)) in columns.iter().enumerate() {
                    super::orc::check_type(&t.arrow).map_err(|e| {
                        err(
                            at,
                            &format!("column[{i}].type"),
                            format!("column \"{n}\": {e}"),
                        )
                    })?;
                }
            }
            super::config::DataFormat::Parquet if c.compress == ParquetCompression::Zlib => {
                return Err(err(
                    at,
                    "compress",
                    "zlib is an ORC codec; Parquet takes snappy, zstd, gzip, lz4, none",
                ));
            }
            super::config::DataFormat::Parquet => {}
        }
        let layout = FileLayout::new(
            format,
            fields,
            c.compress,
            c.timestamp_type,
            c.row_group_size.unwrap_or(1_000_000) as usize,
            c.max_file_size.map(|b| b.0).filter(|b| *b > 0),
        )
        .map_err(|e| err(at, "column", e.to_string()))?;
        let dir = PathBuf::from(path);
        let staging = crate::publish::staging_dir(&dir, &stem, run_id());
        Ok(ParquetWriter {
            w: Arc::new(Inner {
                dir,
                stem,
                mode: c.write_mode,
                columns,
                static_parts,
                dynamic_parts,
                layout: Arc::new(layout),
                staging,
                hms,
                sizes: Default::default(),
                remote,
                s3_options: c.s3.clone().unwrap_or_default(),
                format,
            }),
        })
    }
}

#[async_trait]
impl Writer for ParquetWriter {
    fn datasets(&self) -> Vec<datasync_engine::lineage::Dataset> {
        let mut v = vec![match &self.w.remote {
            Some(r) => {
                let loc = r.s3.location();
                datasync_engine::lineage::Dataset::new(
                    datasync_db::store::StoreLocation {
                        prefix: String::new(),
                        ..loc.clone()
                    }
                    .url(),
                    loc.prefix.clone(),
                )
            }
            None => datasync_engine::lineage::Dataset::file(&self.w.dir),
        }];
        // The metastore table too, when the writer registers one.
        if let Some(h) = &self.w.hms {
            let uri = h.uris.split(',').next().unwrap_or_default().trim();
            v.push(datasync_engine::lineage::Dataset::new(
                uri.replacen("thrift://", "hive://", 1),
                format!("{}.{}", h.database, h.table),
            ));
        }
        v
    }

    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        let w = Arc::clone(&self.w);
        Ok(datasync_engine::plugin::blocking(move || {
            let mut p = datasync_engine::Probe::default();
            p.directory(&w.dir);
            if let Some(r) = &w.remote {
                crate::remote::probe(&r.s3, &mut p);
            }
            if let Some(t) = &w.hms {
                let what = format!("Hive Metastore {}", t.uris);
                match w.prepare_hms(t, true) {
                    Ok(found) => p.ok(what, found),
                    Err(e) => p.problem(what, PluginError::from(e).chain()),
                }
            }
            p.columns = Some(
                w.columns
                    .iter()
                    .map(|(n, t)| (n.clone(), t.name.clone()))
                    .collect(),
            );
            Ok::<_, PluginError>(p)
        })
        .await?)
    }

    async fn prepare(&self) -> Result<(), PluginError> {
        let w = Arc::clone(&self.w);
        datasync_engine::plugin::blocking(move || w.prepare()).await?;
        Ok(())
    }

    async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError> {
        Ok((0..n)
            .map(|task| {
                datasync_engine::plugin::blocking_task(ParquetTask {
                    w: Arc::clone(&self.w),
                    task,
                })
            })
            .collect())
    }

    async fn commit(&self) -> Result<(), PluginError> {
        crate::publish::commit_staged(
            Arc::clone(&self.w),
            |w| (&w.staging, w.target()),
            |w| w.publish(),
        )
        .await
    }

    async fn abort(&self) -> Result<(), PluginError> {
        crate::file::remove_staging(self.w.staging.clone()).await
    }

    fn plannable(&self) -> Result<(), String> {
        match &self.w.remote {
            Some(r) => Err(crate::remote::not_plannable(&r.s3)),
            None => Ok(()),
        }
    }

    fn commit_decided(&self) -> bool {
        crate::publish::decided(&self.w.staging)
    }

    async fn adopt_staged(
        &self,
        staged: &[datasync_engine::plugin::StagedTask],
        verify: bool,
    ) -> Result<(), PluginError> {
        let (w, staged) = (Arc::clone(&self.w), staged.to_vec());
        datasync_engine::plugin::blocking(move || {
            crate::publish::adopt_reported(&w.staging, &staged, verify, |n| !is_hidden_name(n))
        })
        .await
    }

    async fn join_planned(&self) -> Result<bool, PluginError> {
        crate::file::join_planned(self.w.staging.clone()).await
    }

    async fn recover(&self) -> Result<Vec<String>, PluginError> {
        let w = Arc::clone(&self.w);
        let lines = datasync_engine::plugin::blocking(move || w.recover()).await?;
        Ok(lines)
    }

    fn task_staged(&self, task: usize) -> Option<String> {
        self.w.sizes.of(task)
    }

    fn task_fingerprint(&self, task: usize) -> Option<String> {
        let prefix = format!("{}__{}_{task:05}_", self.w.stem, run_id());
        crate::publish::fingerprint(&self.w.staging, &[], |name| name.starts_with(&prefix))
    }

    /// The staged files, read back by the Parquet reader before the commit publishes them.
    /// Partition columns come back as directory names (text), so they are not compared.
    fn read_back(&self, _filter: Option<&str>) -> datasync_engine::plugin::ReadBack {
        let w = &self.w;
        self.read_dir(&w.staging, true)
    }

    /// The published table: the job's static partition (or the whole table below the path).
    /// A commit a killed run left half-done is refused: `recover` finishes it first.
    fn read_published(&self, _filter: Option<&str>) -> datasync_engine::plugin::ReadBack {
        let w = &self.w;

        let pending = std::fs::read_dir(&w.dir).ok().and_then(|entries| {
            entries.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".datasync-staging-"))
                    && crate::publish::decided(p)
            })
        });
        if let Some(p) = pending {
            return datasync_engine::plugin::ReadBack::Unavailable(format!(
                "a killed run's commit is half-done in {}: run `datasync recover` on the job first",
                p.display()
            ));
        }
        let rel = w.static_rel();
        if let Some(r) = &w.remote {
            let mut back = self.read_dir(&w.dir, false);
            if let datasync_engine::plugin::ReadBack::Reader { parameter, .. } = &mut back {
                parameter["path"] = r.s3.url(&rel).into();
                parameter["s3"] = w.s3_options.to_json();
            }
            return back;
        }
        self.read_dir(&w.dir.join(rel), false)
    }

    fn resume(&self) -> datasync_engine::Resume {
        datasync_engine::Resume::StateFile(self.w.staging.join(crate::publish::RUN_STATE_FILE))
    }
}

/// The declared data columns, static partition values and dynamic partition columns (names
/// unique across all three, Hive types parsed).
#[allow(clippy::type_complexity)]
fn declared_columns(
    c: &ParquetWriterConfig,
    path: &str,
) -> Result<
    (
        Vec<(String, HiveType)>,
        Vec<(String, String)>,
        Vec<(String, HiveType)>,
    ),
    ConfigError,
> {
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
        unique(&col.name, join_path(path, &format!("column[{i}].name")))?;
        let t = parse_hive_type(&col.type_name)
            .map_err(|m| err(path, &format!("column[{i}].type"), m))?;
        columns.push((col.name.clone(), t));
    }
    let mut static_parts = Vec::new();
    for (k, v) in &c.partition {
        unique(k, join_path(path, &format!("partition.{k}")))?;
        let v = match v {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(err(
                    path,
                    &format!("partition.{k}"),
                    format!("expected a non-empty string or number, found {other}"),
                ))
            }
        };
        static_parts.push((k.clone(), v));
    }
    let mut dynamic_parts = Vec::new();
    for (i, pc) in c.partition_columns.iter().enumerate() {
        unique(&pc.name, join_path(path, &format!("partitionColumns[{i}]")))?;
        let t = parse_hive_type(&pc.type_name)
            .map_err(|m| err(path, &format!("partitionColumns[{i}].type"), m))?;
        dynamic_parts.push((pc.name.clone(), t));
    }
    Ok((columns, static_parts, dynamic_parts))
}

/// Where partitions are registered: `hiveMetastoreUris` with `table` (and `database`,
/// `createTable`), or nowhere.
fn hms_target(c: &ParquetWriterConfig, path: &str) -> Result<Option<HmsTarget>, ConfigError> {
    let hms = match &c.hive_metastore_uris {
        None => None,
        Some(uris) => {
            hms::parse_uris(uris).map_err(|e| err(path, "hiveMetastoreUris", e.to_string()))?;
            let table = c
                .table
                .clone()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| {
                    err(
                        path,
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
            path,
            "hiveMetastoreUris",
            "table/createTable need hiveMetastoreUris (thrift://host:9083)",
        ));
    }
    Ok(hms)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn build(v: Value) -> Result<ParquetWriter, ConfigError> {
        ParquetWriter::from_params(Params::new(
            &v,
            "job.content[0].writer.parameter",
            "parquet",
        ))
    }

    fn base() -> Value {
        json!({"path": "/tmp/t", "fileName": "f", "writeMode": "append",
               "column": [{"name": "id", "type": "bigint"}]})
    }

    #[test]
    fn validates_parameters() {
        assert!(build(base()).is_ok());
        let mut v = base();
        v["column"][0]["type"] = json!("varchar(0)");
        let e = build(v).unwrap_err();
        assert!(e.to_string().contains("column[0].type"), "{e}");
        let mut v = base();
        v["fileType"] = json!("parquet");
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
        let w = build(v).unwrap().w;
        assert_eq!(w.static_rel(), "dt=2024-01-01/hour=3");
        assert_eq!(w.partition_keys(), vec!["dt", "hour", "region", "day"]);
    }
}
