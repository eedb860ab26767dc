//! What a connector slug may be. The slug names the project (`connector-<slug>/`), its
//! executable (`connector-<slug>`, which `runner sync <slug>` finds on PATH), the crate or
//! package, and the spec's `name`, so it must be valid in all of those at once.

use super::ScaffoldError;

/// The rule, as the error states it.
const RULE: &str = "use lowercase letters, digits and dashes, starting with a letter";
/// Long enough for any real name, short enough for every file system.
const MAX_CHARS: usize = 64;
/// The prefix the project's name gets; a slug that already has it would get it twice.
const PREFIX: &str = "connector-";

/// Checks a slug.
///
/// # Errors
/// [`ScaffoldError::InvalidSlug`] with the rule it breaks and, when one is obvious, a slug
/// that would do.
pub fn check(slug: &str) -> Result<(), ScaffoldError> {
    let invalid = |rule: &'static str, suggestion: Option<String>| ScaffoldError::InvalidSlug {
        slug: slug.to_owned(),
        rule,
        suggestion,
    };
    if !follows_rule(slug) {
        return Err(invalid(RULE, suggest(slug)));
    }
    if slug.len() > MAX_CHARS {
        return Err(invalid("use at most 64 characters", None));
    }
    if let Some(rest) = slug.strip_prefix(PREFIX).filter(|rest| follows_rule(rest)) {
        return Err(invalid("leave out `connector-`: the project is named connector-<slug>", Some(rest.to_owned())));
    }
    Ok(())
}

fn follows_rule(slug: &str) -> bool {
    slug.starts_with(|c: char| c.is_ascii_lowercase())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `Acme_Cloud` -> `acme-cloud`: lowercase, anything else a dash, no dashes at the ends or
/// twice in a row, no `connector-` prefix. None when that does not give a valid slug.
fn suggest(slug: &str) -> Option<String> {
    let dashed: String =
        slug.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let words: Vec<&str> = dashed.split('-').filter(|word| !word.is_empty()).collect();
    let joined = words.join("-");
    let suggestion = joined.strip_prefix(PREFIX).unwrap_or(&joined).to_owned();
    (follows_rule(&suggestion) && suggestion.len() <= MAX_CHARS).then_some(suggestion)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(slug: &str) -> String {
        check(slug).unwrap_err().to_string()
    }

    #[test]
    fn lowercase_letters_digits_and_dashes_starting_with_a_letter_are_valid() {
        for slug in ["acme", "acme-cloud", "s3", "status-page-2", "a"] {
            assert!(check(slug).is_ok(), "{slug}");
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_rule_and_a_suggestion() {
        assert_eq!(
            error("Foo_x"),
            "connector slug `Foo_x` is invalid: use lowercase letters, digits and dashes, starting with a letter\n\
             hint: `foo-x` would do"
        );
        assert!(error("acme cloud!").ends_with("hint: `acme-cloud` would do"));
        for slug in ["", "-acme", "9lives", "ünï", "acme/x", "../x"] {
            assert!(error(slug).contains(RULE), "{slug}");
        }
        assert!(!error("9lives").contains("hint"), "no letter to start with: no suggestion");
    }

    #[test]
    fn the_connector_prefix_is_not_repeated() {
        assert_eq!(
            error("connector-acme"),
            "connector slug `connector-acme` is invalid: leave out `connector-`: the project is named \
             connector-<slug>\nhint: `acme` would do"
        );
        assert!(error("Connector_Acme").ends_with("hint: `acme` would do"));
    }

    #[test]
    fn a_very_long_slug_is_refused() {
        assert!(check(&"a".repeat(64)).is_ok());
        assert!(error(&"a".repeat(65)).contains("at most 64 characters"));
    }
}
