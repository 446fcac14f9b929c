//! Rendering of the `envoy/bench/*.yaml` templates: `{{NAME}}` placeholders replaced by values.

use std::collections::BTreeMap;

/// Why a template could not be rendered.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A placeholder with no value given (1-based line number, name).
    #[error("line {0}: no value for placeholder {1}")]
    Unknown(usize, String),
    /// A `{{` without its `}}` (1-based line number).
    #[error("line {0}: unterminated placeholder")]
    Unterminated(usize),
    /// A value whose placeholder the template never uses: the template and the caller disagree.
    #[error("the template never uses placeholder {0}")]
    Unused(String),
}

/// Replaces every `{{NAME}}` of `template` by `values[NAME]`, inserted verbatim (callers JSON-encode
/// strings: a JSON string is a valid YAML 1.2 double-quoted scalar).
///
/// # Errors
/// A [`TemplateError`]: a placeholder without a value, an unterminated `{{`, or a value never used.
pub fn render(template: &str, values: &BTreeMap<&str, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut used = std::collections::BTreeSet::new();
    for (n, line) in template.split_inclusive('\n').enumerate() {
        let mut rest = line;
        while let Some(open) = rest.find("{{") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(TemplateError::Unterminated(n + 1))?;
            let name = &after[..close];
            let value = values
                .get(name)
                .ok_or_else(|| TemplateError::Unknown(n + 1, name.to_owned()))?;
            out.push_str(value);
            used.insert(name);
            rest = &after[close + 2..];
        }
        out.push_str(rest);
    }
    match values.keys().find(|k| !used.contains(*k)) {
        Some(unused) => Err(TemplateError::Unused((*unused).to_owned())),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn values(pairs: &[(&'static str, &str)]) -> BTreeMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn replaces_every_occurrence_of_each_placeholder() {
        let out = render(
            "a: {{X}}\nb: [{{X}}, {{Y}}]\n",
            &values(&[("X", "1"), ("Y", "\"y\"")]),
        );
        assert_eq!(out.unwrap(), "a: 1\nb: [1, \"y\"]\n");
    }

    #[test]
    fn refuses_a_placeholder_without_value_naming_its_line() {
        let err = render("a: 1\nb: {{NOPE}}\n", &values(&[])).unwrap_err();
        assert_eq!(err, TemplateError::Unknown(2, "NOPE".to_owned()));
    }

    #[test]
    fn refuses_unterminated_placeholders_and_unused_values() {
        assert_eq!(
            render("a: {{X\n", &values(&[("X", "1")])).unwrap_err(),
            TemplateError::Unterminated(1)
        );
        assert_eq!(
            render("a: 1\n", &values(&[("X", "1")])).unwrap_err(),
            TemplateError::Unused("X".to_owned())
        );
    }
}
