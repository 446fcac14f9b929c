//! Secrets: vendor tokens recognised by their documented prefixes, PEM private keys, JWTs, and
//! values assigned to secret-looking names (`password=…`, `"api_key": "…"`).

use base64::Engine as _;
use memchr::memmem;

use super::detectors::is_word;
use super::personal::{scan_from, Found};

/// A vendor token family: prefixes and what may follow them.
pub(super) struct TokenFormat {
    /// Prefixes, any of which starts a token.
    pub prefixes: &'static [&'static str],
    /// Bytes the body after the prefix is made of.
    pub body: fn(u8) -> bool,
    /// Fewest and most body bytes.
    pub len: (usize, usize),
    /// A body must not start with this (an OpenAI `sk-` body is not `ant-…`, Anthropic's).
    pub not_followed_by: &'static str,
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}
fn upper_alnum(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}
fn word(b: u8) -> bool {
    is_word(b)
}
fn url_safe(b: u8) -> bool {
    is_word(b) || b == b'-'
}
fn url_safe_dot(b: u8) -> bool {
    url_safe(b) || b == b'.'
}

/// `AKIA…`/`ASIA…` AWS access key ids: 16 capitals or digits.
pub(super) const AWS: TokenFormat = TokenFormat {
    prefixes: &["AKIA", "ASIA"],
    body: upper_alnum,
    len: (16, 16),
    not_followed_by: "",
};
/// GitHub classic (`ghp_` personal, `gho_` OAuth, `ghu_` user-to-server, `ghs_` server-to-server,
/// `ghr_` refresh) and fine-grained (`github_pat_`) tokens.
pub(super) const GITHUB: [TokenFormat; 2] = [
    TokenFormat {
        prefixes: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        body: alnum,
        len: (36, 251),
        not_followed_by: "",
    },
    TokenFormat {
        prefixes: &["github_pat_"],
        body: word,
        len: (22, 244),
        not_followed_by: "",
    },
];
/// GitLab tokens: personal/project/group access, deploy, runner, pipeline trigger, CI build, feed,
/// incoming mail and OAuth application secrets.
pub(super) const GITLAB: TokenFormat = TokenFormat {
    prefixes: &[
        "glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glft-", "glimt-", "gloas-",
    ],
    body: url_safe_dot,
    len: (20, 255),
    not_followed_by: "",
};
/// Slack bot, user, app-level, refresh and legacy tokens.
pub(super) const SLACK: TokenFormat = TokenFormat {
    prefixes: &["xoxa-", "xoxb-", "xoxe-", "xoxp-", "xoxr-", "xoxs-"],
    body: url_safe,
    len: (10, 255),
    not_followed_by: "",
};
/// Stripe live secret and restricted keys.
pub(super) const STRIPE: TokenFormat = TokenFormat {
    prefixes: &["sk_live_", "rk_live_"],
    body: alnum,
    len: (24, 247),
    not_followed_by: "",
};
/// Google API keys: `AIza` and 35 URL-safe characters.
pub(super) const GOOGLE: TokenFormat = TokenFormat {
    prefixes: &["AIza"],
    body: url_safe,
    len: (35, 35),
    not_followed_by: "",
};
/// Anthropic API keys (`sk-ant-api03-…`, `sk-ant-admin01-…`).
pub(super) const ANTHROPIC: TokenFormat = TokenFormat {
    prefixes: &["sk-ant-"],
    body: url_safe,
    len: (20, 255),
    not_followed_by: "",
};
/// OpenAI API keys: project, service-account, admin and legacy user keys.
pub(super) const OPENAI: TokenFormat = TokenFormat {
    prefixes: &["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-"],
    body: url_safe,
    len: (20, 255),
    not_followed_by: "ant-",
};

/// Reports the tokens of `formats`: a prefix at the start of a token (not after a letter, digit,
/// `_` or `-`), a body of allowed bytes within the length bounds, and nothing of the body's kind
/// right after it (trailing dots are sentence punctuation, not part of the token).
pub(super) fn scan_tokens(text: &[u8], formats: &[TokenFormat], found: Found<'_>) {
    scan_from(text, found, |i| {
        (i == 0 || !url_safe(text[i - 1]))
            .then(|| formats.iter().find_map(|format| token_at(text, i, format)))
            .flatten()
    });
}

