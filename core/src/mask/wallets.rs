//! Cryptocurrency wallet addresses (`CRYPTO_WALLET`): Bitcoin legacy and P2SH addresses (Base58Check,
//! version byte 0x00 or 0x05, checksum = first 4 bytes of double SHA-256), Bitcoin SegWit addresses
//! (`bc1…`, bech32 for witness version 0 and bech32m for 1–16, BIP-173 / BIP-350 checksums) and
//! Ethereum addresses (`0x` and 40 hex digits; EIP-55 mixed-case checksums are not verified, see
//! `docs/detectors.md`).

use super::detectors::{ends_token, is_word, starts_token};
use super::personal::Found;

/// Reports wallet addresses as byte spans.
pub(super) fn scan_wallets(text: &[u8], found: Found<'_>) {
    let mut i = 0;
    while i < text.len() {
        if starts_token(text, i) && text[i].is_ascii_alphanumeric() {
            let end = (i..text.len())
                .find(|&j| !is_word(text[j]))
                .unwrap_or(text.len());
            let token = &text[i..end];
            if ends_token(text, end) && is_wallet(token) {
                found(i, end);
            }
            i = end.max(i + 1);
            continue;
        }
        i += 1;
    }
}

fn is_wallet(token: &[u8]) -> bool {
    match token {
        [b'1' | b'3', ..] => (26..=35).contains(&token.len()) && base58check_address(token),
        [b'b' | b'B', b'c' | b'C', b'1', ..] => (14..=74).contains(&token.len()) && segwit(token),
        [b'0', b'x' | b'X', hex @ ..] => hex.len() == 40 && hex.iter().all(u8::is_ascii_hexdigit),
        _ => false,
    }
}

fn base58check_address(token: &[u8]) -> bool {
    bs58::decode(token)
        .with_check(None)
        .into_vec()
        .is_ok_and(|payload| payload.len() == 21 && matches!(payload[0], 0x00 | 0x05))
}

fn segwit(token: &[u8]) -> bool {
    std::str::from_utf8(token)
        .is_ok_and(|s| bech32::segwit::decode(s).is_ok_and(|(hrp, _, _)| hrp == bech32::hrp::BC))
}
