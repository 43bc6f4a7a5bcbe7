//! Connection settings and connecting.

use datasync_engine::config::ConfigError;
use datasync_engine::sql::{parse_jdbc_url, shorten_sql, JdbcUrl};
use datasync_engine::{PluginError, Secret};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use std::time::Duration;

/// URL schemes accepted for MySQL-protocol servers.
pub const MYSQL_SCHEMES: &[&str] = &["mysql", "mariadb", "oceanbase"];

/// Errors of MySQL-protocol plugins.
#[derive(Debug, thiserror::Error)]
pub enum MysqlError {
    /// No URL of the list accepted a connection.
    #[error("cannot connect to {url} as {user}")]
    Connect {
        /// The URL (no password).
        url: String,
        /// The user.
        user: String,
        /// The cause.
        #[source]
        source: mysql_async::Error,
    },
    /// Connecting took longer than the connect timeout.
    #[error("cannot connect to {url}: no answer within {secs}s (connectTimeout)")]
    Timeout {
        /// The URL (no password).
        url: String,
        /// The timeout.
        secs: u64,
    },
    /// A statement failed.
    #[error("{what} failed on {url}")]
    Query {
        /// Which statement, shortened.
        what: String,
        /// The URL (no password).
        url: String,
        /// The cause.
        #[source]
        source: mysql_async::Error,
    },
    /// Something about the data or schema that cannot work (named in the message).
    #[error("{0}")]
    Invalid(String),
}

impl MysqlError {
    /// Lost connections and timeouts may heal; server-side refusals do not.
    pub fn is_retriable(&self) -> bool {
        match self {
            MysqlError::Connect { source, .. } | MysqlError::Query { source, .. } => {
                source.is_fatal()
            }
            MysqlError::Timeout { .. } => true,
            MysqlError::Invalid(_) => false,
        }
    }

    /// The server's error code, when the server refused.
    pub fn server_code(&self) -> Option<u16> {
        match self {
            MysqlError::Connect {
                source: mysql_async::Error::Server(e),
                ..
            }
            | MysqlError::Query {
                source: mysql_async::Error::Server(e),
                ..
            } => Some(e.code),
            _ => None,
        }
    }
}

impl From<MysqlError> for PluginError {
    fn from(e: MysqlError) -> Self {
        if e.is_retriable() {
            PluginError::retriable(e)
        } else {
            PluginError::new(e)
        }
    }
}

/// Where and how to connect: one or more URLs (tried in order), credentials, statements run
/// on every new connection.
#[derive(Debug, Clone)]
pub struct MysqlConnConfig {
    urls: Vec<JdbcUrl>,
    user: String,
    password: Secret,
    session: Vec<String>,
    timeout: Duration,
}

impl MysqlConnConfig {
    /// Validates URLs (at `at`), credentials and session statements. Pure.
    pub fn new(
        urls: &[String],
        username: &str,
        password: &Secret,
        session: &[String],
        at: &str,
    ) -> Result<Self, ConfigError> {
        if urls.is_empty() {
            return Err(ConfigError::new(at, "needs at least one jdbcUrl"));
        }
        let mut parsed = Vec::new();
        let mut timeout = Duration::from_secs(10);
        for (i, u) in urls.iter().enumerate() {
            let at = format!("{at}[{i}]");
            let url = parse_jdbc_url(u, MYSQL_SCHEMES).map_err(|e| ConfigError::new(&at, e))?;
            let tls_wanted = url
                .param("useSSL")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                || url
                    .param("requireSSL")
                    .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                || url.param("sslMode").is_some_and(|v| {
                    !matches!(v.to_ascii_uppercase().as_str(), "DISABLED" | "PREFERRED")
                });
            if tls_wanted {
                return Err(ConfigError::new(
                    at,
                    "asks for TLS (useSSL/requireSSL/sslMode), which this build does not support yet; \
                     set useSSL=false or sslMode=DISABLED only if a plain-text connection is acceptable",
                ));
            }
            if let Some(ms) = url.param("connectTimeout") {
                let ms: u64 = ms.parse().map_err(|_| {
                    ConfigError::new(&at, format!("connectTimeout \"{ms}\" is not milliseconds"))
                })?;
                if ms > 0 {
                    timeout = Duration::from_millis(ms);
                }
            }
            for (k, _) in &url.params {
                if ![
                    "useSSL",
                    "requireSSL",
                    "sslMode",
                    "connectTimeout",
                    "zeroDateTimeBehavior",
                ]
                .iter()
                .any(|known| known.eq_ignore_ascii_case(k))
                {
                    tracing::debug!("{url}: JDBC parameter {k} has no meaning here and is ignored");
                }
            }
            parsed.push(url);
        }
        Ok(MysqlConnConfig {
            urls: parsed,
            user: username.to_string(),
            password: password.clone(),
            session: session.to_vec(),
            timeout,
        })
    }

