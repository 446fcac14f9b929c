//! Masking: detectors of sensitive values and the rewriting of strings and JSON values.
//!
//! Twenty-three built-in detectors (personal identifiers and secrets; `docs/detectors.md` lists what
//! each matches and validates, `builtin.rs` their order) and operator-defined regex detectors
//! (`masking.detectors`, regex-lite syntax). A match is rendered per profile and detector (`redact`
//! `[REDACTED:<NAME>]`, `partial`, `hash`; see `render.rs`). When matches of the detectors of a set
//! overlap, the leftmost wins, then the longest, then the detector listed first (built-ins in table
//! order, then custom ones in configuration order); a replaced span is never scanned again.

mod blob;
mod block_mask;
mod builtin;
mod detectors;
mod escapes;
mod json;
mod personal;
mod prefilter;
mod render;
#[cfg(test)]
mod rows;
mod secrets;
mod specials;
pub(crate) mod stream;
mod twin;
mod wallets;

use std::collections::BTreeMap;

use regex_lite::Regex;
use smallvec::SmallVec;

use crate::config::MaskingConfig;
use crate::error::ConfigError;
use builtin::BUILT_INS;
use render::Render;

/// Payment card numbers: 13–19 digits, Luhn-valid.
pub const CREDIT_CARD: &str = "CREDIT_CARD";
/// US Social Security Numbers (`AAA-GG-SSSS` or `AAA GG SSSS`, issuable ranges).
pub const US_SSN: &str = "US_SSN";
/// E-mail addresses (dot-atom `local@domain.tld`).
pub const EMAIL_ADDRESS: &str = "EMAIL_ADDRESS";
/// US Individual Taxpayer Identification Numbers (`9XX-GG-SSSS`, IRS group ranges).
pub const US_ITIN: &str = "US_ITIN";
/// UK NHS numbers (3-3-4 digits, modulus 11).
pub const UK_NHS: &str = "UK_NHS";
/// IBANs (ISO 13616 country length and format, mod-97).
pub const IBAN_CODE: &str = "IBAN_CODE";
/// UK National Insurance numbers.
pub const UK_NINO: &str = "UK_NINO";
/// US passport numbers, near the word "passport".
pub const US_PASSPORT: &str = "US_PASSPORT";
/// Bitcoin (Base58Check, bech32/bech32m) and Ethereum addresses.
pub const CRYPTO_WALLET: &str = "CRYPTO_WALLET";
/// IPv4 and IPv6 addresses.
pub const IP_ADDRESS: &str = "IP_ADDRESS";
/// MAC-48 addresses.
pub const MAC_ADDRESS: &str = "MAC_ADDRESS";
/// Phone numbers (E.164, national formats with separators).
pub const PHONE_NUMBER: &str = "PHONE_NUMBER";
/// PEM private key blocks.
pub const PRIVATE_KEY: &str = "PRIVATE_KEY";
/// JSON Web Tokens (JWS compact serialization).
pub const JWT: &str = "JWT";
/// AWS access key ids and secret access keys next to their variable name.
pub const AWS_ACCESS_KEY: &str = "AWS_ACCESS_KEY";
/// GitHub tokens.
pub const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
/// GitLab tokens.
pub const GITLAB_TOKEN: &str = "GITLAB_TOKEN";
/// Slack tokens.
pub const SLACK_TOKEN: &str = "SLACK_TOKEN";
/// Stripe live secret and restricted keys.
pub const STRIPE_KEY: &str = "STRIPE_KEY";
/// Google API keys.
pub const GOOGLE_API_KEY: &str = "GOOGLE_API_KEY";
/// Anthropic API keys.
pub const ANTHROPIC_API_KEY: &str = "ANTHROPIC_API_KEY";
/// OpenAI API keys.
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
/// Values assigned to secret-looking names (`password=…`, `"api_key": "…"`).
pub const SECRET_ASSIGNMENT: &str = "SECRET_ASSIGNMENT";

