//! The transport floor of the whole-proxy load benchmark (`benches/load/run.sh`, issue #14):
//! stsgate's own accept loop and pooled upstream connections, on the same runtime and allocator
//! as the `stsgate` binary, with nothing between them: no authentication, mapping, checks or
//! signing. Each request goes to the upstream as it came, with the upstream's `Host`.
//!
//! What this reaches is the most any stsgate built on hyper and tokio can reach on the same
//! machine, so the benchmark measures stsgate against it as well as against nginx.
//!
//! ```text
//! transport_floor --listen 127.0.0.1:18086 --upstream http://127.0.0.1:18081
//! ```

use bytes::Bytes;
use http::header::HOST;
use http::uri::{Authority, PathAndQuery};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use stsgate::bench::{Http1Pool, Transport, serve};
use stsgate::config::settings::ServerSettings;
use stsgate::http_client::HttpClient;
use stsgate::metrics::Metrics;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TIMEOUT: Duration = Duration::from_secs(10);

struct Floor {
    pool: Http1Pool,
    upstream: Uri,
    host: HeaderValue,
}

impl Floor {
    async fn forward(&self, req: Request<Incoming>) -> Response<stsgate::bench::ProxyBody> {
        let (mut parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let mut uri = self.upstream.clone().into_parts();
        uri.path_and_query = parts.uri.path_and_query().cloned();
        parts.uri = Uri::from_parts(uri).expect("the upstream's scheme and authority, a path");
        parts.headers.insert(HOST, self.host.clone());
        match self
            .pool
            .send(Request::from_parts(parts, body), TIMEOUT)
            .await
        {
            Ok(resp) => resp,
            Err(e) => {
                eprintln!("transport_floor: {e}");
                let mut resp = Response::new(Empty::<Bytes>::new().map_err(|e| match e {}).boxed());
                *resp.status_mut() = StatusCode::BAD_GATEWAY;
                resp
            }
        }
    }
}

fn arg(args: &[String], name: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| {
            panic!("usage: transport_floor --listen ADDR --upstream http://HOST:PORT")
        })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listen: SocketAddr = arg(&args, "--listen").parse().expect("--listen ADDR:PORT");
    let upstream: Uri = arg(&args, "--upstream").parse().expect("--upstream URL");
    let authority = upstream
        .authority()
        .map(Authority::as_str)
        .unwrap_or_default();
    let host = HeaderValue::from_str(authority).expect("--upstream has a host");
    let upstream = Uri::from_parts({
        let mut p = upstream.into_parts();
        p.path_and_query = Some(PathAndQuery::from_static("/"));
        p
    })
    .expect("--upstream is an absolute URL");
    // The same runtime as the stsgate binary: multi-threaded, one worker per usable CPU.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let floor = Arc::new(Floor {
            pool: Http1Pool::new(&HttpClient::new().tls_config(), TIMEOUT),
            upstream,
            host,
        });
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .expect("bind --listen");
        let limits = ServerSettings {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            http2_keepalive: Duration::from_secs(30),
            max_connections: 10_000,
            max_head_buffer: 64 * 1024,
            shutdown_grace: Duration::from_secs(1),
            tls: None,
        };
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let handler = move |req| {
            let floor = floor.clone();
            async move { floor.forward(req).await }
        };
        println!("transport_floor listening on {listen}");
        serve(
            listener,
            handler,
            shutdown,
            limits,
            None,
            Arc::new(Metrics::new()),
        )
        .await;
    });
}
