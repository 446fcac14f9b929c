//! Plain-text tables: columns padded to their widest cell, two spaces apart.

/// Renders `rows` under `headers`, one line each.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    std::iter::once(&header)
        .chain(rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            format!("{}\n", cells.join("  ").trim_end())
        })
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
