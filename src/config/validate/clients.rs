//! What browsers and stock SDKs need: CORS, session-token mode, the public URL, and the proxy
//! listener's TLS certificate (the Chime JS SDK only speaks `wss://`).

use super::{Problems, check_url};
use crate::config::Config;
use crate::config::settings::{CorsSettings, TlsSettings};
use crate::tls::TlsFiles;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

pub(super) fn cors(c: &Config, p: &mut Problems) -> Option<CorsSettings> {
    let cors = c.cors.as_ref()?;
    let any = cors.allowed_origins.iter().any(|o| o == "*");
    if cors.allowed_origins.is_empty() {
        p.bad(
            "cors.allowed_origins",
            "list at least one origin, or remove [cors]",
        );
    }
    if any && cors.allow_credentials {
        p.bad(
            "cors.allowed_origins",
            "\"*\" cannot be used with allow_credentials = true (browsers refuse it); list origins",
        );
    }
    for o in cors.allowed_origins.iter().filter(|o| *o != "*") {
        if let Err(why) = check_origin(o) {
            p.bad("cors.allowed_origins", why);
        }
    }
    if cors.max_age_seconds > 86_400 {
        p.bad("cors.max_age_seconds", "at most 86400");
    }
    Some(CorsSettings {
        origins: (!any).then(|| cors.allowed_origins.iter().cloned().collect()),
        allow_credentials: cors.allow_credentials,
        max_age: Duration::from_secs(cors.max_age_seconds),
    })
}

/// An origin exactly as a browser sends it: `scheme://host[:port]`, nothing else.
fn check_origin(o: &str) -> Result<(), String> {
    let url = Url::parse(o).map_err(|e| format!("{o:?} is not an origin: {e}"))?;
    // The url crate takes `*` in a host; no browser sends one, so the entry would never match.
    if url.host_str().is_some_and(|h| h.contains('*')) {
        return Err(format!(
            "{o:?}: origins are matched exactly, with no wildcards; list each origin"
        ));
    }
    if url.origin().ascii_serialization() != o {
        return Err(format!(
            "{o:?} is not an origin as browsers send it (scheme://host[:port], no path or slash)"
        ));
    }
    Ok(())
}

/// `host[:port]` of `public_url`, which must be `https` (or `http` on loopback) without a path.
pub(super) fn public_host(c: &Config, p: &mut Problems) -> Option<String> {
    let url = c.public_url.as_ref()?;
    p.check("public_url", check_url(url))?;
    if url.path() != "/" || url.query().is_some() {
        p.bad("public_url", "must be scheme://host[:port] without a path");
    }
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

pub(super) fn tls(c: &Config, p: &mut Problems) -> Option<TlsSettings> {
    let t = c.tls.as_ref()?;
    p.positive(&[("tls.reload_interval_seconds", t.reload_interval_seconds)]);
    let files = TlsFiles {
        cert_file: t.cert_file.clone(),
        key_file: t.key_file.clone(),
        client_ca_file: t.client_ca_file.clone(),
    };
    match files.load() {
        Ok(initial) => Some(TlsSettings {
            files,
            initial: Arc::new(initial),
            reload_interval: Duration::from_secs(t.reload_interval_seconds),
            admin: t.admin,
        }),
        Err(e) => {
            p.bad(e.key, e.why);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::SAMPLE;
    use crate::config::from_toml;

    /// The config error for `SAMPLE` with this `[cors]` table, or "" when it validates.
    fn cors_problems(table: &str) -> String {
        match from_toml(&format!("{SAMPLE}\n[cors]\n{table}\n")) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn any_origin_is_refused_with_credentials() {
        let e = cors_problems("allowed_origins = [\"*\"]\nallow_credentials = true");
        assert!(
            e.contains("cors.allowed_origins") && e.contains("allow_credentials"),
            "{e:?}"
        );
        assert_eq!(cors_problems("allowed_origins = [\"*\"]"), "");
        let e = cors_problems(
            "allowed_origins = [\"https://app.example.com\", \"*\"]\nallow_credentials = true",
        );
        assert!(e.contains("cors.allowed_origins"), "{e:?}");
        assert_eq!(
            cors_problems(
                "allowed_origins = [\"https://app.example.com\"]\nallow_credentials = true"
            ),
            ""
        );
    }

    #[test]
    fn an_origin_is_exactly_what_a_browser_sends() {
        for good in ["https://app.example.com", "http://localhost:3000"] {
            assert_eq!(
                cors_problems(&format!("allowed_origins = [\"{good}\"]")),
                "",
                "{good}"
            );
        }
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/chat",
            "https://app.example.com?x=1",
            "https://APP.example.com",
            "https://*.example.com",
            "null",
            "",
        ] {
            let e = cors_problems(&format!("allowed_origins = [\"{bad}\"]"));
            assert!(
                e.contains("cors.allowed_origins"),
                "{bad:?} accepted: {e:?}"
            );
        }
    }
}