fn token_at(text: &[u8], start: usize, format: &TokenFormat) -> Option<usize> {
    let rest = &text[start..];
    let prefix = format
        .prefixes
        .iter()
        .find(|p| rest.starts_with(p.as_bytes()))?;
    let body_start = start + prefix.len();
    if text[body_start..].starts_with(format.not_followed_by.as_bytes())
        && !format.not_followed_by.is_empty()
    {
        return None;
    }
    let mut end = body_start;
    while end < text.len() && (format.body)(text[end]) {
        end += 1;
    }
    while end > body_start && text[end - 1] == b'.' {
        end -= 1;
    }
    let len = end - body_start;
    let followed = text.get(end).is_some_and(|&b| url_safe(b));
    (len >= format.len.0 && len <= format.len.1 && !followed).then_some(end)
}

/// PEM private keys (RFC 7468): from `-----BEGIN <label>-----` whose label ends in `PRIVATE KEY`
/// (`RSA PRIVATE KEY`, `EC PRIVATE KEY`, `OPENSSH PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, PGP's
/// `PRIVATE KEY BLOCK`) through the matching `-----END …-----` line, every line in between; a
/// block without its END line is masked to the end of the text (a truncated key still leaks).
pub(super) fn scan_private_keys(text: &[u8], found: Found<'_>) {
    let mut from = 0;
    while let Some(offset) = memmem::find(&text[from..], b"-----BEGIN ") {
        let start = from + offset;
        let label_start = start + 11;
        let Some(label_len) = memmem::find(&text[label_start..], b"-----") else {
            return;
        };
        let label = &text[label_start..label_start + label_len];
        let private = (label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK"))
            && label.iter().all(|&b| b.is_ascii_uppercase() || b == b' ');
        let after_begin = label_start + label_len + 5;
        if !private {
            from = after_begin;
            continue;
        }
        let end = memmem::find(&text[after_begin..], b"-----END ")
            .and_then(|at| {
                let end_label = after_begin + at + 9;
                memmem::find(&text[end_label..], b"-----").map(|len| end_label + len + 5)
            })
            .unwrap_or(text.len());
        found(start, end);
        from = end;
    }
}

/// JWTs (RFC 7519, JWS compact serialization): three base64url parts joined by dots, the first
/// starting `eyJ` (a JSON object whose first member name follows `{"`) and decoding to a JSON
/// object with an `alg` member; the signature may be empty (`alg: none`).
pub(super) fn scan_jwts(text: &[u8], found: Found<'_>) {
    let mut from = 0;
    while let Some(offset) = memmem::find(&text[from..], b"eyJ") {
        let start = from + offset;
        from = start + 3;
        if start > 0 && (url_safe(text[start - 1]) || text[start - 1] == b'.') {
            continue;
        }
        let part = |at: usize| {
            (at..text.len())
                .find(|&j| !url_safe(text[j]))
                .unwrap_or(text.len())
        };
        let header_end = part(start);
        if text.get(header_end) != Some(&b'.') {
            continue;
        }
        let payload_end = part(header_end + 1);
        if payload_end == header_end + 1 || text.get(payload_end) != Some(&b'.') {
            continue;
        }
        let end = part(payload_end + 1);
        if text.get(end) == Some(&b'.') || !has_alg(&text[start..header_end]) {
            continue;
        }
        found(start, end);
        from = end;
    }
}

fn has_alg(header: &[u8]) -> bool {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
        .is_some_and(|value| value.get("alg").is_some_and(serde_json::Value::is_string))
}

/// Which detector a value assigned to a name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Assigned {
    /// An AWS secret access key (40 base64 characters) under an AWS secret-key name.
    AwsSecret,
    /// Any other value under a secret-looking name.
    Secret,
}

/// Name endings (compared lowercased) that make an assigned value a secret.
const SECRET_NAMES: [&str; 10] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "private_key",
    "authorization",
];

/// Name endings of an AWS secret access key.
const AWS_SECRET_NAMES: [&str; 3] = ["secret_access_key", "aws_secret_key", "secretaccesskey"];

