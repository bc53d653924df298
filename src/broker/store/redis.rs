//! [`Backend`] on Redis, Valkey or Redis Cluster (redis-rs): plain TCP or TLS (`rediss://`, over
//! rustls), connected lazily so stsgate starts while the store is down, and reconnected by the
//! client itself. Compare-and-set steps are Lua scripts, each on one key (cluster-safe).

use super::{Backend, BackendError, BoxFuture};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{Client, Cmd, FromRedisValue, Pipeline, RedisFuture, Script, TlsCertificates, Value};
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::OnceCell;

/// How to reach the store. `Debug` never shows the URL (it may carry a password).
#[derive(Clone)]
pub struct RedisTarget {
    /// `redis://`, `rediss://`, `valkey://` or `valkeys://` (one seed node for a cluster).
    pub url: String,
    pub cluster: bool,
    /// PEM roots for `rediss://` with a private CA; else the system's and webpki's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Response timeout of the client itself (each call has the same outside).
    pub timeout: Duration,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("cluster", &self.cluster)
            .field("private_ca", &self.ca_pem.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Time allowed to connect (TCP, TLS, a cluster's slot map): longer than one call may wait, so a
/// first connection made in the background is never cut short by a request's timeout.
fn connect_timeout(t: &RedisTarget) -> Duration {
    (t.timeout * 10).max(Duration::from_secs(2))
}

pub struct RedisBackend {
    conn: Conn,
}

enum Conn {
    Single(ConnectionManager),
    Cluster(Box<(ClusterClient, OnceCell<ClusterConnection>)>),
}

/// A connection handle for one call (both kinds are cheap clones of a shared connection).
enum Handle {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl RedisBackend {
    /// Builds the client without connecting. Fails only on a URL or CA redis-rs cannot use
    /// (validation has checked both).
    pub fn new(t: &RedisTarget) -> Result<Self, String> {
        let tls = |ca: &Option<Vec<u8>>| TlsCertificates {
            client_tls: None,
            root_cert: ca.clone(),
        };
        let conn = if t.cluster {
            let mut b = ClusterClientBuilder::new(vec![t.url.as_str()])
                .connection_timeout(connect_timeout(t))
                .response_timeout(t.timeout)
                .retries(1);
            if t.ca_pem.is_some() {
                b = b.certs(tls(&t.ca_pem));
            }
            Conn::Cluster(Box::new((
                b.build().map_err(|e| e.to_string())?,
                OnceCell::new(),
            )))
        } else {
            let client = match &t.ca_pem {
                Some(_) => Client::build_with_tls(t.url.as_str(), tls(&t.ca_pem)),
                None => Client::open(t.url.as_str()),
            }
            .map_err(|e| e.to_string())?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(connect_timeout(t)))
                .set_response_timeout(Some(t.timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_secs(2));
            Conn::Single(
                ConnectionManager::new_lazy_with_config(client, config)
                    .map_err(|e| e.to_string())?,
            )
        };
        Ok(RedisBackend { conn })
    }

    /// Connects (a cluster: discovers its slots) in a task of its own, retrying until it works,
    /// so no request waits for the first connection and none can cut it short.
    pub fn connect_in_background(self: std::sync::Arc<Self>) {
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(200);
            loop {
                let mut ping = redis::cmd("PING");
                ping.arg("stsgate");
                if self.query::<String>(ping).await.is_ok() {
                    return;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        });
    }

    async fn handle(&self) -> Result<Handle, BackendError> {
        match &self.conn {
            Conn::Single(m) => Ok(Handle::Single(m.clone())),
            Conn::Cluster(c) => {
                c.1.get_or_try_init(|| c.0.get_async_connection())
                    .await
                    .map(|c| Handle::Cluster(c.clone()))
                    .map_err(error)
            }
        }
    }

    async fn query<T: FromRedisValue>(&self, cmd: Cmd) -> Result<T, BackendError> {
        let mut h = self.handle().await?;
        cmd.query_async(&mut h).await.map_err(error)
    }

    async fn script<T: FromRedisValue>(
        &self,
        script: &Script,
        key: &str,
        args: &[&[u8]],
    ) -> Result<T, BackendError> {
        let mut h = self.handle().await?;
        let mut inv = script.key(key);
        for a in args {
            inv.arg(*a);
        }
        inv.invoke_async(&mut h).await.map_err(error)
    }
}

/// The error's kind and code only: a redis-rs error can quote the command, and so a value.
/// Unreachable: the connection failed, dropped or timed out; else the server answered.
fn error(e: redis::RedisError) -> BackendError {
    BackendError {
        unreachable: e.is_io_error()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_timeout()
            || e.is_unrecoverable_error(),
        detail: format!(
            "{:?}{}",
            e.kind(),
            e.code().map(|c| format!(" {c}")).unwrap_or_default()
        ),
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().clamp(1, u64::MAX as u128) as u64
}

/// Extends a lease only while its holder's token is in it.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then \
           return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
    )
});

/// Deletes a lease only while its holder's token is in it.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then \
           return redis.call('DEL', KEYS[1]) else return 0 end",
    )
});

