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
/// `operation` labels for `POST /guest` and `GET /.well-known/jwks.json`.
pub const GUEST: &str = "IssueGuestToken";
pub const GUEST_KEYS: &str = "GuestKeys";
/// `operation` label for CORS preflights.
pub const PREFLIGHT: &str = "Preflight";

/// The optional routes that are switched on.
#[derive(Clone, Copy)]
pub struct Features {
    pub vending: bool,
    pub cors: bool,
    pub guests: bool,
}

#[derive(Clone, Copy)]
pub enum Route {
    Api(Option<&'static Operation>),
    /// `GET /connect`: the messaging WebSocket.
    Connect,
    /// `POST /credentials` (when vending is on).
    Vend,
    /// `GET /me`: who the caller is, in the AWS chat sample's terms.
    Me,
    /// `POST /guest` (when `[guests]` is configured): a guest token, no credential needed.
    Guest,
    /// `GET /.well-known/jwks.json` (with `[guests]`): the key guest tokens are signed with.
    GuestKeys,
    /// A CORS preflight (when `[cors]` is configured).
    Preflight,
    /// A path with a dot or empty segment: refused before it is classified.
    BadPath,
}

impl Route {
    pub fn of(method: &Method, uri: &Uri, headers: &HeaderMap, on: Features) -> Self {
        match (method, uri.path()) {
            (m, _) if on.cors && Cors::is_preflight(m, headers) => Route::Preflight,
            (&Method::POST, "/guest") if on.guests => Route::Guest,
            (&Method::GET, "/.well-known/jwks.json") if on.guests => Route::GuestKeys,
            (&Method::GET, "/connect") => Route::Connect,
            (&Method::GET, "/me") => Route::Me,
            (&Method::POST, "/credentials") if on.vending => Route::Vend,
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
            Route::Guest => GUEST,
            Route::GuestKeys => GUEST_KEYS,
        }
    }
}
