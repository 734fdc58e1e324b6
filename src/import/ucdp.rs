//! The UCDP Georeferenced Event Dataset (GED) layout: one row per event, keyed by `id`, which
//! UCDP keeps across releases. A row becomes incident `ucdp:<id>`: date_start → event_date,
//! best → fatalities, side_a/side_b → actor1/actor2, adm_1/adm_2 → admin1/admin2,
//! where_description → location, country, latitude and longitude as they are.
//!
//! GED has no ACLED categories, so type_of_violence is translated: 1 (state-based) and 2
//! (non-state) are Battles / Armed clash, 3 (one-sided) is Violence against civilians / Attack.
//! The translation loses the distinction between 1 and 2, so notes keep the original code, and
//! also the date range when UCDP dates the event only between date_start and date_end (the
//! schema asks for approximate dates to be said in notes).
//!
//! It maps rows and nothing else: reading, the diff and the append are the importer's.

use super::{Column, Fields, Header, Layout, Row, RowProblem};
use crate::payload::{field, IncidentField};
use std::fmt::Write;

pub struct Ucdp {
    id: Column,
    date_start: Column,
    date_end: Column,
    type_of_violence: Column,
    side_a: Column,
    side_b: Column,
    adm_1: Column,
    adm_2: Column,
    where_description: Column,
    country: Column,
    latitude: Column,
    longitude: Column,
    best: Column,
}

/// (type_of_violence, event_type, sub_event_type, UCDP's name for it)
const TYPES_OF_VIOLENCE: [(&str, &str, &str, &str); 3] = [
    ("1", "Battles", "Armed clash", "state-based"),
    ("2", "Battles", "Armed clash", "non-state"),
    ("3", "Violence against civilians", "Attack", "one-sided"),
];

impl Layout for Ucdp {
    const NAME: &'static str = "UCDP GED";
    const PREFIX: &'static str = "ucdp";
    const UNMAPPED: &'static [IncidentField] =
        &[field::ASSOC_ACTOR_1, field::ADMIN3, field::SOURCES];
    const REPEATS: bool = false;

