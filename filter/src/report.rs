//! What a decision looks like outside: the Graph-shaped 403, response headers, the metric name
//! and the structured log line. None of them carries message text or a raw phone number.

use crate::decide::Decision;
use crate::training::upload::{TrainingOutcome, TrainingVerdict};

mod log;
mod reply;

pub use log::{
    LineContext, decision_line, log_line, log_sample, recipient_hash, sampled, score_bucket,
    should_log, training_line, training_log_line,
};
pub use reply::{blocked_reply, graph_error, training_error};

pub use crate::local_reply::{DECISION_HEADER, LocalReply, RULE_HEADER, STRIPPED_HEADER};

/// The counter every decision increments. Envoy shows it as
/// `wa_guard_decisions_total{decision,rule,reason,role,provider}` once the bootstrap's `stats_tags`
/// extract the labels (see `envoy/`).
pub const DECISIONS_METRIC: &str = "wa_guard_decisions_total";

/// Headers added to the response of a request that went through.
pub fn response_headers(decision: &Decision) -> Vec<(&'static str, String)> {
    vec![
        (DECISION_HEADER, decision.verdict.as_str().to_owned()),
        (RULE_HEADER, decision.rule.clone()),
    ]
}

/// The counter name with its labels in the dotted form the bootstrap's tag regexes extract.
pub fn metric_name(decision: &Decision) -> String {
    format!(
        "{DECISIONS_METRIC}.decision.{}.rule.{}.reason.{}.role.{}.provider.{}",
        decision.verdict.as_str(),
        decision.rule,
        decision.reason.as_str(),
        decision.role.as_str(),
        decision.provider.as_str()
    )
}

// The classifier's model version is named with it too (`classify/model.rs`).

/// Response headers of an upload that went through.
pub fn training_response_headers(t: &TrainingOutcome) -> Vec<(&'static str, String)> {
    if t.verdict == TrainingVerdict::Blocked {
        return Vec::new();
    }
    vec![
        (DECISION_HEADER, t.verdict.as_str().to_owned()),
        (RULE_HEADER, t.endpoint.clone()),
        (STRIPPED_HEADER, t.stats.records_stripped.to_string()),
    ]
}

