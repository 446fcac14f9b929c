//! The one renderer of the Envoy config templates of `envoy/` (`envoy.yaml`, `envoy-approvals.yaml`,
//! `envoy-otlp.yaml`, `bench/*.yaml`): `{{NAME}}` placeholders replaced by values, strictly both ways (a placeholder
//! without a value and a value without a placeholder are errors, so template and caller cannot drift).
//!
//! Integers are inserted as they are; strings (paths, the plugin JSON) are inserted JSON-encoded
//! ([`json_string`]), since a JSON string is a valid YAML 1.2 double-quoted scalar (YAML 1.2 §7.3.1)
//! whatever it contains.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The values of the Warden templates (`envoy/envoy.yaml`, `envoy/envoy-approvals.yaml`,
/// `envoy/envoy-otlp.yaml`).
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
    /// Port of `warden serve`'s internal listener (`{{APPROVALS_PORT}}`, the template
    /// `envoy-approvals.yaml` only).
    pub approvals_port: Option<u16>,
    /// Port of the OTLP/gRPC logs collector on 127.0.0.1 (`{{OTLP_PORT}}`, the template
    /// `envoy-otlp.yaml` only): cluster `otlp_collector`, which receives every audit record through
    /// Envoy's OpenTelemetry access logger.
    pub otlp_port: Option<u16>,
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
        /// Which value (`wasm`, `audit log`).
        what: String,
        /// The path, lossily converted.
        path: String,
    },
    /// The template uses a placeholder no value was given for.
    #[error("template line {line}: no value for placeholder {{{{{name}}}}}")]
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
    /// The template lacks a placeholder a value was given for, so the value would be silently
    /// ignored.
    #[error("template never uses placeholder {{{{{0}}}}}")]
    MissingPlaceholder(String),
}

/// Renders `template` with `params` ([`render`] with the values of [`EnvoyConfigParams`]).
///
/// # Errors
/// [`RenderError`] naming the value or template line at fault.
pub fn render_envoy_config(
    template: &str,
    params: &EnvoyConfigParams<'_>,
) -> Result<String, RenderError> {
    serde_json::from_str::<serde_json::Value>(params.plugin_config_json)
        .map_err(|e| RenderError::PluginConfigNotJson(e.to_string()))?;
    let mut values = BTreeMap::from([
        ("PLUGIN_CONFIG", json_string(params.plugin_config_json)),
        ("WASM_PATH", path_value(params.wasm_path, "wasm")?),
        ("LISTEN_PORT", params.listen_port.to_string()),
        ("UPSTREAM_PORT", params.upstream_port.to_string()),
        ("ADMIN_PORT", params.admin_port.to_string()),
        ("AUDIT_LOG", path_value(params.audit_log, "audit log")?),
    ]);
    if let Some(port) = params.approvals_port {
        values.insert("APPROVALS_PORT", port.to_string());
    }
    if let Some(port) = params.otlp_port {
        values.insert("OTLP_PORT", port.to_string());
    }
    render(template, &values)
}

/// Replaces every `{{NAME}}` of `template` by `values[NAME]`, inserted verbatim (encode strings
/// with [`json_string`] or [`path_value`]).
///
/// # Errors
/// A [`RenderError`]: a placeholder without a value, an unterminated `{{`, or a value never used.
pub fn render(template: &str, values: &BTreeMap<&str, String>) -> Result<String, RenderError> {
    let mut out = String::with_capacity(template.len());
    let mut used = BTreeSet::new();
    for (n, line) in template.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(open) = rest.find("{{") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or(RenderError::Unterminated { line: n + 1 })?;
            let name = &after[..close];
            let value = values
                .get(name)
                .ok_or_else(|| RenderError::UnknownPlaceholder {
                    line: n + 1,
                    name: name.to_owned(),
                })?;
            out.push_str(value);
            used.insert(name);
            rest = &after[close + 2..];
        }
        out.push_str(rest);
    }
    match values.keys().find(|k| !used.contains(*k)) {
        Some(unused) => Err(RenderError::MissingPlaceholder((*unused).to_owned())),
        None => Ok(out),
    }
}

/// `text` as a JSON string (a YAML 1.2 double-quoted scalar).
pub fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// `path` as a JSON string; `what` names it in the error.
///
/// # Errors
/// [`RenderError::NonUtf8Path`] when the path is not UTF-8.
pub fn path_value(path: &Path, what: &str) -> Result<String, RenderError> {
    path.to_str()
        .map(json_string)
        .ok_or_else(|| RenderError::NonUtf8Path {
            what: what.to_owned(),
            path: path.to_string_lossy().into_owned(),
        })
}

