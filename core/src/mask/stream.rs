//! A streaming JSON leaf rewriter: walks JSON text once, hands every string and number leaf to a
//! callback, and copies every other byte through untouched, splicing in the callback's replacements.
//! No `Value` tree, no re-serialization.
//!
//! It accepts a subset of RFC 8259 JSON and declines ([`Unsupported`]) everything else, so that the
//! caller can take the `serde_json::Value` path, whose behaviour is the reference: text that is not
//! JSON, `\u` escapes, an escaped or repeated object key, nesting deeper than [`MAX_DEPTH`], anything
//! but whitespace after the document. Within that subset a leaf is decoded exactly as `serde_json`
//! decodes it.

use std::borrow::Cow;

use super::escapes;

/// The fast path declines this input; use the `Value` path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsupported;

/// Deepest array/object nesting walked (serde_json's own limit is 128).
pub(crate) const MAX_DEPTH: usize = 128;

/// One leaf handed to the callback.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Leaf<'a> {
    /// A string value (not a key): its raw text between the quotes, and whether it holds escapes.
    Str { raw: &'a str, escaped: bool },
    /// A number, as written.
    Number(&'a str),
    /// An object member's name (never escaped: the walker declines escaped names), handed before the
    /// member's value. The callback may decline it; a replacement for a name is not supported.
    Key(&'a str),
}

impl<'a> Leaf<'a> {
    /// The decoded text of a string leaf with only the escapes this walker accepts.
    pub fn unescape(raw: &'a str, escaped: bool) -> Cow<'a, str> {
        if !escaped {
            return Cow::Borrowed(raw);
        }
        let mut text = String::with_capacity(raw.len());
        let mut copied = 0;
        let mut escapes = escapes::Cursor::new(raw.as_bytes());
        // The walker let no quote or control character through unescaped: the next byte to escape
        // is the next backslash.
        while let Some(at) = escapes.next_from(copied) {
            text.push_str(raw.get(copied..at).unwrap_or_default());
            let escape = raw.as_bytes().get(at + 1).copied().unwrap_or(b'\\');
            text.push(match escape {
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                other => char::from(other), // '"', '\\', '/': validated by the walker
            });
            copied = at + 2;
        }
        text.push_str(raw.get(copied..).unwrap_or_default());
        Cow::Owned(text)
    }
}

/// What a leaf callback answers: `Some(json)` replaces the leaf's bytes with the JSON text `json`.
pub(crate) type LeafResult = Result<Option<String>, Unsupported>;

/// What a [`JsonWalker`] hands leaves to. Any `FnMut(Leaf) -> LeafResult` closure is one; a visitor
/// may also know in advance how a whole object or array is rewritten ([`Visitor::known_value`]).
pub(crate) trait Visitor<'a> {
    /// The answer for one leaf.
    fn leaf(&mut self, leaf: Leaf<'a>) -> LeafResult;

    /// At the opening bracket of an object or array, `rest` being the text from that bracket to the
    /// end and `depth` the nesting around it: when the visitor knows that walking this value from
    /// here would succeed and how it would be rewritten, the length in bytes of its text and its
    /// replacement (`None`: kept as it is). The walker then skips the value.
    fn known_value(&mut self, _rest: &str, _depth: usize) -> Option<(usize, Option<String>)> {
        None
    }
}

impl<'a, F: FnMut(Leaf<'a>) -> LeafResult> Visitor<'a> for F {
    fn leaf(&mut self, leaf: Leaf<'a>) -> LeafResult {
        self(leaf)
    }
}

/// The walker over one JSON text.
pub(crate) struct JsonWalker<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    /// The deepest nesting reached so far.
    deepest: usize,
    /// Rewritten text up to `copied`, allocated at the first replacement.
    out: Option<String>,
    copied: usize,
    /// Keys of the objects being walked (innermost last), to refuse repeated keys.
    keys: Vec<&'a str>,
}

