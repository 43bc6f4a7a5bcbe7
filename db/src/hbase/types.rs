//! Cell values as HBase's `Bytes.toBytes` writes them, and the DataX type names of the hbase
//! plugins. Decoding is strict: a value of the wrong length is an error (the caller makes the
//! row dirty), never a number read from part of it.

use arrow_schema::{DataType, TimeUnit};
use datasync_codec::float_text;

/// A column type of the DataX hbase plugins (`binary` is ours: the raw bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HType {
    /// Text in the job's `encoding`.
    String,
    /// 1 byte: 0 false, anything else true (written 0xFF / 0x00).
    Boolean,
    /// 2 bytes, big-endian.
    Short,
    /// 4 bytes, big-endian.
    Int,
    /// 8 bytes, big-endian.
    Long,
    /// IEEE 754 single, big-endian.
    Float,
    /// IEEE 754 double, big-endian.
    Double,
    /// Text parsed with the column's `format` (default `yyyy-MM-dd HH:mm:ss`).
    Date,
    /// Text with every byte outside printable ASCII as `\xHH` (HBase's toStringBinary).
    BinaryString,
    /// The bytes as they are.
    Binary,
}

impl HType {
    /// Parses a type name (case-insensitive).
    pub fn parse(name: &str) -> Result<Self, String> {
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "string" => HType::String,
            "boolean" | "bool" => HType::Boolean,
            "short" => HType::Short,
            "int" => HType::Int,
            "long" => HType::Long,
            "float" => HType::Float,
            "double" => HType::Double,
            "date" => HType::Date,
            "binarystring" => HType::BinaryString,
            "binary" | "bytes" => HType::Binary,
            other => {
                return Err(format!(
                    "\"{other}\": expected string, boolean, short, int, long, float, double, \
                     date, binarystring or binary"
                ))
            }
        })
    }

    /// The type's name.
    pub fn name(self) -> &'static str {
        match self {
            HType::String => "string",
            HType::Boolean => "boolean",
            HType::Short => "short",
            HType::Int => "int",
            HType::Long => "long",
            HType::Float => "float",
            HType::Double => "double",
            HType::Date => "date",
            HType::BinaryString => "binarystring",
            HType::Binary => "binary",
        }
    }

    /// The Arrow type a column of this type reads as.
    pub fn arrow(self) -> DataType {
        match self {
            HType::String | HType::BinaryString => DataType::Utf8,
            HType::Boolean => DataType::Boolean,
            HType::Short => DataType::Int16,
            HType::Int => DataType::Int32,
            HType::Long => DataType::Int64,
            HType::Float => DataType::Float32,
            HType::Double => DataType::Float64,
            HType::Date => DataType::Timestamp(TimeUnit::Microsecond, None),
            HType::Binary => DataType::Binary,
        }
    }
}

/// The text encoding a job names (`encoding`, default UTF-8).
pub fn encoding(label: &str) -> Result<&'static encoding_rs::Encoding, String> {
    encoding_rs::Encoding::for_label(label.trim().as_bytes())
        .ok_or_else(|| format!("\"{label}\" is not a text encoding (e.g. UTF-8, GBK)"))
}

/// HBase's `Bytes.toStringBinary`: printable ASCII as is, every other byte `\xHH`.
pub fn to_binary_key(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        if (b' '..=b'~').contains(&c) && c != b'\\' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02X}"));
        }
    }
    s
}

/// HBase's `Bytes.toBytesBinary`: `\xHH` escapes become bytes. Unlike HBase, a character
/// outside Latin-1 or a broken escape is an error, not silently its low byte.
pub fn from_binary_key(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'x') {
            chars.next();
            let hex: String = chars.by_ref().take(2).collect();
            let b = u8::from_str_radix(&hex, 16)
                .ok()
                .filter(|_| hex.len() == 2)
                .ok_or_else(|| format!("\"\\x{hex}\" in \"{s}\" is not a byte (expected \\xHH)"))?;
            out.push(b);
        } else {
            let b = u8::try_from(u32::from(c)).map_err(|_| {
                format!("'{c}' in binary row key \"{s}\" is not a byte (write it as \\xHH escapes)")
            })?;
            out.push(b);
        }
    }
    Ok(out)
}

fn text(b: &[u8], encoding: &'static encoding_rs::Encoding) -> Result<String, String> {
    // No BOM sniffing: a cell's bytes are text in the job's encoding, whatever they start with.
    encoding
        .decode_without_bom_handling_and_without_replacement(b)
        .map(|s| s.into_owned())
        .ok_or_else(|| {
            format!(
                "{} is not valid {} text",
                to_binary_key(&b[..b.len().min(32)]),
                encoding.name()
            )
        })
}

