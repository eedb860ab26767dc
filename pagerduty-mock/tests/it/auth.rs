//! Rule: `Authorization: Token token=<T>`, anything else is 401 code 2006; two token
//! kinds, and `/users/me` is 400 for the account-level token.

use serde_json::json;

use crate::util::*;

#[test]
fn token_header_forms_and_failures() {
    let s = start(config());
    for good in [
        format!("Token token={USER_TOKEN}"),
        format!("Token token= {USER_TOKEN}"),
        format!("Token token={ACCOUNT_TOKEN}"),
    ] {
        assert_eq!(get_with(&s, "/incidents", Some(&good)).status, 200, "{good}");
    }
    let bad = [None, Some("Token token=wrong"), Some("Basic bW9jazp4"), Some(USER_TOKEN)];
    for auth in bad {
        let a = get_with(&s, "/incidents", auth);
        assert_eq!(a.status, 401, "{auth:?}");
        assert_eq!(a.body, json!({"error":{"message":"Authentication failed","code":2006}}));
    }
}

#[test]
fn users_me_depends_on_the_token_kind() {
    let s = start(config());
    let me = get(&s, "/users/me");
    assert_eq!(me.status, 200);
    assert_eq!(me.body["user"]["type"], "user");
    let account = get_with(&s, "/users/me", Some(&format!("Token token={ACCOUNT_TOKEN}")));
    assert_eq!(account.status, 400);
    assert!(account.error_code().is_some());
    let abilities = get_with(&s, "/abilities", Some(&format!("Token token={ACCOUNT_TOKEN}")));
    assert_eq!(abilities.status, 200);
}
