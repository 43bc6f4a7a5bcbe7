//! The type-fidelity matrix: one table per source system (MySQL/MariaDB, PostgreSQL) with a
//! column per type and a row per edge value (every other column of that row NULL), copied to
//! every writer (MySQL, PostgreSQL, Parquet, CSV, JSONL, SFTP CSV) and read back by an
//! independent reader (the `mariadb`/`psql` clients, pyarrow, Python's csv and json modules).
//!
//! Each cell is one of: the value arrived exactly, it arrived converted (the value the target
//! holds is shown), or its row is a dirty record (the reason is shown). Whatever the cell,
//! these hold or the test fails: every job succeeds, every source row is either in the target
//! or in the dirty file (never both, never neither), no value turns into NULL and no NULL into
//! a value. The matrix is written to docs/types.md; the test fails when that file differs from
//! what this run saw (rerun with `DATASYNC_BLESS=1` and review the diff before committing).
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// How two renderings of a value are compared.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Exact decimal value (integers and decimals; `1.50` = `1.5`, `1E-30` = `0.000..1`).
    Num,
    /// A 32-bit float: the same `f32` (a target's wider rendering of it is the same value).
    F32,
    /// A 64-bit float: the same bits (so `-0` differs from `0`); NaN equals NaN.
    F64,
    /// true/false in any of the usual spellings (`t`, `1`, `True`).
    Bool,
    /// Byte-for-byte text.
    Text,
    /// Bytes, rendered as lowercase hex.
    Bin,
    /// A date, time or timestamp: `T` or space, trailing fractional zeros and a UTC offset
    /// (`Z`, `+00`, `+00:00`) do not matter.
    Temporal,
    /// The same JSON value (key order and spacing do not matter).
    Json,
}

/// One source column: its name, its DDL type, the Hive type the Parquet writer is given for it,
/// how values compare, and the SQL literals of its edge values.
struct Col {
    name: &'static str,
    ddl: &'static str,
    hive: &'static str,
    kind: Kind,
    values: &'static [&'static str],
}

const fn col(
    name: &'static str,
    ddl: &'static str,
    hive: &'static str,
    kind: Kind,
    values: &'static [&'static str],
) -> Col {
    Col {
        name,
        ddl,
        hive,
        kind,
        values,
    }
}

use Kind::*;

