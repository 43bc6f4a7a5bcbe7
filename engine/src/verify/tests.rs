#![allow(clippy::unwrap_used)]

use super::figures::HashColumns;
use super::*;
use arrow_array::RecordBatch;
use arrow_array::{ArrayRef, Decimal128Array, Float64Array, Int32Array, Int64Array, StringArray};
use std::sync::Arc;

fn cfg(json: &str) -> VerifyConfig {
    serde_json::from_str(json).unwrap()
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(cols).unwrap()
}

fn tally(c: &VerifyConfig, hash: Option<HashColumns>) -> Tally {
    Tally::new(
        c.columns()
            .into_iter()
            .map(|n| (n.clone(), Some(n)))
            .collect(),
        hash,
    )
}

#[test]
fn rules_are_checked_for_shape() {
    let bad = [
        (r#"{"rules": []}"#, "job.verify.rules"),
        (
            r#"{"rules": [{"rule": "sum"}]}"#,
            "job.verify.rules[0].column",
        ),
        (
            r#"{"rules": [{"rule": "count", "column": "x"}]}"#,
            "job.verify.rules[0].column",
        ),
        (
            r#"{"rules": [{"rule": "checksum", "tolerance": {"abs": 1}}]}"#,
            "job.verify.rules[0].tolerance",
        ),
        (
            r#"{"rules": [{"rule": "sum", "column": "a", "tolerance": {"rel": -1}}]}"#,
            "job.verify.rules[0].tolerance.rel",
        ),
        (
            r#"{"rules": [{"rule": "count"}], "targetWhere": " "}"#,
            "job.verify.targetWhere",
        ),
    ];
    for (text, at) in bad {
        let e = cfg(text).validate("job.verify").unwrap_err();
        assert_eq!(e.path, at, "{text}: {e}");
    }
    assert!(serde_json::from_str::<VerifyConfig>(r#"{"rules": [{"rule": "avg"}]}"#).is_err());
    cfg(r#"{"rules": [{"rule": "count"}, {"rule": "max", "column": "a", "level": "weak"}]}"#)
        .validate("job.verify")
        .unwrap();
}

#[test]
fn the_same_rows_in_other_types_and_order_give_the_same_figures() {
    let c = cfg(
        r#"{"rules": [{"rule": "count"}, {"rule": "sum", "column": "amount"},
            {"rule": "min", "column": "name"}, {"rule": "max", "column": "amount"},
            {"rule": "nulls", "column": "name"}, {"rule": "checksum"}]}"#,
    );
    // Reader: INT and DECIMAL(10,2) in two batches.
    let src = tally(&c, Some(HashColumns::Positions(None)));
    src.take(&batch(vec![
        ("id", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef),
        (
            "amount",
            Arc::new(
                Decimal128Array::from(vec![Some(150), Some(-25)])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ),
        ("name", Arc::new(StringArray::from(vec![Some("b"), None]))),
    ]))
    .unwrap();
    src.take(&batch(vec![
        ("id", Arc::new(Int32Array::from(vec![3])) as ArrayRef),
        (
            "amount",
            Arc::new(
                Decimal128Array::from(vec![Some(1000)])
                    .with_precision_and_scale(10, 2)
                    .unwrap(),
            ),
        ),
        ("name", Arc::new(StringArray::from(vec![Some("a")]))),
    ]))
    .unwrap();
    // Target: BIGINT and NUMERIC(12,4), columns in another order, rows in another order.
    let tgt = Tally::new(
        c.columns()
            .into_iter()
            .map(|n| (n.clone(), Some(n)))
            .collect(),
        Some(HashColumns::Named(vec![
            "id".into(),
            "amount".into(),
            "name".into(),
        ])),
    );
    tgt.take(&batch(vec![
        (
            "NAME",
            Arc::new(StringArray::from(vec![Some("a"), None, Some("b")])) as ArrayRef,
        ),
        (
            "amount",
            Arc::new(
                Decimal128Array::from(vec![Some(100_000), Some(-2500), Some(15_000)])
                    .with_precision_and_scale(12, 4)
                    .unwrap(),
            ),
        ),
        ("id", Arc::new(Int64Array::from(vec![3, 2, 1]))),
    ]))
    .unwrap();
    let out = compare(&c, &src.figures(), Some(&tgt.figures()), 0, "");
    for o in &out {
        assert_eq!(o.verdict, Verdict::Passed, "{}", o.line());
    }
    assert_eq!(out[1].source, "11.25");
    assert_eq!(out[2].source, "a");
    assert_eq!(out[4].source, "1");

    // One value changed, count and sum kept: only the checksum sees it.
    let moved = tally(&c, Some(HashColumns::Positions(None)));
    moved
        .take(&batch(vec![
            ("id", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef),
            (
                "amount",
                Arc::new(
                    Decimal128Array::from(vec![Some(150), Some(-25), Some(1000)])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("b "), None, Some("a")])),
            ),
        ]))
        .unwrap();
    let out = compare(&c, &src.figures(), Some(&moved.figures()), 0, "");
    let failed: Vec<&str> = out
        .iter()
        .filter(|o| o.verdict == Verdict::Failed)
        .map(|o| o.rule.as_str())
        .collect();
    assert_eq!(failed, ["checksum"]);
}

#[test]
fn tolerances_floats_and_missing_targets() {
    let c = cfg(r#"{"rules": [{"rule": "count", "tolerance": {"abs": 1}},
            {"rule": "sum", "column": "x"},
            {"rule": "sum", "column": "x", "tolerance": {"rel": 0.01}},
            {"rule": "max", "column": "gone"}]}"#);
    let a = tally(&c, None);
    a.take(&batch(vec![(
        "x",
        Arc::new(Float64Array::from(vec![0.1, 0.2, 0.3])) as ArrayRef,
    )]))
    .unwrap();
    let b = tally(&c, None);
    b.take(&batch(vec![(
        "x",
        Arc::new(Float64Array::from(vec![0.3, 0.2, 0.1 + 0.001])) as ArrayRef,
    )]))
    .unwrap();
    let out = compare(&c, &a.figures(), Some(&b.figures()), 0, "");
    let verdicts: Vec<Verdict> = out.iter().map(|o| o.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Passed,
            Verdict::Failed,
            Verdict::Passed,
            Verdict::Failed
        ]
    );
    assert!(out[3].note.as_deref().unwrap().contains("no column gone"));

    // A writer whose target cannot be read back: count against what it wrote, the rest
    // reader side only.
    let out = compare(&c, &a.figures(), None, 2, "files of text");
    assert_eq!(out[0].verdict, Verdict::Passed);
    assert_eq!(out[0].target.as_deref(), Some("2"));
    assert_eq!(out[1].verdict, Verdict::NotChecked);
    assert!(out[1].note.as_deref().unwrap().contains("reader side only"));
}

