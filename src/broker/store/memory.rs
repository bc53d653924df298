//! [`Backend`] in this process's memory, with Redis's semantics for what stsgate uses (expiry,
//! `SET NX`, compare-and-delete, the rate bucket) on tokio's clock. For unit tests and the fleet
//! simulation, where many brokers share one: a real fleet shares Redis or Valkey, and nothing
//! in the configuration selects this.

use super::{Backend, BackendError, BoxFuture};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Default)]
pub struct MemoryBackend {
    entries: Mutex<Entries>,
    /// Rate buckets: each one's theoretical arrival time.
    rates: Mutex<HashMap<String, Instant>>,
    down: AtomicBool,
    /// While set, writes are answered with an error (a full store: `OOM` under `noeviction`).
    full: AtomicBool,
    /// Calls made, of any kind (the simulation's store operations).
    pub calls: AtomicU64,
}

impl MemoryBackend {
    /// While down, every call fails (a stopped or unreachable store).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// While full, `SET`s fail with an answer (reads still work).
    pub fn set_full(&self, full: bool) {
        self.full.store(full, Ordering::SeqCst);
    }

    /// The live entries' names and values.
    pub fn entries(&self) -> Vec<(String, Vec<u8>)> {
        let now = Instant::now();
        let map = self.entries.lock().expect("memory store lock");
        map.iter()
            .filter(|(_, (_, until))| *until > now)
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }

    /// Overwrites an entry as an attacker with write access to the store would.
    pub fn overwrite(&self, name: &str, value: Vec<u8>) {
        let mut map = self.entries.lock().expect("memory store lock");
        if let Some(e) = map.get_mut(name) {
            e.0 = value;
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Entries, Instant) -> T) -> Result<T, BackendError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.down.load(Ordering::SeqCst) {
            return Err(BackendError::unreachable("connection refused"));
        }
        let now = Instant::now();
        let mut map = self.entries.lock().expect("memory store lock");
        // Expired entries are gone for every command (Redis expires lazily too), and swept now
        // and then so a long simulation stays small.
        if self.calls.load(Ordering::Relaxed).is_multiple_of(65_536) {
            map.retain(|_, (_, until)| *until > now);
        }
        Ok(f(&mut map, now))
    }
}

type Entries = HashMap<String, (Vec<u8>, Instant)>;

/// The entry `name` if it has not expired (an expired one is removed, as Redis does on access).
fn live<'m>(m: &'m mut Entries, name: &str, now: Instant) -> Option<&'m mut (Vec<u8>, Instant)> {
    if m.get(name).is_some_and(|(_, until)| *until <= now) {
        m.remove(name);
    }
    m.get_mut(name)
}

impl Backend for MemoryBackend {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, BackendError>> {
        Box::pin(async move { self.with(|m, now| live(m, name, now).map(|(v, _)| v.clone())) })
    }

    fn put<'a>(
        &'a self,
        name: &'a str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            if self.full.load(Ordering::SeqCst) {
                self.calls.fetch_add(1, Ordering::Relaxed);
                return Err(BackendError {
                    unreachable: false,
                    detail: "ResponseError OOM".into(),
                });
            }
            self.with(|m, now| {
                m.insert(name.to_owned(), (value, now + ttl));
            })
        })
    }

    fn lease<'a>(
        &'a self,
        name: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            self.with(|m, now| {
                if live(m, name, now).is_some() {
                    return false;
                }
                m.insert(name.to_owned(), (token.as_bytes().to_vec(), now + ttl));
                true
            })
        })
    }

    fn renew<'a>(
        &'a self,
        name: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, BackendError>> {
        Box::pin(async move {
            self.with(|m, now| match live(m, name, now) {
                Some((v, until)) if v == token.as_bytes() => {
                    *until = now + ttl;
                    true
                }
                _ => false,
            })
        })
    }

    fn release<'a>(
        &'a self,
        name: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            self.with(|m, now| {
                if live(m, name, now).is_some_and(|(v, _)| v == token.as_bytes()) {
                    m.remove(name);
                }
            })
        })
    }

    fn rate<'a>(
        &'a self,
        name: &'a str,
        per_second: u32,
        max_wait: Duration,
    ) -> BoxFuture<'a, Result<Option<Duration>, BackendError>> {
        Box::pin(async move {
            self.with(|_, now| {
                // The same reserving GCRA as the Redis script: the theoretical arrival time, one
                // second of burst; a caller that would wait past `max_wait` reserves nothing.
                let interval = Duration::from_secs(1) / per_second.max(1);
                let burst = Duration::from_secs(1) - interval;
                let mut rates = self.rates.lock().expect("memory store lock");
                let tat = rates.get(name).copied().unwrap_or(now).max(now);
                let wait = (tat - now).saturating_sub(burst);
                if wait > max_wait {
                    return None;
                }
                rates.insert(name.to_owned(), tat + interval);
                Some(wait)
            })
        })
    }
}
