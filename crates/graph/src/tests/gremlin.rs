//! Tests of `gremlin`: golden queries in each upsert form, typed literals, the escaper's
//! examples, engine versions, and the [`Batcher`]'s records/steps/bytes budgets.

use expect_test::{Expect, expect};

use super::*;
use crate::gremlin::{
    BatchError, Batcher, Budget, EngineVersion, RequestKind, UpsertForm, build_query,
    string_literal,
};

/// Checks a query against its snapshot, one traversal step per line (`UPDATE_EXPECT=1 cargo test`
/// rewrites the snapshot after a deliberate change).
fn check_query(gremlin: &str, snapshot: Expect) {
    snapshot.assert_eq(&gremlin.replace(").", ")\n."));
}

#[test]
fn single_map_form() {
    let batch = golden_batch();
    let request = build_query(UpsertForm::MergeSingleMap, &batch.vertices, &batch.edges);
    check_query(
        &request.gremlin,
        expect![[r#"
        g.mergeV([(T.id):'checkout'])
        .option(onCreate,[(T.label):'Service','name':'checkout','requests_in':1200L])
        .option(onMatch,['name':single('checkout'),'requests_in':single(1200L)])
        .mergeV([(T.id):'payments'])
        .option(onCreate,[(T.label):'Service','error_rate':0.0125d,'name':'payments'])
        .option(onMatch,['error_rate':single(0.0125d),'name':single('payments')])
        .mergeE([(T.id):'checkout->payments'])
        .option(onCreate,[(T.label):'CALLS',(from):'checkout',(to):'payments','last_seen':datetime('2025-06-01T00:00:00Z'),'p99_ms':210.0d,'requests':1200L])
        .option(onMatch,['last_seen':datetime('2025-06-01T00:00:00Z'),'p99_ms':210.0d,'requests':1200L])
        .id()"#]],
    );
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
    check_query(
        &request.gremlin,
        expect![[r#"
        g.mergeV([(T.id):'checkout'])
        .option(onCreate,[(T.label):'Service'])
        .property(single,'name','checkout')
        .property(single,'requests_in',1200L)
        .mergeV([(T.id):'payments'])
        .option(onCreate,[(T.label):'Service'])
        .property(single,'error_rate',0.0125d)
        .property(single,'name','payments')
        .mergeE([(T.id):'checkout->payments'])
        .option(onCreate,[(T.label):'CALLS',(from):'checkout',(to):'payments','last_seen':datetime('2025-06-01T00:00:00Z'),'p99_ms':210.0d,'requests':1200L])
        .option(onMatch,['last_seen':datetime('2025-06-01T00:00:00Z'),'p99_ms':210.0d,'requests':1200L])
        .id()"#]],
    );
    assert_eq!(request.records, 10);
    assert_eq!(request.steps, 4 + 4 + 3 + 1);
    assert_eq!(request.body().len(), request.body_bytes);
}

#[test]
fn fold_coalesce_form() {
    let batch = golden_batch();
    let request = build_query(UpsertForm::FoldCoalesce, &batch.vertices, &batch.edges);
    check_query(
        &request.gremlin,
        expect![[r#"
        g.V('checkout')
        .fold()
        .coalesce(unfold(),addV('Service')
        .property(T.id,'checkout'))
        .property(single,'name','checkout')
        .property(single,'requests_in',1200L)
        .V('payments')
        .fold()
        .coalesce(unfold(),addV('Service')
        .property(T.id,'payments'))
        .property(single,'error_rate',0.0125d)
        .property(single,'name','payments')
        .V('checkout')
        .outE('CALLS')
        .hasId('checkout->payments')
        .fold()
        .coalesce(unfold(),addE('CALLS')
        .from(V('checkout'))
        .to(V('payments'))
        .property(T.id,'checkout->payments'))
        .property('last_seen',datetime('2025-06-01T00:00:00Z'))
        .property('p99_ms',210.0d)
        .property('requests',1200L)
        .id()"#]],
    );
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
            let mut edge =
                Edge::new(format!("{}->{}", name(from), name(to)), "CALLS", name(from), name(to));
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
        .map(|r| r.gremlin.strip_prefix('g').and_then(|t| t.strip_suffix(".id()")).unwrap_or(""))
        .collect();
    assert_eq!(format!("g{joined}.id()"), whole);
}

#[test]
fn seed_workload_needs_at_most_one_request_over_the_optimum() {
    for edge_props in [6, 9] {
        let batch = call_graph(40, 100, edge_props);
        let records = batch.records();
        assert_eq!(records, 40 * 5 + 100 * (1 + edge_props));
        for form in
            [UpsertForm::MergeSingleMap, UpsertForm::MergePropertyStep, UpsertForm::FoldCoalesce]
        {
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
        Err(BatchError::ElementTooLarge { kind: "vertex", id, records: 4, .. }) if id == "big" => {}
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
