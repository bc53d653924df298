//! The ARN shapes stsgate reads from config and builds per user: IAM roles and Chime
//! AppInstances / AppInstanceUsers. Pure string checks, no I/O.

/// Checks `arn:{partition}:iam::{account}:role/{path/}{name}`.
pub fn check_role_arn(s: &str) -> Result<(), String> {
    {
        let p = Parts::split(s)?;
        if p.service != "iam" || !p.region.is_empty() {
            return Err(format!(
                "{s:?} is not an IAM ARN (arn:aws:iam::ACCOUNT:role/NAME)"
            ));
        }
        let name = p
            .resource
            .strip_prefix("role/")
            .ok_or_else(|| format!("{s:?} is not a role ARN (resource must start with role/)"))?;
        let valid = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c);
        if name.is_empty()
            || !name.chars().all(valid)
            || name
                .rsplit('/')
                .next()
                .is_none_or(|n| n.is_empty() || n.len() > 64)
        {
            return Err(format!("{s:?} has an invalid role name"));
        }
        Ok(())
    }
}

/// Checks `arn:{partition}:chime:{region}:{account}:app-instance/{id}`.
pub fn check_app_instance_arn(s: &str) -> Result<(), String> {
    {
        let p = Parts::split(s)?;
        let id = p.resource.strip_prefix("app-instance/");
        if p.service != "chime"
            || p.region.is_empty()
            || id.is_none_or(|id| id.is_empty() || id.contains('/'))
        {
            return Err(format!(
                "{s:?} is not an AppInstance ARN (arn:aws:chime:REGION:ACCOUNT:app-instance/ID)"
            ));
        }
        Ok(())
    }
}

/// The AppInstanceUser ARN that `x-amz-chime-bearer` must carry for `user_id`.
pub fn app_instance_user_arn(app_instance_arn: &str, user_id: &str) -> String {
    format!("{app_instance_arn}/user/{user_id}")
}

/// Chime's AppInstanceUserId shape: `[A-Za-z0-9]([A-Za-z0-9:\-_.@]{0,62}[A-Za-z0-9])?`.
pub fn is_app_instance_user_id(id: &str) -> bool {
    let b = id.as_bytes();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || b":-_.@".contains(c);
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(inner)
}

struct Parts<'a> {
    service: &'a str,
    region: &'a str,
    resource: &'a str,
}

impl<'a> Parts<'a> {
    fn split(s: &'a str) -> Result<Self, String> {
        let mut it = s.splitn(6, ':');
        let (arn, partition, service, region, account, resource) = (
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
        );
        match (arn, partition, service, region, account, resource) {
            (
                Some("arn"),
                Some(partition),
                Some(service),
                Some(region),
                Some(account),
                Some(resource),
            ) if partition.starts_with("aws")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(Parts {
                    service,
                    region,
                    resource,
                })
            }
            _ => Err(format!(
                "{s:?} is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE with a 12-digit account)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert!(check_role_arn("arn:aws:iam::111122223333:role/ChimeUser").is_ok());
        assert!(check_role_arn("arn:aws-cn:iam::111122223333:role/path/to/R").is_ok());
        assert!(check_role_arn("arn:aws:iam::111122223333:user/bob").is_err());
        assert!(check_role_arn("arn:aws:iam::1111:role/R").is_err());
        assert!(check_role_arn("arn:aws:sts::111122223333:role/R").is_err());
        assert!(check_role_arn("role/R").is_err());
    }

    #[test]
    fn app_instance_arns() {
        let ok = "arn:aws:chime:us-east-1:111122223333:app-instance/1111-2222";
        assert!(check_app_instance_arn(ok).is_ok());
        assert!(check_app_instance_arn(&format!("{ok}/user/bob")).is_err());
        assert!(check_app_instance_arn("arn:aws:chime::111122223333:app-instance/x").is_err());
        assert_eq!(app_instance_user_arn(ok, "bob"), format!("{ok}/user/bob"));
    }

    #[test]
    fn user_ids() {
        for ok in [
            "a",
            "alice",
            "user@example.com",
            "a1:b2-c_3.d",
            &"x".repeat(64),
        ] {
            assert!(is_app_instance_user_id(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "auth0|123", "a/b", "a b", &"x".repeat(65)] {
            assert!(!is_app_instance_user_id(bad), "{bad}");
        }
    }
}
