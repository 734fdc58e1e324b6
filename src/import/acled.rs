//! The ACLED export layout, current and older (before March 2023): columns are found by name,
//! since the older exports add event_id_no_cnty, data_id and iso3 and lack disorder_type,
//! civilian_targeting and tags. A row becomes incident `acled:<event_id_cnty>` with ACLED's own
//! field names; `source` becomes `sources`, split on ';', time_precision becomes
//! date_precision and timestamp source_timestamp. Dates are YYYY-MM-DD or, in older exports,
//! "31 December 2020". time_precision, geo_precision and timestamp are read where the file has
//! them (exports trimmed to fewer columns exist); event_id_no_cnty, which only older exports
//! have, is not kept: it is event_id_cnty's number without the country, which source_dataset.id
//! already holds whole.
//!
//! Older exports have one row per actor, so an event can take several rows with the same
//! event_id_cnty. They fold into one incident, and its first row's values stand: the later rows
//! name the same event from another actor's side, and ACLED keeps no order between them that
//! would make any one of them more right. Every row is still checked, so a malformed repeat is
//! reported like any other row.
//!
//! It maps rows and nothing else: reading, the diff and the append are the importer's.

use super::{lacking, quoted, Column, Fields, Header, Layout, Row, RowProblem, PRECISION};
use crate::payload::{field, IncidentField};
use crate::taxonomy;

pub struct Acled {
    event_id_cnty: Column,
    event_date: Column,
    time_precision: Option<Column>,
    event_type: Column,
    sub_event_type: Column,
    actor1: Column,
    actor2: Column,
    assoc_actor_1: Column,
    country: Column,
    admin1: Column,
    admin2: Column,
    admin3: Column,
    location: Column,
    latitude: Column,
    longitude: Column,
    geo_precision: Option<Column>,
    fatalities: Column,
    notes: Column,
    source: Column,
    timestamp: Option<Column>,
}

