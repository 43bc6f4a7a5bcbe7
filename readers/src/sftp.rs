//! `sftp` reader (DataX `ftpreader`): files, directories and globs on an SFTP server (libssh2
//! via `ssh2`) or, with `protocol: ftp`, a plain FTP server, decoded with the same text codecs
//! as the file reader. One task per file, one session per task on a blocking thread; files are
//! streamed through large reads so libssh2 keeps many requests in flight. The SFTP host key is
//! checked against a known_hosts file or a fingerprint.

use datasync_codec::{TextRead, TextReadConfig};
use datasync_db::sftp::{RemoteFile, SftpConnConfig, SftpError};
use datasync_engine::channel::BatchSender;
use datasync_engine::config::{lenient_u64, ConfigError};
use datasync_engine::{
    async_trait, Params, Plugin, PluginError, Reader, ReaderTask, SizeHint, TaskContext,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The remote file's byte stream, remembering whether the transfer itself failed (as opposed
/// to a decoder above it).
struct Transport {
    inner: Box<dyn Read + Send>,
    failed: Arc<AtomicBool>,
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| {
            self.failed.store(true, Ordering::Relaxed);
        })
    }
}

/// Read buffer: libssh2 splits one large read into many requests in flight.
const READ_BUFFER: usize = 4 << 20;

/// The SFTP reader.
#[derive(Debug, Clone)]
pub struct SftpReader {
    conn: Arc<SftpConnConfig>,
    text: Arc<TextRead>,
    max_depth: usize,
}

/// The reader's own keys (beside the connection's and the text options).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Walk {
    /// How deep directories are walked (default 100, as DataX).
    #[serde(default = "default_depth", deserialize_with = "at_least_one")]
    #[schemars(with = "datasync_engine::schema::Lenient<u64>")]
    max_traversal_level: u64,
}

fn default_depth() -> u64 {
    100
}

fn at_least_one<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match lenient_u64(d) {
        Ok(n) if n >= 1 => Ok(n),
        Ok(n) => Err(serde::de::Error::custom(format!(
            "expected a whole number >= 1, found {n}"
        ))),
        Err(_) => Err(serde::de::Error::custom("expected a whole number >= 1")),
    }
}

/// The SFTP reader's `parameter`: the connection, the directory walk, the text-file options.
type Layout = (SftpConnConfig, Walk, TextReadConfig);

impl Plugin for SftpReader {
    const NAME: &'static str = "sftp";
    const ALIASES: &'static [&'static str] = &["ftpreader"];
    const DESCRIPTION: &'static str =
        "CSV / delimited text / JSON Lines files on an SFTP (or plain FTP) server; globs, directories, compressed files";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (conn, walk, text): Layout = p.parts(&[])?;
        conn.validate(p.path)?;
        Ok(SftpReader {
            conn: Arc::new(conn),
            text: Arc::new(text.build(p.path)?),
            max_depth: walk.max_traversal_level as usize,
        })
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<Layout>(g, &[])
    }

    fn template() -> Value {
        datasync_engine::template::merged([
            datasync_db::sftp::sftp_conn_template(),
            json!({"path": ["/data/in/*.csv"], "column": ["*"], "maxTraversalLevel": 100}),
            datasync_codec::text_read_template(),
        ])
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        let mut n = datasync_db::sftp::sftp_conn_notes();
        n.extend(datasync_codec::text_read_notes());
        n.push(datasync_engine::template::note(
            "maxTraversalLevel",
            "How deep a directory path is walked; default 100 (a deeper tree fails the job).",
        ));
        n
    }
}

#[async_trait]
impl Reader for SftpReader {
    fn datasets(&self) -> Vec<datasync_engine::lineage::Dataset> {
        let ns = format!(
            "{}://{}:{}",
            self.conn.protocol_name(),
            self.conn.host,
            self.conn.port()
        );
        self.text
            .paths
            .iter()
            .map(|p| datasync_engine::lineage::Dataset::new(ns.clone(), p.clone()))
            .collect()
    }

