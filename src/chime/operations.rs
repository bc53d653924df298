//! The 51 operations of Amazon Chime SDK messaging (botocore model `chime-sdk-messaging` 2021-05-15)
//! and classification of an incoming request into one of them.
//!
//! The table lives in `operations.tsv` (generated from the service model) and is parsed once.
//! Routing follows the model's URI templates on the *raw* path: an ARN label is percent-encoded
//! into one segment, so segments are compared before any decoding. Templates such as
//! `/channels?operation=search` carry a literal query discriminator that is part of the route;
//! those routes are tried first. Pure: no I/O.

use std::collections::HashSet;
use std::sync::LazyLock;

use http::Method;

const TABLE: &str = include_str!("operations.tsv");

/// Whether the operation takes the `x-amz-chime-bearer` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerRule {
    Required,
    Optional,
    None,
}

/// One operation of the service.
#[derive(Debug)]
pub struct Operation {
    /// Operation (and IAM action `chime:<name>`) name, e.g. `SendChannelMessage`.
    pub name: &'static str,
    pub method: Method,
    pub bearer: BearerRule,
    /// Listed in the per-user role policy seed list.
    pub in_user_role_policy: bool,
    /// Query parameters accepted by the operation (wire names; not the literal discriminator).
    pub query_params: Vec<&'static str>,
    route: Route,
}

impl Operation {
    /// True when the operation takes an `app-instance-user-arn` query parameter.
    pub fn user_arn_query_param(&self) -> bool {
        self.query_params.contains(&"app-instance-user-arn")
    }

    /// The literal `key=value` of the query that is part of the route (`operation=search`).
    pub fn discriminator(&self) -> Option<(&'static str, &'static str)> {
        self.route.discriminator
    }

    /// The URI labels of a path this operation matched: `(label name, raw segment)`, e.g.
    /// `("channelArn", "arn%3Aaws%3A…")`.
    pub fn labels<'p>(
        &self,
        raw_path: &'p str,
    ) -> impl Iterator<Item = (&'static str, &'p str)> + use<'_, 'p> {
        let segments = raw_path.strip_prefix('/').unwrap_or(raw_path).split('/');
        self.route
            .segments
            .iter()
            .zip(segments)
            .filter_map(|(s, raw)| match s {
                Segment::Label(name) => Some((*name, raw)),
                Segment::Literal(_) => None,
            })
    }
}

#[derive(Debug)]
enum Segment {
    Literal(&'static str),
    /// `{name}`: one raw (percent-encoded) segment.
    Label(&'static str),
}

#[derive(Debug)]
struct Route {
    segments: Vec<Segment>,
    /// Literal `key=value` that must be present in the query, e.g. `("scope", "message-status")`.
    discriminator: Option<(&'static str, &'static str)>,
}

struct Table {
    ops: Vec<Operation>,
    /// Indices into `ops`: routes with a discriminator first, then the rest, each in table order.
    match_order: Vec<usize>,
    /// Every query key used as a discriminator anywhere (`scope`, `operation`).
    discriminator_keys: Vec<&'static str>,
}

static OPERATIONS: LazyLock<Table> = LazyLock::new(parse_table);

fn parse_table() -> Table {
    let ops: Vec<Operation> = TABLE
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(parse_line)
        .collect();
    let (with, without): (Vec<usize>, Vec<usize>) =
        (0..ops.len()).partition(|&i| ops[i].route.discriminator.is_some());
    let mut discriminator_keys: Vec<&'static str> = ops
        .iter()
        .filter_map(|op| op.route.discriminator.map(|(k, _)| k))
        .collect();
    discriminator_keys.sort_unstable();
    discriminator_keys.dedup();
    Table {
        ops,
        match_order: with.into_iter().chain(without).collect(),
        discriminator_keys,
    }
}

fn parse_line(line: &'static str) -> Operation {
    let cols: Vec<&'static str> = line.split('\t').collect();
    let [name, method, template, bearer, iam, query] = cols[..] else {
        panic!("operations.tsv: expected 6 tab-separated columns: {line:?}");
    };
    let method = Method::from_bytes(method.as_bytes())
        .unwrap_or_else(|_| panic!("operations.tsv: bad method in {line:?}"));
    let bearer = match bearer {
        "required" => BearerRule::Required,
        "optional" => BearerRule::Optional,
        "none" => BearerRule::None,
        other => panic!("operations.tsv: bad bearer rule {other:?}"),
    };
    let in_user_role_policy = match iam {
        "yes" => true,
        "no" => false,
        other => panic!("operations.tsv: bad in_iam_list {other:?}"),
    };
    let query_params = match query {
        "-" => Vec::new(),
        list => list.split(',').map(str::trim).collect(),
    };
    Operation {
        name,
        method,
        bearer,
        in_user_role_policy,
        query_params,
        route: parse_template(template),
    }
}

fn parse_template(template: &'static str) -> Route {
    let (path, query) = match template.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (template, None),
    };
    let discriminator = query.map(|q| {
        q.split_once('=')
            .unwrap_or_else(|| panic!("operations.tsv: discriminator without '=': {template:?}"))
    });
    let segments = path
        .strip_prefix('/')
        .unwrap_or_else(|| panic!("operations.tsv: template must start with '/': {template:?}"))
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Label(name),
                None => Segment::Literal(s),
            },
        )
        .collect();
    Route {
        segments,
        discriminator,
    }
}

