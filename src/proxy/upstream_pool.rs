//! Connections to Chime: HTTP/1.1 keep-alive, pooled, as nginx and Envoy talk to an upstream by
//! default. A connection goes back to the pool when its response body has been read to the end
//! (a body dropped early takes its connection with it); nothing is spawned per request.

use super::Transport;
use crate::BoxFuture;
use crate::error::ProxyBody;
use crate::http_client::{FetchError, error_chain, https_connector};
use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tower_service::Service;

type Sender = SendRequest<Full<Bytes>>;

/// Idle connections kept per process; more are closed when they come back.
const MAX_IDLE: usize = 512;

pub struct Http1Pool {
    connector: HttpsConnector<HttpConnector>,
    idle: Arc<Mutex<Vec<Sender>>>,
}

impl Http1Pool {
    /// Connects with `tls` (ALPN `http/1.1`) to `https://` upstreams, plainly to `http://`.
    pub fn new(tls: &rustls::ClientConfig, connect_timeout: Duration) -> Self {
        Http1Pool {
            connector: https_connector(tls, connect_timeout, false),
            idle: Arc::default(),
        }
    }

    /// An idle connection that can take a request now; closed ones are dropped on the way.
    fn checkout(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().expect("pool lock");
        while let Some(s) = idle.pop() {
            if s.is_ready() {
                return Some(s);
            }
            if !s.is_closed() {
                // Still finishing its last response: keep it for a later request.
                idle.insert(0, s);
                return None;
            }
        }
        None
    }

    async fn connect(&self, uri: &Uri) -> Result<Sender, FetchError> {
        let io = self
            .connector
            .clone()
            .call(uri.clone())
            .await
            .map_err(|e| FetchError::Transport(error_chain(&*e)))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| FetchError::Transport(error_chain(&e)))?;
        tokio::spawn(async move {
            // The connection's own errors surface on its requests.
            let _ = conn.await;
        });
        Ok(sender)
    }

    async fn send_once(&self, req: Request<Bytes>) -> Result<Response<ProxyBody>, FetchError> {
        // HTTP/1.1 on the wire wants origin-form: the path and query, with Host set already.
        let (mut parts, body) = req.into_parts();
        let target = parts.uri.clone();
        parts.uri = parts
            .uri
            .path_and_query()
            .map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
        let mut req = Request::from_parts(parts, Full::new(body));
        let (mut sender, pooled) = match self.checkout() {
            Some(s) => (s, true),
            // Boxed, as below: the connect path's future is KiBs, and inline it would be
            // allocated and copied with every pooled request's future too (issue #14).
            None => (Box::pin(self.connect(&target)).await?, false),
        };
        let resp = match sender.try_send_request(req).await {
            Ok(resp) => resp,
            Err(mut e) => match e.take_message() {
                // An idle connection the upstream closed before the request went out: the
                // request was never sent, so it goes once more on a fresh connection.
                Some(unsent) if pooled => {
                    req = unsent;
                    sender = Box::pin(self.connect(&target)).await?;
                    sender
                        .send_request(req)
                        .await
                        .map_err(|e| FetchError::Transport(error_chain(&e)))?
                }
                _ => return Err(FetchError::Transport(error_chain(e.error()))),
            },
        };
        let idle = self.idle.clone();
        Ok(resp.map(|body| {
            ReturnOnEnd {
                body,
                sender: Some(sender),
                idle,
            }
            .boxed()
        }))
    }
}

impl Transport for Http1Pool {
    fn send(
        &self,
        req: Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Response<ProxyBody>, FetchError>> {
        Box::pin(async move {
            tokio::time::timeout(timeout, self.send_once(req))
                .await
                .unwrap_or(Err(FetchError::Timeout))
        })
    }
}

/// The response body; at its end, its connection goes back to the pool.
struct ReturnOnEnd {
    body: Incoming,
    sender: Option<Sender>,
    idle: Arc<Mutex<Vec<Sender>>>,
}

impl ReturnOnEnd {
    fn give_back(&mut self) {
        if let Some(s) = self.sender.take() {
            let mut idle = self.idle.lock().expect("pool lock");
            if idle.len() < MAX_IDLE {
                idle.push(s);
            }
        }
    }
}

impl Body for ReturnOnEnd {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.give_back(),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.give_back(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A loopback HTTP/1.1 server answering `ok` that counts the connections it accepts.
    async fn counting_upstream(keep_alive: bool) -> (Uri, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/x", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("ok"))))
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .keep_alive(keep_alive)
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service),
                );
            }
        });
        (uri.parse().unwrap(), accepted)
    }

    fn get(uri: &Uri) -> Request<Bytes> {
        let host = uri.authority().unwrap().as_str().to_owned();
        Request::get(uri.clone())
            .header(http::header::HOST, host)
            .body(Bytes::new())
            .unwrap()
    }

    /// A pooled request's future is allocated and copied whole: connecting is boxed out of it.
    #[tokio::test]
    async fn a_pooled_requests_future_stays_small() {
        let tls = crate::http_client::HttpClient::new().tls_config();
        let pool = Http1Pool::new(&tls, Duration::from_secs(2));
        let uri = Uri::from_static("http://127.0.0.1:9/");
        let size = std::mem::size_of_val(&pool.send_once(get(&uri)));
        assert!(
            size <= 3072,
            "Http1Pool::send_once's future is {size} bytes"
        );
    }

    #[tokio::test]
    async fn a_connection_is_reused_once_its_body_is_read_and_not_before() {
        let (uri, accepted) = counting_upstream(true).await;
        let tls = crate::http_client::HttpClient::new().tls_config();
        let pool = Http1Pool::new(&tls, Duration::from_secs(2));
        let t = Duration::from_secs(5);
        for _ in 0..20 {
            let resp = pool.send(get(&uri), t).await.unwrap();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, "ok");
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one keep-alive connection"
        );

        // A response still being read holds its connection: a second request opens another.
        let held = pool.send(get(&uri), t).await.unwrap();
        let other = pool.send(get(&uri), t).await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        drop((held, other));
    }

    #[tokio::test]
    async fn an_upstream_that_closes_after_each_answer_still_gets_every_request() {
        let (uri, accepted) = counting_upstream(false).await;
        let tls = crate::http_client::HttpClient::new().tls_config();
        let pool = Http1Pool::new(&tls, Duration::from_secs(2));
        for _ in 0..10 {
            let resp = pool.send(get(&uri), Duration::from_secs(5)).await.unwrap();
            assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
            // Give the closing connection's task a moment, as idle time in production would.
            tokio::task::yield_now().await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 10);
    }
}