    fn shown_name(&self) -> Option<&'static str> {
        Some(self.conn.protocol.scheme())
    }

    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        let r = self.clone();
        datasync_engine::plugin::blocking(move || -> Result<_, PluginError> {
            let (c, mut p) = r.conn.probe_login()?;
            for pat in &r.text.paths {
                let mut skipped = Vec::new();
                match c.expand(pat, r.max_depth, &mut skipped) {
                    Ok(files) => {
                        let bytes: u64 = files.iter().filter_map(|f| f.size).sum();
                        p.ok(
                            format!("path {pat}"),
                            format!(
                                "{} file(s), {bytes} bytes ({} hidden skipped)",
                                files.len(),
                                skipped.len()
                            ),
                        );
                    }
                    Err(e) => p.problem(format!("path {pat}"), e.to_string()),
                }
            }
            Ok(p)
        })
        .await
    }

    async fn split(&self, _channels: usize) -> Result<Vec<Box<dyn ReaderTask>>, PluginError> {
        let r = self.clone();
        let files =
            datasync_engine::plugin::blocking(move || -> Result<Vec<RemoteFile>, SftpError> {
                let c = r.conn.connect()?;
                let mut files = Vec::new();
                for pat in &r.text.paths {
                    let mut skipped = Vec::new();
                    files.extend(c.expand(pat, r.max_depth, &mut skipped)?);
                    crate::paths::warn_skipped(&c.url(pat), &skipped);
                }
                files.sort_by(|a, b| a.path.cmp(&b.path));
                files.dedup_by(|a, b| a.path == b.path);
                Ok(files)
            })
            .await?;
        Ok(files.into_iter().map(|f| self.task(f)).collect())
    }

    fn task_from_plan(
        &self,
        planned: &serde_json::Value,
    ) -> Result<Box<dyn ReaderTask>, PluginError> {
        datasync_engine::plugin::task_from(planned, |(path, size)| {
            self.task(RemoteFile { path, size })
        })
    }
}

impl SftpReader {
    fn task(&self, file: RemoteFile) -> Box<dyn ReaderTask> {
        Box::new(SftpTask {
            reader: self.clone(),
            file,
        })
    }
}

struct SftpTask {
    reader: SftpReader,
    file: RemoteFile,
}

#[async_trait]
impl ReaderTask for SftpTask {
    fn planned(&self) -> Option<serde_json::Value> {
        datasync_engine::plugin::to_plan(&(&self.file.path, self.file.size))
    }

    fn describe(&self) -> String {
        let scheme = self.reader.conn.protocol.scheme();
        format!("{scheme}://{}{}", self.reader.conn.addr(), self.file.path)
    }

    fn size_hint(&self) -> Option<SizeHint> {
        self.file.size.map(SizeHint::Bytes)
    }

    async fn read(&mut self, out: BatchSender, ctx: TaskContext) -> Result<(), PluginError> {
        let r = self.reader.clone();
        let path = self.file.path.clone();
        datasync_engine::plugin::blocking(move || -> Result<(), PluginError> {
            let c = r.conn.connect().map_err(PluginError::from)?;
            let location = c.url(&path);
            let f = c.into_reader(Path::new(&path)).map_err(PluginError::from)?;
            let transfer_failed = Arc::new(AtomicBool::new(false));
            let f = Transport {
                inner: f,
                failed: transfer_failed.clone(),
            };
            crate::text::decode_file(
                Box::new(BufReader::with_capacity(READ_BUFFER, f)),
                &r.text,
                &location,
                out,
                ctx,
            )
            .map_err(|e| match e {
                // Only a failed transfer is worth another try; bytes that arrived and do not
                // decode (a wrong compress, a corrupt file) would fail the same way again.
                crate::text::TextError::Io(source) if transfer_failed.load(Ordering::Relaxed) => {
                    SftpError::Io {
                        action: "cannot read",
                        path,
                        source,
                    }
                    .into()
                }
                crate::text::TextError::Io(source) => SftpError::Decode {
                    path: location,
                    source,
                }
                .into(),
                crate::text::TextError::Plugin(p) if transfer_failed.load(Ordering::Relaxed) => {
                    p.into_retriable()
                }
                crate::text::TextError::Plugin(p) => p,
            })
        })
        .await
    }
}