    /// The first URL, for messages.
    pub fn url(&self) -> &JdbcUrl {
        &self.urls[0]
    }

    /// `zeroDateTimeBehavior` from the URL: true = convertToNull, false = exception (default).
    pub fn zero_date_to_null(&self) -> Result<bool, String> {
        match self.urls[0].param("zeroDateTimeBehavior") {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("convertToNull") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("exception") => Ok(false),
            Some(v) => Err(format!(
                "zeroDateTimeBehavior \"{v}\": expected convertToNull or exception"
            )),
        }
    }

    /// Connects to the first URL that answers, sets the session time zone to UTC (TIMESTAMP
    /// values travel unshifted), runs `setup` (the plugin's own), then the job's `session`
    /// statements (so a job can override the plugin's settings).
    pub async fn connect(&self, setup: &[&str]) -> Result<(Conn, &JdbcUrl), MysqlError> {
        let mut last = None;
        for url in &self.urls {
            let user = url.user.clone().unwrap_or_else(|| self.user.clone());
            let pass = url
                .password
                .clone()
                .unwrap_or_else(|| self.password.expose().to_string());
            let opts = OptsBuilder::default()
                .ip_or_hostname(url.host.clone())
                .tcp_port(url.port.unwrap_or(3306))
                .user(Some(user.clone()))
                .pass(Some(pass))
                .db_name(url.database.clone())
                .prefer_socket(false)
                .stmt_cache_size(0);
            let attempt = tokio::time::timeout(self.timeout, Conn::new(opts)).await;
            let mut conn = match attempt {
                Err(_) => {
                    last = Some(MysqlError::Timeout {
                        url: url.to_string(),
                        secs: self.timeout.as_secs(),
                    });
                    continue;
                }
                Ok(Err(source)) => {
                    let e = MysqlError::Connect {
                        url: url.to_string(),
                        user,
                        source,
                    };
                    tracing::warn!("{}", error_chain(&e));
                    last = Some(e);
                    continue;
                }
                Ok(Ok(c)) => c,
            };
            let mut all = vec!["SET time_zone = '+00:00'".to_string()];
            all.extend(setup.iter().map(|s| s.to_string()));
            all.extend(self.session.iter().cloned());
            for s in &all {
                conn.query_drop(s.as_str())
                    .await
                    .map_err(|source| MysqlError::Query {
                        what: format!("session statement `{}`", shorten_sql(s)),
                        url: url.to_string(),
                        source,
                    })?;
            }
            return Ok((conn, url));
        }
        Err(last.unwrap_or_else(|| MysqlError::Invalid("no jdbcUrl to connect to".into())))
    }

    /// Wraps a statement error with the statement (shortened) and the URL.
    pub fn query_error(&self, url: &JdbcUrl, sql: &str, source: mysql_async::Error) -> MysqlError {
        MysqlError::Query {
            what: format!("`{}`", shorten_sql(sql)),
            url: url.to_string(),
            source,
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_requests_are_refused_not_ignored() {
        let s = Secret::new("pw");
        let e = MysqlConnConfig::new(&["jdbc:mysql://h/db?useSSL=true".into()], "u", &s, &[], "x")
            .unwrap_err();
        assert!(e.message.contains("TLS"), "{e}");
        assert!(MysqlConnConfig::new(
            &["jdbc:mysql://h/db?useSSL=false&sslMode=DISABLED".into()],
            "u",
            &s,
            &[],
            "x"
        )
        .is_ok());
        let c = MysqlConnConfig::new(
            &["jdbc:mysql://h/db?zeroDateTimeBehavior=convertToNull&connectTimeout=500".into()],
            "u",
            &s,
            &[],
            "x",
        )
        .unwrap();
        assert_eq!(c.zero_date_to_null(), Ok(true));
        assert_eq!(c.timeout, Duration::from_millis(500));
        assert!(!format!("{c:?}").contains("pw"));
    }
}
