//! MySQL <-> Arrow types. Reading maps result-set column metadata to an Arrow type and a
//! decoding kind; writing with `createTable` maps Arrow types back to DDL. [`TYPE_TABLE`] is the
//! declarative list both directions follow, walked by a test.

use arrow_schema::{DataType, TimeUnit};
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::Column;

/// How a column's text value is turned into the Arrow value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// The text protocol's text parses as the Arrow type.
    Text,
    /// DATE/DATETIME/TIMESTAMP: text, but `0000-00-00` needs zeroDateTimeBehavior.
    Temporal,
    /// BIT(n): big-endian bytes to an integer (or bool for BIT(1)).
    Bit,
}

/// (MySQL type as written in DDL, Arrow type it reads as, DDL `createTable` writes for it, as
/// the server reports it back: MariaDB's JSON is a LONGTEXT). Where the Arrow type only carries
/// the values (text), the recorded source type decides the DDL (see [`ddl_for`]).
pub const TYPE_TABLE: &[(&str, &str, &str)] = &[
    ("TINYINT", "int8", "TINYINT"),
    ("TINYINT UNSIGNED", "uint8", "TINYINT UNSIGNED"),
    ("SMALLINT", "int16", "SMALLINT"),
    ("SMALLINT UNSIGNED", "uint16", "SMALLINT UNSIGNED"),
    ("MEDIUMINT", "int32", "INT"),
    ("MEDIUMINT UNSIGNED", "uint32", "INT UNSIGNED"),
    ("INT", "int32", "INT"),
    ("INT UNSIGNED", "uint32", "INT UNSIGNED"),
    ("BIGINT", "int64", "BIGINT"),
    ("BIGINT UNSIGNED", "uint64", "BIGINT UNSIGNED"),
    ("DECIMAL(12,2)", "decimal(12,2)", "DECIMAL(12,2)"),
    ("DECIMAL(38,10)", "decimal(38,10)", "DECIMAL(38,10)"),
    ("DECIMAL(65,30)", "decimal(65,30)", "DECIMAL(65,30)"),
    ("FLOAT", "float32", "FLOAT"),
    ("DOUBLE", "float64", "DOUBLE"),
    ("BIT(1)", "boolean", "BOOLEAN"),
    ("BIT(8)", "uint64", "BIGINT UNSIGNED"),
    ("BOOL", "int8", "TINYINT"),
    ("YEAR", "int16", "SMALLINT"),
    ("DATE", "date32", "DATE"),
    ("DATETIME(6)", "timestamp[us]", "DATETIME(6)"),
    ("TIMESTAMP(3)", "timestamp[us]", "DATETIME(6)"),
    ("TIME(6)", "utf8", "TIME(6)"),
    ("CHAR(10)", "utf8", "LONGTEXT"),
    ("VARCHAR(64)", "utf8", "LONGTEXT"),
    ("TEXT", "utf8", "LONGTEXT"),
    ("ENUM('a','b')", "utf8", "LONGTEXT"),
    ("SET('a','b')", "utf8", "LONGTEXT"),
    ("JSON", "utf8", "LONGTEXT"),
    ("BINARY(4)", "binary", "LONGBLOB"),
    ("VARBINARY(16)", "binary", "LONGBLOB"),
    ("BLOB", "binary", "LONGBLOB"),
];

/// The Arrow type a result column reads as. `TINYINT(1)`/BOOL stays an integer (it can hold
/// -128..127, so a boolean would lose values); TIME stays text (its range exceeds a day);
/// DECIMAL beyond 38 digits stays exact text; TIMESTAMP is read in UTC (the session's zone).
pub fn arrow_type(col: &Column) -> (DataType, ColumnKind) {
    let unsigned = col.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = col.character_set() == 63;
    use ColumnType::*;
    let t = match col.column_type() {
        MYSQL_TYPE_TINY => {
            if unsigned {
                DataType::UInt8
            } else {
                DataType::Int8
            }
        }
        MYSQL_TYPE_SHORT => {
            if unsigned {
                DataType::UInt16
            } else {
                DataType::Int16
            }
        }
        MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG => {
            if unsigned {
                DataType::UInt32
            } else {
                DataType::Int32
            }
        }
        MYSQL_TYPE_LONGLONG => {
            if unsigned {
                DataType::UInt64
            } else {
                DataType::Int64
            }
        }
        MYSQL_TYPE_YEAR => DataType::Int16,
        MYSQL_TYPE_FLOAT => DataType::Float32,
        MYSQL_TYPE_DOUBLE => DataType::Float64,
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => {
            let scale = col.decimals();
            // Display length counts the sign (signed) and the point (scale > 0).
            let len = col.column_length() as i64;
            let precision = len - i64::from(scale > 0) - i64::from(!unsigned);
            if (1..=76).contains(&precision) && i64::from(scale) <= precision {
                datasync_codec::types::decimal_type(precision as u8, scale as i8)
            } else {
                DataType::Utf8
            }
        }
        MYSQL_TYPE_BIT if col.column_length() == 1 => return (DataType::Boolean, ColumnKind::Bit),
        MYSQL_TYPE_BIT => return (DataType::UInt64, ColumnKind::Bit),
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => return (DataType::Date32, ColumnKind::Temporal),
        MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_TIMESTAMP2 => {
            return (
                DataType::Timestamp(TimeUnit::Microsecond, None),
                ColumnKind::Temporal,
            )
        }
        MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_BLOB
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_STRING
        | MYSQL_TYPE_VARCHAR
            if binary
                && !col
                    .flags()
                    .intersects(ColumnFlags::ENUM_FLAG | ColumnFlags::SET_FLAG) =>
        {
            DataType::Binary
        }
        MYSQL_TYPE_GEOMETRY => DataType::Binary,
        _ => DataType::Utf8,
    };
    (t, ColumnKind::Text)
}

