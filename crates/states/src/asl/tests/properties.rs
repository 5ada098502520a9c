//! Property tests: no text or JSON value makes the loader panic.

use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = StateMachine::from_json(&text, "fuzz");
        let _ = placeholders(&text);
    }

    #[test]
    fn damaged_definitions_never_panic(cut in 0usize..4000, insert in "[\\[\\]{}\",:$ a-zA-Z0-9.*-]{0,3}") {
        let mut text = DISTRIBUTED_EXAMPLE.to_owned();
        let mut at = cut.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.insert_str(at, &insert);
        let _ = StateMachine::from_json(&text, "fuzz");
    }

    #[test]
    fn arbitrary_json_values_never_panic(value in json_value()) {
        let _ = StateMachine::from_value(&value, "fuzz");
        let wrapped = serde_json::json!({"StartAt": "S", "States": {"S": value}});
        let _ = StateMachine::from_value(&wrapped, "fuzz");
    }
}

/// Small JSON values made of ASL-looking keys and values.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "Type",
        "Next",
        "End",
        "Resource",
        "Parameters",
        "Retry",
        "Catch",
        "ErrorEquals",
        "Choices",
        "Branches",
        "ItemProcessor",
        "StartAt",
        "States",
        "ProcessorConfig",
        "Mode",
        "Seconds",
        "S",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "Task",
            "Map",
            "Pass",
            "Choice",
            "S",
            "$",
            "$.a",
            "DISTRIBUTED",
            "States.ALL"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6).prop_map(|map| Value::Object(
                map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}
