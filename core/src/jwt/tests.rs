//! Verifier tests: every refusal and every supported algorithm, with real signatures.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_simple::prelude::*;
use serde_json::{json, Map, Value};

use super::*;
use crate::config::IssuerConfig;

const ISS: &str = "https://dev-issuer.warden.local";
const AUD: &str = "warden-demo";
const NOW: u64 = 1_800_000_000;
const DEV_JWKS: &str = include_str!("../../../policies/dev/dev-jwks.json");
const DEV_ES256_PEM: &str = include_str!("../../../policies/dev/dev-signing-key-es256.pem");
const DEV_RS256_PEM: &str = include_str!("../../../policies/dev/dev-signing-key-rs256.pem");

struct Keys {
    es256: ES256KeyPair,
    rs256: RS256KeyPair,
    ps256: PS256KeyPair,
    ed25519: Ed25519KeyPair,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        es256: ES256KeyPair::from_pem(DEV_ES256_PEM)
            .unwrap()
            .with_key_id("warden-dev-es256"),
        rs256: RS256KeyPair::from_pem(DEV_RS256_PEM)
            .unwrap()
            .with_key_id("warden-dev-rs256"),
        ps256: PS256KeyPair::from_pem(DEV_RS256_PEM)
            .unwrap()
            .with_key_id("rsa-ps256"),
        ed25519: Ed25519KeyPair::generate().with_key_id("ed"),
    })
}

/// The dev JWKS plus a PS256 view of the dev RSA key and an Ed25519 key.
fn jwks() -> Value {
    let mut jwks: Value = serde_json::from_str(DEV_JWKS).unwrap();
    let extra = [
        keys().ps256.public_key().to_jwk(),
        keys().ed25519.public_key().to_jwk(),
    ];
    let list = jwks["keys"].as_array_mut().unwrap();
    list.extend(
        extra
            .iter()
            .map(|k| serde_json::from_str::<Value>(k).unwrap()),
    );
    jwks
}

fn issuer_config(extra: Value) -> IssuerConfig {
    let mut config = json!({"issuer": ISS, "audiences": [AUD], "jwks": jwks()});
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(config).unwrap()
}

fn verifier() -> Verifier {
    Verifier::from_config(&[issuer_config(json!({}))], "issuers").unwrap()
}

/// Standard claims valid at `NOW`, with `changes` merged in (a `null` removes the claim).
fn claims(changes: Value) -> JWTClaims<Map<String, Value>> {
    let mut payload = json!({
        "iss": ISS, "sub": "alice", "aud": AUD, "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 3600,
        "groups": ["support", "admins"], "scope": "mcp:tools mcp:read", "email": "alice@example.com",
        "client_id": "agent-1",
    });
    let object = payload.as_object_mut().unwrap();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            object.remove(name);
        } else {
            object.insert(name.clone(), value.clone());
        }
    }
    serde_json::from_value(payload).unwrap()
}

fn es256_token(changes: Value) -> String {
    keys().es256.sign(claims(changes)).unwrap()
}

