//! Where a PostgreSQL destination connects, as libpq users expect it: a `postgres://` or
//! `postgresql://` URL, completed from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
//! `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT` and the password file (`PGPASSFILE`, else
//! `~/.pgpass`) for what the URL leaves out.
//!
//! - `sslmode`: `disable`, `prefer` (the default, as libpq), `require` (encrypted, the
//!   certificate not checked, as libpq), `verify-ca` (the certificate chains to a trusted
//!   root), `verify-full` (and names the host). Roots: `sslrootcert`, else
//!   `~/.postgresql/root.crt`, else the Mozilla roots.
//! - The schema the tables live in is the first entry of `search_path` in the URL's
//!   `options` (`?options=-csearch_path%3Danalytics`), else `public`.
//! - Every other parameter goes to the client as it is (`application_name`,
//!   `connect_timeout`, `options` such as `-cstatement_timeout=5000`...).
//!
//! A password is never shown: [`Target`]'s `Display` and `Debug` print
//! `postgres://user:***@host:port/db`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::Config;

/// The default port.
const DEFAULT_PORT: u16 = 5432;
/// Where Debian's server puts its socket: libpq's default host when there is one.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// How to secure the connection (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Never encrypt.
    Disable,
    /// Encrypt when the server offers it; the certificate is not checked.
    Prefer,
    /// Encrypt or fail; the certificate is not checked.
    Require,
    /// Encrypt, and the certificate must chain to a trusted root.
    VerifyCa,
    /// Encrypt, the certificate must chain to a trusted root and name the host.
    VerifyFull,
}

impl TlsMode {
    fn parse(text: &str) -> Result<TlsMode, TargetError> {
        Ok(match text {
            "disable" => TlsMode::Disable,
            "allow" | "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            other => {
                return Err(TargetError::Invalid(format!(
                    "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )))
            }
        })
    }
}

/// Why a PostgreSQL URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The URL or a parameter is malformed.
    #[error("{0}")]
    Invalid(String),
}

/// A resolved connection target: the client configuration, TLS and the schema.
#[derive(Clone)]
pub struct Target {
    config: Config,
    tls: TlsMode,
    root_cert: Option<PathBuf>,
    schema: String,
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string() && self.config.get_password() == other.config.get_password()
    }
}

impl Eq for Target {}

/// What the environment says (a seam for tests).
pub trait Environment {
    /// A variable's value.
    fn var(&self, name: &str) -> Option<String>;
    /// The user's home directory.
    fn home(&self) -> Option<PathBuf>;
    /// The operating system's user name.
    fn os_user(&self) -> Option<String>;
}

/// The process's real environment.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }

    fn os_user(&self) -> Option<String> {
        self.var("USER").or_else(|| self.var("LOGNAME"))
    }
}

/// Whether `text` is a PostgreSQL URL (and so not a path).
pub fn is_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

