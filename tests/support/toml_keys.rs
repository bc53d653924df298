//! Config files edited by key, for tests that hand the binary a file (the typed `Config` cannot
//! be written back): the TOML is parsed into a table, values are set or removed at a key path
//! (`sts.role_arn`, `saml_idps[0].audiences`), and the table is written out again. Nothing
//! depends on the file's layout, its table order or its comments.

use toml::{Table, Value};

/// `text` with `edit` applied to its keys; the edit must change something.
pub fn edit(text: &str, edit: impl FnOnce(&mut Table)) -> String {
    let mut t: Table = text.parse().unwrap_or_else(|e| panic!("not TOML: {e}"));
    let before = t.clone();
    edit(&mut t);
    assert_ne!(t, before, "the edit changed nothing");
    toml::to_string(&t).unwrap()
}

/// Sets the value at `path`, making the tables on the way (`tls.cert_file` adds `[tls]`).
pub fn set(t: &mut Table, path: &str, value: impl Into<Value>) {
    let (parent, key) = parent(t, path, true);
    parent.insert(key.into(), value.into());
}

/// Removes the value at `path`, which must be set.
pub fn remove(t: &mut Table, path: &str) {
    let (parent, key) = parent(t, path, false);
    parent
        .remove(key)
        .unwrap_or_else(|| panic!("{path} is not set"));
}

/// Appends an entry, given as its TOML keys, to the array of tables at `path` (`saml_idps`),
/// making the array if there is none.
pub fn push(t: &mut Table, path: &str, keys: &str) {
    let entry: Table = keys.parse().unwrap_or_else(|e| panic!("{keys}: {e}"));
    let (parent, key) = parent(t, path, true);
    parent
        .entry(key)
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()
        .unwrap_or_else(|| panic!("{path} is not an array"))
        .push(entry.into());
}

/// The table holding the last key of `path`, and that key. `name[i]` is entry `i` of an array.
fn parent<'t, 'p>(t: &'t mut Table, path: &'p str, make: bool) -> (&'t mut Table, &'p str) {
    let (tables, key) = path.rsplit_once('.').unwrap_or(("", path));
    let mut at = t;
    for part in tables.split('.').filter(|p| !p.is_empty()) {
        let (name, index) = match part.split_once('[') {
            Some((name, i)) => (
                name,
                Some(i.trim_end_matches(']').parse::<usize>().unwrap()),
            ),
            None => (part, None),
        };
        let mut v = if make {
            at.entry(name).or_insert_with(|| Value::Table(Table::new()))
        } else {
            at.get_mut(name)
                .unwrap_or_else(|| panic!("{path}: no {name}"))
        };
        if let Some(i) = index {
            v = v
                .as_array_mut()
                .and_then(|a| a.get_mut(i))
                .unwrap_or_else(|| panic!("{path}: no {part}"));
        }
        at = v
            .as_table_mut()
            .unwrap_or_else(|| panic!("{path}: {part} is not a table"));
    }
    (at, key)
}
