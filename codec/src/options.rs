//! Format options and declared reader columns, parsed from plugin parameters. Pure: no I/O.

use crate::datetime::DateFormat;
use crate::types::parse_type;
use arrow_schema::DataType;
use datasync_engine::config::{join_path, ConfigError};
use encoding_rs::Encoding;
use serde::Deserialize;
use serde_json::Value;

/// `fileFormat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// RFC 4180 CSV: fields with the delimiter, quotes or line breaks are quoted.
    #[default]
    Csv,
    /// Delimited text without quoting (DataX's `text`): a value holding the delimiter or a
    /// line break cannot be written and becomes a dirty record.
    Text,
    /// One JSON object per line.
    Jsonl,
}

/// Options shared by the text decoder and encoder.
#[derive(Debug, Clone)]
pub struct TextOptions {
    /// File format.
    pub format: FileFormat,
    /// Field delimiter (one byte).
    pub delimiter: u8,
    /// Character encoding of the file.
    pub encoding: &'static Encoding,
    /// The text that stands for NULL.
    pub null_format: String,
    /// Pattern for dates/timestamps: the reader's default for date columns without their own
    /// `format`, the writer's output format. `None` = ISO (`2024-01-31 12:00:00`).
    pub date_format: Option<DateFormat>,
    /// Reader: skip the first line of each file.
    pub skip_header: bool,
    /// Reader: DataX's `csvReaderConfig` settings of the CSV parser.
    pub csv: CsvDialect,
}

/// How delimited text is parsed beyond the delimiter (DataX's `csvReaderConfig`). The default
/// is the format's own: quotes (`"`, doubled inside) in CSV, none in text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsvDialect {
    /// The quote character (default `"`).
    pub quote: Option<u8>,
    /// Whether quotes are interpreted; `None` = by the file format.
    pub quoting: Option<bool>,
    /// A backslash escapes the next character inside quotes (instead of doubled quotes).
    pub backslash_escape: bool,
    /// Lines starting with this character are skipped.
    pub comment: Option<u8>,
    /// Spaces around unquoted fields are removed.
    pub trim: bool,
    /// The record terminator, when not CR/LF/CRLF.
    pub terminator: Option<u8>,
}

impl TextOptions {
    /// Builds options from plugin parameters, with errors pointing at `path`.
    pub fn new(
        path: &str,
        format: FileFormat,
        delimiter: Option<&str>,
        encoding: &str,
        null_format: &str,
        date_format: Option<&str>,
        skip_header: bool,
    ) -> Result<Self, ConfigError> {
        let delimiter = match delimiter {
            None => b',',
            Some(d) if d.len() == 1 && d.is_ascii() && !matches!(d, "\"" | "\n" | "\r") => d.as_bytes()[0],
            Some(d) => {
                return Err(ConfigError::new(
                    join_path(path, "fieldDelimiter"),
                    format!("{d:?} is not supported; expected one ASCII character other than a quote or line break (e.g. \",\", \"\\t\", \"|\", \"\\u0001\")"),
                ))
            }
        };
        let date_format = date_format
            .map(DateFormat::parse)
            .transpose()
            .map_err(|e| ConfigError::new(join_path(path, "dateFormat"), e))?;
        Ok(TextOptions {
            format,
            delimiter,
            encoding: parse_encoding(encoding)
                .map_err(|e| ConfigError::new(join_path(path, "encoding"), e))?,
            null_format: null_format.to_string(),
            date_format,
            skip_header,
            csv: CsvDialect::default(),
        })
    }
}

/// Default `encoding` of the file-like plugins: UTF-8.
pub fn default_encoding() -> String {
    "UTF-8".into()
}

/// Default `nullFormat` of the file-like plugins: `\N`, as DataX.
pub fn default_null_format() -> String {
    "\\N".into()
}

/// Looks up an encoding label (`UTF-8`, `GBK`, `GB18030`, `ISO-8859-1`...). `UTF-16` is
/// big-endian, as in Java (and so DataX); WHATWG's label table, which `encoding_rs` follows,
/// makes it little-endian. A reader honours a byte order mark either way.
pub fn parse_encoding(label: &str) -> Result<&'static Encoding, String> {
    let label = label.trim();
    if label.eq_ignore_ascii_case("UTF-16") || label.eq_ignore_ascii_case("UTF16") {
        return Ok(encoding_rs::UTF_16BE);
    }
    Encoding::for_label(label.as_bytes()).ok_or_else(|| {
        format!("unknown encoding \"{label}\" (e.g. UTF-8, GBK, GB18030, ISO-8859-1)")
    })
}

/// Where a reader column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The field at this 0-based position (CSV/text).
    Index(usize),
    /// The member with this key (JSON Lines).
    Key(String),
    /// A constant (`value`), the same for every row.
    Const(String),
}

/// One declared reader column.
#[derive(Debug, Clone)]
pub struct ReadColumn {
    /// Column name in the Arrow schema.
    pub name: String,
    /// Where the value comes from.
    pub source: Source,
    /// Arrow type.
    pub data_type: DataType,
    /// Date pattern for this column.
    pub format: Option<DateFormat>,
    /// The job named the column (`name`); otherwise the name is `c<index>` and a header line
    /// (`skipHeader`) may name it.
    pub named: bool,
}

/// The reader's `column` parameter.
#[derive(Debug, Clone)]
pub enum ReadColumns {
    /// `["*"]`: every field, as strings (names from the header with `skipHeader`, else c0..cN).
    All,
    /// Declared columns.
    Listed(Vec<ReadColumn>),
}

