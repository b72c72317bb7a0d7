//! Loading manifests from files, directories and strings, reporting every problem at
//! once with its file, line and column.
//!
//! A source holds any number of YAML documents separated by `---`; empty documents are
//! skipped. A directory contributes every `*.yaml` and `*.yml` file directly inside it
//! (not in subdirectories; hidden files are skipped), in file-name order. The same kind
//! and name declared twice is an error at the second place.
//!
//! [`load_path`] and [`load_str`] check each manifest on its own; [`check_path`] and
//! [`check_str`] also run [`crate::validate()`] across them and report both kinds of
//! problems together, in file order.

mod read;
mod route;
mod sink;
mod stream;
mod transform;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use weft_yaml::{Diagnostic, Document, Errors, Mark, NodeValue, Problem};

use crate::ResourceKey;
use crate::manifest::{API_VERSION, Kind, Manifest, Metadata, ResourceName, Spec};
use crate::validate::{self, Context};

use read::Doc;

const TOP_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const METADATA_KEYS: &[&str] = &["name", "labels"];

/// Manifests that loaded without problems, in source order.
#[derive(Debug, Clone, Default)]
pub struct ManifestSet {
    items: Vec<Loaded>,
}

impl ManifestSet {
    /// The manifests with their origins, in source order.
    #[must_use]
    pub fn items(&self) -> &[Loaded] {
        &self.items
    }

    /// The manifests, in source order.
    pub fn manifests(&self) -> impl Iterator<Item = &Manifest> + '_ {
        self.items.iter().map(|item| &item.manifest)
    }

    /// The manifest of `kind` called `name`.
    #[must_use]
    pub fn get(&self, kind: Kind, name: &str) -> Option<&Loaded> {
        self.items.iter().find(|item| {
            item.manifest.kind() == kind && item.manifest.metadata.name.as_str() == name
        })
    }

    /// How many manifests there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl FromIterator<Loaded> for ManifestSet {
    /// A set of manifests loaded before (for validating them together with new ones).
    fn from_iter<I: IntoIterator<Item = Loaded>>(items: I) -> Self {
        ManifestSet {
            items: items.into_iter().collect(),
        }
    }
}

/// A manifest and where it was written.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The manifest.
    pub manifest: Manifest,
    /// Where it was written.
    pub origin: Origin,
}

/// Where a manifest was written: its file, the start of its document, and the places
/// of the fields that cross-resource validation reports on (`spec.to.sink`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The display name of the file.
    pub file: String,
    /// Where the document's content starts.
    pub mark: Mark,
    marks: BTreeMap<String, Mark>,
}

impl Origin {
    /// An origin without field places (for manifests built in code).
    #[must_use]
    pub fn new(file: impl Into<String>, mark: Mark) -> Origin {
        Origin {
            file: file.into(),
            mark,
            marks: BTreeMap::new(),
        }
    }

    /// Where the field at `path` was written, or where the document starts.
    #[must_use]
    pub fn mark_of(&self, path: &str) -> Mark {
        self.marks.get(path).copied().unwrap_or(self.mark)
    }

    /// A diagnostic at the field `path`.
    #[must_use]
    pub fn diagnostic(&self, path: &str, message: impl Into<String>) -> Diagnostic {
        let problem = Problem::Invalid {
            message: message.into(),
        };
        Diagnostic::new(&self.file, self.mark_of(path), path, problem)
    }
}

/// Loads a manifest file, or every manifest file of a directory.
///
/// # Errors
/// Every problem found in every file, in file order.
pub fn load_path(path: &Path) -> Result<ManifestSet, Errors> {
    let mut loader = Loader::default();
    loader.add_path(path);
    loader.finish()
}

/// Loads the manifests in `text`, naming the source `file` in diagnostics.
///
/// # Errors
/// Every problem found, in source order.
pub fn load_str(file: &str, text: &str) -> Result<ManifestSet, Errors> {
    let mut loader = Loader::default();
    loader.add_str(file, text);
    loader.finish()
}

