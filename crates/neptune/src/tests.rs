//! Unit tests of the neptune crate: model from rows, golden queries, escaping (properties and a
//! fuzz-style loop), batching budgets, local sink semantics and output snapshots.

use std::collections::BTreeMap;

use crate::model::{Edge, GraphBatch, GraphDate, PropertyValue, Vertex};

fn date(text: &str) -> GraphDate {
    GraphDate::parse_iso(text).map(|(d, _)| d).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn s(text: &str) -> PropertyValue {
    PropertyValue::String(text.to_owned())
}

/// Two services and one call between them: the golden batch.
fn golden_batch() -> GraphBatch {
    GraphBatch {
        vertices: vec![
            Vertex::new("checkout", "Service")
                .with("name", s("checkout"))
                .with("requests_in", PropertyValue::Long(1200)),
            Vertex::new("payments", "Service")
                .with("name", s("payments"))
                .with("error_rate", PropertyValue::Double(0.0125)),
        ],
        edges: vec![
            Edge::new("checkout->payments", "CALLS", "checkout", "payments")
                .with("requests", PropertyValue::Long(1200))
                .with("p99_ms", PropertyValue::Double(210.0))
                .with("last_seen", PropertyValue::Date(date("2025-06-01T00:00:00Z"))),
        ],
    }
}

mod model_tests {
    use graphetl_core::DatasetSpec;

    use super::*;
    use crate::model::{ResultValue, Row, graph_from_rows};

    fn spec() -> DatasetSpec {
        let text = include_str!("../../../datasets/service-calls.toml");
        DatasetSpec::from_toml_str(text, "service-calls.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn row(cells: &[(&str, ResultValue)]) -> Row {
        cells.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    fn text(value: &str) -> ResultValue {
        ResultValue::String(value.to_owned())
    }

    fn edge_row(caller: ResultValue, callee: ResultValue) -> Row {
        row(&[
            ("caller", caller),
            ("callee", callee),
            ("requests", ResultValue::Int(10)),
            ("errors", ResultValue::Int(1)),
            ("error_rate", ResultValue::Float(0.1)),
            ("p50_ms", ResultValue::Float(12.5)),
            ("p95_ms", ResultValue::Float(f64::INFINITY)),
            ("p99_ms", ResultValue::Float(f64::NAN)),
            ("bytes", ResultValue::Null),
            ("first_seen", ResultValue::Timestamp("2025-06-01 00:00:00.000".into())),
            ("last_seen", ResultValue::Timestamp("2025-06-01T01:02:03.456789Z".into())),
        ])
    }

    #[test]
    fn vertices_come_from_the_services_query() {
        let spec = spec();
        let rows = vec![
            row(&[
                ("name", text("checkout")),
                ("requests_in", ResultValue::Int(5)),
                ("requests_out", ResultValue::Int(7)),
                ("error_rate", ResultValue::Float(0.2)),
            ]),
            row(&[
                ("name", text("payments")),
                ("requests_in", ResultValue::Int(7)),
                ("requests_out", ResultValue::Int(0)),
                ("error_rate", ResultValue::Null),
            ]),
            row(&[
                ("name", ResultValue::Null),
                ("requests_in", ResultValue::Int(1)),
                ("requests_out", ResultValue::Int(1)),
                ("error_rate", ResultValue::Null),
            ]),
        ];
        let built = graph_from_rows(&spec.graph, "services", &rows);
        assert!(built.batch.edges.is_empty());
        assert_eq!(
            built.batch.vertices,
            vec![
                Vertex::new("checkout", "Service")
                    .with("name", s("checkout"))
                    .with("requests_in", PropertyValue::Long(5))
                    .with("requests_out", PropertyValue::Long(7))
                    .with("error_rate", PropertyValue::Double(0.2)),
                Vertex::new("payments", "Service")
                    .with("name", s("payments"))
                    .with("requests_in", PropertyValue::Long(7))
                    .with("requests_out", PropertyValue::Long(0)),
            ]
        );
        assert_eq!(built.rejected.len(), 1);
        assert_eq!(built.rejected[0].row_index, 2);
        assert_eq!(built.rejected[0].mapping, "vertex Service");
        assert_eq!(built.rejected[0].reason, "id template \"{name}\": column name is null");
        assert_eq!(built.rejected[0].row, rows[2]);
        assert_eq!(built.stats.rows_in, 3);
        assert_eq!(built.stats.rows_rejected, 1);
        // payments' error_rate; the rejected row's null is not reached (its id fails first).
        assert_eq!(built.stats.nulls_omitted, 1);
        assert_eq!(built.batch.records(), 5 + 4);
    }

    #[test]
    fn edges_come_from_the_edges_query_with_typed_properties() {
        let spec = spec();
        let rows = vec![edge_row(text("checkout"), text("payments"))];
        let built = graph_from_rows(&spec.graph, "edges", &rows);
        assert!(built.rejected.is_empty(), "{:?}", built.rejected);
        assert!(built.batch.vertices.is_empty());
        let expected = Edge::new("checkout->payments", "CALLS", "checkout", "payments")
            .with("requests", PropertyValue::Long(10))
            .with("errors", PropertyValue::Long(1))
            .with("error_rate", PropertyValue::Double(0.1))
            .with("p50_ms", PropertyValue::Double(12.5))
            .with("first_seen", PropertyValue::Date(date("2025-06-01T00:00:00Z")))
            .with("last_seen", PropertyValue::Date(date("2025-06-01T01:02:03.456Z")));
        assert_eq!(built.batch.edges, vec![expected]);
        assert_eq!(built.stats.non_finite_omitted, 2, "p95 infinite, p99 NaN");
        assert_eq!(built.stats.nulls_omitted, 1, "bytes");
        assert_eq!(built.stats.dates_floored, 1, "last_seen had microseconds");
        assert_eq!(built.batch.records(), 1 + 6);
    }

    #[test]
    fn bad_rows_are_rejected_with_reasons_not_panics() {
        let spec = spec();
        let mut missing_column = edge_row(text("a"), text("b"));
        missing_column.remove("bytes");
        let mut bad_time = edge_row(text("a"), text("b"));
        bad_time.insert("last_seen".into(), ResultValue::Timestamp("yesterday".into()));
        let rows = vec![
            edge_row(text("a"), ResultValue::Null),
            edge_row(ResultValue::Float(f64::NAN), text("b")),
            missing_column,
            bad_time,
            edge_row(text(""), text("")),
            edge_row(ResultValue::Int(7), ResultValue::Bool(true)),
        ];
        let built = graph_from_rows(&spec.graph, "edges", &rows);
        let reasons: Vec<(usize, &str)> =
            built.rejected.iter().map(|r| (r.row_index, r.reason.as_str())).collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert_eq!(reasons[0], (0, "id template \"{caller}->{callee}\": column callee is null"));
        assert!(reasons[1].1.contains("column caller is NaN"), "{reasons:?}");
        assert_eq!(reasons[2], (2, "property bytes: column bytes is not in the result row"));
        assert!(reasons[3].1.starts_with("property last_seen: column last_seen: \"yesterday\""));
        // An empty caller and callee still render the non-empty id "->", but empty endpoint ids
        // are refused.
        assert_eq!(reasons[4], (4, "out_v id template \"{caller}\" renders an empty id"));
        let ids: Vec<&str> = built.batch.edges.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["7->true"]);
        assert_eq!(built.stats.rows_rejected, 5);
        assert!(built.rejected.iter().all(|r| r.mapping == "edge CALLS"));
    }

    #[test]
    fn empty_endpoint_ids_are_rejected() {
        let spec = spec();
        let built = graph_from_rows(&spec.graph, "edges", &[edge_row(text(""), text("x"))]);
        assert_eq!(built.rejected.len(), 1);
        assert_eq!(built.rejected[0].reason, "out_v id template \"{caller}\" renders an empty id");
    }

    #[test]
    fn unknown_query_yields_nothing() {
        let built = graph_from_rows(&spec().graph, "nope", &[edge_row(text("a"), text("b"))]);
        assert!(built.batch.is_empty());
        assert!(built.rejected.is_empty());
        assert_eq!(built.stats.rows_in, 1);
    }

    #[test]
    fn dates_parse_format_and_floor() {
        let (d, floored) =
            GraphDate::parse_iso("2025-06-01 00:00:00.000").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.epoch_millis(), floored), (1_748_736_000_000, false));
        assert_eq!(d.to_iso(), "2025-06-01T00:00:00Z");
        let (d, floored) =
            GraphDate::parse_iso("1969-12-31T23:59:59.9995Z").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d.epoch_millis(), floored), (-1, true));
        assert_eq!(d.to_iso(), "1969-12-31T23:59:59.999Z");
        assert_eq!(date("2025-06-01T02:00:00.5+02:00").to_iso(), "2025-06-01T00:00:00.500Z");
        assert!(GraphDate::from_epoch_millis(GraphDate::MAX_MILLIS + 1).is_none());
        assert!(GraphDate::from_epoch_millis(GraphDate::MIN_MILLIS - 1).is_none());
        let max = GraphDate::from_epoch_millis(GraphDate::MAX_MILLIS).map(GraphDate::to_iso);
        assert_eq!(max.as_deref(), Some("9999-12-31T23:59:59.999Z"));
        let min = GraphDate::from_epoch_millis(GraphDate::MIN_MILLIS).map(GraphDate::to_iso);
        assert_eq!(min.as_deref(), Some("0001-01-01T00:00:00Z"));
        assert!(GraphDate::parse_iso("2025-13-01").is_err());
    }

    #[test]
    fn property_values_round_trip_through_json() -> Result<(), serde_json::Error> {
        let value = PropertyValue::Date(date("2025-06-01T00:00:00Z"));
        let json = serde_json::to_string(&value)?;
        assert_eq!(json, r#"{"Date":1748736000000}"#);
        assert_eq!(serde_json::from_str::<PropertyValue>(&json)?, value);
        assert!(serde_json::from_str::<PropertyValue>(r#"{"Date":9223372036854775807}"#).is_err());
        Ok(())
    }
}

mod golden {
    use super::*;
    use crate::gremlin::{EngineVersion, RequestKind, UpsertForm, build_query, string_literal};

    const EDGE_MERGE: &str = concat!(
        ".mergeE([(T.id):'checkout->payments'])",
        ".option(onCreate,[(T.label):'CALLS',(from):'checkout',(to):'payments',",
        "'last_seen':datetime('2025-06-01T00:00:00Z'),'p99_ms':210.0d,'requests':1200L])",
        ".option(onMatch,['last_seen':datetime('2025-06-01T00:00:00Z'),'p99_ms':210.0d,'requests':1200L])",
    );

    #[test]
    fn single_map_form() {
        let batch = golden_batch();
        let request = build_query(UpsertForm::MergeSingleMap, &batch.vertices, &batch.edges);
        let expected = [
            "g.mergeV([(T.id):'checkout'])",
            ".option(onCreate,[(T.label):'Service','name':'checkout','requests_in':1200L])",
            ".option(onMatch,['name':single('checkout'),'requests_in':single(1200L)])",
            ".mergeV([(T.id):'payments'])",
            ".option(onCreate,[(T.label):'Service','error_rate':0.0125d,'name':'payments'])",
            ".option(onMatch,['error_rate':single(0.0125d),'name':single('payments')])",
            EDGE_MERGE,
            ".id()",
        ]
        .concat();
        assert_eq!(request.gremlin, expected);
        assert_eq!(request.kind, RequestKind::Mixed);
        assert_eq!((request.vertices, request.edges), (2, 1));
        assert_eq!(request.records, 3 + 3 + 4);
        assert_eq!(request.steps, 3 + 3 + 3 + 1);
        assert_eq!(request.body().len(), request.body_bytes);
    }

    #[test]
    fn property_step_form() {
        let batch = golden_batch();
        let request = build_query(UpsertForm::MergePropertyStep, &batch.vertices, &batch.edges);
        let expected = [
            "g.mergeV([(T.id):'checkout'])",
            ".option(onCreate,[(T.label):'Service'])",
            ".property(single,'name','checkout')",
            ".property(single,'requests_in',1200L)",
            ".mergeV([(T.id):'payments'])",
            ".option(onCreate,[(T.label):'Service'])",
            ".property(single,'error_rate',0.0125d)",
            ".property(single,'name','payments')",
            EDGE_MERGE,
            ".id()",
        ]
        .concat();
        assert_eq!(request.gremlin, expected);
        assert_eq!(request.records, 10);
        assert_eq!(request.steps, 4 + 4 + 3 + 1);
        assert_eq!(request.body().len(), request.body_bytes);
    }

    #[test]
    fn fold_coalesce_form() {
        let batch = golden_batch();
        let request = build_query(UpsertForm::FoldCoalesce, &batch.vertices, &batch.edges);
        let expected = [
            "g.V('checkout').fold().coalesce(unfold(),addV('Service').property(T.id,'checkout'))",
            ".property(single,'name','checkout').property(single,'requests_in',1200L)",
            ".V('payments').fold().coalesce(unfold(),addV('Service').property(T.id,'payments'))",
            ".property(single,'error_rate',0.0125d).property(single,'name','payments')",
            ".V('checkout').outE('CALLS').hasId('checkout->payments').fold()",
            ".coalesce(unfold(),addE('CALLS').from(V('checkout')).to(V('payments'))",
            ".property(T.id,'checkout->payments'))",
            ".property('last_seen',datetime('2025-06-01T00:00:00Z'))",
            ".property('p99_ms',210.0d).property('requests',1200L)",
            ".id()",
        ]
        .concat();
        assert_eq!(request.gremlin, expected);
        assert_eq!(request.steps, 8 + 8 + 15 + 1);
        assert_eq!(request.body().len(), request.body_bytes);
    }

    #[test]
    fn body_is_the_json_neptune_expects() {
        let vertex = Vertex::new("a\"b\\c", "L").with("k", s("line\nbreak"));
        let request = build_query(UpsertForm::MergeSingleMap, &[vertex], &[]);
        assert_eq!(
            request.gremlin,
            r#"g.mergeV([(T.id):'a"b\\c']).option(onCreate,[(T.label):'L','k':'line\nbreak']).option(onMatch,['k':single('line\nbreak')]).id()"#
        );
        assert_eq!(
            request.body(),
            r#"{"gremlin":"g.mergeV([(T.id):'a\"b\\\\c']).option(onCreate,[(T.label):'L','k':'line\\nbreak']).option(onMatch,['k':single('line\\nbreak')]).id()"}"#
        );
        assert_eq!(request.body().len(), request.body_bytes);
    }

    #[test]
    fn typed_literals_and_non_finite_omission() {
        let vertex = Vertex::new("v", "L")
            .with("a_long", PropertyValue::Long(i64::MIN))
            .with("b_tiny", PropertyValue::Double(1e-7))
            .with("c_huge", PropertyValue::Double(1.5e300))
            .with("d_neg", PropertyValue::Double(-0.0))
            .with("e_true", PropertyValue::Bool(true))
            .with("f_false", PropertyValue::Bool(false))
            .with("g_nan", PropertyValue::Double(f64::NAN))
            .with("h_inf", PropertyValue::Double(f64::NEG_INFINITY))
            .with("i_date", PropertyValue::Date(date("2024-02-29T23:59:59.001Z")));
        let request = build_query(UpsertForm::MergePropertyStep, &[vertex], &[]);
        assert_eq!(
            request.gremlin,
            [
                "g.mergeV([(T.id):'v']).option(onCreate,[(T.label):'L'])",
                ".property(single,'a_long',-9223372036854775808L)",
                ".property(single,'b_tiny',1e-7d)",
                ".property(single,'c_huge',1.5e300d)",
                ".property(single,'d_neg',-0.0d)",
                ".property(single,'e_true',true)",
                ".property(single,'f_false',false)",
                ".property(single,'i_date',datetime('2024-02-29T23:59:59.001Z'))",
                ".id()",
            ]
            .concat()
        );
        assert_eq!(request.non_finite_omitted, 2);
        assert_eq!(request.records, 1 + 7);
        assert!(!request.gremlin.contains("NaN") && !request.gremlin.contains("inf"));
    }

    #[test]
    fn vertices_and_edges_without_properties_have_no_on_match() {
        let request = build_query(
            UpsertForm::MergeSingleMap,
            &[Vertex::new("a", "L")],
            &[Edge::new("e", "E", "a", "a")],
        );
        assert_eq!(
            request.gremlin,
            "g.mergeV([(T.id):'a']).option(onCreate,[(T.label):'L']).mergeE([(T.id):'e']).option(onCreate,[(T.label):'E',(from):'a',(to):'a']).id()"
        );
        assert_eq!(request.steps, 5);
    }

    #[test]
    fn escaper_examples() {
        let cases = [
            ("", "''"),
            ("it's", r"'it\'s'"),
            (r"a\b", r"'a\\b'"),
            ("line\nbreak\ttab\r", r"'line\nbreak\ttab\r'"),
            ("\u{8}\u{c}", r"'\b\f'"),
            ("\u{0}\u{1f}\u{7f}\u{85}\u{9f}", r"'\u0000\u001F\u007F\u0085\u009F'"),
            ("😀", r"'\uD83D\uDE00'"),
            ("\u{10FFFF}", r"'\uDBFF\uDFFF'"),
            ("'); g.V().drop(); ('", r"'\'); g.V().drop(); (\''"),
            (r#"$x "q" ::"#, r#"'$x "q" ::'"#),
            ("é中\u{2028}", "'é中\u{2028}'"),
            (r"\'", r"'\\\''"),
            (r"\u0027", r"'\\u0027'"),
        ];
        for (input, expected) in cases {
            assert_eq!(string_literal(input), expected, "input {input:?}");
        }
        let big = "x'".repeat(512 * 1024);
        let literal = string_literal(&big);
        assert_eq!(literal.len(), 2 + 3 * 512 * 1024);
    }

    #[test]
    fn engine_versions_parse_and_pick_forms() {
        let parse = |text: &str| text.parse::<EngineVersion>();
        let form = |text: &str| {
            parse(text).map(|v| UpsertForm::for_engine(&v)).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(form("1.2.0.0.R4"), UpsertForm::FoldCoalesce);
        assert_eq!(form("1.1.1.0"), UpsertForm::FoldCoalesce);
        assert_eq!(form("1.2.1.0"), UpsertForm::MergePropertyStep);
        assert_eq!(form("1.3.1.0"), UpsertForm::MergePropertyStep);
        assert_eq!(form("1.3.2.0"), UpsertForm::MergeSingleMap);
        assert_eq!(form("1.4.6.2"), UpsertForm::MergeSingleMap);
        assert_eq!(form(" 1.3.2.1 "), UpsertForm::MergeSingleMap);
        assert_eq!(parse("1.2.0.0.R4").map(|v| v.to_string()).as_deref(), Ok("1.2.0.0.R4"));
        assert_eq!(parse("1.3.2.0"), Ok(EngineVersion { numbers: [1, 3, 2, 0], release: None }));
        for bad in [
            "",
            "1.3",
            "1.3.2",
            "1.3.2.0.5",
            "1.3.2.0.R",
            "a.b.c.d",
            "+1.2.3.4",
            "1..2.3",
            "1.2.3.99999999999",
        ] {
            let err = parse(bad);
            assert!(err.is_err(), "{bad:?} parsed as {err:?}");
        }
        let message = parse("1.3").map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err("engine version \"1.3\": expected four numbers and an optional patch, like 1.3.2.0 or 1.2.0.0.R4".to_owned())
        );
    }
}

mod escaping {
    //! No id, label, key or value can change a query's structure: the text outside string
    //! literals equals that of a query built from benign values, and every literal unescapes to
    //! the value that went in.

    use proptest::prelude::*;

    use super::*;
    use crate::gremlin::{UpsertForm, build_query};

    const FORMS: [UpsertForm; 3] =
        [UpsertForm::MergeSingleMap, UpsertForm::MergePropertyStep, UpsertForm::FoldCoalesce];

    /// Splits query text into its skeleton (each single-quoted literal replaced by `''`) and the
    /// raw bodies of the literals. A backslash inside a literal escapes the next character.
    fn split_literals(query: &str) -> Result<(String, Vec<String>), String> {
        let mut skeleton = String::new();
        let mut literals = Vec::new();
        let mut chars = query.chars();
        while let Some(c) = chars.next() {
            match c {
                '\'' => {
                    let mut body = String::new();
                    loop {
                        match chars.next() {
                            None => return Err(format!("unterminated literal in {query:?}")),
                            Some('\'') => break,
                            Some('\\') => {
                                body.push('\\');
                                body.push(chars.next().ok_or("dangling backslash")?);
                            }
                            Some(other) => body.push(other),
                        }
                    }
                    skeleton.push_str("''");
                    literals.push(body);
                }
                '"' | '\\' => return Err(format!("{c:?} outside a literal in {query:?}")),
                other => skeleton.push(other),
            }
        }
        Ok((skeleton, literals))
    }

    /// Java-style unescaping as Gremlin's grammar does it (for the escapes the writer emits).
    fn unescape(body: &str) -> Result<String, String> {
        let mut units: Vec<u16> = Vec::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c.is_control() || (c as u32) > 0xFFFF {
                return Err(format!("raw {c:?} in a literal"));
            }
            if c != '\\' {
                let mut buf = [0u16; 2];
                units.extend_from_slice(c.encode_utf16(&mut buf));
                continue;
            }
            let unit = match chars.next() {
                Some('\\') => u16::from(b'\\'),
                Some('\'') => u16::from(b'\''),
                Some('"') => u16::from(b'"'),
                Some('n') => u16::from(b'\n'),
                Some('r') => u16::from(b'\r'),
                Some('t') => u16::from(b'\t'),
                Some('b') => 0x08,
                Some('f') => 0x0c,
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    u16::from_str_radix(&hex, 16).map_err(|e| format!("\\u{hex}: {e}"))?
                }
                other => return Err(format!("unknown escape {other:?}")),
            };
            units.push(unit);
        }
        String::from_utf16(&units).map_err(|e| e.to_string())
    }

    /// The elements of the structure test, with 12 string slots.
    fn elements(values: &[String]) -> GraphBatch {
        let v = |i: usize| values[i].clone();
        GraphBatch {
            vertices: vec![
                Vertex::new(v(0), v(1)).with(v(2), PropertyValue::String(v(3))),
                Vertex::new(v(4), v(5)).with(v(6), PropertyValue::String(v(7))),
                Vertex::new("fixed", "Fixed")
                    .with("count", PropertyValue::Long(5))
                    .with("ok", PropertyValue::Bool(true))
                    .with("rate", PropertyValue::Double(0.5))
                    .with("when", PropertyValue::Date(date("2025-06-01T00:00:00Z"))),
            ],
            edges: vec![
                Edge::new(v(8), v(9), v(0), v(4)).with(v(10), PropertyValue::String(v(11))),
            ],
        }
    }

    /// Checks the structure property for one set of 12 values, in every form.
    fn check_structure(values: &[String]) -> Result<(), String> {
        let benign: Vec<String> = (0..values.len()).map(|i| format!("b{i}")).collect();
        let marker_to_value: BTreeMap<&str, &str> =
            benign.iter().map(String::as_str).zip(values.iter().map(String::as_str)).collect();
        for form in FORMS {
            let good = elements(&benign);
            let real = elements(values);
            let good_query = build_query(form, &good.vertices, &good.edges);
            let real_query = build_query(form, &real.vertices, &real.edges);
            let (good_skeleton, good_literals) = split_literals(&good_query.gremlin)?;
            let (real_skeleton, real_literals) = split_literals(&real_query.gremlin)?;
            if real_skeleton != good_skeleton {
                return Err(format!(
                    "{form:?}: structure changed for {values:?}\n{real_skeleton}\n{good_skeleton}"
                ));
            }
            for (good_literal, real_literal) in good_literals.iter().zip(&real_literals) {
                let expected = marker_to_value.get(good_literal.as_str()).copied();
                let expected = expected.unwrap_or(good_literal.as_str());
                let got = unescape(real_literal)?;
                if got != expected {
                    return Err(format!(
                        "{form:?}: literal {real_literal:?} reads {got:?}, want {expected:?}"
                    ));
                }
            }
            if real_query.body().len() != real_query.body_bytes {
                return Err(format!("{form:?}: body_bytes is off for {values:?}"));
            }
        }
        Ok(())
    }

    const NASTY: &[&str] = &[
        "'",
        "\\",
        "\\'",
        "'); g.V().drop(); ('",
        "').drop().V('",
        "\"",
        "\"); g.V().drop(); (\"",
        "$",
        "${x}",
        "::",
        ")",
        "]",
        ",",
        ".",
        "//",
        "\n",
        "\r\n",
        "\u{0}",
        "\u{7f}",
        "\u{85}",
        "\u{2028}",
        "\u{FEFF}",
        "😀",
        "\u{10FFFF}",
        "é",
        "\\u0027",
        "\\\n",
        "T.id",
        "(from)",
        "single(",
        "datetime('",
        "",
    ];

    fn nasty_string() -> impl Strategy<Value = String> {
        let fragment = prop_oneof![
            prop::sample::select(NASTY).prop_map(str::to_owned),
            any::<char>().prop_map(String::from),
            "[a-z]{0,4}",
        ];
        prop::collection::vec(fragment, 0..6).prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn no_string_changes_the_structure(values in prop::collection::vec(nasty_string(), 12)) {
            prop_assert_eq!(check_structure(&values), Ok(()));
        }

        #[test]
        fn arbitrary_unicode_strings_round_trip(text in any::<String>()) {
            let literal = crate::gremlin::string_literal(&text);
            let (skeleton, literals) = split_literals(&literal).map_err(TestCaseError::fail)?;
            prop_assert_eq!(skeleton, "''");
            prop_assert_eq!(literals.len(), 1);
            prop_assert_eq!(unescape(&literals[0]).map_err(TestCaseError::fail)?, text);
            prop_assert!(literal.chars().all(|c| !c.is_control() && (c as u32) <= 0xFFFF));
        }

        #[test]
        fn doubles_are_exact_or_omitted(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            let vertex = Vertex::new("v", "L").with("x", PropertyValue::Double(x));
            let query = build_query(UpsertForm::MergePropertyStep, &[vertex], &[]);
            if x.is_finite() {
                let start = query.gremlin.find("'x',").map(|i| i + 4).unwrap_or(0);
                let literal = query.gremlin[start..].split(')').next().unwrap_or("");
                prop_assert!(is_grammar_double(literal), "{} is not a Double literal", literal);
                let back: f64 = literal
                    .trim_end_matches('d')
                    .parse()
                    .map_err(|e| TestCaseError::fail(format!("{literal}: {e}")))?;
                prop_assert_eq!(back.to_bits(), x.to_bits());
                prop_assert_eq!(query.non_finite_omitted, 0);
            } else {
                prop_assert!(!query.gremlin.contains("'x'"));
                prop_assert_eq!(query.non_finite_omitted, 1);
                prop_assert_eq!(query.records, 1);
            }
        }

        #[test]
        fn longs_are_exact(n in any::<i64>()) {
            let vertex = Vertex::new("v", "L").with("n", PropertyValue::Long(n));
            let query = build_query(UpsertForm::MergeSingleMap, &[vertex], &[]);
            let on_create = format!("'n':{n}L]");
            let on_match = format!("'n':single({n}L)");
            prop_assert!(query.gremlin.contains(&on_create), "{}", query.gremlin);
            prop_assert!(query.gremlin.contains(&on_match), "{}", query.gremlin);
        }
    }

    /// `Sign? Digits ('.' Digits ExponentPart? | ExponentPart) 'd'` from Gremlin.g4.
    fn is_grammar_double(text: &str) -> bool {
        fn digits(s: &str) -> (&str, bool) {
            let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            (&s[end..], end > 0)
        }
        let Some(body) = text.strip_suffix('d') else { return false };
        let body = body.strip_prefix(['-', '+']).unwrap_or(body);
        let (rest, ok) = digits(body);
        if !ok {
            return false;
        }
        let (rest, has_fraction) = match rest.strip_prefix('.') {
            Some(fraction) => {
                let (rest, ok) = digits(fraction);
                if !ok {
                    return false;
                }
                (rest, true)
            }
            None => (rest, false),
        };
        match rest.strip_prefix(['e', 'E']) {
            Some(exponent) => {
                let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
                let (rest, ok) = digits(exponent);
                ok && rest.is_empty()
            }
            None => has_fraction && rest.is_empty(),
        }
    }

    /// A fuzz-style loop: a fixed-seed xorshift generator glues nasty fragments and random code
    /// points into 12 values, 3,000 times, and checks the structure property in every form.
    #[test]
    fn fuzz_structure_with_fixed_seed() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..3_000 {
            let values: Vec<String> = (0..12)
                .map(|_| {
                    let n_parts = next() % 5;
                    (0..n_parts)
                        .map(|_| match next() % 3 {
                            0 => NASTY[(next() % NASTY.len() as u64) as usize].to_owned(),
                            1 => char::from_u32((next() % 0x11_0000) as u32)
                                .map(String::from)
                                .unwrap_or_else(|| "\u{FFFD}".to_owned()),
                            _ => char::from_u32((next() % 0x80) as u32)
                                .map(String::from)
                                .unwrap_or_default(),
                        })
                        .collect()
                })
                .collect();
            if let Err(e) = check_structure(&values) {
                panic!("round {round}: {e}");
            }
        }
    }

    #[test]
    fn the_tokenizer_notices_a_broken_structure() {
        // The test's own tokenizer must catch an unescaped quote, or the properties prove nothing.
        let broken = "g.V('a'); g.V().drop(); ('').id()";
        let (skeleton, _) = split_literals(broken).unwrap_or_else(|e| panic!("{e}"));
        let (good, _) = split_literals("g.V('x').id()").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(skeleton, good);
        assert!(split_literals("g.V('a\\')").is_err());
    }
}

