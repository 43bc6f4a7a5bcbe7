//! Compression of file streams: none, gzip (multi-member aware), bzip2 (multi-stream aware),
//! zstd, snappy (Hadoop blocks or framing), LZO (lzop files or Hadoop blocks), and the zip and
//! tar.gz archives.

use crate::blocks::{BlockFormat, BlockWriter};
use serde::Deserialize;
use std::io::{self, Read, Write};

/// `compress` parameter; case does not matter (DataX's hdfs templates write `GZIP`), and an
/// empty string means none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    /// Plain.
    #[default]
    None,
    /// gzip (`.gz`).
    Gzip,
    /// Zstandard (`.zst`).
    Zstd,
    /// bzip2 (`.bz2`).
    Bzip2,
    /// Snappy in Hadoop's block stream (`SnappyCodec`, what Hive text tables hold; `.snappy`).
    HadoopSnappy,
    /// Snappy's own framing format (`.sz`).
    FramingSnappy,
    /// A zip archive (`.zip`): readers take each file entry as a file; writers put one
    /// deflated entry in each archive.
    Zip,
    /// A gzip-compressed tar archive (`.tar.gz`): readers take each regular file as a file;
    /// writers put one entry in each archive.
    Tgz,
    /// LZO1X in the lzop file format (`.lzo`; DataX's `lzo`, also spelled `lzop`).
    Lzop,
    /// LZO1X in Hadoop's block stream (`LzoCodec`, `.lzo_deflate`; DataX's `lzo_deflate`).
    LzoDeflate,
}

impl<'de> Deserialize<'de> for Compression {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "bzip2" | "bz2" => Ok(Compression::Bzip2),
            "hadoop-snappy" | "snappy" => Ok(Compression::HadoopSnappy),
            "framing-snappy" => Ok(Compression::FramingSnappy),
            "zip" => Ok(Compression::Zip),
            "tgz" | "tar.gz" => Ok(Compression::Tgz),
            "lzo" | "lzop" => Ok(Compression::Lzop),
            "lzo_deflate" => Ok(Compression::LzoDeflate),
            _ => Err(serde::de::Error::custom(format!(
                "unknown variant `{s}`, expected one of `none`, `gzip`, `bzip2`, `zstd`, \
                 `hadoop-snappy`, `framing-snappy`, `lzo`, `lzo_deflate`, `zip`, `tgz`"
            ))),
        }
    }
}

impl Compression {
    /// The name `compress` takes for it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::HadoopSnappy => "hadoop-snappy",
            Compression::FramingSnappy => "framing-snappy",
            Compression::Zip => "zip",
            Compression::Tgz => "tgz",
            Compression::Lzop => "lzop",
            Compression::LzoDeflate => "lzo_deflate",
        }
    }

    /// The usual file suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
            Compression::Bzip2 => ".bz2",
            Compression::HadoopSnappy => ".snappy",
            Compression::FramingSnappy => ".sz",
            Compression::Zip => ".zip",
            Compression::Tgz => ".tar.gz",
            Compression::Lzop => ".lzo",
            Compression::LzoDeflate => ".lzo_deflate",
        }
    }
}

/// Wraps `r` in the decompressor for `c`.
pub fn decompress<'a>(
    r: Box<dyn Read + Send + 'a>,
    c: Compression,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match c {
        Compression::None => {
            // A compressed file read as text would be rows of bytes (one a dirty record, the
            // others junk that parses): its magic number says what to set instead.
            let mut r = io::BufReader::with_capacity(1 << 16, r);
            let head = io::BufRead::fill_buf(&mut r)?;
            let kind = if head.starts_with(&[0x1f, 0x8b]) {
                Some("gzip")
            } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                Some("zstd")
            } else if head.len() >= 10
                && head.starts_with(b"BZh")
                && (b'1'..=b'9').contains(&head[3])
                && &head[4..10] == b"1AY&SY"
            {
                Some("bzip2")
            } else {
                None
            };
            if let Some(kind) = kind {
                return Err(io::Error::other(format!(
                    "it is {kind}-compressed (it starts with {kind}'s magic number), but \
                     \"compress\" is not set: set \"compress\": \"{kind}\""
                )));
            }
            Box::new(r)
        }
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 16, r),
        )),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(
            io::BufReader::with_capacity(1 << 16, r),
        )),
        Compression::Lzop => Box::new(crate::lzo::LzopReader::new(r)),
        Compression::HadoopSnappy | Compression::LzoDeflate => Box::new(HadoopBlockReader {
            codec: BlockCodec::of(c),
            inner: r,
            block_left: 0,
            out: Vec::new(),
            pos: 0,
            packed: Vec::new(),
        }),
        Compression::FramingSnappy => Box::new(snap::read::FrameDecoder::new(r)),
        Compression::Zip | Compression::Tgz => {
            return Err(io::Error::other(
                "an archive is read entry by entry, not as one stream",
            ))
        }
    })
}

