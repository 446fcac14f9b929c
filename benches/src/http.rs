//! One HTTP request through `curl`, for readiness probes and the load bench's preflight checks.

use std::process::Command;

use anyhow::{bail, Context};

/// Sends one request to `url` (a POST of `body` when given, else a GET) with `headers`, and returns
/// the status code and the response body.
///
/// # Errors
/// curl cannot be run, or the request got no HTTP response (connection refused, timeout: 5 s).
pub fn request(
    url: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> anyhow::Result<(u16, String)> {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-m", "5", "-o", "-", "-w", "\n%{http_code}"]);
    for (name, value) in headers {
        cmd.arg("-H").arg(format!("{name}: {value}"));
    }
    if let Some(body) = body {
        cmd.arg("--data-binary")
            .arg(String::from_utf8_lossy(body).as_ref());
    }
    let output = cmd.arg(url).output().context("cannot run curl")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let Some((body, code)) = text.rsplit_once('\n') else {
        bail!("curl printed nothing for {url}");
    };
    match code.trim().parse::<u16>() {
        Ok(code) if code > 0 => Ok((code, body.to_owned())),
        _ => bail!("no HTTP response from {url} (curl: {})", output.status),
    }
}
