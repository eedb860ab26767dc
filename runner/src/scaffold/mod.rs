//! `runner new`: a connector project that works, is tested and passes `runner
//! test-connector` before its author writes a line.
//!
//! `runner new <slug> [--lang rust|python|node|shell] [--dir PATH]` creates
//! `PATH/connector-<slug>/` (PATH defaults to the current directory) with a connector for a
//! small built-in example source (five Incident records served newest first in pages of
//! two, a checkpoint after each page, resuming from it), a sample `config.json`, tests in
//! the language's usual way and a README saying where the real API calls go.
//!
//! - this module: the request, checking it, writing the project, what the command prints;
//! - [`slug`]: what a slug may be; [`templates`]: the files of each language;
//! - [`toolkit`]: the `connector-sdk` crate and `Cargo.lock` a Rust project builds against.
//!
//! Nothing is written unless everything is: the project is written into a hidden staging
//! directory beside the target, then moved into place with one rename onto a directory
//! this command has just created, so an existing directory is never replaced or merged
//! into, and an error leaves nothing behind.

pub mod slug;
pub mod templates;
pub mod toolkit;

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::{Lang, NewArgs};
use crate::commands::{print, Settings, Status};
use crate::console::Verbosity;
use crate::failure::CommandResult;

use templates::File;
use toolkit::Toolkit;

/// The cutoff that covers the example source's incidents (January to March 2026).
pub const EXAMPLE_SINCE: &str = "2026-01-01";

/// The language of a generated connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// A Cargo project on the toolkit's Rust SDK (the `connector-sdk` crate).
    Rust,
    /// Python 3.9+, standard library only.
    Python,
    /// Node.js 18+, no dependencies.
    Node,
    /// POSIX sh and standard tools.
    Shell,
}

impl Language {
    /// For people.
    pub fn label(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::Node => "Node.js",
            Language::Shell => "POSIX sh",
        }
    }

    /// The command that runs the project's tests, from its directory.
    pub fn test_command(self) -> &'static str {
        match self {
            Language::Rust => "cargo test",
            Language::Python => "python3 -m unittest -v",
            Language::Node => "node --test",
            Language::Shell => "sh test.sh",
        }
    }

    /// The connector executable, relative to the project's directory (Rust: once built).
    pub fn executable(self, slug: &str) -> String {
        match self {
            Language::Rust => format!("./target/debug/connector-{slug}"),
            _ => format!("./connector-{slug}"),
        }
    }
}

/// Why `runner new` created nothing.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The slug breaks a rule.
    #[error(
        "connector slug `{slug}` is invalid: {rule}{}",
        .suggestion.as_ref().map(|s| format!("\nhint: `{s}` would do")).unwrap_or_default()
    )]
    InvalidSlug {
        /// What was given.
        slug: String,
        /// The rule it breaks.
        rule: &'static str,
        /// A valid slug close to it.
        suggestion: Option<String>,
    },
    /// `--dir` is not a directory.
    #[error("{} is not a directory\nhint: create it first, or pass another --dir", .dir.display())]
    NoDirectory {
        /// The directory.
        dir: PathBuf,
    },
    /// The project's directory exists.
    #[error("{} already exists; refusing to overwrite it\nhint: pick another slug or --dir, or move it away first", .path.display())]
    Exists {
        /// The project's directory.
        path: PathBuf,
    },
    /// Writing failed (nothing is left behind).
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// To what.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
}

impl crate::failure::Classify for ScaffoldError {
    fn failure_kind(&self) -> engine::FailureKind {
        crate::failure::bad_input_if(self.is_bad_input())
    }
}

impl ScaffoldError {
    /// Whether the request was at fault (a bad slug or directory, an existing project),
    /// rather than a write that failed.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, ScaffoldError::Io { .. })
    }
}

/// What to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The connector's slug.
    pub slug: String,
    /// Its language.
    pub language: Language,
    /// The directory to create `connector-<slug>/` in.
    pub dir: PathBuf,
}

impl From<&NewArgs> for Request {
    fn from(args: &NewArgs) -> Self {
        let language = match args.lang {
            Lang::Rust => Language::Rust,
            Lang::Python => Language::Python,
            Lang::Node => Language::Node,
            Lang::Shell => Language::Shell,
        };
        Request { slug: args.slug.clone(), language, dir: args.dir.clone().unwrap_or_else(|| PathBuf::from(".")) }
    }
}

