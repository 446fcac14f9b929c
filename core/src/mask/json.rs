//! Masking of JSON values: every string and number leaf, and JSON text nested inside strings.
//!
//! Two paths with the same result: [`Masker::mask_value`] over a `serde_json::Value` (the reference),
//! and [`Masker::mask_leaf`], the callback of the streaming [`JsonWalker`] that rewrites only the
//! leaves that match and keeps every other byte (used by `response.rs`; it declines with
//! [`Unsupported`] whatever it does not handle, and the caller then takes the `Value` path).

use serde_json::Value;

use super::render::HEX;
use super::stream::{JsonWalker, Leaf, LeafResult, Unsupported, Visitor};
use super::twin::Twin;
use super::{builtin, escapes, secrets, DetectorSet, MaskCounts, Masker, Tally};
use crate::jsonrpc::parse_strict;

impl Masker {
    /// Masks every string leaf (after JSON unescaping — they are `Value::String`s) and every number
    /// leaf whose decimal text a detector matches (the number becomes the masked string), at any
    /// depth. A string whose text is itself a JSON object or array (parsed as strictly as a request
    /// body) is masked inside and replaced by the re-serialized (compact) JSON when something
    /// changed; one that does not parse strictly is masked as plain text. Object member names are
    /// masked like string leaves (see [`Masker::mask_member_names`]).
    ///
    /// Adds one to `counts[detector name]` per masked value. Returns whether anything changed.
    pub fn mask_value(
        &self,
        set: &DetectorSet,
        value: &mut Value,
        counts: &mut MaskCounts,
    ) -> bool {
        let mut tally = Tally::default();
        let changed = self.mask_value_tally(set, value, &mut tally);
        self.add_tally(&tally, counts);
        changed
    }

