//! Property tests of the job parser: arbitrary text and arbitrary JSON never panic (a clear
//! error or a job, nothing else), and placeholders filled with arbitrary values never break
//! the JSON around them.

#![allow(clippy::unwrap_used)]

use datasync_engine::job::parse_job;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "[a-z${}\\\\\"-]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("job".to_string()),
                    Just("setting".to_string()),
                    Just("content".to_string()),
                    Just("reader".to_string()),
                    Just("writer".to_string()),
                    Just("name".to_string()),
                    Just("parameter".to_string()),
                    Just("speed".to_string()),
                    Just("channel".to_string()),
                    Just("errorLimit".to_string()),
                    "[a-zA-Z]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = parse_job(&text, "j", "j.json", &BTreeMap::new());
    }

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        let _ = parse_job(&v.to_string(), "j", "j.json", &BTreeMap::new());
    }

    #[test]
    fn placeholder_values_stay_inside_their_string(value in ".{0,40}") {
        let text = r#"{"job": {"content": [{"reader": {"name": "r", "parameter": {"p": "${x}"}},
                       "writer": {"name": "w", "parameter": {}}}]}}"#;
        let mut vars = BTreeMap::new();
        vars.insert("x".to_string(), value.clone());
        let job = parse_job(text, "j", "j.json", &vars);
        prop_assert!(job.is_ok(), "{:?}", job.err().map(|e| e.to_string()));
        let job = job.unwrap();
        prop_assert_eq!(job.reader.parameter["p"].as_str(), Some(value.as_str()));
    }
}
