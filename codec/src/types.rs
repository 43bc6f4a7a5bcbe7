//! Column type names accepted where a file-like reader declares types: DataX's (`long`,
//! `double`, `string`, `date`, `boolean`, `bytes`) and Arrow's (`int64`, `decimal(12,2)`,
//! `timestamp[us]`...). One table, walked by a test.

use arrow_schema::{DataType, TimeUnit};

/// Fixed type names and what they mean. `date` is DataX's date: an instant with time of day,
/// so it maps to a timestamp (microseconds), never losing the time part.
pub const TYPE_NAMES: &[(&str, DataType)] = &[
    ("long", DataType::Int64),
    ("int", DataType::Int64),
    ("double", DataType::Float64),
    ("float", DataType::Float64),
    ("string", DataType::Utf8),
    ("date", DataType::Timestamp(TimeUnit::Microsecond, None)),
    ("boolean", DataType::Boolean),
    ("bool", DataType::Boolean),
    ("bytes", DataType::Binary),
    ("int8", DataType::Int8),
    ("int16", DataType::Int16),
    ("int32", DataType::Int32),
    ("int64", DataType::Int64),
    ("uint8", DataType::UInt8),
    ("uint16", DataType::UInt16),
    ("uint32", DataType::UInt32),
    ("uint64", DataType::UInt64),
    ("float32", DataType::Float32),
    ("float64", DataType::Float64),
    ("utf8", DataType::Utf8),
    ("binary", DataType::Binary),
    ("date32", DataType::Date32),
    (
        "timestamp",
        DataType::Timestamp(TimeUnit::Microsecond, None),
    ),
    ("timestamp[s]", DataType::Timestamp(TimeUnit::Second, None)),
    (
        "timestamp[ms]",
        DataType::Timestamp(TimeUnit::Millisecond, None),
    ),
    (
        "timestamp[us]",
        DataType::Timestamp(TimeUnit::Microsecond, None),
    ),
    (
        "timestamp[ns]",
        DataType::Timestamp(TimeUnit::Nanosecond, None),
    ),
];

/// Parses a column type name (case-insensitive), including `decimal(p,s)` (p <= 38).
pub fn parse_type(name: &str) -> Result<DataType, String> {
    let n = name.trim().to_ascii_lowercase();
    if let Some((_, t)) = TYPE_NAMES.iter().find(|(k, _)| *k == n) {
        return Ok(t.clone());
    }
    if let Some(args) = n.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) {
        let (p, s) = args.split_once(',').unwrap_or((args, "0"));
        let p: u8 = p
            .trim()
            .parse()
            .map_err(|_| format!("bad precision in \"{name}\""))?;
        let s: i8 = s
            .trim()
            .parse()
            .map_err(|_| format!("bad scale in \"{name}\""))?;
        if p == 0 || p > 76 || s < 0 || s as u8 > p {
            return Err(format!(
                "\"{name}\": need 1 <= precision <= 76 and 0 <= scale <= precision"
            ));
        }
        return Ok(decimal_type(p, s));
    }
    let names: Vec<&str> = TYPE_NAMES.iter().map(|(k, _)| *k).collect();
    Err(format!(
        "unknown type \"{name}\" (allowed: {}, decimal(p,s))",
        names.join(", ")
    ))
}

/// `name type, name type, ...` with [`type_name`]s: how readers log the columns they announce
/// (at debug level, so a user and the type-table tests can see what a source type became).
pub fn columns_line<'a>(names: &[String], types: impl IntoIterator<Item = &'a DataType>) -> String {
    names
        .iter()
        .zip(types)
        .map(|(n, t)| format!("{n} {}", type_name(t)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The Arrow decimal for `decimal(p,s)`: 128 bits up to 38 digits, 256 bits up to 76.
pub fn decimal_type(p: u8, s: i8) -> DataType {
    if p <= 38 {
        DataType::Decimal128(p, s)
    } else {
        DataType::Decimal256(p, s)
    }
}

/// The canonical name of an Arrow type as [`parse_type`] reads it back.
pub fn type_name(t: &DataType) -> String {
    match t {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Timestamp(TimeUnit::Second, None) => "timestamp[s]".into(),
        DataType::Timestamp(TimeUnit::Millisecond, None) => "timestamp[ms]".into(),
        DataType::Timestamp(TimeUnit::Microsecond, None) => "timestamp[us]".into(),
        DataType::Timestamp(TimeUnit::Nanosecond, None) => "timestamp[ns]".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 => "utf8".into(),
        DataType::Binary => "binary".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Date32 => "date32".into(),
        DataType::Time64(TimeUnit::Microsecond) => "time64[us]".into(),
        DataType::List(f) => format!("list<{}>", type_name(f.data_type())),
        other => other.to_string(),
    }
}

/// (name, Arrow type) pairs as (name, [`type_name`]), for messages.
pub fn named_columns(cols: Vec<(String, DataType)>) -> Vec<(String, String)> {
    cols.into_iter().map(|(n, t)| (n, type_name(&t))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_and_round_trips() {
        for (name, t) in TYPE_NAMES {
            assert_eq!(&parse_type(name).unwrap(), t, "{name}");
            assert_eq!(&parse_type(&name.to_uppercase()).unwrap(), t, "{name}");
            let canonical = type_name(t);
            assert_eq!(&parse_type(&canonical).unwrap(), t, "{name} -> {canonical}");
        }
    }

    #[test]
    fn decimals() {
        assert_eq!(
            parse_type("decimal(12,2)").unwrap(),
            DataType::Decimal128(12, 2)
        );
        assert_eq!(
            parse_type("DECIMAL(38, 10)").unwrap(),
            DataType::Decimal128(38, 10)
        );
        assert_eq!(type_name(&DataType::Decimal128(12, 2)), "decimal(12,2)");
        assert_eq!(
            parse_type("decimal(39,2)").unwrap(),
            DataType::Decimal256(39, 2)
        );
        assert_eq!(type_name(&DataType::Decimal256(76, 38)), "decimal(76,38)");
        assert!(parse_type("decimal(77,2)").is_err());
        assert!(parse_type("decimal(5,6)").is_err());
        assert!(parse_type("varchar").unwrap_err().contains("allowed"));
    }
}
