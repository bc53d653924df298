//! Chime SDK messaging knowledge: who the caller may act as (`x-amz-chime-bearer`).
//! Pure functions over headers; no I/O, no AWS calls.

mod bearer;

pub use bearer::{BEARER_HEADER, BearerMismatch, bind_bearer};
