//! `hdfs` writer (DataX `hdfswriter`): a thin front that picks the Parquet writer or the
//! text-file writer by `fileType`, on a local or mounted path (`defaultFS` `file:///` or
//! absent). Everything else is the chosen plugin's.

use crate::file::FileWriter;
use crate::parquet::convert::conform_good_rows;
use crate::parquet::ParquetWriter;
use crate::parquet::{ColumnSpec, DataFormat, ParquetWriterConfig};
use crate::textfiles::FileTarget;
use arrow_array::RecordBatch;
use datasync_codec::hive::{parse_hive_type, resolve_default_fs, HdfsFront, HdfsKind};
use datasync_codec::TextWriteConfig;
use datasync_db::store::S3Options;
use datasync_engine::config::{join_path, ConfigError, ParamParts};
use datasync_engine::{Params, Plugin, Writer};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// The `hdfs` writer: the writer `fileType` picked.
pub struct HdfsWriter {
    inner: Box<dyn Writer>,
}

impl std::fmt::Debug for HdfsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HdfsWriter")
    }
}

/// hdfswriter's `column` with `fileType` text/csv: `{name, type}` with Hive types; values are
/// converted to them before they are written.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TextColumns {
    #[serde(default)]
    column: Vec<ColumnSpec>,
}

impl Plugin for HdfsWriter {
    const NAME: &'static str = "hdfs";
    const ALIASES: &'static [&'static str] = &["hdfswriter"];
    const DESCRIPTION: &'static str =
        "DataX hdfswriter: the parquet writer (also writing ORC for fileType orc), or the file writer for fileType text/csv";

    fn from_params(p: Params<'_>) -> Result<Self, ConfigError> {
        let mut parts = ParamParts::new(p.value, p.path)?;
        let pick = HdfsFront::take(&mut parts, p.path)?;
        let format = match pick.kind {
            HdfsKind::Text(format) => format,
            HdfsKind::Columnar { orc } => {
                let mut c: ParquetWriterConfig = parts.finish()?;
                c.default_fs = pick.default_fs;
                S3Options::add_hadoop_config(&mut c.s3, pick.hadoop_config);
                let format = if orc {
                    DataFormat::Orc
                } else {
                    DataFormat::Parquet
                };
                let inner = ParquetWriter::from_config_as(p.path, c, format)?;
                return Ok(HdfsWriter {
                    inner: Box::new(inner),
                });
            }
        };
        let mut target: FileTarget = parts.take()?;
        target.path = resolve_default_fs(p.path, pick.default_fs.as_deref(), &target.path)?;
        let mut keys: crate::remote::RemoteKeys = parts.take()?;
        S3Options::add_hadoop_config(&mut keys.s3, pick.hadoop_config);
        let columns: TextColumns = parts.take()?;
        let mut text: TextWriteConfig = parts.finish()?;
        text.file_format = format;
        let mut declared = Vec::with_capacity(columns.column.len());
        for (i, c) in columns.column.iter().enumerate() {
            let t = parse_hive_type(&c.type_name).map_err(|m| {
                ConfigError::new(join_path(p.path, &format!("column[{i}].type")), m)
            })?;
            declared.push((c.name.clone(), t));
        }
        let mut inner = FileWriter::new(p.path, target, text, &keys)?;
        // As DataX's hdfswriter: values are written as the declared Hive types (a DATE column
        // as yyyy-MM-dd); a value that does not fit its column is a dirty record.
        if !declared.is_empty() {
            inner.conform_with(Arc::new(move |batch: &RecordBatch| {
                conform_good_rows(batch, &declared)
            }));
        }
        Ok(HdfsWriter {
            inner: Box::new(inner),
        })
    }

    fn schema(g: &mut datasync_engine::schema::SchemaGenerator) -> datasync_engine::schema::Schema {
        HdfsFront::plugin_schema::<ParquetWriterConfig>(g, |s| {
            s.part::<FileTarget>()
                .part::<TextColumns>()
                .part::<TextWriteConfig>()
        })
    }

    fn template() -> Value {
        HdfsFront::template(ParquetWriter::template())
    }

    fn template_notes() -> Vec<datasync_engine::template::TemplateNote> {
        HdfsFront::notes_with(ParquetWriter::template_notes())
    }
}

/// The plugin `fileType` picked runs in this one's place: every writer method is its own.
impl datasync_engine::WriterPlugin for HdfsWriter {
    fn into_writer(self) -> Box<dyn Writer> {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn build(v: Value) -> Result<HdfsWriter, ConfigError> {
        HdfsWriter::from_params(Params::new(&v, "w", "hdfswriter"))
    }

    fn base() -> Value {
        json!({"defaultFS": "file:///", "path": "file:///tmp/t", "fileName": "f",
               "writeMode": "append", "column": [{"name": "id", "type": "bigint"}]})
    }

    #[test]
    fn picks_the_writer_by_file_type() {
        assert!(build(base()).is_ok());
        let mut v = base();
        v["defaultFS"] = json!("ftp://nn:21");
        assert!(build(v).unwrap_err().to_string().contains("defaultFS"));
        let mut v = base();
        v["fileType"] = json!("orc");
        assert!(build(v).is_ok());
        let mut v = base();
        v["fileType"] = json!("TEXT");
        v["fieldDelimiter"] = json!("\t");
        v["compress"] = json!("GZIP");
        // Text keys are the text writer's: accepted here, refused for Parquet.
        assert!(build(v.clone()).is_ok());
        // fieldDelimiter (which DataX requires for every format) is ignored for Parquet.
        v["fileType"] = json!("parquet");
        v["nullFormat"] = json!("\\N");
        assert_eq!(build(v).unwrap_err().path, "w.nullFormat");
        let mut v = base();
        v["fileType"] = json!("csv");
        v["rowGroupSize"] = json!(10);
        let e = build(v).unwrap_err();
        assert_eq!(e.path, "w.rowGroupSize", "{e}");
        assert!(e.message.contains("fieldDelimiter"), "{e}");
        let mut v = base();
        v["fileType"] = json!("csv");
        v["fileFormat"] = json!("jsonl");
        assert!(build(v).unwrap_err().to_string().contains("fileType"));
        // Found by a hostile pass: remote paths, an empty file:// path, a misspelled required
        // key, a list for the parameter, fileFormat offered where it is refused.
        for ft in ["text", "parquet"] {
            let mut v = base();
            v["fileType"] = json!(ft);
            v["path"] = json!("hdfs://nn:8020/a//t");
            assert_eq!(build(v).unwrap_err().path, "w.path", "{ft}");
            let mut v = base();
            v["fileType"] = json!(ft);
            v["path"] = json!("file://");
            assert_eq!(build(v).unwrap_err().path, "w.path", "{ft}");
        }
        let mut v = base();
        v["fileType"] = json!("text");
        v["filename"] = v["fileName"].take();
        v.as_object_mut().unwrap().remove("fileName");
        let e = build(v).unwrap_err();
        assert_eq!(e.path, "w.filename");
        assert!(e.message.contains("did you mean \"fileName\""), "{e}");
        assert!(build(json!(["/t", "f"]))
            .unwrap_err()
            .message
            .contains("expected an object"));
        let mut v = base();
        v["fileType"] = json!("text");
        v["rowGroupSize"] = json!(1);
        assert!(!build(v).unwrap_err().message.contains("fileFormat"));
    }
}
