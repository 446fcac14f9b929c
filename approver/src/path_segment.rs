//! Names (tool names) as one URL path segment, for the pin routes the CLI calls and the inbox's
//! forms post to.

/// `name` as one URL path segment (or query value): RFC 3986 unreserved characters kept, every
/// other byte percent-encoded (§2.1, upper-case hex).
pub fn segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
