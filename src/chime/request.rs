//! What a Chime call may carry besides its body: only the query parameters its operation declares
//! (re-serialised, so the query stsgate forwards and signs is exactly the one it checked), and
//! only resources inside the configured AppInstance. Pure.

use super::operations::Operation;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// SigV4's URI encoding: everything but the unreserved characters `A-Za-z0-9-_.~`.
const AWS_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The query is not one the operation takes (→ 400).
    #[error("query: {0}")]
    Query(String),
    /// A label or parameter names something outside the AppInstance (→ 403).
    #[error("{0} names a resource outside the configured AppInstance")]
    ForeignResource(&'static str),
}

/// The query to forward: the operation's discriminator and declared parameters, each at most
/// once, decoded and encoded again the way SigV4 encodes them. `;` (a separator to some
/// servers), empty pieces, unknown and repeated parameters are refused. With `drop_signing`, a
/// client's own `X-Amz-*`/`X-Amzn-*` parameters (a placeholder presign) are dropped first.
pub fn canonical_query(
    op: &Operation,
    raw: Option<&str>,
    drop_signing: bool,
) -> Result<Option<String>, RequestError> {
    let Some(raw) = raw.filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    if raw.contains(';') {
        return Err(RequestError::Query(
            "';' is not a parameter separator".into(),
        ));
    }
    let mut seen: Vec<(String, String)> = Vec::new();
    for piece in raw.split('&') {
        let (key, value) = form_urlencoded::parse(piece.as_bytes())
            .next()
            .ok_or_else(|| RequestError::Query("empty parameter".into()))?;
        if drop_signing && is_signing_param(&key) {
            continue;
        }
        let declared = op.query_params.contains(&key.as_ref())
            || op
                .discriminator()
                .is_some_and(|(k, v)| k == key && v == value);
        if !declared {
            return Err(RequestError::Query(format!(
                "{key:?} is not a parameter of {}",
                op.name
            )));
        }
        if seen.iter().any(|(k, _)| *k == key) {
            return Err(RequestError::Query(format!(
                "{key:?} appears more than once"
            )));
        }
        seen.push((key.into_owned(), value.into_owned()));
    }
    let pairs: Vec<String> = seen
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    Ok((!pairs.is_empty()).then(|| pairs.join("&")))
}

fn is_signing_param(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.starts_with("x-amz-") || k.starts_with("x-amzn-")
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, AWS_ENCODE).to_string()
}

/// Every ARN in the path's labels and the query names the AppInstance or something inside it.
pub fn check_resources(
    op: &Operation,
    raw_path: &str,
    query: Option<&str>,
    app_instance_arn: &str,
) -> Result<(), RequestError> {
    for (label, raw) in op.labels(raw_path) {
        if label != "messageId" && !decodes_inside(raw, app_instance_arn) {
            return Err(RequestError::ForeignResource(label));
        }
    }
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let names_arn = matches!(
            key.as_ref(),
            "app-instance-arn" | "app-instance-user-arn" | "channel-flow-arn" | "arn"
        );
        if names_arn && !is_inside(&value, app_instance_arn) {
            let key = op
                .query_params
                .iter()
                .find(|k| **k == key)
                .copied()
                .unwrap_or("query");
            return Err(RequestError::ForeignResource(key));
        }
    }
    Ok(())
}