mod batching {
    use super::*;
    use crate::gremlin::{BatchError, Batcher, Budget, RequestKind, UpsertForm, build_query};

    /// The seed-000 workload: `n_edges` call relations among `n_services` services, each edge
    /// with `edge_props` properties and each service with name + 3 stats.
    fn call_graph(n_services: usize, n_edges: usize, edge_props: usize) -> GraphBatch {
        let name = |i: usize| format!("svc-{i:02}");
        let vertices = (0..n_services)
            .map(|i| {
                Vertex::new(name(i), "Service")
                    .with("name", PropertyValue::String(name(i)))
                    .with("requests_in", PropertyValue::Long(i as i64 * 10))
                    .with("requests_out", PropertyValue::Long(i as i64 * 7))
                    .with("error_rate", PropertyValue::Double(0.001 * i as f64))
            })
            .collect();
        let all_props = [
            ("requests", PropertyValue::Long(1200)),
            ("errors", PropertyValue::Long(15)),
            ("error_rate", PropertyValue::Double(0.0125)),
            ("p50_ms", PropertyValue::Double(12.5)),
            ("p99_ms", PropertyValue::Double(210.0)),
            ("last_seen", PropertyValue::Date(date("2025-06-01T00:00:00Z"))),
            ("p95_ms", PropertyValue::Double(99.5)),
            ("bytes", PropertyValue::Long(123_456)),
            ("first_seen", PropertyValue::Date(date("2025-05-31T00:00:00Z"))),
        ];
        let edges = (0..n_edges)
            .map(|k| {
                let (from, to) = (k % n_services, (k * 7 + 1 + k / n_services) % n_services);
                let mut edge = Edge::new(
                    format!("{}->{}", name(from), name(to)),
                    "CALLS",
                    name(from),
                    name(to),
                );
                for (key, value) in all_props.iter().take(edge_props) {
                    edge.properties.insert((*key).to_owned(), value.clone());
                }
                edge
            })
            .collect();
        GraphBatch { vertices, edges }
    }

