//! Plain-text tables for the terminal ([`comfy_table`]): columns padded to their widest cell in
//! display width, two spaces apart, every cell made [`terminal_safe`] (recorded values come from clients: tool names, session ids, errors).

/// `text` with control characters (C0, DEL, C1: ANSI escape sequences, newlines, carriage returns)
/// and bidirectional formatting characters (U+200E, U+200F, U+202A..U+202E, U+2066..U+2069, which
/// reorder what a reader sees) written as Rust escapes (`\u{1b}`, `\n`, `\u{202e}`), so a value
/// cannot recolour, move or rewrite what the terminal shows. Other text, non-ASCII included, is kept.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renders `rows` under `headers`, one line each, cells made [`terminal_safe`].
pub fn render<R: AsRef<[String]>>(headers: &[&str], rows: &[R]) -> String {
    let mut table = plain_table();
    table.set_header(headers.iter().copied());
    print(table, rows.iter().map(AsRef::as_ref))
}

/// Renders `field value` lines (no header), the values made [`terminal_safe`].
pub fn render_fields(fields: &[(&str, String)]) -> String {
    print(
        plain_table(),
        fields
            .iter()
            .map(|(name, value)| [(*name).to_owned(), value.clone()]),
    )
}

/// A [`comfy_table::Table`] without borders, its columns as wide as their widest cell in terminal
/// columns (display width: a CJK character takes two) and two spaces apart, never wrapped.
fn plain_table() -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled);
    table
}

/// `table` with `rows` added (cells made [`terminal_safe`]), one line per row, trailing spaces
/// trimmed.
fn print<R: AsRef<[String]>>(
    mut table: comfy_table::Table,
    rows: impl Iterator<Item = R>,
) -> String {
    for row in rows {
        table.add_row(row.as_ref().iter().map(|cell| terminal_safe(cell)));
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table
        .lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect()
}

/// `DETECTOR=n` pairs joined by spaces (`-` when empty).
pub fn counts<'a>(counts: impl IntoIterator<Item = (&'a String, &'a u64)>) -> String {
    let text: Vec<String> = counts
        .into_iter()
        .map(|(name, n)| format!("{name}={n}"))
        .collect();
    if text.is_empty() {
        "-".to_owned()
    } else {
        text.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped_in_cells() {
        let rows = [vec![
            "\u{1b}[2J\u{1b}[31mok".to_owned(),
            "two\nlines\r".to_owned(),
            "abc\u{202e}fed".to_owned(),
            "café".to_owned(),
        ]];
        let out = render(&["A", "B", "C", "D"], &rows);
        assert_eq!(out.lines().count(), 2, "{out:?}");
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        let row = out.lines().nth(1).unwrap();
        assert!(row.contains("\\u{1b}[2J\\u{1b}[31mok"), "{row}");
        assert!(row.contains("two\\nlines\\r"), "{row}");
        assert!(row.contains("abc\\u{202e}fed"), "{row}");
        assert!(row.contains("café"), "{row}");
    }
}
