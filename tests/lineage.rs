//! OpenLineage events (`--lineage FILE|URL`): START, then COMPLETE, FAIL or ABORT, with the
//! job's datasets, schema and output statistics. Each event is rebuilt with the
//! openlineage-python client's models (which check the run id is a UUID, the event type, the
//! facets' fields) and read back from them, so a malformed event fails the test.
#![allow(clippy::unwrap_used)]

mod common;
use common::*;
use std::process::{Command, Stdio};

/// Rebuilds each event of `path` (JSON lines) with the OpenLineage models; one summary line
/// per event: type, run id, inputs, outputs, schema fields, output rows, error message.
const CHECK: &str = r#"
import json, sys
from openlineage.client.event_v2 import RunEvent, RunState, Run, Job, InputDataset, OutputDataset
from openlineage.client.facet_v2 import schema_dataset, output_statistics_output_dataset, error_message_run, data_quality_assertions_dataset as dq
from openlineage.client.serde import Serde
def quality(d):
    f = d.get("inputFacets", {}).get("dataQualityAssertions")
    if not f: return {}
    return {"dataQualityAssertions": dq.DataQualityAssertionsDatasetFacet(assertions=[dq.Assertion(**a) for a in f["assertions"]])}
def schema(d):
    f = d.get("facets", {}).get("schema")
    if not f: return {}
    return {"schema": schema_dataset.SchemaDatasetFacet(fields=[schema_dataset.SchemaDatasetFacetFields(name=x["name"], type=x["type"]) for x in f["fields"]])}
for line in open(sys.argv[1]):
    e = json.loads(line)
    run_facets = {}
    if "errorMessage" in e["run"]["facets"]:
        m = e["run"]["facets"]["errorMessage"]
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message=m["message"], programmingLanguage=m["programmingLanguage"])
    outs = []
    for d in e["outputs"]:
        of = {}
        if "outputFacets" in d:
            s = d["outputFacets"]["outputStatistics"]
            of["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=s["rowCount"], size=s["size"])
        outs.append(OutputDataset(namespace=d["namespace"], name=d["name"], facets=schema(d), outputFacets=of))
    ev = RunEvent(eventType=RunState[e["eventType"]], eventTime=e["eventTime"], producer=e["producer"],
                  run=Run(runId=e["run"]["runId"], facets=run_facets), job=Job(namespace=e["job"]["namespace"], name=e["job"]["name"]),
                  inputs=[InputDataset(namespace=d["namespace"], name=d["name"], facets=schema(d), inputFacets=quality(d)) for d in e["inputs"]], outputs=outs)
    back = json.loads(Serde.to_json(ev))
    fields = [f["name"] for f in (back["outputs"] or [{}])[0].get("facets", {}).get("schema", {}).get("fields", [])] if back["outputs"] else []
    rows = [o.get("outputFacets", {}).get("outputStatistics", {}).get("rowCount") for o in back["outputs"]]
    err = back["run"].get("facets", {}).get("errorMessage", {}).get("message", "")
    checks = [[a["assertion"], a["success"], a.get("expected")] for i in back["inputs"] for a in i.get("inputFacets", {}).get("dataQualityAssertions", {}).get("assertions", [])]
    print(json.dumps([back["eventType"], back["run"]["runId"], [i["namespace"] + " " + i["name"] for i in back["inputs"]],
                      [o["namespace"] + " " + o["name"] for o in back["outputs"]], fields, rows, err, checks]))
"#;

fn events(path: &std::path::Path) -> Vec<serde_json::Value> {
    json_lines(&run_python(CHECK, &[path.to_str().unwrap()]))
}

#[test]
fn mysql_to_file_emits_start_and_complete_with_datasets_schema_and_statistics() {
    let db = MariaDb::new();
    db.exec("CREATE TABLE orders (id BIGINT PRIMARY KEY, amount DECIMAL(12,2)); INSERT INTO orders SELECT seq, seq / 4 FROM seq_1_to_40;");
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let text = job(
        r#"{}, "verify": {"rules": [{"rule": "count"}, {"rule": "max", "column": "id"}]}"#,
        &format!(
            r#"{{"name": "mysqlreader", "parameter": {{{}, "column": ["id", "amount"],
                "connection": [{{"jdbcUrl": ["{}"], "table": ["orders"]}}]}}}}"#,
            mysql_server().login(),
            db.url()
        ),
        &format!(
            r#"{{"name": "txtfilewriter", "parameter": {{"path": "{}", "fileName": "o", "writeMode": "truncate"}}}}"#,
            out.display()
        ),
    );
    let p = write_job(t.path(), "orders_copy", &text);
    let lineage = t.path().join("lineage.jsonl");
    let o = run_file(t.path(), &p, &["--lineage", lineage.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ev = events(&lineage);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[0][0], "START");
    assert_eq!(ev[1][0], "COMPLETE");
    assert_eq!(ev[0][1], ev[1][1], "one run id");
    let input = format!("mysql://{} {}.orders", mysql_server().addr(), db.name);
    assert_eq!(ev[1][2], serde_json::json!([input]));
    let abs_out = std::path::absolute(&out).unwrap().display().to_string();
    assert_eq!(ev[1][3], serde_json::json!([format!("file {abs_out}")]));
    assert_eq!(ev[1][4], serde_json::json!(["id", "amount"]));
    assert_eq!(ev[1][5], serde_json::json!([40]));
    assert_eq!(
        ev[0][5],
        serde_json::json!([null]),
        "no statistics before the run"
    );
    // job.verify: the checked rules as data quality assertions of the input (max(id) is
    // reader side only for a text target: not an assertion).
    assert_eq!(ev[1][7], serde_json::json!([["count", true, "40"]]));
    assert_eq!(ev[0][7], serde_json::json!([]));
}

