//! One plugin `parameter` object parsed as several typed parts (a connection, a location, the
//! text-file options...), each strictly, so plugins share option structs without building each
//! other from spliced JSON. serde's `flatten` cannot do this: it loses the JSON path of errors
//! inside the flattened part and cannot list the allowed keys.

use super::{join_path, parse_params, suggest, ConfigError};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// The keys a `#[derive(Deserialize)]` struct accepts (its serde field names, aliases
/// included), or none for any other type.
pub fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    match T::deserialize(FieldProbe) {
        Err(Probed(fields)) => fields,
        Ok(_) => &[],
    }
}

/// The outcome of probing: the field names a struct asked for.
#[derive(Debug)]
struct Probed(&'static [&'static str]);

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "probed {} fields", self.0.len())
    }
}

impl std::error::Error for Probed {}

impl de::Error for Probed {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probed(&[])
    }
}

/// A deserializer that only records the field list `deserialize_struct` is given.
struct FieldProbe;

impl<'de> Deserializer<'de> for FieldProbe {
    type Error = Probed;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed(&[]))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        Err(Probed(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// A plugin `parameter` object taken apart into typed parts: [`ParamParts::take`] parses the
/// keys one struct names, [`ParamParts::finish`] the rest, refusing keys no part knows with the
/// full list of allowed keys.
#[derive(Debug)]
pub struct ParamParts<'a> {
    at: &'a str,
    rest: Map<String, Value>,
    known: Vec<&'static str>,
    hidden: Vec<&'static str>,
}

impl<'a> ParamParts<'a> {
    /// Starts on `value`, which must be an object, at JSON path `at`.
    pub fn new(value: &Value, at: &'a str) -> Result<Self, ConfigError> {
        match value {
            Value::Object(o) => Ok(ParamParts {
                at,
                rest: o.clone(),
                known: Vec::new(),
                hidden: Vec::new(),
            }),
            other => Err(ConfigError::new(
                at,
                format!("wrong type: found {}, expected an object", kind(other)),
            )),
        }
    }

    /// The JSON path of the `parameter` object.
    pub fn at(&self) -> &'a str {
        self.at
    }

    /// The value of a key not taken yet.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.rest.get(key)
    }

    /// Leaves `key` out of the allowed keys an unknown-key error lists (a key a part has but
    /// this plugin refuses with its own message).
    pub fn hide(&mut self, key: &'static str) {
        self.hidden.push(key);
    }

    /// Takes out the DataX keys that have no effect here (`(key, why)`), warning once for each
    /// one present.
    pub fn ignore(&mut self, keys: &[(&'static str, &str)]) {
        take_ignored(&mut self.rest, self.at, keys);
        self.known.extend(keys.iter().map(|(k, _)| *k));
    }

    /// Parses the keys `T` names (and only those) into `T`. A required key that is missing
    /// while a key not taken yet looks like it is reported as that misspelled key.
    pub fn take<T: DeserializeOwned>(&mut self) -> Result<T, ConfigError> {
        let fields = struct_fields::<T>();
        self.known.extend_from_slice(fields);
        let mut part = Map::new();
        for f in fields {
            if let Some(v) = self.rest.remove(*f) {
                part.insert((*f).to_string(), v);
            }
        }
        parse_params(&Value::Object(part), self.at).map_err(|e| self.misspelled(e))
    }

    /// `e` about a missing key, restated as the unknown key that was probably meant for it.
    fn misspelled(&self, e: ConfigError) -> ConfigError {
        let Some(missing) = e
            .message
            .strip_prefix("missing required key \"")
            .and_then(|m| m.strip_suffix('"'))
        else {
            return e;
        };
        match self.rest.keys().find(|k| suggest(k, &[missing]).is_some()) {
            // Parts taken later are not known yet: the suggestion, not a partial list.
            Some(k) => ConfigError::new(
                join_path(self.at, k),
                format!("unknown key; did you mean \"{missing}\"?"),
            ),
            None => e,
        }
    }

    fn allowed(&self) -> Vec<&'static str> {
        self.known
            .iter()
            .filter(|k| !self.hidden.contains(k))
            .copied()
            .collect()
    }

    /// Parses every key left into `T`; a key that neither `T` nor an earlier part names is an
    /// error listing all allowed keys.
    pub fn finish<T: DeserializeOwned>(mut self) -> Result<T, ConfigError> {
        let fields = struct_fields::<T>();
        self.known.extend_from_slice(fields);
        if let Some(k) = self.rest.keys().find(|k| !fields.contains(&k.as_str())) {
            let allowed = self.allowed();
            let mut msg = "unknown key".to_string();
            if let Some(best) = suggest(k, &allowed) {
                msg.push_str(&format!("; did you mean \"{best}\"?"));
            }
            msg.push_str(&format!(" (allowed: {})", allowed.join(", ")));
            return Err(ConfigError::new(join_path(self.at, k), msg));
        }
        let rest = std::mem::take(&mut self.rest);
        parse_params(&Value::Object(rest), self.at).map_err(|e| self.misspelled(e))
    }
}