/// `value` is the AppInstance's ARN or the ARN of something inside it (`{app}/…`).
fn is_inside(value: &str, app_instance_arn: &str) -> bool {
    value
        .strip_prefix(app_instance_arn)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// [`is_inside`] for a percent-encoded label, decoded on the fly: a label is decoded on every
/// call, and into a new string that would be an allocation or two (issue #14). A label that is
/// not UTF-8 once decoded is not inside.
fn decodes_inside(raw: &str, app_instance_arn: &str) -> bool {
    let mut decoded = percent_decode_str(raw);
    if !app_instance_arn.bytes().all(|b| decoded.next() == Some(b)) {
        return false;
    }
    let rest = decoded;
    match rest.clone().next() {
        None => true,
        Some(b'/') if rest.clone().all(|b| b.is_ascii()) => true,
        Some(b'/') => std::str::from_utf8(&std::borrow::Cow::<[u8]>::from(rest)).is_ok(),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chime::operations::by_name;

    const APP: &str = "arn:aws:chime:us-east-1:111122223333:app-instance/ai";

    fn q(op: &str, raw: &str) -> Result<Option<String>, RequestError> {
        canonical_query(by_name(op).unwrap(), Some(raw), false)
    }

    #[test]
    fn declared_parameters_are_reserialised_as_checked() {
        assert_eq!(
            q(
                "ListChannelMessages",
                "max-results=10&next-token=abc%2B%2F%3Ddef&not-before=2024-01-01T00%3A00%3A00Z"
            ),
            Ok(Some(
                "max-results=10&next-token=abc%2B%2F%3Ddef&not-before=2024-01-01T00%3A00%3A00Z"
                    .into()
            ))
        );
        // Decoded and encoded again: what is forwarded is what was checked.
        assert_eq!(
            q("ListChannelMessages", "next-token=a:b+c"),
            Ok(Some("next-token=a%3Ab%20c".into()))
        );
        assert_eq!(
            q("SearchChannels", "operation=search&max-results=5"),
            Ok(Some("operation=search&max-results=5".into()))
        );
        assert_eq!(
            canonical_query(by_name("ListChannels").unwrap(), None, false),
            Ok(None)
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for (op, raw) in [
            ("ListChannelMessages", "Operation=search"),
            ("ListChannelMessages", "foo="),
            ("ListChannelMessages", "X-Amz-Credential=x"),
            ("ListChannelMessages", "max-results=1&max-results=2"),
            (
                "ListChannelMembershipsForAppInstanceUser",
                "scope=app-instance-user-memberships&x=1;app-instance-user-arn=bob",
            ),
            ("ListChannelMessages", "max-results=1&&next-token=a"),
            ("SearchChannels", "operation=search&operation=search"),
        ] {
            assert!(
                matches!(q(op, raw), Err(RequestError::Query(_))),
                "{op} {raw}"
            );
        }
    }

    #[test]
    fn a_placeholder_presign_can_be_dropped() {
        let op = by_name("ListChannelMessages").unwrap();
        assert_eq!(
            canonical_query(
                op,
                Some("X-Amz-Date=1&max-results=3&X-Amzn-Version=2"),
                true
            ),
            Ok(Some("max-results=3".into()))
        );
    }

    #[test]
    fn resources_stay_inside_the_app_instance() {
        let enc = |s: &str| utf8_percent_encode(s, AWS_ENCODE).to_string();
        let mine = format!("/channels/{}/messages", enc(&format!("{APP}/channel/c1")));
        let op = by_name("ListChannelMessages").unwrap();
        assert_eq!(check_resources(op, &mine, None, APP), Ok(()));
        let theirs = format!(
            "/channels/{}/messages",
            enc("arn:aws:chime:us-east-1:111122223333:app-instance/other/channel/c1")
        );
        assert_eq!(
            check_resources(op, &theirs, None, APP),
            Err(RequestError::ForeignResource("channelArn"))
        );
        let prefix_trick = format!("/channels/{}/messages", enc(&format!("{APP}x/channel/c1")));
        assert!(check_resources(op, &prefix_trick, None, APP).is_err());
        let list = by_name("ListChannels").unwrap();
        let other_app = format!(
            "app-instance-arn={}",
            enc("arn:aws:chime:us-east-1:111122223333:app-instance/other")
        );
        assert_eq!(
            check_resources(list, "/channels", Some(&other_app), APP),
            Err(RequestError::ForeignResource("app-instance-arn"))
        );
        let own_app = format!("app-instance-arn={}", enc(APP));
        assert_eq!(
            check_resources(list, "/channels", Some(&own_app), APP),
            Ok(())
        );
    }

    #[test]
    fn a_label_is_inside_exactly_when_its_decoded_form_is() {
        let enc = |s: &str| utf8_percent_encode(s, AWS_ENCODE).to_string();
        for (decoded, inside) in [
            (APP.to_owned(), true),
            (format!("{APP}/channel/c1"), true),
            (format!("{APP}/channel/caf\u{e9}"), true),
            (format!("{APP}/"), true),
            (format!("{APP}x"), false),
            (format!("{APP}x/channel/c1"), false),
            (APP[..APP.len() - 1].to_owned(), false),
            (String::new(), false),
            (
                "arn:aws:chime:us-east-1:111122223333:app-instance/other".into(),
                false,
            ),
        ] {
            assert_eq!(decodes_inside(&enc(&decoded), APP), inside, "{decoded}");
            assert_eq!(is_inside(&decoded, APP), inside, "{decoded}");
        }
        // Encoded or not, the same ARN; a label that is not UTF-8 once decoded is never inside.
        assert!(decodes_inside(&format!("{APP}/channel/c1"), APP));
        assert!(!decodes_inside(
            &format!("{}%2Fchannel%2F%FF", enc(APP)),
            APP
        ));
        assert!(!decodes_inside(&format!("{}%2F%C3", enc(APP)), APP));
    }

    #[test]
    fn member_moderator_and_flow_labels_stay_inside_the_app_instance() {
        let enc = |s: &str| utf8_percent_encode(s, AWS_ENCODE).to_string();
        let other = "arn:aws:chime:us-east-1:111122223333:app-instance/other";
        let channel = enc(&format!("{APP}/channel/c1"));
        for (op, label, template) in [
            (
                "DeleteChannelMembership",
                "memberArn",
                "/channels/{c}/memberships/{x}",
            ),
            (
                "GetChannelMembershipPreferences",
                "memberArn",
                "/channels/{c}/memberships/{x}/preferences",
            ),
            ("DescribeChannelBan", "memberArn", "/channels/{c}/bans/{x}"),
            (
                "DescribeChannelModerator",
                "channelModeratorArn",
                "/channels/{c}/moderators/{x}",
            ),
            (
                "DisassociateChannelFlow",
                "channelFlowArn",
                "/channels/{c}/channel-flow/{x}",
            ),
            (
                "DescribeChannelFlow",
                "channelFlowArn",
                "/channel-flows/{x}",
            ),
        ] {
            let op = by_name(op).unwrap();
            let kind = if label == "channelFlowArn" {
                "channel-flow/f1"
            } else {
                "user/bob"
            };
            let path = |app: &str| {
                template
                    .replace("{c}", &channel)
                    .replace("{x}", &enc(&format!("{app}/{kind}")))
            };
            assert_eq!(
                check_resources(op, &path(APP), None, APP),
                Ok(()),
                "{}",
                op.name
            );
            assert_eq!(
                check_resources(op, &path(other), None, APP),
                Err(RequestError::ForeignResource(label)),
                "{}",
                op.name
            );
            // Same prefix, another AppInstance.
            assert!(check_resources(op, &path(&format!("{APP}x")), None, APP).is_err());
        }
        let flows = by_name("ListChannelsAssociatedWithChannelFlow").unwrap();
        let query = |app: &str| {
            format!(
                "scope=channel-flow-associations&channel-flow-arn={}",
                enc(&format!("{app}/channel-flow/f1"))
            )
        };
        assert_eq!(
            check_resources(flows, "/channels", Some(&query(APP)), APP),
            Ok(())
        );
        assert_eq!(
            check_resources(flows, "/channels", Some(&query(other)), APP),
            Err(RequestError::ForeignResource("channel-flow-arn"))
        );
    }
}