/// What a value assigned to `name` is, if a secret: `name` (any case) ends with one of
/// [`SECRET_NAMES`] or [`AWS_SECRET_NAMES`], and `value` is not a placeholder (see
/// [`is_placeholder`]).
pub(super) fn assigned(name: &[u8], value: &str) -> Option<Assigned> {
    let lower = name.to_ascii_lowercase();
    if is_placeholder(value) {
        return None;
    }
    let ends = |names: &[&str]| names.iter().any(|n| lower.ends_with(n.as_bytes()));
    if ends(&AWS_SECRET_NAMES)
        && value.len() == 40
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+'))
    {
        return Some(Assigned::AwsSecret);
    }
    (ends(&SECRET_NAMES) || ends(&AWS_SECRET_NAMES)).then_some(Assigned::Secret)
}

/// Values that hold no secret: shorter than 4 characters, `null`/`none`/`true`/`false`/`undefined`,
/// only `*`, `x` or `.`, an already masked value, or a template reference (`${…}`, `{{…}}`, `<…>`).
fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    value.chars().count() < 4
        || ["null", "none", "true", "false", "undefined"].contains(&lower.as_str())
        || value
            .bytes()
            .all(|b| matches!(b, b'*' | b'x' | b'X' | b'.'))
        || value.starts_with("[REDACTED:")
        || value.starts_with("[HASH:")
        || value.starts_with("${")
        || value.starts_with("{{")
        || (value.starts_with('<') && value.ends_with('>'))
}

/// Longest name looked back at from an `=` or `:`, in bytes.
const MAX_NAME: usize = 64;

/// Reports `name = value` / `name: value` assignments in text (`.env` files, YAML, logs, URLs'
/// query strings, JSON written into a string) whose name makes the value a secret (see
/// [`assigned`]), as the span of the value: quoted values up to the closing quote, bare values up
/// to whitespace or one of `,;&"'`. `Authorization: Bearer …`/`Basic …` keeps the scheme.
pub(super) fn scan_assignments(text: &[u8], found: &mut dyn FnMut(usize, usize, Assigned)) {
    for at in memchr::memchr2_iter(b'=', b':', text) {
        if text.get(at + 1) == Some(&b'=')
            || (at > 0 && matches!(text[at - 1], b'=' | b'!' | b'<' | b'>' | b':'))
        {
            continue;
        }
        let Some(name) = name_before(text, at) else {
            continue;
        };
        let Some((start, end)) = value_after(text, at + 1) else {
            continue;
        };
        if let Ok(value) = std::str::from_utf8(&text[start..end]) {
            if let Some(kind) = assigned(name, value) {
                found(start, end, kind);
            }
        }
    }
}

/// Most quotes, backslashes (of escaped quotes) and spaces skipped between a name and its `=`/`:`.
const MAX_SKIPPED: usize = 3;

/// The name ending right before the separator at `at` (after up to [`MAX_SKIPPED`] closing quotes,
/// backslashes and spaces): at most [`MAX_NAME`] letters, digits, `_`, `-`, `.`.
fn name_before(text: &[u8], at: usize) -> Option<&[u8]> {
    let mut end = at;
    while end > 0 && at - end < MAX_SKIPPED && matches!(text[end - 1], b'"' | b'\'' | b'\\' | b' ')
    {
        end -= 1;
    }
    let mut start = end;
    while start > 0
        && end - start < MAX_NAME
        && (url_safe(text[start - 1]) || text[start - 1] == b'.')
    {
        start -= 1;
    }
    (start < end).then(|| &text[start..end])
}

/// The value after a separator ending at `from`: its span, without quotes and an HTTP auth scheme.
fn value_after(text: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut start = from;
    while text.get(start) == Some(&b' ') {
        start += 1;
    }
    let quote = text
        .get(start)
        .copied()
        .filter(|&b| matches!(b, b'"' | b'\''));
    if let Some(q) = quote {
        start += 1;
        let len = memchr::memchr(q, &text[start..])?;
        return Some((start, start + len)).filter(|_| len > 0);
    }
    for scheme in [b"Bearer ".as_slice(), b"Basic "] {
        if text[start..].len() > scheme.len()
            && text[start..start + scheme.len()].eq_ignore_ascii_case(scheme)
        {
            start += scheme.len();
        }
    }
    let end = (start..text.len())
        .find(|&j| match text[j] {
            b'"' | b'\'' => true,
            b if b.is_ascii_whitespace() => true,
            // Punctuation after the value (`password=x, then`).
            b',' | b';' => {
                text.get(j + 1).is_none_or(u8::is_ascii_whitespace) || next_field(text, j + 1)
            }
            b'&' => next_field(text, j + 1),
            _ => false,
        })
        .unwrap_or(text.len());
    (end > start).then_some((start, end))
}

