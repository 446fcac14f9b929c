//! Warden's side: every corpus text masked with the default profile (every built-in detector,
//! `redact` rendering), as `Masker::mask_str` does it in the filter.

use std::time::{Duration, Instant};

use anyhow::Context;
use warden_core::config::MaskingConfig;
use warden_core::mask::{DetectorSet, MaskCounts, Masker};

use super::align::{from_masked, Outcome};
use super::Item;

/// The masker of an empty `masking` configuration and its default profile: every built-in
/// detector, rendered `redact`.
///
/// # Errors
/// The built-in configuration is refused (a bug in `warden-core`).
pub fn default_masker() -> anyhow::Result<(Masker, DetectorSet)> {
    let masker = Masker::from_config_with_env(&MaskingConfig::default(), "masking", &|_| None)
        .context("the empty masking configuration")?;
    let set = masker
        .profile(None)
        .context("the default profile of the empty masking configuration")?;
    Ok((masker, set))
}

/// Masks each item's text and aligns the output with it.
///
/// # Errors
/// An output that does not align with its input (see [`from_masked`]), naming the item.
pub fn outcomes(items: &[Item]) -> anyhow::Result<Vec<Outcome>> {
    let (masker, set) = default_masker()?;
    items
        .iter()
        .map(|item| {
            let mut counts = MaskCounts::new();
            let masked = masker.mask_str(&set, &item.text, &mut counts);
            from_masked(&item.text, masked.as_deref().unwrap_or(&item.text))
                .with_context(|| format!("item {}", item.id))
        })
        .collect()
}

/// Masking throughput over the corpus texts in MB/s (10^6 bytes of UTF-8 text per second): whole
/// passes over every text until at least `budget` has elapsed.
///
/// # Errors
/// As [`default_masker`].
pub fn throughput_mb_s(items: &[Item], budget: Duration) -> anyhow::Result<f64> {
    let (masker, set) = default_masker()?;
    let bytes: usize = items.iter().map(|i| i.text.len()).sum();
    let started = Instant::now();
    let mut passes = 0u64;
    while passes == 0 || started.elapsed() < budget {
        let mut counts = MaskCounts::new();
        for item in items {
            std::hint::black_box(masker.mask_str(&set, &item.text, &mut counts));
        }
        passes += 1;
    }
    Ok(bytes as f64 * passes as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// The built-in detectors the default profile runs (`docs/detectors.md`), each of which the corpus
/// must exercise.
pub const BUILT_IN_NAMES: [&str; 23] = {
    use warden_core::mask::*;
    [
        CREDIT_CARD,
        US_SSN,
        EMAIL_ADDRESS,
        US_ITIN,
        UK_NHS,
        IBAN_CODE,
        UK_NINO,
        US_PASSPORT,
        CRYPTO_WALLET,
        IP_ADDRESS,
        MAC_ADDRESS,
        PHONE_NUMBER,
        PRIVATE_KEY,
        JWT,
        AWS_ACCESS_KEY,
        GITHUB_TOKEN,
        GITLAB_TOKEN,
        SLACK_TOKEN,
        STRIPE_KEY,
        GOOGLE_API_KEY,
        ANTHROPIC_API_KEY,
        OPENAI_API_KEY,
        SECRET_ASSIGNMENT,
    ]
};
