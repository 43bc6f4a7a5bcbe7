//! SFTP connections (libssh2 through the `ssh2` crate) shared by the SFTP reader and writer:
//! DataX ftpreader/ftpwriter connection parameters, host key checking against a known_hosts
//! file or a SHA256 fingerprint, password or key authentication, and remote listing with globs.
//! ssh2 is blocking: everything here MUST run on a blocking thread.

use datasync_engine::config::ConfigError;
use datasync_engine::Secret;
pub use ssh2;

mod config;
mod ftp;
mod remote;
pub use config::{
    sftp_conn_notes, sftp_conn_template, ConnectPattern, SftpConnConfig, SftpProtocol,
};
pub use remote::{glob_match, Entry, RemoteConn, RemoteFile, Upload};

use ssh2::{CheckResult, HashType, KnownHostFileKind, MethodType, Session, Sftp};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

/// Cipher preference (client to server and back). Measured here (bench/sftp.sh): with libssh2,
/// aes128-ctr + an encrypt-then-MAC SHA-2 reads about 15% faster than AES-GCM or ChaCha20.
const CIPHERS: &str = "aes128-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com,\
chacha20-poly1305@openssh.com,aes192-ctr";

/// MAC preference (encrypt-then-MAC first; unused with the GCM ciphers).
const MACS: &str = "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,\
hmac-sha2-512,hmac-sha1";

/// Errors of SFTP connections and calls.
#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    /// TCP connect failed.
    #[error("cannot connect to {addr}")]
    Connect {
        /// host:port
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The SSH handshake failed.
    #[error("SSH handshake with {addr} failed")]
    Handshake {
        /// host:port
        addr: String,
        /// The cause.
        #[source]
        source: ssh2::Error,
    },
    /// The host key is not the one expected.
    #[error("host key of {addr} rejected: {reason}")]
    HostKey {
        /// host:port
        addr: String,
        /// Why.
        reason: String,
    },
    /// Authentication failed.
    #[error("authentication of user \"{user}\" at {addr} failed ({method})")]
    Auth {
        /// host:port
        addr: String,
        /// User name.
        user: String,
        /// password or key
        method: &'static str,
        /// The cause.
        #[source]
        source: ssh2::Error,
    },
    /// An SFTP call failed.
    #[error("sftp {action} {path}")]
    Call {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: String,
        /// The cause.
        #[source]
        source: ssh2::Error,
    },
    /// Reading or writing a remote file failed.
    #[error("sftp {action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An FTP command failed.
    #[error("ftp {action} {path}")]
    Ftp {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: String,
        /// The cause.
        #[source]
        source: suppaftp::FtpError,
    },
    /// FTP login failed.
    #[error("FTP login of user \"{user}\" at {addr} failed")]
    FtpLogin {
        /// host:port
        addr: String,
        /// User name.
        user: String,
        /// The cause.
        #[source]
        source: suppaftp::FtpError,
    },
    /// The bytes arrived but do not decode (a wrong `compress`, a truncated or corrupt
    /// file): reading them again gives the same, so this is final.
    #[error("cannot decode {path}")]
    Decode {
        /// The remote location.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A directory below the path is deeper than `maxTraversalLevel`.
    #[error(
        "{dir} on {addr} is more than maxTraversalLevel {max} directories below the path (a \
         symbolic link loop?): raise maxTraversalLevel or name the files to read"
    )]
    TooDeep {
        /// host:port
        addr: String,
        /// The directory.
        dir: String,
        /// The limit.
        max: usize,
    },
    /// No remote file matched.
    #[error("no file on {addr} matches {pattern}")]
    NoFiles {
        /// host:port
        addr: String,
        /// The pattern.
        pattern: String,
    },
}

impl From<SftpError> for datasync_engine::PluginError {
    fn from(e: SftpError) -> Self {
        datasync_engine::PluginError::classified(e.is_retriable(), e)
    }
}

impl SftpError {
    /// Whether retrying may help (network trouble, not a refusal or bytes that do not decode).
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            SftpError::Connect { .. } | SftpError::Handshake { .. } | SftpError::Io { .. }
        )
    }
}

impl SftpConnConfig {
    /// The limit on every wait for the server: `None` for `timeout: 0`, which DataX passes to
    /// its clients as "no limit".
    pub fn io_timeout(&self) -> Option<Duration> {
        (!self.timeout.0.is_zero()).then_some(self.timeout.0)
    }

