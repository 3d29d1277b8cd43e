//! The differential test: every policy case in `policies/tests/*.json` runs through the native
//! engine (`wa_egress_guard::cases::run_native`, which drives `RequestFlow`) and through the
//! built `.wasm` in this host, with the body split at every byte boundary (bodies up to
//! 2 KiB) or at seeded random points (larger bodies). Both must give the same verdict and
//! forward the same bytes, and the `.wasm` must satisfy the case's `want`.
//!
//! In a debug build of this test the split points are sampled (every 16th boundary plus the
//! first and last 8) to keep the run short; `make test-host` runs the release build, which
//! tries every boundary.

use std::path::Path;

use host_tests::state::properties::dotted;
use host_tests::{Chunking, Filter, HostOptions, HttpRequest, Outcome, Verdict};
use wa_egress_guard::cases::{self, CaseRequest, Observed};

use crate::support::*;

const EXHAUSTIVE_LIMIT: usize = 2048;
const RANDOM_SPLITS: usize = 48;
const MAX_REPORTED: usize = 40;

/// The case's request as this host sends it, in one chunk. The node properties are set VM-wide
/// instead (`node_properties`).
fn wasm_request(request: &CaseRequest) -> HttpRequest {
    let mut wasm = HttpRequest::try_from(request).unwrap();
    // The native runner uses this id when the case has none; use the same for parity.
    if !wasm.headers.iter().any(|(k, _)| k == "x-request-id") {
        wasm.headers
            .push(("x-request-id".into(), b"case-request".to_vec()));
    }
    wasm.properties = request
        .properties
        .iter()
        .filter(|(k, _)| !is_node_property(k))
        .map(|(k, v)| (dotted(k), v.as_bytes().to_vec()))
        .collect();
    wasm
}

/// The proxy's own node properties are per process in Envoy, and the filter reads them once
/// per VM; a case that sets them runs in a VM of its own with them set VM-wide.
fn is_node_property(dotted: &str) -> bool {
    dotted.starts_with("node.") || dotted.starts_with("xds.node.")
}

fn node_properties(request: &CaseRequest) -> Vec<(String, String)> {
    let mut node: Vec<(String, String)> = request
        .properties
        .iter()
        .filter(|(k, _)| is_node_property(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    node.sort();
    node
}

/// The wasm run in the native runner's terms.
fn observed(outcome: &Outcome) -> Observed {
    let verdict = Verdict::from_outcome(outcome);
    Observed {
        decision: verdict.decision,
        rule: verdict.rule,
        reason: verdict.reason,
        status: u32::from(verdict.status.unwrap_or(0)),
        forwarded_body: outcome
            .reached_upstream()
            .then(|| outcome.upstream.body.clone()),
        records_stripped: verdict.records_stripped,
    }
}

/// Deterministic xorshift64*.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound as u64) as usize
    }
}

/// The split points to try for a body of `len` bytes.
fn splittings(len: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut all = vec![Vec::new()];
    if len < 2 {
        return all;
    }
    if len <= EXHAUSTIVE_LIMIT {
        let sampled = cfg!(debug_assertions);
        for point in 1..len {
            if !sampled || point % 16 == 0 || point <= 8 || point + 8 >= len {
                all.push(vec![point]);
            }
        }
        all.push((1..len).collect());
        return all;
    }
    let mut rng = Seeded(seed | 1);
    for _ in 0..RANDOM_SPLITS {
        let count = 1 + rng.below(8);
        all.push((0..count).map(|_| 1 + rng.below(len - 1)).collect());
    }
    all.push((1..len).step_by(1024).collect());
    all
}

fn sizes(points: &[usize], len: usize) -> Vec<usize> {
    let mut points: Vec<usize> = points
        .iter()
        .copied()
        .filter(|p| *p > 0 && *p < len)
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut sizes = Vec::new();
    let mut start = 0;
    for point in points {
        sizes.push(point - start);
        start = point;
    }
    sizes
}

fn describe(got: &Observed) -> String {
    format!(
        "{} rule={:?} reason={:?} status={} stripped={:?} forwarded={:?}",
        got.decision,
        got.rule,
        got.reason,
        got.status,
        got.records_stripped,
        got.forwarded_body
            .as_ref()
            .map(|b| String::from_utf8_lossy(b)
                .chars()
                .take(80)
                .collect::<String>())
    )
}

