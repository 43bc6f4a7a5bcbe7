//! Hive conventions shared by the Parquet reader and writer: Hive column types and their Arrow
//! types (one table, walked by a test), and partition directory names (`key=value`, with Hive's
//! escaping and its default partition for NULL).

use crate::FileFormat;
use arrow_schema::{DataType, TimeUnit};
use datasync_engine::config::{join_path, ConfigError, ParamParts};
use serde::Deserialize;
#[cfg(test)]
use serde_json::json;
use std::collections::BTreeMap;

/// Hive's name for a NULL partition value.
pub const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// A declared Hive column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HiveType {
    /// The Arrow type values are converted to before they are written.
    pub arrow: DataType,
    /// `VARCHAR(n)` / `CHAR(n)`: the most characters a value may have.
    pub max_chars: Option<u32>,
    /// Canonical Hive spelling (`decimal(12,2)`, `varchar(20)`, `bigint`).
    pub name: String,
}

/// Hive types without arguments and their Arrow types. TIMESTAMP is a wall-clock time (no zone)
/// in microseconds.
pub const HIVE_TYPES: &[(&str, DataType)] = &[
    ("tinyint", DataType::Int8),
    ("smallint", DataType::Int16),
    ("int", DataType::Int32),
    ("integer", DataType::Int32),
    ("bigint", DataType::Int64),
    ("float", DataType::Float32),
    ("double", DataType::Float64),
    ("string", DataType::Utf8),
    ("boolean", DataType::Boolean),
    ("date", DataType::Date32),
    (
        "timestamp",
        DataType::Timestamp(TimeUnit::Microsecond, None),
    ),
    ("binary", DataType::Binary),
];

fn args(n: &str, prefix: &str) -> Option<Vec<String>> {
    let rest = n.strip_prefix(prefix)?.trim_start();
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|s| s.trim().to_string()).collect())
}

/// Parses a Hive column type (case-insensitive): the names of [`HIVE_TYPES`], `decimal(p,s)`
/// (p <= 38; plain `decimal` is Hive's `decimal(10,0)`), `varchar(n)` and `char(n)`, and
/// `varchar`/`char` without a length (DataX's hdfswriter spelling) as `string`.
pub fn parse_hive_type(name: &str) -> Result<HiveType, String> {
    let n = name.trim().to_ascii_lowercase();
    if let Some((k, t)) = HIVE_TYPES.iter().find(|(k, _)| *k == n) {
        let canonical = if *k == "integer" { "int" } else { k };
        return Ok(HiveType {
            arrow: t.clone(),
            max_chars: None,
            name: canonical.to_string(),
        });
    }
    if n == "decimal" || n.starts_with("decimal(") || n.starts_with("decimal (") {
        let (p, s) = match args(&n, "decimal").as_deref() {
            None => (10, 0),
            Some([p]) => (p.parse::<u8>().map_err(|_| bad(name))?, 0),
            Some([p, s]) => (
                p.parse::<u8>().map_err(|_| bad(name))?,
                s.parse::<i8>().map_err(|_| bad(name))?,
            ),
            Some(_) => return Err(bad(name)),
        };
        if p == 0 || p > 38 || s < 0 || s as u8 > p {
            return Err(format!(
                "\"{name}\": need 1 <= precision <= 38 and 0 <= scale <= precision (Hive's \
                 DECIMAL holds at most 38 digits; declare STRING to keep wider decimals as exact \
                 text)"
            ));
        }
        return Ok(HiveType {
            arrow: DataType::Decimal128(p, s),
            max_chars: None,
            name: format!("decimal({p},{s})"),
        });
    }
    if n == "varchar" || n == "char" {
        // DataX's hdfswriter documents VARCHAR and CHAR without a length: text without a
        // length limit, which Hive calls STRING.
        return Ok(HiveType {
            arrow: DataType::Utf8,
            max_chars: None,
            name: "string".to_string(),
        });
    }
    for kind in ["varchar", "char"] {
        if let Some(a) = args(&n, kind) {
            let len = match a.as_slice() {
                [l] => l.parse::<u32>().ok().filter(|l| *l > 0),
                _ => None,
            }
            .ok_or_else(|| format!("\"{name}\": expected {kind}(n) with n >= 1"))?;
            return Ok(HiveType {
                arrow: DataType::Utf8,
                max_chars: Some(len),
                name: format!("{kind}({len})"),
            });
        }
    }
    let names: Vec<&str> = HIVE_TYPES.iter().map(|(k, _)| *k).collect();
    Err(format!(
        "unknown Hive type \"{name}\" (allowed: {}, decimal(p,s), varchar(n), char(n))",
        names.join(", ")
    ))
}