/// Calls `each(name, reader)` for every regular, non-hidden file of a gzip-compressed tar
/// archive read (streamed) from `input`, in archive order.
pub fn each_tgz_entry<E>(
    input: Box<dyn Read + '_>,
    mut each: impl FnMut(&str, Box<dyn Read + '_>) -> Result<(), E>,
    io_err: impl Fn(io::Error) -> E,
) -> Result<(), E> {
    let gz = flate2::read::MultiGzDecoder::new(io::BufReader::with_capacity(1 << 16, input));
    let mut archive = tar::Archive::new(gz);
    for entry in archive.entries().map_err(&io_err)? {
        let entry = entry.map_err(&io_err)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(&io_err)?
            .to_string_lossy()
            .into_owned();
        if passed_over("tar", &name) {
            continue;
        }
        each(&name, Box::new(entry))?;
    }
    Ok(())
}

/// A tar.gz being written: the entry's bytes go to a temporary file (a tar header carries the
/// size first), and [`Compressor::finish`] writes the archive.
pub struct TgzSpool<W: Write> {
    spool: std::fs::File,
    out: W,
    entry: String,
}

impl<W: Write> TgzSpool<W> {
    fn finish(mut self) -> io::Result<W> {
        use std::io::Seek;
        let size = self.spool.stream_position()?;
        self.spool.rewind()?;
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        header.set_mtime(now);
        let gz = flate2::write::GzEncoder::new(self.out, flate2::Compression::new(6));
        let mut builder = tar::Builder::new(gz);
        builder.append_data(&mut header, &self.entry, &mut self.spool)?;
        builder.into_inner()?.finish()
    }
}

/// The file entries of a zip archive read from a stream. The archive is spooled to an
/// unnamed temporary file first: a zip's index (the central directory) is at its end, and
/// entries written by streaming zippers (Java's ZipOutputStream, DataX) carry their sizes only
/// there.
pub struct ZipEntries {
    archive: zip::ZipArchive<std::fs::File>,
    next: usize,
}

fn zip_error(e: zip::result::ZipError) -> io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, format!("zip: {other}")),
    }
}

impl ZipEntries {
    /// Copies `input` to a temporary file and opens it as a zip archive.
    pub fn spool(input: &mut dyn Read) -> io::Result<Self> {
        let mut f = tempfile::tempfile()?;
        io::copy(input, &mut f)?;
        let archive = zip::ZipArchive::new(f).map_err(zip_error)?;
        Ok(ZipEntries { archive, next: 0 })
    }

    /// The next file entry (directories are passed over; hidden names, e.g. `__MACOSX/._x`,
    /// too, with a warning line): its name and a reader of its bytes (checked against the
    /// entry's CRC at its end).
    pub fn next_entry(&mut self) -> io::Result<Option<(String, Box<dyn Read + Send + '_>)>> {
        while self.next < self.archive.len() {
            let i = self.next;
            self.next += 1;
            let name = self
                .archive
                .name_for_index(i)
                .unwrap_or_default()
                .to_string();
            if passed_over("zip", &name) {
                continue;
            }
            let entry = self.archive.by_index(i).map_err(zip_error)?;
            return Ok(Some((name, Box::new(entry))));
        }
        Ok(None)
    }
}