const MYSQL_COLS: &[Col] = &[
    col("ti", "TINYINT", "TINYINT", Num, &["-128", "127"]),
    col("tu", "TINYINT UNSIGNED", "SMALLINT", Num, &["255"]),
    col(
        "t1",
        "TINYINT(1)",
        "BOOLEAN",
        Num,
        &["0", "1", "127", "-128"],
    ),
    col("si", "SMALLINT", "SMALLINT", Num, &["-32768", "32767"]),
    col("i", "INT", "INT", Num, &["-2147483648", "2147483647"]),
    col("iu", "INT UNSIGNED", "BIGINT", Num, &["4294967295"]),
    col(
        "bi",
        "BIGINT",
        "BIGINT",
        Num,
        &["-9223372036854775808", "9223372036854775807"],
    ),
    col(
        "bu",
        "BIGINT UNSIGNED",
        "DECIMAL(20,0)",
        Num,
        &["18446744073709551615"],
    ),
    col(
        "d12",
        "DECIMAL(12,2)",
        "DECIMAL(12,2)",
        Num,
        &["-9999999999.99", "0.01"],
    ),
    col(
        "d38",
        "DECIMAL(38,10)",
        "DECIMAL(38,10)",
        Num,
        &["9999999999999999999999999999.9999999999", "-0.0000000001"],
    ),
    col(
        "d65",
        "DECIMAL(65,30)",
        "STRING",
        Num,
        &[
            "99999999999999999999999999999999999.999999999999999999999999999999",
            "-0.000000000000000000000000000001",
        ],
    ),
    col(
        "fl",
        "FLOAT",
        "FLOAT",
        F32,
        &[
            "-3.40282e38",
            "1.17549e-38",
            "16777216",
            "1234567",
            "1.0000001",
            "0.33333334",
        ],
    ),
    col(
        "db",
        "DOUBLE",
        "DOUBLE",
        F64,
        &["-1.7976931348623157e308", "5e-324", "0.1"],
    ),
    col("bt", "BIT(1)", "BOOLEAN", Num, &["b'1'", "b'0'"]),
    col("yr", "YEAR", "SMALLINT", Num, &["1901", "2155"]),
    col(
        "dt",
        "DATE",
        "DATE",
        Temporal,
        &["'1000-01-01'", "'1899-12-31'", "'9999-12-31'"],
    ),
    col(
        "dtm",
        "DATETIME(6)",
        "TIMESTAMP",
        Temporal,
        &[
            "'1000-01-01 00:00:00'",
            "'1899-12-31 23:59:59.000001'",
            "'9999-12-31 23:59:59.999999'",
        ],
    ),
    col(
        "ts",
        "TIMESTAMP(6) NULL",
        "TIMESTAMP",
        Temporal,
        &["'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'"],
    ),
    col(
        "tm",
        "TIME(6)",
        "STRING",
        Temporal,
        &["'838:59:59'", "'-838:59:59'", "'00:00:00.000001'"],
    ),
    col("ch", "CHAR(5)", "STRING", Text, &["''", "'ab'"]),
    col(
        "vc",
        "VARCHAR(100)",
        "STRING",
        Text,
        &[
            "''",
            r#"'tab\tnl\ncomma,"q"'"#,
            "'😀 中文'",
            r"'nul\0byte'",
            r"'trailing cr\r'",
            r"'back\\slash'",
        ],
    ),
    col("tx", "TEXT", "STRING", Text, &["'\\\\N'"]),
    col("vb", "VARBINARY(16)", "BINARY", Bin, &["0x00ff00", "''"]),
    col("bl", "BLOB", "BINARY", Bin, &["0x00"]),
    col(
        "js",
        "JSON",
        "STRING",
        Json,
        &[r#"'{"b": 1, "a": [1.5, null, "x"]}'"#],
    ),
    col("en", "ENUM('x','y')", "STRING", Text, &["'y'"]),
];

const PG_COLS: &[Col] = &[
    col("si", "smallint", "SMALLINT", Num, &["-32768", "32767"]),
    col("i", "integer", "INT", Num, &["-2147483648", "2147483647"]),
    col(
        "bi",
        "bigint",
        "BIGINT",
        Num,
        &["-9223372036854775808", "9223372036854775807"],
    ),
    col(
        "n12",
        "numeric(12,2)",
        "DECIMAL(12,2)",
        Num,
        &["-9999999999.99", "0.01"],
    ),
    col(
        "n38",
        "numeric(38,10)",
        "DECIMAL(38,10)",
        Num,
        &["9999999999999999999999999999.9999999999"],
    ),
    col(
        "nu",
        "numeric",
        "STRING",
        Num,
        &[
            "0.123456789012345678",
            "1e-30",
            "12345678901234567890123456789",
            "'NaN'",
            "'Infinity'",
            "'-Infinity'",
        ],
    ),
    col(
        "n76",
        "numeric(76,38)",
        "STRING",
        Num,
        &["12345678901234567890123456789012345678.12345678901234567890123456789012345678"],
    ),
    col(
        "n50",
        "numeric(50,12)",
        "DECIMAL(38,10)",
        Num,
        &[
            "123.45",
            "12345678901234567890123456789012345678.5",
            "0.000000000001",
        ],
    ),
    col(
        "r",
        "real",
        "FLOAT",
        F32,
        &["3.4028235e38", "-1.4e-45", "'NaN'", "'Infinity'", "'-0'"],
    ),
    col(
        "d",
        "double precision",
        "DOUBLE",
        F64,
        &[
            "1.7976931348623157e308",
            "5e-324",
            "'NaN'",
            "'-Infinity'",
            "'-0'",
        ],
    ),
    // Narrowing into other Hive types (the Parquet column's type is the second one).
    col(
        "bd",
        "bigint",
        "DOUBLE",
        Num,
        &["9007199254740992", "9007199254740993"],
    ),
    col(
        "dd",
        "double precision",
        "DECIMAL(38,10)",
        F64,
        &["16777217", "123.456", "1e20", "1e-11", "'NaN'"],
    ),
    col("df", "double precision", "FLOAT", F64, &["0.5", "16777217"]),
    col("b", "boolean", "BOOLEAN", Bool, &["true", "false"]),
    col("ch", "char(5)", "STRING", Text, &["'ab'"]),
    col(
        "vc",
        "varchar(100)",
        "STRING",
        Text,
        &[
            "''",
            "E'tab\\tnl\\ncomma,\"q\"'",
            "'😀 中文'",
            "E'back\\\\slash'",
            "E'trailing cr\\r'",
        ],
    ),
    col("tx", "text", "STRING", Text, &["'\\N'"]),
    col("by", "bytea", "BINARY", Bin, &["'\\x00ff00'", "''"]),
    col(
        "dt",
        "date",
        "DATE",
        Temporal,
        &[
            "'0001-01-01'",
            "'1899-12-31'",
            "'10000-01-01'",
            "'infinity'",
            "'-infinity'",
        ],
    ),
    col(
        "ts",
        "timestamp(6)",
        "TIMESTAMP",
        Temporal,
        &[
            "'0001-01-01 00:00:00'",
            "'1899-12-31 23:59:59.999999'",
            "'10000-01-01 00:00:00'",
            "'-infinity'",
        ],
    ),
    col(
        "tz",
        "timestamptz",
        "TIMESTAMP",
        Temporal,
        &[
            "'2024-06-01 12:00:00.5+02'",
            "'1969-12-31 23:59:59.999999+00'",
            "'infinity'",
        ],
    ),
    col(
        "tm",
        "time",
        "STRING",
        Temporal,
        &["'23:59:59.999999'", "'24:00:00'"],
    ),
    col(
        "iv",
        "interval",
        "STRING",
        Text,
        &["'1 year 2 mons 3 days 04:05:06.000007'", "'-1 days'"],
    ),
    col(
        "u",
        "uuid",
        "STRING",
        Text,
        &["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"],
    ),
    col(
        "j",
        "json",
        "STRING",
        Json,
        &[r#"'{"b": 1, "a": [1.5, null, "x"]}'"#],
    ),
    col(
        "jb",
        "jsonb",
        "STRING",
        Json,
        &[r#"'{"b": 1, "a": [1.5, null, "x"]}'"#],
    ),
    col("ip", "inet", "STRING", Text, &["'192.168.0.1/24'", "'::1'"]),
    col("ci", "cidr", "STRING", Text, &["'10.0.0.0/8'"]),
    col("mac", "macaddr", "STRING", Text, &["'08:00:2b:01:02:03'"]),
    col(
        "mo",
        "money",
        "STRING",
        Text,
        &["'-92233720368547758.08'", "'1234.5'"],
    ),
    col("rg", "int4range", "STRING", Text, &["'[1,10)'"]),
    col(
        "ta",
        "text[]",
        "STRING",
        Json,
        &[r#"'{a,NULL,"b c","q\"x"}'"#],
    ),
    col(
        "ia",
        "int4[]",
        "STRING",
        Text,
        &["'{{1,2},{3,4}}'", "'{5,NULL}'", "'[0:1]={7,8}'"],
    ),
];

/// What a cell of the matrix turned out to be.
enum Cell {
    Exact,
    Converted(String),
    Dirty(String),
}

/// One source row: its id, the column it tests and the value's rendering in the source.
struct Case {
    id: i64,
    col: usize,
    literal: &'static str,
    source: String,
}

/// Rows read back: id -> the rendering of each column (None = NULL), plus each column's type.
struct Readback {
    types: Vec<String>,
    rows: BTreeMap<i64, Vec<Option<String>>>,
}

/// A dirty record: id -> (which side, message).
type DirtyRows = BTreeMap<i64, String>;

fn cases(cols: &[Col]) -> Vec<(i64, usize, &'static str)> {
    let mut out = Vec::new();
    for (c, col) in cols.iter().enumerate() {
        for v in col.values {
            out.push((out.len() as i64 + 1, c, *v));
        }
    }
    out
}

/// `INSERT`s for the source table: one row per case, every other column NULL.
fn inserts(table: &str, cols: &[Col]) -> String {
    cases(cols)
        .iter()
        .map(|(id, c, v)| {
            format!(
                "INSERT INTO {table} (id, {}) VALUES ({id}, {v});",
                cols[*c].name
            )
        })
        .collect()
}

fn unhex(s: &str) -> String {
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

/// Decodes `N` / `V<hex of the text>` fields of a client's output: rows of (id, values).
fn decode_rows(out: &str, sep: char) -> BTreeMap<i64, Vec<Option<String>>> {
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.split(sep);
            let id: i64 = f.next().unwrap().parse().unwrap();
            let vals = f
                .map(|v| match v.strip_prefix('V') {
                    Some(h) => Some(unhex(h)),
                    None => {
                        assert_eq!(v, "N", "{l}");
                        None
                    }
                })
                .collect();
            (id, vals)
        })
        .collect()
}

/// MySQL: the SQL that renders column `c` of data type `t` (information_schema's DATA_TYPE) as
/// text, binary as lowercase hex, floats at full double precision.
fn mysql_render(c: &str, t: &str) -> String {
    let inner = match t {
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            format!("LOWER(HEX(`{c}`))")
        }
        "float" | "double" => format!("CAST(CAST(`{c}` AS DOUBLE) AS CHAR)"),
        "bit" => format!("CAST(`{c}` + 0 AS CHAR)"),
        _ => format!("CAST(`{c}` AS CHAR)"),
    };
    format!("IFNULL(CONCAT('V', HEX(CONVERT({inner} USING utf8mb4))), 'N')")
}

fn mysql_read(db: &MariaDb, table: &str, names: &[&str]) -> Readback {
    let types_out = db.query(&format!(
        "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{table}'",
        db.name
    ));
    let by_name: BTreeMap<String, (String, String)> = types_out
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), (f[1].to_string(), f[2].to_string()))
        })
        .collect();
    let mut types = Vec::new();
    let mut exprs = Vec::new();
    for n in names {
        let (dt, ct) = &by_name[*n];
        types.push(ct.to_uppercase());
        exprs.push(mysql_render(n, dt));
    }
    let out = db.query(&format!(
        "SET time_zone = '+00:00'; SELECT id, {} FROM `{table}` ORDER BY id",
        exprs.join(", ")
    ));
    Readback {
        types,
        rows: decode_rows(&out, '\t'),
    }
}