fn bad(name: &str) -> String {
    format!("bad type \"{name}\": expected decimal(p,s)")
}

fn needs_escape(c: char) -> bool {
    // The characters Hive's FileUtils escapes in partition path names.
    c.is_control()
        || matches!(
            c,
            '"' | '#'
                | '%'
                | '\''
                | '*'
                | '/'
                | ':'
                | '='
                | '?'
                | '\\'
                | '\u{7f}'
                | '{'
                | '['
                | ']'
                | '^'
        )
}

/// Escapes a partition key or value for a directory name, as Hive does (`%XX`); NULL and the
/// empty string become [`DEFAULT_PARTITION`].
pub fn escape_partition_value(v: Option<&str>) -> String {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return DEFAULT_PARTITION.to_string();
    };
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if needs_escape(c) && (c as u32) < 0x80 {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Reverses [`escape_partition_value`]; [`DEFAULT_PARTITION`] reads as NULL.
pub fn unescape_partition_value(v: &str) -> Option<String> {
    if v == DEFAULT_PARTITION {
        return None;
    }
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The relative directory of one partition: `k1=v1/k2=v2`.
pub fn partition_dir(keys: &[String], values: &[Option<String>]) -> String {
    keys.iter()
        .zip(values)
        .map(|(k, v)| {
            format!(
                "{}={}",
                escape_partition_value(Some(k)),
                escape_partition_value(v.as_deref())
            )
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether Hive and Spark skip a file or directory of this name (`.hidden`, `_SUCCESS`).
pub fn is_hidden_name(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

/// Whether `url` names a remote store datasync reaches itself: `s3://`, `s3a://`, `s3n://`
/// (S3-compatible object storage) or `hdfs://`.
pub fn is_remote_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    ["s3://", "s3a://", "s3n://", "hdfs://"]
        .iter()
        .any(|s| lower.starts_with(s))
}

/// The location `path` names once DataX's `defaultFS` is applied: `hdfs://nn:8020` + `/t` is
/// `hdfs://nn:8020/t`, `s3a://bucket` + `/t` is `s3a://bucket/t`; a `path` that names its own
/// store stays as it is (a remote one only with a remote or local `defaultFS`), and a local
/// `defaultFS` (`file:///` or absent) leaves `path` local. Errors name `defaultFS` under `at`.
pub fn resolve_default_fs(
    at: &str,
    default_fs: Option<&str>,
    path: &str,
) -> Result<String, ConfigError> {
    let fs = default_fs.map(str::trim).unwrap_or_default();
    let path = path.trim();
    let bad = |m: String| Err(ConfigError::new(join_path(at, "defaultFS"), m));
    check_default_fs(at, default_fs)?;
    let store = is_remote_url(fs).then(|| remote_store(fs)).transpose();
    let store = match store {
        Ok(s) => s,
        Err(m) => return bad(m),
    };
    if let Some(s) = &store {
        if !fs[s.len()..].trim_matches('/').is_empty() {
            return bad(format!(
                "\"{fs}\": name the store only (hdfs://namenode:port, s3a://bucket); the \
                 directory goes in path"
            ));
        }
    }
    if path.contains("://") {
        // Hadoop refuses a path of another file system ("Wrong FS"); so do we, but for the
        // local default, which every job has whether it says so or not.
        if let (Some(fs_store), true) = (&store, is_remote_url(path)) {
            let path_store = remote_store(path).unwrap_or_default();
            if !same_store(fs_store, &path_store) {
                return bad(format!(
                    "\"{fs}\" and the path \"{path}\" name different stores: leave defaultFS \
                     out, or give path without its scheme"
                ));
            }
        } else if store.is_some() {
            return bad(format!(
                "\"{fs}\" does not go with the path \"{path}\" (another file system)"
            ));
        }
        return Ok(path.to_string());
    }
    match store {
        Some(_) => Ok(format!(
            "{}/{}",
            fs.trim_end_matches('/'),
            path.trim_start_matches('/')
        )),
        None => Ok(path.to_string()),
    }
}

/// The `scheme://authority` of a remote URL, checked: an authority is there and is a bucket
/// (`s3://`: letters, digits, `-`, `.`, `_`) or a namenode (`hdfs://`: host[:port] or an HA
/// nameservice), and nothing but `/` follows it. Errors say what is wrong.
fn remote_store(url: &str) -> Result<String, String> {
    let i = url.find("://").map_or(0, |i| i + 3);
    let (scheme, rest) = (&url[..i], &url[i..]);
    let authority = rest.split('/').next().unwrap_or_default();
    let hdfs = scheme.eq_ignore_ascii_case("hdfs://");
    let ok =
        |b: u8| b.is_ascii_alphanumeric() || b"-._".contains(&b) || (hdfs && b"[]:".contains(&b));
    if authority.is_empty() || !authority.bytes().all(ok) {
        return Err(format!(
            "\"{url}\": expected {}",
            if hdfs {
                "hdfs://namenode:port or hdfs://nameservice"
            } else {
                "s3a://bucket (letters, digits, '-', '.', '_')"
            }
        ));
    }
    Ok(format!("{}{authority}", scheme.to_ascii_lowercase()))
}

/// Whether two `scheme://authority` strings name the same store (`s3`, `s3a` and `s3n` are
/// spellings of one scheme).
fn same_store(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let (scheme, auth) = s.split_once("://").unwrap_or(("", s));
        let scheme = if scheme.starts_with("s3") {
            "s3"
        } else {
            scheme
        };
        format!("{scheme}://{auth}")
    };
    norm(a) == norm(b)
}

/// Refuses a `defaultFS` that is neither the local file system (`file:///` or absent) nor a
/// store datasync reaches itself ([`is_remote_url`]).
pub fn check_default_fs(at: &str, fs: Option<&str>) -> Result<(), ConfigError> {
    match fs.map(str::trim).filter(|f| !f.is_empty()) {
        // file:/// or file:/ (no host, no directory): the local file system.
        Some(fs)
            if !(is_remote_url(fs) || fs.to_ascii_lowercase().trim_end_matches('/') == "file:") =>
        {
            Err(ConfigError::new(
                join_path(at, "defaultFS"),
                format!(
                    "\"{fs}\": expected hdfs://namenode:port, s3a://bucket (or s3://, s3n://), \
                     or file:/// for a local or mounted path (the directory goes in path)"
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// `fileType` of DataX's hdfsreader/hdfswriter; case does not matter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HdfsFileType {
    /// Parquet (the default).
    #[default]
    Parquet,
    /// Delimited text without quoting.
    Text,
    /// RFC 4180 CSV.
    Csv,
    /// ORC.
    Orc,
}

impl<'de> Deserialize<'de> for HdfsFileType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim().to_ascii_lowercase().as_str() {
            "parquet" => Ok(HdfsFileType::Parquet),
            "text" => Ok(HdfsFileType::Text),
            "csv" => Ok(HdfsFileType::Csv),
            "orc" => Ok(HdfsFileType::Orc),
            "rc" | "seq" => Err(serde::de::Error::custom(format!(
                "\"{s}\" files are not supported yet; allowed: parquet (default), orc, text, csv"
            ))),
            _ => Err(serde::de::Error::custom(format!(
                "unknown variant `{s}`, expected one of `parquet`, `orc`, `text`, `csv`"
            ))),
        }
    }
}

/// What hdfsreader/hdfswriter's keys picked: the plugin, and the store it works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HdfsPick {
    /// The plugin, by `fileType`.
    pub kind: HdfsKind,
    /// `hdfs://namenode:port` or `s3a://bucket` when `defaultFS` names a remote store, for
    /// `path` to be joined to ([`resolve_default_fs`]).
    pub default_fs: Option<String>,
    /// `hadoopConfig`, for the store's client.
    pub hadoop_config: BTreeMap<String, String>,
}

/// The plugin hdfsreader/hdfswriter's `fileType` picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HdfsKind {
    /// The Parquet plugin, for Parquet or (`orc`) ORC files.
    Columnar {
        /// ORC rather than Parquet files.
        orc: bool,
    },
    /// The text-file plugin in this format.
    Text(FileFormat),
}

/// The keys DataX's hdfsreader/hdfswriter add to what the Parquet or text plugin reads.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HdfsFront {
    /// `file:///` or absent: a local or mounted file system.
    #[serde(default, rename = "defaultFS")]
    pub default_fs: Option<String>,
    /// `parquet` (default), `text` or `csv`.
    #[serde(default)]
    pub file_type: HdfsFileType,
    /// Kerberos login to a secured HDFS: refused when true (not supported yet).
    #[serde(default, with = "datasync_engine::schema::LenientOpt::<bool>")]
    pub have_kerberos: Option<bool>,
    /// Hadoop client settings: for `hdfs://`, HDFS client keys (HA nameservices and their
    /// namenodes, timeouts); for `s3a://`, the `fs.s3a.*` endpoint and credential keys.
    #[serde(default, deserialize_with = "hadoop_config")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub hadoop_config: BTreeMap<String, String>,
}

/// Deserializes DataX's `hadoopConfig`: each value a string, number or boolean (kept as text).
/// A value whose key names a credential (`fs.s3a.secret.key`, `fs.s3a.access.key`, any
/// `password` or `token`) is masked wherever datasync prints.
pub fn hadoop_config<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    use serde::de::Error;
    // Not a BTreeMap straight away: serde's type error would quote the value, and a string
    // here may well be `fs.s3a.secret.key=...`.
    let serde_json::Value::Object(raw) = serde_json::Value::deserialize(d)? else {
        return Err(D::Error::custom(
            "expected an object of Hadoop settings ({\"key\": \"value\", ...}; the value given \
             is not shown, it may hold a secret)",
        ));
    };
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        let v = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => {
                return Err(D::Error::custom(format!(
                    "\"{k}\": expected a string, number or boolean"
                )))
            }
        };
        if !v.is_empty()
            && (datasync_engine::secrets::is_secret_name(&k)
                || k.to_ascii_lowercase().contains("access.key"))
        {
            datasync_engine::secrets::register(&v);
        }
        out.insert(k, v);
    }
    Ok(out)
}

/// hdfsreader/hdfswriter keys of the Kerberos login, which is not supported (refused when
/// `haveKerberos` is true).
const HDFS_CLIENT_KEYS: &[(&str, &str)] = &[
    (
        "kerberosKeytabFilePath",
        "used only with haveKerberos: true (a Kerberos-secured HDFS)",
    ),
    (
        "kerberosPrincipal",
        "used only with haveKerberos: true (a Kerberos-secured HDFS)",
    ),
];

/// Text keys DataX's templates carry whatever the format; Parquet and ORC files have no use for
/// them.
const COLUMNAR_IGNORED: &[(&str, &str)] = &[
    (
        "fieldDelimiter",
        "Parquet and ORC files have no field delimiter",
    ),
    (
        "encoding",
        "Parquet and ORC strings are UTF-8 by the format",
    ),
];

impl HdfsFront {
    /// The hdfs keys in a plugin's parameter schema (taken as [`HdfsFront::take`] takes them).
    pub fn schema(
        s: datasync_engine::schema::ParamsSchema<'_>,
    ) -> datasync_engine::schema::ParamsSchema<'_> {
        s.part::<HdfsFront>()
            .ignored(HDFS_CLIENT_KEYS)
            .ignored(COLUMNAR_IGNORED)
    }

    /// The whole parameter schema of an hdfs plugin: the hdfs keys, then the keys `text` adds
    /// (but `fileFormat`, which `fileType` decides) when `fileType` is text or csv, else the
    /// `Columnar` (Parquet plugin's) keys.
    pub fn plugin_schema<Columnar: schemars::JsonSchema>(
        g: &mut datasync_engine::schema::SchemaGenerator,
        text: impl FnOnce(
            datasync_engine::schema::ParamsSchema<'_>,
        ) -> datasync_engine::schema::ParamsSchema<'_>,
    ) -> datasync_engine::schema::Schema {
        use datasync_engine::schema::ParamsSchema;
        let columnar = ParamsSchema::new(g).part::<Columnar>().build();
        let text = text(ParamsSchema::new(g)).without("fileFormat").build();
        HdfsFront::schema(ParamsSchema::new(g))
            .choose_by("fileType", &["text", "csv"], text, columnar)
            .build()
    }

    /// The hdfs keys' comments, then the Parquet plugin's (`columnar`) but its own
    /// `defaultFS`.
    pub fn notes_with(
        columnar: Vec<datasync_engine::template::TemplateNote>,
    ) -> Vec<datasync_engine::template::TemplateNote> {
        let mut n = HdfsFront::notes();
        n.extend(columnar.into_iter().filter(|t| t.key != "defaultFS"));
        n
    }

    /// `datasync template` comments of the hdfs keys (in front of the Parquet plugin's).
    fn notes() -> Vec<datasync_engine::template::TemplateNote> {
        use datasync_engine::template::{alt, note};
        vec![
            note("defaultFS", "hdfs://namenode:8020 or hdfs://nameservice (HA, see hadoopConfig): path is a directory in that HDFS; s3a://bucket: path is a key prefix in that bucket; file:/// or absent: a local or mounted path."),
            note("fileType", "parquet (default), orc, or text / csv for delimited text files (the file plugin's options then apply)."),
            alt("haveKerberos", "false", "Only false: a Kerberos-secured HDFS is not supported yet (mount the directory instead)."),
            alt("kerberosKeytabFilePath", "\"\"", "Accepted and ignored with a warning (no Kerberos login)."),
            alt("kerberosPrincipal", "\"\"", "Accepted and ignored with a warning (no Kerberos login)."),
            alt("hadoopConfig", "{\"dfs.nameservices\": \"ns\", \"dfs.ha.namenodes.ns\": \"nn1,nn2\", \"dfs.namenode.rpc-address.ns.nn1\": \"nn1:8020\", \"dfs.namenode.rpc-address.ns.nn2\": \"nn2:8020\"}", "HDFS client keys over HADOOP_CONF_DIR's files (an HA nameservice as here); for s3a://, fs.s3a.endpoint / access.key / secret.key / path.style.access / endpoint.region. Secrets are never printed."),
            alt("fieldDelimiter", "\"\\t\"", "Text files only; accepted and ignored with a warning for parquet and orc."),
            alt("encoding", "\"UTF-8\"", "Text files only; accepted and ignored with a warning for parquet and orc."),
        ]
    }

    /// A Parquet plugin's template with the hdfs keys in front, for `datasync template`.
    pub fn template(parquet: serde_json::Value) -> serde_json::Value {
        let mut t = serde_json::json!({"defaultFS": "file:///", "fileType": "parquet"});
        if let (Some(o), serde_json::Value::Object(p)) = (t.as_object_mut(), parquet) {
            o.extend(p);
        }
        t
    }

    /// Takes `defaultFS` and `fileType` off `parts` (the `parameter` at `at`) and checks them:
    /// Parquet (with an object-store `defaultFS`, `s3a://bucket`, for the Parquet plugin to
    /// use), else the text format, in which case a `fileFormat` key is refused (`fileType`
    /// decides it).
    pub fn take(parts: &mut ParamParts<'_>, at: &str) -> Result<HdfsPick, ConfigError> {
        let front: HdfsFront = parts.take()?;
        if front.have_kerberos == Some(true) {
            return Err(ConfigError::new(
                join_path(at, "haveKerberos"),
                "a Kerberos-secured HDFS is not supported yet: the HDFS client logs in as a \
                 simple-auth user (HADOOP_USER_NAME); for a Kerberized cluster mount the \
                 table's directory (NFS gateway, hdfs fuse) and set haveKerberos: false",
            ));
        }
        parts.ignore(HDFS_CLIENT_KEYS);
        let fs = front
            .default_fs
            .as_deref()
            .map(str::trim)
            .unwrap_or_default();
        // A remote store (HDFS, S3): `path` is a path in it, for the chosen plugin to join.
        let object_store = is_remote_url(fs);
        check_default_fs(at, front.default_fs.as_deref())?;
        if matches!(front.file_type, HdfsFileType::Parquet | HdfsFileType::Orc) {
            // DataX's hdfswriter requires it whatever the format; columnar files have none.
            parts.ignore(COLUMNAR_IGNORED);
        }
        let kind = match front.file_type {
            HdfsFileType::Parquet | HdfsFileType::Orc => HdfsKind::Columnar {
                orc: front.file_type == HdfsFileType::Orc,
            },
            HdfsFileType::Text => HdfsKind::Text(FileFormat::Text),
            HdfsFileType::Csv => HdfsKind::Text(FileFormat::Csv),
        };
        if let HdfsKind::Text(_) = kind {
            parts.hide("fileFormat");
            if parts.get("fileFormat").is_some() {
                return Err(ConfigError::new(
                    join_path(at, "fileFormat"),
                    "the format comes from fileType here; remove fileFormat",
                ));
            }
        }
        Ok(HdfsPick {
            kind,
            default_fs: front.default_fs.filter(|_| object_store),
            hadoop_config: front.hadoop_config,
        })
    }
}

