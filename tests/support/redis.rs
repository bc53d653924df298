//! A real `redis-server` (Debian's, installed by tests/setup.sh) on a free loopback port, in a
//! temporary directory, without persistence; killed when dropped. Also a three-node Redis
//! Cluster, and a TLS server with a test CA.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    tls: Option<Tls>,
    cluster: bool,
}

/// The TLS files of a TLS server: the CA's PEM is what clients trust.
pub struct Tls {
    pub ca_file: PathBuf,
    cert_file: PathBuf,
    key_file: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Redis {
    pub fn start() -> Self {
        Self::launch(None, false)
    }

    /// TLS only (`rediss://`), with a `127.0.0.1` certificate from a fresh test CA.
    pub fn start_tls() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        // Distinct subjects: OpenSSL takes a certificate whose issuer is its own subject for a
        // self-signed one.
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "stsgate test CA");
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "127.0.0.1");
        let cert = params.signed_by(&key, &ca).unwrap();
        let tls = Tls {
            ca_file: dir.path().join("ca.pem"),
            cert_file: dir.path().join("redis.crt"),
            key_file: dir.path().join("redis.key"),
        };
        std::fs::write(&tls.ca_file, ca.pem()).unwrap();
        std::fs::write(&tls.cert_file, cert.pem()).unwrap();
        std::fs::write(&tls.key_file, key.serialize_pem()).unwrap();
        Self::launch_in(dir, Some(tls), false)
    }

    fn launch(tls: Option<Tls>, cluster: bool) -> Self {
        Self::launch_in(tempfile::tempdir().unwrap(), tls, cluster)
    }

    fn launch_in(dir: tempfile::TempDir, tls: Option<Tls>, cluster: bool) -> Self {
        let mut r = Redis {
            child: None,
            port: free_port(),
            dir,
            tls,
            cluster,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        cmd.current_dir(self.dir.path())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--logfile", "redis.log"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match &self.tls {
            Some(t) => {
                cmd.args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    "no",
                ])
                .arg("--tls-cert-file")
                .arg(&t.cert_file)
                .arg("--tls-key-file")
                .arg(&t.key_file)
                .arg("--tls-ca-cert-file")
                .arg(&t.ca_file);
            }
            None => {
                cmd.args(["--port", &port]);
            }
        }
        if self.cluster {
            cmd.args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]);
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start redis-server ({e}); tests/setup.sh installs it")
        });
        self.child = Some(child);
        self.wait_until(|r| r.cli(&["PING"]) == "PONG");
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// `redis-cli` against this server; stdout as text (raw replies, trimmed).
    pub fn cli(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cli_bytes(args))
            .trim()
            .to_owned()
    }

    /// `redis-cli --raw`: the reply's bytes as the server holds them.
    pub fn cli_bytes(&self, args: &[&str]) -> Vec<u8> {
        let mut cmd = Command::new("redis-cli");
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--raw"]);
        if self.cluster {
            cmd.arg("-c");
        }
        if let Some(t) = &self.tls {
            cmd.arg("--tls").arg("--cacert").arg(&t.ca_file);
        }
        let out = cmd.args(args).stderr(Stdio::null()).output().unwrap();
        out.stdout
    }

    /// Every key stsgate wrote.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .cli(&["KEYS", "*"])
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys
    }

    /// Stops the server at once (SIGKILL), as a crashed or evicted pod.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the server: a store that accepts and never answers.
    pub fn freeze(&self, frozen: bool) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let signal = if frozen { "-STOP" } else { "-CONT" };
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    fn wait_until(&self, ready: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready(self) {
            let log =
                std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "redis-server did not come up:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            // A frozen server ignores SIGKILL only until it is thawed.
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
        }
        self.kill();
    }
}

/// Three masters, every slot assigned (`redis-cli --cluster create`).
pub struct Cluster {
    pub nodes: Vec<Redis>,
}

impl Cluster {
    pub fn start() -> Self {
        let nodes: Vec<Redis> = (0..3).map(|_| Redis::launch(None, true)).collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        for n in &nodes {
            n.wait_until(|r| r.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"));
        }
        Cluster { nodes }
    }

    /// Every key in the cluster.
    pub fn keys(&self) -> Vec<String> {
        let mut all: Vec<String> = self.nodes.iter().flat_map(|n| n.keys()).collect();
        all.sort();
        all
    }
}