    fn check_requests(batch: &GraphBatch, requests: &[crate::gremlin::Request], budget: Budget) {
        let mut seen_edges = false;
        for request in requests {
            assert!(request.records <= budget.max_records, "{} records", request.records);
            assert!(request.steps <= budget.max_steps, "{} steps", request.steps);
            assert!(request.body_bytes <= budget.max_bytes, "{} bytes", request.body_bytes);
            assert_eq!(request.body().len(), request.body_bytes);
            assert_ne!(request.kind, RequestKind::Mixed);
            if request.kind == RequestKind::Edges {
                seen_edges = true;
            } else {
                assert!(!seen_edges, "a vertex request after an edge request");
            }
        }
        let n_vertices: usize = requests.iter().map(|r| r.vertices).sum();
        let n_edges: usize = requests.iter().map(|r| r.edges).sum();
        assert_eq!((n_vertices, n_edges), (batch.vertices.len(), batch.edges.len()));
        assert_eq!(requests.iter().map(|r| r.records).sum::<usize>(), batch.records());
    }

    /// Concatenating the requests' chains gives the unbounded query: nothing lost, order kept.
    fn same_chain(batch: &GraphBatch, form: UpsertForm, requests: &[crate::gremlin::Request]) {
        let whole = build_query(form, &batch.vertices, &batch.edges).gremlin;
        let joined: String = requests
            .iter()
            .map(|r| {
                r.gremlin.strip_prefix('g').and_then(|t| t.strip_suffix(".id()")).unwrap_or("")
            })
            .collect();
        assert_eq!(format!("g{joined}.id()"), whole);
    }

