//! Plain-text tables for people: [`columns`]. Their cells hold connector text (stream ids,
//! errors, field names), so every cell is shown escaped ([`crate::untrusted`]).

use std::borrow::Cow;

use crate::untrusted::escape;

/// Rows of cells as a plain-text table: each column as wide as its widest cell, two
/// spaces between columns, no trailing spaces. Widths count characters, so cells must not
/// hold colour codes (pad first, colour after, as the kit does).
pub fn columns<R: AsRef<[String]>>(rows: &[R]) -> String {
    // Cells hold connector text (stream ids, errors, field names): shown escaped, and
    // measured as shown.
    let rows: Vec<Vec<Cow<'_, str>>> =
        rows.iter().map(|row| row.as_ref().iter().map(|cell| escape(cell)).collect()).collect();
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|col| rows.iter().filter_map(|row| row.get(col)).map(|c| c.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let rows = [["name", "n"].map(String::from), ["long-name", "12"].map(String::from)];
        assert_eq!(columns(&rows), "name       n\nlong-name  12\n");
        assert_eq!(columns::<[String; 0]>(&[]), "");
    }

    #[test]
    fn cells_are_escaped_and_measured_as_shown() {
        let rows = [["a\x1b[31m", "b"].map(String::from), ["cc", "d"].map(String::from)];
        assert_eq!(columns(&rows), "a\\x1b[31m  b\ncc         d\n");
    }
}
