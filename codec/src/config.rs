//! The text-file keys of a plugin's `parameter`, typed once for every plugin that reads or
//! writes delimited text, CSV or JSON Lines (file, SFTP, hdfs text/csv). Each plugin parses its
//! own keys (location, connection) beside these with
//! [`ParamParts`](datasync_engine::config::ParamParts).

use crate::options::{
    all_columns, parse_columns, ColumnSpec, FileFormat, ReadColumns, TextOptions,
};
use crate::Compression;
use datasync_engine::config::{join_path, one_or_many, ConfigError};
use serde::de::Deserializer;
use serde::Deserialize;
use serde_json::Value;

/// What a text-file reader reads and how it decodes it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TextReadConfig {
    /// Files, directories (every non-hidden file below) or globs (`*`, `?`, `[..]`, `**`).
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "datasync_engine::schema::OneOrMany")]
    pub path: Vec<String>,
    /// `["*"]` (every field as string) or `[{index, type, format}]` / `[{value, type}]`;
    /// JSON Lines: `[{name, type}]`.
    #[serde(default = "all_columns")]
    pub column: Vec<ColumnSpec>,
    /// One ASCII character (default `,`).
    pub field_delimiter: Option<String>,
    /// Character encoding (default UTF-8; GBK, GB18030, ...).
    #[serde(default = "crate::default_encoding")]
    pub encoding: String,
    /// Skip the first line of every file.
    #[serde(default, with = "datasync_engine::schema::Lenient::<bool>")]
    pub skip_header: bool,
    /// Text that reads as NULL (default `\N`).
    #[serde(default = "crate::default_null_format")]
    pub null_format: String,
    /// `none` (default), `gzip`, `bzip2` or `zstd`.
    #[serde(default)]
    pub compress: Compression,
    /// `csv` (default), `text` or `jsonl`.
    #[serde(default)]
    pub file_format: FileFormat,
    /// Default pattern for date columns without their own `format`.
    pub date_format: Option<String>,
    /// DataX's settings of its CSV parser (quote, escape, comment, trim, record delimiter).
    pub csv_reader_config: Option<CsvReaderConfig>,
}

/// DataX's `csvReaderConfig` (the settings of the CSV parser DataX reads text with).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CsvReaderConfig {
    /// Header-name matching; no effect (columns are chosen by index).
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub case_sensitive: Option<bool>,
    /// The quote character.
    pub text_qualifier: Option<String>,
    /// Remove spaces around unquoted fields.
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub trim_whitespace: Option<bool>,
    /// Whether quotes are interpreted.
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub use_text_qualifier: Option<bool>,
    /// The field delimiter (overrides `fieldDelimiter`, as in DataX).
    pub delimiter: Option<String>,
    /// The record delimiter (one character; default CR, LF or CRLF).
    pub record_delimiter: Option<String>,
    /// The comment character (with `useComments`).
    pub comment: Option<String>,
    /// Skip lines that start with `comment`.
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub use_comments: Option<bool>,
    /// 1: a quote inside quotes is doubled (default); 2: backslash escapes.
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<u8>")]
    pub escape_mode: Option<u8>,
    /// DataX's 100,000-character field limit.
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub safety_switch: Option<bool>,
    /// Skip empty lines (always done).
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub skip_empty_records: Option<bool>,
    /// Keep the raw record text; no effect on the data.
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub capture_raw_record: Option<bool>,
}

