//! Parameters of the hbase reader, as DataX's hbase11xreader spells them, plus the gateway's
//! address (`thriftAddress`, `transport`, `protocol`), which replaces DataX's `hbaseConfig`.

use datasync_db::hbase::{from_binary_key, HType};
use datasync_engine::config::{constant_text, join_path, ConfigError};
use serde::Deserialize;
use serde_json::Value;

/// `parameter` of the hbase reader, as written.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Raw {
    pub column: Vec<RawColumn>,
    pub range: Option<RawRange>,
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<i64>")]
    pub max_version: Option<i64>,
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<i32>")]
    pub scan_cache_size: Option<i32>,
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<i32>")]
    pub scan_batch_size: Option<i32>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawColumn {
    pub name: Option<String>,
    pub value: Option<Value>,
    #[serde(rename = "type")]
    pub ty: String,
    pub format: Option<String>,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawRange {
    pub start_rowkey: Option<String>,
    pub end_rowkey: Option<String>,
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub is_binary_rowkey: Option<bool>,
}

/// What a column of the output is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Source {
    /// The row key.
    RowKey,
    /// A cell, `family:qualifier` as bytes.
    Cell(Vec<u8>),
    /// A constant's text.
    Constant(String),
}

/// One output column (normal mode) or one read column (multi-version mode).
#[derive(Debug, Clone)]
pub(super) struct Column {
    pub name: String,
    pub source: Source,
    pub ty: HType,
    /// Java-style pattern for `date`.
    pub format: Option<String>,
}

/// The reader's settings, checked.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub conn: datasync_db::hbase::HbaseConnConfig,
    pub table: String,
    pub encoding: &'static datasync_db::hbase::Encoding,
    /// `None`: normal mode; `Some(n)`: multiVersionFixedColumn with up to n versions.
    pub versions: Option<i32>,
    pub columns: Vec<Column>,
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    pub caching: i32,
    pub batch: i32,
}