/// What was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The project's directory (`dir/connector-<slug>`).
    pub path: PathBuf,
    /// Its files, relative to it.
    pub files: Vec<String>,
    /// Things to fix before it works.
    pub warnings: Vec<String>,
}

/// Creates the project, all of it or nothing.
///
/// # Errors
/// [`ScaffoldError`]: a bad slug, a missing `dir`, an existing project directory, a write
/// that failed.
pub fn create(request: &Request, toolkit: &Toolkit) -> Result<Created, ScaffoldError> {
    slug::check(&request.slug)?;
    if !request.dir.is_dir() {
        return Err(ScaffoldError::NoDirectory { dir: request.dir.clone() });
    }
    let path = request.dir.join(format!("connector-{}", request.slug));
    if path.symlink_metadata().is_ok() {
        return Err(ScaffoldError::Exists { path });
    }
    let project = templates::project(request.language, &request.slug, &path, toolkit);
    let staging = Staging::create(&path)?;
    for file in &project.files {
        staging.write(file)?;
    }
    staging.commit()?;
    Ok(Created { path, files: project.files.into_iter().map(|f| f.path).collect(), warnings: project.warnings })
}

/// The hidden directory a project is written into before it is moved into place; removed
/// unless committed.
struct Staging {
    dir: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    fn create(target: &Path) -> Result<Self, ScaffoldError> {
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = target.with_file_name(format!(".{name}.new-{}", std::process::id()));
        // Named after the target: the staging directory is an implementation detail.
        fs::create_dir(&dir).map_err(|source| ScaffoldError::Io {
            action: "create",
            path: target.to_owned(),
            source,
        })?;
        Ok(Staging { dir, target: target.to_owned(), committed: false })
    }

    fn write(&self, file: &File) -> Result<(), ScaffoldError> {
        let path = self.dir.join(&file.path);
        let io = |source| ScaffoldError::Io { action: "write", path: self.target.join(&file.path), source };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        fs::write(&path, &file.contents).map_err(io)?;
        if file.executable {
            let mut permissions = fs::metadata(&path).map_err(io)?.permissions();
            permissions.set_mode(permissions.mode() | 0o111);
            fs::set_permissions(&path, permissions).map_err(io)?;
        }
        Ok(())
    }

