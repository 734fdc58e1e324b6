//! The event-time filter: a [`Window`] of dates that a view's rows must fall in (an event,
//! effective or adoption date, as each view says), and the reading of the payloads' ISO 8601
//! dates. Knowledge time, what the ledger had recorded by when, is [`super::AsOf`]'s.

use chrono::NaiveDate;

/// An event-time range, both ends inclusive, on ISO 8601 dates; open at an end that is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Window {
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// Whether an event date (YYYY-MM-DD) falls in the window; a date that does not parse
    /// (the schemas rule that out) falls outside any bounded window.
    pub fn contains(&self, date: &str) -> bool {
        if self.is_open() {
            return true;
        }
        iso_date(date).is_some_and(|date| self.contains_date(date))
    }

    pub fn contains_date(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|from| date >= from) && self.to.is_none_or(|to| date <= to)
    }
}

/// An ISO 8601 calendar date (YYYY-MM-DD). The payloads' dates are all in this form, which is
/// read by hand: chrono's format parser costs more than the rest of a large fold's date work.
pub fn iso_date(text: &str) -> Option<NaiveDate> {
    let fast = match text.as_bytes() {
        [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] => {
            let digits = [*y0, *y1, *y2, *y3, *m0, *m1, *d0, *d1];
            digits.iter().all(u8::is_ascii_digit).then(|| {
                let number = |ds: &[u8]| ds.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'));
                (
                    number(&digits[..4]),
                    number(&digits[4..6]),
                    number(&digits[6..]),
                )
            })
        }
        _ => None,
    };
    match fast {
        Some((year, month, day)) => NaiveDate::from_ymd_opt(year as i32, month, day),
        None => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::iso_date;
    use chrono::NaiveDate;

    #[test]
    fn iso_date_reads_exactly_what_chrono_reads() {
        let mut texts: Vec<String> = [
            "2023-02-29",
            "2024-02-29",
            "2023-13-01",
            "2023-00-10",
            "2023-01-00",
            "2023-1-05",
            "2023-01-5",
            "+2023-01-05",
            "2023-01-05T00:00",
            "2023/01/05",
            "20230105",
            "",
            "0000-01-01",
            "9999-12-31",
            " 2023-01-05",
            "2023-01-0x",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let mut day = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(2029, 12, 31).unwrap();
        while day <= last {
            texts.push(day.to_string());
            day = day.succ_opt().unwrap();
        }
        for text in texts {
            let chrono = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok();
            assert_eq!(iso_date(&text), chrono, "{text:?}");
        }
    }
}
