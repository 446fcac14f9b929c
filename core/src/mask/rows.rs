//! One test per row of `docs/detectors.md` (named after the row) with its look-alikes, through the
//! public masking entry point with every built-in on; then rendering, configuration errors, secret
//! members and text blobs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;

fn all() -> Masker {
    Masker::from_config(&MaskingConfig::default(), "masking").unwrap()
}

/// The masked text of `text` with every built-in.
fn masked(text: &str) -> String {
    let m = all();
    let mut counts = MaskCounts::new();
    m.mask_str(&m.profile(None).unwrap(), text, &mut counts)
        .unwrap_or_else(|| text.to_owned())
}

fn assert_masks(name: &str, positives: &[&str], look_alikes: &[&str]) {
    let tag = format!("[REDACTED:{name}]");
    let m = all();
    let set = m.profile(None).unwrap();
    for value in positives {
        let as_json = serde_json::Value::from(format!("x {value} y")).to_string();
        assert!(
            m.may_match(&set, value.as_bytes()) && m.may_match(&set, as_json.as_bytes()),
            "{name}: the pre-scan must not rule out {value:?}"
        );
        let out = masked(&format!("x {value} y"));
        assert_eq!(out, format!("x {tag} y"), "{name} should mask {value:?}");
    }
    for value in look_alikes {
        assert_eq!(masked(value), *value, "{name}: {value:?} must survive");
    }
}

#[test]
fn row_credit_card() {
    assert_masks(
        CREDIT_CARD,
        &[
            "4111 1111 1111 1111",
            "5555-5555-5555-4444",
            "378282246310005",
        ],
        &[
            "4111 1111 1111 1112",
            "order 20261130123456",
            // ISBN-13s whose digits happen to pass Luhn: not grouped like a card.
            "978-0-649-68541-7",
            "isbn=978-0-234-17368-8",
        ],
    );
}

#[test]
fn row_us_ssn() {
    assert_masks(
        US_SSN,
        &["078-05-1120", "123 45 6789"],
        &["000-12-3456", "123456789"],
    );
}

#[test]
fn row_email_address() {
    assert_masks(
        EMAIL_ADDRESS,
        &["jane.doe@example.com"],
        &["user@localhost", "@handle"],
    );
}

#[test]
fn row_us_itin() {
    assert_masks(US_ITIN, &["912-70-1234", "900 94 1234"], &["912-12-1234"]);
}

#[test]
fn row_uk_nhs() {
    assert_masks(UK_NHS, &["943 476 5919", "401-023-2137"], &["401 023 2138"]);
}

#[test]
fn row_iban_code() {
    assert_masks(
        IBAN_CODE,
        &[
            "DE89370400440532013000",
            "GB82 WEST 1234 5698 7654 32",
            "NL91ABNA0417164300",
        ],
        &[
            "DE89370400440532013001",
            "GB82 WEST 1234 5698 7654 33",
            "ISBN 978-3-16-148410-0",
        ],
    );
}

#[test]
fn row_phone_number() {
    assert_masks(
        PHONE_NUMBER,
        &[
            "+44 20 7946 0958",
            "+1 (415) 555-2671",
            "(415) 555-2671",
            "415.555.2671",
            "020 7946 0958",
            "+4915112345678",
        ],
        &[
            "555-0100",
            "2026-11-30",
            "1.2.3",
            "call 12345678901",
            "v2.14.3",
        ],
    );
}

#[test]
fn row_ip_address() {
    assert_masks(
        IP_ADDRESS,
        &[
            "192.168.1.20",
            "10.0.0.1",
            "2001:db8:85a3::8a2e:370:7334",
            "fe80::1ff:fe23:4567:890a",
            "2001:0db8:0000:0000:0000:ff00:0042:8329",
        ],
        &[
            "1.2.3",
            "v1.2.3.4",
            "1.2.3.4.5",
            "256.1.1.1",
            "10:00:00",
            "std::vec",
            "::1",
        ],
    );
    assert_eq!(
        masked("host 10.0.0.1:8080"),
        "host [REDACTED:IP_ADDRESS]:8080"
    );
}

#[test]
fn row_mac_address() {
    assert_masks(
        MAC_ADDRESS,
        &["00:1A:2B:3C:4D:5E", "00-1a-2b-3c-4d-5e"],
        &["00:1A:2B:3C:4D", "00:1A-2B:3C:4D:5E"],
    );
}

