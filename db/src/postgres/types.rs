//! PostgreSQL <-> Arrow types. [`TYPE_TABLE`] is the declarative list both directions follow.

use arrow_schema::{DataType, Field, TimeUnit};
use std::sync::Arc;
use tokio_postgres::types::{Kind, Type};

/// How a column's binary COPY value is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostgresKind {
    /// bool
    Bool,
    /// int2
    I16,
    /// int4
    I32,
    /// int8
    I64,
    /// float4
    F32,
    /// float8
    F64,
    /// numeric, read at this scale
    Numeric(i8),
    /// UTF-8 text as sent (text, varchar, char, name, json, xml, enums, and casts to text)
    Text,
    /// jsonb: a version byte, then text
    Jsonb,
    /// bytea
    Bytes,
    /// date
    Date,
    /// timestamp / timestamptz (UTC)
    Timestamp,
    /// time
    Time,
    /// uuid
    Uuid,
    /// a one-dimensional array; the element's kind is given by [`array_element`]
    Array,
}

/// (PostgreSQL type, Arrow type it reads as, DDL `createTable` writes for it; where the Arrow
/// type only carries the values (text), the recorded source type decides, see [`ddl_for`]).
pub const TYPE_TABLE: &[(&str, &str, &str)] = &[
    ("boolean", "boolean", "boolean"),
    ("smallint", "int16", "smallint"),
    ("integer", "int32", "integer"),
    ("bigint", "int64", "bigint"),
    ("real", "float32", "real"),
    ("double precision", "float64", "double precision"),
    ("numeric(12,2)", "decimal(12,2)", "numeric(12,2)"),
    ("numeric", "utf8", "numeric"),
    ("numeric(60,2)", "decimal(60,2)", "numeric(60,2)"),
    ("numeric(80,2)", "utf8", "numeric(80,2)"),
    ("text", "utf8", "text"),
    ("varchar(20)", "utf8", "text"),
    ("char(5)", "utf8", "text"),
    ("json", "utf8", "jsonb"),
    ("jsonb", "utf8", "jsonb"),
    ("uuid", "utf8", "uuid"),
    ("interval", "utf8", "interval"),
    ("inet", "utf8", "text"),
    ("int4[]", "list<int32>", "integer[]"),
    ("text[]", "list<utf8>", "text[]"),
    ("bytea", "binary", "bytea"),
    ("date", "date32", "date"),
    ("timestamp(6)", "timestamp[us]", "timestamp(6)"),
    ("timestamptz", "timestamp[us]", "timestamp(6)"),
    ("time", "time64[us]", "time"),
];

/// How a result column is read: `None` means "select it as ::text" (intervals, network types,
/// arrays, ranges, geometric and other types without a native decoder here).
pub fn arrow_type(t: &Type, typmod: i32) -> Option<(DataType, PostgresKind)> {
    let base = match t.kind() {
        Kind::Enum(_) => return Some((DataType::Utf8, PostgresKind::Text)),
        Kind::Domain(inner) => return arrow_type(inner, typmod),
        Kind::Array(_) => {
            let (elem, _) = array_element(t)?;
            return Some((
                DataType::List(Arc::new(Field::new("item", elem, true))),
                PostgresKind::Array,
            ));
        }
        _ => t,
    };
    Some(match *base {
        Type::BOOL => (DataType::Boolean, PostgresKind::Bool),
        Type::INT2 => (DataType::Int16, PostgresKind::I16),
        Type::INT4 => (DataType::Int32, PostgresKind::I32),
        Type::INT8 => (DataType::Int64, PostgresKind::I64),
        Type::FLOAT4 => (DataType::Float32, PostgresKind::F32),
        Type::FLOAT8 => (DataType::Float64, PostgresKind::F64),
        Type::NUMERIC => {
            // Without a declared precision any value may come (131,072 digits, NaN,
            // Infinity): read as exact text, like numerics wider than 38 digits.
            if typmod < 4 {
                return None;
            }
            let m = typmod - 4;
            let (p, s) = (((m >> 16) & 0xffff) as u8, (m & 0xffff) as i8);
            if p == 0 || p > 76 || s < 0 || s as u8 > p {
                return None;
            }
            (
                datasync_codec::types::decimal_type(p, s),
                PostgresKind::Numeric(s),
            )
        }
        Type::TEXT
        | Type::VARCHAR
        | Type::BPCHAR
        | Type::NAME
        | Type::JSON
        | Type::XML
        | Type::UNKNOWN => (DataType::Utf8, PostgresKind::Text),
        Type::JSONB => (DataType::Utf8, PostgresKind::Jsonb),
        Type::UUID => (DataType::Utf8, PostgresKind::Uuid),
        Type::BYTEA => (DataType::Binary, PostgresKind::Bytes),
        Type::DATE => (DataType::Date32, PostgresKind::Date),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => (
            DataType::Timestamp(TimeUnit::Microsecond, None),
            PostgresKind::Timestamp,
        ),
        Type::TIME => (DataType::Time64(TimeUnit::Microsecond), PostgresKind::Time),
        _ => return None,
    })
}