    #[test]
    fn seed_workload_needs_at_most_one_request_over_the_optimum() {
        for edge_props in [6, 9] {
            let batch = call_graph(40, 100, edge_props);
            let records = batch.records();
            assert_eq!(records, 40 * 5 + 100 * (1 + edge_props));
            for form in [
                UpsertForm::MergeSingleMap,
                UpsertForm::MergePropertyStep,
                UpsertForm::FoldCoalesce,
            ] {
                let requests = Batcher::new(form, Budget::default())
                    .requests(&batch)
                    .unwrap_or_else(|e| panic!("{e}"));
                check_requests(&batch, &requests, Budget::default());
                same_chain(&batch, form, &requests);
                let optimum = records.div_ceil(200);
                assert!(
                    requests.len() <= optimum + 1,
                    "{form:?}, {edge_props} edge properties: {} requests for {records} records",
                    requests.len()
                );
            }
        }
        // 9 properties: 200 vertex records and 1,000 edge records fill requests exactly.
        let batch = call_graph(40, 100, 9);
        let requests = Batcher::new(UpsertForm::MergeSingleMap, Budget::default())
            .requests(&batch)
            .unwrap_or_else(|e| panic!("{e}"));
        let shape: Vec<(RequestKind, usize, usize)> =
            requests.iter().map(|r| (r.kind, r.vertices + r.edges, r.records)).collect();
        assert_eq!(
            shape,
            [
                (RequestKind::Vertices, 40, 200),
                (RequestKind::Edges, 20, 200),
                (RequestKind::Edges, 20, 200),
                (RequestKind::Edges, 20, 200),
                (RequestKind::Edges, 20, 200),
                (RequestKind::Edges, 20, 200),
            ]
        );
    }

