//! Decoding a byte stream of delimited text or JSON Lines into batches, shared by the readers
//! of files (local, SFTP): decompression, progress in bytes, dirty rows, cancellation.

use datasync_codec::{
    decode_stream, decompress, each_tgz_entry, Compression, DecodeSink, TextRead, ZipEntries,
};
use datasync_engine::channel::{Batch, BatchSender};
use datasync_engine::{DirtyRecord, PluginError, TaskContext};
use std::io::Read;

/// Counts bytes read from the source into the task's progress.
struct Counting<R> {
    inner: R,
    ctx: TaskContext,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ctx.counters.add_input_done(n as u64);
        Ok(n)
    }
}

struct Sink {
    out: BatchSender,
    ctx: TaskContext,
}

impl DecodeSink for Sink {
    type Error = PluginError;
    fn batch(&mut self, batch: arrow_array::RecordBatch) -> Result<(), PluginError> {
        self.ctx.check_cancelled()?;
        self.out.send_blocking(Batch::new(batch))?;
        Ok(())
    }
    fn dirty(&mut self, record: DirtyRecord) -> Result<(), PluginError> {
        self.ctx.dirty(record)
    }
}

/// Why decoding stopped.
#[derive(Debug)]
pub enum TextError {
    /// Starting the decompressor failed (the caller names the source).
    Io(std::io::Error),
    /// Decoding, the channel or the error limit.
    Plugin(PluginError),
}

/// Decodes everything `input` holds into `out`, on the calling (blocking) thread.
pub fn decode_file(
    input: Box<dyn Read + Send>,
    text: &TextRead,
    location: &str,
    out: BatchSender,
    ctx: TaskContext,
) -> Result<(), TextError> {
    let mut counted = Counting {
        inner: input,
        ctx: ctx.clone(),
    };
    let mut sink = Sink {
        out,
        ctx: ctx.clone(),
    };
    if text.compress == Compression::Zip {
        // Each file entry of the archive is a file of its own (header, line numbers).
        let mut entries = ZipEntries::spool(&mut counted).map_err(TextError::Io)?;
        while let Some((name, entry)) = entries.next_entry().map_err(TextError::Io)? {
            let at = format!("{location}!{name}");
            decode_stream(entry, &text.opts, &text.columns, ctx.batch, &at, &mut sink)
                .map_err(TextError::Plugin)?;
        }
        return Ok(());
    }
    if text.compress == Compression::Tgz {
        return each_tgz_entry(
            Box::new(counted),
            |name, entry| {
                let at = format!("{location}!{name}");
                decode_stream(entry, &text.opts, &text.columns, ctx.batch, &at, &mut sink)
                    .map_err(TextError::Plugin)
            },
            TextError::Io,
        );
    }
    let input = decompress(Box::new(counted), text.compress).map_err(TextError::Io)?;
    decode_stream(
        input,
        &text.opts,
        &text.columns,
        ctx.batch,
        location,
        &mut sink,
    )
    .map_err(TextError::Plugin)
}
