//! The proxy stage: accepts client connections, runs each request through the pipeline
//! (route → authenticate → map → allow → bind caller → read body → session → sign → forward),
//! streams the upstream's answer back unchanged, and bridges the messaging WebSocket.

mod forward;
mod headers;
mod pipeline;
mod server;
pub mod websocket;

pub use forward::Upstream;
pub use pipeline::Gateway;
pub use server::serve;
