//! SIEM export over OTLP: a real OTLP/gRPC logs receiver (`integration/otlp-receiver/receiver.py`, the
//! official `opentelemetry-proto` stubs on `grpcio`) and the stack whose Envoy is rendered from
//! `envoy/envoy-otlp.yaml`, shipping every audit record to it through Envoy's OpenTelemetry access
//! logger.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;
use tempfile::TempDir;
use warden_testkit::paths::workspace_root;
use warden_testkit::process::{poll_until, spawn_listening_server, ChildGuard, LOG_TAIL_LINES};

use crate::python::python_importing;
use crate::stack::{demo_plugin_config, read_template, Stack, STARTUP_TIMEOUT};

/// Where the receiver and its `requirements.txt` live, relative to the workspace root.
pub const OTLP_RECEIVER_DIR: &str = "integration/otlp-receiver";

/// The Envoy template with the OpenTelemetry access logger, relative to the workspace root.
pub const OTLP_TEMPLATE: &str = "envoy/envoy-otlp.yaml";

/// One LogRecord as the receiver wrote it: `{"resource", "scope", "log_record"}`, each in the OTLP/JSON
/// encoding.
#[derive(Debug, Clone)]
pub struct ReceivedLog(pub Value);

impl ReceivedLog {
    /// The LogRecord's body, when it is a string (`body.stringValue`).
    pub fn body(&self) -> Option<&str> {
        self.0.pointer("/log_record/body/stringValue")?.as_str()
    }

    /// The LogRecord's string attributes (`attributes[].value.stringValue`) by key.
    pub fn attributes(&self) -> BTreeMap<String, String> {
        string_attributes(self.0.pointer("/log_record/attributes"))
    }

    /// The resource's string attributes by key.
    pub fn resource_attributes(&self) -> BTreeMap<String, String> {
        string_attributes(self.0.pointer("/resource/attributes"))
    }

    /// The audit records in the body: one JSON object per line.
    ///
    /// # Errors
    /// When there is no string body or a line is not a JSON object.
    pub fn audit_records(&self) -> anyhow::Result<Vec<Value>> {
        let body = self
            .body()
            .with_context(|| format!("LogRecord without a string body: {}", self.0))?;
        body.lines()
            .map(|line| {
                let record: Value = serde_json::from_str(line)
                    .with_context(|| format!("body line is not JSON: {line:?}"))?;
                if !record.is_object() {
                    bail!("body line is not a JSON object: {line}");
                }
                Ok(record)
            })
            .collect()
    }
}

/// `[{"key", "value": {"stringValue"}}]` as a map; other value kinds are left out.
fn string_attributes(list: Option<&Value>) -> BTreeMap<String, String> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            let key = kv["key"].as_str()?;
            let value = kv.pointer("/value/stringValue")?.as_str()?;
            Some((key.to_owned(), value.to_owned()))
        })
        .collect()
}

/// The running receiver (killed on drop): OTLP/gRPC `LogsService/Export` on 127.0.0.1.
#[derive(Debug)]
pub struct OtlpReceiver {
    /// The Python process.
    pub process: ChildGuard,
    port: u16,
    out: PathBuf,
}

impl OtlpReceiver {
    /// Starts the receiver on a free port, writing records to `dir/otlp-logs.jsonl` and logging to
    /// `dir/otlp-receiver.log`.
    ///
    /// # Errors
    /// When `grpcio` / `opentelemetry-proto` are missing or the receiver does not come up.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let python = python_importing(
            "grpc, opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc",
            "grpcio and opentelemetry-proto",
            OTLP_RECEIVER_DIR,
        )?;
        let out = dir.join("otlp-logs.jsonl");
        let mut command = Command::new(python);
        command
            .arg(workspace_root().join(OTLP_RECEIVER_DIR).join("receiver.py"))
            .arg(&out)
            .arg("0");
        let (process, port) = spawn_listening_server(
            "otlp-receiver",
            command,
            &dir.join("otlp-receiver.log"),
            STARTUP_TIMEOUT,
        )?;
        Ok(Self { process, port, out })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything received so far, as the receiver wrote it (for "never appears" checks).
    pub fn raw(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Every LogRecord received so far.
    ///
    /// # Errors
    /// When a line of the receiver's file is not JSON.
    pub fn logs(&self) -> anyhow::Result<Vec<ReceivedLog>> {
        self.raw()
            .lines()
            .filter(|l| !l.is_empty())
            .map(|line| {
                serde_json::from_str(line)
                    .map(ReceivedLog)
                    .with_context(|| format!("receiver line is not JSON: {line:?}"))
            })
            .collect()
    }

    /// Polls (Envoy flushes its OTLP buffer about once a second) until `done` holds for the logs.
    ///
    /// # Errors
    /// When a line is not JSON or `done` still fails after 15 s (the message shows what arrived).
    pub async fn wait_for(
        &self,
        what: &str,
        done: impl Fn(&[ReceivedLog]) -> bool,
    ) -> anyhow::Result<Vec<ReceivedLog>> {
        poll_until(what, Duration::from_secs(15), || {
            let logs = self.logs();
            let done = &done;
            async move {
                let logs = logs?;
                Ok(done(&logs).then_some(logs))
            }
        })
        .await
        .with_context(|| format!("received so far:\n{}", self.raw()))
    }
}

/// The demo stack with Envoy from [`OTLP_TEMPLATE`], shipping audit records to an [`OtlpReceiver`].
#[derive(Debug)]
pub struct OtlpStack {
    /// Demo server + Envoy (its file audit log is written too).
    pub stack: Stack,
    /// The collector.
    pub receiver: OtlpReceiver,
    dir: Option<TempDir>,
}

impl OtlpStack {
    /// Starts the receiver, then the stack with the demo policy.
    ///
    /// # Errors
    /// When a binary or Python package is missing or a process does not come up.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = TempDir::with_prefix("warden-e2e-otlp-")?;
        let receiver = OtlpReceiver::start(dir.path())?;
        let mut template = read_template(OTLP_TEMPLATE)?;
        template.otlp_port = Some(receiver.port());
        let stack = Stack::start_from(&template, &demo_plugin_config()?).await?;
        Ok(Self {
            stack,
            receiver,
            dir: Some(dir),
        })
    }
}

impl Drop for OtlpStack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.receiver.process.log_tail(LOG_TAIL_LINES));
            if let Some(dir) = self.dir.take() {
                eprintln!("receiver files kept in {}", dir.keep().display());
            }
        }
    }
}