fn pg_read(pg: &Pg, table: &str, names: &[&str]) -> Readback {
    let types_out = pg.query(&format!(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         WHERE a.attrelid = '{table}'::regclass AND a.attnum > 0 AND NOT a.attisdropped"
    ));
    let by_name: BTreeMap<String, String> = types_out
        .lines()
        .map(|l| {
            let (n, t) = l.split_once('|').unwrap();
            (n.to_string(), t.to_string())
        })
        .collect();
    let mut types = Vec::new();
    let mut exprs = Vec::new();
    for n in names {
        let t = &by_name[*n];
        let inner = match t.as_str() {
            "bytea" => format!("encode(\"{n}\", 'hex')"),
            "timestamp with time zone" => format!("(\"{n}\" AT TIME ZONE 'UTC')::text"),
            // Its output (psql's), not its cast to text, which always adds the netmask.
            "inet" => format!("abbrev(\"{n}\")"),
            _ => format!("\"{n}\"::text"),
        };
        types.push(t.clone());
        exprs.push(format!(
            "coalesce('V' || encode(convert_to({inner}, 'UTF8'), 'hex'), 'N')"
        ));
    }
    let out = pg.query(&format!(
        "SELECT id, {} FROM \"{table}\" ORDER BY id",
        exprs.join(", ")
    ));
    Readback {
        types,
        rows: decode_rows(&out, '|'),
    }
}

