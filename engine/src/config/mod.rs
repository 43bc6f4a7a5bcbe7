//! Strict, path-aware parsing of JSON configuration into typed structs, and the small value
//! types configs share: [`Secret`], [`HumanDuration`], lenient integers.
//!
//! Everything here is pure: it MUST not touch the network or the file system, so that
//! `datasync check` can validate a job without reaching any system.

use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// A configuration error: where in the job (a JSON path such as
/// `job.content[0].reader.parameter.column`) and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// JSON path of the offending key or value (or the file, for whole-file errors).
    pub path: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl ConfigError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Joins a JSON path prefix and a relative path (`a.b` + `c[0].d`).
pub fn join_path(prefix: &str, rel: &str) -> String {
    match (prefix.is_empty(), rel.is_empty() || rel == ".") {
        (_, true) => prefix.to_string(),
        (true, false) => rel.to_string(),
        (false, false) if rel.starts_with('[') => format!("{prefix}{rel}"),
        (false, false) => format!("{prefix}.{rel}"),
    }
}

/// The text of a constant column's `value`: a string as it is, any other JSON value as JSON
/// prints it (`1`, `true`).
pub fn constant_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Deserializes `value` into `T`, turning serde's messages into [`ConfigError`]s whose path
/// starts at `at`: unknown keys get a "did you mean" suggestion and the list of allowed keys,
/// missing keys and wrong types say what was expected.
pub fn parse_params<T: DeserializeOwned>(value: &Value, at: &str) -> Result<T, ConfigError> {
    // serde fills a struct from a list by position: a `parameter` must be an object.
    if !value.is_object() && !struct_fields::<T>().is_empty() {
        return Err(ConfigError::new(
            at,
            format!(
                "wrong type: found {}, expected an object",
                parts::kind(value)
            ),
        ));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = join_path(at, &e.path().to_string());
        let message = friendly_message(&e.inner().to_string());
        ConfigError { path, message }
    })
}

