//! Plain FTP sessions (RFC 959, through `suppaftp`) for DataX's ftpreader/ftpwriter with
//! `protocol: "ftp"`: binary transfers, passive (`PASV`, default) or active (`PORT`) data
//! connections, MLSD listings with a LIST fallback. Blocking: run on a blocking thread.

use super::config::ConnectPattern;
use super::remote::{Entry, Upload};
use super::{SftpConnConfig, SftpError};
use std::io::{Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use suppaftp::list::{File as ListedFile, ListParser};
use suppaftp::types::FileType;
use suppaftp::{
    FtpError, FtpResult, Mode, RustlsConnector, RustlsFtpStream, TlsStream, TransferStream,
};

/// An FTP data connection that completes its transfer on [`Transfer::finish`] (the client's
/// stream type is private to suppaftp, so it is held behind this trait).
trait Transfer: Read + Write + Send {
    fn finish(self: Box<Self>) -> FtpResult<()>;
    /// The data connection's socket (for its timeouts).
    fn socket(&self) -> &std::net::TcpStream;
}

impl<T: TlsStream + Send> Transfer for TransferStream<T>
where
    TransferStream<T>: Read + Write + Send,
{
    fn finish(self: Box<Self>) -> FtpResult<()> {
        TransferStream::finish(*self)
    }
    fn socket(&self) -> &std::net::TcpStream {
        self.get_ref().get_ref()
    }
}

/// Whether a socket error is the job's `timeout` running out.
fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Says "timed out" for a socket timeout (the OS says "Resource temporarily unavailable").
fn explain_timeout(e: std::io::Error, timeout: Option<Duration>, what: &str) -> std::io::Error {
    match timeout {
        Some(t) if is_timeout(&e) => std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the server {what} within {t:?} (timeout)"),
        ),
        _ => e,
    }
}

/// Applies the job's `timeout` to both directions of a socket, so a server that stops
/// answering fails the task instead of hanging it.
fn set_timeouts(tcp: &std::net::TcpStream, timeout: Option<Duration>) -> std::io::Result<()> {
    tcp.set_read_timeout(timeout)?;
    tcp.set_write_timeout(timeout)
}

/// A logged-in FTP control connection.
pub struct FtpConn {
    stream: Mutex<RustlsFtpStream>,
    addr: String,
    secure: bool,
    timeout: Option<Duration>,
}

fn call_err(action: &'static str, path: &Path) -> impl FnOnce(FtpError) -> SftpError {
    let path = path.display().to_string();
    move |source| SftpError::Ftp {
        action,
        path,
        source,
    }
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

impl SftpConnConfig {
    /// Connects and logs in over plain FTP.
    pub(super) fn connect_ftp(&self) -> Result<FtpConn, SftpError> {
        let addr = self.addr();
        let timeout = self.io_timeout();
        let cerr = |source: std::io::Error| SftpError::Connect {
            addr: addr.clone(),
            source,
        };
        let sock = (self.host.as_str(), self.port())
            .to_socket_addrs()
            .map_err(cerr)?
            .next()
            .ok_or_else(|| {
                cerr(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no address",
                ))
            })?;
        // The socket gets its timeouts before the server's greeting is read: a server that
        // accepts and never speaks must not hang the job.
        let tcp = match timeout {
            Some(t) => std::net::TcpStream::connect_timeout(&sock, t),
            None => std::net::TcpStream::connect(sock),
        }
        .map_err(cerr)?;
        set_timeouts(&tcp, timeout).map_err(cerr)?;
        let mut ftp =
            RustlsFtpStream::connect_with_stream(tcp)
                .map_err(|e| match e {
                    FtpError::ConnectionError(source) if is_timeout(&source) => cerr(
                        explain_timeout(source, timeout, "sent no FTP greeting after connecting"),
                    ),
                    FtpError::ConnectionError(source) => cerr(source),
                    other => SftpError::Ftp {
                        action: "no FTP greeting from",
                        path: addr.clone(),
                        source: other,
                    },
                })?
                .passive_stream_builder(move |data: SocketAddr| {
                    let tcp = match timeout {
                        Some(t) => std::net::TcpStream::connect_timeout(&data, t),
                        None => std::net::TcpStream::connect(data),
                    }
                    .map_err(FtpError::ConnectionError)?;
                    set_timeouts(&tcp, timeout).map_err(FtpError::ConnectionError)?;
                    Ok(tcp)
                });
        if self.protocol == super::SftpProtocol::Ftps {
            let roots = crate::tls::root_store(self.tls_ca_file.as_deref(), "tlsCaFile").map_err(
                |source| SftpError::Io {
                    action: "cannot read the trusted certificates for",
                    path: addr.clone(),
                    source,
                },
            )?;
            let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| SftpError::Io {
                    action: "cannot set up TLS for",
                    path: addr.clone(),
                    source: std::io::Error::other(e),
                })?
                .with_root_certificates(roots)
                .with_no_client_auth();
            ftp = ftp
                .into_secure(
                    RustlsConnector::from(std::sync::Arc::new(config)),
                    self.host.as_str(),
                )
                .map_err(|source| SftpError::Ftp {
                    action: "TLS (AUTH TLS) refused or the certificate rejected by",
                    path: addr.clone(),
                    source,
                })?;
        }
        let password = self
            .password
            .as_ref()
            .map(|p| p.expose())
            .unwrap_or_default();
        ftp.login(self.username.as_str(), password)
            .map_err(|source| SftpError::FtpLogin {
                addr: addr.clone(),
                user: self.username.clone(),
                source,
            })?;
        ftp.transfer_type(FileType::Binary).map_err(call_err(
            "cannot switch to binary transfers on",
            Path::new(&addr),
        ))?;
        if self.connect_pattern == Some(ConnectPattern::Port) {
            // No limit on accepting the server's data connection means a very long one.
            ftp = ftp.active_mode(timeout.unwrap_or(Duration::from_secs(u64::from(u32::MAX))));
        } else {
            ftp.set_mode(Mode::Passive);
        }
        Ok(FtpConn {
            stream: Mutex::new(ftp),
            addr,
            secure: self.protocol == super::SftpProtocol::Ftps,
            timeout,
        })
    }
}

