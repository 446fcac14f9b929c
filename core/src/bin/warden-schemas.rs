//! `warden-schemas [--check] [ROOT]`: writes the generated JSON Schemas ([`warden_core::schema::FILES`])
//! under the workspace root `ROOT` (default: the current directory), or with `--check` only reports
//! the files that differ from the generator (exit status 1). `just schema` runs it.
//!
//! A binary of `warden-core` rather than a `warden` subcommand: the schemas are generated from core's
//! types alone, and keeping the generator here means regenerating them never builds the approver.

use std::path::PathBuf;
use std::process::ExitCode;

use warden_core::schema::FILES;

fn main() -> ExitCode {
    let mut check = false;
    let mut root = PathBuf::from(".");
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("usage: warden-schemas [--check] [WORKSPACE_ROOT]");
                return ExitCode::SUCCESS;
            }
            flag if flag.starts_with('-') => {
                eprintln!("error: unknown option {flag}; usage: warden-schemas [--check] [WORKSPACE_ROOT]");
                return ExitCode::from(2);
            }
            path => root = PathBuf::from(path),
        }
    }
    let mut status = ExitCode::SUCCESS;
    for file in FILES {
        let path = root.join(file.path);
        let generated = (file.generate)();
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == generated {
            println!("{}: up to date", file.path);
        } else if check {
            eprintln!(
                "{}: differs from the generated schema; run `just schema`",
                file.path
            );
            status = ExitCode::FAILURE;
        } else if let Err(e) = std::fs::write(&path, generated) {
            eprintln!("error: {}: cannot write: {e}", path.display());
            return ExitCode::FAILURE;
        } else {
            println!("{}: written", file.path);
        }
    }
    status
}
