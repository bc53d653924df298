//! The listeners and the request path's own limits.

use super::Problems;
use crate::config::Config;
use crate::config::settings::ProxySettings;

pub(super) fn proxy(c: &Config, p: &mut Problems) -> ProxySettings {
    // Port 0 asks the OS for a free port, so two zeros never collide.
    if c.listen == c.admin_listen && c.listen.port() != 0 {
        p.bad("admin_listen", "must differ from listen");
    }
    if c.max_token_bytes < 64 {
        p.bad("max_token_bytes", "must be at least 64");
    }
    if c.max_saml_bytes < 64 {
        p.bad("max_saml_bytes", "must be at least 64");
    }
    if c.max_body_bytes == 0 {
        p.bad("max_body_bytes", "must be greater than 0");
    }
    ProxySettings {
        max_body_bytes: c.max_body_bytes,
        vending: c.vending.enabled,
    }
}