/// A token with a hand-made header and payload and the given signature bytes.
fn raw_token(header: &Value, payload: &Value, signature: &[u8]) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(header),
        part(payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

fn refusal(token: &str) -> AuthError {
    verifier().verify(token, NOW).unwrap_err()
}

#[test]
fn accepts_es256_token_signed_with_the_dev_key() {
    let verified = verifier().verify(&es256_token(json!({})), NOW).unwrap();
    let id = &verified.identity;
    assert_eq!((id.iss.as_str(), id.sub.as_str()), (ISS, "alice"));
    assert_eq!(id.groups, ["support", "admins"]);
    assert_eq!(id.scopes, ["mcp:tools", "mcp:read"]);
    assert_eq!(id.email.as_deref(), Some("alice@example.com"));
    assert_eq!(id.client_id.as_deref(), Some("agent-1"));
    assert_eq!(id.claims["groups"][1], "admins");
    assert_eq!(verified.expires_at, NOW + 3600);
}

#[test]
fn accepts_rs256_token_signed_with_the_dev_key() {
    let token = keys().rs256.sign(claims(json!({}))).unwrap();
    assert_eq!(
        verifier().verify(&token, NOW).unwrap().identity.sub,
        "alice"
    );
}

#[test]
fn accepts_ps256_token() {
    let token = keys().ps256.sign(claims(json!({}))).unwrap();
    assert_eq!(
        verifier().verify(&token, NOW).unwrap().identity.sub,
        "alice"
    );
}

#[test]
fn accepts_eddsa_token() {
    let token = keys().ed25519.sign(claims(json!({"sub": "bot"}))).unwrap();
    assert_eq!(verifier().verify(&token, NOW).unwrap().identity.sub, "bot");
}

#[test]
fn accepts_audience_array_containing_a_configured_audience() {
    let token = es256_token(json!({"aud": ["other", AUD]}));
    assert!(verifier().verify(&token, NOW).is_ok());
}

#[test]
fn refuses_expired_token() {
    let e = refusal(&es256_token(
        json!({"iat": NOW - 7200, "nbf": NOW - 7200, "exp": NOW - 3600}),
    ));
    assert_eq!(e, AuthError::Expired);
    assert_eq!((e.reason(), e.error_code()), ("expired", "invalid_token"));
}

#[test]
fn token_expired_within_the_clock_skew_is_still_accepted() {
    let token = es256_token(json!({"exp": NOW - 30}));
    assert!(verifier().verify(&token, NOW).is_ok());
    assert_eq!(
        verifier().verify(&token, NOW + 31).unwrap_err(),
        AuthError::Expired
    );
}

#[test]
fn refuses_token_not_yet_valid() {
    assert_eq!(
        refusal(&es256_token(json!({"nbf": NOW + 3600}))),
        AuthError::NotYetValid
    );
}

#[test]
fn refuses_token_issued_in_the_future() {
    let token = es256_token(json!({"iat": NOW + 3600, "nbf": null}));
    assert_eq!(refusal(&token), AuthError::IssuedInFuture);
}

#[test]
fn refuses_token_of_an_unknown_issuer() {
    assert_eq!(
        refusal(&es256_token(json!({"iss": "https://evil.example"}))),
        AuthError::UnknownIssuer
    );
}

#[test]
fn refuses_token_without_issuer() {
    assert_eq!(
        refusal(&es256_token(json!({"iss": null}))),
        AuthError::MissingClaim("iss")
    );
}

#[test]
fn refuses_token_for_another_audience() {
    assert_eq!(
        refusal(&es256_token(json!({"aud": "another-server"}))),
        AuthError::WrongAudience
    );
    assert_eq!(
        refusal(&es256_token(json!({"aud": null}))),
        AuthError::WrongAudience
    );
}

#[test]
fn refuses_token_naming_an_unknown_kid() {
    let key = ES256KeyPair::from_pem(DEV_ES256_PEM)
        .unwrap()
        .with_key_id("rotated-away");
    assert_eq!(
        refusal(&key.sign(claims(json!({}))).unwrap()),
        AuthError::UnknownKey
    );
}

#[test]
fn token_without_kid_uses_the_only_key_for_its_algorithm() {
    let key = ES256KeyPair::from_pem(DEV_ES256_PEM).unwrap();
    assert!(verifier()
        .verify(&key.sign(claims(json!({}))).unwrap(), NOW)
        .is_ok());
}

#[test]
fn token_without_kid_is_refused_when_several_keys_fit_its_algorithm() {
    let mut config = issuer_config(json!({}));
    let second = ES256KeyPair::generate()
        .public_key()
        .with_key_id("second")
        .to_jwk();
    let keys_list = config.jwks["keys"].as_array_mut().unwrap();
    keys_list.push(serde_json::from_str(&second).unwrap());
    let verifier = Verifier::from_config(&[config], "issuers").unwrap();
    let token = ES256KeyPair::from_pem(DEV_ES256_PEM)
        .unwrap()
        .sign(claims(json!({})))
        .unwrap();
    assert_eq!(
        verifier.verify(&token, NOW).unwrap_err(),
        AuthError::UnknownKey
    );
}

#[test]
fn refuses_hs256_token_using_the_rsa_public_key_as_hmac_secret() {
    let rsa_public_pem = keys().rs256.public_key().to_pem().unwrap();
    let forged = HS256Key::from_bytes(rsa_public_pem.as_bytes())
        .with_key_id("warden-dev-rs256")
        .authenticate(claims(json!({})))
        .unwrap();
    assert_eq!(
        refusal(&forged),
        AuthError::AlgorithmNotAllowed("HS256".to_owned())
    );

    // Even with HS256 configured (for a real shared key), the RSA key never verifies HS256.
    let mut config = issuer_config(json!({"algorithms": ["RS256", "HS256"]}));
    let shared = json!({"kty": "oct", "kid": "shared", "k": URL_SAFE_NO_PAD.encode([7u8; 32])});
    config.jwks["keys"].as_array_mut().unwrap().push(shared);
    let verifier = Verifier::from_config(&[config], "issuers").unwrap();
    let e = verifier.verify(&forged, NOW).unwrap_err();
    assert_eq!(e.reason(), "algorithm_key_mismatch", "{e}");
}

#[test]
fn accepts_hs256_token_only_with_a_configured_shared_key() {
    let secret = [9u8; 32];
    let mut config = issuer_config(json!({"algorithms": ["HS256"]}));
    config.jwks =
        json!({"keys": [{"kty": "oct", "kid": "shared", "k": URL_SAFE_NO_PAD.encode(secret)}]});
    let verifier = Verifier::from_config(&[config], "issuers").unwrap();
    let token = HS256Key::from_bytes(&secret)
        .with_key_id("shared")
        .authenticate(claims(json!({})))
        .unwrap();
    assert_eq!(verifier.verify(&token, NOW).unwrap().identity.sub, "alice");
}

#[test]
fn refuses_unsigned_alg_none_token() {
    let header = json!({"alg": "none", "typ": "JWT"});
    let token = raw_token(
        &header,
        &json!({"iss": ISS, "sub": "alice", "aud": AUD, "exp": NOW + 60}),
        b"",
    );
    assert_eq!(
        refusal(&token),
        AuthError::AlgorithmNotAllowed("none".to_owned())
    );
}

#[test]
fn refuses_token_with_tampered_payload() {
    let token = es256_token(json!({}));
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["groups"] = json!(["admins", "root"]);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    assert_eq!(refusal(&tampered), AuthError::BadSignature);
}

#[test]
fn refuses_token_signed_by_another_key_with_the_dev_kid() {
    let attacker = ES256KeyPair::generate().with_key_id("warden-dev-es256");
    assert_eq!(
        refusal(&attacker.sign(claims(json!({}))).unwrap()),
        AuthError::BadSignature
    );
}

#[test]
fn header_jku_does_not_choose_the_key() {
    let mut attacker = ES256KeyPair::generate().with_key_id("warden-dev-es256");
    attacker
        .attach_metadata(KeyMetadata::default().with_key_set_url("https://evil.example/jwks.json"))
        .unwrap();
    let token = attacker.sign(claims(json!({}))).unwrap();
    assert!(token.split('.').next().is_some_and(|h| {
        String::from_utf8(URL_SAFE_NO_PAD.decode(h).unwrap())
            .unwrap()
            .contains("jku")
    }));
    assert_eq!(refusal(&token), AuthError::BadSignature);
}

#[test]
fn refuses_token_without_exp() {
    assert_eq!(
        refusal(&es256_token(json!({"exp": null}))),
        AuthError::MissingClaim("exp")
    );
}

#[test]
fn refuses_token_without_sub() {
    assert_eq!(
        refusal(&es256_token(json!({"sub": null}))),
        AuthError::MissingClaim("sub")
    );
}

#[test]
fn refuses_token_with_a_critical_header_extension() {
    let header =
        json!({"alg": "ES256", "kid": "warden-dev-es256", "crit": ["exp-ext"], "exp-ext": 1});
    let token = raw_token(
        &header,
        &json!({"iss": ISS, "sub": "a", "aud": AUD, "exp": NOW + 60}),
        &[1; 64],
    );
    assert_eq!(
        refusal(&token),
        AuthError::UnknownCriticalHeader(vec!["exp-ext".to_owned()])
    );
}

#[test]
fn refuses_tokens_that_are_not_compact_jws() {
    for token in [
        "abc",
        "a.b",
        "a.b.c.d.e",
        "!!.??.x",
        &es256_token(json!({})).replacen('.', ".x", 1),
    ] {
        let e = refusal(token);
        assert_eq!(e.reason(), "malformed_token", "{token}: {e}");
    }
}

#[test]
fn refuses_algorithm_not_configured_for_the_issuer() {
    let config = issuer_config(json!({"algorithms": ["RS256"]}));
    let verifier = Verifier::from_config(&[config], "issuers").unwrap();
    let e = verifier.verify(&es256_token(json!({})), NOW).unwrap_err();
    assert_eq!(e, AuthError::AlgorithmNotAllowed("ES256".to_owned()));
}

#[test]
fn dev_jwks_loads_one_key_per_algorithm() {
    let config = issuer_config(json!({"jwks": serde_json::from_str::<Value>(DEV_JWKS).unwrap()}));
    assert!(Verifier::from_config(&[config], "issuers").is_ok());
}

fn config_error(extra: Value) -> crate::error::ConfigError {
    let good = issuer_config(json!({"issuer": "https://other"}));
    match Verifier::from_config(&[good, issuer_config(extra)], "issuers") {
        Ok(_) => panic!("configuration accepted"),
        Err(e) => e,
    }
}

#[test]
fn none_can_never_be_configured() {
    let e = config_error(json!({"algorithms": ["ES256", "none"]}));
    assert_eq!(e.path, "issuers[1].algorithms[1]");
}

#[test]
fn unknown_algorithm_name_is_a_config_error() {
    let e = config_error(json!({"algorithms": ["es256"]}));
    assert_eq!(e.path, "issuers[1].algorithms[0]");
    assert!(e.message.contains("ES256"), "{e}");
}

#[test]
fn unsupported_key_type_is_reported_at_its_kty() {
    let e = config_error(json!({"jwks": {"keys": [jwks()["keys"][0], {"kty": "XYZ"}]}}));
    assert_eq!(e.path, "issuers[1].jwks.keys[1].kty");
}

#[test]
fn hmac_key_without_hs_algorithm_is_a_config_error() {
    let e = config_error(
        json!({"jwks": {"keys": [{"kty": "oct", "k": URL_SAFE_NO_PAD.encode([1u8; 32])}]}}),
    );
    assert_eq!(e.path, "issuers[1].jwks.keys[0].kty");
}

#[test]
fn short_hmac_key_is_a_config_error() {
    let short = json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode([1u8; 16])});
    let e = config_error(json!({"algorithms": ["HS256"], "jwks": {"keys": [short]}}));
    assert_eq!(e.path, "issuers[1].jwks.keys[0].k");
}

