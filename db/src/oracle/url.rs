//! Oracle connect strings from the JDBC URLs DataX users write: `jdbc:oracle:thin:@host:port:SID`,
//! `@//host:port/service`, `@host:port/service`, `@(DESCRIPTION=...)` TNS descriptors, and a
//! tnsnames alias; credentials in the URL (`thin:user/password@...`) are taken and never shown.

use std::fmt;

/// One Oracle URL, turned into what the client library connects to.
#[derive(Clone, PartialEq, Eq)]
pub struct OracleUrl {
    /// The connect string handed to the client (easy connect, descriptor or alias).
    pub connect: String,
    /// A user named in the URL (`thin:user/password@`).
    pub user: Option<String>,
    /// A password named in the URL.
    pub password: Option<String>,
    /// For messages: `oracle://host:port/service`, `oracle://host:port:SID` or the descriptor.
    shown: String,
}

impl fmt::Display for OracleUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for OracleUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OracleUrl({})", self.shown)
    }
}

/// The prefixes an Oracle JDBC URL starts with (the driver type is irrelevant here).
const PREFIXES: &[&str] = &["jdbc:oracle:thin:", "jdbc:oracle:oci:", "jdbc:oracle:oci8:"];

/// What an Oracle URL looks like, for error messages.
pub const ORACLE_URL_FORMS: &str = "jdbc:oracle:thin:@host:port:SID, \
    jdbc:oracle:thin:@//host:port/service, jdbc:oracle:thin:@host:port/service or \
    jdbc:oracle:thin:@(DESCRIPTION=...)";

/// Parses an Oracle URL. Pure.
pub fn parse_oracle_url(url: &str) -> Result<OracleUrl, String> {
    let raw = url.trim();
    let lower = raw.to_ascii_lowercase();
    let body = match PREFIXES.iter().find(|p| lower.starts_with(*p)) {
        Some(p) => &raw[p.len()..],
        None if lower.starts_with("jdbc:") => {
            return Err(format!(
                "unsupported URL scheme in \"{}\": expected {ORACLE_URL_FORMS}",
                crate::sql::mask(raw)
            ))
        }
        // Without the JDBC prefix: an easy-connect string or a descriptor as the client takes it.
        None => raw,
    };
    // `user/password@target` (the JDBC driver's inline credentials) or `@target`.
    let (creds, target) = match body.find('@') {
        Some(at) if !body[..at].contains('(') => (&body[..at], &body[at + 1..]),
        _ => ("", body),
    };
    let (user, password) = match creds.split_once('/') {
        _ if creds.is_empty() => (None, None),
        Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
        None => (Some(creds.to_string()), None),
    };
    let target = target.trim();
    if target.is_empty() {
        return Err(format!(
            "no database after '@': expected {ORACLE_URL_FORMS}"
        ));
    }
    let (connect, shown) = if target.starts_with('(') {
        descriptor(target)?
    } else {
        host_form(target)?
    };
    Ok(OracleUrl {
        connect,
        user,
        password,
        shown,
    })
}

/// A TNS descriptor: parentheses must balance and it must be a DESCRIPTION (or a list of them).
fn descriptor(d: &str) -> Result<(String, String), String> {
    let mut depth = 0i32;
    for (i, c) in d.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && !d[i + 1..].trim().is_empty() {
                    return Err(format!(
                        "TNS descriptor: text after the closing ')' at character {i}"
                    ));
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("TNS descriptor: a '(' is never closed".into());
    }
    let head: String = d[1..]
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
        .collect::<String>()
        .to_ascii_uppercase();
    if head != "DESCRIPTION" && head != "DESCRIPTION_LIST" {
        return Err(format!(
            "TNS descriptor starts with ({head}=...): expected (DESCRIPTION=...) or \
             (DESCRIPTION_LIST=...)"
        ));
    }
    let compact: String = d.split_whitespace().collect::<Vec<_>>().join(" ");
    let host = tns_value(&compact, "HOST");
    let port = tns_value(&compact, "PORT");
    let db = tns_value(&compact, "SERVICE_NAME").or_else(|| tns_value(&compact, "SID"));
    let shown = match (host, db) {
        (Some(h), Some(db)) => format!(
            "oracle://{h}{}/{db} (TNS descriptor)",
            port.map(|p| format!(":{p}")).unwrap_or_default()
        ),
        _ => "oracle (TNS descriptor)".to_string(),
    };
    Ok((compact, shown))
}

