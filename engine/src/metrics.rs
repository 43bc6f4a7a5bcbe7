//! Run metrics for a platform's monitoring: Prometheus text format written to a file (for
//! node_exporter's textfile collector) and pushed to a Pushgateway, during the run and at its
//! end, labelled by job and run id. Metrics never fail a job: a write or push that fails is a
//! warning.

use crate::channel::CountersSnapshot;
use crate::report::Report;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Where a run's metrics go.
#[derive(Debug)]
pub struct Metrics {
    file: Option<PathBuf>,
    push: Option<Push>,
    job: String,
    run_id: String,
    /// Between in-run updates.
    pub interval: Duration,
    /// A push is on its way (in-run pushes never pile up).
    busy: AtomicBool,
    /// Warned once about the file, once about the gateway.
    warned: [AtomicBool; 2],
}

/// An `http://host:port[/path]` endpoint: the address and the path, checked so that nothing
/// in it can change the request (no spaces, control characters or credentials).
pub(crate) fn http_endpoint(flag: &str, url: &str) -> Result<(String, String), String> {
    let scheme_end = url.find("://");
    let scheme = scheme_end.map(|i| url[..i].to_ascii_lowercase());
    if scheme.as_deref() != Some("http") {
        return Err(format!(
            "{flag} {url}: expected http://host:port[/path] (https and other schemes are not \
             supported; use a local endpoint or a proxy)"
        ));
    }
    let rest = &url[scheme_end.map_or(0, |i| i + 3)..];
    let (addr, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if addr.contains('@') {
        return Err(format!(
            "{flag}: credentials in the URL are not supported (the endpoint must take plain \
             http on a trusted network)"
        ));
    }
    let path_ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~/%!$&'()*+,;=:@".contains(&b));
    let addr_ok = addr.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b))
            && p.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if !addr_ok || !path_ok {
        return Err(format!(
            "{flag} {}: expected http://host:port[/path] with a URL-safe path",
            crate::secrets::redact(url)
        ));
    }
    Ok((addr.to_string(), path.trim_end_matches('/').to_string()))
}

/// A local output file a run writes (`--metrics-file`, `--lineage`): refused when something
/// other than a regular file is there (a device, a FIFO, a symlink, a directory).
pub fn check_output_file(flag: &str, path: &std::path::Path) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => Err(format!(
            "{flag} {}: not a regular file (a device, FIFO, symlink or directory is there); \
             name a file",
            path.display()
        )),
        _ => Ok(()),
    }
}

/// A Pushgateway: `host:port` and the group's path.
#[derive(Debug)]
struct Push {
    addr: String,
    path: String,
    shown: String,
}