/// A cell's bytes as the text the batch builder parses for the column's Arrow type (for
/// `binary`, the bytes themselves). `None` for a zero-length value (HBase's empty cell reads
/// as NULL, as DataX reads it).
pub fn decode_cell(
    b: &[u8],
    t: HType,
    encoding: &'static encoding_rs::Encoding,
) -> Result<Option<Vec<u8>>, String> {
    if b.is_empty() {
        return Ok(None);
    }
    let fixed = |n: usize| -> Result<&[u8], String> {
        if b.len() == n {
            Ok(b)
        } else {
            Err(format!(
                "{} byte(s) ({}) where a {} holds exactly {n} (Bytes.toBytes)",
                b.len(),
                to_binary_key(&b[..b.len().min(16)]),
                t.name()
            ))
        }
    };
    let arr = |n: usize| -> Result<[u8; 8], String> {
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(fixed(n)?);
        Ok(a)
    };
    Ok(Some(match t {
        HType::String | HType::Date => text(b, encoding)?.into_bytes(),
        HType::BinaryString => to_binary_key(b).into_bytes(),
        HType::Binary => b.to_vec(),
        HType::Boolean => (fixed(1)?[0] != 0).to_string().into_bytes(),
        HType::Short => {
            let a = arr(2)?;
            i16::from_be_bytes([a[0], a[1]]).to_string().into_bytes()
        }
        HType::Int => {
            let a = arr(4)?;
            i32::from_be_bytes([a[0], a[1], a[2], a[3]])
                .to_string()
                .into_bytes()
        }
        HType::Long => i64::from_be_bytes(arr(8)?).to_string().into_bytes(),
        HType::Float => {
            let a = arr(4)?;
            let x = f32::from_be_bytes([a[0], a[1], a[2], a[3]]);
            float_text(f64::from(x), true).into_bytes()
        }
        HType::Double => float_text(f64::from_be_bytes(arr(8)?), false).into_bytes(),
    }))
}

/// A float value as a `float` or `double` cell: a float32 widens exactly; a float64 into a
/// float cell must be a float32 value (else the error says so: it would change).
pub fn encode_float(x: f64, from_single: bool, t: HType) -> Result<Vec<u8>, String> {
    match t {
        HType::Double => Ok(x.to_be_bytes().to_vec()),
        HType::Float => {
            let f = x as f32;
            if !from_single && !x.is_nan() && f64::from(f) != x {
                return Err(format!(
                    "{x} is not a float value (as a float it would be {f}; use double)"
                ));
            }
            Ok(f.to_be_bytes().to_vec())
        }
        other => Err(format!("a float value for a {} cell", other.name())),
    }
}