impl CsvReaderConfig {
    /// Applies the settings to `opts`, warning about those without effect here.
    fn apply(&self, opts: &mut TextOptions, at: &str) -> Result<(), ConfigError> {
        let at = join_path(at, "csvReaderConfig");
        let one_char = |key: &str, v: &Option<String>| -> Result<Option<u8>, ConfigError> {
            match v.as_deref() {
                None => Ok(None),
                Some(c) if c.len() == 1 && c.is_ascii() => Ok(Some(c.as_bytes()[0])),
                Some(c) => Err(ConfigError::new(
                    join_path(&at, key),
                    format!("{c:?}: expected one ASCII character"),
                )),
            }
        };
        let ignored = |key: &str, why: &str| {
            tracing::warn!("{}: ignored: {why}", join_path(&at, key));
        };
        let csv = &mut opts.csv;
        csv.quote = one_char("textQualifier", &self.text_qualifier)?;
        csv.quoting = self.use_text_qualifier;
        csv.trim = self.trim_whitespace.unwrap_or(false);
        if let Some(d) = one_char("delimiter", &self.delimiter)? {
            opts.delimiter = d;
        }
        csv.terminator = match one_char("recordDelimiter", &self.record_delimiter)? {
            Some(b'\n' | b'\r') | None => None,
            other => other,
        };
        let comment = one_char("comment", &self.comment)?;
        csv.comment = if self.use_comments == Some(true) {
            Some(comment.unwrap_or(b'#'))
        } else {
            None
        };
        csv.backslash_escape = match self.escape_mode {
            None | Some(1) => false,
            Some(2) => true,
            Some(m) => {
                return Err(ConfigError::new(
                    join_path(&at, "escapeMode"),
                    format!("{m}: expected 1 (quotes doubled) or 2 (backslash)"),
                ))
            }
        };
        if self.case_sensitive.is_some() {
            ignored(
                "caseSensitive",
                "columns are chosen by index, not by header name",
            );
        }
        if self.safety_switch == Some(true) {
            ignored(
                "safetySwitch",
                "no 100,000-character field limit: fields of any length are read",
            );
        }
        if self.skip_empty_records == Some(false) {
            ignored("skipEmptyRecords", "empty lines are always skipped");
        }
        if self.capture_raw_record.is_some() {
            ignored("captureRawRecord", "it has no effect on the data read");
        }
        Ok(())
    }
}

/// A text reader's parsed options: how to decode and which columns to produce.
#[derive(Debug, Clone)]
pub struct TextRead {
    /// Paths or patterns, as given.
    pub paths: Vec<String>,
    /// Format options.
    pub opts: TextOptions,
    /// Declared columns.
    pub columns: ReadColumns,
    /// Compression of the files.
    pub compress: Compression,
}

impl TextReadConfig {
    /// The same with `path` on the local file system: `file://` taken off, other schemes
    /// refused (see [`crate::hive::local_path`]).
    pub fn local(mut self, at: &str) -> Result<Self, ConfigError> {
        self.path = self
            .path
            .iter()
            .map(|p| crate::hive::local_path(at, "path", p))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Checks the options, with errors pointing under `at`.
    pub fn build(self, at: &str) -> Result<TextRead, ConfigError> {
        if self.path.is_empty() || self.path.iter().any(|s| s.trim().is_empty()) {
            return Err(ConfigError::new(
                join_path(at, "path"),
                "must name at least one file, directory or glob",
            ));
        }
        let mut opts = TextOptions::new(
            at,
            self.file_format,
            self.field_delimiter.as_deref(),
            &self.encoding,
            &self.null_format,
            self.date_format.as_deref(),
            self.skip_header,
        )?;
        if let Some(c) = &self.csv_reader_config {
            c.apply(&mut opts, at)?;
        }
        let columns = parse_columns(&self.column, &join_path(at, "column"), self.file_format)?;
        Ok(TextRead {
            paths: self.path,
            opts,
            columns,
            compress: self.compress,
        })
    }
}

/// `header`: `true` writes the column names, a list writes those names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Header {
    /// No header line.
    #[default]
    None,
    /// The incoming column names.
    ColumnNames,
    /// These names.
    Names(Vec<String>),
}

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(true) => Ok(Header::ColumnNames),
            Value::Bool(false) | Value::Null => Ok(Header::None),
            Value::Array(v) if v.is_empty() => Ok(Header::None),
            names @ Value::Array(_) => serde_json::from_value(names)
                .map(Header::Names)
                .map_err(|e| serde::de::Error::custom(format!("a list of column names: {e}"))),
            other => Err(serde::de::Error::custom(format!(
                "wrong type: found {other}, expected true/false or a list of names"
            ))),
        }
    }
}