#[cfg(test)]
mod tests {
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
            approvals_port: None,
            otlp_port: None,
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
        assert_eq!(err, RenderError::MissingPlaceholder("AUDIT_LOG".into()));
    }

    #[test]
    fn refuses_unterminated_placeholder() {
        let template = format!("{TEMPLATE}g: {{{{OOPS\n");
        let err = render_envoy_config(&template, &params("{}")).unwrap_err();
        assert_eq!(err, RenderError::Unterminated { line: 7 });
    }

    #[test]
    fn repo_template_renders_every_placeholder() {
        let template = crate::paths::read_repo_file("envoy/envoy.yaml").unwrap();
        let out = render_envoy_config(&template, &params("{\"a\":1}")).unwrap();
        assert!(!out.contains("{{"), "{out}");
        assert!(out.contains("value: \"{\\\"a\\\":1}\""), "{out}");
    }

    #[test]
    fn approvals_template_needs_the_approvals_port_and_the_plain_one_refuses_it() {
        let approvals = crate::paths::read_repo_file("envoy/envoy-approvals.yaml").unwrap();
        let err = render_envoy_config(&approvals, &params("{}")).unwrap_err();
        assert!(
            matches!(&err, RenderError::UnknownPlaceholder { name, .. } if name == "APPROVALS_PORT"),
            "{err}"
        );
        let with_port = EnvoyConfigParams {
            approvals_port: Some(8788),
            ..params("{}")
        };
        let out = render_envoy_config(&approvals, &with_port).unwrap();
        assert!(out.contains("port_value: 8788"), "{out}");
        let err = render_envoy_config(TEMPLATE, &with_port).unwrap_err();
        assert_eq!(
            err,
            RenderError::MissingPlaceholder("APPROVALS_PORT".into())
        );
    }

    #[test]
    fn otlp_template_needs_the_otlp_port_and_the_plain_one_refuses_it() {
        let otlp = crate::paths::read_repo_file("envoy/envoy-otlp.yaml").unwrap();
        let err = render_envoy_config(&otlp, &params("{}")).unwrap_err();
        assert!(
            matches!(&err, RenderError::UnknownPlaceholder { name, .. } if name == "OTLP_PORT"),
            "{err}"
        );
        let with_port = EnvoyConfigParams {
            otlp_port: Some(4317),
            ..params("{}")
        };
        let out = render_envoy_config(&otlp, &with_port).unwrap();
        assert!(!out.contains("{{"), "{out}");
        assert!(out.contains("port_value: 4317"), "{out}");
        let err = render_envoy_config(TEMPLATE, &with_port).unwrap_err();
        assert_eq!(err, RenderError::MissingPlaceholder("OTLP_PORT".into()));
    }

    #[test]
    fn otlp_template_names_every_audit_decision_of_the_record_schema() {
        // `warden.decision` is built by testing for each decision value in turn: a value the schema
        // gained and the template lacks would vanish from the attribute.
        let otlp = crate::paths::read_repo_file("envoy/envoy-otlp.yaml").unwrap();
        let schema: serde_json::Value = serde_json::from_str(
            &crate::paths::read_repo_file("docs/audit-record.v1.schema.json").unwrap(),
        )
        .unwrap();
        let decisions: Vec<&str> = schema
            .pointer("/$defs/AuditDecision")
            .map(|d| {
                let mut found = Vec::new();
                collect_enum_strings(d, &mut found);
                found
            })
            .unwrap_or_default();
        assert!(decisions.len() >= 6, "AuditDecision values: {decisions:?}");
        for decision in decisions {
            let test = format!(r#"contains('"decision":"{decision}"') ? '{decision},'"#);
            assert!(otlp.contains(&test), "envoy-otlp.yaml lacks {test}");
        }
    }

    /// Every string of `enum`/`const` keywords under `schema` (a JSON Schema fragment).
    fn collect_enum_strings<'a>(schema: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match schema {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("enum", serde_json::Value::Array(values)) => {
                            out.extend(values.iter().filter_map(serde_json::Value::as_str));
                        }
                        ("const", serde_json::Value::String(value)) => out.push(value),
                        _ => collect_enum_strings(value, out),
                    }
                }
            }
            serde_json::Value::Array(values) => {
                values.iter().for_each(|v| collect_enum_strings(v, out));
            }
            _ => {}
        }
    }

    #[test]
    fn replaces_every_occurrence_of_each_placeholder() {
        let values = BTreeMap::from([("X", "1".to_owned()), ("Y", "\"y\"".to_owned())]);
        let out = render("a: {{X}}\nb: [{{X}}, {{Y}}]\n", &values).unwrap();
        assert_eq!(out, "a: 1\nb: [1, \"y\"]\n");
    }
}