/// The first `(KEY = value)` of a descriptor, case-insensitive.
fn tns_value(d: &str, key: &str) -> Option<String> {
    let upper = d.to_ascii_uppercase();
    let mut from = 0;
    while let Some(i) = upper[from..].find(key) {
        let at = from + i;
        from = at + key.len();
        if !upper[..at].trim_end().ends_with('(') {
            continue;
        }
        let rest = d[at + key.len()..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let v: String = rest
            .trim_start()
            .chars()
            .take_while(|c| *c != ')')
            .collect();
        return Some(v.trim().to_string());
    }
    None
}

/// `//host:port/service`, `host:port/service`, `host:port:SID`, `host/service`, or a bare
/// tnsnames alias; IPv6 hosts in brackets.
fn host_form(t: &str) -> Result<(String, String), String> {
    let t = t.strip_prefix("//").unwrap_or(t);
    let bad = |why: &str| format!("\"{t}\": {why}; expected {ORACLE_URL_FORMS}");
    let (host, rest) = if let Some(r) = t.strip_prefix('[') {
        let end = r.find(']').ok_or_else(|| bad("'[' without ']'"))?;
        (&r[..end], &r[end + 1..])
    } else {
        let end = t.find([':', '/', '?']).unwrap_or(t.len());
        (&t[..end], &t[end..])
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    if rest.is_empty() {
        // A tnsnames.ora alias (resolved by the client through TNS_ADMIN).
        if host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-$#".contains(c))
        {
            return Ok((host.to_string(), format!("oracle alias {host}")));
        }
        return Err(bad("not a host:port/service nor a tnsnames alias"));
    }
    let (port, rest) = match rest.strip_prefix(':') {
        Some(r) => {
            let end = r.find([':', '/', '?']).unwrap_or(r.len());
            let p: u16 =
                r[..end].parse().ok().filter(|p| *p > 0).ok_or_else(|| {
                    bad(&format!("port \"{}\" is not a number 1..65535", &r[..end]))
                })?;
            (Some(p), &r[end..])
        }
        None => (None, rest),
    };
    let host_text = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
    if let Some(sid) = rest.strip_prefix(':') {
        // host:port:SID, which easy connect cannot name: a descriptor.
        if sid.is_empty()
            || !sid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_$#".contains(c))
        {
            return Err(bad(&format!("SID \"{sid}\" is not a name")));
        }
        let d = format!(
            "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST={host})(PORT={}))(CONNECT_DATA=(SID={sid})))",
            port.unwrap_or(1521)
        );
        return Ok((d, format!("oracle://{host_text}{port_text}:{sid}")));
    }
    let (service, query) = match rest.strip_prefix('/') {
        Some(r) => match r.split_once('?') {
            Some((s, q)) => (s, Some(q)),
            None => (r, None),
        },
        None if rest.starts_with('?') => ("", Some(&rest[1..])),
        None => return Err(bad("expected '/service' or ':SID' after the port")),
    };
    if service.is_empty() {
        return Err(bad("no service name after '/'"));
    }
    let mut connect = format!("//{host_text}{port_text}/{service}");
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        connect.push('?');
        connect.push_str(q);
    }
    Ok((
        connect,
        format!("oracle://{host_text}{port_text}/{service}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(u: &str) -> (String, String) {
        let p = parse_oracle_url(u).unwrap_or_else(|e| panic!("{u}: {e}"));
        (p.connect.clone(), p.to_string())
    }

    #[test]
    fn every_form_datax_users_write() {
        assert_eq!(
            c("jdbc:oracle:thin:@db1:1521:ORCL"),
            (
                "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=db1)(PORT=1521))(CONNECT_DATA=(SID=ORCL)))".into(),
                "oracle://db1:1521:ORCL".into()
            )
        );
        assert_eq!(
            c("jdbc:oracle:thin:@//db1.example:1522/pay.svc"),
            (
                "//db1.example:1522/pay.svc".into(),
                "oracle://db1.example:1522/pay.svc".into()
            )
        );
        assert_eq!(
            c("jdbc:oracle:thin:@db1:1521/FREEPDB1").0,
            "//db1:1521/FREEPDB1"
        );
        assert_eq!(c("JDBC:ORACLE:THIN:@db1/svc").0, "//db1/svc");
        assert_eq!(c("jdbc:oracle:thin:@[::1]:1521/svc").0, "//[::1]:1521/svc");
        assert_eq!(
            c("jdbc:oracle:thin:@//h:1521/svc?connect_timeout=5").0,
            "//h:1521/svc?connect_timeout=5"
        );
        assert_eq!(c("jdbc:oracle:thin:@PAYDB").0, "PAYDB");
        assert_eq!(c("//h:1521/svc").0, "//h:1521/svc");
        let d = "jdbc:oracle:thin:@(DESCRIPTION =\n (ADDRESS_LIST=(ADDRESS=(PROTOCOL=TCP)(HOST=a)(PORT=1521))\n(ADDRESS=(PROTOCOL=TCP)(HOST=b)(PORT=1521)))(CONNECT_DATA=(SERVICE_NAME=pay)))";
        let (connect, shown) = c(d);
        assert!(
            connect.starts_with("(DESCRIPTION = (ADDRESS_LIST"),
            "{connect}"
        );
        assert_eq!(shown, "oracle://a:1521/pay (TNS descriptor)");
    }

    #[test]
    fn inline_credentials_are_taken_and_never_shown() {
        let u = parse_oracle_url("jdbc:oracle:thin:scott/t1ger@//h:1521/svc").unwrap();
        assert_eq!(
            (u.user.as_deref(), u.password.as_deref()),
            (Some("scott"), Some("t1ger"))
        );
        assert!(!u.to_string().contains("t1ger") && !format!("{u:?}").contains("t1ger"));
        assert_eq!(u.connect, "//h:1521/svc");
    }

    #[test]
    fn bad_forms_say_what_was_expected() {
        for (u, want) in [
            ("jdbc:mysql://h/db", "unsupported URL scheme"),
            ("jdbc:oracle:thin:@", "no database"),
            ("jdbc:oracle:thin:@h:15x21:ORCL", "port \"15x21\""),
            ("jdbc:oracle:thin:@h:0/svc", "port \"0\""),
            ("jdbc:oracle:thin:@h:1521", "expected '/service' or ':SID'"),
            ("jdbc:oracle:thin:@h:1521/", "no service name"),
            ("jdbc:oracle:thin:@h:1521:", "SID \"\""),
            (
                "jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS=(HOST=a)",
                "never closed",
            ),
            (
                "jdbc:oracle:thin:@(DESCRIPTION=(HOST=a)))",
                "text after the closing",
            ),
            (
                "jdbc:oracle:thin:@(ADDRESS=(HOST=a))",
                "expected (DESCRIPTION=...)",
            ),
            ("jdbc:oracle:thin:@[::1:1521/s", "'[' without ']'"),
            ("jdbc:oracle:thin:@bad host", "nor a tnsnames alias"),
        ] {
            let e = parse_oracle_url(u).unwrap_err();
            assert!(e.contains(want), "{u}: {e}");
        }
    }
}
