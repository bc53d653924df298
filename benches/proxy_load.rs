//! Load benchmark of the whole proxy. The same in-process client sends the same requests to a
//! trivial echo upstream directly (the baseline) and through stsgate (token validation, warm
//! session cache, SigV4 signing, forwarding). Prints throughput and latency of both and their
//! ratio, so the number is comparable across machines.
//!
//! `cargo bench --bench proxy_load`; knobs: REQUESTS, CONCURRENCY, USERS.

mod common;

use bytes::Bytes;
use common::{Run, env_or, full_run, ms, report};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Instant;
use stsgate_standins::sigv4_check::ResigningCheck;
use stsgate_standins::{AUDIENCE, StandIns};
use tokio::net::TcpListener;
use tokio::sync::watch;

async fn echo_upstream() -> (String, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = watch::channel(false);
    tokio::spawn(stsgate_standins::http::serve(
        listener,
        |_req: Request<hyper::body::Incoming>| async {
            Response::new(Full::new(Bytes::from_static(br#"{"ChannelMessages":[]}"#)))
        },
        rx,
    ));
    (format!("http://{addr}"), tx)
}

async fn drive(url: String, tokens: Arc<Vec<String>>, requests: usize, concurrency: usize) -> Run {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let started = Instant::now();
    let per_worker = requests / concurrency;
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (client, url, tokens) = (client.clone(), url.clone(), tokens.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_worker);
                for i in 0..per_worker {
                    let token = &tokens[(w * per_worker + i) % tokens.len()];
                    let req = Request::get(&url)
                        .header("authorization", format!("Bearer {token}"))
                        .body(Full::new(Bytes::new()))
                        .unwrap();
                    let t = Instant::now();
                    let resp = client.request(req).await.expect("request");
                    assert!(resp.status().is_success(), "status {}", resp.status());
                    resp.into_body().collect().await.unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(requests);
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    Run {
        elapsed: started.elapsed(),
        latencies,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let full = full_run();
    let requests = env_or("REQUESTS", if full { 20_000 } else { 200 });
    let concurrency = env_or("CONCURRENCY", 32);
    let users = env_or("USERS", 100);

    let standins = StandIns::start(Arc::new(ResigningCheck)).await.unwrap();
    let (upstream, _stop) = echo_upstream().await;
    let any = "127.0.0.1:0".parse().unwrap();
    let toml = standins
        .config_toml(any, any)
        .replacen(&standins.chime.endpoint(), &upstream, 1);
    let gateway = stsgate::app::start(
        stsgate::config::from_toml(&toml).unwrap(),
        stsgate::app::Overrides::with_base_credentials(standins.base_credentials.clone()),
    )
    .await
    .unwrap();
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..users)
            .map(|i| standins.idp.token_for(&format!("user{i}"), AUDIENCE))
            .collect(),
    );
    // A channel of the configured AppInstance (stsgate refuses others).
    let path = format!(
        "/channels/{}/messages",
        stsgate_standins::encode_label(&stsgate_standins::demo_channel_arn())
    );

    // Warm-up: keys loaded, every user's session cached.
    drive(
        format!("http://{}{path}", gateway.proxy_addr),
        tokens.clone(),
        users.max(concurrency),
        concurrency,
    )
    .await;

    println!(
        "proxy load: {requests} GETs, {concurrency} concurrent, {users} users (sessions warm)"
    );
    let mut direct = drive(
        format!("{upstream}{path}"),
        tokens.clone(),
        requests,
        concurrency,
    )
    .await;
    let mut proxied = drive(
        format!("http://{}{path}", gateway.proxy_addr),
        tokens,
        requests,
        concurrency,
    )
    .await;
    let (d_rps, d_p50) = report("direct", "req", &mut direct);
    let (p_rps, p_p50) = report("stsgate", "req", &mut proxied);
    println!(
        "ratio     throughput {:.2}x of direct, p50 latency {:.2}x of direct (+{} per request)",
        p_rps / d_rps,
        p_p50.as_secs_f64() / d_p50.as_secs_f64(),
        ms(p_p50.saturating_sub(d_p50))
    );
    gateway.shutdown().await;
}