    #[test]
    fn steps_and_bytes_budgets_split_requests() {
        let batch = call_graph(12, 30, 6);
        for form in
            [UpsertForm::MergeSingleMap, UpsertForm::MergePropertyStep, UpsertForm::FoldCoalesce]
        {
            let by_steps = Budget { max_records: 10_000, max_steps: 40, max_bytes: 1 << 20 };
            let requests =
                Batcher::new(form, by_steps).requests(&batch).unwrap_or_else(|e| panic!("{e}"));
            check_requests(&batch, &requests, by_steps);
            same_chain(&batch, form, &requests);
            assert!(requests.len() > 2, "{form:?}: steps did not split");

            let by_bytes = Budget { max_records: 10_000, max_steps: 100_000, max_bytes: 2_048 };
            let requests =
                Batcher::new(form, by_bytes).requests(&batch).unwrap_or_else(|e| panic!("{e}"));
            check_requests(&batch, &requests, by_bytes);
            same_chain(&batch, form, &requests);
            assert!(requests.len() > 2, "{form:?}: bytes did not split");
            // Greedy packing: no two neighbouring requests of one kind could have been merged.
            for pair in requests.windows(2) {
                if pair[0].kind == pair[1].kind {
                    let merged =
                        pair[0].body_bytes + pair[1].body_bytes - r#"{"gremlin":"g.id()"}"#.len();
                    assert!(merged > by_bytes.max_bytes);
                }
            }
        }
    }

