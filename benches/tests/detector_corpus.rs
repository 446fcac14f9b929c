//! Warden's detectors over the committed corpus (`benches/corpus/corpus.jsonl`) score at least as
//! well as the committed results (`benches/results/detectors-precision-recall.json`, written by
//! `just bench-detectors`): a detector change that leaks more values, catches fewer or masks more
//! look-alikes fails here. Counts only, never a time. No Python needed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use warden_benches::corpus::report::Summary;
use warden_benches::corpus::score::DetectorScore;
use warden_benches::corpus::{load, summarize_warden, CORPUS_PATH, SUMMARY_PATH};
use warden_testkit::paths::{read_repo_file, workspace_root};

/// Where `now` is worse than `then`, one line per count that got worse.
fn regressions(name: &str, now: &DetectorScore, then: &DetectorScore) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |what: &str, now: u64, then: u64, more_is_better: bool| {
        if (more_is_better && now < then) || (!more_is_better && now > then) {
            out.push(format!("{name}: {what} {then} -> {now}"));
        }
    };
    check("caught", now.caught, then.caught, true);
    check("leaked", now.leaked, then.leaked, false);
    check(
        "look-alikes masked",
        now.look_alikes_masked,
        then.look_alikes_masked,
        false,
    );
    out
}

#[test]
fn detectors_score_at_least_as_well_as_the_committed_results() {
    let root = workspace_root();
    let items = load(&root.join(CORPUS_PATH)).unwrap();
    let now = summarize_warden(&items, &root.join(CORPUS_PATH), Path::new(CORPUS_PATH)).unwrap();
    let committed: Summary = serde_json::from_str(&read_repo_file(SUMMARY_PATH).unwrap()).unwrap();
    assert_eq!(
        now.corpus.sha256, committed.corpus.sha256,
        "{CORPUS_PATH} changed since {SUMMARY_PATH} was written: run `just bench-detectors` and commit both"
    );
    let (now, then) = (&now.warden.scores, &committed.warden.scores);
    let mut worse = regressions("all detectors", &now.totals, &then.totals);
    if now.totals.false_positives() > then.totals.false_positives() {
        worse.push(format!(
            "all detectors: false positives {} -> {}",
            then.totals.false_positives(),
            now.totals.false_positives()
        ));
    }
    for (name, then_score) in &then.detectors {
        let now_score = now.detector(name).cloned().unwrap_or_default();
        // Per detector, leaks only: a value moving from one label to another is not a regression
        // by itself (the totals catch it when it costs a catch).
        worse.extend(
            regressions(name, &now_score, then_score)
                .into_iter()
                .filter(|line| line.contains(": leaked ")),
        );
    }
    assert!(
        worse.is_empty(),
        "Warden's detectors got worse on the corpus than {SUMMARY_PATH} records:\n{}\n\
         findings now: {:#?}",
        worse.join("\n"),
        now.findings
    );
}

#[test]
fn every_detector_of_the_default_profile_has_values_in_the_corpus() {
    let items = load(&workspace_root().join(CORPUS_PATH)).unwrap();
    let summary = summarize_warden(
        &items,
        &workspace_root().join(CORPUS_PATH),
        Path::new(CORPUS_PATH),
    )
    .unwrap();
    for name in warden_benches::corpus::warden::BUILT_IN_NAMES {
        let score = summary.warden.scores.detector(name);
        assert!(
            score.is_some_and(|s| s.items >= 10),
            "{name} has fewer than 10 values in {CORPUS_PATH}: {score:?}"
        );
    }
}
