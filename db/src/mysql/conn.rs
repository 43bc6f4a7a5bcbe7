//! Connection settings and connecting.

use crate::sql::{shorten_sql, ConnKeys, ConnSettings, JdbcUrl};
use datasync_engine::config::ConfigError;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, SslOpts};
use std::path::PathBuf;
use std::time::Duration;

/// URL schemes accepted for MySQL-protocol servers.
pub const MYSQL_SCHEMES: &[&str] = &["mysql", "mariadb", "oceanbase"];

/// Errors of MySQL-protocol plugins.
pub type MysqlError = crate::sql::SqlError<mysql_async::Error>;

impl crate::sql::DriverError for mysql_async::Error {
    fn connect_may_heal(&self) -> bool {
        self.is_fatal()
    }
    fn connection_lost(&self) -> bool {
        self.is_fatal()
    }
}

/// JDBC URL parameters that mean something here.
const KNOWN_PARAMS: &[&str] = &[
    "useSSL",
    "requireSSL",
    "verifyServerCertificate",
    "sslMode",
    "sslCa",
    "connectTimeout",
    "zeroDateTimeBehavior",
];

/// Marks DataX's OceanBase 1.0 URL form
/// `||_dsc_ob10_dsc_||cluster:tenant||_dsc_ob10_dsc_||jdbc:mysql://proxy:2883/db`.
const OB10_MARK: &str = "||_dsc_ob10_dsc_||";

/// URLs in DataX's OceanBase 1.0 form, as plain URLs, and the user name the OceanBase proxy
/// expects for them (`cluster:tenant:user`, as DataX logs in); other URLs unchanged.
fn oceanbase_proxy_form(
    urls: &[String],
    username: &str,
    at: &str,
) -> Result<(Vec<String>, String), ConfigError> {
    let mut user = username.to_string();
    let mut prefix: Option<&str> = None;
    let mut plain = Vec::with_capacity(urls.len());
    for (i, u) in urls.iter().enumerate() {
        let Some(rest) = u.trim().strip_prefix(OB10_MARK) else {
            plain.push(u.clone());
            continue;
        };
        let bad = |why: &str| ConfigError::new(format!("{at}[{i}]"), why.to_string());
        let Some((cluster_tenant, url)) = rest.split_once(OB10_MARK) else {
            return Err(bad(
                "an OceanBase URL is ||_dsc_ob10_dsc_||cluster:tenant||_dsc_ob10_dsc_||jdbc:mysql://...",
            ));
        };
        let cluster_tenant = cluster_tenant.trim();
        if !cluster_tenant.contains(':') {
            return Err(bad(
                "the part between the ||_dsc_ob10_dsc_|| marks must be cluster:tenant",
            ));
        }
        match prefix {
            Some(p) if p != cluster_tenant => {
                return Err(bad(
                    "all URLs of one connection must name the same cluster:tenant",
                ))
            }
            Some(_) => {}
            None => {
                prefix = Some(cluster_tenant);
                user = format!("{cluster_tenant}:{username}");
            }
        }
        plain.push(url.to_string());
    }
    Ok((plain, user))
}

/// Where and how to connect: one or more URLs (tried in order), credentials, statements run
/// on every new connection.
#[derive(Debug, Clone)]
pub struct MysqlConnConfig {
    s: ConnSettings,
}