#[test]
fn jwk_alg_that_does_not_fit_its_key_type_is_a_config_error() {
    let mut rsa = jwks()["keys"][1].clone();
    rsa["alg"] = json!("ES256");
    let e = config_error(json!({"jwks": {"keys": [rsa]}}));
    assert_eq!(e.path, "issuers[1].jwks.keys[0].alg");
}

#[test]
fn broken_key_material_is_reported_at_the_key() {
    let mut ec = jwks()["keys"][0].clone();
    ec["x"] = json!("AAAA");
    let e = config_error(json!({"jwks": {"keys": [ec]}}));
    assert_eq!(e.path, "issuers[1].jwks.keys[0]");
}

#[test]
fn jwks_without_usable_keys_is_a_config_error() {
    assert_eq!(
        config_error(json!({"jwks": {"keys": []}})).path,
        "issuers[1].jwks.keys"
    );
    assert_eq!(config_error(json!({"jwks": [1]})).path, "issuers[1].jwks");
}

#[test]
fn repeated_issuer_is_a_config_error() {
    let e = config_error(json!({"issuer": "https://other"}));
    assert_eq!(e.path, "issuers[1].issuer");
}

#[test]
fn issuer_without_audiences_is_a_config_error() {
    assert_eq!(
        config_error(json!({"audiences": []})).path,
        "issuers[1].audiences"
    );
}

