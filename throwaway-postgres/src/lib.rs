//! A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` and `postgres` from
//! the installed server binaries, on a free loopback port, in a temporary directory that
//! is removed when the cluster is dropped. See the README for the contract.

use std::ffi::CString;
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

/// The superuser `initdb` creates.
pub const SUPERUSER: &str = "postgres";

/// How long the server may take to say it is ready (a failure guard, not a wait).
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// Ports tried when the chosen free port is taken before the server binds it.
const PORT_ATTEMPTS: usize = 5;

/// Why no cluster could be started.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No PostgreSQL server binaries on this machine.
    #[error(
        "no PostgreSQL server is installed (looked for initdb in $PG_BIN, `pg_config --bindir` and \
         /usr/lib/postgresql/*/bin)\nhint: install it (Debian: apt-get install postgresql)"
    )]
    NotInstalled,
    /// A step failed.
    #[error("cannot start a throwaway PostgreSQL cluster: {step}: {reason}")]
    Failed {
        /// What was being done.
        step: &'static str,
        /// Why it failed (the tool's output when there is one).
        reason: String,
    },
}

fn failed(step: &'static str, reason: impl ToString) -> ClusterError {
    ClusterError::Failed { step, reason: reason.to_string() }
}

/// A running cluster; dropping it stops the server and removes its directory.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    password: String,
    server: Child,
    certificate: Option<PathBuf>,
}

/// How a cluster is set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Serve TLS with a certificate for `localhost` signed by a throwaway authority (both
    /// made with `openssl`; [`Cluster::certificate`] is the authority's).
    pub tls: bool,
    /// `fsync=on` and production-sized buffers (`shared_buffers=512MB`, `max_wal_size=4GB`,
    /// `wal_buffers=16MB`), for benchmarks; tests run with initdb's defaults and no fsync.
    pub durable: bool,
}

impl Cluster {
    /// Initialises and starts a cluster, returning once it accepts connections.
    ///
    /// # Errors
    /// [`ClusterError::NotInstalled`] without server binaries, else the step that failed.
    pub fn start() -> Result<Cluster, ClusterError> {
        Cluster::start_with(Options::default())
    }

