//! A value that must never reach a log line or a debug print: tokens, API keys.

/// A secret string. `Debug` prints `<redacted>` (or `<empty>`), so a `{:?}` of a struct that
/// holds one (a configuration dump in a log, a panic message) cannot leak it; the value is
/// read only through [`Secret::expose`], which makes every use visible in review.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// Wrap a value.
    pub(crate) fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that needs it (comparison, a request header).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no value is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<empty>"
        } else {
            "<redacted>"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: Secret,
        }
        let shown = format!(
            "{:?}",
            Holder {
                token: Secret::new("tok_0123")
            }
        );
        assert!(!shown.contains("tok_0123"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(format!("{:?}", Secret::default()), "<empty>");
        assert_eq!(Secret::new("x").expose(), "x");
    }
}