/// One entry of a reader's `column` list: `"*"`, a name, or an object.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnSpec {
    /// `"*"`: every field / column.
    All,
    /// A bare name (JSON Lines key, Parquet column).
    Name(String),
    /// `{"index" | "name" | "value", "type", "format"}`.
    Field(FieldSpec),
}

/// A reader column given as an object.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// 0-based field position (CSV/text; a numeric string is accepted, as DataX does).
    #[serde(default, deserialize_with = "lenient_index")]
    #[schemars(with = "Option<datasync_engine::schema::Lenient<usize>>")]
    pub index: Option<usize>,
    /// Column name; for JSON Lines also the key to read.
    pub name: Option<String>,
    /// Type name (DataX or Arrow); default string.
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// Constant value.
    pub value: Option<Value>,
    /// Date pattern.
    pub format: Option<String>,
}

fn lenient_index<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(|n| Some(n as usize))
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "wrong type: found {v}, expected a field position >= 0"
                ))
            }),
    }
}

impl<'de> Deserialize<'de> for ColumnSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ColumnSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "\"*\", a column name or an object such as {\"index\": 0, \"type\": \"long\"}",
                )
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<ColumnSpec, E> {
                match s {
                    "*" => Ok(ColumnSpec::All),
                    "" => Err(E::custom("a column name cannot be empty")),
                    _ => Ok(ColumnSpec::Name(s.to_string())),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<ColumnSpec, A::Error> {
                FieldSpec::deserialize(serde::de::value::MapAccessDeserializer::new(m))
                    .map(ColumnSpec::Field)
            }
        }
        d.deserialize_any(V)
    }
}

/// The default reader `column`: `["*"]`.
pub fn all_columns() -> Vec<ColumnSpec> {
    vec![ColumnSpec::All]
}

/// Parses the reader's `column` list at `path`.
pub fn parse_columns(
    values: &[ColumnSpec],
    path: &str,
    format: FileFormat,
) -> Result<ReadColumns, ConfigError> {
    if values.is_empty() {
        return Err(ConfigError::new(
            path,
            "must list at least one column, or be [\"*\"]",
        ));
    }
    if values == [ColumnSpec::All] {
        if format == FileFormat::Jsonl {
            return Err(ConfigError::new(
                path,
                "JSON Lines needs named columns: [{\"name\": \"id\", \"type\": \"long\"}, ...]",
            ));
        }
        return Ok(ReadColumns::All);
    }
    let mut out = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let spec = match v {
            ColumnSpec::Name(s) if format == FileFormat::Jsonl => FieldSpec {
                index: None,
                name: Some(s.clone()),
                ty: None,
                value: None,
                format: None,
            },
            ColumnSpec::All => {
                return Err(ConfigError::new(at, "\"*\" must be the only entry of column"));
            }
            ColumnSpec::Field(f) => f.clone(),
            ColumnSpec::Name(_) => {
                return Err(ConfigError::new(
                    at,
                    "expected an object such as {\"index\": 0, \"type\": \"long\"} or {\"value\": \"x\", \"type\": \"string\"}",
                ))
            }
        };
        let ty_name = spec.ty.as_deref().unwrap_or("string");
        let data_type =
            parse_type(ty_name).map_err(|e| ConfigError::new(format!("{at}.type"), e))?;
        let col_format = spec
            .format
            .as_deref()
            .map(DateFormat::parse)
            .transpose()
            .map_err(|e| ConfigError::new(format!("{at}.format"), e))?;
        let source = match (&spec.value, spec.index, &spec.name, format) {
            (Some(v), None, _, _) => Source::Const(datasync_engine::config::constant_text(v)),
            (Some(_), Some(_), _, _) => {
                return Err(ConfigError::new(
                    at,
                    "give either \"index\" or \"value\", not both",
                ));
            }
            (None, Some(_), _, FileFormat::Jsonl) => {
                return Err(ConfigError::new(
                    format!("{at}.index"),
                    "JSON Lines columns are read by \"name\", not \"index\"",
                ));
            }
            (None, Some(ix), _, _) => Source::Index(ix),
            (None, None, Some(n), FileFormat::Jsonl) => Source::Key(n.clone()),
            (None, None, _, _) => {
                return Err(ConfigError::new(
                    at,
                    if format == FileFormat::Jsonl {
                        "missing required key \"name\" (or \"value\" for a constant)"
                    } else {
                        "missing required key \"index\" (or \"value\" for a constant)"
                    },
                ));
            }
        };
        let name = spec.name.clone().unwrap_or_else(|| match &source {
            Source::Index(ix) => format!("c{ix}"),
            _ => format!("c{i}"),
        });
        if let Source::Const(text) = &source {
            crate::builder::check_value(&data_type, col_format.as_ref(), text)
                .map_err(|e| ConfigError::new(format!("{at}.value"), e))?;
        }
        out.push(ReadColumn {
            name,
            source,
            data_type,
            format: col_format,
            named: spec.name.is_some(),
        });
    }
    Ok(ReadColumns::Listed(out))
}

impl schemars::JsonSchema for ColumnSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ColumnSpec".into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let field = g.subschema_for::<FieldSpec>();
        schemars::json_schema!({
            "description": "\"*\" (every field), a column name, or a field object.",
            "anyOf": [{"type": "string", "minLength": 1}, field]
        })
    }
}