impl<'a> JsonWalker<'a> {
    pub fn new(src: &'a str) -> Self {
        JsonWalker {
            src,
            pos: 0,
            depth: 0,
            deepest: 0,
            out: None,
            copied: 0,
            keys: Vec::new(),
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    /// The first byte of the next token, after whitespace.
    pub fn peek(&mut self) -> Result<u8, Unsupported> {
        self.skip_whitespace();
        self.bytes().get(self.pos).copied().ok_or(Unsupported)
    }

    fn expect(&mut self, byte: u8) -> Result<(), Unsupported> {
        if self.peek()? != byte {
            return Err(Unsupported);
        }
        self.pos += 1;
        Ok(())
    }

    /// The deepest nesting of objects and arrays walked so far (1 for `[1]`).
    pub fn deepest(&self) -> usize {
        self.deepest
    }

    /// Walks the whole text: after the document only whitespace. Returns the rewritten text, `None`
    /// when no leaf was replaced.
    pub fn finish(mut self) -> Result<Option<String>, Unsupported> {
        self.skip_whitespace();
        if self.pos != self.src.len() {
            return Err(Unsupported);
        }
        Ok(self.out.map(|mut out| {
            out.push_str(&self.src[self.copied..]);
            out
        }))
    }

    /// Walks one value, handing its string and number leaves and its member names (at any depth) to
    /// `visitor`. A [`Leaf::Key`] must be answered `Ok(None)` or declined.
    pub fn value<V: Visitor<'a>>(&mut self, visitor: &mut V) -> Result<(), Unsupported> {
        let first = self.peek()?;
        if matches!(first, b'{' | b'[') {
            let start = self.pos;
            let known = visitor
                .known_value(&self.src[start..], self.depth)
                .filter(|&(len, _)| self.src.is_char_boundary(start + len));
            if let Some((len, replacement)) = known {
                self.pos = start + len;
                self.splice(start, replacement);
                return Ok(());
            }
        }
        match first {
            b'{' => self.object(|walker, key| match visitor.leaf(Leaf::Key(key))? {
                None => walker.value(visitor),
                Some(_) => Err(Unsupported),
            }),
            b'[' => self.array(|walker| walker.value(visitor)),
            b'"' => {
                let start = self.pos;
                let (raw, escaped) = self.string()?;
                let replacement = visitor.leaf(Leaf::Str { raw, escaped })?;
                self.splice(start, replacement);
                Ok(())
            }
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => {
                let start = self.pos;
                let raw = self.number()?;
                let replacement = visitor.leaf(Leaf::Number(raw))?;
                self.splice(start, replacement);
                Ok(())
            }
        }
    }

    /// Walks one value without looking at its leaves; returns its raw text.
    pub fn raw_value(&mut self) -> Result<&'a str, Unsupported> {
        let start = self.peek().map(|_| self.pos)?;
        self.value(&mut |_| Ok(None))?;
        Ok(&self.src[start..self.pos])
    }

