//! The demo's chat page (`assets/chat.html`, plain HTML and JavaScript) on its own origin, with
//! the `config.json` it reads: where stsgate is, the demo channel, and alice's and bob's OIDC
//! tokens. The page talks to stsgate cross-origin, so the demo shows CORS at work too.

use crate::http::{Body, json_response, serve};
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

const PAGE: &str = include_str!("../assets/chat.html");

pub struct ChatPage {
    pub addr: SocketAddr,
    _shutdown: watch::Sender<bool>,
}

impl ChatPage {
    /// Serves the page on `listener` with `config` as its `config.json`.
    pub fn start(listener: TcpListener, config: serde_json::Value) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(false);
        let config = Arc::new(config);
        tokio::spawn(serve(
            listener,
            move |req| {
                let config = config.clone();
                async move { page(req, &config) }
            },
            rx,
        ));
        Ok(ChatPage {
            addr,
            _shutdown: tx,
        })
    }

    /// The page's origin, as a browser names it (what stsgate's `[cors]` must allow).
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn page(req: Request<Incoming>, config: &serde_json::Value) -> Response<Body> {
    match req.uri().path() {
        "/" | "/index.html" => {
            let mut r = Response::new(Body::from(PAGE));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
        "/config.json" => {
            let mut r = json_response(StatusCode::OK, config);
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "not_found"}),
        ),
    }
}
