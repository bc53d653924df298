//! The relying-party checks on the signed assertion, and its claims: `NameID` becomes `sub`,
//! every attribute a claim under its `Name` (and under the names the operator configured).

use super::{SamlVerifier, Scanned};
use crate::identity::{IdentityError, Principal};
use samael::schema::{Assertion, Response};
use serde_json::{Map, Value};

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SAMLP_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";

/// Claims the assertion itself defines; attributes of the same name do not replace them.
const RESERVED: &[&str] = &["iss", "aud", "exp", "iat", "sub", "name_id_format"];

/// `signed` is exactly what the IdP signed: a whole Response or a single Assertion.
pub(super) fn check(
    v: &SamlVerifier,
    signed: &str,
    scanned: &Scanned,
    now: i64,
) -> Result<Principal, IdentityError> {
    let assertion = signed_assertion(v, signed, scanned)?;
    let issued = assertion.issue_instant.timestamp();
    if issued > now + v.leeway {
        return Err(IdentityError::IssuedInFuture);
    }
    let mut valid_until = i64::MAX;
    if let Some(max_age) = v.max_age {
        if now > issued + max_age {
            return Err(IdentityError::TooOld);
        }
        valid_until = issued + max_age;
    }
    let (audience, subject, exp) = check_conditions(v, &assertion, now)?;
    valid_until = valid_until.min(exp - 1 + v.leeway);

    let claims = claims(v, &assertion, subject, audience, exp, issued);
    if v.required_claims
        .iter()
        .any(|(k, want)| claims.get(k) != Some(want))
    {
        return Err(IdentityError::ClaimMismatch);
    }
    Ok(Principal {
        issuer: v.entity_id.clone(),
        claims,
        exp,
        valid_until,
        derived: Default::default(),
    })
}

/// The assertion the IdP signed (from a signed Response or a signed Assertion), which must be
/// the one the scan saw, SAML 2.0, from this IdP.
fn signed_assertion(
    v: &SamlVerifier,
    signed: &str,
    scanned: &Scanned,
) -> Result<Assertion, IdentityError> {
    let assertion = match root(signed)
        .as_ref()
        .map(|(ns, n)| (ns.as_str(), n.as_str()))
    {
        Some((SAMLP_NS, "Response")) => from_response(v, signed)?,
        Some((SAML_NS, "Assertion")) => signed
            .parse::<Assertion>()
            .map_err(|_| IdentityError::MalformedSaml("signed assertion does not parse"))?,
        _ => {
            return Err(IdentityError::SignatureWrapping(
                "the signature covers neither the Response nor the assertion",
            ));
        }
    };
    if assertion.id != scanned.assertion_id {
        return Err(IdentityError::SignatureWrapping(
            "the signed assertion is not the one presented",
        ));
    }
    if assertion.version != "2.0" {
        return Err(IdentityError::MalformedSaml("Version is not 2.0"));
    }
    if assertion.issuer.value.as_deref().map(str::trim) != Some(v.entity_id.as_str()) {
        return Err(IdentityError::UnknownIssuer);
    }
    Ok(assertion)
}

/// Conditions, audience, subject confirmation and IdP session: the audience, the subject, and
/// the end of the assertion's validity (exclusive).
fn check_conditions(
    v: &SamlVerifier,
    assertion: &Assertion,
    now: i64,
) -> Result<(String, String, i64), IdentityError> {
    let conditions = assertion
        .conditions
        .as_ref()
        .ok_or(IdentityError::WrongAudience)?;
    if conditions.one_time_use.is_some() {
        // A cached, reusable credential cannot honour OneTimeUse.
        return Err(IdentityError::UnsupportedCondition("OneTimeUse"));
    }
    let not_on_or_after = window(
        v,
        now,
        seconds(conditions.not_before),
        seconds(conditions.not_on_or_after),
    )?;
    let audience = check_audience(v, conditions)?;
    let (subject, confirmed_until) = check_subject(v, assertion, now)?;
    let session_end = assertion
        .authn_statements
        .iter()
        .flatten()
        .filter_map(|s| s.session_not_on_or_after.map(|t| t.timestamp()))
        .min();
    if session_end.is_some_and(|end| now >= end + v.leeway) {
        return Err(IdentityError::Expired);
    }
    // NotOnOrAfter is exclusive: the last accepted second is one before it (plus leeway).
    let exp = [not_on_or_after, Some(confirmed_until), session_end]
        .into_iter()
        .flatten()
        .min()
        .expect("the confirmation always bounds the assertion");
    Ok((audience, subject, exp))
}

/// A signed Response: its status, destination and issuer, and its one assertion.
fn from_response(v: &SamlVerifier, signed: &str) -> Result<Assertion, IdentityError> {
    let response: Response = signed
        .parse()
        .map_err(|_| IdentityError::MalformedSaml("signed Response does not parse"))?;
    let status = response
        .status
        .as_ref()
        .and_then(|s| s.status_code.value.as_deref());
    if status != Some(SUCCESS) {
        return Err(IdentityError::MalformedSaml(
            "Response status is not Success",
        ));
    }
    if response
        .destination
        .as_ref()
        .is_some_and(|d| !v.recipients.contains(d))
    {
        return Err(IdentityError::WrongRecipient);
    }
    if response
        .issuer
        .as_ref()
        .is_some_and(|i| i.value.as_deref().map(str::trim) != Some(v.entity_id.as_str()))
    {
        return Err(IdentityError::UnknownIssuer);
    }
    response.assertion.ok_or(IdentityError::SignatureWrapping(
        "the signed Response holds no assertion",
    ))
}

