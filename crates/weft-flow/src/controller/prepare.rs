//! Turning an apply or delete request into the next desired state and its plan, without
//! side effects: load every file, merge with what is applied, validate the whole.

use std::collections::{BTreeMap, BTreeSet};

use weft_yaml::{Errors, Mark};

use super::store::Entry;
use super::{ApplyOptions, ManifestFile};
use crate::diff::{Plan, Prune, delete_plan, diff};
use crate::load::{Loaded, ManifestSet, Origin, load_str_partial};
use crate::manifest::Kind;
use crate::state::{DesiredState, ResourceKey};
use crate::validate::{Context, validate};

/// What a request changes.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Every resource after the change.
    pub(crate) next: BTreeMap<ResourceKey, Entry>,
    /// The full plan from the current state to `next`.
    pub(crate) plan: Plan,
    /// The plan as reported: only the resources the request named, and deletions.
    pub(crate) report: Plan,
}

/// The desired state of `entries`.
pub(crate) fn desired(entries: &BTreeMap<ResourceKey, Entry>) -> DesiredState {
    entries
        .values()
        .map(|entry| entry.manifest.clone())
        .collect()
}

/// A stored entry as a loaded manifest, placed at the start of its file.
fn stored_item(entry: &Entry) -> Loaded {
    Loaded {
        manifest: entry.manifest.clone(),
        origin: Origin::new(entry.file.clone(), Mark::new(1, 1)),
    }
}

/// Streams on the node that no applied Stream manifest manages.
fn unmanaged(existing: &BTreeSet<String>, current: &BTreeMap<ResourceKey, Entry>) -> Context {
    let managed: BTreeSet<&str> = current
        .keys()
        .filter(|key| key.kind == Kind::Stream)
        .map(|key| key.name.as_str())
        .collect();
    Context::with_existing_streams(
        existing
            .iter()
            .filter(|name| !managed.contains(name.as_str()))
            .cloned(),
    )
}

/// Plans applying `files` over `current`.
pub(crate) fn apply(
    current: &BTreeMap<ResourceKey, Entry>,
    files: &[ManifestFile],
    options: &ApplyOptions,
    existing_streams: &BTreeSet<String>,
) -> Result<Prepared, Errors> {
    let mut errors = Errors::new();
    let mut incoming: Vec<Loaded> = Vec::new();
    let mut seen: BTreeMap<ResourceKey, (String, Mark)> = BTreeMap::new();
    let mut declared: BTreeSet<ResourceKey> = BTreeSet::new();
    for file in files {
        let (set, problems, keys) = load_str_partial(&file.name, &file.text);
        errors.append(problems);
        declared.extend(keys);
        for item in set.items() {
            let key = item.manifest.key();
            if let Some((first_file, first)) = seen.get(&key) {
                let message = format!(
                    "duplicate {} `{}`, first defined at {first_file}:{first}",
                    key.kind.lowercase(),
                    key.name
                );
                errors.push(item.origin.diagnostic("metadata.name", message));
                continue;
            }
            seen.insert(key, (item.origin.file.clone(), item.origin.mark));
            incoming.push(item.clone());
        }
    }
    let named: BTreeSet<ResourceKey> = seen.into_keys().collect();
    let pruned = |key: &ResourceKey, entry: &Entry| {
        options.prune == Prune::Delete
            && !named.contains(key)
            && (options.origin.is_none() || entry.origin == options.origin)
    };
    let kept: Vec<(&ResourceKey, &Entry)> = current
        .iter()
        .filter(|(key, entry)| !named.contains(*key) && !pruned(key, entry))
        .collect();
    let set: ManifestSet = kept
        .iter()
        .map(|(_, entry)| stored_item(entry))
        .chain(incoming.iter().cloned())
        .collect();
    let mut context = unmanaged(existing_streams, current);
    // References to manifests that failed to load are not reported again.
    context.declared = declared;
    if let Err(problems) = validate(&set, &context) {
        errors.append(problems);
    }
    if !errors.is_empty() {
        sort(&mut errors, files);
        return Err(errors);
    }
    let mut next: BTreeMap<ResourceKey, Entry> = kept
        .into_iter()
        .map(|(key, entry)| (key.clone(), entry.clone()))
        .collect();
    for item in incoming {
        let key = item.manifest.key();
        let fresh = Entry::new(item.manifest, item.origin.file, options.origin.clone(), 1);
        let generation = match current.get(&key) {
            Some(old) if old.digest() == fresh.digest() => old.generation,
            Some(old) => old.generation + 1,
            None => 1,
        };
        next.insert(
            key,
            Entry {
                generation,
                ..fresh
            },
        );
    }
    let plan = diff(&desired(current), &desired(&next), Prune::Delete);
    let report = Plan {
        create: plan.create.clone(),
        update: plan.update.clone(),
        unchanged: plan
            .unchanged
            .iter()
            .filter(|key| named.contains(*key))
            .cloned()
            .collect(),
        delete: plan.delete.clone(),
        not_found: Vec::new(),
    };
    Ok(Prepared { next, plan, report })
}

/// Plans deleting `keys` from `current`; what remains must still be valid (a sink that
/// a remaining route uses cannot go).
pub(crate) fn delete(
    current: &BTreeMap<ResourceKey, Entry>,
    keys: &[ResourceKey],
    existing_streams: &BTreeSet<String>,
) -> Result<Prepared, Errors> {
    let report = delete_plan(&desired(current), keys);
    let next: BTreeMap<ResourceKey, Entry> = current
        .iter()
        .filter(|(key, _)| !report.delete.contains(key))
        .map(|(key, entry)| (key.clone(), entry.clone()))
        .collect();
    let set: ManifestSet = next.values().map(stored_item).collect();
    validate(&set, &unmanaged(existing_streams, current))?;
    let plan = diff(&desired(current), &desired(&next), Prune::Delete);
    Ok(Prepared { next, plan, report })
}

/// Orders diagnostics by the request's file order, then line and column; problems in
/// files applied earlier come last.
fn sort(errors: &mut Errors, files: &[ManifestFile]) {
    let mut diagnostics = std::mem::take(errors).into_vec();
    diagnostics.sort_by_key(|diagnostic| {
        let rank = files
            .iter()
            .position(|file| file.name == diagnostic.file)
            .unwrap_or(files.len());
        (rank, diagnostic.line, diagnostic.column)
    });
    errors.extend(diagnostics);
}