impl Target {
    /// Parses a URL and completes it from the process's environment.
    ///
    /// # Errors
    /// [`TargetError`] naming what is malformed (never quoting a password).
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        Target::parse_with(url, &ProcessEnvironment)
    }

    /// [`Target::parse`] with an explicit environment.
    ///
    /// # Errors
    /// As [`Target::parse`].
    pub fn parse_with(url: &str, env: &dyn Environment) -> Result<Target, TargetError> {
        let (base, params) = split_query(url);
        let mut passed_on = Vec::new();
        let (mut tls, mut root_cert) = (None, None);
        for (key, value) in params {
            match key.as_str() {
                "sslmode" => tls = Some(TlsMode::parse(&value)?),
                "sslrootcert" => root_cert = Some(PathBuf::from(value)),
                _ => passed_on.push(format!("{key}={}", encode(&value))),
            }
        }
        let base = with_port_from_env(base, env);
        let rebuilt = if passed_on.is_empty() { base } else { format!("{base}?{}", passed_on.join("&")) };
        let mut config = Config::from_str(&rebuilt).map_err(|e| TargetError::Invalid(masked_parse_error(&e)))?;
        complete_from(&mut config, env);
        let tls = match tls {
            Some(mode) => mode,
            None => env.var("PGSSLMODE").map(|m| TlsMode::parse(&m)).transpose()?.unwrap_or(TlsMode::Prefer),
        };
        let root_cert = root_cert
            .or_else(|| env.var("PGSSLROOTCERT").map(PathBuf::from))
            .or_else(|| env.home().map(|home| home.join(".postgresql/root.crt")).filter(|path| path.is_file()));
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        if config.get_application_name().is_none() {
            config.application_name("runner");
        }
        let schema = schema_of(config.get_options().unwrap_or_default());
        if config.get_password().is_none() {
            if let Some(password) = password_from_file(&config, env) {
                config.password(password);
            }
        }
        Ok(Target { config, tls, root_cert, schema })
    }

    /// The client configuration (with the password).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How the connection is secured.
    pub fn tls(&self) -> TlsMode {
        self.tls
    }

    /// The trusted roots file, if one was named or found.
    pub fn root_cert(&self) -> Option<&Path> {
        self.root_cert.as_deref()
    }

    /// The schema the tables live in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The URL without its password, for commands people run themselves (`psql URL`);
    /// they give the password the way libpq takes it (`PGPASSWORD`, `~/.pgpass`).
    pub fn url_without_password(&self) -> String {
        let user = self.config.get_user().unwrap_or_default();
        let db = self.config.get_dbname().unwrap_or_default();
        let host = self.config.get_hosts().first().map(host_text).unwrap_or_default();
        let port = self.config.get_ports().first().copied().unwrap_or(DEFAULT_PORT);
        let host = if host.starts_with('/') { encode(&host) } else { host };
        let mut url = format!("postgres://{user}@{host}:{port}/{db}");
        if self.schema != "public" {
            url.push_str(&format!("?options=-csearch_path%3D{}", encode(&self.schema)));
        }
        url
    }

    /// `host:port` for messages (the first host).
    pub fn address(&self) -> String {
        let host = self.config.get_hosts().first().map(host_text).unwrap_or_default();
        let port = self.config.get_ports().first().copied().unwrap_or(DEFAULT_PORT);
        format!("{host}:{port}")
    }
}

impl fmt::Display for Target {
    /// `postgres://user:***@host:port/db`, the schema added when not `public`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = self.config.get_user().unwrap_or_default();
        let password = if self.config.get_password().is_some() { ":***" } else { "" };
        let db = self.config.get_dbname().unwrap_or_default();
        let host = self.config.get_hosts().first().map(host_text).unwrap_or_default();
        let port = self.config.get_ports().first().copied().unwrap_or(DEFAULT_PORT);
        let host = if host.starts_with('/') { encode(&host) } else { host };
        write!(f, "postgres://{user}{password}@{host}:{port}/{db}")?;
        if self.schema != "public" {
            write!(f, " (schema {})", self.schema)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target").field("url", &self.to_string()).field("tls", &self.tls).finish_non_exhaustive()
    }
}

fn host_text(host: &Host) -> String {
    match host {
        Host::Tcp(name) => name.clone(),
        Host::Unix(path) => path.display().to_string(),
    }
}

/// The URL with `PGPORT` added to its host when it names one host without a port: the
/// client would otherwise take 5432 for it.
fn with_port_from_env(base: &str, env: &dyn Environment) -> String {
    let Some(port) = env.var("PGPORT") else { return base.to_owned() };
    let Some((scheme, rest)) = base.split_once("://") else { return base.to_owned() };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (user, hosts) = authority.rsplit_once('@').map_or(("", authority), |(u, h)| (u, h));
    let one_host_without_port =
        !hosts.is_empty() && !hosts.contains(',') && !hosts.rsplit(']').next().unwrap_or(hosts).contains(':');
    if !one_host_without_port {
        return base.to_owned();
    }
    let at = if user.is_empty() { "" } else { "@" };
    format!("{scheme}://{user}{at}{hosts}:{port}{path}")
}

