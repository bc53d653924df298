//! `stsgate::identity::saml`'s scan; the path is relative to `fuzz/src/identity/`.

#[path = "../../../src/identity/saml/scan.rs"]
mod scan;
pub use scan::{Scanned, scan};
