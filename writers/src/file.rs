//! `file` writer (DataX `txtfilewriter`): each task writes one file into a hidden staging
//! directory beside the target (`<path>/.datasync-staging-<fileName>-<run id>/`); commit renames
//! them into place per `writeMode`, abort removes the staging directory, so an aborted job
//! publishes nothing. Output names follow DataX: `<fileName>__<run id>_<task>[.ext][.gz|.zst]`.

use crate::publish::io;
pub use crate::textfiles::FileWriteMode;
use crate::textfiles::{some_paths, FileTarget, TextFiles};
use datasync_codec::TextWriteConfig;
use datasync_engine::channel::BatchReceiver;
use datasync_engine::config::{join_path, ConfigError};
use datasync_engine::plugin::{blocking_task, BlockingWriterTask};
use datasync_engine::{
    async_trait, run_id, Params, Plugin, PluginError, Resume, TaskContext, Writer, WriterTask,
};
use serde_json::{json, Value};
use std::fs;
use std::io::BufWriter;
use std::path::PathBuf;

/// Errors of the file writer.
#[derive(Debug, thiserror::Error)]
pub enum FileWriterError {
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
    Publish(#[from] crate::publish::FsError),
    /// The rows do not match the declared columns.
    #[error("{0}")]
    Columns(String),
    /// Files named with this run id exist already.
    #[error("run id {run} was used before: its files are in the target ({files}); give this run another --run-id")]
    RunIdUsed {
        /// The run id.
        run: String,
        /// Some of the files.
        files: String,
    },
}

impl From<FileWriterError> for PluginError {
    fn from(e: FileWriterError) -> Self {
        PluginError::new(e)
    }
}

/// The file writer.
#[derive(Debug, Clone)]
pub struct FileWriter {
    dir: PathBuf,
    files: TextFiles,
    staging: PathBuf,
    sizes: crate::publish::StagedSizes,
    /// An `s3://` target: `dir` is then the local staging root, whose paths map to keys.
    remote: Option<std::sync::Arc<crate::remote::RemoteTarget>>,
}

impl FileWriter {
    /// A file writer into `target` (also the `fileType` text/csv path of `hdfs`).
    pub fn new(
        at: &str,
        target: FileTarget,
        text: TextWriteConfig,
        keys: &crate::remote::RemoteKeys,
    ) -> Result<Self, ConfigError> {
        if target.path.trim().is_empty() {
            return Err(ConfigError::new(
                join_path(at, "path"),
                "must name the target directory",
            ));
        }
        let files = TextFiles::new(at, &target, text)?;
        let loc = match datasync_db::store::parse_location(&target.path) {
            Some(l) => Some(l.map_err(|e| ConfigError::new(join_path(at, "path"), e))?),
            None => None,
        };
        let remote = keys.target(at, loc)?.map(std::sync::Arc::new);
        let dir = match &remote {
            Some(r) => r.root.clone(),
            None => PathBuf::from(datasync_codec::hive::local_path(at, "path", &target.path)?),
        };
        let staging = crate::publish::staging_dir(&dir, &target.file_name, run_id());
        Ok(FileWriter {
            dir,
            files,
            staging,
            sizes: Default::default(),
            remote,
        })
    }

    /// Converts every batch with `conform` (declared columns) before it is encoded.
    pub fn conform_with(&mut self, conform: std::sync::Arc<crate::textfiles::Conform>) {
        self.files.conform_with(conform);
    }
}

/// The file writer's `parameter`: where the files go, the remote store's keys, the text-file
/// options.
type Layout = (FileTarget, crate::remote::RemoteKeys, TextWriteConfig);

impl Plugin for FileWriter {
    const NAME: &'static str = "file";
    const ALIASES: &'static [&'static str] = &["txtfilewriter"];
    const DESCRIPTION: &'static str =
        "local CSV / delimited text / JSON Lines files, staged and renamed at commit";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        crate::textfiles::note_default_format(&p);
        let (target, keys, text): Layout = p.parts(crate::textfiles::IGNORED_WRITER_KEYS)?;
        FileWriter::new(p.path, target, text, &keys)
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<Layout>(g, crate::textfiles::IGNORED_WRITER_KEYS)
    }

    fn template() -> Value {
        datasync_engine::template::merged([
            json!({"path": "${output_dir}", "fileName": "${file_name}"}),
            datasync_codec::text_write_template(),
        ])
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::note;
        let mut n = vec![
            note("path", "Output directory (created if missing); files are staged in it and renamed at commit."),
            note("fileName", "File name prefix: files are <fileName>__<run id>_<task>[.<shard attempt>][suffix]."),
            note("writeMode", "truncate (replace this prefix's files at commit), append, or nonConflict (fail if any exist)."),
            note("suffix", "Appended to every file name, e.g. .csv; default none (compressed files get their extension)."),
        ];
        n.extend(datasync_codec::text_write_notes());
        n.extend(crate::remote::notes());
        n
    }
}

