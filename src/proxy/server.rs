//! The accept loop shared by the proxy and admin listeners: one task per connection, HTTP/1.1 and
//! HTTP/2 (by ALPN over TLS when a certificate is configured), graceful drain when the shutdown
//! signal fires, and the limits that keep slow or idle clients from holding connections: a
//! header-read timeout (which also bounds the TLS handshake), an idle timeout, HTTP/2 keep-alive
//! pings, and a cap on open connections (beyond it a new connection is closed at once). The
//! socket itself holds its place under the cap, so a connection upgraded to a bridged WebSocket,
//! which outlives hyper's connection, counts until the WebSocket closes.

use crate::config::settings::ServerSettings;
use crate::error::ProxyBody;
use crate::metrics::{Metrics, Timeout};
use crate::tls::ListenerTls;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

/// The client's TCP address, in every request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

pub async fn serve<H, F>(
    listener: TcpListener,
    handler: H,
    mut shutdown: watch::Receiver<bool>,
    limits: ServerSettings,
    tls: Option<ListenerTls>,
    metrics: Arc<Metrics>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let listening = Listening::new(&limits, tls, metrics);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            listening.metrics.connections_refused.inc();
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let slot = Slot::new(slot, listening.metrics.clone());
        let conn =
            listening
                .clone()
                .connection(stream, slot, peer, handler.clone(), graceful.watcher());
        tokio::spawn(conn);
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout");
    }
}

/// What every connection of one listener shares.
#[derive(Clone)]
struct Listening {
    builder: auto::Builder<TokioExecutor>,
    tls: Option<ListenerTls>,
    idle: Duration,
    handshake: Duration,
    metrics: Arc<Metrics>,
}

impl Listening {
    fn new(limits: &ServerSettings, tls: Option<ListenerTls>, metrics: Arc<Metrics>) -> Self {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_head_buffer);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(limits.http2_keepalive)
            .keep_alive_timeout(limits.http2_keepalive)
            .max_header_list_size(limits.max_head_buffer as u32);
        Listening {
            builder,
            tls,
            idle: limits.idle_timeout,
            handshake: limits.header_read_timeout,
            metrics,
        }
    }

    /// Serves one connection (after its TLS handshake, if any) until it ends, is idle for too
    /// long, or the drain is over.
    async fn connection<H, F>(
        self,
        stream: TcpStream,
        slot: Slot,
        peer: SocketAddr,
        handler: H,
        watcher: Watcher,
    ) where
        H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Response<ProxyBody>> + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let service = {
            let activity = activity.clone();
            service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(PeerAddr(peer));
                let busy = activity.begin();
                // Boxed: hyper moves the service's future by value and this block moves it
                // again to await it; a request's future is KiBs, a box moves as a pointer.
                let fut = Box::pin(handler(req));
                async move {
                    let resp = fut.await;
                    drop(busy);
                    Ok::<_, Infallible>(resp)
                }
            })
        };
        let tracked = Tracked {
            inner: stream,
            activity: activity.clone(),
            _slot: slot,
        };
        let metrics = self.metrics.clone();
        let served = async {
            match &self.tls {
                None => {
                    let io = TokioIo::new(tracked);
                    let conn = self.builder.serve_connection_with_upgrades(io, service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(tls) => {
                    // The config current now: a reloaded certificate serves new connections.
                    let accept = tls.acceptor().accept(tracked);
                    let handshake = tokio::time::timeout(self.handshake, accept);
                    let Ok(Ok(stream)) = handshake.await else {
                        return Ok(());
                    };
                    let io = TokioIo::new(stream);
                    let conn = self.builder.serve_connection_with_upgrades(io, service);
                    watcher.watch(conn.into_owned()).await
                }
            }
        };
        tokio::select! {
            ended = served => if let Err(e) = ended {
                if is_timeout(e.as_ref()) {
                    metrics.connection_timeouts.inc(Timeout::Header);
                }
                tracing::debug!(error = %e, "connection ended with an error");
            },
            // Dropping the idle connection closes it: no request is in progress.
            _ = activity.idle_for(self.idle) => metrics.connection_timeouts.inc(Timeout::Idle),
        }
    }
}

/// A connection's place under `max_connections`, counted in `stsgate_connections_open`: given
/// back when the socket is dropped, which for an upgraded connection is when the WebSocket ends.
struct Slot {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Slot {
    fn new(permit: OwnedSemaphorePermit, metrics: Arc<Metrics>) -> Self {
        metrics.connections_open.inc();
        Slot {
            _permit: permit,
            metrics,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.connections_open.dec();
    }
}

fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout)
        {
            return true;
        }
        cur = err.source();
    }
    false
}

// === impl Activity ===

/// When a connection last moved a byte, and how many of its requests are in progress.
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

/// A request in progress; the connection is not idle while one exists.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Activity {
    fn new() -> Self {
        Activity {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(self.clone())
    }

    /// Resolves once no request has been in progress and no byte has moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.epoch + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + idle;
            if Instant::now() >= deadline && self.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            tokio::time::sleep_until(deadline.max(Instant::now() + idle / 4)).await;
        }
    }
}

// === impl Tracked ===

/// The client's socket, noting every byte read or written in its [`Activity`], and holding its
/// [`Slot`] for as long as the socket lives (inside hyper's `Upgraded` after an upgrade).
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
    _slot: Slot,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
