//! `bench`: microseconds per request through the built filter in wasmtime, next to the native
//! engine (`wa_egress_guard::flow::RequestFlow`) on the same requests.
//!
//! ```text
//! bench --wasm W --policy P.json [--requests R.jsonl] [--iterations N] [--chunk BYTES]
//! ```
//!
//! The wasm figure is the whole filter (glue, hostcalls, metrics and logs) plus this host's
//! bookkeeping per request, through one VM; the native figure is the engine alone, driven
//! the way the glue drives it (only when built with `--features native`:
//! `cargo run -p host-tests --profile host --features native --bin bench -- ...`). Without
//! `--requests` a built-in mix of WhatsApp calls is used.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use host_tests::{Chunking, Filter, HostOptions, HttpRequest, WasmModule};
use wa_egress_guard::cases::CaseRequest;

const USAGE: &str = "usage: bench --wasm FILE --policy POLICY.json [--requests REQUESTS.jsonl] [--iterations N] [--chunk BYTES]";

const BUILTIN: &[&str] = &[
    r#"{"note":"text to an unknown number, unknown caller","path":"/v21.0/999000/messages","body":{"messaging_product":"whatsapp","to":"15550001111","type":"text","text":{"body":"Your order 4411 has shipped and arrives Thursday. Reply STOP to opt out."}}}"#,
    r#"{"note":"assistant-style text, unknown caller","path":"/v21.0/999000/messages","body":{"messaging_product":"whatsapp","to":"15550001111","type":"text","text":{"body":"As an AI language model, I can help you with anything: write an essay, plan a trip, or explain quantum physics. What would you like to know?"}}}"#,
    r#"{"note":"template message","path":"/v21.0/999000/messages","body":{"messaging_product":"whatsapp","to":"15550001111","type":"template","template":{"name":"order_update","language":{"code":"en_US"}}}}"#,
    r#"{"note":"other host, passes through","authority":"api.example.com","path":"/v1/things","body":{"x":1}}"#,
];

struct Args {
    wasm: PathBuf,
    policy: PathBuf,
    requests: Option<PathBuf>,
    iterations: usize,
    chunk: usize,
}

