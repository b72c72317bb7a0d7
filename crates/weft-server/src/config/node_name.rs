//! [`NodeName`]: the name a node goes by in logs, events it originates and the mesh.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The longest node name, in characters.
pub const MAX_NODE_NAME_LENGTH: usize = 64;

/// The node name used when the host name is not a valid [`NodeName`].
pub const FALLBACK_NODE_NAME: &str = "weft";

/// A node's name: 1 to 64 characters of ASCII letters, digits, `.`, `_` and `-`,
/// starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeName(String);

/// Why a text is not a [`NodeName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeNameError {
    /// The name is empty.
    #[error("node name is empty")]
    Empty,
    /// The name has a character outside `[A-Za-z0-9._-]`.
    #[error(
        "node name `{name}` contains {character:?}, only ASCII letters, digits, `.`, `_` and `-` are allowed"
    )]
    InvalidCharacter {
        /// The rejected name.
        name: String,
        /// The first character that is not allowed.
        character: char,
    },
    /// The name starts with `.`, `_` or `-`.
    #[error("node name `{name}` must start with a letter or a digit")]
    InvalidStart {
        /// The rejected name.
        name: String,
    },
    /// The name is longer than [`MAX_NODE_NAME_LENGTH`].
    #[error("node name is {length} characters long, the limit is {MAX_NODE_NAME_LENGTH}")]
    TooLong {
        /// The rejected name's length.
        length: usize,
    },
}

impl NodeName {
    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name to use when none is configured: this machine's host name if it is a
    /// valid node name, else [`FALLBACK_NODE_NAME`].
    #[must_use]
    pub fn default_for_host() -> NodeName {
        let host_name = ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|path| std::fs::read_to_string(Path::new(path)).ok());
        NodeName::from_host_name(host_name.as_deref())
    }

    /// `host_name` (surrounding whitespace removed) if it is a valid node name, else
    /// [`FALLBACK_NODE_NAME`].
    #[must_use]
    pub fn from_host_name(host_name: Option<&str>) -> NodeName {
        host_name
            .and_then(|name| name.trim().parse().ok())
            .unwrap_or_else(|| NodeName(FALLBACK_NODE_NAME.to_owned()))
    }
}

impl FromStr for NodeName {
    type Err = NodeNameError;

    fn from_str(text: &str) -> Result<NodeName, NodeNameError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let Some(first) = text.chars().next() else {
            return Err(NodeNameError::Empty);
        };
        if let Some(character) = text.chars().find(|&c| !allowed(c)) {
            return Err(NodeNameError::InvalidCharacter {
                name: text.to_owned(),
                character,
            });
        }
        if !first.is_ascii_alphanumeric() {
            return Err(NodeNameError::InvalidStart {
                name: text.to_owned(),
            });
        }
        if text.len() > MAX_NODE_NAME_LENGTH {
            return Err(NodeNameError::TooLong { length: text.len() });
        }
        Ok(NodeName(text.to_owned()))
    }
}

impl TryFrom<String> for NodeName {
    type Error = NodeNameError;

    fn try_from(text: String) -> Result<NodeName, NodeNameError> {
        text.parse()
    }
}

impl AsRef<str> for NodeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_dots_underscores_and_dashes_are_allowed() {
        let name: NodeName = "edge-1.eu_west".parse().unwrap();
        assert_eq!(name.as_str(), "edge-1.eu_west");
        assert!("7".parse::<NodeName>().is_ok());
    }

    #[test]
    fn empty_name_is_rejected() {
        assert_eq!("".parse::<NodeName>(), Err(NodeNameError::Empty));
    }

    #[test]
    fn name_must_start_with_a_letter_or_digit() {
        let error = "-edge".parse::<NodeName>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "node name `-edge` must start with a letter or a digit"
        );
        assert!(".edge".parse::<NodeName>().is_err());
    }

    #[test]
    fn other_characters_are_rejected_by_name() {
        let error = "edge 1".parse::<NodeName>().unwrap_err();
        assert_eq!(
            error,
            NodeNameError::InvalidCharacter {
                name: "edge 1".into(),
                character: ' '
            }
        );
        assert!("édge".parse::<NodeName>().is_err());
        assert!("edge/1".parse::<NodeName>().is_err());
    }

    #[test]
    fn sixty_four_characters_is_the_limit() {
        assert!("a".repeat(64).parse::<NodeName>().is_ok());
        assert_eq!(
            "a".repeat(65).parse::<NodeName>(),
            Err(NodeNameError::TooLong { length: 65 })
        );
    }

    #[test]
    fn valid_host_name_becomes_the_default_node_name() {
        let name = NodeName::from_host_name(Some("build-host-3\n"));
        assert_eq!(name.as_str(), "build-host-3");
    }

    #[test]
    fn invalid_or_missing_host_name_falls_back_to_weft() {
        assert_eq!(NodeName::from_host_name(Some("_bad")).as_str(), "weft");
        assert_eq!(NodeName::from_host_name(Some("")).as_str(), "weft");
        assert_eq!(NodeName::from_host_name(None).as_str(), "weft");
    }

    #[test]
    fn default_for_host_is_always_valid() {
        let name = NodeName::default_for_host();
        assert_eq!(name.as_str().parse::<NodeName>(), Ok(name));
    }
}
