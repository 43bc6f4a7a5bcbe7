//! The Parquet writer's table side: partition directories, conflicts, the staged files, the
//! journaled publish, and the Hive Metastore (table checked or created at prepare,
//! partitions registered before any file moves).

use super::config::ParquetWriteMode;
use super::hms::{self, HmsClient};
use super::writer::{HmsTarget, Inner, ParquetWriterError};
use crate::publish::io;
use datasync_codec::hive::{
    is_hidden_name, partition_dir, unescape_partition_value, DEFAULT_PARTITION,
};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

impl Inner {
    pub(super) fn static_rel(&self) -> String {
        let (keys, values): (Vec<String>, Vec<Option<String>>) = self
            .static_parts
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .unzip();
        partition_dir(&keys, &values)
    }

    pub(super) fn partition_keys(&self) -> Vec<String> {
        self.static_parts
            .iter()
            .map(|(k, _)| k.clone())
            .chain(self.dynamic_parts.iter().map(|(k, _)| k.clone()))
            .collect()
    }

    /// Data files (not hidden, not directories) in the table's directory `rel`, as journal
    /// paths (below `dir`, also for an S3 table).
    fn data_files(&self, rel: &str) -> Result<Vec<PathBuf>, ParquetWriterError> {
        let dir = self.dir.join(rel);
        if let Some(r) = &self.remote {
            let (files, _) = r.s3.list_dir(rel)?;
            return Ok(files
                .into_iter()
                .filter(|(n, _)| !is_hidden_name(n))
                .map(|(n, _)| dir.join(n))
                .collect());
        }
        let dir = dir.as_path();
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("cannot list", dir)(e).into()),
        };
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(io("cannot list", dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_hidden_name(&name) && e.file_type().is_ok_and(|t| t.is_file()) {
                out.push(e.path());
            }
        }
        out.sort();
        Ok(out)
    }

    fn check_conflict(&self, rel: &str) -> Result<(), ParquetWriterError> {
        if self.mode != ParquetWriteMode::NonConflict {
            return Ok(());
        }
        let files = self.data_files(rel)?;
        if files.is_empty() {
            return Ok(());
        }
        // An S3 table's files are named by their URLs.
        let shown: Vec<PathBuf> = files
            .iter()
            .map(|f| match (&self.remote, f.strip_prefix(&self.dir)) {
                (Some(r), Ok(k)) => PathBuf::from(r.s3.url(&k.to_string_lossy())),
                _ => f.clone(),
            })
            .collect();
        Err(ParquetWriterError::Conflict {
            dir: PathBuf::from(self.display(rel)),
            files: crate::textfiles::some_paths(&shown),
        })
    }

    /// Finishes or removes what earlier runs of this table's `fileName` left in staging.
    pub(super) fn recover(&self) -> Result<Vec<String>, ParquetWriterError> {
        let done =
            crate::publish::recover(&self.dir, &self.stem, Some(&self.staging), self.target())?;
        Ok(crate::publish::describe(&done))
    }

    /// The metastore location of the table's directory `rel`.
    fn location(&self, rel: &str) -> Result<String, ParquetWriterError> {
        if let Some(r) = &self.remote {
            let mut loc = r.s3.location().clone();
            if !rel.is_empty() {
                loc.prefix = [loc.prefix.as_str(), rel]
                    .iter()
                    .filter(|p| !p.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join("/");
            }
            return Ok(loc.hive_location());
        }
        let dir = self.dir.join(rel);
        let abs = fs::canonicalize(&dir).map_err(io("cannot resolve", &dir))?;
        Ok(format!("file:{}", abs.display()))
    }

    /// Checks (and with `createTable`, unless `dry`, creates) the Hive table; says what it
    /// found.
    pub(super) fn prepare_hms(
        &self,
        t: &HmsTarget,
        dry: bool,
    ) -> Result<String, ParquetWriterError> {
        let mut c = HmsClient::connect(&t.uris, Duration::from_secs(10))?;
        if !c.database_exists(&t.database)? {
            return Err(ParquetWriterError::Target(format!(
                "Hive database \"{}\" does not exist in the metastore at {}",
                t.database, t.uris
            )));
        }
        let keys = self.partition_keys();
        match c.get_table(&t.database, &t.table)? {
            Some(table) => {
                let have = hms::partition_key_names(&table);
                let same = have.len() == keys.len()
                    && have.iter().zip(&keys).all(|(a, b)| a.eq_ignore_ascii_case(b));
                if !same {
                    return Err(ParquetWriterError::Target(format!(
                        "Hive table {}.{} is partitioned by [{}], the job writes partitions [{}]",
                        t.database,
                        t.table,
                        have.join(", "),
                        keys.join(", ")
                    )));
                }
                let found = format!(
                    "table {}.{} exists, partitioned by [{}]",
                    t.database,
                    t.table,
                    have.join(", ")
                );
                if dry {
                    return Ok(found);
                }
                if let Some(loc) = hms::table_location(&table) {
                    let ours = self.location("")?;
                    if loc.trim_end_matches('/') != ours.trim_end_matches('/') {
                        tracing::warn!(
                            "Hive table {}.{} is located at {loc}, the job writes to {ours}",
                            t.database,
                            t.table
                        );
                    }
                }
                Ok(found)
            }
            None if t.create && dry => Ok(format!(
                "table {}.{} does not exist; createTable will create it",
                t.database, t.table
            )),
            None if t.create => {
                let cols = self
                    .columns
                    .iter()
                    .map(|(n, ty)| hms::field_schema(n, &ty.name))
                    .collect();
                let pkeys = self
                    .static_parts
                    .iter()
                    .map(|(k, _)| hms::field_schema(k, "string"))
                    .chain(
                        self.dynamic_parts
                            .iter()
                            .map(|(k, ty)| hms::field_schema(k, &ty.name)),
                    )
                    .collect();
                let sd = hms::storage(cols, &self.location("")?, self.format);
                let table =
                    hms::external_table(&t.database, &t.table, &owner(), sd, pkeys, now_secs());
                c.create_table(table)?;
                tracing::info!("created Hive table {}.{}", t.database, t.table);
                Ok(format!("created table {}.{}", t.database, t.table))
            }
            None => Err(ParquetWriterError::Target(format!(
                "Hive table {}.{} does not exist in the metastore; create it or set createTable: true",
                t.database, t.table
            ))),
        }
    }

    /// Refuses a run id whose files are in the table already (a `--run-id` used again): this
    /// run's files would carry the same names, and the commit would refuse them after every
    /// row was written.
    fn check_run_id_unused(&self) -> Result<(), ParquetWriterError> {
        fn walk(dir: &Path, prefix: &str, out: &mut Vec<PathBuf>) {
            let Ok(rd) = fs::read_dir(dir) else { return };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if is_hidden_name(&name) {
                    continue;
                }
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path(), prefix, out);
                } else if name.starts_with(prefix) {
                    out.push(e.path());
                }
            }
        }
        let mut used = Vec::new();
        let run = datasync_engine::run_id();
        walk(&self.dir, &format!("{}__{run}_", self.stem), &mut used);
        if used.is_empty() {
            return Ok(());
        }
        Err(ParquetWriterError::Target(format!(
            "run id {run} was used before: its files are in the table ({}); give this run another \
             --run-id",
            crate::textfiles::some_paths(&used)
        )))
    }

    pub(super) fn prepare(&self) -> Result<(), ParquetWriterError> {
        crate::publish::create_dirs(&self.dir)?;
        if let Some(r) = &self.remote {
            r.prepare_root()
                .map_err(|e| ParquetWriterError::Target(e.to_string()))?;
            // The store is reachable with these credentials before anything is read.
            r.s3.list_dir("")?;
        }
        self.recover()?;
        if self.dynamic_parts.is_empty() {
            self.check_conflict(&self.static_rel())?;
        }
        if let Some(t) = &self.hms {
            self.prepare_hms(t, false)?;
        }
        // A generated run id is new; a resume meets its own run's staging.
        if datasync_engine::runner::run_id_chosen() && !datasync_engine::runstate::resuming() {
            self.check_run_id_unused()?;
        }
        crate::publish::create_staging(&self.staging, &self.stem)?;
        Ok(())
    }

    /// Staged files by partition directory (relative to the table).
    pub(super) fn staged(&self) -> Result<BTreeMap<String, Vec<PathBuf>>, ParquetWriterError> {
        fn walk(
            root: &Path,
            dir: &Path,
            out: &mut BTreeMap<String, Vec<PathBuf>>,
        ) -> Result<(), ParquetWriterError> {
            for e in fs::read_dir(dir).map_err(io("cannot list", dir))? {
                let e = e.map_err(io("cannot list", dir))?;
                let path = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(root, &path, out)?;
                } else if !is_hidden_name(&e.file_name().to_string_lossy()) {
                    let rel = dir
                        .strip_prefix(root)
                        .map(|r| r.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    out.entry(rel).or_default().push(path);
                }
            }
            Ok(())
        }
        let mut out = BTreeMap::new();
        walk(&self.staging, &self.staging, &mut out)?;
        for files in out.values_mut() {
            files.sort();
        }
        Ok(out)
    }

    pub(super) fn publish(&self) -> Result<(), ParquetWriterError> {
        let mut staged = self.staged()?;
        if self.dynamic_parts.is_empty() {
            staged.entry(self.static_rel()).or_default();
        }
        for rel in staged.keys() {
            self.check_conflict(rel)?;
        }
        // The files truncate replaces, listed before anything moves.
        let mut old = Vec::new();
        if self.mode == ParquetWriteMode::Truncate {
            for rel in staged.keys() {
                old.extend(self.data_files(rel)?);
            }
        }
        // One journaled commit: old `_SUCCESS` markers out, every new file in, the files
        // truncate replaces out, new markers in (see crate::publish). A file that cannot move
        // puts back what moved, so a failed commit leaves the table as it was.
        let mut journal = crate::publish::Journal::default();
        for (rel, files) in &staged {
            let target = self.dir.join(rel);
            journal.unmark.push(target.join("_SUCCESS"));
            journal.mark.push(target.join("_SUCCESS"));
            for f in files {
                if let Some(name) = f.file_name() {
                    journal.moves.push((f.clone(), target.join(name)));
                }
            }
        }
        journal.replace = old;
        // Partitions are registered (idempotently) before any file moves: a metastore that is
        // down fails the job with nothing published, and a commit that a crash cut short is
        // finished by the journal alone (`recover` needs no metastore). A new partition's
        // directory is made first, so it never points at nothing.
        if let Some(t) = &self.hms {
            let parts: Vec<&String> = staged.keys().filter(|r| !r.is_empty()).collect();
            if !parts.is_empty() {
                for rel in parts.iter().filter(|_| self.remote.is_none()) {
                    let d = self.dir.join(rel);
                    std::fs::create_dir_all(&d)
                        .map_err(io("cannot create partition directory", &d))?;
                }
                self.register(t, &parts)
                    .map_err(|source| ParquetWriterError::Unregistered {
                        parts: parts.len(),
                        source: Box::new(source),
                    })?;
            }
        }
        crate::publish::commit(&self.staging, &journal, self.target())?;
        Ok(())
    }

    fn register(&self, t: &HmsTarget, rels: &[&String]) -> Result<(), ParquetWriterError> {
        let mut c = HmsClient::connect(&t.uris, Duration::from_secs(10))?;
        let table = c.get_table(&t.database, &t.table)?.ok_or_else(|| {
            ParquetWriterError::Target(format!(
                "Hive table {}.{} disappeared from the metastore during the job",
                t.database, t.table
            ))
        })?;
        let cols = table
            .field(7)
            .and_then(|sd| sd.field(1))
            .cloned()
            .unwrap_or_else(|| super::hms::struct_list(vec![]));
        let cols: Vec<datasync_db::thrift::TVal> = cols.list().to_vec();
        let now = now_secs();
        let mut parts = Vec::new();
        for rel in rels {
            let values: Vec<String> = rel
                .split('/')
                .map(|kv| {
                    let v = kv.split_once('=').map(|(_, v)| v).unwrap_or(kv);
                    unescape_partition_value(v).unwrap_or_else(|| DEFAULT_PARTITION.to_string())
                })
                .collect();
            let sd = hms::storage(cols.clone(), &self.location(rel)?, self.format);
            parts.push(hms::partition(&t.database, &t.table, &values, sd, now));
        }
        // Requests stay small: the metastore holds each one in memory.
        let mut left = parts;
        while !left.is_empty() {
            let rest = left.split_off(left.len().min(500));
            c.add_partitions(&t.database, &t.table, left)?;
            left = rest;
        }
        tracing::info!(
            "registered {} partition(s) in Hive table {}.{}",
            rels.len(),
            t.database,
            t.table
        );
        Ok(())
    }
}

fn owner() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "datasync".into())
}

fn now_secs() -> i32 {
    i32::try_from(chrono::Utc::now().timestamp()).unwrap_or(i32::MAX)
}