/// Fewest bytes of the `hash` rendering's key.
const MIN_HASH_KEY_BYTES: usize = 16;

/// Masked values per detector name, e.g. `{"CREDIT_CARD": 2}`.
pub type MaskCounts = BTreeMap<String, u64>;

/// Masked values per detector index while masking (no lookup by name per match); named into
/// [`MaskCounts`] by [`Masker::add_tally`] once a message is done.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally(SmallVec<[(usize, u64); 4]>);

impl Tally {
    fn add(&mut self, detector: usize, n: u64) {
        match self.0.iter_mut().find(|(index, _)| *index == detector) {
            Some((_, count)) => *count += n,
            None => self.0.push((detector, n)),
        }
    }

    /// Adds the counts of `other` to these.
    fn extend(&mut self, other: &Tally) {
        for &(detector, n) in &other.0 {
            self.add(detector, n);
        }
    }
}

/// A set of detectors of one [`Masker`] (a profile, or the union of several), each with its
/// rendering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectorSet {
    /// Indices into the masker's detectors, ascending, without repeats, with their rendering.
    members: Vec<(usize, Render)>,
    /// Bit `i` set when built-in `i` (of `BUILT_INS`) is a member: an O(1) membership test for the
    /// scanners, which ask once per built-in per scanned string.
    built_ins: u32,
    /// The pre-scan triggers of the built-in members (see `prefilter.rs`).
    triggers: u32,
    /// Where the custom detectors start in `members` (built-ins come first).
    customs_from: usize,
    /// The rendering of each built-in member (by index into `BUILT_INS`; `Redact` for the others):
    /// looked up once per match.
    built_in_renders: [Render; BUILT_INS.len()],
}

impl DetectorSet {
    /// The set of `members` (ascending, without repeats).
    fn new(members: Vec<(usize, Render)>) -> Self {
        let mut set = DetectorSet {
            members,
            built_ins: 0,
            triggers: 0,
            customs_from: 0,
            built_in_renders: [Render::Redact; BUILT_INS.len()],
        };
        set.index_built_ins();
        set
    }

    /// Recomputes `built_ins`, `triggers`, `customs_from` and `built_in_renders` from `members`.
    fn index_built_ins(&mut self) {
        self.customs_from = self
            .members
            .partition_point(|&(index, _)| index < BUILT_INS.len());
        (self.built_ins, self.triggers) = (0, 0);
        for &(index, render) in &self.members[..self.customs_from] {
            self.built_ins |= 1 << index;
            self.triggers |= BUILT_INS[index].trigger;
            self.built_in_renders[index] = render;
        }
    }

    /// Adds the detectors of `other` (of the same [`Masker`]) to this set; a detector in both keeps
    /// the rendering that reveals less (`redact`, then `hash`, then `partial` keeping fewer
    /// characters).
    pub fn union(&mut self, other: &DetectorSet) {
        for &(index, render) in &other.members {
            match self.members.binary_search_by_key(&index, |&(i, _)| i) {
                Ok(at) => self.members[at].1 = self.members[at].1.stricter(render),
                Err(at) => self.members.insert(at, (index, render)),
            }
        }
        self.index_built_ins();
    }

    /// Whether the set has no detector (masking with it changes nothing).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn render_of(&self, index: usize) -> Option<Render> {
        if index < BUILT_INS.len() {
            return self.contains(index).then(|| self.built_in_renders[index]);
        }
        let customs = self.customs();
        customs
            .binary_search_by_key(&index, |&(i, _)| i)
            .ok()
            .map(|at| customs[at].1)
    }

    /// The custom (regex) detectors of the set: members are ascending, built-ins first.
    fn customs(&self) -> &[(usize, Render)] {
        &self.members[self.customs_from..]
    }

    fn contains(&self, index: usize) -> bool {
        match u32::try_from(index) {
            Ok(bit) if index < BUILT_INS.len() => self.built_ins & (1 << bit) != 0,
            _ => self.render_of(index).is_some(),
        }
    }
}

