//! Masking: detectors of sensitive values and the rewriting of strings and JSON values.
//!
//! Three built-in detectors ([`CREDIT_CARD`], [`US_SSN`], [`EMAIL_ADDRESS`]; see the scanners in
//! `detectors.rs` for exactly what each matches) and operator-defined regex detectors
//! (`masking.detectors`, regex-lite syntax). A match is replaced by `[REDACTED:<NAME>]`. When matches
//! of the detectors of a set overlap, the leftmost wins, then the longest, then the detector listed
//! first (built-ins in the order above, then custom ones in configuration order); a replaced span is
//! never scanned again.

mod detectors;
mod json;
mod prefilter;
pub(crate) mod stream;

use std::collections::BTreeMap;

use regex_lite::Regex;

use crate::config::MaskingConfig;
use crate::error::ConfigError;
use detectors::DigitKind;

/// Name of the built-in payment card number detector (13–19 digits, Luhn-valid).
pub const CREDIT_CARD: &str = "CREDIT_CARD";
/// Name of the built-in US Social Security Number detector (`AAA-GG-SSSS` or `AAA GG SSSS`).
pub const US_SSN: &str = "US_SSN";
/// Name of the built-in e-mail address detector (dot-atom `local@domain.tld`).
pub const EMAIL_ADDRESS: &str = "EMAIL_ADDRESS";

const BUILT_IN: [&str; 3] = [CREDIT_CARD, US_SSN, EMAIL_ADDRESS];
const CARD_INDEX: usize = 0;
const SSN_INDEX: usize = 1;
const EMAIL_INDEX: usize = 2;

/// Masked values per detector name, e.g. `{"CREDIT_CARD": 2}`.
pub type MaskCounts = BTreeMap<String, u64>;

/// A set of detectors of one [`Masker`] (a profile, or the union of several).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectorSet {
    /// Indices into the masker's detectors, ascending, without repeats.
    members: Vec<usize>,
}

impl DetectorSet {
    /// Adds the detectors of `other` (of the same [`Masker`]) to this set.
    pub fn union(&mut self, other: &DetectorSet) {
        self.members.extend_from_slice(&other.members);
        self.members.sort_unstable();
        self.members.dedup();
    }

    /// Whether the set has no detector (masking with it changes nothing).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn contains(&self, index: usize) -> bool {
        self.members.binary_search(&index).is_ok()
    }
}

/// One compiled detector.
#[derive(Debug)]
struct Detector {
    name: String,
    /// `[REDACTED:<name>]`.
    replacement: String,
    /// `None` for the built-ins (scanned by hand), the compiled pattern for a custom detector.
    pattern: Option<Regex>,
    /// The literal every match of `pattern` starts with, when one can be derived (see
    /// `prefilter::required_literal`).
    literal: Option<String>,
}

/// The compiled `masking` configuration: detectors and named profiles.
#[derive(Debug)]
pub struct Masker {
    detectors: Vec<Detector>,
    profiles: BTreeMap<String, DetectorSet>,
    default: DetectorSet,
}

/// A match: byte span in the scanned text and the index of its detector.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    detector: usize,
}

