//! Files on S3-compatible storage for the file-like readers (Parquet, ORC, text): listing a pattern's objects (Hive partitions,
//! globs, hidden names skipped as on a local path), and a [`ChunkReader`] that reads an object
//! by ranged GETs through a small block cache, so the footer, the projected column chunks and
//! the chosen row groups are all that is fetched: never the whole object.

use bytes::Bytes;
use datasync_db::store::{parse_location, S3Options, Store};
use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Bytes fetched per block (ranged GET) when the decoder reads small pieces (page headers,
/// the footer).
const BLOCK: u64 = 256 << 10;
/// Bytes fetched per block when a file is read from start to end (text files).
const SEQUENTIAL_BLOCK: u64 = 8 << 20;
/// Blocks kept per open object (the decoder reads the projected columns side by side).
const CACHED_BLOCKS: usize = 64;
/// A read at least this long (a page, a column chunk) is fetched as exactly that range.
const DIRECT: u64 = 64 << 10;

/// The lineage dataset of a path: `s3://bucket` and the key, or a local file.
pub(crate) fn dataset(path: &str) -> datasync_engine::lineage::Dataset {
    match parse_location(path) {
        Some(Ok(loc)) => {
            let name = loc.prefix.clone();
            let ns = datasync_db::store::StoreLocation {
                prefix: String::new(),
                ..loc
            };
            datasync_engine::lineage::Dataset::new(ns.url(), name)
        }
        _ => crate::paths::file_dataset(path),
    }
}

/// An object a pattern names.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    /// `s3://bucket/key`.
    pub(crate) url: PathBuf,
    /// Bytes.
    pub(crate) size: u64,
    /// The ETag (or modification time) when listed: `--resume` tells a changed object by it.
    pub(crate) version: String,
}

/// The S3 clients of a reader's paths, one per bucket.
#[derive(Debug, Clone, Default)]
pub(crate) struct Buckets(Arc<BTreeMap<String, Store>>);

/// A reader's S3 call that failed: listing, opening or reading an object.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RemoteError {
    path: String,
    message: String,
}

impl From<RemoteError> for datasync_engine::PluginError {
    fn from(e: RemoteError) -> Self {
        datasync_engine::PluginError::new(e)
    }
}

