//! `sftp` writer (DataX `ftpwriter`, `protocol` sftp or ftp): each task uploads its own file under
//! a hidden temporary name in the target directory (`.datasync-tmp-<run id>-<name>`), encoded
//! by the same text codecs as the file writer; commit renames the files to their final names
//! per `writeMode`, abort removes them, so no partial file ever carries a final name.
//! One session (SSH, or FTP with a data connection per upload) per task on a blocking thread; writes go out in large buffers so libssh2
//! keeps many requests in flight.

use crate::textfiles::{some_paths, FileTarget, FileWriteMode, TextFiles};
use datasync_db::sftp::{RemoteConn, SftpConnConfig, SftpError};
use datasync_engine::channel::BatchReceiver;
use datasync_engine::config::{join_path, ConfigError};
use datasync_engine::plugin::{blocking_task, BlockingWriterTask};
use datasync_engine::{
    async_trait, run_id, Params, Plugin, PluginError, TaskContext, Writer, WriterTask,
};
use serde_json::{json, Value};
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::Arc;

/// Write buffer: libssh2 splits one write into requests in flight. Measured: 256 KiB to 1 MiB
/// upload fastest; 4 MiB and more are slower (the server's channel window is 2 MiB).
const WRITE_BUFFER: usize = 256 << 10;

/// Errors of the SFTP writer.
#[derive(Debug, thiserror::Error)]
pub enum SftpWriterError {
    /// Connection or call.
    #[error(transparent)]
    Sftp(#[from] SftpError),
    /// `nonConflict` and files of `fileName` exist.
    #[error("writeMode nonConflict: {dir} on {addr} already has files of \"{prefix}\": {files}")]
    Conflict {
        /// host:port
        addr: String,
        /// Target directory.
        dir: String,
        /// `fileName`.
        prefix: String,
        /// Some of the files.
        files: String,
    },
}

impl From<SftpWriterError> for PluginError {
    fn from(e: SftpWriterError) -> Self {
        match e {
            SftpWriterError::Sftp(s) => s.into(),
            other => PluginError::new(other),
        }
    }
}

/// The SFTP writer.
#[derive(Debug, Clone)]
pub struct SftpWriter {
    conn: Arc<SftpConnConfig>,
    files: TextFiles,
    dir: String,
    /// What each task of this process uploaded: `temporary name:bytes` (container-task mode
    /// reports it; `commit` checks it).
    uploaded: crate::publish::StagedSizes,
}

/// The SFTP writer's `parameter`: the connection, where the files go, the text-file options.
type Layout = (SftpConnConfig, FileTarget, datasync_codec::TextWriteConfig);

impl Plugin for SftpWriter {
    const NAME: &'static str = "sftp";
    const ALIASES: &'static [&'static str] = &["ftpwriter"];
    const DESCRIPTION: &'static str =
        "CSV / delimited text / JSON Lines files uploaded to an SFTP (or plain FTP) server, renamed into place at commit";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        crate::textfiles::note_default_format(&p);
        let (conn, target, text): Layout = p.parts(crate::textfiles::IGNORED_WRITER_KEYS)?;
        conn.validate(p.path)?;
        let files = TextFiles::new(p.path, &target, text)?;
        if !target.path.starts_with('/') {
            return Err(ConfigError::new(
                join_path(p.path, "path"),
                format!("\"{}\": must be an absolute remote directory", target.path),
            ));
        }
        Ok(SftpWriter {
            conn: Arc::new(conn),
            files,
            dir: target.path.trim_end_matches('/').to_string(),
            uploaded: Default::default(),
        })
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<Layout>(g, crate::textfiles::IGNORED_WRITER_KEYS)
    }

    fn template() -> Value {
        datasync_engine::template::merged([
            datasync_db::sftp::sftp_conn_template(),
            json!({"path": "/data/out", "fileName": "${file_name}"}),
            datasync_codec::text_write_template(),
        ])
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::note;
        let mut n = datasync_db::sftp::sftp_conn_notes();
        n.extend([
            note("path", "Remote directory; files are uploaded under temporary names and renamed into place at commit."),
            note("fileName", "File name prefix: files are <fileName>__<run id>_<task>[.<shard attempt>][suffix]."),
            note("writeMode", "truncate (replace this prefix's files at commit), append, or nonConflict (fail if any exist)."),
            note("suffix", "Appended to every file name, e.g. .csv; default none."),
        ]);
        n.extend(datasync_codec::text_write_notes());
        n
    }
}

