//! `warden token`: development JWTs signed with the publicly known keys of `policies/dev/`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context};
use clap::{Args, ValueEnum};
use jwt_simple::prelude::*;
use serde_json::{json, Map, Value};

/// Issuer of the dev keys, as configured in the demo policies.
const DEV_ISSUER: &str = "https://dev-issuer.warden.local";
/// Environment variable naming the signing key file, when `--key` is not given.
const KEY_ENV: &str = "WARDEN_DEV_KEY";
/// How far in the past an `--expired` token's `exp` lies: beyond any accepted clock skew.
const EXPIRED_BY: Duration = Duration::from_secs(3600);

/// Options of `warden token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// `sub` claim: who the token is for.
    #[arg(long)]
    sub: String,
    /// Comma-separated groups, put in the `groups` claim.
    #[arg(long, value_delimiter = ',')]
    groups: Vec<String>,
    /// Space-separated scopes, put in the `scope` claim.
    #[arg(long)]
    scope: Option<String>,
    /// `aud` claim.
    #[arg(long, default_value = "warden-demo")]
    aud: String,
    /// `iss` claim.
    #[arg(long, default_value = DEV_ISSUER)]
    iss: String,
    /// Lifetime (`90s`, `30m`, `1h`, `2d`).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    ttl: Duration,
    /// Signing algorithm; selects the default key and kid.
    #[arg(long, value_enum, default_value_t = Alg::Es256)]
    alg: Alg,
    /// PEM private key file (PKCS#8). Default: $WARDEN_DEV_KEY, else
    /// `policies/dev/dev-signing-key-<alg>.pem` under the current directory.
    #[arg(long)]
    key: Option<PathBuf>,
    /// `kid` header. Default: `warden-dev-es256` or `warden-dev-rs256`.
    #[arg(long)]
    kid: Option<String>,
    /// Issue a token whose `exp` is an hour in the past (for demos and tests).
    #[arg(long)]
    expired: bool,
    /// Extra claim `NAME=VALUE`; VALUE is parsed as JSON when it is JSON, else taken as a string.
    /// Repeatable; overrides the claims above.
    #[arg(long = "claim", value_name = "NAME=VALUE", value_parser = parse_claim)]
    claims: Vec<(String, Value)>,
}

/// Algorithms of the dev keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Alg {
    #[value(name = "ES256")]
    Es256,
    #[value(name = "RS256")]
    Rs256,
}

impl Alg {
    fn dev_kid(self) -> &'static str {
        match self {
            Self::Es256 => "warden-dev-es256",
            Self::Rs256 => "warden-dev-rs256",
        }
    }

    fn dev_key_path(self) -> PathBuf {
        let file = match self {
            Self::Es256 => "dev-signing-key-es256.pem",
            Self::Rs256 => "dev-signing-key-rs256.pem",
        };
        ["policies", "dev", file].iter().collect()
    }
}

/// Prints the signed token on stdout and a dev-key warning on stderr.
///
/// # Errors
/// The key file is missing or not a PEM key for `--alg`, or the claims cannot be signed.
pub fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let key_path = locate_key(args)?;
    let pem = std::fs::read_to_string(&key_path)
        .with_context(|| format!("cannot read the signing key {}", key_path.display()))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let claims = claims(args, now)?;
    let kid = args.kid.as_deref().unwrap_or(args.alg.dev_kid());
    let bad_key = || {
        format!(
            "{} is not a PKCS#8 PEM private key for {:?}",
            key_path.display(),
            args.alg
        )
    };
    let token = match args.alg {
        Alg::Es256 => ES256KeyPair::from_pem(&pem)
            .with_context(bad_key)?
            .with_key_id(kid)
            .sign(claims),
        Alg::Rs256 => RS256KeyPair::from_pem(&pem)
            .with_context(bad_key)?
            .with_key_id(kid)
            .sign(claims),
    }
    .map_err(|e| anyhow!("cannot sign the token: {e}"))?;
    eprintln!(
        "warning: signed with {}, a PUBLICLY KNOWN development key: never trust it in production",
        key_path.display()
    );
    println!("{token}");
    Ok(())
}

/// `--key`, else `$WARDEN_DEV_KEY`, else the dev key of `--alg` under the current directory.
fn locate_key(args: &TokenArgs) -> anyhow::Result<PathBuf> {
    if let Some(key) = &args.key {
        return Ok(key.clone());
    }
    if let Some(key) = std::env::var_os(KEY_ENV) {
        return Ok(key.into());
    }
    let path = args.alg.dev_key_path();
    if !path.is_file() {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        bail!(
            "no dev signing key at {} (under {cwd}): run from the Warden repository root, set {KEY_ENV}=FILE, \
             or pass --key FILE",
            path.display()
        );
    }
    Ok(path)
}

/// The claims set: registered claims, `groups`, `scope`, then `--claim` overrides.
fn claims(args: &TokenArgs, now: Duration) -> anyhow::Result<JWTClaims<Map<String, Value>>> {
    let exp = if args.expired {
        now.checked_sub(EXPIRED_BY)
            .context("the system clock is before 1970")?
    } else {
        now + args.ttl
    };
    let iat = if args.expired {
        exp.saturating_sub(args.ttl)
    } else {
        now
    };
    let mut payload = json!({
        "iss": args.iss, "sub": args.sub, "aud": args.aud,
        "iat": iat.as_secs(), "nbf": iat.as_secs(), "exp": exp.as_secs(),
    });
    let object = payload.as_object_mut().context("claims are an object")?;
    if !args.groups.is_empty() {
        object.insert("groups".to_owned(), json!(args.groups));
    }
    if let Some(scope) = &args.scope {
        object.insert("scope".to_owned(), json!(scope));
    }
    object.extend(args.claims.iter().cloned());
    serde_json::from_value(payload)
        .context("a --claim gives a registered claim (iss, sub, aud, exp, nbf, iat) a wrong type")
}

/// Parses `NAME=VALUE`; VALUE is JSON when it parses as JSON, else a string.
fn parse_claim(s: &str) -> Result<(String, Value), String> {
    let (name, value) = s
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))?;
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_values_are_json_when_they_parse_as_json() {
        assert_eq!(
            parse_claim("email_verified=true").unwrap(),
            ("email_verified".to_owned(), json!(true))
        );
        assert_eq!(
            parse_claim("tenant=acme").unwrap(),
            ("tenant".to_owned(), json!("acme"))
        );
        assert_eq!(
            parse_claim("roles=[\"a\",\"b\"]").unwrap().1,
            json!(["a", "b"])
        );
        assert!(parse_claim("novalue").is_err());
        assert!(parse_claim("=x").is_err());
    }
}
