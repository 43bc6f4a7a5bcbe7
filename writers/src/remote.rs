//! Publishing to a remote store (S3-compatible or HDFS). Object stores cannot rename, so files
//! are staged on local disk (the table's local staging root) and uploaded at commit, in the order and under
//! the journal of [`crate::publish`]: nothing appears under the target prefix before the
//! commit is decided, an aborted run has uploaded nothing, and a commit a crash cut short is
//! rolled forward by uploading every staged file again (over what the interrupted commit put
//! there). A multipart upload records its id beside the staged file before any part is sent;
//! the next attempt aborts it, so no open upload is left on the store.

use crate::publish::{FsError, Target};
use datasync_db::store::{S3Options, Store, StoreLocation};
use datasync_engine::config::{join_path, ConfigError};
use std::path::{Path, PathBuf};

/// The keys a remote target adds to a file-like writer's parameter.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemoteKeys {
    /// How to reach the store of an `s3://` path (endpoint, region, credentials); what is
    /// missing comes from the standard AWS variables.
    #[serde(default, deserialize_with = "datasync_db::store::opt_s3")]
    #[schemars(with = "Option<datasync_db::store::S3Options>")]
    pub s3: Option<S3Options>,
    /// With an `s3://` path: the local directory files are staged in until the commit uploads
    /// them (default `<temp dir>/datasync-s3/<bucket>/<prefix>`). Keep it the same between
    /// runs: a run finishes the commit a killed run left there.
    pub staging_dir: Option<String>,
}

impl RemoteKeys {
    /// The target of `loc` (an `s3://` path, `None` for a local one) and the local directory
    /// standing for it (the staging root), or the error of a key that does not fit.
    pub(crate) fn target(
        &self,
        at: &str,
        loc: Option<StoreLocation>,
    ) -> Result<Option<RemoteTarget>, ConfigError> {
        let Some(loc) = loc else {
            let s3 = S3Options::given(&self.s3);
            if s3 || self.staging_dir.is_some() {
                let key = if s3 { "s3" } else { "stagingDir" };
                return Err(ConfigError::new(
                    join_path(at, key),
                    "is for an s3:// path only",
                ));
            }
            return Ok(None);
        };
        let s3 = Store::connect(loc.clone(), &self.s3.clone().unwrap_or_default())
            .map_err(|e| ConfigError::new(join_path(at, "s3"), e.to_string()))?;
        let (root, private) = match &self.staging_dir {
            Some(d) => (
                PathBuf::from(datasync_codec::hive::local_path(at, "stagingDir", d)?),
                None,
            ),
            None => {
                // One directory per user (others cannot see or swap staged files), per store
                // (two endpoints never share a journal), per bucket and prefix.
                let base = std::env::temp_dir().join(format!("datasync-s3-{}", own_uid()));
                let store: String = s3
                    .identity()
                    .rsplit(" at ")
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let root = base.join(store).join(&loc.bucket).join(&loc.prefix);
                (root, Some(base))
            }
        };
        Ok(Some(RemoteTarget { s3, root, private }))
    }
}

/// `datasync template` comments of [`RemoteKeys`].
pub(crate) fn notes() -> Vec<datasync_engine::template::TemplateNote> {
    use datasync_engine::template::alt;
    vec![
        alt("s3", "{\"endpoint\": \"http://minio:9000\", \"region\": \"us-east-1\", \"accessKey\": \"${env:S3_KEY}\", \"secretKey\": \"${env:S3_SECRET}\"}", "For an s3:// path: endpoint (default AWS), region, pathStyle (default true with an endpoint), accessKey, secretKey, sessionToken; missing keys come from the AWS_* variables. Never printed."),
        alt("stagingDir", "\"/var/lib/datasync/staging/orders\"", "For an s3:// or hdfs:// path: local directory files are staged in until the commit uploads them (default a private per-user directory under the temp dir); keep it the same between runs."),
    ]
}

/// `check --connect` of an S3 target: the prefix can be listed.
pub(crate) fn probe(s3: &Store, p: &mut datasync_engine::Probe) {
    let what = format!("S3 location {}", s3.url(""));
    match s3.list_dir("") {
        Ok((files, dirs)) => p.ok(
            what,
            format!(
                "listed: {} object(s), {} director(ies) directly below",
                files.len(),
                dirs.len()
            ),
        ),
        Err(e) => p.problem(what, e.to_string()),
    }
}

