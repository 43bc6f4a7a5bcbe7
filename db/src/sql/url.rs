//! JDBC-style URLs: parsing (with the password kept apart), masking, and shortening SQL for
//! messages.

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
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    // JDBC drivers read `user=` / `password=` from the query string too: honour them (the
    // password never shows in messages) unless the authority already names them.
    let mut take = |name: &str| {
        let i = params
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(name))?;
        Some(params.remove(i).1)
    };
    let query_user = take("user");
    let query_password = take("password");
    let user = user.or(query_user);
    let password = password.or(query_password);
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

/// A URL with any `user:password@` password and any `password=` query value replaced by
/// `***`; also in malformed URLs (a missing `:` before `//`, `;`-separated parameters), as
/// those are echoed back in errors and warnings.
pub fn mask(url: &str) -> String {
    let url = &mask_query_password(url);
    let start = url.find("//").map_or(0, |s| s + 2);
    match url[start..].rfind('@').map(|at| start + at) {
        Some(at) => {
            let ui = &url[start..at];
            match ui.split_once(':') {
                Some((u, _)) => format!("{}{u}:***{}", &url[..start], &url[at..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

fn mask_query_password(url: &str) -> String {
    let Some(q) = url.find(['?', ';']) else {
        return url.to_string();
    };
    let mut out = url[..=q].to_string();
    let mut rest = &url[q + 1..];
    loop {
        let end = rest.find(['&', ';']).unwrap_or(rest.len());
        let kv = &rest[..end];
        match kv.split_once('=') {
            Some((k, _)) if k.trim().eq_ignore_ascii_case("password") => {
                out.push_str(k);
                out.push_str("=***");
            }
            _ => out.push_str(kv),
        }
        if end == rest.len() {
            return out;
        }
        out.push_str(&rest[end..=end]);
        rest = &rest[end + 1..];
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

#[cfg(test)]
mod mask_tests {
    use super::*;

    #[test]
    fn mask_hides_passwords_in_malformed_urls_too() {
        assert_eq!(
            mask("jdbc:mysql//u:Pw_1@h:3306/d"),
            "jdbc:mysql//u:***@h:3306/d"
        );
        assert_eq!(
            mask("jdbc:mysql//h:3306/d?user=u;password=Pw_1"),
            "jdbc:mysql//h:3306/d?user=u;password=***"
        );
        assert_eq!(
            mask("jdbc:mysql://u:Pw_1@h/d?a=1&password=Pw_1&b=2"),
            "jdbc:mysql://u:***@h/d?a=1&password=***&b=2"
        );
        assert_eq!(mask("jdbc:mysql://h/d"), "jdbc:mysql://h/d");
    }
}
