//! The listeners' TLS (`[tls]`): rustls server configs built from PEM files, HTTP/2 and HTTP/1.1
//! by ALPN, client certificates required on the proxy listener when `client_ca_file` is set.
//! [`ReloadingTls`] re-reads the files every `reload_interval_seconds`: a changed set that loads
//! replaces the configs for new connections (cert-manager rotations need no restart); one that
//! does not keeps the old, and the log and `stsgate_tls_reloads_total{result="failed"}` say why.

use crate::metrics::{Metrics, Outcome};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// The files one TLS setup is read from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_ca_file: Option<PathBuf>,
}

/// What is wrong with a set of files, and under which config key.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {why}")]
pub struct TlsError {
    pub key: &'static str,
    pub why: String,
}

/// One loaded set of files.
pub struct Loaded {
    /// The proxy listener's config (client certificates verified when configured).
    pub proxy: Arc<ServerConfig>,
    /// The admin listener's: the same certificate, never client certificates (probes and
    /// Prometheus scrapes cannot present one).
    pub admin: Arc<ServerConfig>,
    /// The leaf certificate's notAfter, in Unix seconds.
    pub not_after: i64,
    /// The files' bytes, to tell a change from a re-read.
    contents: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

fn certificates(key: &'static str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |why: String| TlsError { key, why };
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no certificate found".into()));
    }
    Ok(certs)
}

impl TlsFiles {
    /// Reads and checks every file: certificates parse, the key matches the leaf, the client CAs
    /// make a verifier.
    pub fn load(&self) -> Result<Loaded, TlsError> {
        let mut contents = Vec::new();
        for (key, path) in self.paths() {
            contents.push(std::fs::read(path).map_err(|e| TlsError {
                key,
                why: format!("cannot read {}: {e}", path.display()),
            })?);
        }
        Self::parse(contents)
    }

    fn paths(&self) -> impl Iterator<Item = (&'static str, &PathBuf)> {
        let ca = self
            .client_ca_file
            .iter()
            .map(|p| ("tls.client_ca_file", p));
        [
            ("tls.cert_file", &self.cert_file),
            ("tls.key_file", &self.key_file),
        ]
        .into_iter()
        .chain(ca)
    }

    /// The files as they are now (an unreadable one as empty, which never loads).
    fn contents_now(&self) -> Vec<Vec<u8>> {
        self.paths()
            .map(|(_, p)| std::fs::read(p).unwrap_or_default())
            .collect()
    }

    /// `contents`: the certificate chain, the key and optionally the client CAs, as PEM.
    fn parse(contents: Vec<Vec<u8>>) -> Result<Loaded, TlsError> {
        let chain = certificates("tls.cert_file", &contents[0])?;
        let key = PrivateKeyDer::from_pem_slice(&contents[1]).map_err(|e| TlsError {
            key: "tls.key_file",
            why: format!("no usable private key: {e}"),
        })?;
        let not_after = not_after(&chain[0])?;
        let verifier = match contents.get(2) {
            Some(pem) => Some(client_verifier(pem)?),
            None => None,
        };
        let build = |verifier| {
            server_config(chain.clone(), key.clone_key(), verifier).map_err(|e| TlsError {
                key: "tls.key_file",
                why: format!("does not match tls.cert_file: {e}"),
            })
        };
        Ok(Loaded {
            proxy: Arc::new(build(verifier)?),
            admin: Arc::new(build(None)?),
            not_after,
            contents,
        })
    }
}

fn not_after(leaf: &CertificateDer<'_>) -> Result<i64, TlsError> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| TlsError {
        key: "tls.cert_file",
        why: format!("the first certificate does not parse: {e}"),
    })?;
    Ok(cert.validity().not_after.timestamp())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn client_verifier(
    pem: &[u8],
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let bad = |why: String| TlsError {
        key: "tls.client_ca_file",
        why,
    };
    let mut roots = rustls::RootCertStore::empty();
    for ca in certificates("tls.client_ca_file", pem)? {
        roots
            .add(ca)
            .map_err(|e| bad(format!("not a CA certificate: {e}")))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| bad(e.to_string()))
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<ServerConfig, rustls::Error> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The current configs, replaced when the files change and still load.
pub struct ReloadingTls {
    files: TlsFiles,
    current: RwLock<Arc<Loaded>>,
    /// The contents last tried and refused, so a bad set is reported once, not every interval.
    refused: Mutex<Option<Vec<Vec<u8>>>>,
}

/// Which listener a config is for.
#[derive(Clone)]
pub struct ListenerTls {
    tls: Arc<ReloadingTls>,
    admin: bool,
}

impl ListenerTls {
    /// An acceptor with the current config, for one new connection.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let loaded = self.tls.current();
        let config = if self.admin {
            &loaded.admin
        } else {
            &loaded.proxy
        };
        tokio_rustls::TlsAcceptor::from(config.clone())
    }
}

