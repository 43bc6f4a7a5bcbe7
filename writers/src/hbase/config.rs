//! Parameters of the hbase writer, as DataX's hbase11xwriter spells them, plus the gateway's
//! address (`thriftAddress`, `transport`, `protocol`), which replaces DataX's `hbaseConfig`.

use datasync_db::hbase::{encode_cell, HType};
use datasync_engine::config::{constant_text, join_path, ConfigError};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Raw {
    pub rowkey_column: Vec<RawKeyPart>,
    pub column: Vec<RawColumn>,
    pub version_column: Option<RawVersion>,
    pub null_mode: Option<String>,
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub wal_flag: Option<bool>,
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<u64>")]
    pub write_buffer_size: Option<u64>,
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub truncate: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawKeyPart {
    #[serde(with = "datasync_engine::schema::Lenient::<i64>")]
    pub index: i64,
    #[serde(rename = "type")]
    pub ty: String,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawColumn {
    #[serde(with = "datasync_engine::schema::Lenient::<i64>")]
    pub index: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawVersion {
    #[serde(with = "datasync_engine::schema::Lenient::<i64>")]
    pub index: i64,
    pub value: Option<Value>,
}

/// A part of the row key.
#[derive(Debug, Clone)]
pub(super) enum KeyPart {
    /// The value of input column `index` as `ty`.
    Column(usize, HType),
    /// Constant bytes.
    Constant(Vec<u8>),
}

/// Where each row's version (timestamp) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    /// The server's time.
    Server,
    /// One timestamp for every row.
    Fixed(i64),
    /// Input column `index`.
    Column(usize),
}

/// The writer's settings, checked.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub conn: datasync_db::hbase::HbaseConnConfig,
    pub table: String,
    pub key: Vec<KeyPart>,
    /// (input column, `family:qualifier`, type).
    pub cells: Vec<(usize, Vec<u8>, HType)>,
    pub version: Version,
    /// nullMode empty: a NULL is written as an empty cell (skip: left out).
    pub null_empty: bool,
    pub encoding: &'static datasync_db::hbase::Encoding,
    pub wal: bool,
    pub buffer: u64,
}

impl Settings {
    /// The largest input column index the writer reads.
    pub(super) fn max_index(&self) -> Option<usize> {
        let keys = self.key.iter().filter_map(|p| match p {
            KeyPart::Column(i, _) => Some(*i),
            KeyPart::Constant(_) => None,
        });
        let version = match self.version {
            Version::Column(i) => Some(i),
            _ => None,
        };
        keys.chain(self.cells.iter().map(|c| c.0))
            .chain(version)
            .max()
    }
}

/// Checks the parameters at `at`.
pub(super) fn settings(
    g: datasync_db::hbase::GatewayKeys,
    raw: Raw,
    at: &str,
) -> Result<Settings, ConfigError> {
    let key = |k: &str| join_path(at, k);
    let (conn, encoding) = g.settings(at, "writes")?;
    match g.mode.as_deref().map(str::trim) {
        None => {}
        Some(m) if m.eq_ignore_ascii_case("normal") => {}
        Some(m) => {
            return Err(ConfigError::new(
                key("mode"),
                format!("\"{m}\": expected normal (DataX's writer has no other working mode)"),
            ))
        }
    }
    if raw.truncate == Some(true) {
        return Err(ConfigError::new(
            key("truncate"),
            "the Thrift1 gateway cannot truncate a table and keep its region splits; empty it \
             with `truncate_preserve` in the HBase shell before the job",
        ));
    }
    let null_empty = match raw.null_mode.as_deref().map(str::trim) {
        None => false,
        Some(m) if m.eq_ignore_ascii_case("skip") => false,
        Some(m) if m.eq_ignore_ascii_case("empty") => true,
        Some(m) => {
            return Err(ConfigError::new(
                key("nullMode"),
                format!(
                    "\"{m}\": expected skip (leave the cell out) or empty (write an empty value)"
                ),
            ))
        }
    };
    if raw.rowkey_column.is_empty() {
        return Err(ConfigError::new(
            key("rowkeyColumn"),
            "list the row key's parts ({\"index\": n, \"type\": ...} or {\"index\": -1, \"type\": \"string\", \"value\": ...})",
        ));
    }
    let index = |i: i64, at: String| -> Result<usize, ConfigError> {
        usize::try_from(i).map_err(|_| {
            ConfigError::new(
                at,
                format!("{i}: expected an input column index (0, 1, ...) or -1 for a constant"),
            )
        })
    };
    let mut parts = Vec::new();
    for (i, p) in raw.rowkey_column.iter().enumerate() {
        let at = format!("{}[{i}]", key("rowkeyColumn"));
        let ty = HType::parse(&p.ty).map_err(|e| ConfigError::new(format!("{at}.type"), e))?;
        if ty == HType::Date {
            return Err(ConfigError::new(
                format!("{at}.type"),
                "date: a row key part is written as string (its text) or long (epoch milliseconds)",
            ));
        }
        if p.index != -1 && p.value.is_some() {
            return Err(ConfigError::new(
                format!("{at}.value"),
                "a value is only for a constant part (index -1); this part reads input column index",
            ));
        }
        if p.index == -1 {
            let v = p.value.as_ref().map(constant_text).unwrap_or_default();
            if v.is_empty() {
                return Err(ConfigError::new(
                    format!("{at}.value"),
                    "a constant part (index -1) needs a value",
                ));
            }
            let b = encode_cell(&v, ty, encoding)
                .map_err(|e| ConfigError::new(format!("{at}.value"), e))?;
            parts.push(KeyPart::Constant(b));
        } else {
            parts.push(KeyPart::Column(index(p.index, format!("{at}.index"))?, ty));
        }
    }
    if !parts.iter().any(|p| matches!(p, KeyPart::Column(..))) {
        return Err(ConfigError::new(
            key("rowkeyColumn"),
            "every part is a constant: all rows would share one row key",
        ));
    }
    if raw.column.is_empty() {
        return Err(ConfigError::new(key("column"), "list the cells to write"));
    }
    let mut cells = Vec::new();
    for (i, c) in raw.column.iter().enumerate() {
        let at = format!("{}[{i}]", key("column"));
        let ty = HType::parse(&c.ty).map_err(|e| ConfigError::new(format!("{at}.type"), e))?;
        if ty == HType::Date {
            return Err(ConfigError::new(
                format!("{at}.type"),
                "date: write it as string (its text) or long (epoch milliseconds), as DataX does",
            ));
        }
        let parts: Vec<&str> = c.name.split(':').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.trim().is_empty()) {
            return Err(ConfigError::new(
                format!("{at}.name"),
                format!("\"{}\": expected family:qualifier", c.name),
            ));
        }
        cells.push((
            index(c.index, format!("{at}.index"))?,
            c.name.clone().into_bytes(),
            ty,
        ));
    }
    let version = match &raw.version_column {
        None => Version::Server,
        Some(v) if v.index == -1 => {
            let t = v.value.as_ref().map(constant_text).unwrap_or_default();
            let ts: i64 = t.trim().parse().ok().filter(|t| *t >= 0).ok_or_else(|| {
                ConfigError::new(
                    format!("{}.value", key("versionColumn")),
                    format!("\"{t}\": expected a timestamp in milliseconds (0 or more)"),
                )
            })?;
            Version::Fixed(ts)
        }
        Some(v) => {
            if v.value.is_some() {
                return Err(ConfigError::new(
                    format!("{}.value", key("versionColumn")),
                    "a value is only for a fixed version (index -1); this reads input column index",
                ));
            }
            Version::Column(index(v.index, format!("{}.index", key("versionColumn")))?)
        }
    };
    let buffer = match raw.write_buffer_size {
        None => 8 << 20,
        Some(0) => {
            return Err(ConfigError::new(
                key("writeBufferSize"),
                "expected bytes per batch of puts above 0 (default 8388608)",
            ))
        }
        Some(n) => n,
    };
    Ok(Settings {
        conn,
        table: g.table,
        key: parts,
        cells,
        version,
        null_empty,
        encoding,
        wal: raw.wal_flag.unwrap_or(false),
        buffer,
    })
}
