//! Scores of one scanner over the corpus: per detector, per look-alike kind, and the findings
//! (each leaked value, each value masked as another type, each false positive).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::align::Outcome;
use super::Item;

/// Counts of one detector (or of all of them: [`Scores::totals`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorScore {
    /// Values in the corpus that this detector must mask.
    pub items: u64,
    /// Of those, fully masked with a mask of this detector (true positives).
    pub caught: u64,
    /// Of those, fully masked by other detectors only.
    pub masked_as_other: u64,
    /// Of those, with at least one character possibly in clear.
    pub leaked: u64,
    /// Look-alikes overlapped by a mask of this detector.
    pub look_alikes_masked: u64,
    /// Values expected of another detector overlapped by a mask of this detector.
    pub other_values_masked: u64,
    /// Masks of this detector entirely outside the item's value (in its context sentence).
    pub context_masked: u64,
    /// caught / (caught + look_alikes_masked + other_values_masked + context_masked); `None` when
    /// the denominator is 0.
    pub precision: Option<f64>,
    /// caught / items; `None` when there are no items.
    pub recall: Option<f64>,
}

impl DetectorScore {
    /// False positives: look-alikes, other types' values and context masked by this detector.
    pub fn false_positives(&self) -> u64 {
        self.look_alikes_masked + self.other_values_masked + self.context_masked
    }

    fn finish(&mut self) {
        let flagged = self.caught + self.false_positives();
        self.precision = (flagged > 0).then(|| self.caught as f64 / flagged as f64);
        self.recall = (self.items > 0).then(|| self.caught as f64 / self.items as f64);
    }

    fn add(&mut self, other: &DetectorScore) {
        self.items += other.items;
        self.caught += other.caught;
        self.masked_as_other += other.masked_as_other;
        self.leaked += other.leaked;
        self.look_alikes_masked += other.look_alikes_masked;
        self.other_values_masked += other.other_values_masked;
        self.context_masked += other.context_masked;
    }
}

/// Look-alikes of one kind (`uuid`, `card-luhn-fail`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookAlikeScore {
    /// Look-alikes of this kind in the corpus.
    pub items: u64,
    /// Of those, overlapped by at least one mask.
    pub masked: u64,
}

/// One item that did not end as it should.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The item's id.
    pub id: String,
    /// The item's kind.
    pub kind: String,
    /// The detector expected to mask the value (`None` for a look-alike).
    pub expected: Option<String>,
    /// What happened: `leaked`, `masked as X`, `look-alike masked by X`, `context masked by X`.
    pub what: String,
    /// The value.
    pub value: String,
    /// The whole text.
    pub text: String,
}

/// The scores of one scanner over the corpus.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Per detector name, in the order detectors first appear in the corpus (then labels that only
    /// appear as masks).
    pub detectors: Vec<(String, DetectorScore)>,
    /// The sum over every detector (precision and recall micro-averaged).
    pub totals: DetectorScore,
    /// Per look-alike kind.
    pub look_alikes: BTreeMap<String, LookAlikeScore>,
    /// Every leak, every value masked as another type and every false positive.
    pub findings: Vec<Finding>,
}

impl Scores {
    /// The score of detector `name`, if it appears.
    pub fn detector(&self, name: &str) -> Option<&DetectorScore> {
        self.detectors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }

    fn entry(&mut self, name: &str) -> &mut DetectorScore {
        let at = match self.detectors.iter().position(|(n, _)| n == name) {
            Some(at) => at,
            None => {
                self.detectors
                    .push((name.to_owned(), DetectorScore::default()));
                self.detectors.len() - 1
            }
        };
        &mut self.detectors[at].1
    }
}

