//! Helpers every SQL plugin shares: JDBC/URL parsing, identifier quoting per dialect, and
//! splitPk range planning. Pure functions, no driver.

use std::fmt;

/// A parsed `jdbc:mysql://host:port/db?k=v` (or `mysql://user:pw@host/db`) URL.
#[derive(Clone, PartialEq, Eq)]
pub struct JdbcUrl {
    /// `mysql`, `oceanbase`, `mariadb`, `postgresql`...
    pub scheme: String,
    /// Host name or address (brackets of IPv6 removed).
    pub host: String,
    /// Port, when given.
    pub port: Option<u16>,
    /// Database, when given.
    pub database: Option<String>,
    /// Query parameters in order.
    pub params: Vec<(String, String)>,
    /// User from `user:pw@` userinfo, when given.
    pub user: Option<String>,
    /// Password from userinfo, when given. Never printed.
    pub password: Option<String>,
}

impl JdbcUrl {
    /// The value of a query parameter (case-insensitive name).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Shows the URL without credentials, for logs and errors.
impl fmt::Display for JdbcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if let Some(u) = &self.user {
            write!(f, "{u}:***@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        if let Some(d) = &self.database {
            write!(f, "/{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for JdbcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `jdbc:<scheme>://[user[:pw]@]host[:port][/db][?k=v&...]` or the same without `jdbc:`.
/// `schemes` lists the accepted schemes (e.g. `["mysql", "oceanbase", "mariadb"]`).
pub fn parse_jdbc_url(url: &str, schemes: &[&str]) -> Result<JdbcUrl, String> {
    let u = url.trim();
    let rest = u.strip_prefix("jdbc:").unwrap_or(u);
    let (scheme, rest) = rest.split_once("://").ok_or_else(|| {
        format!(
            "\"{}\" is not a URL like jdbc:{}://host:port/db",
            mask(u),
            schemes[0]
        )
    })?;
    let scheme = scheme.to_ascii_lowercase();
    if !schemes.contains(&scheme.as_str()) {
        return Err(format!(
            "unsupported URL scheme \"{scheme}\"; expected one of: {}",
            schemes.join(", ")
        ));
    }
    let (before_q, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = before_q.split_once('/').unwrap_or((before_q, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((ui, hp)) => (Some(ui), hp),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        Some(ui) => match ui.split_once(':') {
            Some((u, p)) => (Some(percent_decode(u)), Some(percent_decode(p))),
            None => (Some(percent_decode(ui)), None),
        },
        None => (None, None),
    };
    // Several hosts (failover lists) are not supported: the connection list serves that.
    if hostport.contains(',') {
        return Err(format!(
            "\"{}\": one host per URL; list several URLs in jdbcUrl instead",
            mask(u)
        ));
    }
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, after) = h.split_once(']').ok_or("unclosed [ in IPv6 host")?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("\"{}\" has no host", mask(u)));
    }
    let port = port
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<u16>()
                .map_err(|_| format!("\"{p}\" is not a port number"))
        })
        .transpose()?;
    let database = Some(percent_decode(path.trim_end_matches('/'))).filter(|d| !d.is_empty());
    let params = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Ok(JdbcUrl {
        scheme,
        host,
        port,
        database,
        params,
        user,
        password,
    })
}

/// A URL with any `user:password@` password replaced by `***`.
pub fn mask(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let ui = &url[s + 3..at];
            match ui.split_once(':') {
                Some((u, _)) => format!("{}{u}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A statement on one line, cut at 120 characters, for error messages.
pub fn shorten_sql(sql: &str) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 120 {
        format!("{}...", one.chars().take(120).collect::<String>())
    } else {
        one
    }
}

/// SQL dialects, for quoting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// MySQL / MariaDB / OceanBase MySQL mode: backticks.
    MySql,
    /// PostgreSQL / Oracle: double quotes.
    Postgres,
}

/// Quotes an identifier; a dotted name (`db.table`) is quoted part by part. A part the user
/// quoted already (`"Odd Sch"`, `` `t` ``, either quote character) is kept as written, and dots
/// inside quotes do not split.
pub fn quote_ident(d: Dialect, name: &str) -> String {
    let q = match d {
        Dialect::MySql => '`',
        Dialect::Postgres => '"',
    };
    split_ident(name)
        .into_iter()
        .map(|part| {
            if is_quoted(&part) {
                part
            } else {
                let doubled = part.replace(q, &format!("{q}{q}"));
                format!("{q}{doubled}{q}")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The parts of a dotted name, as written (quoted parts keep their quotes; a dot inside
/// quotes does not split).
pub fn split_ident(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut open: Option<char> = None;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match open {
            Some(q) if c == q => {
                cur.push(c);
                if chars.peek() == Some(&q) {
                    cur.push(q);
                    chars.next();
                } else {
                    open = None;
                }
            }
            Some(_) => cur.push(c),
            None if c == '"' || c == '`' => {
                open = Some(c);
                cur.push(c);
            }
            None if c == '.' => parts.push(std::mem::take(&mut cur)),
            None => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn is_quoted(part: &str) -> bool {
    part.len() >= 2
        && ((part.starts_with('"') && part.ends_with('"'))
            || (part.starts_with('`') && part.ends_with('`')))
}

/// One identifier as the server stores it: surrounding quotes removed and doubled quotes
/// undone (`"Na""me"` -> `Na"me`); an unquoted name as written.
pub fn unquote_ident(part: &str) -> String {
    if !is_quoted(part) {
        return part.to_string();
    }
    let q = &part[..1];
    part[1..part.len() - 1].replace(&format!("{q}{q}"), q)
}

/// Splits the inclusive integer range `[min, max]` into at most `n` contiguous, non-empty,
/// inclusive ranges that cover it exactly (no key read twice, none missed).
pub fn split_ranges(min: i128, max: i128, n: usize) -> Vec<(i128, i128)> {
    if min > max {
        return Vec::new();
    }
    let span = (max - min) as u128 + 1;
    let n = (n.max(1) as u128).min(span);
    let mut out = Vec::with_capacity(n as usize);
    let mut lo = min;
    for i in 0..n {
        let size = span / n + u128::from(i < span % n);
        let hi = lo + size as i128 - 1;
        out.push((lo, hi));
        lo = hi + 1;
    }
    out
}

/// One unit of reading for a SQL reader: a whole table, a key range of it, its NULL keys, or a
/// query. Plain data, so a task can be retried and a shard planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlSplit {
    /// `SELECT cols FROM table [WHERE where] [AND pk range | pk IS NULL]`.
    Table {
        /// Index into the reader's `connection[]`.
        conn: usize,
        /// Table as written.
        table: String,
        /// Inclusive key range on splitPk.
        range: Option<(i128, i128)>,
        /// Only rows whose splitPk IS NULL.
        null_keys: bool,
    },
    /// A `querySql` as written.
    Query {
        /// Index into the reader's `connection[]`.
        conn: usize,
        /// The query.
        sql: String,
    },
}

impl SqlSplit {
    /// Index into the reader's `connection[]`.
    pub fn conn(&self) -> usize {
        match self {
            SqlSplit::Table { conn, .. } | SqlSplit::Query { conn, .. } => *conn,
        }
    }

    /// The SELECT for this split. `columns` and `where_clause` are raw SQL, as DataX passes them.
    pub fn sql(
        &self,
        d: Dialect,
        columns: &[String],
        where_clause: Option<&str>,
        split_pk: Option<&str>,
    ) -> String {
        self.build_sql(d, columns, where_clause, split_pk, None)
    }

    /// For a key-range split: the SELECT that reads the split in key order, starting after key
    /// `after` (or at the range's start), so a read cut off by a lost connection can go on
    /// where it stopped; and where the key is in its result: `Some(i)` when `columns[i]` is the
    /// key already, `None` when it was added as an extra last column. `None` for other splits.
    pub fn keyed_sql(
        &self,
        d: Dialect,
        columns: &[String],
        where_clause: Option<&str>,
        split_pk: &str,
        after: Option<i128>,
    ) -> Option<(String, Option<usize>)> {
        match self {
            SqlSplit::Table {
                range: Some(_),
                null_keys: false,
                ..
            } => {
                let key = unquote_ident(split_pk);
                let at = columns
                    .iter()
                    .position(|c| unquote_ident(c.trim()).eq_ignore_ascii_case(&key));
                let sql = self.build_sql(
                    d,
                    columns,
                    where_clause,
                    Some(split_pk),
                    Some((after, at.is_none())),
                );
                Some((sql, at))
            }
            _ => None,
        }
    }

    fn build_sql(
        &self,
        d: Dialect,
        columns: &[String],
        where_clause: Option<&str>,
        split_pk: Option<&str>,
        keyed: Option<(Option<i128>, bool)>,
    ) -> String {
        match self {
            SqlSplit::Query { sql, .. } => sql.clone(),
            SqlSplit::Table {
                table,
                range,
                null_keys,
                ..
            } => {
                let mut cols = if columns.is_empty() {
                    "*".to_string()
                } else {
                    columns.join(", ")
                };
                let mut conds = Vec::new();
                if let Some(w) = where_clause.filter(|w| !w.trim().is_empty()) {
                    conds.push(format!("({w})"));
                }
                let mut order = String::new();
                if let Some(pk) = split_pk {
                    let pk = quote_ident(d, pk);
                    if let Some((lo, hi)) = range {
                        match keyed {
                            Some((Some(after), _)) => {
                                conds.push(format!("({pk} > {after} AND {pk} <= {hi})"))
                            }
                            _ => conds.push(format!("({pk} >= {lo} AND {pk} <= {hi})")),
                        }
                    }
                    if *null_keys {
                        conds.push(format!("{pk} IS NULL"));
                    }
                    if let Some((_, append)) = keyed {
                        if append {
                            cols.push_str(&format!(", {pk}"));
                        }
                        order = format!(" ORDER BY {pk}");
                    }
                }
                let mut sql = format!("SELECT {cols} FROM {}", quote_ident(d, table));
                if !conds.is_empty() {
                    sql.push_str(" WHERE ");
                    sql.push_str(&conds.join(" AND "));
                }
                sql.push_str(&order);
                sql
            }
        }
    }

    /// For logs and the report.
    pub fn describe(&self) -> String {
        match self {
            SqlSplit::Query { sql, .. } => format!(
                "query {}",
                sql.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
            SqlSplit::Table {
                table,
                range: Some((lo, hi)),
                ..
            } => format!("table {table} keys {lo}..={hi}"),
            SqlSplit::Table {
                table,
                null_keys: true,
                ..
            } => format!("table {table} NULL keys"),
            SqlSplit::Table { table, .. } => format!("table {table}"),
        }
    }

    /// Key-range splits of `table` over `[lo, hi]` in at most `n` ranges, plus the NULL keys.
    pub fn key_ranges(
        conn: usize,
        table: &str,
        bounds: Option<(i128, i128)>,
        n: usize,
    ) -> Vec<SqlSplit> {
        let mut out: Vec<SqlSplit> = bounds
            .map(|(lo, hi)| split_ranges(lo, hi, n))
            .unwrap_or_default()
            .into_iter()
            .map(|r| SqlSplit::Table {
                conn,
                table: table.to_string(),
                range: Some(r),
                null_keys: false,
            })
            .collect();
        out.push(SqlSplit::Table {
            conn,
            table: table.to_string(),
            range: None,
            null_keys: true,
        });
        out
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;

    #[test]
    fn selects() {
        let s = SqlSplit::Table {
            conn: 0,
            table: "shop.orders".into(),
            range: Some((1, 50)),
            null_keys: false,
        };
        assert_eq!(
            s.sql(Dialect::MySql, &["id".into(), "amount*2".into()], Some("status = 'paid'"), Some("id")),
            "SELECT id, amount*2 FROM `shop`.`orders` WHERE (status = 'paid') AND (`id` >= 1 AND `id` <= 50)"
        );
        let cols = ["id".to_string(), "name".to_string()];
        assert_eq!(
            s.keyed_sql(Dialect::MySql, &cols, None, "id", None).unwrap(),
            (
                "SELECT id, name FROM `shop`.`orders` WHERE (`id` >= 1 AND `id` <= 50) ORDER BY `id`".to_string(),
                Some(0)
            )
        );
        assert_eq!(
            s.keyed_sql(Dialect::MySql, &cols[1..], Some("x > 0"), "id", Some(17)).unwrap(),
            (
                "SELECT name, `id` FROM `shop`.`orders` WHERE (x > 0) AND (`id` > 17 AND `id` <= 50) ORDER BY `id`".to_string(),
                None
            )
        );
        let n = SqlSplit::Table {
            conn: 0,
            table: "t".into(),
            range: None,
            null_keys: true,
        };
        assert_eq!(n.keyed_sql(Dialect::MySql, &cols, None, "id", None), None);
        assert_eq!(
            n.sql(Dialect::Postgres, &[], None, Some("id")),
            "SELECT * FROM \"t\" WHERE \"id\" IS NULL"
        );
        let k = SqlSplit::key_ranges(0, "t", Some((1, 10)), 3);
        assert_eq!(k.len(), 4);
        assert_eq!(
            SqlSplit::key_ranges(0, "t", None, 3).len(),
            1,
            "empty table: only the NULL task"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MY: &[&str] = &["mysql", "oceanbase", "mariadb"];

    #[test]
    fn jdbc_urls() {
        let u = parse_jdbc_url(
            "jdbc:mysql://db1.example:3307/shop?useSSL=false&characterEncoding=utf8",
            MY,
        )
        .unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.database.as_deref()),
            ("db1.example", Some(3307), Some("shop"))
        );
        assert_eq!(u.param("usessl"), Some("false"));
        assert_eq!(u.to_string(), "mysql://db1.example:3307/shop");
        let u = parse_jdbc_url("mysql://root:s%40cret@[::1]:3306/x", MY).unwrap();
        assert_eq!(
            (u.host.as_str(), u.password.as_deref()),
            ("::1", Some("s@cret"))
        );
        assert_eq!(u.to_string(), "mysql://root:***@[::1]:3306/x");
        assert!(!format!("{u:?}").contains("cret"));
        let u = parse_jdbc_url("jdbc:mysql://h", MY).unwrap();
        assert_eq!((u.port, u.database), (None, None));
        assert!(parse_jdbc_url("jdbc:postgresql://h/db", MY)
            .unwrap_err()
            .contains("unsupported URL scheme"));
        assert!(parse_jdbc_url("jdbc:mysql://a:1,b:2/db", MY).is_err());
        assert!(parse_jdbc_url("h:3306", MY).is_err());
        assert_eq!(mask("mysql://u:pw@h/db"), "mysql://u:***@h/db");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident(Dialect::MySql, "order"), "`order`");
        assert_eq!(quote_ident(Dialect::MySql, "db.t`x"), "`db`.`t``x`");
        assert_eq!(
            quote_ident(Dialect::Postgres, "public.T"),
            "\"public\".\"T\""
        );
        assert_eq!(quote_ident(Dialect::MySql, "`already`"), "`already`");
        assert_eq!(
            quote_ident(Dialect::Postgres, r#"public."Q""t""#),
            r#""public"."Q""t""#
        );
        assert_eq!(
            quote_ident(Dialect::Postgres, r#""Odd Sch"."a.b""#),
            r#""Odd Sch"."a.b""#
        );
        assert_eq!(unquote_ident(r#""Na""me""#), r#"Na"me"#);
        assert_eq!(unquote_ident("`x`"), "x");
        assert_eq!(unquote_ident("plain"), "plain");
    }

    #[test]
    fn ranges_cover_exactly() {
        for (min, max, n) in [
            (1i128, 100i128, 4usize),
            (-5, 5, 3),
            (0, 2, 8),
            (7, 7, 4),
            (i64::MIN as i128, i64::MAX as i128, 5),
        ] {
            let r = split_ranges(min, max, n);
            assert!(r.len() <= n && !r.is_empty());
            assert_eq!(r[0].0, min);
            assert_eq!(r.last().unwrap().1, max);
            for w in r.windows(2) {
                assert_eq!(w[0].1 + 1, w[1].0, "contiguous");
            }
            assert!(r.iter().all(|(a, b)| a <= b));
        }
        assert!(split_ranges(5, 4, 3).is_empty());
    }
}

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
        if e.is_retriable() {
            datasync_engine::PluginError::retriable(e)
        } else {
            datasync_engine::PluginError::new(e)
        }
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
        urls: &[String],
        schemes: &[&str],
        username: &str,
        password: &datasync_engine::Secret,
        session: &[String],
        at: &str,
        check: impl Fn(&JdbcUrl) -> Result<Option<std::time::Duration>, String>,
    ) -> Result<Self, datasync_engine::config::ConfigError> {
        use datasync_engine::config::ConfigError;
        if urls.is_empty() {
            return Err(ConfigError::new(at, "needs at least one jdbcUrl"));
        }
        let mut parsed = Vec::new();
        let mut timeout = std::time::Duration::from_secs(10);
        for (i, u) in urls.iter().enumerate() {
            let at = format!("{at}[{i}]");
            let url = parse_jdbc_url(u, schemes).map_err(|e| ConfigError::new(&at, e))?;
            if let Some(t) = check(&url).map_err(|e| ConfigError::new(&at, e))? {
                timeout = t;
            }
            parsed.push(url);
        }
        Ok(ConnSettings {
            urls: parsed,
            user: username.to_string(),
            password: password.clone(),
            session: session.to_vec(),
            timeout,
        })
    }
}
