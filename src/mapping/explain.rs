//! `stsgate explain`: every step of one caller's mapping, without calling STS.

use super::{Mapper, MappingError, Step};
use crate::chime::operations::AllowList;
use crate::identity::Principal;
use serde::Serialize;

/// What a credential maps to, and why.
#[derive(Debug, Serialize)]
pub struct Explanation {
    pub provider: String,
    pub amr: String,
    pub identity_id: Option<String>,
    /// Each rule or token claim checked, in order.
    pub role_checks: Vec<Step>,
    pub role_arn: Option<String>,
    pub session_name: Option<String>,
    pub tags: Vec<(String, String)>,
    pub duration_seconds: Option<i32>,
    pub session_policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub transitive_tag_keys: Vec<String>,
    pub source_identity: Option<String>,
    pub sts_mode: String,
    pub app_instance_user_arn: Option<String>,
    /// Operations this caller may call.
    pub allowed_operations: Vec<String>,
    /// Why the caller would be refused (the same message a request gets).
    pub refused: Option<String>,
}

impl Mapper {
    /// Maps `p` as a request would, recording each step; `allowed` is the gateway-wide list.
    pub fn explain(&self, p: &Principal, allowed: &AllowList) -> Explanation {
        let mut steps = Vec::new();
        let provider = self.provider(p).ok();
        let result = self.map_traced(p, Some(&mut steps));
        let mut e = Explanation {
            provider: provider.map_or_else(|| p.issuer.clone(), |v| v.name.clone()),
            amr: provider.map(|v| v.amr.clone()).unwrap_or_default(),
            identity_id: None,
            role_checks: steps,
            role_arn: None,
            session_name: None,
            tags: Vec::new(),
            duration_seconds: None,
            session_policy: None,
            policy_arns: Vec::new(),
            transitive_tag_keys: Vec::new(),
            source_identity: None,
            sts_mode: provider
                .map(|v| format!("{:?}", v.sts_mode))
                .unwrap_or_default(),
            app_instance_user_arn: None,
            allowed_operations: provider
                .and_then(|v| v.allowed.as_ref())
                .unwrap_or(allowed)
                .names()
                .map(str::to_owned)
                .collect(),
            refused: None,
        };
        match result {
            Ok(m) => {
                let s = m.spec;
                e.identity_id = Some(m.identity_id);
                e.role_arn = Some(s.role_arn.to_string());
                e.session_name = Some(s.session_name);
                e.tags = s.tags;
                e.duration_seconds = Some(s.duration_seconds);
                e.session_policy = s.policy.map(|x| x.to_string());
                e.policy_arns = s.policy_arns.iter().map(|x| x.to_string()).collect();
                e.transitive_tag_keys = s
                    .transitive_tag_keys
                    .iter()
                    .map(|x| x.to_string())
                    .collect();
                e.source_identity = s.source_identity;
                e.app_instance_user_arn = Some(s.user_arn.to_string());
            }
            Err(err) => e.refused = Some(refusal(&err)),
        }
        e
    }
}

fn refusal(e: &MappingError) -> String {
    let code = match e {
        MappingError::NoRoleMatched => "no_role_matched",
        _ => "identity_not_mappable",
    };
    format!("403 {code}: {e}")
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        writeln!(f, "provider:          {} ({})", self.provider, self.amr)?;
        writeln!(f, "identity id:       {}", opt(&self.identity_id))?;
        for step in &self.role_checks {
            let verdict = if step.matched { "matched" } else { "no match" };
            writeln!(f, "  {:<40} {verdict}", step.what)?;
        }
        writeln!(f, "role:              {}", opt(&self.role_arn))?;
        writeln!(f, "session name:      {}", opt(&self.session_name))?;
        writeln!(f, "session tags:")?;
        for (k, v) in &self.tags {
            writeln!(f, "  {k} = {v}")?;
        }
        if !self.transitive_tag_keys.is_empty() {
            writeln!(
                f,
                "transitive tags:   {}",
                self.transitive_tag_keys.join(", ")
            )?;
        }
        writeln!(f, "source identity:   {}", opt(&self.source_identity))?;
        let duration = self.duration_seconds.map(|d| d.to_string());
        writeln!(f, "duration seconds:  {}", opt(&duration))?;
        writeln!(f, "session policy:    {}", opt(&self.session_policy))?;
        if !self.policy_arns.is_empty() {
            writeln!(f, "policy arns:       {}", self.policy_arns.join(", "))?;
        }
        writeln!(f, "sts mode:          {}", self.sts_mode)?;
        writeln!(f, "AppInstanceUser:   {}", opt(&self.app_instance_user_arn))?;
        writeln!(
            f,
            "allowed operations: {}",
            self.allowed_operations.join(", ")
        )?;
        match &self.refused {
            Some(why) => writeln!(f, "REFUSED:           {why}"),
            None => writeln!(f, "result:            mapped (STS was not called)"),
        }
    }
}
