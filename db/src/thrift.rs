//! The Thrift wire format, as much as our Thrift clients need (HBase's Thrift1 gateway, the
//! Hive Metastore): a dynamic value model, the binary and compact protocols, framed and
//! buffered transports, and one call (message out, reply in, declared exceptions and
//! TApplicationException turned into errors). Blocking I/O.

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::TcpStream;

/// A Thrift type id (the binary protocol's numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TType {
    /// bool
    Bool,
    /// byte (i8)
    Byte,
    /// i16
    I16,
    /// i32
    I32,
    /// i64
    I64,
    /// double
    Double,
    /// binary / string
    Binary,
    /// struct
    Struct,
    /// map
    Map,
    /// set
    Set,
    /// list
    List,
}

/// A Thrift value. A struct is its fields by id, in the order sent.
#[derive(Debug, Clone, PartialEq)]
pub enum TVal {
    /// bool
    Bool(bool),
    /// byte
    Byte(i8),
    /// i16
    I16(i16),
    /// i32
    I32(i32),
    /// i64
    I64(i64),
    /// double
    Double(f64),
    /// binary / string
    Bin(Vec<u8>),
    /// struct
    Struct(Vec<(i16, TVal)>),
    /// list (or set) of one element type
    List(TType, Vec<TVal>),
    /// map of one key and value type
    Map(TType, TType, Vec<(TVal, TVal)>),
}

impl TVal {
    /// The value's type.
    pub fn ttype(&self) -> TType {
        match self {
            TVal::Bool(_) => TType::Bool,
            TVal::Byte(_) => TType::Byte,
            TVal::I16(_) => TType::I16,
            TVal::I32(_) => TType::I32,
            TVal::I64(_) => TType::I64,
            TVal::Double(_) => TType::Double,
            TVal::Bin(_) => TType::Binary,
            TVal::Struct(_) => TType::Struct,
            TVal::List(..) => TType::List,
            TVal::Map(..) => TType::Map,
        }
    }

