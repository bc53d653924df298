//! Assembly: builds every stage from validated [`Settings`], binds both listeners and runs them
//! until shutdown. The one place that knows how the stages fit together.

use crate::admin::{self, Readiness};
use crate::broker::store::SharedStore;
use crate::broker::{AwsSts, SessionBroker, StsClient};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Settings, StsMode};
use crate::guests::{AppInstanceUsers, Guests};
use crate::http_client::HttpClient;
use crate::identity::{Authenticator, IssuerKeys};
use crate::metrics::Metrics;
use crate::proxy::{Gateway, Http1Pool, Stages, serve};
use crate::tls::ReloadingTls;
use aws_credential_types::provider::SharedCredentialsProvider;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Replacements for the real world, for the demo and tests.
#[derive(Default, Clone)]
pub struct Overrides {
    /// Base AWS credentials instead of the default chain.
    pub base_credentials: Option<SharedCredentialsProvider>,
    pub clock: Option<SharedClock>,
}

impl Overrides {
    /// Fixed base credentials instead of the AWS chain (the demo's stand-in keys).
    pub fn with_base_credentials(c: aws_credential_types::Credentials) -> Self {
        Overrides {
            base_credentials: Some(SharedCredentialsProvider::new(c)),
            ..Overrides::default()
        }
    }
}

/// A started stsgate: both listeners bound and serving.
pub struct Running {
    pub proxy_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    /// Stops the proxy listener and the bridged sockets.
    shutdown: watch::Sender<bool>,
    /// Stops the admin listener, once the proxy has drained.
    admin_shutdown: watch::Sender<bool>,
    readiness: Arc<Readiness>,
    proxy: tokio::task::JoinHandle<()>,
    admin: tokio::task::JoinHandle<()>,
    background: JoinSet<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub async fn start(settings: Settings, overrides: Overrides) -> Result<Running, StartError> {
    // Some dependencies enable a second rustls backend; pin the process default to aws-lc-rs.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let proxy_listener = bind("listen", settings.listen).await?;
    let admin_listener = bind("admin_listen", settings.admin_listen).await?;
    let proxy_addr = local_addr(&proxy_listener, "listen", settings.listen)?;
    let admin_addr = local_addr(&admin_listener, "admin_listen", settings.admin_listen)?;

    let (shutdown, shutdown_rx) = watch::channel(false);
    let parts = Parts::build(&settings, overrides, shutdown_rx.clone()).await;
    let mut background = JoinSet::new();
    for keys in parts.issuer_keys {
        background.spawn(keep_keys_fresh(keys));
    }
    let (sts, readiness) = (parts.sts.clone(), parts.readiness.clone());
    if needs_own_credentials(&settings) {
        background.spawn(async move { probe_base_credentials(&sts, &readiness).await });
    } else {
        readiness.set_base_credentials(Ok(()));
    }

    let gateway = Arc::new(Gateway::new(&settings, parts.stages));
    let metrics = parts.metrics.clone();
    let tls = listener_tls(&settings, &metrics, &shutdown_rx, &mut background);
    let proxy = tokio::spawn(serve(
        proxy_listener,
        move |req| {
            let g = gateway.clone();
            async move { g.handle(req).await }
        },
        shutdown_rx.clone(),
        settings.server.clone(),
        tls.as_ref().map(|(t, _)| t.proxy()),
        metrics.clone(),
    ));
    let (admin_shutdown, admin_rx) = watch::channel(false);
    let admin = tokio::spawn(serve_admin(
        admin_listener,
        admin_rx,
        &settings,
        tls.as_ref(),
        metrics.clone(),
        parts.readiness.clone(),
        parts.broker,
    ));
    let worker_threads = tokio::runtime::Handle::current().metrics().num_workers();
    tracing::info!(%proxy_addr, %admin_addr, worker_threads, "stsgate listening");
    Ok(Running {
        proxy_addr,
        admin_addr,
        metrics,
        shutdown,
        admin_shutdown,
        readiness: parts.readiness,
        proxy,
        admin,
        background,
    })
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { what, addr, source })
}

/// The address `listener` (bound to `addr`, configured as `what`) actually listens on.
fn local_addr(
    listener: &TcpListener,
    what: &'static str,
    addr: SocketAddr,
) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(|source| StartError::Bind { what, addr, source })
}

/// Whether stsgate calls AWS with credentials of its own: web-identity providers use the
/// callers' own credentials, so stsgate then may have none.
fn needs_own_credentials(settings: &Settings) -> bool {
    settings
        .mapping
        .providers
        .iter()
        .any(|p| p.sts_mode == StsMode::AssumeRole)
        || settings
            .guests
            .as_ref()
            .is_some_and(|g| g.create_users.is_some())
}