/// One compiled detector.
#[derive(Debug)]
struct Detector {
    name: String,
    /// `None` for the built-ins (scanned by hand), the compiled pattern for a custom detector.
    pattern: Option<Regex>,
    /// The literal every match of `pattern` starts with, when one can be derived (see
    /// `prefilter::required_literal`).
    literal: Option<String>,
}

/// The compiled `masking` configuration: detectors, named profiles and the `hash` key.
#[derive(Debug)]
pub struct Masker {
    detectors: Vec<Detector>,
    profiles: BTreeMap<String, DetectorSet>,
    default: DetectorSet,
    /// Key of the `hash` rendering (empty when no profile renders `hash`).
    hash_key: HashKey,
}

/// The `hash` rendering's key; its `Debug` never shows it.
struct HashKey(Vec<u8>);

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HashKey({} bytes)", self.0.len())
    }
}

/// How [`Masker::mask_into`] writes the masked text: as is, or as a JSON string.
#[derive(Clone, Copy)]
enum Written {
    Text,
    Json,
}

impl Written {
    /// A quote opening or closing a JSON string (nothing for plain text).
    fn quote(self, out: &mut String) {
        if let Written::Json = self {
            out.push('"');
        }
    }

    fn push(self, out: &mut String, text: &str) {
        match self {
            Written::Text => out.push_str(text),
            Written::Json => json::push_escaped(out, text),
        }
    }

    /// Escapes `out[from..]`, just written unescaped (a rendering: only `partial` can hold
    /// characters JSON escapes).
    fn escape_from(self, out: &mut String, from: usize) {
        if let Written::Json = self {
            if escapes::find(&out.as_bytes()[from..]).is_some() {
                let rendered = out.split_off(from);
                json::push_escaped(out, &rendered);
            }
        }
    }
}

/// The matches found in one string (rarely more than a few).
type Spans = SmallVec<[Span; 4]>;

/// A match: byte span in the scanned text and the index of its detector.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    detector: usize,
}

impl Masker {
    /// [`Masker::from_config_with_env`] without a VM environment: a profile rendering `hash` is
    /// refused (its key cannot be read).
    ///
    /// # Errors
    /// As [`Masker::from_config_with_env`].
    pub fn from_config(config: &MaskingConfig, path: &str) -> Result<Masker, ConfigError> {
        Self::from_config_with_env(config, path, &|_| None)
    }