    /// [`Masker::mask_value`] counting into a [`Tally`].
    fn mask_value_tally(&self, set: &DetectorSet, value: &mut Value, tally: &mut Tally) -> bool {
        match value {
            Value::String(text) => match self.mask_string_leaf(set, text, tally) {
                Some(masked) => {
                    *text = masked;
                    true
                }
                None => false,
            },
            Value::Number(number) => match self.mask_number(set, number, tally) {
                Some(masked) => {
                    *value = Value::String(masked);
                    true
                }
                None => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
                self.mask_value_tally(set, item, tally) | changed
            }),
            Value::Object(members) => {
                let mut changed = self.mask_text_blob(set, members, tally);
                for (name, item) in members.iter_mut() {
                    changed |= self.mask_secret_member(set, name, item, tally)
                        || self.mask_value_tally(set, item, tally);
                }
                self.mask_member_names(set, members, tally) | changed
            }
            Value::Null | Value::Bool(_) => false,
        }
    }

    /// Masks the whole string `value` of a member whose `name` makes it a secret (see
    /// `secrets::assigned`): `AWS_ACCESS_KEY` for an AWS secret access key, else
    /// `SECRET_ASSIGNMENT`, when the set has that detector. Returns whether it did.
    fn mask_secret_member(
        &self,
        set: &DetectorSet,
        name: &str,
        value: &mut Value,
        tally: &mut Tally,
    ) -> bool {
        let Value::String(text) = value else {
            return false;
        };
        let index = match secrets::assigned(name.as_bytes(), text) {
            Some(secrets::Assigned::AwsSecret) if set.contains(builtin::AWS_KEY) => {
                builtin::AWS_KEY
            }
            Some(_) if set.contains(builtin::SECRET) => builtin::SECRET,
            _ => return false,
        };
        let mut masked = String::new();
        self.render(set, index, text, &mut masked);
        *text = masked;
        tally.add(index, 1);
        true
    }

    /// Masks the member names of one object in place, keeping member order. A masked name that would
    /// equal another member's name gets a suffix ` (2)`, ` (3)`, … so that no member is lost and the
    /// object keeps unique names (RFC 8259 §4). Returns whether a name changed.
    fn mask_member_names(
        &self,
        set: &DetectorSet,
        members: &mut serde_json::Map<String, Value>,
        tally: &mut Tally,
    ) -> bool {
        if !members
            .keys()
            .any(|name| self.may_match(set, name.as_bytes()))
        {
            return false;
        }
        let renamed: Vec<(String, Value, bool)> = std::mem::take(members)
            .into_iter()
            .map(
                |(name, value)| match self.mask_str_tally(set, &name, tally) {
                    Some(masked) => (masked, value, true),
                    None => (name, value, false),
                },
            )
            .collect();
        let kept: std::collections::HashSet<String> = renamed
            .iter()
            .filter(|(_, _, masked)| !masked)
            .map(|(name, _, _)| name.clone())
            .collect();
        let mut changed = false;
        for (name, value, masked) in renamed {
            let name = if masked {
                changed = true;
                let mut candidate = name.clone();
                let mut n = 2;
                while kept.contains(&candidate) || members.contains_key(&candidate) {
                    candidate = format!("{name} ({n})");
                    n += 1;
                }
                candidate
            } else {
                name
            };
            members.insert(name, value);
        }
        changed
    }

    /// The [`Visitor`] a [`JsonWalker`] hands one message's leaves to: masks them with `set`, counts
    /// into `tally` and remembers JSON text masked inside strings in `twin` (see `twin.rs`).
    pub(crate) fn leaf_masker<'m>(
        &'m self,
        set: &'m DetectorSet,
        tally: &'m mut Tally,
        twin: &'m mut Option<Twin>,
    ) -> LeafMasker<'m> {
        LeafMasker {
            masker: self,
            set,
            tally,
            twin,
        }
    }

    /// The streaming counterpart of [`Masker::mask_value`] for one leaf handed by a [`JsonWalker`]:
    /// the JSON text replacing it when a detector matched (a JSON string), `None` when it stays.
    /// Masks exactly what `mask_value` masks and counts the same; JSON text nested in a string is
    /// walked the same way (its unchanged bytes kept), or through the `Value` path when the walker
    /// declines it.
    ///
    /// # Errors
    /// [`Unsupported`] for a number `serde_json` would not read (out of range), and for a member name a
    /// detector matches.
    fn mask_leaf(
        &self,
        set: &DetectorSet,
        leaf: Leaf<'_>,
        tally: &mut Tally,
        twin: &mut Option<Twin>,
    ) -> LeafResult {
        match leaf {
            Leaf::Number(raw) if is_plain_integer(raw) => Ok(self.mask_str_json(set, raw, tally)),
            Leaf::Number(raw) => {
                let number: serde_json::Number =
                    serde_json::from_str(raw).map_err(|_| Unsupported)?;
                Ok(self
                    .mask_number(set, &number, tally)
                    .map(|t| json_string(&t)))
            }
            // A member name a detector matches is renamed by the `Value` path, which sees the
            // whole object (and keeps renamed names unique).
            // So are text blobs and the values of secret-named members (the `Value` path sees the
            // member's siblings and name).
            Leaf::Key(name) => {
                let secret_name = (set.contains(builtin::SECRET) || set.contains(builtin::AWS_KEY))
                    && secrets::is_secret_name(name.as_bytes());
                if name == "blob"
                    || secret_name
                    || (self.may_match_unescaped(set, name) && self.matches(set, name))
                {
                    return Err(Unsupported);
                }
                Ok(None)
            }
            Leaf::Str { raw, escaped } => {
                if escaped && !self.may_match(set, raw.as_bytes()) {
                    return Ok(None);
                }
                let text = Leaf::unescape(raw, escaped);
                if !is_nested_json(&text) {
                    return Ok(self.mask_str_json(set, &text, tally));
                }
                Ok(self
                    .mask_nested_leaf(set, &text, tally, twin)
                    .map(|t| json_string(&t)))
            }
        }
    }

    /// [`Masker::mask_string_leaf`] of a string holding JSON text ([`is_nested_json`]), walked by a
    /// [`JsonWalker`] when it can be (and then remembered as a [`Twin`]).
    fn mask_nested_leaf(
        &self,
        set: &DetectorSet,
        text: &str,
        tally: &mut Tally,
        twin: &mut Option<Twin>,
    ) -> Option<String> {
        let mut nested = Tally::default();
        let mut walker = JsonWalker::new(text);
        let walked = walker
            .value(&mut self.leaf_masker(set, &mut nested, twin))
            .and_then(|()| {
                let deepest = walker.deepest();
                walker.finish().map(|masked| (masked, deepest))
            });
        match walked {
            Ok((masked, deepest)) => {
                Twin::offer(twin, text, deepest, masked.as_ref(), &nested);
                tally.extend(&nested);
                masked
            }
            Err(Unsupported) => self.mask_string_leaf(set, text, tally),
        }
    }

    pub(super) fn mask_string_leaf(
        &self,
        set: &DetectorSet,
        text: &str,
        tally: &mut Tally,
    ) -> Option<String> {
        if is_nested_json(text) {
            if let Ok(mut nested) = parse_strict(text.as_bytes()) {
                return self
                    .mask_value_tally(set, &mut nested, tally)
                    .then(|| nested.to_string());
            }
        }
        self.mask_str_tally(set, text, tally)
    }

    fn mask_number(
        &self,
        set: &DetectorSet,
        number: &serde_json::Number,
        tally: &mut Tally,
    ) -> Option<String> {
        use std::io::Write;
        // Format on the stack: numbers are frequent and rarely match.
        let mut buffer = [0u8; 64];
        let mut cursor = std::io::Cursor::new(&mut buffer[..]);
        if write!(cursor, "{number}").is_ok() {
            let len = usize::try_from(cursor.position()).unwrap_or(0);
            if let Ok(text) = std::str::from_utf8(&buffer[..len]) {
                return self.mask_str_tally(set, text, tally);
            }
        }
        self.mask_str_tally(set, &number.to_string(), tally)
    }
}

