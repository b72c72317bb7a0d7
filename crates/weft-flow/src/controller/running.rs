//! What the controller runs: broker streams, route runners, webhook and schedule
//! sources, and the transaction that moves them from one desired state to the next.
//!
//! [`Running::begin`] does everything that can fail — prepares sources (webhook secrets,
//! cron expressions), creates and updates streams, and (re)starts changed routes — and
//! records how to undo it. [`Running::rollback`] undoes it (the old routes run again,
//! created streams are deleted, updated ones get their old settings back);
//! [`Running::commit`] does what cannot fail: stops removed routes and sources, swaps
//! in the new sources and deletes the streams of removed Stream manifests.

use super::controller_principal;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use weft_broker::{Broker, StreamConfig, StreamName};
use weft_core::Clock;

use super::store::Entry;
use crate::manifest::route::RouteSpec;
use crate::manifest::sink::SinkSpec;
use crate::manifest::source::{SourceKind, SourceSpec};
use crate::manifest::stream::StreamSpec;
use crate::manifest::{Kind, ResourceName, Spec};
use crate::runtime::{RouteRunner, RunnerOptions, ScheduleSource, WebhookSource};
use crate::state::ResourceKey;

/// Webhook sources by URL path, read by every webhook request.
pub(crate) type WebhookPaths = Arc<RwLock<HashMap<String, Arc<WebhookSource>>>>;

pub(crate) struct RunningRoute {
    pub(crate) spec: RouteSpec,
    pub(crate) sink: Option<SinkSpec>,
    pub(crate) runner: RouteRunner,
}

/// Everything running for the applied resources.
pub(crate) struct Running {
    pub(crate) broker: Broker,
    pub(crate) node: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) routes: BTreeMap<ResourceName, RunningRoute>,
    pub(crate) schedules: BTreeMap<ResourceName, (SourceSpec, ScheduleSource)>,
    pub(crate) webhooks: BTreeMap<ResourceName, (SourceSpec, Arc<WebhookSource>)>,
    pub(crate) paths: WebhookPaths,
    /// Resources that failed to start (at node start, or a retried one), with why.
    pub(crate) failures: BTreeMap<ResourceKey, String>,
}

/// Why a change could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot start {resource}: {reason}")]
pub struct StartFailure {
    /// `route/x`.
    pub resource: String,
    /// Why, with its causes.
    pub reason: String,
}

/// How to undo [`Running::begin`], and what [`Running::commit`] still has to do.
#[derive(Default)]
pub(crate) struct Transaction {
    created_streams: Vec<StreamName>,
    updated_streams: Vec<StreamConfig>,
    started_routes: Vec<ResourceName>,
    replaced_routes: Vec<(ResourceName, RouteSpec, Option<SinkSpec>)>,
    webhooks: BTreeMap<ResourceName, (SourceSpec, Arc<WebhookSource>)>,
    schedules: Vec<(ResourceName, SourceSpec)>,
}

/// An error and its causes, `: `-separated (for messages that are one line).
pub use weft_core::error_chain as chain;

/// The broker configuration of a Stream manifest: its name and the spec, which is the
/// broker's settings type itself.
pub(crate) fn stream_config(
    name: &ResourceName,
    spec: &StreamSpec,
) -> Result<StreamConfig, String> {
    let name = StreamName::new(name.as_str()).map_err(|error| chain(&error))?;
    Ok(StreamConfig {
        name,
        settings: spec.clone(),
    })
}

/// The route's spec and the spec of the sink it names, in `entries`.
fn route_and_sink(entries: &BTreeMap<ResourceKey, Entry>, route: &RouteSpec) -> Option<SinkSpec> {
    let crate::manifest::route::Destination::Sink { sink } = &route.to else {
        return None;
    };
    let key = ResourceKey::new(Kind::Sink, sink.clone());
    match entries.get(&key).map(|entry| &entry.manifest.spec) {
        Some(Spec::Sink(spec)) => Some(spec.clone()),
        _ => None,
    }
}

fn failure(key: &ResourceKey, reason: String) -> StartFailure {
    StartFailure {
        resource: key.to_string(),
        reason,
    }
}

impl Running {
    fn runner_options(&self) -> RunnerOptions {
        RunnerOptions {
            node: self.node.clone(),
            ..RunnerOptions::default()
        }
    }

