//! Relaying frames between the client and Chime until a close, an error, the idle limit, the
//! end of the session's credentials, or stsgate's shutdown (1001, so the SDK reconnects). Every
//! send has a deadline, so a peer that stops reading cannot pin the relay past its timers.

use crate::chime::messaging_session::{CLOSE_RECONNECT, close_code_label};
use crate::metrics::{Direction, Metrics};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

#[derive(Clone, Copy)]
pub struct RelayLimits {
    /// Close after this long without a frame either way.
    pub idle: Duration,
    /// A frame not taken within this long means that side stopped reading.
    pub send: Duration,
}

/// Sends within `limit`; false when the peer failed or did not take the frame in time.
async fn send_within<S: SinkExt<Message> + Unpin>(
    tx: &mut S,
    msg: Message,
    limit: Duration,
) -> bool {
    matches!(tokio::time::timeout(limit, tx.send(msg)).await, Ok(Ok(())))
}

/// Relays frames both ways until a close, an error, the idle limit, `close_at` or shutdown. Every
/// send is bounded by `limits.send`, so a side that stops reading delays the timers at most that
/// long.
pub async fn relay<C, U>(
    client: C,
    upstream: U,
    close_at: Instant,
    limits: RelayLimits,
    shutdown: watch::Receiver<bool>,
    metrics: &Metrics,
) where
    C: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + SinkExt<Message>
        + Unpin,
    U: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + SinkExt<Message>
        + Unpin,
{
    metrics.websocket_open.inc();
    let stopping = shut_down(shutdown);
    tokio::pin!(stopping);
    let (mut c_tx, mut c_rx) = client.split();
    let (mut u_tx, mut u_rx) = upstream.split();
    let (idle, send) = (limits.idle, limits.send);
    let mut idle_at = Instant::now() + idle;
    let (code, to_client, to_upstream): (u16, Option<CloseFrame>, Option<CloseFrame>) = loop {
        tokio::select! {
            m = c_rx.next() => match m {
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map_or(1005, |f| u16::from(f.code));
                    break (code, None, frame);
                }
                Some(Ok(msg)) => {
                    idle_at = Instant::now() + idle;
                    metrics.websocket_frames.inc(Direction::ToUpstream);
                    if !send_within(&mut u_tx, msg, send).await {
                        break (1011, Some(close(1011, "upstream failed or stopped reading")), None);
                    }
                }
                Some(Err(e)) => {
                    // Tell the client why (1009 for an oversize message); end upstream normally.
                    let code = error_code(&e);
                    break (code, Some(close(code, "message too large or malformed")), Some(close(1000, "client error")));
                }
                None => break (1006, None, Some(close(1001, "client went away"))),
            },
            m = u_rx.next() => match m {
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map_or(1005, |f| u16::from(f.code));
                    break (code, frame, None);
                }
                Some(Ok(msg)) => {
                    idle_at = Instant::now() + idle;
                    metrics.websocket_frames.inc(Direction::ToClient);
                    if !send_within(&mut c_tx, msg, send).await {
                        // The client is gone or not reading: nothing more can reach it.
                        break (1006, None, Some(close(1001, "client went away")));
                    }
                }
                Some(Err(_)) | None => break (1011, Some(close(1011, "upstream connection lost")), None),
            },
            _ = sleep_until(idle_at) => break (1001, Some(close(1001, "idle")), Some(close(1000, "idle"))),
            _ = sleep_until(close_at) => break (
                CLOSE_RECONNECT,
                Some(close(CLOSE_RECONNECT, "session credentials expiring; reconnect")),
                Some(close(1000, "session credentials expiring")),
            ),
            _ = &mut stopping => break (
                CLOSE_RECONNECT,
                Some(close(CLOSE_RECONNECT, "stsgate is shutting down; reconnect")),
                Some(close(1001, "proxy shutting down")),
            ),
        }
    };
    close_both(&mut c_tx, to_client, &mut u_tx, to_upstream, send).await;
    metrics
        .websocket_closes
        .with_label_values(&[close_code_label(code)])
        .inc();
    metrics.websocket_open.dec();
}

/// Sends each side its close frame, if it gets one, and closes both, each within `limit`.
async fn close_both<C, U>(
    client: &mut C,
    to_client: Option<CloseFrame>,
    upstream: &mut U,
    to_upstream: Option<CloseFrame>,
    limit: Duration,
) where
    C: SinkExt<Message> + Unpin,
    U: SinkExt<Message> + Unpin,
{
    if let Some(f) = to_client {
        send_within(client, Message::Close(Some(f)), limit).await;
    }
    if let Some(f) = to_upstream {
        send_within(upstream, Message::Close(Some(f)), limit).await;
    }
    let _ = tokio::time::timeout(limit, client.close()).await;
    let _ = tokio::time::timeout(limit, upstream.close()).await;
}

/// Resolves once stsgate is shutting down (never, if the signal's sender is gone).
async fn shut_down(mut rx: watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn close(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: Utf8Bytes::from_static(reason),
    }
}

/// 1009 for an oversize message, 1002 for protocol violations, 1011 otherwise.
fn error_code(e: &tokio_tungstenite::tungstenite::Error) -> u16 {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Capacity(_) => 1009,
        Error::Protocol(_) | Error::Utf8(_) => 1002,
        _ => 1011,
    }
}
