//! What a request is, decided from its method and raw path before anything else, and its
//! `operation` label: one of Chime's 51 operations, `Connect`, or one of stsgate's own.

use super::cors::Cors;
use super::inbound;
use crate::chime::operations::{self, CONNECT, Operation};
use http::{HeaderMap, Method, Uri};

/// `operation` label for requests that match no Chime operation.
pub const UNKNOWN: &str = "unknown";
/// `operation` label for `POST /credentials`.
pub const VEND: &str = "VendCredentials";
/// `operation` label for `GET /me`.
pub const ME: &str = "Me";
/// `operation` label for CORS preflights.
pub const PREFLIGHT: &str = "Preflight";

#[derive(Clone, Copy)]
pub enum Route {
    Api(Option<&'static Operation>),
    /// `GET /connect`: the messaging WebSocket.
    Connect,
    /// `POST /credentials` (when vending is on).
    Vend,
    /// `GET /me`: who the caller is, in the AWS chat sample's terms.
    Me,
    /// A CORS preflight (when `[cors]` is configured).
    Preflight,
    /// A path with a dot or empty segment: refused before it is classified.
    BadPath,
}

impl Route {
    pub fn of(method: &Method, uri: &Uri, headers: &HeaderMap, vending: bool, cors: bool) -> Self {
        match (method, uri.path()) {
            (m, _) if cors && Cors::is_preflight(m, headers) => Route::Preflight,
            (&Method::GET, "/connect") => Route::Connect,
            (&Method::GET, "/me") => Route::Me,
            (&Method::POST, "/credentials") if vending => Route::Vend,
            (_, path) if inbound::check_path(path).is_err() => Route::BadPath,
            _ => Route::Api(operations::classify(method, uri.path(), uri.query())),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Route::Api(Some(op)) => op.name,
            Route::Api(None) | Route::BadPath => UNKNOWN,
            Route::Connect => CONNECT,
            Route::Vend => VEND,
            Route::Me => ME,
            Route::Preflight => PREFLIGHT,
        }
    }
}
