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

impl OracleUrl {
    /// The lineage namespace: `oracle://host:port/service` (or `oracle` for an alias).
    pub fn namespace(&self) -> String {
        self.shown
            .trim_end_matches(" (TNS descriptor)")
            .replace("oracle alias ", "oracle://")
    }
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
    // `user/password@target` (the JDBC driver's inline credentials; a password with '@' or
    // '/' in double quotes) or `@target`.
    let (creds, target) = match credentials_end(body) {
        Some(at) => (&body[..at], &body[at + 1..]),
        None => ("", body),
    };
    let unquote = |x: &str| {
        x.strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .unwrap_or(x)
            .to_string()
    };
    let (user, password) = match split_credentials(creds) {
        _ if creds.is_empty() => (None, None),
        (u, Some(p)) => (Some(unquote(u)), Some(unquote(p))),
        (u, None) => (Some(unquote(u)), None),
    };
    if target.contains('@') && !target.starts_with('(') {
        return Err(format!(
            "more than one '@' outside double quotes; quote a password holding '@' \
             (user/\"pa@ss\"@host...): expected {ORACLE_URL_FORMS}"
        ));
    }
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

/// Where the inline credentials end: the first '@' outside double quotes and before any '('.
fn credentials_end(body: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in body.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => return None,
            '@' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// `user/password` split at the first '/' outside double quotes.
fn split_credentials(creds: &str) -> (&str, Option<&str>) {
    let mut quoted = false;
    for (i, c) in creds.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '/' if !quoted => return (&creds[..i], Some(&creds[i + 1..])),
            _ => {}
        }
    }
    (creds, None)
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
    // Every (KEY = value) a connect needs, checked so a typo fails here, not at 3 a.m.
    let all = |key: &str| tns_values(&compact, key);
    if all("ADDRESS").is_empty() {
        return Err("TNS descriptor: no (ADDRESS=(PROTOCOL=TCP)(HOST=...)(PORT=...))".into());
    }
    for h in all("HOST") {
        if h.is_empty() || h.len() > 253 || h.contains(['@', ' ', '\'', '"']) {
            return Err(format!("TNS descriptor: HOST \"{h}\" is not a host name"));
        }
    }
    for p in all("PORT") {
        if !p.bytes().all(|b| b.is_ascii_digit()) || !p.parse::<u16>().is_ok_and(|p| p > 0) {
            return Err(format!(
                "TNS descriptor: PORT \"{p}\" is not a number 1..65535"
            ));
        }
    }
    for p in all("PROTOCOL") {
        if !["TCP", "TCPS", "IPC", "BEQ"].contains(&p.to_ascii_uppercase().as_str()) {
            return Err(format!(
                "TNS descriptor: PROTOCOL \"{p}\" is not TCP, TCPS, IPC or BEQ"
            ));
        }
    }
    let names: Vec<String> = all("SERVICE_NAME").into_iter().chain(all("SID")).collect();
    if all("CONNECT_DATA").is_empty() || names.is_empty() {
        return Err(
            "TNS descriptor: no (CONNECT_DATA=(SERVICE_NAME=...)) or (CONNECT_DATA=(SID=...))"
                .into(),
        );
    }
    for n in &names {
        check_name("TNS descriptor: SERVICE_NAME/SID", n)?;
    }
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

/// A service name or SID: letters, digits and `_ . $ # -`.
fn check_name(what: &str, n: &str) -> Result<(), String> {
    if n.is_empty()
        || n.len() > 128
        || !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.$#-".contains(c))
    {
        return Err(format!(
            "{what} \"{n}\" is not a name (letters, digits, _ . $ # -)"
        ));
    }
    Ok(())
}

/// Every `(KEY = value)` of a descriptor (case-insensitive key), values trimmed; a nested
/// `(KEY = (...))` gives "(".
fn tns_values(d: &str, key: &str) -> Vec<String> {
    let upper = d.to_ascii_uppercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = upper[from..].find(key) {
        let at = from + i;
        from = at + key.len();
        if !upper[..at].trim_end().ends_with('(') {
            continue;
        }
        let Some(rest) = d[at + key.len()..].trim_start().strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with('(') {
            out.push("(".to_string());
        } else {
            out.push(
                rest.chars()
                    .take_while(|c| *c != ')')
                    .collect::<String>()
                    .trim()
                    .to_string(),
            );
        }
    }
    out
}

/// The first plain `(KEY = value)` of a descriptor, case-insensitive.
fn tns_value(d: &str, key: &str) -> Option<String> {
    tns_values(d, key).into_iter().find(|v| v != "(")
}

/// `//host:port/service`, `host:port/service`, `host:port:SID`, `host/service`, or a bare
/// tnsnames alias; IPv6 hosts in brackets.
fn host_form(t: &str) -> Result<(String, String), String> {
    // EZConnect Plus: tcp:// or tcps:// before the host.
    let lower = t.to_ascii_lowercase();
    let (scheme, t) = if lower.starts_with("tcps://") || lower.starts_with("tcp://") {
        let n = t.find("//").map_or(0, |i| i + 2);
        (Some(&t[..n]), &t[n..])
    } else {
        (None, t.strip_prefix("//").unwrap_or(t))
    };
    if t.contains("://") {
        return Err(format!(
            "unsupported URL scheme: expected {ORACLE_URL_FORMS}"
        ));
    }
    // Easy-connect parameters after '?': checked here, never shown (one may be a secret).
    let (t, query) = match t.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (t, None),
    };
    if let Some(q) = query {
        for kv in q.split('&').filter(|kv| !kv.is_empty()) {
            let k = kv.split_once('=').map_or(kv, |(k, _)| k).trim();
            if k.eq_ignore_ascii_case("user") || k.eq_ignore_ascii_case("password") {
                return Err(format!(
                    "\"{k}\" in the URL's parameters is not read by Oracle: give the login as \
                     username/password (or user/password@ before the host)"
                ));
            }
            if !kv.contains('=') || k.is_empty() {
                return Err(format!(
                    "URL parameter \"{k}\" is not name=value (easy-connect parameters after '?')"
                ));
            }
        }
    }
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
        if query.is_some() || scheme.is_some() {
            return Err(bad("a tnsnames alias takes no tcps:// nor ?parameters"));
        }
        if host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-$#".contains(c))
        {
            return Ok((host.to_string(), format!("oracle alias {host}")));
        }
        return Err(bad("not a host:port/service nor a tnsnames alias"));
    }
    if host.len() > 253 || host.contains(['@', ' ', '"', '\'', '(', ')']) {
        return Err(bad("not a host name"));
    }
    let (port, rest) = match rest.strip_prefix(':') {
        Some(r) => {
            let end = r.find([':', '/', '?']).unwrap_or(r.len());
            let digits = Some(&r[..end]).filter(|p| p.bytes().all(|b| b.is_ascii_digit()));
            let p: u16 = digits
                .and_then(|p| p.parse().ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| bad(&format!("port \"{}\" is not a number 1..65535", &r[..end])))?;
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
        if query.is_some() || scheme.is_some() {
            return Err(bad(
                "host:port:SID takes no tcps:// nor ?parameters (use //host:port/service)",
            ));
        }
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
    let service = match rest.strip_prefix('/') {
        Some(r) => r,
        None => return Err(bad("expected '/service' or ':SID' after the port")),
    };
    if service.is_empty() {
        return Err(bad("no service name after '/'"));
    }
    // service[:server][/instance], as easy connect allows.
    for part in service.split([':', '/']) {
        check_name("service name", part)?;
    }
    let mut connect = format!("{}{host_text}{port_text}/{service}", scheme.unwrap_or("//"));
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
        // A password with '@' and '/' in double quotes, as Oracle's tools take it.
        let u = parse_oracle_url("jdbc:oracle:thin:scott/\"Hunter@Sec/ret\"@db1:1521:XE").unwrap();
        assert_eq!(u.password.as_deref(), Some("Hunter@Sec/ret"));
        assert_eq!(u.to_string(), "oracle://db1:1521:XE");
        assert_eq!(
            parse_oracle_url("jdbc:oracle:thin:@tcps://db1:2484/ORCL?wallet_location=/w")
                .unwrap()
                .connect,
            "tcps://db1:2484/ORCL?wallet_location=/w"
        );
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
            ("jdbc:oracle:thin:@db1:1521:XE?user=a&password=Sekr1t", "\"user\" in the URL"),
            ("jdbc:oracle:thin:@//db1:1521/ORCL?password=Sekr1t", "\"password\" in the URL"),
            ("jdbc:oracle:thin:@//db1:1521/OR CL", "service name \"OR CL\""),
            ("jdbc:oracle:thin:@//db1:+1521/ORCL", "port \"+1521\""),
            ("jdbc:oracle:thin:@db1@x:1521:XE", "more than one '@'"),
            ("oracle://db1:1521/XE", "unsupported URL scheme"),
            ("jdbc:oracle:thin:@(DESCRIPTION=)", "no (ADDRESS="),
            ("jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=a)(PORT=abc))(CONNECT_DATA=(SID=X)))", "PORT \"abc\""),
            ("jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS=(PROTOCOL=FOO)(HOST=a)(PORT=1))(CONNECT_DATA=(SID=X)))", "PROTOCOL \"FOO\""),
            ("jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=)(PORT=1))(CONNECT_DATA=(SID=X)))", "HOST \"\""),
            ("jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=a)(PORT=1)))", "no (CONNECT_DATA"),
            ("jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=a)(PORT=1))(CONNECT_DATA=(SERVICE_NAME=)))", "SERVICE_NAME/SID \"\""),
        ] {
            let e = parse_oracle_url(u).unwrap_err();
            assert!(e.contains(want), "{u}: {e}");
            assert!(!e.contains("Sekr1t"), "{u}: {e}");
        }
    }
}
