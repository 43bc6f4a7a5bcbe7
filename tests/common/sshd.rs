//! An OpenSSH sshd on a free port of 127.0.0.1 with its own config, host key and authorised
//! client key (and a local account for password logins), for the SFTP tests.

use super::free_port;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PW_USER: &str = "dsftptest";
pub const PW_PASS: &str = "pw-Secret-42";

/// sshd writes its pid file once it listens.
pub fn owns_pid_file(dir: &Path, pid: u32) -> bool {
    std::fs::read_to_string(dir.join("sshd.pid"))
        .map(|t| t.trim() == pid.to_string())
        .unwrap_or(false)
}

/// One sshd, stopped on drop.
pub struct Sshd {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    dir: tempfile::TempDir,
}

pub fn sh(cmd: &str) -> String {
    let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The local account for password logins (created once; tests run as root).
pub fn password_user() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        sh(&format!(
            "id {PW_USER} >/dev/null 2>&1 || useradd -M -d /tmp -s /bin/sh {PW_USER}; \
             echo '{PW_USER}:{PW_PASS}' | chpasswd"
        ));
    });
}

impl Sshd {
    pub fn start() -> Sshd {
        password_user();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all("/run/sshd").unwrap();
        sh(&format!(
            "cd {} && ssh-keygen -q -t ed25519 -N '' -f host_key && \
             ssh-keygen -q -t ed25519 -N '' -f client_key && \
             ssh-keygen -q -t ed25519 -N '' -f other_key && cp client_key.pub authorized_keys",
            d.display()
        ));
        let data = d.join("data");
        std::fs::create_dir_all(&data).unwrap();
        // The password user writes here too.
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
        for _attempt in 0..5 {
            let port = free_port();
            let config = format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication yes\nKbdInteractiveAuthentication no\nPermitRootLogin yes\n\
                 Subsystem sftp internal-sftp\nLogLevel ERROR\nMaxStartups 100\n",
                d = d.display()
            );
            std::fs::write(d.join("sshd_config"), config).unwrap();
            let mut child = Command::new("/usr/sbin/sshd")
                .args(["-D", "-e", "-f"])
                .arg(d.join("sshd_config"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("/usr/sbin/sshd (Debian openssh-server; .ci/run installs it)");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                // Listening, and it is this sshd that listens: one that lost the port to
                // another test's server exits before it writes its pid file.
                if child.try_wait().unwrap().is_none()
                    && owns_pid_file(d, child.id())
                    && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                {
                    let known = format!(
                        "[127.0.0.1]:{port} {}\n",
                        std::fs::read_to_string(d.join("host_key.pub"))
                            .unwrap()
                            .split_whitespace()
                            .take(2)
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                    std::fs::write(d.join("known_hosts"), known).unwrap();
                    return Sshd { child, port, dir };
                }
                if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("sshd did not start");
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The server dies: SIGKILL to the listener and every session process under it.
    pub fn kill_all(&mut self) {
        fn children(pid: u32) -> Vec<u32> {
            let mut out = Vec::new();
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                    continue;
                };
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u32>().ok());
                if ppid == Some(pid) {
                    out.push(p);
                    out.extend(children(p));
                }
            }
            out
        }
        let sessions = children(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for p in sessions {
            let _ = Command::new("kill")
                .args(["-KILL", &p.to_string()])
                .status();
        }
    }

    /// Starts the server again on the same port, keys and directory.
    pub fn restart(&mut self) {
        self.child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(self.path("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !owns_pid_file(self.dir.path(), self.child.id())
            || std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err()
        {
            assert!(
                Instant::now() < deadline && self.child.try_wait().unwrap().is_none(),
                "sshd did not come back"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn data(&self) -> PathBuf {
        self.path("data")
    }

    pub fn fingerprint(&self) -> String {
        sh(&format!(
            "ssh-keygen -lf {}",
            self.path("host_key.pub").display()
        ))
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
    }

    /// Connection parameters (JSON members) with key auth and the known_hosts file.
    pub fn conn(&self) -> String {
        format!(
            r#""protocol": "sftp", "host": "127.0.0.1", "port": {}, "username": "root",
               "privateKey": "{}", "knownHostsFile": "{}""#,
            self.port,
            self.path("client_key").display(),
            self.path("known_hosts").display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