impl FtpConn {
    /// host:port.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// `ftps` or `ftp`.
    pub fn scheme(&self) -> &'static str {
        if self.secure {
            "ftps"
        } else {
            "ftp"
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut RustlsFtpStream) -> T) -> T {
        let mut guard = match self.stream.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Entries of `dir`: MLSD (exact types and sizes), or LIST parsed as Unix/DOS listings on
    /// servers without it.
    pub(super) fn list(&self, dir: &Path) -> Result<Vec<Entry>, SftpError> {
        let d = path_str(dir);
        let parsed: Vec<ListedFile> = match self.with(|f| f.mlsd(Some(&d))) {
            Ok(lines) => lines
                .iter()
                .filter_map(|l| ListParser::parse_mlsd(l).ok())
                .collect(),
            Err(FtpError::UnexpectedResponse(_)) => {
                let lines = self
                    .with(|f| f.list(Some(&d)))
                    .map_err(call_err("cannot list", dir))?;
                lines
                    .iter()
                    .filter_map(|l| {
                        ListParser::parse_posix(l)
                            .or_else(|_| ListParser::parse_dos(l))
                            .ok()
                    })
                    .collect()
            }
            Err(e) => return Err(call_err("cannot list", dir)(e)),
        };
        Ok(parsed
            .into_iter()
            .filter(|f| !f.is_symlink())
            .map(|f| Entry {
                path: dir.join(f.name()),
                is_dir: f.is_directory(),
                size: (!f.is_directory()).then_some(f.size() as u64),
            })
            .collect())
    }

    /// A file (SIZE answers) or a directory (CWD succeeds); `None` when neither.
    pub(super) fn stat(&self, path: &Path) -> Result<Option<Entry>, SftpError> {
        let p = path_str(path);
        if let Ok(size) = self.with(|f| f.size(&p)) {
            return Ok(Some(Entry {
                path: path.to_path_buf(),
                is_dir: false,
                size: Some(size as u64),
            }));
        }
        let is_dir = self.with(|f| {
            let back = f.pwd().unwrap_or_else(|_| "/".into());
            let ok = f.cwd(&p).is_ok();
            if ok {
                let _ = f.cwd(&back);
            }
            ok
        });
        Ok(is_dir.then(|| Entry {
            path: path.to_path_buf(),
            is_dir: true,
            size: None,
        }))
    }

    pub(super) fn mkdir(&self, path: &Path) -> Result<(), SftpError> {
        let p = path_str(path);
        self.with(|f| f.mkdir(&p))
            .map_err(call_err("cannot create directory", path))
    }

    pub(super) fn rename(&self, from: &Path, to: &Path) -> Result<(), SftpError> {
        let (a, b) = (path_str(from), path_str(to));
        self.with(|f| f.rename(&a, &b))
            .map_err(call_err("cannot rename into place", to))
    }

    pub(super) fn unlink(&self, path: &Path) -> Result<(), SftpError> {
        let p = path_str(path);
        self.with(|f| f.rm(&p))
            .map_err(call_err("cannot remove", path))
    }

    pub(super) fn read_small(&self, path: &Path) -> Option<String> {
        let p = path_str(path);
        let buf = self.with(|f| f.retr_as_buffer(&p)).ok()?;
        String::from_utf8(buf.into_inner()).ok()
    }

    pub(super) fn put_small(&self, path: &Path, bytes: &[u8]) -> Result<(), SftpError> {
        let p = path_str(path);
        let mut r = bytes;
        self.with(|f| f.put_file(&p, &mut r))
            .map(|_| ())
            .map_err(call_err("cannot write", path))
    }

    pub(super) fn into_reader(self, path: &Path) -> Result<Box<dyn Read + Send>, SftpError> {
        let download =
            self.transfer(path, "cannot set the timeout of the download of", |f, p| {
                f.retr_as_stream(p).map_err(call_err("cannot open", path))
            })?;
        Ok(Box::new(FtpRead(download)))
    }

    pub(super) fn into_upload(self, path: &Path) -> Result<Box<dyn Upload>, SftpError> {
        let upload = self.transfer(path, "cannot set the timeout of the upload of", |f, p| {
            f.put_with_stream(p)
                .map_err(call_err("cannot create", path))
        })?;
        Ok(Box::new(FtpUpload(upload)))
    }

    /// Starts a transfer (`start`: the download or upload of `path`) and gives its data
    /// connection this connection's timeouts (active-mode data sockets are accepted inside the
    /// client, so they are set here).
    fn transfer<T: Transfer + 'static>(
        self,
        path: &Path,
        timeout_failed: &'static str,
        start: impl FnOnce(&mut RustlsFtpStream, &str) -> Result<T, SftpError>,
    ) -> Result<DataConn, SftpError> {
        let p = path_str(path);
        let data: Box<dyn Transfer> = Box::new(self.with(|f| start(f, &p))?);
        set_timeouts(data.socket(), self.timeout).map_err(|source| SftpError::Io {
            action: timeout_failed,
            path: p,
            source,
        })?;
        Ok(DataConn {
            data: Some(data),
            path: path.to_path_buf(),
            timeout: self.timeout,
            _conn: self,
        })
    }
}

