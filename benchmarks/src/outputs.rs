//! What a measured run wrote, and the checks that it wrote all of it: a benchmark of a
//! run that lost records must fail, not report a good number.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context, Result};

use crate::workload::create;

/// One run's output.
#[derive(Debug, Clone)]
pub enum Output {
    /// Lines in a file: the consumer's stdout.
    Lines(PathBuf),
    /// The runner's JSON-lines directory (`<dir>/Incident.jsonl`).
    JsonLines(PathBuf),
    /// The runner's SQLite database.
    Sqlite(PathBuf),
    /// A database of a throwaway PostgreSQL cluster.
    Postgres {
        /// The cluster.
        cluster: &'static throwaway_postgres::Cluster,
        /// The database's name.
        database: String,
        /// Its URL, the runner's `--output`.
        url: String,
    },
}

/// What a correct output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// Lines (or rows in `records`).
    pub lines: u64,
    /// Bytes of the file, when they are known exactly (the reference copies the stream as is).
    pub bytes: Option<u64>,
}

impl Output {
    /// A fresh database `name` in `cluster`.
    ///
    /// # Errors
    /// The database cannot be created.
    pub fn postgres(cluster: &'static throwaway_postgres::Cluster, name: &str) -> Result<Output> {
        cluster.create_database(name).with_context(|| format!("cannot create the benchmark database {name}"))?;
        Ok(Output::Postgres { cluster, database: name.to_owned(), url: cluster.url(name) })
    }

    /// The consumer's stdout: the file for [`Output::Lines`], nothing otherwise (the
    /// runner's summary table is not part of the data).
    pub fn stdout(&self) -> Result<Stdio> {
        match self {
            Output::Lines(path) => Ok(create(path)?.into()),
            Output::JsonLines(_) | Output::Sqlite(_) | Output::Postgres { .. } => Ok(Stdio::null()),
        }
    }

    /// The runner's `--output` argument.
    pub fn runner_arg(&self) -> &OsStr {
        match self {
            Output::Lines(_) => OsStr::new("-"),
            Output::JsonLines(path) | Output::Sqlite(path) => path.as_os_str(),
            Output::Postgres { url, .. } => OsStr::new(url),
        }
    }

    /// Fails unless the output holds exactly what `expected` says.
    pub fn verify(&self, expected: Expected) -> Result<()> {
        let (what, (lines, bytes)) = match self {
            Output::Lines(path) => (path.display().to_string(), count_lines(path)?),
            Output::JsonLines(dir) => {
                let file = dir.join("Incident.jsonl");
                let counted = count_lines(&file)?;
                (file.display().to_string(), counted)
            }
            Output::Sqlite(path) => (format!("table records of {}", path.display()), (sqlite_count(path)?, 0)),
            Output::Postgres { cluster, database, .. } => {
                let count = cluster
                    .psql(database, "SELECT count(*) FROM records")
                    .with_context(|| format!("cannot count the records in PostgreSQL database {database}"))?;
                let count = count.parse().with_context(|| format!("not a count: {count}"))?;
                (format!("table records of PostgreSQL database {database}"), (count, 0))
            }
        };
        if lines != expected.lines {
            bail!("{what} holds {lines} lines/rows, expected {}: the run lost or duplicated data", expected.lines);
        }
        if let Some(expected_bytes) = expected.bytes.filter(|&b| b != bytes) {
            bail!("{what} holds {bytes} bytes, expected {expected_bytes}");
        }
        Ok(())
    }

    /// Deletes the output (it can be gigabytes), with SQLite's side files.
    pub fn remove(&self) -> Result<()> {
        let removed = match self {
            Output::Lines(path) => std::fs::remove_file(path),
            Output::JsonLines(dir) => std::fs::remove_dir_all(dir),
            Output::Sqlite(path) => remove_sqlite(path),
            Output::Postgres { cluster, database, .. } => {
                let drop = format!("DROP DATABASE \"{database}\" WITH (FORCE)");
                return cluster.psql("postgres", &drop).map(|_| ()).context("cannot drop the benchmark database");
            }
        };
        removed.with_context(|| format!("cannot remove the benchmark output {}", self.runner_arg().to_string_lossy()))
    }
}