impl Masker {
    /// Compiles the built-in and custom detectors and the profiles; `path` is the JSON path of
    /// `config` in the plugin configuration (`"masking"`), used in errors.
    ///
    /// # Errors
    /// A [`ConfigError`] located at the offending value: a custom name that is not `UPPER_SNAKE_CASE`,
    /// repeats another or a built-in name (`masking.detectors[1].name: ...`); an invalid pattern or one
    /// that matches the empty string (`masking.detectors[0].pattern: ...`); a profile naming an unknown
    /// detector (`masking.profiles.pii.detectors[2]: unknown detector "X"`); an unknown
    /// `default_profile`.
    pub fn from_config(config: &MaskingConfig, path: &str) -> Result<Masker, ConfigError> {
        let at = |member: &str| {
            if path.is_empty() {
                member.to_owned()
            } else {
                format!("{path}.{member}")
            }
        };
        let mut detectors: Vec<Detector> = BUILT_IN
            .iter()
            .map(|name| Detector::new(name, None))
            .collect();
        for (i, custom) in config.detectors.iter().enumerate() {
            let name_path = at(&format!("detectors[{i}].name"));
            if !is_upper_snake_case(&custom.name) {
                return Err(ConfigError::new(
                    name_path,
                    format!(
                        "detector name {:?} must be UPPER_SNAKE_CASE (A-Z, 0-9, _)",
                        custom.name
                    ),
                ));
            }
            if BUILT_IN.contains(&custom.name.as_str()) {
                return Err(ConfigError::new(
                    name_path,
                    format!(
                        "{:?} is a built-in detector; choose another name",
                        custom.name
                    ),
                ));
            }
            if detectors.iter().any(|d| d.name == custom.name) {
                return Err(ConfigError::new(
                    name_path,
                    format!("detector {:?} is defined twice", custom.name),
                ));
            }
            let pattern_path = at(&format!("detectors[{i}].pattern"));
            let regex = Regex::new(&custom.pattern)
                .map_err(|e| ConfigError::new(&pattern_path, format!("invalid regex: {e}")))?;
            if regex.is_match("") {
                return Err(ConfigError::new(
                    pattern_path,
                    format!("pattern {:?} matches the empty string", custom.pattern),
                ));
            }
            detectors.push(Detector::new(&custom.name, Some(regex)));
        }
        let mut profiles = BTreeMap::new();
        for (profile, profile_config) in &config.profiles {
            let mut members = Vec::with_capacity(profile_config.detectors.len());
            for (i, name) in profile_config.detectors.iter().enumerate() {
                let index = detectors
                    .iter()
                    .position(|d| &d.name == name)
                    .ok_or_else(|| {
                        ConfigError::new(
                            at(&format!("profiles.{profile}.detectors[{i}]")),
                            format!("unknown detector {name:?}"),
                        )
                    })?;
                members.push(index);
            }
            members.sort_unstable();
            members.dedup();
            profiles.insert(profile.clone(), DetectorSet { members });
        }
        let default = match &config.default_profile {
            Some(name) => profiles.get(name).cloned().ok_or_else(|| {
                ConfigError::new(at("default_profile"), format!("unknown profile {name:?}"))
            })?,
            None => DetectorSet {
                members: (0..detectors.len()).collect(),
            },
        };
        Ok(Masker {
            detectors,
            profiles,
            default,
        })
    }

    /// The detectors of profile `name`, or of the default profile when `name` is `None`
    /// (`default_profile`, else every detector). `None` for an unknown name.
    pub fn profile(&self, name: Option<&str>) -> Option<DetectorSet> {
        match name {
            Some(name) => self.profiles.get(name).cloned(),
            None => Some(self.default.clone()),
        }
    }

    /// Whether `masking.profiles` defines `name`.
    pub fn has_profile(&self, name: &str) -> bool {
        self.profiles.contains_key(name)
    }

    /// Masks the matches of `set`'s detectors in `text`, adding one to `counts[detector name]` per
    /// replaced match. `None` (and no allocation) when nothing matched.
    pub fn mask_str(
        &self,
        set: &DetectorSet,
        text: &str,
        counts: &mut MaskCounts,
    ) -> Option<String> {
        let spans = self.find(set, text);
        if spans.is_empty() {
            return None;
        }
        let mut masked = String::with_capacity(text.len());
        let mut copied = 0;
        for span in spans {
            let detector = &self.detectors[span.detector];
            masked.push_str(&text[copied..span.start]);
            masked.push_str(&detector.replacement);
            copied = span.end;
            match counts.get_mut(&detector.name) {
                Some(count) => *count += 1,
                None => {
                    counts.insert(detector.name.clone(), 1);
                }
            }
        }
        masked.push_str(&text[copied..]);
        Some(masked)
    }

    /// Whether a detector of `set` may match in the text `bytes` decode to (as a JSON text, a JSON
    /// string's raw content, or plain text); `false` proves that masking them changes nothing. See
    /// `prefilter.rs` for the (conservative) rules.
    pub fn may_match(&self, set: &DetectorSet, bytes: &[u8]) -> bool {
        let mut triggers = prefilter::Triggers {
            digits: set.contains(CARD_INDEX) || set.contains(SSN_INDEX),
            at_sign: set.contains(EMAIL_INDEX),
            ..prefilter::Triggers::default()
        };
        for &index in &set.members {
            let detector = &self.detectors[index];
            if detector.pattern.is_some() {
                match &detector.literal {
                    Some(literal) => triggers.literals.push(literal),
                    None => triggers.opaque = true,
                }
            }
        }
        triggers.may_match(bytes)
    }