/// The Arrow type and kind of an array type's elements, when they have a native decoder
/// (numeric elements read at scale 10, as unconstrained numerics).
pub fn array_element(t: &Type) -> Option<(DataType, PostgresKind)> {
    match t.kind() {
        Kind::Array(inner) if !matches!(inner.kind(), Kind::Array(_)) => arrow_type(inner, -1),
        _ => None,
    }
}

/// The source type to record on a column whose Arrow type only carries its values (see
/// `datasync_db::sql::source_type::SOURCE_TYPE`): numeric without precision or beyond 38 digits, json,
/// jsonb, interval, uuid.
pub fn source_type(t: &Type, typmod: i32) -> Option<String> {
    let t = match t.kind() {
        Kind::Domain(inner) => inner,
        _ => t,
    };
    Some(match *t {
        Type::NUMERIC if typmod >= 4 => {
            let m = typmod - 4;
            let (p, s) = ((m >> 16) & 0xffff, m & 0xffff);
            if p <= 38 {
                return None;
            }
            format!("decimal({p},{s})")
        }
        Type::NUMERIC | Type::MONEY => "decimal".into(),
        Type::JSON | Type::JSONB => "json".into(),
        Type::INTERVAL => "interval".into(),
        Type::UUID => "uuid".into(),
        _ => return None,
    })
}

/// The column type `createTable` uses for a column: its recorded source type when the Arrow
/// type only carries the values, else the Arrow type's.
pub fn ddl_for(f: &Field) -> Option<String> {
    let src = crate::sql::source_type::source_type(f);
    if let Some((p, s)) = src.and_then(crate::sql::source_type::source_decimal) {
        return Some(match (p, s) {
            (Some(p), Some(s)) if p <= 1000 => format!("numeric({p},{s})"),
            _ => "numeric".into(),
        });
    }
    match src {
        Some("json") => return Some("jsonb".into()),
        // A MySQL TIME reaches +-838:59:59: an interval holds it, a time of day does not.
        Some("time") | Some("interval") => return Some("interval".into()),
        Some("uuid") => return Some("uuid".into()),
        // A PostgreSQL array read as its text (more than one dimension, or other bounds).
        Some(t) if t.starts_with("array:") => return Some(t["array:".len()..].into()),
        _ => {}
    }
    ddl_type(f.data_type())
}

/// The column type `createTable` uses for an Arrow type.
pub fn ddl_type(t: &DataType) -> Option<String> {
    Some(match t {
        DataType::Boolean => "boolean".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint".into(),
        DataType::Int32 | DataType::UInt16 => "integer".into(),
        DataType::Int64 | DataType::UInt32 => "bigint".into(),
        DataType::UInt64 => "numeric(20,0)".into(),
        DataType::Float32 => "real".into(),
        DataType::Float64 => "double precision".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("numeric({p},{s})"),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp(6)".into(),
        DataType::Time64(_) => "time".into(),
        DataType::Utf8 | DataType::LargeUtf8 => "text".into(),
        DataType::Binary | DataType::LargeBinary => "bytea".into(),
        DataType::List(f) => format!("{}[]", ddl_type(f.data_type())?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datasync_codec::types::parse_type;

    #[test]
    fn every_row_has_a_ddl_for_its_arrow_type() {
        for (pg, arrow, ddl) in TYPE_TABLE {
            let list = |t| DataType::List(Arc::new(Field::new("item", t, true)));
            let t = match *arrow {
                "time64[us]" => DataType::Time64(TimeUnit::Microsecond),
                "list<int32>" => list(DataType::Int32),
                "list<utf8>" => list(DataType::Utf8),
                other => parse_type(other).unwrap(),
            };
            let plain = ddl_type(&t);
            assert!(plain.is_some(), "{pg}");
            if t != DataType::Utf8 {
                assert_eq!(plain.as_deref(), Some(*ddl), "{pg}");
            }
        }
        let f = |src: &str| {
            crate::sql::source_type::with_source_type(Field::new("c", DataType::Utf8, true), src)
        };
        assert_eq!(
            ddl_for(&f("decimal(60,2)")).as_deref(),
            Some("numeric(60,2)")
        );
        assert_eq!(ddl_for(&f("decimal")).as_deref(), Some("numeric"));
        assert_eq!(ddl_for(&f("json")).as_deref(), Some("jsonb"));
        assert_eq!(ddl_for(&f("time")).as_deref(), Some("interval"));
    }

    #[test]
    fn numeric_typmods() {
        assert_eq!(
            arrow_type(&Type::NUMERIC, (12 << 16 | 2) + 4),
            Some((DataType::Decimal128(12, 2), PostgresKind::Numeric(2)))
        );
        assert_eq!(
            arrow_type(&Type::NUMERIC, -1),
            None,
            "no declared precision: read as exact text"
        );
        assert_eq!(
            arrow_type(&Type::NUMERIC, (60 << 16 | 2) + 4),
            Some((DataType::Decimal256(60, 2), PostgresKind::Numeric(2))),
            "39 to 76 digits: 256-bit decimals"
        );
        assert_eq!(
            arrow_type(&Type::NUMERIC, (80 << 16 | 2) + 4),
            None,
            "wider than 76 digits: read as text"
        );
        assert_eq!(arrow_type(&Type::INTERVAL, -1), None);
    }
}
