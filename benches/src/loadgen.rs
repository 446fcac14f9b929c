//! The load generator: `wrk` (Debian package `wrk`) driven by a generated Lua script that POSTs one
//! fixed MCP body (with one fixed token, or a token per request taken in turn from a pool) and prints
//! wrk's summary as one JSON line.

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
    /// Requests the script built (sent, answered or not): how far a [`rotating_script`] went through
    /// its token pool. 0 for a [`script`] with a fixed token.
    #[serde(default)]
    pub sent: u64,
}

/// A Lua string literal of `bytes`, every byte escaped (`\ddd`), so any body or header survives.
fn lua_string(bytes: &[u8]) -> String {
    let escaped: String = bytes.iter().map(|b| format!("\\{b:03}")).collect();
    format!("\"{escaped}\"")
}

/// The fixed part of every script: method, body and headers.
fn request_setup(body: &[u8], headers: &[(&str, &str)]) -> String {
    let mut lua = String::from("wrk.method = \"POST\"\n");
    lua.push_str(&format!("wrk.body = {}\n", lua_string(body)));
    for (name, value) in headers {
        lua.push_str(&format!(
            "wrk.headers[{}] = {}\n",
            lua_string(name.as_bytes()),
            lua_string(value.as_bytes())
        ));
    }
    lua
}

/// wrk's `done`: prints the summary line after `@@wrk-json`; `sent` is the sum of the threads'
/// global `sent` counters (0 when the script keeps none).
const DONE: &str = r#"threads = {}
function setup(thread)
  table.insert(threads, thread)
end
done = function(summary, latency, requests)
  local e = summary.errors
  local sent = 0
  for _, t in ipairs(threads) do sent = sent + (t:get("sent") or 0) end
  io.write("@@wrk-json\n")
  io.write(string.format('{"rps":%.3f,"p50_us":%d,"p99_us":%d,"non_2xx":%d,"socket_errors":%d,"sent":%d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout, sent))
end
"#;

/// The Lua script that makes wrk POST `body` with `headers` and print its summary as one JSON line
/// (`{"rps":..,"p50_us":..,"p99_us":..,"non_2xx":..,"socket_errors":..,"sent":0}`) after a line
/// `@@wrk-json`.
pub fn script(body: &[u8], headers: &[(&str, &str)]) -> String {
    let mut lua = request_setup(body, headers);
    lua.push_str(DONE);
    lua
}

/// Like [`script`], but every request carries `Authorization: Bearer <token>` with the next token of
/// the pool in `tokens_file` (one compact JWS a line), in turn: request `n` of the run (from 0) takes
/// line `(offset + n) mod lines` (0-based), where `offset` is the script's first argument
/// (`wrk … URL -- OFFSET`, default 0). The summary's `sent` counts the requests built, so the next
/// run can start where this one stopped. `headers` must not hold an `authorization` header.
pub fn rotating_script(body: &[u8], headers: &[(&str, &str)], tokens_file: &str) -> String {
    let mut lua = request_setup(body, headers);
    lua.push_str(&format!(
        r#"tokens = {{}}
for line in io.lines({}) do
  if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
end
sent = 0
offset = 0
function init(args)
  offset = tonumber(args[1]) or 0
end
function request()
  wrk.headers["authorization"] = tokens[(offset + sent) % #tokens + 1]
  sent = sent + 1
  return wrk.format()
end
"#,
        lua_string(tokens_file.as_bytes())
    ));
    lua.push_str(DONE);
    lua
}

/// `lua` (a [`script`] or [`rotating_script`]) with a think time: after each response, a connection
/// waits a random whole number of milliseconds, uniform in `0..=2 × mean_ms`, before it sends its next
/// request (wrk's `delay()`). `connections` connections then offer about `connections × 1000 /
/// mean_ms` requests per second, however fast the server answers, so latencies are measured below
/// saturation rather than set by the queue the connections keep full. wrk starts a request's clock
/// when it writes the request, so the think time is not in the latency.
pub fn with_think_time(mut lua: String, mean_ms: u32) -> String {
    lua.push_str(&format!(
        "function delay()\n  return math.random(0, {})\nend\n",
        2 * u64::from(mean_ms)
    ));
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
    /// Runs wrk against `url` with the Lua script at `script_path` and the script arguments
    /// `script_args` (passed to its `init`), pinned to [`Load::cpu`].
    ///
    /// # Errors
    /// wrk cannot be started, exits with an error, or prints no summary.
    pub fn run(
        &self,
        url: &str,
        script_path: &Path,
        script_args: &[String],
    ) -> anyhow::Result<Sample> {
        let output = Command::new("taskset")
            .args(["-c", self.cpu])
            .arg(self.wrk)
            .args(["-t1", &format!("-c{}", self.connections)])
            .arg(format!("-d{}s", self.seconds))
            .arg("-s")
            .arg(script_path)
            .arg(url)
            .arg("--")
            .args(script_args)
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
        assert!(!lua.contains("function request()"));
    }

    #[test]
    fn rotating_script_takes_the_next_pool_token_per_request_from_the_offset() {
        let lua = rotating_script(b"{}", &[("accept", "x")], "/tmp/t.txt");
        assert!(lua.contains(r#"for line in io.lines("\047\116\109\112"#));
        assert!(
            lua.contains("wrk.headers[\"authorization\"] = tokens[(offset + sent) % #tokens + 1]")
        );
        assert!(lua.contains("offset = tonumber(args[1]) or 0"));
        assert!(lua.contains("t:get(\"sent\")"));
    }

    #[test]
    fn think_time_adds_a_uniform_delay_of_the_given_mean() {
        let lua = with_think_time(script(b"{}", &[]), 20);
        assert!(lua.ends_with("function delay()\n  return math.random(0, 40)\nend\n"));
        assert!(lua.contains("done = function"));
    }

    #[test]
    fn parses_the_summary_after_the_marker() {
        let out = "Running 1s test\n  1 threads\n@@wrk-json\n{\"rps\":1234.500,\"p50_us\":310,\"p99_us\":900,\"non_2xx\":0,\"socket_errors\":2}\n";
        let sample = parse_output(out).unwrap();
        assert_eq!(sample.rps, 1234.5);
        assert_eq!((sample.p50_us, sample.p99_us), (310.0, 900.0));
        assert_eq!((sample.non_2xx, sample.socket_errors), (0, 2));
        assert_eq!(sample.sent, 0);
        let rotated = parse_output("@@wrk-json\n{\"rps\":1,\"p50_us\":1,\"p99_us\":1,\"non_2xx\":0,\"socket_errors\":0,\"sent\":4097}\n").unwrap();
        assert_eq!(rotated.sent, 4097);
    }

    #[test]
    fn output_without_summary_is_an_error() {
        assert!(parse_output("Running 1s test\n").is_err());
    }
}