/// How a text-file writer encodes rows.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TextWriteConfig {
    /// One ASCII character (default `,`).
    pub field_delimiter: Option<String>,
    /// Character encoding (default UTF-8).
    #[serde(default = "crate::default_encoding")]
    pub encoding: String,
    /// Text written for NULL (default `\N`).
    #[serde(default = "crate::default_null_format")]
    pub null_format: String,
    /// Pattern for dates and timestamps (default ISO `yyyy-MM-dd HH:mm:ss[.ffffff]`).
    pub date_format: Option<String>,
    /// `csv` (default), `text` or `jsonl`.
    #[serde(default)]
    pub file_format: FileFormat,
    /// `true`, or a list of names, for a header line.
    #[serde(default)]
    pub header: Header,
    /// `none` (default), `gzip`, `bzip2` or `zstd`.
    #[serde(default)]
    pub compress: Compression,
}

/// A text writer's parsed options.
#[derive(Debug, Clone)]
pub struct TextWrite {
    /// Format options.
    pub opts: TextOptions,
    /// Header line.
    pub header: Header,
    /// Compression of the files.
    pub compress: Compression,
}

impl TextWriteConfig {
    /// Checks the options, with errors pointing under `at`.
    pub fn build(self, at: &str) -> Result<TextWrite, ConfigError> {
        let opts = TextOptions::new(
            at,
            self.file_format,
            self.field_delimiter.as_deref(),
            &self.encoding,
            &self.null_format,
            self.date_format.as_deref(),
            false,
        )?;
        if self.file_format != crate::FileFormat::Jsonl {
            let bad = |b: u8| {
                b == opts.delimiter
                    || b == b'\n'
                    || b == b'\r'
                    || (b == b'"' && self.file_format == crate::FileFormat::Csv)
            };
            if self.null_format.bytes().any(bad) {
                return Err(ConfigError::new(
                    format!("{at}.nullFormat"),
                    format!(
                        "{:?} holds the field delimiter, a line break or (csv) a quote: a NULL \
                         written so would break the row",
                        self.null_format
                    ),
                ));
            }
        }
        // encoding_rs writes UTF-8 for the UTF-16 encodings (WHATWG): refuse them rather
        // than write another encoding than the one asked for.
        if opts.encoding.output_encoding() != opts.encoding {
            return Err(ConfigError::new(
                format!("{at}.encoding"),
                format!(
                    "{} cannot be written (only read); write UTF-8, GBK, GB18030, Big5, \
                     ISO-8859-x or another single- or multi-byte encoding",
                    opts.encoding.name()
                ),
            ));
        }
        if self.null_format.is_empty() && self.file_format != crate::FileFormat::Jsonl {
            tracing::warn!(
                "{at}.nullFormat is \"\": an empty text and NULL are both written as an empty \
                 field and read back alike (NULL); keep the default \\N to tell them apart"
            );
        }
        Ok(TextWrite {
            opts,
            header: self.header,
            compress: self.compress,
        })
    }
}

/// `datasync template` comments of the text reader options (file, SFTP/FTP, hdfs text).
pub fn text_read_notes() -> Vec<datasync_engine::template::TemplateNote> {
    use datasync_engine::template::{alt, note};
    vec![
        note("path", "Files, directories (every non-hidden file below) or globs (*, ?, [..], **); a string or a list."),
        note("column", "[\"*\"] (every field as string), or {index, type[, format]} / {value, type} per column; JSON Lines: {name, type}. Types: long double string date boolean bytes, or Arrow names (int8..uint64, decimal(p,s), timestamp[us], ...)."),
        note("fieldDelimiter", "One ASCII character; default \",\"."),
        note("encoding", "Character encoding; default UTF-8 (GBK, GB18030, ...)."),
        note("skipHeader", "Skip the first line of every file; default false."),
        note("nullFormat", "Text that reads as NULL; default \\N."),
        note("compress", "none (default), gzip, bzip2, zstd, hadoop-snappy, framing-snappy, lzo, lzo_deflate, zip, tgz."),
        note("fileFormat", "csv (default, quoted fields), text (plain delimited) or jsonl."),
        note("dateFormat", "Default pattern of date columns without their own format (Java yyyy-MM-dd HH:mm:ss or strftime); default ISO."),
        alt("csvReaderConfig", "{\"textQualifier\": \"\\\"\", \"escapeMode\": 1, \"trimWhitespace\": false}", "DataX's CSV parser settings: textQualifier, useTextQualifier, escapeMode (1 doubled quotes, 2 backslash escapes), useComments + comment, trimWhitespace, delimiter, recordDelimiter."),
    ]
}