    /// [`Cluster::start`] with options.
    ///
    /// # Errors
    /// As [`Cluster::start`]; with TLS, also `openssl` failing.
    pub fn start_with(options: Options) -> Result<Cluster, ClusterError> {
        let bin = server_bin().ok_or(ClusterError::NotInstalled)?;
        remove_abandoned_dirs();
        let dir = std::env::temp_dir().join(format!("throwaway-postgres-{}-{}", std::process::id(), unique()));
        let password = format!("pw-{:x}", unique() ^ u64::from(std::process::id()) << 20);
        let owner = Owner::for_server()?;
        init(&bin, &dir, &password, &owner)?;
        let certificate = if options.tls { Some(make_certificate(&dir, &owner)?) } else { None };
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            match start_server(&bin, &dir, port, &owner, options) {
                Ok(server) => return Ok(Cluster { bin, dir, port, password, server, certificate }),
                Err(error) => last_error = Some(error),
            }
        }
        let _ = fs::remove_dir_all(&dir);
        Err(last_error.unwrap_or_else(|| failed("start", "no attempt made")))
    }

    /// One cluster for the whole test process, started on first use.
    ///
    /// # Errors
    /// As [`Cluster::start`]; the error is the same for every later call.
    pub fn shared() -> Result<&'static Cluster, &'static ClusterError> {
        Cluster::shared_with(Options::default())
    }

    /// One cluster serving TLS for the whole test process, started on first use.
    ///
    /// # Errors
    /// As [`Cluster::start_with`].
    pub fn shared_tls() -> Result<&'static Cluster, &'static ClusterError> {
        Cluster::shared_with(Options { tls: true, ..Options::default() })
    }

    /// One cluster with `options` for the whole process, started on first use.
    ///
    /// # Errors
    /// As [`Cluster::start_with`]; the error is the same for every later call.
    pub fn shared_with(options: Options) -> Result<&'static Cluster, &'static ClusterError> {
        type Shared = OnceLock<Result<Cluster, ClusterError>>;
        static SHARED: [Shared; 4] = [const { OnceLock::new() }; 4];
        let index = usize::from(options.tls) + 2 * usize::from(options.durable);
        SHARED[index].get_or_init(|| start_for_the_process(options)).as_ref()
    }

    /// The certificate of the authority that signed the server's (PEM), when it serves TLS.
    pub fn certificate(&self) -> Option<&Path> {
        self.certificate.as_deref()
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/DB`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}", self.password, self.port)
    }

    /// Runs `sql` in `database` as the superuser with `psql`; rows as lines, columns
    /// separated by `|`.
    ///
    /// # Errors
    /// psql failed (its stderr is the reason).
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, ClusterError> {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.url(database), "-c", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| failed("run psql", e))?;
        succeeded("psql", output).map(|stdout| stdout.trim_end_matches('\n').to_owned())
    }

    /// Creates a database (dropping one of the same name first).
    ///
    /// # Errors
    /// psql failed.
    pub fn create_database(&self, name: &str) -> Result<(), ClusterError> {
        self.psql("postgres", &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))?;
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\"")).map(drop)
    }

    /// Creates a login role with a password (dropping one of the same name first).
    ///
    /// # Errors
    /// psql failed.
    pub fn create_user(&self, name: &str, password: &str) -> Result<(), ClusterError> {
        self.psql("postgres", &format!("DROP ROLE IF EXISTS \"{name}\""))?;
        self.psql("postgres", &format!("CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")).map(drop)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGQUIT: immediate shutdown; nothing here needs to survive.
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.server.id() as i32, libc::SIGQUIT);
        }
        let _ = self.server.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Starts a cluster from a thread that never ends: the server dies with the thread that
/// started it (PR_SET_PDEATHSIG), and test threads end early.
fn start_for_the_process(options: Options) -> Result<Cluster, ClusterError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(Cluster::start_with(options));
        loop {
            std::thread::park();
        }
    });
    rx.recv().unwrap_or_else(|_| Err(failed("start", "the starting thread died")))
}

/// The shared cluster, or `None` after saying loudly why the test is skipped. Under CI
/// (`CI` set) a missing server fails the test: CI must run everything.
///
/// # Panics
/// When the server is installed but does not start, or is missing under CI.
pub fn require(test: &str) -> Option<&'static Cluster> {
    skip_unless_installed(test, Cluster::shared())
}

/// [`require`] for the shared cluster that serves TLS.
///
/// # Panics
/// As [`require`].
pub fn require_tls(test: &str) -> Option<&'static Cluster> {
    skip_unless_installed(test, Cluster::shared_tls())
}

fn skip_unless_installed(
    test: &str,
    cluster: Result<&'static Cluster, &'static ClusterError>,
) -> Option<&'static Cluster> {
    match cluster {
        Ok(cluster) => Some(cluster),
        Err(ClusterError::NotInstalled) if std::env::var_os("CI").is_none() => {
            let _ = writeln!(
                io::stderr(),
                "SKIPPED {test}: it needs a PostgreSQL server and none is installed \
                 (Debian: apt-get install postgresql; .ci/run installs it)"
            );
            None
        }
        Err(error) => panic!("{test}: {error}"),
    }
}

/// The directory of `initdb` and `postgres`: `$PG_BIN`, `pg_config --bindir`, or the
/// newest `/usr/lib/postgresql/<version>/bin`.
pub fn server_bin() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        return has_server(&dir).then_some(dir);
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|dir| has_server(dir)) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_server(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

/// Who runs the server: ourselves, or the `postgres` system user when we are root.
#[derive(Debug, Clone, Copy)]
struct Owner {
    ids: Option<(u32, u32)>,
}

impl Owner {
    fn for_server() -> Result<Owner, ClusterError> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(Owner { ids: None });
        }
        let name = CString::new("postgres").expect("no NUL");
        // SAFETY: getpwnam with a valid C string; the result is read at once, before any
        // other call could reuse its static buffer.
        let entry = unsafe { libc::getpwnam(name.as_ptr()) };
        if entry.is_null() {
            return Err(failed(
                "find the postgres user",
                "running as root and there is no `postgres` user to run the server",
            ));
        }
        // SAFETY: non-null entry from getpwnam.
        let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
        Ok(Owner { ids: Some((uid, gid)) })
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        if let Some((uid, gid)) = self.ids {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn chown(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some((uid, gid)) = self.ids {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| failed("chown the data directory", e))?;
        }
        Ok(())
    }
}

fn init(bin: &Path, dir: &Path, password: &str, owner: &Owner) -> Result<(), ClusterError> {
    fs::create_dir(dir).map_err(|e| failed("create the directory", e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| failed("create the directory", e))?;
    owner.chown(dir)?;
    let pwfile = dir.join("pwfile");
    fs::write(&pwfile, password).map_err(|e| failed("write the password file", e))?;
    owner.chown(&pwfile)?;
    let output = owner
        .command(&bin.join("initdb"))
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-U", SUPERUSER, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"])
        .arg(format!("--pwfile={}", pwfile.display()))
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed("run initdb", e))?;
    succeeded("initdb", output).map(drop)
}

/// A certificate authority and a server certificate for `localhost` it signed, with the
/// server's key readable by the server only, in the cluster's directory. Returns the
/// authority's certificate: the root a client trusts (`sslrootcert`).
fn make_certificate(dir: &Path, owner: &Owner) -> Result<PathBuf, ClusterError> {
    let openssl = |args: &[&str]| -> Result<(), ClusterError> {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| failed("run openssl to make certificates (install openssl)", e))?;
        succeeded("openssl", output).map(drop)
    };
    fs::write(dir.join("server.ext"), "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n")
        .map_err(|e| failed("write the certificate's extensions", e))?;
    let ca = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=throwaway test CA"];
    openssl(&[&ca[..], &["-keyout", "ca.key", "-out", "ca.crt"]].concat())?;
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ])?;
    let sign = ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial"];
    openssl(&[&sign[..], &["-days", "2", "-extfile", "server.ext", "-out", "server.crt"]].concat())?;
    let key = dir.join("server.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).map_err(|e| failed("protect the key", e))?;
    owner.chown(&key)?;
    owner.chown(&dir.join("server.crt"))?;
    Ok(dir.join("ca.crt"))
}

fn start_server(bin: &Path, dir: &Path, port: u16, owner: &Owner, options: Options) -> Result<Child, ClusterError> {
    let mut command = owner.command(&bin.join("postgres"));
    command.arg("-D").arg(dir.join("data")).args(["-p", &port.to_string(), "-k"]).arg(dir).args([
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "logging_collector=off",
        "-c",
        "max_connections=200",
    ]);
    if options.durable {
        // Sized as a production server is (shared_buffers of a few hundred MB at least, no
        // forced checkpoint in the middle of a benchmark), not as initdb's small defaults.
        command.args(["-c", "shared_buffers=512MB", "-c", "max_wal_size=4GB", "-c", "wal_buffers=16MB"]);
    } else {
        command.args(["-c", "fsync=off"]);
    }
    if options.tls {
        command
            .args(["-c", "ssl=on", "-c"])
            .arg(format!("ssl_cert_file={}", dir.join("server.crt").display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", dir.join("server.key").display()));
    }
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    // The kernel kills the server when the thread that started it ends.
    process_guard::die_with_parent(&mut command);
    let mut server = command.spawn().map_err(|e| failed("run postgres", e))?;
    let stderr = server.stderr.take().expect("stderr is piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            log.push_str(&line);
            log.push('\n');
            if line.contains("database system is ready to accept connections") {
                let _ = tx.send(Ok(()));
            }
        }
        // The server closed stderr: it exited. Anything not sent yet is why.
        let _ = tx.send(Err(log));
    });
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(Ok(())) => Ok(server),
        Ok(Err(log)) => {
            let _ = server.wait();
            Err(failed("start postgres", log.trim_end()))
        }
        Err(_) => {
            let _ = server.kill();
            let _ = server.wait();
            Err(failed("start postgres", format!("not ready after {} s", READY_TIMEOUT.as_secs())))
        }
    }
}

fn succeeded(tool: &str, output: Output) -> Result<String, ClusterError> {
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(ClusterError::Failed {
        step: "run a PostgreSQL tool",
        reason: format!("{tool} exited with {}: {}", output.status, stderr.trim_end()),
    })
}

fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| failed("find a free port", e))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| failed("find a free port", e))
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    nanos.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Removes the directories of clusters whose process is gone (statics are never dropped,
/// so a shared cluster's directory outlives its test process).
fn remove_abandoned_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("throwaway-postgres-")) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|pid| pid.parse::<i32>().ok()) else { continue };
        // SAFETY: kill(2) with signal 0 only checks that the process exists.
        let alive =
            unsafe { libc::kill(pid, 0) } == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_answers_and_is_removed_when_dropped() {
        let cluster = match Cluster::start() {
            Ok(cluster) => cluster,
            Err(ClusterError::NotInstalled) if std::env::var_os("CI").is_none() => {
                eprintln!("SKIPPED: no PostgreSQL server installed");
                return;
            }
            Err(error) => panic!("{error}"),
        };
        assert_eq!(cluster.psql("postgres", "SELECT 1 + 1").unwrap(), "2");
        cluster.create_database("it_works").unwrap();
        cluster.create_user("someone", "secret").unwrap();
        assert_eq!(cluster.psql("it_works", "SELECT current_database()").unwrap(), "it_works");
        let error = cluster.psql("postgres", "SELECT nope").unwrap_err().to_string();
        assert!(error.contains("column \"nope\" does not exist"), "{error}");
        let dir = cluster.dir.clone();
        let pid = cluster.server.id() as i32;
        drop(cluster);
        assert!(!dir.exists(), "the directory is removed");
        // SAFETY: signal 0 checks existence only; the server was our child and is reaped.
        assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "the server is gone");
    }
}