    fn locate(header: &Header) -> Result<Self, &'static str> {
        Ok(Ucdp {
            id: header.column("id")?,
            date_start: header.column("date_start")?,
            date_end: header.column("date_end")?,
            type_of_violence: header.column("type_of_violence")?,
            side_a: header.column("side_a")?,
            side_b: header.column("side_b")?,
            adm_1: header.column("adm_1")?,
            adm_2: header.column("adm_2")?,
            where_description: header.column("where_description")?,
            country: header.column("country")?,
            latitude: header.column("latitude")?,
            longitude: header.column("longitude")?,
            best: header.column("best")?,
        })
    }

    fn id(&self) -> Column {
        self.id
    }

    fn country(&self) -> Column {
        self.country
    }

    fn fields(&self, row: &Row) -> Result<Fields, RowProblem> {
        let code = row.raw(self.type_of_violence);
        let (_, event_type, sub_event_type, violence) = TYPES_OF_VIOLENCE
            .iter()
            .find(|(c, ..)| *c == code)
            .ok_or_else(|| {
                row.problem(
                    self.type_of_violence,
                    format!(
                        "{} is not a UCDP type of violence; it is 1 (state-based), 2 (non-state) or 3 (one-sided)",
                        super::quoted(code)
                    ),
                )
            })?;
        let start = row.date(self.date_start)?;
        let end = row.date(self.date_end)?;
        let mut notes = format!("UCDP type_of_violence {code} ({violence})");
        if end != start {
            let _ = write!(notes, "; UCDP dates the event between {start} and {end}");
        }

        let mut fields = Fields::default();
        fields.set(field::EVENT_DATE, self.date_start, start);
        fields.set(field::EVENT_TYPE, self.type_of_violence, *event_type);
        fields.set(
            field::SUB_EVENT_TYPE,
            self.type_of_violence,
            *sub_event_type,
        );
        fields.set(
            field::ACTOR1,
            self.side_a,
            row.required(self.side_a, field::ACTOR1.name)?,
        );
        fields.set_text(row, field::ACTOR2, self.side_b);
        fields.set_text(row, field::COUNTRY, self.country);
        fields.set_text(row, field::ADMIN1, self.adm_1);
        fields.set_text(row, field::ADMIN2, self.adm_2);
        fields.set_text(row, field::LOCATION, self.where_description);
        fields.set_coordinates(row, self.latitude, self.longitude)?;
        fields.set(field::FATALITIES, self.best, row.deaths(self.best)?);
        fields.set(field::NOTES, self.type_of_violence, notes);
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{problem_of, report_of};
    use super::*;
    use serde_json::json;

    /// The header of the GED 23.1 file, all 49 columns.
    const HEADER: &str = "id,relid,year,active_year,code_status,type_of_violence,conflict_dset_id,conflict_new_id,conflict_name,dyad_dset_id,dyad_new_id,dyad_name,side_a_dset_id,side_a_new_id,side_a,side_b_dset_id,side_b_new_id,side_b,number_of_sources,source_article,source_office,source_date,source_headline,source_original,where_prec,where_coordinates,where_description,adm_1,adm_2,latitude,longitude,geom_wkt,priogrid_gid,country,country_id,region,event_clarity,date_prec,date_start,date_end,deaths_a,deaths_b,deaths_civilians,deaths_unknown,best,high,low,gwnoa,gwnob";

    /// Two rows of GED 23.1 (Central African Republic), the second with an uncertain date.
    const OBO: &str = r#"33542,0,2009,1,Clear,1,314,314,Uganda: Government,688,688,Government of Uganda - LRA,90,90,Government of Uganda,488,488,LRA,-1,"Enough Project, June 2010, ""On the heels of Kony"", 18",,,,,2,Obo town,"Obo town (Nguili-nguili, 12 km north of Obo)",Haut-Mbomou province,Obo region,5.399784,26.486881,POINT (26.486881 5.399784),137213,Central African Republic,482,Africa,1,1,2009-09-08,2009-09-08,0,21,0,0,21,21,21,500,"#;
    const SOUTHEAST: &str = r#"36211,0,2009,1,Clear,1,314,314,Uganda: Government,688,688,Government of Uganda - LRA,90,90,Government of Uganda,488,488,LRA,-1,"BBC Monitoring Newsfile 10/9-09; The New Vision website, Kampala, in English 10 Sep 09",,,,,5,Southeast Central African Republic,Central African Republic remote southeast,,,5.399784,26.486881,POINT (26.486881 5.399784),137213,Central African Republic,482,Africa,2,5,2009-08-07,2009-09-10,0,4,0,0,4,4,4,500,"#;

    fn file(row: &str) -> String {
        format!("{HEADER}\n{row}\n")
    }

    #[test]
    fn a_ged_row_maps_to_an_incident_report() {
        let report = report_of::<Ucdp>(&file(OBO)).unwrap();
        assert_eq!(
            report,
            json!({
                "incident_id": "ucdp:33542",
                "event_date": "2009-09-08",
                "event_type": "Battles",
                "sub_event_type": "Armed clash",
                "actor1": "Government of Uganda",
                "actor2": "LRA",
                "country": "Central African Republic",
                "admin1": "Haut-Mbomou province",
                "admin2": "Obo region",
                "location": "Obo town (Nguili-nguili, 12 km north of Obo)",
                "latitude": 5.399784,
                "longitude": 26.486881,
                "fatalities": 21,
                "notes": "UCDP type_of_violence 1 (state-based)",
                "source_dataset": {"name": "UCDP GED", "release": "r1", "id": "33542"}
            })
        );
    }

    #[test]
    fn empty_admin_units_are_left_out_and_a_date_range_is_kept_in_notes() {
        let report = report_of::<Ucdp>(&file(SOUTHEAST)).unwrap();
        assert!(report.get("admin1").is_none() && report.get("admin2").is_none());
        assert_eq!(report["event_date"], "2009-08-07");
        assert_eq!(
            report["notes"],
            "UCDP type_of_violence 1 (state-based); UCDP dates the event between 2009-08-07 and 2009-09-10"
        );
    }

    #[test]
    fn one_sided_violence_is_an_attack_on_civilians() {
        let row = OBO.replacen(",Clear,1,", ",Clear,3,", 1);
        let report = report_of::<Ucdp>(&file(&row)).unwrap();
        assert_eq!(report["event_type"], "Violence against civilians");
        assert_eq!(report["sub_event_type"], "Attack");
        assert_eq!(report["notes"], "UCDP type_of_violence 3 (one-sided)");
    }

    #[test]
    fn an_unknown_type_of_violence_is_malformed() {
        let row = OBO.replacen(",Clear,1,", ",Clear,4,", 1);
        let problem = problem_of::<Ucdp>(&file(&row));
        assert_eq!(problem.line, 2);
        assert_eq!(problem.column.as_deref(), Some("type_of_violence"));
        assert!(problem.message.contains("\"4\""), "{problem}");
    }

    #[test]
    fn an_empty_side_a_is_malformed() {
        let row = OBO.replacen(",Government of Uganda,488,", ",,488,", 1);
        let problem = problem_of::<Ucdp>(&file(&row));
        assert_eq!(problem.column.as_deref(), Some("side_a"));
    }
}
