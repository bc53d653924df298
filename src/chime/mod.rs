//! Chime SDK messaging knowledge: the 51 operations and how to recognise each (`operations`),
//! who the caller may act as (`x-amz-chime-bearer` and `app-instance-user-arn`), and the facts of
//! the messaging WebSocket. Pure functions; no I/O, no AWS calls.

mod bearer;
pub mod messaging_session;
pub mod operations;
pub mod request;

pub use bearer::{BEARER_HEADER, BearerMismatch, BearerMode, bind_bearer, check_user_arn_query};