    /// Checks what can be checked without the server. `at` is the parameter's JSON path.
    pub fn validate(&self, at: &str) -> Result<(), ConfigError> {
        let key = |k: &str| datasync_engine::config::join_path(at, k);
        if let (super::sftp::SftpProtocol::Ftps, Some(ca)) = (self.protocol, &self.tls_ca_file) {
            // Read now, so that `check` finds a missing or empty file, not the run.
            crate::tls::root_store(Some(ca), "tlsCaFile")
                .map_err(|e| ConfigError::new(key("tlsCaFile"), e.to_string()))?;
        }
        if self.timeout.0.is_zero() {
            tracing::warn!(
                "{}: 0 means no time limit (as in DataX): a server that stops answering stops \
                 the job until it is killed",
                key("timeout")
            );
        }
        if self.connect_pattern.is_some() && !self.protocol.is_ftp() {
            tracing::warn!(
                "{}: ignored: it sets the data connection of plain FTP; SFTP uses one SSH \
                 connection",
                key("connectPattern")
            );
        }
        if self.host.trim().is_empty() {
            return Err(ConfigError::new(key("host"), "must name the SFTP server"));
        }
        if self.port() == 0 {
            return Err(ConfigError::new(
                key("port"),
                "must be a port number 1-65535",
            ));
        }
        if self.username.is_empty() {
            return Err(ConfigError::new(key("username"), "must not be empty"));
        }
        if self.tls_ca_file.is_some() && self.protocol != SftpProtocol::Ftps {
            return Err(ConfigError::new(
                key("tlsCaFile"),
                "applies to protocol ftps only",
            ));
        }
        if self.protocol.is_ftp() {
            if self.private_key.is_some() {
                return Err(ConfigError::new(
                    key("privateKey"),
                    "plain FTP logs in with a password; privateKey is for protocol sftp",
                ));
            }
            for (k, set) in [
                ("knownHostsFile", self.known_hosts_file.is_some()),
                ("hostKeyFingerprint", self.host_key_fingerprint.is_some()),
            ] {
                if set {
                    tracing::warn!("{}: ignored: plain FTP has no host key", key(k));
                }
            }
            if self.password.is_none() {
                return Err(ConfigError::new(
                    key("password"),
                    "plain FTP needs a password (anonymous servers take any)",
                ));
            }
            if self.protocol == SftpProtocol::Ftp {
                tracing::warn!(
                    "{}: protocol ftp sends the password and the data unencrypted; use ftps or \
                     sftp where the server offers it",
                    key("protocol")
                );
            }
            return Ok(());
        }
        if self.password.is_none() && self.private_key.is_none() {
            return Err(ConfigError::new(
                key("password"),
                "set password or privateKey (a key file path)",
            ));
        }
        if let Some(fp) = &self.host_key_fingerprint {
            if !fp.starts_with("SHA256:") {
                return Err(ConfigError::new(
                    key("hostKeyFingerprint"),
                    format!("\"{fp}\": expected SHA256:... as `ssh-keygen -lf` prints it"),
                ));
            }
        }
        Ok(())
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port())
    }

    /// `sftp`, `ftp` or `ftps` (lineage namespaces).
    pub fn protocol_name(&self) -> &'static str {
        match self.protocol {
            SftpProtocol::Sftp => "sftp",
            SftpProtocol::Ftp => "ftp",
            SftpProtocol::Ftps => "ftps",
        }
    }

    /// The port: `port`, else 22 for SFTP and 21 for FTP.
    pub fn port(&self) -> u16 {
        self.port_given.unwrap_or(match self.protocol {
            SftpProtocol::Sftp => 22,
            SftpProtocol::Ftp | SftpProtocol::Ftps => 21,
        })
    }

    /// Connects and logs in with the configured protocol.
    pub fn connect(&self) -> Result<RemoteConn, SftpError> {
        match self.protocol {
            SftpProtocol::Sftp => self.connect_sftp().map(RemoteConn::Sftp),
            SftpProtocol::Ftp | SftpProtocol::Ftps => self.connect_ftp().map(RemoteConn::Ftp),
        }
    }

    /// `check --connect`: logs in, and starts a probe with a line that says so.
    pub fn probe_login(&self) -> Result<(RemoteConn, datasync_engine::Probe), SftpError> {
        let c = self.connect()?;
        let mut p = datasync_engine::Probe::default();
        p.ok(
            format!("server {}", c.url("")),
            format!("logged in as {}", self.username),
        );
        Ok((c, p))
    }

    /// Connects, checks the host key, authenticates and opens the SFTP channel.
    fn connect_sftp(&self) -> Result<SftpConn, SftpError> {
        let addr = self.addr();
        let timeout = self.io_timeout();
        let cerr = |source| SftpError::Connect {
            addr: addr.clone(),
            source,
        };
        let addrs: Vec<_> = (self.host.as_str(), self.port())
            .to_socket_addrs()
            .map_err(cerr)?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for a in addrs {
            let connected = match timeout {
                Some(t) => TcpStream::connect_timeout(&a, t),
                None => TcpStream::connect(a),
            };
            match connected {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp =
            tcp.ok_or_else(|| {
                cerr(last.unwrap_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no address")
                }))
            })?;
        let _ = tcp.set_nodelay(true);
        let mut sess = Session::new().map_err(|source| SftpError::Handshake {
            addr: addr.clone(),
            source,
        })?;
        sess.set_tcp_stream(tcp);
        // The CPU spent on encryption bounds the transfer rate; the server picks from these.
        for (kind, prefs) in [
            (MethodType::CryptCs, CIPHERS),
            (MethodType::CryptSc, CIPHERS),
            (MethodType::MacCs, MACS),
            (MethodType::MacSc, MACS),
        ] {
            let _ = sess.method_pref(kind, prefs);
        }
        // libssh2: 0 = no limit.
        sess.set_timeout(timeout.map_or(0, |t| u32::try_from(t.as_millis()).unwrap_or(u32::MAX)));
        sess.handshake().map_err(|source| SftpError::Handshake {
            addr: addr.clone(),
            source,
        })?;
        tracing::debug!(
            "ssh to {addr}: cipher {}, mac {}",
            sess.methods(MethodType::CryptCs).unwrap_or("?"),
            sess.methods(MethodType::MacCs).unwrap_or("?")
        );
        self.check_host_key(&sess)?;
        match (&self.private_key, &self.password) {
            (Some(key), _) => sess
                .userauth_pubkey_file(
                    &self.username,
                    None,
                    Path::new(key),
                    self.passphrase.as_ref().map(Secret::expose),
                )
                .map_err(|source| SftpError::Auth {
                    addr: addr.clone(),
                    user: self.username.clone(),
                    method: "private key",
                    source,
                })?,
            (None, Some(pw)) => sess
                .userauth_password(&self.username, pw.expose())
                .map_err(|source| SftpError::Auth {
                    addr: addr.clone(),
                    user: self.username.clone(),
                    method: "password",
                    source,
                })?,
            (None, None) => {
                return Err(SftpError::HostKey {
                    addr,
                    reason: "no credentials".into(),
                })
            }
        }
        let sftp = sess.sftp().map_err(|source| SftpError::Call {
            action: "cannot open the SFTP channel on",
            path: addr.clone(),
            source,
        })?;
        Ok(SftpConn {
            _session: sess,
            sftp,
            addr,
        })
    }

    fn check_host_key(&self, sess: &Session) -> Result<(), SftpError> {
        let addr = self.addr();
        let reject = |reason: String| SftpError::HostKey {
            addr: addr.clone(),
            reason,
        };
        let Some((key, _)) = sess.host_key() else {
            return Err(reject("the server sent no host key".into()));
        };
        let fingerprint = sess
            .host_key_hash(HashType::Sha256)
            .map(|h| format!("SHA256:{}", base64_nopad(h)))
            .unwrap_or_default();
        if let Some(want) = &self.host_key_fingerprint {
            if want.trim_end_matches('=') != fingerprint {
                return Err(reject(format!(
                    "its fingerprint is {fingerprint}, hostKeyFingerprint expects {want} \
                     (the key changed, or this is not the expected server)"
                )));
            }
            return Ok(());
        }
        if !self.strict_host_key_checking && self.known_hosts_file.is_none() {
            tracing::warn!(
                "strictHostKeyChecking is false: accepting {addr}'s host key {fingerprint} unchecked"
            );
            return Ok(());
        }
        // As DataX templates have no host-key option, the user's own known_hosts is the
        // default, as ssh/sftp would use it.
        let (file, default) = match &self.known_hosts_file {
            Some(file) => (file.clone(), false),
            None => match user_known_hosts() {
                Some(file) => (file, true),
                None => {
                    return Err(reject(format!(
                        "HOME is not set, so there is no ~/.ssh/known_hosts to check its key \
                         (fingerprint {fingerprint}) against; {SET_HOST_KEY}"
                    )))
                }
            },
        };
        let unknown = |what: String| {
            if default {
                reject(format!("{what}; {SET_HOST_KEY}"))
            } else {
                reject(what)
            }
        };
        if default && !Path::new(&file).exists() {
            return Err(unknown(format!(
                "no knownHostsFile is set and the default {file} does not exist \
                 (its fingerprint is {fingerprint})"
            )));
        }
        let mut kh = sess.known_hosts().map_err(|e| reject(e.to_string()))?;
        kh.read_file(Path::new(&file), KnownHostFileKind::OpenSSH)
            .map_err(|e| reject(format!("cannot read knownHostsFile {file}: {e}")))?;
        match kh.check_port(&self.host, self.port(), key) {
            CheckResult::Match => Ok(()),
            CheckResult::Mismatch => Err(reject(format!(
                "it does not match the key in {file} (fingerprint {fingerprint}); \
                 the key changed, or this is not the expected server"
            ))),
            CheckResult::NotFound => Err(unknown(format!(
                "{file} has no key for it (its fingerprint is {fingerprint})"
            ))),
            CheckResult::Failure => Err(reject(format!("checking {file} failed"))),
        }
    }
}