/// pyarrow reads the Parquet directory: each column's Parquet/Arrow type and its values
/// (binary as hex, floats by `repr`, everything else through Arrow's cast to string).
const PARQUET_READ: &str = r#"
import sys, json, pyarrow as pa, pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
def render(col):
    ty = col.type
    vals = col.to_pylist() if not (pa.types.is_timestamp(ty) or pa.types.is_date(ty)) else None
    if pa.types.is_binary(ty) or pa.types.is_large_binary(ty) or pa.types.is_fixed_size_binary(ty):
        return [None if v is None else v.hex() for v in vals]
    if pa.types.is_floating(ty):
        return [None if v is None else repr(v) for v in vals]
    if pa.types.is_boolean(ty):
        return [None if v is None else ("true" if v else "false") for v in vals]
    if pa.types.is_list(ty):
        return [None if v is None else json.dumps(v, default=str) for v in vals]
    return col.cast(pa.string()).to_pylist()
cols = {f.name: render(t.column(f.name).combine_chunks()) for f in t.schema}
types = {f.name: str(f.type) for f in t.schema}
ids = t.column("id").to_pylist()
print(json.dumps({"types": types, "rows": [[ids[i]] + [cols[n][i] for n in t.schema.names if n != "id"] for i in range(len(ids))]}))
"#;

/// Python's csv module reads every file of the directory (`\N` is NULL); a field whose bytes
/// are not UTF-8 is given as `hex:` and its bytes.
const CSV_READ: &str = r#"
import sys, json, csv, os
def field(v):
    if v == '\\N':
        return None
    try:
        v.encode('utf-8')
        return v
    except UnicodeEncodeError:
        return 'hex:' + v.encode('utf-8', 'surrogateescape').hex()
rows = []
for name in sorted(os.listdir(sys.argv[1])):
    if name.startswith('.') or name.startswith('_'):
        continue
    with open(os.path.join(sys.argv[1], name), newline='', encoding='utf-8', errors='surrogateescape') as f:
        for r in csv.reader(f):
            rows.append([field(v) for v in r])
