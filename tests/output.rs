//! What the printing commands print, as scripts read it: `--format json` is one JSON document and
//! `--format ndjson` one JSON object per line, for every command that prints records, with many
//! records and with none; `-o -` is standard output and `-o FILE` a file; completions and the
//! manual page come out whole.

use crate::common::*;
use serde_json::Value;

/// Every printing command that reads a ledger, with arguments that give it several records.
fn printing_commands(f: &Fixture) -> Vec<Vec<String>> {
    let export = f.path("export").to_str().unwrap().to_string();
    [
        vec!["log"],
        vec!["show", "3"],
        vec!["key", "list"],
        vec!["verify"],
        vec!["project", "incidents"],
        vec!["project", "incident-history"],
        vec!["project", "--list"],
        vec!["export", "--dir", &export],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(String::from).collect())
    .collect()
}

fn output(f: &Fixture, args: &[String], format: &str) -> String {
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(["--format", format]);
    f.run_ok(&args, None)
}

#[test]
fn json_is_one_document_and_ndjson_one_object_per_line_on_every_printing_command() {
    let f = Fixture::with_incidents();
    for args in printing_commands(&f) {
        let json = output(&f, &args, "json");
        let document: Value = serde_json::from_str(&json).unwrap_or_else(|e| {
            panic!("{args:?} --format json is not one document ({e}):\n{json}")
        });
        let ndjson = output(&f, &args, "ndjson");
        let lines: Vec<Value> = json_lines(&ndjson);
        assert!(
            !lines.is_empty(),
            "{args:?} --format ndjson printed nothing"
        );
        match &document {
            // A listing: the same records, one per line.
            Value::Array(records) => {
                assert!(records.len() >= 2, "{args:?}: {json}");
                assert_eq!(records, &lines, "{args:?}: json and ndjson disagree");
            }
            // One record (an entry, a summary, a manifest): ndjson ends with it (verify's JSON
            // also lists the problems its ndjson printed line by line before the summary).
            Value::Object(fields) => {
                let mut summary = fields.clone();
                summary.remove("problem_list");
                assert_eq!(lines.last(), Some(&Value::Object(summary)), "{args:?}");
            }
            other => panic!("{args:?} --format json printed {other}"),
        }
    }
}

#[test]
fn an_empty_listing_is_an_empty_json_array_and_no_ndjson_lines() {
    let f = Fixture::new();
    let as_of_nothing = ["project", "incidents", "--as-of", "0"].map(String::from);
    assert_eq!(output(&f, &as_of_nothing, "json").trim(), "[]");
    assert_eq!(output(&f, &as_of_nothing, "ndjson"), "");
}

#[test]
fn dash_is_standard_output_and_a_file_is_written_whole() {
    let f = Fixture::with_incidents();
    let cwd = tempfile::tempdir().unwrap();
    let run_in_cwd = |args: &[&str]| {
        let out = ledger_process(&f.dir)
            .current_dir(cwd.path())
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let printed = f.run_ok(&["project", "incidents", "--format", "csv"], None);
    let (code, dash) = run_in_cwd(&["project", "incidents", "--format", "csv", "-o", "-"]);
    assert_eq!((code, dash.as_str()), (Some(0), printed.as_str()));
    let (code, to_file) = run_in_cwd(&["project", "incidents", "--format", "csv", "-o", "out.csv"]);
    assert_eq!((code, to_file.as_str()), (Some(0), ""));
    assert_eq!(
        std::fs::read_to_string(cwd.path().join("out.csv")).unwrap(),
        printed
    );

    let (code, _) = run_in_cwd(&["key", "generate", "--out", "-"]);
    assert_eq!(code, Some(2), "a secret key is never printed");
    assert!(
        !cwd.path().join("-").exists(),
        "no file named - was made in the working directory"
    );
}

#[test]
fn completions_and_the_manual_name_every_command() {
    let f = Fixture::new();
    let commands = [
        "init",
        "key",
        "append",
        "attach",
        "log",
        "show",
        "verify",
        "reindex",
        "project",
        "export",
        "import",
        "demo",
        "completions",
        "man",
    ];
    for shell in ["bash", "zsh", "fish"] {
        let script = f.run_ok(&["completions", shell], None);
        for command in commands {
            assert!(
                script.contains(command),
                "{shell} completions lack {command}"
            );
        }
    }
    let page = f.run_ok(&["man"], None);
    assert!(page.contains(".TH ledger 1"), "{page}");
    let pages = f.path("man");
    f.run_ok(&["man", "-o", pages.to_str().unwrap()], None);
    for command in commands {
        let name = format!("ledger-{command}.1");
        assert!(pages.join(&name).is_file(), "no {name}");
    }
    assert!(pages.join("ledger.1").is_file());
}