    /// Field `id` of a struct.
    pub fn field(&self, id: i16) -> Option<&TVal> {
        match self {
            TVal::Struct(f) => f.iter().find(|(i, _)| *i == id).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A string value.
    pub fn str(v: &str) -> TVal {
        TVal::Bin(v.as_bytes().to_vec())
    }

    /// A binary value as text (lossy UTF-8).
    pub fn text(&self) -> Option<String> {
        self.bin().map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The bytes of a binary value.
    pub fn bin(&self) -> Option<&[u8]> {
        match self {
            TVal::Bin(b) => Some(b),
            _ => None,
        }
    }

    /// An integer value of any width.
    pub fn int(&self) -> Option<i64> {
        match self {
            TVal::Byte(v) => Some(i64::from(*v)),
            TVal::I16(v) => Some(i64::from(*v)),
            TVal::I32(v) => Some(i64::from(*v)),
            TVal::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The elements of a list.
    pub fn list(&self) -> &[TVal] {
        match self {
            TVal::List(_, v) => v,
            _ => &[],
        }
    }

    /// The entries of a map.
    pub fn map(&self) -> &[(TVal, TVal)] {
        match self {
            TVal::Map(_, _, v) => v,
            _ => &[],
        }
    }
}

/// Which protocol encodes messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TBinaryProtocol (strict).
    Binary,
    /// TCompactProtocol.
    Compact,
}

/// How messages are framed on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TFramedTransport: each message behind its 4-byte length.
    Framed,
    /// TBufferedTransport: messages back to back.
    Buffered,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ThriftError {
    /// The socket failed (the connection is gone).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something that is not Thrift of the agreed protocol.
    #[error("bad Thrift reply: {0}")]
    Protocol(String),
    /// The server raised a declared exception (IOError, IllegalArgument, ...): its message.
    #[error("{name}: {message}")]
    Declared {
        /// The exception's name in the service (by its field id).
        name: String,
        /// Its message.
        message: String,
    },
    /// The server could not run the call (TApplicationException: unknown method, internal
    /// error).
    #[error("the Thrift server refused the call: {0}")]
    Application(String),
}

impl ThriftError {
    /// Whether the connection is unusable after this error.
    pub fn connection_lost(&self) -> bool {
        matches!(self, ThriftError::Io(_) | ThriftError::Protocol(_))
    }
}

fn bad(what: impl Into<String>) -> ThriftError {
    ThriftError::Protocol(what.into())
}

// ---- encoding ---------------------------------------------------------------------------------

fn binary_type(t: TType) -> u8 {
    match t {
        TType::Bool => 2,
        TType::Byte => 3,
        TType::Double => 4,
        TType::I16 => 6,
        TType::I32 => 8,
        TType::I64 => 10,
        TType::Binary => 11,
        TType::Struct => 12,
        TType::Map => 13,
        TType::Set => 14,
        TType::List => 15,
    }
}

fn from_binary_type(b: u8) -> Result<TType, ThriftError> {
    Ok(match b {
        2 => TType::Bool,
        3 => TType::Byte,
        4 => TType::Double,
        6 => TType::I16,
        8 => TType::I32,
        10 => TType::I64,
        11 => TType::Binary,
        12 => TType::Struct,
        13 => TType::Map,
        14 => TType::Set,
        15 => TType::List,
        other => return Err(bad(format!("unknown binary type {other}"))),
    })
}

fn compact_type(t: TType) -> u8 {
    match t {
        TType::Bool => 1,
        TType::Byte => 3,
        TType::I16 => 4,
        TType::I32 => 5,
        TType::I64 => 6,
        TType::Double => 7,
        TType::Binary => 8,
        TType::List => 9,
        TType::Set => 10,
        TType::Map => 11,
        TType::Struct => 12,
    }
}

fn from_compact_type(b: u8) -> Result<TType, ThriftError> {
    Ok(match b {
        1 | 2 => TType::Bool,
        3 => TType::Byte,
        4 => TType::I16,
        5 => TType::I32,
        6 => TType::I64,
        7 => TType::Double,
        8 => TType::Binary,
        9 => TType::List,
        10 => TType::Set,
        11 => TType::Map,
        12 => TType::Struct,
        other => return Err(bad(format!("unknown compact type {other}"))),
    })
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Encodes values in one protocol.
struct Encoder {
    proto: Protocol,
    out: Vec<u8>,
}

impl Encoder {
    fn i32_be(&mut self, v: i32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    fn bin(&mut self, b: &[u8]) {
        match self.proto {
            Protocol::Binary => self.i32_be(b.len() as i32),
            Protocol::Compact => varint(&mut self.out, b.len() as u64),
        }
        self.out.extend_from_slice(b);
    }

    fn value(&mut self, v: &TVal) {
        let compact = self.proto == Protocol::Compact;
        match v {
            TVal::Bool(b) => self.out.push(match (compact, b) {
                (false, b) => u8::from(*b),
                (true, true) => 1,
                (true, false) => 2,
            }),
            TVal::Byte(b) => self.out.push(*b as u8),
            TVal::I16(x) if compact => varint(&mut self.out, zigzag(i64::from(*x))),
            TVal::I32(x) if compact => varint(&mut self.out, zigzag(i64::from(*x))),
            TVal::I64(x) if compact => varint(&mut self.out, zigzag(*x)),
            TVal::I16(x) => self.out.extend_from_slice(&x.to_be_bytes()),
            TVal::I32(x) => self.out.extend_from_slice(&x.to_be_bytes()),
            TVal::I64(x) => self.out.extend_from_slice(&x.to_be_bytes()),
            TVal::Double(x) if compact => self.out.extend_from_slice(&x.to_le_bytes()),
            TVal::Double(x) => self.out.extend_from_slice(&x.to_be_bytes()),
            TVal::Bin(b) => self.bin(b),
            TVal::Struct(fields) => self.fields(fields),
            TVal::List(t, items) => {
                if compact {
                    let ct = compact_type(*t);
                    if items.len() < 15 {
                        self.out.push(((items.len() as u8) << 4) | ct);
                    } else {
                        self.out.push(0xF0 | ct);
                        varint(&mut self.out, items.len() as u64);
                    }
                } else {
                    self.out.push(binary_type(*t));
                    self.i32_be(items.len() as i32);
                }
                for i in items {
                    self.value(i);
                }
            }
            TVal::Map(k, val, entries) => {
                if compact {
                    varint(&mut self.out, entries.len() as u64);
                    if !entries.is_empty() {
                        self.out.push((compact_type(*k) << 4) | compact_type(*val));
                    }
                } else {
                    self.out.push(binary_type(*k));
                    self.out.push(binary_type(*val));
                    self.i32_be(entries.len() as i32);
                }
                for (a, b) in entries {
                    self.value(a);
                    self.value(b);
                }
            }
        }
    }

    fn fields(&mut self, fields: &[(i16, TVal)]) {
        let mut last = 0i16;
        for (id, v) in fields {
            match self.proto {
                Protocol::Binary => {
                    self.out.push(binary_type(v.ttype()));
                    self.out.extend_from_slice(&id.to_be_bytes());
                    self.value(v);
                }
                Protocol::Compact => {
                    // A bool field carries its value in the header.
                    let ct = match v {
                        TVal::Bool(true) => 1,
                        TVal::Bool(false) => 2,
                        other => compact_type(other.ttype()),
                    };
                    let delta = i32::from(*id) - i32::from(last);
                    if (1..=15).contains(&delta) {
                        self.out.push(((delta as u8) << 4) | ct);
                    } else {
                        self.out.push(ct);
                        varint(&mut self.out, zigzag(i64::from(*id)));
                    }
                    if !matches!(v, TVal::Bool(_)) {
                        self.value(v);
                    }
                    last = *id;
                }
            }
        }
        self.out.push(0);
    }
}

/// Message types.
const CALL: u8 = 1;
const REPLY: u8 = 2;
const EXCEPTION: u8 = 3;

/// A call message: `name(args)` with sequence id `seq`.
pub fn encode_call(proto: Protocol, name: &str, seq: i32, args: &[(i16, TVal)]) -> Vec<u8> {
    let mut e = Encoder {
        proto,
        out: Vec::with_capacity(256),
    };
    match proto {
        Protocol::Binary => {
            e.i32_be((0x8001_0000u32 | u32::from(CALL)) as i32);
            e.bin(name.as_bytes());
            e.i32_be(seq);
        }
        Protocol::Compact => {
            e.out.push(0x82);
            e.out.push((CALL << 5) | 1);
            varint(&mut e.out, u64::from(seq as u32));
            e.bin(name.as_bytes());
        }
    }
    e.fields(args);
    e.out
}

/// A reply message (for test servers and tests): `result` is the result struct's fields.
pub fn encode_reply(proto: Protocol, name: &str, seq: i32, result: &[(i16, TVal)]) -> Vec<u8> {
    let mut m = encode_call(proto, name, seq, result);
    match proto {
        Protocol::Binary => m[3] = REPLY,
        Protocol::Compact => m[1] = (REPLY << 5) | 1,
    }
    m
}

// ---- decoding ---------------------------------------------------------------------------------

/// Values of a reply or a test message: its name, type, sequence id and struct.
pub struct Decoded {
    /// The method name.
    pub name: String,
    /// 1 call, 2 reply, 3 exception, 4 oneway.
    pub kind: u8,
    /// The sequence id.
    pub seq: i32,
    /// The message's struct.
    pub body: TVal,
}

struct Decoder<'r, R: Read> {
    proto: Protocol,
    r: &'r mut R,
    /// Nesting depth, bounded so a hostile peer cannot exhaust the stack.
    depth: usize,
}

/// Containers bigger than this are refused (a corrupt length must not allocate gigabytes).
const MAX_ITEMS: usize = 64 << 20;

impl<R: Read> Decoder<'_, R> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], ThriftError> {
        let mut b = [0u8; N];
        self.r.read_exact(&mut b)?;
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8, ThriftError> {
        Ok(self.bytes::<1>()?[0])
    }

    fn varint(&mut self) -> Result<u64, ThriftError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("varint longer than 10 bytes"))
    }

    fn zz(&mut self) -> Result<i64, ThriftError> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn len(&mut self) -> Result<usize, ThriftError> {
        let n = match self.proto {
            Protocol::Binary => i32::from_be_bytes(self.bytes()?) as i64,
            Protocol::Compact => self.varint()? as i64,
        };
        if n < 0 || n as usize > MAX_ITEMS {
            return Err(bad(format!("length {n} out of range")));
        }
        Ok(n as usize)
    }

    fn bin(&mut self) -> Result<Vec<u8>, ThriftError> {
        let n = self.len()?;
        let mut b = vec![0u8; n];
        self.r.read_exact(&mut b)?;
        Ok(b)
    }

    fn value(&mut self, t: TType, compact_bool: Option<bool>) -> Result<TVal, ThriftError> {
        let compact = self.proto == Protocol::Compact;
        Ok(match t {
            TType::Bool => match compact_bool {
                Some(b) => TVal::Bool(b),
                None if compact => TVal::Bool(self.u8()? == 1),
                None => TVal::Bool(self.u8()? != 0),
            },
            TType::Byte => TVal::Byte(self.u8()? as i8),
            TType::I16 if compact => TVal::I16(self.zz()? as i16),
            TType::I32 if compact => TVal::I32(self.zz()? as i32),
            TType::I64 if compact => TVal::I64(self.zz()?),
            TType::I16 => TVal::I16(i16::from_be_bytes(self.bytes()?)),
            TType::I32 => TVal::I32(i32::from_be_bytes(self.bytes()?)),
            TType::I64 => TVal::I64(i64::from_be_bytes(self.bytes()?)),
            TType::Double if compact => TVal::Double(f64::from_le_bytes(self.bytes()?)),
            TType::Double => TVal::Double(f64::from_be_bytes(self.bytes()?)),
            TType::Binary => TVal::Bin(self.bin()?),
            TType::Struct => self.strukt()?,
            TType::List | TType::Set => {
                let (et, n) = if compact {
                    let h = self.u8()?;
                    let et = from_compact_type(h & 0x0F)?;
                    let n = if h >> 4 == 0x0F {
                        self.varint()? as usize
                    } else {
                        usize::from(h >> 4)
                    };
                    (et, n)
                } else {
                    let et = from_binary_type(self.u8()?)?;
                    (et, self.len()?)
                };
                if n > MAX_ITEMS {
                    return Err(bad(format!("list of {n} items")));
                }
                self.nest()?;
                let mut items = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    items.push(self.value(et, None)?);
                }
                self.depth -= 1;
                TVal::List(et, items)
            }
            TType::Map => {
                let (kt, vt, n) = if compact {
                    let n = self.varint()? as usize;
                    if n == 0 {
                        (TType::Binary, TType::Binary, 0)
                    } else {
                        let h = self.u8()?;
                        (from_compact_type(h >> 4)?, from_compact_type(h & 0x0F)?, n)
                    }
                } else {
                    let kt = from_binary_type(self.u8()?)?;
                    let vt = from_binary_type(self.u8()?)?;
                    (kt, vt, self.len()?)
                };
                if n > MAX_ITEMS {
                    return Err(bad(format!("map of {n} entries")));
                }
                self.nest()?;
                let mut entries = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    let k = self.value(kt, None)?;
                    let v = self.value(vt, None)?;
                    entries.push((k, v));
                }
                self.depth -= 1;
                TVal::Map(kt, vt, entries)
            }
        })
    }