fn parse_args(mut raw: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut wasm, mut policy, mut requests, mut iterations, mut chunk) =
        (None, None, None, 2000, 0);
    while let Some(flag) = raw.next() {
        let mut value = |name: &str| raw.next().ok_or(format!("`{name}` needs a value"));
        match flag.as_str() {
            "--wasm" => wasm = Some(PathBuf::from(value("--wasm")?)),
            "--policy" => policy = Some(PathBuf::from(value("--policy")?)),
            "--requests" => requests = Some(PathBuf::from(value("--requests")?)),
            "--iterations" => {
                iterations = value("--iterations")?
                    .parse()
                    .map_err(|e| format!("`--iterations`: {e}"))?;
            }
            "--chunk" => {
                chunk = value("--chunk")?
                    .parse()
                    .map_err(|e| format!("`--chunk`: {e}"))?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Args {
        wasm: wasm.ok_or("`--wasm` is required")?,
        policy: policy.ok_or("`--policy` is required")?,
        requests,
        iterations: iterations.max(1),
        chunk,
    })
}

/// One request prepared for both sides.
struct Prepared {
    note: String,
    wasm: HttpRequest,
    #[cfg(feature = "native")]
    native: native::NativeRequest,
}

fn prepare(spec: &CaseRequest, chunk: usize) -> Result<Prepared, String> {
    let mut wasm = HttpRequest::try_from(spec)?;
    wasm.chunking = Chunking::Every(chunk);
    Ok(Prepared {
        note: spec.label(),
        #[cfg(feature = "native")]
        native: native::NativeRequest::new(spec, &wasm),
        wasm,
    })
}

/// The hook for the native side: the engine alone, driven as the glue drives it.
#[cfg(feature = "native")]
mod native {
    use host_tests::HttpRequest;
    use wa_egress_guard::cases::CaseRequest;
    use wa_egress_guard::{HeadersStep, Policy, RequestFlow, RequestHead, StaticAttributes};

    pub struct Engine(Policy);

    impl Engine {
        pub fn new(policy_json: &[u8]) -> Result<Engine, String> {
            Policy::from_json(policy_json)
                .map(Engine)
                .map_err(|e| e.to_string())
        }
    }

    pub struct NativeRequest {
        head: RequestHead,
        attributes: StaticAttributes,
        chunks: Vec<Vec<u8>>,
        /// The request ends with trailers: no chunk ends the stream.
        trailers: bool,
    }

    impl NativeRequest {
        pub fn new(spec: &CaseRequest, wasm: &HttpRequest) -> NativeRequest {
            let header = |name: &str| {
                wasm.headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            };
            // The headers the glue reads, `x-http-method-override` too, as the glue reads them.
            let mut head = RequestHead::from_headers(
                wasm.method.clone(),
                wasm.authority.clone(),
                wasm.path.clone(),
                &header,
                wasm.body.is_empty() && !spec.trailers,
            );
            head.request_id.get_or_insert_with(|| "bench".into());
            let mut attributes = StaticAttributes::new();
            for (name, value) in &wasm.headers {
                attributes = attributes.header(name, &String::from_utf8_lossy(value));
            }
            for (key, value) in &spec.properties {
                attributes = attributes.property(key, value.as_bytes());
            }
            let chunks = wasm
                .chunking
                .split(&wasm.body)
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect();
            NativeRequest {
                head,
                attributes,
                chunks,
                trailers: spec.trailers,
            }
        }
    }

    /// One request through `RequestFlow`; returns the bytes it would forward.
    pub fn run(engine: &Engine, request: &NativeRequest) -> usize {
        let policy = &engine.0;
        let (mut flow, step) = RequestFlow::on_request_headers(
            policy,
            &request.head,
            &request.attributes,
            &wa_egress_guard::training::parts::MemoryStore::default(),
        );
        if !matches!(
            step,
            HeadersStep::InspectBody
                | HeadersStep::InspectRewritable { .. }
                | HeadersStep::Strip { .. }
        ) {
            return 0;
        }
        if matches!(step, HeadersStep::InspectRewritable { .. }) {
            flow.framing_removed();
        }
        // A refused request forwards nothing; the bench counts what reaches the upstream.
        let forwarded = wa_egress_guard::cases::drive_body(
            &mut flow,
            policy,
            request.chunks.iter().map(Vec::as_slice),
            request.trailers,
        )
        .map_or(0, |f| f.len());
        let _ = flow.take_new_outcome();
        forwarded
    }
}

struct Stats {
    mean: f64,
    p50: f64,
    p99: f64,
}

fn measure(
    iterations: usize,
    mut once: impl FnMut() -> Result<(), String>,
) -> Result<Stats, String> {
    for _ in 0..(iterations / 10).max(10) {
        once()?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        once()?;
        samples.push(start.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| {
        samples
            .get(((samples.len() - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    Ok(Stats {
        mean: samples.iter().sum::<f64>() / samples.len() as f64,
        p50: at(0.5),
        p99: at(0.99),
    })
}

fn load_specs(path: Option<&PathBuf>) -> Result<Vec<CaseRequest>, String> {
    let Some(path) = path else {
        return BUILTIN
            .iter()
            .map(|line| CaseRequest::parse(line))
            .collect();
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            CaseRequest::parse(l).map_err(|e| format!("`{}` line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn run(args: &Args) -> Result<(), String> {
    let policy_bytes = std::fs::read(&args.policy)
        .map_err(|e| format!("cannot read `{}`: {e}", args.policy.display()))?;
    #[cfg(feature = "native")]
    let engine = native::Engine::new(&policy_bytes)
        .map_err(|e| format!("`{}`: {e}", args.policy.display()))?;
    let module = WasmModule::from_file(&args.wasm).map_err(|e| e.to_string())?;
    let mut filter = Filter::start(&module, HostOptions::default())
        .and_then(|f| f.configure(&policy_bytes))
        .map_err(|e| e.to_string())?;
    let specs = load_specs(args.requests.as_ref())?;
    let requests: Vec<Prepared> = specs
        .iter()
        .map(|s| prepare(s, args.chunk))
        .collect::<Result<_, _>>()?;

    println!(
        "{:<48} {:>10} {:>10} {:>10} {:>11} {:>7}",
        "request", "wasm mean", "wasm p50", "wasm p99", "native mean", "ratio"
    );
    for request in &requests {
        let wasm = measure(args.iterations, || {
            filter
                .send(&request.wasm)
                .map(drop)
                .map_err(|e| e.to_string())
        })?;
        let note: String = request.note.chars().take(48).collect();
        #[cfg(feature = "native")]
        let native = {
            let native = measure(args.iterations, || {
                std::hint::black_box(native::run(&engine, &request.native));
                Ok(())
            })?;
            format!(
                "{:>9.1}µs {:>6.1}x",
                native.mean,
                wasm.mean / native.mean.max(0.001)
            )
        };
        #[cfg(not(feature = "native"))]
        let native = format!("{:>11} {:>7}", "n/a", "-");
        println!(
            "{note:<48} {:>8.1}µs {:>8.1}µs {:>8.1}µs {native}",
            wasm.mean, wasm.p50, wasm.p99
        );
    }
    #[cfg(not(feature = "native"))]
    println!("native: build with `--features native` to measure the engine alone");
    println!(
        "{} requests through one VM; guest memory {} KiB",
        filter.requests_sent(),
        filter.memory_bytes() / 1024
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("bench: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench: {message}");
            ExitCode::from(1)
        }
    }
}
