//! Who callers become: one [`Provider`] per `[[issuers]]` and `[[saml_idps]]` entry (name,
//! user-id template, role selection, tags, the session's shape), over the defaults in `[sts]` and
//! `[session_tags]`; the guests' provider comes from `guests.rs`.

use super::session::shape;
use super::{Problems, check_tag_key, is_tag_char};
use crate::arn::check_role_arn;
use crate::config::settings::MappingSettings;
use crate::config::{
    Ambiguous, Config, RoleMode, RuleConfig, SessionConfig, StsMode, TagMode, TagsConfig,
};
use crate::mapping::{Provider, RoleSelection, Rule, SessionShape, Template, Var, amr_of};
use std::collections::BTreeMap;
use std::sync::Arc;

/// STS accepts at most 50 session tags per AssumeRole.
const MAX_SESSION_TAGS: usize = 50;
/// Cognito's limit on role rules per provider.
pub const MAX_RULES: usize = 25;

/// The provider keys `[[issuers]]` and `[[saml_idps]]` share, borrowed from either.
pub(super) struct Fields<'a> {
    pub name: &'a Option<String>,
    pub user_id: &'a Option<String>,
    pub role: RoleMode,
    pub role_arn: &'a Option<String>,
    pub rules: &'a [RuleConfig],
    pub ambiguous: Ambiguous,
    pub allowed_roles: &'a [String],
    pub tags: &'a Option<TagsConfig>,
    pub join: &'a Option<String>,
    pub session: &'a SessionConfig,
    pub sts_mode: Option<StsMode>,
}

macro_rules! fields {
    ($c:expr) => {
        Fields {
            name: &$c.name,
            user_id: &$c.user_id,
            role: $c.role,
            role_arn: &$c.role_arn,
            rules: &$c.rules,
            ambiguous: $c.ambiguous,
            allowed_roles: &$c.allowed_roles,
            tags: &$c.tags,
            join: &$c.join_multi_valued,
            session: &$c.session,
            sts_mode: $c.sts_mode,
        }
    };
}

pub(super) fn mapping(c: &Config, p: &mut Problems) -> MappingSettings {
    let global = Global::new(c, p);
    // Guests count: their user IDs are `guests-{identity_id}`, so a sole issuer's must be
    // namespaced too.
    let several = c.issuers.len() + c.saml_idps.len() + usize::from(c.guests.is_some()) > 1;
    let mut providers = Vec::new();
    for (i, iss) in c.issuers.iter().enumerate() {
        let at = format!("issuers[{i}]");
        providers.push(provider(
            &at,
            &iss.issuer,
            fields!(iss),
            &global,
            several,
            p,
        ));
    }
    for (i, idp) in c.saml_idps.iter().enumerate() {
        let at = format!("saml_idps[{i}]");
        let v = provider(&at, &idp.entity_id, fields!(idp), &global, several, p);
        if v.sts_mode == StsMode::WebIdentity {
            match &idp.saml_provider_arn {
                None => p.bad(
                    format!("{at}.saml_provider_arn"),
                    "required with sts_mode = \"web_identity\" (the IAM SAML provider)",
                ),
                Some(arn) if !arn.starts_with("arn:") || !arn.contains(":saml-provider/") => p.bad(
                    format!("{at}.saml_provider_arn"),
                    "must be arn:aws:iam::ACCOUNT:saml-provider/NAME",
                ),
                Some(_) => {}
            }
        }
        let v = Provider {
            saml_provider_arn: idp.saml_provider_arn.as_deref().map(Into::into),
            ..v
        };
        providers.push(v);
    }
    if let Some(g) = &c.guests {
        providers.push(super::guests::provider(g, &global, p));
    }
    unique_names(&providers, c, p);
    MappingSettings {
        app_instance_arn: c.chime.app_instance_arn.clone(),
        region: c.upstream.region.clone(),
        providers: providers.into_iter().map(Arc::new).collect(),
    }
}

/// The defaults every provider starts from.
pub(super) struct Global {
    pub role_arn: Arc<str>,
    pub shape: SessionShape,
    pub tags: Vec<(String, Template)>,
    pub session_name: Template,
    pub user_id_claim: String,
    pub mode: StsMode,
    pub require_user_id_tag: bool,
}

