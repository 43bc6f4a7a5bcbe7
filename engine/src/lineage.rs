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

    /// A local path (or pattern) in the `file` namespace: absolute, `.` and `..` resolved
    /// by name (symlinks are not followed).
    pub fn file(path: impl AsRef<std::path::Path>) -> Self {
        use std::path::Component;
        let p = path.as_ref();
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let mut out = std::path::PathBuf::new();
        for c in abs.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        Dataset::new("file", out.display().to_string())
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

/// splitmix64's finaliser: every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The UUID OpenLineage wants as a run id, derived from the job's name and our run id (the
/// same job and run id give the same UUID; different jobs with one run id do not).
pub fn run_uuid(job: &str, run_id: &str) -> String {
    let h = |s: String| u64::from_str_radix(&crate::runstate::fnv_hex(&s), 16).unwrap_or(0);
    let a = mix(h(format!("{job}\u{0}{run_id}")));
    let b = mix(h(format!("datasync\u{0}{run_id}\u{0}{job}")) ^ a);
    let hex = format!("{a:016x}{b:016x}");
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
        let target = if target.contains("://") {
            let (addr, path) = crate::metrics::http_endpoint("--lineage", target)?;
            Target::Http {
                addr,
                path: if path.is_empty() {
                    "/api/v1/lineage".into()
                } else {
                    path
                },
            }
        } else if target.trim().is_empty() {
            return Err("--lineage: name a file or an http:// URL".into());
        } else {
            let p = std::path::PathBuf::from(target);
            crate::metrics::check_output_file("--lineage", &p)?;
            Target::File(p)
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
        let masked = |x: &str| crate::secrets::redact(x).into_owned();
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
        // A dataset with the schema facet (the columns as read).
        let dataset = |d: &Dataset| {
            let mut v = json!({"namespace": masked(&d.namespace), "name": masked(&d.name)});
            if let Some(s) = &schema {
                v["facets"] = json!({"schema": s});
            }
            v
        };
        let inputs: Vec<serde_json::Value> = self
            .inputs
            .iter()
            .map(|d| {
                let mut v = dataset(d);
                // job.verify: each checked rule, the read figure expected of the target.
                if let Some(r) = report.filter(|r| !r.verify.is_empty()) {
                    let mut dq = facet("DataQualityAssertionsDatasetFacet");
                    dq["assertions"] = r
                        .verify
                        .iter()
                        .filter(|o| o.verdict != crate::verify::Verdict::NotChecked)
                        .map(|o| {
                            let mut a = json!({
                                "assertion": o.rule,
                                "success": o.verdict == crate::verify::Verdict::Passed,
                                "severity": match o.level {
                                    crate::verify::Level::Strong => "error",
                                    crate::verify::Level::Weak => "warn",
                                },
                                "expected": o.source,
                                "actual": o.target,
                            });
                            if let Some(c) = &o.column {
                                a["column"] = json!(c);
                            }
                            a
                        })
                        .collect();
                    v["inputFacets"] = json!({"dataQualityAssertions": dq});
                }
                v
            })
            .collect();
        let outputs: Vec<serde_json::Value> = self
            .outputs
            .iter()
            .map(|d| {
                let mut v = dataset(d);
                // Statistics of what was published: only a completed run published anything.
                if let Some(r) = report.filter(|_| kind == "COMPLETE") {
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
            "run": {"runId": run_uuid(&self.job, &self.run_id), "facets": run_facets},
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
        let u = run_uuid("j", "20261201_12345");
        assert_eq!(u, run_uuid("j", "20261201_12345"));
        assert_ne!(u, run_uuid("j", "20261201_12346"));
        assert_ne!(u, run_uuid("k", "20261201_12345"));
        // Similar ids differ all over, not in a few digits.
        let v = run_uuid("j", "20261201_12346");
        let same = u.chars().zip(v.chars()).filter(|(a, b)| a == b).count();
        assert!(same < 20, "{u} {v}");
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('5'));
        assert!("89ab".contains(&parts[3][..1]));
        assert!(Lineage::new("https://x", "j", "r", vec![], vec![]).is_err());
        assert!(Lineage::new("http://x", "j", "r", vec![], vec![]).is_err());
        assert!(Lineage::new("ftp://x:1/y", "j", "r", vec![], vec![]).is_err());
        assert!(Lineage::new("", "j", "r", vec![], vec![]).is_err());
        assert!(Lineage::new("/dev/null", "j", "r", vec![], vec![]).is_err());
    }
}