/// Rewrites serde's wording into ours.
fn friendly_message(raw: &str) -> String {
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        if let Some((field, tail)) = rest.split_once('`') {
            let allowed = backticked(tail);
            let mut msg = "unknown key".to_string();
            if let Some(best) = suggest(field, &allowed) {
                msg.push_str(&format!("; did you mean \"{best}\"?"));
            }
            if !allowed.is_empty() {
                msg.push_str(&format!(" (allowed: {})", allowed.join(", ")));
            }
            return msg;
        }
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        if let Some((variant, tail)) = rest.split_once('`') {
            let allowed = backticked(tail);
            let mut msg = format!("\"{variant}\" is not allowed here");
            if let Some(best) = suggest(variant, &allowed) {
                msg.push_str(&format!("; did you mean \"{best}\"?"));
            }
            msg.push_str(&format!(" (allowed: {})", allowed.join(", ")));
            return msg;
        }
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        if let Some((field, _)) = rest.split_once('`') {
            return format!("missing required key \"{field}\"");
        }
    }
    if let Some(rest) = raw.strip_prefix("invalid type: ") {
        // serde names Rust types ("struct Speed", "a sequence"): say what the JSON must be.
        let rest = match rest.split_once(", expected ") {
            Some((found, expected)) => {
                let expected = if expected.starts_with("struct ") || expected.starts_with("map") {
                    "an object"
                } else if expected.starts_with("a sequence") {
                    "a list"
                } else {
                    expected
                };
                format!("{found}, expected {expected}")
            }
            None => rest.to_string(),
        };
        return format!("wrong type: found {rest}");
    }
    raw.to_string()
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The closest candidate to `word` (case-insensitive edit distance at most 2, or a prefix).
pub fn suggest<S: AsRef<str>>(word: &str, candidates: &[S]) -> Option<String> {
    let w = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            (
                c.as_ref(),
                edit_distance(&w, &c.as_ref().to_ascii_lowercase()),
            )
        })
        .filter(|(c, d)| *d <= 2 || (w.len() >= 3 && c.to_ascii_lowercase().starts_with(&w)))
        .min_by_key(|(_, d)| *d)
        .map(|(c, _)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A secret (password, passphrase): Debug and Display print `***`, and once parsed from a job
/// its value is masked in everything the binary prints (see [`crate::secrets`]).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Not String::deserialize: serde's type errors quote the value ("found integer
        // `123456`"), and a secret of the wrong type is still a secret.
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => {
                crate::secrets::register(&s);
                Ok(Secret(s))
            }
            // A numeric password, as DataX (which reads every value as text) takes it.
            serde_json::Value::Number(n) => {
                let s = n.to_string();
                crate::secrets::register(&s);
                Ok(Secret(s))
            }
            other => Err(serde::de::Error::custom(format!(
                "expected a string, found {} (not shown: it is a secret)",
                match other {
                    serde_json::Value::Null => "null",
                    serde_json::Value::Bool(_) => "a boolean",
                    serde_json::Value::Array(_) => "a list",
                    _ => "an object",
                }
            ))),
        }
    }
}

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for handing to a driver. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A duration written as seconds (`600`) or with a unit (`"500ms"`, `"30s"`, `"10m"`, `"2h"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Parses `"500ms"`, `"30s"`, `"10m"`, `"2h"` or a bare number of seconds.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("\"{s}\" is not a duration (e.g. 30s, 10m)"))?;
        let secs = match unit.trim() {
            "" | "s" => n,
            "ms" => n / 1000.0,
            "m" | "min" => n * 60.0,
            "h" => n * 3600.0,
            u => {
                return Err(format!(
                    "unknown duration unit \"{u}\" in \"{s}\" (use ms, s, m or h)"
                ))
            }
        };
        Ok(HumanDuration(Duration::from_secs_f64(secs)))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_f64()
                .filter(|f| *f >= 0.0)
                .map(|f| HumanDuration(Duration::from_secs_f64(f)))
                .ok_or_else(|| serde::de::Error::custom("a duration must not be negative")),
            Value::String(s) => HumanDuration::parse(&s).map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "wrong type: found {other}, expected a duration such as 30 or \"10m\""
            ))),
        }
    }
}

/// A size in bytes written as a number (`134217728`) or with a unit (`"128MB"`, `"1GiB"`, `"512k"`;
/// K/M/G/T are powers of 1024, as Hadoop and DataX read them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses `"128MB"`, `"1GiB"`, `"512k"` or a bare number of bytes.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("\"{s}\" is not a size (e.g. 134217728, 128MB, 1GB)"))?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            u => {
                return Err(format!(
                    "unknown size unit \"{u}\" in \"{s}\" (use KB, MB, GB)"
                ))
            }
        };
        n.checked_mul(1u64 << shift)
            .map(ByteSize)
            .ok_or_else(|| format!("\"{s}\" is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_u64().map(ByteSize).ok_or_else(|| {
                serde::de::Error::custom("a size must be a whole number of bytes >= 0")
            }),
            Value::String(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "wrong type: found {other}, expected a size such as 134217728 or \"128MB\""
            ))),
        }
    }
}

/// Deserializes an optional integer that DataX templates may also write as a string
/// (`"channel": "${channel}"` filled by `-p`). Non-positive values mean "not set".
pub fn lenient_positive<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    let n = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(other) => {
            return Err(serde::de::Error::custom(format!(
                "wrong type: found {other}, expected a number"
            )))
        }
    };
    match n {
        Some(f) if f.fract() == 0.0 && f <= 0.0 => Ok(None),
        Some(f) if f.fract() == 0.0 => Ok(Some(f as u64)),
        _ => Err(serde::de::Error::custom("expected a whole number")),
    }
}

/// Deserializes `T` from its JSON form or from a string holding it (`"true"`, `"2048"`,
/// `"22"`): DataX converts quoted scalars, and templates filled by `${var}` carry them.
pub fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr + DeserializeOwned,
    T::Err: fmt::Display,
{
    match Value::deserialize(d)? {
        Value::String(s) => {
            let t = s.trim();
            // Booleans in any letter case (`"TRUE"`), as Java's Boolean.parseBoolean reads them.
            let lower = t.to_ascii_lowercase();
            let t = if lower == "true" || lower == "false" {
                lower.as_str()
            } else {
                t
            };
            t.parse::<T>()
                .map_err(|_| serde::de::Error::custom(expected::<T>(&s)))
        }
        other => serde_json::from_value(other).map_err(serde::de::Error::custom),
    }
}

/// "wrong type: found string "x", expected a boolean" for a string that does not parse as `T`.
fn expected<T>(s: &str) -> String {
    let t = std::any::type_name::<T>();
    let what = match t {
        "bool" => "a boolean",
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number >= 0",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        other => other,
    };
    format!("wrong type: found string {s:?}, expected {what}")
}

/// [`lenient`] for an optional value (`null` or absent = `None`).
pub fn lenient_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr + DeserializeOwned,
    T::Err: fmt::Display,
{
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => lenient(v).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Deserializes a string or a list of strings (DataX writes `path` both ways).
pub fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                other => Err(serde::de::Error::custom(format!(
                    "wrong type: found {other}, expected a string"
                ))),
            })
            .collect(),
        other => Err(serde::de::Error::custom(format!(
            "wrong type: found {other}, expected a string or a list of strings"
        ))),
    }
}

/// Deserializes a whole number that may be written as a string (`"10"`, from `${var}`).
pub fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default()),
        Value::String(s) if s.trim().parse::<u64>().is_ok() => {
            Ok(s.trim().parse().unwrap_or_default())
        }
        other => Err(serde::de::Error::custom(format!(
            "wrong type: found {other}, expected a whole number >= 0"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_text_in_any_letter_case() {
        #[derive(serde::Deserialize)]
        struct B(#[serde(deserialize_with = "lenient")] bool);
        for (t, want) in [("TRUE", true), (" False ", false), ("true", true)] {
            let b: B = serde_json::from_value(serde_json::json!(t)).unwrap();
            assert_eq!(b.0, want, "{t}");
        }
        assert!(serde_json::from_value::<B>(serde_json::json!("yes")).is_err());
    }

    #[test]
    fn secrets_of_another_type_are_not_quoted() {
        let s: Secret = serde_json::from_value(serde_json::json!(987654321)).unwrap();
        assert_eq!(s.expose(), "987654321");
        assert_eq!(crate::secrets::redact("pw 987654321"), "pw ***");
        let e = serde_json::from_value::<Secret>(serde_json::json!(["hunter-list-2"]))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter-list-2") && e.contains("a list"), "{e}");
    }

    #[test]
    fn quoted_scalars_are_accepted() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "lenient")]
            b: bool,
            #[serde(default, deserialize_with = "lenient_opt")]
            n: Option<i64>,
        }
        let t: T = serde_json::from_value(serde_json::json!({"b": "true", "n": " 2048"})).unwrap();
        assert!(t.b);
        assert_eq!(t.n, Some(2048));
        let t: T = serde_json::from_value(serde_json::json!({"b": false, "n": null})).unwrap();
        assert_eq!((t.b, t.n), (false, None));
        assert!(serde_json::from_value::<T>(serde_json::json!({"b": "yes"})).is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(ByteSize::parse("1024").unwrap().0, 1024);
        assert_eq!(ByteSize::parse("128MB").unwrap().0, 128 << 20);
        assert_eq!(ByteSize::parse("1 GiB").unwrap().0, 1 << 30);
        assert_eq!(ByteSize::parse("512k").unwrap().0, 512 << 10);
        assert!(ByteSize::parse("12 parsecs").unwrap_err().contains("unit"));
        assert!(ByteSize::parse("lots").is_err());
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct P {
        column: Vec<String>,
        field_delimiter: Option<String>,
    }

    #[test]
    fn unknown_key_suggests_and_lists() {
        let v = serde_json::json!({"colum": ["a"]});
        let e = parse_params::<P>(&v, "job.content[0].reader.parameter").unwrap_err();
        assert_eq!(e.path, "job.content[0].reader.parameter.colum");
        assert!(
            e.message
                .starts_with("unknown key; did you mean \"column\"?"),
            "{}",
            e.message
        );
        assert!(e.message.contains("fieldDelimiter"), "{}", e.message);
        assert_eq!(
            e.to_string(),
            "job.content[0].reader.parameter.colum: unknown key; did you mean \"column\"? (allowed: column, fieldDelimiter)"
        );
    }

    #[test]
    fn missing_and_wrong_type() {
        let e = parse_params::<P>(&serde_json::json!({}), "x.parameter").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.parameter: missing required key \"column\""
        );
        let e = parse_params::<P>(&serde_json::json!({"column": "a"}), "x").unwrap_err();
        assert_eq!(e.path, "x.column");
        assert!(
            e.message
                .contains("wrong type: found string \"a\", expected a list"),
            "{}",
            e.message
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("colum", &["column", "path"]), Some("column".into()));
        assert_eq!(
            suggest("fielddelimiter", &["fieldDelimiter"]),
            Some("fieldDelimiter".into())
        );
        assert_eq!(suggest("zzz", &["column", "path"]), None);
    }

    #[test]
    fn durations() {
        assert_eq!(
            HumanDuration::parse("10m").unwrap().0,
            Duration::from_secs(600)
        );
        assert_eq!(
            HumanDuration::parse("250ms").unwrap().0,
            Duration::from_millis(250)
        );
        assert_eq!(HumanDuration::parse("3").unwrap().0, Duration::from_secs(3));
        assert!(HumanDuration::parse("3 weeks").is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let s: Secret = serde_json::from_value(serde_json::json!("hunter2")).unwrap();
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "hunter2");
    }
}

mod parts;
pub use parts::{struct_fields, Layout, ParamParts};