/// base64url without padding, as the Pushgateway's `@base64` label values take it.
fn base64url(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A label value as the text format writes it.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Metrics of run `run_id` of `job`: to `file`, pushed to the Pushgateway at `push`
    /// (`http://host:port[/prefix]`), every `interval` while running.
    pub fn new(
        file: Option<PathBuf>,
        push: Option<&str>,
        job: &str,
        run_id: &str,
        interval: Duration,
    ) -> Result<Self, String> {
        let push = match push {
            None => None,
            Some(url) => {
                let (addr, prefix) = http_endpoint("--metrics-push", url)?;
                Some(Push {
                    addr,
                    path: format!(
                        "{prefix}/metrics/job@base64/{}/run_id@base64/{}",
                        base64url(job.as_bytes()),
                        base64url(run_id.as_bytes())
                    ),
                    shown: url.to_string(),
                })
            }
        };
        if let Some(f) = &file {
            check_output_file("--metrics-file", f)?;
        }
        Ok(Metrics {
            file,
            push,
            job: job.to_string(),
            run_id: run_id.to_string(),
            interval,
            busy: AtomicBool::new(false),
            warned: [AtomicBool::new(false), AtomicBool::new(false)],
        })
    }

    /// The samples of a run so far (`end`: the finished run's report).
    fn samples(
        &self,
        t: &CountersSnapshot,
        secs: f64,
        end: Option<&Report>,
    ) -> Vec<(&'static str, &'static str, &'static str, f64)> {
        let ns = |n: u64| n as f64 / 1e9;
        let mut v = vec![
            (
                "datasync_records_read_total",
                "counter",
                "Records the reader produced.",
                t.records_read as f64,
            ),
            (
                "datasync_records_written_total",
                "counter",
                "Records the writer landed.",
                t.records_written as f64,
            ),
            (
                "datasync_bytes_read_total",
                "counter",
                "Payload bytes the reader produced.",
                t.bytes_read as f64,
            ),
            (
                "datasync_bytes_written_total",
                "counter",
                "Payload bytes of the written records.",
                t.bytes_written as f64,
            ),
            (
                "datasync_dirty_records_total",
                "counter",
                "Records that could not be read or written.",
                t.dirty as f64,
            ),
            (
                "datasync_duration_seconds",
                "gauge",
                "Seconds since the run started.",
                secs,
            ),
            (
                "datasync_reader_wait_seconds_total",
                "counter",
                "Seconds readers waited on a full channel.",
                ns(t.reader_wait_ns),
            ),
            (
                "datasync_writer_wait_seconds_total",
                "counter",
                "Seconds writers waited on an empty channel.",
                ns(t.writer_wait_ns),
            ),
            (
                "datasync_throttle_wait_seconds_total",
                "counter",
                "Seconds readers waited on the job's speed limit.",
                ns(t.throttle_wait_ns),
            ),
            (
                "datasync_running",
                "gauge",
                "1 while the run goes on, 0 once it ended.",
                if end.is_some() { 0.0 } else { 1.0 },
            ),
        ];
        if let Some(r) = end {
            v.push((
                "datasync_retries_total",
                "counter",
                "Task retries.",
                f64::from(r.retries),
            ));
            v.push((
                "datasync_exit_code",
                "gauge",
                "The run's exit code (0 succeeded).",
                f64::from(r.exit_code),
            ));
            if !r.verify.is_empty() {
                let count = |strong: bool| {
                    r.verify
                        .iter()
                        .filter(|o| o.verdict == crate::verify::Verdict::Failed)
                        .filter(|o| (o.level == crate::verify::Level::Strong) == strong)
                        .count() as f64
                };
                v.push((
                    "datasync_verify_strong_failed",
                    "gauge",
                    "job.verify strong rules whose figures did not match (exit 4).",
                    count(true),
                ));
                v.push((
                    "datasync_verify_weak_failed",
                    "gauge",
                    "job.verify weak rules whose figures did not match (warned).",
                    count(false),
                ));
            }
        }
        v.push((
            "datasync_last_update_timestamp_seconds",
            "gauge",
            "When these samples were taken (Unix time).",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
        ));
        v
    }

    /// Prometheus text format; with `labels`, each sample carries job and run_id (the pushed
    /// form leaves them to the group's path).
    fn render(
        &self,
        t: &CountersSnapshot,
        secs: f64,
        end: Option<&Report>,
        labels: bool,
    ) -> String {
        let l = if labels {
            format!(
                "{{job=\"{}\",run_id=\"{}\"}}",
                label(&self.job),
                label(&self.run_id)
            )
        } else {
            String::new()
        };
        let mut s = String::new();
        for (name, kind, help, v) in self.samples(t, secs, end) {
            s.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{l} {v}\n"
            ));
        }
        s
    }

    /// Writes the file (atomically: a reader never sees half of it) and pushes.
    fn emit(&self, t: &CountersSnapshot, secs: f64, end: Option<&Report>) {
        if let Some(path) = &self.file {
            // Something put in its place since the start is not replaced.
            let r = check_output_file("--metrics-file", path)
                .map_err(std::io::Error::other)
                .and_then(|_| {
                    let tmp = path.with_extension("prom.tmp");
                    std::fs::write(&tmp, self.render(t, secs, end, true))
                        .and_then(|_| std::fs::rename(&tmp, path))
                });
            if let Err(e) = r {
                self.warn(0, format!("--metrics-file {}: {e}", path.display()));
            }
        }
        if let Some(p) = &self.push {
            if let Err(e) = put(&p.addr, &p.path, &self.render(t, secs, end, false)) {
                self.warn(1, format!("--metrics-push {}: {e}", p.shown));
            }
        }
    }

    fn warn(&self, which: usize, msg: String) {
        let msg = crate::secrets::redact(&msg).into_owned();
        if !self.warned[which].swap(true, Ordering::Relaxed) {
            tracing::warn!("{msg} (the job goes on; later failures are not repeated)");
        } else {
            tracing::debug!("{msg}");
        }
    }

    /// An in-run update (skipped while the previous one is still on its way).
    pub fn live(&self, t: &CountersSnapshot, secs: f64) {
        if self.busy.swap(true, Ordering::AcqRel) {
            return;
        }
        self.emit(t, secs, None);
        self.busy.store(false, Ordering::Release);
    }

    /// The final update, from the run's report.
    pub fn finish(&self, r: &Report) {
        let t = CountersSnapshot {
            records_read: r.records_read,
            records_written: r.records_written,
            bytes_read: r.bytes_read,
            bytes_written: r.bytes_written,
            dirty: r.dirty_records,
            reader_wait_ns: (r.reader_wait_seconds * 1e9) as u64,
            writer_wait_ns: (r.writer_wait_seconds * 1e9) as u64,
            throttle_wait_ns: (r.throttle_wait_seconds * 1e9) as u64,
            ..CountersSnapshot::default()
        };
        self.emit(&t, r.duration_seconds, Some(r));
    }
}

