//! Formatting for people: durations in human units and colour only where it helps (stdout
//! is a terminal and `NO_COLOR` is unset or empty, as <https://no-color.org> asks).
//!
//! Every duration the runner shows a person goes through [`duration`].

use std::io::{self, IsTerminal};
use std::time::Duration;

/// A duration as people say it: `45 ms`, `1.8 s`, `2 min 3 s`, `1 h 4 min`.
pub fn duration(elapsed: Duration) -> String {
    let millis = elapsed.as_millis();
    if millis < 1000 {
        return format!("{millis} ms");
    }
    let seconds = elapsed.as_secs();
    match seconds {
        0..=59 => format!("{:.1} s", elapsed.as_secs_f64()),
        60..=3599 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

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

    /// Never colours (tests, pipes).
    pub fn plain() -> Style {
        Style { colors: false }
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
    fn durations_use_the_largest_sensible_unit() {
        assert_eq!(duration(Duration::from_millis(45)), "45 ms");
        assert_eq!(duration(Duration::from_millis(1840)), "1.8 s");
        assert_eq!(duration(Duration::from_secs(59)), "59.0 s");
        assert_eq!(duration(Duration::from_secs(123)), "2 min 3 s");
        assert_eq!(duration(Duration::from_secs(3840)), "1 h 4 min");
    }

    #[test]
    fn plain_style_adds_no_escape_codes() {
        let style = Style::plain();
        assert_eq!(style.bold("x") + &style.cyan("y") + &style.green("z") + &style.dim("w"), "xyzw");
        assert_eq!(Style { colors: true }.bold("x"), "\x1b[1mx\x1b[0m");
    }
}