/// Whether another `name=` / `name:` field starts at `at` (after a `&`, `,` or `;` that then ends
/// the value before it, as in a query or connection string); otherwise the separator is part of
/// the secret.
fn next_field(text: &[u8], at: usize) -> bool {
    let rest = &text[at.min(text.len())..];
    let rest = &rest[rest.iter().take_while(|&&b| b == b' ').count()..];
    let name = rest
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        .count();
    name > 0 && matches!(rest.get(name), Some(b'=' | b':'))
}

/// Whether `name` (any case) ends like a name whose value is a secret: one of [`SECRET_NAMES`] or
/// [`AWS_SECRET_NAMES`].
pub(super) fn is_secret_name(name: &[u8]) -> bool {
    has_secret_tail(name)
        && SECRET_NAMES.iter().chain(AWS_SECRET_NAMES.iter()).any(|n| {
            name.len() >= n.len() && name[name.len() - n.len()..].eq_ignore_ascii_case(n.as_bytes())
        })
}

/// Whether `name` ends (any case) with the last two letters of one of [`SECRET_NAMES`] or
/// [`AWS_SECRET_NAMES`]: a cheap first test, since most names end differently.
fn has_secret_tail(name: &[u8]) -> bool {
    name.last_chunk::<2>()
        .is_some_and(|&[first, last]| is_secret_tail(first, last))
}

/// Whether `first` then `last` (any case) are the last two letters of one of [`SECRET_NAMES`] or
/// [`AWS_SECRET_NAMES`].
pub(super) fn is_secret_tail(first: u8, last: u8) -> bool {
    let tail = [first.to_ascii_lowercase(), last.to_ascii_lowercase()];
    matches!(&tail, b"rd" | b"wd" | b"se" | b"et" | b"en" | b"ey" | b"on")
}

/// The pre-scan's test before an `=` or `:`: whether `text` ends, after what [`name_before`] skips,
/// like a secret name. The last two letters are checked first ([`has_secret_tail`]).
pub(super) fn ends_like_secret_name(text: &[u8]) -> bool {
    let skipped = text
        .iter()
        .rev()
        .take(MAX_SKIPPED)
        .take_while(|&&b| matches!(b, b'"' | b'\'' | b'\\' | b' '))
        .count();
    // The name `name_before` would cut from here ends with a secret name exactly when the text does:
    // secret names are made of the bytes a name is cut from, and none is longer than `MAX_NAME`.
    is_secret_name(&text[..text.len() - skipped])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_ends_like_a_secret_name_exactly_when_the_name_cut_from_it_is_one() {
        const PARTS: &[&str] = &[
            "password",
            "PassWord",
            "api_key",
            "api-key",
            "secret_access_key",
            "token",
            "x",
            ".",
            "\"",
            "'",
            "\\",
            " ",
            " \"",
            "\\\"",
            "_",
            "-",
            "=",
            "{",
            "é",
            "my",
            "aws",
        ];
        let mut rng = crate::test_rng::Rng(0x5851_f42d_4c95_7f2d);
        for _ in 0..50_000 {
            let parts = rng.below(7);
            let text: String = (0..parts).map(|_| *rng.pick(PARTS)).collect();
            let bytes = text.as_bytes();
            let cut = name_before(bytes, bytes.len()).is_some_and(is_secret_name);
            assert_eq!(ends_like_secret_name(bytes), cut, "{text:?}");
        }
    }

    #[test]
    fn every_secret_name_passes_the_tail_test_in_any_case() {
        for name in SECRET_NAMES.iter().chain(AWS_SECRET_NAMES.iter()) {
            for variant in [name.to_string(), name.to_ascii_uppercase()] {
                assert!(is_secret_name(variant.as_bytes()), "{variant}");
                assert!(ends_like_secret_name(
                    format!("\"my_{variant}\" ").as_bytes()
                ));
            }
        }
        for name in ["email", "card_number", "ssn", "tokens", "note"] {
            assert!(!is_secret_name(name.as_bytes()), "{name}");
        }
    }
}
