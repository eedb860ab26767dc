//! Where the benchmarked binaries are: `--bin-dir`, by default the directory of
//! `runner-bench` itself (so a release build benchmarks release binaries).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The binaries a benchmark runs, with the package that builds each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// The runner under test.
    Runner,
    /// The benchmark connector of this crate.
    ConnectorBench,
    /// The PagerDuty connector.
    ConnectorPagerduty,
    /// The Singer adapter.
    ConnectorSinger,
    /// The Airbyte adapter.
    ConnectorAirbyte,
}

impl Binary {
    /// The executable's file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Binary::Runner => "runner",
            Binary::ConnectorBench => "connector-bench",
            Binary::ConnectorPagerduty => "connector-pagerduty",
            Binary::ConnectorSinger => "connector-singer",
            Binary::ConnectorAirbyte => "connector-airbyte",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Binary::Runner => "runner",
            Binary::ConnectorBench => "benchmarks",
            Binary::ConnectorPagerduty => "connector-pagerduty",
            Binary::ConnectorSinger | Binary::ConnectorAirbyte => "connector-adapters",
        }
    }
}

/// A directory holding the binaries.
#[derive(Debug, Clone)]
pub struct BinDir {
    dir: PathBuf,
}

impl BinDir {
    /// `dir`, or the directory of the running executable when `None`. A relative `dir` is
    /// made absolute: the binaries' paths go into files (a connections file) that resolve
    /// relative paths against their own directory, not ours.
    pub fn new(dir: Option<PathBuf>) -> Result<BinDir> {
        let dir = match dir {
            Some(dir) => std::path::absolute(&dir).with_context(|| format!("bin dir {}", dir.display()))?,
            None => own_dir()?,
        };
        Ok(BinDir { dir })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The path of `binary`, or an error saying which one is missing and how to build it.
    pub fn require(&self, binary: Binary) -> Result<PathBuf> {
        let path = self.dir.join(binary.file_name());
        if !path.is_file() {
            let profile = if self.dir.ends_with("release") { "--release " } else { "" };
            bail!(
                "`{}` not found at {}: build it with `cargo build {profile}-p {}` \
                 (benchmarks/run.sh builds every binary the benchmarks need), or pass --bin-dir",
                binary.file_name(),
                path.display(),
                binary.package()
            );
        }
        Ok(path)
    }
}

fn own_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the path of runner-bench itself (use --bin-dir)")?;
    let dir = exe.parent().context("runner-bench's own path has no parent directory (use --bin-dir)")?;
    Ok(dir.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_is_named_with_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let release = dir.path().join("release");
        std::fs::create_dir(&release).unwrap();
        let error = BinDir::new(Some(release)).unwrap().require(Binary::ConnectorPagerduty).unwrap_err().to_string();
        assert!(error.contains("`connector-pagerduty` not found"), "{error}");
        assert!(error.contains("cargo build --release -p connector-pagerduty"), "{error}");
        assert!(error.contains("benchmarks/run.sh"), "{error}");
    }
}
