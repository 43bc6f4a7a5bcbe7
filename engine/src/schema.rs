//! JSON Schema (draft 2020-12) of jobs and plugin parameters, generated (schemars) from the
//! same serde structs that parse them, for platforms that validate jobs or build forms.
//! Keys our parser reads more leniently than their Rust type says (quoted scalars, `${var}`
//! placeholders, case-insensitive names) say so here, so a job the binary accepts validates.

pub use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::marker::PhantomData;

/// Text holding a `${...}` placeholder (`${name}`, `${env:NAME}`, `${file:PATH}`, several or
/// beside other text), or a bare `$name`: filled in at run time, so any value may stand there.
pub const PLACEHOLDER: &str = r"\$\{[^}]+\}|^\$[A-Za-z_][A-Za-z0-9_]*$";

/// A string that is (or holds) a placeholder.
fn placeholder() -> Value {
    serde_json::json!({
        "type": "string",
        "pattern": PLACEHOLDER,
        "description": "a ${...} placeholder filled in at run time"
    })
}

/// The generator every schema of ours comes from: draft 2020-12, definitions under `$defs`.
pub fn generator() -> SchemaGenerator {
    schemars::generate::SchemaSettings::draft2020_12().into_generator()
}

/// A string: either `pattern`'s text or a placeholder.
fn text_or_placeholder(pattern: &str, what: &str) -> Value {
    serde_json::json!({
        "type": "string",
        "pattern": format!("^\\s*(?:{pattern})\\s*$|{PLACEHOLDER}"),
        "description": format!("{what} written as text, or a ${{var}} placeholder"),
    })
}

/// `T`, or a string holding it (`"true"`, `" 2048"`) or a placeholder: what
/// [`crate::config::lenient`] and its siblings accept.
pub struct Lenient<T>(PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Lenient<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("Lenient_{}", T::schema_name()).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let inner = g.subschema_for::<T>();
        let kind = inner.get("type").and_then(Value::as_str).unwrap_or("");
        let text = match kind {
            "boolean" => text_or_placeholder(
                "[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]",
                "a boolean (any letter case)",
            ),
            "integer" => text_or_placeholder("[+-]?[0-9]+", "a whole number"),
            "number" => text_or_placeholder(
                r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?",
                "a number",
            ),
            _ => serde_json::json!({"type": "string"}),
        };
        json_schema!({ "anyOf": [inner, text] })
    }
}

impl<T> Lenient<T>
where
    T: std::str::FromStr + serde::de::DeserializeOwned,
    T::Err: std::fmt::Display,
{
    /// [`crate::config::lenient`], for `#[serde(with = "datasync_engine::schema::Lenient::<T>")]`:
    /// one attribute gives both the lenient parsing and this schema.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        crate::config::lenient(d)
    }

    /// `T` as it is (the schema's `default`).
    pub fn serialize<S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error>
    where
        T: serde::Serialize,
    {
        serde::Serialize::serialize(v, s)
    }
}

/// An optional [`Lenient`] (`null` or absent: `None`), for
/// `#[serde(default, with = "datasync_engine::schema::LenientOpt::<T>")]`.
pub struct LenientOpt<T>(PhantomData<T>);

impl<T> LenientOpt<T>
where
    T: std::str::FromStr + serde::de::DeserializeOwned,
    T::Err: std::fmt::Display,
{
    /// [`crate::config::lenient_opt`].
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        crate::config::lenient_opt(d)
    }

    /// The value as it is (the schema's `default`).
    pub fn serialize<S: serde::Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error>
    where
        T: serde::Serialize,
    {
        serde::Serialize::serialize(v, s)
    }
}

impl<T: JsonSchema> JsonSchema for LenientOpt<T> {
    fn schema_name() -> Cow<'static, str> {
        <Option<Lenient<T>>>::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        <Option<Lenient<T>>>::json_schema(g)
    }
}

/// A string or a list of strings ([`crate::config::one_or_many`]).
pub struct OneOrMany;

impl JsonSchema for OneOrMany {
    fn schema_name() -> Cow<'static, str> {
        "OneOrMany".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
        })
    }
}

/// One of `names`, in any letter case and with spaces around it (JSON Schema has no
/// case-insensitive enum: a pattern with each letter as `[aA]`), or a placeholder; listed in
/// `examples` for forms.
pub fn any_case(names: &[&str], description: &str) -> Schema {
    any_case_with(names, description, true, true)
}