impl SftpWriter {
    fn temp_prefix() -> String {
        format!(".datasync-tmp-{}-", run_id())
    }

    fn dir(&self) -> PathBuf {
        PathBuf::from(&self.dir)
    }

    /// Names in the target directory: (this run's temporary files, files of `fileName`).
    fn scan(&self, c: &RemoteConn) -> Result<(Vec<PathBuf>, Vec<PathBuf>), SftpWriterError> {
        let prefix = Self::temp_prefix();
        let mut temps = Vec::new();
        let mut owned = Vec::new();
        for e in c.list(&self.dir())? {
            if e.is_dir {
                continue;
            }
            let p = e.path;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with(&prefix) {
                temps.push(p);
            } else if !name.starts_with('.') && self.files.owns(&name) {
                owned.push(p);
            }
        }
        Ok((temps, owned))
    }

    fn check_conflict(&self, c: &RemoteConn, owned: &[PathBuf]) -> Result<(), SftpWriterError> {
        if self.files.mode != FileWriteMode::NonConflict || owned.is_empty() {
            return Ok(());
        }
        Err(SftpWriterError::Conflict {
            addr: c.addr().to_string(),
            dir: self.dir.clone(),
            prefix: self.files.file_name.clone(),
            files: some_paths(owned),
        })
    }

    /// Creates the target directory and its missing parents.
    fn mkdirs(&self, c: &RemoteConn) -> Result<(), SftpWriterError> {
        let mut cur = PathBuf::from("/");
        for part in self.dir.split('/').filter(|s| !s.is_empty()) {
            cur.push(part);
            if c.stat(&cur)?.is_none() {
                c.mkdir(&cur)?;
            }
        }
        Ok(())
    }

    /// The marker naming the process that uploads this run's temporary files (`host pid`).
    fn owner_file(&self, run: &str) -> PathBuf {
        self.dir().join(format!(".datasync-owner-{run}"))
    }

    fn prepare_blocking(&self) -> Result<(), SftpWriterError> {
        let c = self.conn.connect()?;
        self.mkdirs(&c)?;
        self.remove_stale_uploads(&c)?;
        let (_, owned) = self.scan(&c)?;
        self.check_conflict(&c, &owned)?;
        let marker = self.owner_file(run_id());
        c.put_small(&marker, crate::owner::owner().as_bytes())?;
        Ok(())
    }

    /// Removes the temporary uploads of `fileName` left by killed runs: runs whose owner
    /// marker names this host and a process that is gone. Uploads of runs on other hosts, of
    /// live runs, or without a marker are left (and logged).
    fn remove_stale_uploads(&self, c: &RemoteConn) -> Result<(), SftpWriterError> {
        let mut runs: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
        for e in c.list(&self.dir())? {
            let (p, is_dir) = (e.path, e.is_dir);
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(rest) = name.strip_prefix(".datasync-tmp-") else {
                continue;
            };
            // <run id>-<final name>; run ids hold no '-'.
            let Some((run, final_name)) = rest.split_once('-') else {
                continue;
            };
            if is_dir || run == run_id() || !self.files.owns(final_name) {
                continue;
            }
            runs.entry(run.to_string()).or_default().push(p);
        }
        let host = crate::owner::hostname();
        for (run, files) in runs {
            let marker = self.owner_file(&run);
            let owner = c.read_small(&marker).unwrap_or_default();
            // Uploads without a marker may belong to a run on another host: only a marker
            // naming a gone process of this host lets them go.
            let why = match crate::owner::owner_state(&owner, &host) {
                crate::owner::Owner::Gone => None,
                crate::owner::Owner::Unknown => Some("no owner marker".to_string()),
                crate::owner::Owner::Elsewhere(why) => Some(why),
            };
            if let Some(why) = why {
                tracing::warn!(
                    "leaving {} temporary upload(s) of run {run} in {} ({why})",
                    files.len(),
                    self.dir
                );
                continue;
            }
            for f in &files {
                c.unlink(f)?;
            }
            let _ = c.unlink(&marker);
            tracing::info!(
                "removed {} temporary upload(s) of killed run {run} from {}",
                files.len(),
                self.dir
            );
        }
        Ok(())
    }

