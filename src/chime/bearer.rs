//! `x-amz-chime-bearer` names the AppInstanceUser a call acts as, and clients choose it. stsgate
//! makes it the authenticated user's ARN: refusing (enforce) or overwriting (inject) any other.

use crate::config::BearerMode;
use http::{HeaderMap, HeaderValue};

pub const BEARER_HEADER: &str = "x-amz-chime-bearer";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("x-amz-chime-bearer names another AppInstanceUser than the authenticated caller")]
pub struct BearerMismatch;

/// Leaves exactly one bearer header, equal to `user_arn`.
pub fn bind_bearer(
    headers: &mut HeaderMap,
    user_arn: &str,
    mode: BearerMode,
) -> Result<(), BearerMismatch> {
    let foreign = headers
        .get_all(BEARER_HEADER)
        .iter()
        .any(|v| v.as_bytes() != user_arn.as_bytes());
    if foreign && mode == BearerMode::Enforce {
        return Err(BearerMismatch);
    }
    let value = HeaderValue::from_str(user_arn).map_err(|_| BearerMismatch)?;
    headers.insert(BEARER_HEADER, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "arn:aws:chime:us-east-1:111122223333:app-instance/ai/user/alice";
    const OTHER: &str = "arn:aws:chime:us-east-1:111122223333:app-instance/ai/user/bob";

    #[test]
    fn absent_or_equal_bearer_is_set() {
        for preset in [None, Some(ME)] {
            let mut h = HeaderMap::new();
            if let Some(v) = preset {
                h.insert(BEARER_HEADER, v.parse().unwrap());
            }
            bind_bearer(&mut h, ME, BearerMode::Enforce).unwrap();
            assert_eq!(h.get_all(BEARER_HEADER).iter().collect::<Vec<_>>(), [ME]);
        }
    }

    #[test]
    fn foreign_bearer_refused_or_overwritten() {
        let mut h = HeaderMap::new();
        h.append(BEARER_HEADER, ME.parse().unwrap());
        h.append(BEARER_HEADER, OTHER.parse().unwrap());
        assert_eq!(
            bind_bearer(&mut h.clone(), ME, BearerMode::Enforce),
            Err(BearerMismatch)
        );
        bind_bearer(&mut h, ME, BearerMode::Inject).unwrap();
        assert_eq!(h.get_all(BEARER_HEADER).iter().collect::<Vec<_>>(), [ME]);
    }
}
