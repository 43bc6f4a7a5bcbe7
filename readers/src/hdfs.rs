//! `hdfs` reader (DataX `hdfsreader`): a thin front that picks the Parquet reader or the
//! text-file reader by `fileType`, on a local or mounted path (`defaultFS` `file:///` or
//! absent). Everything else is the chosen plugin's.

use crate::file::FileReader;
use crate::parquet::{ParquetReader, ParquetReaderConfig};
use datasync_codec::hive::{resolve_default_fs, HdfsFront, HdfsKind};
use datasync_codec::TextReadConfig;
use datasync_db::store::S3Options;
use datasync_engine::config::{ConfigError, ParamParts};
use datasync_engine::{Params, Plugin, Reader};
use serde_json::Value;

/// The `hdfs` reader: the reader `fileType` picked.
pub struct HdfsReader {
    inner: Box<dyn Reader>,
}

impl std::fmt::Debug for HdfsReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HdfsReader")
    }
}

impl Plugin for HdfsReader {
    const NAME: &'static str = "hdfs";
    const ALIASES: &'static [&'static str] = &["hdfsreader"];
    const DESCRIPTION: &'static str =
        "DataX hdfsreader: the parquet reader (also reading ORC for fileType orc), or the file reader for fileType text/csv; local, hdfs:// or s3:// paths";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let mut parts = ParamParts::new(p.value, p.path)?;
        let pick = HdfsFront::take(&mut parts, p.path)?;
        let format = match pick.kind {
            HdfsKind::Text(format) => format,
            HdfsKind::Columnar { orc } => {
                let mut c: ParquetReaderConfig = parts.finish()?;
                c.default_fs = pick.default_fs;
                S3Options::add_hadoop_config(&mut c.s3, pick.hadoop_config);
                let inner = ParquetReader::from_config_as(p.path, c, orc)?;
                return Ok(HdfsReader {
                    inner: Box::new(inner),
                });
            }
        };
        let mut keys: crate::file::FileKeys = parts.take()?;
        S3Options::add_hadoop_config(&mut keys.s3, pick.hadoop_config);
        let mut text: TextReadConfig = parts.finish()?;
        text.file_format = format;
        text.path = text
            .path
            .iter()
            .map(|x| resolve_default_fs(p.path, pick.default_fs.as_deref(), x))
            .collect::<Result<_, _>>()?;
        Ok(HdfsReader {
            inner: Box::new(FileReader::from_keys(p.path, keys, text)?),
        })
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        HdfsFront::plugin_schema::<ParquetReaderConfig>(g, |s| {
            s.part::<crate::file::FileKeys>().part::<TextReadConfig>()
        })
    }

    fn template() -> Value {
        HdfsFront::template(ParquetReader::template())
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        HdfsFront::notes_with(ParquetReader::template_notes())
    }
}

/// The plugin `fileType` picked runs in this one's place: every reader method is its own.
impl datasync_engine::ReaderPlugin for HdfsReader {
    fn into_reader(self) -> Box<dyn Reader> {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn build(v: Value) -> Result<HdfsReader, ConfigError> {
        HdfsReader::from_params(Params::new(&v, "r", "hdfsreader"))
    }

    #[test]
    fn picks_the_reader_by_file_type() {
        assert!(build(json!({"path": "file:///t", "defaultFS": "file:///"})).is_ok());
        assert!(build(json!({"path": "/t", "fileType": "orc"})).is_ok());
        let e = build(json!({"path": "/t", "defaultFS": "ftp://nn:21"})).unwrap_err();
        assert!(e.to_string().contains("defaultFS"), "{e}");
        let text = json!({"path": "/t", "fileType": "TEXT", "fieldDelimiter": "\t",
                          "compress": "GZIP", "column": [{"index": 0, "type": "long"}]});
        assert!(build(text.clone()).is_ok());
        let mut parquet = text;
        // fieldDelimiter (which DataX templates carry for every format) is ignored for Parquet.
        parquet["fileType"] = json!("parquet");
        assert_eq!(build(parquet).unwrap_err().path, "r.compress");
        let e = build(json!({"path": "/t", "fileType": "csv", "partition": {}})).unwrap_err();
        assert_eq!(e.path, "r.partition", "{e}");
        assert!(e.message.contains("skipHeader"), "{e}");
    }
}