    fn commit_blocking(&self) -> Result<(), SftpWriterError> {
        let c = self.conn.connect()?;
        let (temps, owned) = self.scan(&c)?;
        self.check_conflict(&c, &owned)?;
        let prefix = Self::temp_prefix();
        // New names carry this run's id, so they cannot clash with the old files; publish the
        // new ones first and remove the old ones after, so a failure never leaves nothing.
        let mut published: Vec<PathBuf> = Vec::new();
        for t in &temps {
            let name = t
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let final_path = self.dir().join(&name[prefix.len()..]);
            if let Err(e) = c.rename(t, &final_path) {
                // Back under their temporary names, where abort removes them: the directory
                // stays as it was.
                for (temp, done) in temps.iter().zip(&published) {
                    let _ = c.rename(done.as_path(), temp.as_path());
                }
                return Err(e.into());
            }
            published.push(final_path);
        }
        if self.files.mode == FileWriteMode::Truncate {
            // This run's own files are never old ones, also when a commit killed half-way is
            // run again (container-task mode) and finds some of them published already.
            let ours = format!("__{}_", run_id());
            for o in owned.iter().filter(|o| !published.contains(o)) {
                if o.to_string_lossy().contains(&ours) {
                    continue;
                }
                c.unlink(o)?;
            }
        }
        let _ = c.unlink(&self.owner_file(run_id()));
        Ok(())
    }

    /// Container-task mode: whether the planned run's owner marker is here (`false`: the run
    /// was committed or aborted); an error when another run owns this run id's marker.
    fn join_planned_blocking(&self) -> Result<bool, PluginError> {
        let c = self.conn.connect().map_err(SftpWriterError::from)?;
        let marker = self.owner_file(run_id());
        if c.stat(&marker).map_err(SftpWriterError::from)?.is_none() {
            return Ok(false);
        }
        let owner = c.read_small(&marker).unwrap_or_default();
        match datasync_engine::shard::planned_run_of(&owner) {
            Some(run) if run == run_id() => Ok(true),
            _ => Err(PluginError::new(format!(
                "{} on {} is not the marker of planned run {} (owner: \"{}\")",
                marker.display(),
                c.addr(),
                run_id(),
                owner.trim()
            ))),
        }
    }

    /// Container-task mode, `commit`: every upload a shard reported is there with its size.
    fn check_uploads(
        &self,
        staged: &[datasync_engine::plugin::StagedTask],
    ) -> Result<(), PluginError> {
        let c = self.conn.connect().map_err(SftpWriterError::from)?;
        let mut wanted = Vec::new();
        let mut complete = true;
        for t in staged {
            let Some(list) = t.staged.as_deref() else {
                complete = false;
                continue;
            };
            let entries = crate::publish::staged_entries(list)
                .map_err(|e| PluginError::new(format!("task {}: {e}", t.id)))?;
            for (name, size) in entries {
                let path = self.dir().join(&name);
                let now = c
                    .stat(&path)
                    .map_err(SftpWriterError::from)?
                    .and_then(|e| e.size);
                if now != Some(size) {
                    return Err(PluginError::new(format!(
                        "task {}: its upload {} changed after its shard reported it (reported {} \
                     bytes, now {})",
                        t.id,
                        c.url(&path.display().to_string()),
                        size,
                        now.map_or("missing".to_string(), |n| format!("{n} bytes"))
                    )));
                }
                wanted.push(path);
            }
        }
        // Uploads of this run no report lists (earlier or concurrent attempts) must not be
        // renamed into place.
        if complete {
            let (temps, _) = self.scan(&c)?;
            for t in temps.iter().filter(|t| !wanted.contains(t)) {
                c.unlink(t).map_err(SftpWriterError::from)?;
                tracing::info!("removed {}: no shard report lists it", t.display());
            }
        }
        Ok(())
    }