impl MysqlConnConfig {
    /// Validates URLs (at `at`), credentials and session statements. Pure.
    pub fn new(keys: ConnKeys<'_>) -> Result<Self, ConfigError> {
        let (urls, username) = oceanbase_proxy_form(keys.urls, keys.username, keys.at)?;
        let s = ConnSettings::parse(
            ConnKeys {
                urls: &urls,
                username: &username,
                ..keys
            },
            MYSQL_SCHEMES,
            |url| {
                tls_mode(url)?;
                for (k, _) in &url.params {
                    if !KNOWN_PARAMS
                        .iter()
                        .any(|known| known.eq_ignore_ascii_case(k))
                    {
                        tracing::debug!(
                            "{url}: JDBC parameter {k} has no meaning here and is ignored"
                        );
                    }
                }
                match url.param("connectTimeout") {
                    None => Ok(None),
                    Some(ms) => {
                        let ms: u64 = ms
                            .parse()
                            .map_err(|_| format!("connectTimeout \"{ms}\" is not milliseconds"))?;
                        Ok((ms > 0).then(|| Duration::from_millis(ms)))
                    }
                }
            },
        )?;
        Ok(MysqlConnConfig { s })
    }

    /// The first URL, for messages.
    pub fn url(&self) -> &JdbcUrl {
        &self.s.urls[0]
    }

    /// `zeroDateTimeBehavior` from the URL: true = convertToNull, false = exception (default).
    pub fn zero_date_to_null(&self) -> Result<bool, String> {
        match self.s.urls[0].param("zeroDateTimeBehavior") {
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
        let open = |url: &JdbcUrl, user: &str, pass: String| {
            let tls = tls_mode(url).map_err(MysqlError::Invalid)?;
            let opts = OptsBuilder::default()
                .ssl_opts(tls.ssl_opts())
                .ip_or_hostname(url.host.clone())
                .tcp_port(url.port.unwrap_or(3306))
                .user(Some(user))
                .pass(Some(pass))
                .db_name(url.database.clone())
                .prefer_socket(false)
                // A peer that vanished without closing is noticed instead of waited on forever.
                .tcp_keepalive(Some(std::time::Duration::from_secs(60)))
                .stmt_cache_size(0);
            Ok(Conn::new(opts))
        };
        let chain = |e: &MysqlError| datasync_engine::plugin::error_chain(e);
        let (mut conn, url) = self.s.first_reachable(open, chain).await?;
        let mut all = vec!["SET time_zone = '+00:00'".to_string()];
        all.extend(setup.iter().map(|s| s.to_string()));
        all.extend(self.s.session.iter().cloned());
        for s in &all {
            conn.query_drop(s.as_str())
                .await
                .map_err(|source| MysqlError::Query {
                    what: format!("session statement `{}`", shorten_sql(s)),
                    url: url.to_string(),
                    source,
                })?;
        }
        Ok((conn, url))
    }

    /// The session's time zone on `conn` when it is not UTC (the job's `session` set one):
    /// TIMESTAMP values would then travel shifted by it, so a plugin refuses to read or write
    /// TIMESTAMP columns there ([`zone_refusal`]). `None` for UTC.
    pub async fn shifted_zone(
        &self,
        conn: &mut Conn,
        url: &JdbcUrl,
    ) -> Result<Option<String>, MysqlError> {
        let sql = "SELECT @@session.time_zone, @@system_time_zone";
        let zones: Option<(String, String)> = conn
            .query_first(sql)
            .await
            .map_err(|e| self.query_error(url, sql, e))?;
        let utc = |z: &str| {
            let z = z.to_ascii_uppercase();
            let z = z.strip_prefix("ETC/").unwrap_or(&z);
            [
                "+00:00",
                "-00:00",
                "+0:00",
                "-0:00",
                "UTC",
                "GMT",
                "UCT",
                "UNIVERSAL",
                "ZULU",
            ]
            .contains(&z)
        };
        Ok(zones.and_then(|(session, system)| {
            let is_utc = utc(&session) || (session.eq_ignore_ascii_case("SYSTEM") && utc(&system));
            (!is_utc).then_some(session)
        }))
    }

    /// Wraps a statement error with the statement (shortened) and the URL.
    pub fn query_error(&self, url: &JdbcUrl, sql: &str, source: mysql_async::Error) -> MysqlError {
        MysqlError::query(url, sql, source)
    }

    /// The result columns of `sql` on `conn` (name, the Arrow type they are read as), reading
    /// no row the query does not return (give it one that returns none).
    pub async fn describe(
        &self,
        conn: &mut mysql_async::Conn,
        url: &JdbcUrl,
        sql: &str,
    ) -> Result<Vec<(String, arrow_schema::DataType)>, MysqlError> {
        use mysql_async::prelude::Queryable;
        let result = conn
            .query_iter(sql)
            .await
            .map_err(|e| self.query_error(url, sql, e))?;
        let cols: Vec<(String, arrow_schema::DataType)> = result
            .columns_ref()
            .iter()
            .map(|c| (c.name_str().into_owned(), super::arrow_type(c).0))
            .collect();
        result
            .drop_result()
            .await
            .map_err(|e| self.query_error(url, sql, e))?;
        Ok(cols)
    }
}

/// Why TIMESTAMP columns `columns` are not `verb` (read, written) in a session whose time
/// zone is `zone` ([`MysqlConnConfig::shifted_zone`]).
pub fn zone_refusal(zone: &str, verb: &str, columns: &[String]) -> MysqlError {
    let advice = match verb {
        "read" => format!(
            "remove the time_zone statement from the reader's session (in where or querySql, \
             CONVERT_TZ(NOW(), '+00:00', '{zone}') gives that zone's time)"
        ),
        _ => "remove the time_zone statement from the writer's session".to_string(),
    };
    MysqlError::Invalid(format!(
        "the job's session sets time_zone to '{zone}': the TIMESTAMP column(s) {} would be \
         {verb} shifted by it (TIMESTAMP values travel as UTC instants); {advice}",
        columns.join(", ")
    ))
}

/// TLS as a JDBC URL asks for it (Connector/J's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// Plain TCP (`sslMode=DISABLED`/`PREFERRED`, or nothing asked).
    Off,
    /// Encrypted, server certificate not checked (`sslMode=REQUIRED`, or `useSSL=true` with
    /// `verifyServerCertificate=false`).
    Required,
    /// Encrypted, certificate chain checked against `sslCa` (or the built-in roots), host name not.
    VerifyCa(Option<PathBuf>),
    /// Encrypted, chain and host name checked (`sslMode=VERIFY_IDENTITY`, or `useSSL=true`).
    VerifyIdentity(Option<PathBuf>),
}

