//! Where the toolkit's source tree is, for a generated Rust project: the `connector-sdk` crate
//! it depends on by path (the only toolkit crate it names: the SDK brings the `protocol`
//! crate with it), and the `Cargo.lock` that pins the versions the toolkit is tested with.
//!
//! The runner knows the tree it was built from (`CARGO_MANIFEST_DIR` at compile time); it
//! is used when it still exists where the runner was built. A project created inside that
//! tree (e.g. in `connectors/`) gets a relative path, which survives moving the checkout as
//! a whole; one created elsewhere gets an absolute path, which survives moving the project.
//! Without the tree, the path is a placeholder that the command warns about and the
//! project's README explains.

use std::fs;
use std::path::{Component, Path, PathBuf};

/// What `Cargo.toml` says when the connector SDK was not found.
pub const PLACEHOLDER: &str = "PATH/TO/connector-toolkit/connector-sdk";

/// The SDK's directory in the toolkit's tree.
const SDK_DIR: &str = "connector-sdk";

/// The toolkit's source tree, when it could be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolkit {
    root: Option<PathBuf>,
}

/// The `connector-sdk` dependency of a generated project, and what to say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkDependency {
    /// The `path` of `connector-sdk = { path = ... }`.
    pub path: String,
    /// A comment for `Cargo.toml`.
    pub comment: String,
    /// A sentence for the project's README.
    pub readme: String,
    /// For the person who ran `runner new`, when something needs fixing.
    pub warning: Option<String>,
}

impl Toolkit {
    /// The tree this runner was built from, if it is still there.
    pub fn of_this_build() -> Self {
        Toolkit::at(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
    }

    /// The tree at `root`, if `root/connector-sdk/Cargo.toml` exists.
    pub fn at(root: &Path) -> Self {
        let root = root.canonicalize().ok().filter(|root| root.join(SDK_DIR).join("Cargo.toml").is_file());
        Toolkit { root }
    }

    /// The `connector-sdk` dependency of a project that will be created at `project` (whose
    /// parent directory exists).
    pub fn sdk_dependency(&self, project: &Path) -> SdkDependency {
        let Some(root) = &self.root else { return not_found() };
        let sdk = root.join(SDK_DIR);
        let project = canonical_project(project);
        match project.as_deref().filter(|p| p.starts_with(root)).map(|p| relative(p, &sdk)) {
            Some(path) => SdkDependency {
                path: path.display().to_string(),
                comment: "A relative path: this project was created inside the toolkit's checkout.".into(),
                readme: format!(
                    "`{}`, relative, because `runner new` created this project inside the toolkit's checkout \
                     (it keeps working when the checkout moves as a whole).",
                    path.display()
                ),
                warning: None,
            },
            None => SdkDependency {
                path: sdk.display().to_string(),
                comment: "The toolkit checkout `runner new` was built from.".into(),
                readme: format!(
                    "`{}`, the toolkit checkout the runner that created this project was built from (an absolute \
                     path, because this project is outside it).",
                    sdk.display()
                ),
                warning: None,
            },
        }
    }

    /// The toolkit's `Cargo.lock`, when there is one.
    pub fn cargo_lock(&self) -> Option<Vec<u8>> {
        self.root.as_ref().and_then(|root| fs::read(root.join("Cargo.lock")).ok())
    }
}

fn not_found() -> SdkDependency {
    SdkDependency {
        path: PLACEHOLDER.into(),
        comment: "PLACEHOLDER: put the path of the connector-sdk/ directory of a toolkit checkout here.".into(),
        readme: format!(
            "**not set yet.** `runner new` could not find the toolkit's source (the runner was built \
             elsewhere), so `Cargo.toml` says `{PLACEHOLDER}`: replace it with the path of the \
             `connector-sdk/` directory of a toolkit checkout; `cargo build` fails until then."
        ),
        warning: Some(format!(
            "the toolkit's connector-sdk crate was not found (the runner was built in {}, which is gone): \
             Cargo.toml points at the placeholder `{PLACEHOLDER}`; set the path of `connector-sdk` to the \
             connector-sdk/ directory of a toolkit checkout before building",
            Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("?")).display()
        )),
    }
}

/// `project` with its parent resolved (the project itself does not exist yet).
fn canonical_project(project: &Path) -> Option<PathBuf> {
    let parent = match project.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(project.file_name()?))
}

/// The path from directory `from` to `to`, both absolute and canonical.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component<'_>> = from.components().collect();
    let to: Vec<Component<'_>> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let ups = std::iter::repeat_n(Component::ParentDir, from.len() - common);
    ups.chain(to[common..].iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake toolkit checkout in a temporary directory.
    fn checkout() -> (tempfile::TempDir, Toolkit) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("connector-sdk")).unwrap();
        fs::create_dir_all(dir.path().join("connectors")).unwrap();
        fs::write(dir.path().join("connector-sdk/Cargo.toml"), "[package]\n").unwrap();
        fs::write(dir.path().join("Cargo.lock"), "# lock\n").unwrap();
        let toolkit = Toolkit::at(dir.path());
        (dir, toolkit)
    }

    #[test]
    fn inside_the_checkout_the_path_is_relative() {
        let (dir, toolkit) = checkout();
        let dependency = toolkit.sdk_dependency(&dir.path().join("connectors/connector-acme"));
        assert_eq!(dependency.path, "../../connector-sdk");
        assert_eq!(dependency.warning, None);
        assert_eq!(toolkit.sdk_dependency(&dir.path().join("connector-acme")).path, "../connector-sdk");
    }

    #[test]
    fn outside_the_checkout_the_path_is_absolute() {
        let (dir, toolkit) = checkout();
        let elsewhere = tempfile::tempdir().unwrap();
        let dependency = toolkit.sdk_dependency(&elsewhere.path().join("connector-acme"));
        assert_eq!(Path::new(&dependency.path), dir.path().canonicalize().unwrap().join("connector-sdk"));
        assert_eq!(toolkit.cargo_lock(), Some(b"# lock\n".to_vec()));
    }

    #[test]
    fn without_a_checkout_the_path_is_a_placeholder_with_a_warning() {
        let empty = tempfile::tempdir().unwrap();
        let toolkit = Toolkit::at(empty.path());
        let dependency = toolkit.sdk_dependency(&empty.path().join("connector-acme"));
        assert_eq!(dependency.path, PLACEHOLDER);
        assert!(dependency.warning.unwrap().contains("connector-sdk crate was not found"));
        assert!(dependency.readme.contains("not set yet"));
        assert_eq!(toolkit.cargo_lock(), None);
    }

    #[test]
    fn the_runners_own_tree_is_found() {
        assert!(Toolkit::of_this_build().root.is_some());
    }
}