impl FileWriter {
    /// Where the commit publishes.
    fn target(&self) -> &dyn crate::publish::Target {
        match &self.remote {
            Some(r) => r.as_ref(),
            None => &crate::publish::LocalFs,
        }
    }

    /// The target directory as users name it.
    fn shown_dir(&self) -> PathBuf {
        match &self.remote {
            Some(r) => PathBuf::from(r.s3.url("")),
            None => self.dir.clone(),
        }
    }

    fn existing(&self) -> Result<Vec<PathBuf>, FileWriterError> {
        let mut out = Vec::new();
        if let Some(r) = &self.remote {
            let (files, _) = r.s3.list_dir("").map_err(|e| {
                FileWriterError::Publish(crate::publish::FsError::remote(
                    "cannot list",
                    &r.s3.url(""),
                    e,
                ))
            })?;
            out.extend(
                files
                    .into_iter()
                    .filter(|(n, _)| self.files.owns(n))
                    .map(|(n, _)| self.dir.join(n)),
            );
            return Ok(out);
        }
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("cannot list", &self.dir)(e).into()),
        };
        for e in rd {
            let e = e.map_err(io("cannot list", &self.dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if self.files.owns(&name) && e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                out.push(e.path());
            }
        }
        out.sort();
        Ok(out)
    }

    fn check_conflict(&self) -> Result<(), FileWriterError> {
        if self.files.mode != FileWriteMode::NonConflict {
            return Ok(());
        }
        let files = self.existing()?;
        if files.is_empty() {
            return Ok(());
        }
        let shown: Vec<PathBuf> = files
            .iter()
            .map(|f| match (&self.remote, f.file_name()) {
                (Some(r), Some(n)) => PathBuf::from(r.s3.url(&n.to_string_lossy())),
                _ => f.clone(),
            })
            .collect();
        Err(FileWriterError::Conflict {
            dir: self.shown_dir(),
            prefix: self.files.file_name.clone(),
            files: some_paths(&shown),
        })
    }

    /// Refuses a run id whose files are in the target already (an explicit `--run-id` used
    /// again): this run's files would carry the same names.
    fn check_run_id_unused(&self) -> Result<(), FileWriterError> {
        let ours = format!("__{}_", run_id());
        let used: Vec<PathBuf> = self
            .existing()?
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(&ours))
            .collect();
        if used.is_empty() {
            return Ok(());
        }
        Err(FileWriterError::RunIdUsed {
            run: run_id().to_string(),
            files: some_paths(&used),
        })
    }

    /// Finishes or removes what earlier runs of this `fileName` left in staging (a commit
    /// interrupted half-way is finished; an aborted or killed run's files are removed).
    pub(crate) fn recover(&self) -> Result<Vec<String>, FileWriterError> {
        let done = crate::publish::recover(
            &self.dir,
            &self.files.file_name,
            Some(&self.staging),
            self.target(),
        )?;
        Ok(crate::publish::describe(&done))
    }

    fn publish(&self) -> Result<(), FileWriterError> {
        self.check_conflict()?;
        let old = if self.files.mode == FileWriteMode::Truncate {
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
                .is_some_and(|n| self.files.owns(&n.to_string_lossy()))
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
        crate::publish::commit(&self.staging, &journal, self.target())?;
        Ok(())
    }
}

