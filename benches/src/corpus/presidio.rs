//! Presidio's side: the detections `benches/corpus/presidio.py` wrote (Presidio's analyzer with its
//! pattern recognizers only), read back and turned into [`Outcome`]s.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{ensure, Context};
use serde::{Deserialize, Serialize};

use super::align::{from_spans, Outcome};
use super::{byte_span, Item};

/// One Presidio result, as `presidio.py` writes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Detection {
    /// Start in Unicode code points.
    pub start: usize,
    /// End (exclusive) in Unicode code points.
    pub end: usize,
    /// Presidio's entity type (`CREDIT_CARD`, `CRYPTO`, …).
    pub entity: String,
    /// The Warden detector the entity maps to.
    pub detector: String,
    /// Presidio's confidence score.
    pub score: f64,
}

/// How Presidio ran: versions, configuration and throughput.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// `presidio-analyzer` version.
    pub presidio_analyzer: String,
    /// spaCy version.
    pub spacy: String,
    /// The NLP engine and recognizers, in words.
    pub setup: String,
    /// Presidio entity → Warden detector.
    pub entity_map: BTreeMap<String, String>,
    /// UTF-8 bytes of the corpus texts analyzed.
    pub bytes: u64,
    /// Seconds `AnalyzerEngine.analyze` took over every text.
    pub seconds: f64,
    /// `bytes / seconds / 10^6`.
    pub throughput_mb_s: f64,
}

/// The file `presidio.py` writes.
#[derive(Debug, Clone, Deserialize)]
pub struct Detections {
    /// SHA-256 (hex) of the corpus file analyzed.
    pub corpus_sha256: String,
    /// How Presidio ran.
    pub run: RunInfo,
    /// Per item id, Presidio's results.
    pub items: BTreeMap<String, Vec<Detection>>,
}

/// Reads `path` and checks it was made from the corpus whose SHA-256 is `corpus_sha256`.
///
/// # Errors
/// Unreadable or malformed file; a file made from another corpus.
pub fn load(path: &Path, corpus_sha256: &str) -> anyhow::Result<Detections> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let detections: Detections =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    ensure!(
        detections.corpus_sha256 == corpus_sha256,
        "{} was made from another corpus (sha256 {}, the corpus is {corpus_sha256}): rerun presidio.py",
        path.display(),
        detections.corpus_sha256
    );
    Ok(detections)
}

/// Presidio's outcome for each item (byte spans), labelled with the Warden detector names.
///
/// # Errors
/// An item without results in the file; a span outside its text.
pub fn outcomes(items: &[Item], detections: &Detections) -> anyhow::Result<Vec<Outcome>> {
    items
        .iter()
        .map(|item| {
            let found = detections
                .items
                .get(&item.id)
                .with_context(|| format!("no Presidio results for item {}", item.id))?;
            let spans = found
                .iter()
                .map(|d| {
                    let (start, end) =
                        byte_span(&item.text, d.start, d.end).with_context(|| {
                            format!("item {}: span {}..{}", item.id, d.start, d.end)
                        })?;
                    Ok((start, end, d.detector.clone()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            from_spans(item.text.len(), &spans).with_context(|| format!("item {}", item.id))
        })
        .collect()
}