/// Reads the URL's TLS parameters.
pub fn tls_mode(url: &JdbcUrl) -> Result<Tls, String> {
    let on = |k: &str| url.param(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let ca = url.param("sslCa").map(PathBuf::from);
    if let Some(mode) = url.param("sslMode") {
        return match mode.to_ascii_uppercase().as_str() {
            "DISABLED" | "PREFERRED" => Ok(Tls::Off),
            "REQUIRED" => Ok(Tls::Required),
            "VERIFY_CA" => Ok(Tls::VerifyCa(ca)),
            "VERIFY_IDENTITY" => Ok(Tls::VerifyIdentity(ca)),
            other => Err(format!(
                "sslMode \"{other}\": expected DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
            )),
        };
    }
    if on("useSSL") || on("requireSSL") {
        let verify = url
            .param("verifyServerCertificate")
            .is_none_or(|v| v.eq_ignore_ascii_case("true"));
        return Ok(if verify {
            Tls::VerifyIdentity(ca)
        } else {
            Tls::Required
        });
    }
    Ok(Tls::Off)
}

impl Tls {
    fn ssl_opts(&self) -> Option<SslOpts> {
        let roots = |ca: &Option<PathBuf>| match ca {
            Some(p) => SslOpts::default().with_root_certs(vec![p.clone().into()]),
            None => SslOpts::default(),
        };
        match self {
            Tls::Off => None,
            Tls::Required => Some(
                SslOpts::default()
                    .with_danger_accept_invalid_certs(true)
                    .with_danger_skip_domain_validation(true),
            ),
            Tls::VerifyCa(ca) => Some(roots(ca).with_danger_skip_domain_validation(true)),
            Tls::VerifyIdentity(ca) => Some(roots(ca)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings of `urls` for user `user` with password `pw`.
    fn conn(urls: &[String], user: &str, pw: &str) -> Result<MysqlConnConfig, ConfigError> {
        MysqlConnConfig::new(ConnKeys {
            urls,
            username: user,
            password: &datasync_engine::Secret::new(pw),
            session: &[],
            at: "c",
        })
    }
    use crate::sql::parse_jdbc_url;

    #[test]
    fn oceanbase_url_form_logs_in_as_cluster_tenant_user() {
        let urls = vec![
            "||_dsc_ob10_dsc_||obdemo:sys||_dsc_ob10_dsc_||jdbc:mysql://127.0.0.1:2883/db"
                .to_string(),
        ];
        let (plain, user) = oceanbase_proxy_form(&urls, "root", "c.jdbcUrl").unwrap();
        assert_eq!(plain, ["jdbc:mysql://127.0.0.1:2883/db"]);
        assert_eq!(user, "obdemo:sys:root");
        let plain_urls = vec!["jdbc:mysql://h/d".to_string()];
        assert_eq!(
            oceanbase_proxy_form(&plain_urls, "u", "c").unwrap(),
            (plain_urls.clone(), "u".to_string())
        );
        let broken = vec!["||_dsc_ob10_dsc_||obdemo:sys jdbc:mysql://h/d".to_string()];
        let e = oceanbase_proxy_form(&broken, "u", "c.jdbcUrl").unwrap_err();
        assert_eq!(e.path, "c.jdbcUrl[0]");
        let c = conn(&urls, "root", "").unwrap();
        assert_eq!(c.url().host, "127.0.0.1");
        // Of several candidates, one that is not a URL is passed over (DataX tries the next).
        let list = vec![
            "jdbc:mysql://h:bad_port/d".to_string(),
            "jdbc:mysql://h2/d".to_string(),
        ];
        let c = conn(&list, "u", "").unwrap();
        assert_eq!(c.url().host, "h2");
        assert!(conn(&list[..1], "u", "").is_err());
    }

    #[test]
    fn tls_parameters_map_like_connector_j() {
        let mode = |u: &str| tls_mode(&parse_jdbc_url(u, MYSQL_SCHEMES).unwrap());
        assert_eq!(mode("jdbc:mysql://h/db"), Ok(Tls::Off));
        assert_eq!(
            mode("jdbc:mysql://h/db?useSSL=true"),
            Ok(Tls::VerifyIdentity(None))
        );
        assert_eq!(
            mode("jdbc:mysql://h/db?useSSL=true&verifyServerCertificate=false"),
            Ok(Tls::Required)
        );
        assert_eq!(
            mode("jdbc:mysql://h/db?sslMode=VERIFY_CA&sslCa=/ca.pem"),
            Ok(Tls::VerifyCa(Some("/ca.pem".into())))
        );
        assert!(mode("jdbc:mysql://h/db?sslMode=SOMETIMES").is_err());
        let e = conn(&["jdbc:mysql://h/db?sslMode=bogus".into()], "u", "pw").unwrap_err();
        assert!(e.message.contains("sslMode"), "{e}");
        assert!(conn(
            &["jdbc:mysql://h/db?useSSL=false&sslMode=DISABLED".into()],
            "u",
            "pw"
        )
        .is_ok());
        let c = conn(
            &["jdbc:mysql://h/db?zeroDateTimeBehavior=convertToNull&connectTimeout=500".into()],
            "u",
            "pw",
        )
        .unwrap();
        assert_eq!(c.zero_date_to_null(), Ok(true));
        assert_eq!(c.s.timeout, Duration::from_millis(500));
        assert!(!format!("{c:?}").contains("pw"));
    }
}