#[async_trait]
impl Writer for FileWriter {
    fn datasets(&self) -> Vec<datasync_engine::lineage::Dataset> {
        match &self.remote {
            Some(r) => {
                let loc = r.s3.location();
                vec![datasync_engine::lineage::Dataset::new(
                    datasync_db::store::StoreLocation {
                        prefix: String::new(),
                        ..loc.clone()
                    }
                    .url(),
                    loc.prefix.clone(),
                )]
            }
            None => vec![datasync_engine::lineage::Dataset::file(&self.dir)],
        }
    }

    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        let w = self.clone();
        Ok(datasync_engine::plugin::blocking(move || {
            let mut p = datasync_engine::Probe::default();
            p.directory(&w.dir);
            if let Some(r) = &w.remote {
                crate::remote::probe(&r.s3, &mut p);
            }
            Ok::<_, PluginError>(p)
        })
        .await?)
    }

    async fn prepare(&self) -> Result<(), PluginError> {
        let w = self.clone();
        datasync_engine::plugin::blocking(move || {
            if let Some(r) = &w.remote {
                r.prepare_root()
                    .map_err(|e| FileWriterError::Columns(e.to_string()))?;
            }
            crate::publish::create_dirs(&w.dir)?;
            // An S3 target answers (with these credentials) before anything is read.
            w.existing()?;
            w.recover()?;
            w.check_conflict()?;
            // A resume meets its own run's staging (or is told there is nothing to resume).
            if !datasync_engine::runstate::resuming() {
                w.check_run_id_unused()?;
            }
            crate::publish::create_staging(&w.staging, &w.files.file_name)?;
            Ok::<_, FileWriterError>(())
        })
        .await?;
        Ok(())
    }

    async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError> {
        Ok((0..n)
            .map(|i| {
                blocking_task(FileTask {
                    writer: self.clone(),
                    staged: self.staging.join(self.files.output_name(i)),
                    task: i,
                })
            })
            .collect())
    }

    async fn commit(&self) -> Result<(), PluginError> {
        crate::publish::commit_staged(
            self.clone(),
            |w| (&w.staging, w.target()),
            FileWriter::publish,
        )
        .await
    }

    async fn abort(&self) -> Result<(), PluginError> {
        remove_staging(self.staging.clone()).await
    }

    fn plannable(&self) -> Result<(), String> {
        match &self.remote {
            Some(r) => Err(crate::remote::not_plannable(&r.s3)),
            None => Ok(()),
        }
    }

    fn commit_decided(&self) -> bool {
        crate::publish::decided(&self.staging)
    }

    async fn adopt_staged(
        &self,
        staged: &[datasync_engine::plugin::StagedTask],
        verify: bool,
    ) -> Result<(), PluginError> {
        let (w, staged) = (self.clone(), staged.to_vec());
        datasync_engine::plugin::blocking(move || {
            crate::publish::adopt_reported(&w.staging, &staged, verify, |n| w.files.owns(n))
        })
        .await
    }

    async fn join_planned(&self) -> Result<bool, PluginError> {
        join_planned(self.staging.clone()).await
    }

    async fn recover(&self) -> Result<Vec<String>, PluginError> {
        let w = self.clone();
        let lines = datasync_engine::plugin::blocking(move || w.recover()).await?;
        Ok(lines)
    }

    fn resume(&self) -> Resume {
        Resume::StateFile(self.staging.join(crate::publish::RUN_STATE_FILE))
    }

    /// The staged files, read back by the text reader before the commit publishes them: their
    /// rows are counted (a text file holds text, so the typed figures stay reader side only).
    fn read_back(&self, _filter: Option<&str>) -> datasync_engine::plugin::ReadBack {
        use datasync_engine::plugin::ReadBack;
        let Some(options) = &self.files.read_options else {
            return ReadBack::Unavailable("JSON Lines files are not read back yet".into());
        };
        // The data files only: the staging directory also holds the run's bookkeeping.
        let files: Vec<String> = fs::read_dir(&self.staging)
            .map(|d| {
                d.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with(['.', '_']))
                    .map(|e| e.path().display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let mut parameter = options.clone();
        parameter["path"] = serde_json::json!(files);
        parameter["column"] = serde_json::json!(["*"]);
        ReadBack::Reader {
            plugin: "file",
            parameter,
            staged: true,
            columns: Vec::new(),
            count_only: true,
            filters: false,
        }
    }

    fn task_staged(&self, task: usize) -> Option<String> {
        self.sizes.of(task)
    }

    fn task_fingerprint(&self, task: usize) -> Option<String> {
        crate::publish::fingerprint(&self.staging, &[self.files.output_name(task)], |_| false)
    }
}

/// Container-task mode: takes up the planned run's staging directory (see
/// [`crate::publish::join_planned`]) on a blocking thread.
pub(crate) async fn join_planned(staging: PathBuf) -> Result<bool, PluginError> {
    let joined = datasync_engine::plugin::blocking(move || {
        crate::publish::join_planned(&staging).map_err(FileWriterError::from)
    })
    .await?;
    Ok(joined)
}

/// Removes a staging directory on a blocking thread (one that is gone already is fine; one
/// that holds a decided commit is left for recovery).
pub(crate) async fn remove_staging(staging: PathBuf) -> Result<(), PluginError> {
    datasync_engine::plugin::blocking(move || {
        crate::publish::abort(&staging).map_err(FileWriterError::from)
    })
    .await?;
    Ok(())
}

#[derive(Clone)]
struct FileTask {
    writer: FileWriter,
    staged: PathBuf,
    task: usize,
}

/// Retry-safe: the staged file is recreated from scratch.
impl BlockingWriterTask for FileTask {
    fn write_blocking(self, mut input: BatchReceiver, ctx: TaskContext) -> Result<(), PluginError> {
        let (w, path) = (self.writer, self.staged);
        w.sizes.start(self.task);
        let file = fs::File::create(&path).map_err(io("cannot create", &path))?;
        let location = path.display().to_string();
        let inner = w.files.encode_into(
            BufWriter::with_capacity(1 << 20, file),
            &mut input,
            &ctx,
            &location,
        )?;
        let file = inner
            .into_inner()
            .map_err(|e| io("cannot flush", &path)(e.into_error()))?;
        file.sync_all().map_err(io("cannot sync", &path))?;
        // The size of this task's own file, from its own handle.
        let bytes = file.metadata().map_err(io("cannot stat", &path))?.len();
        if let Some(name) = path.file_name() {
            w.sizes.record(self.task, &name.to_string_lossy(), bytes);
        }
        Ok(())
    }
}
