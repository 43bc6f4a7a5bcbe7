//! `job.verify`: rules over the data a run moved, taken as the reader's batches stream by
//! (no second read of the source) and compared with the same figures taken from the target
//! after the write (the writer says how its target is read back, see
//! [`crate::plugin::Writer::read_back`]).
//!
//! Figures: `count` (rows), `sum`/`min`/`max`/`nulls` of a column, and `checksum`, an
//! order-independent sum of per-row 64-bit hashes of the canonical values (see [`canon`]).

pub mod canon;
pub(crate) mod figures;
mod readback;

pub use figures::{Figures, Tally};
pub use readback::{read_all, read_target};

use serde::{Deserialize, Serialize};

/// Where `name` stands among `names`: that name, else the same letters in another case (a
/// server may fold the case of the names it was given).
pub fn position_of<'a, I>(names: I, name: &str) -> Option<usize>
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: Clone,
{
    let names = names.into_iter();
    names
        .clone()
        .position(|n| n == name)
        .or_else(|| names.into_iter().position(|n| n.eq_ignore_ascii_case(name)))
}

/// Column `name` of `batch` (see [`position_of`]); the error names the columns there are.
pub fn find_column(batch: &arrow_array::RecordBatch, name: &str) -> Result<usize, String> {
    let schema = batch.schema();
    let names = schema.fields().iter().map(|f| f.name().as_str());
    position_of(names.clone(), name).ok_or_else(|| {
        format!(
            "no column {name} (the columns are {})",
            names.collect::<Vec<_>>().join(", ")
        )
    })
}

/// `job.verify`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyConfig {
    /// The rules, each compared between the rows read and the rows in the target.
    pub rules: Vec<RuleConfig>,
    /// For SQL targets: a condition selecting the rows this job wrote (e.g. `dt =
    /// '2026-12-01'`); without it the whole target table is compared.
    pub target_where: Option<String>,
}

/// One rule of `job.verify.rules`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleConfig {
    /// What is compared.
    pub rule: RuleKind,
    /// The column (as the reader names it) for `sum`, `min`, `max` and `nulls`.
    pub column: Option<String>,
    /// `strong` (default): a mismatch fails the job (exit 4); `weak`: it is reported and warned.
    #[serde(default)]
    pub level: Level,
    /// How far the figures may differ and still match (numeric rules).
    pub tolerance: Option<Tolerance>,
}

/// The kinds of rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// Number of rows.
    Count,
    /// Sum of a numeric column.
    Sum,
    /// Smallest value of a column.
    Min,
    /// Largest value of a column.
    Max,
    /// Number of NULLs in a column.
    Nulls,
    /// Order-independent checksum of every row (all columns the target can be read back by).
    Checksum,
}

/// What a mismatch does.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Fails the job (exit 4); a staged writer publishes nothing.
    #[default]
    Strong,
    /// Reported and warned; the job goes on.
    Weak,
}

/// A tolerance: figures match when they differ by at most `abs`, or by at most `rel` times
/// the reader's figure.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    /// Absolute difference allowed.
    pub abs: Option<f64>,
    /// Relative difference allowed (0.001 = 0.1 %).
    pub rel: Option<f64>,
}

impl VerifyConfig {
    /// Checks the rules' shape (`path`: `job.verify`).
    pub fn validate(&self, path: &str) -> Result<(), crate::ConfigError> {
        if self.rules.is_empty() {
            return Err(crate::ConfigError::new(
                format!("{path}.rules"),
                "list at least one rule (count, sum, min, max, nulls, checksum)",
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("{path}.rules[{i}]");
            let needs_column = !matches!(r.rule, RuleKind::Count | RuleKind::Checksum);
            match (&r.column, needs_column) {
                (None, true) => {
                    return Err(crate::ConfigError::new(
                        format!("{at}.column"),
                        format!("a {} rule names the column", r.rule.name()),
                    ))
                }
                (Some(_), false) => {
                    return Err(crate::ConfigError::new(
                        format!("{at}.column"),
                        format!("a {} rule takes no column", r.rule.name()),
                    ))
                }
                (Some(c), true) if c.trim().is_empty() => {
                    return Err(crate::ConfigError::new(
                        format!("{at}.column"),
                        "name the column",
                    ))
                }
                _ => {}
            }
            if let Some(t) = &r.tolerance {
                if matches!(r.rule, RuleKind::Checksum) {
                    return Err(crate::ConfigError::new(
                        format!("{at}.tolerance"),
                        "a checksum matches or not: it takes no tolerance",
                    ));
                }
                for (k, v) in [("abs", t.abs), ("rel", t.rel)] {
                    if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                        return Err(crate::ConfigError::new(
                            format!("{at}.tolerance.{k}"),
                            format!("{v}: expected a number ≥ 0"),
                        ));
                    }
                }
            }
        }
        if let Some(w) = &self.target_where {
            if w.trim().is_empty() {
                return Err(crate::ConfigError::new(
                    format!("{path}.targetWhere"),
                    "an empty condition: remove the key to compare the whole target",
                ));
            }
        }
        Ok(())
    }

    /// The columns the rules name, each once, in order.
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.rules {
            if let Some(c) = &r.column {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        }
        out
    }

    /// Whether a rule needs the row checksum.
    pub fn wants_checksum(&self) -> bool {
        self.rules.iter().any(|r| r.rule == RuleKind::Checksum)
    }
}

impl RuleKind {
    fn name(self) -> &'static str {
        match self {
            RuleKind::Count => "count",
            RuleKind::Sum => "sum",
            RuleKind::Min => "min",
            RuleKind::Max => "max",
            RuleKind::Nulls => "nulls",
            RuleKind::Checksum => "checksum",
        }
    }
}

