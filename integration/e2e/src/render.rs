//! Renders `envoy/envoy.yaml`, a template with `{{NAME}}` placeholders, into an Envoy bootstrap config.
//!
//! Integers are inserted as they are; strings (paths, the plugin JSON) are inserted JSON-encoded, since
//! a JSON string is a valid YAML 1.2 double-quoted scalar (YAML 1.2 §7.3.1) whatever it contains.

use std::{collections::BTreeSet, path::Path};

/// The values substituted into the template.
#[derive(Debug, Clone)]
pub struct EnvoyConfigParams<'a> {
    /// The plugin configuration, JSON text (goes into the Wasm filter's `StringValue` `configuration`).
    pub plugin_config_json: &'a str,
    /// Path of `warden_filter.wasm`, as Envoy should open it.
    pub wasm_path: &'a Path,
    /// Port of the MCP listener on 127.0.0.1 (0 = any free port).
    pub listen_port: u16,
    /// Port of the MCP server (cluster `mcp_upstream`) on 127.0.0.1.
    pub upstream_port: u16,
    /// Port of the admin interface on 127.0.0.1 (0 = any free port).
    pub admin_port: u16,
    /// File the audit access log is appended to.
    pub audit_log: &'a Path,
}

/// Why a template could not be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    /// The plugin configuration is not JSON.
    #[error("plugin configuration is not valid JSON: {0}")]
    PluginConfigNotJson(String),
    /// A path cannot be written into YAML as text.
    #[error("{what} path {path:?} is not valid UTF-8")]
    NonUtf8Path {
        /// Which parameter (`wasm`, `audit log`).
        what: &'static str,
        /// The path, lossily converted.
        path: String,
    },
    /// The template uses a placeholder this renderer does not know.
    #[error("template line {line}: unknown placeholder {{{{{name}}}}}")]
    UnknownPlaceholder {
        /// 1-based line number in the template.
        line: usize,
        /// The placeholder's name.
        name: String,
    },
    /// A `{{` without its closing `}}`.
    #[error("template line {line}: unterminated placeholder")]
    Unterminated {
        /// 1-based line number in the template.
        line: usize,
    },
    /// The template lacks a placeholder, so a parameter would be silently ignored.
    #[error("template never uses placeholder {{{{{0}}}}}")]
    MissingPlaceholder(&'static str),
}

/// Placeholder names, in the order of [`EnvoyConfigParams`].
pub const PLACEHOLDERS: [&str; 6] = [
    "PLUGIN_CONFIG",
    "WASM_PATH",
    "LISTEN_PORT",
    "UPSTREAM_PORT",
    "ADMIN_PORT",
    "AUDIT_LOG",
];

/// Renders `template` with `params`. Every placeholder in [`PLACEHOLDERS`] must occur at least once
/// and no other `{{...}}` may occur.
///
/// # Errors
/// [`RenderError`] naming the parameter or template line at fault.
pub fn render_envoy_config(
    template: &str,
    params: &EnvoyConfigParams<'_>,
) -> Result<String, RenderError> {
    serde_json::from_str::<serde_json::Value>(params.plugin_config_json)
        .map_err(|e| RenderError::PluginConfigNotJson(e.to_string()))?;
    let values = [
        json_string(params.plugin_config_json),
        json_string(utf8(params.wasm_path, "wasm")?),
        params.listen_port.to_string(),
        params.upstream_port.to_string(),
        params.admin_port.to_string(),
        json_string(utf8(params.audit_log, "audit log")?),
    ];

    let mut out = String::with_capacity(template.len() + params.plugin_config_json.len());
    let mut used = BTreeSet::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let line = line_of(template, template.len() - rest.len() + start);
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(RenderError::Unterminated { line })?;
        let name = &after[..end];
        let index = PLACEHOLDERS
            .iter()
            .position(|p| *p == name)
            .ok_or_else(|| RenderError::UnknownPlaceholder {
                line,
                name: name.to_owned(),
            })?;
        out.push_str(&values[index]);
        used.insert(index);
        rest = &after[end + 2..];
    }
    out.push_str(rest);

    match (0..PLACEHOLDERS.len()).find(|i| !used.contains(i)) {
        Some(missing) => Err(RenderError::MissingPlaceholder(PLACEHOLDERS[missing])),
        None => Ok(out),
    }
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn utf8<'p>(path: &'p Path, what: &'static str) -> Result<&'p str, RenderError> {
    path.to_str().ok_or_else(|| RenderError::NonUtf8Path {
        what,
        path: path.to_string_lossy().into_owned(),
    })
}