/// Whether an archive entry is not read as data: a directory, or a hidden name (said in a
/// warning line).
fn passed_over(archive: &str, name: &str) -> bool {
    if name.ends_with('/') {
        return true;
    }
    let hidden = is_hidden(name);
    if hidden {
        tracing::warn!("{archive} entry {name} skipped: hidden names are not read as data");
    }
    hidden
}

/// A hidden archive entry: its base name or one of its directories starts with a dot, or it
/// sits under macOS's `__MACOSX/` resource folder.
fn is_hidden(name: &str) -> bool {
    name.split('/')
        .any(|part| part.starts_with('.') && part != "." && part != "..")
        || name.starts_with("__MACOSX/")
}

/// The raw codec inside a Hadoop block stream.
#[derive(Debug, Clone, Copy)]
pub enum BlockCodec {
    /// `SnappyCodec`.
    Snappy,
    /// `LzoCodec` (LZO1X).
    Lzo,
}

impl BlockCodec {
    fn of(c: Compression) -> Self {
        match c {
            Compression::LzoDeflate => BlockCodec::Lzo,
            _ => BlockCodec::Snappy,
        }
    }

    fn name(self) -> &'static str {
        match self {
            BlockCodec::Snappy => "hadoop-snappy",
            BlockCodec::Lzo => "lzo_deflate",
        }
    }

    fn decode(self, packed: &[u8], room: u64) -> io::Result<Vec<u8>> {
        match self {
            BlockCodec::Snappy => snap::raw::Decoder::new()
                .decompress_vec(packed)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("snappy: {e}"))),
            BlockCodec::Lzo => crate::lzo::decode_chunk(packed, room as usize),
        }
    }

    fn encode(self, data: &[u8]) -> io::Result<Vec<u8>> {
        match self {
            BlockCodec::Snappy => snap::raw::Encoder::new()
                .compress_vec(data)
                .map_err(|e| io::Error::other(format!("snappy: {e}"))),
            BlockCodec::Lzo => crate::lzo::encode_chunk(data),
        }
    }
}

/// Reads Hadoop's block stream (`BlockCompressorStream`: what `SnappyCodec` and `LzoCodec`
/// write): blocks of `[u32 BE uncompressed length]` followed by chunks of
/// `[u32 BE compressed length][raw codec bytes]` until the block's length is reached.
struct HadoopBlockReader<R> {
    codec: BlockCodec,
    inner: R,
    /// Uncompressed bytes of the current block still to come.
    block_left: u64,
    out: Vec<u8>,
    pos: usize,
    packed: Vec<u8>,
}

fn read_be_u32<R: Read>(r: &mut R, codec: BlockCodec) -> io::Result<Option<u32>> {
    let mut b = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut b[got..])? {
            0 if got == 0 => return Ok(None),
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{}: the stream ends inside a length", codec.name()),
                ))
            }
            n => got += n,
        }
    }
    Ok(Some(u32::from_be_bytes(b)))
}

/// Largest chunk or block accepted (Hadoop writes 256 KiB blocks; a corrupt length is not
/// allocated).
const MAX_BLOCK_CHUNK: u32 = 64 << 20;

impl<R: Read> HadoopBlockReader<R> {
    /// Decodes the next chunk into `out`; false at the end of the stream.
    fn next_chunk(&mut self) -> io::Result<bool> {
        let name = self.codec.name();
        let bad = |m: String| io::Error::new(io::ErrorKind::InvalidData, format!("{name}: {m}"));
        while self.block_left == 0 {
            match read_be_u32(&mut self.inner, self.codec)? {
                None => return Ok(false),
                Some(n) if n > MAX_BLOCK_CHUNK => {
                    return Err(bad(format!("a block of {n} bytes is not plausible")))
                }
                Some(n) => self.block_left = u64::from(n),
            }
        }
        let Some(len) = read_be_u32(&mut self.inner, self.codec)? else {
            return Err(bad("the stream ends inside a block".into()));
        };
        if len > MAX_BLOCK_CHUNK {
            return Err(bad(format!("a chunk of {len} bytes is not plausible")));
        }
        self.packed.resize(len as usize, 0);
        self.inner.read_exact(&mut self.packed)?;
        self.out = self.codec.decode(&self.packed, self.block_left)?;
        self.pos = 0;
        let n = self.out.len() as u64;
        if n > self.block_left {
            return Err(bad("a chunk is longer than its block".into()));
        }
        self.block_left -= n;
        Ok(true)
    }
}

