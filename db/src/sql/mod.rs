//! The SQL layer every SQL plugin shares: JDBC/URL parsing, identifier quoting per dialect,
//! splitPk planning, one error type over the driver's, and connection settings. Pure, no
//! driver.

mod error;
mod ident;
mod reconnect;
pub mod source_type;
mod split;
mod tables;
mod url;

pub use error::{ConnSettings, DriverError, SqlError};
pub use ident::{fold_unquoted, quote_ident, schema_and_name, split_ident, unquote_ident, Dialect};
pub use reconnect::reconnect;
pub use split::{literal, split_ranges, SqlSplit, TextRange};
pub use tables::expand_tables;

/// Checks that a job's SQL fragment (a `where`) closes every parenthesis and quote it opens:
/// it is put inside `(...)` beside the split ranges, and one that closes a parenthesis of its
/// own (`a < 10) OR (b > 5`) would escape them, reading rows in every split.
pub fn balanced_fragment(sql: &str) -> Result<(), String> {
    let mut depth = 0i64;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => loop {
                match chars.next() {
                    None => return Err(format!("{c} opens a quoted part it does not close")),
                    Some('\\') if c == '\'' => {
                        chars.next();
                    }
                    Some(q) if q == c => {
                        if chars.peek() == Some(&c) {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    Some(_) => {}
                }
            },
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("a ) closes more than the fragment opened".into());
                }
            }
            _ => {}
        }
    }
    match depth {
        0 => Ok(()),
        _ => Err(format!("{depth} ( left open")),
    }
}

/// What a SQL system makes its connection settings from: a `connection[]` entry's URLs (tried
/// in order), the job's login and session statements, and the URLs' JSON path (for errors).
#[derive(Debug, Clone, Copy)]
pub struct ConnKeys<'a> {
    /// The URLs as written.
    pub urls: &'a [String],
    /// `username`.
    pub username: &'a str,
    /// `password`.
    pub password: &'a datasync_engine::Secret,
    /// Statements run on every new connection.
    pub session: &'a [String],
    /// The JSON path of the URLs.
    pub at: &'a str,
}

impl ConnKeys<'_> {
    /// The URLs, each made by `parse`. Of several candidates (tried in order until one
    /// connects, as DataX does), one that cannot be used is passed over with a warning; the
    /// first one's error is the answer when none can.
    pub fn candidates<U>(
        &self,
        parse: impl Fn(&str) -> Result<U, String>,
    ) -> Result<Vec<U>, datasync_engine::ConfigError> {
        use datasync_engine::ConfigError;
        if self.urls.is_empty() {
            return Err(ConfigError::new(self.at, "needs at least one jdbcUrl"));
        }
        let mut parsed = Vec::new();
        let mut first_error = None;
        for (i, u) in self.urls.iter().enumerate() {
            let at = format!("{}[{i}]", self.at);
            match parse(u) {
                Ok(url) => parsed.push(url),
                Err(e) if self.urls.len() > 1 => {
                    tracing::warn!("{at}: skipped, this candidate URL cannot be used: {e}");
                    first_error.get_or_insert(ConfigError::new(&at, e));
                }
                Err(e) => return Err(ConfigError::new(&at, e)),
            }
        }
        match first_error {
            Some(e) if parsed.is_empty() => Err(e),
            _ => Ok(parsed),
        }
    }
}

/// How a SQL system makes its connection settings (the same for every system, so the shared
/// reader and writer parts take it as a value).
pub type ConnFromParams<C> = fn(ConnKeys<'_>) -> Result<C, datasync_engine::ConfigError>;
pub use url::{mask, parse_jdbc_url, shorten_sql, JdbcUrl};

/// The lineage dataset of `table` (as the job wrote it) on the server of `url`:
/// `scheme://host:port` and `database[.schema].table` (`default_schema` where the system has
/// schemas and the table names none).
pub fn dataset(
    scheme: &str,
    url: &JdbcUrl,
    default_port: u16,
    default_schema: Option<&str>,
    table: &str,
) -> datasync_engine::lineage::Dataset {
    let parts: Vec<String> = split_ident(table)
        .iter()
        .map(|p| unquote_ident(p))
        .collect();
    // Systems without schemas (MySQL): `db.table` names its own database. With schemas
    // (PostgreSQL): `schema.table` is in the URL's database, a lone table in `default_schema`.
    let mut name: Vec<String> = match (default_schema, parts.len()) {
        (None, 1) | (Some(_), 1 | 2) => url.database.iter().cloned().collect(),
        _ => Vec::new(),
    };
    if parts.len() == 1 {
        name.extend(default_schema.map(str::to_string));
    }
    name.extend(parts);
    datasync_engine::lineage::Dataset::new(
        format!(
            "{scheme}://{}:{}",
            url.host,
            url.port.unwrap_or(default_port)
        ),
        name.join("."),
    )
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
        // JDBC's query-string credentials are honoured and never shown.
        let raw = "jdbc:mysql://h:3306/db?user=app&password=s3cret&useSSL=false";
        let u = parse_jdbc_url(raw, MY).unwrap();
        assert_eq!(
            (u.user.as_deref(), u.password.as_deref()),
            (Some("app"), Some("s3cret"))
        );
        assert_eq!(u.param("password"), None);
        assert_eq!(u.param("usessl"), Some("false"));
        assert!(!u.to_string().contains("s3cret") && !format!("{u:?}").contains("s3cret"));
        assert_eq!(
            mask(raw),
            "jdbc:mysql://h:3306/db?user=app&password=***&useSSL=false"
        );
    }

    #[test]
    fn lineage_names() {
        let u = parse_jdbc_url("jdbc:mysql://h:3307/shop", MY).unwrap();
        let d = |default_schema, t| {
            let d = dataset("x", &u, 1, default_schema, t);
            format!("{} {}", d.namespace, d.name)
        };
        assert_eq!(d(None, "orders"), "x://h:3307 shop.orders");
        assert_eq!(d(None, "other.orders"), "x://h:3307 other.orders");
        assert_eq!(d(Some("public"), "orders"), "x://h:3307 shop.public.orders");
        assert_eq!(d(Some("public"), "s.orders"), "x://h:3307 shop.s.orders");
        assert_eq!(d(Some("public"), "db2.s.orders"), "x://h:3307 db2.s.orders");
    }

    #[test]
    fn fragments_must_balance() {
        for ok in [
            "id < 10",
            "(a OR b) AND c",
            "name = 'a)b'",
            "x = 'it''s'",
            "`c)` = 1",
            "f(g(1))",
        ] {
            assert_eq!(balanced_fragment(ok), Ok(()), "{ok}");
        }
        for bad in ["id < 10) OR (id > 5", "(a", "name = 'x", "a)"] {
            assert!(balanced_fragment(bad).is_err(), "{bad}");
        }
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
        assert_eq!(
            fold_unquoted(Dialect::Postgres, r#"Sch."MyTable""#),
            r#"sch."MyTable""#
        );
        assert_eq!(fold_unquoted(Dialect::Postgres, "ÉTÉ.ID"), "ÉtÉ.id");
        assert_eq!(fold_unquoted(Dialect::Oracle, r#"s."t".u"#), r#"S."t".U"#);
        assert_eq!(fold_unquoted(Dialect::MySql, "Db.T"), "Db.T");
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