#[test]
fn a_sum_of_text_is_refused_and_exact_sums_do_not_lose_digits() {
    let c = cfg(r#"{"rules": [{"rule": "sum", "column": "s"}, {"rule": "sum", "column": "n"}]}"#);
    let a = tally(&c, None);
    a.take(&batch(vec![
        (
            "s",
            Arc::new(StringArray::from(vec!["x", "1", "2"])) as ArrayRef,
        ),
        (
            "n",
            Arc::new(Int64Array::from(vec![i64::MAX, i64::MAX, 1])) as ArrayRef,
        ),
    ]))
    .unwrap();
    let f = a.figures();
    let out = compare(&c, &f, Some(&f), 0, "");
    assert_eq!(out[0].verdict, Verdict::Failed);
    assert!(out[0].note.as_deref().unwrap().contains("not numbers"));
    assert_eq!(out[1].source, "18446744073709551615");
    assert_eq!(out[1].verdict, Verdict::Passed);
}

#[test]
fn sums_past_38_digits_stay_exact_and_past_76_are_doubles() {
    use arrow_array::Decimal256Array;
    use arrow_buffer::i256;
    let c = cfg(r#"{"rules": [{"rule": "sum", "column": "d"}, {"rule": "max", "column": "d"}]}"#);
    let wide = |vals: Vec<i256>| {
        Arc::new(
            Decimal256Array::from(vals)
                .with_precision_and_scale(76, 20)
                .unwrap(),
        ) as ArrayRef
    };
    let e40 = i256::from_i128(10).checked_pow(40).unwrap();
    let side = |last: i256| {
        let t = tally(&c, None);
        t.take(&batch(vec![("d", wide(vec![e40, i256::ONE]))]))
            .unwrap();
        t.take(&batch(vec![("d", wide(vec![last]))])).unwrap();
        t.figures()
    };
    // 1e20 + 1e-20 + 1e20(+1e-20): 41 digits, exact.
    let src = side(e40);
    let out = compare(&c, &src, Some(&side(e40)), 0, "");
    assert_eq!(out[0].source, "200000000000000000000.00000000000000000001");
    assert_eq!(out[0].verdict, Verdict::Passed);
    assert_eq!(out[1].verdict, Verdict::Passed);
    // One unit in the 20th decimal place apart: both rules see it.
    let out = compare(&c, &src, Some(&side(e40.wrapping_add(i256::ONE))), 0, "");
    assert_eq!(out[0].verdict, Verdict::Failed, "{out:?}");
    assert_eq!(out[1].verdict, Verdict::Failed, "{out:?}");
    // A sum past 76 digits is a double's, as a float column's (compared as doubles).
    let c = cfg(r#"{"rules": [{"rule": "sum", "column": "d"}]}"#);
    let t = tally(&c, None);
    let big = i256::from_i128(10).checked_pow(75).unwrap();
    let d = Arc::new(
        Decimal256Array::from(vec![big; 200])
            .with_precision_and_scale(76, 0)
            .unwrap(),
    ) as ArrayRef;
    t.take(&batch(vec![("d", d)])).unwrap();
    let f = t.figures();
    let out = compare(&c, &f, Some(&f), 0, "");
    assert_eq!(out[0].verdict, Verdict::Passed, "{out:?}");
    assert!(
        out[0].note.as_deref().unwrap().contains("floating point"),
        "{out:?}"
    );
}

#[test]
fn wide_decimals_are_written_without_trailing_fraction_zeros() {
    use super::canon::big_text;
    use arrow_buffer::i256;
    for (v, s, want) in [
        (0, 5, "0"),
        (-5, 1, "-0.5"),
        (1500, 3, "1.5"),
        (100, 1, "10"),
        (7, 0, "7"),
        (-123, 5, "-0.00123"),
    ] {
        assert_eq!(big_text(i256::from_i128(v), s), want, "{v} {s}");
    }
}