#[test]
fn repeated_kid_is_a_config_error() {
    let key = jwks()["keys"][0].clone();
    let e = config_error(json!({"jwks": {"keys": [key, key]}}));
    assert_eq!(e.path, "issuers[1].jwks.keys[1].kid");
}

#[test]
fn encryption_keys_never_verify_signatures() {
    let mut enc = jwks()["keys"][1].clone(); // the dev RSA key, published again for encryption
    enc["use"] = json!("enc");
    enc["kid"] = json!("enc-key");
    let mut config = issuer_config(json!({}));
    config.jwks["keys"].as_array_mut().unwrap().push(enc);
    let verifier = Verifier::from_config(&[config], "issuers").unwrap();
    let token = RS256KeyPair::from_pem(DEV_RS256_PEM)
        .unwrap()
        .with_key_id("enc-key")
        .sign(claims(json!({})))
        .unwrap();
    assert_eq!(
        verifier.verify(&token, NOW).unwrap_err(),
        AuthError::UnknownKey
    );
}

// ---- issuers with remote key sets (`remote_jwks`) ----

fn remote_issuer(extra: Value) -> IssuerConfig {
    let mut config = json!({
        "issuer": ISS, "audiences": [AUD],
        "remote_jwks": {"cluster": "idp", "jwks_uri": "https://idp.example.com/keys"},
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(config).unwrap()
}

fn remote_verifier() -> Verifier {
    Verifier::from_config(&[remote_issuer(json!({}))], "issuers").unwrap()
}

/// The key set the identity provider would serve, read as the filter reads a fetched one.
fn fetched(verifier: &Verifier, jwks: &Value) -> std::rc::Rc<KeySet> {
    let (_, remote) = verifier.remote_issuers().next().unwrap();
    std::rc::Rc::new(remote.key_set(jwks.to_string().as_bytes()).unwrap().0)
}

#[test]
fn remote_issuer_without_a_loaded_key_set_is_unavailable_not_unauthorized() {
    let e = remote_verifier()
        .verify(&es256_token(json!({})), NOW)
        .unwrap_err();
    assert_eq!(e, AuthError::KeysUnavailable(ISS.to_owned()));
    assert_eq!(e.http_status(), 503);
    assert_eq!(e.reason(), "keys_unavailable");
}

#[test]
fn remote_issuer_verifies_with_the_fetched_key_set() {
    let verifier = remote_verifier();
    let set = fetched(&verifier, &jwks());
    let verified = verifier
        .verify_with(&es256_token(json!({})), NOW, |i| {
            assert_eq!(i, 0);
            Some(set.clone())
        })
        .unwrap();
    assert_eq!(verified.identity.sub, "alice");
}

#[test]
fn token_signed_with_a_rotated_out_key_names_an_unknown_kid_of_a_remote_issuer() {
    let remote = remote_verifier();
    let rotated = json!({"keys": [serde_json::from_str::<Value>(&keys().ed25519.public_key().to_jwk()).unwrap()]});
    let set = fetched(&remote, &rotated);
    let token = es256_token(json!({}));
    let e = remote
        .verify_with(&token, NOW, |_| Some(set.clone()))
        .unwrap_err();
    assert_eq!(e, AuthError::UnknownKey);
    assert_eq!(remote.remote_issuer_of(&token), Some(0));
    assert_eq!(verifier().remote_issuer_of(&token), None);
}

#[test]
fn fetched_key_set_skips_keys_it_cannot_use_and_keeps_the_rest() {
    let verifier = remote_verifier();
    let (_, remote) = verifier.remote_issuers().next().unwrap();
    let mut doc = jwks();
    let list = doc["keys"].as_array_mut().unwrap();
    list.push(json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "p521"}));
    list.push(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}));
    list.push(json!({"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB", "kid": "enc"}));
    let repeated = list[0].clone();
    list.push(repeated);
    let (set, skipped) = remote.key_set(doc.to_string().as_bytes()).unwrap();
    assert_eq!(
        set.key_ids(),
        ["warden-dev-es256", "warden-dev-rs256", "rsa-ps256", "ed"]
    );
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert!(skipped[0].contains("P-521"), "{skipped:?}");
    assert!(skipped[1].contains("HMAC"), "{skipped:?}");
    assert!(skipped[2].contains("earlier key"), "{skipped:?}");
}

