//! The fixture of the whole-proxy load benchmark (`benches/load/run.sh`): starts the IdP and STS
//! stand-ins on loopback for a separate `stsgate` process, writes what that process and the load
//! generator need into one directory, then runs until killed.
//!
//! ```text
//! stsgate-bench-fixture --dir DIR --upstream http://127.0.0.1:PORT \
//!     [--users 50] [--listen 127.0.0.1:8080] [--admin-listen 127.0.0.1:9090]
//!     [--session-token-chars N]
//! ```
//!
//! `--session-token-chars` sets the length of the session tokens the STS stand-in issues (its
//! default is a short 137): real ones vary and run to a thousand characters or more, and SigV4
//! copies and hashes the token on every request.
//!
//! It writes, each file atomically, `ready` last:
//! - `stsgate.toml`: the stand-ins' config ([`StandIns::config_toml`]) with `upstream.endpoint`
//!   set to `--upstream` (the benchmark's fast upstream, not the Chime stand-in);
//! - `aws.env`: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, the base keys the STS stand-in
//!   trusts, for stsgate's standard AWS credential chain (the demo hands the same keys over in
//!   process);
//! - `tokens.txt`: one RS256 ID token a line, for `user0` … `user{N-1}`, valid for a day;
//! - `request-path`: `/channels/{demo channel ARN, encoded as the SDKs do}/messages`, a channel of
//!   the configured AppInstance (stsgate refuses others with 403);
//! - `sts-calls`: how many AssumeRole calls the STS stand-in has accepted so far (rewritten as it
//!   changes), so the benchmark can check that each user cost exactly one and the measured runs
//!   none.
//!
//! The STS stand-in checks every AssumeRole signature with [`ResigningCheck`], as the demo does:
//! a call stsgate signed wrongly is refused, the session is not made and the benchmark's warm-up
//! fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use stsgate_standins::idp::RSA_KID;
use stsgate_standins::sigv4_check::ResigningCheck;
use stsgate_standins::sts::StsBehaviour;
use stsgate_standins::{AUDIENCE, StandIns, demo_channel_arn, encode_label};

/// How long the tokens stay valid: far longer than any benchmark run.
const TOKEN_LIFETIME_SECONDS: u64 = 24 * 3600;

struct Args {
    dir: PathBuf,
    upstream: String,
    users: usize,
    listen: SocketAddr,
    admin_listen: SocketAddr,
    session_token_chars: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut dir = None;
    let mut upstream = None;
    let mut users = 50;
    let mut listen: SocketAddr = "127.0.0.1:8080".parse().expect("literal address");
    let mut admin_listen: SocketAddr = "127.0.0.1:9090".parse().expect("literal address");
    let mut session_token_chars = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--dir" => dir = Some(PathBuf::from(value()?)),
            "--upstream" => upstream = Some(value()?),
            "--users" => {
                users = value()?
                    .parse()
                    .map_err(|e| format!("--users: {e}"))
                    .and_then(|n: usize| {
                        if n == 0 {
                            Err("--users must be at least 1".to_owned())
                        } else {
                            Ok(n)
                        }
                    })?
            }
            "--listen" => listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--admin-listen" => {
                admin_listen = value()?
                    .parse()
                    .map_err(|e| format!("--admin-listen: {e}"))?
            }
            "--session-token-chars" => {
                session_token_chars = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--session-token-chars: {e}"))?,
                )
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(Args {
        dir: dir.ok_or("--dir is required")?,
        upstream: upstream.ok_or("--upstream is required")?,
        users,
        listen,
        admin_listen,
        session_token_chars,
    })
}

/// Writes `contents` to `dir/name` through a temporary file and a rename, so a reader never sees
/// half a file.
fn write_atomically(dir: &Path, name: &str, contents: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// The stand-ins' config, pointed at the benchmark's upstream. The STS rate bound is raised from
/// its default (50 calls/s, sized for real STS quotas) so that warming 1,000 users takes about a
/// second rather than twenty; the stand-in STS has no quota. Shutdown grace is short so that the
/// benchmark stops promptly.
fn stsgate_config(standins: &StandIns, args: &Args) -> Result<String, String> {
    let toml = standins.config_toml(args.listen, args.admin_listen);
    let chime = format!("endpoint = \"{}\"\n", standins.chime.endpoint());
    if !toml.contains(&chime) {
        return Err("the stand-ins' config has no upstream endpoint line to replace".into());
    }
    let toml = toml
        .replacen(&chime, &format!("endpoint = \"{}\"\n", args.upstream), 1)
        .replacen("[sts]\n", "[sts]\nmax_calls_per_second = 1000\n", 1);
    Ok(format!("shutdown_grace_seconds = 2\n{toml}"))
}

fn tokens(standins: &StandIns, users: usize) -> String {
    let mut out = String::new();
    for i in 0..users {
        let mut claims = standins.idp.claims_for(&format!("user{i}"), AUDIENCE);
        let iat = claims["iat"].as_u64().unwrap_or_default();
        claims["exp"] = (iat + TOKEN_LIFETIME_SECONDS).into();
        out.push_str(&standins.idp.sign(RSA_KID, &claims));
        out.push('\n');
    }
    out
}

async fn run(args: Args) -> Result<(), String> {
    let io = |what: &str| {
        let what = what.to_owned();
        move |e: std::io::Error| format!("{what}: {e}")
    };
    std::fs::create_dir_all(&args.dir).map_err(io("creating --dir"))?;
    let standins = StandIns::start(Arc::new(ResigningCheck))
        .await
        .map_err(io("starting the stand-ins"))?;
    standins.sts.set_behaviour(StsBehaviour {
        session_token_chars: args.session_token_chars,
        ..Default::default()
    });
    let key = &standins.base_credentials;
    let files = [
        ("stsgate.toml", stsgate_config(&standins, &args)?),
        (
            "aws.env",
            format!(
                "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n",
                key.access_key_id(),
                key.secret_access_key()
            ),
        ),
        ("tokens.txt", tokens(&standins, args.users)),
        (
            "request-path",
            format!("/channels/{}/messages\n", encode_label(&demo_channel_arn())),
        ),
        ("sts-calls", "0\n".to_owned()),
    ];
    for (name, contents) in &files {
        write_atomically(&args.dir, name, contents).map_err(io(name))?;
    }
    write_atomically(&args.dir, "ready", "").map_err(io("ready"))?;
    println!(
        "stsgate-bench-fixture: IdP {issuer}, STS {sts}; wrote {dir}/{{stsgate.toml, aws.env, \
         tokens.txt ({users} users), request-path, sts-calls, ready}}; stsgate will listen on \
         {listen} (admin {admin}) and forward to {upstream}",
        issuer = standins.idp.issuer,
        sts = standins.sts.endpoint(),
        dir = args.dir.display(),
        users = args.users,
        listen = args.listen,
        admin = args.admin_listen,
        upstream = args.upstream,
    );

    // Until killed: keep `sts-calls` current.
    let mut written = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let calls = standins.sts.calls().len();
        if calls != written {
            write_atomically(&args.dir, "sts-calls", &format!("{calls}\n"))
                .map_err(io("sts-calls"))?;
            written = calls;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("stsgate-bench-fixture: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stsgate-bench-fixture: {e}");
            ExitCode::FAILURE
        }
    }
}