/// [`any_case`]; `spaces`: whether spaces around the name are accepted (plugin names: no);
/// `placeholder`: whether a placeholder is (not where the name chooses a schema).
fn any_case_with(names: &[&str], description: &str, spaces: bool, placeholder: bool) -> Schema {
    let alts: Vec<String> = names
        .iter()
        .map(|n| {
            n.chars()
                .map(|c| {
                    let (l, u) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
                    if l != u {
                        format!("[{l}{u}]")
                    } else if c.is_ascii_alphanumeric() || c == '_' {
                        c.to_string()
                    } else {
                        format!("\\{c}")
                    }
                })
                .collect()
        })
        .collect();
    let space = if spaces { "\\s*" } else { "" };
    json_schema!({
        "type": "string",
        "pattern": format!(
            "^{space}(?:{}){space}${}",
            alts.join("|"),
            if placeholder { format!("|{PLACEHOLDER}") } else { String::new() }
        ),
        "examples": names,
        "description": description,
    })
}

/// The schema of a `parameter` object laid out as `L` (see [`crate::config::Layout`]), with
/// the keys accepted and ignored (`(key, why)`) that [`crate::Params::parts`] takes out first.
pub fn layout<L: crate::config::Layout>(
    g: &mut SchemaGenerator,
    ignored: &[(&str, &str)],
) -> Schema {
    L::schema_parts(ParamsSchema::new(g).ignored(ignored)).build()
}

/// The schema of a plugin's `parameter` object, assembled the way its constructor takes it
/// apart (see [`crate::config::ParamParts`]): the properties of each part, keys accepted and
/// ignored, and no other key.
pub struct ParamsSchema<'g> {
    g: &'g mut SchemaGenerator,
    properties: Map<String, Value>,
    required: Vec<Value>,
    any_of: Vec<Value>,
}

impl<'g> ParamsSchema<'g> {
    /// An empty parameter object.
    pub fn new(g: &'g mut SchemaGenerator) -> Self {
        ParamsSchema {
            g,
            properties: Map::new(),
            required: Vec::new(),
            any_of: Vec::new(),
        }
    }

    /// The keys of part `T` (a struct read with `ParamParts::take` / `finish` or
    /// `parse_params`).
    pub fn part<T: JsonSchema>(mut self) -> Self {
        let s = T::json_schema(self.g);
        self.merge(s);
        self
    }

    /// The keys of an object schema written by hand.
    pub fn merge(&mut self, s: Schema) {
        if let Some(Value::Object(p)) = s.get("properties") {
            for (k, v) in p {
                self.properties.insert(k.clone(), v.clone());
            }
        }
        if let Some(Value::Array(r)) = s.get("required") {
            self.required.extend(r.iter().cloned());
        }
    }

    /// Keys accepted and ignored with a warning (`(key, why)`).
    pub fn ignored(mut self, keys: &[(&str, &str)]) -> Self {
        for (k, why) in keys {
            self.properties.insert(
                (*k).to_string(),
                serde_json::json!({"description": format!("Accepted and ignored: {why}.")}),
            );
        }
        self
    }

    /// Without key `name` (a part's key that this plugin refuses).
    pub fn without(mut self, name: &str) -> Self {
        self.properties.remove(name);
        self.required.retain(|r| r != name);
        self
    }

    /// One more key.
    pub fn key(mut self, name: &str, schema: Value, required: bool) -> Self {
        self.properties.insert(name.to_string(), schema);
        if required {
            self.required.push(Value::from(name));
        }
        self
    }

    /// Two shapes of the parameter object chosen by the value of `key` (e.g. hdfs's text
    /// keys when `fileType` is text or csv, else its Parquet keys): `when` (values in any
    /// case) selects `then`, anything else `otherwise`. The keys given so far belong to both.
    pub fn choose_by(mut self, key: &str, when: &[&str], then: Schema, otherwise: Schema) -> Self {
        let test = serde_json::json!({
            "properties": {key: any_case_with(when, "", true, false).to_value()},
            "required": [key]
        });
        self.any_of = vec![test, then.to_value(), otherwise.to_value()];
        self
    }

