//! Writers of block-framed streams (Hadoop's block codecs, lzop): bytes are gathered into
//! blocks of [`BLOCK`] bytes and each full block, and the last one, is written by its format.

use std::io::{self, Write};

/// The uncompressed size of a block (256 KiB, as Hadoop's codecs and the `lzop` tool use).
pub(crate) const BLOCK: usize = 256 * 1024;

/// How one block of a block-framed stream is written, and how the stream ends.
pub trait BlockFormat {
    /// Writes one block of up to [`BLOCK`] bytes (never empty) to `out`.
    fn write_block(&mut self, out: &mut dyn Write, block: &[u8]) -> io::Result<()>;
    /// Writes what follows the last block (nothing by default).
    fn end(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let _ = out;
        Ok(())
    }
}

/// A writer of the block stream format `F` into `W`; [`BlockWriter::finish`] writes the last
/// block and the end.
pub struct BlockWriter<W: Write, F: BlockFormat> {
    inner: W,
    buf: Vec<u8>,
    format: F,
}

impl<W: Write, F: BlockFormat> BlockWriter<W, F> {
    /// Writes blocks of `format` into `inner` (anything before the first block is written).
    pub(crate) fn new(inner: W, format: F) -> Self {
        BlockWriter {
            inner,
            buf: Vec::with_capacity(BLOCK),
            format,
        }
    }

    fn write_block(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.format.write_block(&mut self.inner, &self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes the last block and the end of the stream; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.write_block()?;
        self.format.end(&mut self.inner)?;
        Ok(self.inner)
    }
}

impl<W: Write, F: BlockFormat> Write for BlockWriter<W, F> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(BLOCK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == BLOCK {
            self.write_block()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
