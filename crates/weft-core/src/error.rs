//! Error text for humans: an error and every cause behind it on one line.

/// `error` and its causes (`source()` chain), `: `-separated — for log fields, problem
/// details and status messages that must be one line.
///
/// ```
/// let io = std::io::Error::other("disk full");
/// assert_eq!(weft_core::error::error_chain(&io), "disk full");
/// ```
#[must_use]
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot append")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_follow_the_error_separated_by_colons() {
        let error = Outer(std::io::Error::other("disk full"));
        assert_eq!(error_chain(&error), "cannot append: disk full");
    }
}
