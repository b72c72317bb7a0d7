//! The desired state: every applied resource with its digest, serialisable so the node
//! can store it durably.
//!
//! The digest is FNV-1a 64 over a canonical JSON serialisation of the manifest
//! (object keys sorted at every level, no whitespace), written `fnv1a64:` and 16 hex
//! digits. FNV rather than SHA-256 keeps the crate free of a new dependency; the digest
//! only detects change (it is not a security boundary), and the prefix lets a later
//! version switch algorithms: a different prefix simply reads as "changed".

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::manifest::{Kind, KindError, Manifest, ResourceName};

/// What identifies a resource: its kind and name. Displays as `route/big-us-orders`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceKey {
    /// The kind.
    pub kind: Kind,
    /// The name.
    pub name: ResourceName,
}

impl ResourceKey {
    /// The key of `kind` `name`.
    #[must_use]
    pub fn new(kind: Kind, name: ResourceName) -> ResourceKey {
        ResourceKey { kind, name }
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.lowercase(), self.name)
    }
}

/// Why a `KIND/NAME` text is not a resource key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceKeyError {
    /// No `/`.
    #[error("expected KIND/NAME, got `{0}`")]
    Shape(String),
    /// The kind is not known.
    #[error(transparent)]
    Kind(#[from] KindError),
    /// The name is invalid.
    #[error(transparent)]
    Name(#[from] crate::manifest::NameError),
}

impl FromStr for ResourceKey {
    type Err = ResourceKeyError;

    /// `route/big-us-orders`, `Routes/x`: the kind as [`Kind::from_str`] reads it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (kind, name) = text
            .split_once('/')
            .ok_or_else(|| ResourceKeyError::Shape(text.to_owned()))?;
        Ok(ResourceKey::new(kind.parse()?, ResourceName::new(name)?))
    }
}

/// A digest of a manifest's canonical form: `fnv1a64:` and 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Digest(String);

impl Digest {
    /// The digest of `manifest`.
    #[must_use]
    pub fn of(manifest: &Manifest) -> Digest {
        Digest(format!(
            "fnv1a64:{:016x}",
            fnv1a64(canonical_json(manifest).as_bytes())
        ))
    }

    /// The digest as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The manifest as JSON with object keys sorted at every level and no whitespace.
#[must_use]
pub fn canonical_json(manifest: &Manifest) -> String {
    let value = serde_json::to_value(manifest).unwrap_or(Json::Null);
    let mut out = String::new();
    write_canonical(&value, &mut out);
    out
}

fn write_canonical(value: &Json, out: &mut String) {
    match value {
        Json::Object(members) => {
            let sorted: BTreeMap<&String, &Json> = members.iter().collect();
            out.push('{');
            for (index, (key, member)) in sorted.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Json::from(key.as_str()).to_string());
                out.push(':');
                write_canonical(member, out);
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// One resource of the desired state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// The manifest as applied.
    pub manifest: Manifest,
    /// Its digest.
    pub digest: Digest,
}

impl Resource {
    /// A resource for `manifest`, with its digest.
    #[must_use]
    pub fn new(manifest: Manifest) -> Resource {
        let digest = Digest::of(&manifest);
        Resource { manifest, digest }
    }
}

/// Every resource that should exist, by key. Serialises as
/// `{"resources": [<resource>, ...]}` in key order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesiredState {
    resources: BTreeMap<ResourceKey, Resource>,
}

#[derive(Serialize, Deserialize)]
struct StoredState {
    resources: Vec<Resource>,
}

impl Serialize for DesiredState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredState {
            resources: self.resources.values().cloned().collect(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DesiredState {
    /// Digests are recomputed, so a stored state written by a version with another
    /// digest algorithm reads consistently.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = StoredState::deserialize(deserializer)?;
        Ok(stored
            .resources
            .into_iter()
            .map(|resource| resource.manifest)
            .collect())
    }
}

impl FromIterator<Manifest> for DesiredState {
    /// A later manifest with the same key replaces an earlier one.
    fn from_iter<I: IntoIterator<Item = Manifest>>(manifests: I) -> Self {
        let mut state = DesiredState::default();
        for manifest in manifests {
            state.insert(manifest);
        }
        state
    }
}

impl DesiredState {
    /// An empty state.
    #[must_use]
    pub fn new() -> DesiredState {
        DesiredState::default()
    }

    /// The state the manifests of `set` declare.
    #[must_use]
    pub fn from_set(set: &crate::ManifestSet) -> DesiredState {
        set.manifests().cloned().collect()
    }

    /// Adds or replaces a resource; returns the one it replaced.
    pub fn insert(&mut self, manifest: Manifest) -> Option<Resource> {
        self.resources
            .insert(manifest.key(), Resource::new(manifest))
    }

    /// Removes a resource.
    pub fn remove(&mut self, key: &ResourceKey) -> Option<Resource> {
        self.resources.remove(key)
    }

    /// The resource with `key`.
    #[must_use]
    pub fn get(&self, key: &ResourceKey) -> Option<&Resource> {
        self.resources.get(key)
    }

    /// Every resource in key order (kinds in creation order, then names).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&ResourceKey, &Resource)> + '_ {
        self.resources.iter()
    }

    /// Every resource of `kind`, by name.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Resource> + '_ {
        self.resources
            .iter()
            .filter(move |(key, _)| key.kind == kind)
            .map(|(_, resource)| resource)
    }

    /// How many resources there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn resource_keys_display_and_parse_like_kubectl() {
        let key: ResourceKey = "Routes/big-us-orders".parse().unwrap();
        assert_eq!(key.to_string(), "route/big-us-orders");
        assert!("route".parse::<ResourceKey>().is_err());
        assert!("link/x".parse::<ResourceKey>().is_err());
        assert!("route/Bad".parse::<ResourceKey>().is_err());
    }
}
