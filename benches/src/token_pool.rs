//! Pools of distinct bearer tokens for the uncached-token workloads: every request presents a token
//! the filter has not verified yet, so each one costs a full signature verification.

use std::path::{Path, PathBuf};

use anyhow::Context;
use warden_testkit::tokens::{sign_dev_tokens, DevAlg};

/// Distinct dev tokens (one a line) in a file a [`crate::loadgen::rotating_script`] reads.
#[derive(Debug, Clone)]
pub struct TokenPool {
    /// The file, one compact JWS (RFC 7515) a line.
    pub file: PathBuf,
    /// The first token, for preflight checks.
    pub first: String,
    /// Number of tokens.
    pub len: usize,
}

impl TokenPool {
    /// Signs `len` tokens with the dev key of `alg`, subjects `bench-<alg>-<i>@example.com` (group
    /// `support`, valid for `valid_for_seconds`), on every CPU, and writes them to
    /// `dir/tokens-<alg>.txt`.
    ///
    /// # Errors
    /// Signing fails (see [`sign_dev_tokens`]), or the file cannot be written.
    pub fn mint(
        alg: DevAlg,
        len: usize,
        valid_for_seconds: u64,
        dir: &Path,
    ) -> anyhow::Result<Self> {
        let tag = format!("{alg:?}").to_lowercase();
        let subs: Vec<String> = (0..len)
            .map(|i| format!("bench-{tag}-{i:06}@example.com"))
            .collect();
        let subs: Vec<&str> = subs.iter().map(String::as_str).collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let tokens = std::thread::scope(|scope| {
            let signers: Vec<_> = subs
                .chunks(len.div_ceil(threads).max(1))
                .map(|chunk| {
                    scope
                        .spawn(move || sign_dev_tokens(alg, chunk, &["support"], valid_for_seconds))
                })
                .collect();
            let mut tokens = Vec::with_capacity(len);
            for signer in signers {
                let signed = signer
                    .join()
                    .map_err(|_| anyhow::anyhow!("a token signing thread panicked"))??;
                tokens.extend(signed);
            }
            anyhow::Ok(tokens)
        })?;
        let first = tokens.first().cloned().context("empty token pool")?;
        let file = dir.join(format!("tokens-{tag}.txt"));
        std::fs::write(&file, tokens.join("\n") + "\n")
            .with_context(|| format!("cannot write {}", file.display()))?;
        Ok(Self { file, first, len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_holds_distinct_tokens_one_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let pool = TokenPool::mint(DevAlg::Es256, 5, 60, dir.path()).unwrap();
        assert!(pool.file.ends_with("tokens-es256.txt"));
        let text = std::fs::read_to_string(&pool.file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!((lines.len(), pool.len), (5, 5));
        assert_eq!(lines[0], pool.first);
        let distinct: std::collections::BTreeSet<_> = lines.iter().collect();
        assert_eq!(distinct.len(), 5);
        assert!(lines.iter().all(|t| t.split('.').count() == 3));
    }
}