impl Layout for Acled {
    const NAME: &'static str = "ACLED";
    const PREFIX: &'static str = "acled";
    const UNMAPPED: &'static [IncidentField] = &[
        field::EVENT_DATE_END,
        field::FATALITIES_LOW,
        field::FATALITIES_HIGH,
    ];
    const REPEATS: bool = true;

    fn locate(header: &Header) -> Result<Self, &'static str> {
        Ok(Acled {
            event_id_cnty: header.column("event_id_cnty")?,
            event_date: header.column("event_date")?,
            time_precision: header.optional("time_precision"),
            event_type: header.column("event_type")?,
            sub_event_type: header.column("sub_event_type")?,
            actor1: header.column("actor1")?,
            actor2: header.column("actor2")?,
            assoc_actor_1: header.column("assoc_actor_1")?,
            country: header.column("country")?,
            admin1: header.column("admin1")?,
            admin2: header.column("admin2")?,
            admin3: header.column("admin3")?,
            location: header.column("location")?,
            latitude: header.column("latitude")?,
            longitude: header.column("longitude")?,
            geo_precision: header.optional("geo_precision"),
            fatalities: header.column("fatalities")?,
            notes: header.column("notes")?,
            source: header.column("source")?,
            timestamp: header.optional("timestamp"),
        })
    }

    fn id(&self) -> Column {
        self.event_id_cnty
    }

    fn country(&self) -> Column {
        self.country
    }

    fn fields(&self, row: &Row) -> Result<Fields, RowProblem> {
        let event_type = row.required(self.event_type, field::EVENT_TYPE.name)?;
        let sub_event_types = taxonomy::sub_event_types(&event_type).ok_or_else(|| {
            let known: Vec<&str> = taxonomy::EVENT_TYPES.iter().map(|(t, _)| *t).collect();
            row.problem(
                self.event_type,
                format!(
                    "{} is not an ACLED event type; they are: {}",
                    quoted(&event_type),
                    known.join(", ")
                ),
            )
        })?;
        let sub_event_type = row.text(self.sub_event_type);
        if let Some(sub) = &sub_event_type {
            if !sub_event_types.contains(&sub.as_str()) {
                return Err(row.problem(
                    self.sub_event_type,
                    format!(
                        "{} is not a sub-event type of {event_type}; those are: {}",
                        quoted(sub),
                        sub_event_types.join(", ")
                    ),
                ));
            }
        }
        let sources: Vec<String> = row
            .raw(self.source)
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();

        let mut fields = Fields::default();
        fields.set(
            field::EVENT_DATE,
            self.event_date,
            row.date(self.event_date)?,
        );
        fields.set_whole_number(row, field::DATE_PRECISION, self.time_precision, PRECISION)?;
        fields.set(field::EVENT_TYPE, self.event_type, event_type);
        fields.set_some(field::SUB_EVENT_TYPE, self.sub_event_type, sub_event_type);
        fields.set(
            field::ACTOR1,
            self.actor1,
            row.required(self.actor1, field::ACTOR1.name)?,
        );
        fields.set_text(row, field::ACTOR2, self.actor2);
        fields.set_text(row, field::ASSOC_ACTOR_1, self.assoc_actor_1);
        fields.set_text(row, field::COUNTRY, self.country);
        fields.set_text(row, field::ADMIN1, self.admin1);
        fields.set_text(row, field::ADMIN2, self.admin2);
        fields.set_text(row, field::ADMIN3, self.admin3);
        fields.set_text(row, field::LOCATION, self.location);
        fields.set_coordinates(row, self.latitude, self.longitude)?;
        fields.set_whole_number(row, field::GEO_PRECISION, self.geo_precision, PRECISION)?;
        fields.set(
            field::FATALITIES,
            self.fatalities,
            row.deaths(self.fatalities)?,
        );
        fields.set_some(
            field::SOURCES,
            self.source,
            Some(sources).filter(|s| !s.is_empty()),
        );
        fields.set_text(row, field::NOTES, self.notes);
        fields.set_whole_number(
            row,
            field::SOURCE_TIMESTAMP,
            self.timestamp,
            "a whole number of seconds since 1970-01-01 UTC",
        )?;
        Ok(fields)
    }

    fn lacking(&self) -> Vec<IncidentField> {
        lacking(&[
            (self.time_precision, field::DATE_PRECISION),
            (self.geo_precision, field::GEO_PRECISION),
            (self.timestamp, field::SOURCE_TIMESTAMP),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{problem_of, read_text, report_of};
    use super::*;
    use serde_json::json;

    const CURRENT: &str = "event_id_cnty,event_date,year,time_precision,disorder_type,event_type,sub_event_type,actor1,assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,civilian_targeting,iso,region,country,admin1,admin2,admin3,location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,tags,timestamp\n";
    const OLDER: &str = "data_id,iso,event_id_cnty,event_id_no_cnty,event_date,year,time_precision,event_type,sub_event_type,actor1,assoc_actor_1,inter1,actor2,assoc_actor_2,inter2,interaction,region,country,admin1,admin2,admin3,location,latitude,longitude,geo_precision,source,source_scale,notes,fatalities,timestamp,iso3\n";

    const ROW: &str = "XMLI1,2023-08-01,2023,1,Political violence,Battles,Armed clash,Islamic State (Sahel),,2,JNIM: Group for Support of Islam and Muslims,,2,22,,466,Western Africa,Mali,Gao,Ansongo,Talataye,Talataye,15.0167,0.9833,1,\"Le Monde; RFI ;\",International,\"Clashes near \"\"Talataye\"\";\nseveral dead.\",12,,1693000000\n";

    #[test]
    fn a_current_row_maps_to_an_incident_report() {
        let report = report_of::<Acled>(&format!("{CURRENT}{ROW}")).unwrap();
        assert_eq!(
            report,
            json!({
                "incident_id": "acled:XMLI1",
                "event_date": "2023-08-01",
                "date_precision": 1,
                "event_type": "Battles",
                "sub_event_type": "Armed clash",
                "actor1": "Islamic State (Sahel)",
                "actor2": "JNIM: Group for Support of Islam and Muslims",
                "country": "Mali",
                "admin1": "Gao",
                "admin2": "Ansongo",
                "admin3": "Talataye",
                "location": "Talataye",
                "latitude": 15.0167,
                "longitude": 0.9833,
                "geo_precision": 1,
                "fatalities": 12,
                "sources": ["Le Monde", "RFI"],
                "notes": "Clashes near \"Talataye\";\nseveral dead.",
                "source_timestamp": 1693000000,
                "source_dataset": {"name": "ACLED", "release": "r1", "id": "XMLI1"}
            })
        );
    }

    #[test]
    fn an_older_row_with_a_spelled_out_date_maps_the_same_way() {
        let older = "9001,466,XMLI1,1,31 December 2020,2020,1,Battles,Armed clash,Islamic State (Sahel),,2,JNIM: Group for Support of Islam and Muslims,,2,22,Western Africa,Mali,Gao,Ansongo,Talataye,Talataye,15.0167,0.9833,1,Le Monde,International,Clashes,12,1609400000,MLI\n";
        let report = report_of::<Acled>(&format!("{OLDER}{older}")).unwrap();
        assert_eq!(report["event_date"], "2020-12-31");
        assert_eq!(report["actor1"], "Islamic State (Sahel)");
        assert_eq!(report["sources"], json!(["Le Monde"]));
    }

    #[test]
    fn rows_repeating_an_event_fold_into_its_first_row() {
        let first = "9001,466,XMLI2,2,31 December 2020,2020,1,Violence against civilians,Attack,Unidentified Armed Group (Mali),,3,Civilians (Mali),,7,37,Western Africa,Mali,Mopti,Bandiagara,,Ogossagou,14.2,-3.6,1,RFI,International,Attack on the village,5,1609400000,MLI\n";
        let second = "9002,466,XMLI2,2,31 December 2020,2020,1,Violence against civilians,Attack,Civilians (Mali),,7,Unidentified Armed Group (Mali),,3,37,Western Africa,Mali,Mopti,Bandiagara,,Ogossagou,14.2,-3.6,1,RFI,International,Attack on the village,5,1609400000,MLI\n";
        let text = format!("{OLDER}{first}{second}");
        let (_, tally) = read_text::<Acled>(&text, false).unwrap();
        assert_eq!((tally.rows, tally.reported), (2, 1));
        let report = report_of::<Acled>(&text).unwrap();
        assert_eq!(report["actor1"], "Unidentified Armed Group (Mali)");
    }

    #[test]
    fn an_unknown_event_type_or_sub_event_type_names_its_column() {
        let row = ROW.replace(",Battles,", ",Battle,");
        let problem = problem_of::<Acled>(&format!("{CURRENT}{row}"));
        assert_eq!(
            (problem.line, problem.column.as_deref()),
            (2, Some("event_type"))
        );
        let row = ROW.replace(",Armed clash,", ",Attack,");
        let problem = problem_of::<Acled>(&format!("{CURRENT}{row}"));
        assert_eq!(problem.column.as_deref(), Some("sub_event_type"));
        assert!(problem.message.contains("of Battles"), "{problem}");
    }

    #[test]
    fn precision_columns_are_read_where_the_file_has_them() {
        let older = "9001,466,XMLI1,1,31 December 2020,2020,2,Battles,Armed clash,Islamic State (Sahel),,2,JNIM: Group for Support of Islam and Muslims,,2,22,Western Africa,Mali,Gao,Ansongo,Talataye,Talataye,15.0167,0.9833,3,Le Monde,International,Clashes,12,1609400000,MLI\n";
        let report = report_of::<Acled>(&format!("{OLDER}{older}")).unwrap();
        let read = |name: &str| report[name].clone();
        assert_eq!(
            [
                read("date_precision"),
                read("geo_precision"),
                read("source_timestamp")
            ],
            [json!(2), json!(3), json!(1609400000)]
        );

        // A file without them reads as before; an empty cell is an absent value.
        let trimmed = |text: &str| -> String {
            let drop = [6, 24, 29];
            text.lines()
                .map(|line| {
                    let cells: Vec<&str> = line.split(',').collect();
                    let kept: Vec<&str> = (cells.iter().enumerate())
                        .filter(|(i, _)| !drop.contains(i))
                        .map(|(_, c)| *c)
                        .collect();
                    kept.join(",") + "\n"
                })
                .collect()
        };
        let report = report_of::<Acled>(&trimmed(&format!("{OLDER}{older}"))).unwrap();
        assert_eq!(report["fatalities"], 12);
        for name in ["date_precision", "geo_precision", "source_timestamp"] {
            assert!(report.get(name).is_none(), "{name} in {report}");
        }
        let blank = older.replace(",Talataye,15.0167,0.9833,3,", ",Talataye,15.0167,0.9833,,");
        let report = report_of::<Acled>(&format!("{OLDER}{blank}")).unwrap();
        assert!(report.get("geo_precision").is_none(), "{report}");

        let bad = older.replace(",Talataye,15.0167,0.9833,3,", ",Talataye,15.0167,0.9833,9,");
        let problem = problem_of::<Acled>(&format!("{OLDER}{bad}"));
        assert_eq!(
            problem.column.as_deref(),
            Some("geo_precision"),
            "{problem}"
        );
        let bad = older.replace(",2020,2,Battles,", ",2020,day,Battles,");
        let problem = problem_of::<Acled>(&format!("{OLDER}{bad}"));
        assert_eq!(
            problem.column.as_deref(),
            Some("time_precision"),
            "{problem}"
        );
        assert!(problem.message.contains("precision code"), "{problem}");
    }

    #[test]
    fn a_missing_column_is_named() {
        let header = CURRENT.replace(",fatalities,", ",deaths,");
        let err = read_text::<Acled>(&format!("{header}{ROW}"), false).unwrap_err();
        assert!(
            err.to_string()
                .contains("no column fatalities, which every ACLED file has"),
            "{err}"
        );
    }
}