impl<R: Read> Read for HadoopBlockReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Hadoop's block stream: each block is its length, then one chunk (its packed length and
/// bytes).
impl BlockFormat for BlockCodec {
    fn write_block(&mut self, out: &mut dyn Write, block: &[u8]) -> io::Result<()> {
        let packed = self.encode(block)?;
        out.write_all(&(block.len() as u32).to_be_bytes())?;
        out.write_all(&(packed.len() as u32).to_be_bytes())?;
        out.write_all(&packed)
    }
}

/// A writer that compresses as configured; [`Compressor::finish`] MUST be called to write the
/// trailer, or the file is truncated.
pub enum Compressor<W: Write> {
    /// Plain.
    None(W),
    /// gzip.
    Gzip(flate2::write::GzEncoder<W>),
    /// zstd.
    Zstd(zstd::stream::write::Encoder<'static, W>),
    /// bzip2.
    Bzip2(bzip2::write::BzEncoder<W>),
    /// Hadoop's snappy or LZO blocks.
    HadoopBlocks(BlockWriter<W, BlockCodec>),
    /// An lzop file.
    Lzop(BlockWriter<W, crate::lzo::Lzop>),
    /// Snappy framing.
    FramingSnappy(Box<snap::write::FrameEncoder<W>>),
    /// A zip archive of one entry.
    Zip(Box<zip::ZipWriter<zip::write::StreamWriter<W>>>),
    /// A tar.gz of one entry.
    Tgz(Box<TgzSpool<W>>),
}

impl<W: Write> Compressor<W> {
    /// Starts compressing into `w` (a zip archive's one entry is named `data`).
    pub fn new(w: W, c: Compression) -> io::Result<Self> {
        Self::named(w, c, "data")
    }