/// `NotBefore`/`NotOnOrAfter` against `now` with leeway; returns `NotOnOrAfter` as Unix seconds.
fn window(
    v: &SamlVerifier,
    now: i64,
    not_before: Option<i64>,
    end: Option<i64>,
) -> Result<Option<i64>, IdentityError> {
    if not_before.is_some_and(|t| now + v.leeway < t) {
        return Err(IdentityError::NotYetValid);
    }
    if end.is_some_and(|end| now >= end + v.leeway) {
        return Err(IdentityError::Expired);
    }
    Ok(end)
}

/// Every `AudienceRestriction` must name one of ours (they are ANDed; audiences within one are
/// ORed). Returns the audience that matched.
fn check_audience(
    v: &SamlVerifier,
    conditions: &samael::schema::Conditions,
) -> Result<String, IdentityError> {
    let restrictions = conditions
        .audience_restrictions
        .as_deref()
        .filter(|r| !r.is_empty())
        .ok_or(IdentityError::WrongAudience)?;
    let mut matched = None;
    for r in restrictions {
        let ours = r.audience.iter().find(|a| v.audiences.contains(a));
        matched = Some(ours.ok_or(IdentityError::WrongAudience)?.clone());
    }
    matched.ok_or(IdentityError::WrongAudience)
}

/// The `NameID`, and the end of the first bearer confirmation that fits this recipient and time.
fn check_subject(
    v: &SamlVerifier,
    a: &Assertion,
    now: i64,
) -> Result<(String, i64), IdentityError> {
    let subject = a
        .subject
        .as_ref()
        .ok_or(IdentityError::MissingClaim("Subject"))?;
    let name_id = subject
        .name_id
        .as_ref()
        .map(|n| n.value.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or(IdentityError::MissingClaim("NameID"))?;
    let mut first_error = None;
    for c in subject.subject_confirmations.iter().flatten() {
        if c.method.as_deref() != Some(BEARER) {
            continue;
        }
        let Some(data) = &c.subject_confirmation_data else {
            continue;
        };
        let outcome = if !data
            .recipient
            .as_ref()
            .is_some_and(|r| v.recipients.contains(r))
        {
            Err(IdentityError::WrongRecipient)
        } else {
            match window(
                v,
                now,
                seconds(data.not_before),
                seconds(data.not_on_or_after),
            ) {
                Ok(Some(end)) => Ok(end),
                Ok(None) => Err(IdentityError::NoBearerConfirmation),
                Err(e) => Err(e),
            }
        };
        match outcome {
            Ok(end) => return Ok((name_id, end)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(IdentityError::NoBearerConfirmation))
}

fn claims(
    v: &SamlVerifier,
    a: &Assertion,
    subject: String,
    audience: String,
    exp: i64,
    issued: i64,
) -> Map<String, Value> {
    let mut attributes: Map<String, Value> = Map::new();
    for attr in a
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| &s.attributes)
    {
        let Some(name) = attr.name.as_ref() else {
            continue;
        };
        for value in attr.values.iter().filter_map(|x| x.value.clone()) {
            match attributes.get_mut(name) {
                None => {
                    attributes.insert(name.clone(), Value::String(value));
                }
                Some(Value::Array(list)) => list.push(Value::String(value)),
                Some(single) => *single = Value::Array(vec![single.take(), Value::String(value)]),
            }
        }
    }
    let mut claims = Map::new();
    claims.insert("iss".into(), v.entity_id.clone().into());
    claims.insert("aud".into(), audience.into());
    claims.insert("exp".into(), exp.into());
    claims.insert("iat".into(), issued.into());
    claims.insert("sub".into(), subject.into());
    // Lets `required_claims` insist on, say, persistent NameIDs (a transient one changes per login).
    if let Some(format) = a
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .and_then(|n| n.format.clone())
    {
        claims.insert("name_id_format".into(), format.into());
    }
    for (name, value) in &attributes {
        if !RESERVED.contains(&name.as_str()) {
            claims.insert(name.clone(), value.clone());
        }
    }
    // Configured names come last so they may replace `sub` (e.g. with a persistent employee ID
    // when the NameID is transient); `iss`, `aud`, `exp` and `iat` are refused at load time.
    for (claim, attribute) in &v.claim_names {
        if let Some(value) = attributes.get(attribute) {
            claims.insert(claim.clone(), value.clone());
        }
    }
    claims
}

fn seconds(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp())
}

/// Namespace and local name of the document's root element.
fn root(xml: &str) -> Option<(String, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::NsReader::from_str(xml);
    loop {
        match reader.read_resolved_event().ok()? {
            (quick_xml::name::ResolveResult::Bound(ns), Event::Start(e) | Event::Empty(e)) => {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                return Some((text(ns.as_ref()), text(e.local_name().as_ref())));
            }
            (_, Event::Start(_) | Event::Empty(_) | Event::Eof) => return None,
            _ => {}
        }
    }
}
