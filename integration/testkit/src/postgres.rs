//! A throwaway PostgreSQL server for tests: `initdb` into a temporary directory, `postgres` on a free
//! port of 127.0.0.1 (its Unix socket in that directory too), fast shutdown and removal on drop.
//!
//! The server binaries come from Debian's `postgresql` package (`just setup` and `.ci/run` install
//! it): the newest `/usr/lib/postgresql/<major>/bin` holding `initdb`, or the directory named by
//! [`BIN_DIR_ENV`]. When none is found, [`TestPostgres::start`] fails with a message saying to run
//! `just setup`; tests never skip silently.
//!
//! `initdb` and `postgres` refuse to run as root. When the tests run as root (containers, CI), the
//! data directory is handed to the unprivileged user `nobody` and both programs are started through
//! `setpriv` (util-linux) as that user; `setpriv` executes the program in place (no intermediate
//! process), so the guard's pid is the postmaster's own and stopping it stops the server.
//! Authentication is `trust` for the superuser [`SUPERUSER`], on 127.0.0.1 only.

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::process::{free_port, ChildGuard, LOG_TAIL_LINES};

/// Environment variable naming a directory with `initdb` and `postgres`, instead of the newest
/// `/usr/lib/postgresql/*/bin`.
pub const BIN_DIR_ENV: &str = "WARDEN_PG_BIN";

/// Where Debian installs the server binaries, one directory per major version.
pub const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The superuser `initdb` creates (no password; `trust` authentication).
pub const SUPERUSER: &str = "warden";

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a fast shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running throwaway PostgreSQL server, stopped (fast shutdown, then kill) and deleted on drop.
#[derive(Debug)]
pub struct TestPostgres {
    server: Option<ChildGuard>,
    port: u16,
    bin: PathBuf,
    /// Declared after `server`, so the directory is removed once the server is gone.
    _dir: tempfile::TempDir,
}

impl TestPostgres {
    /// Creates a cluster in a new temporary directory and starts its server on a free port.
    ///
    /// # Errors
    /// When the binaries are missing (the message says to run `just setup`), `initdb` fails, or the
    /// server does not accept connections within a minute (the message carries its log).
    pub fn start() -> anyhow::Result<Self> {
        let bin = bin_dir()?;
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        let user = unprivileged_user()?;
        if let Some((uid, gid)) = user {
            // The temporary directory is root's and private: let `nobody` reach its data directory.
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
            std::os::unix::fs::chown(&data, Some(uid), Some(gid))
                .with_context(|| format!("cannot hand {} to uid {uid}", data.display()))?;
        }
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700))?;
        let mut initdb = as_user(user, &bin.join("initdb"));
        initdb
            .current_dir(dir.path())
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale"])
            .args(["--no-sync", "--no-instructions"]);
        let out = initdb
            .output()
            .with_context(|| format!("cannot run {initdb:?}"))?;
        if !out.status.success() {
            bail!(
                "initdb failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let port = free_port()?;
        let mut postgres = as_user(user, &bin.join("postgres"));
        postgres
            .current_dir(dir.path())
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
            .arg(&data)
            // A throwaway cluster: durability off, enough connections for several replicas.
            .args(["-c", "fsync=off", "-c", "max_connections=200"]);
        let server = ChildGuard::spawn(
            "postgres",
            postgres,
            &dir.path().join("postgres.log"),
            false,
        )?;
        let mut running = Self {
            server: Some(server),
            port,
            bin,
            _dir: dir,
        };
        running.wait_until_ready()?;
        Ok(running)
    }

    /// The TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connection URL of database `name` for [`SUPERUSER`]:
    /// `postgres://warden@127.0.0.1:PORT/NAME`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates an empty database `name` (with `createdb`) and returns its [`TestPostgres::url`].
    ///
    /// # Errors
    /// When `createdb` fails (the message carries its output).
    pub fn create_database(&self, name: &str) -> anyhow::Result<String> {
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                name,
            ])
            .output()
            .context("cannot run createdb")?;
        if !out.status.success() {
            bail!(
                "createdb {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(self.url(name))
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.server
            .as_ref()
            .map_or_else(String::new, |s| s.log_tail(LOG_TAIL_LINES))
    }

    fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let exited = match self.server.as_mut() {
                Some(server) => server.try_exit_status()?,
                None => bail!("postgres is not running"),
            };
            if let Some(status) = exited {
                bail!("postgres exited at start ({status})\n{}", self.log());
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "postgres did not accept connections within {START_TIMEOUT:?}\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            // SIGINT is PostgreSQL's fast shutdown: backends end, the postmaster exits cleanly.
            let _ = Command::new("kill")
                .args(["-INT", &server.id().to_string()])
                .status();
            let _ = server.wait_for_exit(STOP_TIMEOUT);
            // Dropping the guard kills it if it is still running.
        }
    }
}

/// The directory holding the server binaries: [`BIN_DIR_ENV`], else the newest
/// `/usr/lib/postgresql/<major>/bin` with an `initdb`.
///
/// # Errors
/// When there is none: the message says to run `just setup`.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
        bail!(
            "{BIN_DIR_ENV}={} holds no initdb; unset it or point it at PostgreSQL's bin directory",
            dir.display()
        );
    }
    newest_bin_dir(Path::new(DEBIAN_ROOT))
}

/// The newest `<root>/<major>/bin` holding an `initdb`.
///
/// # Errors
/// When there is none: the message says to run `just setup`.
fn newest_bin_dir(root: &Path) -> anyhow::Result<PathBuf> {
    let newest = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major);
    match newest {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL server binaries not found: no {}/*/bin/initdb. Run `just setup` (it \
             installs the Debian package `postgresql`), or set {BIN_DIR_ENV} to the directory \
             holding initdb and postgres",
            root.display()
        ),
    }
}

/// `(uid, gid)` of `nobody` when this process runs as root (PostgreSQL refuses root), else `None`.
fn unprivileged_user() -> anyhow::Result<Option<(u32, u32)>> {
    let id = |args: &[&str]| -> anyhow::Result<u32> {
        let out = Command::new("id")
            .args(args)
            .output()
            .context("cannot run id")?;
        anyhow::ensure!(out.status.success(), "id {args:?} failed");
        Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
    };
    if id(&["-u"])? != 0 {
        return Ok(None);
    }
    Ok(Some((id(&["-u", "nobody"])?, id(&["-g", "nobody"])?)))
}

/// `program` as a command, run as `user` through `setpriv` when given.
fn as_user(user: Option<(u32, u32)>, program: &Path) -> Command {
    match user {
        None => Command::new(program),
        Some((uid, gid)) => {
            let mut command = Command::new("setpriv");
            command
                .arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .arg("--")
                .arg(program);
            command
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_are_an_error_that_says_to_run_just_setup() {
        let root = tempfile::tempdir().unwrap();
        let e = newest_bin_dir(root.path()).unwrap_err().to_string();
        assert!(e.contains("Run `just setup`"), "{e}");
        for major in ["13", "15"] {
            let bin = root.path().join(major).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join("initdb"), "").unwrap();
        }
        std::fs::create_dir_all(root.path().join("16/bin")).unwrap();
        assert_eq!(
            newest_bin_dir(root.path()).unwrap(),
            root.path().join("15/bin"),
            "the newest major version that has initdb"
        );
    }

    #[test]
    fn a_throwaway_server_accepts_connections_and_is_gone_after_drop() {
        let server = TestPostgres::start().unwrap();
        let port = server.port();
        server.create_database("probe").unwrap();
        assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
        drop(server);
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the server stopped with its guard"
        );
    }
}
