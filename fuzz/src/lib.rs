//! stsgate's front door compiled on its own: the modules under `identity` are stsgate's own
//! source files (not copies), arranged in the same module tree, so the fuzz build needs only their
//! few small dependencies instead of the whole gateway (AWS SDK, TLS, xmlsec) and builds in about a
//! minute. If a front-door file starts depending on the rest of stsgate, this crate stops
//! compiling: the front door must stay a pure function of its input.

pub mod identity;
