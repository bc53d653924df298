//! Where each value comes from: the file, then `STSGATE_<SECTION>_<KEY>` environment variables,
//! then `--set key=value` flags (flag > env > file > default). Only single values can be layered;
//! arrays of tables (`[[issuers]]`), lists and maps come from the file.

use super::keys::{self, Key, Kind};
use super::{Config, ConfigError};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Variables stsgate reads that are not config keys (the CLI's own).
const CLI_VARIABLES: &[&str] = &[
    "STSGATE_CONFIG",
    "STSGATE_LOG_FORMAT",
    super::ENV_STORE_KEY,
    super::ENV_STORE_PREVIOUS_KEYS,
];
const PREFIX: &str = "STSGATE_";

/// Where a key's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    /// The variable's name.
    Env(String),
    Flag,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File => f.write_str("file"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Flag => f.write_str("--set"),
        }
    }
}

/// What the command line adds to the file.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    /// The process environment (or a test's), as name/value pairs.
    pub env: Vec<(String, String)>,
    /// `--set` arguments, `key=value`.
    pub set: Vec<String>,
}

impl Overlay {
    pub fn from_process(set: Vec<String>) -> Self {
        Overlay {
            env: std::env::vars().collect(),
            set,
        }
    }
}

/// The file with the overlay applied.
#[derive(Debug)]
pub struct Layered {
    pub config: Config,
    /// The table the config was read from (file values, overridden where layered).
    pub table: toml::Table,
    /// Every key whose value was given (keys absent here take their default).
    pub sources: BTreeMap<String, Source>,
    /// `STSGATE_*` variables that name no key (a typo, or Kubernetes' service-link variables).
    pub unknown_env: Vec<String>,
}

/// The environment variable that sets `path` (a key not inside an array of tables).
pub fn env_name(path: &str) -> String {
    format!("{PREFIX}{}", path.replace('.', "_").to_ascii_uppercase())
}

fn layerable(k: &Key) -> bool {
    k.kind.is_scalar() && !k.in_array()
}

/// Parses `text` and applies `overlay`.
pub fn layer(text: &str, overlay: &Overlay) -> Result<Layered, ConfigError> {
    let parse_error = |e: toml::de::Error| ConfigError::Parse(e.to_string());
    let mut table: toml::Table = toml::from_str(text).map_err(parse_error)?;
    let keys = keys::all();
    let mut sources: BTreeMap<String, Source> = keys
        .iter()
        .filter(|k| !k.in_array() && lookup(&table, &k.path).is_some())
        .map(|k| (k.path.clone(), Source::File))
        .collect();
    let by_env: BTreeMap<String, &Key> = keys
        .iter()
        .filter(|k| layerable(k))
        .map(|k| (env_name(&k.path), k))
        .collect();
    let mut unknown_env = Vec::new();
    let mut env: Vec<&(String, String)> = overlay.env.iter().collect();
    env.sort();
    for (name, value) in env {
        if !name.starts_with(PREFIX) || CLI_VARIABLES.contains(&name.as_str()) {
            continue;
        }
        let Some(key) = by_env.get(name) else {
            unknown_env.push(name.clone());
            continue;
        };
        insert(&mut table, key, value, name)?;
        sources.insert(key.path.clone(), Source::Env(name.clone()));
    }
    for arg in &overlay.set {
        let bad = |why: &str| ConfigError::Parse(format!("--set {arg}: {why}"));
        let (path, value) = arg
            .split_once('=')
            .ok_or_else(|| bad("expected key=value"))?;
        let key = keys
            .iter()
            .find(|k| k.path == path.trim())
            .ok_or_else(|| bad("no such key"))?;
        if !layerable(key) {
            return Err(bad(
                "only single values can be set; lists, maps and [[tables]] come from the file",
            ));
        }
        insert(&mut table, key, value, "--set")?;
        sources.insert(key.path.clone(), Source::Flag);
    }
    let layered = sources.values().any(|s| *s != Source::File);
    let config = if layered {
        Config::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| ConfigError::Parse(e.to_string()))?
    } else {
        // Straight from the text, so an error points at the file's line.
        toml::from_str(text).map_err(parse_error)?
    };
    let mut config = config;
    if let Some(store) = config.session_store.as_mut() {
        store.env_keys = super::EnvKeys::from_env(&overlay.env);
    }
    Ok(Layered {
        config,
        table,
        sources,
        unknown_env,
    })
}

