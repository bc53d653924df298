//! stsgate: a token-exchange sidecar for the Amazon Chime SDK messaging API.
//!
//! Clients send ordinary Chime REST calls with an OIDC bearer token; stsgate swaps that identity
//! for a per-user STS session and forwards the call signed with SigV4.
//!
//! # Layout, in request order
//! - [`config`]: the TOML file, its defaults and validation.
//! - [`identity`]: bearer token → [`identity::Principal`] (JWKS, signature, claims).
//! - [`mapping`]: principal → [`mapping::SessionSpec`] (role, session name, session tags) and the
//!   caller's AppInstanceUser ARN.
//! - [`broker`]: the per-user STS session cache (moka) and the STS client.
//! - [`chime`]: Chime messaging knowledge (bearer binding).
//! - [`signing`]: SigV4 with aws-sigv4.
//! - [`proxy`]: the pipeline, the upstream client and the accept loop.
//! - [`metrics`], [`admin`]: Prometheus metrics and the admin listener.
//! - [`error`]: every failure and its client response, in one place.
//! - [`app`]: assembly; [`shutdown`]: the stop signal.
//!
//! The stand-ins for the IdP, STS and Chime that `stsgate demo` and the tests use are their own
//! crate (`crates/standins`), which this library never depends on.
#![forbid(unsafe_code)]

/// The future type of the stage traits ([`identity::Verify`], [`broker::Sessions`],
/// [`proxy::Transport`], [`broker::StsClient`]): object-safe, so tests can swap in stubs.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub mod admin;
pub mod app;
pub mod arn;
pub mod broker;
pub mod chime;
pub mod clock;
pub mod config;
pub mod error;
pub mod http_client;
pub mod identity;
pub mod mapping;
pub mod metrics;
pub mod proxy;
pub mod shutdown;
pub mod signing;
