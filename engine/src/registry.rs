//! The plugin registry: names, DataX aliases, one-line descriptions, parameter templates and
//! constructors. The plugin crates fill it; the engine knows no concrete plugin.

use crate::config::ConfigError;
use crate::plugin::{Reader, Writer};
use crate::schema::{Schema, SchemaGenerator};
use crate::template::TemplateNote;
use serde_json::Value;

/// What a plugin's constructor gets: the raw `parameter` object, where it sits in the job,
/// and the name the job used (a DataX alias may imply defaults).
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    /// The `parameter` object.
    pub value: &'a Value,
    /// Its JSON path, e.g. `job.content[0].reader.parameter`.
    pub path: &'a str,
    /// The plugin name as written in the job (`txtfilereader`, `file`, ...).
    pub invoked_as: &'a str,
}

impl<'a> Params<'a> {
    /// The `parameter` object `value` at `path`, of the plugin a job names `invoked_as`.
    pub fn new(value: &'a Value, path: &'a str, invoked_as: &'a str) -> Self {
        Params {
            value,
            path,
            invoked_as,
        }
    }

    /// The `parameter` object parsed into the parts `L` lays out, after taking out the DataX
    /// keys that have no effect here (`ignored`: `(key, why)`, a warning for each one present).
    pub fn parts<L: crate::config::Layout>(
        &self,
        ignored: &[(&'static str, &str)],
    ) -> Result<L, ConfigError> {
        let mut parts = crate::config::ParamParts::new(self.value, self.path)?;
        parts.ignore(ignored);
        L::take_all(parts)
    }
}

/// What every plugin type says about itself and how it is built. A reader plugin is a
/// `Plugin` that is also a [`Reader`] ([`ReaderPlugin`]), a writer plugin one that is a
/// [`Writer`] ([`WriterPlugin`]). `from_params` MUST be pure (no network, no files): it
/// validates everything up front so `datasync check` catches bad jobs before any system is
/// touched.
pub trait Plugin: Sized + 'static {
    /// Plugin name (`file`, `mysql`...).
    const NAME: &'static str;
    /// DataX names that map to this plugin.
    const ALIASES: &'static [&'static str];
    /// One line for `datasync plugins`.
    const DESCRIPTION: &'static str;
    /// Validates parameters and builds the plugin.
    fn from_params(params: Params<'_>) -> Result<Self, ConfigError>;
    /// Every parameter with a sample value or `${placeholder}`, for `datasync template`.
    fn template() -> Value;
    /// JSON Schema of the `parameter` object, from the structs `from_params` parses (see
    /// [`crate::schema::ParamsSchema`]), for `datasync schema`.
    fn schema(g: &mut SchemaGenerator) -> Schema;
    /// The comment of each parameter in `datasync template` (and the alternatives it shows
    /// commented out).
    fn template_notes() -> Vec<TemplateNote> {
        Vec::new()
    }
    /// What this plugin needs on this machine beyond the binary (a client library loaded at
    /// run time): `Err((mark for datasync plugins, what to install and the loader's error))`.
    fn runtime() -> Result<(), RuntimeMissing> {
        Ok(())
    }
}

/// A reader plugin type: a [`Plugin`] that is a [`Reader`], or a front that builds another
/// plugin's reader (e.g. by a `fileType` key) and implements this trait to hand it over.
pub trait ReaderPlugin: Plugin {
    /// The reader this plugin runs as.
    fn into_reader(self) -> Box<dyn Reader>;
}
impl<T: Plugin + Reader> ReaderPlugin for T {
    fn into_reader(self) -> Box<dyn Reader> {
        Box::new(self)
    }
}

/// A writer plugin type: a [`Plugin`] that is a [`Writer`], or a front that builds another
/// plugin's writer and implements this trait to hand it over.
pub trait WriterPlugin: Plugin {
    /// The writer this plugin runs as.
    fn into_writer(self) -> Box<dyn Writer>;
}
impl<T: Plugin + Writer> WriterPlugin for T {
    fn into_writer(self) -> Box<dyn Writer> {
        Box::new(self)
    }
}

pub(crate) type BuildFn<T> = fn(Params<'_>) -> Result<Box<T>, ConfigError>;

/// A plugin's run-time library that this machine lacks (see [`Plugin::runtime`]).
#[derive(Debug, Clone)]
pub struct RuntimeMissing {
    /// Short, for `datasync plugins` (e.g. "needs Oracle Instant Client (not found)").
    pub mark: &'static str,
    /// What to install and set, and the loader's own error.
    pub detail: String,
}

/// One registered plugin of either side.
#[derive(Clone)]
pub struct Entry<T: ?Sized> {
    /// Plugin name.
    pub name: &'static str,
    /// DataX aliases.
    pub aliases: &'static [&'static str],
    /// One-line description.
    pub description: &'static str,
    /// Parameter template.
    pub template: fn() -> Value,
    /// Comments of the template's parameters.
    pub notes: fn() -> Vec<TemplateNote>,
    /// Constructor.
    pub build: BuildFn<T>,
    /// Whether it can run on this machine.
    pub runtime: fn() -> Result<(), RuntimeMissing>,
    /// JSON Schema of its parameters.
    pub schema: fn(&mut SchemaGenerator) -> Schema,
}

impl<T: ?Sized> Entry<T> {
    fn of<P: Plugin>(build: BuildFn<T>) -> Self {
        Entry {
            name: P::NAME,
            aliases: P::ALIASES,
            description: P::DESCRIPTION,
            template: P::template,
            notes: P::template_notes,
            build,
            runtime: P::runtime,
            schema: P::schema,
        }
    }
}

impl<T: ?Sized> Entry<T> {
    fn answers_to(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// All readers and writers of this binary.
#[derive(Default)]
pub struct Registry {
    readers: Vec<Entry<dyn Reader>>,
    writers: Vec<Entry<dyn Writer>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a reader plugin type.
    pub fn add_reader<R: ReaderPlugin>(&mut self) {
        self.readers
            .push(Entry::of::<R>(|p| R::from_params(p).map(R::into_reader)));
    }

    /// Registers a writer plugin type.
    pub fn add_writer<W: WriterPlugin>(&mut self) {
        self.writers
            .push(Entry::of::<W>(|p| W::from_params(p).map(W::into_writer)));
    }

    /// Registered readers.
    pub fn readers(&self) -> &[Entry<dyn Reader>] {
        &self.readers
    }
    /// Registered writers.
    pub fn writers(&self) -> &[Entry<dyn Writer>] {
        &self.writers
    }

    /// Looks up a reader by name or alias; the error names what exists.
    pub fn reader(&self, name: &str, at: &str) -> Result<&Entry<dyn Reader>, ConfigError> {
        find(&self.readers, name, at, "reader")
    }
    /// Looks up a writer by name or alias; the error names what exists.
    pub fn writer(&self, name: &str, at: &str) -> Result<&Entry<dyn Writer>, ConfigError> {
        find(&self.writers, name, at, "writer")
    }
}

fn find<'a, T: ?Sized>(
    list: &'a [Entry<T>],
    name: &str,
    at: &str,
    side: &str,
) -> Result<&'a Entry<T>, ConfigError> {
    if let Some(e) = list.iter().find(|e| e.answers_to(name)) {
        return Ok(e);
    }
    let all: Vec<&str> = list
        .iter()
        .flat_map(|e| std::iter::once(e.name).chain(e.aliases.iter().copied()))
        .collect();
    let mut msg = format!("unknown {side} plugin \"{name}\"");
    if let Some(s) = crate::config::suggest(name, &all) {
        msg.push_str(&format!("; did you mean \"{s}\"?"));
    }
    msg.push_str(&format!(
        " (available: {}; see `datasync plugins`)",
        all.join(", ")
    ));
    Err(ConfigError::new(at, msg))
}