    /// Replaces `src[start..self.pos]` (the leaf just walked) with `replacement`.
    fn splice(&mut self, start: usize, replacement: Option<String>) {
        let Some(replacement) = replacement else {
            return;
        };
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(self.src.len() + 64));
        out.push_str(&self.src[self.copied..start]);
        out.push_str(&replacement);
        self.copied = self.pos;
    }

    /// Walks an object, calling `member(walker, key)` to walk each member's value.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a str) -> Result<(), Unsupported>,
    ) -> Result<(), Unsupported> {
        self.expect(b'{')?;
        self.enter()?;
        let base = self.keys.len();
        if self.peek()? == b'}' {
            self.pos += 1;
        } else {
            loop {
                if self.peek()? != b'"' {
                    return Err(Unsupported);
                }
                let (key, escaped) = self.string()?;
                if escaped {
                    return Err(Unsupported);
                }
                self.keys.push(key);
                self.expect(b':')?;
                member(self, key)?;
                match self.peek()? {
                    b',' => self.pos += 1,
                    b'}' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(Unsupported),
                }
            }
        }
        let repeated = has_repeats(&mut self.keys[base..]);
        self.keys.truncate(base);
        self.depth -= 1;
        if repeated {
            return Err(Unsupported);
        }
        Ok(())
    }

    /// Walks an array, calling `item(walker)` to walk each item.
    pub fn array(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<(), Unsupported>,
    ) -> Result<(), Unsupported> {
        self.expect(b'[')?;
        self.enter()?;
        if self.peek()? == b']' {
            self.pos += 1;
        } else {
            loop {
                item(self)?;
                match self.peek()? {
                    b',' => self.pos += 1,
                    b']' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(Unsupported),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn enter(&mut self) -> Result<(), Unsupported> {
        self.depth += 1;
        self.deepest = self.deepest.max(self.depth);
        if self.depth > MAX_DEPTH {
            return Err(Unsupported);
        }
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Result<(), Unsupported> {
        if !self.src[self.pos..].starts_with(word) {
            return Err(Unsupported);
        }
        self.pos += word.len();
        Ok(())
    }

    /// A string at `pos` (on its opening quote): its raw text and whether it holds escapes. Refuses
    /// control characters, unknown escapes and `\u` escapes.
    fn string(&mut self) -> Result<(&'a str, bool), Unsupported> {
        let bytes = self.bytes();
        let start = self.pos + 1;
        let mut at = start;
        let mut escaped = false;
        let mut escapes = escapes::Cursor::new(bytes);
        loop {
            // The closing quote, a backslash, or a control character JSON forbids unescaped.
            at = escapes.next_from(at).ok_or(Unsupported)?;
            match (bytes[at], bytes.get(at + 1)) {
                (b'"', _) => {
                    self.pos = at + 1;
                    return Ok((&self.src[start..at], escaped));
                }
                (b'\\', Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't')) => {
                    escaped = true;
                    at += 2;
                }
                _ => return Err(Unsupported),
            }
        }
    }

    /// A number at `pos` (RFC 8259 §6 grammar): its raw text.
    fn number(&mut self) -> Result<&'a str, Unsupported> {
        let bytes = self.bytes();
        let start = self.pos;
        let mut at = start;
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > from
        };
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        match bytes.get(at) {
            Some(b'0') => at += 1,
            Some(b'1'..=b'9') => {
                digits(&mut at);
            }
            _ => return Err(Unsupported),
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            if !digits(&mut at) {
                return Err(Unsupported);
            }
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if !digits(&mut at) {
                return Err(Unsupported);
            }
        }
        self.pos = at;
        Ok(&self.src[start..at])
    }
}

/// Whether `keys` holds a key twice (reorders `keys`).
fn has_repeats(keys: &mut [&str]) -> bool {
    if keys.len() <= 16 {
        return keys
            .iter()
            .enumerate()
            .any(|(i, key)| keys[i + 1..].contains(key));
    }
    keys.sort_unstable();
    keys.windows(2).any(|pair| pair[0] == pair[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upper-cases every string leaf and negates every number leaf, to see the splicing.
    fn rewrite(text: &str) -> Result<Option<String>, Unsupported> {
        let mut walker = JsonWalker::new(text);
        walker.value(&mut |leaf| {
            Ok(match leaf {
                Leaf::Str { raw, escaped } => {
                    let decoded = Leaf::unescape(raw, escaped);
                    (decoded.contains('x'))
                        .then(|| serde_json::to_string(&decoded.to_uppercase()).unwrap())
                }
                Leaf::Number(raw) => (raw == "7").then(|| "-7".to_owned()),
                Leaf::Key(_) => None,
            })
        })?;
        walker.finish()
    }

    #[test]
    fn replaces_only_the_leaves_and_keeps_every_other_byte() {
        let text =
            " { \"x\" : [ \"ax\" , 7 , 8 , {\"k\":\"bx\\n\\\"q\"} ], \"n\":null,\"t\":true } ";
        assert_eq!(
            rewrite(text).unwrap().unwrap(),
            " { \"x\" : [ \"AX\" , -7 , 8 , {\"k\":\"BX\\n\\\"Q\"} ], \"n\":null,\"t\":true } "
        );
        assert_eq!(rewrite(r#"{"x":"a","y":[1,2.5e3,-0]}"#).unwrap(), None);
    }

    #[test]
    fn declines_what_the_value_path_must_judge() {
        for text in [
            "",
            "{",
            r#"{"a":1,"a":2}"#,
            r#"{"a\n":1}"#,
            r#"{"a":"\u0041"}"#,
            r#"{"a":"\x"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":1e}"#,
            r#"{"a":tru}"#,
            r#"{"a":1} x"#,
            r#"[1,]"#,
            r#"{"a" 1}"#,
        ] {
            assert_eq!(rewrite(text), Err(Unsupported), "{text:?}");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(rewrite(&deep), Err(Unsupported));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(rewrite(&ok), Ok(None));
    }

    #[test]
    fn repeated_keys_are_found_in_large_objects_too() {
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{}", i + 100)).collect();
        let unique = format!("{{{}}}", many.join(","));
        assert_eq!(rewrite(&unique), Ok(None));
        let repeated = format!("{{{},\"k3\":0}}", many.join(","));
        assert_eq!(rewrite(&repeated), Err(Unsupported));
        assert_eq!(
            rewrite(r#"[{"a":1},{"a":2}]"#),
            Ok(None),
            "same key in sibling objects"
        );
    }

    #[test]
    fn unescapes_the_accepted_escapes_as_serde_json_does() {
        let raw = r#"a\"b\\c\/d\be\ff\ng\rh\ti"#;
        let expected: String = serde_json::from_str(&format!("\"{raw}\"")).unwrap();
        assert_eq!(Leaf::unescape(raw, true), expected);
    }
}
