//! Cron expressions of schedule sources: checked here, evaluated by the runtime.
//!
//! Five fields separated by spaces: minute (0-59), hour (0-23), day of month (1-31),
//! month (1-12 or `jan`-`dec`), day of week (0-7, 0 and 7 are Sunday, or `sun`-`sat`).
//! Each field is a comma-separated list of `*`, `N`, `N-M`, each optionally followed by
//! `/STEP`. The macros `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily`
//! (`@midnight`) and `@hourly` are accepted too. Times are UTC. [`CronSchedule`]
//! computes the next time an expression fires.

mod schedule;

pub use schedule::CronSchedule;

/// Why a cron expression is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron expression `{input}`: {reason}")]
pub struct CronError {
    /// The expression as given.
    pub input: String,
    /// What is wrong.
    pub reason: String,
}

const MACROS: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

const FIELDS: [(&str, u32, u32, &[&str]); 5] = [
    ("minute", 0, 59, &[]),
    ("hour", 0, 23, &[]),
    ("day of month", 1, 31, &[]),
    (
        "month",
        1,
        12,
        &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
    ),
    (
        "day of week",
        0,
        7,
        &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    ),
];

/// Checks `input` against the rules above.
///
/// # Errors
/// A [`CronError`] naming the first broken rule.
pub fn check(input: &str) -> Result<(), CronError> {
    let error = |reason: String| CronError {
        input: input.to_owned(),
        reason,
    };
    let trimmed = input.trim();
    if trimmed.starts_with('@') {
        return if MACROS.contains(&trimmed) {
            Ok(())
        } else {
            Err(error(format!(
                "unknown macro, expected one of {}",
                MACROS.join(", ")
            )))
        };
    }
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    if fields.len() != FIELDS.len() {
        return Err(error(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
            fields.len()
        )));
    }
    for (field, (name, low, high, names)) in fields.iter().zip(FIELDS) {
        check_field(field, low, high, names)
            .map_err(|reason| error(format!("{name}: {reason}")))?;
    }
    Ok(())
}

fn check_field(field: &str, low: u32, high: u32, names: &[&str]) -> Result<(), String> {
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(step) if step > 0 => {}
                _ => return Err(format!("step `{step}` must be a positive number")),
            }
        }
        if range == "*" {
            continue;
        }
        let (start, end) = match range.split_once('-') {
            Some((start, end)) => (start, Some(end)),
            None => (range, None),
        };
        let start = value(start, low, high, names)?;
        if let Some(end) = end {
            let end = value(end, low, high, names)?;
            if end < start {
                return Err(format!("range `{range}` ends before it starts"));
            }
        }
    }
    Ok(())
}

fn value(text: &str, low: u32, high: u32, names: &[&str]) -> Result<u32, String> {
    if let Some(index) = names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
    {
        let offset = if low == 1 { 1 } else { 0 };
        return u32::try_from(index)
            .map(|index| index + offset)
            .map_err(|e| e.to_string());
    }
    match text.parse::<u32>() {
        Ok(number) if (low..=high).contains(&number) => Ok(number),
        Ok(number) => Err(format!("{number} is outside {low}-{high}")),
        Err(_) => Err(format!("`{text}` is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_expressions_are_accepted() {
        for good in [
            "* * * * *",
            "*/5 * * * *",
            "0 9-17 * * mon-fri",
            "15,45 0 1 jan,jul 0",
            "0 0 * * 7",
            "@hourly",
        ] {
            check(good).unwrap();
        }
    }

    #[test]
    fn broken_expressions_name_the_field() {
        let error = check("61 * * * *").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid cron expression `61 * * * *`: minute: 61 is outside 0-59"
        );
        assert!(check("* * *").is_err());
        assert!(check("*/0 * * * *").is_err());
        assert!(check("5-1 * * * *").is_err());
        assert!(check("@often").is_err());
        assert!(check("* * * smarch *").is_err());
    }
}