/// [`load_path`] followed by [`validate::validate`], reporting every problem of both.
/// References to manifests that failed to load are not reported as missing.
///
/// # Errors
/// Every problem found, in file order.
pub fn check_path(path: &Path, context: &Context) -> Result<ManifestSet, Errors> {
    let mut loader = Loader::default();
    loader.add_path(path);
    loader.check(context)
}

/// [`load_str`] followed by [`validate::validate`] (see [`check_path`]).
///
/// # Errors
/// Every problem found, in source order.
pub fn check_str(file: &str, text: &str, context: &Context) -> Result<ManifestSet, Errors> {
    let mut loader = Loader::default();
    loader.add_str(file, text);
    loader.check(context)
}

/// Loads `text` keeping the manifests that loaded even when others have problems:
/// the manifests, every problem, and every kind and name declared (also those whose
/// spec had problems). The controller validates them together with applied ones.
pub(crate) fn load_str_partial(
    file: &str,
    text: &str,
) -> (ManifestSet, Errors, BTreeSet<ResourceKey>) {
    let mut loader = Loader::default();
    loader.add_str(file, text);
    let declared = loader.declared.keys().cloned().collect();
    sort(&mut loader.errors, &loader.files);
    (loader.set, loader.errors, declared)
}

#[derive(Default)]
struct Loader {
    set: ManifestSet,
    /// Every kind and name read, even if the spec had problems, with its place.
    declared: BTreeMap<ResourceKey, (String, Mark)>,
    files: Vec<String>,
    errors: Errors,
}

impl Loader {
    fn add_path(&mut self, path: &Path) {
        if path.is_dir() {
            match manifest_files(path) {
                Ok(files) => {
                    for file in files {
                        self.add_file(&file);
                    }
                }
                Err(error) => self.read_error(path, &error),
            }
        } else {
            self.add_file(path);
        }
    }

    fn add_file(&mut self, path: &Path) {
        match std::fs::read_to_string(path) {
            Ok(text) => self.add_str(&path.display().to_string(), &text),
            Err(error) => self.read_error(path, &error),
        }
    }

    fn read_error(&mut self, path: &Path, error: &std::io::Error) {
        let file = path.display().to_string();
        self.files.push(file.clone());
        let message = format!("cannot read: {error}");
        self.errors
            .report(&file, Mark::new(1, 1), "", Problem::Invalid { message });
    }

    fn add_str(&mut self, file: &str, text: &str) {
        self.files.push(file.to_owned());
        let documents = weft_yaml::parse_collecting(file, text, &mut self.errors);
        for document in &documents {
            self.add_document(document, text);
        }
    }

