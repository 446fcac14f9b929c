//! `warden policy check FILE [--env NAME[=VALUE]]... [--env-file FILE]...`.
//!
//! The check loads the file with [`Engine::load`], the filter's own loader, so it refuses exactly
//! what `on_configure` refuses, including a variable named by `upstream_credential.env`,
//! `approvals.credential_env` or `audit.credential_env` that the Wasm VM would not have. The operator
//! runs it on their own machine, whose environment is not the VM's: so the check reads only the
//! variables it is given, never its whole environment. `--env NAME=VALUE` gives a value,
//! `--env NAME` takes `NAME` from this process's environment (as `docker run -e NAME` does), and
//! `--env-file FILE` reads `NAME=VALUE` lines (dotenv syntax, `#` comments); a later value wins.
//! Prefer a bare `--env NAME` or `--env-file` for real secrets: a command line is visible to other
//! users of the machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use clap::Args;
use warden_core::engine::Environment;
use warden_core::Engine;

/// Options of `warden policy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The configuration file (JSON).
    file: PathBuf,
    /// A variable of the Wasm VM's environment: `NAME=VALUE`, or `NAME` to take this process's value
    /// of `NAME`. Repeatable. No other variable of this process is read.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// A file of `NAME=VALUE` lines (dotenv syntax) holding variables of the Wasm VM's environment.
    /// Repeatable; read before the `--env` values, which win.
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
}

/// Validates `args.file` as the filter would, with the environment the arguments give, printing
/// `ok: FILE` on success.
///
/// # Errors
/// `FILE: <json path>: <message>` for the first problem found, `FILE: ...` when it cannot be read,
/// `ENV_FILE:LINE: ...` for an unreadable `--env-file`.
pub fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let vars = variables(args)?;
    let shown = args.file.display();
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("{shown}: cannot read the file"))?;
    let env = |name: &str| vars.get(name).cloned();
    Engine::load(&bytes, Environment::Read(&env)).map_err(|e| anyhow!("{shown}: {e}"))?;
    println!("ok: {shown}");
    Ok(())
}

/// The variables of `--env-file` then `--env`, later ones winning.
fn variables(args: &CheckArgs) -> anyhow::Result<BTreeMap<String, String>> {
    let mut vars = BTreeMap::new();
    for file in &args.env_files {
        vars.extend(env_file(file)?);
    }
    for given in &args.env {
        let (name, value) = match given.split_once('=') {
            Some((name, value)) => (name, value.to_owned()),
            None => (
                given.as_str(),
                std::env::var(given).with_context(|| {
                    format!("--env {given}: {given} is not set in this process's environment")
                })?,
            ),
        };
        vars.insert(name.to_owned(), value);
    }
    Ok(vars)
}

/// The `NAME=VALUE` pairs of a dotenv file, without touching this process's environment.
fn env_file(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let shown = path.display();
    dotenvy::from_path_iter(path)
        .with_context(|| format!("{shown}: cannot read the file"))?
        .map(|item| item.map_err(|e| anyhow!("{shown}: {}", dotenv_error(&e))))
        .collect()
}

/// A dotenv error in words, with its line when it has one (`:LINE: ...`).
fn dotenv_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(line, at) => {
            format!("cannot parse {line:?} at character {at}: write NAME=VALUE")
        }
        other => other.to_string(),
    }
}