print(json.dumps(rows))
"#;

/// Python's json module reads every JSON line (numbers kept exact as decimal text).
const JSONL_READ: &str = r#"
import sys, json, os
from decimal import Decimal
def render(v):
    if v is None: return None
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, (dict, list)): return json.dumps(v, default=float, ensure_ascii=False)
    return str(v)
rows = []
for name in sorted(os.listdir(sys.argv[1])):
    if name.startswith('.') or name.startswith('_'):
        continue
    with open(os.path.join(sys.argv[1], name), encoding='utf-8') as f:
        for line in f:
            o = json.loads(line, parse_float=Decimal, parse_constant=str)
            rows.append({k: render(v) for k, v in o.items()})
print(json.dumps(rows))
"#;

fn file_rows(rows: Vec<Vec<Option<String>>>) -> BTreeMap<i64, Vec<Option<String>>> {
    rows.into_iter()
        .map(|mut r| {
            let id = r.remove(0).unwrap().parse().unwrap();
            (id, r)
        })
        .collect()
}

fn parquet_read(dir: &Path, names: &[&str]) -> Readback {
    let v: serde_json::Value =
        serde_json::from_str(&run_python(PARQUET_READ, &[dir.to_str().unwrap()])).unwrap();
    let types = names
        .iter()
        .map(|n| v["types"][*n].as_str().unwrap().to_string())
        .collect();
    let rows = serde_json::from_value(v["rows"].clone()).unwrap();
    let rows = rows_of_json(rows);
    Readback { types, rows }
}

fn rows_of_json(rows: Vec<Vec<serde_json::Value>>) -> BTreeMap<i64, Vec<Option<String>>> {
    file_rows(
        rows.into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|v| match v {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s),
                        other => Some(other.to_string()),
                    })
                    .collect()
            })
            .collect(),
    )
}

fn csv_read(dir: &Path, n: usize) -> Readback {
    let rows: Vec<Vec<Option<String>>> =
        serde_json::from_str(&run_python(CSV_READ, &[dir.to_str().unwrap()])).unwrap();
    Readback {
        types: vec!["text".into(); n],
        rows: file_rows(rows),
    }
}

fn jsonl_read(dir: &Path, names: &[&str]) -> Readback {
    let objs: Vec<BTreeMap<String, Option<String>>> =
        serde_json::from_str(&run_python(JSONL_READ, &[dir.to_str().unwrap()])).unwrap();
    let rows = objs
        .into_iter()
        .map(|mut o| {
            let id = o.remove("id").flatten().unwrap().parse().unwrap();
            assert_eq!(o.len(), names.len(), "{o:?}");
            (id, names.iter().map(|n| o[*n].clone()).collect())
        })
        .collect();
    Readback {
        types: vec!["json".into(); names.len()],
        rows,
    }
}

/// Normalised decimal: sign, digits without leading/trailing zeros, exponent; NaN/Infinity by
/// name. None when `s` is not a number.
fn norm_num(s: &str) -> Option<String> {
    let s = s.trim();
    let low = s.to_ascii_lowercase();
    match low.as_str() {
        "nan" => return Some("nan".into()),
        "infinity" | "inf" | "+infinity" => return Some("inf".into()),
        "-infinity" | "-inf" => return Some("-inf".into()),
        _ => {}
    }
    // The canonical form `datasync verify` and the writers compare by (unit-tested there).
    let (neg, sig, exp) = datasync_engine::verify::canon::canonical_number(s)?;
    if sig.is_empty() {
        return Some("0".into());
    }
    Some(format!("{}{sig}e{exp}", if neg { "-" } else { "" }))
}

