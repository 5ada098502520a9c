//! Unit tests of the core crate: spec parsing, conversions (examples and properties), layout.

mod spec_tests {
    use crate::spec::{ColumnType, DatasetSpec, InputFormat, OnBadRow, Source, TemplatePart};

    const MINIMAL: &str = r#"
name = "tiny"
[input]
format = "csv"
[[columns]]
name = "a"
type = "int"
"#;

    fn problems_of(text: &str) -> Vec<String> {
        match DatasetSpec::from_toml_str(text, "datasets/x.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e.to_string().lines().map(str::to_owned).collect(),
        }
    }

    #[test]
    fn shipped_specs_are_valid() {
        for (origin, text) in [
            ("datasets/service-calls.toml", include_str!("../../../datasets/service-calls.toml")),
            ("datasets/products.toml", include_str!("../../../datasets/products.toml")),
        ] {
            let spec = DatasetSpec::from_toml_str(text, origin);
            assert!(
                spec.is_ok(),
                "{origin}: {}",
                spec.err().map(|e| e.to_string()).unwrap_or_default()
            );
        }
    }

    #[test]
    fn service_calls_spec_resolves_as_written() -> Result<(), crate::SpecError> {
        let text = include_str!("../../../datasets/service-calls.toml");
        let spec = DatasetSpec::from_toml_str(text, "service-calls.toml")?;
        assert_eq!(spec.name, "service-calls");
        assert!(matches!(spec.source, Source::Http(ref h) if h.records_per_file == 50_000));
        assert_eq!(spec.input.format, InputFormat::JsonLines);
        assert_eq!(spec.input.on_bad_row, OnBadRow::Quarantine);
        let cost = spec.column("cost").map(|c| c.ty);
        assert_eq!(cost, Some(ColumnType::Decimal { precision: 14, scale: 4 }));
        let ts = spec.column("ts").map(|c| (c.from.clone(), c.required));
        assert_eq!(ts, Some(("timestamp".to_owned(), true)));
        let partition =
            spec.partition.as_ref().map(|p| (spec.columns[p.dt_column].name.as_str(), p.hour));
        assert_eq!(partition, Some(("ts", true)));
        assert_eq!(
            spec.sql_files().collect::<Vec<_>>(),
            ["service-calls/edges.sql", "service-calls/services.sql"]
        );
        let edge = &spec.graph.edges[0];
        assert_eq!(
            edge.id.parts,
            vec![
                TemplatePart::Column("caller".into()),
                TemplatePart::Literal("->".into()),
                TemplatePart::Column("callee".into())
            ]
        );
        Ok(())
    }

    #[test]
    fn minimal_spec_gets_defaults() -> Result<(), crate::SpecError> {
        let spec = DatasetSpec::from_toml_str(MINIMAL, "x")?;
        assert_eq!(spec.source, Source::None);
        assert_eq!(spec.input.delimiter, b',');
        assert!(spec.input.header);
        assert_eq!(spec.input.null_values, ["", "NULL", "null", "NA", "N/A"]);
        assert!(
            spec.partition.is_none() && spec.queries.is_empty() && spec.graph.vertices.is_empty()
        );
        Ok(())
    }

    #[test]
    fn unknown_type_names_file_path_and_expectation() {
        let text = MINIMAL.replace("type = \"int\"", "type = \"decimel(10,2)\"");
        assert_eq!(
            problems_of(&text),
            [
                "datasets/x.toml: columns[0].type: unknown type \"decimel(10,2)\"; expected one of string, bool, int, float, decimal(P,S), date, timestamp, list<string>"
            ]
        );
    }