/// The leaf callback of the streaming rewriter for one message ([`Masker::leaf_masker`]).
pub(crate) struct LeafMasker<'m> {
    masker: &'m Masker,
    set: &'m DetectorSet,
    tally: &'m mut Tally,
    twin: &'m mut Option<Twin>,
}

impl<'a> Visitor<'a> for LeafMasker<'_> {
    fn leaf(&mut self, leaf: Leaf<'a>) -> LeafResult {
        self.masker.mask_leaf(self.set, leaf, self.tally, self.twin)
    }

    fn known_value(&mut self, rest: &str, depth: usize) -> Option<(usize, Option<String>)> {
        Twin::known(self.twin, rest, depth, self.tally)
    }
}

/// Whether a string leaf may hold JSON text to mask inside: it starts with `{` or `[` after JSON
/// whitespace (RFC 8259 §2; other whitespace would fail the strict parse anyway).
fn is_nested_json(text: &str) -> bool {
    matches!(
        text.bytes()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')),
        Some(b'{' | b'[')
    )
}

/// `text` as a JSON string: quoted, escaped as `serde_json` escapes it.
fn json_string(text: &str) -> String {
    // Room for an escape every eight bytes (JSON text nested in a string has many quotes).
    let mut out = String::with_capacity(text.len() + text.len() / 8 + 2);
    out.push('"');
    push_escaped(&mut out, text);
    out.push('"');
    out
}

/// Appends `text` escaped as the contents of a JSON string, exactly as `serde_json` writes it: `\"`,
/// `\\\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other control characters as `\u00XX`; everything else
/// (`/`, non-ASCII) as is.
pub(super) fn push_escaped(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut escapes = escapes::Cursor::new(bytes);
    while let Some(at) = escapes.next_from(copied) {
        let byte = bytes[at];
        out.push_str(&text[copied..at]);
        copied = at + 1;
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
    }
    out.push_str(&text[copied..]);
}

