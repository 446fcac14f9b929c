//! Text as one URL component, for the paths, queries and fragments Warden and `warden serve` build.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Every byte but RFC 3986 §2.3's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `text` as one URL path segment, query value or fragment: unreserved characters kept, every other
/// byte percent-encoded with upper-case hex (RFC 3986 §2.1), so `/`, `?`, `#`, `&` and `=` in `text`
/// can never end the component it is placed in.
pub fn component(text: &str) -> String {
    utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_unreserved_and_encodes_every_other_byte() {
        assert_eq!(component("echo_v2.1-~x"), "echo_v2.1-~x");
        assert_eq!(
            component("a/b?c#d&e=f g%é"),
            "a%2Fb%3Fc%23d%26e%3Df%20g%25%C3%A9"
        );
    }
}