    /// The non-overlapping matches to replace, in text order.
    /// Whether a detector of `set` matches somewhere in `text` (nothing is counted).
    fn matches(&self, set: &DetectorSet, text: &str) -> bool {
        !self.find(set, text).is_empty()
    }

    fn find(&self, set: &DetectorSet, text: &str) -> Vec<Span> {
        let mut spans = Vec::new();
        let bytes = text.as_bytes();
        let (cards, ssns) = (set.contains(CARD_INDEX), set.contains(SSN_INDEX));
        if cards || ssns {
            detectors::scan_digit_groups(bytes, cards, ssns, &mut |start, end, kind| {
                let detector = match kind {
                    DigitKind::CreditCard => CARD_INDEX,
                    DigitKind::UsSsn => SSN_INDEX,
                };
                spans.push(Span {
                    start,
                    end,
                    detector,
                });
            });
        }
        if set.contains(EMAIL_INDEX) {
            detectors::scan_emails(bytes, &mut |start, end| {
                spans.push(Span {
                    start,
                    end,
                    detector: EMAIL_INDEX,
                });
            });
        }
        for &detector in &set.members {
            if let Some(pattern) = &self.detectors[detector].pattern {
                spans.extend(pattern.find_iter(text).map(|m| Span {
                    start: m.start(),
                    end: m.end(),
                    detector,
                }));
            }
        }
        if spans.len() > 1 {
            leftmost_longest(&mut spans);
        }
        spans
    }
}

/// Keeps, left to right, the leftmost then longest then first-listed span, dropping those it overlaps.
fn leftmost_longest(spans: &mut Vec<Span>) {
    spans.sort_unstable_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(a.detector.cmp(&b.detector))
    });
    let mut covered = 0;
    spans.retain(|span| {
        let keep = span.start >= covered;
        if keep {
            covered = span.end;
        }
        keep
    });
}

impl Detector {
    fn new(name: &str, pattern: Option<Regex>) -> Self {
        Self {
            name: name.to_owned(),
            replacement: format!("[REDACTED:{name}]"),
            literal: pattern
                .as_ref()
                .and_then(|p| prefilter::required_literal(p.as_str())),
            pattern,
        }
    }
}