/// A value as `stsgate check` shows it: a store URL without its password.
fn redact(path: &str, value: String) -> String {
    if path != "session_store.url" {
        return value;
    }
    let Ok(mut u) = url::Url::parse(value.trim_matches('"')) else {
        return "\"(not a URL)\"".to_owned();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("REDACTED"));
    }
    // redis+unix:///sock?pass=… carries it in the query.
    if u.query_pairs().any(|(k, _)| k == "pass" || k == "password") {
        let kept: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| match k.as_ref() {
                "pass" | "password" => (k.into_owned(), "REDACTED".to_owned()),
                _ => (k.into_owned(), v.into_owned()),
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(kept);
    }
    format!("\"{u}\"")
}

fn lookup<'a>(table: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

/// Sets `key` to `raw`, typed by the key's kind; `origin` names where `raw` came from.
fn insert(table: &mut toml::Table, key: &Key, raw: &str, origin: &str) -> Result<(), ConfigError> {
    let bad = |what: &str| ConfigError::Parse(format!("{origin}: {} must be {what}", key.path));
    let value = match key.kind {
        Kind::Integer => toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?),
        Kind::Boolean => toml::Value::Boolean(match raw.trim() {
            "true" => true,
            "false" => false,
            _ => return Err(bad("true or false")),
        }),
        _ => toml::Value::String(raw.to_owned()),
    };
    let mut parts: Vec<&str> = key.path.split('.').collect();
    let leaf = parts.pop().expect("a key has a name");
    let mut t = table;
    for part in parts {
        let entry = t
            .entry(part)
            .or_insert_with(|| toml::Value::Table(Default::default()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| bad("in a table (the file gives its section another type)"))?;
    }
    t.insert(leaf.to_owned(), value);
    Ok(())
}

/// `stsgate check`'s listing: every key outside arrays of tables with its value and source,
/// then how many entries each array of tables has.
pub fn describe(l: &Layered) -> String {
    let mut out = String::new();
    let keys = keys::all();
    let mut absent_tables = Vec::new();
    for k in keys.iter().filter(|k| !k.in_array()) {
        if let Some(t) = k
            .optional_table
            .as_ref()
            .filter(|t| !l.table.contains_key(*t))
        {
            if !absent_tables.contains(t) {
                out.push_str(&format!("# [{t}] is not set\n"));
                absent_tables.push(t.clone());
            }
            continue;
        }
        let (value, source) = match lookup(&l.table, &k.path) {
            Some(v) => (
                v.to_string(),
                l.sources.get(&k.path).cloned().unwrap_or(Source::File),
            ),
            None => match &k.default {
                Some(d) => (display_default(d), Source::Default),
                None => {
                    out.push_str(&format!("# {} is not set\n", k.path));
                    continue;
                }
            },
        };
        let value = redact(&k.path, value);
        out.push_str(&format!("{} = {value}  # {source}\n", k.path));
    }
    for array in ["issuers", "saml_idps"] {
        let n = l
            .table
            .get(array)
            .and_then(toml::Value::as_array)
            .map_or(0, Vec::len);
        out.push_str(&format!("# [[{array}]]: {n} from the file\n"));
    }
    for name in &l.unknown_env {
        out.push_str(&format!("# {name} names no key and is ignored\n"));
    }
    out
}

