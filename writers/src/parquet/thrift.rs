//! The Thrift binary protocol, as much of it as the metastore client needs: a dynamic value
//! type, its encoding and a decoder for replies.

use std::io::Read;

/// A Thrift value (binary protocol).
#[derive(Debug, Clone, PartialEq)]
pub enum TValue {
    /// bool
    Bool(bool),
    /// i8
    Byte(i8),
    /// i16
    I16(i16),
    /// i32
    I32(i32),
    /// i64
    I64(i64),
    /// double
    Double(f64),
    /// string / binary
    Str(Vec<u8>),
    /// struct: (field id, value)
    Struct(Vec<(i16, TValue)>),
    /// list (element type, elements)
    List(u8, Vec<TValue>),
    /// map (key type, value type, entries)
    Map(u8, u8, Vec<(TValue, TValue)>),
}

pub(super) const T_STOP: u8 = 0;
pub(super) const T_BOOL: u8 = 2;
pub(super) const T_BYTE: u8 = 3;
pub(super) const T_DOUBLE: u8 = 4;
pub(super) const T_I16: u8 = 6;
pub(super) const T_I32: u8 = 8;
pub(super) const T_I64: u8 = 10;
pub(super) const T_STRING: u8 = 11;
pub(super) const T_STRUCT: u8 = 12;
pub(super) const T_MAP: u8 = 13;
pub(super) const T_SET: u8 = 14;
pub(super) const T_LIST: u8 = 15;

pub(super) const VERSION_1: u32 = 0x8001_0000;
pub(super) const CALL: u8 = 1;
pub(super) const REPLY: u8 = 2;
pub(super) const EXCEPTION: u8 = 3;

/// A string value.
pub fn s(v: &str) -> TValue {
    TValue::Str(v.as_bytes().to_vec())
}

/// A list of strings.
pub fn str_list<'a>(v: impl IntoIterator<Item = &'a str>) -> TValue {
    TValue::List(T_STRING, v.into_iter().map(s).collect())
}

/// A list of structs.
pub fn struct_list(v: Vec<TValue>) -> TValue {
    TValue::List(T_STRUCT, v)
}

/// A `map<string,string>`.
pub fn str_map<'a>(v: impl IntoIterator<Item = (&'a str, &'a str)>) -> TValue {
    TValue::Map(
        T_STRING,
        T_STRING,
        v.into_iter().map(|(k, x)| (s(k), s(x))).collect(),
    )
}

impl TValue {
    pub(super) fn type_id(&self) -> u8 {
        match self {
            TValue::Bool(_) => T_BOOL,
            TValue::Byte(_) => T_BYTE,
            TValue::I16(_) => T_I16,
            TValue::I32(_) => T_I32,
            TValue::I64(_) => T_I64,
            TValue::Double(_) => T_DOUBLE,
            TValue::Str(_) => T_STRING,
            TValue::Struct(_) => T_STRUCT,
            TValue::List(..) => T_LIST,
            TValue::Map(..) => T_MAP,
        }
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            TValue::Bool(b) => out.push(u8::from(*b)),
            TValue::Byte(b) => out.push(*b as u8),
            TValue::I16(v) => out.extend_from_slice(&v.to_be_bytes()),
            TValue::I32(v) => out.extend_from_slice(&v.to_be_bytes()),
            TValue::I64(v) => out.extend_from_slice(&v.to_be_bytes()),
            TValue::Double(v) => out.extend_from_slice(&v.to_bits().to_be_bytes()),
            TValue::Str(b) => {
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            }
            TValue::Struct(fields) => {
                for (id, v) in fields {
                    out.push(v.type_id());
                    out.extend_from_slice(&id.to_be_bytes());
                    v.encode(out);
                }
                out.push(T_STOP);
            }
            TValue::List(t, items) => {
                out.push(*t);
                out.extend_from_slice(&(items.len() as i32).to_be_bytes());
                for v in items {
                    v.encode(out);
                }
            }
            TValue::Map(k, v, entries) => {
                out.push(*k);
                out.push(*v);
                out.extend_from_slice(&(entries.len() as i32).to_be_bytes());
                for (a, b) in entries {
                    a.encode(out);
                    b.encode(out);
                }
            }
        }
    }

    /// Field `id` of a struct.
    pub fn field(&self, id: i16) -> Option<&TValue> {
        match self {
            TValue::Struct(f) => f.iter().find(|(i, _)| *i == id).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value as a string, if it is one.
    pub fn as_str(&self) -> Option<String> {
        match self {
            TValue::Str(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// The elements, if it is a list.
    pub fn as_list(&self) -> &[TValue] {
        match self {
            TValue::List(_, v) => v,
            _ => &[],
        }
    }
}

/// Reads Thrift binary values from a stream.
pub(super) struct Decoder<R> {
    pub(super) r: R,
    pub(super) depth: usize,
}

impl<R: Read> Decoder<R> {
    pub(super) fn bytes<const N: usize>(&mut self) -> std::io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b)?;
        Ok(b)
    }
    pub(super) fn i32(&mut self) -> std::io::Result<i32> {
        Ok(i32::from_be_bytes(self.bytes()?))
    }
    pub(super) fn len(&mut self) -> std::io::Result<usize> {
        let n = self.i32()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= 64 << 20)
            .ok_or_else(|| invalid(format!("bad length {n}")))
    }
    pub(super) fn string(&mut self) -> std::io::Result<Vec<u8>> {
        let n = self.len()?;
        let mut b = vec![0u8; n];
        self.r.read_exact(&mut b)?;
        Ok(b)
    }
    pub(super) fn value(&mut self, t: u8) -> std::io::Result<TValue> {
        self.depth += 1;
        if self.depth > 64 {
            return Err(invalid("nesting too deep".into()));
        }
        let v = match t {
            T_BOOL => TValue::Bool(self.bytes::<1>()?[0] != 0),
            T_BYTE => TValue::Byte(self.bytes::<1>()?[0] as i8),
            T_I16 => TValue::I16(i16::from_be_bytes(self.bytes()?)),
            T_I32 => TValue::I32(self.i32()?),
            T_I64 => TValue::I64(i64::from_be_bytes(self.bytes()?)),
            T_DOUBLE => TValue::Double(f64::from_bits(u64::from_be_bytes(self.bytes()?))),
            T_STRING => TValue::Str(self.string()?),
            T_STRUCT => {
                let mut fields = Vec::new();
                loop {
                    let ft = self.bytes::<1>()?[0];
                    if ft == T_STOP {
                        break;
                    }
                    let id = i16::from_be_bytes(self.bytes()?);
                    fields.push((id, self.value(ft)?));
                }
                TValue::Struct(fields)
            }
            T_LIST | T_SET => {
                let et = self.bytes::<1>()?[0];
                let n = self.len()?;
                let mut items = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    items.push(self.value(et)?);
                }
                TValue::List(et, items)
            }
            T_MAP => {
                let [kt, vt] = self.bytes::<2>()?;
                let n = self.len()?;
                let mut entries = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let k = self.value(kt)?;
                    let v = self.value(vt)?;
                    entries.push((k, v));
                }
                TValue::Map(kt, vt, entries)
            }
            other => return Err(invalid(format!("unknown Thrift type {other}"))),
        };
        self.depth -= 1;
        Ok(v)
    }
}

pub(super) fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}