/// `A-Z` first, then `A-Z`, `0-9` and single inner underscores: `API_KEY`, `IBAN2`.
fn is_upper_snake_case(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_uppercase)
        && bytes.last() != Some(&b'_')
        && !name.contains("__")
        && bytes
            .iter()
            .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: serde_json::Value) -> MaskingConfig {
        serde_json::from_value(value).unwrap()
    }

    fn masker(value: serde_json::Value) -> Masker {
        Masker::from_config(&config(value), "masking").unwrap()
    }

    fn config_error(value: serde_json::Value) -> ConfigError {
        Masker::from_config(&config(value), "masking").unwrap_err()
    }

    fn mask_all(m: &Masker, text: &str) -> (Option<String>, MaskCounts) {
        let mut counts = MaskCounts::new();
        let masked = m.mask_str(&m.profile(None).unwrap(), text, &mut counts);
        (masked, counts)
    }

    #[test]
    fn masks_several_detectors_in_one_string_with_unicode_around() {
        let m = masker(json!({}));
        let (masked, counts) = mask_all(
            &m,
            "é€😀4111-1111-1111-1111😀 ssn 078-05-1120 → jane@example.com€ 5555555555554444",
        );
        assert_eq!(
            masked.unwrap(),
            "é€😀[REDACTED:CREDIT_CARD]😀 ssn [REDACTED:US_SSN] → [REDACTED:EMAIL_ADDRESS]€ [REDACTED:CREDIT_CARD]"
        );
        let expected: MaskCounts = [("CREDIT_CARD", 2), ("EMAIL_ADDRESS", 1), ("US_SSN", 1)]
            .map(|(k, v)| (k.to_owned(), v))
            .into();
        assert_eq!(counts, expected);
    }

    #[test]
    fn nothing_matching_returns_none_and_counts_nothing() {
        let m = masker(json!({}));
        let (masked, counts) = mask_all(
            &m,
            "order 12345 shipped to 4 Main St, call 555-0100; 000-12-3456",
        );
        assert_eq!(masked, None);
        assert!(counts.is_empty());
    }

    #[test]
    fn overlapping_matches_keep_the_leftmost_longest_and_mask_once() {
        let m = masker(json!({"detectors":[
            {"name":"DIGITS4","pattern":"[0-9]{4}"},
            {"name":"MAIL_USER","pattern":"[a-z]+@"}]}));
        let (masked, counts) = mask_all(&m, "4111111111111111 bob@example.com");
        assert_eq!(
            masked.unwrap(),
            "[REDACTED:CREDIT_CARD] [REDACTED:EMAIL_ADDRESS]"
        );
        assert_eq!(counts.len(), 2, "{counts:?}");
        let (masked, _) = mask_all(&m, "pin 1234");
        assert_eq!(masked.unwrap(), "pin [REDACTED:DIGITS4]");
    }

    #[test]
    fn profiles_select_detectors_and_union_combines_them() {
        let m = masker(json!({
            "detectors":[{"name":"TICKET","pattern":"TCK-[0-9]+"}],
            "profiles":{"cards":{"detectors":["CREDIT_CARD"]},"tickets":{"detectors":["TICKET"]}},
            "default_profile":"cards"}));
        let text = "4111111111111111 TCK-42 a@b.io";
        let mut counts = MaskCounts::new();
        let cards = m.profile(None).unwrap();
        assert_eq!(m.profile(Some("cards")), Some(cards.clone()));
        assert_eq!(
            m.mask_str(&cards, text, &mut counts).unwrap(),
            "[REDACTED:CREDIT_CARD] TCK-42 a@b.io"
        );
        let mut both = cards;
        both.union(&m.profile(Some("tickets")).unwrap());
        assert_eq!(
            m.mask_str(&both, text, &mut counts).unwrap(),
            "[REDACTED:CREDIT_CARD] [REDACTED:TICKET] a@b.io"
        );
        assert!(m.has_profile("tickets") && !m.has_profile("nope"));
        assert_eq!(m.profile(Some("nope")), None);
    }

    #[test]
    fn default_without_profile_runs_every_detector() {
        let m = masker(
            json!({"detectors":[{"name":"TICKET","pattern":"TCK-[0-9]+"}],
            "profiles":{"none":{"detectors":[]}}}),
        );
        let (masked, _) = mask_all(&m, "TCK-1 a@b.io 123-45-6789");
        assert_eq!(
            masked.unwrap(),
            "[REDACTED:TICKET] [REDACTED:EMAIL_ADDRESS] [REDACTED:US_SSN]"
        );
        assert!(m.profile(Some("none")).unwrap().is_empty());
    }

    #[test]
    fn refuses_invalid_regex_with_its_path() {
        let e = config_error(json!({"detectors":[{"name":"BAD","pattern":"(unclosed"}]}));
        assert_eq!(e.path, "masking.detectors[0].pattern");
        assert!(e.message.starts_with("invalid regex"), "{e}");
    }

    #[test]
    fn refuses_pattern_matching_the_empty_string() {
        let e = config_error(json!({"detectors":[{"name":"ANY","pattern":"x*"}]}));
        assert_eq!(e.path, "masking.detectors[0].pattern");
    }

    #[test]
    fn refuses_bad_duplicate_and_built_in_names() {
        for (detectors, index) in [
            (json!([{"name":"api_key","pattern":"x"}]), 0),
            (json!([{"name":"API__KEY","pattern":"x"}]), 0),
            (json!([{"name":"_KEY","pattern":"x"}]), 0),
            (
                json!([{"name":"KEY","pattern":"x"},{"name":"KEY","pattern":"y"}]),
                1,
            ),
            (json!([{"name":"US_SSN","pattern":"x"}]), 0),
        ] {
            let e = config_error(json!({ "detectors": detectors }));
            assert_eq!(e.path, format!("masking.detectors[{index}].name"), "{e}");
        }
    }

    #[test]
    fn refuses_profile_naming_unknown_detector() {
        let e =
            config_error(json!({"profiles":{"pii":{"detectors":["US_SSN","EMAIL_ADDRESS","X"]}}}));
        assert_eq!(
            e.to_string(),
            r#"masking.profiles.pii.detectors[2]: unknown detector "X""#
        );
    }

    #[test]
    fn refuses_unknown_default_profile() {
        let e = config_error(json!({"default_profile":"pii"}));
        assert_eq!(
            e.to_string(),
            r#"masking.default_profile: unknown profile "pii""#
        );
    }
}