    fn nest(&mut self) -> Result<(), ThriftError> {
        self.depth += 1;
        if self.depth > 64 {
            return Err(bad("values nested more than 64 deep"));
        }
        Ok(())
    }

    fn strukt(&mut self) -> Result<TVal, ThriftError> {
        self.nest()?;
        let mut fields = Vec::new();
        let mut last = 0i16;
        loop {
            let h = self.u8()?;
            if h == 0 {
                break;
            }
            match self.proto {
                Protocol::Binary => {
                    let t = from_binary_type(h)?;
                    let id = i16::from_be_bytes(self.bytes()?);
                    fields.push((id, self.value(t, None)?));
                }
                Protocol::Compact => {
                    let ct = h & 0x0F;
                    let delta = h >> 4;
                    let id = if delta == 0 {
                        self.zz()? as i16
                    } else {
                        last.wrapping_add(i16::from(delta))
                    };
                    last = id;
                    let t = from_compact_type(ct)?;
                    let b = match ct {
                        1 => Some(true),
                        2 => Some(false),
                        _ => None,
                    };
                    fields.push((id, self.value(t, b)?));
                }
            }
        }
        self.depth -= 1;
        Ok(TVal::Struct(fields))
    }

    fn message(&mut self) -> Result<Decoded, ThriftError> {
        let (name, kind, seq) = match self.proto {
            Protocol::Binary => {
                let head = u32::from_be_bytes(self.bytes()?);
                if head & 0xFFFF_0000 != 0x8001_0000 {
                    return Err(bad(format!(
                        "not a strict binary-protocol message (first word {head:#010x}; is the \
                         gateway using another protocol or transport?)"
                    )));
                }
                let name = self.bin()?;
                let seq = i32::from_be_bytes(self.bytes()?);
                (name, (head & 0xFF) as u8, seq)
            }
            Protocol::Compact => {
                let id = self.u8()?;
                if id != 0x82 {
                    return Err(bad(format!(
                        "not a compact-protocol message (first byte {id:#04x}; is the gateway \
                         using another protocol or transport?)"
                    )));
                }
                let tv = self.u8()?;
                let seq = self.varint()? as u32 as i32;
                let name = self.bin()?;
                (name, tv >> 5, seq)
            }
        };
        let body = self.strukt()?;
        Ok(Decoded {
            name: String::from_utf8_lossy(&name).into_owned(),
            kind,
            seq,
            body,
        })
    }
}