    /// Claims the target name by creating it (which fails if anything has appeared there
    /// meanwhile), then renames the staging directory onto that empty directory.
    fn commit(mut self) -> Result<(), ScaffoldError> {
        fs::create_dir(&self.target).map_err(|source| match source.kind() {
            io::ErrorKind::AlreadyExists => ScaffoldError::Exists { path: self.target.clone() },
            _ => ScaffoldError::Io { action: "create", path: self.target.clone(), source },
        })?;
        if let Err(source) = fs::rename(&self.dir, &self.target) {
            let _ = fs::remove_dir(&self.target);
            return Err(ScaffoldError::Io { action: "create", path: self.target.clone(), source });
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// `runner new`: creates the project and prints what was created and what to run next.
/// `dir_given`: whether `--dir` was passed (else paths are shown relative, without `./`).
///
/// # Errors
/// [`ScaffoldError`], or a failed write to stdout.
pub fn command(settings: &Settings, args: &NewArgs) -> CommandResult<Status> {
    let request = Request::from(args);
    let mut created = create(&request, &Toolkit::of_this_build())?;
    if args.dir.is_none() {
        // `connector-acme`, not `./connector-acme`, when no --dir was given.
        created.path = PathBuf::from(format!("connector-{}", request.slug));
    }
    for warning in &created.warnings {
        settings.console.warn(warning);
    }
    let next = next_commands(&request, &created.path);
    let text = if settings.json {
        format!("{}\n", as_json(&request, &created, &next))
    } else if settings.verbosity() == Verbosity::Quiet {
        String::new()
    } else {
        summary(&request, &created, &next)
    };
    print(&text).context("writing the summary")?;
    Ok(Status::Success)
}

/// `cd` into the project, run its tests, run the conformance kit on it.
fn next_commands(request: &Request, path: &Path) -> [String; 3] {
    let executable = request.language.executable(&request.slug);
    [
        format!("cd {}", shell_word(&path.display().to_string())),
        request.language.test_command().to_owned(),
        format!("{} test-connector {executable} config.json --since {EXAMPLE_SINCE}", runner_program()),
    ]
}

fn summary(request: &Request, created: &Created, next: &[String]) -> String {
    let mut text = format!(
        "created {}/: a {} connector for a built-in example source, with its tests\n",
        created.path.display(),
        request.language.label()
    );
    for file in &created.files {
        text.push_str(&format!("  {file}\n"));
    }
    text.push_str("\nnext:\n");
    for command in next {
        text.push_str(&format!("  {command}\n"));
    }
    text.push_str("then replace the example source with the real API: README.md says where.\n");
    text
}

fn as_json(request: &Request, created: &Created, next: &[String]) -> serde_json::Value {
    serde_json::json!({
        "path": created.path.display().to_string(),
        "language": format!("{:?}", request.language).to_lowercase(),
        "files": created.files,
        "warnings": created.warnings,
        "next": next,
    })
}

/// How to run this runner again: `runner` when that is what PATH finds, else its full path.
fn runner_program() -> String {
    let Ok(exe) = std::env::current_exe().and_then(|exe| exe.canonicalize()) else { return "runner".into() };
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join("runner")).collect::<Vec<_>>())
        .unwrap_or_default();
    let found = on_path.iter().find(|candidate| candidate.is_file());
    if found.and_then(|runner| runner.canonicalize().ok()).is_some_and(|runner| runner == exe) {
        "runner".into()
    } else {
        shell_word(&exe.display().to_string())
    }
}

/// `text` as one word for a POSIX shell: as it is when that is safe, else single-quoted.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dir: &Path, slug: &str) -> Request {
        Request { slug: slug.into(), language: Language::Shell, dir: dir.to_owned() }
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_project_is_created_with_executables_and_no_staging_left() {
        let dir = tempfile::tempdir().unwrap();
        let created = create(&request(dir.path(), "acme"), &Toolkit::of_this_build()).unwrap();
        assert_eq!(entries(dir.path()), ["connector-acme"]);
        assert!(created.files.contains(&"test.sh".to_owned()));
        let mode = fs::metadata(dir.path().join("connector-acme/connector-acme")).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "executable");
        let mode = fs::metadata(dir.path().join("connector-acme/config.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0, "not executable");
    }

    #[test]
    fn an_existing_directory_is_never_touched() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("connector-acme")).unwrap();
        fs::write(dir.path().join("connector-acme/mine.txt"), "keep").unwrap();
        let error = create(&request(dir.path(), "acme"), &Toolkit::of_this_build()).unwrap_err();
        assert!(matches!(error, ScaffoldError::Exists { .. }), "{error}");
        assert_eq!(entries(dir.path()), ["connector-acme"]);
        assert_eq!(entries(&dir.path().join("connector-acme")), ["mine.txt"]);
    }

    #[test]
    fn a_name_taken_while_writing_is_not_replaced_and_nothing_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("connector-acme");
        let staging = Staging::create(&target).unwrap();
        staging.write(&File { path: "a/b.txt".into(), contents: b"x".to_vec(), executable: false }).unwrap();
        fs::create_dir(&target).unwrap();
        assert!(matches!(staging.commit(), Err(ScaffoldError::Exists { .. })));
        assert_eq!(entries(dir.path()), ["connector-acme"]);
        assert!(entries(&target).is_empty());
    }

    #[test]
    fn a_bad_slug_or_directory_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let bad = create(&request(dir.path(), "Foo_x"), &Toolkit::of_this_build()).unwrap_err();
        assert!(bad.is_bad_input(), "{bad}");
        let missing = create(&request(&dir.path().join("nope"), "acme"), &Toolkit::of_this_build()).unwrap_err();
        assert!(missing.to_string().starts_with(&format!("{} is not a directory", dir.path().join("nope").display())));
        assert!(entries(dir.path()).is_empty());
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("connectors/connector-acme"), "connectors/connector-acme");
        assert_eq!(shell_word("my dir/it's"), r"'my dir/it'\''s'");
    }
}