impl ReloadingTls {
    pub fn new(files: TlsFiles, initial: Arc<Loaded>) -> Arc<Self> {
        Arc::new(ReloadingTls {
            files,
            current: RwLock::new(initial),
            refused: Mutex::new(None),
        })
    }

    pub fn proxy(self: &Arc<Self>) -> ListenerTls {
        ListenerTls {
            tls: self.clone(),
            admin: false,
        }
    }

    pub fn admin(self: &Arc<Self>) -> ListenerTls {
        ListenerTls {
            tls: self.clone(),
            admin: true,
        }
    }

    fn current(&self) -> Arc<Loaded> {
        self.current.read().expect("tls lock").clone()
    }

    /// Re-reads the files: `None` if they are unchanged (or the set already refused), else
    /// the new certificate's notAfter once it took over, or why it did not.
    pub fn reload(&self) -> Option<Result<i64, TlsError>> {
        let now = self.files.contents_now();
        let mut refused = self.refused.lock().expect("tls lock");
        if now == self.current().contents || refused.as_ref() == Some(&now) {
            return None;
        }
        Some(match TlsFiles::parse(now.clone()) {
            Ok(loaded) => {
                let not_after = loaded.not_after;
                *self.current.write().expect("tls lock") = Arc::new(loaded);
                *refused = None;
                Ok(not_after)
            }
            Err(e) => {
                *refused = Some(now);
                Err(e)
            }
        })
    }

    /// Checks the files every `every` until shutdown.
    pub async fn watch(
        self: Arc<Self>,
        every: Duration,
        metrics: Arc<Metrics>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        metrics.tls_not_after.set(self.current().not_after);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
            let tls = self.clone();
            let outcome = tokio::task::spawn_blocking(move || tls.reload()).await;
            match outcome {
                Ok(Some(Ok(not_after))) => {
                    metrics.tls_reloads.inc(Outcome::Ok);
                    metrics.tls_not_after.set(not_after);
                    tracing::info!(not_after, "TLS certificate reloaded");
                }
                Ok(Some(Err(e))) => {
                    metrics.tls_reloads.inc(Outcome::Failed);
                    tracing::warn!(error = %e, "TLS files changed but do not load; the previous certificate stays");
                }
                Ok(None) | Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pair {
        cert: String,
        key: String,
    }

    fn pair() -> Pair {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    fn files(dir: &std::path::Path, p: &Pair) -> TlsFiles {
        let files = TlsFiles {
            cert_file: dir.join("cert.pem"),
            key_file: dir.join("key.pem"),
            client_ca_file: None,
        };
        std::fs::write(&files.cert_file, &p.cert).unwrap();
        std::fs::write(&files.key_file, &p.key).unwrap();
        files
    }

    #[test]
    fn each_bad_file_is_named_by_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (pair(), pair());
        let mut f = files(dir.path(), &a);
        assert!(f.load().is_ok());
        std::fs::write(&f.key_file, &b.key).unwrap();
        let e = f.load().unwrap_err();
        assert_eq!(e.key, "tls.key_file");
        assert!(e.why.contains("does not match"), "{e}");
        std::fs::write(&f.cert_file, "not pem").unwrap();
        assert_eq!(f.load().unwrap_err().key, "tls.cert_file");
        files(dir.path(), &a);
        f.client_ca_file = Some(dir.path().join("absent.pem"));
        let e = f.load().unwrap_err();
        assert_eq!(e.key, "tls.client_ca_file");
        assert!(e.why.contains("absent.pem"), "{e}");
    }

    #[test]
    fn a_reload_happens_on_change_and_a_refused_set_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (pair(), pair());
        let f = files(dir.path(), &a);
        let tls = ReloadingTls::new(f.clone(), Arc::new(f.load().unwrap()));
        assert!(tls.reload().is_none(), "unchanged");
        files(dir.path(), &b);
        assert!(matches!(tls.reload(), Some(Ok(_))));
        assert!(tls.reload().is_none());
        std::fs::write(&f.key_file, &a.key).unwrap();
        assert!(matches!(tls.reload(), Some(Err(_))));
        assert!(tls.reload().is_none(), "the same bad set is not retried");
        std::fs::write(&f.key_file, &b.key).unwrap();
        assert!(tls.reload().is_none(), "back to the serving set");
    }
}