    fn abort_blocking(&self) -> Result<(), SftpWriterError> {
        let c = self.conn.connect()?;
        let (temps, _) = self.scan(&c)?;
        for t in &temps {
            c.unlink(t)?;
        }
        let _ = c.unlink(&self.owner_file(run_id()));
        Ok(())
    }
}

#[async_trait]
impl Writer for SftpWriter {
    fn datasets(&self) -> Vec<datasync_engine::lineage::Dataset> {
        vec![datasync_engine::lineage::Dataset::new(
            format!(
                "{}://{}:{}",
                self.conn.protocol_name(),
                self.conn.host,
                self.conn.port()
            ),
            self.dir.clone(),
        )]
    }

    fn shown_name(&self) -> Option<&'static str> {
        Some(self.conn.protocol.scheme())
    }

    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        let w = self.clone();
        datasync_engine::plugin::blocking(move || -> Result<_, PluginError> {
            let (c, mut p) = w.conn.probe_login()?;
            let what = format!("directory {}", w.dir);
            match c.stat(&w.dir())? {
                Some(e) if e.is_dir => p.ok(what, "exists"),
                Some(_) => p.problem(what, "exists but is not a directory"),
                None => p.ok(what, "does not exist; will be created"),
            }
            Ok(p)
        })
        .await
    }

    async fn prepare(&self) -> Result<(), PluginError> {
        let w = self.clone();
        datasync_engine::plugin::blocking(move || w.prepare_blocking()).await?;
        Ok(())
    }

    async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError> {
        Ok((0..n)
            .map(|i| {
                let temp = self.dir().join(format!(
                    "{}{}",
                    Self::temp_prefix(),
                    self.files.output_name(i)
                ));
                blocking_task(SftpTask {
                    writer: self.clone(),
                    temp,
                    task: i,
                })
            })
            .collect())
    }

    fn plannable(&self) -> Result<(), String> {
        Ok(())
    }

    async fn join_planned(&self) -> Result<bool, PluginError> {
        let w = self.clone();
        datasync_engine::plugin::blocking(move || w.join_planned_blocking()).await
    }

    fn task_staged(&self, task: usize) -> Option<String> {
        self.uploaded.of(task)
    }

    async fn adopt_staged(
        &self,
        staged: &[datasync_engine::plugin::StagedTask],
        verify: bool,
    ) -> Result<(), PluginError> {
        if !verify {
            return Ok(());
        }
        let (w, staged) = (self.clone(), staged.to_vec());
        datasync_engine::plugin::blocking(move || w.check_uploads(&staged)).await
    }

    async fn commit(&self) -> Result<(), PluginError> {
        let w = self.clone();
        datasync_engine::plugin::blocking(move || w.commit_blocking()).await?;
        Ok(())
    }

    async fn abort(&self) -> Result<(), PluginError> {
        let w = self.clone();
        datasync_engine::plugin::blocking(move || w.abort_blocking()).await?;
        Ok(())
    }
}

#[derive(Clone)]
struct SftpTask {
    writer: SftpWriter,
    temp: PathBuf,
    task: usize,
}

/// Counts the bytes written through it.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: std::io::Write> std::io::Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Retry-safe: the temporary file is recreated (truncated).
impl BlockingWriterTask for SftpTask {
    fn write_blocking(self, mut input: BatchReceiver, ctx: TaskContext) -> Result<(), PluginError> {
        let (w, temp) = (self.writer, self.temp);
        w.uploaded.start(self.task);
        let c = w.conn.connect().map_err(SftpWriterError::from)?;
        let location = c.url(&temp.display().to_string());
        let f = c.into_upload(&temp).map_err(SftpWriterError::from)?;
        let f = Counted { inner: f, bytes: 0 };
        let out = w.files.encode_into(
            BufWriter::with_capacity(WRITE_BUFFER, f),
            &mut input,
            &ctx,
            &location,
        )?;
        let f = out.into_inner().map_err(|e| {
            SftpWriterError::from(SftpError::Io {
                action: "cannot upload",
                path: temp.display().to_string(),
                source: e.into_error(),
            })
        })?;
        let bytes = f.bytes;
        f.inner.close().map_err(SftpWriterError::from)?;
        if let Some(name) = temp.file_name() {
            w.uploaded.record(self.task, &name.to_string_lossy(), bytes);
        }
        Ok(())
    }
}