fn s3_error(path: &Path, e: impl std::fmt::Display) -> RemoteError {
    RemoteError {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl Buckets {
    /// Connects a client for each bucket the `s3://` paths name.
    pub(crate) fn connect(paths: &[String], o: &S3Options) -> Result<Self, String> {
        let mut out = BTreeMap::new();
        for p in paths {
            if let Some(loc) = parse_location(p) {
                let mut loc = loc?;
                loc.prefix.clear();
                if !out.contains_key(&loc.bucket) {
                    let bucket = loc.bucket.clone();
                    out.insert(bucket, Store::connect(loc, o).map_err(|e| e.to_string())?);
                }
            }
        }
        Ok(Buckets(Arc::new(out)))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `check --connect` of `s3://` patterns: each names at least one object.
    pub(crate) fn probe(
        &self,
        patterns: &[String],
        hidden: fn(&str) -> bool,
        p: &mut datasync_engine::Probe,
    ) {
        for pat in patterns {
            let what = format!("S3 path {pat}");
            match self.list(pat, hidden) {
                Ok(found) if found.is_empty() => p.problem(what, "no object matches"),
                Ok(found) => p.ok(what, format!("{} object(s)", found.len())),
                Err(e) => p.problem(what, e.to_string()),
            }
        }
    }

    /// The client and key of `s3://bucket/key`.
    fn resolve(&self, url: &Path) -> Result<(&Store, String), RemoteError> {
        let text = url.to_string_lossy();
        let loc = match parse_location(&text) {
            Some(Ok(l)) => l,
            _ => return Err(s3_error(url, "not an s3:// URL")),
        };
        let s3 = self
            .0
            .get(&loc.bucket)
            .ok_or_else(|| s3_error(url, "no client for this bucket"))?;
        Ok((s3, loc.prefix))
    }

    /// The objects a path pattern names, as `s3://` URLs with their sizes: the object itself,
    /// every object below it (a table directory), or those a glob matches; names `hidden`
    /// accepts below the pattern's literal part are skipped.
    pub(crate) fn list(
        &self,
        pattern: &str,
        hidden: fn(&str) -> bool,
    ) -> Result<Vec<Listed>, RemoteError> {
        let (s3, key) = self.resolve(Path::new(pattern))?;

        let glob_at = key.find(['*', '?', '[']);
        let literal = match glob_at {
            Some(i) => key[..i].rsplit_once('/').map_or("", |(l, _)| l),
            None => key.as_str(),
        };
        let matcher = match glob_at {
            Some(_) => Some(
                glob::Pattern::new(&key)
                    .map_err(|e| s3_error(Path::new(pattern), format!("bad glob: {e}")))?,
            ),
            None => None,
        };
        let listed = s3
            .list_all(literal)
            .map_err(|e| s3_error(Path::new(pattern), e))?;
        let opts = glob::MatchOptions {
            require_literal_separator: true,
            ..Default::default()
        };
        // Zero-byte "directory marker" objects (`dir/`, written by the AWS console, Hadoop's
        // S3A and pyarrow) name a directory that has objects below it: not files.
        let dirs: std::collections::HashSet<&str> = listed
            .iter()
            .flat_map(|(rel, _, _)| rel.match_indices('/').map(move |(i, _)| &rel[..i]))
            .collect();
        let mut out = Vec::new();
        for (rel, size, version) in &listed {
            if rel.is_empty() || rel.split('/').any(hidden) {
                continue;
            }
            if *size == 0 && dirs.contains(rel.as_str()) {
                continue;
            }
            let full = if literal.is_empty() {
                rel.clone()
            } else {
                format!("{literal}/{rel}")
            };
            if matcher
                .as_ref()
                .is_some_and(|m| !m.matches_with(&full, opts))
            {
                continue;
            }
            out.push(Listed {
                url: PathBuf::from(s3.url(&full)),
                size: *size,
                version: version.clone(),
            });
        }
        // Not a directory: perhaps the object itself.
        if out.is_empty() && glob_at.is_none() && !key.is_empty() {
            if let Some(size) = s3.size(&key).map_err(|e| s3_error(Path::new(pattern), e))? {
                out.push(Listed {
                    url: PathBuf::from(s3.url(&key)),
                    size,
                    version: String::new(),
                });
            }
        }
        Ok(out)
    }

    /// Opens `s3://bucket/key` of `size` bytes for a columnar decoder (small blocks).
    /// `version` is the object's version when listed: a read of another version fails.
    pub(crate) fn open(
        &self,
        url: &Path,
        size: u64,
        version: Option<&str>,
    ) -> Result<S3Chunk, RemoteError> {
        self.open_with(url, size, BLOCK, version)
    }

    /// Opens `s3://bucket/key` of `size` bytes to be read from start to end (large blocks).
    pub(crate) fn open_sequential(
        &self,
        url: &Path,
        size: u64,
        version: Option<&str>,
    ) -> Result<Box<dyn Read + Send>, RemoteError> {
        let obj = self.open_with(url, size, SEQUENTIAL_BLOCK, version)?;
        Ok(Box::new(Cursor { obj: obj.0, pos: 0 }))
    }

    fn open_with(
        &self,
        url: &Path,
        size: u64,
        block: u64,
        version: Option<&str>,
    ) -> Result<S3Chunk, RemoteError> {
        let (s3, key) = self.resolve(url)?;
        Ok(S3Chunk(Arc::new(Object {
            s3: s3.clone(),
            key,
            etag: version
                .and_then(|v| v.strip_prefix("etag:"))
                .map(str::to_string),
            url: url.to_path_buf(),
            size,
            block,
            cache: Mutex::new(VecDeque::new()),
            fetched: Default::default(),
        })))
    }
}

/// One object being decoded.
struct Object {
    s3: Store,
    key: String,
    url: PathBuf,
    size: u64,
    /// The ETag it had when listed: every read asks for that version (If-Match), so an object
    /// replaced during the run fails the read instead of mixing two versions.
    etag: Option<String>,
    /// Block size of the cache.
    block: u64,
    /// Most recently used first: (block index, bytes).
    cache: Mutex<VecDeque<(u64, Bytes)>>,
    /// (requests, bytes) fetched so far.
    fetched: Mutex<(u64, u64)>,
}

impl Object {
    fn fetch(&self, start: u64, len: u64) -> std::io::Result<Bytes> {
        let b = self
            .s3
            .get_range(&self.key, start, len, self.etag.as_deref())
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if let Ok(mut f) = self.fetched.lock() {
            f.0 += 1;
            f.1 += b.len() as u64;
        }
        Ok(b)
    }

    fn block_at(&self, i: u64) -> std::io::Result<Bytes> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        if let Some(pos) = cache.iter().position(|(b, _)| *b == i) {
            if let Some(hit) = cache.remove(pos) {
                let bytes = hit.1.clone();
                cache.push_front(hit);
                return Ok(bytes);
            }
        }
        let start = i * self.block;
        let bytes = self.fetch(start, self.block.min(self.size.saturating_sub(start)))?;
        cache.push_front((i, bytes.clone()));
        // A file read from start to end needs only the block it is in (and the one before,
        // for a read across the boundary).
        cache.truncate(if self.block >= SEQUENTIAL_BLOCK {
            2
        } else {
            CACHED_BLOCKS
        });
        Ok(bytes)
    }

    fn bytes(&self, start: u64, len: u64) -> std::io::Result<Bytes> {
        if start + len > self.size {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: {len} bytes at {start} are past its end ({} bytes)",
                    self.url.display(),
                    self.size
                ),
            ));
        }
        if len >= DIRECT {
            return self.fetch(start, len);
        }
        let (first, last) = (
            start / self.block,
            (start + len).saturating_sub(1) / self.block,
        );
        if first == last || len == 0 {
            let b = self.block_at(first)?;
            let off = (start - first * self.block) as usize;
            return Ok(b.slice(off..off + len as usize));
        }
        let mut out = Vec::with_capacity(len as usize);
        for i in first..=last {
            let b = self.block_at(i)?;
            let lo = start.max(i * self.block) - i * self.block;
            let hi = (start + len).min((i + 1) * self.block) - i * self.block;
            out.extend_from_slice(&b[lo as usize..hi as usize]);
        }
        Ok(Bytes::from(out))
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        if let Ok(f) = self.fetched.lock() {
            tracing::debug!(
                "{}: fetched {} of {} bytes in {} ranged request(s)",
                self.url.display(),
                f.1,
                self.size,
                f.0
            );
        }
    }
}