    /// Compiles the built-in and custom detectors and the profiles; `path` is the JSON path of
    /// `config` in the plugin configuration (`"masking"`), used in errors; `env` reads a variable of
    /// the VM environment (for the `hash` key named by `masking.hash_key_env`).
    ///
    /// # Errors
    /// A [`ConfigError`] located at the offending value: a custom name that is not `UPPER_SNAKE_CASE`,
    /// repeats another or a built-in name (`masking.detectors[1].name: ...`); an invalid pattern or one
    /// that matches the empty string (`masking.detectors[0].pattern: ...`); a profile naming an unknown
    /// detector (`masking.profiles.pii.detectors[2]: unknown detector "X"`); a per-detector rendering
    /// for a detector the profile does not run (`masking.profiles.pii.render_detectors.X`); a `hash`
    /// rendering without `hash_key_env`, or whose variable is unset or shorter than 16 bytes
    /// (`masking.hash_key_env`); an unknown `default_profile`.
    pub fn from_config_with_env(
        config: &MaskingConfig,
        path: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Masker, ConfigError> {
        let at = |member: &str| {
            if path.is_empty() {
                member.to_owned()
            } else {
                format!("{path}.{member}")
            }
        };
        let mut detectors: Vec<Detector> = BUILT_INS
            .iter()
            .map(|built_in| Detector::new(built_in.name, None))
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
            if BUILT_INS.iter().any(|b| b.name == custom.name) {
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
        let mut hash_user = None;
        for (profile, profile_config) in &config.profiles {
            let position = |name: &str| detectors.iter().position(|d| d.name == name);
            let render = Render::from_config(&profile_config.render);
            let mut members = Vec::with_capacity(profile_config.detectors.len());
            for (i, name) in profile_config.detectors.iter().enumerate() {
                let index = position(name).ok_or_else(|| {
                    ConfigError::new(
                        at(&format!("profiles.{profile}.detectors[{i}]")),
                        format!("unknown detector {name:?}"),
                    )
                })?;
                members.push((index, render));
            }
            members.sort_unstable_by_key(|&(i, _)| i);
            members.dedup_by_key(|&mut (i, _)| i);
            for (name, render_config) in &profile_config.render_detectors {
                let member = position(name)
                    .and_then(|index| members.iter_mut().find(|(i, _)| *i == index))
                    .ok_or_else(|| {
                        ConfigError::new(
                            at(&format!("profiles.{profile}.render_detectors.{name}")),
                            format!("{name:?} is not a detector of this profile's `detectors`"),
                        )
                    })?;
                member.1 = Render::from_config(render_config);
            }
            if members.iter().any(|&(_, r)| r == Render::Hash) {
                hash_user.get_or_insert_with(|| profile.clone());
            }
            profiles.insert(profile.clone(), DetectorSet::new(members));
        }
        let hash_key = match hash_user {
            Some(profile) => HashKey(hash_key(config, &at("hash_key_env"), &profile, env)?),
            None => HashKey(Vec::new()),
        };
        let default = match &config.default_profile {
            Some(name) => profiles.get(name).cloned().ok_or_else(|| {
                ConfigError::new(at("default_profile"), format!("unknown profile {name:?}"))
            })?,
            None => DetectorSet::new((0..detectors.len()).map(|i| (i, Render::Redact)).collect()),
        };
        Ok(Masker {
            detectors,
            profiles,
            default,
            hash_key,
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

    /// Masks the matches of `set`'s detectors in `text`, rendering each as the set says and adding
    /// one to `counts[detector name]` per replaced match. `None` (and no allocation) when nothing
    /// matched.
    pub fn mask_str(
        &self,
        set: &DetectorSet,
        text: &str,
        counts: &mut MaskCounts,
    ) -> Option<String> {
        let mut tally = Tally::default();
        let masked = self.mask_str_tally(set, text, &mut tally);
        self.add_tally(&tally, counts);
        masked
    }

    /// [`Masker::mask_str`] counting into a [`Tally`].
    fn mask_str_tally(&self, set: &DetectorSet, text: &str, tally: &mut Tally) -> Option<String> {
        self.mask_into(set, text, tally, Written::Text)
    }

    /// Adds `tally` to `counts`, by detector name.
    pub(crate) fn add_tally(&self, tally: &Tally, counts: &mut MaskCounts) {
        for &(detector, n) in &tally.0 {
            let name = &self.detectors[detector].name;
            match counts.get_mut(name) {
                Some(count) => *count += n,
                None => {
                    counts.insert(name.clone(), n);
                }
            }
        }
    }

    /// [`Masker::mask_str`] written as a JSON string (quotes included, escaped as `serde_json`
    /// escapes), in one allocation.
    fn mask_str_json(&self, set: &DetectorSet, text: &str, tally: &mut Tally) -> Option<String> {
        self.mask_into(set, text, tally, Written::Json)
    }

    fn mask_into(
        &self,
        set: &DetectorSet,
        text: &str,
        tally: &mut Tally,
        written: Written,
    ) -> Option<String> {
        let spans = self.find(set, text);
        if spans.is_empty() {
            return None;
        }
        let mut masked = String::with_capacity(text.len() + 32);
        written.quote(&mut masked);
        let mut copied = 0;
        for span in spans {
            written.push(&mut masked, &text[copied..span.start]);
            let rendered_at = masked.len();
            self.render(set, span.detector, &text[span.start..span.end], &mut masked);
            written.escape_from(&mut masked, rendered_at);
            copied = span.end;
            tally.add(span.detector, 1);
        }
        written.push(&mut masked, &text[copied..]);
        written.quote(&mut masked);
        Some(masked)
    }

    /// Writes the rendering of `value`, a match of detector `index` of `set`, to `out`.
    fn render(&self, set: &DetectorSet, index: usize, value: &str, out: &mut String) {
        let render = set.render_of(index).unwrap_or(Render::Redact);
        render::render(
            render,
            &self.detectors[index].name,
            value,
            &self.hash_key.0,
            out,
        );
    }

    /// Whether a detector of `set` may match in the text `bytes` decode to (as a JSON text, a JSON
    /// string's raw content, or plain text); `false` proves that masking them changes nothing. See
    /// `prefilter.rs` for the (conservative) rules.
    pub fn may_match(&self, set: &DetectorSet, bytes: &[u8]) -> bool {
        self.triggers(set).may_match(bytes)
    }

    /// [`Masker::may_match`] for `text` as it is, no escape or blob decoded (an object member's name
    /// as the JSON walker hands it).
    fn may_match_unescaped(&self, set: &DetectorSet, text: &str) -> bool {
        if set.customs().is_empty() {
            // Built-ins only (the common case, asked once per member name): no literals to gather.
            return prefilter::fired(text.as_bytes(), set.triggers, true) != 0;
        }
        self.triggers(set).may_match_unescaped(text.as_bytes())
    }

    /// The pre-scan's triggers of `set`'s detectors.
    fn triggers(&self, set: &DetectorSet) -> prefilter::Triggers<'_> {
        let mut triggers = prefilter::Triggers {
            wanted: set.triggers,
            any_detector: !set.is_empty(),
            ..prefilter::Triggers::default()
        };
        for &(index, _) in set.customs() {
            match &self.detectors[index].literal {
                Some(literal) => triggers.literals.push(literal),
                None => triggers.opaque = true,
            }
        }
        triggers
    }

    /// Whether a detector of `set` matches somewhere in `text` (nothing is counted).
    fn matches(&self, set: &DetectorSet, text: &str) -> bool {
        !self.find(set, text).is_empty()
    }

    /// The non-overlapping matches to replace, in text order.
    fn find(&self, set: &DetectorSet, text: &str) -> Spans {
        let mut spans = Spans::new();
        let bytes = text.as_bytes();
        let fired = prefilter::fired(bytes, set.triggers, false);
        if fired != 0 {
            builtin::scan(bytes, fired, set.built_ins, &mut |start, end, detector| {
                spans.push(Span {
                    start,
                    end,
                    detector,
                });
            });
        }
        for &(detector, _) in set.customs() {
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

/// The `hash` key: the value of the variable `masking.hash_key_env` names.
fn hash_key(
    config: &MaskingConfig,
    path: &str,
    profile: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<u8>, ConfigError> {
    let Some(variable) = &config.hash_key_env else {
        return Err(ConfigError::new(
            path,
            format!(
                "profile {profile:?} renders `hash`: name the VM environment variable holding the \
                 HMAC key here"
            ),
        ));
    };
    let key = env(variable).ok_or_else(|| {
        ConfigError::new(
            path,
            format!("environment variable {variable:?} (the `hash` key) is not set"),
        )
    })?;
    if key.len() < MIN_HASH_KEY_BYTES {
        return Err(ConfigError::new(
            path,
            format!(
                "environment variable {variable:?} holds {} bytes; the `hash` key needs at least \
                 {MIN_HASH_KEY_BYTES}",
                key.len()
            ),
        ));
    }
    Ok(key.into_bytes())
}

/// Keeps, left to right, the leftmost then longest then first-listed span, dropping those it overlaps.
fn leftmost_longest(spans: &mut Spans) {
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