#[test]
fn fetched_key_set_without_a_usable_key_is_refused_with_the_reasons() {
    let verifier = remote_verifier();
    let (_, remote) = verifier.remote_issuers().next().unwrap();
    let e = remote
        .key_set(br#"{"keys":[{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}]}"#)
        .unwrap_err();
    assert!(
        e.contains("no signature key usable") && e.contains("P-521"),
        "{e}"
    );
    let e = remote.key_set(b"<html>").unwrap_err();
    assert!(e.contains("not JSON"), "{e}");
}

#[test]
fn issuer_with_both_inline_and_remote_keys_is_a_config_error() {
    let config = remote_issuer(json!({"jwks": jwks()}));
    let e = Verifier::from_config(&[config], "issuers").err().unwrap();
    assert_eq!(e.path, "issuers[0].jwks");
}

#[test]
fn issuer_without_any_keys_is_a_config_error() {
    let config: IssuerConfig =
        serde_json::from_value(json!({"issuer": ISS, "audiences": [AUD]})).unwrap();
    let e = Verifier::from_config(&[config], "issuers").err().unwrap();
    assert_eq!(e.path, "issuers[0]");
    assert!(e.message.contains("remote_jwks"), "{e}");
}

#[test]
fn remote_jwks_uri_that_is_not_an_http_url_is_a_config_error() {
    let config =
        remote_issuer(json!({"remote_jwks": {"cluster": "idp", "jwks_uri": "file:///keys"}}));
    let e = Verifier::from_config(&[config], "issuers").err().unwrap();
    assert_eq!(e.path, "issuers[0].remote_jwks.jwks_uri");
}

#[test]
fn discovery_needs_an_issuer_that_is_a_url() {
    let config = remote_issuer(json!({"issuer": "not-a-url", "remote_jwks": {"cluster": "idp"}}));
    let e = Verifier::from_config(&[config], "issuers").err().unwrap();
    assert_eq!(e.path, "issuers[0].remote_jwks.jwks_uri");
    assert!(e.message.contains("required"), "{e}");
}

#[test]
fn remote_jwks_with_empty_cluster_or_zero_interval_is_a_config_error() {
    for (remote, member) in [
        (json!({"cluster": " "}), "cluster"),
        (
            json!({"cluster": "idp", "refresh_interval_seconds": 0}),
            "refresh_interval_seconds",
        ),
        (
            json!({"cluster": "idp", "timeout_ms": 600_000}),
            "timeout_ms",
        ),
        (
            json!({"cluster": "idp", "refresh_interval_seconds": 10, "unknown_kid_min_interval_seconds": 60}),
            "unknown_kid_min_interval_seconds",
        ),
    ] {
        let config = remote_issuer(json!({ "remote_jwks": remote }));
        let e = Verifier::from_config(&[config], "issuers").err().unwrap();
        assert_eq!(e.path, format!("issuers[0].remote_jwks.{member}"), "{e}");
    }
}

// ---- header parameters Warden ignores (`jku`, `x5u`, `jwk`, `x5c`, `x5t`, ...) ----

/// A second RSA key, standing for an attacker's (generating one in a debug test is slow).
const ATTACKER_RS256_PEM: &str = include_str!("testdata/attacker-rs256.pem");

/// A private key that signs a hand-made header and payload: RFC 7515 §5.1 over
/// `BASE64URL(header) || '.' || BASE64URL(payload)`.
enum RawSigner<'k> {
    Es256(&'k ES256KeyPair),
    Rs256(&'k RS256KeyPair),
    EdDsa(&'k Ed25519KeyPair),
}

impl RawSigner<'_> {
    fn alg(&self) -> &'static str {
        match self {
            Self::Es256(_) => "ES256",
            Self::Rs256(_) => "RS256",
            Self::EdDsa(_) => "EdDSA",
        }
    }

    fn sign(&self, signing_input: &[u8]) -> Vec<u8> {
        match self {
            Self::Es256(k) => {
                use p256::ecdsa::signature::Signer as _;
                let signature: p256::ecdsa::Signature = k.key_pair().as_ref().sign(signing_input);
                signature.to_bytes().to_vec() // R || S, RFC 7518 §3.4
            }
            Self::Rs256(k) => {
                let pkey =
                    superboring::pkey::PKey::from_rsa(k.key_pair().as_ref().clone()).unwrap();
                let mut signer = superboring::sign::Signer::new(
                    superboring::hash::MessageDigest::sha256(),
                    &pkey,
                )
                .unwrap();
                signer
                    .set_rsa_padding(superboring::rsa::Padding::PKCS1)
                    .unwrap();
                signer.update(signing_input).unwrap();
                signer.sign_to_vec().unwrap()
            }
            Self::EdDsa(k) => k.key_pair().as_ref().sk.sign(signing_input, None).to_vec(),
        }
    }

    /// A compact JWS of the standard claims whose header is `{"alg", "kid"}` plus `extra`.
    fn token(&self, kid: &str, extra: &Value) -> String {
        let mut header = json!({"alg": self.alg(), "kid": kid});
        header
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let payload = serde_json::to_value(claims(json!({}))).unwrap();
        self.token_from_json(&header.to_string(), &payload.to_string())
    }

    /// A compact JWS of exactly these header and payload texts.
    fn token_from_json(&self, header: &str, payload: &str) -> String {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }
}

/// Header parameters Warden never reads, each with a JSON type a typed header parser refuses.
/// `jwk` is the attacker's own public key: it must not be the key the signature is checked with.
fn ignored_header_parameters(attacker_jwk: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("jku", json!(42)),
        ("x5u", json!({"href": "https://evil.example/cert.pem"})),
        ("jwk", serde_json::from_str(attacker_jwk).unwrap()),
        ("x5c", json!("MIIBattacker-chain-as-a-string")),
        ("x5t", json!(7)),
        ("x5t#S256", json!(["not", "a", "string"])),
        ("cty", json!({"nested": false})),
        ("typ", json!("JWT")),
    ]
}

