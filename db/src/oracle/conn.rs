//! Connecting (URLs tried in order, a connect timeout, session statements), the error type and
//! its classification, and the client-library check. The `oracle` crate is blocking: every
//! call runs on a blocking thread of the runtime.

use super::url::{parse_oracle_url, OracleUrl};
use crate::sql::{shorten_sql, DriverError, SqlError};
use datasync_engine::config::ConfigError;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Errors of the Oracle plugins.
pub type OracleError = SqlError<oracle::Error>;

/// Oracle codes of a connect that may work later: no listener yet, the database starting,
/// shutting down or out of sessions, a network timeout.
const CONNECT_MAY_HEAL: &[i32] = &[
    1033, 1034, 1089, 1090, 12170, 12500, 12514, 12516, 12518, 12519, 12520, 12521, 12526, 12527,
    12528, 12535, 12537, 12541, 12543, 12547, 12560, 12571, 3113, 3114, 3135,
];

/// Oracle codes of a statement whose connection is gone (the session was killed, the server
/// went away); DPI-1010 / DPI-1080: the client saw the connection close.
const CONNECTION_LOST: &[i32] = &[
    28, 1012, 1033, 1034, 1089, 1092, 2396, 3113, 3114, 3135, 12152, 12537, 12547, 12570, 12571,
    25408,
];

fn code(e: &oracle::Error) -> Option<i32> {
    e.db_error().map(|d| d.code()).filter(|c| *c != 0)
}

impl DriverError for oracle::Error {
    fn connect_may_heal(&self) -> bool {
        code(self).is_some_and(|c| CONNECT_MAY_HEAL.contains(&c))
    }
    fn connection_lost(&self) -> bool {
        matches!(self.dpi_code(), Some(1010 | 1080))
            || code(self).is_some_and(|c| CONNECTION_LOST.contains(&c))
    }
}

/// What to do when the Oracle client library is missing, for messages and `datasync plugins`.
pub const CLIENT_HELP: &str = "the Oracle plugins load the Oracle client library \
    (libclntsh.so) at run time and it was not found or cannot be used: install Oracle Instant Client Basic or \
    Basic Light (64-bit, 19c or later; \
    https://www.oracle.com/database/technologies/instant-client.html) and set LD_LIBRARY_PATH \
    to its directory (or register it with ldconfig)";

/// The client library's version, or why it cannot be loaded ([`CLIENT_HELP`] and the client's
/// own error). Checked once per process.
pub fn client_status() -> Result<String, String> {
    static STATUS: OnceLock<Result<String, String>> = OnceLock::new();
    STATUS
        .get_or_init(|| match oracle::Version::client() {
            Ok(v) => Ok(v.to_string()),
            Err(e) => Err(format!("{CLIENT_HELP} ({e})")),
        })
        .clone()
}

/// The Oracle plugins' run-time check (see `Plugin::runtime`): the client library.
pub fn runtime() -> Result<(), datasync_engine::RuntimeMissing> {
    client_status()
        .map(|_| ())
        .map_err(|detail| datasync_engine::RuntimeMissing {
            mark: "needs Oracle Instant Client (not found)",
            detail,
        })
}

/// Session settings every connection gets before the job's `session`: UTC (TIMESTAMP WITH LOCAL
/// TIME ZONE values are read and written in UTC), '.' as the decimal point (numbers bound as
/// text convert exactly whatever the server's NLS settings), and binary sorting and comparison,
/// so the key order that cuts a text splitPk is the order its range predicates compare in.
pub const SESSION_DEFAULTS: &[&str] = &[
    "ALTER SESSION SET TIME_ZONE = '+00:00'",
    "ALTER SESSION SET NLS_NUMERIC_CHARACTERS = '.,'",
    "ALTER SESSION SET NLS_SORT = BINARY",
    "ALTER SESSION SET NLS_COMP = BINARY",
];

/// How to reach one Oracle database: the URLs (tried in order), credentials, the job's session
/// statements and the connect timeout.
#[derive(Debug, Clone)]
pub struct OracleConnConfig {
    urls: Vec<OracleUrl>,
    user: String,
    password: datasync_engine::Secret,
    session: Vec<String>,
    timeout: Duration,
}

impl OracleConnConfig {
    /// Parses `urls` (at JSON path `at`). Pure: the client library is not touched.
    pub fn new(keys: crate::sql::ConnKeys<'_>) -> Result<Self, ConfigError> {
        Ok(OracleConnConfig {
            urls: keys.candidates(parse_oracle_url)?,
            user: keys.username.to_string(),
            password: keys.password.clone(),
            session: keys.session.to_vec(),
            timeout: Duration::from_secs(10),
        })
    }

    /// The first URL, for messages.
    pub fn url(&self) -> &OracleUrl {
        &self.urls[0]
    }

