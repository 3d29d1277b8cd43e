//! Runs every policy test case in `policies/tests/` through the native engine, whole-body.
//! `host-tests` runs the same files against the `.wasm`, with every chunking.

use std::path::{Path, PathBuf};
use wa_egress_guard::cases;

/// `policies/tests`, or the directory in `WA_GUARD_CASES` (a reviewer's round of attack cases
/// is run the same way before its cases join the suite).
fn cases_dir() -> PathBuf {
    std::env::var_os("WA_GUARD_CASES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/tests"),
        PathBuf::from,
    )
}

#[test]
fn every_policy_case_holds_natively() {
    let files = cases::load_dir(&cases_dir()).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        for case in &file.cases {
            count += 1;
            let got = cases::run_native(&file.policy, &case.request, &[]).unwrap();
            if !got.satisfies(&case.want) {
                failures.push(format!(
                    "{}: {}\n  want {:?}\n  got  {} {:?} {:?}",
                    file.path.file_name().unwrap().to_string_lossy(),
                    case.note,
                    case.want,
                    got.decision,
                    got.rule,
                    got.reason
                ));
            }
            // WhatsApp calls are never rewritten; training uploads are checked by `forwarded_text`.
            let unchanged = matches!(
                got.decision.as_str(),
                "allow" | "none" | "forward" | "exclusive"
            ) || (got.decision == "audit" && got.records_stripped.is_none());
            if unchanged {
                let expected = cases::unchanged_body(&file.policy, &case.request, &got).unwrap();
                if got.forwarded_body.as_deref() != Some(&expected[..]) {
                    failures.push(format!(
                        "{}: {}\n  an allowed body must reach the upstream byte for byte",
                        file.path.file_name().unwrap().to_string_lossy(),
                        case.note
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        count > 0,
        "no policy cases found in {}",
        cases_dir().display()
    );
}

/// The same cases with the body cut in small chunks: chunking must never change a verdict or
/// the forwarded bytes (host-tests repeats this against the `.wasm` with every split point).
#[test]
fn every_policy_case_holds_natively_in_small_chunks() {
    let dir = cases_dir();
    let mut failures = Vec::new();
    for file in cases::load_dir(&dir).unwrap() {
        for case in &file.cases {
            let len = case.request.body_bytes().unwrap().len();
            let chunks = vec![7; len / 7 + 1];
            let got = cases::run_native(&file.policy, &case.request, &chunks).unwrap();
            if !got.satisfies(&case.want) {
                failures.push(format!(
                    "{}: {} -> {} {:?}",
                    file.path.display(),
                    case.note,
                    got.decision,
                    got.reason
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
