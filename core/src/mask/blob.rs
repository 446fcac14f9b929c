//! Base64 text inside MCP embedded resources and `resources/read` contents: an object with a string
//! `blob` and a `mimeType` whose type is `text/*`, `application/json` or `*/*+json` holds text
//! (MCP `BlobResourceContents`); it is decoded (RFC 4648 §4 base64 with padding), masked like a string
//! leaf (JSON text inside included) and re-encoded. Blobs of any other or no `mimeType`, blobs that
//! are not valid base64, and decoded bytes that are not UTF-8 are binary and left as they are.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::{DetectorSet, Masker, Tally};

impl Masker {
    /// Masks the text blob of `members` (one JSON object) in place, if it has one. Returns whether it
    /// changed.
    pub(super) fn mask_text_blob(
        &self,
        set: &DetectorSet,
        members: &mut Map<String, Value>,
        tally: &mut Tally,
    ) -> bool {
        let is_text = members
            .get("mimeType")
            .and_then(Value::as_str)
            .is_some_and(is_text_mime_type);
        let Some(Value::String(blob)) = members.get_mut("blob").filter(|_| is_text) else {
            return false;
        };
        let Some(text) = STANDARD
            .decode(blob.as_bytes())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
        else {
            return false;
        };
        match self.mask_string_leaf(set, &text, tally) {
            Some(masked) => {
                *blob = STANDARD.encode(masked);
                true
            }
            None => false,
        }
    }
}

/// `text/*`, `application/json` or a `+json` structured syntax suffix (RFC 6839 §3.1), any case,
/// parameters ignored.
fn is_text_mime_type(mime: &str) -> bool {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind == "text" || (kind == "application" && subtype == "json") || subtype.ends_with("+json")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn text_and_json_mime_types_are_text() {
        for mime in [
            "text/plain",
            "TEXT/CSV; charset=utf-8",
            "application/json",
            "application/ld+json",
        ] {
            assert!(is_text_mime_type(mime), "{mime}");
        }
        for mime in [
            "image/png",
            "application/octet-stream",
            "application/pdf",
            "text",
            "",
        ] {
            assert!(!is_text_mime_type(mime), "{mime}");
        }
    }
}
