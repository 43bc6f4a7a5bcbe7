//! The job file: DataX's JSON shape, `${name}` / `$name` substitution from `-p`, and the
//! typed job settings. Loading a job MUST not touch any system but the job file itself.

use crate::config::{lenient_positive, parse_params, ConfigError, HumanDuration};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// A loaded, substituted and shape-checked job. Plugin parameters are still raw JSON here;
/// the registry turns them into plugin configs.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// Job name: the job file's stem (used for the default dirty file and staging names).
    pub name: String,
    /// `job.setting`.
    pub setting: Setting,
    /// `job.content[0].reader`.
    pub reader: PluginSpec,
    /// `job.content[0].writer`.
    pub writer: PluginSpec,
    /// `job.verify`: rules comparing the rows read with the target after the write.
    pub verify: Option<crate::verify::VerifyConfig>,
}

/// One side of `job.content[0]`: the plugin name and its raw parameters.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// Plugin name or DataX alias as written in the job.
    pub name: String,
    /// `parameter` object (empty object when absent).
    pub parameter: Value,
    /// JSON path of `parameter`, for error messages.
    pub path: String,
}

/// `job.setting`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Setting {
    /// Parallelism and throttle.
    #[serde(default)]
    pub speed: Speed,
    /// When dirty records stop the job.
    #[serde(default)]
    pub error_limit: ErrorLimit,
    /// No record moving for this long counts as a stall (default 10 minutes).
    pub stall_timeout: Option<HumanDuration>,
    /// What a stall does: `warn` (default) logs which side is stuck, `fail` also fails the job.
    #[serde(default)]
    pub stall_action: StallAction,
    /// Retries of failed tasks whose output is discarded or idempotent.
    #[serde(default)]
    pub retry: RetrySetting,
    /// Size of the batches readers produce.
    #[serde(default)]
    pub batch: BatchSetting,
}

/// The most pipelines a job may ask for (each holds a reader and a writer task, their
/// connections and buffers).
pub const MAX_CHANNELS: u64 = 1024;

/// `job.setting.speed`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Speed {
    /// Pipelines run at once (default 1).
    #[serde(default, deserialize_with = "lenient_positive")]
    #[schemars(with = "Option<crate::schema::Lenient<i64>>")]
    pub channel: Option<u64>,
    /// Job-wide bytes per second; unset, 0 or -1 is unlimited.
    #[serde(default, deserialize_with = "lenient_positive")]
    #[schemars(with = "Option<crate::schema::Lenient<i64>>")]
    pub byte: Option<u64>,
    /// Job-wide records per second; unset, 0 or -1 is unlimited.
    #[serde(default, deserialize_with = "lenient_positive")]
    #[schemars(with = "Option<crate::schema::Lenient<i64>>")]
    pub record: Option<u64>,
}

impl Speed {
    /// Pipelines run at once: `channel`, 1 when unset (never 0: 0 and below read as unset).
    pub fn channels(&self) -> usize {
        self.channel.map_or(1, |c| c as usize)
    }
}

/// `job.setting.errorLimit`: the job stops when dirty > `record` or dirty/total > `percentage`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorLimit {
    /// Highest number of dirty records allowed.
    #[serde(default, with = "crate::schema::LenientOpt::<u64>")]
    pub record: Option<u64>,
    /// Highest dirty ratio allowed, 0.0 to 1.0.
    #[serde(default, with = "crate::schema::LenientOpt::<f64>")]
    pub percentage: Option<f64>,
}

/// What the stall watchdog does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StallAction {
    /// Log which side is stuck, keep waiting.
    #[default]
    Warn,
    /// Log, then fail the job (exit 1).
    Fail,
}

/// `job.setting.retry`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetrySetting {
    /// Retries per task (default 2).
    #[serde(default = "default_retries", with = "crate::schema::Lenient::<u32>")]
    pub count: u32,
    /// Wait before the first retry, doubled for each further one (default 1s).
    #[serde(default = "default_backoff")]
    pub backoff: HumanDuration,
}

