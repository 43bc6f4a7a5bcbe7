//! The error type of every SQL plugin, and the connection settings they share.

use super::url::{parse_jdbc_url, shorten_sql, JdbcUrl};

/// What the shared SQL error needs to know about a driver's error.
pub trait DriverError: std::error::Error + Send + Sync + 'static {
    /// Whether a failed connect may succeed later (no answer, a server starting, shutting
    /// down or full), as opposed to a refusal (bad credentials, unknown database).
    fn connect_may_heal(&self) -> bool;
    /// Whether a failed statement lost its connection (it may succeed on a new one), as
    /// opposed to the server refusing it.
    fn connection_lost(&self) -> bool;
}

/// Errors of a SQL plugin, generic over its driver's error.
#[derive(Debug, thiserror::Error)]
pub enum SqlError<E: DriverError> {
    /// No URL of the list accepted a connection.
    #[error("cannot connect to {url} as {user}")]
    Connect {
        /// The URL (no password).
        url: String,
        /// The user.
        user: String,
        /// The cause.
        #[source]
        source: E,
    },
    /// Connecting took longer than the connect timeout.
    #[error("cannot connect to {url}: no answer within {secs}s (connectTimeout)")]
    Timeout {
        /// The URL (no password).
        url: String,
        /// The timeout in seconds (1.5 for connectTimeout=1500).
        secs: f64,
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
        source: E,
    },
    /// Something about the data or schema that cannot work (named in the message).
    #[error("{0}")]
    Invalid(String),
}

impl<E: DriverError> SqlError<E> {
    /// Lost connections and timeouts may heal; server refusals do not.
    pub fn is_retriable(&self) -> bool {
        match self {
            SqlError::Connect { source, .. } => source.connect_may_heal(),
            SqlError::Query { source, .. } => source.connection_lost(),
            SqlError::Timeout { .. } => true,
            SqlError::Invalid(_) => false,
        }
    }

    /// A failed statement with the statement (shortened) and the URL.
    pub fn query(url: &JdbcUrl, sql: &str, source: E) -> Self {
        SqlError::Query {
            what: format!("`{}`", shorten_sql(sql)),
            url: url.to_string(),
            source,
        }
    }
}

impl<E: DriverError> From<SqlError<E>> for datasync_engine::PluginError {
    fn from(e: SqlError<E>) -> Self {
        datasync_engine::PluginError::classified(e.is_retriable(), e)
    }
}

/// What every SQL connection config holds: the URLs (tried in order), credentials, the job's
/// session statements and the connect timeout.
#[derive(Debug, Clone)]
pub struct ConnSettings {
    /// The URLs, parsed.
    pub urls: Vec<JdbcUrl>,
    /// The user (a URL's own user wins).
    pub user: String,
    /// The password (a URL's own password wins).
    pub password: datasync_engine::Secret,
    /// Statements run on every new connection.
    pub session: Vec<String>,
    /// How long a connect may take.
    pub timeout: std::time::Duration,
}

impl ConnSettings {
    /// Parses `urls` (at JSON path `at`) with `schemes`; `check` validates each URL's
    /// system-specific parameters and returns the connect timeout it sets, if any (default
    /// 10 s). Pure.
    pub fn parse(
        keys: super::ConnKeys<'_>,
        schemes: &[&str],
        check: impl Fn(&JdbcUrl) -> Result<Option<std::time::Duration>, String>,
    ) -> Result<Self, datasync_engine::config::ConfigError> {
        let parsed = keys.candidates(|u| {
            let url = parse_jdbc_url(u, schemes)?;
            let t = check(&url)?;
            Ok((url, t))
        })?;
        // The last URL that sets a connect timeout sets it.
        let timeout = parsed.iter().filter_map(|(_, t)| *t).next_back();
        Ok(ConnSettings {
            urls: parsed.into_iter().map(|(u, _)| u).collect(),
            user: keys.username.to_string(),
            password: keys.password.clone(),
            session: keys.session.to_vec(),
            timeout: timeout.unwrap_or(std::time::Duration::from_secs(10)),
        })
    }

    /// The user and password to log in on `url` with (the URL's own win over the job's).
    pub fn login(&self, url: &JdbcUrl) -> (String, String) {
        let user = url.user.clone().unwrap_or_else(|| self.user.clone());
        let password = url
            .password
            .clone()
            .unwrap_or_else(|| self.password.expose().to_string());
        (user, password)
    }

    /// Logs in on the first URL that answers within the connect timeout, in order (DataX's
    /// failover). `open(url, user, password)` makes the attempt (an error there, such as a
    /// TLS setting that cannot work, ends the search); a URL that times out or refuses is
    /// passed over, a refusal logged as `describe` says it (with the server's own words); when
    /// none is left, the last failure.
    pub async fn first_reachable<'s, T, E, F, Fut>(
        &'s self,
        mut open: F,
        describe: fn(&SqlError<E>) -> String,
    ) -> Result<(T, &'s JdbcUrl), SqlError<E>>
    where
        E: DriverError,
        F: FnMut(&'s JdbcUrl, &str, String) -> Result<Fut, SqlError<E>>,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let mut last = None;
        for url in &self.urls {
            let (user, password) = self.login(url);
            let attempt = open(url, &user, password)?;
            match tokio::time::timeout(self.timeout, attempt).await {
                Err(_) => {
                    let e = SqlError::Timeout {
                        url: url.to_string(),
                        secs: self.timeout.as_secs_f64(),
                    };
                    tracing::warn!("{e}");
                    last = Some(e);
                }
                Ok(Err(source)) => {
                    let e = SqlError::Connect {
                        url: url.to_string(),
                        user,
                        source,
                    };
                    tracing::warn!("{}", describe(&e));
                    last = Some(e);
                }
                Ok(Ok(c)) => return Ok((c, url)),
            }
        }
        Err(last.unwrap_or_else(|| SqlError::Invalid("no jdbcUrl to connect to".into())))
    }
}