/// A local `path` (key `key` under `at`) as the file plugins take it: `file://` taken off;
/// another scheme (`hdfs://`, `s3://`) or nothing left is an error.
pub fn local_path(at: &str, key: &str, path: &str) -> Result<String, ConfigError> {
    let p = path.trim();
    let lower = p.to_ascii_lowercase();
    let bad = |why: String| Err(ConfigError::new(join_path(at, key), why));
    let local = if let Some(rest) = lower.strip_prefix("file://") {
        // file:///x, or file://localhost/x; another host is not this machine.
        let host = rest.split('/').next().unwrap_or_default();
        if !host.is_empty() && host != "localhost" {
            return bad(format!(
                "\"{path}\": file:// names the host \"{host}\"; a local path is file:///path"
            ));
        }
        &p["file://".len() + host.len()..]
    } else if lower.starts_with("file:/") {
        // Hadoop's own spelling of a local path: file:/tmp/x.
        &p["file:".len()..]
    } else {
        // Anything else that starts with a scheme (`s3a:/x`, `hdfs:/x`, `file:rel`) would be
        // taken as a directory of that name; a path here is local (or remote where the
        // plugin handles it before this).
        let scheme = p.split(':').next().unwrap_or_default();
        if p.contains(':')
            && !scheme.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        {
            return bad(format!(
                "\"{path}\": {scheme}: is not a path this plugin can write or read: expected a \
                 local path (/dir, file:///dir){}",
                if is_remote_url(&format!("{scheme}://")) {
                    format!(" or {scheme}://bucket-or-namenode/dir")
                } else {
                    String::new()
                }
            ));
        }
        p
    };
    if local.is_empty() {
        return Err(ConfigError::new(
            join_path(at, key),
            format!("\"{path}\" names no directory or file"),
        ));
    }
    Ok(local.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_parses() {
        for (name, t) in HIVE_TYPES {
            let h = parse_hive_type(&name.to_uppercase()).unwrap();
            assert_eq!(&h.arrow, t, "{name}");
            assert_eq!(parse_hive_type(&h.name).unwrap(), h, "{name}");
        }
        let v = parse_hive_type("VARCHAR").unwrap();
        assert_eq!((v.name.as_str(), v.max_chars), ("string", None));
        assert_eq!(parse_hive_type("char").unwrap().name, "string");
        let d = parse_hive_type("DECIMAL(12, 2)").unwrap();
        assert_eq!(d.arrow, DataType::Decimal128(12, 2));
        assert_eq!(d.name, "decimal(12,2)");
        assert_eq!(
            parse_hive_type("decimal").unwrap().arrow,
            DataType::Decimal128(10, 0)
        );
        let v = parse_hive_type("VARCHAR(20)").unwrap();
        assert_eq!((v.arrow, v.max_chars), (DataType::Utf8, Some(20)));
        assert_eq!(parse_hive_type("char(3)").unwrap().name, "char(3)");
        assert!(parse_hive_type("decimal(39,2)").is_err());
        assert!(parse_hive_type("varchar(0)").is_err());
        assert!(parse_hive_type("map<string,int>")
            .unwrap_err()
            .contains("allowed"));
    }

    #[test]
    fn hdfs_front_keys() {
        let f: HdfsFront =
            serde_json::from_value(json!({"defaultFS": "file:///", "fileType": "TEXT"})).unwrap();
        assert_eq!(f.file_type, HdfsFileType::Text);
        let v = json!({"fileType": "csv", "fileFormat": "csv"});
        let mut parts = ParamParts::new(&v, "w").unwrap();
        let e = HdfsFront::take(&mut parts, "w").unwrap_err();
        assert_eq!(e.path, "w.fileFormat");
        let f: HdfsFront = serde_json::from_value(json!({"fileType": "ORC"})).unwrap();
        assert_eq!(f.file_type, HdfsFileType::Orc);
        // hadoopConfig reaches the picked plugin, numbers as text.
        let v = json!({"defaultFS": "hdfs://ns", "fileType": "orc",
                       "hadoopConfig": {"dfs.ha.namenodes.ns": "nn1", "dfs.replication": 2}});
        let mut parts = ParamParts::new(&v, "w").unwrap();
        let pick = HdfsFront::take(&mut parts, "w").unwrap();
        assert_eq!(pick.kind, HdfsKind::Columnar { orc: true });
        assert_eq!(pick.default_fs.as_deref(), Some("hdfs://ns"));
        assert_eq!(pick.hadoop_config["dfs.ha.namenodes.ns"], "nn1");
        assert_eq!(pick.hadoop_config["dfs.replication"], "2");
        let e = serde_json::from_value::<HdfsFront>(json!({"fileType": "rc"})).unwrap_err();
        assert!(e.to_string().contains("not supported yet"), "{e}");
        let e = check_default_fs("w", Some("viewfs://cluster")).unwrap_err();
        assert!(e.to_string().contains("w.defaultFS"), "{e}");
        assert!(check_default_fs("w", Some(" hdfs://nn:8020")).is_ok());
        assert_eq!(local_path("w", "path", "file:///t").unwrap(), "/t");
        assert_eq!(local_path("w", "path", "/t/a.csv").unwrap(), "/t/a.csv");
        assert!(local_path("w", "path", "hdfs://nn:8020/t").is_err());
        assert!(local_path("w", "path", "file://").is_err());
        // Found by a hostile pass: these were directories of those names.
        assert_eq!(local_path("w", "path", "file:/tmp/x").unwrap(), "/tmp/x");
        assert_eq!(
            local_path("w", "path", "file://localhost/tmp/x").unwrap(),
            "/tmp/x"
        );
        for p in [
            "file://host2/tmp/x",
            "file:rel",
            "s3a:/bkt/x",
            "s3:bkt/x",
            "hdfs:/user/x",
        ] {
            assert_eq!(
                local_path("w", "path", p).unwrap_err().path,
                "w.path",
                "{p}"
            );
        }
        assert_eq!(local_path("w", "path", "rel/dir").unwrap(), "rel/dir");
        assert!(check_default_fs("w", Some("FILE:///")).is_ok());
        assert!(check_default_fs("w", Some("file://remotehost/")).is_err());
    }

    #[test]
    fn default_fs_joins_path() {
        let r = |fs: Option<&str>, p: &str| resolve_default_fs("w", fs, p);
        assert_eq!(
            r(Some("hdfs://nn:8020/"), "/t/x").unwrap(),
            "hdfs://nn:8020/t/x"
        );
        assert_eq!(r(Some("s3a://bkt"), "t").unwrap(), "s3a://bkt/t");
        assert_eq!(r(None, " /t ").unwrap(), "/t");
        assert_eq!(r(Some("file:///"), "/t").unwrap(), "/t");
        // A path that names its own store keeps it.
        assert!(r(Some("hdfs://nn:8020"), "file:///t").is_err());
        assert_eq!(r(Some("file:///"), "s3://b/t").unwrap(), "s3://b/t");
        let e = r(Some("s3a://bkt/prefix"), "t").unwrap_err().to_string();
        assert!(
            e.contains("w.defaultFS") && e.contains("name the store only"),
            "{e}"
        );
        let e = r(Some("viewfs://c"), "s3://b/t").unwrap_err().to_string();
        assert!(e.contains("w.defaultFS"), "{e}");
        assert!(r(Some("viewfs://c"), "/t").is_err());
        // Found by a hostile pass: no bucket, a directory in a local defaultFS, a path on
        // another store, a bucket with a port.
        for (fs, p) in [
            ("s3a://", "/t"),
            ("hdfs://", "/t"),
            ("file:///tmp/out", "x"),
            ("s3a://bkt1", "s3a://bkt2/x"),
            ("hdfs://nn:8020", "s3://b/t"),
            ("s3a://bkt1:9000", "/x"),
        ] {
            let e = r(Some(fs), p).unwrap_err();
            assert_eq!(e.path, "w.defaultFS", "{fs} {p}: {e}");
        }
        assert_eq!(r(Some("S3A://bkt"), "s3://bkt/x").unwrap(), "s3://bkt/x");
    }

    #[test]
    fn partition_names_round_trip() {
        for v in ["2024-01-01", "a/b=c", "50%", "x:y", "日本", " sp ace"] {
            let e = escape_partition_value(Some(v));
            assert!(!e.contains('/') && !e.contains('='), "{e}");
            assert_eq!(unescape_partition_value(&e).as_deref(), Some(v));
        }
        assert_eq!(escape_partition_value(Some("a/b")), "a%2Fb");
        assert_eq!(escape_partition_value(None), DEFAULT_PARTITION);
        assert_eq!(unescape_partition_value(DEFAULT_PARTITION), None);
        assert_eq!(
            partition_dir(
                &["dt".into(), "region".into()],
                &[Some("2024-01-01".into()), None]
            ),
            "dt=2024-01-01/region=__HIVE_DEFAULT_PARTITION__"
        );
        assert!(is_hidden_name("_SUCCESS") && is_hidden_name(".staging"));
        assert!(!is_hidden_name("part-0.parquet"));
    }
}

datasync_engine::any_case_schema!(
    HdfsFileType,
    "HdfsFileType",
    ["parquet", "orc", "text", "csv"],
    "The files' format (any letter case); default parquet."
);