#[test]
fn row_uk_nino() {
    assert_masks(
        UK_NINO,
        &["AB123456C", "AB 12 34 56 C"],
        &["GB123456A", "QQ123456C", "AB123456E"],
    );
}

#[test]
fn row_us_passport() {
    assert_eq!(
        masked("Passport no: 123456789"),
        "Passport no: [REDACTED:US_PASSPORT]"
    );
    assert_eq!(
        masked("passport C03005988."),
        "passport [REDACTED:US_PASSPORT]."
    );
    assert_eq!(masked("ticket 123456789"), "ticket 123456789");
}

#[test]
fn row_crypto_wallet() {
    assert_masks(
        CRYPTO_WALLET,
        &[
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "0x52908400098527886E0F7030069857D2E4169EE7",
        ],
        &[
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
            "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae1",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        ],
    );
}

#[test]
fn row_private_key() {
    let pem =
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc=\n-----END RSA PRIVATE KEY-----";
    assert_masks(
        PRIVATE_KEY,
        &[pem],
        &["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"],
    );
    assert_eq!(
        masked("key: -----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn"),
        "key: [REDACTED:PRIVATE_KEY]"
    );
}

#[test]
fn row_jwt() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    assert_masks(
        JWT,
        &[jwt],
        &[
            "eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.sig",
            "eyJhbGciOiJIUzI1NiJ9.onlytwo",
        ],
    );
}

