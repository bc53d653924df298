//! `stsgate::identity`'s front-door files; paths are relative to `fuzz/src/`.

#[path = "../../src/identity/error.rs"]
mod error;
pub use error::IdentityError;

#[path = "../../src/identity/credential.rs"]
pub mod credential;
#[path = "../../src/identity/front_door.rs"]
pub mod front_door;
// Only `parse` is used here; the verifier reads the other fields.
#[path = "../../src/identity/jws.rs"]
#[allow(dead_code)]
mod jws;

pub mod saml;
