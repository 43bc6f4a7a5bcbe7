//! OpenLineage run events (START, then COMPLETE, FAIL or ABORT) with the job's input and
//! output datasets, their schema (the columns that went through) and the output statistics,
//! appended to a file as JSON lines or POSTed to an HTTP endpoint (e.g. Marquez's
//! `/api/v1/lineage`). Lineage never fails a job: a failed write is a warning.

use crate::report::{Report, Status};
use std::io::Write;

/// A dataset as OpenLineage names it: `namespace` (where: `mysql://host:port`, `file`, ...)
/// and `name` (what: `db.table`, a path, ...).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Dataset {
    /// Where the dataset lives.
    pub namespace: String,
    /// Which dataset there.
    pub name: String,
}

impl Dataset {
    /// A dataset.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Dataset {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

const PRODUCER: &str = concat!(
    "https://github.com/datasync/datasync/tree/v",
    env!("CARGO_PKG_VERSION")
);
const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

/// Where events go and what they describe.
#[derive(Debug)]
pub struct Lineage {
    target: Target,
    job: String,
    run_id: String,
    inputs: Vec<Dataset>,
    outputs: Vec<Dataset>,
}

#[derive(Debug)]
enum Target {
    File(std::path::PathBuf),
    Http { addr: String, path: String },
}

/// The UUID OpenLineage wants as a run id, derived from ours (the same run id gives the same
/// UUID: a shard's events join its run).
pub fn run_uuid(run_id: &str) -> String {
    let h1 = crate::runstate::fnv_hex(run_id);
    let h2 = crate::runstate::fnv_hex(&format!("datasync:{run_id}"));
    let hex: String = format!("{h1}{h2}").chars().take(32).collect();
    let hex = format!("{hex:0<32}");
    // Version 5-style layout (name-based), variant 10xx.
    let variant = ["8", "9", "a", "b"][usize::from(hex.as_bytes()[16] % 4)];
    format!(
        "{}-{}-5{}-{}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        variant,
        &hex[17..20],
        &hex[20..32]
    )
}

impl Lineage {
    /// Events for run `run_id` of `job` to `target`: a file path or an `http://` URL.
    pub fn new(
        target: &str,
        job: &str,
        run_id: &str,
        inputs: Vec<Dataset>,
        outputs: Vec<Dataset>,
    ) -> Result<Self, String> {
        let target = if let Some(rest) = target.strip_prefix("http://") {
            let (addr, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/api/v1/lineage"),
            };
            if addr
                .rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
            {
                return Err(format!(
                    "--lineage {target}: expected http://host:port[/path]"
                ));
            }
            Target::Http {
                addr: addr.to_string(),
                path: path.to_string(),
            }
        } else if target.starts_with("https://") {
            return Err(format!(
                "--lineage {target}: https is not supported; write to a file or a local http \
                 endpoint"
            ));
        } else {
            Target::File(target.into())
        };
        Ok(Lineage {
            target,
            job: job.to_string(),
            run_id: run_id.to_string(),
            inputs,
            outputs,
        })
    }

    fn event(&self, kind: &str, report: Option<&Report>) -> serde_json::Value {
        use serde_json::json;
        let facet = |name: &str| {
            json!({
                "_producer": PRODUCER,
                "_schemaURL": format!("https://openlineage.io/spec/facets/1-0-1/{name}.json"),
            })
        };
        let schema = report.filter(|r| !r.columns.is_empty()).map(|r| {
            let mut f = facet("SchemaDatasetFacet");
            f["fields"] = r
                .columns
                .iter()
                .map(|(n, t)| json!({"name": n, "type": t}))
                .collect();
            f
        });
        let inputs: Vec<serde_json::Value> = self
            .inputs
            .iter()
            .map(|d| {
                let mut v = json!({"namespace": d.namespace, "name": d.name});
                if let Some(s) = &schema {
                    v["facets"] = json!({"schema": s});
                }
                v
            })
            .collect();
        let outputs: Vec<serde_json::Value> = self
            .outputs
            .iter()
            .map(|d| {
                let mut v = json!({"namespace": d.namespace, "name": d.name});
                if let Some(s) = &schema {
                    v["facets"] = json!({"schema": s});
                }
                if let Some(r) = report {
                    let mut st = facet("OutputStatisticsOutputDatasetFacet");
                    st["rowCount"] = json!(r.records_written);
                    st["size"] = json!(r.bytes_written);
                    v["outputFacets"] = json!({"outputStatistics": st});
                }
                v
            })
            .collect();
        let mut run_facets = json!({});
        if let Some(r) = report {
            if let Some(e) = &r.error {
                let mut f = facet("ErrorMessageRunFacet");
                f["message"] = json!(crate::secrets::redact(e));
                f["programmingLanguage"] = json!("Rust");
                run_facets["errorMessage"] = f;
            }
        }
        json!({
            "eventType": kind,
            "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
            "run": {"runId": run_uuid(&self.run_id), "facets": run_facets},
            "job": {"namespace": "datasync", "name": self.job},
            "inputs": inputs,
            "outputs": outputs,
        })
    }

    fn send(&self, event: serde_json::Value) {
        let line = event.to_string();
        let r = match &self.target {
            Target::File(p) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()))
                .map_err(|e| format!("{}: {e}", p.display())),
            Target::Http { addr, path } => {
                crate::metrics::http_send("POST", addr, path, "application/json", &line)
            }
        };
        if let Err(e) = r {
            tracing::warn!("--lineage: {e} (the job goes on)");
        }
    }

    /// The START event.
    pub fn start(&self) {
        self.send(self.event("START", None));
    }

    /// COMPLETE, FAIL or ABORT (stopped by a signal), from the run's report.
    pub fn end(&self, r: &Report) {
        let kind = match r.status {
            Status::Succeeded => "COMPLETE",
            Status::Interrupted => "ABORT",
            _ => "FAIL",
        };
        self.send(self.event(kind, Some(r)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_become_stable_uuids() {
        let u = run_uuid("20261201_12345");
        assert_eq!(u, run_uuid("20261201_12345"));
        assert_ne!(u, run_uuid("20261201_12346"));
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('5'));
        assert!("89ab".contains(&parts[3][..1]));
        assert!(Lineage::new("https://x", "j", "r", vec![], vec![]).is_err());
        assert!(Lineage::new("http://x", "j", "r", vec![], vec![]).is_err());
    }
}