fn default_retries() -> u32 {
    2
}
fn default_backoff() -> HumanDuration {
    HumanDuration(Duration::from_secs(1))
}
impl Default for RetrySetting {
    fn default() -> Self {
        RetrySetting {
            count: default_retries(),
            backoff: default_backoff(),
        }
    }
}

/// `job.setting.batch`: a batch closes at `rows` rows or `bytes` bytes, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchSetting {
    /// Rows per batch (default 8192).
    #[serde(
        default = "default_batch_rows",
        with = "crate::schema::Lenient::<usize>"
    )]
    pub rows: usize,
    /// Bytes per batch (default 8 MiB).
    #[serde(
        default = "default_batch_bytes",
        with = "crate::schema::Lenient::<usize>"
    )]
    pub bytes: usize,
}
fn default_batch_rows() -> usize {
    8192
}
fn default_batch_bytes() -> usize {
    8 << 20
}
impl Default for BatchSetting {
    fn default() -> Self {
        BatchSetting {
            rows: default_batch_rows(),
            bytes: default_batch_bytes(),
        }
    }
}

impl Setting {
    /// Stall timeout with its default applied.
    pub fn stall_timeout(&self) -> Duration {
        self.stall_timeout
            .map(|d| d.0)
            .unwrap_or(Duration::from_secs(600))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
    job: JobBody,
    /// DataX's engine tuning block; accepted and ignored (datasync tunes itself).
    #[serde(default)]
    #[allow(dead_code)]
    core: Option<Value>,
    /// A `setting` beside `job` (some DataX doc examples have one): DataX does not read it
    /// either; accepted with a warning.
    setting: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobBody {
    #[serde(default)]
    setting: Setting,
    content: Vec<Content>,
    verify: Option<crate::verify::VerifyConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Content {
    reader: RawPlugin,
    writer: RawPlugin,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    name: String,
    parameter: Option<Value>,
}

/// Variables from `-p`: `k=v`, or DataX's `-Dk=v -Dk2=v2` (several in one argument).
pub fn parse_vars<S: AsRef<str>>(args: &[S]) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut vars = BTreeMap::new();
    for arg in args {
        let arg = arg.as_ref().trim();
        let pieces: Vec<&str> = if arg.starts_with("-D") {
            arg.split_whitespace().collect()
        } else {
            vec![arg]
        };
        for piece in pieces {
            let kv = piece.strip_prefix("-D").unwrap_or(piece);
            let Some((k, v)) = kv.split_once('=') else {
                return Err(ConfigError::new(
                    "-p",
                    format!("\"{piece}\" is not NAME=VALUE"),
                ));
            };
            if k.is_empty() {
                return Err(ConfigError::new(
                    "-p",
                    format!("\"{piece}\" has an empty name"),
                ));
            }
            vars.insert(k.to_string(), v.to_string());
        }
    }
    Ok(vars)
}

/// Where a placeholder's value comes from.
enum Lookup {
    Found(String),
    /// Not given: the placeholder as written, and what was tried / how to give it.
    Missing(String, String),
}

/// The value of `${name}` / `$name`: `env:NAME` from the environment, `file:PATH` from a file
/// (one trailing line break dropped), otherwise `-p name=...`, then `DATASYNC_PARAM_name`.
/// Values from the environment and files, and those whose names say they are secret, are
/// registered as secrets (masked in all output).
fn lookup(name: &str, vars: &BTreeMap<String, String>) -> Lookup {
    if let Some(var) = name.strip_prefix("env:") {
        return match std::env::var(var) {
            Ok(v) => {
                crate::secrets::register(&v);
                Lookup::Found(v)
            }
            Err(_) => Lookup::Missing(
                format!("${{{name}}}"),
                format!("environment variable {var} is not set"),
            ),
        };
    }
    if let Some(path) = name.strip_prefix("file:") {
        return match std::fs::read_to_string(path) {
            Ok(v) => {
                let v = v
                    .strip_suffix("\r\n")
                    .or_else(|| v.strip_suffix('\n'))
                    .unwrap_or(&v)
                    .to_string();
                crate::secrets::register(&v);
                Lookup::Found(v)
            }
            Err(e) => Lookup::Missing(format!("${{{name}}}"), format!("cannot read {path}: {e}")),
        };
    }
    let found = vars
        .get(name)
        .cloned()
        .or_else(|| std::env::var(format!("DATASYNC_PARAM_{name}")).ok());
    match found {
        Some(v) => {
            if crate::secrets::is_secret_name(name) {
                crate::secrets::register(&v);
            }
            Lookup::Found(v)
        }
        None => Lookup::Missing(
            format!("${{{name}}}"),
            format!("pass -p {name}=VALUE or set DATASYNC_PARAM_{name}"),
        ),
    }
}

/// Fills `${name}` (must be given) and `$name` (replaced only when given: a bare `$` may be
/// part of a password or SQL) in the job text; `${env:NAME}` and `${file:PATH}` read the
/// environment and files (see [`lookup`]). Every placeholder that cannot be filled is named in
/// one error, with its line. Inside JSON strings the value is JSON-escaped, so a value with
/// quotes or backslashes cannot break the job; outside strings (e.g. `"channel": ${n}`) it is
/// inserted as written, like DataX does.
pub fn substitute(
    text: &str,
    vars: &BTreeMap<String, String>,
    file: &str,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut missing: Vec<(usize, String, String)> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut line = 1;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '\n' {
            line += 1;
        }
        if in_string && escaped {
            escaped = false;
        } else if in_string && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_string = !in_string;
        } else if c == '$' {
            let after = &rest[1..];
            let (name, consumed, braced) = if let Some(inner) = after.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) => (&inner[..end], end + 3, true),
                    None => ("", 0, false),
                }
            } else {
                let end = after
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end + 1, false)
            };
            let sourced = braced && (name.starts_with("env:") || name.starts_with("file:"));
            let valid = sourced
                || (!name.is_empty()
                    && name.chars().all(|ch| {
                        ch.is_ascii_alphanumeric() || ch == '_' || ch == '.' || ch == '-'
                    })
                    && !name.starts_with(|ch: char| ch.is_ascii_digit()));
            if valid {
                match lookup(name, vars) {
                    Lookup::Found(value) => {
                        if in_string {
                            let quoted = serde_json::to_string(&value).unwrap_or_default();
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        } else {
                            out.push_str(&value);
                        }
                        rest = &rest[consumed..];
                        continue;
                    }
                    Lookup::Missing(placeholder, how) if braced => {
                        missing.push((line, placeholder, how));
                        rest = &rest[consumed..];
                        continue;
                    }
                    Lookup::Missing(..) => {}
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    match missing.len() {
        0 => Ok(out),
        1 => Err(ConfigError::new(
            format!("{file}:{}", missing[0].0),
            format!(
                "placeholder {} is not filled; {}",
                missing[0].1, missing[0].2
            ),
        )),
        n => Err(ConfigError::new(
            file,
            format!(
                "{n} placeholders are not filled: {}",
                missing
                    .iter()
                    .map(|(l, p, how)| format!("line {l}: {p} ({how})"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )),
    }
}

/// Reads, substitutes and shape-checks a job file.
pub fn load_job(path: &Path, vars: &BTreeMap<String, String>) -> Result<JobSpec, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(&file, format!("cannot read the job file: {e}")))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "job".to_string());
    parse_job(&text, &name, &file, vars)
}

/// [`load_job`] on a job's text.
pub fn parse_job(
    text: &str,
    name: &str,
    file: &str,
    vars: &BTreeMap<String, String>,
) -> Result<JobSpec, ConfigError> {
    // A byte-order mark (editors on Windows write one) is not JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = crate::template::strip_comments(text).map_err(|(line, col)| {
        ConfigError::new(
            format!("{file}:{line}:{col}"),
            "a /* comment opened here is never closed",
        )
    })?;
    let text = substitute(&text, vars, file)?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        ConfigError::new(
            format!("{file}:{}:{}", e.line(), e.column()),
            format!("malformed JSON: {}", strip_position(&e.to_string())),
        )
    })?;
    let body: JobFile = parse_params(&value, "")?;
    if body.setting.is_some() {
        tracing::warn!(
            "{file}: a \"setting\" beside \"job\" is ignored (as DataX ignores it); job settings go \
             in job.setting"
        );
    }
    let mut content = body.job.content;
    if content.len() != 1 {
        return Err(ConfigError::new(
            "job.content",
            format!(
                "expected exactly one {{reader, writer}} entry, found {}",
                content.len()
            ),
        ));
    }
    let c = content.remove(0);
    let setting = body.job.setting;
    if let Some(v) = &body.job.verify {
        v.validate("job.verify")?;
    }
    if let Some(p) = setting.error_limit.percentage {
        if !(0.0..=1.0).contains(&p) {
            return Err(ConfigError::new(
                "job.setting.errorLimit.percentage",
                format!("{p} is out of range; expected a ratio from 0.0 to 1.0 (0.02 = 2%)"),
            ));
        }
    }
    if let Some(n) = setting.speed.channel.filter(|n| *n > MAX_CHANNELS) {
        return Err(ConfigError::new(
            "job.setting.speed.channel",
            format!("{n}: at most {MAX_CHANNELS} pipelines run at once"),
        ));
    }
    if setting.batch.rows == 0 || setting.batch.bytes == 0 {
        return Err(ConfigError::new(
            "job.setting.batch",
            "rows and bytes must be positive",
        ));
    }
    let side = |p: RawPlugin, which: &str| PluginSpec {
        name: p.name,
        parameter: p
            .parameter
            .unwrap_or_else(|| Value::Object(Default::default())),
        path: format!("job.content[0].{which}.parameter"),
    };
    Ok(JobSpec {
        name: name.to_string(),
        setting,
        reader: side(c.reader, "reader"),
        writer: side(c.writer, "writer"),
        verify: body.job.verify,
    })
}