    #[test]
    fn an_element_over_budget_is_an_error_naming_it() {
        let batch = GraphBatch {
            vertices: vec![
                Vertex::new("small", "L"),
                Vertex::new("big", "L")
                    .with("a", PropertyValue::Long(1))
                    .with("b", PropertyValue::Long(2))
                    .with("c", PropertyValue::Long(3)),
            ],
            edges: vec![],
        };
        let budget = Budget { max_records: 3, ..Budget::default() };
        let result = Batcher::new(UpsertForm::MergeSingleMap, budget).requests(&batch);
        match &result {
            Err(BatchError::ElementTooLarge { kind: "vertex", id, records: 4, .. })
                if id == "big" => {}
            other => panic!("unexpected {other:?}"),
        }
        let message = result.map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(message.starts_with("vertex \"big\" alone needs 4 records"), "{message}");
    }

    #[test]
    fn empty_batch_sends_nothing_and_non_finite_do_not_count() {
        let batcher = Batcher::new(UpsertForm::MergeSingleMap, Budget::default());
        assert_eq!(batcher.requests(&GraphBatch::default()), Ok(vec![]));
        let batch = GraphBatch {
            vertices: vec![
                Vertex::new("v", "L")
                    .with("nan", PropertyValue::Double(f64::NAN))
                    .with("ok", PropertyValue::Double(1.0)),
            ],
            edges: vec![],
        };
        let requests = batcher.requests(&batch).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(requests.len(), 1);
        assert_eq!((requests[0].records, requests[0].non_finite_omitted), (2, 1));
        assert_eq!(batch.records(), 2);
    }
}

