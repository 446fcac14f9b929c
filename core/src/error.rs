//! The error type of every configuration check.

use std::fmt;

/// A problem in the plugin configuration, located by its JSON path.
///
/// Displays as `path: message`, e.g. `policy.rules[2].match.tool: invalid glob "[a"`. The path uses
/// dots for object members and `[n]` for array elements, starting from the configuration's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// JSON path of the offending value (`""` for the document itself).
    pub path: String,
    /// What is wrong with it, in words an operator can act on.
    pub message: String,
}

impl ConfigError {
    /// Builds an error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}
