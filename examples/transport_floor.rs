//! The transport floor of the whole-proxy load benchmark (`benches/load/run.sh`, issue #14):
//! stsgate's own accept loop and pooled upstream connections, on the same runtime and allocator
//! as the `stsgate` binary, with nothing between them: no authentication, mapping, checks or
//! signing. Each request goes to the upstream as it came, with the upstream's `Host`. It reads
//! stsgate's own config file, so that it runs with the same listener limits, upstream endpoint
//! and timeouts as the stsgate it is compared with; only the listen address is its own.
//!
//! What this reaches is the most any stsgate built on hyper and tokio can reach on the same
//! machine, so the benchmark measures stsgate against it as well as against nginx.
//!
//! ```text
//! transport_floor --listen 127.0.0.1:18086 --config stsgate.toml
//! ```

use bytes::Bytes;
use http::header::HOST;
use http::uri::Authority;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use stsgate::bench::{Http1Pool, Transport, serve};
use stsgate::http_client::HttpClient;
use stsgate::metrics::Metrics;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Floor {
    pool: Http1Pool,
    upstream: Uri,
    host: HeaderValue,
    timeout: Duration,
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
            .send(Request::from_parts(parts, body), self.timeout)
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
        .unwrap_or_else(|| panic!("usage: transport_floor --listen ADDR --config STSGATE.TOML"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listen: SocketAddr = arg(&args, "--listen").parse().expect("--listen ADDR:PORT");
    let config = std::fs::read_to_string(arg(&args, "--config")).expect("read --config");
    let settings = stsgate::config::from_toml(&config).expect("a valid stsgate config");
    let up = settings.upstream;
    let upstream: Uri = up
        .endpoint
        .as_str()
        .parse()
        .expect("upstream.endpoint is a URI");
    let authority = upstream
        .authority()
        .map(Authority::as_str)
        .unwrap_or_default();
    let host = HeaderValue::from_str(authority).expect("upstream.endpoint has a host");
    // The same runtime as the stsgate binary: multi-threaded, one worker per usable CPU.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let floor = Arc::new(Floor {
            pool: Http1Pool::new(&HttpClient::new().tls_config(), up.connect_timeout),
            upstream,
            host,
            timeout: up.timeout,
        });
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .expect("bind --listen");
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
            settings.server,
            None,
            Arc::new(Metrics::new()),
        )
        .await;
    });
}