/// `datasync template`'s sample values of the text reader options (file, SFTP/FTP).
pub fn text_read_template() -> serde_json::Value {
    serde_json::json!({
        "fieldDelimiter": ",",
        "encoding": "UTF-8",
        "skipHeader": false,
        "nullFormat": "\\N",
        "compress": "none",
        "fileFormat": "csv",
        "dateFormat": "yyyy-MM-dd HH:mm:ss"
    })
}

/// `datasync template`'s sample values of the text writer options (file, SFTP/FTP).
pub fn text_write_template() -> serde_json::Value {
    serde_json::json!({
        "writeMode": "truncate",
        "fieldDelimiter": ",",
        "encoding": "UTF-8",
        "nullFormat": "\\N",
        "dateFormat": "yyyy-MM-dd HH:mm:ss",
        "fileFormat": "csv",
        "header": true,
        "compress": "none",
        "suffix": ".csv"
    })
}

/// `datasync template` comments of the text writer options (file, SFTP/FTP, hdfs text).
pub fn text_write_notes() -> Vec<datasync_engine::template::TemplateNote> {
    use datasync_engine::template::note;
    vec![
        note("fieldDelimiter", "One ASCII character; default \",\"."),
        note("encoding", "Character encoding; default UTF-8. A character the encoding lacks makes its row dirty."),
        note("nullFormat", "Text written for NULL; default \\N (a text value equal to it is dirty: it would read back as NULL)."),
        note("dateFormat", "Pattern for dates and timestamps; default ISO yyyy-MM-dd HH:mm:ss[.ffffff]."),
        note("fileFormat", "csv (default: quoted where needed), text (plain; a delimiter in a value is dirty) or jsonl."),
        note("header", "true (the column names) or a list of names for a header line; default none."),
        note("compress", "none (default), gzip, bzip2, zstd, hadoop-snappy, framing-snappy, lzo, lzo_deflate, zip, tgz."),
    ]
}

impl schemars::JsonSchema for Header {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Header".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "true: a header line of the column names; a list: these names.",
            "anyOf": [
                {"type": ["boolean", "null"]},
                {"type": "array", "items": {"type": "string"}}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn build(json: serde_json::Value) -> Result<TextWrite, ConfigError> {
        serde_json::from_value::<TextWriteConfig>(json)
            .unwrap()
            .build("w")
    }

    #[test]
    fn a_null_format_that_breaks_rows_and_unwritable_encodings_are_refused() {
        for (json, at) in [
            (serde_json::json!({"nullFormat": ","}), "w.nullFormat"),
            (serde_json::json!({"nullFormat": "a\nb"}), "w.nullFormat"),
            (serde_json::json!({"nullFormat": "\""}), "w.nullFormat"),
            (
                serde_json::json!({"nullFormat": "|", "fieldDelimiter": "|", "fileFormat": "text"}),
                "w.nullFormat",
            ),
            (serde_json::json!({"encoding": "UTF-16LE"}), "w.encoding"),
            (serde_json::json!({"encoding": "UTF-16"}), "w.encoding"),
        ] {
            let e = build(json.clone())
                .err()
                .unwrap_or_else(|| panic!("{json} accepted"));
            assert_eq!(e.path, at, "{json}: {e}");
        }
        build(serde_json::json!({"nullFormat": "\"", "fileFormat": "text"})).unwrap();
        build(serde_json::json!({"encoding": "GBK", "nullFormat": "NULL"})).unwrap();
    }
}
