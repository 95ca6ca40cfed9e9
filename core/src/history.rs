//! Points in time for a history scan: parsing `--history START..END --every STEP` and `--at
//! DATE`, expanding them into dates, and choosing the commit each date stands for.
//!
//! A point is a calendar day (UTC). It stands for the state of a repository's default branch
//! at the end of that day: the last commit of the branch's first-parent chain whose committer
//! date is before the next midnight (UTC). A repository with no such commit did not exist yet
//! at that point: it is *absent*, which is not a failure.
//!
//! ```
//! use fleetscan_core::history::{Day, Points};
//! let today: Day = "2026-11-30".parse().unwrap();
//! let p = Points::parse(Some("2024-04-01..2025-04-01"), None, &[], today).unwrap();
//! let shown: Vec<String> = p.days().iter().map(|d| d.to_string()).collect();
//! assert_eq!(shown, ["2024-04-01", "2024-07-01", "2024-10-01", "2025-01-01", "2025-04-01"]);
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

use crate::Error;

/// More points than this is almost surely a mistake (a month step over decades), and each
/// point costs a scan of every repository's changes.
pub const MAX_POINTS: usize = 120;

/// A calendar day, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(Date);

impl Day {
    /// The day of a Unix time (seconds, UTC).
    pub fn of_unix(secs: i64) -> Day {
        let days = secs.div_euclid(86_400);
        Day(Date::from_julian_day(UNIX_EPOCH_JULIAN + days as i32).expect("in range"))
    }

    /// The first second after this day, Unix seconds: a commit belongs to the point when its
    /// committer time is before it.
    pub fn end(self) -> i64 {
        i64::from(self.0.to_julian_day() - UNIX_EPOCH_JULIAN + 1) * 86_400
    }

    /// This day `n` months later; the day of the month is kept, or the month's last day when
    /// the month is shorter (2024-01-31 plus one month is 2024-02-29).
    pub fn plus_months(self, n: u32) -> Option<Day> {
        let months = i64::from(self.0.year()) * 12 + i64::from(u8::from(self.0.month()) - 1);
        let total = months + i64::from(n);
        let year = i32::try_from(total.div_euclid(12)).ok()?;
        let month = Month::try_from(total.rem_euclid(12) as u8 + 1).ok()?;
        let last = time::util::days_in_month(month, year);
        Date::from_calendar_date(year, month, self.0.day().min(last))
            .ok()
            .map(Day)
    }
}

/// Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN: i32 = 2_440_588;

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            u8::from(self.0.month()),
            self.0.day()
        )
    }
}

impl FromStr for Day {
    type Err = String;

