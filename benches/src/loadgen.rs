//! The load generator: `wrk` (Debian package `wrk`) driven by a generated Lua script that POSTs one
//! fixed MCP body and prints wrk's summary as one JSON line.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};
use serde::Deserialize;

/// One wrk run against one URL.
#[derive(Debug, Clone)]
pub struct Load<'a> {
    /// The `wrk` executable.
    pub wrk: &'a Path,
    /// CPU (as `taskset -c` takes it) wrk is pinned to.
    pub cpu: &'a str,
    /// Open connections, fixed for the whole run (one wrk thread drives them all).
    pub connections: u32,
    /// Length of the run, in seconds.
    pub seconds: u32,
}

/// What one run measured.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Sample {
    /// Completed requests per second.
    pub rps: f64,
    /// Median latency, in microseconds.
    pub p50_us: f64,
    /// 99th-percentile latency, in microseconds.
    pub p99_us: f64,
    /// Responses with a status outside 2xx/3xx.
    pub non_2xx: u64,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
}

/// The Lua script that makes wrk POST `body` with `headers` and print its summary as one JSON line
/// (`{"rps":..,"p50_us":..,"p99_us":..,"non_2xx":..,"socket_errors":..}`) after a line `@@wrk-json`.
pub fn script(body: &[u8], headers: &[(&str, &str)]) -> String {
    let lua_string = |bytes: &[u8]| {
        let escaped: String = bytes.iter().map(|b| format!("\\{b:03}")).collect();
        format!("\"{escaped}\"")
    };
    let mut lua = String::from("wrk.method = \"POST\"\n");
    lua.push_str(&format!("wrk.body = {}\n", lua_string(body)));
    for (name, value) in headers {
        lua.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            lua_string(name.as_bytes()),
            lua_string(value.as_bytes())
        ));
    }
    lua.push_str(
        r#"done = function(summary, latency, requests)
  local e = summary.errors
  io.write("@@wrk-json\n")
  io.write(string.format('{"rps":%.3f,"p50_us":%d,"p99_us":%d,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"#,
    );
    lua
}

/// Reads the [`Sample`] that the [`script`]'s `done` printed from wrk's standard output.
///
/// # Errors
/// The marker line or the JSON after it is missing or malformed.
pub fn parse_output(stdout: &str) -> anyhow::Result<Sample> {
    let json = stdout
        .split_once("@@wrk-json\n")
        .and_then(|(_, rest)| rest.lines().next())
        .context("wrk printed no summary line (was the Lua script loaded?)")?;
    serde_json::from_str(json)
        .with_context(|| format!("wrk summary line is not as expected: {json}"))
}

impl Load<'_> {
    /// Runs wrk against `url` with the Lua script at `script_path`, pinned to [`Load::cpu`].
    ///
    /// # Errors
    /// wrk cannot be started, exits with an error, or prints no summary.
    pub fn run(&self, url: &str, script_path: &Path) -> anyhow::Result<Sample> {
        let output = Command::new("taskset")
            .args(["-c", self.cpu])
            .arg(self.wrk)
            .args(["-t1", &format!("-c{}", self.connections)])
            .arg(format!("-d{}s", self.seconds))
            .arg("-s")
            .arg(script_path)
            .arg(url)
            .output()
            .with_context(|| format!("cannot run taskset + {}", self.wrk.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "wrk against {url} failed ({}): {}{}",
                output.status,
                stdout,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        parse_output(&stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_escapes_the_body_byte_for_byte() {
        let lua = script(
            b"{\"a\":\"]]\\n\"}",
            &[("content-type", "application/json")],
        );
        assert!(lua.contains(r#"wrk.body = "\123\034\097\034\058\034\093\093\092\110\034\125""#));
        assert!(lua.contains(r#"wrk.headers["\099\111"#));
        assert!(lua.contains("latency:percentile(99)"));
    }

    #[test]
    fn parses_the_summary_after_the_marker() {
        let out = "Running 1s test\n  1 threads\n@@wrk-json\n{\"rps\":1234.500,\"p50_us\":310,\"p99_us\":900,\"non_2xx\":0,\"socket_errors\":2}\n";
        let sample = parse_output(out).unwrap();
        assert_eq!(sample.rps, 1234.5);
        assert_eq!((sample.p50_us, sample.p99_us), (310.0, 900.0));
        assert_eq!((sample.non_2xx, sample.socket_errors), (0, 2));
    }

    #[test]
    fn output_without_summary_is_an_error() {
        assert!(parse_output("Running 1s test\n").is_err());
    }
}
