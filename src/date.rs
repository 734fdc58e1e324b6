//! Calendar dates: the ISO 8601 form (YYYY-MM-DD) every payload date is written in, and the
//! looser forms dataset releases use, read into that one form.
//!
//! It reads and writes dates and nothing else; which dates a view or a window keeps is theirs.

use chrono::{Datelike, NaiveDate};

/// An ISO 8601 calendar date (YYYY-MM-DD), exactly as chrono's `%Y-%m-%d` reads it. The usual
/// ten-character form is read by hand: chrono's format parser costs more than the rest of a
/// large fold's date work.
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
        // Four digits always fit an i32.
        Some((year, month, day)) => NaiveDate::from_ymd_opt(year.try_into().ok()?, month, day),
        None => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
    }
}

/// The ISO 8601 text of a date.
pub fn iso_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A date as dataset exports write it: YYYY-MM-DD (a time after it, separated by a space or
/// `T`, is cut off), "31 December 2020" or "31-December-2020" (month names may be abbreviated).
/// Years outside 1000..=9999 are refused, since the payloads' form has four digits.
pub fn dataset_date(text: &str) -> Option<NaiveDate> {
    let iso_day = text
        .get(..10)
        .filter(|_| text.len() == 10 || text[10..].starts_with([' ', 'T']));
    iso_day
        .and_then(iso_date)
        .or_else(|| {
            ["%d %B %Y", "%d-%B-%Y"]
                .iter()
                .find_map(|format| NaiveDate::parse_from_str(text, format).ok())
        })
        .filter(|date| (1000..=9999).contains(&date.year()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        .map(std::string::ToString::to_string)
        .collect();
        let mut day = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        while day < end {
            texts.push(day.to_string());
            day = day.succ_opt().unwrap();
        }
        for text in texts {
            let chrono = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok();
            assert_eq!(iso_date(&text), chrono, "{text:?}");
        }
    }

    #[test]
    fn dataset_dates_are_read_in_each_accepted_form() {
        for (raw, expected) in [
            ("2020-12-31", "2020-12-31"),
            ("2020-12-31 00:00:00.000", "2020-12-31"),
            ("2020-12-31T10:00:00Z", "2020-12-31"),
            ("31 December 2020", "2020-12-31"),
            ("31-December-2020", "2020-12-31"),
            ("1 Dec 2020", "2020-12-01"),
        ] {
            assert_eq!(
                dataset_date(raw).map(iso_text).as_deref(),
                Some(expected),
                "{raw}"
            );
        }
        for raw in [
            "2020-02-30",
            "31/12/2020",
            "2020-12-310",
            "yesterday",
            "",
            "0999-01-01",
            "1 January 10000",
        ] {
            assert_eq!(dataset_date(raw), None, "{raw}");
        }
    }
}
