//! JSON text met in a string leaf, kept to recognise the same text later in the message as a value.
//!
//! An MCP server that returns `structuredContent` SHOULD also return it serialized in a text content
//! block (MCP 2025-06-18, server/tools §Structured Content); `rmcp` writes that text with
//! `serde_json`, byte for byte the compact JSON of `structuredContent`, and before it. When the
//! streaming rewriter then meets an object or array whose text is exactly the text it already masked
//! inside the string, the masking of the string is reused instead of done twice.
//!
//! Why the reuse is exact: the twin's text was walked to its end without the walker declining
//! (grammar, escapes, repeated keys), and the walker's decisions and the leaf callbacks' answers
//! depend on the bytes only (the callbacks see no context). So a value whose text is the same bytes
//! would be walked the same way, to the same end (JSON values are self-delimiting), and masked the
//! same. Only the nesting around it differs: the twin is reused only where that nesting plus its own
//! depth stays within the walker's limit, so that the walker would not have declined it there.
//!
//! Why it cannot be used to slow Warden down: the bytes compared against a twin are capped at twice
//! its length plus [`SLACK_BYTES`] over its life, after which it is dropped.

use super::stream::MAX_DEPTH;
use super::Tally;

/// Shortest JSON text worth remembering: below it, masking again costs about what comparing does.
const MIN_BYTES: usize = 256;

/// Bytes a twin may compare beyond twice its length before it is dropped.
const SLACK_BYTES: usize = 4096;

/// The longest JSON text masked inside a string leaf of the current message, with its masking.
#[derive(Debug)]
pub(crate) struct Twin {
    /// The decoded text of the string leaf (a JSON object or array, no surrounding whitespace).
    text: String,
    /// The masked JSON text (`None`: nothing masked).
    masked: Option<String>,
    /// What masking `text` counted.
    tally: Tally,
    /// The deepest nesting of objects and arrays in `text`.
    deepest: usize,
    /// Bytes that may still be compared against `text`.
    budget: usize,
}

impl Twin {
    /// Remembers `text`, walked whole by a `JsonWalker` that reached nesting `deepest`, and its
    /// masking in `slot` when it is worth it: at least [`MIN_BYTES`] long, starting with `{` or `[`
    /// and ending with `}` or `]`, and longer than the twin already there.
    pub(super) fn offer(
        slot: &mut Option<Twin>,
        text: &str,
        deepest: usize,
        masked: Option<&String>,
        tally: &Tally,
    ) {
        let bytes = text.as_bytes();
        let bracketed =
            matches!(bytes.first(), Some(b'{' | b'[')) && matches!(bytes.last(), Some(b'}' | b']'));
        if !bracketed
            || text.len() < MIN_BYTES
            || slot
                .as_ref()
                .is_some_and(|twin| twin.text.len() >= text.len())
        {
            return;
        }
        *slot = Some(Twin {
            text: text.to_owned(),
            masked: masked.cloned(),
            tally: tally.clone(),
            deepest,
            budget: 2 * text.len() + SLACK_BYTES,
        });
    }

    /// For an object or array at nesting `depth` whose text starts `rest`: when that text is the
    /// twin's, its length and the twin's masking (counted into `tally`). Compares within the twin's
    /// budget, and drops the twin (`slot` emptied) once the budget is spent.
    pub(super) fn known(
        slot: &mut Option<Twin>,
        rest: &str,
        depth: usize,
        tally: &mut Tally,
    ) -> Option<(usize, Option<String>)> {
        let twin = slot.as_mut()?;
        let (text, rest) = (twin.text.as_bytes(), rest.as_bytes());
        if rest.len() < text.len()
            || rest.first() != text.first()
            || depth + twin.deepest > MAX_DEPTH
        {
            return None;
        }
        let compared = common_prefix(text, rest, twin.budget);
        twin.budget -= compared;
        if compared == text.len() {
            tally.extend(&twin.tally);
            return Some((text.len(), twin.masked.clone()));
        }
        if twin.budget == 0 {
            *slot = None;
        }
        None
    }
}

