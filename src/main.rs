//! The `stsgate` binary: parses the command line, sets up logging, then runs the proxy or the
//! demo. No request logic lives here.

#[cfg(feature = "demo")]
mod demo;
mod explain;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc: per-thread free lists suit a request's many small, short-lived allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// sysexits' EX_CONFIG: the configuration is unusable.
const EXIT_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(
    name = "stsgate",
    version,
    about = "Token-exchange sidecar: OIDC bearer in, per-user STS session, SigV4-signed Amazon Chime SDK messaging call out"
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, short, global = true, env = stsgate::config::ENV_CONFIG)]
    config: Option<PathBuf>,
    /// Log format: JSON (one object per line, for log shippers) unless stderr is a terminal.
    #[arg(
        long,
        global = true,
        env = "STSGATE_LOG_FORMAT",
        default_value = "auto"
    )]
    log_format: LogFormat,
    /// Set one config key, over the file and STSGATE_<SECTION>_<KEY> variables
    /// (e.g. `--set upstream.region=eu-west-1`); repeatable.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// JSON when stderr is not a terminal, text when it is.
    Auto,
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy (the default when no command is given).
    Run,
    /// Run the proxy with in-process stand-ins for the IdP, STS and Chime: no AWS account needed.
    #[cfg(feature = "demo")]
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        #[arg(long, default_value = "127.0.0.1:9090")]
        admin_listen: std::net::SocketAddr,
        /// The demo chat page (its own origin, so the browser calls stsgate cross-origin).
        #[arg(long, default_value = "127.0.0.1:8081")]
        page_listen: std::net::SocketAddr,
    },
    /// Validate the configuration, print every key with its value and source, and exit.
    #[command(visible_alias = "check-config")]
    Check,
    /// Show what a credential maps to (provider, identity ID, role rules, role, tags, session,
    /// AppInstanceUser, operations) without calling STS.
    Explain {
        /// A JWT; `-` reads it from stdin.
        #[arg(long, conflicts_with = "saml_file")]
        token: Option<String>,
        /// A SAML Response or Assertion (XML, or base64 as clients send it).
        #[arg(long)]
        saml_file: Option<PathBuf>,
        /// Decode the JWT without checking its signature or claims (clearly marked).
        #[arg(long)]
        no_verify: bool,
        /// Print JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command.unwrap_or(Command::Run) {
        // The proxy's runtime is sized by its configuration (`worker_threads`), so that comes first.
        Command::Run => match load(cli.config, cli.set) {
            Ok((settings, layered)) => {
                for name in &layered.unknown_env {
                    tracing::warn!(variable = %name, "names no config key; ignored");
                }
                report(runtime(Some(settings.server.worker_threads)).block_on(run(settings)))
            }
            Err(code) => code,
        },
        command => runtime(None).block_on(tool(command, cli.config, cli.set)),
    }
}

/// tokio's multi-threaded runtime; `None`: one worker per CPU this process may use.
fn runtime(worker_threads: Option<usize>) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = worker_threads {
        builder.worker_threads(n);
    }
    builder.enable_all().build().expect("tokio runtime")
}

/// Every command but `run`.
async fn tool(command: Command, config: Option<PathBuf>, set: Vec<String>) -> ExitCode {
    match command {
        Command::Run => unreachable!("`run` builds its own runtime"),
        #[cfg(feature = "demo")]
        Command::Demo {
            listen,
            admin_listen,
            page_listen,
        } => report(
            demo::run(demo::Listeners {
                proxy: listen,
                admin: admin_listen,
                page: page_listen,
            })
            .await,
        ),
        Command::Explain {
            token,
            saml_file,
            no_verify,
            json,
        } => match load(config, set) {
            Ok((settings, _)) => {
                let r = explain::Request {
                    token,
                    saml_file,
                    no_verify,
                    json,
                };
                explain::run(settings, r).await
            }
            Err(code) => code,
        },
        Command::Check => match load(config, set) {
            Ok((_, layered)) => {
                let text = stsgate::config::layers::describe(&layered);
                // `stsgate check | head` closes stdout early: not worth a panic.
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}configuration is valid");
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    }
}

type Loaded = (stsgate::config::Settings, stsgate::config::layers::Layered);

/// The file at `path` with the environment and `--set` values over it, validated.
fn load(path: Option<PathBuf>, set: Vec<String>) -> Result<Loaded, ExitCode> {
    let Some(path) = path else {
        eprintln!(
            "stsgate: no configuration file; pass --config FILE or set {}",
            stsgate::config::ENV_CONFIG
        );
        return Err(ExitCode::from(EXIT_CONFIG));
    };
    let overlay = stsgate::config::layers::Overlay::from_process(set);
    stsgate::config::load(&path, &overlay).map_err(|e| {
        eprintln!("stsgate: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

async fn run(config: stsgate::config::Settings) -> anyhow::Result<()> {
    let running = stsgate::app::start(config, Default::default()).await?;
    stsgate::shutdown::signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

fn report(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stsgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Dependencies that log secrets below `info` (aws-sigv4's canonical request carries the session
/// token; the SDK runtime can log AssumeRole responses; tungstenite logs the presigned WebSocket
/// URL). They stay capped whatever `RUST_LOG` says.
const SECRET_BEARING_TARGETS: &[&str] = &[
    "aws_sigv4",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_types",
    "aws_runtime",
    "aws_config",
    "aws_sdk_sts",
    "hyper",
    "h2",
    // The upstream WebSocket's URL is presigned: its query carries the session token.
    "tungstenite",
    "tokio_tungstenite",
];

fn init_logging(format: LogFormat) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    for target in SECRET_BEARING_TARGETS {
        filter = filter.add_directive(format!("{target}=info").parse().expect("valid directive"));
    }
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(terminal);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Auto if terminal => builder.init(),
        LogFormat::Auto | LogFormat::Json => builder.json().init(),
    }
}
