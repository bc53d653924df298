//! `stsgate explain`: what one credential maps to (provider, identity ID, each role rule, role,
//! tags, session name, policies, AppInstanceUser, operations), checked as at run time (issuer
//! keys fetched, signature and claims verified) but without calling STS.

use base64::Engine;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use stsgate::clock::SystemClock;
use stsgate::config::Settings;
use stsgate::http_client::HttpClient;
use stsgate::identity::{Authenticator, Principal, inspect_token};
use stsgate::mapping::Mapper;
use stsgate::metrics::Metrics;

/// What to explain.
pub struct Request {
    /// A JWT (`-` reads it from stdin, out of the shell's history).
    pub token: Option<String>,
    /// A SAML Response or Assertion: XML, or base64 as clients send it.
    pub saml_file: Option<PathBuf>,
    /// Decode a JWT without checking its signature or claims.
    pub no_verify: bool,
    pub json: bool,
}

/// 0 when the credential maps, 1 when it is refused.
pub async fn run(settings: Settings, r: Request) -> ExitCode {
    let principal = match principal(&settings, &r).await {
        Ok(p) => p,
        Err(why) => {
            eprintln!("stsgate explain: {why}");
            return ExitCode::FAILURE;
        }
    };
    let e = Mapper::new(&settings.mapping).explain(&principal, &settings.chime.allowed);
    if r.json {
        let mut v = serde_json::to_value(&e).expect("an explanation is JSON");
        v["verified"] = (!r.no_verify).into();
        println!("{}", serde_json::to_string_pretty(&v).expect("JSON"));
    } else {
        if r.no_verify {
            println!("WARNING: --no-verify: the signature and claims were NOT checked");
        }
        print!("{e}");
    }
    if e.refused.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn principal(s: &Settings, r: &Request) -> Result<Arc<Principal>, String> {
    let auth = || {
        let http = HttpClient::with_extra_roots(
            s.upstream.extra_roots.clone(),
            s.upstream.connect_timeout,
        );
        Authenticator::new(
            &s.identity,
            &http,
            Arc::new(SystemClock),
            Arc::new(Metrics::new()),
        )
    };
    let refused = |e: stsgate::identity::IdentityError| format!("401 invalid_token: {e}");
    match (&r.token, &r.saml_file) {
        (Some(t), None) => {
            let token = if t == "-" { stdin_line()? } else { t.clone() };
            if r.no_verify {
                let jws = inspect_token(&token, s.identity.max_token_bytes).map_err(refused)?;
                return Ok(Arc::new(Principal {
                    issuer: jws.issuer,
                    claims: jws.claims,
                    exp: 0,
                    valid_until: 0,
                    derived: Default::default(),
                }));
            }
            auth().authenticate_token(&token).await.map_err(refused)
        }
        (None, Some(path)) => {
            if r.no_verify {
                return Err("--no-verify applies to JWTs only".into());
            }
            let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let text = String::from_utf8_lossy(&raw).trim().to_owned();
            let encoded = if text.starts_with('<') {
                base64::engine::general_purpose::STANDARD.encode(text)
            } else {
                text
            };
            auth().authenticate_saml(&encoded).await.map_err(refused)
        }
        _ => Err("give exactly one of --token and --saml-file".into()),
    }
}

fn stdin_line() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("stdin: {e}"))?;
    Ok(line.trim().to_owned())
}
