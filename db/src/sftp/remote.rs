//! One connection type for the file-transfer protocols DataX's ftpreader/ftpwriter speak
//! (SFTP and plain FTP): the few calls the reader and writer need, listing with globs, and
//! streamed reads and uploads that report a transfer the server did not complete.

use super::ftp::FtpConn;
use super::{SftpConn, SftpError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A connected, logged-in SFTP or FTP session.
pub enum RemoteConn {
    /// SSH file transfer.
    Sftp(SftpConn),
    /// Plain FTP.
    Ftp(FtpConn),
}

/// A directory entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Full remote path.
    pub path: PathBuf,
    /// A directory (else a file).
    pub is_dir: bool,
    /// Size in bytes, when the server says.
    pub size: Option<u64>,
}

/// A remote file found by [`RemoteConn::expand`].
#[derive(Debug, Clone)]
pub struct RemoteFile {
    /// Full remote path.
    pub path: String,
    /// Size in bytes, when the server says.
    pub size: Option<u64>,
}

/// An upload in progress: write the bytes, then [`Upload::close`], which fails when the server
/// did not take the whole file.
pub trait Upload: Write + Send {
    /// Completes the upload.
    fn close(self: Box<Self>) -> Result<(), SftpError>;
}

fn sftp_call<T>(
    action: &'static str,
    path: &Path,
    r: Result<T, ssh2::Error>,
) -> Result<T, SftpError> {
    r.map_err(|source| SftpError::Call {
        action,
        path: path.display().to_string(),
        source,
    })
}

/// Whether `name` matches the glob `pat` (`*`, `?`; no `/`).
pub fn glob_match(pat: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pat.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?'])
}

