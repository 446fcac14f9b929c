//! The table of built-in detectors: name, pre-scan triggers, and the scanner each one runs.
//! `docs/detectors.md` documents every row; its tests are in `rows.rs` (named after the rows).

use super::detectors::{scan_digit_groups, scan_emails, DigitKind, DigitKinds};
use super::personal::{
    scan_ibans, scan_ip_addresses, scan_mac_addresses, scan_ninos, scan_phones, scan_us_passports,
};
use super::prefilter::Trigger;
use super::secrets::{
    scan_assignments, scan_jwts, scan_private_keys, scan_tokens, Assigned, ANTHROPIC, AWS, GITHUB,
    GITLAB, GOOGLE, OPENAI, SLACK, STRIPE,
};
use super::wallets::scan_wallets;

/// One built-in detector.
pub(super) struct BuiltIn {
    /// `UPPER_SNAKE_CASE` name (rendered, counted, named in profiles).
    pub name: &'static str,
    /// Pre-scan triggers any of which must fire for the scanner to have a chance.
    pub trigger: u32,
}

/// The built-in detectors, in precedence order (on overlapping matches of equal start and length,
/// the one listed first wins).
pub(super) const BUILT_INS: [BuiltIn; 23] = [
    built_in(super::CREDIT_CARD, Trigger::DIGITS),
    built_in(super::US_SSN, Trigger::DIGITS),
    built_in(super::EMAIL_ADDRESS, Trigger::AT),
    built_in(super::US_ITIN, Trigger::DIGITS),
    built_in(super::UK_NHS, Trigger::DIGITS),
    built_in(super::IBAN_CODE, Trigger::UPPER_DIGIT),
    built_in(super::UK_NINO, Trigger::UPPER_DIGIT),
    built_in(super::US_PASSPORT, Trigger::PASSPORT),
    built_in(super::CRYPTO_WALLET, Trigger::WALLET),
    built_in(super::IP_ADDRESS, Trigger::IPV4 | Trigger::HEX_SEP),
    built_in(super::MAC_ADDRESS, Trigger::HEX_SEP),
    built_in(super::PHONE_NUMBER, Trigger::PHONE),
    built_in(super::PRIVATE_KEY, Trigger::PEM),
    built_in(super::JWT, Trigger::JWT),
    built_in(super::AWS_ACCESS_KEY, Trigger::AWS | Trigger::ASSIGN),
    built_in(super::GITHUB_TOKEN, Trigger::GITHUB),
    built_in(super::GITLAB_TOKEN, Trigger::GITLAB),
    built_in(super::SLACK_TOKEN, Trigger::SLACK),
    built_in(super::STRIPE_KEY, Trigger::STRIPE),
    built_in(super::GOOGLE_API_KEY, Trigger::GOOGLE),
    built_in(super::ANTHROPIC_API_KEY, Trigger::SK),
    built_in(super::OPENAI_API_KEY, Trigger::SK),
    built_in(super::SECRET_ASSIGNMENT, Trigger::ASSIGN),
];

const fn built_in(name: &'static str, trigger: u32) -> BuiltIn {
    BuiltIn { name, trigger }
}

/// Index of a built-in in [`BUILT_INS`], by name (`usize::MAX` for none: a compile-time table).
pub(super) const fn index(name: &str) -> usize {
    let mut i = 0;
    while i < BUILT_INS.len() {
        if const_eq(BUILT_INS[i].name, name) {
            return i;
        }
        i += 1;
    }
    usize::MAX
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

pub(super) const CARD: usize = index(super::CREDIT_CARD);
pub(super) const SSN: usize = index(super::US_SSN);
pub(super) const EMAIL: usize = index(super::EMAIL_ADDRESS);
pub(super) const ITIN: usize = index(super::US_ITIN);
pub(super) const NHS: usize = index(super::UK_NHS);
pub(super) const AWS_KEY: usize = index(super::AWS_ACCESS_KEY);
pub(super) const SECRET: usize = index(super::SECRET_ASSIGNMENT);

/// Runs the built-ins `wanted(index)` selects whose triggers fired, reporting
/// `found(start, end, index)`.
pub(super) fn scan(
    text: &[u8],
    fired: u32,
    wanted: &dyn Fn(usize) -> bool,
    found: &mut dyn FnMut(usize, usize, usize),
) {
    let runs = |index: usize| BUILT_INS[index].trigger & fired != 0 && wanted(index);
    let kinds = DigitKinds {
        cards: runs(CARD),
        ssns: runs(SSN),
        itins: runs(ITIN),
        nhs: runs(NHS),
    };
    if kinds.cards || kinds.ssns || kinds.itins || kinds.nhs {
        scan_digit_groups(text, kinds, &mut |start, end, kind| {
            let index = match kind {
                DigitKind::CreditCard => CARD,
                DigitKind::UsSsn => SSN,
                DigitKind::UsItin => ITIN,
                DigitKind::UkNhs => NHS,
            };
            found(start, end, index);
        });
    }
    if runs(EMAIL) {
        scan_emails(text, &mut |start, end| found(start, end, EMAIL));
    }
    let (aws, secret) = (runs(AWS_KEY), runs(SECRET));
    if aws || secret {
        scan_assignments(text, &mut |start, end, kind| match kind {
            Assigned::AwsSecret if aws => found(start, end, AWS_KEY),
            _ if secret => found(start, end, SECRET),
            _ => {}
        });
    }
    for (index, built_in) in BUILT_INS.iter().enumerate() {
        if !runs(index) {
            continue;
        }
        let mut at = |start, end| found(start, end, index);
        match built_in.name {
            super::IBAN_CODE => scan_ibans(text, &mut at),
            super::UK_NINO => scan_ninos(text, &mut at),
            super::US_PASSPORT => scan_us_passports(text, &mut at),
            super::CRYPTO_WALLET => scan_wallets(text, &mut at),
            super::IP_ADDRESS => scan_ip_addresses(text, &mut at),
            super::MAC_ADDRESS => scan_mac_addresses(text, &mut at),
            super::PHONE_NUMBER => scan_phones(text, &mut at),
            super::PRIVATE_KEY => scan_private_keys(text, &mut at),
            super::JWT => scan_jwts(text, &mut at),
            super::AWS_ACCESS_KEY => scan_tokens(text, &[AWS], &mut at),
            super::GITHUB_TOKEN => scan_tokens(text, &GITHUB, &mut at),
            super::GITLAB_TOKEN => scan_tokens(text, &[GITLAB], &mut at),
            super::SLACK_TOKEN => scan_tokens(text, &[SLACK], &mut at),
            super::STRIPE_KEY => scan_tokens(text, &[STRIPE], &mut at),
            super::GOOGLE_API_KEY => scan_tokens(text, &[GOOGLE], &mut at),
            super::ANTHROPIC_API_KEY => scan_tokens(text, &[ANTHROPIC], &mut at),
            super::OPENAI_API_KEY => scan_tokens(text, &[OPENAI], &mut at),
            // Cards, SSNs, ITINs, NHS numbers, e-mails and assignments: scanned above.
            _ => {}
        }
    }
}