    /// The finished object schema: these keys and no other.
    pub fn build(self) -> Schema {
        let mut o = Map::new();
        o.insert("type".into(), "object".into());
        if let [test, then, otherwise] = self.any_of.as_slice() {
            // Each shape lists its own keys; the common ones are merged into both.
            let merged = |v: &Value| {
                let mut v = v.clone();
                if let Some(p) = v.get_mut("properties").and_then(Value::as_object_mut) {
                    for (k, s) in &self.properties {
                        p.entry(k.clone()).or_insert_with(|| s.clone());
                    }
                }
                v
            };
            // A placeholder in the key may become either value: either shape then.
            let key = test["required"][0].clone();
            let placeholder_test = serde_json::json!({
                "properties": {key.as_str().unwrap_or_default(): placeholder()},
                "required": [key]
            });
            o.insert("if".into(), test.clone());
            o.insert("then".into(), merged(then));
            o.insert(
                "else".into(),
                serde_json::json!({
                    "if": placeholder_test,
                    "then": {"anyOf": [merged(then), merged(otherwise)]},
                    "else": merged(otherwise)
                }),
            );
            return Schema::from(o);
        }
        o.insert("properties".into(), Value::Object(self.properties));
        if !self.required.is_empty() {
            o.insert("required".into(), Value::Array(self.required));
        }
        o.insert("additionalProperties".into(), Value::Bool(false));
        Schema::from(o)
    }

    /// The generator, for schemas of parts written by hand.
    pub fn generator(&mut self) -> &mut SchemaGenerator {
        self.g
    }
}

/// A manual schema for a type with its own `Deserialize`: `$name` in `$defs`, `$schema` its
/// JSON.
macro_rules! manual_schema {
    ($t:ty, $name:literal, $schema:tt) => {
        impl JsonSchema for $t {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

manual_schema!(crate::config::Secret, "Secret", {
    "type": ["string", "number"],
    "writeOnly": true,
    "description": "A secret: masked in everything the binary prints (a number is taken as its digits)."
});

manual_schema!(crate::config::HumanDuration, "Duration", {
    "anyOf": [
        {"type": "number", "minimum": 0, "description": "seconds"},
        {"type": "string", "pattern": "^\\s*[0-9.]+\\s*(ms|s|m|min|h)?\\s*$|^\\$(\\{[A-Za-z0-9_.\\-]+\\}|[A-Za-z_][A-Za-z0-9_]*)$",
         "description": "a number with a unit: 500ms, 30s, 10m, 2h"}
    ]
});

manual_schema!(crate::config::ByteSize, "ByteSize", {
    "anyOf": [
        {"type": "integer", "minimum": 0, "description": "bytes"},
        {"type": "string", "pattern": "^\\s*[0-9]+\\s*([kKmMgGtT]([iI]?[bB])?|[bB])?\\s*$|^\\$(\\{[A-Za-z0-9_.\\-]+\\}|[A-Za-z_][A-Za-z0-9_]*)$",
         "description": "a size with a unit: 512k, 128MB, 1GiB (powers of 1024)"}
    ]
});

/// `JsonSchema` for an enum read by name in any letter case: the names it accepts.
#[macro_export]
macro_rules! any_case_schema {
    ($t:ty, $name:literal, [$($v:literal),* $(,)?], $desc:literal) => {
        impl $crate::schema::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }

            fn json_schema(_: &mut $crate::schema::SchemaGenerator) -> $crate::schema::Schema {
                $crate::schema::any_case(&[$($v),*], $desc)
            }
        }
    };
}

/// Lets every enumerated value also be a placeholder, as the binary reads a job only after
/// filling them in: an `enum`, or a `oneOf` of `const`s (schemars' documented enums), gains a
/// placeholder alternative.
fn as_written(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (_, child) in o.iter_mut() {
                as_written(child);
            }
            let consts = o
                .get("oneOf")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x.get("const").is_some()));
            if consts {
                if let Some(Value::Array(items)) = o.remove("oneOf") {
                    let mut items = items;
                    items.push(placeholder());
                    o.insert("anyOf".into(), Value::Array(items));
                }
            } else if let Some(e) = o.remove("enum") {
                let mut orig = Map::new();
                orig.insert("enum".into(), e);
                if let Some(t) = o.remove("type") {
                    orig.insert("type".into(), t);
                }
                o.insert(
                    "anyOf".into(),
                    Value::Array(vec![Value::Object(orig), placeholder()]),
                );
            }
        }
        Value::Array(a) => a.iter_mut().for_each(as_written),
        _ => {}
    }
}