/// Counter increments for one upload: `(metric name, amount)`.
pub fn training_metrics(t: &TrainingOutcome) -> Vec<(String, u64)> {
    let e = &t.endpoint;
    vec![
        (
            format!(
                "wa_guard_training_uploads_total.endpoint.{e}.outcome.{}",
                t.verdict.as_str()
            ),
            1,
        ),
        (
            format!("wa_guard_training_records_total.endpoint.{e}.result.seen"),
            t.stats.records_seen,
        ),
        (
            format!("wa_guard_training_records_total.endpoint.{e}.result.stripped"),
            t.stats.records_stripped,
        ),
        (
            format!("wa_guard_training_bytes_total.endpoint.{e}.direction.in"),
            t.bytes_in,
        ),
        (
            format!("wa_guard_training_bytes_total.endpoint.{e}.direction.out"),
            t.bytes_out,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{HandoffNote, Reason, RoleLabel, Verdict};
    use crate::document::LogSection;
    use crate::whatsapp::Endpoint;
    use crate::whatsapp::providers::Provider;
    use serde_json::Value;

    fn decision(message_type: &str) -> Decision {
        Decision {
            verdict: Verdict::Block,
            rule: "content_classifier".into(),
            reason: Reason::GeneralAssistantContent,
            role: RoleLabel::Unknown,
            score: Some(0.91),
            signals: vec!["md_bold=+0.40".into()],
            identity: None,
            endpoint: Endpoint::Messages,
            edge: "messages".into(),
            path_id: Some("106540352240000".into()),
            message_type: Some(message_type.into()),
            recipient: Some("+1 650 555 0123".into()),
            template_name: None,
            template_category: None,
            provider: Provider::CloudApi,
            handoff: None,
            unanswered: None,
        }
    }

    fn line(d: &Decision, ctx: &LineContext<'_>) -> Value {
        serde_json::from_str(&decision_line(d, ctx)).unwrap()
    }

    const CTX: LineContext<'static> = LineContext {
        request_id: "r1",
        policy: "p",
        salt: "",
        sample: 1.0,
        now_nanos: None,
    };

    #[test]
    fn a_hand_off_is_logged_counted_and_marked_on_the_response() {
        let mut d = decision("text");
        d.verdict = Verdict::Handoff;
        d.handoff = Some(HandoffNote::Sent {
            language: "es".into(),
            format: "cta_url",
        });
        let l = line(&d, &CTX);
        assert_eq!(l["decision"], "handoff");
        assert_eq!(l["reason"], "general_assistant_content");
        assert_eq!(l["handoff_language"], "es");
        assert_eq!(l["handoff_format"], "cta_url");
        assert_eq!(log_sample(&d, &LogSection::default(), "r1"), Some(1.0));
        assert_eq!(
            metric_name(&d),
            "wa_guard_decisions_total.decision.handoff.rule.content_classifier.reason.general_assistant_content.role.unknown.provider.cloud_api"
        );
        assert_eq!(
            response_headers(&d),
            [
                (DECISION_HEADER, "handoff".to_owned()),
                (RULE_HEADER, "content_classifier".to_owned())
            ]
        );
    }

    #[test]
    fn a_hand_off_that_cannot_rewrite_is_a_403_that_says_why() {
        let mut d = decision("template");
        d.verdict = Verdict::Handoff;
        d.handoff_unavailable("message_type");
        assert_eq!(d.verdict, Verdict::Block);
        assert_eq!(d.reason, Reason::HandoffUnavailable);
        let reply = blocked_reply(&d, "r1");
        assert_eq!(reply.status, 403);
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("reason `handoff_unavailable`")
                && message.contains("(general_assistant_content)")
                && message.contains("a `template` message has no compliant replacement"),
            "{message}"
        );
        assert_eq!(body["error"]["error_subcode"], 4_390_013);
        let l = line(&d, &CTX);
        assert_eq!(l["decision"], "block");
        assert_eq!(l["handoff_unavailable"], "message_type");
        assert_eq!(l["handoff_reason"], "general_assistant_content");
        d.provider = Provider::Twilio;
        let twilio: Value = serde_json::from_slice(&blocked_reply(&d, "r1").body).unwrap();
        assert_eq!(twilio["details"]["wa_guard_reason"], "handoff_unavailable");
    }

    #[test]
    fn score_buckets_are_tenths_with_one_in_the_last() {
        for (score, want) in [
            (0.0, Some("0.0-0.1")),
            (0.094, Some("0.0-0.1")),
            (0.099, Some("0.1-0.2")), // logged as 0.10
            (0.1, Some("0.1-0.2")),
            (0.7, Some("0.7-0.8")),
            (0.799, Some("0.8-0.9")), // logged as 0.80
            (0.91, Some("0.9-1.0")),
            (1.0, Some("0.9-1.0")),
            (f64::NAN, None),
        ] {
            assert_eq!(score_bucket(score).as_deref(), want, "{score}");
        }
        for hundredths in 0..=100u32 {
            let score = f64::from(hundredths) / 100.0;
            let bucket = score_bucket(score).unwrap();
            let low: f64 = bucket[..3].parse().unwrap();
            let high: f64 = bucket[4..].parse().unwrap();
            assert!(
                low <= score && (score < high || score == 1.0),
                "{score} in {bucket}"
            );
        }
    }

    #[test]
    fn sampling_is_deterministic_per_request_id() {
        let ids: Vec<String> = (0..10_000)
            .map(|i| format!("{i:08x}-4f1c-9b2e-request"))
            .collect();
        assert!(
            ids.iter().all(|id| sampled(id, "k", 1.0)),
            "rate 1 keeps every line"
        );
        let kept = ids.iter().filter(|id| sampled(id, "k", 0.25)).count();
        assert!(
            (2_350..=2_650).contains(&kept),
            "0.25 kept {kept} of 10,000"
        );
        let kept_small = ids.iter().filter(|id| sampled(id, "k", 0.01)).count();
        assert!((60..=140).contains(&kept_small), "0.01 kept {kept_small}");
        for id in ids.iter().take(500) {
            assert_eq!(sampled(id, "k", 0.25), sampled(id, "k", 0.25), "{id}");
            // A lower rate keeps a subset of a higher one's lines.
            assert!(!sampled(id, "k", 0.1) || sampled(id, "k", 0.25), "{id}");
        }
        // Another key (the deployment's salt) picks other ids: a caller that chooses its own
        // request ids cannot tell which are logged without the salt.
        let same = ids
            .iter()
            .filter(|id| sampled(id, "k", 0.25) == sampled(id, "other salt", 0.25))
            .count();
        assert!((5_700..=6_800).contains(&same), "{same} of 10,000 agree");
    }

    #[test]
    fn blocks_and_audits_are_always_logged_and_allowed_ones_sampled() {
        let mut log = LogSection::default();
        let mut d = decision("text");
        assert_eq!(log_sample(&d, &log, "r1"), Some(1.0));
        d.verdict = Verdict::Audit;
        log.allowed_sample_rate = 0.01;
        assert_eq!(log_sample(&d, &log, "r1"), Some(1.0));
        d.verdict = Verdict::Allow;
        assert_eq!(log_sample(&d, &log, "r1"), None, "log_allowed is off");
        log.log_allowed = true;
        let ids: Vec<String> = (0..1_000).map(|i| format!("req-{i}")).collect();
        let samples: Vec<Option<f64>> = ids.iter().map(|id| log_sample(&d, &log, id)).collect();
        assert!(samples.iter().all(|s| s.is_none() || *s == Some(0.01)));
        assert!((1..=30).contains(&samples.iter().flatten().count()));
        // No request id: logged, and counted as such.
        assert_eq!(log_sample(&d, &log, ""), Some(1.0));
        log.allowed_sample_rate = 1.0;
        assert!(ids.iter().all(|id| log_sample(&d, &log, id) == Some(1.0)));
    }

    #[test]
    fn a_line_carries_time_sample_template_and_score_bucket() {
        let mut d = decision("template");
        d.template_name = Some("order_update".into());
        let with_clock = LineContext {
            sample: 0.25,
            now_nanos: Some(1_796_615_482_123_000_000),
            ..CTX
        };
        let v = line(&d, &with_clock);
        assert_eq!(v["ts"], "2026-12-07T03:51:22.123Z");
        assert_eq!(v["sample"], 0.25);
        assert_eq!(v["template_name"], "order_update");
        assert_eq!(v["score_bucket"], "0.9-1.0");
        assert!(v.get("template_category").is_none(), "{v}");
        // Without a clock, no `ts`; every kept line says `sample: 1`; no score, no bucket.
        d.score = None;
        d.template_name = Some("Hello Anna, your order".into());
        d.template_category = Some("MARKETING".into());
        let v = line(&d, &CTX);
        assert!(
            v.get("ts").is_none() && v.get("score_bucket").is_none(),
            "{v}"
        );
        assert!(v.get("template_name").is_none(), "not a template name: {v}");
        assert_eq!(v["template_category"], "marketing");
        assert_eq!(decision_line(&d, &CTX).matches("\"sample\":1").count(), 1);
        let v = line(&decision("text"), &CTX);
        assert_eq!(v["score"], 0.91);
    }

    #[test]
    fn a_sender_that_is_a_phone_number_is_never_logged() {
        let logged = |provider: Provider, sender: &str| {
            let mut d = decision("text");
            d.provider = provider;
            d.path_id = Some(sender.into());
            let text = decision_line(&d, &CTX);
            let v: Value = serde_json::from_str(&text).unwrap();
            (v["phone_number_id"].as_str().map(str::to_owned), text)
        };
        for (provider, number) in [
            (Provider::Twilio, "+14155550100"),
            (Provider::Vonage, "14155550100"),
            (Provider::Infobip, "441134960000"),
            (Provider::Gupshup, "917834811114"),
            (Provider::Bird, "+3197010000000"),
            (Provider::Dialog360, "+49 151 1234-5678"),
        ] {
            let (id, text) = logged(provider, number);
            assert_eq!(id, None, "{provider:?}");
            assert!(!text.contains(number), "{text}");
        }
        for (provider, id) in [
            (Provider::CloudApi, "106540352240000"),
            (Provider::Twilio, "MG9752274e9e519418a7406176694466fa"),
            (Provider::Twilio, "is0123"),
            (Provider::Sinch, "01HQ7Z3X9K"),
            (Provider::Bird, "9c2e-77"),
            (Provider::AwsSocialMessaging, "phone-number-id-0a1b2c3d"),
            (Provider::Gupshup, "f1b2c3d4-0e5f-4a6b-8c7d-9e0f1a2b3c4d"),
        ] {
            assert_eq!(logged(provider, id).0.as_deref(), Some(id), "{provider:?}");
        }
    }

    #[test]
    fn recipient_hash_needs_a_salt() {
        let with: Value =
            serde_json::from_str(&log_line(&decision("text"), "r1", "s3cret", "p")).unwrap();
        let hash = with["recipient_hash"].as_str().unwrap();
        assert_eq!(hash, recipient_hash("16505550123", "s3cret"));
        assert!(!with.to_string().contains("6505550123"));
        let without: Value =
            serde_json::from_str(&log_line(&decision("text"), "r1", "", "p")).unwrap();
        assert!(without["recipient_hash"].is_null(), "{without}");
    }

    #[test]
    fn a_twilio_block_answers_in_twilio_s_error_shape() {
        let mut d = decision("text");
        d.provider = Provider::Twilio;
        let reply = blocked_reply(&d, "r1");
        assert_eq!(reply.status, 403);
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["code"], 20403);
        assert_eq!(body["status"], 403);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("content_classifier")
        );
        assert!(body["more_info"].as_str().unwrap().starts_with("https://"));
        assert_eq!(body["details"]["error_subcode"], 4390006);
        d.provider = Provider::Dialog360;
        let body: Value = serde_json::from_slice(&blocked_reply(&d, "r1").body).unwrap();
        assert_eq!(body["error"]["code"], 10);
        d.provider = Provider::Vonage;
        let body: Value = serde_json::from_slice(&blocked_reply(&d, "r1").body).unwrap();
        assert_eq!(
            (body["title"].as_str(), body["instance"].as_str()),
            (Some("Forbidden"), Some("r1"))
        );
        assert_eq!(body["error_subcode"], 4390006);
        d.provider = Provider::Infobip;
        let body: Value = serde_json::from_slice(&blocked_reply(&d, "r1").body).unwrap();
        let e = &body["requestError"]["serviceException"];
        assert_eq!(
            (e["messageId"].as_str(), e["request_id"].as_str()),
            (Some("FORBIDDEN"), Some("r1"))
        );
    }
}
