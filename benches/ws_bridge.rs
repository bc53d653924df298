//! The messaging WebSocket bridge under load (issue #14: "no regression on the WebSocket
//! bridge"). The same tungstenite client talks to the Chime stand-in's `/connect` directly (the
//! baseline, with a URL presigned here) and through stsgate (token check, cached session,
//! GetMessagingSessionEndpoint, presigning, the upstream connect, then the relay), and prints
//! both and their ratio:
//!
//! - **connect**: CONNECTS sockets opened one after another, each until SESSION_ESTABLISHED,
//!   then closed;
//! - **relay**: SOCKETS sockets open at once (one user each), each sending ROUND_TRIPS text
//!   frames of FRAME_BYTES and waiting for each echo (the stand-in echoes client frames);
//! - **memory**: IDLE_SOCKETS sockets left open, first directly, then as many through stsgate on
//!   top: the growth of this process's live heap per socket in each case (counted by the
//!   allocator below; RSS would add the allocator's own slack), and the difference, which is what
//!   stsgate holds per bridged socket (plus the stand-in's record of the extra request).
//!
//! `cargo bench --bench ws_bridge`; under `cargo test` a small smoke run.

mod common;

use common::{Run, env_or, full_run, ms, report};
use futures_util::{SinkExt, StreamExt};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};
use stsgate::signing::{Identity, Signer};
use stsgate_standins::sigv4_check::ResigningCheck;
use stsgate_standins::standin::IssuedCredential;
use stsgate_standins::{APP_INSTANCE_ARN, AUDIENCE, REGION, StandIns, USER_ID_TAG};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The system allocator, counting the bytes allocated and not yet freed.
struct LiveBytes;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: LiveBytes = LiveBytes;

fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Where a client's sockets go: stsgate (the user's bearer token) or the stand-in itself.
#[derive(Clone)]
enum Target {
    Proxy {
        addr: String,
        tokens: Arc<Vec<String>>,
    },
    Direct {
        host: String,
        identity: Identity,
    },
}

impl Target {
    /// Opens user `i`'s socket and waits for SESSION_ESTABLISHED.
    async fn open(&self, i: usize) -> Socket {
        let req = match self {
            Target::Proxy { addr, tokens } => {
                let mut req = format!("ws://{addr}/connect?sessionId=bench-{i}")
                    .into_client_request()
                    .unwrap();
                let bearer = format!("Bearer {}", tokens[i % tokens.len()]);
                req.headers_mut()
                    .insert("authorization", bearer.parse().unwrap());
                req
            }
            Target::Direct { host, identity } => {
                let session = format!("bench-{i}");
                let user_arn = format!("{APP_INSTANCE_ARN}/user/{DIRECT_USER}");
                let params = [("sessionId", session.as_str()), ("userArn", &user_arn)];
                let query = Signer::new(REGION)
                    .presign_connect(host, &params, identity, SystemTime::now())
                    .unwrap();
                format!("ws://{host}/connect?{query}")
                    .into_client_request()
                    .unwrap()
            }
        };
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("open");
        let first = next_text(&mut ws).await;
        assert!(first.contains("SESSION_ESTABLISHED"), "{first}");
        ws
    }
}

/// The one user of the direct baseline's sockets (its credential's user tag).
const DIRECT_USER: &str = "user0";

async fn next_text(ws: &mut Socket) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

async fn close(mut ws: Socket) {
    ws.close(None).await.ok();
    while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {}
}

/// `count` sockets opened and closed one after another.
async fn connects(target: &Target, count: usize) -> Run {
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        let t = Instant::now();
        let ws = target.open(i).await;
        latencies.push(t.elapsed());
        close(ws).await;
    }
    Run {
        elapsed: started.elapsed(),
        latencies,
    }
}