fn take_ignored(o: &mut Map<String, Value>, at: &str, keys: &[(&str, &str)]) {
    for (k, why) in keys {
        if o.remove(*k).is_some() {
            tracing::warn!("{}: ignored: {why}", join_path(at, k));
        }
    }
}

pub(super) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Conn {
        host: String,
        #[serde(default, alias = "hostPort")]
        port: Option<u16>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Text {
        #[serde(default)]
        skip_header: bool,
    }

    #[test]
    fn fields_of_a_struct_include_aliases() {
        let f = struct_fields::<Conn>();
        assert!(f.contains(&"host") && f.contains(&"port") && f.contains(&"hostPort"));
        assert!(struct_fields::<String>().is_empty());
    }

    #[test]
    fn parts_parse_strictly_with_paths() {
        let v = json!({"host": "h", "skipHeader": true});
        let mut p = ParamParts::new(&v, "r").unwrap();
        let c: Conn = p.take().unwrap();
        let t: Text = p.finish().unwrap();
        assert_eq!((c.host.as_str(), c.port), ("h", None));
        assert!(t.skip_header);

        let v = json!({"host": "h", "skipHeader": "yes"});
        let mut p = ParamParts::new(&v, "r").unwrap();
        let _: Conn = p.take().unwrap();
        let e = p.finish::<Text>().unwrap_err();
        assert_eq!(e.path, "r.skipHeader");

        let v = json!({"host": "h", "hots": 1});
        let mut p = ParamParts::new(&v, "r").unwrap();
        let _: Conn = p.take().unwrap();
        let e = p.finish::<Text>().unwrap_err();
        assert_eq!(e.path, "r.hots");
        assert!(e.message.contains("did you mean \"host\""), "{}", e.message);
        assert!(e.message.contains("skipHeader"), "{}", e.message);

        let v = json!({"hots": "h", "skipHeader": true});
        let mut p = ParamParts::new(&v, "r").unwrap();
        let e = p.take::<Conn>().unwrap_err();
        assert_eq!(e.path, "r.hots", "a misspelled required key: {e}");
        assert!(e.message.contains("did you mean \"host\""), "{e}");

        let e = ParamParts::new(&json!([1]), "r").unwrap_err();
        assert!(e.message.contains("expected an object"));
    }
}

/// How a plugin's `parameter` object is laid out: the structs it is parsed into, in the order
/// they take their keys (a tuple of one to four; the last takes every key left and refuses
/// unknown ones). Parsing ([`crate::Params::parts`]) and the JSON Schema
/// ([`crate::schema::layout`]) both follow the one tuple, so the two cannot drift apart.
pub trait Layout: Sized {
    /// Parses each part in order.
    fn take_all(parts: ParamParts<'_>) -> Result<Self, ConfigError>;
    /// Adds each part's keys to `s`.
    fn schema_parts(s: crate::schema::ParamsSchema<'_>) -> crate::schema::ParamsSchema<'_>;
}

impl<A: DeserializeOwned + schemars::JsonSchema> Layout for (A,) {
    fn take_all(parts: ParamParts<'_>) -> Result<Self, ConfigError> {
        Ok((parts.finish()?,))
    }

    fn schema_parts(s: crate::schema::ParamsSchema<'_>) -> crate::schema::ParamsSchema<'_> {
        s.part::<A>()
    }
}

/// [`Layout`] for a tuple: every part but the last taken by name, the last finishing.
macro_rules! layout_tuple {
    ($($part:ident $var:ident),+ ; $last:ident) => {
        impl<$($part: DeserializeOwned + schemars::JsonSchema,)+ $last: DeserializeOwned + schemars::JsonSchema>
            Layout for ($($part,)+ $last)
        {
            fn take_all(mut parts: ParamParts<'_>) -> Result<Self, ConfigError> {
                $(let $var: $part = parts.take()?;)+
                Ok(($($var,)+ parts.finish()?))
            }

            fn schema_parts(s: crate::schema::ParamsSchema<'_>) -> crate::schema::ParamsSchema<'_> {
                s$(.part::<$part>())+.part::<$last>()
            }
        }
    };
}

layout_tuple!(A a; B);
layout_tuple!(A a, B b; C);
layout_tuple!(A a, B b, C c; D);
