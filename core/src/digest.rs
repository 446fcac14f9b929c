//! RFC 8785 (JSON Canonicalization Scheme, JCS) and the SHA-256 digests built on it.
//!
//! Approval grants are bound to `SHA-256(JCS({sub, upstream, tool, arguments}))`, so two JSON texts
//! that mean the same call (member order, whitespace, `1e2` vs `100`, `"\u0061"` vs `"a"`) get the same
//! digest, and any change to the call changes it. Canonicalization is done by the
//! `serde_json_canonicalizer` crate: object members sorted by their UTF-16 code units (RFC 8785
//! §3.2.3), numbers in ECMAScript `Number.prototype.toString` form (§3.2.2.3), strings with the
//! minimal escaping of §3.2.2.2, no whitespace.

use sha2::{Digest, Sha256};

/// The RFC 8785 canonical JSON text of `value`.
///
/// Numbers are IEEE-754 doubles in JCS, so integers beyond ±2^53 lose precision exactly as they would
/// in any other JCS implementation (RFC 8785 §3.2.2.3, I-JSON RFC 7493 §2.2).
pub fn canonical_json(value: &serde_json::Value) -> String {
    match serde_json_canonicalizer::to_string(value) {
        Ok(text) => text,
        // The canonicalizer fails only on NaN/±Infinity, non-string keys and duplicate keys, none of
        // which a `serde_json::Value` can hold; should that ever change, fall back to serde_json's
        // compact text (still deterministic for one value) rather than to a shared constant that
        // would make different calls collide.
        Err(_) => value.to_string(),
    }
}

/// Lower-case hexadecimal SHA-256 (FIPS 180-4) of the UTF-8 bytes of [`canonical_json`]`(value)`:
/// 64 characters.
pub fn sha256_hex_of_canonical(value: &serde_json::Value) -> String {
    lower_hex(&Sha256::digest(canonical_json(value).as_bytes()))
}

/// `bytes` as lower-case hexadecimal, two characters per byte.
pub fn lower_hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn canon(text: &str) -> String {
        canonical_json(&serde_json::from_str(text).unwrap())
    }

    #[test]
    fn rfc8785_section_3_2_2_example_is_canonicalized_byte_for_byte() {
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        let expected = concat!(
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"#,
            r#""string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
        assert_eq!(canon(input), expected);
    }

    #[test]
    fn members_are_sorted_by_utf16_code_units_as_in_rfc8785_section_3_2_3() {
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let expected = concat!(
            r#"{"\r":"Carriage Return","1":"One","#,
            "\"\u{80}\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",",
            "\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",",
            "\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
        assert_eq!(canon(input), expected);
    }

    #[test]
    fn numbers_use_ecmascript_formatting() {
        assert_eq!(
            canon("[1e2, -0, 0.1, 1e21, 1e-7, 123456789012, 5e-324]"),
            "[100,0,0.1,1e+21,1e-7,123456789012,5e-324]"
        );
    }

    #[test]
    fn nested_objects_are_sorted_at_every_depth() {
        assert_eq!(
            canonical_json(&json!({"b": {"z": 1, "a": [{"y": 2, "x": 1}]}, "a": null})),
            r#"{"a":null,"b":{"a":[{"x":1,"y":2}],"z":1}}"#
        );
    }

    #[test]
    fn equivalent_json_texts_share_a_digest_and_different_ones_do_not() {
        let a = serde_json::from_str(r#"{"tool":"t","arguments":{"n":100,"s":"a"}}"#).unwrap();
        let b = serde_json::from_str(r#"{ "arguments" : {"s":"\u0061","n":1e2}, "tool":"t" }"#)
            .unwrap();
        let c = serde_json::from_str(r#"{"tool":"t","arguments":{"n":101,"s":"a"}}"#).unwrap();
        assert_eq!(sha256_hex_of_canonical(&a), sha256_hex_of_canonical(&b));
        assert_ne!(sha256_hex_of_canonical(&a), sha256_hex_of_canonical(&c));
    }

    #[test]
    fn digest_is_lowercase_hex_sha256_of_the_canonical_text() {
        // SHA-256("{}") from FIPS 180-4 tooling (`printf '{}' | sha256sum`).
        assert_eq!(
            sha256_hex_of_canonical(&json!({})),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