fn hidden(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

impl RemoteConn {
    /// host:port, for messages.
    pub fn addr(&self) -> &str {
        match self {
            RemoteConn::Sftp(c) => &c.addr,
            RemoteConn::Ftp(c) => c.addr(),
        }
    }

    /// `sftp://host:port` or `ftp://host:port`, for locations in messages.
    pub fn url(&self, path: &str) -> String {
        let scheme = match self {
            RemoteConn::Sftp(_) => "sftp",
            RemoteConn::Ftp(c) => c.scheme(),
        };
        format!("{scheme}://{}{path}", self.addr())
    }

    /// Entries of a remote directory (without `.`/`..`), sorted by path.
    pub fn list(&self, dir: &Path) -> Result<Vec<Entry>, SftpError> {
        let mut v = match self {
            RemoteConn::Sftp(c) => sftp_call("cannot list", dir, c.sftp.readdir(dir))?
                .into_iter()
                .map(|(path, st)| {
                    // A listing describes a symbolic link itself: it is read under the real
                    // path of its target (so a file reached twice is read once, and a link
                    // back up the tree is not walked again).
                    if st.file_type().is_symlink() {
                        if let (Ok(real), Ok(target)) = (c.sftp.realpath(&path), c.sftp.stat(&path))
                        {
                            return Entry {
                                path: real,
                                is_dir: target.is_dir(),
                                size: target.size,
                            };
                        }
                    }
                    Entry {
                        path,
                        is_dir: st.is_dir(),
                        size: st.size,
                    }
                })
                .collect(),
            RemoteConn::Ftp(c) => c.list(dir)?,
        };
        v.retain(|e| e.path.file_name().is_some_and(|n| n != "." && n != ".."));
        v.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(v)
    }

    /// The entry at `path`, or `None` when nothing is there.
    pub fn stat(&self, path: &Path) -> Result<Option<Entry>, SftpError> {
        match self {
            RemoteConn::Sftp(c) => Ok(c.sftp.stat(path).ok().map(|st| Entry {
                path: path.to_path_buf(),
                is_dir: st.is_dir(),
                size: st.size,
            })),
            RemoteConn::Ftp(c) => c.stat(path),
        }
    }

    /// Creates a directory.
    pub fn mkdir(&self, path: &Path) -> Result<(), SftpError> {
        match self {
            RemoteConn::Sftp(c) => {
                sftp_call("cannot create directory", path, c.sftp.mkdir(path, 0o755))
            }
            RemoteConn::Ftp(c) => c.mkdir(path),
        }
    }

    /// Renames `from` to `to` (replacing nothing: `to` must not exist).
    pub fn rename(&self, from: &Path, to: &Path) -> Result<(), SftpError> {
        match self {
            RemoteConn::Sftp(c) => sftp_call(
                "cannot rename into place",
                to,
                c.sftp.rename(from, to, None),
            ),
            RemoteConn::Ftp(c) => c.rename(from, to),
        }
    }

    /// Removes a file.
    pub fn unlink(&self, path: &Path) -> Result<(), SftpError> {
        match self {
            RemoteConn::Sftp(c) => sftp_call("cannot remove", path, c.sftp.unlink(path)),
            RemoteConn::Ftp(c) => c.unlink(path),
        }
    }

    /// The text of a small file, or `None` when it cannot be read.
    pub fn read_small(&self, path: &Path) -> Option<String> {
        let mut s = String::new();
        match self {
            RemoteConn::Sftp(c) => {
                c.sftp.open(path).ok()?.read_to_string(&mut s).ok()?;
            }
            RemoteConn::Ftp(c) => s = c.read_small(path)?,
        }
        Some(s)
    }

    /// Writes a small file in one go.
    pub fn put_small(&self, path: &Path, bytes: &[u8]) -> Result<(), SftpError> {
        let io = |source| SftpError::Io {
            action: "cannot write",
            path: path.display().to_string(),
            source,
        };
        match self {
            RemoteConn::Sftp(c) => {
                let mut f = sftp_call("cannot write", path, c.sftp.create(path))?;
                f.write_all(bytes).map_err(io)
            }
            RemoteConn::Ftp(c) => c.put_small(path, bytes),
        }
    }

    /// Opens `path` for a streamed read; the session goes with it. A transfer the server
    /// cut short reads as an error, not as the end of the file.
    pub fn into_reader(self, path: &Path) -> Result<Box<dyn Read + Send>, SftpError> {
        match self {
            RemoteConn::Sftp(c) => {
                let file = sftp_call("cannot open", path, c.sftp.open(path))?;
                Ok(Box::new(SftpRead { file, _conn: c }))
            }
            RemoteConn::Ftp(c) => c.into_reader(path),
        }
    }

    /// Creates (or truncates) `path` for a streamed upload; the session goes with it.
    pub fn into_upload(self, path: &Path) -> Result<Box<dyn Upload>, SftpError> {
        match self {
            RemoteConn::Sftp(c) => {
                let file = sftp_call("cannot create", path, c.sftp.create(path))?;
                Ok(Box::new(SftpUpload {
                    file,
                    path: path.to_path_buf(),
                    _conn: c,
                }))
            }
            RemoteConn::Ftp(c) => c.into_upload(path),
        }
    }

    fn walk(&self, dir: &Path, depth: usize, w: &mut Walk<'_>) -> Result<(), SftpError> {
        if !w.walked.insert(dir.to_path_buf()) {
            tracing::warn!(
                "{}: not walked again (a symbolic link led back to it)",
                self.url(&dir.display().to_string())
            );
            return Ok(());
        }
        if depth > w.max_depth {
            // DataX stops here too: silently reading less than the path names is not an option.
            return Err(SftpError::TooDeep {
                addr: self.addr().to_string(),
                dir: dir.display().to_string(),
                max: w.max_depth,
            });
        }
        for e in self.list(dir)? {
            if hidden(&e.path) {
                w.hidden.push(e.path.display().to_string());
                continue;
            }
            if e.is_dir {
                self.walk(&e.path, depth + 1, w)?;
            } else {
                w.out.push(RemoteFile {
                    path: e.path.display().to_string(),
                    size: e.size,
                });
            }
        }
        Ok(())
    }

    /// The real path of `p` (symbolic links resolved) where the protocol can tell.
    fn real_path(&self, p: &Path) -> PathBuf {
        match self {
            RemoteConn::Sftp(c) => c.sftp.realpath(p).unwrap_or_else(|_| p.to_path_buf()),
            RemoteConn::Ftp(_) => p.to_path_buf(),
        }
    }

    /// Adds a file, or the files below a directory.
    fn add(&self, e: &Entry, w: &mut Walk<'_>) -> Result<(), SftpError> {
        if e.is_dir {
            self.walk(&self.real_path(&e.path), 1, w)
        } else {
            w.out.push(RemoteFile {
                path: e.path.display().to_string(),
                size: e.size,
            });
            Ok(())
        }
    }

    /// Expands a remote file, directory (walked up to `max_depth` levels: a deeper directory is
    /// an error) or glob (`*`/`?` in any path component) into files. Hidden names (starting
    /// with '.') below the path are skipped and added to `skipped`.
    pub fn expand(
        &self,
        pattern: &str,
        max_depth: usize,
        skipped: &mut Vec<String>,
    ) -> Result<Vec<RemoteFile>, SftpError> {
        let mut out = Vec::new();
        let mut w = Walk {
            max_depth,
            out: &mut out,
            hidden: skipped,
            walked: Default::default(),
        };
        if !has_glob(pattern) {
            let p = Path::new(pattern);
            match self.stat(p)? {
                Some(e) => self.add(&e, &mut w)?,
                None => {
                    return Err(SftpError::NoFiles {
                        addr: self.addr().to_string(),
                        pattern: pattern.to_string(),
                    })
                }
            }
        } else {
            // Walk component by component: literal parts directly, glob parts by listing.
            let absolute = pattern.starts_with('/');
            let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
            let mut frontier = vec![PathBuf::from(if absolute { "/" } else { "." })];
            for (i, part) in parts.iter().enumerate() {
                let last = i + 1 == parts.len();
                let mut next = Vec::new();
                for base in &frontier {
                    if !has_glob(part) {
                        let p = base.join(part);
                        if last {
                            if let Some(e) = self.stat(&p)? {
                                self.add(&e, &mut w)?;
                            }
                        } else {
                            next.push(p);
                        }
                        continue;
                    }
                    let Ok(entries) = self.list(base) else {
                        continue;
                    };
                    for e in entries {
                        let name = e
                            .path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        if !glob_match(part, &name) {
                            continue;
                        }
                        // A glob part that itself starts with '.' asks for hidden names.
                        if name.starts_with('.') && !part.starts_with('.') {
                            w.hidden.push(e.path.display().to_string());
                            continue;
                        }
                        if last {
                            self.add(&e, &mut w)?;
                        } else if e.is_dir {
                            next.push(e.path);
                        }
                    }
                }
                frontier = next;
            }
        }
        if out.is_empty() {
            return Err(SftpError::NoFiles {
                addr: self.addr().to_string(),
                pattern: pattern.to_string(),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out.dedup_by(|a, b| a.path == b.path);
        Ok(out)
    }
}

/// What a directory walk collects.
struct Walk<'a> {
    max_depth: usize,
    out: &'a mut Vec<RemoteFile>,
    hidden: &'a mut Vec<String>,
    /// Directories walked (links are followed under their real paths).
    walked: std::collections::HashSet<PathBuf>,
}

/// An SFTP file read, with the session it needs.
struct SftpRead {
    file: ssh2::File,
    _conn: SftpConn,
}

impl Read for SftpRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf)
    }
}

/// An SFTP upload, with the session it needs.
struct SftpUpload {
    file: ssh2::File,
    path: PathBuf,
    _conn: SftpConn,
}

impl Write for SftpUpload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Upload for SftpUpload {
    fn close(mut self: Box<Self>) -> Result<(), SftpError> {
        let path = self.path.clone();
        sftp_call("cannot close", &path, self.file.close())
    }
}