/// Scores `outcomes[i]`, the scan of `items[i]`'s text (byte spans). Definitions: module
/// documentation of [`super`].
pub fn score(items: &[Item], outcomes: &[Outcome]) -> Scores {
    let mut scores = Scores::default();
    for item in items {
        if let Some(expected) = &item.expected {
            scores.entry(expected);
        }
    }
    for (item, outcome) in items.iter().zip(outcomes) {
        let (start, end) = (item.start, item.end);
        let finding = |what: String| Finding {
            id: item.id.clone(),
            kind: item.kind.clone(),
            expected: item.expected.clone(),
            what,
            value: item.value.clone(),
            text: item.text.clone(),
        };
        let on_value: Vec<&str> = outcome
            .masks
            .iter()
            .filter(|m| m.may_overlap(start, end))
            .map(|m| m.label.as_str())
            .collect();
        for mask in outcome.masks.iter().filter(|m| !m.may_overlap(start, end)) {
            scores.entry(&mask.label).context_masked += 1;
            scores
                .findings
                .push(finding(format!("context masked by {}", mask.label)));
        }
        let mut labels = on_value.clone();
        labels.sort_unstable();
        labels.dedup();
        match &item.expected {
            None => {
                let kind = scores.look_alikes.entry(item.kind.clone()).or_default();
                kind.items += 1;
                if !labels.is_empty() {
                    kind.masked += 1;
                    for label in &labels {
                        scores.entry(label).look_alikes_masked += 1;
                    }
                    scores.findings.push(finding(format!(
                        "look-alike masked by {}",
                        labels.join(", ")
                    )));
                }
            }
            Some(expected) => {
                for label in labels.iter().filter(|l| *l != expected) {
                    scores.entry(label).other_values_masked += 1;
                }
                let leaked = outcome.leaks(start, end);
                let score = scores.entry(expected);
                score.items += 1;
                if leaked {
                    score.leaked += 1;
                    let what = if labels.is_empty() {
                        "leaked".to_owned()
                    } else {
                        format!("leaked (partly masked by {})", labels.join(", "))
                    };
                    scores.findings.push(finding(what));
                } else if labels.contains(&expected.as_str()) {
                    score.caught += 1;
                } else {
                    score.masked_as_other += 1;
                    scores
                        .findings
                        .push(finding(format!("masked as {}", labels.join(", "))));
                }
            }
        }
    }
    let mut totals = DetectorScore::default();
    for (_, score) in &mut scores.detectors {
        score.finish();
        totals.add(score);
    }
    totals.finish();
    scores.totals = totals;
    scores
}

#[cfg(test)]
mod tests {
    use super::super::align::from_masked;
    use super::*;

    fn item(id: &str, expected: Option<&str>, prefix: &str, value: &str, suffix: &str) -> Item {
        Item {
            id: id.to_owned(),
            category: "test".to_owned(),
            kind: id.to_owned(),
            expected: expected.map(str::to_owned),
            value: value.to_owned(),
            start: prefix.len(),
            end: prefix.len() + value.len(),
            text: format!("{prefix}{value}{suffix}"),
        }
    }

    #[test]
    fn counts_caught_leaked_other_type_and_false_positives() {
        let items = [
            item("caught", Some("A"), "x ", "111", " y"),
            item("partly", Some("A"), "x ", "222", " y"),
            item("missed", Some("A"), "x ", "333", " y"),
            item("other", Some("A"), "x ", "444", " y"),
            item("look", None, "x ", "555", " y"),
            item("context", Some("B"), "x ", "666", " y"),
        ];
        let masked = [
            "x [REDACTED:A] y",
            "x [REDACTED:A]2 y",
            "x 333 y",
            "x [REDACTED:B] y",
            "x [REDACTED:A] y",
            "[REDACTED:A] [REDACTED:B] y",
        ];
        let outcomes: Vec<_> = items
            .iter()
            .zip(masked)
            .map(|(i, m)| from_masked(&i.text, m).unwrap())
            .collect();
        let s = score(&items, &outcomes);
        let a = s.detector("A").unwrap();
        assert_eq!(
            (a.items, a.caught, a.leaked, a.masked_as_other),
            (4, 1, 2, 1)
        );
        assert_eq!(
            (
                a.look_alikes_masked,
                a.other_values_masked,
                a.context_masked
            ),
            (1, 0, 1)
        );
        assert_eq!(a.precision, Some(1.0 / 3.0));
        assert_eq!(a.recall, Some(0.25));
        let b = s.detector("B").unwrap();
        assert_eq!((b.items, b.caught, b.other_values_masked), (1, 1, 1));
        assert_eq!(
            s.look_alikes["look"],
            LookAlikeScore {
                items: 1,
                masked: 1
            }
        );
        assert_eq!(s.totals.items, 5);
        assert_eq!(s.findings.len(), 5, "{:#?}", s.findings);
    }
}
