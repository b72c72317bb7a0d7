//! The schedule source: events at the times a cron expression names (UTC), with the
//! configured `type`, `source` and optional JSON `data`, published on the source's topic.
//!
//! "Now" comes from a [`weft_core::Clock`], so tests can place the clock just before a
//! firing time instead of waiting for a whole minute. The task sleeps until the next
//! firing time, publishes one event whose `time` is that firing time, and computes the
//! next one from there (a firing is never repeated, even if the clock lags the timer).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use weft_broker::{Broker, Principal};
use weft_core::{Clock, Event, Topic};

use crate::cron::{CronError, CronSchedule};
use crate::manifest::ResourceName;
use crate::manifest::source::Schedule;

/// Counters of a schedule source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleStatus {
    /// Events published.
    pub events_emitted: u64,
    /// Firings whose publish failed.
    pub publish_failures: u64,
    /// The next firing time, if there is one.
    pub next_fire: Option<SystemTime>,
    /// The last publish error, for humans.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Shared {
    emitted: AtomicU64,
    failures: AtomicU64,
    state: Mutex<(Option<SystemTime>, Option<String>)>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Option<SystemTime>, Option<String>)> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running schedule source. Dropping it stops the task.
#[derive(Debug)]
pub struct ScheduleSource {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Drop for ScheduleSource {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

/// What the schedule task needs.
struct Firing {
    name: ResourceName,
    topic: Topic,
    schedule: Schedule,
    cron: CronSchedule,
    data: Option<Bytes>,
    broker: Broker,
    principal: Principal,
    node: String,
    clock: Arc<dyn Clock>,
    shared: Arc<Shared>,
}

impl ScheduleSource {
    /// Starts the source `name`.
    ///
    /// # Errors
    /// An invalid cron expression (validation prevents this).
    pub fn start(
        broker: &Broker,
        name: &ResourceName,
        topic: &Topic,
        schedule: &Schedule,
        node: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<ScheduleSource, CronError> {
        let cron = CronSchedule::parse(&schedule.cron)?;
        let data = schedule
            .data
            .as_ref()
            .map(|data| Bytes::from(data.to_string()));
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = watch::channel(false);
        let firing = Firing {
            name: name.clone(),
            topic: topic.clone(),
            schedule: schedule.clone(),
            cron,
            data,
            broker: broker.clone(),
            principal: Principal::named(format!("$source/{name}")),
            node: node.to_owned(),
            clock,
            shared: Arc::clone(&shared),
        };
        let task = tokio::spawn(firing.run(stopped));
        Ok(ScheduleSource { shared, stop, task })
    }

    /// The counters now.
    #[must_use]
    pub fn status(&self) -> ScheduleStatus {
        let (next_fire, last_error) = self.shared.lock().clone();
        ScheduleStatus {
            events_emitted: self.shared.emitted.load(Ordering::Relaxed),
            publish_failures: self.shared.failures.load(Ordering::Relaxed),
            next_fire,
            last_error,
        }
    }

    /// Stops the source (a publish in progress is abandoned).
    pub fn stop(self) {
        drop(self);
    }
}

impl Firing {
    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let mut last: Option<SystemTime> = None;
        loop {
            let now = self.clock.now();
            let from = match last {
                Some(last) if last > now => last,
                _ => now,
            };
            let Some(next) = self.cron.next_after(from) else {
                tracing::warn!(source = %self.name, cron = %self.schedule.cron, "schedule never fires again");
                self.shared.lock().0 = None;
                return;
            };
            self.shared.lock().0 = Some(next);
            let wait = next.duration_since(now).unwrap_or(Duration::ZERO);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopped.wait_for(|stop| *stop) => return,
            }
            last = Some(next);
            self.fire(next).await;
        }
    }

    async fn fire(&self, at: SystemTime) {
        let id = weft_core::id::new_event_id();
        let built = super::webhook::build_event(
            &id,
            &self.schedule.ty,
            &self.schedule.source,
            at,
            self.data.clone(),
        );
        let outcome = match built {
            Ok(cloudevent) => {
                let event = Event::new(cloudevent, self.topic.clone(), self.node.clone(), at);
                self.broker
                    .publish(&self.principal, event)
                    .await
                    .map(|_| ())
                    .map_err(|error| error.to_string())
            }
            Err(error) => Err(error.to_string()),
        };
        match outcome {
            Ok(()) => {
                self.shared.emitted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(source = %self.name, "schedule fired");
            }
            Err(error) => {
                self.shared.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(source = %self.name, %error, "scheduled event not published");
                self.shared.lock().1 = Some(error);
            }
        }
    }
}
