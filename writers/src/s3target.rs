//! Publishing to an S3-compatible store. Object stores cannot rename, so files are staged on
//! local disk (the table's local staging root) and uploaded at commit, in the order and under
//! the journal of [`crate::publish`]: nothing appears under the target prefix before the
//! commit is decided, an aborted run has uploaded nothing, and a commit a crash cut short is
//! rolled forward by uploading every staged file again (over what the interrupted commit put
//! there). A multipart upload records its id beside the staged file before any part is sent;
//! the next attempt aborts it, so no open upload is left on the store.

use crate::publish::{PublishError, Target};
use datasync_db::s3::S3;
use std::path::{Path, PathBuf};

/// An S3 location whose journal paths are below the local directory `root`.
#[derive(Debug)]
pub(crate) struct S3Target {
    pub(crate) s3: S3,
    pub(crate) root: PathBuf,
}

impl S3Target {
    /// The key (below the prefix) of the journal path `p`.
    pub(crate) fn rel(&self, p: &Path) -> Result<String, PublishError> {
        let rel = p.strip_prefix(&self.root).map_err(|_| {
            PublishError::remote(
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

impl Target for S3Target {
    fn exists(&self, p: &Path) -> Result<bool, PublishError> {
        let rel = self.rel(p)?;
        self.s3
            .exists(&rel)
            .map_err(|e| PublishError::remote("cannot look up", &self.s3.url(&rel), e))
    }

    fn remove(&self, p: &Path, action: &'static str) -> Result<(), PublishError> {
        let rel = self.rel(p)?;
        self.s3
            .delete(&rel)
            .map_err(|e| PublishError::remote(action, &self.s3.url(&rel), e))
    }

    fn place(
        &self,
        from: &Path,
        to: &Path,
        _created: Option<&mut Vec<PathBuf>>,
    ) -> Result<(), PublishError> {
        let rel = self.rel(to)?;
        self.s3
            .upload(from, &rel, &Self::record(from))
            .map_err(|e| PublishError::remote("cannot publish", &self.s3.url(&rel), e))
    }

    fn unplace(&self, _from: &Path, to: &Path) {
        if let Ok(rel) = self.rel(to) {
            if let Err(e) = self.s3.delete(&rel) {
                tracing::warn!("could not take back {}: {e}", self.s3.url(&rel));
            }
        }
    }

    fn mark(&self, m: &Path) -> Result<(), PublishError> {
        let rel = self.rel(m)?;
        self.s3
            .put(&rel, Vec::new())
            .map_err(|e| PublishError::remote("cannot write", &self.s3.url(&rel), e))
    }

    fn moves(&self) -> bool {
        false
    }

    fn settle(&self, _dirs: &[&Path]) {}
}