    #[test]
    fn unknown_key_is_rejected_with_its_path() {
        let text = MINIMAL.replace("type = \"int\"", "type = \"int\"\nrequird = true");
        let problems = problems_of(&text);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("datasets/x.toml: columns[0]"), "{problems:?}");
        assert!(problems[0].contains("unknown field `requird`"), "{problems:?}");
    }

    #[test]
    fn wrong_value_type_is_reported_with_path() {
        let text = MINIMAL.replace("type = \"int\"", "type = \"int\"\nrequired = \"yes\"");
        let problems = problems_of(&text);
        assert!(problems[0].starts_with("datasets/x.toml: columns[0].required: "), "{problems:?}");
    }

    #[test]
    fn toml_syntax_error_names_the_file() {
        let problems = problems_of("name = \"x\"\n[input\n");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("datasets/x.toml: "), "{problems:?}");
    }

    #[test]
    fn all_semantic_problems_are_reported_at_once() {
        let text = r#"
name = "Bad_Name"
[input]
format = "xml"
on_bad_row = "drop"
[[columns]]
name = "a"
type = "decimal(40,2)"
[[columns]]
name = "a"
type = "string"
formats = ["%Y"]
[[columns]]
name = "when"
type = "timestamp"
formats = ["yyyy-mm-dd"]
[partition]
dt_from = "a"
hour = true
[aggregate]
[[aggregate.queries]]
name = "q"
sql = "../q.sql"
[graph]
[[graph.vertices]]
from_query = "missing"
label = "V"
id = "constant"
[[graph.edges]]
from_query = "q"
label = "E"
out_v = { label = "V", id = "{a}" }
in_v = { label = "W", id = "{a" }
id = "{a}"
"#;
        let problems = problems_of(text);
        let paths: Vec<&str> = problems
            .iter()
            .map(|p| p.trim_start_matches("datasets/x.toml: ").split(": ").next().unwrap_or(""))
            .collect();
        assert_eq!(
            paths,
            [
                "name",
                "input.format",
                "input.on_bad_row",
                "columns[0].type",
                "columns[1].name",
                "columns[1].formats",
                "columns[2].formats[0]",
                "partition.dt_from",
                "partition.hour",
                "aggregate.queries[0].sql",
                "graph.vertices[0].from_query",
                "graph.vertices[0].id",
                "graph.edges[0].in_v.label",
                "graph.edges[0].in_v.id",
            ],
            "{problems:#?}"
        );
    }

    #[test]
    fn inline_secret_headers_are_rejected() {
        let text = r#"
name = "x"
[source]
kind = "http"
url = "http://127.0.0.1/"
headers = { Authorization = "Bearer abc", X-Token = "env:GRAPHETL_SECRET_TOKEN", Accept = "literal:application/json" }
[input]
format = "jsonl"
[[columns]]
name = "a"
type = "string"
"#;
        let problems = problems_of(text);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("source.headers.Authorization"), "{problems:?}");
    }

    /// Issue 19: a spec in the bucket must not be able to send the function's own credentials,
    /// another dataset's secret, or any secret in cleartext to a host of its choice.
    #[test]
    fn header_references_are_limited_to_the_datasets_own_secrets() {
        let spec = |url: &str, reference: &str| {
            format!(
                "name = \"x\"\n[source]\nkind = \"http\"\nurl = \"{url}\"\nheaders = {{ K = \"{reference}\" }}\n[input]\nformat = \"jsonl\"\n[[columns]]\nname = \"a\"\ntype = \"string\"\n"
            )
        };
        let https = "https://api.example.com/v1?start={start}";
        for reference in [
            "env:GRAPHETL_SECRET_TOKEN",
            "ssm:/graphetl/x/token",
            "ssm:/graphetl/x/nested/token",
            "secretsmanager:graphetl/x/api",
            "literal:application/json",
        ] {
            assert_eq!(problems_of(&spec(https, reference)), Vec::<String>::new(), "{reference}");
        }
        for (reference, expected) in [
            ("env:AWS_SECRET_ACCESS_KEY", "AWS_* variables hold the function's own credentials"),
            ("env:AWS_SESSION_TOKEN", "AWS_* variables"),
            ("env:PATH", "only variables named GRAPHETL_SECRET_* can be read"),
            ("env:GRAPHETL_SECRET_", "only variables named GRAPHETL_SECRET_*"),
            ("ssm:/graphetl/other/token", "expected ssm:/graphetl/x/NAME"),
            ("ssm:/graphetl/x-other/token", "outside this dataset's secrets"),
            ("ssm:/graphetl/x/../y/token", "outside this dataset's secrets"),
            ("ssm:/graphetl/x/", "outside this dataset's secrets"),
            ("secretsmanager:graphetl/y/api", "expected secretsmanager:graphetl/x/NAME"),
            ("secretsmanager:prod/db-password", "outside this dataset's secrets"),
        ] {
            let problems = problems_of(&spec(https, reference));
            assert_eq!(problems.len(), 1, "{reference}: {problems:?}");
            assert!(problems[0].contains("source.headers.K: "), "{problems:?}");
            assert!(problems[0].contains(expected), "{reference}: {problems:?}");
        }
        // A secret in cleartext to another machine; loopback and literal-only headers are fine.
        let problems = problems_of(&spec("http://api.example.com/v1", "env:GRAPHETL_SECRET_T"));
        assert_eq!(
            problems,
            [
                "datasets/x.toml: source.url: http:// with a secret header or URL secret is refused (the secret would travel in cleartext to api.example.com); use https://"
            ]
        );
        for url in ["http://127.0.0.1:8099/api", "http://localhost/api", "http://[::1]:80/"] {
            assert!(problems_of(&spec(url, "env:GRAPHETL_SECRET_T")).is_empty(), "{url}");
        }
        assert!(problems_of(&spec("http://api.example.com/v1", "literal:v")).is_empty());
        let problems = problems_of(&spec("ftp://api.example.com/", "literal:v"));
        assert!(problems.iter().any(|p| p.contains("source.url: ")), "{problems:?}");
    }

    #[test]
    fn url_secrets_are_declared_scoped_used_and_need_https() {
        let spec = |url: &str, secrets: &str| {
            format!(
                "name = \"x\"\n[source]\nkind = \"http\"\nurl = \"{url}\"\nurl_secrets = {{ {secrets} }}\n[input]\nformat = \"jsonl\"\n[[columns]]\nname = \"a\"\ntype = \"string\"\n"
            )
        };
        let url = "https://api.example.com/v1?api_key={secret.key}&start={start}";
        assert!(problems_of(&spec(url, "key = \"ssm:/graphetl/x/key\"")).is_empty());
        let text = spec(url, "key = \"ssm:/graphetl/x/key\"");
        let parsed = DatasetSpec::from_toml_str(&text, "x.toml").map_err(|e| e.to_string());
        match parsed.map(|s| s.source) {
            Ok(Source::Http(http)) => {
                assert_eq!(
                    http.url_secrets.get("key").map(String::as_str),
                    Some("ssm:/graphetl/x/key")
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            problems_of(&spec(url, "key = \"env:AWS_SECRET_ACCESS_KEY\"")).len(),
            1,
            "the same rules as headers"
        );
        assert_eq!(
            problems_of(&spec(url, "")),
            ["datasets/x.toml: source.url: {secret.key} is not declared in source.url_secrets"]
        );
        assert_eq!(
            problems_of(&spec("https://api.example.com/v1", "key = \"ssm:/graphetl/x/key\"")),
            ["datasets/x.toml: source.url_secrets.key: not used: the URL has no {secret.key}"]
        );
        let cleartext = problems_of(&spec(
            "http://api.example.com/v1?api_key={secret.key}",
            "key = \"ssm:/graphetl/x/key\"",
        ));
        assert!(cleartext.iter().any(|p| p.contains("use https://")), "{cleartext:?}");
    }

    #[test]
    fn csv_without_header_needs_field_names() {
        let text = MINIMAL.replace("format = \"csv\"", "format = \"csv\"\nheader = false");
        let problems = problems_of(&text);
        assert!(problems.iter().any(|p| p.contains("input.field_names: missing")), "{problems:?}");
        let text = MINIMAL.replace(
            "format = \"csv\"",
            "format = \"csv\"\nheader = false\nfield_names = [\"a\", \"b\"]",
        );
        assert!(problems_of(&text).is_empty());
    }

    #[test]
    fn csv_only_keys_are_rejected_for_jsonl() {
        let text = MINIMAL.replace("format = \"csv\"", "format = \"jsonl\"\ndelimiter = \";\"");
        assert_eq!(
            problems_of(&text),
            ["datasets/x.toml: input.delimiter: only allowed when format = \"csv\""]
        );
    }

    #[test]
    fn column_type_parse_and_display_round_trip() {
        for text in [
            "string",
            "bool",
            "int",
            "float",
            "decimal(12,2)",
            "date",
            "timestamp",
            "list<string>",
            "decimal(38,0)",
        ] {
            let ty = ColumnType::parse(text);
            assert_eq!(ty.map(|t| t.to_string()), Ok(text.to_owned()));
        }
        assert_eq!(
            ColumnType::parse("decimal( 12 , 2 )"),
            Ok(ColumnType::Decimal { precision: 12, scale: 2 })
        );
        assert!(ColumnType::parse("decimal(2,3)").is_err());
        assert!(ColumnType::parse("decimal(0,0)").is_err());
        assert!(ColumnType::parse("decimal(12)").is_err());
    }
}

mod convert_tests {
    use crate::convert::*;
    use proptest::prelude::*;

    fn money(p: u8, s: u8) -> DecimalFormat {
        DecimalFormat::new(p, s, None, false)
    }

    #[test]
    fn bool_default_tokens() {
        let t = BoolTokens::new(None, None);
        for v in ["Y", "y", "1", "true", "TRUE", "yes", "Yes", " Y "] {
            assert_eq!(t.parse(v), Ok(true), "{v}");
        }
        for v in ["N", "n", "0", "false", "FALSE", "no", "NO"] {
            assert_eq!(t.parse(v), Ok(false), "{v}");
        }
        assert!(t.parse("maybe").is_err_and(|e| e.0.starts_with("not a boolean token")));
    }

    #[test]
    fn bool_custom_tokens_replace_defaults() {
        let t = BoolTokens::new(Some(vec!["on".into()]), Some(vec!["off".into()]));
        assert_eq!(t.parse("on"), Ok(true));
        assert!(t.parse("Y").is_err());
    }

    #[test]
    fn ints_are_strict() {
        assert_eq!(parse_int(" 42 "), Ok(42));
        assert_eq!(parse_int("+7"), Ok(7));
        assert_eq!(parse_int("-9223372036854775808"), Ok(i64::MIN));
        assert!(parse_int("9223372036854775808").is_err_and(|e| e.0.contains("out of range")));
        for bad in ["", "1.0", "1e3", "12a", "--1", "+", "1 000"] {
            assert!(parse_int(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn floats_are_finite() {
        assert_eq!(parse_float("12.5"), Ok(12.5));
        assert_eq!(parse_float("-1e3"), Ok(-1000.0));
        assert_eq!(parse_float(".5"), Ok(0.5));
        for bad in ["fast", "NaN", "inf", "1e999", "", "1,5"] {
            assert!(parse_float(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_strings() {
        let f = money(12, 2);
        let cases = [
            ("1,234.50", 123_450),
            ("$12", 1_200),
            ("-3.5", -350),
            ("(3.50)", -350),
            ("-$12.00", -1_200),
            ("$-12", -1_200),
            ("12-", -1_200),
            ("€ 1 234.5", 123_450),
            ("12$", 1_200),
            (".5", 50),
            ("5.", 500),
            ("0.100", 10),
            ("₩1,000", 100_000),
            ("  +7  ", 700),
        ];
        for (input, expected) in cases {
            assert_eq!(f.parse(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn decimal_comma() {
        let f = DecimalFormat::new(12, 2, None, true);
        assert_eq!(f.parse("1.234,50"), Ok(123_450));
        assert_eq!(f.parse("3,5"), Ok(350));
        assert!(f.parse("1,234.50").is_err());
    }

    #[test]
    fn money_rejections_say_why() {
        let f = money(6, 2);
        let reason = |v: &str| f.parse(v).err().map(|e| e.0).unwrap_or_default();
        assert_eq!(reason("0.125"), "3 digits after the point exceed the column's scale 2");
        assert_eq!(
            reason("12345.6"),
            "does not fit decimal(6,2): 5 digits before the point, at most 4"
        );
        assert_eq!(reason("1,23.4"), "malformed digit grouping");
        assert_eq!(reason("12.345.6"), "unexpected characters after the decimal point");
        assert_eq!(reason("1e3"), "unexpected character 'e' in a decimal");
        assert_eq!(reason("$"), "no digits");
        assert_eq!(reason("(-3)"), "unexpected character '-' in a decimal");
    }

    #[test]
    fn decimal_38_digits_fit_i128() {
        let f = money(38, 0);
        let max = "9".repeat(38);
        assert_eq!(f.parse(&max).map(|v| v.to_string()), Ok(max.clone()));
        assert!(f.parse(&format!("1{max}")).is_err());
    }

    #[test]
    fn lists_split_trim_and_drop_empties() {
        let f = ListFormat { separators: vec![",".into(), "|".into()] };
        let items: Vec<String> =
            f.split(" prod, eu-west||canary , ").into_iter().map(|c| c.into_owned()).collect();
        assert_eq!(items, ["prod", "eu-west", "canary"]);
        assert!(f.split(" , |").is_empty());
        let multi = ListFormat { separators: vec!["::".into()] };
        assert_eq!(multi.split("a::b:c").len(), 2);
    }

    fn formats(names: &[&str]) -> TimeFormats {
        TimeFormats::new(names.iter().filter_map(|n| TimeFormat::parse(n).ok()).collect())
    }

    #[test]
    fn timestamps_in_every_documented_form_are_utc() {
        let f = formats(&["iso8601", "%d/%m/%Y %H:%M", "epoch_millis"]);
        let expected = 1_763_607_845_123_000; // 2025-11-20T03:04:05.123Z
        for input in [
            "2025-11-20T03:04:05.123Z",
            "2025-11-20T03:04:05.123+00:00",
            "2025-11-20T12:04:05.123+09:00",
            "2025-11-19T22:04:05.123-0500",
            "2025-11-20 03:04:05.123",
            "2025-11-20t03:04:05.123000z",
            "2025-11-20T03:04:05.123000000Z",
            "1763607845123",
        ] {
            assert_eq!(f.parse_timestamp(input), Ok(expected), "{input}");
        }
        assert_eq!(f.parse_timestamp("20/11/2025 03:04"), Ok(1_763_607_840_000_000));
        assert_eq!(format_timestamp(expected), "2025-11-20T03:04:05.123000Z");
    }

    #[test]
    fn timestamp_rejections() {
        let f = formats(&["iso8601", "epoch_seconds"]);
        for bad in [
            "2025-13-01T00:00:00Z",
            "2025-02-30",
            "2025-11-20T24:00:00Z",
            "2025-11-20T03:04:05.1234567Z",
            "2025-11-20T03:04:05Zjunk",
            "yesterday",
            "99999999999999",
            "",
        ] {
            let e = f.parse_timestamp(bad);
            assert!(
                e.as_ref().is_err_and(|e| e.0.contains("(iso8601, epoch_seconds)")),
                "{bad}: {e:?}"
            );
        }
        assert_eq!(f.parse_timestamp("1763607845.5"), Ok(1_763_607_845_500_000));
        let pattern = formats(&["%Y-%m-%d %H:%M:%S%.f"]);
        assert_eq!(
            pattern.parse_timestamp("2025-11-20 03:04:05.123456000"),
            Ok(1_763_607_845_123_456)
        );
        assert!(pattern.parse_timestamp("2025-11-20 03:04:05.123456789").is_err());
    }

    #[test]
    fn dates_from_dates_and_datetimes() {
        let f = formats(&["%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d-%b-%y"]);
        assert_eq!(f.parse_date("2024-03-27 13:45:00").map(format_date), Ok("2024-03-27".into()));
        assert_eq!(f.parse_date("2024-03-27").map(format_date), Ok("2024-03-27".into()));
        assert_eq!(f.parse_date("27-MAR-24").map(format_date), Ok("2024-03-27".into()));
        assert_eq!(f.parse_date("1970-01-01"), Ok(0));
        assert!(f.parse_date("2024/03/27").is_err());
        let iso = formats(&["iso8601"]);
        assert_eq!(
            iso.parse_date("2024-03-27T23:30:00-02:00").map(format_date),
            Ok("2024-03-28".into())
        );
    }

    #[test]
    fn bad_format_names_are_rejected() {
        assert!(TimeFormat::parse("yyyy-mm-dd").is_err());
        assert!(TimeFormat::parse("%Y-%Q").is_err());
        assert!(matches!(
            TimeFormat::parse("%Y-%m-%dT%H:%M:%S%:z"),
            Ok(TimeFormat::Strftime { has_offset: true, has_time: true, .. })
        ));
    }

    #[test]
    fn string_rules() {
        let allowed = Converter::String(StringRules {
            trim: true,
            allowed: Some(vec!["I".into(), "U".into(), "D".into()]),
        });
        assert_eq!(allowed.convert(" U "), Ok(Value::Str("U".into())));
        assert!(
            allowed.convert("X").is_err_and(|e| e.0 == "not one of the allowed values (I, U, D)")
        );
    }

    proptest! {
        #[test]
        fn conversions_never_panic(s in "\\PC{0,40}") {
            let _ = parse_int(&s);
            let _ = parse_float(&s);
            let _ = money(38, 10).parse(&s);
            let _ = DecimalFormat::new(5, 5, None, true).parse(&s);
            let _ = BoolTokens::new(None, None).parse(&s);
            let all = formats(&["iso8601", "epoch_seconds", "epoch_millis", "epoch_micros", "%Y-%m-%d %H:%M:%S%.f", "%d/%m/%Y"]);
            let _ = all.parse_timestamp(&s);
            let _ = all.parse_date(&s);
            let _ = ListFormat { separators: vec![",".into(), "|".into()] }.split(&s);
        }

        #[test]
        fn numeric_looking_noise_never_panics(s in "[-+$(),.0-9 eE€]{0,45}") {
            let _ = money(38, 4).parse(&s);
            let _ = money(1, 0).parse(&s);
            let _ = parse_int(&s);
            let _ = parse_float(&s);
            let _ = formats(&["epoch_seconds", "epoch_millis"]).parse_timestamp(&s);
        }

        #[test]
        fn decimal_round_trips(unscaled in -(10i128.pow(18) - 1)..10i128.pow(18), scale in 0u8..=18) {
            let text = format_decimal(unscaled, scale);
            prop_assert_eq!(money(36, scale).parse(&text), Ok(unscaled));
        }

        #[test]
        fn grouped_money_round_trips(cents in 0i64..1_000_000_000_000) {
            let whole = (cents / 100).to_string();
            let mut grouped = String::new();
            for (i, ch) in whole.chars().enumerate() {
                if i > 0 && (whole.len() - i) % 3 == 0 { grouped.push(','); }
                grouped.push(ch);
            }
            let text = format!("(${grouped}.{:02})", cents % 100);
            prop_assert_eq!(money(18, 2).parse(&text), Ok(-i128::from(cents)));
        }

        #[test]
        fn iso_timestamps_round_trip(micros in -62_135_596_800_000_000i64..253_402_300_799_999_999) {
            let text = format_timestamp(micros);
            prop_assert_eq!(formats(&["iso8601"]).parse_timestamp(&text), Ok(micros));
        }

        #[test]
        fn epoch_millis_agree_with_iso(millis in 0i64..4_102_444_800_000) {
            let f = formats(&["epoch_millis"]);
            let iso = format_timestamp(millis * 1000);
            prop_assert_eq!(f.parse_timestamp(&millis.to_string()), formats(&["iso8601"]).parse_timestamp(&iso));
        }

        #[test]
        fn dates_round_trip(days in -719_162i32..2_932_896) {
            prop_assert_eq!(formats(&["%Y-%m-%d"]).parse_date(&format_date(days)), Ok(days));
        }

        #[test]
        fn list_items_are_trimmed_and_non_empty(s in "[a-c ,|]{0,30}") {
            for item in (ListFormat { separators: vec![",".into(), "|".into()] }).split(&s) {
                prop_assert!(!item.is_empty());
                prop_assert_eq!(item.trim(), item.as_ref());
                prop_assert!(!item.contains(',') && !item.contains('|'));
            }
        }
    }
}

mod layout_tests {
    use crate::layout::*;

    #[test]
    fn raw_keys_round_trip_through_their_dataset() {
        let key = raw_key("service-calls", "dt=2026-11-20/a.json.gz");
        assert_eq!(key, "raw/service-calls/dt=2026-11-20/a.json.gz");
        assert_eq!(raw_key("d", "/x.csv"), "raw/d/x.csv");
        assert_eq!(dataset_of_raw_key(&key), Some("service-calls"));
        assert!(
            aggregate_prefix("d", "q", "2026-01-01", "2026-01-02")
                .starts_with(&aggregates_prefix("d"))
        );
        for other in ["curated/d/x.parquet", "raw/d/", "raw//x.csv", "raw/d", "d/x.csv"] {
            assert_eq!(dataset_of_raw_key(other), None, "{other}");
        }
    }

    #[test]
    fn outputs_are_deterministic_and_mirror_the_raw_folder() {
        let key = "raw/service-calls/dt=2026-11-20/hour=03/part-00000.json.gz";
        let stem = output_stem(key);
        assert!(
            stem.starts_with("part-00000-") && stem.len() == "part-00000-".len() + 16,
            "{stem}"
        );
        assert_eq!(stem, output_stem(key));
        assert_ne!(stem, output_stem("raw/service-calls/dt=2026-11-21/hour=03/part-00000.json.gz"));
        assert_eq!(
            curated_key("service-calls", "dt=2026-11-20/hour=03", key),
            format!("curated/service-calls/dt=2026-11-20/hour=03/{stem}.parquet")
        );
        assert_eq!(
            quarantine_key("service-calls", key),
            format!("quarantine/service-calls/dt=2026-11-20/hour=03/{stem}.jsonl")
        );
        assert_eq!(
            quarantine_key("x", "elsewhere/a.csv"),
            format!("quarantine/x/{}.jsonl", output_stem("elsewhere/a.csv"))
        );
        assert_eq!(raw_relative_dir("x", "raw/x/../y/a.csv"), "");
        assert_eq!(
            curated_key("x", "", "raw/x/a b.csv"),
            format!("curated/x/{}.parquet", output_stem("raw/x/a b.csv"))
        );
        assert!(output_stem("raw/x/a b.csv").starts_with("a_b-"));
    }

    #[test]
    fn extracted_parts_sit_in_the_window_start_hour_under_window_named_keys() {
        let at = |text: &str| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let (start, end) = (at("2026-11-20T03:00:00Z"), at("2026-11-20T04:00:00Z"));
        assert_eq!(raw_hour_dir("d", start), "raw/d/dt=2026-11-20/hour=03/");
        let prefix = extract_part_prefix("d", start, end);
        assert_eq!(prefix, "raw/d/dt=2026-11-20/hour=03/part-20261120T030000Z-20261120T040000Z-");
        let key = extract_part_key("d", start, end, 7);
        assert_eq!(key, format!("{prefix}00007.jsonl.gz"));
        assert_eq!(raw_relative_dir("d", &key), "dt=2026-11-20/hour=03/");
        assert!(output_stem(&key).starts_with("part-20261120T030000Z-20261120T040000Z-00007-"));
    }
}

mod error_tests {
    use crate::errors::{ErrorName, Retry};

    #[test]
    fn names_are_unique_stable_and_classified() {
        let names: std::collections::BTreeSet<&str> =
            ErrorName::ALL.iter().map(|n| n.as_str()).collect();
        assert_eq!(names.len(), ErrorName::ALL.len());
        for n in ErrorName::ALL {
            assert!(n.as_str().starts_with("GraphEtl."));
            assert_eq!(ErrorName::from_name(n.as_str()), Some(*n));
        }
        assert_eq!(ErrorName::BadInput.retry(), Retry::Permanent);
        assert_eq!(ErrorName::StorageThrottled.retry(), Retry::Transient);
        assert_eq!(ErrorName::SourceThrottled.retry(), Retry::Transient);
        assert_eq!(ErrorName::SourceRejected.retry(), Retry::Permanent);
    }
}

mod backoff_tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use crate::backoff::{Backoff, Jitter};

    /// A seeded source of uniform integers in `[0, max]` (SplitMix64, then multiply-shift).
    fn seeded(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut state = seed;
        move |max| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((u128::from(z) * (u128::from(max) + 1)) >> 64) as u64
        }
    }

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn backoff(jitter: Jitter) -> Backoff {
        Backoff { base: ms(100), multiplier: 2.0, cap: ms(2_000), jitter }
    }

    #[test]
    fn without_jitter_the_steps_grow_then_cap() {
        let plain = backoff(Jitter::None);
        let mut never = |_| panic!("no jitter draws no random number");
        let delays: Vec<u128> = (1..=8).map(|n| plain.delay(n, &mut never).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1_600, 2_000, 2_000, 2_000]);
        // Attempt 0 counts as the first retry.
        assert_eq!(plain.step(0), ms(100));
        // The ASL shape: IntervalSeconds 2, BackoffRate 1.85, MaxDelaySeconds 10.
        let asl = Backoff {
            base: Duration::from_secs(2),
            multiplier: 1.85,
            cap: Duration::from_secs(10),
            jitter: Jitter::None,
        };
        let steps: Vec<u128> = (1..=5).map(|n| asl.step(n).as_millis()).collect();
        assert_eq!(steps, [2_000, 3_700, 6_845, 10_000, 10_000]);
        // A rate below 1 counts as 1; a zero base or cap never waits.
        assert_eq!(Backoff { multiplier: 0.5, ..plain }.step(5), ms(100));
        assert_eq!(Backoff { multiplier: f64::NAN, ..plain }.step(5), ms(100));
        assert_eq!(Backoff { base: Duration::ZERO, ..plain }.step(u32::MAX), Duration::ZERO);
        assert_eq!(Backoff { cap: Duration::ZERO, ..plain }.step(3), Duration::ZERO);
        // A base above the cap is capped from the first retry.
        assert_eq!(Backoff { base: ms(5_000), ..plain }.step(1), ms(2_000));
        // Above 2^53 ns a float loses nanoseconds: the step still never drops below the base.
        let long = Duration::from_nanos(19_589_071_924_930_065);
        let flat = Backoff { base: long, multiplier: 1.0, cap: long * 2, jitter: Jitter::None };
        assert_eq!(flat.step(1), long);
    }

    #[test]
    fn jitter_stays_within_its_range_and_spreads() {
        let mut random = seeded(7);
        for attempt in 1..=8 {
            let step = backoff(Jitter::None).step(attempt);
            for _ in 0..500 {
                let full = backoff(Jitter::Full).delay(attempt, &mut random);
                assert!(full <= step, "{attempt}: {full:?} > {step:?}");
                let equal = backoff(Jitter::Equal).delay(attempt, &mut random);
                assert!(equal >= step / 2 && equal <= step, "{attempt}: {equal:?} vs {step:?}");
            }
        }
        // Full jitter uses the whole range, equal jitter only its upper half.
        let full: Vec<Duration> =
            (0..1_000).map(|_| backoff(Jitter::Full).delay(5, &mut random)).collect();
        assert!(full.iter().any(|d| *d < ms(400)) && full.iter().any(|d| *d > ms(1_200)));
        // The ends of the range are reachable: a source at its extremes gives 0 and the step.
        assert_eq!(backoff(Jitter::Full).delay(3, &mut |_| 0), Duration::ZERO);
        assert_eq!(backoff(Jitter::Full).delay(3, &mut |max| max), ms(400));
        assert_eq!(backoff(Jitter::Equal).delay(3, &mut |_| 0), ms(200));
        assert_eq!(backoff(Jitter::Equal).delay(3, &mut |max| max), ms(400));
        // A source that overshoots is held to the range.
        assert_eq!(backoff(Jitter::Full).delay(3, &mut |_| u64::MAX), ms(400));
        assert_eq!(backoff(Jitter::Equal).delay(3, &mut |_| u64::MAX), ms(400));
        // Odd nanoseconds: equal jitter still reaches the step exactly.
        let odd = Backoff { base: Duration::from_nanos(3), ..backoff(Jitter::Equal) };
        assert_eq!(odd.delay(1, &mut |max| max), Duration::from_nanos(3));
        assert_eq!(odd.delay(1, &mut |_| 0), Duration::from_nanos(1));
    }

    proptest! {
        #[test]
        fn any_attempt_stays_within_the_cap(
            attempt in any::<u32>(),
            base_nanos in any::<u64>(),
            cap_secs in any::<u64>(),
            multiplier in prop_oneof![Just(1.0), Just(2.0), 0.0f64..1_000.0, Just(f64::INFINITY)],
            seed in any::<u64>(),
        ) {
            let mut random = seeded(seed);
            let cap = Duration::from_secs(cap_secs);
            for jitter in [Jitter::None, Jitter::Full, Jitter::Equal] {
                let b = Backoff { base: Duration::from_nanos(base_nanos), multiplier, cap, jitter };
                let step = b.step(attempt);
                prop_assert!(step <= cap);
                prop_assert!(step >= Duration::from_nanos(base_nanos).min(cap));
                let delay = b.delay(attempt, &mut random);
                prop_assert!(delay <= step);
                if jitter == Jitter::Equal {
                    prop_assert!(delay >= step / 2);
                }
            }
        }

        #[test]
        fn steps_never_shrink(attempt in 1u32..u32::MAX, multiplier in 1.0f64..10.0) {
            let b = Backoff { multiplier, ..backoff(Jitter::None) };
            prop_assert!(b.step(attempt) <= b.step(attempt + 1));
        }
    }
}

mod spec_properties {
    //! The dataset spec parser on arbitrary text (the `dataset_spec` fuzz target's entry
    //! point): never a panic, whatever the bytes; a bundled spec with random edits either
    //! parses or is rejected with problems that name a key.

    use proptest::prelude::*;

    use crate::DatasetSpec;
    use crate::spec::{ColumnType, Template};

    const BUNDLED: [&str; 2] = [
        include_str!("../../../datasets/products.toml"),
        include_str!("../../../datasets/service-calls.toml"),
    ];

    /// Everything the fuzz target runs on one input.
    fn parse_all(text: &str) -> Result<(), String> {
        let _ = ColumnType::parse(text);
        let _ = Template::parse(text);
        match DatasetSpec::from_toml_str(text, "fuzz.toml") {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().is_empty() => Err("a rejected spec with no message".into()),
            Err(_) => Ok(()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            parse_all(&String::from_utf8_lossy(&bytes)).map_err(TestCaseError::fail)?;
        }

        #[test]
        fn toml_looking_noise_never_panics(text in "([a-z_.\\[\\]]{1,12} = (\"[^\"]{0,8}\"|[0-9]{1,4}|true|\\[\\]|\\{\\})\n){0,12}") {
            parse_all(&format!("name = \"n\"\n[input]\nformat = \"csv\"\n{text}")).map_err(TestCaseError::fail)?;
        }

        #[test]
        fn an_edited_bundled_spec_parses_or_names_its_problem(
            which in 0usize..2,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), "\\PC{0,6}"), 1..6),
        ) {
            let mut text = BUNDLED[which].to_owned();
            for (at, len, insert) in &edits {
                let chars: Vec<char> = text.chars().collect();
                let start = at.index(chars.len());
                let end = (start + len.index(8)).min(chars.len());
                text = chars[..start].iter().chain(insert.chars().collect::<Vec<_>>().iter()).chain(chars[end..].iter()).collect();
            }
            parse_all(&text).map_err(TestCaseError::fail)?;
        }
    }
}
