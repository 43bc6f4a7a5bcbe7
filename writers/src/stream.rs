//! `stream` writer (DataX `streamwriter`): counts and discards rows, or prints them to stdout
//! (`print: true`) as delimited text, quoted like CSV where a value needs it. Logs, progress
//! and the report go to stderr, so stdout holds only rows.

use datasync_codec::values::dirty_row;
use datasync_codec::{FileFormat, TextEncoder, TextOptions};
use datasync_engine::channel::BatchReceiver;
use datasync_engine::config::ConfigError;
use datasync_engine::{async_trait, Params, Plugin, PluginError, TaskContext, Writer, WriterTask};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Write;
use std::sync::Arc;

/// `parameter` of the stream writer.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StreamWriterConfig {
    /// Print rows to stdout (default false: count and discard).
    #[serde(default, with = "datasync_engine::schema::Lenient::<bool>")]
    pub print: bool,
    /// Delimiter between printed fields (default tab).
    #[serde(default = "default_delimiter")]
    pub field_delimiter: String,
    /// Encoding of printed text (default UTF-8).
    #[serde(default = "datasync_codec::default_encoding")]
    pub encoding: String,
    /// Text printed for NULL (default `NULL`).
    #[serde(default = "default_null")]
    pub null_format: String,
}

fn default_delimiter() -> String {
    "\t".into()
}
fn default_null() -> String {
    "NULL".into()
}

/// The stream writer.
#[derive(Debug, Clone)]
pub struct StreamWriter {
    print: Option<Arc<TextOptions>>,
}

/// `visible` appears in several DataX doc examples; DataX's streamwriter never reads it.
const IGNORED: &[(&str, &str)] = &[(
    "visible",
    "DataX's streamwriter does not read it either; \"print\" decides whether rows are printed",
)];

impl Plugin for StreamWriter {
    const NAME: &'static str = "stream";
    const ALIASES: &'static [&'static str] = &["streamwriter"];
    const DESCRIPTION: &'static str = "discard rows (counting them) or print them to stdout";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let (c,): (StreamWriterConfig,) = p.parts(IGNORED)?;
        let opts = TextOptions::new(
            p.path,
            FileFormat::Csv,
            Some(&c.field_delimiter),
            &c.encoding,
            &c.null_format,
            None,
            false,
        )?;
        Ok(StreamWriter {
            print: c.print.then(|| Arc::new(opts)),
        })
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        datasync_engine::schema::layout::<(StreamWriterConfig,)>(g, IGNORED)
    }

    fn template() -> Value {
        json!({"print": false, "fieldDelimiter": "\t", "encoding": "UTF-8", "nullFormat": "NULL"})
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::note;
        vec![
            note(
                "print",
                "Print rows to stdout; default false (rows are counted and dropped).",
            ),
            note("fieldDelimiter", "Between printed fields; default a tab."),
            note("encoding", "Of printed rows; default UTF-8."),
            note("nullFormat", "Printed for NULL; default NULL."),
        ]
    }
}

#[async_trait]
impl Writer for StreamWriter {
    async fn probe(&self) -> Result<datasync_engine::Probe, PluginError> {
        Ok(datasync_engine::Probe::only_ok(
            "target",
            "stdout or nowhere: nothing to connect to",
        ))
    }

    async fn split(&self, n: usize) -> Result<Vec<Box<dyn WriterTask>>, PluginError> {
        Ok((0..n)
            .map(|_| {
                Box::new(StreamTask {
                    print: self.print.clone(),
                }) as Box<dyn WriterTask>
            })
            .collect())
    }
}

struct StreamTask {
    print: Option<Arc<TextOptions>>,
}

#[async_trait]
impl WriterTask for StreamTask {
    fn retry_safe(&self) -> bool {
        // Discarding is idempotent; printed rows cannot be taken back.
        self.print.is_none()
    }

    async fn write(
        &mut self,
        mut input: BatchReceiver,
        ctx: TaskContext,
    ) -> Result<(), PluginError> {
        let Some(opts) = &self.print else {
            while let Some(b) = input.recv().await {
                ctx.counters.add_written(b.rows() as u64, b.bytes as u64);
            }
            return Ok(());
        };
        let mut enc = TextEncoder::new((**opts).clone());
        let mut buf = Vec::with_capacity(1 << 20);
        while let Some(b) = input.recv().await {
            buf.clear();
            let written = enc.encode(&b.data, &mut buf, |row, error| {
                ctx.dirty(dirty_row(&b.data, row, error, None))
            })?;
            std::io::stdout()
                .lock()
                .write_all(&buf)
                .map_err(stdout_error)?;
            ctx.counters.add_written(
                written,
                (b.bytes as u64 * written) / (b.rows() as u64).max(1),
            );
        }
        std::io::stdout().flush().map_err(stdout_error)?;
        Ok(())
    }
}

/// stdout closed by its reader (`datasync run ... | head`) is the consumer stopping, said so.
fn stdout_error(e: std::io::Error) -> PluginError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        PluginError::new(
            "stdout was closed by the program reading it (e.g. `| head`); the rest was not printed",
        )
    } else {
        PluginError::new(e)
    }
}