#[test]
fn row_aws_access_key() {
    assert_masks(
        AWS_ACCESS_KEY,
        &["AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"],
        &["AKIAIOSFODNN7EXAMPL", "AKIAIOSFODNN7EXAMPLEX"],
    );
    assert_eq!(
        masked("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "aws_secret_access_key = [REDACTED:AWS_ACCESS_KEY]"
    );
}

#[test]
fn row_github_token() {
    assert_masks(
        GITHUB_TOKEN,
        &["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", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUV"],
        &["ghp_short", "x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"],
    );
}

#[test]
fn row_gitlab_token() {
    assert_masks(
        GITLAB_TOKEN,
        &["glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-AbC1_dEf2-gHi3jKl4mNo5"],
        &["glpat-short"],
    );
}

#[test]
fn row_slack_token() {
    assert_masks(
        SLACK_TOKEN,
        &["xoxb-1234567890-abcdefghij"],
        &["xoxq-1234567890-abcdefghij", "xoxb-123"],
    );
}

#[test]
fn row_stripe_key() {
    assert_masks(
        STRIPE_KEY,
        &["sk_live_4eC39HqLyjWDarjtT1zdp7dc"],
        &["sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_short"],
    );
}

#[test]
fn row_google_api_key() {
    assert_masks(
        GOOGLE_API_KEY,
        &["AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"],
        &["AIzaSyDaGmWKa4JsXZ"],
    );
}

#[test]
fn row_anthropic_api_key() {
    assert_masks(
        ANTHROPIC_API_KEY,
        &["sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345"],
        &["sk-ant-short"],
    );
}

#[test]
fn row_openai_api_key() {
    assert_masks(
        OPENAI_API_KEY,
        &[
            "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
            "sk-abcdefghijklmnopqrstT3BlbkFJ",
        ],
        &["sk-short", "task-abcdefghijklmnopqrstuvwxyz"],
    );
}

#[test]
fn row_secret_assignment() {
    assert_eq!(
        masked("DB_PASSWORD=hunter2!x"),
        "DB_PASSWORD=[REDACTED:SECRET_ASSIGNMENT]"
    );
    assert_eq!(
        masked("api_key: 'abc123xyz'"),
        "api_key: '[REDACTED:SECRET_ASSIGNMENT]'"
    );
    assert_eq!(
        masked("Authorization: Bearer opaque-token-value"),
        "Authorization: Bearer [REDACTED:SECRET_ASSIGNMENT]"
    );
    // `&`, `,` and `;` end an unquoted value only when the next field follows (a query string or a
    // connection string); otherwise they are part of the secret.
    for (text, out) in [
        (
            "DB_PASSWORD=PI&$RQzvjJl7aM ./migrate",
            "DB_PASSWORD=[REDACTED:SECRET_ASSIGNMENT] ./migrate",
        ),
        (
            "password: X_nJ*t0rq@&8Oy",
            "password: [REDACTED:SECRET_ASSIGNMENT]",
        ),
        ("secret: 7R6+07Zvm&", "secret: [REDACTED:SECRET_ASSIGNMENT]"),
        (
            "https://h/login?password=hunter22&user=bob",
            "https://h/login?password=[REDACTED:SECRET_ASSIGNMENT]&user=bob",
        ),
        (
            "Password=s3cr3t!;Server=db",
            "Password=[REDACTED:SECRET_ASSIGNMENT];Server=db",
        ),
        (
            "password=hunter22, then",
            "password=[REDACTED:SECRET_ASSIGNMENT], then",
        ),
    ] {
        assert_eq!(masked(text), out);
    }
    for survivor in [
        "password: null",
        "max_tokens: 4096",
        "token == abcd",
        "password=***",
        "secret: ${VAULT}",
    ] {
        assert_eq!(masked(survivor), survivor);
    }
}

#[test]
fn look_alikes_survive_every_detector() {
    for text in [
        "123e4567-e89b-12d3-a456-426614174000",
        "commit da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "version 1.24.3-rc.1+build.5",
        "2026-11-30T10:00:00.123Z 1764496800",
        "ISBN 978-0-306-40615-7",
        "order ORD-2026-000123 #100234567",
        r#"{"id":"ord_0001","quantity":3,"updated":"2026-11-21T10:00:00Z"}"#,
    ] {
        assert_eq!(masked(text), text);
    }
}

#[test]
fn secret_named_json_members_are_masked_whole() {
    let m = all();
    let set = m.profile(None).unwrap();
    let mut value = json!({"password": "hunter2!", "token_count": "1234", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "api_key": null});
    let mut counts = MaskCounts::new();
    assert!(m.mask_value(&set, &mut value, &mut counts));
    assert_eq!(
        value,
        json!({"password": "[REDACTED:SECRET_ASSIGNMENT]", "token_count": "1234", "aws_secret_access_key": "[REDACTED:AWS_ACCESS_KEY]", "api_key": null})
    );
}

#[test]
fn text_resource_blobs_are_decoded_masked_and_reencoded_binary_ones_left() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let m = all();
    let set = m.profile(None).unwrap();
    let mut value = json!({"content": [
        {"type": "resource", "resource": {"uri": "file:///a.txt", "mimeType": "text/plain", "blob": b64("mail jane@example.com")}},
        {"type": "resource", "resource": {"uri": "file:///a.json", "mimeType": "application/json", "blob": b64(r#"{"ssn":"078-05-1120"}"#)}},
        {"type": "resource", "resource": {"uri": "file:///a.png", "mimeType": "image/png", "blob": b64("jane@example.com")}},
        {"type": "resource", "resource": {"uri": "file:///b.txt", "mimeType": "text/plain", "blob": "not base64!"}}]});
    let mut counts = MaskCounts::new();
    assert!(m.mask_value(&set, &mut value, &mut counts));
    assert_eq!(
        value["content"][0]["resource"]["blob"],
        b64("mail [REDACTED:EMAIL_ADDRESS]")
    );
    assert_eq!(
        value["content"][1]["resource"]["blob"],
        b64(r#"{"ssn":"[REDACTED:US_SSN]"}"#)
    );
    assert_eq!(
        value["content"][2]["resource"]["blob"],
        b64("jane@example.com")
    );
    assert_eq!(value["content"][3]["resource"]["blob"], "not base64!");
    assert_eq!(counts.values().sum::<u64>(), 2);
}

fn config(value: serde_json::Value) -> MaskingConfig {
    serde_json::from_value(value).unwrap()
}

fn env(name: &str) -> Option<String> {
    (name == "WARDEN_MASK_KEY").then(|| "a-key-of-at-least-16-bytes".to_owned())
}

#[test]
fn renders_per_profile_and_per_detector() {
    let m = Masker::from_config_with_env(
        &config(json!({"hash_key_env": "WARDEN_MASK_KEY", "profiles": {"p": {
            "detectors": ["CREDIT_CARD", "EMAIL_ADDRESS", "US_SSN"],
            "render": {"mode": "partial"},
            "render_detectors": {"EMAIL_ADDRESS": {"mode": "hash"}, "US_SSN": {"mode": "redact"}}}}})),
        "masking",
        &env,
    )
    .unwrap();
    let set = m.profile(Some("p")).unwrap();
    let mut counts = MaskCounts::new();
    let out = m
        .mask_str(
            &set,
            "4111 1111 1111 1111 jane@example.com 078-05-1120",
            &mut counts,
        )
        .unwrap();
    let mac = hmac_sha256::HMAC::mac(
        b"EMAIL_ADDRESS\x00jane@example.com",
        b"a-key-of-at-least-16-bytes",
    );
    let tag: String = mac[..4].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        out,
        format!("[REDACTED:CREDIT_CARD]1111 [HASH:EMAIL_ADDRESS:{tag}] [REDACTED:US_SSN]")
    );
}

#[test]
fn union_of_profiles_keeps_the_rendering_that_reveals_less() {
    let m = Masker::from_config(
        &config(json!({"profiles": {
            "partial": {"detectors": ["CREDIT_CARD"], "render": {"mode": "partial", "keep": 4}},
            "redact": {"detectors": ["CREDIT_CARD"]}}})),
        "masking",
    )
    .unwrap();
    let mut set = m.profile(Some("partial")).unwrap();
    set.union(&m.profile(Some("redact")).unwrap());
    let out = m
        .mask_str(&set, "4111111111111111", &mut MaskCounts::new())
        .unwrap();
    assert_eq!(out, "[REDACTED:CREDIT_CARD]");
}

#[test]
fn refuses_hash_without_key_env_unset_variable_or_short_key() {
    let hash = json!({"p": {"detectors": ["US_SSN"], "render": {"mode": "hash"}}});
    let e = Masker::from_config_with_env(&config(json!({"profiles": hash})), "masking", &env)
        .unwrap_err();
    assert_eq!(e.path, "masking.hash_key_env");
    let e = Masker::from_config(
        &config(json!({"profiles": hash, "hash_key_env": "WARDEN_MASK_KEY"})),
        "masking",
    )
    .unwrap_err();
    assert_eq!(e.path, "masking.hash_key_env");
    assert!(e.message.contains("not set"), "{e}");
    let short = |_: &str| Some("short".to_owned());
    let e = Masker::from_config_with_env(
        &config(json!({"profiles": hash, "hash_key_env": "K"})),
        "masking",
        &short,
    )
    .unwrap_err();
    assert!(e.message.contains("at least 16"), "{e}");
}

#[test]
fn refuses_render_override_for_a_detector_outside_the_profile_and_unknown_modes() {
    let e = Masker::from_config(
        &config(json!({"profiles": {"p": {"detectors": ["US_SSN"], "render_detectors": {"JWT": {"mode": "redact"}}}}})),
        "masking",
    )
    .unwrap_err();
    assert_eq!(e.path, "masking.profiles.p.render_detectors.JWT");
    let bad = r#"{"profiles": {"p": {"detectors": [], "render": {"mode": "scramble"}}}}"#;
    let err = serde_json::from_str::<MaskingConfig>(bad).unwrap_err();
    assert!(
        err.to_string().contains("unknown variant `scramble`"),
        "{err}"
    );
}

#[test]
fn the_pre_scan_fires_for_every_secret_assignment_the_scanner_masks() {
    let m = all();
    let set = m.profile(None).unwrap();
    for text in [
        "password=hunter22",
        "\"Api_Key\" : \"abcd1234\"",
        "client_secret: 'abcd1234'",
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ] {
        assert!(masked(text) != text, "{text}");
        let as_json = serde_json::Value::from(text).to_string();
        assert!(m.may_match(&set, as_json.as_bytes()), "{as_json}");
    }
}

#[test]
fn debug_output_never_shows_the_hash_key() {
    let m = Masker::from_config_with_env(
        &config(json!({"hash_key_env": "WARDEN_MASK_KEY",
            "profiles": {"p": {"detectors": ["US_SSN"], "render": {"mode": "hash"}}}})),
        "masking",
        &env,
    )
    .unwrap();
    let debug = format!("{m:?}");
    assert!(!debug.contains("a-key-of-at-least-16-bytes"), "{debug}");
    assert!(debug.contains("HashKey(26 bytes)"), "{debug}");
}

#[test]
fn the_pre_scan_never_skips_a_base64_blob() {
    let m = all();
    let set = m.profile(None).unwrap();
    // base64("mail"): no other trigger in the body.
    let body = br#"{"contents":[{"uri":"file:///r","mimeType":"text/plain","blob":"bWFpbA=="}]}"#;
    assert!(m.may_match(&set, body));
    assert!(m.may_match(&set, br#"{\"blob\":\"bWFpbA==\"}"#));
}
