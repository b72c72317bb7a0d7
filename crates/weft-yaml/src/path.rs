//! Paths that name a place in a document: `http.listen`, `spec.filters[2]`,
//! `metadata.labels["app.kubernetes.io/name"]`.

/// `parent` followed by the mapping key `key`; keys other than plain words (letters,
/// digits, `_`, `-`) are quoted in brackets so that the path stays unambiguous.
#[must_use]
pub(crate) fn key(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

/// `parent` followed by the sequence index `index`.
#[must_use]
pub(crate) fn index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_join_with_dots() {
        assert_eq!(key("", "http"), "http");
        assert_eq!(key("http", "listen"), "http.listen");
    }

    #[test]
    fn keys_with_punctuation_are_quoted() {
        assert_eq!(key("labels", "app.io/name"), "labels[\"app.io/name\"]");
        assert_eq!(key("", "a b"), "[\"a b\"]");
    }

    #[test]
    fn indexes_use_brackets() {
        assert_eq!(index("routes", 2), "routes[2]");
        assert_eq!(index(&index("", 0), 1), "[0][1]");
    }
}
