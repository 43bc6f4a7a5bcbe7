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

/// Remembers `value` as a secret for the rest of the process.
pub fn register(value: &str) {
    if value.chars().count() < MIN_LEN {
        return;
    }
    let mut k = match known().lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    if !k.iter().any(|v| v == value) {
        k.push(value.to_string());
        // Longest first, so a secret that contains another is masked whole.
        k.sort_by_key(|v| std::cmp::Reverse(v.len()));
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
    }
}