/// A reserving GCRA rate on one key, timed by the server's clock (no replica's clock matters):
/// the key holds the theoretical arrival time in µs; one second of burst. Each caller reserves
/// the next slot and is told how long to wait for it (µs, 0: now), so waiters are served in
/// order without polling; one that would wait past ARGV[2] µs reserves nothing (-1).
static RATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        "local t = redis.call('TIME') \
         local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) \
         local interval = 1000000 / tonumber(ARGV[1]) \
         local burst = 1000000 - interval \
         local tat = tonumber(redis.call('GET', KEYS[1])) or now \
         if tat < now then tat = now end \
         local wait = tat - now - burst \
         if wait < 0 then wait = 0 end \
         if wait > tonumber(ARGV[2]) then return -1 end \
         local next = tat + interval \
         redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000) + 1000) \
         return math.ceil(wait)",
    )
});

impl Backend for RedisBackend {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BackendError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("GET");
            cmd.arg(name);
            self.query(cmd).await
        })
    }

    fn put<'a>(
        &'a self,
        name: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(name).arg(value).arg("PX").arg(millis(ttl));
            self.query(cmd).await
        })
    }

    fn lease<'a>(
        &'a self,
        name: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(name)
                .arg(token)
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl));
            let set: Option<String> = self.query(cmd).await?;
            Ok(set.is_some())
        })
    }

    fn renew<'a>(
        &'a self,
        name: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            let ms = millis(ttl).to_string();
            let n: i64 = self
                .script(&RENEW, name, &[token.as_bytes(), ms.as_bytes()])
                .await?;
            Ok(n == 1)
        })
    }

    fn release<'a>(
        &'a self,
        name: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let _: i64 = self.script(&RELEASE, name, &[token.as_bytes()]).await?;
            Ok(())
        })
    }

    fn rate<'a>(
        &'a self,
        name: &'a str,
        per_second: u32,
        max_wait: Duration,
    ) -> BoxFuture<'a, Result<Option<Duration>, BackendError>> {
        Box::pin(async move {
            let rate = per_second.max(1).to_string();
            let max = max_wait.as_micros().min(u64::MAX as u128).to_string();
            let wait_us: i64 = self
                .script(&RATE, name, &[rate.as_bytes(), max.as_bytes()])
                .await?;
            Ok(u64::try_from(wait_us).ok().map(Duration::from_micros))
        })
    }
}

impl ConnectionLike for Handle {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Handle::Single(c) => c.req_packed_command(cmd),
            Handle::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Handle::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Handle::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Handle::Single(c) => c.get_db(),
            Handle::Cluster(c) => c.get_db(),
        }
    }
}
