//! Connection settings and connecting.

use super::tls::{self, SslMode, TlsSettings};
use crate::sql::{ConnSettings, JdbcUrl};
use datasync_engine::config::ConfigError;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

/// URL schemes accepted for PostgreSQL.
pub const PG_SCHEMES: &[&str] = &["postgresql", "postgres"];

/// Errors of the PostgreSQL plugins.
pub type PostgresError = crate::sql::SqlError<tokio_postgres::Error>;

impl crate::sql::DriverError for tokio_postgres::Error {
    /// No answer at all, or a server that is starting, shutting down or full.
    fn connect_may_heal(&self) -> bool {
        self.as_db_error().is_none_or(|db| {
            let c = db.code().code();
            c.starts_with("08") || c.starts_with("57P") || c == "53300"
        })
    }
    fn connection_lost(&self) -> bool {
        self.is_closed()
    }
}

/// Whether `sql` quotes a name holding an upper-case letter (`"ID"`).
fn quotes_upper_case(sql: &str) -> bool {
    sql.split('"')
        .skip(1)
        .step_by(2)
        .any(|name| name.chars().any(char::is_uppercase))
}

/// The text of a database error (message, detail), or the error itself.
pub fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => match d.detail() {
            Some(det) => format!("{} ({}): {det}", d.message(), d.code().code()),
            None => format!("{} ({})", d.message(), d.code().code()),
        },
        // "error connecting to server" alone: the cause (refused, no route...) is its source.
        None => datasync_engine::plugin::error_chain(e),
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct PostgresConnConfig {
    s: ConnSettings,
}

impl PostgresConnConfig {
    /// The first URL (for messages and lineage).
    pub fn url(&self) -> &crate::sql::JdbcUrl {
        &self.s.urls[0]
    }

    /// Validates URLs (at `at`), credentials and session statements. Pure.
    pub fn new(keys: crate::sql::ConnKeys<'_>) -> Result<Self, ConfigError> {
        let s = ConnSettings::parse(keys, PG_SCHEMES, |url| {
            if SslMode::parse(url.param("sslmode"), url.param("ssl")).is_none() {
                return Err(format!(
                    "sslmode \"{}\" is not one of disable, allow, prefer, require, verify-ca, \
                     verify-full",
                    url.param("sslmode").unwrap_or_default()
                ));
            }
            let mut timeout = None;
            for key in ["connectTimeout", "connect_timeout"] {
                if let Some(v) = url.param(key) {
                    let secs: f64 = v
                        .parse()
                        .map_err(|_| format!("{key} \"{v}\" is not seconds"))?;
                    if secs > 0.0 {
                        timeout = Some(Duration::from_secs_f64(secs));
                    }
                }
            }
            Ok(timeout)
        })?;
        Ok(PostgresConnConfig { s })
    }

    /// Connects to the first URL that answers, sets the session to UTC, runs the job's session
    /// statements. The connection's I/O runs on its own task.
    pub async fn connect(&self) -> Result<(Client, &JdbcUrl), PostgresError> {
        let open = |url: &JdbcUrl, user: &str, pass: String| {
            let mut cfg = tokio_postgres::Config::new();
            cfg.host(&url.host)
                .port(url.port.unwrap_or(5432))
                .user(user)
                .connect_timeout(self.s.timeout)
                // A peer that vanished without closing (host down, cable cut) is noticed
                // within about 2 minutes instead of never.
                .keepalives(true)
                .keepalives_idle(std::time::Duration::from_secs(60))
                .keepalives_interval(std::time::Duration::from_secs(10))
                .keepalives_retries(6)
                .application_name("datasync");
            if !pass.is_empty() {
                cfg.password(pass);
            }
            if let Some(db) = &url.database {
                cfg.dbname(db);
            }
            let tls = TlsSettings {
                mode: SslMode::parse(url.param("sslmode"), url.param("ssl"))
                    .unwrap_or(SslMode::Disable),
                root_cert: url.param("sslrootcert").map(str::to_string),
            };
            cfg.ssl_mode(match tls.mode {
                SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                _ => tokio_postgres::config::SslMode::Require,
            });
            let connector = tls::connector(&tls).map_err(|e| {
                PostgresError::Invalid(format!("cannot connect to {url}: TLS: {e}"))
            })?;
            Ok(async move {
                match connector {
                    Some(c) => cfg.connect(c).await.map(|(client, conn)| {
                        let conn: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(conn);
                        (client, conn)
                    }),
                    None => cfg.connect(NoTls).await.map(|(client, conn)| {
                        let conn: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(conn);
                        (client, conn)
                    }),
                }
            })
        };
        let said = |e: &PostgresError| match e {
            PostgresError::Connect { url, source, .. } => {
                format!("cannot connect to {url}: {}", db_message(source))
            }
            other => other.to_string(),
        };
        let ((client, connection), url) = self.s.first_reachable(open, said).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("postgres connection ended: {e}");
            }
        });
        let mut setup = vec!["SET TIME ZONE 'UTC'".to_string()];
        setup.extend(self.s.session.iter().cloned());
        for s in &setup {
            client
                .batch_execute(s)
                .await
                .map_err(|e| self.query_error(url, s, e))?;
        }
        Ok((client, url))
    }

    /// Wraps a statement error with the statement (shortened) and the URL.
    pub fn query_error(
        &self,
        url: &JdbcUrl,
        sql: &str,
        source: tokio_postgres::Error,
    ) -> PostgresError {
        use tokio_postgres::error::SqlState;
        let unknown = source
            .code()
            .is_some_and(|c| *c == SqlState::UNDEFINED_TABLE || *c == SqlState::UNDEFINED_COLUMN);
        if unknown && quotes_upper_case(sql) {
            // DataX hands names to PostgreSQL unquoted, which folds them to lower case; here
            // every name is quoted as written.
            return crate::sql::SqlError::Query {
                what: format!(
                    "`{}` (a quoted name is taken as written, letter case included, and an \
                     unquoted one is folded to lower case, as PostgreSQL stores names created \
                     unquoted)",
                    crate::sql::shorten_sql(sql)
                ),
                url: url.to_string(),
                source,
            };
        }
        PostgresError::query(url, sql, source)
    }

    /// The result columns of `sql` (name, the server's type name), from preparing it: nothing
    /// runs.
    pub async fn describe(
        &self,
        client: &tokio_postgres::Client,
        url: &JdbcUrl,
        sql: &str,
    ) -> Result<Vec<(String, String)>, PostgresError> {
        let stmt = client
            .prepare(sql)
            .await
            .map_err(|e| self.query_error(url, sql, e))?;
        Ok(stmt
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), c.type_().name().to_string()))
            .collect())
    }
}