impl Global {
    fn new(c: &Config, p: &mut Problems) -> Global {
        let s = &c.sts;
        p.check("sts.role_arn", check_role_arn(&s.role_arn));
        for (key, claim) in [
            ("sts.session_name_claim", &s.session_name_claim),
            ("chime.user_id_claim", &c.chime.user_id_claim),
        ] {
            if claim.is_empty() {
                p.bad(key, "must name a claim");
            }
        }
        let defaults = SessionConfig {
            duration_seconds: Some(s.duration_seconds),
            session_policy: s.session_policy.clone(),
            policy_arns: Some(s.policy_arns.clone()),
            transitive_tag_keys: Some(s.transitive_tag_keys.clone()),
            source_identity: s.source_identity.clone(),
        };
        let tags = tag_map(
            "session_tags",
            &c.session_tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            p,
        );
        Global {
            role_arn: s.role_arn.as_str().into(),
            shape: shape("sts", &defaults, &SessionShape::default(), p),
            tags,
            session_name: p
                .check(
                    "sts.session_name_claim",
                    Template::claim_or_template(&s.session_name_claim),
                )
                .unwrap_or_else(|| Template::claim("sub")),
            user_id_claim: c.chime.user_id_claim.clone(),
            mode: s.mode,
            require_user_id_tag: c.chime.require_user_id_tag,
        }
    }
}

fn provider(
    at: &str,
    key: &str,
    f: Fields<'_>,
    g: &Global,
    several: bool,
    p: &mut Problems,
) -> Provider {
    let k = |name: &str| format!("{at}.{name}");
    let name = provider_name(&k("name"), f.name, key, several, p);
    let user_id = user_id_template(&k("user_id"), f.user_id, g, several, p);
    let shape = shape(at, f.session, &g.shape, p);
    let default_role: Arc<str> = match f.role_arn {
        Some(r) => {
            p.check(k("role_arn"), check_role_arn(r));
            r.as_str().into()
        }
        None => g.role_arn.clone(),
    };
    let tags = provider_tags(&k("tags"), f.tags, g, p);
    check_join(&k("join_multi_valued"), f.join, p);
    let sts_mode = f.sts_mode.unwrap_or(g.mode);
    let v = Provider {
        key: key.to_owned(),
        amr: amr_of(true, &name),
        name,
        authenticated: true,
        user_id,
        session_name: g.session_name.clone(),
        roles: roles(at, &f, default_role, &shape, p),
        tags,
        join: f.join.clone(),
        shape,
        sts_mode,
        saml_provider_arn: None,
        allowed: None,
    };
    if f.name.is_none() && !several && v.user_id.uses(&Var::Provider) {
        p.bad(k("name"), "required when user_id uses {provider}");
    }
    check_session(at, &v, g, p);
    v
}

/// The provider's `name` (`{provider}`): the configured one, else its issuer or entity ID,
/// which is allowed only when it is the only provider.
fn provider_name(
    at: &str,
    name: &Option<String>,
    key: &str,
    several: bool,
    p: &mut Problems,
) -> String {
    match name {
        Some(n) => {
            if !is_provider_name(n) {
                p.bad(
                    at,
                    "1-32 letters, digits, '.' or '_', starting with a letter or digit (no '-': it ends the name in the default user id {provider}-{sub})",
                );
            }
            n.clone()
        }
        None => {
            if several {
                p.bad(at, "required when more than one provider is configured");
            }
            key.to_owned()
        }
    }
}

/// The provider's `user_id` template: the configured one, else the user-id claim (prefixed by
/// `{provider}-` when there are several providers); it cannot use `{user_id}` itself.
fn user_id_template(
    at: &str,
    user_id: &Option<String>,
    g: &Global,
    several: bool,
    p: &mut Problems,
) -> Template {
    let t = match user_id {
        Some(t) => p.check(at, Template::parse(t)),
        None if several => Template::parse(&format!("{{provider}}-{{{}}}", g.user_id_claim)).ok(),
        None => Some(Template::claim(&g.user_id_claim)),
    }
    .unwrap_or_else(|| Template::claim("sub"));
    if t.uses(&Var::UserId) {
        p.bad(at, "cannot use {user_id} (it is the user id)");
    }
    t
}

