//! `docker/compose.yml` cannot be started here (no container engine), so it is checked as data:
//! parsed by PyYAML, every service the README promises is there, published on 127.0.0.1 only,
//! and the servers' ports and credentials match the test variables the README documents.

#![allow(clippy::unwrap_used)]

mod common;
use common::*;

/// The `export NAME=value` lines of README.md.
fn readme_exports() -> Vec<(String, String)> {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    readme
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn compose_services_match_the_documented_test_variables() {
    let compose = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/compose.yml");
    // PyYAML turns the file into JSON; the checks are made here.
    let json = run_python(
        "import json, sys, yaml\nprint(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        &[compose.to_str().unwrap()],
    );
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let services = doc["services"].as_object().expect("services");
    for s in [
        "mariadb",
        "postgres",
        "oracle",
        "hbase",
        "sftp",
        "hive-metastore",
        "namenode",
        "datanode",
    ] {
        assert!(
            services.contains_key(s),
            "service {s} missing: {:?}",
            services.keys()
        );
    }
    // Published ports: "127.0.0.1:HOST:CONTAINER" only.
    let published = |svc: &str, container: u16| -> u16 {
        let ports = services[svc]["ports"].as_array().unwrap();
        let mut found = None;
        for p in ports {
            let p = p.as_str().unwrap();
            let parts: Vec<&str> = p.split(':').collect();
            assert_eq!(
                parts.len(),
                3,
                "{svc}: port {p} must be 127.0.0.1:HOST:CONTAINER"
            );
            assert_eq!(
                parts[0], "127.0.0.1",
                "{svc}: port {p} is not bound to loopback"
            );
            if parts[2] == container.to_string() {
                found = Some(parts[1].parse().unwrap());
            }
        }
        found.unwrap_or_else(|| panic!("{svc}: container port {container} not published"))
    };
    // The namenode's RPC port, for hdfs:// paths (README, HDFS).
    assert_eq!(published("namenode", 8020), 18020);
    let env = |svc: &str, key: &str| services[svc]["environment"][key].as_str().map(String::from);

    let exports = readme_exports();
    let var = |name: &str| {
        exports
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("README documents no `export {name}=...`"))
    };
    // scheme://user[:password]@127.0.0.1:port
    let parse = |url: &str| {
        let rest = url.split_once("://").unwrap().1;
        let (cred, hostport) = rest.rsplit_once('@').unwrap();
        let (host, port) = hostport.rsplit_once(':').unwrap();
        let (user, pw) = cred.split_once(':').unwrap_or((cred, ""));
        (
            user.to_string(),
            pw.to_string(),
            host.to_string(),
            port.parse::<u16>().unwrap(),
        )
    };

    let (user, pw, host, port) = parse(&var("DATASYNC_TEST_MYSQL"));
    assert_eq!(
        (host.as_str(), port),
        ("127.0.0.1", published("mariadb", 3306))
    );
    assert_eq!(user, "root");
    if pw.is_empty() {
        assert_eq!(
            env("mariadb", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD").as_deref(),
            Some("1")
        );
    } else {
        assert_eq!(env("mariadb", "MARIADB_ROOT_PASSWORD"), Some(pw));
    }
    let cmd = services["mariadb"]["command"].to_string();
    assert!(
        cmd.contains("--local-infile=1"),
        "the MySQL writer needs LOAD DATA LOCAL: {cmd}"
    );

    let (user, pw, host, port) = parse(&var("DATASYNC_TEST_POSTGRES"));
    assert_eq!(
        (host.as_str(), port),
        ("127.0.0.1", published("postgres", 5432))
    );
    assert_eq!(env("postgres", "POSTGRES_USER"), Some(user));
    if pw.is_empty() {
        assert_eq!(
            env("postgres", "POSTGRES_HOST_AUTH_METHOD").as_deref(),
            Some("trust")
        );
    } else {
        assert_eq!(env("postgres", "POSTGRES_PASSWORD"), Some(pw));
    }
    // user/password@//127.0.0.1:port/FREEPDB1: the image's application user in its PDB.
    let ora = var("DATASYNC_TEST_ORACLE");
    let (cred, dsn) = ora.rsplit_once('@').unwrap();
    let (user, pw) = cred.split_once('/').unwrap();
    assert_eq!(env("oracle", "APP_USER").as_deref(), Some(user));
    assert_eq!(env("oracle", "APP_USER_PASSWORD").as_deref(), Some(pw));
    assert_eq!(
        dsn,
        format!("//127.0.0.1:{}/FREEPDB1", published("oracle", 1521))
    );
    // host:port of the Thrift gateway, started framed (the plugins' default transport).
    assert_eq!(
        var("DATASYNC_TEST_HBASE_THRIFT"),
        format!("127.0.0.1:{}", published("hbase", 9090))
    );
    let cmd = services["hbase"]["command"].to_string();
    assert!(cmd.contains("thrift start -f"), "{cmd}");
    published("sftp", 22);
    published("hive-metastore", 9083);
}