/// Decodes one message from `r`.
pub fn decode_message<R: Read>(proto: Protocol, r: &mut R) -> Result<Decoded, ThriftError> {
    Decoder { proto, r, depth: 0 }.message()
}

/// One connection to a Thrift server.
pub struct Connection {
    proto: Protocol,
    transport: Transport,
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    seq: i32,
}

/// Frames larger than this are refused.
const MAX_FRAME: usize = 1 << 30;

impl Connection {
    /// Connects to `addr` (host:port) within `timeout`; each read and write may then take
    /// `io_timeout`.
    pub fn connect(
        addr: &str,
        proto: Protocol,
        transport: Transport,
        timeout: std::time::Duration,
        io_timeout: std::time::Duration,
    ) -> Result<Self, ThriftError> {
        use std::net::ToSocketAddrs;
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => {
                    s.set_nodelay(true)?;
                    s.set_read_timeout(Some(io_timeout))?;
                    s.set_write_timeout(Some(io_timeout))?;
                    return Ok(Connection {
                        proto,
                        transport,
                        reader: BufReader::with_capacity(1 << 16, s.try_clone()?),
                        writer: BufWriter::with_capacity(1 << 16, s),
                        seq: 0,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| std::io::Error::other(format!("{addr}: no address")))
            .into())
    }

    /// Calls `name(args)`; the reply's result struct (field 0 = the return value). A declared
    /// exception (`exceptions[i]` names field i + 1) or a TApplicationException is an error.
    pub fn call(
        &mut self,
        name: &str,
        args: &[(i16, TVal)],
        exceptions: &[&str],
    ) -> Result<TVal, ThriftError> {
        self.seq = self.seq.wrapping_add(1);
        let msg = encode_call(self.proto, name, self.seq, args);
        if self.transport == Transport::Framed {
            self.writer.write_all(&(msg.len() as u32).to_be_bytes())?;
        }
        self.writer.write_all(&msg)?;
        self.writer.flush()?;
        let reply = match self.read_reply() {
            Err(ThriftError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(ThriftError::Io(std::io::Error::new(
                    e.kind(),
                    "the server closed the connection instead of answering (is it running \
                     another transport or protocol: framed or buffered, binary or compact?)",
                )))
            }
            other => other?,
        };
        self.check_reply(reply, name, exceptions)
    }

    fn read_reply(&mut self) -> Result<Decoded, ThriftError> {
        Ok(match self.transport {
            Transport::Framed => {
                let mut n = [0u8; 4];
                self.reader.read_exact(&mut n)?;
                let n = u32::from_be_bytes(n) as usize;
                if n > MAX_FRAME {
                    return Err(bad(format!(
                        "frame of {n} bytes (is the gateway using the buffered transport?)"
                    )));
                }
                let mut frame = vec![0u8; n];
                self.reader.read_exact(&mut frame)?;
                decode_message(self.proto, &mut frame.as_slice())?
            }
            Transport::Buffered => decode_message(self.proto, &mut self.reader)?,
        })
    }

    fn check_reply(
        &self,
        reply: Decoded,
        name: &str,
        exceptions: &[&str],
    ) -> Result<TVal, ThriftError> {
        if reply.seq != self.seq || reply.name != name {
            return Err(bad(format!(
                "reply {} #{} to call {name} #{}",
                reply.name, reply.seq, self.seq
            )));
        }
        match reply.kind {
            REPLY => {}
            EXCEPTION => {
                let msg = reply
                    .body
                    .field(1)
                    .and_then(TVal::bin)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                return Err(ThriftError::Application(format!("{name}: {msg}")));
            }
            k => return Err(bad(format!("message type {k} in reply to {name}"))),
        }
        for (i, ex) in exceptions.iter().enumerate() {
            if let Some(e) = reply.body.field(i as i16 + 1) {
                let message = e
                    .field(1)
                    .and_then(TVal::bin)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                return Err(ThriftError::Declared {
                    name: (*ex).to_string(),
                    message,
                });
            }
        }
        Ok(reply.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(i16, TVal)> {
        vec![
            (1, TVal::Bin(b"t\x00able".to_vec())),
            (
                2,
                TVal::Struct(vec![
                    (1, TVal::Bin(vec![0, 255])),
                    (3, TVal::I64(-1)),
                    (
                        4,
                        TVal::List(TType::Binary, vec![TVal::Bin(b"cf:a".to_vec()); 20]),
                    ),
                    (5, TVal::I32(256)),
                    (8, TVal::Bool(true)),
                    (9, TVal::Bool(false)),
                    (40, TVal::I16(-300)),
                    (41, TVal::Double(-0.5)),
                    (42, TVal::Byte(-2)),
                ]),
            ),
            (
                3,
                TVal::Map(
                    TType::Binary,
                    TType::Binary,
                    vec![(TVal::Bin(b"k".to_vec()), TVal::Bin(b"v".to_vec()))],
                ),
            ),
            (4, TVal::Map(TType::Binary, TType::Binary, vec![])),
            (5, TVal::I64(i64::MIN)),
        ]
    }

    #[test]
    fn both_protocols_round_trip() {
        for proto in [Protocol::Binary, Protocol::Compact] {
            let m = encode_call(proto, "scannerOpenWithScan", 7, &sample());
            let d = decode_message(proto, &mut m.as_slice()).unwrap();
            assert_eq!(
                (d.name.as_str(), d.kind, d.seq),
                ("scannerOpenWithScan", 1, 7)
            );
            assert_eq!(d.body, TVal::Struct(sample()), "{proto:?}");
            let r = encode_reply(proto, "x", 9, &[(0, TVal::I32(3))]);
            let d = decode_message(proto, &mut r.as_slice()).unwrap();
            assert_eq!((d.kind, d.body.field(0).and_then(TVal::int)), (2, Some(3)));
        }
    }

    #[test]
    fn wire_bytes_match_the_specification() {
        // Binary: strict header, name, seq; i32 field 1 = 1; stop.
        let m = encode_call(Protocol::Binary, "f", 1, &[(1, TVal::I32(1))]);
        assert_eq!(
            m,
            [0x80, 0x01, 0x00, 0x01, 0, 0, 0, 1, b'f', 0, 0, 0, 1, 8, 0, 1, 0, 0, 0, 1, 0]
        );
        // Compact: 0x82, type/version, varint seq, name; field delta 1 type i32 (5), zigzag(1) = 2.
        let m = encode_call(Protocol::Compact, "f", 1, &[(1, TVal::I32(1))]);
        assert_eq!(m, [0x82, 0x21, 1, 1, b'f', 0x15, 2, 0]);
        // A field id jump past 15 writes the id itself (zigzag varint).
        let m = encode_call(Protocol::Compact, "f", 1, &[(100, TVal::Bool(true))]);
        assert_eq!(&m[5..], &[0x01, 0xC8, 0x01, 0]);
    }

    #[test]
    fn hostile_input_is_refused_not_allocated() {
        let mut huge = vec![0x80, 0x01, 0x00, 0x02, 0x7F, 0xFF, 0xFF, 0xFF];
        huge.extend_from_slice(&[0; 8]);
        assert!(decode_message(Protocol::Binary, &mut huge.as_slice()).is_err());
        let deep: Vec<u8> = [0x82, 0x41, 1, 0]
            .into_iter()
            .chain(std::iter::repeat_n(0x1C, 100))
            .collect();
        assert!(decode_message(Protocol::Compact, &mut deep.as_slice()).is_err());
        assert!(decode_message(Protocol::Binary, &mut [0u8, 1, 2].as_slice()).is_err());
    }
}
