//! stsgate: a token-exchange sidecar for the Amazon Chime SDK messaging API.
//!
//! Clients send ordinary Chime REST calls with an OIDC token or a SAML assertion (as a bearer
//! token, or as the session token of a stock AWS SDK); stsgate swaps that identity for a per-user
//! STS session and forwards the call signed with SigV4, and bridges the messaging WebSocket.
//!
//! # Layout, in request order
//! - [`config`]: the TOML file, its defaults, and validation into typed [`config::Settings`].
//! - the front door (`crates/front-door`, re-exported by [`identity`]): where the credential is,
//!   and every check before a key is used.
//! - [`identity`]: credential → [`identity::Principal`] (JWKS or IdP certificates, signature,
//!   claims), the `Verify` stage.
//! - [`mapping`]: principal → [`mapping::SessionSpec`] (role, session name, session tags, the
//!   caller's AppInstanceUser).
//! - [`broker`]: the per-user STS session cache (moka) and the STS client, the `Sessions` stage.
//! - [`chime`]: Chime messaging knowledge: operations, what a call may carry, bearer binding.
//! - [`signing`]: SigV4 with aws-sigv4.
//! - `proxy`: the pipeline by route, CORS, the upstream `Transport`, the WebSocket bridge, the
//!   accept loop with its limits; [`tls`]: the listeners' certificates, reloaded when they change.
//! - [`metrics`], `admin`: Prometheus metrics and the admin listener.
//! - `error`: every failure and its client response (status, code, Chime exception, close code).
//! - [`app`]: assembly; [`shutdown`]: the stop signal.
//!
//! The stand-ins for the IdP, STS and Chime that `stsgate demo` and the tests use are their own
//! crate (`crates/standins`), which this library never depends on.
#![forbid(unsafe_code)]

/// The future type of the stage traits ([`identity::Verify`], [`broker::Sessions`], the proxy's
/// `Transport`, [`broker::StsClient`]): object-safe, so tests can swap in stubs.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

mod admin;
pub mod app;
mod arn;
pub mod broker;
pub mod chime;
pub mod clock;
pub mod config;
mod error;
pub mod guests;
pub mod http_client;
pub mod identity;
pub mod mapping;
pub mod metrics;
mod proxy;
mod rate;
pub mod shutdown;
pub mod signing;
pub mod tls;

/// What `benches/handler.rs` drives: the in-process handler with its stages injected, and what
/// `examples/transport_floor.rs` is built from: the accept loop and the upstream pool alone. Not
/// a stable API (the proxy is private): it exists so the benchmarks run production code.
#[doc(hidden)]
pub mod bench {
    pub use crate::error::ProxyBody;
    pub use crate::proxy::{Gateway, Http1Pool, Stages, Transport, serve};
}
