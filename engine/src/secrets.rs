//! Values that must never be printed: every password the job's parameters hold, every value
//! a placeholder took from the environment (`${env:NAME}`, `DATASYNC_PARAM_name`) or a file
//! (`${file:PATH}`), and `-p` values whose names say they are secret. Whatever the binary
//! prints (log lines, errors, the report) goes through [`redact`], which puts `***` where such
//! a value stands, wherever it ended up (a URL, a path, a driver's error message).

use std::borrow::Cow;
use std::sync::{Mutex, OnceLock};

/// Shorter values are not redacted: they would mask ordinary text ("1", "on").
const MIN_LEN: usize = 4;

fn known() -> &'static Mutex<Vec<String>> {
    static KNOWN: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    KNOWN.get_or_init(|| Mutex::new(Vec::new()))
}

/// Characters at which URL parsers, SQL quoting and messages cut a value: each piece of a
/// secret between them is a secret too (a URL parser that stops at `@` or `/` would otherwise
/// print the rest).
const CUTS: &[char] = &[
    '@', ':', '/', '?', '#', '%', '"', '\'', '\\', ';', '&', '=', ' ',
];

/// Remembers `value` as a secret for the rest of the process: the value, its pieces between
/// [`CUTS`] (between any of them and between each one), and its percent-decoded form (all of
/// at least four characters).
pub fn register(value: &str) {
    let mut forms = vec![value.to_string()];
    forms.extend(value.split(CUTS).map(str::to_string));
    for c in CUTS {
        forms.extend(value.split(*c).map(str::to_string));
    }
    if let Some(decoded) = percent_decoded(value) {
        forms.push(decoded);
    }
    let mut k = match known().lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    for f in forms {
        if f.chars().count() >= MIN_LEN && !k.contains(&f) {
            k.push(f);
        }
    }
    // Longest first, so a secret that contains another is masked whole.
    k.sort_by_key(|v| std::cmp::Reverse(v.len()));
}

/// `%XX` sequences decoded, when there are any and the result is text.
fn percent_decoded(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Every string in `v` (keys too) with [`redact`] applied: for JSON output, where escaping
/// would otherwise hide a secret that holds a quote or a backslash from [`redact`].
pub fn redact_json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(r) = redact(s) {
                *s = r;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_json),
        Value::Object(o) => {
            let entries: Vec<(String, Value)> = std::mem::take(o).into_iter().collect();
            for (k, mut val) in entries {
                redact_json(&mut val);
                o.insert(redact(&k).into_owned(), val);
            }
        }
        _ => {}
    }
}

/// Whether a `-p` name says its value is secret (`password`, `db_pass`, `api_token`, ...).
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "secret",
        "token",
        "credential",
        "apikey",
        "api_key",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// `text` with every registered secret replaced by `***`.
pub fn redact(text: &str) -> Cow<'_, str> {
    let k = match known().lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    if !k.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in k.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    Cow::Owned(out)
}

/// Standard error with [`redact`] applied to every write: the log's writer.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactedStderr;

impl std::io::Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A log event arrives as one formatted write; a secret split across two writes is
        // not possible for it.
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(redact(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_wherever_they_stand() {
        register("s3cr3t-Pw");
        register("s3cr3t-Pw-longer");
        register("ab");
        assert_eq!(
            redact("url postgres://u:s3cr3t-Pw-longer@h/x and s3cr3t-Pw"),
            "url postgres://u:***@h/x and ***"
        );
        assert_eq!(redact("ab stays"), "ab stays", "too short to mask");
        assert!(is_secret_name("db_password") && is_secret_name("API_TOKEN"));
        assert!(!is_secret_name("biz_date"));
        register("Pw%40Secret/Zq");
        assert_eq!(
            redact("\"Pw%40Secret\" is not a port"),
            "\"***\" is not a port"
        );
        assert_eq!(redact("user Pw@Secret/Zq"), "user ***");
        register("S3cr\"et\\X%40y");
        let mut v = serde_json::json!({"error": "WHERE v = S3cr\"et\\X%40y zz", "n": [1]});
        redact_json(&mut v);
        assert_eq!(v["error"], "WHERE v = *** zz");
        assert_eq!(
            redact("near 'X%40y zz'"),
            "near '*** zz'",
            "a piece a server quotes"
        );
    }
}