/// A transfer's data connection (taken once the transfer is complete) and the control
/// connection it belongs to.
struct DataConn {
    data: Option<Box<dyn Transfer>>,
    path: PathBuf,
    timeout: Option<Duration>,
    _conn: FtpConn,
}

/// A download: the end of the data connection is the end of the file only when the server
/// then reports the transfer complete (226); otherwise the read fails.
struct FtpRead(DataConn);

impl Read for FtpRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(data) = self.0.data.as_mut() else {
            return Ok(0);
        };
        let n = data
            .read(buf)
            .map_err(|e| explain_timeout(e, self.0.timeout, "sent no data"))?;
        if n == 0 && !buf.is_empty() {
            if let Some(done) = self.0.data.take() {
                done.finish().map_err(|e| {
                    std::io::Error::other(format!(
                        "the server did not complete the download of {}: {e}",
                        self.0.path.display()
                    ))
                })?;
            }
        }
        Ok(n)
    }
}

/// An upload; [`Upload::close`] waits for the server's 226.
struct FtpUpload(DataConn);

impl Write for FtpUpload {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.data.as_mut() {
            Some(d) => d
                .write(buf)
                .map_err(|e| explain_timeout(e, self.0.timeout, "took no data")),
            None => Err(std::io::Error::other("upload already closed")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.data.as_mut() {
            Some(d) => d
                .flush()
                .map_err(|e| explain_timeout(e, self.0.timeout, "took no data")),
            None => Ok(()),
        }
    }
}

impl Upload for FtpUpload {
    fn close(mut self: Box<Self>) -> Result<(), SftpError> {
        match self.0.data.take() {
            Some(d) => d
                .finish()
                .map_err(call_err("cannot complete the upload of", &self.0.path)),
            None => Ok(()),
        }
    }
}
