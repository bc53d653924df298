//! Identity IDs in Cognito's `{region}:{uuid}` form. An authenticated caller's is derived from
//! its provider (issuer or entity ID, not the short name, so renaming keeps IDs) and subject: a
//! name-based UUID (RFC 9562 version 8, SHA-256), the same on every replica and every login, and
//! never the same for two providers. A guest's is random (version 4).

/// The stable identity ID of `subject` at `provider`.
pub fn derived(region: &str, provider: &str, subject: &str) -> String {
    let mut d = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    // Lengths first, so ("a", "bc") and ("ab", "c") hash apart.
    for part in [provider, subject] {
        d.update(&(part.len() as u64).to_be_bytes());
        d.update(part.as_bytes());
    }
    let digest = d.finish();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    format(region, bytes, 8)
}

/// A new random identity ID (a guest's).
pub fn fresh(region: &str) -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
    format(region, bytes, 4)
}

fn format(region: &str, mut b: [u8; 16], version: u8) -> String {
    b[6] = (b[6] & 0x0f) | (version << 4);
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    format!(
        "{region}:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arn::is_app_instance_user_id;

    #[test]
    fn derived_ids_are_stable_per_provider_and_subject() {
        let a = derived("us-east-1", "https://idp-a", "alice");
        assert_eq!(a, derived("us-east-1", "https://idp-a", "alice"));
        assert_ne!(a, derived("us-east-1", "https://idp-b", "alice"));
        assert_ne!(derived("r", "a", "bc"), derived("r", "ab", "c"));
        assert_eq!(a.len(), "us-east-1:".len() + 36);
        assert_eq!(&a["us-east-1:".len() + 14..][..1], "8", "version 8: {a}");
        assert!(
            is_app_instance_user_id(&a),
            "usable as an AppInstanceUserId"
        );
    }

    #[test]
    fn fresh_ids_differ() {
        let (x, y) = (fresh("eu-west-1"), fresh("eu-west-1"));
        assert_ne!(x, y);
        assert!(x.starts_with("eu-west-1:") && is_app_instance_user_id(&x));
    }
}