    /// Connects to the first URL that accepts (each within the timeout), then runs the session
    /// defaults and the job's `session`. A missing client library fails at once with
    /// [`CLIENT_HELP`].
    pub async fn connect(&self) -> Result<OracleConn, OracleError> {
        client_status().map_err(OracleError::Invalid)?;
        let mut last = None;
        for url in &self.urls {
            let user = url.user.clone().unwrap_or_else(|| self.user.clone());
            let password = url
                .password
                .clone()
                .unwrap_or_else(|| self.password.expose().to_string());
            let connect = url.connect.clone();
            let job = tokio::task::spawn_blocking(move || {
                oracle::Connector::new(user, password, connect)
                    .driver_name("datasync")
                    .connect()
            });
            let shown = url.to_string();
            match tokio::time::timeout(self.timeout, job).await {
                Err(_) => {
                    last = Some(OracleError::Timeout {
                        url: shown,
                        secs: self.timeout.as_secs_f64(),
                    })
                }
                Ok(Err(join)) => return Err(OracleError::Invalid(format!("connect: {join}"))),
                Ok(Ok(Err(e))) => {
                    let e = OracleError::Connect {
                        url: shown,
                        user: url.user.clone().unwrap_or_else(|| self.user.clone()),
                        source: e,
                    };
                    if self.urls.len() > 1 {
                        tracing::warn!("{}", datasync_engine::plugin::error_chain(&e));
                    }
                    last = Some(e);
                }
                Ok(Ok(Ok(c))) => {
                    let conn = OracleConn {
                        conn: Arc::new(c),
                        url: url.clone(),
                    };
                    for s in SESSION_DEFAULTS
                        .iter()
                        .copied()
                        .chain(self.session.iter().map(String::as_str))
                    {
                        conn.execute(s).await?;
                    }
                    return Ok(conn);
                }
            }
        }
        Err(last.unwrap_or_else(|| OracleError::Invalid("no URL to connect to".into())))
    }
}

/// One open connection; clones share it. Calls run on a blocking thread.
#[derive(Clone)]
pub struct OracleConn {
    /// The connection (for work done on a blocking thread of the caller's).
    pub conn: Arc<oracle::Connection>,
    /// Where it is connected.
    pub url: OracleUrl,
}

impl OracleConn {
    /// Runs `f` with the connection on a blocking thread.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&oracle::Connection) -> oracle::Result<T> + Send + 'static,
    ) -> oracle::Result<T> {
        let c = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&c))
            .await
            .unwrap_or_else(|e| {
                Err(oracle::Error::new(
                    oracle::ErrorKind::InternalError,
                    format!("a blocking Oracle call did not finish: {e}"),
                ))
            })
    }

    /// The error of statement `sql`, naming it and the server.
    pub fn query_error(&self, sql: &str, e: oracle::Error) -> OracleError {
        OracleError::Query {
            what: format!("`{}`", shorten_sql(sql)),
            url: self.url.to_string(),
            source: e,
        }
    }

    /// Runs one statement (no result rows).
    pub async fn execute(&self, sql: &str) -> Result<(), OracleError> {
        let s = sql.to_string();
        self.call(move |c| c.execute(&s, &[]).map(|_| ()))
            .await
            .map_err(|e| self.query_error(sql, e))
    }

    /// The first column of every row of `sql`, as text (NULLs kept as `None`).
    pub async fn texts(&self, sql: &str) -> Result<Vec<Option<String>>, OracleError> {
        let s = sql.to_string();
        self.call(move |c| {
            let rows = c.query(&s, &[])?;
            rows.map(|r| r.and_then(|r| r.get::<usize, Option<String>>(0)))
                .collect()
        })
        .await
        .map_err(|e| self.query_error(sql, e))
    }

    /// Every row of `sql` as a `T` (a tuple of its columns' types).
    pub async fn rows_as<T: oracle::RowValue + Send + 'static>(
        &self,
        sql: &str,
    ) -> Result<Vec<T>, OracleError> {
        let s = sql.to_string();
        self.call(move |c| c.query_as::<T>(&s, &[])?.collect())
            .await
            .map_err(|e| self.query_error(sql, e))
    }

    /// Every row of `sql`, each column as text (NULLs kept as `None`).
    pub async fn rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, OracleError> {
        let s = sql.to_string();
        self.call(move |c| {
            c.query(&s, &[])?
                .map(|r| {
                    let r = r?;
                    (0..r.sql_values().len())
                        .map(|i| r.get::<usize, Option<String>>(i))
                        .collect::<oracle::Result<Vec<_>>>()
                })
                .collect()
        })
        .await
        .map_err(|e| self.query_error(sql, e))
    }

    /// The result columns of `sql` (name, Oracle type), executing it (callers pass a query
    /// that selects no row).
    pub async fn columns(
        &self,
        sql: &str,
    ) -> Result<Vec<(String, oracle::sql_type::OracleType)>, OracleError> {
        let s = sql.to_string();
        self.call(move |c| {
            let mut st = c.statement(&s).build()?;
            let rows = st.query(&[])?;
            Ok(rows
                .column_info()
                .iter()
                .map(|ci| (ci.name().to_string(), ci.oracle_type().clone()))
                .collect())
        })
        .await
        .map_err(|e| self.query_error(sql, e))
    }

    /// Commits the connection's transaction.
    pub async fn commit(&self) -> Result<(), OracleError> {
        self.call(|c| c.commit())
            .await
            .map_err(|e| self.query_error("COMMIT", e))
    }

    /// Rolls back the connection's transaction.
    pub async fn rollback(&self) -> Result<(), OracleError> {
        self.call(|c| c.rollback())
            .await
            .map_err(|e| self.query_error("ROLLBACK", e))
    }
}