struct Case<'k> {
    kid: &'static str,
    trusted: RawSigner<'k>,
    attacker: RawSigner<'k>,
    attacker_jwk: String,
}

fn cases() -> Vec<Case<'static>> {
    static ATTACKERS: OnceLock<(ES256KeyPair, RS256KeyPair, Ed25519KeyPair)> = OnceLock::new();
    let (es, rs, ed) = ATTACKERS.get_or_init(|| {
        (
            ES256KeyPair::generate(),
            RS256KeyPair::from_pem(ATTACKER_RS256_PEM).unwrap(),
            Ed25519KeyPair::generate(),
        )
    });
    vec![
        Case {
            kid: "warden-dev-es256",
            trusted: RawSigner::Es256(&keys().es256),
            attacker: RawSigner::Es256(es),
            attacker_jwk: es.public_key().to_jwk(),
        },
        Case {
            kid: "warden-dev-rs256",
            trusted: RawSigner::Rs256(&keys().rs256),
            attacker: RawSigner::Rs256(rs),
            attacker_jwk: rs.public_key().to_jwk(),
        },
        Case {
            kid: "ed",
            trusted: RawSigner::EdDsa(&keys().ed25519),
            attacker: RawSigner::EdDsa(ed),
            attacker_jwk: ed.public_key().to_jwk(),
        },
    ]
}

