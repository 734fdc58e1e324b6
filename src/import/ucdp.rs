//! The UCDP Georeferenced Event Dataset (GED) layout: one row per event, keyed by `id`, which
//! UCDP keeps across releases. A row becomes incident `ucdp:<id>`: date_start → event_date,
//! date_end → event_date_end (only when it is another day: a one-day event has no range),
//! date_prec → date_precision, where_prec → geo_precision, best → fatalities, low/high →
//! fatalities_low/fatalities_high, side_a/side_b → actor1/actor2, adm_1/adm_2 →
//! admin1/admin2, where_description → location, country, latitude and longitude as they are.
//! date_prec, where_prec, low and high are read where the file has them (files cut down to
//! fewer columns exist).
//!
//! GED has no ACLED categories, so type_of_violence is translated: 1 (state-based) and 2
//! (non-state) are Battles / Armed clash, 3 (one-sided) is Violence against civilians / Attack.
//! The translation loses the distinction between 1 and 2, so notes keep the original code.
//!
//! It maps rows and nothing else: reading, the diff and the append are the importer's.

use super::{lacking, Column, Fields, Header, Layout, Row, RowProblem, DEATHS, PRECISION};
use crate::payload::{field, IncidentField};

pub struct Ucdp {
    id: Column,
    date_start: Column,
    date_end: Column,
    date_prec: Option<Column>,
    where_prec: Option<Column>,
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
    low: Option<Column>,
    high: Option<Column>,
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
    const UNMAPPED: &'static [IncidentField] = &[
        field::ASSOC_ACTOR_1,
        field::ADMIN3,
        field::SOURCES,
        field::SOURCE_TIMESTAMP,
    ];
    const REPEATS: bool = false;

    fn locate(header: &Header) -> Result<Self, &'static str> {
        Ok(Ucdp {
            id: header.column("id")?,
            date_start: header.column("date_start")?,
            date_end: header.column("date_end")?,
            date_prec: header.optional("date_prec"),
            where_prec: header.optional("where_prec"),
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
            low: header.optional("low"),
            high: header.optional("high"),
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
        let notes = format!("UCDP type_of_violence {code} ({violence})");

        let mut fields = Fields::default();
        let end = (end != start).then_some(end);
        fields.set(field::EVENT_DATE, self.date_start, start);
        fields.set_some(field::EVENT_DATE_END, self.date_end, end);
        fields.set_whole_number(row, field::DATE_PRECISION, self.date_prec, PRECISION)?;
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
        fields.set_whole_number(row, field::GEO_PRECISION, self.where_prec, PRECISION)?;
        fields.set(field::FATALITIES, self.best, row.deaths(self.best)?);
        fields.set_whole_number(row, field::FATALITIES_LOW, self.low, DEATHS)?;
        fields.set_whole_number(row, field::FATALITIES_HIGH, self.high, DEATHS)?;
        fields.set(field::NOTES, self.type_of_violence, notes);
        Ok(fields)
    }

    fn lacking(&self) -> Vec<IncidentField> {
        lacking(&[
            (self.date_prec, field::DATE_PRECISION),
            (self.where_prec, field::GEO_PRECISION),
            (self.low, field::FATALITIES_LOW),
            (self.high, field::FATALITIES_HIGH),
        ])
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
                "date_precision": 1,
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
                "geo_precision": 2,
                "fatalities": 21,
                "fatalities_low": 21,
                "fatalities_high": 21,
                "notes": "UCDP type_of_violence 1 (state-based)",
                "source_dataset": {"name": "UCDP GED", "release": "r1", "id": "33542"}
            })
        );
    }

    #[test]
    fn empty_admin_units_are_left_out_and_a_date_range_is_kept_with_its_precision() {
        let report = report_of::<Ucdp>(&file(SOUTHEAST)).unwrap();
        assert!(report.get("admin1").is_none() && report.get("admin2").is_none());
        assert_eq!(
            [
                &report["event_date"],
                &report["event_date_end"],
                &report["date_precision"],
                &report["geo_precision"]
            ],
            [
                &json!("2009-08-07"),
                &json!("2009-09-10"),
                &json!(5),
                &json!(5)
            ]
        );
        assert_eq!(report["notes"], "UCDP type_of_violence 1 (state-based)");
    }

    #[test]
    fn a_fatality_range_is_kept_and_a_bad_bound_or_code_names_its_column() {
        // best 4, high 9, low 2
        let row = SOUTHEAST.replacen(",0,0,4,4,4,500,", ",0,0,4,9,2,500,", 1);
        let report = report_of::<Ucdp>(&file(&row)).unwrap();
        let range = ["fatalities_low", "fatalities", "fatalities_high"].map(|n| &report[n]);
        assert_eq!(range, [&json!(2), &json!(4), &json!(9)]);

        let row = SOUTHEAST.replacen(",0,0,4,4,4,500,", ",0,0,4,4,,500,", 1);
        let report = report_of::<Ucdp>(&file(&row)).unwrap();
        assert!(report.get("fatalities_low").is_none(), "{report}");

        let row = SOUTHEAST.replacen(",0,0,4,4,4,500,", ",0,0,4,many,4,500,", 1);
        let problem = problem_of::<Ucdp>(&file(&row));
        assert_eq!(problem.column.as_deref(), Some("high"), "{problem}");
        let row = SOUTHEAST.replacen(",Africa,2,5,", ",Africa,2,6,", 1);
        let problem = problem_of::<Ucdp>(&file(&row));
        assert_eq!(problem.column.as_deref(), Some("date_prec"), "{problem}");
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
