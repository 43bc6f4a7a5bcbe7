//! LZO1X in the two containers DataX templates name: the lzop file format (`compress: "lzo"` or
//! `"lzop"`, what the `lzop` tool and Hadoop's `LzopCodec` write) and Hadoop's block stream
//! (`"lzo_deflate"`, `LzoCodec`: the framing of [`crate::compress`]'s hadoop-snappy with LZO1X
//! chunks). The LZO1X codec itself is the `lzokay` crate (MIT).

use crate::blocks::{BlockFormat, BlockWriter};
use std::io::{self, Read, Write};

const MAGIC: [u8; 9] = [0x89, b'L', b'Z', b'O', 0x00, 0x0D, 0x0A, 0x1A, 0x0A];

/// Header and block flags of the lzop format.
const F_ADLER32_D: u32 = 0x0000_0001;
const F_ADLER32_C: u32 = 0x0000_0002;
const F_H_EXTRA_FIELD: u32 = 0x0000_0040;
const F_CRC32_D: u32 = 0x0000_0100;
const F_CRC32_C: u32 = 0x0000_0200;
const F_MULTIPART: u32 = 0x0000_0400;
const F_H_FILTER: u32 = 0x0000_0800;
const F_H_CRC32: u32 = 0x0000_1000;

/// The methods that are LZO1X (lzop's M_LZO1X_1, M_LZO1X_1_15, M_LZO1X_999).
const LZO1X_METHODS: [u8; 3] = [1, 2, 3];

/// lzop writes blocks of 256 KiB (see `crate::blocks`); one longer than 64 MiB is corrupt,
/// not allocated.
const MAX_BLOCK: u32 = 64 << 20;

fn bad(m: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("lzo: {}", m.into()))
}

fn lzo_error(e: lzokay::Error) -> io::Error {
    bad(format!("corrupt LZO1X data ({e:?})"))
}

fn adler32(data: &[u8]) -> u32 {
    let mut a = adler2::Adler32::new();
    a.write_slice(data);
    a.checksum()
}

/// Reads big-endian integers and keeps the running header checksums.
struct HeaderReader<'a, R> {
    inner: &'a mut R,
    bytes: Vec<u8>,
}

impl<R: Read> HeaderReader<'_, R> {
    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        let start = self.bytes.len();
        self.bytes.resize(start + n, 0);
        self.inner
            .read_exact(&mut self.bytes[start..])
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => bad("the file ends inside the lzop header"),
                _ => e,
            })?;
        Ok(&self.bytes[start..])
    }
    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> io::Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> io::Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn read_u32<R: Read>(r: &mut R, what: &str) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => bad(format!("the file ends inside {what}")),
        _ => e,
    })?;
    Ok(u32::from_be_bytes(b))
}

/// The Adler-32 and CRC-32 a block carries for its data or its compressed bytes, as `flags`
/// say (`adler` and `crc` are the two flag bits that ask for them).
fn read_sums<R: Read>(
    r: &mut R,
    flags: u32,
    adler: u32,
    crc: u32,
) -> io::Result<(Option<u32>, Option<u32>)> {
    let mut one = |bit: u32| {
        (flags & bit != 0)
            .then(|| read_u32(r, "a block checksum"))
            .transpose()
    };
    Ok((one(adler)?, one(crc)?))
}

/// Reads an lzop file: the header is checked (magic, method, header checksum), every block's
/// checksums are verified, and the end-of-file marker must be present (a truncated file is an
/// error, not a short read).
pub struct LzopReader<R> {
    inner: R,
    flags: Option<u32>,
    out: Vec<u8>,
    pos: usize,
    packed: Vec<u8>,
    done: bool,
}

impl<R: Read> LzopReader<R> {
    /// Reads lzop data from `inner` (the header is read at the first `read`).
    pub fn new(inner: R) -> Self {
        LzopReader {
            inner,
            flags: None,
            out: Vec::new(),
            pos: 0,
            packed: Vec::new(),
            done: false,
        }
    }

