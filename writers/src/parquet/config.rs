//! Parameters of the Parquet writer, as DataX's hdfswriter spells them where it has them.

use datasync_engine::config::{lenient_positive, ByteSize};
use serde::de::Deserializer;
use serde::Deserialize;
use serde_json::Value;

/// What happens to the data files already in a target partition (or the table directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ParquetWriteMode {
    /// Keep them; add the new files beside them.
    Append,
    /// Fail, before anything is published, if a target partition already has data files.
    NonConflict,
    /// Replace them: the new files are published, then the old ones removed (per partition
    /// written; a static partition or an unpartitioned table is replaced even by zero rows).
    Truncate,
}

/// Parquet compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParquetCompression {
    /// Snappy (default; what Hive and Spark write).
    #[default]
    Snappy,
    /// Zstandard.
    Zstd,
    /// Gzip.
    Gzip,
    /// LZ4 (raw).
    Lz4,
    /// ZLIB (ORC only).
    Zlib,
    /// Uncompressed.
    None,
}

impl<'de> Deserialize<'de> for ParquetCompression {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        // DataX templates write these in upper case (`"SNAPPY"`, `"NONE"`).
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "snappy" => ParquetCompression::Snappy,
            "zstd" => ParquetCompression::Zstd,
            "gzip" => ParquetCompression::Gzip,
            "lz4" | "lz4_raw" => ParquetCompression::Lz4,
            "zlib" => ParquetCompression::Zlib,
            "none" | "" | "uncompressed" => ParquetCompression::None,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "unknown compress \"{other}\" (allowed: snappy, zstd, gzip, lz4, none; zlib for ORC)"
                )))
            }
        })
    }
}

/// The file format a table's files are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataFormat {
    /// Parquet (the `parquet` writer, hdfswriter's default).
    #[default]
    Parquet,
    /// ORC (hdfswriter `fileType: "orc"`).
    Orc,
}

impl DataFormat {
    /// The file name extension, with its dot.
    pub fn extension(self) -> &'static str {
        match self {
            DataFormat::Parquet => ".parquet",
            DataFormat::Orc => ".orc",
        }
    }
}

/// How TIMESTAMP columns are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum TimestampType {
    /// INT64 microseconds (TIMESTAMP_MICROS, UTC-adjusted), the default.
    #[default]
    #[serde(rename = "int64-micros", alias = "int64_micros", alias = "INT64")]
    Int64Micros,
    /// Legacy INT96 (Julian day + nanoseconds of day), for older Hive and Impala readers.
    #[serde(rename = "int96", alias = "INT96")]
    Int96,
}

datasync_engine::any_case_schema!(
    ParquetCompression,
    "ParquetCompression",
    [
        "snappy",
        "zstd",
        "gzip",
        "lz4",
        "lz4_raw",
        "zlib",
        "none",
        "",
        "uncompressed"
    ],
    "Page compression (any letter case); default snappy."
);

impl schemars::JsonSchema for TimestampType {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TimestampType".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "enum": ["int64-micros", "int64_micros", "INT64", "int96", "INT96"],
            "description": "int64-micros (default) or int96 (legacy Hive/Impala)."
        })
    }
}

impl schemars::JsonSchema for ColumnSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ColumnSpec".into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        ColumnObject::json_schema(g)
    }
}

impl schemars::JsonSchema for PartitionColumnSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PartitionColumnSpec".into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let object = g.subschema_for::<ColumnObject>();
        schemars::json_schema!({
            "description": "A partition key: its name (type string) or {\"name\", \"type\"}.",
            "anyOf": [{"type": "string"}, object]
        })
    }
}

/// One declared column: `{"name": "id", "type": "BIGINT"}`.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    /// Column name (in the file and the Hive table).
    pub name: String,
    /// Hive type.
    pub type_name: String,
}

/// A declared column.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ColumnObject {
    /// Column name.
    name: String,
    /// Hive type (e.g. bigint, decimal(18,2), string).
    #[serde(rename = "type")]
    type_name: String,
}

