//! Envoy processes for the load bench: started pinned to a CPU set with a fixed number of workers,
//! stopped on drop.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// A running Envoy, killed when dropped.
pub struct Envoy {
    child: Child,
    /// Its admin port on 127.0.0.1.
    pub admin_port: u16,
    log: PathBuf,
}

/// How to start one Envoy.
#[derive(Debug, Clone)]
pub struct EnvoySpec<'a> {
    /// The `envoy` executable.
    pub envoy: &'a Path,
    /// CPUs (as `taskset -c` takes them, e.g. `0` or `0,1`) the whole process is pinned to.
    pub cpu: &'a str,
    /// Worker threads (`--concurrency`).
    pub workers: u32,
    /// Environment variables set for Envoy (e.g. the secret a `host_env_keys` passes into the VM).
    pub env: &'a [(&'a str, &'a str)],
    /// Rendered front config (`-c`).
    pub config: &'a Path,
    /// Rendered shared part (`--config-yaml`, merged into `config`).
    pub config_yaml: &'a str,
    /// Admin port of the rendered configs.
    pub admin_port: u16,
    /// File Envoy logs to.
    pub log: PathBuf,
}

impl EnvoySpec<'_> {
    /// Starts Envoy (`--concurrency` [`EnvoySpec::workers`], `--use-dynamic-base-id`) and waits until admin `/ready`
    /// answers 200, for at most `timeout`.
    ///
    /// # Errors
    /// Envoy cannot be started, exits, or is not ready in time (the error quotes its log's tail).
    pub fn start(&self, timeout: Duration) -> anyhow::Result<Envoy> {
        let child = Command::new("taskset")
            .args(["-c", self.cpu])
            .arg(self.envoy)
            .arg("-c")
            .arg(self.config)
            .args(["--config-yaml", self.config_yaml])
            .args(["--concurrency", &self.workers.to_string()])
            .args(["--use-dynamic-base-id", "-l", "warning"])
            .arg("--log-path")
            .arg(&self.log)
            .envs(self.env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {} under taskset", self.envoy.display()))?;
        let mut envoy = Envoy {
            child,
            admin_port: self.admin_port,
            log: self.log.clone(),
        };
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = envoy.child.try_wait()? {
                bail!(
                    "Envoy ({}) exited with {status}: {}",
                    self.config.display(),
                    envoy.log_tail()
                );
            }
            if envoy.admin_get("/ready").is_ok_and(|(code, _)| code == 200) {
                return Ok(envoy);
            }
            if Instant::now() > deadline {
                bail!(
                    "Envoy ({}) not ready after {timeout:?}: {}",
                    self.config.display(),
                    envoy.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Envoy {
    /// GETs `path` from the admin interface: (status, body).
    ///
    /// # Errors
    /// curl cannot be run or reaches nothing.
    pub fn admin_get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        crate::http::request(
            &format!("http://127.0.0.1:{}{path}", self.admin_port),
            None,
            &[],
        )
    }

    /// The counters whose names start with `prefix`, from admin `/stats` (name → value).
    ///
    /// # Errors
    /// The admin interface does not answer 200.
    pub fn counters(&self, prefix: &str) -> anyhow::Result<BTreeMap<String, u64>> {
        let (status, body) = self.admin_get(&format!("/stats?filter=^{prefix}"))?;
        if status != 200 {
            bail!("admin /stats answered {status}");
        }
        Ok(body
            .lines()
            .filter_map(|line| line.split_once(": "))
            .filter_map(|(name, value)| Some((name.to_owned(), value.trim().parse().ok()?)))
            .collect())
    }

    /// The cumulative quantiles of histogram `name` (`(percent, value)`, e.g. `(99.0, 81000.0)`), from
    /// admin `/stats` (Envoy prints `name: P0(interval,cumulative) P25(…) …`); empty when Envoy has
    /// no such histogram or has recorded nothing in it yet.
    ///
    /// # Errors
    /// The admin interface does not answer 200.
    pub fn histogram(&self, name: &str) -> anyhow::Result<Vec<(f64, f64)>> {
        let (status, body) = self.admin_get(&format!("/stats?filter=^{name}$"))?;
        if status != 200 {
            bail!("admin /stats answered {status}");
        }
        Ok(body
            .lines()
            .filter_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
            .flat_map(parse_quantiles)
            .collect())
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// The `(percent, cumulative value)` pairs of one histogram line of admin `/stats`
/// (`P50(12000,11000) P99(nan,30000)`), leaving out quantiles without a value.
fn parse_quantiles(line: &str) -> Vec<(f64, f64)> {
    line.split_whitespace()
        .filter_map(|quantile| {
            let (percent, values) = quantile.strip_prefix('P')?.split_once('(')?;
            let (_, cumulative) = values.strip_suffix(')')?.split_once(',')?;
            let value: f64 = cumulative.parse().ok()?;
            Some((percent.parse().ok()?, value)).filter(|_| value.is_finite())
        })
        .collect()
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::parse_quantiles;

    #[test]
    fn quantiles_are_the_cumulative_values_of_a_histogram_line() {
        assert_eq!(
            parse_quantiles("P0(nan,1000) P50(12000,11000) P99.9(nan,30500) P100(nan,nan)"),
            vec![(0.0, 1000.0), (50.0, 11000.0), (99.9, 30500.0)]
        );
        assert!(parse_quantiles("No recorded values").is_empty());
    }
}
