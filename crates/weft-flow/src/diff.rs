//! Comparing a current and a desired state into a [`Plan`], printed like kubectl:
//! `route/big-us-orders created`.
//!
//! Whether resources missing from the desired state are deleted is explicit:
//! [`Prune::Keep`] for `weft apply -f` (they stay), [`Prune::Delete`] for
//! `weft apply --prune` and the GitOps directory (they go). `weft delete -f` and
//! `weft delete KIND NAME` use [`delete_plan`].

use std::fmt;

use crate::state::{DesiredState, ResourceKey};

/// What to do with resources that exist but are not in the desired state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prune {
    /// Leave them (`weft apply -f`).
    Keep,
    /// Delete them (`weft apply --prune`, `weft serve --resources DIR`).
    Delete,
}

/// The changes that turn a current state into a desired one. Each list is in creation
/// order (streams, sinks, sources, routes; then by name), except `delete`, which is in
/// reverse (routes go before the streams and sinks they use).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Resources to create.
    pub create: Vec<ResourceKey>,
    /// Resources whose digest changed.
    pub update: Vec<ResourceKey>,
    /// Resources already as desired.
    pub unchanged: Vec<ResourceKey>,
    /// Resources to delete.
    pub delete: Vec<ResourceKey>,
    /// Resources asked to be deleted that do not exist ([`delete_plan`] only).
    pub not_found: Vec<ResourceKey>,
}

/// What a plan does to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `created`.
    Create,
    /// `configured`.
    Update,
    /// `unchanged`.
    Unchanged,
    /// `deleted`.
    Delete,
    /// `not found`.
    NotFound,
}

impl Action {
    /// The word kubectl prints.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "configured",
            Action::Unchanged => "unchanged",
            Action::Delete => "deleted",
            Action::NotFound => "not found",
        }
    }
}

/// One output line: `route/big-us-orders configured`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLine {
    /// The resource.
    pub key: ResourceKey,
    /// What happens to it.
    pub action: Action,
}

impl fmt::Display for PlanLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key, self.action.as_str())
    }
}

impl Plan {
    /// Whether applying the plan changes nothing.
    #[must_use]
    pub fn is_noop(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }

    /// One line per resource: deletions first (so a renamed resource reads naturally),
    /// then everything else in creation order.
    #[must_use]
    pub fn lines(&self) -> Vec<PlanLine> {
        let line = |action| {
            move |key: &ResourceKey| PlanLine {
                key: key.clone(),
                action,
            }
        };
        let mut rest: Vec<PlanLine> = self
            .create
            .iter()
            .map(line(Action::Create))
            .chain(self.update.iter().map(line(Action::Update)))
            .chain(self.unchanged.iter().map(line(Action::Unchanged)))
            .collect();
        rest.sort_by(|a, b| a.key.cmp(&b.key));
        self.delete
            .iter()
            .map(line(Action::Delete))
            .chain(self.not_found.iter().map(line(Action::NotFound)))
            .chain(rest)
            .collect()
    }

    /// The state after applying this plan to `current`, taking new and changed
    /// resources from `desired`.
    #[must_use]
    pub fn apply(&self, current: &DesiredState, desired: &DesiredState) -> DesiredState {
        let mut next = current.clone();
        for key in &self.delete {
            next.remove(key);
        }
        for key in self.create.iter().chain(&self.update) {
            if let Some(resource) = desired.get(key) {
                next.insert(resource.manifest.clone());
            }
        }
        next
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, line) in self.lines().iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{line}")?;
        }
        Ok(())
    }
}

/// The plan that makes `current` into `desired` (see [`Prune`] for resources only in
/// `current`).
#[must_use]
pub fn diff(current: &DesiredState, desired: &DesiredState, prune: Prune) -> Plan {
    let mut plan = Plan::default();
    for (key, resource) in desired.iter() {
        match current.get(key) {
            None => plan.create.push(key.clone()),
            Some(existing) if existing.digest == resource.digest => {
                plan.unchanged.push(key.clone());
            }
            Some(_) => plan.update.push(key.clone()),
        }
    }
    if prune == Prune::Delete {
        plan.delete = current
            .iter()
            .filter(|(key, _)| desired.get(key).is_none())
            .map(|(key, _)| key.clone())
            .rev()
            .collect();
    }
    plan
}

/// The plan that deletes `keys` from `current` (`weft delete -f`, `weft delete KIND
/// NAME`); keys that do not exist are listed as `not_found`.
#[must_use]
pub fn delete_plan<'k>(
    current: &DesiredState,
    keys: impl IntoIterator<Item = &'k ResourceKey>,
) -> Plan {
    let mut plan = Plan::default();
    let mut keys: Vec<&ResourceKey> = keys.into_iter().collect();
    keys.sort();
    keys.dedup();
    for key in keys.into_iter().rev() {
        if current.get(key).is_some() {
            plan.delete.push(key.clone());
        } else {
            plan.not_found.push(key.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests;