/// Why a writer with an S3 target cannot run in container-task mode.
pub(crate) fn not_plannable(s3: &Store) -> String {
    format!(
        "the writer stages an s3:// target ({}) on this machine's disk, which shards on other \
         machines cannot share; container-task mode does not support s3:// targets yet",
        s3.url("")
    )
}

/// An S3 location whose journal paths are below the local directory `root`.
#[derive(Debug, Clone)]
pub(crate) struct RemoteTarget {
    pub(crate) s3: Store,
    pub(crate) root: PathBuf,
    /// The per-user directory the default staging root is in: made private (0700) and
    /// refused when someone else owns it.
    private: Option<PathBuf>,
}

/// This process's user id (the owner of what it creates).
fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

impl RemoteTarget {
    /// Creates the staging root; the default one inside a private per-user directory.
    pub(crate) fn prepare_root(&self) -> Result<(), ConfigError> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        if let Some(base) = &self.private {
            let bad = |msg: String| ConfigError::new("stagingDir", msg);
            let _ = std::fs::DirBuilder::new().mode(0o700).create(base);
            let m = std::fs::symlink_metadata(base)
                .map_err(|e| bad(format!("cannot create {}: {e}", base.display())))?;
            if !m.is_dir() || m.uid() != own_uid() {
                return Err(bad(format!(
                    "{} is not a directory of this user: staged files would be open to \
                     others; remove it or set stagingDir",
                    base.display()
                )));
            }
            if m.mode() & 0o077 != 0 {
                std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| bad(format!("cannot make {} private: {e}", base.display())))?;
            }
        }
        std::fs::create_dir_all(&self.root).map_err(|e| {
            ConfigError::new(
                "stagingDir",
                format!("cannot create {}: {e}", self.root.display()),
            )
        })
    }

    /// The key (below the prefix) of the journal path `p`.
    pub(crate) fn rel(&self, p: &Path) -> Result<String, FsError> {
        let rel = p.strip_prefix(&self.root).map_err(|_| {
            FsError::remote(
                "path outside the table",
                &p.display().to_string(),
                format!("not below {}", self.root.display()),
            )
        })?;
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Ok(parts.join("/"))
    }

    /// Where a multipart upload of the staged file `from` records its id.
    fn record(from: &Path) -> PathBuf {
        let name = from
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        from.with_file_name(format!("_{name}.upload"))
    }
}

impl Target for RemoteTarget {
    fn exists(&self, p: &Path) -> Result<bool, FsError> {
        let rel = self.rel(p)?;
        self.s3
            .exists(&rel)
            .map_err(|e| FsError::remote("cannot look up", &self.s3.url(&rel), e))
    }

    fn remove(&self, p: &Path, action: &'static str) -> Result<(), FsError> {
        let rel = self.rel(p)?;
        self.s3
            .delete(&rel)
            .map_err(|e| FsError::remote(action, &self.s3.url(&rel), e))
    }

    fn place(
        &self,
        from: &Path,
        to: &Path,
        _created: Option<&mut Vec<PathBuf>>,
    ) -> Result<(), FsError> {
        let rel = self.rel(to)?;
        self.s3
            .upload(from, &rel, &Self::record(from))
            .map_err(|e| FsError::remote("cannot publish", &self.s3.url(&rel), e))
    }

    fn unplace(&self, _from: &Path, to: &Path) -> bool {
        let Ok(rel) = self.rel(to) else { return false };
        match self.s3.delete(&rel) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("could not take back {}: {e}", self.s3.url(&rel));
                false
            }
        }
    }

    fn identity(&self) -> Option<String> {
        Some(self.s3.identity())
    }

    fn mark(&self, m: &Path) -> Result<(), FsError> {
        let rel = self.rel(m)?;
        self.s3
            .put(&rel, Vec::new())
            .map_err(|e| FsError::remote("cannot write", &self.s3.url(&rel), e))
    }

    fn moves(&self) -> bool {
        false
    }

    fn settle(&self, _dirs: &[&Path]) {}
}
