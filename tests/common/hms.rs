//! A Hive Metastore for the tests: Hive 2.3's metastore from the jars pyspark ships, serving
//! Thrift on 127.0.0.1 (tests/hms/LoopbackMetastore.java) with an embedded Derby database.
//!
//! The metastore checks that a table's or partition's location is a directory (and makes it
//! if not) through Hadoop's FileSystem for the location's scheme. pyspark ships no s3a (or
//! usable hdfs) connector and none can be installed here, so `s3a://` and `hdfs://` are
//! mapped to tests/hms/LocationOnlyFileSystem.java, which answers "a directory" for every
//! path and refuses data access: the metastore records the location as given, and the tests
//! check the data at that location with a client of the store (pyarrow on the S3 server).
use super::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A Hive Metastore on 127.0.0.1 from pyspark's jars with an embedded Derby database, stopped
/// on drop.
pub struct Metastore {
    pub child: Child,
    pub uri: String,
    _dir: tempfile::TempDir,
}

fn pyspark_jars() -> PathBuf {
    let out = run_python(
        "import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), 'jars'))",
        &[],
    );
    PathBuf::from(out.trim())
}

impl Metastore {
    pub fn start() -> Metastore {
        let jars = pyspark_jars();
        let dir = tempfile::tempdir().unwrap();
        let classes = dir.path().join("classes");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hms");
        let st = Command::new("javac")
            .args(["-d", classes.to_str().unwrap(), "-cp"])
            .arg(format!("{}/*", jars.display()))
            .arg(src.join("LoopbackMetastore.java"))
            .arg(src.join("LocationOnlyFileSystem.java"))
            .status()
            .unwrap();
        assert!(st.success(), "javac tests/hms");
        let conf = dir.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        let prop =
            |k: &str, v: &str| format!("<property><name>{k}</name><value>{v}</value></property>\n");
        let site = format!(
            "<?xml version=\"1.0\"?>\n<configuration>\n{}{}{}{}{}{}{}</configuration>\n",
            prop(
                "javax.jdo.option.ConnectionURL",
                &format!(
                    "jdbc:derby:;databaseName={}/db;create=true",
                    dir.path().display()
                )
            ),
            prop(
                "hive.metastore.warehouse.dir",
                &format!("file:{}/warehouse", dir.path().display())
            ),
            prop("datanucleus.schema.autoCreateAll", "true"),
            prop("hive.metastore.schema.verification", "false"),
            prop("hive.async.log.enabled", "false"),
            prop("fs.s3a.impl", "LocationOnlyFileSystem"),
            prop("fs.hdfs.impl", "LocationOnlyFileSystem"),
        );
        std::fs::write(conf.join("hive-site.xml"), site).unwrap();
        let port = free_port();
        let mut child = Command::new("java")
            .arg(format!(
                "-Dderby.stream.error.file={}/derby.log",
                dir.path().display()
            ))
            .arg("-cp")
            .arg(format!(
                "{}:{}:{}/*",
                conf.display(),
                classes.display(),
                jars.display()
            ))
            .arg("LoopbackMetastore")
            .arg(port.to_string())
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim() == "ready" {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(120)).is_err() {
            let _ = child.kill();
            panic!("the metastore did not start within 120 s");
        }
        // The socket is bound before "ready"; give the handler a moment to accept.
        super::wait_for_port(&mut child, port, 30, "the metastore");
        Metastore {
            child,
            uri: format!("thrift://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for Metastore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Spark session on the metastore `argv[1]`, for `argv[2]` (a table) with warehouse
/// `argv[3]`: the start of every Spark check script.
#[macro_export]
macro_rules! spark_session {
    () => {
        r#"
import os, sys
os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
from pyspark.sql import SparkSession
uri, table, wh = sys.argv[1], sys.argv[2], sys.argv[3]
s = (SparkSession.builder.master("local[1]").appName("datasync-test")
     .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
     .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
     .config("hive.metastore.uris", uri).config("spark.sql.warehouse.dir", wh)
     .enableHiveSupport().getOrCreate())
s.sparkContext.setLogLevel("ERROR")
"#
    };
}