    /// Makes the changes from `current` to `next` that can fail. With `strict`, the
    /// first failure undoes everything and is returned; without (node start), failures
    /// are recorded per resource and the rest goes on.
    pub(crate) async fn begin(
        &mut self,
        current: &BTreeMap<ResourceKey, Entry>,
        next: &BTreeMap<ResourceKey, Entry>,
        strict: bool,
    ) -> Result<Transaction, StartFailure> {
        let mut txn = Transaction::default();
        let mut problems: Vec<StartFailure> = Vec::new();
        let mut fatal: Vec<StartFailure> = Vec::new();
        for (problem, changed) in self.prepare_sources(current, next, &mut txn) {
            if strict && changed {
                fatal.push(problem);
            } else {
                problems.push(problem);
            }
        }
        if let Some(first) = fatal.into_iter().next() {
            return Err(first);
        }
        for (key, entry) in next {
            let Spec::Stream(spec) = &entry.manifest.spec else {
                continue;
            };
            if let Err(reason) = self.ensure_stream(&key.name, spec, &mut txn).await {
                let problem = failure(key, reason);
                if strict {
                    self.rollback(txn).await;
                    return Err(problem);
                }
                problems.push(problem);
            }
        }
        for (key, entry) in next {
            let Spec::Route(spec) = &entry.manifest.spec else {
                continue;
            };
            let sink = route_and_sink(next, spec);
            let changed = match self.routes.get(&key.name) {
                Some(running) => running.spec != *spec || running.sink != sink,
                None => !current.contains_key(key) || current.get(key) != Some(entry),
            };
            let missing = !self.routes.contains_key(&key.name);
            if !changed && !missing {
                continue;
            }
            if let Some(old) = self.routes.remove(&key.name) {
                old.runner.stop().await;
                txn.replaced_routes
                    .push((key.name.clone(), old.spec, old.sink));
            }
            let options = self.runner_options();
            match RouteRunner::start_with(&self.broker, &key.name, spec, sink.as_ref(), options)
                .await
            {
                Ok(runner) => {
                    self.failures.remove(key);
                    let running = RunningRoute {
                        spec: spec.clone(),
                        sink,
                        runner,
                    };
                    self.routes.insert(key.name.clone(), running);
                    txn.started_routes.push(key.name.clone());
                }
                Err(error) => {
                    let problem = failure(key, chain(&error));
                    if strict && changed {
                        self.rollback(txn).await;
                        return Err(problem);
                    }
                    tracing::warn!(resource = %key, error = %problem.reason, "route not started");
                    self.failures.insert(key.clone(), problem.reason.clone());
                }
            }
        }
        for problem in problems {
            tracing::warn!(resource = %problem.resource, error = %problem.reason, "resource not started");
            if let Ok(key) = problem.resource.parse::<ResourceKey>() {
                self.failures.insert(key, problem.reason);
            }
        }
        Ok(txn)
    }

    /// Prepares the webhook and schedule sources of `next` that are new or changed (or
    /// not running); returns the failures, each with whether its manifest changed.
    fn prepare_sources(
        &mut self,
        current: &BTreeMap<ResourceKey, Entry>,
        next: &BTreeMap<ResourceKey, Entry>,
        txn: &mut Transaction,
    ) -> Vec<(StartFailure, bool)> {
        let mut problems = Vec::new();
        for (key, entry) in next {
            let Spec::Source(spec) = &entry.manifest.spec else {
                continue;
            };
            let unchanged = self
                .webhooks
                .get(&key.name)
                .map(|(old, _)| old)
                .or_else(|| self.schedules.get(&key.name).map(|(old, _)| old))
                .is_some_and(|old| old == spec);
            if unchanged {
                continue;
            }
            let changed = current.get(key) != Some(entry);
            match &spec.kind {
                SourceKind::Webhook(webhook) => {
                    match WebhookSource::new(
                        &self.broker,
                        &key.name,
                        &spec.topic,
                        webhook,
                        &self.node,
                    ) {
                        Ok(source) => {
                            txn.webhooks
                                .insert(key.name.clone(), (spec.clone(), source));
                        }
                        Err(error) => problems.push((failure(key, error.to_string()), changed)),
                    }
                }
                SourceKind::Schedule(schedule) => {
                    match crate::cron::CronSchedule::parse(&schedule.cron) {
                        Ok(_) => txn.schedules.push((key.name.clone(), spec.clone())),
                        Err(error) => problems.push((failure(key, error.to_string()), changed)),
                    }
                }
            }
        }
        problems
    }

    /// Creates the stream, or updates it when its settings differ.
    async fn ensure_stream(
        &mut self,
        name: &ResourceName,
        spec: &StreamSpec,
        txn: &mut Transaction,
    ) -> Result<(), String> {
        if !self.broker.has_streams() {
            return Err("the node has no durable streams".to_owned());
        }
        let (broker, principal) = (&self.broker, controller_principal());
        let config = stream_config(name, spec)?;
        match broker.describe_stream(&principal, &config.name).await {
            Ok(info) if info.config == config => Ok(()),
            Ok(info) => {
                broker
                    .update_stream(&principal, config)
                    .await
                    .map_err(|error| chain(&error))?;
                txn.updated_streams.push(info.config);
                Ok(())
            }
            Err(weft_broker::StreamError::NotFound { .. }) => {
                let name = config.name.clone();
                broker
                    .create_stream(&principal, config)
                    .await
                    .map_err(|error| chain(&error))?;
                txn.created_streams.push(name);
                Ok(())
            }
            Err(error) => Err(chain(&error)),
        }
    }