/// A schema default (JSON) as TOML writes it.
fn display_default(v: &serde_json::Value) -> String {
    match toml::Value::try_from(v) {
        Ok(t) => t.to_string(),
        Err(_) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
        [upstream]
        region = "us-east-1"
        [sts]
        role_arn = "arn:aws:iam::111122223333:role/u"
        region = "us-east-1"
        timeout_seconds = 7
        [chime]
        app_instance_arn = "arn:aws:chime:us-east-1:111122223333:app-instance/a"
    "#;

    fn env(pairs: &[(&str, &str)]) -> Overlay {
        Overlay {
            env: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            set: Vec::new(),
        }
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let mut o = env(&[
            ("STSGATE_STS_TIMEOUT_SECONDS", "8"),
            ("STSGATE_MAX_BODY_BYTES", "2048"),
            ("HOME", "/root"),
        ]);
        o.set = vec!["max_body_bytes=4096".into()];
        let l = layer(FILE, &o).unwrap();
        assert_eq!(l.config.sts.timeout_seconds, 8);
        assert_eq!(l.config.max_body_bytes, 4096);
        assert_eq!(l.config.upstream.region, "us-east-1");
        assert_eq!(l.config.max_connections, 10000);
        let sources = [
            (
                "sts.timeout_seconds",
                Source::Env("STSGATE_STS_TIMEOUT_SECONDS".into()),
            ),
            ("max_body_bytes", Source::Flag),
            ("upstream.region", Source::File),
        ];
        for (path, source) in sources {
            assert_eq!(l.sources[path], source, "{path}");
        }
        // tls.admin alone makes a [tls] table without its required files: the error says so.
        let e = layer(FILE, &env(&[("STSGATE_TLS_ADMIN", "true")])).unwrap_err();
        assert!(e.to_string().contains("cert_file"), "{e}");
    }

    #[test]
    fn bad_values_and_unknown_names_are_reported() {
        let e = layer(FILE, &env(&[("STSGATE_STS_TIMEOUT_SECONDS", "soon")])).unwrap_err();
        assert!(
            e.to_string()
                .contains("STSGATE_STS_TIMEOUT_SECONDS: sts.timeout_seconds must be an integer"),
            "{e}"
        );
        let l = layer(
            FILE,
            &env(&[
                ("STSGATE_PORT", "tcp://10.0.0.1:80"),
                ("STSGATE_CONFIG", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(l.unknown_env, ["STSGATE_PORT"]);
        let set = |arg: &str| Overlay {
            set: vec![arg.into()],
            ..Overlay::default()
        };
        assert!(
            layer(FILE, &set("nope=1"))
                .unwrap_err()
                .to_string()
                .contains("no such key")
        );
        assert!(
            layer(FILE, &set("chime.admin_user_ids=a"))
                .unwrap_err()
                .to_string()
                .contains("single values")
        );
        assert!(
            layer(FILE, &set("max_body_bytes"))
                .unwrap_err()
                .to_string()
                .contains("key=value")
        );
    }

    #[test]
    fn every_settable_key_has_its_own_variable() {
        let keys: Vec<Key> = keys::all().into_iter().filter(layerable).collect();
        let names: std::collections::HashSet<String> =
            keys.iter().map(|k| env_name(&k.path)).collect();
        assert_eq!(names.len(), keys.len(), "two keys share a variable name");
        for k in &keys {
            assert!(
                !CLI_VARIABLES.contains(&env_name(&k.path).as_str()),
                "{}",
                k.path
            );
        }
    }

    #[test]
    fn check_lists_values_with_their_sources() {
        let l = layer(FILE, &env(&[("STSGATE_LISTEN", "127.0.0.1:7000")])).unwrap();
        let text = describe(&l);
        for line in [
            "listen = \"127.0.0.1:7000\"  # env STSGATE_LISTEN",
            "sts.timeout_seconds = 7  # file",
            "max_connections = 10000  # default",
            "chime.bearer = \"enforce\"  # default",
            "# public_url is not set",
            "# [tls] is not set",
            "# [[issuers]]: 0 from the file",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
    }

    #[test]
    fn check_never_shows_the_store_password_or_keys() {
        let o = env(&[
            ("STSGATE_SESSION_STORE_URL", "rediss://:hunter2@cache:6380"),
            ("STSGATE_SESSION_STORE_KEY", "c2VjcmV0LWtleQ=="),
        ]);
        let file = format!("{FILE}\n[session_store]\nurl = \"redis://cache\"\n");
        let l = layer(&file, &o).unwrap();
        assert!(
            l.unknown_env.is_empty(),
            "the key variable is stsgate's own"
        );
        assert_eq!(
            l.config
                .session_store
                .as_ref()
                .unwrap()
                .env_keys
                .current
                .as_deref(),
            Some("c2VjcmV0LWtleQ==")
        );
        let text = describe(&l);
        assert!(text.contains("rediss://:REDACTED@cache:6380"), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("c2VjcmV0"),
            "{text}"
        );
    }
}
