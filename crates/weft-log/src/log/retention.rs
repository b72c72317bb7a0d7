//! Retention: deleting whole sealed segments from the front of the log by age, total
//! size and record count. The active segment is never deleted, so a log can hold more
//! than a limit until its active segment is sealed; deleting whole segments means it can
//! also hold less.

use std::time::Duration;

use super::PartitionLog;
use crate::error::RetentionError;
use crate::offset::Offset;

/// Limits on what a log keeps; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionPolicy {
    /// A sealed segment is deleted once its newest record is older than this.
    pub max_age: Option<Duration>,
    /// Oldest sealed segments are deleted while the log is larger than this.
    pub max_bytes: Option<u64>,
    /// Oldest sealed segments are deleted while the log holds more records than this.
    pub max_records: Option<u64>,
}

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionOutcome {
    /// Segments deleted.
    pub segments_removed: usize,
    /// Bytes deleted.
    pub bytes_removed: u64,
    /// The log's first offset afterwards.
    pub first_offset: Offset,
}

impl PartitionLog {
    /// Deletes the sealed segments that `policy` no longer keeps, oldest first, judging
    /// age against `now_ms` (milliseconds since the Unix epoch).
    pub fn apply_retention(
        &mut self,
        policy: &RetentionPolicy,
        now_ms: i64,
    ) -> Result<RetentionOutcome, RetentionError> {
        let mut outcome = RetentionOutcome {
            segments_removed: 0,
            bytes_removed: 0,
            first_offset: self.first_offset(),
        };
        let mut total_bytes = self.size_bytes();
        while self.segments.len() > 1 {
            let oldest = &self.segments[0];
            let too_old = policy.max_age.is_some_and(|age| {
                let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
                oldest.max_timestamp() < now_ms.saturating_sub(age_ms)
            });
            let too_big = policy.max_bytes.is_some_and(|max| total_bytes > max);
            let too_many = policy
                .max_records
                .is_some_and(|max| self.next_offset().distance_from(oldest.base()) > max);
            if !(too_old || too_big || too_many) {
                break;
            }
            let name = oldest.name();
            let bytes = oldest.len();
            self.storage
                .remove(&name)
                .map_err(|source| RetentionError::Io {
                    name: name.clone(),
                    source,
                })?;
            self.segments.remove(0);
            self.segments_changed(false);
            tracing::debug!(segment = %name, bytes, "retention removed segment");
            total_bytes -= bytes;
            outcome.segments_removed += 1;
            outcome.bytes_removed += bytes;
        }
        if outcome.segments_removed > 0 {
            self.storage
                .sync_directory()
                .map_err(|source| RetentionError::Io {
                    name: "directory".to_owned(),
                    source,
                })?;
        }
        outcome.first_offset = self.first_offset();
        Ok(outcome)
    }
}