/// The provider's session tags: `[session_tags]`'s unless it sets `tags` itself.
fn provider_tags(
    at: &str,
    tags: &Option<TagsConfig>,
    g: &Global,
    p: &mut Problems,
) -> Vec<(String, Template)> {
    match tags {
        None => g.tags.clone(),
        Some(TagsConfig::Mode(TagMode::Off)) => Vec::new(),
        Some(TagsConfig::Mode(TagMode::Default)) => {
            vec![
                ("client".into(), Template::claim("aud")),
                ("username".into(), Template::claim("sub")),
            ]
        }
        Some(TagsConfig::Custom(map)) => tag_map(at, map, p),
    }
}

/// `join_multi_valued`, when set, is made of tag characters.
fn check_join(at: &str, join: &Option<String>, p: &mut Problems) {
    if join
        .as_ref()
        .is_some_and(|sep| sep.is_empty() || !sep.chars().all(is_tag_char))
    {
        p.bad(
            at,
            "must be tag characters (letters, digits, spaces, _ . : / = + - @)",
        );
    }
}

/// What a provider's sessions must satisfy: the user-id tag, transitive keys among the tags,
/// and what web-identity mode cannot send; for the provider's shape and each rule's own.
pub(super) fn check_session(at: &str, v: &Provider, g: &Global, p: &mut Problems) {
    let tags_key = format!("{at}.tags");
    if v.sts_mode == StsMode::WebIdentity {
        if !v.tags.is_empty() {
            p.bad(&tags_key, "sts_mode = \"web_identity\" cannot send tags (they come from the token's https://aws.amazon.com/tags claim); set tags = \"off\"");
        }
    } else {
        let carries_user_id = v
            .tags
            .iter()
            .any(|(_, t)| *t == v.user_id || t.uses(&Var::UserId));
        if g.require_user_id_tag && !carries_user_id {
            p.bad(
                format!("{tags_key} (or session_tags)"),
                format!(
                    "no tag carries the user id ({}), so the user role's policy cannot tie a session \
                     to its bearer; add one (e.g. my_applications_user_id = \"{{user_id}}\") or set \
                     chime.require_user_id_tag = false",
                    v.user_id
                ),
            );
        }
    }
    check_shape(at, &v.shape, v, p);
    if let RoleSelection::Rules { rules, .. } = &v.roles {
        for (i, r) in rules.iter().enumerate() {
            // What a rule inherits was checked with the provider.
            let inherited = r.shape.transitive_tag_keys == v.shape.transitive_tag_keys
                && r.shape.source_identity == v.shape.source_identity;
            if !inherited {
                check_shape(&format!("{at}.rules[{i}]"), &r.shape, v, p);
            }
        }
    }
}

/// One session shape of provider `v`: transitive keys are among its tags; web-identity mode
/// sends neither those nor a source identity.
fn check_shape(at: &str, shape: &SessionShape, v: &Provider, p: &mut Problems) {
    if v.sts_mode == StsMode::WebIdentity {
        if !shape.transitive_tag_keys.is_empty() || shape.source_identity.is_some() {
            p.bad(
                format!("{at}.session"),
                "sts_mode = \"web_identity\" cannot send transitive_tag_keys or source_identity",
            );
        }
        return;
    }
    for t in shape.transitive_tag_keys.iter() {
        if !v.tags.iter().any(|(k, _)| k.eq_ignore_ascii_case(t)) {
            p.bad(
                format!("{at}.session.transitive_tag_keys"),
                format!("{t:?} is not one of the provider's tags"),
            );
        }
    }
}

