//! Templates for what a caller becomes: `"{provider}-{sub}"`, `"{identity_id}"`. Inside braces,
//! `identity_id`, `provider`, `amr` and `user_id` are stsgate's own values and any other name is
//! a claim; text outside braces is kept. A value without braces (a tag's claim, `source_identity`)
//! names one claim.

use super::MappingError;
use crate::identity::Principal;
use serde_json::Value;

/// One of stsgate's own values, or a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Var {
    Claim(String),
    IdentityId,
    Provider,
    Amr,
    UserId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

/// What a template is rendered against.
pub struct Context<'a> {
    pub principal: &'a Principal,
    pub provider: &'a str,
    pub identity_id: &'a str,
    pub amr: &'a str,
    /// Known once the AppInstanceUserId itself is rendered.
    pub user_id: Option<&'a str>,
    /// Separator for multi-valued claims; `None` refuses them.
    pub join: Option<&'a str>,
}

impl Template {
    /// `{name}` parts and text; `{{`, nested or unclosed braces and empty names are errors.
    pub fn parse(s: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(format!("{s:?}: '}}' without '{{'"));
            }
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("{s:?}: '{{' is not closed"))?;
            let name = &after[..close];
            if name.is_empty() || name.contains('{') {
                return Err(format!("{s:?}: braces must hold one name"));
            }
            parts.push(Part::Var(Var::named(name)));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        if parts.is_empty() {
            return Err("empty template".into());
        }
        Ok(Template(parts))
    }

    /// A claim name, or a template when it holds braces.
    pub fn claim_or_template(s: &str) -> Result<Template, String> {
        if s.contains(['{', '}']) {
            Self::parse(s)
        } else if s.is_empty() {
            Err("must name a claim".into())
        } else {
            Ok(Self::claim(s))
        }
    }

    pub fn claim(name: &str) -> Template {
        Template(vec![Part::Var(Var::Claim(name.to_owned()))])
    }

    pub fn uses(&self, v: &Var) -> bool {
        self.0.iter().any(|p| matches!(p, Part::Var(x) if x == v))
    }

    pub fn render(&self, cx: &Context<'_>) -> Result<String, MappingError> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(Var::Claim(name)) => out.push_str(&claim_value(cx, name)?),
                Part::Var(Var::IdentityId) => out.push_str(cx.identity_id),
                Part::Var(Var::Provider) => out.push_str(cx.provider),
                Part::Var(Var::Amr) => out.push_str(cx.amr),
                Part::Var(Var::UserId) => out.push_str(
                    cx.user_id
                        .expect("user_id is rendered before other templates"),
                ),
            }
        }
        Ok(out)
    }

    /// The claims the template reads (for error messages).
    pub fn claims(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Var(Var::Claim(c)) => Some(c.as_str()),
            _ => None,
        })
    }
}

impl Var {
    fn named(name: &str) -> Var {
        match name {
            "identity_id" => Var::IdentityId,
            "provider" => Var::Provider,
            "amr" => Var::Amr,
            "user_id" => Var::UserId,
            claim => Var::Claim(claim.to_owned()),
        }
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.0 {
            match part {
                Part::Text(t) => f.write_str(t)?,
                Part::Var(v) => write!(f, "{{{}}}", v.name())?,
            }
        }
        Ok(())
    }
}

impl Var {
    fn name(&self) -> &str {
        match self {
            Var::Claim(c) => c,
            Var::IdentityId => "identity_id",
            Var::Provider => "provider",
            Var::Amr => "amr",
            Var::UserId => "user_id",
        }
    }
}

/// A claim as one string: strings as they are, numbers and booleans in JSON form, a one-element
/// list as its element; a longer list joined with `cx.join`, or refused without one.
fn claim_value(cx: &Context<'_>, name: &str) -> Result<String, MappingError> {
    let missing = || MappingError::MissingClaim(name.to_owned());
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match cx.principal.claims.get(name).ok_or_else(missing)? {
        Value::Array(items) if items.len() == 1 => scalar(&items[0]).ok_or_else(missing),
        Value::Array(items) if !items.is_empty() => {
            let sep = cx
                .join
                .ok_or_else(|| MappingError::MultiValued(name.to_owned()))?;
            let values: Option<Vec<String>> = items.iter().map(scalar).collect();
            Ok(values.ok_or_else(missing)?.join(sep))
        }
        other => scalar(other).ok_or_else(missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn principal(claims: Value) -> Principal {
        Principal::with_claims("i", claims)
    }

    fn render(t: &str, claims: Value, join: Option<&str>) -> Result<String, MappingError> {
        let p = principal(claims);
        let cx = Context {
            principal: &p,
            provider: "corp",
            identity_id: "us-east-1:0000",
            amr: "authenticated:corp",
            user_id: Some("corp-alice"),
            join,
        };
        Template::parse(t).unwrap().render(&cx)
    }

    #[test]
    fn renders_claims_and_stsgates_own_values() {
        let claims = json!({"sub": "alice", "n": 7, "one": ["x"]});
        assert_eq!(
            render("{provider}-{sub}", claims.clone(), None).unwrap(),
            "corp-alice"
        );
        assert_eq!(
            render("{identity_id}", claims.clone(), None).unwrap(),
            "us-east-1:0000"
        );
        assert_eq!(
            render("u.{n}.{one}", claims.clone(), None).unwrap(),
            "u.7.x"
        );
        assert_eq!(
            render("{amr}/{user_id}", claims, None).unwrap(),
            "authenticated:corp/corp-alice"
        );
        assert_eq!(
            Template::parse("{provider}-{sub}").unwrap().to_string(),
            "{provider}-{sub}"
        );
    }

    #[test]
    fn multi_valued_claims_are_joined_or_refused() {
        let claims = json!({"groups": ["a", "b"], "empty": [], "obj": {}});
        assert_eq!(
            render("{groups}", claims.clone(), Some(":")).unwrap(),
            "a:b"
        );
        assert_eq!(
            render("{groups}", claims.clone(), None).unwrap_err(),
            MappingError::MultiValued("groups".into())
        );
        for name in ["{empty}", "{obj}", "{absent}"] {
            assert!(matches!(
                render(name, claims.clone(), Some(":")),
                Err(MappingError::MissingClaim(_))
            ));
        }
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in ["{", "}", "{}", "a{b", "{a{b}}", ""] {
            assert!(Template::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Template::claim_or_template("email").unwrap(),
            Template::claim("email")
        );
        assert!(
            Template::claim_or_template("{sub}")
                .unwrap()
                .uses(&Var::Claim("sub".into()))
        );
    }
}
