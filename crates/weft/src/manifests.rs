//! Reading what the flow commands are given: manifest files and directories (`-f`), and
//! CloudEvents in the JSON format (`--event`). `-` means standard input.
//!
//! A directory contributes every `*.yaml` and `*.yml` file directly inside it (not in
//! subdirectories; hidden files are skipped), sorted by name — the rule of
//! `weft_flow::load_path` — and each file is named as `weft_flow` names it in
//! diagnostics (`DIR/FILE.yaml`), so that the node's positioned errors point at the
//! user's own paths.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use weft_core::CloudEvent;
use weft_flow::ManifestSet;
use weft_yaml::Errors;

/// The name standard input gets in diagnostics.
pub(crate) const STDIN_NAME: &str = "<stdin>";

/// One manifest file's name and text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Source {
    /// The display name (the path as given, or `<stdin>`).
    pub name: String,
    /// The file's text.
    pub text: String,
}

/// Reads every file named by `paths` (files, directories or `-`), in order.
pub(crate) fn read_sources(paths: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            sources.push(Source {
                name: STDIN_NAME.to_owned(),
                text: read_stdin()?,
            });
        } else if path.is_dir() {
            for file in manifest_files(path)? {
                sources.push(read_file(&file)?);
            }
        } else {
            sources.push(read_file(path)?);
        }
    }
    Ok(sources)
}

fn read_file(path: &Path) -> anyhow::Result<Source> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Source {
        name: path.display().to_string(),
        text,
    })
}

fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read standard input")?;
    Ok(text)
}

/// The manifest files directly in `dir`, sorted.
fn manifest_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if yaml && !name.starts_with('.') && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Loads each source on its own (every per-manifest check: syntax, fields, names,
/// CESQL, jq, …) and returns the sets, or every problem of every file. Checks across
/// manifests (references, cycles) need the node's state and are left to the node.
pub(crate) fn load(sources: &[Source]) -> Result<Vec<ManifestSet>, Errors> {
    let mut sets = Vec::new();
    let mut errors = Errors::new();
    for source in sources {
        match weft_flow::load_str(&source.name, &source.text) {
            Ok(set) => sets.push(set),
            Err(problems) => errors.append(problems),
        }
    }
    if errors.is_empty() {
        Ok(sets)
    } else {
        Err(errors)
    }
}

/// Prints every diagnostic, one `FILE:LINE:COLUMN: PATH: message` per line, on stderr.
pub(crate) fn print_errors(errors: &Errors) {
    for diagnostic in errors.diagnostics() {
        eprintln!("{diagnostic}");
    }
}

/// Reads a CloudEvent in the JSON format from `path` (`-`: standard input).
pub(crate) fn read_event(path: &Path) -> anyhow::Result<CloudEvent> {
    let bytes = if path.as_os_str() == "-" {
        read_stdin()?.into_bytes()
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    weft_core::json::decode(&bytes)
        .map_err(|error| anyhow!("{} is not a cloudevent in json: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_contributes_its_yaml_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.yml", "a.yaml", ".hidden.yaml", "notes.txt"] {
            std::fs::write(dir.path().join(name), "x: 1\n").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.yaml")).unwrap();
        let sources = read_sources(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<String> = sources
            .iter()
            .map(|source| {
                Path::new(&source.name)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["a.yaml", "b.yml"]);
    }

    #[test]
    fn load_reports_problems_of_every_file() {
        let sources = [
            Source {
                name: "a.yaml".into(),
                text: "apiVersion: weft/v1\nkind: Route\nmetadata: {name: a}\nspec: {from: {topic: x}, to: {topic: y}, filtr: 1}\n".into(),
            },
            Source {
                name: "b.yaml".into(),
                text: "apiVersion: weft/v2\n".into(),
            },
        ];
        let errors = load(&sources).unwrap_err();
        let files: Vec<&str> = errors
            .diagnostics()
            .iter()
            .map(|d| d.file.as_str())
            .collect();
        assert!(
            files.contains(&"a.yaml") && files.contains(&"b.yaml"),
            "{errors}"
        );
    }
}