const SET_HOST_KEY: &str = "add the host to it (ssh-keyscan), or set knownHostsFile or \
    hostKeyFingerprint (strictHostKeyChecking: false accepts any key, which is unsafe)";

/// `~/.ssh/known_hosts` of the user running the job.
fn user_known_hosts() -> Option<String> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(
        Path::new(&home)
            .join(".ssh")
            .join("known_hosts")
            .to_string_lossy()
            .into_owned(),
    )
}

/// Standard base64 without padding, as OpenSSH prints fingerprints.
fn base64_nopad(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// An authenticated SFTP channel.
pub struct SftpConn {
    _session: Session,
    /// The channel.
    pub sftp: Sftp,
    /// host:port, for messages.
    pub addr: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.csv", "a.csv"));
        assert!(glob_match("a?c*", "abcdef"));
        assert!(!glob_match("*.csv", "a.csv.gz"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a", "b"));
    }

    #[test]
    fn fingerprints_print_like_openssh() {
        assert_eq!(base64_nopad(b"hello"), "aGVsbG8");
        assert_eq!(base64_nopad(b"hel"), "aGVs");
        assert_eq!(base64_nopad(b"he"), "aGU");
    }

    #[test]
    fn validation() {
        let c: SftpConnConfig = serde_json::from_value(serde_json::json!({
            "host": "h", "username": "u", "password": "p"
        }))
        .unwrap();
        c.validate("w").unwrap();
        assert!(
            c.known_hosts_file.is_none(),
            "~/.ssh/known_hosts is read at connect"
        );
        assert_eq!(c.timeout.0, Duration::from_secs(60));
        assert_eq!(c.port(), 22);
        let ftp: SftpConnConfig = serde_json::from_value(serde_json::json!({
            "protocol": "FTP", "host": "h", "username": "u", "password": "p",
            "connectPattern": "port"
        }))
        .unwrap();
        ftp.validate("w").unwrap();
        assert_eq!(
            (ftp.port(), ftp.connect_pattern),
            (21, Some(ConnectPattern::Port))
        );
        let keyed: SftpConnConfig = serde_json::from_value(serde_json::json!({
            "protocol": "ftp", "host": "h", "username": "u", "privateKey": "/k"
        }))
        .unwrap();
        assert_eq!(keyed.validate("w").unwrap_err().path, "w.privateKey");
        let ftps: SftpConnConfig = serde_json::from_value(serde_json::json!({
            "protocol": "ftps", "host": "h", "username": "u", "password": "p"
        }))
        .unwrap();
        ftps.validate("w").unwrap();
        assert_eq!((ftps.protocol, ftps.port()), (SftpProtocol::Ftps, 21));
        let ca_for_ftp: SftpConnConfig = serde_json::from_value(serde_json::json!({
            "protocol": "ftp", "host": "h", "username": "u", "password": "p",
            "tlsCaFile": "/ca.pem"
        }))
        .unwrap();
        assert_eq!(ca_for_ftp.validate("w").unwrap_err().path, "w.tlsCaFile");
    }
}