/// What one file's cases gave: the differences found (at most [`MAX_REPORTED`]), the cases the
/// native engine itself misses, and how many chunkings ran.
#[derive(Default)]
struct FileResult {
    failures: Vec<String>,
    engine_misses: Vec<String>,
    runs: usize,
}

/// Every case of one file, through one VM per distinct set of node properties. `first_case`
/// numbers the file's cases after those of the files before it, so that each case's split
/// points are seeded as when the files ran one after the other.
fn run_file(file: &cases::LoadedCases, first_case: usize) -> FileResult {
    let name = file
        .path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut result = FileResult::default();
    let mut vms: Vec<(Vec<(String, String)>, Filter)> = Vec::new();
    let started = std::time::Instant::now();
    for (index, case) in file.cases.iter().enumerate() {
        let case_started = std::time::Instant::now();
        let case_count = first_case + index + 1;
        let sent = wasm_request(&case.request);
        let body = &sent.body;
        let seed = 0x9E37_79B9 ^ ((case_count as u64) << 20) ^ body.len() as u64;
        let mut reported = false;
        let node = node_properties(&case.request);
        let at = match vms.iter().position(|(n, _)| *n == node) {
            Some(at) => at,
            None => {
                let mut filter = Filter::start(module(), HostOptions::default())
                    .unwrap()
                    .configure(&file.policy_json)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                for (k, v) in &node {
                    filter.set_property(k, v.as_bytes());
                }
                vms.push((node, filter));
                vms.len() - 1
            }
        };
        let filter = &mut vms[at].1;
        for points in splittings(body.len(), seed) {
            result.runs += 1;
            let chunk_sizes = sizes(&points, body.len());
            let native = cases::run_native(&file.policy, &case.request, &chunk_sizes).unwrap();
            let request = HttpRequest {
                chunking: Chunking::SplitAt(points.clone()),
                ..sent.clone()
            };
            let wasm = match filter.send(&request) {
                Ok(outcome) => observed(&outcome),
                Err(error) => panic!("{name} #{index} ({}): {error}", case.note),
            };
            // A case the engine itself misses is the native suite's failure to report;
            // here the `.wasm` must agree with the engine, and meet `want` when it does.
            let wasm_only_miss = !wasm.satisfies(&case.want) && native.satisfies(&case.want);
            if !native.satisfies(&case.want) && !result.engine_misses.contains(&case.note) {
                result.engine_misses.push(case.note.clone());
            }
            if (wasm != native || wasm_only_miss)
                && !reported
                && result.failures.len() < MAX_REPORTED
            {
                reported = true;
                result.failures.push(format!(
                    "{name} #{index} {} (chunks {:?}):\n  want   {:?}\n  native {}\n  wasm   {}",
                    case.note,
                    chunk_sizes,
                    case.want,
                    describe(&native),
                    describe(&wasm)
                ));
            }
        }
        if case_started.elapsed().as_secs() >= 2 {
            eprintln!(
                "  slow case {name} #{index} ({} bytes): {:?}",
                body.len(),
                case_started.elapsed()
            );
        }
    }
    eprintln!("{name}: {:?}", started.elapsed());
    result
}

/// The files are shared among the machine's cores (at most 4 threads), each thread with its
/// own VMs; the results are gathered in file order, so the report reads as one sequential run.
#[test]
fn native_engine_and_wasm_agree_on_every_case_and_chunking() {
    let dir = workspace_root().join("policies/tests");
    let files = cases::load_dir(Path::new(&dir)).unwrap();
    let case_count: usize = files.iter().map(|f| f.cases.len()).sum();
    let first_cases: Vec<usize> = files
        .iter()
        .scan(0, |seen, f| {
            let first = *seen;
            *seen += f.cases.len();
            Some(first)
        })
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, FileResult)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        done.push((i, run_file(file, first_cases[i])));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    let runs: usize = results.iter().map(|(_, r)| r.runs).sum();
    let failures: Vec<String> = results
        .iter()
        .flat_map(|(_, r)| r.failures.iter().cloned())
        .take(MAX_REPORTED)
        .collect();
    eprintln!("differential: {case_count} cases, {runs} chunkings, {threads} threads");
    for (_, r) in &results {
        for note in &r.engine_misses {
            eprintln!(
                "note: the native engine misses `want` too (see the native policy_cases test): {note}"
            );
        }
    }
    assert!(case_count > 0, "no cases in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