impl<'de> Deserialize<'de> for ColumnSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ColumnSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object {\"name\": ..., \"type\": ...}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<ColumnSpec, A::Error> {
                let c = ColumnObject::deserialize(serde::de::value::MapAccessDeserializer::new(m))?;
                Ok(ColumnSpec {
                    name: c.name,
                    type_name: c.type_name,
                })
            }
        }
        d.deserialize_map(V)
    }
}

/// A dynamic partition column: a name (type STRING) or `{name, type}`.
#[derive(Debug, Clone)]
pub struct PartitionColumnSpec {
    /// Partition key.
    pub name: String,
    /// Hive type of the key (default `string`).
    pub type_name: String,
}

impl<'de> Deserialize<'de> for PartitionColumnSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(name) => Ok(PartitionColumnSpec {
                name,
                type_name: "string".into(),
            }),
            v @ Value::Object(_) => {
                let c: ColumnObject =
                    serde_json::from_value(v).map_err(serde::de::Error::custom)?;
                Ok(PartitionColumnSpec {
                    name: c.name,
                    type_name: c.type_name,
                })
            }
            other => Err(serde::de::Error::custom(format!(
                "wrong type: found {other}, expected a column name or {{\"name\", \"type\"}}"
            ))),
        }
    }
}

fn default_row_group_rows() -> Option<u64> {
    Some(1_000_000)
}

/// `parameter` of the Parquet writer.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ParquetWriterConfig {
    /// `file:///` or absent: `path` is on a local or mounted file system; `s3a://bucket` (or
    /// `s3://`): `path` is a key prefix in that bucket.
    #[serde(default, rename = "defaultFS")]
    pub default_fs: Option<String>,
    /// The table's directory (created if missing), or `s3://bucket/prefix`.
    pub path: String,
    /// How to reach the store of an `s3://` path (endpoint, region, credentials); what is
    /// missing comes from the standard AWS variables.
    #[serde(default, deserialize_with = "datasync_db::store::opt_s3")]
    #[schemars(with = "Option<datasync_db::store::S3Options>")]
    pub s3: Option<datasync_db::store::S3Options>,
    /// With an `s3://` path: the local directory files are staged in until the commit uploads
    /// them (default `<temp dir>/datasync-s3/<bucket>/<prefix>`). Keep it the same between
    /// runs: a run finishes the commit a killed run left there.
    pub staging_dir: Option<String>,
    /// Prefix of every file written.
    pub file_name: String,
    /// Data columns, in the order the reader produces them.
    pub column: Vec<ColumnSpec>,
    /// `append`, `nonConflict` or `truncate` (per target partition).
    pub write_mode: ParquetWriteMode,
    /// `snappy` (default), `zstd`, `gzip`, `lz4` or `none`.
    #[serde(default)]
    pub compress: ParquetCompression,
    /// Rows per row group (default 1,000,000; a row group also closes at 128 MiB).
    #[serde(
        default = "default_row_group_rows",
        deserialize_with = "lenient_positive"
    )]
    #[schemars(with = "Option<datasync_engine::schema::Lenient<i64>>")]
    pub row_group_size: Option<u64>,
    /// Start a new file once one reaches this size (default: no limit), e.g. `"512MB"`.
    pub max_file_size: Option<ByteSize>,
    /// Static partition values, in key order: `{"dt": "${biz_date}"}`.
    #[serde(default)]
    pub partition: serde_json::Map<String, Value>,
    /// Dynamic partition columns: the reader's columns after `column`, in this order.
    #[serde(default)]
    pub partition_columns: Vec<PartitionColumnSpec>,
    /// `int64-micros` (default) or `int96`.
    #[serde(default)]
    pub timestamp_type: TimestampType,
    /// Hive Metastore to register partitions in: `thrift://host:9083` (comma-separated list).
    pub hive_metastore_uris: Option<String>,
    /// Hive database (with `hiveMetastoreUris`; default `default`).
    pub database: Option<String>,
    /// Hive table (required with `hiveMetastoreUris`).
    pub table: Option<String>,
    /// Create the table in the metastore (external, Parquet, LOCATION = `path`) if it is missing.
    #[serde(default, with = "datasync_engine::schema::Lenient::<bool>")]
    pub create_table: bool,
}
