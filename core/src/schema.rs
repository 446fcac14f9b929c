//! The published JSON Schemas (draft 2020-12), generated from the Rust types that read the documents
//! they describe, so the two cannot drift: the plugin configuration ([`crate::config::PluginConfig`])
//! and the audit record ([`crate::audit::AuditRecord`]).
//!
//! The committed copies ([`FILES`]) are rewritten by `just schema` (the `warden-schemas` binary of this
//! crate) and compared with the generator by `core/tests/schemas.rs`.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value};

use crate::audit::AuditRecord;
use crate::config::PluginConfig;

/// A committed schema file and its generator.
#[derive(Debug, Clone, Copy)]
pub struct SchemaFile {
    /// Path of the committed file, relative to the workspace root.
    pub path: &'static str,
    /// The file's contents as generated now: pretty-printed JSON ending in a newline.
    pub generate: fn() -> String,
}

/// Every generated schema file.
pub const FILES: [SchemaFile; 2] = [
    SchemaFile {
        path: "policies/warden-config.schema.json",
        generate: config_file,
    },
    SchemaFile {
        path: "docs/audit-record.v1.schema.json",
        generate: audit_record_file,
    },
];

/// `$id` of the configuration schema.
pub const CONFIG_SCHEMA_ID: &str =
    "https://github.com/warden-mcp/warden/blob/main/policies/warden-config.schema.json";

/// `$id` of the audit record schema (layout [`crate::audit::SCHEMA_VERSION`]).
pub const AUDIT_RECORD_SCHEMA_ID: &str = "https://warden.dev/schemas/audit-record.v1.json";

/// The JSON Schema of the plugin configuration document.
///
///
/// An optional member (`Option<T>`) is described by `T` alone: the parser also reads an explicit
/// `null` as absent, but the published schema keeps authors from writing one.
pub fn config() -> Value {
    let mut schema = document::<PluginConfig>(SchemaSettings::draft2020_12(), CONFIG_SCHEMA_ID);
    visit_objects(&mut schema, &mut drop_null_from_optional_members);
    schema
}

/// The JSON Schema of one audit record (schema 1). Optional members are always written, as `null`
/// when they have no value.
pub fn audit_record() -> Value {
    document::<AuditRecord>(SchemaSettings::draft2020_12(), AUDIT_RECORD_SCHEMA_ID)
}

/// [`config`] as the committed file's text.
pub fn config_file() -> String {
    file_text(&config())
}

/// [`audit_record`] as the committed file's text.
pub fn audit_record_file() -> String {
    file_text(&audit_record())
}

/// The root schema of `T`: `$schema`, `$id`, `title` and `description` first, descriptions as one
/// line per paragraph (doc comments wrap at 100 columns; the schema's readers wrap themselves).
fn document<T: JsonSchema>(settings: SchemaSettings, id: &str) -> Value {
    let schema: Schema = settings.into_generator().into_root_schema_for::<T>();
    let mut generated = match schema.to_value() {
        Value::Object(map) => map,
        other => return other,
    };
    let mut root = Map::new();
    for key in ["$schema", "$id", "title", "description"] {
        let value = match key {
            "$id" => Some(Value::from(id)),
            _ => generated.shift_remove(key),
        };
        if let Some(value) = value {
            root.insert(key.to_owned(), value);
        }
    }
    root.extend(generated);
    let mut root = Value::Object(root);
    visit_objects(&mut root, &mut unwrap_description);
    root
}

/// Calls `f` on every object in `value`, outermost first.
fn visit_objects(value: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>)) {
    match value {
        Value::Object(map) => {
            f(map);
            for child in map.values_mut() {
                visit_objects(child, f);
            }
        }
        Value::Array(items) => {
            for item in items {
                visit_objects(item, f);
            }
        }
        _ => {}
    }
}

/// Joins the lines of each paragraph of a `description` with spaces.
fn unwrap_description(schema: &mut Map<String, Value>) {
    if let Some(Value::String(text)) = schema.get_mut("description") {
        *text = text
            .split("\n\n")
            .map(|paragraph| paragraph.split('\n').collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n\n");
    }
}

/// In an object schema, describes each member that is not `required` without its `null`
/// alternative: `"type": [T, "null"]` becomes `"type": T`, `"anyOf": [S, {"type": "null"}]` becomes
/// `S`, and a `"default": null` goes.
fn drop_null_from_optional_members(schema: &mut Map<String, Value>) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    for (name, member) in properties.iter_mut() {
        let Value::Object(member) = member else {
            continue;
        };
        if required.contains(name) {
            continue;
        }
        if member.get("default") == Some(&Value::Null) {
            member.shift_remove("default");
        }
        if let Some(Value::Array(types)) = member.get_mut("type") {
            types.retain(|t| t != "null");
            if let [only] = types.as_slice() {
                let only = only.clone();
                member.insert("type".to_owned(), only);
            }
        }
        let is_null = |s: &Value| s.get("type").and_then(Value::as_str) == Some("null");
        if let Some(Value::Array(alternatives)) = member.get("anyOf") {
            if let [kept, null] = alternatives.as_slice() {
                if is_null(null) {
                    if let Value::Object(kept) = kept.clone() {
                        member.shift_remove("anyOf");
                        for (key, value) in kept.into_iter().rev() {
                            member.shift_insert(0, key, value);
                        }
                    }
                }
            }
        }
    }
}

fn file_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}