mod local_sink {
    use std::path::PathBuf;

    use super::*;
    use crate::local::{GraphSink, LocalGraph, SinkError, UpsertStats, render_picture};

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("graphetl-neptune-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn upsert(graph: &mut LocalGraph, batch: &GraphBatch) -> UpsertStats {
        graph.upsert(batch).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn create_then_match_overwrites_with_single_cardinality() {
        let mut graph = LocalGraph::new();
        let first = GraphBatch {
            vertices: vec![
                Vertex::new("a", "Service")
                    .with("name", s("a"))
                    .with("requests", PropertyValue::Long(1)),
                Vertex::new("b", "Service"),
            ],
            edges: vec![
                Edge::new("a->b", "CALLS", "a", "b").with("requests", PropertyValue::Long(1)),
            ],
        };
        let stats = upsert(&mut graph, &first);
        assert_eq!(
            stats,
            UpsertStats {
                vertices: 2,
                edges: 1,
                records: 3 + 1 + 2,
                requests: 0,
                non_finite_omitted: 0
            }
        );
        let second = GraphBatch {
            vertices: vec![
                Vertex::new("a", "Other")
                    .with("requests", PropertyValue::Long(2))
                    .with("up", PropertyValue::Bool(true))
                    .with("rate", PropertyValue::Double(f64::NAN)),
            ],
            // Same id, other endpoints (one missing): matched by id, so endpoints are not used.
            edges: vec![
                Edge::new("a->b", "OTHER", "zzz", "a").with("requests", PropertyValue::Long(5)),
            ],
        };
        let stats = upsert(&mut graph, &second);
        assert_eq!(stats.non_finite_omitted, 1);
        let a = graph.vertex("a").unwrap_or_else(|| panic!("a missing"));
        assert_eq!(a.label, "Service", "a match never changes the label");
        assert_eq!(
            a.properties,
            BTreeMap::from([
                ("name".to_owned(), s("a")),
                ("requests".to_owned(), PropertyValue::Long(2)),
                ("up".to_owned(), PropertyValue::Bool(true)),
            ])
        );
        let edge = graph.edge("a->b").unwrap_or_else(|| panic!("edge missing"));
        assert_eq!(
            (edge.label.as_str(), edge.out_v.as_str(), edge.in_v.as_str()),
            ("CALLS", "a", "b")
        );
        assert_eq!(edge.properties.get("requests"), Some(&PropertyValue::Long(5)));
        assert_eq!(graph.vertices().count(), 2);
    }

    #[test]
    fn creating_an_edge_with_a_missing_endpoint_fails_and_writes_nothing() {
        let mut graph = LocalGraph::new();
        let batch = GraphBatch {
            vertices: vec![Vertex::new("a", "Service")],
            edges: vec![
                Edge::new("a->a", "CALLS", "a", "a"),
                Edge::new("a->ghost", "CALLS", "a", "ghost"),
            ],
        };
        match graph.upsert(&batch) {
            Err(SinkError::MissingEndpoint { edge, end: "in", vertex }) => {
                assert_eq!((edge.as_str(), vertex.as_str()), ("a->ghost", "ghost"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(graph, LocalGraph::new(), "the batch is all or nothing");
        let message = graph.upsert(&batch).map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(
            message.starts_with("edge \"a->ghost\" cannot be created: its in vertex \"ghost\"")
        );
        // Endpoints from an earlier batch count.
        let vertices = vec![Vertex::new("a", "Service"), Vertex::new("ghost", "Service")];
        upsert(&mut graph, &GraphBatch { vertices, edges: vec![] });
        let stats =
            upsert(&mut graph, &GraphBatch { vertices: vec![], edges: batch.edges.clone() });
        assert_eq!(stats.edges, 2);
    }

    /// A tiny graph with commas, quotes, a newline, every type and a NaN.
    fn tiny() -> GraphBatch {
        GraphBatch {
            vertices: vec![
                Vertex::new("b,c", "Service")
                    .with("name", s("say \"hi\"\nbye"))
                    .with("up", PropertyValue::Bool(true)),
                Vertex::new("a", "Service")
                    .with("name", s("a"))
                    .with("requests_in", PropertyValue::Long(3))
                    .with("error_rate", PropertyValue::Double(0.25))
                    .with("p99_ms", PropertyValue::Double(f64::NAN)),
            ],
            edges: vec![
                Edge::new("a->b,c", "CALLS", "a", "b,c")
                    .with("requests", PropertyValue::Long(3))
                    .with("last_seen", PropertyValue::Date(date("2025-06-01T00:00:00.5Z"))),
            ],
        }
    }

    fn tiny_graph() -> LocalGraph {
        let mut graph = LocalGraph::new();
        upsert(&mut graph, &tiny());
        graph
    }

    #[test]
    fn vertices_csv_snapshot() {
        let csv = tiny_graph().vertices_csv().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            csv,
            concat!(
                "~id,~label,error_rate:Double(single),name:String(single),requests_in:Long(single),up:Bool(single)\n",
                "a,Service,0.25,a,3,\n",
                "\"b,c\",Service,,\"say \"\"hi\"\"\nbye\",,true\n",
            )
        );
    }

    #[test]
    fn edges_csv_snapshot() {
        let csv = tiny_graph().edges_csv().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            csv,
            concat!(
                "~id,~from,~to,~label,last_seen:Date,requests:Long\n",
                "\"a->b,c\",a,\"b,c\",CALLS,2025-06-01T00:00:00.500Z,3\n",
            )
        );
    }

    #[test]
    fn graphml_snapshot() {
        let xml = tiny_graph().graphml().unwrap_or_else(|e| panic!("{e}"));
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
  <key id="labelV" for="node" attr.name="labelV" attr.type="string"/>
  <key id="v.error_rate" for="node" attr.name="error_rate" attr.type="double"/>
  <key id="v.name" for="node" attr.name="name" attr.type="string"/>
  <key id="v.requests_in" for="node" attr.name="requests_in" attr.type="long"/>
  <key id="v.up" for="node" attr.name="up" attr.type="boolean"/>
  <key id="labelE" for="edge" attr.name="labelE" attr.type="string"/>
  <key id="e.last_seen" for="edge" attr.name="last_seen" attr.type="string"/>
  <key id="e.requests" for="edge" attr.name="requests" attr.type="long"/>
  <graph id="G" edgedefault="directed">
    <node id="a">
      <data key="labelV">Service</data>
      <data key="v.error_rate">0.25</data>
      <data key="v.name">a</data>
      <data key="v.requests_in">3</data>
    </node>
    <node id="b,c">
      <data key="labelV">Service</data>
      <data key="v.name">say &quot;hi&quot;&#10;bye</data>
      <data key="v.up">true</data>
    </node>
    <edge id="a-&gt;b,c" source="a" target="b,c">
      <data key="labelE">CALLS</data>
      <data key="e.last_seen">2025-06-01T00:00:00.500Z</data>
      <data key="e.requests">3</data>
    </edge>
  </graph>
</graphml>
"#;
        assert_eq!(xml, expected);
    }

    #[test]
    fn dot_snapshot() {
        let expected = r#"digraph graphetl {
  rankdir=LR;
  node [shape=box, style=rounded, fontname="Helvetica"];
  edge [fontname="Helvetica", fontsize=10];
  n0 [label="a\nService", tooltip="a\nerror_rate=0.25\nname=a\nrequests_in=3"];
  n1 [label="b,c\nService", tooltip="b,c\nname=say \"hi\"\nbye\nup=true"];
  n0 -> n1 [label="CALLS", tooltip="a->b,c\nlast_seen=2025-06-01T00:00:00.500Z\nrequests=3"];
}
"#;
        assert_eq!(tiny_graph().dot(), expected);
    }

    #[test]
    fn rerun_gives_byte_identical_files() {
        let once = tiny_graph();
        let mut twice = tiny_graph();
        upsert(&mut twice, &tiny());
        // Input order does not matter either.
        let mut reversed_input = tiny();
        reversed_input.vertices.reverse();
        let mut reversed = LocalGraph::new();
        upsert(&mut reversed, &reversed_input);
        let dirs = [temp_dir("once"), temp_dir("twice"), temp_dir("reversed")];
        let mut contents = Vec::new();
        for (graph, dir) in [&once, &twice, &reversed].into_iter().zip(&dirs) {
            let files = graph.write_files(dir).unwrap_or_else(|e| panic!("{e}"));
            let read =
                |p: &PathBuf| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            contents.push([
                read(&files.vertices_csv),
                read(&files.edges_csv),
                read(&files.graphml),
                read(&files.dot),
            ]);
        }
        assert_eq!(contents[0], contents[1]);
        assert_eq!(contents[0], contents[2]);
        assert!(contents[0].iter().all(|c| !c.is_empty()));
        for dir in &dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn writers_refuse_what_formats_cannot_hold() {
        let mut graph = LocalGraph::new();
        let batch = GraphBatch {
            vertices: vec![
                Vertex::new("a", "L").with("n", PropertyValue::Long(1)),
                Vertex::new("b", "L").with("n", PropertyValue::Double(1.5)),
            ],
            edges: vec![],
        };
        upsert(&mut graph, &batch);
        let message = graph.vertices_csv().map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert_eq!(
            message,
            "CSV: vertex property \"n\" is Long on some elements and Double on others; a column holds one type"
        );
        assert!(graph.graphml().is_err());

        let mut graph = LocalGraph::new();
        upsert(
            &mut graph,
            &GraphBatch {
                vertices: vec![Vertex::new("a", "L").with("bad key", PropertyValue::Long(1))],
                edges: vec![],
            },
        );
        assert!(matches!(graph.vertices_csv(), Err(SinkError::Unrepresentable { .. })));

        let mut graph = LocalGraph::new();
        upsert(
            &mut graph,
            &GraphBatch {
                vertices: vec![Vertex::new("a\u{1}", "A;B").with("ns:key", PropertyValue::Long(1))],
                edges: vec![],
            },
        );
        assert!(matches!(
            graph.graphml(),
            Err(SinkError::Unrepresentable { format: "GraphML", .. })
        ));
        assert!(
            matches!(graph.vertices_csv(), Err(SinkError::Unrepresentable { .. })),
            "label with ;"
        );
        assert!(graph.dot().contains("a\u{FFFD}\\nA;B"));
        assert!(graph.write_files(&temp_dir("refused")).is_err());
        assert!(!temp_dir("refused").exists(), "nothing is written when a format fails");
    }

    #[test]
    fn colons_in_property_names_are_escaped_in_csv_headers() {
        let mut graph = LocalGraph::new();
        upsert(
            &mut graph,
            &GraphBatch {
                vertices: vec![Vertex::new("a", "L").with("ns:key", PropertyValue::Long(1))],
                edges: vec![],
            },
        );
        let csv = graph.vertices_csv().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(csv, "~id,~label,ns\\:key:Long(single)\na,L,1\n");
    }

    #[test]
    fn render_picture_is_optional() {
        let dir = temp_dir("picture");
        let files = tiny_graph().write_files(&dir).unwrap_or_else(|e| panic!("{e}"));
        let svg = dir.join("graph.svg");
        match render_picture(&files.dot, &svg) {
            Ok(true) => assert!(svg.exists()),
            Ok(false) => {
                println!("dot is not installed: no picture, and that is not an error");
                assert!(!svg.exists());
            }
            Err(e) => panic!("{e}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