    fn header(&mut self) -> io::Result<u32> {
        let mut magic = [0u8; 9];
        self.inner
            .read_exact(&mut magic)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => bad("not an lzop file (shorter than its magic)"),
                _ => e,
            })?;
        if magic != MAGIC {
            return Err(bad("not an lzop file (wrong magic bytes)"));
        }
        let mut h = HeaderReader {
            inner: &mut self.inner,
            bytes: Vec::with_capacity(64),
        };
        let version = h.u16()?;
        let _lib_version = h.u16()?;
        if version >= 0x0940 {
            let needed = h.u16()?;
            if needed > 0x1040 {
                return Err(bad(format!(
                    "the file needs lzop version {needed:#x} to extract (this reader knows 0x1040)"
                )));
            }
        }
        let method = h.u8()?;
        if !LZO1X_METHODS.contains(&method) {
            return Err(bad(format!(
                "compression method {method} is not LZO1X (only LZO1X lzop files can be read)"
            )));
        }
        if version >= 0x0940 {
            let _level = h.u8()?;
        }
        let flags = h.u32()?;
        if flags & F_H_FILTER != 0 {
            return Err(bad("files written with an lzop filter are not supported"));
        }
        if flags & F_MULTIPART != 0 {
            return Err(bad("multi-part lzop files are not supported"));
        }
        let _mode = h.u32()?;
        let _mtime_low = h.u32()?;
        if version >= 0x0940 {
            let _mtime_high = h.u32()?;
        }
        let name_len = h.u8()?;
        h.take(usize::from(name_len))?;
        let sum = if flags & F_H_CRC32 != 0 {
            crc32fast::hash(&h.bytes)
        } else {
            adler32(&h.bytes)
        };
        let stored = read_u32(&mut self.inner, "the header checksum")?;
        if stored != sum {
            return Err(bad("the header checksum does not match (corrupt file)"));
        }
        if flags & F_H_EXTRA_FIELD != 0 {
            let len = read_u32(&mut self.inner, "the extra field")?;
            io::copy(
                &mut (&mut self.inner).take(u64::from(len) + 4),
                &mut io::sink(),
            )?;
        }
        Ok(flags)
    }

    /// Decodes the next block into `out`; false after the end-of-file marker.
    fn next_block(&mut self) -> io::Result<bool> {
        let flags = match self.flags {
            Some(f) => f,
            None => {
                let f = self.header()?;
                self.flags = Some(f);
                f
            }
        };
        let dst_len = read_u32(&mut self.inner, "a block header (truncated file?)")?;
        if dst_len == 0 {
            self.done = true;
            return Ok(false);
        }
        if dst_len > MAX_BLOCK {
            return Err(bad(format!("a block of {dst_len} bytes is not plausible")));
        }
        let src_len = read_u32(&mut self.inner, "a block header")?;
        if src_len > dst_len {
            return Err(bad(
                "a block's compressed size exceeds its size (corrupt file)",
            ));
        }
        let sum_d = read_sums(&mut self.inner, flags, F_ADLER32_D, F_CRC32_D)?;
        let compressed = src_len < dst_len;
        let sum_c = if compressed {
            Some(read_sums(&mut self.inner, flags, F_ADLER32_C, F_CRC32_C)?)
        } else {
            None
        };
        self.packed.resize(src_len as usize, 0);
        self.inner
            .read_exact(&mut self.packed)
            .map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    bad("the file ends inside a block (truncated file?)")
                }
                _ => e,
            })?;
        let verify = |data: &[u8], sums: (Option<u32>, Option<u32>)| -> io::Result<()> {
            if sums.0.is_some_and(|s| s != adler32(data))
                || sums.1.is_some_and(|s| s != crc32fast::hash(data))
            {
                return Err(bad("a block checksum does not match (corrupt file)"));
            }
            Ok(())
        };
        if let Some(sums) = sum_c {
            verify(&self.packed, sums)?;
        }
        if compressed {
            self.out.resize(dst_len as usize, 0);
            let n =
                lzokay::decompress::decompress(&self.packed, &mut self.out).map_err(lzo_error)?;
            if n != dst_len as usize {
                return Err(bad("a block decodes to another size than its header says"));
            }
        } else {
            std::mem::swap(&mut self.out, &mut self.packed);
        }
        verify(&self.out, sum_d)?;
        self.pos = 0;
        Ok(true)
    }
}

impl<R: Read> Read for LzopReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            if self.done || !self.next_block()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The lzop file format: LZO1X blocks of 256 KiB, each with the Adler-32 of its bytes, as
/// the `lzop` tool writes them, and an end-of-file marker.
pub struct Lzop {
    dict: Box<lzokay::compress::Dict>,
}