    fn add_document(&mut self, document: &Document, text: &str) {
        let root = document.value();
        if root.node().value == NodeValue::Null {
            return;
        }
        let before = self.errors.len();
        let mut doc = Doc {
            text,
            marks: BTreeMap::new(),
            errors: &mut self.errors,
        };
        let Some(root) = root.mapping(doc.errors) else {
            return;
        };
        root.deny_unknown(TOP_KEYS, doc.errors);
        if let Some(version) = root.require("apiVersion", doc.errors)
            && let Some(text) = version.str(doc.errors)
            && text != API_VERSION
        {
            let message = format!("unsupported apiVersion `{text}`, expected `{API_VERSION}`");
            version.report_invalid(doc.errors, message);
        }
        let kind = root.require("kind", doc.errors).and_then(|value| {
            let text = value.str(doc.errors)?;
            match text.parse::<Kind>() {
                Ok(kind) if kind.as_str() == text => Some(kind),
                Ok(kind) => {
                    value.report_invalid(doc.errors, format!("write the kind as `{kind}`"));
                    None
                }
                Err(error) => {
                    value.report_invalid(doc.errors, error.to_string());
                    None
                }
            }
        });
        let metadata = root
            .require("metadata", doc.errors)
            .and_then(|value| read_metadata(&value, &mut doc));
        let spec = root.require("spec", doc.errors).and_then(|value| {
            let spec = value.mapping(doc.errors)?;
            // The spec is read even when the name is invalid, to report its problems.
            let name = match &metadata {
                Some(metadata) => metadata.name.clone(),
                None => ResourceName::new("unnamed").ok()?,
            };
            Some(match kind? {
                Kind::Stream => Spec::Stream(stream::read(&spec, &mut doc)?),
                Kind::Route => Spec::Route(route::read(&name, &spec, &mut doc)?),
                Kind::Sink => Spec::Sink(sink::read_sink(&spec, &mut doc)?),
                Kind::Source => Spec::Source(sink::read_source(&spec, &mut doc)?),
            })
        });
        let marks = std::mem::take(&mut doc.marks);
        let (Some(kind), Some(metadata)) = (kind, metadata) else {
            return;
        };
        let key = ResourceKey::new(kind, metadata.name.clone());
        if let Some((first_file, first)) = self.declared.get(&key) {
            let message = format!(
                "duplicate {} `{}`, first defined at {first_file}:{first}",
                kind.lowercase(),
                key.name
            );
            let place = marks.get("metadata.name").copied().unwrap_or(root.mark());
            self.errors.report(
                &document.file,
                place,
                "metadata.name",
                Problem::Invalid { message },
            );
            return;
        }
        self.declared
            .insert(key, (document.file.clone(), root.mark()));
        if let Some(spec) = spec
            && self.errors.len() == before
        {
            let manifest = Manifest {
                api_version: API_VERSION.to_owned(),
                metadata,
                spec,
            };
            let origin = Origin {
                file: document.file.clone(),
                mark: root.mark(),
                marks,
            };
            self.set.items.push(Loaded { manifest, origin });
        }
    }

    fn finish(mut self) -> Result<ManifestSet, Errors> {
        sort(&mut self.errors, &self.files);
        self.errors.finish(self.set)
    }

    fn check(mut self, context: &Context) -> Result<ManifestSet, Errors> {
        let mut context = context.clone();
        context.declared = self.declared.keys().cloned().collect::<BTreeSet<_>>();
        if let Err(errors) = validate::validate(&self.set, &context) {
            self.errors.append(errors);
        }
        self.finish()
    }
}

fn read_metadata(value: &weft_yaml::Value<'_>, doc: &mut Doc<'_>) -> Option<Metadata> {
    let metadata = value.mapping(doc.errors)?;
    metadata.deny_unknown(METADATA_KEYS, doc.errors);
    let name = metadata
        .require("name", doc.errors)
        .and_then(|name| doc.name(&name));
    let mut labels = BTreeMap::new();
    if let Some(entries) = metadata.take_mapping("labels", doc.errors) {
        for (key, value) in entries.entries() {
            let key = key.key_text();
            let valid_key = !key.is_empty()
                && key.len() <= 253
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
            if !valid_key {
                let message =
                    format!("label key `{key}` may have only a-z, A-Z, 0-9, `-`, `_`, `.` and `/`");
                value.report_invalid(doc.errors, message);
                continue;
            }
            if let Some(text) = value.str(doc.errors) {
                labels.insert(key, text.to_owned());
            }
        }
    }
    Some(Metadata {
        name: name?,
        labels,
    })
}

/// The manifest files directly in `dir`, sorted by name.
fn manifest_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if yaml && !name.starts_with('.') && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Orders diagnostics by file (in load order), then line and column; diagnostics at the
/// same place keep their order.
fn sort(errors: &mut Errors, files: &[String]) {
    let mut diagnostics = std::mem::take(errors).into_vec();
    diagnostics.sort_by_key(|diagnostic| {
        let rank = files.iter().position(|file| *file == diagnostic.file);
        (rank, diagnostic.line, diagnostic.column)
    });
    errors.extend(diagnostics);
}

#[cfg(test)]
mod tests;
