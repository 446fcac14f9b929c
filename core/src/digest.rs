//! Canonical JSON and the SHA-256 digests built on it.
//!
//! Approval grants are bound to `SHA-256(canonical({iss, sub, upstream, tool, arguments}))`, so two
//! JSON texts that mean the same call (member order, whitespace, `1e2` vs `100`, `"\u0061"` vs `"a"`)
//! get the same digest, and any change to the call changes it.
//!
//! # Canonical form
//! RFC 8785 (JSON Canonicalization Scheme, JCS) with one deliberate difference, for numbers:
//! - object members sorted by their UTF-16 code units (RFC 8785 §3.2.3), at every depth;
//! - strings with the minimal escaping of RFC 8785 §3.2.2.2 (`\"`, `\\`, `\b \f \n \r \t`, other
//!   controls as lower-case `\u00xx`, everything else as UTF-8);
//! - `null`, `true`, `false`, no whitespace;
//! - **numbers as their exact decimal value**, laid out as ECMAScript `Number::toString` lays out
//!   digits (ECMA-262 §6.1.6.1.20, the layout RFC 8785 §3.2.2.3 uses): the significant digits with
//!   no leading or trailing zeros, plain when the decimal point falls within 21 digits
//!   (`100`, `0.002`, `1234567890123456789`), else `d.ddde±n` (`1e+30`, `1e-27`). RFC 8785 itself
//!   first converts every number to an IEEE-754 double, so `1234567890123456768` and
//!   `1234567890123456789` would both become `1234567890123456800` and share a digest although an
//!   MCP server decoding 64-bit integers sees two different calls. Here integers in the 64-bit range
//!   keep every digit; for every number a double holds exactly, the output is JCS's byte for byte.
//!
//! What the JSON parser keeps bounds what can be kept: `serde_json` (without its
//! `arbitrary_precision` feature, which would change number equality across Warden) holds integers
//! in `i64`/`u64` exactly, and numbers with a fraction or an exponent, or integers beyond the 64-bit
//! range, as the nearest double. Two such texts that round to the same double (`0.1` and
//! `0.10000000000000000001`) therefore share a digest.

use std::cmp::Ordering;

use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

/// The canonical JSON text of `value` (see the [module documentation](self)).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&canonical_number(n)),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|(a, _), (b, _)| utf16_order(a, b));
            out.push('{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

/// RFC 8785 §3.2.3: member names compared as arrays of UTF-16 code units.
fn utf16_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// RFC 8785 §3.2.2.2 escaping, which is what `serde_json` writes for a string.
fn write_string(s: &str, out: &mut String) {
    // Serializing a `&str` cannot fail; the fallback keeps the output deterministic regardless.
    match serde_json::to_string(s) {
        Ok(text) => out.push_str(&text),
        Err(_) => out.push_str(&format!("{s:?}")),
    }
}

/// The exact decimal value of `n` in ECMAScript `Number::toString` layout.
fn canonical_number(n: &Number) -> String {
    let whole = |text: String| {
        let point = i64::try_from(text.len()).unwrap_or(i64::MAX);
        (text, point)
    };
    let (negative, (digits, point)) = if let Some(u) = n.as_u64() {
        (false, whole(u.to_string()))
    } else if let Some(i) = n.as_i64() {
        (i < 0, whole(i.unsigned_abs().to_string()))
    } else {
        let f = n.as_f64().unwrap_or_default();
        // `{:e}` prints the shortest digits that read back as the same double: `d.ddde±x`.
        let text = format!("{:e}", f.abs());
        let (mantissa, exponent) = text.split_once('e').unwrap_or((text.as_str(), "0"));
        let exponent: i64 = exponent.parse().unwrap_or_default();
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        (f < 0.0, (digits, exponent.saturating_add(1)))
    };
    layout(negative, &digits, point)
}

/// ECMA-262 §6.1.6.1.20 steps 5–10 for the value `0.digits × 10^point` (sign apart).
fn layout(negative: bool, digits: &str, point: i64) -> String {
    let leading = digits.len() - digits.trim_start_matches('0').len();
    let digits = digits.trim_matches('0');
    if digits.is_empty() {
        return "0".to_owned();
    }
    let n = point - i64::try_from(leading).unwrap_or_default();
    let k = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let zeros = |count: i64| "0".repeat(usize::try_from(count).unwrap_or_default());
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", zeros(n - k))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(usize::try_from(n).unwrap_or_default());
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", zeros(-n))
    } else {
        let e = n - 1;
        let sign = if e < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        format!("{first}{dot}{rest}e{sign}{}", e.unsigned_abs())
    };
    if negative {
        format!("-{body}")
    } else {
        body
    }
}

/// Lower-case hexadecimal SHA-256 (FIPS 180-4) of the UTF-8 bytes of [`canonical_json`]`(value)`:
/// 64 characters.
pub fn sha256_hex_of_canonical(value: &Value) -> String {
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
    fn integers_keep_their_exact_value_where_rfc8785_would_round_them_to_one_double() {
        let a: Value = serde_json::from_str("1234567890123456768").unwrap();
        let b: Value = serde_json::from_str("1234567890123456789").unwrap();
        // RFC 8785 proper turns both into the double 1234567890123456768 and prints it alike.
        assert_eq!(
            serde_json_canonicalizer::to_string(&a).unwrap(),
            serde_json_canonicalizer::to_string(&b).unwrap()
        );
        assert_eq!(canonical_json(&a), "1234567890123456768");
        assert_eq!(canonical_json(&b), "1234567890123456789");
        assert_ne!(sha256_hex_of_canonical(&a), sha256_hex_of_canonical(&b));
        assert_eq!(
            canon("[-9223372036854775808, 18446744073709551615, 9007199254740993]"),
            "[-9223372036854775808,18446744073709551615,9007199254740993]"
        );
        // The same value written as an integer or with an exponent is one number.
        assert_eq!(
            canon("[1e2, 100, 100.0, 1e20, 100000000000000000000]"),
            "[100,100,100,100000000000000000000,100000000000000000000]"
        );
    }

    #[test]
    fn numbers_a_double_holds_exactly_are_canonicalized_as_rfc8785_does() {
        let texts = [
            "0",
            "-0",
            "1",
            "-1",
            "0.1",
            "-0.5",
            "1e21",
            "1e-7",
            "1e-6",
            "123e-20",
            "5e-324",
            "1.7976931348623157e308",
            "333333333.33333329",
            "4.50",
            "2e-3",
            "1E30",
            "9007199254740992",
            "-9007199254740991",
            "123456789012345680000",
            "0.000001234",
            "12.5e3",
            "-1.5e-9",
        ];
        for text in texts {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                canonical_json(&value),
                serde_json_canonicalizer::to_string(&value).unwrap(),
                "{text}"
            );
        }
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