#[test]
fn failed_and_interrupted_runs_emit_fail_and_abort_also_over_http() {
    // An HTTP receiver that stores every POSTed body as a line.
    let t = tempfile::tempdir().unwrap();
    let got = t.path().join("posted.jsonl");
    // It binds a port of its own choosing and says which: no other process can take it first.
    let mut receiver = Command::new(python())
        .arg("-c")
        .arg(
            r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[1], "ab") as f: f.write(body + b"\n")
        self.send_response(201); self.end_headers()
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#,
        )
        .arg(got.to_str().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let port: u16 = {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(receiver.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim().parse().unwrap()
    };
    let url = format!("http://127.0.0.1:{port}/api/v1/lineage");
    // A row that does not parse with errorLimit 0: FAIL with the message.
    let p = failing_job(t.path(), "1\nx\n");
    let o = run_file(t.path(), &p, &["--lineage", &url]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    // A slow job stopped by SIGTERM: ABORT.
    let slow = job(
        r#"{"speed": {"record": 100}}"#,
        r#"{"name": "streamreader", "parameter": {"column": [{"type": "long", "value": "1"}], "sliceRecordCount": 100000}}"#,
        r#"{"name": "streamwriter", "parameter": {}}"#,
    );
    let p = write_job(t.path(), "slow", &slow);
    let child = spawn(
        t.path(),
        &[
            "run",
            p.to_str().unwrap(),
            "--no-progress",
            "--lineage",
            &url,
        ],
        &[],
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    send_signal(child.id(), "TERM");
    let o = wait_or_hang(child, std::time::Duration::from_secs(30));
    assert_eq!(code(&o), 143, "{}", stderr(&o));
    let _ = receiver.kill();
    let _ = receiver.wait();
    let ev = events(&got);
    let kinds: Vec<&str> = ev.iter().map(|e| e[0].as_str().unwrap()).collect();
    assert_eq!(kinds, ["START", "FAIL", "START", "ABORT"], "{ev:?}");
    assert!(ev[1][6].as_str().unwrap().contains("error limit"), "{ev:?}");
    let abs_in = std::path::absolute(t.path().join("in.csv"))
        .unwrap()
        .display()
        .to_string();
    assert_eq!(ev[1][2], serde_json::json!([format!("file {abs_in}")]));
    // A lineage URL that cannot work is refused before the job starts.
    let o = run_file(t.path(), &p, &["--lineage", "https://marquez:5000"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}