/// The listeners' reloading certificate, if `[server.tls]` is set (its watcher spawned into
/// `background`), and whether the admin port uses it too.
fn listener_tls(
    settings: &Settings,
    metrics: &Arc<Metrics>,
    shutdown: &watch::Receiver<bool>,
    background: &mut JoinSet<()>,
) -> Option<(Arc<ReloadingTls>, bool)> {
    settings.server.tls.as_ref().map(|t| {
        let tls = ReloadingTls::new(t.files.clone(), t.initial.clone());
        let watch = tls
            .clone()
            .watch(t.reload_interval, metrics.clone(), shutdown.clone());
        background.spawn(watch);
        (tls, t.admin)
    })
}

/// Serves the admin port until `shutdown`. It is plain HTTP unless `tls.admin`, and serves
/// (readiness 503) until the proxy has drained.
fn serve_admin(
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
    settings: &Settings,
    tls: Option<&(Arc<ReloadingTls>, bool)>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    broker: SessionBroker,
) -> impl Future<Output = ()> + use<> {
    let admin_tls = tls.filter(|(_, admin)| *admin).map(|(t, _)| t.admin());
    let m = metrics.clone();
    serve(
        listener,
        move |req| admin::handle(req, m.clone(), readiness.clone(), broker.clone()),
        shutdown,
        settings.server.clone(),
        admin_tls,
        metrics,
    )
}

/// The stages built from the settings, and what the admin port and background tasks need.
struct Parts {
    stages: Stages,
    metrics: Arc<Metrics>,
    sts: Arc<AwsSts>,
    broker: SessionBroker,
    issuer_keys: Vec<Arc<IssuerKeys>>,
    readiness: Arc<Readiness>,
}

impl Parts {
    async fn build(s: &Settings, overrides: Overrides, shutdown: watch::Receiver<bool>) -> Self {
        let clock = overrides
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemClock));
        let metrics = Arc::new(Metrics::new());
        let http = HttpClient::with_extra_roots(
            s.upstream.extra_roots.clone(),
            s.upstream.connect_timeout,
        );
        let sts = Arc::new(AwsSts::new(&s.sts, overrides.base_credentials.clone()).await);
        let auth = Authenticator::new(&s.identity, &http, clock.clone(), metrics.clone());
        // Readiness waits for real issuers' keys; the guests' own key is always there.
        let issuer_keys: Vec<Arc<IssuerKeys>> = auth
            .issuers()
            .map(|v| v.keys().clone())
            .filter(|k| k.issuer() != crate::guests::ISSUER)
            .collect();
        let saml_idps = s.identity.saml_idps.iter().map(|i| i.entity_id.clone());
        let readiness = Arc::new(Readiness::new(issuer_keys.clone(), saml_idps.collect()));
        let store = s
            .store
            .as_ref()
            .map(|st| SharedStore::redis(st, metrics.clone()));
        let broker = SessionBroker::with_store(
            sts.clone() as Arc<dyn StsClient>,
            metrics.clone(),
            clock.clone(),
            s.broker.clone(),
            store,
        );
        let guests = s.guests.as_ref().map(|g| {
            let users = g.create_users.as_ref().map(|(endpoint, days)| {
                let credentials = sts.base_credentials();
                AppInstanceUsers::new(
                    endpoint.clone(),
                    &s.upstream.region,
                    s.mapping.app_instance_arn.clone(),
                    *days,
                    http.clone(),
                    credentials,
                )
            });
            Arc::new(Guests::new(g, &s.upstream.region, users, clock.clone()))
        });
        let stages = Stages {
            guests,
            verifier: Arc::new(auth),
            sessions: Arc::new(broker.clone()),
            transport: Arc::new(Http1Pool::new(
                &http.tls_config(),
                s.upstream.connect_timeout,
            )),
            tls: http.tls_config(),
            metrics: metrics.clone(),
            clock,
            shutdown,
        };
        Parts {
            stages,
            metrics,
            sts,
            broker,
            issuer_keys,
            readiness,
        }
    }
}

impl Running {
    /// Shuts down: `/readyz` answers 503 at once, the proxy stops accepting, bridged sockets
    /// close with 1001, in-flight requests finish (within `shutdown_grace_seconds`), then the
    /// admin listener and background work stop.
    pub async fn shutdown(mut self) {
        self.readiness.set_draining();
        let _ = self.shutdown.send(true);
        let _ = self.proxy.await;
        let _ = self.admin_shutdown.send(true);
        let _ = self.admin.await;
        self.background.abort_all();
    }
}

/// Loads an issuer's keys with back-off until it works, then refreshes them periodically.
async fn keep_keys_fresh(keys: Arc<IssuerKeys>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match keys.refresh().await {
            Ok(()) => {
                backoff = Duration::from_millis(200);
                tokio::time::sleep(keys.refresh_interval).await;
            }
            Err(e) => {
                tracing::warn!(issuer = keys.issuer(), error = %e, "cannot load signing keys; keeping the last good set");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Resolves the base credentials until it works, for `/readyz`.
async fn probe_base_credentials(sts: &AwsSts, readiness: &Readiness) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let r = sts.check_base_credentials().await;
        let ok = r.is_ok();
        if let Err(e) = &r {
            tracing::warn!(error = %e, "base AWS credentials do not resolve");
        }
        readiness.set_base_credentials(r);
        if ok {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}