fn parse_float(s: &str) -> Option<f64> {
    match s.trim().to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "infinity" | "inf" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

fn norm_temporal(s: &str) -> String {
    let mut t = s.trim().replacen('T', " ", 1);
    for z in ["+00:00", "+00", "Z"] {
        if let Some(x) = t.strip_suffix(z) {
            t = x.to_string();
        }
    }
    if let Some((a, b)) = t.rsplit_once('.') {
        if b.bytes().all(|c| c.is_ascii_digit()) {
            let b = b.trim_end_matches('0');
            t = if b.is_empty() {
                a.to_string()
            } else {
                format!("{a}.{b}")
            };
        }
    }
    t
}

fn same(kind: Kind, src: &str, dst: &str) -> bool {
    if src == dst {
        return true;
    }
    match kind {
        Num => norm_num(src).is_some() && norm_num(src) == norm_num(dst),
        F32 | F64 => match (parse_float(src), parse_float(dst)) {
            (Some(a), Some(b)) if a.is_nan() => b.is_nan(),
            (Some(a), Some(b)) if kind == F32 => (a as f32).to_bits() == (b as f32).to_bits(),
            (Some(a), Some(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        },
        Bool => {
            let b = |s: &str| match s.to_ascii_lowercase().as_str() {
                "t" | "true" | "1" => Some(true),
                "f" | "false" | "0" => Some(false),
                _ => None,
            };
            b(src).is_some() && b(src) == b(dst)
        }
        Text => false,
        // Bytes as bytes: the text's own bytes, or a reader's `hex:` for bytes not UTF-8.
        Bin => {
            let hex: String = dst.bytes().map(|b| format!("{b:02x}")).collect();
            hex == src || dst.strip_prefix("hex:") == Some(src)
        }
        Temporal => norm_temporal(src) == norm_temporal(dst),
        Json => {
            let p = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
            p(src).is_some() && p(src) == p(dst)
        }
    }
}

/// The dirty file of a run: id -> message (with the scratch database names taken out).
fn dirty_rows(path: &Path, scrub: &[&str]) -> DirtyRows {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let cols = v["columns"].as_array().unwrap();
        let at = cols
            .iter()
            .position(|c| c.as_str().unwrap().eq_ignore_ascii_case("id"))
            .unwrap_or_else(|| panic!("no id in {line}"));
        let id = match &v["values"][at] {
            serde_json::Value::String(s) => s.parse().unwrap(),
            n => n.as_i64().unwrap(),
        };
        let mut msg = format!(
            "{}: {}",
            v["side"].as_str().unwrap_or("?"),
            v["error"].as_str().unwrap()
        );
        for s in scrub {
            msg = msg.replace(s, "<db>");
        }
        assert!(out.insert(id, msg).is_none(), "row {id} dirty twice");
    }
    out
}

/// Runs the job in `dir` with its dirty records in `dir/d.jsonl` and debug logging; it must
/// succeed. Returns the reader's (name, Arrow type) columns.
fn run_matrix_job(dir: &Path, text: &str) -> (Vec<(String, String)>, std::process::Output) {
    let p = write_job(dir, "m", text);
    let o = std::process::Command::new(bin())
        .current_dir(dir)
        .env("DATASYNC_LOG", "debug")
        .args([
            "run",
            p.to_str().unwrap(),
            "--no-progress",
            "--dirty-file",
            "d.jsonl",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}\n{}", text, stderr(&o));
    (logged_columns(&stderr(&o)), o)
}

/// The writers of the matrix: (title, writer JSON for a target named `target`).
struct Targets<'a> {
    my: &'a MariaDb,
    pg: &'a Pg,
    sftp: &'a Sshd,
}

const WRITERS: &[&str] = &["MySQL", "PostgreSQL", "Parquet", "CSV", "JSONL", "SFTP CSV"];

impl Targets<'_> {
    fn writer(&self, w: &str, target: &str, out: &Path, cols: &[Col]) -> String {
        match w {
            "MySQL" => format!(
                r#"{{"name": "mysqlwriter", "parameter": {{{}, "column": ["*"], "createTable": true,
                    "writeMode": "insert", "connection": [{{"jdbcUrl": "{}", "table": ["{target}"]}}]}}}}"#,
                mysql_server().login(),
                self.my.url()
            ),
            "PostgreSQL" => format!(
                r#"{{"name": "postgresqlwriter", "parameter": {{{}, "column": ["*"], "createTable": true,
                    "writeMode": "insert", "connection": [{{"jdbcUrl": "{}", "table": ["{target}"]}}]}}}}"#,
                pg_server().login(),
                self.pg.url()
            ),
            "Parquet" => {
                let mut spec = vec![r#"{"name": "id", "type": "BIGINT"}"#.to_string()];
                spec.extend(
                    cols.iter()
                        .map(|c| format!(r#"{{"name": "{}", "type": "{}"}}"#, c.name, c.hive)),
                );
                format!(
                    r#"{{"name": "hdfswriter", "parameter": {{"defaultFS": "file:///", "fileType": "parquet",
                        "path": "{}", "fileName": "part", "writeMode": "truncate", "column": [{}]}}}}"#,
                    out.display(),
                    spec.join(", ")
                )
            }
            "CSV" | "JSONL" => format!(
                r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "o",
                    "writeMode": "truncate", "fileFormat": "{}"}}}}"#,
                out.display(),
                w.to_lowercase()
            ),
            "SFTP CSV" => format!(
                r#"{{"name": "ftpwriter", "parameter": {{{}, "path": "{}", "fileName": "o",
                    "writeMode": "truncate", "fileFormat": "csv"}}}}"#,
                self.sftp.conn(),
                out.display()
            ),
            other => unreachable!("{other}"),
        }
    }

    fn read(&self, w: &str, target: &str, out: &Path, names: &[&str]) -> Readback {
        match w {
            "MySQL" => mysql_read(self.my, target, names),
            "PostgreSQL" => pg_read(self.pg, target, names),
            "Parquet" => parquet_read(out, names),
            "CSV" | "SFTP CSV" => csv_read(out, names.len()),
            "JSONL" => jsonl_read(out, names),
            other => unreachable!("{other}"),
        }
    }
}

