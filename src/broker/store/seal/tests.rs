use super::*;
use crate::mapping::PresentedSecret;
use std::sync::Arc;

fn key(byte: u8) -> SealKey {
    SealKey::new(&[byte; KEY_BYTES])
}

fn sealer(keys: &[u8]) -> Sealer {
    Sealer::new(keys.iter().map(|b| key(*b)).collect(), "stsgate:".into())
}

fn spec(user: &str) -> SessionSpec {
    SessionSpec {
        role_arn: "arn:aws:iam::111122223333:role/chat-user".into(),
        session_name: user.into(),
        tags: vec![("chime-user".into(), user.into())],
        duration_seconds: 3600,
        user_arn: format!("arn:aws:chime:us-east-1:111122223333:app-instance/a/user/{user}").into(),
        ..SessionSpec::default()
    }
}

fn credentials() -> SessionCredentials {
    SessionCredentials::new(
        "ASIAFLEETKEY".into(),
        "fleet-secret-value".into(),
        "fleet-session-token".into(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000),
    )
}

#[test]
fn a_sealed_entry_opens_under_its_name_and_reveals_nothing() {
    let s = sealer(&[7]);
    let name = &s.names(&spec("alice"))[0];
    let sealed = s.seal(name, &credentials());
    let text = String::from_utf8_lossy(&sealed);
    for secret in [
        "ASIAFLEETKEY",
        "fleet-secret-value",
        "fleet-session-token",
        "alice",
    ] {
        assert!(!text.contains(secret), "{secret} in the entry");
        assert!(!name.contains(secret), "{secret} in the name");
    }
    let opened = s.open(name, &sealed).expect("opens");
    assert_eq!(opened.keys().secret_access_key(), "fleet-secret-value");
    assert_eq!(opened.keys().session_token(), Some("fleet-session-token"));
    assert_eq!(opened.expires_at, credentials().expires_at);
}

#[test]
fn tampered_moved_foreign_and_garbage_entries_are_refused() {
    let s = sealer(&[7]);
    let alice = &s.names(&spec("alice"))[0];
    let bob = &s.names(&spec("bob"))[0];
    let sealed = s.seal(alice, &credentials());

    let mut flipped = sealed.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(s.open(alice, &flipped).unwrap_err(), Refused::Tampered);
    // Alice's entry copied under Bob's name must not give Bob her session.
    assert_eq!(s.open(bob, &sealed).unwrap_err(), Refused::Tampered);
    let foreign = sealer(&[9]).seal(alice, &credentials());
    assert_eq!(s.open(alice, &foreign).unwrap_err(), Refused::UnknownKey);
    assert_eq!(s.open(alice, b"").unwrap_err(), Refused::Format);
    assert_eq!(s.open(alice, &sealed[..10]).unwrap_err(), Refused::Format);
    assert_eq!(s.open(alice, &sealed[..20]).unwrap_err(), Refused::Tampered);
}

#[test]
fn rotation_reads_entries_of_the_previous_key_under_its_names() {
    let old = sealer(&[1]);
    let rotated = sealer(&[2, 1]);
    let names = rotated.names(&spec("alice"));
    assert_eq!(names.len(), 2);
    assert_eq!(names[1], old.names(&spec("alice"))[0]);
    assert_ne!(names[0], names[1]);
    let sealed = old.seal(&names[1], &credentials());
    assert!(rotated.open(&names[1], &sealed).is_ok());
    // Once the old key is gone, its entries are foreign.
    assert_eq!(
        sealer(&[2]).open(&names[1], &sealed).unwrap_err(),
        Refused::UnknownKey
    );
}

#[test]
fn every_part_of_the_session_key_changes_the_name() {
    let s = sealer(&[7]);
    let base = spec("alice");
    let name = |spec: &SessionSpec| s.names(spec).remove(0);
    let variants: Vec<SessionSpec> = vec![
        SessionSpec {
            role_arn: "arn:aws:iam::111122223333:role/other".into(),
            ..base.clone()
        },
        SessionSpec {
            session_name: "alice2".into(),
            ..base.clone()
        },
        SessionSpec {
            tags: vec![("chime-user".into(), "bob".into())],
            ..base.clone()
        },
        SessionSpec {
            duration_seconds: 900,
            ..base.clone()
        },
        SessionSpec {
            policy: Some("{}".into()),
            ..base.clone()
        },
        SessionSpec {
            policy_arns: vec![Arc::from("arn:aws:iam::aws:policy/x")].into(),
            ..base.clone()
        },
        SessionSpec {
            transitive_tag_keys: vec![Arc::from("chime-user")].into(),
            ..base.clone()
        },
        SessionSpec {
            source_identity: Some("alice".into()),
            ..base.clone()
        },
        SessionSpec {
            user_arn: "arn:aws:chime:us-east-1:111122223333:app-instance/a/user/a-b".into(),
            ..base.clone()
        },
        SessionSpec {
            exchange: Exchange::WebIdentity(PresentedSecret::new("token-1")),
            ..base.clone()
        },
    ];
    let mut seen = std::collections::HashSet::from([name(&base)]);
    for v in &variants {
        assert!(seen.insert(name(v)), "{v:?} named like another key");
    }
    // Length prefixes: moving a byte between two fields is a different key.
    let shifted = SessionSpec {
        tags: vec![("chime-use".into(), "ralice".into())],
        ..base.clone()
    };
    assert_ne!(name(&shifted), name(&base));
    assert_eq!(name(&base.clone()), name(&base), "names are deterministic");
}
