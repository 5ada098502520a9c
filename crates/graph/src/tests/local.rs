//! Tests of `local`: the in-memory graph's upsert semantics (create, match, missing endpoints)
//! and its output snapshots (bulk-load CSV, GraphML, DOT), byte-identical reruns and refusals.

use std::path::PathBuf;

use super::*;
use crate::local::{GraphSink, LocalGraph, SinkError, UpsertStats, render_picture};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("graphetl-neptune-{}-{name}", std::process::id()));
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
        edges: vec![Edge::new("a->b", "CALLS", "a", "b").with("requests", PropertyValue::Long(1))],
    };
    let stats = upsert(&mut graph, &first);
    assert_eq!(
        stats,
        UpsertStats {
            vertices: 2,
            edges: 1,
            records: 3 + 1 + 2,
            requests: 0,
            retries: 0,
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
    assert_eq!((edge.label.as_str(), edge.out_v.as_str(), edge.in_v.as_str()), ("CALLS", "a", "b"));
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
    assert!(message.starts_with("edge \"a->ghost\" cannot be created: its in vertex \"ghost\""));
    // Endpoints from an earlier batch count.
    let vertices = vec![Vertex::new("a", "Service"), Vertex::new("ghost", "Service")];
    upsert(&mut graph, &GraphBatch { vertices, edges: vec![] });
    let stats = upsert(&mut graph, &GraphBatch { vertices: vec![], edges: batch.edges.clone() });
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
    assert!(matches!(graph.graphml(), Err(SinkError::Unrepresentable { format: "GraphML", .. })));
    assert!(matches!(graph.vertices_csv(), Err(SinkError::Unrepresentable { .. })), "label with ;");
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