fn line_of(text: &str, byte_offset: usize) -> usize {
    text[..byte_offset].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const TEMPLATE: &str = "a: {{LISTEN_PORT}}\nb: {{UPSTREAM_PORT}}\nc: {{ADMIN_PORT}}\n\
                            d: {{WASM_PATH}}\ne: {{AUDIT_LOG}}\nf: {{PLUGIN_CONFIG}}\n";

    fn params(plugin: &str) -> EnvoyConfigParams<'_> {
        EnvoyConfigParams {
            plugin_config_json: plugin,
            wasm_path: Path::new("/x/warden filter.wasm"),
            listen_port: 10000,
            upstream_port: 8081,
            admin_port: 0,
            audit_log: Path::new("/tmp/audit.log"),
        }
    }

    #[test]
    fn plugin_json_is_embedded_as_an_escaped_yaml_string() {
        let plugin = "{\"policy\": {\"rules\": [{\"id\": \"a\\\"b: #c\"}]},\n \"x\": \"'\"}";
        let out = render_envoy_config(TEMPLATE, &params(plugin)).unwrap();
        let f_line = out.lines().find(|l| l.starts_with("f: ")).unwrap();
        // Decoding the scalar as JSON gives back the exact plugin text.
        let decoded: String = serde_json::from_str(&f_line[3..]).unwrap();
        assert_eq!(decoded, plugin);
        assert!(out.contains("a: 10000\nb: 8081\nc: 0\n"));
        assert!(out.contains("d: \"/x/warden filter.wasm\"\n"));
    }

    #[test]
    fn refuses_plugin_config_that_is_not_json() {
        let err = render_envoy_config(TEMPLATE, &params("{nope")).unwrap_err();
        assert!(matches!(err, RenderError::PluginConfigNotJson(_)), "{err}");
    }

    #[test]
    fn refuses_unknown_placeholder_with_its_line() {
        let template = format!("{TEMPLATE}g: {{{{TYPO}}}}\n");
        let err = render_envoy_config(&template, &params("{}")).unwrap_err();
        assert_eq!(
            err,
            RenderError::UnknownPlaceholder {
                line: 7,
                name: "TYPO".into()
            }
        );
    }

    #[test]
    fn refuses_template_missing_a_placeholder() {
        let template = TEMPLATE.replace("{{AUDIT_LOG}}", "/dev/null");
        let err = render_envoy_config(&template, &params("{}")).unwrap_err();
        assert_eq!(err, RenderError::MissingPlaceholder("AUDIT_LOG"));
    }

    #[test]
    fn refuses_unterminated_placeholder() {
        let template = format!("{TEMPLATE}g: {{{{OOPS\n");
        let err = render_envoy_config(&template, &params("{}")).unwrap_err();
        assert_eq!(err, RenderError::Unterminated { line: 7 });
    }

    #[test]
    fn repo_template_renders_every_placeholder() {
        let template =
            std::fs::read_to_string(crate::paths::workspace_root().join("envoy/envoy.yaml"))
                .unwrap();
        let out = render_envoy_config(&template, &params("{\"a\":1}")).unwrap();
        assert!(!out.contains("{{"), "{out}");
        assert!(out.contains("value: \"{\\\"a\\\":1}\""), "{out}");
    }
}
