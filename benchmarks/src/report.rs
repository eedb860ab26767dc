//! Output shared by every report: the machine a benchmark ran on, markdown tables and the
//! number formats.

use std::fmt;

use serde::Serialize;

/// 1 MB as every report counts it (throughput and RSS alike): 10^6 bytes.
pub const MB: f64 = 1e6;

/// The machine, for the header line: results only compare within one machine.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs this process may run on (what `nproc` prints).
    pub cpus: usize,
    /// `uname -sr`.
    pub kernel: String,
    /// The first `model name` of /proc/cpuinfo, if any.
    pub cpu_model: Option<String>,
}

impl Machine {
    /// Describes the current machine; parts that cannot be read are left out, never fatal.
    pub fn current() -> Machine {
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            kernel: kernel(),
            cpu_model: cpu_model(),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} CPUs", self.cpus)?;
        if let Some(model) = &self.cpu_model {
            write!(f, " ({model})")?;
        }
        write!(f, ", {}", self.kernel)
    }
}

fn kernel() -> String {
    // SAFETY: utsname is a plain C struct for which all-zero bytes are a valid value.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname(2) fills the struct it is given.
    if unsafe { libc::uname(&mut name) } != 0 {
        return "unknown kernel".to_owned();
    }
    format!("{} {}", c_chars(&name.sysname), c_chars(&name.release))
}

fn c_chars(chars: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = chars.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let line = info.lines().find(|line| line.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_owned())
}

/// The note under tables with a peak RSS column: what it counts, and its floor.
pub fn rss_note(harness_peak_rss_mb: f64) -> String {
    format!(
        "Peak RSS: the consumer's ru_maxrss from wait4 (for the runner, the larger of the runner and its connector). \
         Linux starts a child's at the RSS of the process that spawned it, so runner-bench's own \
         {harness_peak_rss_mb:.1} MB is a floor under every value.\n"
    )
}

/// A markdown table: a header row and rows of cells; the first columns are text
/// (left-aligned), the others numbers (right-aligned).
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    text_columns: usize,
}

impl Table {
    /// A table with these column headers, the first of them text.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        Table { headers: headers.into_iter().map(Into::into).collect(), rows: Vec::new(), text_columns: 1 }
    }

    /// Makes the first `n` columns text.
    pub fn text_columns(mut self, n: usize) -> Table {
        self.text_columns = n;
        self
    }

    /// Adds a row (as many cells as headers).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len(), "one cell per column");
        self.rows.push(cells);
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = |column: usize| {
            let cells = self.rows.iter().filter_map(|row| row.get(column));
            cells.chain([&self.headers[column]]).map(|cell| cell.chars().count()).max().unwrap_or(0).max(3)
        };
        let widths: Vec<usize> = (0..self.headers.len()).map(width).collect();
        let line = |f: &mut fmt::Formatter<'_>, cells: &[String]| {
            for (column, (cell, &width)) in cells.iter().zip(&widths).enumerate() {
                if column < self.text_columns {
                    write!(f, "| {cell:<width$} ")?;
                } else {
                    write!(f, "| {cell:>width$} ")?;
                }
            }
            writeln!(f, "|")
        };
        line(f, &self.headers)?;
        for (column, &width) in widths.iter().enumerate() {
            let dashes = "-".repeat(width);
            if column < self.text_columns {
                write!(f, "|{dashes}--")?;
            } else {
                write!(f, "|-{dashes}:")?;
            }
        }
        writeln!(f, "|")?;
        self.rows.iter().try_for_each(|row| line(f, row))
    }
}

/// An integer with thousands separators: `1,234,567`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A value with `decimals` decimals, or `—` when there is none.
pub fn optional(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.decimals$}"))
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_aligned_markdown() {
        let mut table = Table::new(["case", "records/s"]);
        table.row(vec!["reference".into(), "1,234".into()]);
        let text = table.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, ["| case      | records/s |", "|-----------|----------:|", "| reference |     1,234 |"]);
    }

    #[test]
    fn numbers_are_formatted_for_people() {
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(optional(None, 2), "—");
        assert_eq!(optional(Some(1.234), 2), "1.23");
    }

    #[test]
    fn the_machine_has_cpus_and_a_kernel() {
        let machine = Machine::current();
        assert!(machine.cpus >= 1);
        assert!(machine.kernel.starts_with("Linux"), "{}", machine.kernel);
    }
}
