//! Role selection, with Cognito identity pools' semantics: a provider's default role, ordered
//! rules (the first match wins), or the role the token chooses (`cognito:preferred_role`, or
//! `cognito:roles` when it holds one) from an allow-list; when nothing fits, deny or the default.

use super::SessionShape;
use crate::config::MatchType;
use crate::identity::Principal;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum RoleSelection {
    Default(Arc<str>),
    Rules {
        rules: Vec<Rule>,
        /// `ambiguous = "default"`: this role when no rule matches; `None` denies.
        fallback: Option<Arc<str>>,
    },
    Token {
        allowed: Vec<Arc<str>>,
        fallback: Option<Arc<str>>,
    },
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub claim: String,
    pub match_type: MatchType,
    pub value: String,
    pub role_arn: Arc<str>,
    /// The session's shape for callers this rule matches.
    pub shape: SessionShape,
}

/// The role chosen, and the rule that chose it.
pub struct Chosen<'a> {
    pub role_arn: Arc<str>,
    pub rule: Option<&'a Rule>,
    /// How: `default`, `rule 2`, `cognito:preferred_role`, `ambiguous: default`.
    pub how: String,
}

/// What each rule (or token claim) said, for `stsgate explain`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub what: String,
    pub matched: bool,
}

impl RoleSelection {
    /// `None` when nothing fits and the provider denies. `trace` gets one step per check.
    pub fn choose(&self, p: &Principal, mut trace: Option<&mut Vec<Step>>) -> Option<Chosen<'_>> {
        let mut note = |what: String, matched: bool| {
            if let Some(t) = trace.as_deref_mut() {
                t.push(Step { what, matched });
            }
        };
        let fallback = |role: &Option<Arc<str>>| {
            role.as_ref().map(|r| Chosen {
                role_arn: r.clone(),
                rule: None,
                how: "ambiguous: default".into(),
            })
        };
        match self {
            RoleSelection::Default(role) => Some(Chosen {
                role_arn: role.clone(),
                rule: None,
                how: "default".into(),
            }),
            RoleSelection::Rules { rules, fallback: f } => {
                for (i, rule) in rules.iter().enumerate() {
                    let matched = rule.matches(p);
                    note(
                        format!(
                            "rule {}: {} {:?} {:?}",
                            i + 1,
                            rule.claim,
                            rule.match_type,
                            rule.value
                        ),
                        matched,
                    );
                    if matched {
                        return Some(Chosen {
                            role_arn: rule.role_arn.clone(),
                            rule: Some(rule),
                            how: format!("rule {}", i + 1),
                        });
                    }
                }
                fallback(f)
            }
            RoleSelection::Token {
                allowed,
                fallback: f,
            } => {
                let (claim, named) = token_role(p);
                let ok = named
                    .as_deref()
                    .and_then(|r| allowed.iter().find(|a| ***a == *r));
                if let Some(claim) = claim {
                    note(
                        format!(
                            "{claim} = {:?} in allowed_roles",
                            named.as_deref().unwrap_or("")
                        ),
                        ok.is_some(),
                    );
                }
                match ok {
                    Some(role) => Some(Chosen {
                        role_arn: role.clone(),
                        rule: None,
                        how: claim.unwrap_or_default().to_owned(),
                    }),
                    None => fallback(f),
                }
            }
        }
    }
}

/// The role a Cognito token names: `cognito:preferred_role`, else `cognito:roles` when it holds
/// exactly one (a JSON list, or the documented comma-separated string).
fn token_role(p: &Principal) -> (Option<&'static str>, Option<String>) {
    if let Some(Value::String(r)) = p.claims.get("cognito:preferred_role") {
        return (Some("cognito:preferred_role"), Some(r.clone()));
    }
    let roles: Vec<String> = match p.claims.get("cognito:roles") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => s.split(',').map(|r| r.trim().to_owned()).collect(),
        _ => return (None, None),
    };
    let one = (roles.len() == 1).then(|| roles[0].clone());
    (Some("cognito:roles"), one)
}

