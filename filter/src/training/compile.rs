//! `TrainingPolicy::compile`: the section's endpoints, buckets, detectors and limits checked.

use super::detect::{self, Detectors};
use super::stage::StageContext;
use super::{TrainingEndpoint, TrainingPolicy};
use crate::document::TrainingSection;
use std::sync::Arc;

impl TrainingPolicy {
    pub fn compile(doc: &TrainingSection) -> Result<Self, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let endpoints: Vec<_> = doc
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| {
                TrainingEndpoint::compile(e, &format!("$.training.endpoints[{i}]"), &mut errors)
            })
            .collect();
        let exclusive: Vec<_> = doc
            .exclusive
            .iter()
            .enumerate()
            .map(|(i, e)| {
                TrainingEndpoint::compile(e, &format!("$.training.exclusive[{i}]"), &mut errors)
            })
            .collect();
        let buckets: Vec<_> = doc
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                TrainingEndpoint::for_bucket(b, &format!("$.training.buckets[{i}]"), &mut errors)
            })
            .collect();
        // Ids name outcomes, metrics and logs: one per endpoint, bucket or not.
        let ids = doc
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("$.training.endpoints[{i}].id"), &e.id))
            .chain(
                doc.exclusive
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (format!("$.training.exclusive[{i}].id"), &e.id)),
            )
            .chain(
                doc.buckets
                    .iter()
                    .enumerate()
                    .map(|(i, b)| (format!("$.training.buckets[{i}].id"), &b.id)),
            );
        let mut seen = std::collections::HashSet::new();
        for (path, id) in ids {
            if !seen.insert(id.as_str()) {
                errors.push((path, format!("duplicate endpoint id `{id}`")));
            }
        }
        let detectors = Detectors::compile(&doc.detectors)
            .map_err(|e| vec![("$.training.detectors".to_owned(), e)]);
        let limit = |v: u64, name: &str, errors: &mut Vec<(String, String)>| {
            if v == 0 || v > 1 << 30 {
                errors.push((
                    format!("$.training.{name}"),
                    format!("must be between 1 and {}, got `{v}`", 1u64 << 30),
                ));
            }
            usize::try_from(v).unwrap_or(usize::MAX)
        };
        let max_record_bytes = limit(doc.max_record_bytes, "max_record_bytes", &mut errors);
        let max_json_document_bytes = limit(
            doc.max_json_document_bytes,
            "max_json_document_bytes",
            &mut errors,
        );
        if doc.max_expansion_ratio < 2 {
            errors.push((
                "$.training.max_expansion_ratio".into(),
                "must be at least 2".into(),
            ));
        }
        match detectors {
            Ok(mut detectors) if errors.is_empty() => {
                // A compressed payload found inside a record inflates within the limits of a
                // compressed body and of a record.
                detectors.set_inflate_budget(detect::InflateBudget {
                    ratio: doc.max_expansion_ratio,
                    max: max_record_bytes,
                });
                Ok(Self {
                    mode: doc.mode,
                    endpoints,
                    exclusive,
                    buckets,
                    on_uninspectable: doc.on_uninspectable,
                    unknown_gcs_sessions: doc.unknown_gcs_sessions,
                    list_stripped: false,
                    ctx: Arc::new(StageContext {
                        detectors,
                        max_record_bytes,
                        max_json_document_bytes,
                        max_expansion_ratio: doc.max_expansion_ratio,
                    }),
                })
            }
            Ok(_) => Err(errors),
            Err(mut e) => {
                errors.append(&mut e);
                Err(errors)
            }
        }
    }
}
