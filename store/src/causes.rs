//! An error and its causes as one line for people (see [`with_causes`]).

/// An error's message followed by its causes, each said once: `error: cause: cause`, as
/// anyhow's `{:#}` writes them, but without a cause whose text is already there. A
/// client's own message ("error connecting to server") says little without its causes
/// ("Connection refused"), and many errors quote their source in their own message (so
/// that `{}` alone, as stored in a run's `error`, is whole) while also giving it as
/// `source()`.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let next_text = next.to_string();
        if !text.contains(&next_text) {
            text.push_str(": ");
            text.push_str(&next_text);
        }
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that quotes its source and also gives it as `source()`.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot read config file c.json: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn an_error_says_each_cause_once() {
        let gone = || std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let quoted = anyhow::Error::new(Quoting(gone()));
        assert_eq!(format!("{quoted:#}").matches("os error 2").count(), 2, "what `{{:#}}` does");
        assert_eq!(
            with_causes(quoted.as_ref()),
            "cannot read config file c.json: No such file or directory (os error 2)"
        );
        // Causes that are not quoted are all said, in order.
        let chained = anyhow::Error::new(gone()).context("reading c.json").context("cannot verify");
        assert_eq!(
            with_causes(chained.as_ref()),
            "cannot verify: reading c.json: No such file or directory (os error 2)"
        );
        // A context that quotes its cause.
        let quoted_context = anyhow::Error::new(gone()).context(format!("c.json: {}", gone()));
        assert_eq!(with_causes(quoted_context.as_ref()), "c.json: No such file or directory (os error 2)");
    }
}
