//! The proxy stage: accepts client connections, runs each request through the pipeline
//! (route → authenticate → map → allow → bind caller → read body → session → sign → forward),
//! streams the upstream's answer back unchanged, and bridges the messaging WebSocket.
//!
//! - `gateway.rs`: the pipeline over a request, with its [`Stages`] injected; `route.rs`: what a
//!   request is; `api.rs`: Chime's REST operations; `connect.rs`: the WebSocket's checks;
//!   `local.rs`: what stsgate answers itself (`/me`, vending, the session endpoint); `cors.rs`:
//!   CORS for browsers.
//! - `inbound.rs`: what a client request may look like (path, `Connection`, content type, the
//!   forwarded headers); `body.rs`: the buffered request body; `headers.rs`: hop-by-hop rules.
//! - `forward.rs`: the upstream request and its [`Transport`]; `upstream_pool.rs`: the pooled
//!   HTTP/1.1 connections to Chime that production forwards over.
//! - `websocket.rs`: the `/connect` bridge; `server.rs`: the accept loop.

mod access_log;
mod api;
mod body;
mod connect;
mod cors;
mod forward;
mod gateway;
mod headers;
mod inbound;
mod local;
mod route;
mod server;
#[cfg(test)]
mod tests;
mod upstream_pool;
pub mod websocket;

pub use forward::{Transport, Upstream};
pub use gateway::{Gateway, Stages};
pub use server::serve;
pub use upstream_pool::Http1Pool;
