//! Every key of the configuration file, read from the config types' JSON schema (schemars): its
//! dotted path, the kind of value it takes, and its default. The environment layer, `stsgate
//! check` and the README test all take the keys from here, so none keeps a list that can drift.

use super::Config;
use serde_json::Value;

/// What a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Integer,
    Boolean,
    /// Strings, and what is written as one (addresses, URLs, paths, enum values).
    String,
    List,
    /// A table of the operator's own keys (`[session_tags]`, `required_claims`).
    Map,
}

impl Kind {
    /// A single value, settable from an environment variable or `--set`.
    pub fn is_scalar(self) -> bool {
        matches!(self, Kind::Integer | Kind::Boolean | Kind::String)
    }
}

#[derive(Debug, Clone)]
pub struct Key {
    /// `listen`, `upstream.timeout_seconds`, `issuers[].audiences`: `[]` marks an array of tables.
    pub path: String,
    pub kind: Kind,
    /// The value used when the key is absent, if there is one.
    pub default: Option<Value>,
    /// The optional top-level table (`[cors]`, `[tls]`) the key belongs to: its defaults only
    /// apply when the table is there.
    pub optional_table: Option<String>,
}

impl Key {
    /// Inside an `[[array]]` of tables: one value per entry, so not settable by name.
    pub fn in_array(&self) -> bool {
        self.path.contains("[]")
    }

    /// The section the key belongs to (`upstream`), empty at the top level.
    pub fn section(&self) -> &str {
        self.path.rsplit_once('.').map_or("", |(s, _)| s)
    }
}

/// Every key, in the schema's (alphabetical) order within each table.
pub fn all() -> Vec<Key> {
    let schema = serde_json::to_value(schemars::schema_for!(Config)).expect("schema is JSON");
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let mut keys = Vec::new();
    walk(&schema, &defs, "", None, &mut keys);
    keys
}

fn resolve<'a>(schema: &'a Value, defs: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => &defs[r.trim_start_matches("#/$defs/")],
        None => schema,
    }
}

/// `Option<T>` is `anyOf [T, null]`; the key's kind is T's.
fn unwrap_option<'a>(schema: &'a Value, defs: &'a Value) -> &'a Value {
    let any = schema.get("anyOf").and_then(Value::as_array);
    let some = any.and_then(|a| a.iter().find(|s| s.get("type") != Some(&"null".into())));
    resolve(some.unwrap_or(schema), defs)
}

fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn walk(table: &Value, defs: &Value, prefix: &str, optional: Option<&str>, keys: &mut Vec<Key>) {
    let Some(props) = table.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, field) in props {
        let path = format!("{prefix}{name}");
        let schema = unwrap_option(field, defs);
        let t = types(schema);
        let kind = if schema.get("properties").is_some() {
            // `Option<Table>`: its keys' defaults apply only when the table is written.
            let optional = optional.or(field.get("anyOf").is_some().then_some(name.as_str()));
            walk(schema, defs, &format!("{path}."), optional, keys);
            continue;
        } else if t.contains(&"array") {
            let items = resolve(&schema["items"], defs);
            if items.get("properties").is_some() {
                walk(items, defs, &format!("{path}[]."), optional, keys);
                continue;
            }
            Kind::List
        } else if t.contains(&"object") {
            Kind::Map
        } else if t.contains(&"integer") {
            Kind::Integer
        } else if t.contains(&"boolean") {
            Kind::Boolean
        } else {
            Kind::String
        };
        let default = field.get("default").or_else(|| schema.get("default"));
        keys.push(Key {
            path,
            kind,
            default: default.filter(|d| !d.is_null()).cloned(),
            optional_table: optional.map(str::to_owned),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> Key {
        all()
            .into_iter()
            .find(|k| k.path == path)
            .unwrap_or_else(|| panic!("{path} missing"))
    }

    #[test]
    fn keys_come_with_their_kind_and_default() {
        let k = key("upstream.timeout_seconds");
        assert_eq!((k.kind, k.default), (Kind::Integer, Some(30.into())));
        assert_eq!(key("listen").default, Some("127.0.0.1:8080".into()));
        assert_eq!(key("chime.bearer").default, Some("enforce".into()));
        assert_eq!(key("tls.admin").kind, Kind::Boolean);
        assert_eq!(key("issuers[].audiences").kind, Kind::List);
        assert!(key("issuers[].audiences").in_array());
        assert_eq!(key("session_tags").kind, Kind::Map);
        assert_eq!(key("sts.role_arn").default, None);
        assert_eq!(key("cors.max_age_seconds").section(), "cors");
        assert_eq!(key("tls.admin").optional_table.as_deref(), Some("tls"));
        assert_eq!(key("upstream.region").optional_table, None);
    }

    /// The README's key table: each row's key cell and default cell.
    fn readme_rows() -> Vec<(String, String)> {
        let readme = include_str!("../../README.md");
        let table = readme
            .split("| key | default | meaning |")
            .nth(1)
            .expect("the README has a key table");
        table
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l.split(" | ").collect();
                (
                    cells[0].trim_start_matches("| ").to_owned(),
                    cells[1].to_owned(),
                )
            })
            .collect()
    }

    /// The key paths a README cell names: `[[issuers]] issuer`, `[tls] cert_file`,
    /// `[issuers.required_claims]`, `upstream.region`, `[session_tags] <tag> = "<claim>"`, and
    /// bare names after a `[[table]]` one (`certificates` / `certificate_files`).
    fn paths_in(cell: &str, known: &[String]) -> Vec<String> {
        let mut prefix = String::new();
        let mut paths = Vec::new();
        for segment in cell.split('`').skip(1).step_by(2) {
            // `[[a.b]] c` is `a[].b[].c`; `[a] c` is `a.c`.
            let double = segment.starts_with("[[");
            let (table, rest) = match segment.strip_prefix('[') {
                Some(s) => {
                    let (t, rest) = s.split_once(']').expect("closed table name");
                    let t = t.trim_matches(['[', ']']);
                    let t = if double {
                        format!("{}[]", t.replace('.', "[]."))
                    } else {
                        t.to_owned()
                    };
                    (Some(t), rest.trim_start_matches(']').trim())
                }
                None => (None, segment),
            };
            let name = rest.split_whitespace().next().unwrap_or("");
            let path = match &table {
                Some(t) if name.is_empty() || name.starts_with('<') => t.clone(),
                Some(t) => format!("{t}.{name}"),
                None => format!("{prefix}{name}"),
            };
            if let Some(t) = table {
                prefix = format!("{t}.");
            }
            // `[issuers.required_claims]` names a table inside `[[issuers]]`.
            let path = if known.contains(&path) {
                path
            } else {
                path.replacen('.', "[].", 1)
            };
            paths.push(path);
        }
        paths
    }

    #[test]
    fn the_readme_key_table_names_every_key_once_with_its_default() {
        let keys = all();
        let known: Vec<String> = keys.iter().map(|k| k.path.clone()).collect();
        let mut documented = Vec::new();
        for (cell, default) in readme_rows() {
            for path in paths_in(&cell, &known) {
                let key = keys
                    .iter()
                    .find(|k| k.path == path)
                    .unwrap_or_else(|| panic!("README names {path}, which is no key"));
                if let (Some(d), true) = (&key.default, key.kind.is_scalar()) {
                    let shown = default.split('`').nth(1).unwrap_or("");
                    let expected = d.as_str().map_or_else(|| d.to_string(), str::to_owned);
                    assert_eq!(shown, expected, "README default of {path}");
                }
                documented.push(path);
            }
        }
        for k in &known {
            let n = documented.iter().filter(|d| *d == k).count();
            assert_eq!(n, 1, "{k} is documented {n} times in the README key table");
        }
    }

    #[test]
    fn the_example_config_shows_every_key() {
        let example = include_str!("../../deploy/stsgate.example.toml");
        let lines: Vec<&str> = example
            .lines()
            .map(|l| l.trim_start_matches(['#', ' ']))
            .collect();
        let mut missing = Vec::new();
        for k in all() {
            let name = k.path.rsplit('.').next().unwrap();
            let shown = match k.kind {
                Kind::Map => {
                    let table = format!("[{}]", k.path.replace("[]", ""));
                    lines.iter().any(|l| l.starts_with(&table))
                }
                _ => lines.iter().any(|l| l.starts_with(&format!("{name} ="))),
            };
            if !shown {
                missing.push(k.path);
            }
        }
        assert!(
            missing.is_empty(),
            "not in deploy/stsgate.example.toml: {missing:?}"
        );
    }
}