/// Fills what the URL leaves out, as libpq does.
fn complete_from(config: &mut Config, env: &dyn Environment) {
    if config.get_hosts().is_empty() {
        match env.var("PGHOST") {
            Some(host) => {
                config.host(&host);
            }
            None if Path::new(DEFAULT_SOCKET_DIR).is_dir() => {
                config.host_path(DEFAULT_SOCKET_DIR);
            }
            None => {
                config.host("localhost");
            }
        }
    }
    if config.get_ports().is_empty() {
        let port = env.var("PGPORT").and_then(|p| p.parse().ok()).unwrap_or(DEFAULT_PORT);
        config.port(port);
    }
    if config.get_user().is_none() {
        if let Some(user) = env.var("PGUSER").or_else(|| env.os_user()) {
            config.user(user);
        }
    }
    if config.get_dbname().is_none() {
        if let Some(db) = env.var("PGDATABASE").or_else(|| config.get_user().map(str::to_owned)) {
            config.dbname(db);
        }
    }
    if config.get_password().is_none() {
        if let Some(password) = env.var("PGPASSWORD") {
            config.password(password);
        }
    }
}

/// The password of the first matching line of the password file
/// (`host:port:database:user:password`, `*` matches anything, `\` escapes).
fn password_from_file(config: &Config, env: &dyn Environment) -> Option<String> {
    let file = env.var("PGPASSFILE").map(PathBuf::from).or_else(|| env.home().map(|h| h.join(".pgpass")))?;
    let text = std::fs::read_to_string(file).ok()?;
    let host = config.get_hosts().first().map(host_text).unwrap_or_default();
    // libpq matches a socket connection against "localhost".
    let host = if host.starts_with('/') { "localhost".to_owned() } else { host };
    let port = config.get_ports().first().copied().unwrap_or(DEFAULT_PORT).to_string();
    let wanted = [host.as_str(), &port, config.get_dbname().unwrap_or_default(), config.get_user().unwrap_or_default()];
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let fields = split_pgpass(line);
        if fields.len() < 5 {
            return None;
        }
        let matches = fields.iter().zip(wanted).all(|(field, value)| field == "*" || field == value);
        matches.then(|| fields[4..].join(":"))
    })
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("one field").extend(chars.next()),
            ':' => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

/// The first schema of `search_path` in a libpq `options` string, else `public`.
fn schema_of(options: &str) -> String {
    let mut words = options.split_whitespace().peekable();
    while let Some(word) = words.next() {
        let setting = match word {
            "-c" | "--" => words.next().unwrap_or_default(),
            word => word.strip_prefix("-c").or_else(|| word.strip_prefix("--")).unwrap_or_default(),
        };
        if let Some(path) = setting.strip_prefix("search_path=") {
            let first = path.split(',').next().unwrap_or_default().trim().trim_matches('"');
            if !first.is_empty() && first != "$user" {
                return first.to_owned();
            }
        }
    }
    "public".to_owned()
}