/// How many bytes `a` and `b` share from their start, counting no further than `limit` (compared
/// eight bytes at a time: the `.wasm`'s `memcmp`, which slice equality calls, compares one byte at a
/// time).
fn common_prefix(a: &[u8], b: &[u8], limit: usize) -> usize {
    let limit = limit.min(a.len()).min(b.len());
    let (a, b) = (&a[..limit], &b[..limit]);
    let word = |bytes: &[u8]| <[u8; 8]>::try_from(bytes).map_or(0, u64::from_ne_bytes);
    let same = 8 * a
        .chunks_exact(8)
        .zip(b.chunks_exact(8))
        .take_while(|&(x, y)| word(x) == word(y))
        .count();
    same + a[same..]
        .iter()
        .zip(&b[same..])
        .take_while(|(x, y)| x == y)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(len: usize) -> String {
        format!("[{}]", "1,".repeat((len - 3) / 2) + "1")
    }

    #[test]
    fn only_long_bracketed_texts_are_remembered_and_the_longest_is_kept() {
        let mut slot = None;
        Twin::offer(&mut slot, &"x".repeat(600), 1, None, &Tally::default());
        Twin::offer(
            &mut slot,
            &format!(" {}", text(600)),
            1,
            None,
            &Tally::default(),
        );
        Twin::offer(&mut slot, &text(100), 1, None, &Tally::default());
        assert!(slot.is_none());
        Twin::offer(&mut slot, &text(601), 1, None, &Tally::default());
        Twin::offer(&mut slot, &text(401), 1, None, &Tally::default());
        assert_eq!(slot.as_ref().map(|t| t.text.len()), Some(601));
    }

    fn known(slot: &mut Option<Twin>, rest: &str, depth: usize) -> Option<usize> {
        Twin::known(slot, rest, depth, &mut Tally::default()).map(|(len, _)| len)
    }

    #[test]
    fn a_twin_is_found_only_at_its_whole_text_and_within_the_depth_limit() {
        let long = text(601);
        let mut slot = None;
        Twin::offer(&mut slot, &long, 1, None, &Tally::default());
        assert_eq!(known(&mut slot, &format!("{long},2]"), 0), Some(601));
        assert_eq!(known(&mut slot, &long[..600], 0), None);
        assert_eq!(known(&mut slot, &format!("[2,{}", &long[3..]), 0), None);
        assert_eq!(known(&mut slot, &long, MAX_DEPTH - 1), Some(601));
        assert_eq!(known(&mut slot, &long, MAX_DEPTH), None);
    }

    #[test]
    fn a_reused_twin_counts_what_its_masking_counted() {
        let mut tally = Tally::default();
        tally.add(3, 2);
        let mut slot = None;
        let masked = format!("[{}]", "0,".repeat(300) + "0");
        Twin::offer(&mut slot, &text(601), 1, Some(&masked), &tally);
        let mut counted = Tally::default();
        let found = Twin::known(&mut slot, &text(601), 0, &mut counted);
        assert_eq!(found, Some((601, Some(masked))));
        assert_eq!(counted.0.as_slice(), &[(3, 2)]);
    }

    #[test]
    fn comparisons_beyond_the_budget_drop_the_twin() {
        let long = text(1001);
        let mut slot = None;
        Twin::offer(&mut slot, &long, 1, None, &Tally::default());
        // Each probe matches all but the last byte of the twin.
        let near = format!("{}x", &long[..1000]);
        let mut probes = 0;
        while slot.is_some() {
            assert_eq!(known(&mut slot, &near, 0), None);
            probes += 1;
            assert!(probes < 100, "the twin was never dropped");
        }
        assert!(probes <= (2 * 1001 + SLACK_BYTES) / 1000 + 1, "{probes}");
    }

    #[test]
    fn the_common_prefix_never_passes_the_first_difference() {
        let a: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
        for diff in [0, 1, 63, 64, 65, 200, 299] {
            let mut b = a.clone();
            b[diff] ^= 1;
            assert_eq!(common_prefix(&a, &b, usize::MAX), diff);
            assert_eq!(common_prefix(&a, &b, 10), 10.min(diff));
        }
        assert_eq!(common_prefix(&a, &a, usize::MAX), 300);
    }
}