/// `sockets` sockets at once, each echoing `round_trips` frames of `frame` one at a time.
async fn relay(target: &Target, sockets: usize, round_trips: usize, frame: Arc<str>) -> Run {
    let open = open_many(target, sockets).await;
    let started = Instant::now();
    let workers: Vec<_> = open
        .into_iter()
        .map(|mut ws| {
            let frame = frame.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(round_trips);
                for _ in 0..round_trips {
                    let t = Instant::now();
                    ws.send(Message::text(&*frame)).await.expect("send");
                    let echo = next_text(&mut ws).await;
                    lat.push(t.elapsed());
                    assert_eq!(echo.len(), frame.len());
                }
                close(ws).await;
                lat
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(sockets * round_trips);
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    Run {
        elapsed: started.elapsed(),
        latencies,
    }
}

/// `count` sockets opened one after another and left open.
async fn open_many(target: &Target, count: usize) -> Vec<Socket> {
    let mut open = Vec::with_capacity(count);
    for i in 0..count {
        open.push(target.open(i).await);
    }
    open
}

fn ratio(what: &str, direct: (f64, Duration), proxied: (f64, Duration)) {
    println!(
        "{what}: stsgate / direct {:.2}x the rate, p50 +{}",
        proxied.0 / direct.0,
        ms(proxied.1.saturating_sub(direct.1))
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let full = full_run();
    let connect_count = env_or("CONNECTS", if full { 2_000 } else { 20 });
    let sockets = env_or("SOCKETS", if full { 64 } else { 4 });
    let round_trips = env_or("ROUND_TRIPS", if full { 500 } else { 20 });
    let frame: Arc<str> = "x".repeat(env_or("FRAME_BYTES", 512)).into();
    let idle_sockets = env_or("IDLE_SOCKETS", if full { 1_000 } else { 20 });

    let standins = StandIns::start(Arc::new(ResigningCheck)).await.unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let gateway = stsgate::app::start(
        stsgate::config::from_toml(&standins.config_toml(any, any)).unwrap(),
        stsgate::app::Overrides::with_base_credentials(standins.base_credentials.clone()),
    )
    .await
    .unwrap();
    // Enough users that none reaches stsgate's cap on open sockets (10 by default).
    let users = sockets.max(idle_sockets.div_ceil(8)).max(1);
    let proxy = Target::Proxy {
        addr: gateway.proxy_addr.to_string(),
        tokens: Arc::new(
            (0..users)
                .map(|i| standins.idp.token_for(&format!("user{i}"), AUDIENCE))
                .collect(),
        ),
    };
    // The baseline's own session credential, as the STS stand-in would have issued it.
    let (access_key, secret, token) = ("ASIABENCHDIRECT", "bench-secret", "bench-token");
    standins.store.insert(
        access_key.into(),
        IssuedCredential {
            secret: secret.into(),
            session_token: Some(token.into()),
            tags: vec![(USER_ID_TAG.into(), DIRECT_USER.into())],
            expires_at: None,
        },
    );
    let direct = Target::Direct {
        host: standins.chime.addr.to_string(),
        identity: aws_credential_types::Credentials::new(
            access_key,
            secret,
            Some(token.into()),
            None,
            "bench",
        )
        .into(),
    };

    // Warm-up: signing keys loaded, every user's token checked and session cached.
    for target in [&direct, &proxy] {
        relay(target, users, 2, frame.clone()).await;
    }

    println!(
        "WebSocket bridge: {connect_count} connects; {sockets} sockets x {round_trips} round trips \
         of {} B",
        frame.len()
    );
    let d = report(
        "direct connect",
        "opens",
        &mut connects(&direct, connect_count).await,
    );
    let p = report(
        "stsgate connect",
        "opens",
        &mut connects(&proxy, connect_count).await,
    );
    ratio("connect", d, p);
    let d = report(
        "direct relay",
        "frames",
        &mut relay(&direct, sockets, round_trips, frame.clone()).await,
    );
    let p = report(
        "stsgate relay",
        "frames",
        &mut relay(&proxy, sockets, round_trips, frame.clone()).await,
    );
    ratio("relay", d, p);

    let before = live_bytes();
    let direct_open = open_many(&direct, idle_sockets).await;
    let with_direct = live_bytes();
    let proxied_open = open_many(&proxy, idle_sockets).await;
    let with_both = live_bytes();
    let per_socket = |bytes: usize| bytes as f64 / idle_sockets as f64 / 1024.0;
    let (d, p) = (
        per_socket(with_direct.saturating_sub(before)),
        per_socket(with_both.saturating_sub(with_direct)),
    );
    println!(
        "heap, {idle_sockets} idle sockets: direct +{d:.1} KiB each, through stsgate +{p:.1} KiB \
         each: stsgate holds {:.1} KiB per bridged socket",
        p - d
    );
    // A count of bytes, not a time: with tungstenite's default buffers it was 272.6 KiB.
    assert!(
        p - d < 100.0,
        "stsgate holds {:.1} KiB per idle bridged socket",
        p - d
    );
    for ws in direct_open.into_iter().chain(proxied_open) {
        close(ws).await;
    }
    gateway.shutdown().await;
}