impl Rule {
    /// A list claim matches when any element does (`NotEqual`: when none equals). A missing
    /// claim never matches, `NotEqual` included (Cognito does not evaluate such a rule).
    pub fn matches(&self, p: &Principal) -> bool {
        let values: Vec<String> = match p.claims.get(&self.claim) {
            None | Some(Value::Null) => return false,
            Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
            Some(v) => scalar(v).into_iter().collect(),
        };
        let v = self.value.as_str();
        match self.match_type {
            MatchType::Equals => values.iter().any(|x| x == v),
            MatchType::Contains => values.iter().any(|x| x.contains(v)),
            MatchType::StartsWith => values.iter().any(|x| x.starts_with(v)),
            MatchType::NotEqual => !values.is_empty() && values.iter().all(|x| x != v),
        }
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn principal(claims: Value) -> Principal {
        Principal::with_claims("i", claims)
    }

    fn rule(claim: &str, m: MatchType, value: &str, role: &str) -> Rule {
        Rule {
            claim: claim.into(),
            match_type: m,
            value: value.into(),
            role_arn: role.into(),
            shape: SessionShape::default(),
        }
    }

    fn rules(fallback: Option<&str>) -> RoleSelection {
        RoleSelection::Rules {
            rules: vec![
                rule("groups", MatchType::Contains, "adm", "admins"),
                rule("email", MatchType::StartsWith, "ops@", "ops"),
                rule("dept", MatchType::Equals, "sales", "sales"),
                rule("tier", MatchType::NotEqual, "free", "paid"),
            ],
            fallback: fallback.map(Into::into),
        }
    }

    fn chosen(s: &RoleSelection, claims: Value) -> Option<String> {
        s.choose(&principal(claims), None)
            .map(|c| c.role_arn.to_string())
    }

    #[test]
    fn the_first_matching_rule_wins_for_each_match_type() {
        let s = rules(None);
        let admin = json!({"groups": ["users", "badmins"], "dept": "sales"});
        assert_eq!(chosen(&s, admin).as_deref(), Some("admins"));
        assert_eq!(
            chosen(&s, json!({"email": "ops@x"})).as_deref(),
            Some("ops")
        );
        assert_eq!(
            chosen(&s, json!({"dept": "sales"})).as_deref(),
            Some("sales")
        );
        assert_eq!(chosen(&s, json!({"tier": "gold"})).as_deref(), Some("paid"));
        assert_eq!(
            chosen(&s, json!({"tier": "free"})),
            None,
            "NotEqual false: deny"
        );
        assert_eq!(
            chosen(&s, json!({})),
            None,
            "NotEqual on a missing claim never matches"
        );
        assert_eq!(
            chosen(&rules(Some("dflt")), json!({})).as_deref(),
            Some("dflt"),
            "ambiguous = default"
        );
    }

    #[test]
    fn the_trace_lists_each_rule_until_the_match() {
        let mut trace = Vec::new();
        let s = rules(None);
        let c = s
            .choose(&principal(json!({"dept": "sales"})), Some(&mut trace))
            .unwrap();
        assert_eq!(c.how, "rule 3");
        let matched: Vec<bool> = trace.iter().map(|t| t.matched).collect();
        assert_eq!(matched, [false, false, true]);
    }

    #[test]
    fn a_token_chooses_only_an_allowed_role() {
        let s = RoleSelection::Token {
            allowed: vec!["arn:r1".into(), "arn:r2".into()],
            fallback: None,
        };
        let pick = |claims| chosen(&s, claims);
        assert_eq!(
            pick(json!({"cognito:preferred_role": "arn:r2"})).as_deref(),
            Some("arn:r2")
        );
        assert_eq!(pick(json!({"cognito:preferred_role": "arn:evil"})), None);
        assert_eq!(
            pick(json!({"cognito:roles": ["arn:r1"]})).as_deref(),
            Some("arn:r1")
        );
        assert_eq!(
            pick(json!({"cognito:roles": "arn:r1"})).as_deref(),
            Some("arn:r1")
        );
        assert_eq!(
            pick(json!({"cognito:roles": ["arn:r1", "arn:r2"]})),
            None,
            "two: ambiguous"
        );
        assert_eq!(pick(json!({})), None);
    }
}