/// A value's exact text (as the batch holds it) as the bytes of a cell of type `t`. Numbers
/// must fit the type exactly (no wrapping, no truncated fraction).
pub fn encode_cell(
    text_value: &str,
    t: HType,
    encoding: &'static encoding_rs::Encoding,
) -> Result<Vec<u8>, String> {
    let int = |lo: i64, hi: i64| -> Result<i64, String> {
        let v: i64 = match text_value {
            "true" => 1,
            "false" => 0,
            _ => text_value.parse().map_err(|_| {
                format!(
                    "\"{text_value}\" is not a whole number for a {} cell",
                    t.name()
                )
            })?,
        };
        if v < lo || v > hi {
            return Err(format!("{v} is out of the range of a {} cell", t.name()));
        }
        Ok(v)
    };
    Ok(match t {
        HType::String | HType::Date => {
            let (b, _, bad) = encoding.encode(text_value);
            if bad {
                return Err(format!(
                    "\"{text_value}\" has characters {} cannot hold",
                    encoding.name()
                ));
            }
            b.into_owned()
        }
        HType::BinaryString => from_binary_key(text_value)?,
        HType::Binary => text_value.as_bytes().to_vec(),
        // As DataX: true/false in any case, or an integer (0 false, any other true).
        HType::Boolean => match text_value.to_ascii_lowercase().as_str() {
            "true" => vec![0xFF],
            "false" => vec![0x00],
            other => match other.parse::<i64>() {
                Ok(0) => vec![0x00],
                Ok(_) => vec![0xFF],
                Err(_) => {
                    return Err(format!(
                        "\"{text_value}\" is not a boolean (true/false, or an integer)"
                    ))
                }
            },
        },
        HType::Short => (int(i16::MIN.into(), i16::MAX.into())? as i16)
            .to_be_bytes()
            .to_vec(),
        HType::Int => (int(i32::MIN.into(), i32::MAX.into())? as i32)
            .to_be_bytes()
            .to_vec(),
        HType::Long => int(i64::MIN, i64::MAX)?.to_be_bytes().to_vec(),
        HType::Double => {
            let x = datasync_codec::parse_float(text_value, false)
                .map_err(|e| format!("\"{text_value}\": expected {e}"))?;
            x.to_be_bytes().to_vec()
        }
        // Text into a float cell: the nearest float, as Float.parseFloat reads it (a float
        // or double column's value goes by `encode_float`, exactly or not at all).
        HType::Float => {
            let x = datasync_codec::parse_float(text_value, true)
                .map_err(|e| format!("\"{text_value}\": expected {e}"))?;
            (x as f32).to_be_bytes().to_vec()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    const U: &encoding_rs::Encoding = encoding_rs::UTF_8;

    fn dec(b: &[u8], t: HType) -> Result<Option<String>, String> {
        decode_cell(b, t, U).map(|o| o.map(|v| String::from_utf8(v).unwrap()))
    }

    #[test]
    fn bytes_to_bytes_round_trips() {
        for (text, t) in [
            ("-32768", HType::Short),
            ("2147483647", HType::Int),
            ("-9223372036854775808", HType::Long),
            ("0.1", HType::Double),
            ("-0.0", HType::Double),
            ("NaN", HType::Float),
            ("Infinity", HType::Double),
            ("1.5", HType::Float),
            ("true", HType::Boolean),
            ("false", HType::Boolean),
            ("héllo", HType::String),
            ("2024-02-29 23:59:59", HType::Date),
        ] {
            let b = encode_cell(text, t, U).unwrap();
            assert_eq!(dec(&b, t).unwrap().as_deref(), Some(text), "{t:?}");
        }
        assert_eq!(encode_cell("true", HType::Boolean, U).unwrap(), [0xFF]);
        assert_eq!(encode_cell("258", HType::Short, U).unwrap(), [1, 2]);
        assert_eq!(
            dec(&[0x80, 0, 0, 0, 0, 0, 0, 1], HType::Long)
                .unwrap()
                .as_deref(),
            Some("-9223372036854775807")
        );
        assert_eq!(dec(&[7], HType::Boolean).unwrap().as_deref(), Some("true"));
        assert_eq!(dec(b"", HType::Int).unwrap(), None);
    }

    #[test]
    fn wrong_lengths_and_ranges_are_errors() {
        // DataX reads "27" as a short 12855; here it is an error naming the bytes.
        let e = dec(b"27", HType::Int).unwrap_err();
        assert!(
            e.contains("2 byte(s) (27) where a int holds exactly 4"),
            "{e}"
        );
        assert!(dec(&[0; 9], HType::Long).is_err());
        assert!(dec(&[0, 0], HType::Boolean).is_err());
        assert!(dec(&[0xFF, 0xFE], HType::String)
            .unwrap_err()
            .contains("not valid UTF-8"));
        assert!(encode_cell("32768", HType::Short, U)
            .unwrap_err()
            .contains("out of the range"));
        assert!(encode_cell("1.5", HType::Long, U).is_err());
        assert_eq!(
            encode_cell("0.1", HType::Float, U).unwrap(),
            0.1f32.to_be_bytes()
        );
        assert!(encode_float(0.1, false, HType::Float)
            .unwrap_err()
            .contains("use double"));
        assert_eq!(
            encode_float(f64::from(0.1f32), true, HType::Float).unwrap(),
            0.1f32.to_be_bytes()
        );
        assert_eq!(
            encode_float(f64::from(0.1f32), true, HType::Double).unwrap(),
            0.10000000149011612f64.to_be_bytes()
        );
        assert!(encode_cell("yes", HType::Boolean, U).is_err());
        assert_eq!(encode_cell("TRUE", HType::Boolean, U).unwrap(), [0xFF]);
        assert_eq!(encode_cell("-3", HType::Boolean, U).unwrap(), [0xFF]);
        let gbk = encoding_rs::GBK;
        assert_eq!(encode_cell("中", HType::String, gbk).unwrap(), [0xD6, 0xD0]);
        assert!(encode_cell("😀", HType::String, gbk).is_err());
        assert_eq!(HType::parse(" Long ").unwrap(), HType::Long);
        assert!(HType::parse("varchar")
            .unwrap_err()
            .contains("expected string"));
    }

    #[test]
    fn binary_keys() {
        assert_eq!(to_binary_key(&[0, b'a', 0xFF, b'\\']), "\\x00a\\xFF\\x5C");
        assert_eq!(
            from_binary_key("\\x00a\\xFF\\x5C").unwrap(),
            [0, b'a', 0xFF, b'\\']
        );
        assert_eq!(from_binary_key("row\\x0A").unwrap(), b"row\n");
        assert!(from_binary_key("\\xZZ").is_err());
        assert!(from_binary_key("\\x1").is_err());
        assert!(from_binary_key("日").is_err());
    }
}
