//! `--log-format json`: every log line, message and the final report as one JSON object per
//! line (for container log collectors), with the run id and, in a shard, the shard; every
//! string masked for secrets before it is encoded.

use serde_json::{Map, Value};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

static JSON: AtomicBool = AtomicBool::new(false);
static SHARD: OnceLock<String> = OnceLock::new();

/// Turns JSON lines on for this process.
pub(crate) fn enable() {
    JSON.store(true, Ordering::Relaxed);
}

/// Whether lines are JSON.
pub(crate) fn enabled() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Names the shard this process runs (`I/N`), for every later line.
pub(crate) fn set_shard(label: String) {
    let _ = SHARD.set(label);
}

fn masked(s: &str) -> Value {
    Value::String(datasync_engine::secrets::redact(s).into_owned())
}

/// One line: time, level, message, run id and shard, and `extra` fields.
pub(crate) fn line(level: &str, message: &str, extra: Map<String, Value>) -> String {
    let mut m = Map::new();
    m.insert("time".into(), Value::String(datasync_engine::shard::now()));
    m.insert("level".into(), Value::String(level.into()));
    m.insert("message".into(), masked(message));
    if let Some(id) = datasync_engine::run_id_if_set() {
        m.insert("runId".into(), Value::String(id.into()));
    }
    if let Some(s) = SHARD.get() {
        m.insert("shard".into(), Value::String(s.clone()));
    }
    for (k, v) in extra {
        m.insert(k, v);
    }
    let mut text = Value::Object(m).to_string();
    text.push('\n');
    text
}

struct Fields {
    message: String,
    extra: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.extra.insert(field.name().into(), masked(value));
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.extra.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.extra.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.extra.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.extra.insert(field.name().into(), masked(&text));
        }
    }
}

/// The `tracing` formatter of `--log-format json`.
pub(crate) struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut f = Fields {
            message: String::new(),
            extra: Map::new(),
        };
        event.record(&mut f);
        let level = event.metadata().level().to_string();
        writer.write_str(&line(&level, &f.message, f.extra))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object_with_secrets_masked() {
        datasync_engine::secrets::register("pa\"ss\\word-1");
        let mut extra = Map::new();
        extra.insert("tasks".into(), 3.into());
        let l = line("INFO", "login with pa\"ss\\word-1 failed", extra);
        assert!(l.ends_with('\n') && !l.trim_end().contains('\n'));
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "login with *** failed");
        assert_eq!(v["tasks"], 3);
        assert!(!l.contains("word-1"));
    }
}
