//! Validation across manifests: references resolve, webhook paths are unique, and routes
//! do not form cycles.
//!
//! - A route's `to.sink` names a `Sink` manifest.
//! - Every stream a route reads (`from.stream`) or writes (`to.stream`,
//!   `delivery.deadLetter.stream`) and every stream a sink writes is a `Stream` manifest
//!   or one of [`Context::existing_streams`] (streams created outside manifests).
//! - No two webhook sources share a path.
//! - Routes do not feed each other in a circle. Route A feeds route B when what A
//!   delivers reaches B's input: A's topic (directly, through a topic or stream sink, or
//!   as a sink's `reply` topic) matches B's `from.topic` filter, or is captured by a
//!   `Stream` manifest that B reads, or A writes the stream B reads. Filters and
//!   transforms are not taken into account (a cycle that a filter breaks is still
//!   reported), nor are dead-letter destinations.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use weft_core::Topic;
use weft_yaml::Errors;

use crate::ResourceKey;
use crate::load::{Loaded, ManifestSet};
use crate::manifest::route::{DeadLetter, Destination, Input, RouteSpec};
use crate::manifest::sink::SinkTarget;
use crate::manifest::source::SourceKind;
use crate::manifest::{Kind, Spec};

/// What exists besides the manifests being validated.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Names of streams that exist on the node (created through the HTTP API, by Kafka
    /// clients, or by manifests applied before).
    pub existing_streams: BTreeSet<String>,
    /// Resources declared in the same sources but not loaded because of other problems;
    /// references to them are not reported as missing. Filled by [`crate::check_path`].
    pub(crate) declared: BTreeSet<ResourceKey>,
}

impl Context {
    /// A context where these streams exist.
    #[must_use]
    pub fn with_existing_streams<I, S>(streams: I) -> Context
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Context {
            existing_streams: streams.into_iter().map(Into::into).collect(),
            declared: BTreeSet::new(),
        }
    }
}

/// Checks `set` as a whole.
///
/// # Errors
/// Every broken reference, duplicate webhook path and route cycle.
pub fn validate(set: &ManifestSet, context: &Context) -> Result<(), Errors> {
    let mut errors = Errors::new();
    let checker = Checker { set, context };
    for item in set.items() {
        checker.references(item, &mut errors);
    }
    checker.webhook_paths(&mut errors);
    for cycle in cycles(set) {
        let first = &set.items()[cycle.routes[0]];
        let path = match &route_spec(first).map(|spec| &spec.to) {
            Some(Destination::Sink { .. }) => "spec.to.sink",
            Some(Destination::Topic { .. }) => "spec.to.topic",
            _ => "spec.to.stream",
        };
        errors.push(first.origin.diagnostic(
            path,
            format!("routes form a cycle: {}", cycle.describe(set)),
        ));
    }
    errors.finish(())
}

fn route_spec(item: &Loaded) -> Option<&RouteSpec> {
    match &item.manifest.spec {
        Spec::Route(route) => Some(route),
        _ => None,
    }
}

struct Checker<'a> {
    set: &'a ManifestSet,
    context: &'a Context,
}

impl Checker<'_> {
    fn defined(&self, kind: Kind, name: &str) -> bool {
        self.set.get(kind, name).is_some()
            || self
                .context
                .declared
                .iter()
                .any(|key| key.kind == kind && key.name.as_str() == name)
    }

    fn stream_exists(&self, name: &str) -> bool {
        self.defined(Kind::Stream, name) || self.context.existing_streams.contains(name)
    }

    fn check_stream(&self, item: &Loaded, path: &str, name: &str, errors: &mut Errors) {
        if !self.stream_exists(name) {
            let message = format!(
                "stream `{name}` is not defined by any manifest and does not exist on the node"
            );
            errors.push(item.origin.diagnostic(path, message));
        }
    }

    fn references(&self, item: &Loaded, errors: &mut Errors) {
        match &item.manifest.spec {
            Spec::Route(route) => {
                if let Input::Stream { stream, .. } = &route.from {
                    self.check_stream(item, "spec.from.stream", stream.as_str(), errors);
                }
                match &route.to {
                    Destination::Sink { sink } if !self.defined(Kind::Sink, sink.as_str()) => {
                        let sinks: Vec<&str> = self
                            .set
                            .manifests()
                            .map(|manifest| (manifest.kind(), &manifest.metadata.name))
                            .chain(
                                self.context
                                    .declared
                                    .iter()
                                    .map(|key| (key.kind, &key.name)),
                            )
                            .filter(|(kind, _)| *kind == Kind::Sink)
                            .map(|(_, name)| name.as_str())
                            .collect();
                        let hint = weft_yaml::suggest(sink.as_str(), &sinks)
                            .map_or_else(String::new, |close| format!(", did you mean `{close}`?"));
                        let message = format!("sink `{sink}` is not defined{hint}");
                        errors.push(item.origin.diagnostic("spec.to.sink", message));
                    }
                    Destination::Stream { stream } => {
                        self.check_stream(item, "spec.to.stream", stream.as_str(), errors);
                    }
                    _ => {}
                }
                if let Some(DeadLetter::Stream { stream }) = &route.delivery.dead_letter {
                    let path = "spec.delivery.deadLetter.stream";
                    self.check_stream(item, path, stream.as_str(), errors);
                }
            }
            Spec::Sink(sink) => {
                if let SinkTarget::Stream(stream) = &sink.target {
                    self.check_stream(item, "spec.stream", stream.as_str(), errors);
                }
            }
            Spec::Stream(_) | Spec::Source(_) => {}
        }
    }

    fn webhook_paths(&self, errors: &mut Errors) {
        let mut seen: Vec<(&str, &Loaded)> = Vec::new();
        for item in self.set.items() {
            let Spec::Source(source) = &item.manifest.spec else {
                continue;
            };
            let SourceKind::Webhook(webhook) = &source.kind else {
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(path, _)| *path == webhook.path) {
                let message = format!(
                    "webhook path `{}` is already used by source `{}`",
                    webhook.path, first.manifest.metadata.name
                );
                errors.push(item.origin.diagnostic("spec.webhook.path", message));
            } else {
                seen.push((&webhook.path, item));
            }
        }
    }
}