    /// Undoes [`Self::begin`]: the replaced routes run again with their old settings,
    /// created streams are deleted, updated streams get their old settings back.
    pub(crate) async fn rollback(&mut self, txn: Transaction) {
        for name in &txn.started_routes {
            if let Some(running) = self.routes.remove(name) {
                running.runner.stop().await;
            }
        }
        for (name, spec, sink) in txn.replaced_routes {
            let options = self.runner_options();
            match RouteRunner::start_with(&self.broker, &name, &spec, sink.as_ref(), options).await
            {
                Ok(runner) => {
                    self.routes
                        .insert(name, RunningRoute { spec, sink, runner });
                }
                Err(error) => {
                    let reason = chain(&error);
                    tracing::warn!(route = %name, error = %reason, "route not restarted after a failed apply");
                    self.failures
                        .insert(ResourceKey::new(Kind::Route, name), reason);
                }
            }
        }
        let (broker, principal) = (&self.broker, controller_principal());
        for name in txn.created_streams {
            if let Err(error) = broker.delete_stream(&principal, &name).await {
                tracing::warn!(stream = %name, %error, "stream not removed after a failed apply");
            }
        }
        for config in txn.updated_streams {
            let name = config.name.clone();
            if let Err(error) = broker.update_stream(&principal, config).await {
                tracing::warn!(stream = %name, %error, "stream settings not restored after a failed apply");
            }
        }
    }

    /// Finishes the move to `next`: stops what is gone, swaps in the prepared sources,
    /// deletes the streams of removed Stream manifests.
    pub(crate) async fn commit(
        &mut self,
        txn: Transaction,
        current: &BTreeMap<ResourceKey, Entry>,
        next: &BTreeMap<ResourceKey, Entry>,
    ) {
        let gone = |kind: Kind, name: &ResourceName| {
            !next.contains_key(&ResourceKey::new(kind, name.clone()))
        };
        let removed: Vec<ResourceName> = self
            .routes
            .keys()
            .filter(|name| gone(Kind::Route, name))
            .cloned()
            .collect();
        for name in removed {
            if let Some(running) = self.routes.remove(&name) {
                running.runner.stop().await;
            }
        }
        self.schedules.retain(|name, _| !gone(Kind::Source, name));
        self.webhooks.retain(|name, _| !gone(Kind::Source, name));
        for (name, (spec, source)) in txn.webhooks {
            self.schedules.remove(&name);
            self.webhooks.insert(name, (spec, source));
        }
        for (name, spec) in txn.schedules {
            self.webhooks.remove(&name);
            self.schedules.remove(&name);
            let SourceKind::Schedule(schedule) = &spec.kind else {
                continue;
            };
            let started = ScheduleSource::start(
                &self.broker,
                &name,
                &spec.topic,
                schedule,
                &self.node,
                Arc::clone(&self.clock),
            );
            match started {
                Ok(source) => {
                    self.schedules.insert(name, (spec, source));
                }
                Err(error) => {
                    self.failures
                        .insert(ResourceKey::new(Kind::Source, name), error.to_string());
                }
            }
        }
        let paths: HashMap<String, Arc<WebhookSource>> = self
            .webhooks
            .values()
            .map(|(_, source)| (source.path().to_owned(), Arc::clone(source)))
            .collect();
        *self
            .paths
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = paths;
        self.failures.retain(|key, _| next.contains_key(key));
        if self.broker.has_streams() {
            let principal = controller_principal();
            for key in current.keys() {
                if key.kind != Kind::Stream || next.contains_key(key) {
                    continue;
                }
                let Ok(name) = StreamName::new(key.name.as_str()) else {
                    continue;
                };
                match self.broker.delete_stream(&principal, &name).await {
                    Ok(()) | Err(weft_broker::StreamError::NotFound { .. }) => {}
                    Err(error) => {
                        tracing::warn!(stream = %name, %error, "stream of a deleted manifest not removed");
                    }
                }
            }
        }
    }

    /// Stops every route and source (node shutdown).
    pub(crate) async fn stop_all(&mut self) {
        for (_, running) in std::mem::take(&mut self.routes) {
            running.runner.stop().await;
        }
        self.schedules.clear();
        self.webhooks.clear();
        self.paths
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }
}