/// All 51 operations, in table order.
pub fn all() -> &'static [Operation] {
    &OPERATIONS.ops
}

/// Look up by name.
pub fn by_name(name: &str) -> Option<&'static Operation> {
    all().iter().find(|op| op.name == name)
}

/// Classify a request. `raw_path` is the still-percent-encoded path (an encoded ARN label is one
/// segment); `raw_query` is the raw query string without '?'. Returns `None` when nothing matches.
///
/// A route with a literal discriminator matches only if the query contains that exact pair. Any
/// `scope`/`operation` pair in the query that is not the route's own discriminator rules the
/// route out, so an unknown `scope=bogus` yields `None` rather than the undiscriminated route.
pub fn classify(
    method: &Method,
    raw_path: &str,
    raw_query: Option<&str>,
) -> Option<&'static Operation> {
    let segments: Vec<&str> = raw_path.strip_prefix('/')?.split('/').collect();
    let table = &*OPERATIONS;
    let discriminators: Vec<(String, String)> =
        form_urlencoded::parse(raw_query.unwrap_or("").as_bytes())
            .filter(|(k, _)| table.discriminator_keys.contains(&k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    table.match_order.iter().map(|&i| &table.ops[i]).find(|op| {
        op.method == method
            && path_matches(&op.route.segments, &segments)
            && query_matches(op.route.discriminator, &discriminators)
    })
}

fn path_matches(route: &[Segment], segments: &[&str]) -> bool {
    route.len() == segments.len()
        && route.iter().zip(segments).all(|(r, s)| match r {
            Segment::Literal(lit) => lit == s,
            Segment::Label(_) => !s.is_empty(),
        })
}

/// `present` holds the request's decoded discriminator-key pairs.
fn query_matches(own: Option<(&str, &str)>, present: &[(String, String)]) -> bool {
    let all_own = present
        .iter()
        .all(|(k, v)| own == Some((k.as_str(), v.as_str())));
    match own {
        Some(_) => all_own && !present.is_empty(),
        None => present.is_empty(),
    }
}

/// The IAM action of the messaging WebSocket (`GET /connect`); not a REST operation.
pub const CONNECT: &str = "Connect";

/// The default allow-list: the actions of the AWS sample's user-role policy (which lists
/// GetMessagingSessionEndpoint among them) plus `Connect`.
pub fn default_allowed() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = all()
        .iter()
        .filter(|o| o.in_user_role_policy)
        .map(|o| o.name)
        .collect();
    names.push(CONNECT);
    names
}

/// An operation name clients may be allowed: one of the 51, or `Connect`.
pub fn is_known(name: &str) -> bool {
    name == CONNECT || by_name(name).is_some()
}

