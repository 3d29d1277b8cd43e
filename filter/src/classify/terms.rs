//! A policy's own weighted terms (brand and product names as service signals), compiled into
//! one matcher.

use super::*;

/// A policy's own weighted terms.
#[derive(Debug, Clone)]
pub(super) struct Terms {
    pub(super) matcher: AhoCorasick,
    /// For each pattern, its group.
    pub(super) group_of: Vec<usize>,
    /// Each group's id and weight (in score units, added once per part it appears in).
    pub(super) groups: Vec<(String, f32)>,
}

pub(super) fn compile_terms(
    section: &ContentSection,
    errors: &mut Vec<ClassifierError>,
) -> Option<Terms> {
    if section.terms.is_empty() {
        return None;
    }
    if section.terms.len() > MAX_TERM_GROUPS {
        errors.push((
            "terms".into(),
            format!(
                "at most {MAX_TERM_GROUPS} term groups, got {}",
                section.terms.len()
            ),
        ));
        return None;
    }
    let mut patterns = Vec::new();
    let mut group_of = Vec::new();
    let mut groups = Vec::new();
    for (g, doc) in section.terms.iter().enumerate() {
        if doc.id.is_empty() || section.terms.iter().take(g).any(|d| d.id == doc.id) {
            errors.push((
                format!("terms[{g}].id"),
                format!("term group id `{}` is empty or already used", doc.id),
            ));
        }
        if !doc.weight.is_finite() || doc.weight.abs() > 20.0 {
            errors.push((
                format!("terms[{g}].weight"),
                format!(
                    "weight must be a number between -20 and 20, got `{}`",
                    doc.weight
                ),
            ));
        }
        if doc.terms.is_empty() {
            errors.push((format!("terms[{g}].terms"), "no terms listed".into()));
        }
        for (i, term) in doc.terms.iter().enumerate() {
            let mut n = String::new();
            features::words_joined(&normalize::normalize(term), &mut Scratch::default(), &mut n);
            if n.is_empty() {
                errors.push((
                    format!("terms[{g}].terms[{i}]"),
                    format!("term `{term}` is empty once normalised"),
                ));
                continue;
            }
            patterns.push(n);
            group_of.push(g);
        }
        groups.push((doc.id.clone(), doc.weight as f32));
    }
    match AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&patterns)
    {
        Ok(matcher) => Some(Terms {
            matcher,
            group_of,
            groups,
        }),
        Err(e) => {
            errors.push(("terms".into(), format!("terms do not compile: {e}")));
            None
        }
    }
}