fn md(s: &str) -> String {
    let mut t: String = s
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
        .replace('\r', "\\r")
        .replace('\0', "\\0")
        .replace('|', "\\|")
        .replace('`', "'");
    if t.chars().count() > 70 {
        t = t.chars().take(67).collect::<String>() + "...";
    }
    t
}

/// Runs one source system's table through every writer and renders its section of the doc.
fn matrix_for(
    system: &str,
    cols: &[Col],
    reader: &str,
    source: &BTreeMap<i64, Vec<Option<String>>>,
    targets: &Targets,
    scrub: &[&str],
) -> String {
    let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
    let cases: Vec<Case> = cases(cols)
        .into_iter()
        .map(|(id, c, literal)| {
            let row = &source[&id];
            for (j, v) in row.iter().enumerate() {
                assert_eq!(v.is_some(), j == c, "source row {id}: {row:?}");
            }
            Case {
                id,
                col: c,
                literal,
                source: row[c].clone().unwrap(),
            }
        })
        .collect();
    let mut arrow = Vec::new();
    // results[w][case] and created types[w][col]
    let mut results: Vec<Vec<Cell>> = Vec::new();
    let mut created: Vec<Vec<String>> = Vec::new();
    for w in WRITERS {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        let target = format!("from_{}_{}", system, w.replace(' ', "_")).to_lowercase();
        let text = job("{}", reader, &targets.writer(w, &target, &out, cols));
        let (logged, _o) = run_matrix_job(t.path(), &text);
        if arrow.is_empty() {
            arrow = logged.into_iter().map(|(_, t)| t).collect();
        }
        let dirty = dirty_rows(&t.path().join("d.jsonl"), scrub);
        let back = targets.read(w, &target, &out, &names);
        let mut cells = Vec::new();
        for case in &cases {
            let kind = cols[case.col].kind;
            let cell = match (back.rows.get(&case.id), dirty.get(&case.id)) {
                (Some(_), Some(d)) => panic!("{w}: row {} written and dirty ({d})", case.id),
                (None, None) => panic!(
                    "{w}: row {} ({} = {}) neither written nor dirty",
                    case.id, cols[case.col].name, case.literal
                ),
                (None, Some(d)) => Cell::Dirty(d.clone()),
                (Some(row), None) => {
                    for (j, v) in row.iter().enumerate() {
                        assert_eq!(
                            v.is_some(),
                            j == case.col,
                            "{w}: row {} ({} = {}): NULLs must stay NULL and values must not \
                             become NULL: {row:?}",
                            case.id,
                            cols[case.col].name,
                            case.literal
                        );
                    }
                    let got = row[case.col].clone().unwrap();
                    if same(kind, &case.source, &got) {
                        Cell::Exact
                    } else {
                        Cell::Converted(got)
                    }
                }
            };
            cells.push(cell);
        }
        results.push(cells);
        created.push(back.types);
    }
    // arrow[0] is id.
    let mut doc = format!(
        "| {system} column | value (SQL literal) | Arrow | {} |\n|---|---|---|{}\n",
        WRITERS.join(" | "),
        "---|".repeat(WRITERS.len())
    );
    for (c, col) in cols.iter().enumerate() {
        let types: Vec<String> = created.iter().map(|t| format!("*{}*", md(&t[c]))).collect();
        doc.push_str(&format!(
            "| **{}** `{}` | *created as* | {} | {} |\n",
            md(col.ddl),
            col.name,
            md(&arrow[c + 1]),
            types.join(" | ")
        ));
        for (i, case) in cases.iter().enumerate().filter(|(_, k)| k.col == c) {
            let cells: Vec<String> = results
                .iter()
                .map(|r| match &r[i] {
                    Cell::Exact => "=".to_string(),
                    Cell::Converted(v) => format!("`{}`", md(v)),
                    Cell::Dirty(m) => format!("dirty: {}", md(m)),
                })
                .collect();
            doc.push_str(&format!(
                "| | `{}` | `{}` | {} |\n",
                md(case.literal),
                md(&case.source),
                cells.join(" | ")
            ));
        }
    }
    doc
}

