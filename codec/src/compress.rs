//! Compression of file streams: none, gzip (multi-member aware), bzip2 (multi-stream aware) and
//! zstd.

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
}

impl<'de> Deserialize<'de> for Compression {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            "bzip2" => Ok(Compression::Bzip2),
            _ => Err(serde::de::Error::custom(format!(
                "unknown variant `{s}`, expected one of `none`, `gzip`, `bzip2`, `zstd`"
            ))),
        }
    }
}

impl Compression {
    /// The usual file suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
            Compression::Bzip2 => ".bz2",
        }
    }
}

/// Wraps `r` in the decompressor for `c`.
pub fn decompress<'a>(
    r: Box<dyn Read + Send + 'a>,
    c: Compression,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match c {
        Compression::None => r,
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 16, r),
        )),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(
            io::BufReader::with_capacity(1 << 16, r),
        )),
    })
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
}

impl<W: Write> Compressor<W> {
    /// Starts compressing into `w`.
    pub fn new(w: W, c: Compression) -> io::Result<Self> {
        Ok(match c {
            Compression::None => Compressor::None(w),
            Compression::Gzip => Compressor::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::new(6),
            )),
            Compression::Zstd => Compressor::Zstd(zstd::stream::write::Encoder::new(w, 3)?),
            Compression::Bzip2 => {
                Compressor::Bzip2(bzip2::write::BzEncoder::new(w, bzip2::Compression::new(6)))
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
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::None(w) => w.flush(),
            Compressor::Gzip(w) => w.flush(),
            Compressor::Zstd(w) => w.flush(),
            Compressor::Bzip2(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_compression() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Zstd,
            Compression::Bzip2,
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
