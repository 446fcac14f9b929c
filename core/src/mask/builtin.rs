//! The table of built-in detectors: name, pre-scan triggers, and the scanner each one runs.
//! `docs/detectors.md` documents every row; its tests are in `rows.rs` (named after the rows).

use super::detectors::{scan_digit_groups, scan_emails, DigitKind, DigitKinds};
use super::personal::{
    scan_ibans, scan_ip_addresses, scan_mac_addresses, scan_ninos, scan_phones, scan_us_passports,
    Found,
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
    /// The detector's own scanner; `None` for those [`scan`] runs together (digit groups, e-mails,
    /// secret assignments).
    scanner: Option<fn(&[u8], Found<'_>)>,
}

/// The built-in detectors, in precedence order (on overlapping matches of equal start and length,
/// the one listed first wins).
pub(super) const BUILT_INS: [BuiltIn; 23] = [
    built_in(super::CREDIT_CARD, Trigger::DIGITS, None),
    built_in(super::US_SSN, Trigger::DIGITS, None),
    built_in(super::EMAIL_ADDRESS, Trigger::AT, None),
    built_in(super::US_ITIN, Trigger::DIGITS, None),
    built_in(super::UK_NHS, Trigger::DIGITS, None),
    built_in(super::IBAN_CODE, Trigger::UPPER_DIGIT, Some(scan_ibans)),
    built_in(super::UK_NINO, Trigger::UPPER_DIGIT, Some(scan_ninos)),
    built_in(
        super::US_PASSPORT,
        Trigger::PASSPORT,
        Some(scan_us_passports),
    ),
    built_in(super::CRYPTO_WALLET, Trigger::WALLET, Some(scan_wallets)),
    built_in(
        super::IP_ADDRESS,
        Trigger::IPV4 | Trigger::HEX_SEP,
        Some(scan_ip_addresses),
    ),
    built_in(
        super::MAC_ADDRESS,
        Trigger::HEX_SEP,
        Some(scan_mac_addresses),
    ),
    built_in(super::PHONE_NUMBER, Trigger::PHONE, Some(scan_phones)),
    built_in(super::PRIVATE_KEY, Trigger::PEM, Some(scan_private_keys)),
    built_in(super::JWT, Trigger::JWT, Some(scan_jwts)),
    built_in(
        super::AWS_ACCESS_KEY,
        Trigger::AWS | Trigger::ASSIGN,
        Some(|text, found| scan_tokens(text, &[AWS], found)),
    ),
    built_in(
        super::GITHUB_TOKEN,
        Trigger::GITHUB,
        Some(|text, found| scan_tokens(text, &GITHUB, found)),
    ),
    built_in(
        super::GITLAB_TOKEN,
        Trigger::GITLAB,
        Some(|text, found| scan_tokens(text, &[GITLAB], found)),
    ),
    built_in(
        super::SLACK_TOKEN,
        Trigger::SLACK,
        Some(|text, found| scan_tokens(text, &[SLACK], found)),
    ),
    built_in(
        super::STRIPE_KEY,
        Trigger::STRIPE,
        Some(|text, found| scan_tokens(text, &[STRIPE], found)),
    ),
    built_in(
        super::GOOGLE_API_KEY,
        Trigger::GOOGLE,
        Some(|text, found| scan_tokens(text, &[GOOGLE], found)),
    ),
    built_in(
        super::ANTHROPIC_API_KEY,
        Trigger::SK,
        Some(|text, found| scan_tokens(text, &[ANTHROPIC], found)),
    ),
    built_in(
        super::OPENAI_API_KEY,
        Trigger::SK,
        Some(|text, found| scan_tokens(text, &[OPENAI], found)),
    ),
    built_in(super::SECRET_ASSIGNMENT, Trigger::ASSIGN, None),
];

const fn built_in(
    name: &'static str,
    trigger: u32,
    scanner: Option<fn(&[u8], Found<'_>)>,
) -> BuiltIn {
    BuiltIn {
        name,
        trigger,
        scanner,
    }
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

// Detector sets keep the built-ins in a `u32` bit set.
const _: () = assert!(BUILT_INS.len() <= 32);

/// Per trigger bit, the built-ins (bit `i` for `BUILT_INS[i]`) that it lets run.
const BY_TRIGGER: [u32; 32] = {
    let mut table = [0; 32];
    let mut bit = 0;
    while bit < 32 {
        let mut i = 0;
        while i < BUILT_INS.len() {
            if BUILT_INS[i].trigger & (1 << bit) != 0 {
                table[bit] |= 1 << i;
            }
            i += 1;
        }
        bit += 1;
    }
    table
};

/// The built-ins (bit `i` for `BUILT_INS[i]`) that have a scanner of their own.
const OWN_SCANNER: u32 = {
    let mut bits = 0;
    let mut i = 0;
    while i < BUILT_INS.len() {
        if BUILT_INS[i].scanner.is_some() {
            bits |= 1 << i;
        }
        i += 1;
    }
    bits
};

/// Runs the built-ins of `members` (bit `i` for `BUILT_INS[i]`) one of whose triggers is in
/// `fired`, reporting `found(start, end, index)`.
pub(super) fn scan(
    text: &[u8],
    fired: u32,
    members: u32,
    found: &mut dyn FnMut(usize, usize, usize),
) {
    let mut triggered = 0;
    let mut bits = fired;
    while bits != 0 {
        triggered |= BY_TRIGGER[bits.trailing_zeros() as usize];
        bits &= bits - 1;
    }
    let active = triggered & members;
    let runs = |index: usize| active & (1 << index) != 0;
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
    let mut own = active & OWN_SCANNER;
    while own != 0 {
        let index = own.trailing_zeros() as usize;
        own &= own - 1;
        if let Some(scanner) = BUILT_INS[index].scanner {
            scanner(text, &mut |start, end| found(start, end, index));
        }
    }
}
