//! Text, CSV and JSON Lines <-> Arrow codecs, shared by every file-like plugin (local files,
//! SFTP): format options, declared reader columns, date formats (Java or strftime patterns),
//! encodings (UTF-8, GBK, ... via encoding_rs) and compression (gzip, zstd). No I/O of its own
//! beyond `Read`/`Write` values handed in, so any transport can use it.

mod blocks;
mod builder;
mod compress;
mod config;
mod datetime;
mod decode;
mod encode;
pub mod hive;
mod lzo;
mod options;
mod prepass;
pub mod types;
pub mod values;

pub use builder::{
    float_text, parse_decimal, parse_float, parse_text_column, parses_text_into, TextBatchBuilder,
};
pub use compress::{decompress, each_tgz_entry, Compression, Compressor, ZipEntries};
pub use config::{
    text_read_notes, text_read_template, text_write_notes, text_write_template, Header, TextRead,
    TextReadConfig, TextWrite, TextWriteConfig,
};
pub use datetime::{
    date_infinity, parse_iso_date, parse_iso_timestamp_nanos, timestamp_infinity, DateFormat,
    DATE_INFINITY, TIMESTAMP_INFINITY,
};
pub use decode::{decode_stream, DecodeSink};
pub use encode::{decimal_string, TextEncoder, ValueKind, ValueWriter};
pub use options::{
    all_columns, default_encoding, default_null_format, parse_columns, parse_encoding, ColumnSpec,
    FieldSpec, FileFormat, ReadColumn, ReadColumns, Source, TextOptions,
};

/// Errors of the codecs (not of single rows: those become dirty records).
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Reading or writing the underlying stream failed.
    #[error("{location}: I/O error")]
    Io {
        /// File or stream being read or written.
        location: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The input is not in the declared format in a way that no single row explains.
    #[error("{location}: {message}")]
    Format {
        /// File or stream and line.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// Building an Arrow batch failed (an invariant of the decoder was broken).
    #[error("building a batch: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// Final, never retriable from here: an I/O error under the decoder is as often bytes that do
/// not decompress (a wrong `compress`, a corrupt file: they read the same way again) as a lost
/// connection. A reader that owns a transport marks a failed transfer retriable itself (see
/// the SFTP/FTP reader).
impl From<CodecError> for datasync_engine::PluginError {
    fn from(e: CodecError) -> Self {
        datasync_engine::PluginError::new(e)
    }
}
