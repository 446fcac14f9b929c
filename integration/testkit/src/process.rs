//! Child processes that die with their owner, free ports, and polling for readiness.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

/// How many lines of a process's log an error message carries.
pub const LOG_TAIL_LINES: usize = 60;

/// A running child process, killed and reaped when dropped (also while a failing test unwinds).
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    /// Starts `command` with stdin closed and stderr (and stdout unless `capture_stdout`) appended to `log`.
    ///
    /// # Errors
    /// When the log file cannot be created or the program cannot be started.
    pub fn spawn(
        name: &str,
        mut command: Command,
        log: &Path,
        capture_stdout: bool,
    ) -> anyhow::Result<Self> {
        let log_file =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let stdout = if capture_stdout {
            Stdio::piped()
        } else {
            Stdio::from(log_file.try_clone()?)
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::from(log_file))
            .spawn()
            .with_context(|| format!("cannot start {name}: {command:?}"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child's piped stdout (once), when started with `capture_stdout`.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// The exit status if the process has ended.
    ///
    /// # Errors
    /// When the status cannot be queried.
    pub fn try_exit_status(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Waits up to `timeout` for the process to exit by itself.
    ///
    /// # Errors
    /// When it is still running after `timeout`.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("{} still running after {timeout:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the process logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of the log, prefixed with the process name, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log_text();
        let all: Vec<&str> = text.lines().collect();
        let start = all.len().saturating_sub(lines);
        format!(
            "---- {} log ({}), last {} lines ----\n{}",
            self.name,
            self.log.display(),
            all.len() - start,
            all[start..].join("\n")
        )
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Already-exited children make kill fail harmlessly; wait reaps either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
///
/// # Errors
/// When no socket can be bound.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Reads lines from `reader` on a helper thread until one starts with `prefix`; returns the rest of it.
///
/// # Errors
/// When the stream ends first or nothing arrives within `timeout`.
pub fn wait_for_line(
    reader: impl std::io::Read + Send + 'static,
    prefix: &str,
    timeout: Duration,
) -> anyhow::Result<String> {
    let (tx, rx) = mpsc::channel();
    let prefix_owned = prefix.to_owned();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(&prefix_owned) {
                let _ = tx.send(rest.to_owned());
                return;
            }
        }
    });
    rx.recv_timeout(timeout)
        .with_context(|| format!("no line starting with {prefix:?} within {timeout:?}"))
}

/// Spawns `command` (as [`ChildGuard::spawn`], stdout captured) for a server that prints
/// `listening on http://HOST:PORT` once it accepts connections; waits for that line (at most `timeout`)
/// and returns the process and the port.
///
/// # Errors
/// When it cannot start, does not print the line in time (the message carries its log tail), or the
/// address is unreadable.
pub fn spawn_listening_server(
    name: &str,
    command: Command,
    log: &Path,
    timeout: Duration,
) -> anyhow::Result<(ChildGuard, u16)> {
    let mut process = ChildGuard::spawn(name, command, log, true)?;
    let stdout = process
        .take_stdout()
        .with_context(|| format!("{name} stdout was not captured"))?;
    let address = wait_for_line(stdout, "listening on http://", timeout)
        .with_context(|| process.log_tail(LOG_TAIL_LINES))?;
    let port = address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("{name} printed an unreadable address {address:?}"))?;
    Ok((process, port))
}

/// Polls `probe` every 50 ms until it yields `Some`, for at most `timeout`.
///
/// # Errors
/// When `timeout` passes first; the message names `what` and the last probe error, if any.
pub async fn poll_until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match probe().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() >= deadline {
            match last_error {
                Some(e) => bail!("timed out after {timeout:?} waiting for {what}: {e:#}"),
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
