//! The framing of PostgreSQL's binary COPY stream, apart from any I/O: the header, then tuples
//! (a field count, then each field's length and bytes, -1 for NULL), then the trailer (-1).

use super::decode::SIGNATURE;
use bytes::{Buf, BytesMut};

/// Where the parser is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Tuples,
    Done,
}

/// Finds the complete tuples at the front of a growing buffer.
#[derive(Debug)]
pub(crate) struct CopyFrames {
    stage: Stage,
    ncols: usize,
}

/// A tuple's fields as (offset, length) into the buffer, `None` for NULL.
pub(crate) type Spans = Vec<Option<(usize, usize)>>;

impl CopyFrames {
    /// A parser for tuples of `ncols` fields.
    pub(crate) fn new(ncols: usize) -> Self {
        CopyFrames {
            stage: Stage::Header,
            ncols,
        }
    }

    /// The next complete tuple at the front of `buf`: its field spans and its length in bytes
    /// (the caller advances `buf` by it once done with the spans). The header is consumed on
    /// the way. `None` when more bytes are needed or the trailer was reached.
    pub(crate) fn next(&mut self, buf: &mut BytesMut) -> Result<Option<(Spans, usize)>, String> {
        if self.stage == Stage::Header {
            if buf.len() < 19 {
                return Ok(None);
            }
            if &buf[..11] != SIGNATURE {
                return Err("COPY stream does not start with the binary signature".into());
            }
            let ext = u32::from_be_bytes([buf[15], buf[16], buf[17], buf[18]]) as usize;
            if buf.len() < 19 + ext {
                return Ok(None);
            }
            buf.advance(19 + ext);
            self.stage = Stage::Tuples;
        }
        if self.stage == Stage::Done || buf.len() < 2 {
            return Ok(None);
        }
        let nf = i16::from_be_bytes([buf[0], buf[1]]);
        if nf == -1 {
            self.stage = Stage::Done;
            return Ok(None);
        }
        if nf < 0 || nf as usize != self.ncols {
            return Err(format!(
                "COPY tuple has {nf} fields, expected {}",
                self.ncols
            ));
        }
        let mut pos = 2;
        let mut spans = Vec::with_capacity(self.ncols);
        for _ in 0..self.ncols {
            if buf.len() < pos + 4 {
                return Ok(None);
            }
            let len = i32::from_be_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]]);
            pos += 4;
            if len < 0 {
                spans.push(None);
            } else {
                let len = len as usize;
                if buf.len() < pos + len {
                    return Ok(None);
                }
                spans.push(Some((pos, len)));
                pos += len;
            }
        }
        Ok(Some((spans, pos)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn stream() -> Vec<u8> {
        let mut v = SIGNATURE.to_vec();
        v.extend_from_slice(&0u32.to_be_bytes()); // flags
        v.extend_from_slice(&0u32.to_be_bytes()); // no extension
        for (a, b) in [(Some(&b"ab"[..]), None), (None, Some(&b"xyz"[..]))] {
            v.extend_from_slice(&2i16.to_be_bytes());
            for f in [a, b] {
                match f {
                    Some(bytes) => {
                        v.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                        v.extend_from_slice(bytes);
                    }
                    None => v.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
        }
        v.extend_from_slice(&(-1i16).to_be_bytes());
        v
    }

    /// Feeds `data` in chunks of `step` bytes and collects each tuple's fields.
    fn parse(data: &[u8], step: usize) -> Vec<Vec<Option<Vec<u8>>>> {
        let mut frames = CopyFrames::new(2);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in data.chunks(step) {
            buf.extend_from_slice(chunk);
            while let Some((spans, len)) = frames.next(&mut buf).unwrap() {
                out.push(
                    spans
                        .iter()
                        .map(|s| s.map(|(at, l)| buf[at..at + l].to_vec()))
                        .collect(),
                );
                buf.advance(len);
            }
        }
        assert_eq!(frames.stage, Stage::Done);
        out
    }

    #[test]
    fn tuples_come_out_whole_whatever_the_chunking() {
        let data = stream();
        let want = vec![
            vec![Some(b"ab".to_vec()), None],
            vec![None, Some(b"xyz".to_vec())],
        ];
        for step in 1..=data.len() {
            assert_eq!(parse(&data, step), want, "chunks of {step}");
        }
    }

    #[test]
    fn a_bad_signature_or_field_count_is_an_error() {
        let mut frames = CopyFrames::new(2);
        let mut buf = BytesMut::from(&[0u8; 19][..]);
        assert!(frames.next(&mut buf).unwrap_err().contains("signature"));
        let mut frames = CopyFrames::new(3);
        let mut buf = BytesMut::from(&stream()[..]);
        assert!(frames.next(&mut buf).unwrap_err().contains("expected 3"));
    }
}
