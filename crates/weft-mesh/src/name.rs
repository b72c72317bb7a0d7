//! Validated names: [`NodeName`], [`MeshName`], [`GroupName`], and the local [`LinkId`].
//!
//! Names travel on the wire and are compared everywhere (routing tie-breaks, dedupe keys),
//! so they are parsed once at the edge and shared cheaply (`Arc<str>`) afterwards.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The longest name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;

/// Why a name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("{kind} name is empty")]
    Empty {
        /// What was being named.
        kind: &'static str,
    },
    /// The name is longer than [`MAX_NAME_BYTES`].
    #[error("{kind} name is {len} bytes, longer than the limit of {MAX_NAME_BYTES}")]
    TooLong {
        /// What was being named.
        kind: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The name contains a character outside `[A-Za-z0-9._-]`.
    #[error("{kind} name contains {found:?}; only letters, digits, '.', '_' and '-' are allowed")]
    InvalidCharacter {
        /// What was being named.
        kind: &'static str,
        /// The first character that is not allowed.
        found: char,
    },
}

fn validate(kind: &'static str, name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty { kind });
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong {
            kind,
            len: name.len(),
        });
    }
    if let Some(found) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NameError::InvalidCharacter { kind, found });
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// Parses and validates a name: 1 to 64 bytes of `[A-Za-z0-9._-]`.
            pub fn new(name: &str) -> Result<Self, NameError> {
                validate($kind, name)?;
                Ok(Self(Arc::from(name)))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(name: String) -> Result<Self, NameError> {
                Self::new(&name)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = NameError;
            fn try_from(name: &str) -> Result<Self, NameError> {
                Self::new(name)
            }
        }

        impl std::str::FromStr for $name {
            type Err = NameError;
            fn from_str(name: &str) -> Result<Self, NameError> {
                Self::new(name)
            }
        }

        impl From<$name> for String {
            fn from(name: $name) -> String {
                name.0.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }
    };
}

name_type!(
    /// The unique name of one weft node within its mesh.
    NodeName,
    "node"
);
name_type!(
    /// The name of a mesh: nodes only link with nodes of the same mesh.
    MeshName,
    "mesh"
);
name_type!(
    /// The name of a queue group: each event goes to one member of the group (anycast).
    GroupName,
    "queue group"
);

/// A link as the local node knows it: an id chosen by the I/O layer, unique among the
/// node's links for as long as the node runs (never reused after `link_down`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LinkId(pub u64);

impl fmt::Display for LinkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "link-{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_accept_the_documented_alphabet() {
        assert!(NodeName::new("eu-west_1.node").is_ok());
        assert_eq!(NodeName::new(""), Err(NameError::Empty { kind: "node" }));
        assert!(matches!(
            NodeName::new("a/b"),
            Err(NameError::InvalidCharacter { found: '/', .. })
        ));
        assert!(matches!(
            MeshName::new(&"x".repeat(65)),
            Err(NameError::TooLong { len: 65, .. })
        ));
    }
}