/// The source type to record on a column whose Arrow type only carries its values (see
/// `datasync_db::sql::source_type::SOURCE_TYPE`): DECIMAL beyond 38 digits, TIME, JSON.
pub fn source_type(col: &Column) -> Option<String> {
    use ColumnType::*;
    match col.column_type() {
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => {
            let scale = col.decimals();
            let unsigned = col.flags().contains(ColumnFlags::UNSIGNED_FLAG);
            let len = col.column_length() as i64;
            let precision = len - i64::from(scale > 0) - i64::from(!unsigned);
            (precision > 38).then(|| format!("decimal({precision},{scale})"))
        }
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => Some("time".into()),
        MYSQL_TYPE_JSON => Some("json".into()),
        _ => None,
    }
}

/// The column type `createTable` uses for a column: its recorded source type when the Arrow
/// type only carries the values, else the Arrow type's; `None` if there is none.
pub fn ddl_for(f: &arrow_schema::Field) -> Option<String> {
    let src = crate::sql::source_type::source_type(f);
    if let Some((p, s)) = src.and_then(crate::sql::source_type::source_decimal) {
        return Some(match (p, s) {
            (Some(p), Some(s)) if p <= 65 && s <= 30 => format!("DECIMAL({p},{s})"),
            (Some(_), Some(_)) => "LONGTEXT".into(),
            _ => "DECIMAL(65,30)".into(),
        });
    }
    match src {
        Some("json") => return Some("JSON".into()),
        Some("time") => return Some("TIME(6)".into()),
        _ => {}
    }
    let t = ddl_type(f.data_type())?;
    // A binary key column cannot be a BLOB: VARBINARY(255) compares bytes exactly (a longer
    // value is refused by the strict session, never cut). Text keys: see `key_type_ok`.
    if f.metadata()
        .contains_key(crate::sql::source_type::PRIMARY_KEY)
        && t == "LONGBLOB"
    {
        return Some("VARBINARY(255)".into());
    }
    Some(t)
}

/// Whether a created column of type `ddl` can be part of a primary key that keeps apart every
/// key the source keeps apart: not text, whose collations (even `_bin` ones, which pad
/// spaces) merge keys that differ in case, accents or trailing spaces.
pub fn key_type_ok(ddl: &str) -> bool {
    !(ddl.contains("TEXT") || ddl.contains("CHAR"))
}

/// The column type `createTable` uses for an Arrow type, or `None` if there is none.
pub fn ddl_type(t: &DataType) -> Option<String> {
    Some(match t {
        DataType::List(_) => "JSON".into(),
        DataType::Time64(_) => "TIME(6)".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::UInt32 => "INT UNSIGNED".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        // MySQL's DECIMAL holds 65 digits, 30 after the point: wider stays exact text.
        DataType::Decimal256(p, s) if *p <= 65 && *s <= 30 => format!("DECIMAL({p},{s})"),
        DataType::Decimal256(..) => "LONGTEXT".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(_, _) => "DATETIME(6)".into(),
        DataType::Utf8 | DataType::LargeUtf8 => "LONGTEXT".into(),
        DataType::Binary | DataType::LargeBinary => "LONGBLOB".into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datasync_codec::types::parse_type;

    #[test]
    fn every_row_has_a_ddl_for_its_arrow_type() {
        for (mysql, arrow, ddl) in TYPE_TABLE {
            let t = parse_type(arrow).unwrap_or_else(|e| panic!("{mysql}: {e}"));
            let plain = ddl_type(&t);
            assert!(plain.is_some(), "{mysql} -> {arrow}");
            if t != DataType::Utf8 {
                assert_eq!(plain.as_deref(), Some(*ddl), "{mysql} -> {arrow}");
            }
        }
        let f = |src: &str| {
            crate::sql::source_type::with_source_type(
                arrow_schema::Field::new("c", DataType::Utf8, true),
                src,
            )
        };
        assert_eq!(
            ddl_for(&f("decimal(65,30)")).as_deref(),
            Some("DECIMAL(65,30)")
        );
        assert_eq!(ddl_for(&f("decimal(70,2)")).as_deref(), Some("LONGTEXT"));
        assert_eq!(ddl_for(&f("decimal")).as_deref(), Some("DECIMAL(65,30)"));
        assert_eq!(ddl_for(&f("time")).as_deref(), Some("TIME(6)"));
        assert_eq!(ddl_for(&f("json")).as_deref(), Some("JSON"));
    }
}