/// `(lines, bytes)` of a file: its newlines, plus one for a last line without one.
pub fn count_lines(path: &Path) -> Result<(u64, u64)> {
    let count = || -> io::Result<(u64, u64)> {
        let mut file = File::open(path)?;
        let mut buffer = vec![0u8; 1 << 20];
        let (mut lines, mut bytes, mut last) = (0u64, 0u64, b'\n');
        loop {
            let read = file.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            lines += buffer[..read].iter().filter(|&&b| b == b'\n').count() as u64;
            bytes += read as u64;
            last = buffer[read - 1];
        }
        Ok((lines + u64::from(last != b'\n'), bytes))
    };
    count().with_context(|| format!("cannot read the benchmark output {}", path.display()))
}

/// `SELECT count(*) FROM records`.
pub fn sqlite_count(path: &Path) -> Result<u64> {
    let count: i64 = open_read_only(path)?
        .query_row("SELECT count(*) FROM records", [], |row| row.get(0))
        .with_context(|| format!("cannot count the records in {}", path.display()))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Records stored per `_type`.
pub fn sqlite_records_by_type(path: &Path) -> Result<BTreeMap<String, u64>> {
    let conn = open_read_only(path)?;
    let query = || -> rusqlite::Result<BTreeMap<String, u64>> {
        let mut statement = conn.prepare("SELECT type, count(*) FROM records GROUP BY type")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
        rows.map(|row| row.map(|(kind, n)| (kind, u64::try_from(n).unwrap_or(0)))).collect()
    };
    query().with_context(|| format!("cannot count the records by type in {}", path.display()))
}

/// The runner's SQLite database: records by connection, then by `_type`.
pub fn sqlite_records_by_connection(path: &Path) -> Result<BTreeMap<String, BTreeMap<String, u64>>> {
    let conn = open_read_only(path)?;
    let query = || -> rusqlite::Result<BTreeMap<String, BTreeMap<String, u64>>> {
        let mut statement = conn.prepare("SELECT connection, type, count(*) FROM records GROUP BY connection, type")?;
        let rows = statement
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?)))?;
        let mut counts: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for row in rows {
            let (connection, kind, n) = row?;
            counts.entry(connection).or_default().insert(kind, u64::try_from(n).unwrap_or(0));
        }
        Ok(counts)
    };
    query().with_context(|| format!("cannot count the records by connection in {}", path.display()))
}

fn open_read_only(path: &Path) -> Result<rusqlite::Connection> {
    if !path.is_file() {
        bail!("{} does not exist", path.display());
    }
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", path.display()))
}

fn remove_sqlite(path: &Path) -> io::Result<()> {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(PathBuf::from(side)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_with_or_without_a_last_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "a\nb\n").unwrap();
        assert_eq!(count_lines(&path).unwrap(), (2, 4));
        std::fs::write(&path, "a\nb").unwrap();
        assert_eq!(count_lines(&path).unwrap(), (2, 3));
        std::fs::write(&path, "").unwrap();
        assert_eq!(count_lines(&path).unwrap(), (0, 0));
    }

    #[test]
    fn a_short_output_fails_verification_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let output = Output::Lines(dir.path().join("out"));
        std::fs::write(dir.path().join("out"), "a\n").unwrap();
        output.verify(Expected { lines: 1, bytes: Some(2) }).unwrap();
        let error = output.verify(Expected { lines: 2, bytes: None }).unwrap_err().to_string();
        assert!(error.contains("holds 1 lines/rows, expected 2"), "{error}");
        assert!(output.verify(Expected { lines: 1, bytes: Some(3) }).is_err());
        output.remove().unwrap();
        assert!(!dir.path().join("out").exists());
    }

    #[test]
    fn sqlite_records_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE records (connection TEXT, type TEXT); \
             INSERT INTO records VALUES ('x', 'A'), ('y', 'A'), ('x', 'B');",
        )
        .unwrap();
        drop(conn);
        let output = Output::Sqlite(path.clone());
        output.verify(Expected { lines: 3, bytes: None }).unwrap();
        assert_eq!(sqlite_records_by_type(&path).unwrap(), BTreeMap::from([("A".into(), 2), ("B".into(), 1)]));
        let by_connection = sqlite_records_by_connection(&path).unwrap();
        assert_eq!(by_connection["x"], BTreeMap::from([("A".into(), 1), ("B".into(), 1)]));
        assert_eq!(by_connection["y"], BTreeMap::from([("A".into(), 1)]));
        assert!(output.verify(Expected { lines: 4, bytes: None }).is_err());
        output.remove().unwrap();
        assert!(!path.exists());
    }
}