/// Asserts that `token` verifies as alice's; `what` describes the token.
fn assert_accepted(token: &str, what: &str) {
    assert_eq!(
        verifier().verify(token, NOW).map(|v| v.identity.sub),
        Ok("alice".to_owned()),
        "{what}"
    );
}

#[test]
fn raw_signer_makes_tokens_the_verifier_accepts() {
    for case in cases() {
        let token = case.trusted.token(case.kid, &json!({}));
        assert_accepted(&token, case.trusted.alg());
    }
}

#[test]
fn valid_token_is_accepted_whatever_the_type_of_each_ignored_header_parameter() {
    for case in cases() {
        for (name, value) in ignored_header_parameters(&case.attacker_jwk) {
            let token = case.trusted.token(case.kid, &json!({ name: value }));
            let what = format!("{} token with header {name:?}: {value}", case.trusted.alg());
            assert_accepted(&token, &what);
        }
    }
}

#[test]
fn valid_token_carrying_all_ignored_header_parameters_at_once_is_accepted() {
    for case in cases() {
        let all: Map<String, Value> = ignored_header_parameters(&case.attacker_jwk)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        let token = case.trusted.token(case.kid, &Value::Object(all));
        assert_accepted(&token, case.trusted.alg());
    }
}

#[test]
fn ignored_header_parameters_never_choose_the_key() {
    for case in cases() {
        for (name, value) in ignored_header_parameters(&case.attacker_jwk) {
            let forged = case.attacker.token(case.kid, &json!({ name: value }));
            assert_eq!(
                refusal(&forged),
                AuthError::BadSignature,
                "{} token signed by the attacker with header {name:?}: {value}",
                case.attacker.alg()
            );
        }
    }
}