/// Checks the parameters at `at`.
pub(super) fn settings(
    g: datasync_db::hbase::GatewayKeys,
    raw: Raw,
    at: &str,
) -> Result<Settings, ConfigError> {
    let key = |k: &str| join_path(at, k);
    let (conn, encoding) = g.settings(at, "reads")?;
    let multi = match g.mode.as_deref().map(str::trim) {
        None => false,
        Some(m) if m.eq_ignore_ascii_case("normal") => false,
        Some(m) if m.eq_ignore_ascii_case("multiVersionFixedColumn") => true,
        Some(m) => {
            return Err(ConfigError::new(
                key("mode"),
                format!("\"{m}\": expected normal or multiVersionFixedColumn"),
            ))
        }
    };
    let versions = match (multi, raw.max_version) {
        (false, None) => None,
        (false, Some(_)) => {
            return Err(ConfigError::new(
                key("maxVersion"),
                "only for mode multiVersionFixedColumn (normal mode reads the latest version)",
            ))
        }
        (true, None) => {
            return Err(ConfigError::new(
                key("maxVersion"),
                "missing: -1 (every version) or a number above 1",
            ))
        }
        (true, Some(-1)) => Some(i32::MAX),
        (true, Some(n)) if n > 1 => Some(i32::try_from(n).unwrap_or(i32::MAX)),
        (true, Some(n)) => {
            return Err(ConfigError::new(
                key("maxVersion"),
                format!("{n}: expected -1 (every version) or a number above 1"),
            ))
        }
    };
    if raw.column.is_empty() {
        return Err(ConfigError::new(key("column"), "list the columns to read"));
    }
    let mut columns = Vec::new();
    for (i, c) in raw.column.iter().enumerate() {
        let at = format!("{}[{i}]", key("column"));
        let ty = HType::parse(&c.ty).map_err(|e| ConfigError::new(format!("{at}.type"), e))?;
        if let Some(f) = &c.format {
            datasync_codec::DateFormat::parse(f)
                .map_err(|e| ConfigError::new(format!("{at}.format"), e))?;
        }
        let format = (ty == HType::Date).then(|| {
            c.format
                .clone()
                .unwrap_or_else(|| "yyyy-MM-dd HH:mm:ss".into())
        });
        let (name, source) = match (&c.name, &c.value) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(at, "give \"name\" or \"value\", not both"))
            }
            (None, None) => {
                return Err(ConfigError::new(
                    at,
                    "needs \"name\" (rowkey or family:qualifier) or \"value\" (a constant)",
                ))
            }
            (None, Some(_)) if multi => {
                return Err(ConfigError::new(
                    format!("{at}.value"),
                    "constants are not read in mode multiVersionFixedColumn",
                ))
            }
            (None, Some(v)) => (format!("col{i}"), Source::Constant(constant_text(v))),
            (Some(n), None) if n.trim().eq_ignore_ascii_case("rowkey") => {
                ("rowkey".to_string(), Source::RowKey)
            }
            (Some(n), None) => {
                let parts: Vec<&str> = n.split(':').map(str::trim).collect();
                if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
                    return Err(ConfigError::new(
                        format!("{at}.name"),
                        format!("\"{n}\": expected rowkey or family:qualifier"),
                    ));
                }
                let name = format!("{}:{}", parts[0], parts[1]);
                (name.clone(), Source::Cell(name.into_bytes()))
            }
        };
        if let Source::Constant(t) = &source {
            check_constant(t, ty, format.as_deref())
                .map_err(|e| ConfigError::new(format!("{at}.value"), e))?;
        }
        columns.push(Column {
            name,
            source,
            ty,
            format,
        });
    }
    if !columns.iter().any(|c| matches!(c.source, Source::Cell(_))) && multi {
        return Err(ConfigError::new(
            key("column"),
            "mode multiVersionFixedColumn needs family:qualifier columns to read",
        ));
    }
    if multi && !columns.iter().any(|c| c.source == Source::RowKey) {
        return Err(ConfigError::new(
            key("column"),
            "mode multiVersionFixedColumn needs a {\"name\": \"rowkey\", \"type\": ...} entry \
             (it types the row key of every version)",
        ));
    }
    let (start, end) = match &raw.range {
        None => (Vec::new(), Vec::new()),
        Some(r) => {
            let binary = r.is_binary_rowkey.unwrap_or(false);
            let conv = |k: &Option<String>, name: &str| -> Result<Vec<u8>, ConfigError> {
                let k = k.as_deref().unwrap_or("");
                if binary {
                    from_binary_key(k)
                        .map_err(|e| ConfigError::new(format!("{}.{name}", key("range")), e))
                } else {
                    Ok(k.as_bytes().to_vec())
                }
            };
            (
                conv(&r.start_rowkey, "startRowkey")?,
                conv(&r.end_rowkey, "endRowkey")?,
            )
        }
    };
    if !start.is_empty() && !end.is_empty() && start > end {
        return Err(ConfigError::new(
            key("range"),
            "startRowkey sorts after endRowkey: no row is in between",
        ));
    }
    let positive = |v: Option<i32>, default: i32, name: &str| -> Result<i32, ConfigError> {
        match v {
            None => Ok(default),
            Some(n) if n > 0 => Ok(n),
            Some(n) => Err(ConfigError::new(
                key(name),
                format!("{n}: expected a number above 0"),
            )),
        }
    };
    Ok(Settings {
        conn,
        table: g.table,
        encoding,
        versions,
        columns,
        start,
        end,
        caching: positive(raw.scan_cache_size, 256, "scanCacheSize")?,
        batch: positive(raw.scan_batch_size, 100, "scanBatchSize")?,
    })
}

/// A constant must read as its type.
fn check_constant(text: &str, ty: HType, format: Option<&str>) -> Result<(), String> {
    let f = format.map(datasync_codec::DateFormat::parse).transpose()?;
    let mut b = datasync_codec::TextBatchBuilder::new(
        vec![("c".into(), ty.arrow(), f)],
        datasync_engine::job::BatchSetting::default(),
        false,
    );
    b.push_row(|_| Ok(Some(text.as_bytes()))).map(|_| ())
}