impl Lzop {
    /// Writes the header into `inner` and returns the writer of the blocks; `name` is the
    /// file name recorded in the header.
    pub fn writer<W: Write>(mut inner: W, name: &str) -> io::Result<BlockWriter<W, Lzop>> {
        let mut h = Vec::with_capacity(64);
        h.extend_from_slice(&0x1030u16.to_be_bytes()); // lzop version
        h.extend_from_slice(&0x2060u16.to_be_bytes()); // LZO library version (DataX reads <= 0x2060)
        h.extend_from_slice(&0x0940u16.to_be_bytes()); // version needed to extract
        h.push(3); // M_LZO1X_999: what lzokay's compressor produces
        h.push(9);
        h.extend_from_slice(&F_ADLER32_D.to_be_bytes());
        h.extend_from_slice(&0o100644u32.to_be_bytes()); // mode
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        h.extend_from_slice(&(now as u32).to_be_bytes());
        h.extend_from_slice(&((now >> 32) as u32).to_be_bytes());
        let name = &name.as_bytes()[..name.len().min(255)];
        h.push(name.len() as u8);
        h.extend_from_slice(name);
        let sum = adler32(&h);
        inner.write_all(&MAGIC)?;
        inner.write_all(&h)?;
        inner.write_all(&sum.to_be_bytes())?;
        Ok(BlockWriter::new(
            inner,
            Lzop {
                dict: lzokay::compress::Dict::new(),
            },
        ))
    }
}

impl BlockFormat for Lzop {
    fn write_block(&mut self, out: &mut dyn Write, block: &[u8]) -> io::Result<()> {
        let packed =
            lzokay::compress::compress_with_dict(block, &mut self.dict).map_err(lzo_error)?;
        out.write_all(&(block.len() as u32).to_be_bytes())?;
        // A block that does not shrink is stored as it is (src_len == dst_len).
        let body: &[u8] = if packed.len() < block.len() {
            &packed
        } else {
            block
        };
        out.write_all(&(body.len() as u32).to_be_bytes())?;
        out.write_all(&adler32(block).to_be_bytes())?;
        out.write_all(body)
    }

    /// The end-of-file marker: a block of length 0.
    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(&0u32.to_be_bytes())
    }
}

/// Decodes one LZO1X chunk of a Hadoop block stream whose block has `room` bytes left.
pub(crate) fn decode_chunk(packed: &[u8], room: usize) -> io::Result<Vec<u8>> {
    let mut out = vec![0u8; room];
    let n = lzokay::decompress::decompress(packed, &mut out).map_err(lzo_error)?;
    out.truncate(n);
    Ok(out)
}

/// Encodes one chunk of a Hadoop block stream.
pub(crate) fn encode_chunk(data: &[u8]) -> io::Result<Vec<u8>> {
    lzokay::compress::compress(data).map_err(lzo_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lzop_round_trip_with_stored_and_packed_blocks() {
        // Compressible text, then incompressible bytes (stored blocks), over several blocks.
        let mut data: Vec<u8> = (0..60_000u32)
            .flat_map(|i| format!("{i},row {i}\n").into_bytes())
            .collect();
        let mut x = 0x1234_5678u32;
        for _ in 0..300_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            data.push(x as u8);
        }
        let mut w = Lzop::writer(Vec::new(), "t.csv").unwrap();
        w.write_all(&data).unwrap();
        let packed = w.finish().unwrap();
        assert!(packed.len() < data.len());
        let mut back = Vec::new();
        LzopReader::new(io::Cursor::new(&packed))
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        // Truncated: an error, never a short read.
        let cut = &packed[..packed.len() - 4];
        let e = LzopReader::new(io::Cursor::new(cut))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        // A flipped byte in the data: a checksum or decoding error.
        let mut bent = packed.clone();
        let at = bent.len() / 2;
        bent[at] ^= 0x55;
        assert!(LzopReader::new(io::Cursor::new(bent))
            .read_to_end(&mut Vec::new())
            .is_err());
        let e = LzopReader::new(io::Cursor::new(b"plain text, not lzop".to_vec()))
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("not an lzop file"), "{e}");
    }
}