/// An S3 object as the Parquet decoder reads it.
#[derive(Clone)]
pub(crate) struct S3Chunk(Arc<Object>);

#[cfg(feature = "parquet")]
impl parquet::file::reader::Length for S3Chunk {
    fn len(&self) -> u64 {
        self.0.size
    }
}

#[cfg(feature = "parquet")]
impl parquet::file::reader::ChunkReader for S3Chunk {
    type T = Cursor;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(Cursor {
            obj: Arc::clone(&self.0),
            pos: start,
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.0
            .bytes(start, length as u64)
            .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
    }
}

/// Sequential reads from an offset (page headers), block by block.
pub(crate) struct Cursor {
    obj: Arc<Object>,
    pos: u64,
}

impl Read for Cursor {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.obj.size || buf.is_empty() {
            return Ok(0);
        }
        let i = self.pos / self.obj.block;
        let b = self.obj.block_at(i)?;
        let off = (self.pos - i * self.obj.block) as usize;
        let n = buf.len().min(b.len().saturating_sub(off));
        buf[..n].copy_from_slice(&b[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(feature = "parquet")]
impl datasync_db::orc::orc_rust::reader::ChunkReader for S3Chunk {
    type T = Cursor;

    fn len(&self) -> u64 {
        self.0.size
    }

    fn get_read(&self, offset_from_start: u64) -> std::io::Result<Self::T> {
        Ok(Cursor {
            obj: Arc::clone(&self.0),
            pos: offset_from_start,
        })
    }

    fn get_bytes(&self, offset_from_start: u64, length: u64) -> std::io::Result<Bytes> {
        self.0.bytes(offset_from_start, length)
    }
}