/// `-?(0|[1-9][0-9]*)` of at most 18 digits (not `-0`): `serde_json` reads it as an `i64`/`u64` whose
/// decimal text is the same bytes.
fn is_plain_integer(raw: &str) -> bool {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ((digits == "0" && raw.len() == 1) || !digits.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MaskingConfig;
    use serde_json::json;

    fn masker() -> Masker {
        let config: MaskingConfig = serde_json::from_value(
            json!({"detectors":[{"name":"API_KEY","pattern":"sk-[a-z0-9]{8}"}]}),
        )
        .unwrap();
        Masker::from_config(&config, "masking").unwrap()
    }

    fn mask(value: &mut Value) -> (bool, MaskCounts) {
        let m = masker();
        let set = m.profile(None).unwrap();
        let mut counts = MaskCounts::new();
        let changed = m.mask_value(&set, value, &mut counts);
        (changed, counts)
    }

    #[test]
    fn masks_string_leaves_at_every_depth_and_counts_them() {
        let mut value = json!({"result":{"content":[{"type":"text","text":"card 4111 1111 1111 1111"}],
            "structuredContent":{"owner":{"email":"jane@example.com","ssn":"123-45-6789"},"key":"sk-abcd1234"}}});
        let (changed, counts) = mask(&mut value);
        assert!(changed);
        assert_eq!(
            value,
            json!({"result":{"content":[{"type":"text","text":"card [REDACTED:CREDIT_CARD]"}],
                "structuredContent":{"owner":{"email":"[REDACTED:EMAIL_ADDRESS]","ssn":"[REDACTED:US_SSN]"},"key":"[REDACTED:API_KEY]"}}})
        );
        let expected: MaskCounts = [
            ("API_KEY", 1),
            ("CREDIT_CARD", 1),
            ("EMAIL_ADDRESS", 1),
            ("US_SSN", 1),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into();
        assert_eq!(counts, expected);
    }

    #[test]
    fn masks_escaped_text_as_the_client_decodes_it() {
        let mut value =
            serde_json::from_str::<Value>(r#"{"t":"\u0034111111111111111 \u006aane@example.com"}"#)
                .unwrap();
        mask(&mut value);
        assert_eq!(
            value,
            json!({"t":"[REDACTED:CREDIT_CARD] [REDACTED:EMAIL_ADDRESS]"})
        );
    }

    #[test]
    fn masks_number_leaves_by_replacing_them_with_strings() {
        let mut value =
            json!({"pan": 4111111111111111u64, "count": 4, "neg": -5555555555554444i64, "f": 1.5});
        let (changed, counts) = mask(&mut value);
        assert!(changed);
        assert_eq!(
            value,
            json!({"pan":"[REDACTED:CREDIT_CARD]","count":4,"neg":"-[REDACTED:CREDIT_CARD]","f":1.5})
        );
        assert_eq!(counts["CREDIT_CARD"], 2);
    }

    #[test]
    fn masks_json_text_nested_inside_strings() {
        let inner = json!({"user":{"email":"a@b.io"},"n":1}).to_string();
        let doubly = json!({"wrapped": json!([inner.clone()]).to_string()});
        let mut value = json!({"text": inner, "deep": doubly.to_string()});
        let (_, counts) = mask(&mut value);
        assert_eq!(
            value["text"],
            json!({"user":{"email":"[REDACTED:EMAIL_ADDRESS]"},"n":1}).to_string()
        );
        let deep: Value = serde_json::from_str(value["deep"].as_str().unwrap()).unwrap();
        let wrapped: Value = serde_json::from_str(deep["wrapped"].as_str().unwrap()).unwrap();
        let innermost: Value = serde_json::from_str(wrapped[0].as_str().unwrap()).unwrap();
        assert_eq!(innermost["user"]["email"], "[REDACTED:EMAIL_ADDRESS]");
        assert_eq!(counts["EMAIL_ADDRESS"], 2);
    }

    #[test]
    fn nested_json_with_duplicate_keys_is_masked_as_plain_text() {
        let text = r#"{"a":"4111111111111111","a":"x"}"#;
        let mut value = json!({ "t": text });
        mask(&mut value);
        assert_eq!(value["t"], r#"{"a":"[REDACTED:CREDIT_CARD]","a":"x"}"#);
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut text: String = (0u8..0x80).map(char::from).collect();
        text.push_str("é€😀\u{7f}/");
        for sample in [text.as_str(), "", "plain", "\"quoted\"", "a\\b"] {
            assert_eq!(json_string(sample), serde_json::to_string(sample).unwrap());
        }
    }

    #[test]
    fn a_masked_leaf_is_the_json_string_of_the_masked_text() {
        let m = masker();
        let set = m.profile(None).unwrap();
        for text in [
            "card 4111111111111111\n\"quoted\" \\ tab\t",
            "\u{1}jane@example.com",
        ] {
            let json = m.mask_str_json(&set, text, &mut Tally::default()).unwrap();
            let plain = m.mask_str(&set, text, &mut MaskCounts::new()).unwrap();
            assert_eq!(json, serde_json::to_string(&plain).unwrap());
        }
        // A `partial` rendering keeps characters of the value, here quotes JSON must escape.
        let config: MaskingConfig = serde_json::from_value(json!({
            "detectors": [{"name": "QUOTED", "pattern": "[0-9]{4}\"x\""}],
            "profiles": {"p": {"detectors": ["QUOTED"], "render": {"mode": "partial"}}}
        }))
        .unwrap();
        let m = Masker::from_config(&config, "masking").unwrap();
        let set = m.profile(Some("p")).unwrap();
        let json = m
            .mask_str_json(&set, "id 1234\"x\"", &mut Tally::default())
            .unwrap();
        let plain = m
            .mask_str(&set, "id 1234\"x\"", &mut MaskCounts::new())
            .unwrap();
        assert!(plain.ends_with("\"x\""), "{plain}");
        assert_eq!(json, serde_json::to_string(&plain).unwrap());
    }

    #[test]
    fn unchanged_nested_json_keeps_its_original_formatting() {
        let text = "{ \"a\" : [1, 2] }";
        let mut value = json!({ "t": text });
        let (changed, counts) = mask(&mut value);
        assert!(!changed);
        assert!(counts.is_empty());
        assert_eq!(value["t"], text);
    }
}
