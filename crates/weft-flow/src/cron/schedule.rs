//! Evaluating a checked cron expression: [`CronSchedule::next_after`] is the first
//! minute strictly after a given time at which the expression fires (UTC).
//!
//! Day matching follows the classic (Vixie) cron rule: when both day of month and day
//! of week are restricted (neither field starts with `*`), a day matches if *either*
//! matches; otherwise both must (an unrestricted field matches every day).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{CronError, FIELDS, check, value};

/// How many days ahead [`CronSchedule::next_after`] looks: long enough for `29 feb`
/// on a given weekday (which repeats within 28 years).
const HORIZON_DAYS: i64 = 366 * 29;

/// A parsed cron expression: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    day_of_month_restricted: bool,
    day_of_week_restricted: bool,
}

impl std::str::FromStr for CronSchedule {
    type Err = CronError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        CronSchedule::parse(input)
    }
}

impl CronSchedule {
    /// Parses `input` (the rules of [`super::check`]).
    ///
    /// # Errors
    /// A [`CronError`] naming the first broken rule.
    pub fn parse(input: &str) -> Result<CronSchedule, CronError> {
        check(input)?;
        let trimmed = input.trim();
        let expanded = match trimmed {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let mut masks = [0u64; 5];
        for ((mask, field), (_, low, high, names)) in masks.iter_mut().zip(&fields).zip(FIELDS) {
            *mask = field_mask(field, low, high, names).map_err(|reason| CronError {
                input: input.to_owned(),
                reason,
            })?;
        }
        // Sunday is 0 and 7.
        let mut days_of_week = masks[4];
        if days_of_week & (1 << 7) != 0 {
            days_of_week |= 1;
        }
        Ok(CronSchedule {
            minutes: masks[0],
            hours: masks[1],
            days_of_month: masks[2],
            months: masks[3],
            days_of_week,
            day_of_month_restricted: !fields[2].starts_with('*'),
            day_of_week_restricted: !fields[4].starts_with('*'),
        })
    }

    /// The first time strictly after `after` (whole minutes, UTC) at which the
    /// expression fires; `None` when it never does (`0 0 31 feb *`).
    #[must_use]
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        let seconds = match after.duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).ok()?,
            Err(before) => -i64::try_from(before.duration().as_secs_f64().ceil() as u64).ok()?,
        };
        let first_minute = seconds.div_euclid(60) + 1;
        let first_day = first_minute.div_euclid(1440);
        for day in first_day..first_day + HORIZON_DAYS {
            let from = if day == first_day {
                first_minute.rem_euclid(1440)
            } else {
                0
            };
            if self.day_matches(day)
                && let Some(minute) = self.first_minute_from(from)
            {
                let at = u64::try_from((day * 1440 + minute) * 60).ok()?;
                return Some(UNIX_EPOCH + Duration::from_secs(at));
            }
        }
        None
    }

    fn day_matches(&self, day: i64) -> bool {
        let (_, month, day_of_month) = civil_from_days(day);
        // 1970-01-01 was a Thursday (4).
        let weekday = (day + 4).rem_euclid(7);
        if self.months & (1 << month) == 0 {
            return false;
        }
        let by_month_day = self.days_of_month & (1 << day_of_month) != 0;
        let by_week_day = self.days_of_week & (1 << weekday) != 0;
        match (self.day_of_month_restricted, self.day_of_week_restricted) {
            (true, true) => by_month_day || by_week_day,
            (true, false) => by_month_day,
            (false, true) => by_week_day,
            (false, false) => true,
        }
    }

    /// The first allowed minute of the day at or after `from` (minutes since midnight).
    fn first_minute_from(&self, from: i64) -> Option<i64> {
        (from..1440).find(|minute| {
            self.hours & (1 << (minute / 60)) != 0 && self.minutes & (1 << (minute % 60)) != 0
        })
    }
}

/// The bits of one field's allowed values.
fn field_mask(field: &str, low: u32, high: u32, names: &[&str]) -> Result<u64, String> {
    let mut mask = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, step.parse::<u32>().map_err(|e| e.to_string())?),
            None => (part, 1),
        };
        let (start, end) = if range == "*" {
            (low, high)
        } else {
            match range.split_once('-') {
                Some((start, end)) => (
                    value(start, low, high, names)?,
                    value(end, low, high, names)?,
                ),
                // `N/STEP` runs from N to the field's end, as in Vixie cron.
                None if part.contains('/') => (value(range, low, high, names)?, high),
                None => {
                    let single = value(range, low, high, names)?;
                    (single, single)
                }
            }
        };
        let mut current = start;
        while current <= end {
            mask |= 1 << current;
            current += step.max(1);
        }
    }
    Ok(mask)
}