#[test]
fn type_fidelity_matrix() {
    let my = MariaDb::new();
    let pg = Pg::new();
    let sshd = Sshd::start();
    let targets = Targets {
        my: &my,
        pg: &pg,
        sftp: &sshd,
    };
    let scrub = [my.name.as_str(), pg.name.as_str()];

    // Each source: its table (one row per edge value), rendered by its own client, and the
    // matrix of its copies to every writer.
    type Create<'a> = &'a dyn Fn(&str, &str);
    type Read<'a> = &'a dyn Fn(&[&str]) -> Readback;
    let source = |system: &str, cols: &[Col], create: Create, read: Read, reader: String| {
        let ddl: Vec<String> = cols
            .iter()
            .map(|c| format!("{} {}", c.name, c.ddl))
            .collect();
        create(&ddl.join(", "), &inserts("src", cols));
        let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
        let rows = read(&names).rows;
        matrix_for(system, cols, &reader, &rows, &targets, &scrub)
    };
    let mysql_doc = source(
        "mysql",
        MYSQL_COLS,
        &|ddl, rows| {
            my.exec(&format!(
                "SET time_zone = '+00:00'; SET sql_mode = 'STRICT_ALL_TABLES';
                 CREATE TABLE src (id BIGINT PRIMARY KEY, {ddl}) DEFAULT CHARSET = utf8mb4; {rows}"
            ))
        },
        &|names| mysql_read(&my, "src", names),
        format!(
            r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["*"],
                "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
            mysql_server().login(),
            my.url()
        ),
    );
    let pg_doc = source(
        "postgresql",
        PG_COLS,
        &|ddl, rows| {
            pg.query(&format!(
                "CREATE TABLE src (id bigint PRIMARY KEY, {ddl}); {rows}"
            ));
        },
        &|names| pg_read(&pg, "src", names),
        format!(
            r#"{{"name": "postgresqlreader", "parameter": {{{}, "column": ["*"],
                "connection": [{{"jdbcUrl": ["{}"], "table": ["src"]}}]}}}}"#,
            pg_server().login(),
            pg.url()
        ),
    );

    let doc =
        format!("{HEADER}\n## From MySQL/MariaDB\n\n{mysql_doc}\n## From PostgreSQL\n\n{pg_doc}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/types.md");
    if std::env::var_os("DATASYNC_BLESS").is_some() {
        std::fs::write(&path, &doc).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == doc,
        "docs/types.md differs from this run: rerun with DATASYNC_BLESS=1, review the diff, commit"
    );
}

const HEADER: &str = "# Type fidelity matrix

Generated by `tests/types.rs` (`type_fidelity_matrix`) from what it saw on the servers of the
test machine; the test fails when this file and a run disagree.

One table per source system, a column per type, a row per edge value (every other column of
that row NULL), copied by `datasync run` to each writer with its defaults (`createTable` for
the SQL writers, the Hive type shown in the source table's definition in the test for Parquet,
`fileFormat` csv / jsonl for files, the SFTP writer's CSV over a loopback OpenSSH server), then
read back by an independent reader: the `mariadb` and `psql` clients, pyarrow, Python's `csv`
and `json` modules.

Reading a row:
- *created as*: the column type the target got (SQL writers: as the catalog reports it; Parquet:
  as pyarrow reads it; text files have none). Arrow is the type the reader read the column as.
- The value column shows the source's own rendering of the value (`CAST(x AS CHAR)` in MySQL,
  `x::text` in PostgreSQL, inet as it prints (`abbrev`), binary as hex).
- `=`: the target holds the same value: the same number (`1.50` = `1.5`), the same float
  bits, the same instant (`T` or space, UTC offset), the same JSON, the same bytes or text.
- a value in backquotes: the target holds this instead, a documented conversion (for example a
  PostgreSQL array as a JSON array in MySQL, a `TIME` of over 24 hours as text).
- `dirty: ...`: the row did not go to the target; it is in the dirty file with this reason
  (`reader:` when the source value could not be read, `writer:` when the target refused it).

Whatever the cell, the test also asserts: every job exits 0, every source row is in the target
or in the dirty file (exactly one of them), no value becomes NULL and no NULL becomes a value.
";
