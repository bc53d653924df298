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
//! `--shape pipe` measures a cheaper shape than stsgate's, to tell how far any hyper/tokio proxy
//! can get here: one current-thread runtime, and each client connection with an upstream
//! connection of its own, both driven by the one task (no pool, no task per upstream connection,
//! no wake-up of another task on the way; none of stsgate's listener limits either).
//!
//! ```text
//! transport_floor --listen 127.0.0.1:18086 --config stsgate.toml [--shape pool|pipe]
//!                 [--runtime multi|current]   (default: multi for pool, current for pipe)
//! ```

use bytes::Bytes;
use http::header::HOST;
use http::uri::Authority;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use stsgate::bench::{Http1Pool, Transport, serve};
use stsgate::http_client::HttpClient;
use stsgate::metrics::Metrics;
use tokio::net::{TcpListener, TcpStream};

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

/// `--shape pipe`: one client connection and its own upstream connection, in one task.
async fn pipe(client: TcpStream, upstream: SocketAddr, host: HeaderValue) -> Result<(), String> {
    let up = TcpStream::connect(upstream)
        .await
        .map_err(|e| e.to_string())?;
    let _ = up.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let (sender, up_conn) = hyper::client::conn::http1::handshake(TokioIo::new(up))
        .await
        .map_err(|e| e.to_string())?;
    // HTTP/1.1 serves one request at a time: the lock is never contended.
    let sender = Arc::new(tokio::sync::Mutex::new(sender));
    let service = service_fn(move |req: Request<Incoming>| {
        let (sender, host) = (sender.clone(), host.clone());
        async move {
            let (mut parts, body) = req.into_parts();
            let body = body.collect().await?.to_bytes();
            parts.uri = parts
                .uri
                .path_and_query()
                .map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
            parts.headers.insert(HOST, host);
            let req = Request::from_parts(parts, Full::new(body));
            sender.lock().await.send_request(req).await
        }
    });
    let served =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(client), service);
    tokio::select! {
        r = served => r.map_err(|e| e.to_string()),
        r = up_conn => r.map_err(|e| e.to_string()),
    }
}

/// `--runtime multi` (stsgate's: one worker per usable CPU) or `current` (one thread).
fn runtime(args: &[String], default: &str) -> tokio::runtime::Runtime {
    let mut builder = match arg(args, "--runtime").as_deref().unwrap_or(default) {
        "multi" => tokio::runtime::Builder::new_multi_thread(),
        "current" => tokio::runtime::Builder::new_current_thread(),
        other => panic!("--runtime {other}: multi or current"),
    };
    builder.enable_all().build().expect("tokio runtime")
}

fn run_pipe(
    runtime: tokio::runtime::Runtime,
    listen: SocketAddr,
    upstream: &Uri,
    host: HeaderValue,
) {
    let port = upstream.port_u16().unwrap_or(80);
    let addr: SocketAddr = format!("{}:{port}", upstream.host().unwrap_or_default())
        .parse()
        .expect("--shape pipe: upstream.endpoint is http://IP:PORT");
    runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await.expect("bind --listen");
        println!("transport_floor (pipe) listening on {listen}");
        loop {
            let Ok((client, _)) = listener.accept().await else {
                continue;
            };
            let host = host.clone();
            tokio::spawn(async move {
                if let Err(e) = pipe(client, addr, host).await {
                    eprintln!("transport_floor: {e}");
                }
            });
        }
    });
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn required(args: &[String], name: &str) -> String {
    arg(args, name).unwrap_or_else(|| {
        panic!(
            "usage: transport_floor --listen ADDR --config STSGATE.TOML \
             [--shape pool|pipe] [--runtime multi|current]"
        )
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listen: SocketAddr = required(&args, "--listen")
        .parse()
        .expect("--listen ADDR:PORT");
    let config = std::fs::read_to_string(required(&args, "--config")).expect("read --config");
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
    match arg(&args, "--shape").as_deref() {
        None | Some("pool") => {}
        Some("pipe") => return run_pipe(runtime(&args, "current"), listen, &upstream, host),
        Some(other) => panic!("--shape {other}: pool or pipe"),
    }
    // By default the same runtime as the stsgate binary.
    let runtime = runtime(&args, "multi");
    runtime.block_on(async move {
        let floor = Arc::new(Floor {
            pool: Http1Pool::new(&HttpClient::new().tls_config(), up.connect_timeout),
            upstream,
            host,
            timeout: up.timeout,
        });
        let listener = TcpListener::bind(listen).await.expect("bind --listen");
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