/// How the target's figures were taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSource {
    /// Read back from the target (its staged output before publishing, or the table after
    /// the commit).
    Target,
    /// The target cannot be read back: only the records the writer reported written are
    /// known (count); the other rules are reader side only.
    WriterCount,
}

/// A rule's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The figures match.
    Passed,
    /// They do not.
    Failed,
    /// The target's figure is not known (reader side only).
    NotChecked,
}

/// One rule's outcome, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct RuleOutcome {
    /// The rule, e.g. `sum(amount)`.
    pub rule: String,
    /// Its column, for the rules that name one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// `strong` or `weak`.
    pub level: Level,
    /// The reader side's figure.
    pub source: String,
    /// The target's figure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it was not checked, or the tolerance applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl RuleOutcome {
    /// A one-line description for logs and the human report.
    pub fn line(&self) -> String {
        let verdict = match self.verdict {
            Verdict::Passed => "ok",
            Verdict::Failed => "MISMATCH",
            Verdict::NotChecked => "not checked",
        };
        let level = match self.level {
            Level::Strong => "strong",
            Level::Weak => "weak",
        };
        let mut s = format!(
            "{} [{level}]: read {}, target {}: {verdict}",
            self.rule,
            self.source,
            self.target.as_deref().unwrap_or("-")
        );
        if let Some(n) = &self.note {
            s.push_str(&format!(" ({n})"));
        }
        s
    }
}

/// Compares the reader's figures with the target's (`None`: the target cannot be read back,
/// `writer_count` the records the writer reported written).
pub fn compare(
    cfg: &VerifyConfig,
    source: &Figures,
    target: Option<&Figures>,
    writer_count: u64,
    unavailable: &str,
) -> Vec<RuleOutcome> {
    cfg.rules
        .iter()
        .map(|r| {
            let col = r.column.as_deref().unwrap_or_default();
            let rule = match r.rule {
                RuleKind::Count | RuleKind::Checksum => r.rule.name().to_string(),
                k => format!("{}({col})", k.name()),
            };
            let src = source.figure(r.rule, col);
            let mut out = RuleOutcome {
                rule,
                column: r.column.clone(),
                level: r.level,
                source: src.show(),
                target: None,
                verdict: Verdict::NotChecked,
                note: None,
            };
            let tgt = match target {
                Some(t) if t.unread.contains(col) && r.rule != RuleKind::Count => {
                    out.note = Some(if col.is_empty() {
                        "reader side only: the target is text files (their rows are counted)"
                            .to_string()
                    } else {
                        format!(
                            "reader side only: column {col} is not read back from the target \
                             (a Hive partition column, or text files)"
                        )
                    });
                    return out;
                }
                Some(t) => t.figure(r.rule, col),
                None if r.rule == RuleKind::Count => {
                    out.note = Some(format!(
                        "records the writer reported written; {unavailable}"
                    ));
                    figures::Figure::Count(writer_count)
                }
                None => {
                    out.note = Some(format!("reader side only: {unavailable}"));
                    return out;
                }
            };
            out.target = Some(tgt.show());
            if let figures::Figure::Missing(why) = &src {
                out.note = Some(why.clone());
                out.verdict = Verdict::Failed;
                return out;
            }
            if let figures::Figure::Missing(why) = &tgt {
                out.note = Some(why.clone());
                out.verdict = Verdict::Failed;
                return out;
            }
            let (ok, note) = figures::matches(&src, &tgt, r.tolerance.unwrap_or_default());
            out.verdict = if ok { Verdict::Passed } else { Verdict::Failed };
            if out.note.is_none() {
                out.note = note;
            }
            if ok && out.note.is_none() && out.target.as_deref() != Some(out.source.as_str()) {
                out.note = Some("within the tolerance".into());
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests;
