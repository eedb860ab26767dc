//! Table and column names from the names connectors choose: snake_case, at most
//! [`MAX_NAME_BYTES`] bytes, never one of the runner's own tables, never twice in one
//! table. Names are always quoted when used; these rules make them predictable and
//! readable, not safe (quoting does that).
//!
//! The rules, in order:
//! 1. snake_case: a `_` before an upper-case letter that follows a lower-case letter or a
//!    digit, or that starts a new word after an acronym (`HTMLUrl` → `html_url`); letters
//!    lower-cased (non-ASCII letters too, `Ünïcode` → `ünïcode`); every run of characters
//!    that is not a letter or a digit (quotes, `;`, spaces, `-`) becomes one `_`; no `_`
//!    at either end; an empty result is `_`.
//! 2. Longer than 63 bytes (PostgreSQL's limit, applied to SQLite too so both stores
//!    agree): cut to 54 bytes on a character boundary, then `_` and 8 hex digits of the
//!    FNV-1a hash of the whole snake_case name, so two long names that share a beginning
//!    stay apart and the same name always gives the same cut.
//! 3. Taken (a runner table for a table name; `connection`, `id` or an earlier column for
//!    a column): `_2`, then `_3`, ... appended (within the length limit).

use std::collections::HashSet;

/// PostgreSQL truncates identifiers longer than this (NAMEDATALEN - 1).
pub const MAX_NAME_BYTES: usize = 63;

/// What a cut name keeps before `_` and its hash.
const CUT_BYTES: usize = MAX_NAME_BYTES - 9;

/// The runner's own tables (both stores), which no typed table may be named.
pub const RUNNER_TABLES: &[&str] = &[
    "records",
    "rejected_records",
    "stream_state",
    "sync_runs",
    "run_logs",
    "runner_schema",
    "connections",
    "checkpoint_log",
    "runner_staging",
    "typed_tables",
];

/// `name` in snake_case within the length limit (rules 1 and 2).
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 && starts_word(&chars, i) && !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push('_');
    }
    fit(out)
}

/// Whether the upper-case letter at `i` begins a word: after a lower-case letter or a
/// digit, or as the last capital of an acronym followed by a lower-case letter.
fn starts_word(chars: &[char], i: usize) -> bool {
    let before = chars[i - 1];
    let after_lower = before.is_lowercase() || before.is_numeric();
    let ends_acronym = before.is_uppercase() && chars.get(i + 1).is_some_and(|next| next.is_lowercase());
    after_lower || ends_acronym
}

/// A name cut to [`MAX_NAME_BYTES`] with its hash, if it is longer (rule 2).
fn fit(name: String) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name;
    }
    let hash = fnv1a(name.as_bytes());
    format!("{}_{hash:08x}", cut(&name, CUT_BYTES))
}

/// The longest beginning of `name` of at most `bytes` bytes, on a character boundary.
fn cut(name: &str, bytes: usize) -> &str {
    let mut end = bytes.min(name.len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// 32-bit FNV-1a: stable across versions and platforms (the names are stored).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, &b| (hash ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// The first of `base`, `base_2`, `base_3`... that `taken` does not hold (rule 3); it is
/// added to `taken`.
pub fn unique(base: &str, taken: &mut HashSet<String>) -> String {
    let mut candidate = base.to_owned();
    let mut n = 1;
    while taken.contains(&candidate) {
        n += 1;
        let suffix = format!("_{n}");
        candidate = format!("{}{suffix}", cut(base, MAX_NAME_BYTES - suffix.len()));
    }
    taken.insert(candidate.clone());
    candidate
}

/// The table name of `record_type`: snake_case, never a runner table, never a table
/// another type has (`taken`).
pub fn table_name(record_type: &str, taken: &mut HashSet<String>) -> String {
    taken.extend(RUNNER_TABLES.iter().map(|t| (*t).to_owned()));
    unique(&snake_case(record_type), taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_snake_case() {
        for (name, snake) in [
            ("Incident", "incident"),
            ("IncidentLogEntry", "incident_log_entry"),
            ("createdAt", "created_at"),
            ("HTMLUrl", "html_url"),
            ("htmlUrl", "html_url"),
            ("faker_users", "faker_users"),
            ("version2Id", "version2_id"),
            ("a\"b", "a_b"),
            ("x; DROP TABLE records; --", "x_drop_table_records"),
            ("Ünïcode Näme", "ünïcode_näme"),
            ("日本語", "日本語"),
            ("\"\"", "_"),
            ("", "_"),
            ("_type", "type"),
        ] {
            assert_eq!(snake_case(name), snake, "{name:?}");
        }
    }

    #[test]
    fn long_names_are_cut_with_a_hash_that_keeps_them_apart() {
        let a = snake_case(&"a".repeat(200));
        let b = snake_case(&format!("{}b", "a".repeat(199)));
        assert_eq!(a.len(), MAX_NAME_BYTES);
        assert_eq!(b.len(), MAX_NAME_BYTES);
        assert_ne!(a, b);
        assert_eq!(a, snake_case(&"a".repeat(200)), "the same name, the same cut");
        let wide = snake_case(&"é".repeat(100));
        assert!(wide.len() <= MAX_NAME_BYTES, "{wide}");
        assert_eq!(snake_case(&"x".repeat(63)), "x".repeat(63), "63 bytes fit");
    }

    #[test]
    fn taken_names_get_a_number_within_the_limit() {
        let mut taken = HashSet::new();
        assert_eq!(unique("name", &mut taken), "name");
        assert_eq!(unique("name", &mut taken), "name_2");
        assert_eq!(unique("name", &mut taken), "name_3");
        let long = "y".repeat(63);
        assert_eq!(unique(&long, &mut taken), long);
        let second = unique(&long, &mut taken);
        assert!(second.len() <= MAX_NAME_BYTES && second.ends_with("_2"), "{second}");
    }

    #[test]
    fn a_type_named_like_a_runner_table_gets_another_table() {
        let mut taken = HashSet::new();
        assert_eq!(table_name("Records", &mut taken), "records_2");
        assert_eq!(table_name("SyncRuns", &mut taken), "sync_runs_2");
        assert_eq!(table_name("Incident", &mut taken), "incident");
        assert_eq!(table_name("INCIDENT", &mut taken), "incident_2", "another type took `incident`");
    }
}