/// The schema of one side's plugins (`reader` or `writer`) in a job: `name` any registered
/// name or alias (any letter case), `parameter` that plugin's schema (`$defs/<side>.<name>`).
fn side_schema<T: ?Sized>(
    side: &str,
    entries: &[crate::registry::Entry<T>],
    g: &mut SchemaGenerator,
    defs: &mut Map<String, Value>,
) -> Value {
    let mut all: Vec<&str> = Vec::new();
    let mut choices = Vec::new();
    for e in entries {
        let names: Vec<&str> = std::iter::once(e.name)
            .chain(e.aliases.iter().copied())
            .collect();
        all.extend(&names);
        let key = format!("{side}.{}", e.name);
        let mut s = (e.schema)(g).to_value();
        if let Some(o) = s.as_object_mut() {
            o.insert("title".into(), format!("{} {side}", e.name).into());
            o.insert("description".into(), e.description.into());
        }

        // A plugin with required keys needs its `parameter`.
        let needs = s
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        let mut then = serde_json::json!({
            "properties": {"parameter": {"$ref": format!("#/$defs/{key}")}}
        });
        if needs {
            then["required"] = serde_json::json!(["parameter"]);
        }
        defs.insert(key.clone(), s);
        choices.push(serde_json::json!({
            "if": {"properties": {"name": any_case_with(&names, "", false, false).to_value()}},
            "then": then
        }));
    }
    serde_json::json!({
        "type": "object",
        "required": ["name"],
        "additionalProperties": false,
        "properties": {
            "name": any_case_with(&all, &format!("The {side} plugin: a name or DataX alias (any letter case)."), false, true).to_value(),
            "parameter": {"type": "object"}
        },
        "allOf": choices
    })
}

/// The JSON Schema of a job file as `datasync run` reads it (before `${var}` substitution):
/// `job.setting` and `job.content[0]`'s reader and writer, each plugin's `parameter` chosen by
/// its `name`.
pub fn job_schema(registry: &crate::Registry) -> Value {
    let mut g = generator();
    let mut defs = Map::new();
    let setting = g.subschema_for::<crate::job::Setting>().to_value();
    let verify = g.subschema_for::<crate::verify::VerifyConfig>().to_value();
    let reader = side_schema("reader", registry.readers(), &mut g, &mut defs);
    let writer = side_schema("writer", registry.writers(), &mut g, &mut defs);
    defs.insert("reader".into(), reader);
    defs.insert("writer".into(), writer);
    for (k, v) in g.take_definitions(true) {
        defs.insert(k, v);
    }
    let mut schema = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:datasync:schema:job",
        "title": "datasync job",
        "description": "A datasync (DataX-compatible) job file.",
        "type": "object",
        "required": ["job"],
        "additionalProperties": false,
        "properties": {
            "job": {
                "type": "object",
                "required": ["content"],
                "additionalProperties": false,
                "properties": {
                    "setting": setting,
                    "verify": verify,
                    "content": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["reader", "writer"],
                            "additionalProperties": false,
                            "properties": {
                                "reader": {"$ref": "#/$defs/reader"},
                                "writer": {"$ref": "#/$defs/writer"}
                            }
                        }
                    }
                }
            },
            "core": {"description": "DataX's engine tuning: accepted and ignored."},
            "setting": {"description": "A setting beside job: accepted with a warning, not read (DataX does not read it either)."}
        },
        "$defs": defs
    });
    as_written(&mut schema);
    schema
}

/// The JSON Schema of one plugin's `parameter` object: `which` is `reader:NAME`,
/// `writer:NAME`, a DataX alias (`mysqlreader`) or a name only one side has.
pub fn plugin_schema(registry: &crate::Registry, which: &str) -> Result<Value, String> {
    let (side, name) = match which.split_once(':') {
        Some((s, n)) if s.eq_ignore_ascii_case("reader") || s.eq_ignore_ascii_case("writer") => {
            (Some(s.to_ascii_lowercase()), n)
        }
        _ => (None, which),
    };
    let r = registry
        .reader(name, "schema")
        .ok()
        .filter(|_| side.as_deref() != Some("writer"));
    let w = registry
        .writer(name, "schema")
        .ok()
        .filter(|_| side.as_deref() != Some("reader"));
    let mut g = generator();
    let (schema, title) = match (r, w) {
        (Some(r), None) => ((r.schema)(&mut g), format!("{} reader", r.name)),
        (None, Some(w)) => ((w.schema)(&mut g), format!("{} writer", w.name)),
        (Some(_), Some(_)) => {
            return Err(format!(
                "\"{which}\" is both a reader and a writer: name one, as reader:{name} or \
                 writer:{name}"
            ))
        }
        (None, None) => {
            return Err(format!(
                "no {} plugin \"{name}\" (see `datasync plugins`)",
                side.as_deref().unwrap_or("reader or writer")
            ))
        }
    };
    let mut s = schema.to_value();
    if let Some(o) = s.as_object_mut() {
        o.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        o.insert("title".into(), format!("{title} parameter").into());
        let defs = g.take_definitions(true);
        if !defs.is_empty() {
            o.insert("$defs".into(), Value::Object(defs));
        }
    }
    as_written(&mut s);
    Ok(s)
}