fn strip_position(msg: &str) -> &str {
    msg.find(" at line ").map(|i| &msg[..i]).unwrap_or(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dash_d_form_and_plain_form() {
        let v = parse_vars(&["-Da=1 -Db=x=y", "c=3"]).unwrap();
        assert_eq!(v, vars(&[("a", "1"), ("b", "x=y"), ("c", "3")]));
        assert!(parse_vars(&["novalue"]).is_err());
    }

    #[test]
    fn substitution_escapes_inside_strings_only() {
        let t = r#"{"p": "${path}/x", "n": ${n}, "q": "$who says"}"#;
        let out = substitute(
            t,
            &vars(&[("path", "a\"b"), ("n", "4"), ("who", "me")]),
            "f",
        )
        .unwrap();
        assert_eq!(out, r#"{"p": "a\"b/x", "n": 4, "q": "me says"}"#);
    }

    #[test]
    fn bare_dollar_kept_when_not_given() {
        let t = r#"{"password": "pa$$word$1", "sql": "select $x"}"#;
        assert_eq!(substitute(t, &BTreeMap::new(), "f").unwrap(), t);
    }

    #[test]
    fn every_unfilled_placeholder_is_named_at_once_and_env_and_files_fill_them() {
        let t =
            "{\n\"a\": \"${biz_date}\",\n\"b\": \"${env:DATASYNC_TEST_UNSET_VAR}\",\n\"c\": ${n}}";
        let e = substitute(t, &BTreeMap::new(), "job.json").unwrap_err();
        assert_eq!(e.path, "job.json");
        assert!(
            e.message.starts_with("3 placeholders are not filled"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains(
                "line 2: ${biz_date} (pass -p biz_date=VALUE or set DATASYNC_PARAM_biz_date)"
            ),
            "{}",
            e.message
        );
        assert!(e.message.contains("line 3: ${env:DATASYNC_TEST_UNSET_VAR} (environment variable DATASYNC_TEST_UNSET_VAR is not set)"), "{}", e.message);
        assert!(e.message.contains("line 4: ${n}"), "{}", e.message);

        let dir = std::env::temp_dir().join(format!("ds-subst-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("pw");
        std::fs::write(&f, "from \"file\"\n").unwrap();
        let t = format!(r#"{{"p": "${{file:{}}}"}}"#, f.display());
        assert_eq!(
            substitute(&t, &BTreeMap::new(), "j").unwrap(),
            r#"{"p": "from \"file\""}"#
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unfilled_placeholder_is_an_error_naming_it() {
        let t = "{\n\"a\": \"${biz_date}\"}";
        let e = substitute(t, &BTreeMap::new(), "job.json").unwrap_err();
        assert_eq!(e.path, "job.json:2");
        assert!(e.message.contains("${biz_date}"), "{}", e.message);
    }

    #[test]
    fn malformed_json_gives_line_and_column() {
        let e = parse_job("{\n  \"job\": {,}\n}", "j", "j.json", &BTreeMap::new()).unwrap_err();
        assert_eq!(e.path, "j.json:2:11");
        assert!(e.message.starts_with("malformed JSON"), "{}", e.message);
    }

    #[test]
    fn settings_parse_with_datax_spellings() {
        let t = r#"{"job": {"setting": {"speed": {"channel": "3", "byte": -1, "record": 100},
            "errorLimit": {"record": 0, "percentage": 0.02}},
            "content": [{"reader": {"name": "streamreader", "parameter": {}},
                         "writer": {"name": "streamwriter"}}]}}"#;
        let j = parse_job(t, "j", "j.json", &BTreeMap::new()).unwrap();
        assert_eq!(j.setting.speed.channel, Some(3));
        assert_eq!(j.setting.speed.byte, None);
        assert_eq!(j.setting.speed.record, Some(100));
        assert_eq!(j.setting.error_limit.record, Some(0));
        assert_eq!(j.writer.path, "job.content[0].writer.parameter");
        assert_eq!(j.setting.retry.count, 2);
        // Templated jobs give numbers as text (a placeholder filled in); DataX reads them too.
        let t = r#"{"job": {"setting": {"errorLimit": {"record": "0", "percentage": " 0.5"},
            "retry": {"count": "3"}, "batch": {"rows": "100", "bytes": "65536"}},
            "content": [{"reader": {"name": "streamreader", "parameter": {}},
                         "writer": {"name": "streamwriter"}}]}}"#;
        let j = parse_job(t, "j", "j.json", &BTreeMap::new()).unwrap();
        assert_eq!(j.setting.error_limit.record, Some(0));
        assert_eq!(j.setting.error_limit.percentage, Some(0.5));
        assert_eq!(j.setting.retry.count, 3);
        assert_eq!((j.setting.batch.rows, j.setting.batch.bytes), (100, 65536));
        let bad = t.replace(r#""count": "3""#, r#""count": "three""#);
        let e = parse_job(&bad, "j", "j.json", &BTreeMap::new()).unwrap_err();
        assert_eq!(e.path, "job.setting.retry.count");
    }

    #[test]
    fn a_channel_count_past_the_limit_is_refused() {
        for n in ["1025", "99999999999999999999"] {
            let t = format!(
                r#"{{"job": {{"setting": {{"speed": {{"channel": {n}}}}},
                "content": [{{"reader": {{"name": "r"}}, "writer": {{"name": "w"}}}}]}}}}"#
            );
            let e = parse_job(&t, "j", "j.json", &BTreeMap::new()).unwrap_err();
            assert_eq!(e.path, "job.setting.speed.channel");
            assert!(e.message.contains("at most 1024"), "{}", e.message);
        }
    }

    #[test]
    fn a_setting_beside_job_is_accepted() {
        let t = r#"{"setting": {"speed": {"channel": 9}}, "job": {"content": [{"reader": {"name": "r"}, "writer": {"name": "w"}}]}}"#;
        let j = parse_job(t, "j", "j.json", &BTreeMap::new()).unwrap();
        assert_eq!(
            j.setting.speed.channel, None,
            "DataX does not read it either"
        );
    }

    #[test]
    fn misspelled_setting_is_named() {
        let t = r#"{"job": {"setting": {"sped": {}}, "content": []}}"#;
        let e = parse_job(t, "j", "j.json", &BTreeMap::new()).unwrap_err();
        assert_eq!(e.path, "job.setting.sped");
        assert!(
            e.message.contains("did you mean \"speed\""),
            "{}",
            e.message
        );
    }
}
