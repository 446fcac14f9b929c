//! The detector corpus (`benches/corpus/corpus.jsonl`, written by `benches/corpus/generate.py`) and
//! its scoring: which values each scanner masked, leaked or masked as another type, per detector.
//!
//! - [`load`] reads the corpus and turns its code point spans into byte spans.
//! - [`align`] recovers what Warden masked from `Masker::mask_str`'s output (`[REDACTED:NAME]`
//!   markers in the unchanged rest of the text).
//! - [`score`] counts, per detector, caught / masked as another type / leaked values and masked
//!   look-alikes, and derives precision and recall; [`report`] renders the Markdown table.
//!
//! Definitions (also in `benches/corpus/README.md`):
//! - A value is **leaked** when at least one of its characters may remain in clear in the output.
//! - A value is **caught** (a true positive of its expected detector) when none of its characters
//!   remains in clear and a mask labelled with the expected detector overlaps it; **masked as
//!   other** when fully masked by other detectors only.
//! - A **false positive** of detector `D` is a look-alike, or a value expected of another detector,
//!   overlapped by a mask labelled `D`, or a mask labelled `D` entirely outside the item's value (in
//!   the context sentence, which holds nothing to mask).
//! - Precision of `D` = caught / (caught + false positives); recall = caught / items.

pub mod align;
pub mod presidio;
pub mod report;
pub mod score;
pub mod warden;

use std::path::Path;

use anyhow::{bail, ensure, Context};
use serde::Deserialize;

/// The marker a `redact` rendering writes before a detector name (`[REDACTED:CREDIT_CARD]`).
pub const REDACTED_PREFIX: &str = "[REDACTED:";

/// One line of the corpus: a text embedding one value.
#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    /// Unique id, e.g. `credit_card-0001`, `look_alike-0042`.
    pub id: String,
    /// `personal`, `secret` or `look-alike`.
    pub category: String,
    /// What the value is (`card-visa`, `iban-de-spaced`, `uuid`, …).
    pub kind: String,
    /// The Warden detector that must mask the value; `None` for a look-alike that must survive.
    pub expected: Option<String>,
    /// The value, as it appears in `text`.
    pub value: String,
    /// Start of `value` in `text` in Unicode code points (after [`load`]: in bytes).
    pub start: usize,
    /// End (exclusive) of `value` in `text` in Unicode code points (after [`load`]: in bytes).
    pub end: usize,
    /// The whole text.
    pub text: String,
}

/// Reads the corpus at `path`, one JSON [`Item`] per line, and converts each span from code points
/// to bytes.
///
/// # Errors
/// An unreadable file; a line that is not an item (with its line number); a span that does not hold
/// `value`; a text containing a [`REDACTED_PREFIX`] marker (it would be read as a mask); a repeated id.
pub fn load(path: &Path) -> anyhow::Result<Vec<Item>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut items = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = || format!("{}:{}", path.display(), n + 1);
        let mut item: Item = serde_json::from_str(line).with_context(at)?;
        let (start, end) = byte_span(&item.text, item.start, item.end).with_context(|| {
            format!(
                "{}: span {}..{} outside the text",
                at(),
                item.start,
                item.end
            )
        })?;
        ensure!(
            item.text[start..end] == item.value,
            "{}: the span {}..{} does not hold the value {:?}",
            at(),
            item.start,
            item.end,
            item.value
        );
        ensure!(
            !item.text.contains(REDACTED_PREFIX),
            "{}: the text contains {REDACTED_PREFIX:?}, which would read as a mask",
            at()
        );
        if !ids.insert(item.id.clone()) {
            bail!("{}: id {:?} repeats an earlier line", at(), item.id);
        }
        (item.start, item.end) = (start, end);
        items.push(item);
    }
    ensure!(!items.is_empty(), "{}: no items", path.display());
    Ok(items)
}

/// Byte offsets of the code point span `start..end` of `text`; `None` when out of range.
pub fn byte_span(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let byte_at = |chars: usize| {
        text.char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(text.len()))
            .nth(chars)
    };
    let (start, end) = (byte_at(start)?, byte_at(end)?);
    (start <= end).then_some((start, end))
}

/// The committed corpus, relative to the workspace root.
pub const CORPUS_PATH: &str = "benches/corpus/corpus.jsonl";
/// The committed results (JSON summary), relative to the workspace root.
pub const SUMMARY_PATH: &str = "benches/results/detectors-precision-recall.json";

/// SHA-256 (lower-case hex) of the file at `path`.
///
/// # Errors
/// An unreadable file.
pub fn sha256_hex(path: &Path) -> anyhow::Result<String> {
    use sha2::Digest;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Scores Warden's default profile over `items`, the corpus [`load`]ed from `path` (shown as
/// `shown` in the summary); no throughput, no Presidio.
///
/// # Errors
/// As [`warden::outcomes`]; an unreadable `path`.
pub fn summarize_warden(
    items: &[Item],
    path: &Path,
    shown: &Path,
) -> anyhow::Result<report::Summary> {
    let scores = score::score(items, &warden::outcomes(items)?);
    Ok(report::Summary {
        corpus: report::CorpusInfo {
            path: shown.display().to_string(),
            sha256: sha256_hex(path)?,
            items: items.len() as u64,
            bytes: items.iter().map(|i| i.text.len() as u64).sum(),
        },
        warden: report::WardenResult {
            scores,
            throughput_mb_s: None,
        },
        presidio: None,
    })
}
