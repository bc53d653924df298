//! `x-amz-chime-bearer` names the AppInstanceUser a call acts as, and clients choose it. stsgate
//! makes it the authenticated user's ARN: refusing (enforce) or overwriting (inject) any other.

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

/// A `HeaderName` constant rather than a `&str`: inserting by `&'static str` parses the name and
/// copies it into a new allocation every time.
pub const BEARER_HEADER: HeaderName = HeaderName::from_static("x-amz-chime-bearer");

/// What to do with a client-supplied `x-amz-chime-bearer` that names someone else
/// (`chime.bearer`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum BearerMode {
    /// Refuse with 403 `bearer_mismatch`.
    #[default]
    Enforce,
    /// Overwrite it with the authenticated user's ARN.
    Inject,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("x-amz-chime-bearer names another AppInstanceUser than the authenticated caller")]
pub struct BearerMismatch;

/// Leaves exactly one bearer header, equal to `user_arn` (the caller's ARN as a header value).
pub fn bind_bearer(
    headers: &mut HeaderMap,
    user_arn: &HeaderValue,
    mode: BearerMode,
) -> Result<(), BearerMismatch> {
    let foreign = headers.get_all(BEARER_HEADER).iter().any(|v| v != user_arn);
    if foreign && mode == BearerMode::Enforce {
        return Err(BearerMismatch);
    }
    headers.insert(BEARER_HEADER, user_arn.clone());
    Ok(())
}

/// The query parameter that names whose memberships or moderated channels a call reads.
pub const USER_ARN_PARAM: &str = "app-instance-user-arn";

/// `app-instance-user-arn` may only name the caller, unless the caller is an AppInstanceAdmin
/// (`may_name_others`).
pub fn check_user_arn_query(
    raw_query: Option<&str>,
    user_arn: &str,
    may_name_others: bool,
) -> Result<(), BearerMismatch> {
    let named = form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == USER_ARN_PARAM)
        .any(|(_, v)| v != user_arn);
    if named && !may_name_others {
        Err(BearerMismatch)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "arn:aws:chime:us-east-1:111122223333:app-instance/ai/user/alice";
    const OTHER: &str = "arn:aws:chime:us-east-1:111122223333:app-instance/ai/user/bob";

    fn me() -> HeaderValue {
        HeaderValue::from_static(ME)
    }

    #[test]
    fn absent_or_equal_bearer_is_set() {
        for preset in [None, Some(ME)] {
            let mut h = HeaderMap::new();
            if let Some(v) = preset {
                h.insert(BEARER_HEADER, v.parse().unwrap());
            }
            bind_bearer(&mut h, &me(), BearerMode::Enforce).unwrap();
            assert_eq!(h.get_all(BEARER_HEADER).iter().collect::<Vec<_>>(), [ME]);
        }
    }

    #[test]
    fn user_arn_query_names_only_the_caller() {
        let enc = |a: &str| form_urlencoded::byte_serialize(a.as_bytes()).collect::<String>();
        let mine = format!(
            "scope=app-instance-user-memberships&app-instance-user-arn={}",
            enc(ME)
        );
        let theirs = format!(
            "scope=app-instance-user-memberships&app-instance-user-arn={}",
            enc(OTHER)
        );
        assert_eq!(check_user_arn_query(Some(&mine), ME, false), Ok(()));
        assert_eq!(check_user_arn_query(None, ME, false), Ok(()));
        assert_eq!(
            check_user_arn_query(Some(&theirs), ME, false),
            Err(BearerMismatch)
        );
        assert_eq!(check_user_arn_query(Some(&theirs), ME, true), Ok(()));
        let both = format!("{mine}&app-instance-user-arn={}", enc(OTHER));
        assert_eq!(
            check_user_arn_query(Some(&both), ME, false),
            Err(BearerMismatch)
        );
    }

    #[test]
    fn foreign_bearer_refused_or_overwritten() {
        let mut h = HeaderMap::new();
        h.append(BEARER_HEADER, ME.parse().unwrap());
        h.append(BEARER_HEADER, OTHER.parse().unwrap());
        assert_eq!(
            bind_bearer(&mut h.clone(), &me(), BearerMode::Enforce),
            Err(BearerMismatch)
        );
        bind_bearer(&mut h, &me(), BearerMode::Inject).unwrap();
        assert_eq!(h.get_all(BEARER_HEADER).iter().collect::<Vec<_>>(), [ME]);
    }
}
