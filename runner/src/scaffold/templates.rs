//! The files of a generated project, per language: templates embedded from
//! `templates/<language>/` (real code, readable and testable as such, with `{{slug}}`-style
//! placeholders in strings and comments), and the toolkit's own protocol helpers and test
//! helpers copied as they are, so a generated project depends on nothing in the toolkit but,
//! in Rust, the `connector-sdk` crate.

use std::path::Path;

use super::toolkit::Toolkit;
use super::Language;

/// A file of the generated project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Relative to the project's directory, `/`-separated.
    pub path: String,
    /// The contents.
    pub contents: Vec<u8>,
    /// Whether it gets the executable bit.
    pub executable: bool,
}

/// Everything `runner new` writes, and what it has to say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The files, in the order they are listed to the user.
    pub files: Vec<File>,
    /// Something the user must fix before the project works.
    pub warnings: Vec<String>,
}

/// How a template's text becomes a file's contents.
#[derive(Clone, Copy)]
enum Text {
    /// `{{placeholders}}` replaced.
    Render(&'static str),
    /// Copied as it is (the toolkit's helpers).
    Copy(&'static str),
}

/// One file of a language's template.
struct Template {
    path: &'static str,
    text: Text,
    executable: bool,
}

const fn file(path: &'static str, text: Text) -> Template {
    Template { path, text, executable: false }
}

const fn executable(path: &'static str, text: Text) -> Template {
    Template { path, text, executable: true }
}

/// The connector executable's name; `runner sync <slug>` finds it on PATH.
const CONNECTOR: &str = "connector-{{slug}}";
const CONFIG: Text = Text::Render(include_str!("templates/common/config.json"));

const RUST: &[Template] = &[
    file("Cargo.toml", Text::Render(include_str!("templates/rust/Cargo.toml"))),
    file("src/main.rs", Text::Render(include_str!("templates/rust/src/main.rs"))),
    file("src/config.rs", Text::Render(include_str!("templates/rust/src/config.rs"))),
    file("src/source.rs", Text::Render(include_str!("templates/rust/src/source.rs"))),
    file("src/sync.rs", Text::Render(include_str!("templates/rust/src/sync.rs"))),
    file("tests/cli.rs", Text::Render(include_str!("templates/rust/tests/cli.rs"))),
    file("config.json", CONFIG),
    file("README.md", Text::Render(include_str!("templates/rust/README.md"))),
    file(".gitignore", Text::Copy(include_str!("templates/rust/gitignore"))),
    // The toolkit's formatting: the templates are formatted with it.
    file("rustfmt.toml", Text::Copy(include_str!("../../../rustfmt.toml"))),
];

const PYTHON: &[Template] = &[
    executable(CONNECTOR, Text::Render(include_str!("templates/python/connector"))),
    file("connector_protocol.py", Text::Copy(include_str!("../../../connectors/python/connector_protocol.py"))),
    file("tests/__init__.py", Text::Copy("")),
    file("tests/test_connector.py", Text::Render(include_str!("templates/python/tests/test_connector.py"))),
    file("config.json", CONFIG),
    file("README.md", Text::Render(include_str!("templates/python/README.md"))),
    file(".gitignore", Text::Copy(include_str!("templates/python/gitignore"))),
];

const NODE: &[Template] = &[
    executable(CONNECTOR, Text::Render(include_str!("templates/node/connector"))),
    file("protocol.js", Text::Copy(include_str!("../../../connectors/node/protocol.js"))),
    file("test/connector.test.js", Text::Render(include_str!("templates/node/test/connector.test.js"))),
    file("package.json", Text::Render(include_str!("templates/node/package.json"))),
    file("config.json", CONFIG),
    file("README.md", Text::Render(include_str!("templates/node/README.md"))),
    file(".gitignore", Text::Copy(include_str!("templates/node/gitignore"))),
];

const SHELL: &[Template] = &[
    executable(CONNECTOR, Text::Render(include_str!("templates/shell/connector"))),
    executable("test.sh", Text::Render(include_str!("templates/shell/test.sh"))),
    file("testlib.sh", Text::Copy(include_str!("../../../connectors/testlib.sh"))),
    file("config.json", CONFIG),
    file("README.md", Text::Render(include_str!("templates/shell/README.md"))),
    file(".gitignore", Text::Copy(include_str!("templates/shell/gitignore"))),
];

fn templates(language: Language) -> &'static [Template] {
    match language {
        Language::Rust => RUST,
        Language::Python => PYTHON,
        Language::Node => NODE,
        Language::Shell => SHELL,
    }
}

/// The files of a `language` project for `slug`, to be created at `target`.
pub fn project(language: Language, slug: &str, target: &Path, toolkit: &Toolkit) -> Project {
    let name = display_name(slug);
    let mut vars = vec![("slug", slug.to_owned()), ("name", name)];
    let mut warnings = Vec::new();
    let mut extra = Vec::new();
    if language == Language::Rust {
        let sdk = toolkit.sdk_dependency(target);
        vars.push(("sdk_path", toml_string_body(&sdk.path)));
        vars.push(("sdk_comment", sdk.comment));
        vars.push(("sdk_readme", sdk.readme));
        warnings.extend(sdk.warning);
        // Same versions as the toolkit's own build; without it cargo picks the newest.
        extra.extend(toolkit.cargo_lock().map(|lock| File {
            path: "Cargo.lock".into(),
            contents: lock,
            executable: false,
        }));
    }
    let mut files: Vec<File> = templates(language)
        .iter()
        .map(|template| File {
            path: render(template.path, &vars),
            contents: match template.text {
                Text::Render(text) => render(text, &vars).into_bytes(),
                Text::Copy(text) => text.as_bytes().to_vec(),
            },
            executable: template.executable,
        })
        .collect();
    files.extend(extra);
    Project { files, warnings }
}

/// `acme-cloud` -> `Acme Cloud`, for prose and descriptions.
pub fn display_name(slug: &str) -> String {
    let words = slug.split('-').filter(|word| !word.is_empty()).map(|word| {
        let mut chars = word.chars();
        chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
    });
    words.collect::<Vec<_>>().join(" ")
}

/// Replaces every `{{key}}` of `vars` in `text`.
fn render(text: &str, vars: &[(&str, String)]) -> String {
    vars.iter().fold(text.to_owned(), |text, (key, value)| text.replace(&format!("{{{{{key}}}}}"), value))
}

/// `value` escaped for the inside of a TOML basic string (`"..."`).
fn toml_string_body(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaffold::toolkit::PLACEHOLDER;

    const ALL: [Language; 4] = [Language::Rust, Language::Python, Language::Node, Language::Shell];

    fn generated(language: Language) -> Project {
        let toolkit = Toolkit::of_this_build();
        project(language, "acme-cloud", &std::env::temp_dir().join("connector-acme-cloud"), &toolkit)
    }

    #[test]
    fn every_placeholder_is_filled() {
        for language in ALL {
            for file in generated(language).files {
                let text = String::from_utf8(file.contents).unwrap();
                assert!(!text.contains("{{") && !file.path.contains("{{"), "{language:?} {}", file.path);
            }
        }
    }

    #[test]
    fn every_language_has_a_connector_a_config_a_readme_and_tests() {
        let paths = |language| generated(language).files.into_iter().map(|f| f.path).collect::<Vec<_>>();
        for language in ALL {
            let paths = paths(language);
            for needed in ["config.json", "README.md"] {
                assert!(paths.iter().any(|p| p == needed), "{language:?}: {paths:?}");
            }
        }
        assert!(paths(Language::Rust).contains(&"Cargo.lock".to_owned()), "the toolkit's lock is copied");
        assert!(paths(Language::Python).contains(&"tests/test_connector.py".to_owned()));
        assert!(paths(Language::Node).contains(&"test/connector.test.js".to_owned()));
        assert!(paths(Language::Shell).contains(&"test.sh".to_owned()));
    }

    #[test]
    fn scripts_are_executable_and_start_with_a_shebang() {
        for language in [Language::Python, Language::Node, Language::Shell] {
            let files = generated(language).files;
            let connector = files.iter().find(|f| f.path == "connector-acme-cloud").unwrap();
            assert!(connector.executable && connector.contents.starts_with(b"#!/"), "{language:?}");
            assert!(files.iter().filter(|f| f.executable).all(|f| f.contents.starts_with(b"#!/")));
        }
    }

    /// A toolkit checkout at `root`: `connector-sdk/Cargo.toml`, `connectors/`, `Cargo.lock`.
    fn fake_checkout(root: &Path) -> Toolkit {
        std::fs::create_dir_all(root.join("connector-sdk")).unwrap();
        std::fs::create_dir_all(root.join("connectors")).unwrap();
        std::fs::write(root.join("connector-sdk/Cargo.toml"), "[package]\n").unwrap();
        std::fs::write(root.join("Cargo.lock"), "# the checkout's lock\n").unwrap();
        Toolkit::at(root)
    }

    fn manifest_and_lock(project: &Project) -> (String, Option<&[u8]>) {
        let file = |path: &str| project.files.iter().find(|f| f.path == path).map(|f| f.contents.as_slice());
        (String::from_utf8(file("Cargo.toml").unwrap().to_vec()).unwrap(), file("Cargo.lock"))
    }

    #[test]
    fn the_rust_project_depends_on_the_connector_sdk_by_path() {
        let checkout = tempfile::tempdir().unwrap();
        let toolkit = fake_checkout(checkout.path());

        // Inside the checkout: a relative path, two levels up from connectors/connector-acme-cloud.
        let inside =
            project(Language::Rust, "acme-cloud", &checkout.path().join("connectors/connector-acme-cloud"), &toolkit);
        let (manifest, lock) = manifest_and_lock(&inside);
        assert!(manifest.contains("name = \"connector-acme-cloud\""), "{manifest}");
        assert!(manifest.contains("\nconnector-sdk = { path = \"../../connector-sdk\" }\n"), "{manifest}");
        assert!(!manifest.contains("\nprotocol = "), "the SDK brings the protocol crate: {manifest}");
        assert!(manifest.contains("\n[workspace]\n"), "stands alone inside another workspace");
        assert_eq!(lock, Some(&b"# the checkout's lock\n"[..]), "the checkout's lock is copied");

        // Elsewhere: the checkout's absolute path.
        let elsewhere = tempfile::tempdir().unwrap();
        let outside = project(Language::Rust, "acme-cloud", &elsewhere.path().join("connector-acme-cloud"), &toolkit);
        let (manifest, _) = manifest_and_lock(&outside);
        let absolute = format!("{}/connector-sdk", checkout.path().canonicalize().unwrap().display());
        assert!(manifest.contains(&format!("\nconnector-sdk = {{ path = \"{absolute}\" }}\n")), "{manifest}");
    }

    #[test]
    fn a_checkout_path_with_quotes_and_backslashes_stays_valid_toml() {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join(r#"we"ird\dir"#);
        let toolkit = fake_checkout(&root);
        let elsewhere = tempfile::tempdir().unwrap();
        let generated = project(Language::Rust, "acme", &elsewhere.path().join("connector-acme"), &toolkit);
        let (manifest, _) = manifest_and_lock(&generated);
        let canonical = parent.path().canonicalize().unwrap();
        let escaped = format!(r#"{}/we\"ird\\dir/connector-sdk"#, canonical.display());
        assert!(manifest.contains(&format!("connector-sdk = {{ path = \"{escaped}\" }}")), "{manifest}");
        let parsed: toml::Table = toml::from_str(&manifest).unwrap_or_else(|e| panic!("{e}\n{manifest}"));
        let path = parsed["dependencies"]["connector-sdk"]["path"].as_str().unwrap();
        assert_eq!(Path::new(path), canonical.join(r#"we"ird\dir"#).join("connector-sdk"));
    }

    #[test]
    fn without_the_toolkit_a_rust_project_gets_a_placeholder_a_warning_and_no_lock() {
        let nowhere = tempfile::tempdir().unwrap();
        let toolkit = Toolkit::at(nowhere.path());
        let project = project(Language::Rust, "acme", &nowhere.path().join("connector-acme"), &toolkit);
        assert_eq!(project.warnings.len(), 1, "{:?}", project.warnings);
        let text = |path: &str| {
            let file = project.files.iter().find(|f| f.path == path);
            file.map(|f| String::from_utf8_lossy(&f.contents).into_owned())
        };
        assert!(text("Cargo.toml").unwrap().contains(&format!("path = \"{}\"", PLACEHOLDER)));
        assert!(text("README.md").unwrap().contains("not set yet"));
        assert_eq!(text("Cargo.lock"), None);
    }

    #[test]
    fn names_are_made_from_slugs() {
        assert_eq!(display_name("acme-cloud"), "Acme Cloud");
        assert_eq!(display_name("s3"), "S3");
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string_body(r#"C:\a "b""#), r#"C:\\a \"b\""#);
    }
}