/// Where a route's output goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Via {
    Topic(Topic),
    Stream(String),
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::Topic(topic) => write!(f, "topic `{topic}`"),
            Via::Stream(stream) => write!(f, "stream `{stream}`"),
        }
    }
}

/// A cycle of routes: `routes[0]` feeds `routes[1]` through `via[0]`, …, and the last
/// feeds `routes[0]`. Indices are into the manifest set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cycle {
    pub(crate) routes: Vec<usize>,
    via: Vec<Via>,
}

impl Cycle {
    fn describe(&self, set: &ManifestSet) -> String {
        let name = |index: usize| format!("route/{}", set.items()[index].manifest.metadata.name);
        let mut text = name(self.routes[0]);
        for (step, via) in self.via.iter().enumerate() {
            let next = self.routes[(step + 1) % self.routes.len()];
            text.push_str(&format!(" → {via} → {}", name(next)));
        }
        text
    }
}

/// Where route `item` delivers, as topics and streams (a topic also reaches the
/// `Stream` manifests that capture it).
fn outputs(set: &ManifestSet, route: &RouteSpec) -> Vec<Via> {
    let mut direct = Vec::new();
    match &route.to {
        Destination::Topic { topic } => direct.push(Via::Topic(topic.clone())),
        Destination::Stream { stream } => direct.push(Via::Stream(stream.to_string())),
        Destination::Sink { sink } => {
            if let Some(Spec::Sink(sink)) = set
                .get(Kind::Sink, sink.as_str())
                .map(|item| &item.manifest.spec)
            {
                match &sink.target {
                    SinkTarget::Topic(topic) => direct.push(Via::Topic(topic.clone())),
                    SinkTarget::Stream(stream) => direct.push(Via::Stream(stream.to_string())),
                    SinkTarget::Http(_) => {}
                }
                if let Some(reply) = &sink.reply {
                    direct.push(Via::Topic(reply.clone()));
                }
            }
        }
    }
    let mut all = direct.clone();
    for via in &direct {
        let Via::Topic(topic) = via else { continue };
        for item in set.items() {
            if let Spec::Stream(stream) = &item.manifest.spec
                && stream.filters.iter().any(|filter| filter.matches(topic))
            {
                all.push(Via::Stream(item.manifest.metadata.name.to_string()));
            }
        }
    }
    all
}

fn feeds(via: &Via, input: &Input) -> bool {
    match (via, input) {
        (Via::Topic(topic), Input::Topic { topic: filter }) => filter.matches(topic),
        (Via::Stream(name), Input::Stream { stream, .. }) => stream.as_str() == name,
        _ => false,
    }
}

/// The shortest cycle through each route that is on one, each cycle once, starting at
/// its first route in source order.
pub(crate) fn cycles(set: &ManifestSet) -> Vec<Cycle> {
    let routes: Vec<(usize, &RouteSpec)> = set
        .items()
        .iter()
        .enumerate()
        .filter_map(|(index, item)| route_spec(item).map(|route| (index, route)))
        .collect();
    // edges[a] = (b, via) for every route b that route a feeds.
    let edges: Vec<Vec<(usize, Via)>> = routes
        .iter()
        .map(|(_, route)| {
            let mut next = Vec::new();
            for via in outputs(set, route) {
                for (position, (_, other)) in routes.iter().enumerate() {
                    if feeds(&via, &other.from) && !next.iter().any(|(b, _)| *b == position) {
                        next.push((position, via.clone()));
                    }
                }
            }
            next
        })
        .collect();
    let mut found: Vec<Cycle> = Vec::new();
    let mut seen: BTreeSet<Vec<usize>> = BTreeSet::new();
    for start in 0..routes.len() {
        let Some(path) = shortest_cycle(&edges, start) else {
            continue;
        };
        let mut members: Vec<usize> = path.iter().map(|(node, _)| *node).collect();
        members.sort_unstable();
        if seen.insert(members) {
            found.push(Cycle {
                routes: path.iter().map(|(node, _)| routes[*node].0).collect(),
                via: path.into_iter().map(|(_, via)| via).collect(),
            });
        }
    }
    found
}

/// The shortest path from `start` back to itself, as (route, via to the next route).
fn shortest_cycle(edges: &[Vec<(usize, Via)>], start: usize) -> Option<Vec<(usize, Via)>> {
    let mut parent: Vec<Option<(usize, Via)>> = vec![None; edges.len()];
    let mut queue = VecDeque::from([start]);
    let mut visited = vec![false; edges.len()];
    while let Some(node) = queue.pop_front() {
        for (next, via) in &edges[node] {
            if *next == start {
                let mut path = vec![(node, via.clone())];
                let mut current = node;
                while current != start {
                    let (previous, via) = parent[current].clone()?;
                    path.push((previous, via));
                    current = previous;
                }
                path.reverse();
                return Some(path);
            }
            if !visited[*next] {
                visited[*next] = true;
                parent[*next] = Some((node, via.clone()));
                queue.push_back(*next);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
