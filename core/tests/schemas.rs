//! The committed JSON Schemas are exactly what the generator makes from the Rust types
//! ([`warden_core::schema::FILES`]): a change to a configuration or record type that is not followed by
//! `just schema` fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use warden_core::schema::FILES;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_schemas_are_the_generated_ones() {
    for file in FILES {
        let path = workspace_root().join(file.path);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run `just schema`", path.display()));
        let generated = (file.generate)();
        if committed != generated {
            let line = committed
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()))
                + 1;
            panic!(
                "{} differs from the schema generated from the Rust types (first difference at line \
                 {line}); run `just schema` and commit the result",
                file.path
            );
        }
    }
}

#[test]
fn generated_schemas_are_valid_draft_2020_12_schemas() {
    for file in FILES {
        let schema: serde_json::Value = serde_json::from_str(&(file.generate)()).unwrap();
        jsonschema::draft202012::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("{}: {e}", file.path));
    }
}