/// The URL before `?`, and its parameters percent-decoded.
fn split_query(url: &str) -> (&str, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else { return (url, Vec::new()) };
    let params = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect();
    (base, params)
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

/// The client's parse error never quotes the URL, so it cannot leak a password; it is
/// shown as it is, with what we accept.
fn masked_parse_error(error: &tokio_postgres::Error) -> String {
    format!(
        "not a usable PostgreSQL URL ({}): expected postgres://user[:password]@host[:port]/database[?param=value]",
        crate::with_causes(error)
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[derive(Default)]
    struct FakeEnv {
        vars: HashMap<&'static str, String>,
        home: Option<PathBuf>,
    }

    impl Environment for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }
        fn home(&self) -> Option<PathBuf> {
            self.home.clone()
        }
        fn os_user(&self) -> Option<String> {
            Some("osuser".into())
        }
    }

    fn parse(url: &str, env: &FakeEnv) -> Target {
        Target::parse_with(url, env).unwrap()
    }

    #[test]
    fn a_full_url_is_taken_as_written_and_shown_without_its_password() {
        let target = parse("postgres://ann:s3cret@db.example:6543/sales?sslmode=require", &FakeEnv::default());
        assert_eq!(target.to_string(), "postgres://ann:***@db.example:6543/sales");
        assert_eq!(
            format!("{target:?}"),
            "Target { url: \"postgres://ann:***@db.example:6543/sales\", tls: Require, .. }"
        );
        assert_eq!(target.config().get_password(), Some(&b"s3cret"[..]));
        assert_eq!(
            (target.tls(), target.address(), target.schema()),
            (TlsMode::Require, "db.example:6543".into(), "public")
        );
    }

    #[test]
    fn what_the_url_leaves_out_comes_from_the_environment() {
        let env = FakeEnv {
            vars: HashMap::from([
                ("PGHOST", "envhost".to_owned()),
                ("PGPORT", "5999".to_owned()),
                ("PGUSER", "bob".to_owned()),
                ("PGPASSWORD", "from-env".to_owned()),
                ("PGDATABASE", "envdb".to_owned()),
                ("PGSSLMODE", "disable".to_owned()),
            ]),
            home: None,
        };
        let target = parse("postgresql://", &env);
        assert_eq!(target.to_string(), "postgres://bob:***@envhost:5999/envdb");
        assert_eq!(target.config().get_password(), Some(&b"from-env"[..]));
        assert_eq!(target.tls(), TlsMode::Disable);
        let target = parse("postgres://carol@h/db", &env);
        assert_eq!(target.to_string(), "postgres://carol:***@h:5999/db", "the URL wins, the rest from the env");
    }

    #[test]
    fn the_password_file_matches_host_port_database_and_user_with_wildcards() {
        let home = tempfile::tempdir().unwrap();
        let lines = "# comment\nother:5432:*:dan:wrong\nh:5432:db:dan:pa\\:ss\n*:*:*:*:fallback\n";
        std::fs::write(home.path().join(".pgpass"), lines).unwrap();
        let env = FakeEnv { vars: HashMap::new(), home: Some(home.path().to_owned()) };
        assert_eq!(parse("postgres://dan@h:5432/db", &env).config().get_password(), Some(&b"pa:ss"[..]));
        assert_eq!(parse("postgres://eve@h/db", &env).config().get_password(), Some(&b"fallback"[..]));
        let with_password = parse("postgres://dan:given@h/db", &env);
        assert_eq!(with_password.config().get_password(), Some(&b"given"[..]), "the URL's password wins");
    }

    #[test]
    fn the_schema_is_the_first_of_the_search_path_in_options() {
        let env = FakeEnv::default();
        assert_eq!(parse("postgres://u@h/db?options=-csearch_path%3Danalytics", &env).schema(), "analytics");
        assert_eq!(parse("postgres://u@h/db?options=-c%20search_path%3Draw,public", &env).schema(), "raw");
        assert_eq!(parse("postgres://u@h/db?options=-cstatement_timeout%3D500", &env).schema(), "public");
        let target = parse("postgres://u@h/db?options=-csearch_path%3Danalytics", &env);
        assert_eq!(target.to_string(), "postgres://u@h:5432/db (schema analytics)");
        assert_eq!(target.config().get_options(), Some("-csearch_path=analytics"));
        assert_eq!(target.url_without_password(), "postgres://u@h:5432/db?options=-csearch_path%3Danalytics");
    }

    #[test]
    fn bad_urls_and_modes_are_named_without_the_password() {
        let env = FakeEnv::default();
        let error = Target::parse_with("postgres://u:pw@h:notaport/db", &env).unwrap_err().to_string();
        assert!(error.contains("not a usable PostgreSQL URL") && !error.contains("pw@"), "{error}");
        let error = Target::parse_with("postgres://u@h/db?sslmode=maybe", &env).unwrap_err().to_string();
        assert_eq!(error, "sslmode `maybe` is not one of disable, allow, prefer, require, verify-ca, verify-full");
        assert!(is_url("postgresql://x") && is_url("postgres://x") && !is_url("out.db"));
    }
}
