//! The connection keys of the SFTP plugins' `parameter`, as DataX's ftpreader/ftpwriter
//! spell them. Pure: no I/O.

use datasync_engine::config::HumanDuration;
use datasync_engine::Secret;
use serde::Deserialize;
use std::time::Duration;

/// `protocol`: `sftp` (default) or plain `ftp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SftpProtocol {
    /// SSH file transfer.
    #[default]
    Sftp,
    /// Plain FTP (RFC 959): the password travels unencrypted.
    Ftp,
    /// FTP over TLS, explicit (`AUTH TLS` on the FTP port; RFC 4217): control and data
    /// connections encrypted, the server's certificate checked.
    Ftps,
}

impl SftpProtocol {
    /// Whether this is one of the FTP protocols.
    pub fn is_ftp(self) -> bool {
        matches!(self, SftpProtocol::Ftp | SftpProtocol::Ftps)
    }

    /// The URL scheme, for locations in messages.
    pub fn scheme(self) -> &'static str {
        match self {
            SftpProtocol::Sftp => "sftp",
            SftpProtocol::Ftp => "ftp",
            SftpProtocol::Ftps => "ftps",
        }
    }
}

impl<'de> Deserialize<'de> for SftpProtocol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim().to_ascii_lowercase().as_str() {
            "sftp" => Ok(SftpProtocol::Sftp),
            "ftp" => Ok(SftpProtocol::Ftp),
            "ftps" => Ok(SftpProtocol::Ftps),
            _ => Err(serde::de::Error::custom(format!(
                "unknown protocol \"{s}\" (allowed: sftp, ftp, ftps)"
            ))),
        }
    }
}

fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}

fn default_strict() -> bool {
    true
}

/// The connection part of the SFTP plugins' `parameter`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SftpConnConfig {
    /// `sftp` (default) or `ftp`.
    #[serde(default)]
    pub protocol: SftpProtocol,
    /// Server host.
    pub host: String,
    /// Server port (22 for SFTP, 21 for FTP); see [`SftpConnConfig::port`].
    #[serde(
        default,
        rename = "port",
        with = "datasync_engine::schema::LenientOpt::<u16>"
    )]
    pub port_given: Option<u16>,
    /// User name.
    pub username: String,
    /// Password (or use `privateKey`).
    pub password: Option<Secret>,
    /// Path of a private key file (OpenSSH or PEM).
    pub private_key: Option<String>,
    /// Passphrase of the private key.
    pub passphrase: Option<Secret>,
    /// known_hosts file to check the server's key against.
    pub known_hosts_file: Option<String>,
    /// The server key's fingerprint as OpenSSH prints it (`SHA256:...`).
    pub host_key_fingerprint: Option<String>,
    /// `false` accepts any host key (logged as a warning). Default `true`.
    #[serde(default = "default_strict")]
    pub strict_host_key_checking: bool,
    /// Connect and I/O timeout: milliseconds as DataX writes it (`60000`) or with a unit.
    #[serde(default = "default_timeout", deserialize_with = "millis_or_duration")]
    pub timeout: HumanDuration,
    /// FTPS: a PEM file of the certificates to trust (default: the Mozilla roots).
    pub tls_ca_file: Option<String>,
    /// FTP data connections: `PASV` (default, the client connects) or `PORT` (the server
    /// connects back). SFTP has none: ignored with a warning.
    pub connect_pattern: Option<ConnectPattern>,
}

/// `connectPattern` of a DataX FTP template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectPattern {
    /// Passive mode.
    Pasv,
    /// Active mode.
    Port,
}

impl<'de> Deserialize<'de> for ConnectPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim().to_ascii_uppercase().as_str() {
            "PASV" => Ok(ConnectPattern::Pasv),
            "PORT" => Ok(ConnectPattern::Port),
            _ => Err(serde::de::Error::custom(format!(
                "unknown connectPattern \"{s}\" (allowed: PASV, PORT)"
            ))),
        }
    }
}

/// DataX writes `timeout` in milliseconds; a string with a unit (`"30s"`) is read as such.
fn millis_or_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<HumanDuration, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_u64()
            .map(|ms| HumanDuration(Duration::from_millis(ms)))
            .ok_or_else(|| serde::de::Error::custom("timeout must be milliseconds >= 0")),
        serde_json::Value::String(s) => HumanDuration::parse(&s).map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!(
            "wrong type: found {other}, expected milliseconds or a duration such as \"30s\""
        ))),
    }
}

/// `datasync template`'s sample values of the SFTP/FTP connection parameters.
pub fn sftp_conn_template() -> serde_json::Value {
    serde_json::json!({
        "protocol": "sftp",
        "host": "${sftp_host}",
        "port": 22,
        "username": "${sftp_user}",
        "privateKey": "${sftp_key}",
        "knownHostsFile": "${known_hosts}",
        "timeout": 60000
    })
}

/// `datasync template` comments of the SFTP/FTP connection parameters.
pub fn sftp_conn_notes() -> Vec<datasync_engine::template::TemplateNote> {
    use datasync_engine::template::{alt, note};
    vec![
        note("protocol", "sftp (default), ftp (plain FTP: the password travels unencrypted) or ftps (explicit FTP over TLS)."),
        note("host", "Server host."),
        note("port", "Server port; default 22 for SFTP, 21 for FTP."),
        note("username", "Login user."),
        note("privateKey", "Path of a private key file (OpenSSH or PEM) for key login."),
        alt("password", "\"${env:SFTP_PASSWORD}\"", "Instead of privateKey: password login. Never printed."),
        alt("passphrase", "\"${file:/run/secrets/key_passphrase}\"", "Passphrase of an encrypted privateKey."),
        note("knownHostsFile", "known_hosts file the server's host key must be in; default ~/.ssh/known_hosts."),
        alt("hostKeyFingerprint", "\"SHA256:...\"", "Instead of knownHostsFile: the host key's fingerprint as ssh-keygen -l prints it."),
        alt("strictHostKeyChecking", "false", "false accepts any host key (with a warning); default true."),
        note("timeout", "Connect and I/O timeout in milliseconds (DataX style, 60000) or with a unit (60s); 0: no limit."),
        alt("connectPattern", "\"PASV\"", "FTP data connections: PASV (default) or PORT; SFTP ignores it."),
        alt("tlsCaFile", "\"/etc/ssl/certs/ftp-ca.pem\"", "FTPS: a PEM file of the certificates to trust; default the Mozilla roots."),
    ]
}

datasync_engine::any_case_schema!(
    SftpProtocol,
    "SftpProtocol",
    ["sftp", "ftp", "ftps"],
    "sftp (default), ftp or ftps (any letter case)."
);

datasync_engine::any_case_schema!(
    ConnectPattern,
    "ConnectPattern",
    ["PASV", "PORT"],
    "FTP data connections: PASV (default) or PORT (any letter case)."
);
