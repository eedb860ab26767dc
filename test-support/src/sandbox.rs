//! A test's working directory and the workspace's binaries: a temporary [`Sandbox`] to
//! write configurations and scripts into and run the runner in, where the built binaries
//! are, and what a finished command must have done.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

use crate::store::Store;

/// The repository root (the workspace's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("test-support/ has a parent").to_owned()
}

/// The workspace binary `name`, where cargo builds it: the directory above the running
/// test binary's `deps/` (`target/debug`).
///
/// # Panics
///
/// When it is not built there, saying how to build it: `cargo test -p X` builds X's own
/// binaries only, and building another crate's from a test (`cargo build -p`) would unify
/// features differently and rebuild its dependencies.
pub fn workspace_bin(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test binary's path");
    let dir = test.parent().and_then(Path::parent).expect("a test binary lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(path.is_file(), "{} is missing: build the workspace first (cargo build --workspace)", path.display());
    path
}

/// The runner binary.
pub fn runner_bin() -> PathBuf {
    workspace_bin("runner")
}

/// A temporary working directory for one test, removed when dropped.
pub struct Sandbox {
    pub dir: TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    /// # Panics
    ///
    /// When no temporary directory can be made.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("sandbox: cannot make a temporary directory: {e}"));
        Sandbox { dir }
    }

    /// The path of `name` in the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name` and returns its path.
    ///
    /// # Panics
    ///
    /// When the file cannot be written, naming it.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        fs::write(&path, text).unwrap_or_else(|e| panic!("sandbox: cannot write {}: {e}", path.display()));
        path.to_str().expect("a temporary path is UTF-8").to_owned()
    }

    /// Writes an executable script `name` and returns its path.
    pub fn script(&self, name: &str, text: &str) -> String {
        let path = self.write(name, text);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("sandbox: cannot make {path} executable: {e}"));
        path
    }

    /// The runner's SQLite store `runner.db` in the sandbox, open for reading.
    ///
    /// # Panics
    ///
    /// When there is none.
    pub fn store(&self) -> Store {
        Store::open(self.path("runner.db"))
    }

    /// `runner ARGS` in the sandbox, without colours.
    pub fn runner(&self, args: &[&str]) -> Command {
        let mut command = Command::new(runner_bin());
        command.current_dir(self.dir.path()).args(args).env("NO_COLOR", "1");
        command
    }
}

/// The stdout and the stderr of `output`, one after the other, lossily decoded.
fn both(output: &Output) -> (String, String) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Fails the test, with both outputs, unless the command `what` succeeded; returns its
/// stdout and stderr, one after the other.
pub fn assert_success(what: &str, output: &Output) -> String {
    let (stdout, stderr) = both(output);
    assert!(output.status.success(), "{what} failed ({}):\n{stdout}\n--- stderr ---\n{stderr}", output.status);
    stdout + &stderr
}

/// Fails the test, with both outputs, unless the command `what` failed; returns its
/// stdout and stderr, one after the other.
pub fn assert_failure(what: &str, output: &Output) -> String {
    let (stdout, stderr) = both(output);
    assert!(!output.status.success(), "{what} should have failed:\n{stdout}\n--- stderr ---\n{stderr}");
    stdout + &stderr
}

/// A command's stderr, lossily decoded.
pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A command's stdout, lossily decoded.
pub fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