fn roles(
    at: &str,
    f: &Fields<'_>,
    default_role: Arc<str>,
    provider_shape: &SessionShape,
    p: &mut Problems,
) -> RoleSelection {
    let k = |name: &str| format!("{at}.{name}");
    let fallback = match f.ambiguous {
        Ambiguous::Deny => None,
        Ambiguous::Default => Some(default_role.clone()),
    };
    if f.role != RoleMode::Rules && !f.rules.is_empty() {
        p.bad(k("rules"), "rules are used only with role = \"rules\"");
    }
    if f.role != RoleMode::Token && !f.allowed_roles.is_empty() {
        p.bad(k("allowed_roles"), "used only with role = \"token\"");
    }
    match f.role {
        RoleMode::Default => RoleSelection::Default(default_role),
        RoleMode::Rules => {
            if f.rules.is_empty() {
                p.bad(
                    k("rules"),
                    "role = \"rules\" needs at least one [[…rules]] entry",
                );
            }
            if f.rules.len() > MAX_RULES {
                p.bad(
                    k("rules"),
                    format!("at most {MAX_RULES} rules per provider (Cognito's limit)"),
                );
            }
            let rules = f
                .rules
                .iter()
                .enumerate()
                .map(|(i, r)| rule(&format!("{at}.rules[{i}]"), r, provider_shape, p))
                .collect();
            RoleSelection::Rules { rules, fallback }
        }
        RoleMode::Token => {
            if f.allowed_roles.is_empty() {
                p.bad(
                    k("allowed_roles"),
                    "role = \"token\" needs the roles a token may choose",
                );
            }
            for r in f.allowed_roles {
                p.check(k("allowed_roles"), check_role_arn(r));
            }
            RoleSelection::Token {
                allowed: f.allowed_roles.iter().map(|r| r.as_str().into()).collect(),
                fallback,
            }
        }
    }
}

fn rule(at: &str, r: &RuleConfig, provider_shape: &SessionShape, p: &mut Problems) -> Rule {
    if r.claim.is_empty() || r.claim.chars().count() > 64 {
        p.bad(format!("{at}.claim"), "1 to 64 characters");
    }
    if r.value.is_empty() || r.value.chars().count() > 128 {
        p.bad(format!("{at}.value"), "1 to 128 characters");
    }
    p.check(format!("{at}.role_arn"), check_role_arn(&r.role_arn));
    Rule {
        claim: r.claim.clone(),
        match_type: r.match_type,
        value: r.value.clone(),
        role_arn: r.role_arn.as_str().into(),
        shape: shape(at, &r.session, provider_shape, p),
    }
}

/// Tag key → claim (or template): at most 50, keys valid and unique ignoring case.
pub(super) fn tag_map(
    at: &str,
    map: &BTreeMap<String, String>,
    p: &mut Problems,
) -> Vec<(String, Template)> {
    if map.len() > MAX_SESSION_TAGS {
        p.bad(at, format!("at most {MAX_SESSION_TAGS} tags (STS limit)"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut tags = Vec::new();
    for (tag, source) in map {
        let key = format!("{at}.{tag}");
        p.check(&key, check_tag_key(tag));
        // STS treats tag keys case-insensitively: `Dept` and `dept` would collide.
        if !seen.insert(tag.to_lowercase()) {
            p.bad(&key, "differs from another tag key only by case");
        }
        if let Some(t) = p.check(&key, Template::claim_or_template(source)) {
            tags.push((tag.clone(), t));
        }
    }
    tags
}

/// A provider name cannot hold `-`, so the default user ID `{provider}-{sub}` says unambiguously
/// whose it is: `acme` + `eu-alice` cannot become `acme-eu` + `alice`.
fn is_provider_name(n: &str) -> bool {
    let b = n.as_bytes();
    (1..=32).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"._".contains(c))
}

fn unique_names(providers: &[Provider], c: &Config, p: &mut Problems) {
    let at = |i: usize| {
        let n = c.issuers.len();
        if i < n {
            format!("issuers[{i}].name")
        } else if i < n + c.saml_idps.len() {
            format!("saml_idps[{}].name", i - n)
        } else {
            "guests".to_owned()
        }
    };
    for (i, v) in providers.iter().enumerate() {
        if providers[..i].iter().any(|o| o.name == v.name) {
            p.bad(at(i), format!("{:?} names another provider too", v.name));
        }
        if providers[..i].iter().any(|o| o.key == v.key) {
            p.bad(at(i), format!("{:?} is configured twice", v.key));
        }
    }
}