    /// Starts compressing into `w`; `entry` names the entry of a zip or tar archive.
    pub fn named(w: W, c: Compression, entry: &str) -> io::Result<Self> {
        Ok(match c {
            Compression::Tgz => Compressor::Tgz(Box::new(TgzSpool {
                spool: tempfile::tempfile()?,
                out: w,
                entry: entry.to_string(),
            })),
            Compression::Zip => {
                let mut z = zip::ZipWriter::new_stream(w);
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .large_file(true);
                z.start_file(entry, options).map_err(zip_error)?;
                Compressor::Zip(Box::new(z))
            }
            Compression::None => Compressor::None(w),
            Compression::Gzip => Compressor::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::new(6),
            )),
            Compression::Zstd => Compressor::Zstd(zstd::stream::write::Encoder::new(w, 3)?),
            Compression::Bzip2 => {
                Compressor::Bzip2(bzip2::write::BzEncoder::new(w, bzip2::Compression::new(6)))
            }
            Compression::HadoopSnappy | Compression::LzoDeflate => {
                Compressor::HadoopBlocks(BlockWriter::new(w, BlockCodec::of(c)))
            }
            Compression::Lzop => Compressor::Lzop(crate::lzo::Lzop::writer(w, entry)?),
            Compression::FramingSnappy => {
                Compressor::FramingSnappy(Box::new(snap::write::FrameEncoder::new(w)))
            }
        })
    }

    /// Writes the trailer and returns the inner writer (flushed).
    pub fn finish(self) -> io::Result<W> {
        let mut w = match self {
            Compressor::None(w) => w,
            Compressor::Gzip(e) => e.finish()?,
            Compressor::Zstd(e) => e.finish()?,
            Compressor::Bzip2(e) => e.finish()?,
            Compressor::HadoopBlocks(e) => e.finish()?,
            Compressor::Lzop(e) => e.finish()?,
            Compressor::FramingSnappy(e) => (*e).into_inner().map_err(|e| e.into_error())?,
            Compressor::Zip(z) => (*z).finish().map_err(zip_error)?.into_inner(),
            Compressor::Tgz(t) => (*t).finish()?,
        };
        w.flush()?;
        Ok(w)
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::None(w) => w.write(buf),
            Compressor::Gzip(w) => w.write(buf),
            Compressor::Zstd(w) => w.write(buf),
            Compressor::Bzip2(w) => w.write(buf),
            Compressor::HadoopBlocks(w) => w.write(buf),
            Compressor::Lzop(w) => w.write(buf),
            Compressor::FramingSnappy(w) => w.write(buf),
            Compressor::Zip(w) => w.write(buf),
            Compressor::Tgz(t) => t.spool.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::None(w) => w.flush(),
            Compressor::Gzip(w) => w.flush(),
            Compressor::Zstd(w) => w.flush(),
            Compressor::Bzip2(w) => w.flush(),
            Compressor::HadoopBlocks(w) => w.flush(),
            Compressor::Lzop(w) => w.flush(),
            Compressor::FramingSnappy(w) => w.flush(),
            Compressor::Zip(w) => w.flush(),
            Compressor::Tgz(t) => t.spool.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compressed_file_read_as_plain_text_names_its_compression() {
        for c in [Compression::Gzip, Compression::Zstd, Compression::Bzip2] {
            let mut w = Compressor::new(Vec::new(), c).unwrap();
            w.write_all(b"1,a\n").unwrap();
            let packed = w.finish().unwrap();
            let e = decompress(Box::new(io::Cursor::new(packed)), Compression::None)
                .err()
                .unwrap();
            assert!(
                e.to_string()
                    .contains(&format!("\"compress\": \"{}\"", c.name())),
                "{e}"
            );
        }
        let mut plain = String::new();
        decompress(
            Box::new(io::Cursor::new(b"1,a\n".to_vec())),
            Compression::None,
        )
        .unwrap()
        .read_to_string(&mut plain)
        .unwrap();
        assert_eq!(plain, "1,a\n");
    }

    #[test]
    fn zip_entries_round_trip() {
        let mut w = Compressor::named(Vec::new(), Compression::Zip, "part.csv").unwrap();
        w.write_all(b"1,a\n2,b\n").unwrap();
        let packed = w.finish().unwrap();
        let mut entries = ZipEntries::spool(&mut io::Cursor::new(packed)).unwrap();
        let (name, mut r) = entries.next_entry().unwrap().unwrap();
        assert_eq!(name, "part.csv");
        let mut back = String::new();
        r.read_to_string(&mut back).unwrap();
        drop(r);
        assert_eq!(back, "1,a\n2,b\n");
        assert!(entries.next_entry().unwrap().is_none());
        assert!(ZipEntries::spool(&mut io::Cursor::new(b"not a zip".to_vec())).is_err());
    }

    #[test]
    fn tgz_round_trip() {
        let mut w = Compressor::named(Vec::new(), Compression::Tgz, "part.csv").unwrap();
        w.write_all(b"1,a\n2,b\n").unwrap();
        let packed = w.finish().unwrap();
        let mut seen = Vec::new();
        each_tgz_entry(
            Box::new(io::Cursor::new(packed)),
            |name, mut r| {
                let mut s = String::new();
                r.read_to_string(&mut s)?;
                seen.push((name.to_string(), s));
                Ok::<_, io::Error>(())
            },
            |e| e,
        )
        .unwrap();
        assert_eq!(seen, [("part.csv".to_string(), "1,a\n2,b\n".to_string())]);
    }

    #[test]
    fn round_trip_every_compression() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Zstd,
            Compression::Bzip2,
            Compression::HadoopSnappy,
            Compression::FramingSnappy,
            Compression::Lzop,
            Compression::LzoDeflate,
        ] {
            let mut w = Compressor::new(Vec::new(), c).unwrap();
            w.write_all(&data).unwrap();
            let packed = w.finish().unwrap();
            let mut back = Vec::new();
            decompress(Box::new(io::Cursor::new(packed)), c)
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "{c:?}");
        }
    }
}

datasync_engine::any_case_schema!(
    Compression,
    "Compression",
    [
        "",
        "none",
        "gzip",
        "zstd",
        "bzip2",
        "bz2",
        "hadoop-snappy",
        "snappy",
        "framing-snappy",
        "zip",
        "tgz",
        "tar.gz",
        "lzo",
        "lzop",
        "lzo_deflate",
    ],
    "Compression of the files (any letter case)."
);