#[test]
fn header_with_a_long_certificate_chain_is_accepted_within_the_token_limit() {
    // Three 3 KB certificates: the header is over 8 KiB of base64url, the token under MAX_TOKEN_BYTES.
    let chain: Vec<String> = (0..3).map(|i| format!("{i}").repeat(3000)).collect();
    let case = &cases()[0];
    let token = case.trusted.token(case.kid, &json!({ "x5c": chain }));
    assert!(token.split('.').next().unwrap().len() > 8192);
    assert!(verifier().verify(&token, NOW).is_ok());
}

#[test]
fn typ_must_still_name_a_jwt() {
    let case = &cases()[0];
    for typ in ["JWT", "jwt", "at+jwt", "application/at+JWT"] {
        let token = case.trusted.token(case.kid, &json!({ "typ": typ }));
        assert!(verifier().verify(&token, NOW).is_ok(), "typ {typ:?}");
    }
    for typ in [json!("JOSE"), json!("secevent"), json!(1)] {
        let token = case.trusted.token(case.kid, &json!({ "typ": typ }));
        assert_eq!(refusal(&token).reason(), "malformed_token", "typ {typ}");
    }
}

#[test]
fn signed_token_repeating_a_claim_or_header_parameter_is_refused() {
    let signer = RawSigner::Es256(&keys().es256);
    let header = r#"{"alg":"ES256","kid":"warden-dev-es256"}"#;
    let payload = serde_json::to_value(claims(json!({}))).unwrap().to_string();
    assert!(verifier()
        .verify(&signer.token_from_json(header, &payload), NOW)
        .is_ok());

    let expired_then_not = payload.replacen('{', &format!("{{\"exp\":{},", NOW - 3600), 1);
    let token = signer.token_from_json(header, &expired_then_not);
    assert_eq!(refusal(&token).reason(), "malformed_token");

    let two_kids = r#"{"alg":"ES256","kid":"warden-dev-es256","kid":"other"}"#;
    let token = signer.token_from_json(two_kids, &payload);
    assert_eq!(refusal(&token).reason(), "malformed_token");
}

#[test]
fn es256_signature_in_der_form_is_refused() {
    let token = RawSigner::Es256(&keys().es256).token("warden-dev-es256", &json!({}));
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let fixed = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let der = p256::ecdsa::Signature::from_slice(&fixed).unwrap().to_der();
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(der.as_bytes()));
    assert_eq!(refusal(&token), AuthError::BadSignature); // JWS uses R || S (RFC 7518 §3.4)
}
