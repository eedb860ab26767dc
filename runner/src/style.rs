//! Colour for people, only where it helps: stdout is a terminal and `NO_COLOR` is unset or
//! empty, as <https://no-color.org> asks.

use std::io::{self, IsTerminal};

/// How text is styled: plain, or with ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    colors: bool,
}

impl Style {
    /// Colours when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        Style { colors: io::stdout().is_terminal() && !no_color }
    }

    /// Never colours.
    #[cfg(test)]
    pub fn plain() -> Style {
        Style { colors: false }
    }

    /// Always colours.
    #[cfg(test)]
    pub fn ansi() -> Style {
        Style { colors: true }
    }

    /// A heading.
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// A command to type, or a query.
    pub fn cyan(self, text: &str) -> String {
        self.paint("36", text)
    }

    /// Something that went well.
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Something that went wrong.
    pub fn red_bold(self, text: &str) -> String {
        self.paint("31;1", text)
    }

    /// Something skipped or worth a look.
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Secondary text: comments, notes.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.colors {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_style_adds_no_escape_codes() {
        let style = Style::plain();
        let all = [
            style.bold("a"),
            style.cyan("b"),
            style.green("c"),
            style.red_bold("d"),
            style.yellow("e"),
            style.dim("f"),
        ];
        assert_eq!(all.concat(), "abcdef");
        assert_eq!(Style::ansi().bold("x"), "\x1b[1mx\x1b[0m");
        assert_eq!(Style::ansi().red_bold("x"), "\x1b[31;1mx\x1b[0m");
    }
}