    /// `YYYY-MM-DD`, a real date from 1970 on.
    fn from_str(s: &str) -> Result<Day, String> {
        let bad = || format!("{s:?} is not a date: write it as YYYY-MM-DD, e.g. 2025-04-01");
        let parts: Vec<&str> = s.trim().split('-').collect();
        let [y, m, d] = parts[..] else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let num = |p: &str| {
            p.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| p.parse::<u16>().ok())
                .flatten()
                .ok_or_else(bad)
        };
        let (y, m, d) = (num(y)?, num(m)?, num(d)?);
        let month = u8::try_from(m)
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or_else(|| format!("{s:?}: there is no month {m}"))?;
        let date = u8::try_from(d)
            .ok()
            .and_then(|d| Date::from_calendar_date(i32::from(y), month, d).ok())
            .ok_or_else(|| format!("{s:?}: {month} {y} has no day {d}"))?;
        if y < 1970 {
            return Err(format!("{s:?} is before 1970: git dates start in 1970"));
        }
        Ok(Day(date))
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Day, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The step of `--every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// One point a month.
    Month,
    /// One point every three months. The default.
    Quarter,
    /// One point a year.
    Year,
}

impl Every {
    fn months(self) -> u32 {
        match self {
            Every::Month => 1,
            Every::Quarter => 3,
            Every::Year => 12,
        }
    }
}

impl FromStr for Every {
    type Err = String;
    fn from_str(s: &str) -> Result<Every, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "month" | "monthly" => Ok(Every::Month),
            "quarter" | "quarterly" => Ok(Every::Quarter),
            "year" | "yearly" => Ok(Every::Year),
            _ => Err(format!("--every {s:?}: choose month, quarter or year")),
        }
    }
}

/// The points of a history scan, oldest first, without duplicates. Empty: no history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Points(Vec<Day>);

impl Points {
    /// Points from the flags: `--history START..END` with `--every` (default quarter) gives
    /// START, START plus one step, ... up to END, and END itself; each `--at DATE` adds one.
    /// Dates after `today` are refused: there is nothing to scan there yet.
    pub fn parse(
        history: Option<&str>,
        every: Option<&str>,
        at: &[String],
        today: Day,
    ) -> Result<Points, Error> {
        let bad = |why: String| Error::History(why);
        let mut days = Vec::new();
        match (history, every) {
            (None, Some(e)) => {
                return Err(bad(format!(
                    "--every {e} needs --history START..END: give the range it steps through"
                )))
            }
            (None, None) => {}
            (Some(range), every) => {
                let every: Every = every.unwrap_or("quarter").parse().map_err(bad)?;
                let (start, end) = range.split_once("..").ok_or_else(|| {
                    bad(format!(
                        "--history {range:?}: write it as START..END, e.g. 2024-04-01..2026-10-01"
                    ))
                })?;
                let flag = |why: String| bad(format!("--history {range}: {why}"));
                let start: Day = start.parse().map_err(flag)?;
                let end: Day = end.parse().map_err(flag)?;
                if end < start {
                    return Err(flag(format!(
                        "the end {end} is before the start {start}: give START..END, oldest first"
                    )));
                }
                for k in 0.. {
                    let Some(d) = start.plus_months(k * every.months()) else {
                        break;
                    };
                    if d > end {
                        break;
                    }
                    days.push(d);
                    if days.len() > MAX_POINTS {
                        return Err(flag(format!(
                            "more than {MAX_POINTS} points: use a longer --every or a shorter range"
                        )));
                    }
                }
                days.push(end);
            }
        }
        for a in at {
            let d: Day = a.parse().map_err(|e| bad(format!("--at {a}: {e}")))?;
            days.push(d);
        }
        days.sort();
        days.dedup();
        if let Some(late) = days.iter().find(|d| **d > today) {
            return Err(bad(format!(
                "{late} is in the future (today is {today}): give dates up to today"
            )));
        }
        if days.len() > MAX_POINTS {
            return Err(bad(format!(
                "{} points, more than {MAX_POINTS}: use fewer --at dates or a longer --every",
                days.len()
            )));
        }
        Ok(Points(days))
    }

    /// Points on these days (any order, duplicates dropped).
    pub fn from_days(days: impl IntoIterator<Item = Day>) -> Points {
        let mut v: Vec<Day> = days.into_iter().collect();
        v.sort();
        v.dedup();
        Points(v)
    }

    /// The days, oldest first.
    pub fn days(&self) -> &[Day] {
        &self.0
    }

    /// True without points: an ordinary scan of the head.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The oldest point.
    pub fn oldest(&self) -> Option<Day> {
        self.0.first().copied()
    }
}

/// For each of `points` (oldest first), the index into `chain` of the commit it stands for,
/// or None when the repository did not exist yet. `chain` is the first-parent chain from the
/// head, newest first, as committer times; it must reach back past the oldest point (or to
/// the root commit). Committer dates need not decrease along the chain: the first commit met
/// from the head that is before the point's end is the one, as `git rev-list --first-parent
/// --before` picks it.
pub fn pick(chain: &[i64], points: &[Day]) -> Vec<Option<usize>> {
    points
        .iter()
        .map(|p| chain.iter().position(|&t| t < p.end()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    fn shown(p: &Points) -> Vec<String> {
        p.days().iter().map(Day::to_string).collect()
    }

    const TODAY: &str = "2026-11-30";

    fn parse(h: Option<&str>, e: Option<&str>, at: &[&str]) -> Result<Points, String> {
        let at: Vec<String> = at.iter().map(|s| s.to_string()).collect();
        Points::parse(h, e, &at, day(TODAY)).map_err(|e| e.to_string())
    }

    #[test]
    fn days_parse_print_and_convert() {
        assert_eq!(day("2024-02-29").to_string(), "2024-02-29");
        assert_eq!(Day::of_unix(0).to_string(), "1970-01-01");
        assert_eq!(Day::of_unix(1_787_346_108).to_string(), "2026-08-21");
        assert_eq!(day("1970-01-01").end(), 86_400);
        assert_eq!(Day::of_unix(day("2026-08-21").end() - 1), day("2026-08-21"));
        for bad in [
            "2024-4-01",
            "20240401",
            "2024-13-01",
            "2023-02-29",
            "yesterday",
            "1969-12-31",
        ] {
            assert!(bad.parse::<Day>().is_err(), "{bad}");
        }
        assert!("2023-02-29"
            .parse::<Day>()
            .unwrap_err()
            .contains("no day 29"));
    }

    #[test]
    fn months_are_added_with_the_day_kept_or_clamped() {
        assert_eq!(day("2024-01-31").plus_months(1), Some(day("2024-02-29")));
        assert_eq!(day("2024-11-15").plus_months(3), Some(day("2025-02-15")));
        assert_eq!(day("2024-04-01").plus_months(24), Some(day("2026-04-01")));
    }

    #[test]
    fn a_range_steps_and_ends_on_its_end() {
        let p = parse(Some("2024-04-01..2026-10-01"), Some("quarter"), &[]).unwrap();
        assert_eq!(p.days().len(), 11);
        assert_eq!(shown(&p)[10], "2026-10-01");
        let p = parse(Some("2024-01-15..2024-03-01"), Some("month"), &[]).unwrap();
        assert_eq!(shown(&p), ["2024-01-15", "2024-02-15", "2024-03-01"]);
        let p = parse(Some("2024-01-01..2024-01-01"), None, &[]).unwrap();
        assert_eq!(shown(&p), ["2024-01-01"]);
        let p = parse(
            Some("2020-06-30..2023-01-01"),
            Some("year"),
            &["2021-01-01"],
        )
        .unwrap();
        assert_eq!(
            shown(&p),
            [
                "2020-06-30",
                "2021-01-01",
                "2021-06-30",
                "2022-06-30",
                "2023-01-01"
            ]
        );
    }

    #[test]
    fn at_dates_are_sorted_and_deduplicated() {
        let p = parse(None, None, &["2025-04-01", "2024-10-01", "2025-04-01"]).unwrap();
        assert_eq!(shown(&p), ["2024-10-01", "2025-04-01"]);
        assert!(parse(None, None, &[]).unwrap().is_empty());
    }

    #[test]
    fn bad_input_names_the_flag_and_the_fix() {
        /// --history, --every, --at, and what the error must say.
        type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a [&'a str], &'a str);
        let cases: [Case; 8] = [
            (Some("2024-04-01"), None, &[], "START..END"),
            (Some("2024-04-01..2024-13-01"), None, &[], "--history"),
            (Some("2025-01-01..2024-01-01"), None, &[], "oldest first"),
            (
                Some("2024-01-01..2025-01-01"),
                Some("week"),
                &[],
                "month, quarter or year",
            ),
            (None, Some("month"), &[], "needs --history"),
            (None, None, &["2024/01/01"], "--at 2024/01/01"),
            (None, None, &["2027-01-01"], "in the future"),
            (
                Some("1970-01-01..2026-01-01"),
                Some("month"),
                &[],
                "shorter range",
            ),
        ];
        for (h, e, at, needle) in cases {
            let err = parse(h, e, at).unwrap_err();
            assert!(err.contains(needle), "{h:?} {e:?} {at:?}: {err}");
        }
    }

    #[test]
    fn each_point_takes_the_first_commit_before_its_end() {
        let end = |s: &str| day(s).end();
        // Newest first; the second commit has a committer date later than the first's.
        let chain = [
            end("2025-06-01"),
            end("2025-06-10"),
            end("2025-01-01") - 1,
            end("2024-05-01") - 1,
        ];
        let points = [
            day("2024-01-01"),
            day("2024-05-01"),
            day("2025-01-01"),
            day("2025-06-05"),
            day("2026-01-01"),
        ];
        assert_eq!(
            pick(&chain, &points),
            [None, Some(3), Some(2), Some(0), Some(0)]
        );
    }
}
