//! The client's request body, buffered (its SHA-256 is signed) within a size limit.

use crate::error::GatewayError;
use bytes::Bytes;
use http::{HeaderMap, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Body;
use std::time::Duration;

/// Buffers `body` up to `limit` bytes within `timeout`; a declared oversize is refused unread.
pub async fn read_body<B>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, GatewayError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    // Most reads (GET, DELETE) have no body: no timer, nothing to collect.
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect())
        .await
        .map_err(|_| GatewayError::BodyTimeout(timeout.as_secs()))?;
    match collected {
        Ok(b) => Ok(b.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(GatewayError::BodyTooLarge { limit })
        }
        Err(_) => Err(GatewayError::BadRequest(
            "could not read the request body".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    #[tokio::test]
    async fn within_the_limit_or_refused() {
        let h = HeaderMap::new();
        let t = Duration::from_secs(1);
        let ok = read_body(&h, Full::new(Bytes::from("abc")), 3, t).await;
        assert_eq!(ok.unwrap(), "abc");
        let big = read_body(&h, Full::new(Bytes::from("abcd")), 3, t).await;
        assert!(matches!(big, Err(GatewayError::BodyTooLarge { limit: 3 })));
        let mut declared = HeaderMap::new();
        declared.insert(header::CONTENT_LENGTH, "10".parse().unwrap());
        let lied = read_body(&declared, Full::new(Bytes::new()), 3, t).await;
        assert!(matches!(lied, Err(GatewayError::BodyTooLarge { .. })));
        let none = read_body(&h, http_body_util::Empty::<Bytes>::new(), 3, t).await;
        assert_eq!(none.unwrap(), "");
    }
}