/// (year, month 1-12, day 1-31) of a day counted from 1970-01-01 (the proleptic
/// Gregorian calendar; H. Hinnant's days-to-civil algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds since the epoch of a UTC date and time.
    fn at(year: i64, month: u32, day: u32, hour: u32, minute: u32) -> SystemTime {
        // Days from civil (inverse of the algorithm above), for tests only.
        let (y, m) = if month <= 2 {
            (year - 1, i64::from(month) + 9)
        } else {
            (year, i64::from(month) - 3)
        };
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let day_of_year = (153 * m + 2) / 5 + i64::from(day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        let days = era * 146_097 + day_of_era - 719_468;
        let seconds = days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60;
        UNIX_EPOCH + Duration::from_secs(seconds as u64)
    }

    fn next(expression: &str, after: SystemTime) -> Option<SystemTime> {
        CronSchedule::parse(expression).unwrap().next_after(after)
    }

    #[test]
    fn civil_dates_round_trip_over_centuries() {
        for days in (0..800_000).step_by(997) {
            let (year, month, day) = civil_from_days(days);
            let back = at(year, month, day, 0, 0);
            assert_eq!(back, UNIX_EPOCH + Duration::from_secs(days as u64 * 86_400));
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn every_minute_fires_at_the_next_whole_minute() {
        let now = at(2026, 12, 5, 3, 14) + Duration::from_secs(59);
        assert_eq!(next("* * * * *", now), Some(at(2026, 12, 5, 3, 15)));
        // Strictly after: a time exactly on a minute gives the following one.
        assert_eq!(
            next("* * * * *", at(2026, 12, 5, 3, 15)),
            Some(at(2026, 12, 5, 3, 16))
        );
    }

    #[test]
    fn steps_ranges_and_lists_pick_the_right_minute_and_hour() {
        let now = at(2026, 12, 5, 3, 14);
        assert_eq!(next("*/5 * * * *", now), Some(at(2026, 12, 5, 3, 15)));
        assert_eq!(next("10-20/7 * * * *", now), Some(at(2026, 12, 5, 3, 17)));
        assert_eq!(next("15,45 0 * * *", now), Some(at(2026, 12, 6, 0, 15)));
        assert_eq!(next("0 9-17 * * *", now), Some(at(2026, 12, 5, 9, 0)));
        assert_eq!(
            next("30 23 * * *", at(2026, 12, 31, 23, 30)),
            Some(at(2027, 1, 1, 23, 30))
        );
    }

    #[test]
    fn weekdays_and_month_names_are_honoured() {
        // 2026-12-05 is a Saturday.
        let now = at(2026, 12, 5, 3, 14);
        assert_eq!(next("0 9 * * mon-fri", now), Some(at(2026, 12, 7, 9, 0)));
        assert_eq!(next("0 0 * * 7", now), Some(at(2026, 12, 6, 0, 0)));
        assert_eq!(next("0 0 * * sun", now), Some(at(2026, 12, 6, 0, 0)));
        assert_eq!(next("0 0 1 jan,jul *", now), Some(at(2027, 1, 1, 0, 0)));
    }

    #[test]
    fn restricted_day_of_month_and_weekday_match_either() {
        // The 15th, or any Monday: Monday 2026-12-07 comes first.
        let now = at(2026, 12, 5, 3, 14);
        assert_eq!(next("0 0 15 * mon", now), Some(at(2026, 12, 7, 0, 0)));
        // Only the day of month restricted: the 15th.
        assert_eq!(next("0 0 15 * *", now), Some(at(2026, 12, 15, 0, 0)));
    }

    #[test]
    fn macros_and_leap_days() {
        let now = at(2026, 12, 5, 3, 14);
        assert_eq!(next("@hourly", now), Some(at(2026, 12, 5, 4, 0)));
        assert_eq!(next("@daily", now), Some(at(2026, 12, 6, 0, 0)));
        assert_eq!(next("@weekly", now), Some(at(2026, 12, 6, 0, 0)));
        assert_eq!(next("@monthly", now), Some(at(2027, 1, 1, 0, 0)));
        assert_eq!(next("@yearly", now), Some(at(2027, 1, 1, 0, 0)));
        assert_eq!(next("0 0 29 feb *", now), Some(at(2028, 2, 29, 0, 0)));
        assert_eq!(next("0 0 31 feb *", now), None);
    }

    #[test]
    fn successive_fires_of_every_five_minutes_are_five_minutes_apart() {
        let schedule = CronSchedule::parse("*/5 * * * *").unwrap();
        let mut time = at(2026, 2, 28, 23, 50);
        for _ in 0..10 {
            let fired = schedule.next_after(time).unwrap();
            assert_eq!(fired.duration_since(time).unwrap().as_secs() % 60, 0);
            assert!(fired.duration_since(time).unwrap() <= Duration::from_secs(300));
            time = fired;
        }
        assert_eq!(time, at(2026, 3, 1, 0, 40));
    }
}