/// The operations (and `Connect`) clients may call.
#[derive(Debug, Clone)]
pub struct AllowList(HashSet<&'static str>);

impl AllowList {
    /// [`default_allowed`].
    pub fn default_list() -> Self {
        AllowList(default_allowed().into_iter().collect())
    }

    /// Names that are not operations are left out (the config refuses them at load).
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let known = |n: &str| match n {
            CONNECT => Some(CONNECT),
            _ => by_name(n).map(|op| op.name),
        };
        AllowList(names.into_iter().filter_map(known).collect())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        let mut names: Vec<&'static str> = self.0.iter().copied().collect();
        names.sort_unstable();
        names.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANNEL: &str =
        "arn%3Aaws%3Achime%3Aus-east-1%3A111122223333%3Aapp-instance%2Fai%2Fchannel%2Fc1";
    const USER: &str =
        "arn%3Aaws%3Achime%3Aus-east-1%3A111122223333%3Aapp-instance%2Fai%2Fuser%2Falice";
    const FLOW: &str =
        "arn%3Aaws%3Achime%3Aus-east-1%3A111122223333%3Aapp-instance%2Fai%2Fchannel-flow%2Ff1";
    const APP_INSTANCE: &str = "arn%3Aaws%3Achime%3Aus-east-1%3A111122223333%3Aapp-instance%2Fai";

    fn label_value(label: &str) -> &'static str {
        match label {
            "channelArn" => CHANNEL,
            "memberArn" | "channelModeratorArn" => USER,
            "channelFlowArn" => FLOW,
            "appInstanceArn" => APP_INSTANCE,
            "messageId" => "msg-1",
            other => panic!("no sample value for label {other}"),
        }
    }

    /// Build a concrete (raw path, raw query) for a template from the TSV.
    fn sample_request(template: &str, query_params: &[&str]) -> (String, Option<String>) {
        let (path, disc) = match template.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (template, None),
        };
        let path = path
            .split('/')
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(label) => label_value(label),
                    None => s,
                },
            )
            .collect::<Vec<_>>()
            .join("/");
        let mut pairs: Vec<String> = disc.into_iter().map(str::to_owned).collect();
        if let Some(p) = query_params.first() {
            let value = if p.ends_with("arn") { USER } else { "10" };
            pairs.push(format!("{p}={value}"));
        }
        let query = (!pairs.is_empty()).then(|| pairs.join("&"));
        (path, query)
    }

    fn templates() -> Vec<(&'static str, &'static str)> {
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let mut cols = l.split('\t');
                (cols.next().unwrap(), cols.nth(1).unwrap())
            })
            .collect()
    }

    fn get(method: Method, path: &str, query: Option<&str>) -> Option<&'static str> {
        classify(&method, path, query).map(|op| op.name)
    }

    #[test]
    fn every_operation_classifies_from_its_own_template() {
        let templates = templates();
        assert_eq!(templates.len(), 51);
        for (name, template) in templates {
            let op = by_name(name).unwrap();
            let (path, query) = sample_request(template, &op.query_params);
            let got = classify(&op.method, &path, query.as_deref());
            assert_eq!(
                got.map(|o| o.name),
                Some(name),
                "{} {path}?{query:?}",
                op.method
            );
            // No other operation matches the same request, regardless of ordering.
            let matching = all()
                .iter()
                .filter(|o| {
                    let q: Vec<(String, String)> =
                        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
                            .filter(|(k, _)| k == "scope" || k == "operation")
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .collect();
                    let segs: Vec<&str> = path[1..].split('/').collect();
                    o.method == op.method
                        && path_matches(&o.route.segments, &segs)
                        && query_matches(o.route.discriminator, &q)
                })
                .count();
            assert_eq!(matching, 1, "ambiguous route for {name}");
        }
    }

    #[test]
    fn table_has_51_unique_operations() {
        assert_eq!(all().len(), 51);
        let mut names: Vec<_> = all().iter().map(|o| o.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 51);
        assert_eq!(all()[0].name, "AssociateChannelFlow");
        assert_eq!(all()[50].name, "UpdateChannelReadMarker");
    }

    #[test]
    fn user_role_policy_seed_list() {
        let expected = [
            "AssociateChannelFlow",
            "CreateChannel",
            "CreateChannelBan",
            "CreateChannelMembership",
            "CreateChannelModerator",
            "DeleteChannel",
            "DeleteChannelBan",
            "DeleteChannelMembership",
            "DescribeChannel",
            "DescribeChannelModerator",
            "DisassociateChannelFlow",
            "GetChannelMessageStatus",
            "GetMessagingSessionEndpoint",
            "ListChannelBans",
            "ListChannelMemberships",
            "ListChannelMembershipsForAppInstanceUser",
            "ListChannelMessages",
            "ListChannelModerators",
            "ListChannels",
            "RedactChannelMessage",
            "SendChannelMessage",
            "UpdateChannelMessage",
        ];
        let listed: Vec<_> = all()
            .iter()
            .filter(|o| o.in_user_role_policy)
            .map(|o| o.name)
            .collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn bearer_rule_counts() {
        let count = |rule| all().iter().filter(|o| o.bearer == rule).count();
        assert_eq!(count(BearerRule::Required), 35);
        assert_eq!(count(BearerRule::Optional), 2);
        assert_eq!(count(BearerRule::None), 14);
        assert_eq!(
            by_name("SearchChannels").unwrap().bearer,
            BearerRule::Optional
        );
        assert_eq!(
            by_name("PutChannelExpirationSettings").unwrap().bearer,
            BearerRule::Optional
        );
        assert_eq!(
            by_name("GetMessagingSessionEndpoint").unwrap().bearer,
            BearerRule::None
        );
    }

    #[test]
    fn query_params_and_user_arn_flag() {
        let op = by_name("ListChannels").unwrap();
        assert_eq!(
            op.query_params,
            ["app-instance-arn", "privacy", "max-results", "next-token"]
        );
        assert!(
            by_name("ListChannelMembershipsForAppInstanceUser")
                .unwrap()
                .user_arn_query_param()
        );
        assert!(
            by_name("DescribeChannelModeratedByAppInstanceUser")
                .unwrap()
                .user_arn_query_param()
        );
        assert!(!op.user_arn_query_param());
        assert!(
            by_name("SendChannelMessage")
                .unwrap()
                .query_params
                .is_empty()
        );
        let with_flag = all().iter().filter(|o| o.user_arn_query_param()).count();
        assert_eq!(with_flag, 4);
        assert!(by_name("NoSuchOperation").is_none());
    }

    #[test]
    fn search_channels_is_not_create_channel() {
        assert_eq!(
            get(Method::POST, "/channels", Some("operation=search")),
            Some("SearchChannels")
        );
        assert_eq!(
            get(
                Method::POST,
                "/channels",
                Some("max-results=5&operation=search")
            ),
            Some("SearchChannels")
        );
        assert_eq!(get(Method::POST, "/channels", None), Some("CreateChannel"));
        assert_eq!(
            get(Method::POST, "/channels", Some("")),
            Some("CreateChannel")
        );
    }

    #[test]
    fn four_get_channels_variants() {
        let arn = format!("app-instance-arn={APP_INSTANCE}");
        assert_eq!(
            get(Method::GET, "/channels", Some(&arn)),
            Some("ListChannels")
        );
        assert_eq!(
            get(
                Method::GET,
                "/channels",
                Some("scope=app-instance-user-memberships")
            ),
            Some("ListChannelMembershipsForAppInstanceUser")
        );
        assert_eq!(
            get(
                Method::GET,
                "/channels",
                Some("max-results=2&scope=app-instance-user-moderated-channels")
            ),
            Some("ListChannelsModeratedByAppInstanceUser")
        );
        assert_eq!(
            get(
                Method::GET,
                "/channels",
                Some(&format!(
                    "channel-flow-arn={FLOW}&scope=channel-flow-associations"
                ))
            ),
            Some("ListChannelsAssociatedWithChannelFlow")
        );
    }

    #[test]
    fn describe_channel_and_scoped_variants() {
        let path = format!("/channels/{CHANNEL}");
        assert_eq!(get(Method::GET, &path, None), Some("DescribeChannel"));
        assert_eq!(
            get(
                Method::GET,
                &path,
                Some(&format!(
                    "scope=app-instance-user-membership&app-instance-user-arn={USER}"
                ))
            ),
            Some("DescribeChannelMembershipForAppInstanceUser")
        );
        assert_eq!(
            get(
                Method::GET,
                &path,
                Some("scope=app-instance-user-moderated-channel")
            ),
            Some("DescribeChannelModeratedByAppInstanceUser")
        );
        assert_eq!(get(Method::PUT, &path, None), Some("UpdateChannel"));
        assert_eq!(get(Method::DELETE, &path, None), Some("DeleteChannel"));
    }

    #[test]
    fn get_message_vs_message_status_vs_redact() {
        let path = format!("/channels/{CHANNEL}/messages/msg-1");
        assert_eq!(get(Method::GET, &path, None), Some("GetChannelMessage"));
        assert_eq!(
            get(Method::GET, &path, Some("sub-channel-id=s1")),
            Some("GetChannelMessage")
        );
        assert_eq!(
            get(Method::GET, &path, Some("scope=message-status")),
            Some("GetChannelMessageStatus")
        );
        assert_eq!(
            get(Method::POST, &path, Some("operation=redact")),
            Some("RedactChannelMessage")
        );
        // Redact has no undiscriminated POST sibling.
        assert_eq!(get(Method::POST, &path, None), None);
        assert_eq!(get(Method::PUT, &path, None), Some("UpdateChannelMessage"));
    }

    #[test]
    fn batch_create_membership_vs_create_membership() {
        let path = format!("/channels/{CHANNEL}/memberships");
        assert_eq!(
            get(Method::POST, &path, Some("operation=batch-create")),
            Some("BatchCreateChannelMembership")
        );
        assert_eq!(
            get(Method::POST, &path, None),
            Some("CreateChannelMembership")
        );
        assert_eq!(
            get(Method::GET, &path, None),
            Some("ListChannelMemberships")
        );
    }

    #[test]
    fn tag_untag_and_list_tags() {
        assert_eq!(
            get(Method::POST, "/tags", Some("operation=tag-resource")),
            Some("TagResource")
        );
        assert_eq!(
            get(Method::POST, "/tags", Some("operation=untag-resource")),
            Some("UntagResource")
        );
        assert_eq!(get(Method::POST, "/tags", None), None);
        assert_eq!(
            get(Method::GET, "/tags", Some(&format!("arn={CHANNEL}"))),
            Some("ListTagsForResource")
        );
    }

    #[test]
    fn channel_flow_callback() {
        let path = format!("/channels/{CHANNEL}");
        assert_eq!(
            get(Method::POST, &path, Some("operation=channel-flow-callback")),
            Some("ChannelFlowCallback")
        );
        assert_eq!(get(Method::POST, &path, None), None);
    }

    #[test]
    fn encoded_arn_stays_one_segment() {
        let path = format!("/channels/{CHANNEL}/messages");
        assert_eq!(get(Method::POST, &path, None), Some("SendChannelMessage"));
        assert_eq!(get(Method::GET, &path, None), Some("ListChannelMessages"));
        // A decoded ARN would split into several segments and must not match.
        let decoded =
            "/channels/arn:aws:chime:us-east-1:111122223333:app-instance/ai/channel/c1/messages";
        assert_eq!(get(Method::POST, decoded, None), None);
    }

    #[test]
    fn unknown_paths_and_methods() {
        assert_eq!(get(Method::GET, "/", None), None);
        assert_eq!(get(Method::GET, "", None), None);
        assert_eq!(get(Method::GET, "/nope", None), None);
        assert_eq!(get(Method::GET, "channels", None), None);
        assert_eq!(get(Method::GET, "/channels/", None), None);
        assert_eq!(get(Method::GET, "//channels", None), None);
        assert_eq!(get(Method::GET, "/Channels", None), None);
        assert_eq!(get(Method::PATCH, "/channels", None), None);
        assert_eq!(get(Method::OPTIONS, "/channels", None), None);
        // Empty label segment.
        assert_eq!(get(Method::GET, "/channels//messages", None), None);
    }

    #[test]
    fn wrong_method_is_unknown() {
        assert_eq!(get(Method::DELETE, "/channels", None), None);
        assert_eq!(get(Method::PUT, "/endpoints/messaging-session", None), None);
        assert_eq!(
            get(Method::GET, "/channels", Some("operation=search")),
            None
        );
        let path = format!("/channels/{CHANNEL}/messages/msg-1");
        assert_eq!(get(Method::GET, &path, Some("operation=redact")), None);
    }

    #[test]
    fn unknown_or_conflicting_discriminator_is_unknown() {
        assert_eq!(get(Method::GET, "/channels", Some("scope=bogus")), None);
        assert_eq!(
            get(Method::POST, "/channels", Some("operation=bogus")),
            None
        );
        let path = format!("/channels/{CHANNEL}");
        assert_eq!(get(Method::GET, &path, Some("scope=message-status")), None);
        assert_eq!(
            get(
                Method::GET,
                "/channels",
                Some("scope=app-instance-user-memberships&scope=channel-flow-associations")
            ),
            None
        );
        // Discriminator values are compared after form decoding.
        assert_eq!(
            get(Method::POST, "/channels", Some("operation=sear%63h")),
            Some("SearchChannels")
        );
    }
}
