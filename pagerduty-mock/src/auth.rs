//! Who is calling: parses `Authorization: Token token=...` and tells the user-level
//! token from the account-level one.

use axum::http::HeaderMap;

/// The kind of API token a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Identity {
    /// A user-level token: acts as user 0.
    User,
    /// An account-level token: no user behind it.
    Account,
}

/// The token presented, if the header has PagerDuty's shape. Tolerates spaces around
/// `=` and a `Bearer` scheme (OAuth tokens are user-level in PagerDuty).
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = raw.split_once(char::is_whitespace).unwrap_or((raw, ""));
    let rest = rest.trim();
    let token = if scheme.eq_ignore_ascii_case("token") {
        let (key, value) = rest.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("token") {
            return None;
        }
        value.trim().trim_matches('"')
    } else if scheme.eq_ignore_ascii_case("bearer") {
        rest
    } else {
        return None;
    };
    (!token.is_empty()).then(|| token.to_string())
}

/// Maps a presented token to an identity.
pub(crate) fn identify(token: Option<&str>, user_token: &str, account_token: &str) -> Option<Identity> {
    match token {
        Some(t) if t == user_token => Some(Identity::User),
        Some(t) if t == account_token => Some(Identity::Account),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(value: &str) -> Option<String> {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, value.parse().unwrap());
        presented_token(&h)
    }

    #[test]
    fn header_forms() {
        assert_eq!(token("Token token=abc").as_deref(), Some("abc"));
        assert_eq!(token("Token token= abc").as_deref(), Some("abc"));
        assert_eq!(token("token  token = abc ").as_deref(), Some("abc"));
        assert_eq!(token("Bearer xyz").as_deref(), Some("xyz"));
        assert_eq!(token("Token abc"), None);
        assert_eq!(token("Basic abc"), None);
        assert_eq!(token("Token token="), None);
        assert_eq!(presented_token(&HeaderMap::new()), None);
    }

    #[test]
    fn identities() {
        assert_eq!(identify(Some("u"), "u", "a"), Some(Identity::User));
        assert_eq!(identify(Some("a"), "u", "a"), Some(Identity::Account));
        assert_eq!(identify(Some("x"), "u", "a"), None);
        assert_eq!(identify(None, "u", "a"), None);
    }
}
