//! The proxy stage: accepts client connections, runs each request through the pipeline
//! (authenticate → map → bind bearer → read body → session → sign → forward) and streams the
//! upstream's answer back unchanged.

mod forward;
mod headers;
mod pipeline;
mod server;

pub use forward::Upstream;
pub use pipeline::Gateway;
pub use server::serve;