/// One HTTP/1.1 PUT of `body` to `path` on `addr`; an answer other than 2xx is an error.
fn put(addr: &str, path: &str, body: &str) -> Result<(), String> {
    http_send("PUT", addr, path, "text/plain; version=0.0.4", body)
}

/// One plain HTTP/1.1 request with `body`; an answer other than 2xx is an error.
pub(crate) fn http_send(
    method: &str,
    addr: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    // Short: a stopping job (SIGTERM, a container's 10 s grace) waits for this at most twice.
    let timeout = Duration::from_secs(2);
    let sa = addr
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let mut s = std::net::TcpStream::connect_timeout(&sa, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let _ = s.take(64 * 1024).read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text.split_whitespace().nth(1).unwrap_or("");
    if status.starts_with('2') {
        Ok(())
    } else {
        let said = text.split("\r\n\r\n").nth(1).unwrap_or("").trim();
        let first = text.lines().next().unwrap_or("").trim();
        let first = if first.is_empty() { "nothing" } else { first };
        let said: String = said.chars().take(200).collect();
        Err(if said.is_empty() {
            format!("the server answered {first}")
        } else {
            format!("the server answered {first}: {said}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_and_grouping_key() {
        assert_eq!(base64url(b"a"), "YQ");
        assert_eq!(base64url(b"job/x y"), "am9iL3ggeQ");
        assert_eq!(base64url(b"\xff\xfe\xfd"), "__79");
        let m = Metrics::new(
            None,
            Some("http://127.0.0.1:9091/pg/"),
            "j\"1",
            "r1",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            m.push.as_ref().unwrap().path,
            format!(
                "/pg/metrics/job@base64/{}/run_id@base64/cjE",
                base64url(b"j\"1")
            )
        );
        let t = CountersSnapshot {
            records_read: 5,
            ..CountersSnapshot::default()
        };
        let text = m.render(&t, 1.5, None, true);
        assert!(
            text.contains("datasync_records_read_total{job=\"j\\\"1\",run_id=\"r1\"} 5\n"),
            "{text}"
        );
        assert!(text.contains(
            "# TYPE datasync_running gauge\ndatasync_running{job=\"j\\\"1\",run_id=\"r1\"} 1\n"
        ));
        assert!(!text.contains("exit_code"));
        assert!(!m.render(&t, 1.5, None, false).contains("run_id"));
        assert!(Metrics::new(None, Some("HTTP://h:1"), "j", "r", Duration::from_secs(1)).is_ok());
        for bad in [
            "https://h:1",
            "http://h",
            "http://:1",
            "h:1",
            "ftp://h:1",
            "http://u:p@h:1",
            "http://h:1/a b",
            "http://h:1/x HTTP/1.1\r\nX-Evil: 1",
        ] {
            assert!(
                Metrics::new(None, Some(bad), "j", "r", Duration::from_secs(1)).is_err(),
                "{bad}"
            );
        }
    }
}
