//! Files uploaded in parts (OpenAI Uploads) through the real module: the record a part ends
//! inside is carried to the next part in the host's shared data, each part's id is read from
//! its response body, and `/complete` goes through only for those parts in that order.

use host_tests::{Filter, UpstreamResponse, Verdict};

use crate::support::*;

const CLEAN: &str = "{\"messages\":[{\"role\":\"user\",\"content\":\"¿Dónde está mi pedido? 📦\"},{\"role\":\"assistant\",\"content\":\"Llega mañana.\"}]}\n";
const FROM_WHATSAPP: &str = "{\"messages\":[{\"role\":\"user\",\"content\":\"hola\"}],\"meta\":{\"message_id\":\"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz\"}}\n";

fn part_body(data: &[u8]) -> Vec<u8> {
    let mut b = b"--b\r\nContent-Disposition: form-data; name=\"data\"; filename=\"upload\"\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    b.extend_from_slice(data);
    b.extend_from_slice(b"\r\n--b--\r\n");
    b
}

/// Sends a part; the upstream accepts it under `id`. Returns (status, verdict).
fn part(filter: &mut Filter, upload: &str, data: &[u8], id: &str) -> (u16, Verdict) {
    let body = part_body(data);
    let outcome = filter
        .request()
        .method("POST")
        .authority("api.openai.com")
        .path(&format!("/v1/uploads/{upload}/parts"))
        .header("content-type", "multipart/form-data; boundary=b")
        .body(&body)
        .upstream_response(UpstreamResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: format!(r#"{{"id":"{id}","object":"upload.part","upload_id":"{upload}"}}"#)
                .into_bytes(),
        })
        .send()
        .unwrap();
    let status = outcome.response.as_ref().map_or(0, |r| r.status);
    if outcome.reached_upstream() {
        assert_eq!(
            outcome.upstream.body, body,
            "a part is forwarded byte for byte"
        );
    }
    (status, Verdict::from_outcome(&outcome))
}

fn complete(filter: &mut Filter, upload: &str, ids: &[&str]) -> (u16, Verdict) {
    let body = serde_json::json!({ "part_ids": ids }).to_string();
    let outcome = filter
        .request()
        .method("POST")
        .authority("api.openai.com")
        .path(&format!("/v1/uploads/{upload}/complete"))
        .header("content-type", "application/json")
        .body(body.as_bytes())
        .send()
        .unwrap();
    let status = outcome.response.as_ref().map_or(0, |r| r.status);
    (status, Verdict::from_outcome(&outcome))
}

#[test]
fn a_clean_file_cut_inside_records_and_characters_completes() {
    let file = CLEAN.repeat(20);
    let cut_a = file.find('📦').unwrap() + 2; // inside the emoji
    let cut_b = file.len() / 2 + 3;
    let mut filter = default_filter();
    let bytes = file.as_bytes();
    assert_eq!(
        part(&mut filter, "upload_1", &bytes[..cut_a], "part_a").0,
        200
    );
    assert_eq!(
        part(&mut filter, "upload_1", &bytes[cut_a..cut_b], "part_b").0,
        200
    );
    assert_eq!(
        part(&mut filter, "upload_1", &bytes[cut_b..], "part_c").0,
        200
    );
    // The state is in the host's shared data until the upload completes.
    let key = "wa_egress_guard.upload.upload_1";
    assert!(filter.shared_data(key).is_some_and(|(v, _)| !v.is_empty()));
    let (status, verdict) = complete(&mut filter, "upload_1", &["part_a", "part_b", "part_c"]);
    assert_eq!(status, 200, "{verdict:?}");
    assert!(filter.shared_data(key).is_none_or(|(v, _)| v.is_empty()));
}

#[test]
fn a_whatsapp_record_split_across_parts_is_refused_where_it_ends() {
    let file = format!("{CLEAN}{FROM_WHATSAPP}{CLEAN}");
    let cut = file.find("wamid").unwrap() + 2;
    let mut filter = default_filter();
    let (first, _) = part(&mut filter, "upload_2", &file.as_bytes()[..cut], "part_a");
    assert_eq!(first, 200);
    let (second, verdict) = part(&mut filter, "upload_2", &file.as_bytes()[cut..], "part_b");
    assert_eq!(second, 403, "{verdict:?}");
    assert_eq!(verdict.decision, "block");
    assert_eq!(verdict.reason.as_deref(), Some("whatsapp_records_in_part"));
    assert_eq!(verdict.rule.as_deref(), Some("openai-upload-parts"));
}

#[test]
fn complete_in_another_order_or_for_unseen_parts_is_refused() {
    let file = CLEAN.repeat(6);
    let cut = file.len() / 2 + 5;
    let mut filter = default_filter();
    part(&mut filter, "upload_3", &file.as_bytes()[..cut], "part_a");
    part(&mut filter, "upload_3", &file.as_bytes()[cut..], "part_b");
    let (status, verdict) = complete(&mut filter, "upload_3", &["part_b", "part_a"]);
    assert_eq!(status, 403);
    assert_eq!(verdict.reason.as_deref(), Some("upload_parts_out_of_order"));
    let (status, verdict) = complete(&mut filter, "upload_never_seen", &["part_a"]);
    assert_eq!(status, 403);
    assert_eq!(verdict.reason.as_deref(), Some("upload_parts_not_seen"));
    let (status, _) = complete(&mut filter, "upload_3", &["part_a", "part_b"]);
    assert_eq!(status, 200);
}
