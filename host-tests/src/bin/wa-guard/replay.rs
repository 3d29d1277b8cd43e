//! `wa-guard replay`: recorded requests decided by two policies, and every request whose
//! verdict changes. Traffic comes as JSON lines of the request format `explain` reads, a
//! directory of request files, a HAR file, or Envoy tap output (`http_buffered_trace`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use host_tests::component::{
    Attribute, Evaluation, GuardComponent, Outcome, PolicyHandle, RequestHead,
};
use serde_json::{Value, json};
use wa_egress_guard::cases::{CaseRequest, decode_base64};

use crate::args::{self, Arg, Args};
use crate::{Fatal, action, case_request, compile_or_report, curl_trace, http};

pub const HELP: &str = "\
wa-guard replay: decide recorded requests with two policies and print every request whose
verdict changes, with both verdicts.

Usage: wa-guard replay [--format text|json] [--exit-code] [--peer ADDR] [--attr NAME=VALUE]...
                       [--timing N] --old A.json --new B.json TRAFFIC...

TRAFFIC is any of
  a JSONL file of requests in the JSON format `explain` reads (a policy case's
  \"request\"), one per line, each with an optional \"id\" that names it (else its
  \"note\"): {\"id\", \"method\", \"authority\", \"path\", \"headers\", \"properties\",
  \"body\" | \"body_text\" | \"body_base64\", \"encode\"};
  a directory of request files: *.json (one JSON request), *.http (a raw HTTP/1.1 request),
  curl --trace or --trace-ascii output (*.txt, *.trace), and *.jsonl, *.har inside it;
  a HAR file (*.har: log.entries[].request; the body is postData.text, base64 with
  \"encoding\", or, without text, postData.params sent as a form, name=value percent-encoded
  and joined by &; an entry's \"_wa_guard_properties\" object, {\"NAME\": \"VALUE\"}, is its
  Envoy attributes, as \"properties\" in a JSON request);
  Envoy tap output: http_buffered_trace traces, one JSON document or JSON lines (the
  downstream connection's remote address becomes source.address).
A WhatsApp request compares action, rule and reason; a training upload compares its upload
verdict and counts (records stripped); a request neither policy governs is unchanged.

--timing N evaluates each request N more times with each policy and prints, on standard
error, the microseconds per call through the component (mean and median, after one call
that warms it): the engine's cost in wasmtime, the component boundary included.

--peer ADDR is the caller's address (Envoy's source.address) for the requests that do not
record one (a HAR file, a raw request).

--attr NAME=VALUE is an Envoy attribute by name for every request that does not record its own
of that name: the caller's identity for traffic that carries none, e.g.
  --attr connection.uri_san_peer_certificate=spiffe://cluster.local/ns/a/sa/b
(--peer ADDR is --attr source.address=ADDR).

A line of a JSON lines file (or a HAR entry) that cannot be read, not JSON or not a request,
is reported on standard error as FILE:LINE and why, and the replay goes on without it; the
exit status is then 2, after the report, and --format json counts such lines in \"unreadable\".

Prints each change, then `replay: N requests, M changed`. `--format json` prints one JSON
document: {\"requests\", \"changed\": [{\"id\", \"method\", \"authority\", \"path\", \"old\":
{\"action\", \"rule\", \"reason\"}, \"new\": {..}}], \"unchanged\", \"unreadable\"}. Exit status 0;
with --exit-code, 1 when a verdict changed; 2 when a line could not be read or on an error.

Examples:
  wa-guard replay --old policies/default.json --new my-policy.json traffic.jsonl
  wa-guard replay --old a.json --new b.json captured.har tap/
  wa-guard replay --attr connection.uri_san_peer_certificate=spiffe://cluster.local/ns/ai/sa/bot \\
                  --old a.json --new b.json sdk-proxy.har
  wa-guard replay --format json --exit-code --old a.json --new b.json requests/";

/// One recorded request.
pub struct Recorded {
    pub id: String,
    pub head: RequestHead,
    pub body: Vec<u8>,
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Default)]
struct Options {
    json: bool,
    exit_code: bool,
    old: Option<String>,
    new: Option<String>,
    attributes: Vec<Attribute>,
    timing: Option<usize>,
    traffic: Vec<String>,
}

impl Options {
    fn parse(words: Vec<String>) -> Result<Options, Fatal> {
        let mut o = Options::default();
        let mut args = Args::new(words);
        while let Some(arg) = args.next() {
            let flag = match arg {
                Arg::Operand(file) => {
                    o.traffic.push(file);
                    continue;
                }
                Arg::Flag(flag) => flag,
            };
            match flag.as_str() {
                "--format" => o.json = args::text_or_json(&flag, &args.value(&flag)?)?,
                "--exit-code" => o.exit_code = true,
                "--old" => o.old = Some(args.value(&flag)?),
                "--new" => o.new = Some(args.value(&flag)?),
                "--peer" => o.attributes.push(args::peer(args.value(&flag)?)),
                "--attr" => o.attributes.push(args::attribute(&args.value(&flag)?)?),
                "--timing" => {
                    let n = args.value(&flag)?;
                    let n = n
                        .parse::<usize>()
                        .map_err(|e| Fatal(format!("`--timing {n}`: {e}")))?;
                    o.timing = Some(n.max(1));
                }
                _ => return Err(args::unknown(&flag)),
            }
        }
        Ok(o)
    }
}

pub fn run(guard: &mut GuardComponent, args: Vec<String>) -> Result<ExitCode, Fatal> {
    let o = Options::parse(args)?;
    let (Some(old_file), Some(new_file)) = (&o.old, &o.new) else {
        return Err(Fatal(
            "replay needs --old and --new policies (see --help)".into(),
        ));
    };
    if o.traffic.is_empty() {
        return Err(Fatal("replay needs TRAFFIC (see --help)".into()));
    }
    let old = compile_or_report(guard, old_file)?;
    let new = compile_or_report(guard, new_file)?;
    let mut requests = Vec::new();
    let mut unreadable = Vec::new();
    for t in &o.traffic {
        requests.extend(read_traffic(Path::new(t), &mut unreadable)?);
    }
    for problem in &unreadable {
        eprintln!("error: {problem} (skipped)");
    }
    for r in &mut requests {
        for a in &o.attributes {
            if !r.attributes.iter().any(|own| own.name == a.name) {
                r.attributes.push(a.clone());
            }
        }
    }
    let mut changed = Vec::new();
    for r in &requests {
        let before = verdict(guard, old, r)?;
        let after = verdict(guard, new, r)?;
        if before != after {
            if !o.json {
                println!(
                    "{}: {} {}{}\n  old: {}\n  new: {}",
                    r.id,
                    r.head.method,
                    r.head.authority,
                    r.head.path,
                    describe(&before),
                    describe(&after)
                );
            }
            changed.push(json!({
                "id": r.id,
                "method": r.head.method,
                "authority": r.head.authority,
                "path": r.head.path,
                "old": before,
                "new": after,
            }));
        }
    }
    let n = requests.len();
    if o.json {
        println!(
            "{}",
            json!({"requests": n, "changed": changed, "unchanged": n - changed.len(),
                   "unreadable": unreadable.len()})
        );
    } else if unreadable.is_empty() {
        println!("replay: {n} requests, {} changed", changed.len());
    } else {
        println!(
            "replay: {n} requests, {} changed, {} unreadable line(s) skipped",
            changed.len(),
            unreadable.len()
        );
    }
    if let Some(n) = o.timing {
        timing(guard, (old, new), &requests, n)?;
    }
    guard.drop_policy(old)?;
    guard.drop_policy(new)?;
    Ok(if !unreadable.is_empty() {
        ExitCode::from(2)
    } else if o.exit_code && !changed.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What is compared: a WhatsApp decision's action, rule and reason; an upload's verdict, its
/// endpoint, problem and counts; `none` for an ungoverned request.
fn verdict(guard: &mut GuardComponent, policy: PolicyHandle, r: &Recorded) -> Result<Value, Fatal> {
    let outcome: Outcome = guard.evaluate(policy, &r.head, &r.body, &r.attributes, false)?;
    Ok(match &outcome.evaluation {
        Evaluation::Ungoverned => json!({"action": "none", "rule": null, "reason": null}),
        Evaluation::Whatsapp(d) => json!({
            "action": action(d.action),
            "rule": d.rule,
            "reason": d.reason,
        }),
        Evaluation::Upload(u) => json!({
            "action": u.verdict,
            "rule": u.endpoint,
            "reason": u.problem,
            "records_seen": u.counts.records_seen,
            "records_stripped": u.counts.records_stripped,
        }),
    })
}

/// `--timing`: microseconds per `evaluate` call, per request and policy, on standard error.
fn timing(
    guard: &mut GuardComponent,
    (old, new): (PolicyHandle, PolicyHandle),
    requests: &[Recorded],
    n: usize,
) -> Result<(), Fatal> {
    eprintln!(
        "timing: µs per evaluate call through the component, {n} calls per request and policy"
    );
    eprintln!(
        "{:<40} {:>10} {:>10} {:>10} {:>10}",
        "request", "old mean", "old p50", "new mean", "new p50"
    );
    for r in requests {
        let mut row = format!("{:<40}", r.id);
        for policy in [old, new] {
            guard.evaluate(policy, &r.head, &r.body, &r.attributes, false)?;
            let mut micros = Vec::with_capacity(n);
            for _ in 0..n {
                let start = std::time::Instant::now();
                guard.evaluate(policy, &r.head, &r.body, &r.attributes, false)?;
                micros.push(start.elapsed().as_secs_f64() * 1e6);
            }
            micros.sort_by(f64::total_cmp);
            let mean = micros.iter().sum::<f64>() / micros.len().max(1) as f64;
            let p50 = micros.get(micros.len() / 2).copied().unwrap_or_default();
            row.push_str(&format!(" {:>8.1}µs {:>8.1}µs", mean, p50));
        }
        eprintln!("{row}");
    }
    Ok(())
}

fn describe(v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
    let mut text = format!(
        "{} (rule {}, reason {})",
        s("action"),
        s("rule"),
        s("reason")
    );
    if let (Some(seen), Some(stripped)) = (
        v.get("records_seen").and_then(Value::as_u64),
        v.get("records_stripped").and_then(Value::as_u64),
    ) {
        text.push_str(&format!(", {stripped} of {seen} records stripped"));
    }
    text
}

// ---------------------------------------------------------------------------------------------
// traffic readers

/// The requests in a file or directory; a JSON line that cannot be read goes to `unreadable`
/// (`file:line: why`) and the rest are read.
pub fn read_traffic(path: &Path, unreadable: &mut Vec<String>) -> Result<Vec<Recorded>, Fatal> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Fatal(format!("cannot read `{}`: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut all = Vec::new();
        for f in files {
            all.extend(read_file(&f, true, unreadable)?);
        }
        return Ok(all);
    }
    read_file(path, false, unreadable)
}

fn read_file(
    path: &Path,
    in_directory: bool,
    unreadable: &mut Vec<String>,
) -> Result<Vec<Recorded>, Fatal> {
    let name = path.display().to_string();
    let bytes = crate::read_bytes(&name)?;
    let at = |e: String| Fatal(format!("`{name}`: {e}"));
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if first == Some(b'{') || first == Some(b'[') {
        let text = std::str::from_utf8(&bytes).map_err(|e| at(e.to_string()))?;
        return json_traffic(&name, text, in_directory && ext == "json", unreadable).map_err(at);
    }
    if !in_directory {
        return Err(at(
            "not JSON lines, a HAR file or an Envoy tap (a raw request or a curl trace goes in a directory)"
                .into(),
        ));
    }
    if first.is_none() {
        return Ok(Vec::new());
    }
    let text = String::from_utf8_lossy(&bytes);
    let raw = if curl_trace::is_trace(&text) {
        curl_trace::request_bytes(&text).map_err(at)?
    } else {
        bytes.clone()
    };
    let r = http::parse(&raw).map_err(at)?;
    Ok(vec![Recorded {
        id: file_id(path),
        head: r.head,
        body: r.body,
        attributes: Vec::new(),
    }])
}

fn file_id(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// JSON traffic: a HAR document, Envoy tap traces (one document, an array, or JSON lines), or
/// JSON lines of requests. `single`: a directory's `.json` file, one request named by the file.
/// A document (a line of JSON lines) or a HAR entry that cannot be read goes to `unreadable` as
/// `file:line: why`; the others are read. Text that is neither JSON documents nor JSON lines
/// is an error.
fn json_traffic(
    name: &str,
    text: &str,
    single: bool,
    unreadable: &mut Vec<String>,
) -> Result<Vec<Recorded>, String> {
    let stem = file_id(Path::new(name));
    // Documents with the line each starts on.
    let mut docs: Vec<(usize, Result<Value, String>)> = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut end = 0;
    let mut failed = None;
    while let Some(v) = stream.next() {
        match v {
            Ok(v) => docs.push((line_at(text, end), Ok(v))),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
        end = stream.byte_offset();
    }
    if let Some(e) = failed {
        // JSON lines with a bad line: each line on its own. Anything else (a pretty-printed
        // document cut short) is no traffic at all.
        let lines: Vec<(usize, &str)> = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i.saturating_add(1), l.trim()))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        let jsonl = lines.iter().any(|(_, l)| {
            l.starts_with('{') && l.ends_with('}') && serde_json::from_str::<Value>(l).is_ok()
        });
        if !jsonl {
            return Err(e.to_string());
        }
        docs = lines
            .into_iter()
            .map(|(n, l)| (n, serde_json::from_str(l).map_err(|e| e.to_string())))
            .collect();
    }
    let many = docs.len() > 1;
    let mut out = Vec::new();
    for (n, doc) in docs {
        let v = match doc {
            Ok(v) => v,
            Err(e) => {
                unreadable.push(format!("{name}:{n}: {e}"));
                continue;
            }
        };
        let items = match v {
            Value::Array(items) => items,
            other => vec![other],
        };
        for (j, item) in items.iter().enumerate() {
            let label = match (many, items.len() > 1) {
                (true, true) => format!("{stem}:{n}.{}", j.saturating_add(1)),
                (true, false) => format!("{stem}:{n}"),
                (false, true) => format!("{stem}:{}", j.saturating_add(1)),
                (false, false) if single => stem.clone(),
                (false, false) => format!("{stem}:{n}"),
            };
            let read = if item.pointer("/log/entries").is_some() {
                har(&stem, item, &mut |e| {
                    unreadable.push(format!("{name}:{n}: {e}"))
                })
            } else if let Some(trace) = item.get("http_buffered_trace") {
                tap(&label, trace).map(|r| vec![r])
            } else {
                json_line(&label, item).map(|r| vec![r])
            };
            match read {
                Ok(r) => out.extend(r),
                Err(e) => unreadable.push(format!("{name}:{n}: {e}")),
            }
        }
    }
    Ok(out)
}

/// The line (from 1) of the first non-blank character at or after byte `from`.
fn line_at(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let start = bytes
        .iter()
        .skip(from)
        .position(|b| !b.is_ascii_whitespace())
        .map_or(bytes.len(), |p| p.saturating_add(from));
    bytes
        .iter()
        .take(start)
        .filter(|&&b| b == b'\n')
        .count()
        .saturating_add(1)
}

/// One request in the one request format (`explain`'s, the policy cases'), with an optional
/// `id` that names it (else its `note`, else its place in the file).
fn json_line(label: &str, v: &Value) -> Result<Recorded, String> {
    let mut v = v.clone();
    let id = match &mut v {
        Value::Object(m) => m.remove("id"),
        _ => return Err("a request is a JSON object".into()),
    };
    let request: CaseRequest = serde_json::from_value(v).map_err(|e| e.to_string())?;
    let id = match id {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => request.note.clone().unwrap_or_else(|| label.to_owned()),
    };
    let (head, body, attributes) = case_request(&request)?;
    Ok(Recorded {
        id,
        head,
        body,
        attributes,
    })
}

/// A HAR file's requests (`log.entries[].request`); an entry that cannot be read goes to `bad`.
fn har(stem: &str, doc: &Value, bad: &mut dyn FnMut(String)) -> Result<Vec<Recorded>, String> {
    let entries = doc
        .pointer("/log/entries")
        .and_then(Value::as_array)
        .ok_or("`log.entries` is not a list")?;
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let id = format!("{stem}#{}", i.saturating_add(1));
        match har_entry(&id, e) {
            Ok(r) => out.push(r),
            Err(e) => bad(format!("{id}: {e}")),
        }
    }
    Ok(out)
}

/// One HAR entry: its request, and its `_wa_guard_properties` (Envoy attributes by name).
fn har_entry(id: &str, e: &Value) -> Result<Recorded, String> {
    let req = e.get("request").ok_or("no `request`")?;
    let method = req
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let url = req.get("url").and_then(Value::as_str).ok_or("no `url`")?;
    let (mut authority, path) = split_url(url);
    let mut headers = Vec::new();
    for h in req
        .get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(k), Some(v)) = (
            h.get("name").and_then(Value::as_str),
            h.get("value").and_then(Value::as_str),
        ) else {
            continue;
        };
        let k = k.to_ascii_lowercase();
        match k.as_str() {
            ":authority" | "host" => authority = v.to_owned(),
            // HTTP/2 pseudo-headers (Chrome records them) are the request line's.
            _ if k.starts_with(':') => {}
            _ => headers.push((k, v.to_owned())),
        }
    }
    let post = req.get("postData");
    let text = post.and_then(|p| p.get("text")).and_then(Value::as_str);
    let params = post.and_then(|p| p.get("params")).and_then(Value::as_array);
    let base64 = post
        .and_then(|p| p.get("encoding"))
        .and_then(Value::as_str)
        .is_some_and(|e| e.eq_ignore_ascii_case("base64"));
    let mut mime = post
        .and_then(|p| p.get("mimeType"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let body = match (text, params) {
        (Some(text), _) if base64 => decode_base64(text)?,
        (Some(text), _) => text.as_bytes().to_vec(),
        // HAR 1.2 records a form body as its fields (`params`) and may leave `text` out.
        (None, Some(params)) => {
            if mime.is_none() {
                mime = Some("application/x-www-form-urlencoded".into());
            }
            form_body(params)?
        }
        (None, None) => Vec::new(),
    };
    let has_ct = headers.iter().any(|(k, _)| k == "content-type");
    if let (false, Some(mime)) = (has_ct, mime) {
        headers.push(("content-type".into(), mime));
    }
    let mut attributes = Vec::new();
    if let Some(props) = e.get("_wa_guard_properties") {
        let props = props
            .as_object()
            .ok_or("`_wa_guard_properties` is not an object of NAME: VALUE")?;
        for (name, v) in props {
            let value = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                _ => return Err(format!("`_wa_guard_properties.{name}` is not a string")),
            };
            attributes.push(Attribute {
                name: name.clone(),
                value: value.into_bytes(),
            });
        }
    }
    Ok(Recorded {
        id: id.to_owned(),
        head: RequestHead {
            method,
            authority,
            path,
            headers,
        },
        body,
        attributes,
    })
}

/// HAR `postData.params` as an `application/x-www-form-urlencoded` body: `name=value`
/// percent-encoded (a space as `+`), joined by `&`.
fn form_body(params: &[Value]) -> Result<Vec<u8>, String> {
    let mut body = String::new();
    for (i, p) in params.iter().enumerate() {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("postData.params[{i}] has no `name`"))?;
        let value = p.get("value").and_then(Value::as_str).unwrap_or("");
        if !body.is_empty() {
            body.push('&');
        }
        form_encode(name, &mut body);
        body.push('=');
        form_encode(value, &mut body);
    }
    Ok(body.into_bytes())
}

fn form_encode(text: &str, out: &mut String) {
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// `https://host:443/path?q` as the authority and the path with its query.
fn split_url(url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split('#').next().unwrap_or(rest);
    match rest.find(['/', '?']) {
        Some(i) => {
            let (a, p) = rest.split_at(i);
            let p = if p.starts_with('?') {
                format!("/{p}")
            } else {
                p.to_owned()
            };
            (a.to_owned(), p)
        }
        None => (rest.to_owned(), "/".to_owned()),
    }
}

/// An Envoy tap `http_buffered_trace`: the request's headers (`key`, `value` or base64
/// `raw_value`), its body (`as_bytes` base64 or `as_string`), and the downstream peer.
fn tap(id: &str, trace: &Value) -> Result<Recorded, String> {
    let req = trace
        .get("request")
        .ok_or_else(|| format!("{id}: no `request` in the trace"))?;
    let (mut method, mut authority, mut path) = ("GET".to_owned(), String::new(), "/".to_owned());
    let mut headers = Vec::new();
    for h in req
        .get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(k) = h.get("key").and_then(Value::as_str) else {
            continue;
        };
        let v = match (
            h.get("value").and_then(Value::as_str),
            h.get("raw_value").and_then(Value::as_str),
        ) {
            (Some(v), _) => v.to_owned(),
            (None, Some(raw)) => {
                String::from_utf8_lossy(&decode_base64(raw).map_err(|e| format!("{id}: {e}"))?)
                    .into_owned()
            }
            (None, None) => String::new(),
        };
        let k = k.to_ascii_lowercase();
        match k.as_str() {
            ":method" => method = v,
            ":authority" | "host" => authority = v,
            ":path" => path = v,
            _ if k.starts_with(':') => {}
            _ => headers.push((k, v)),
        }
    }
    let body = match req.get("body") {
        Some(b) => match (
            b.get("as_bytes").and_then(Value::as_str),
            b.get("as_string").and_then(Value::as_str),
        ) {
            (Some(encoded), _) => decode_base64(encoded).map_err(|e| format!("{id}: {e}"))?,
            (None, Some(s)) => s.as_bytes().to_vec(),
            (None, None) => Vec::new(),
        },
        None => Vec::new(),
    };
    if req
        .pointer("/body/truncated")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        eprintln!("warning: {id}: the tap truncated the request body; it is decided as recorded");
    }
    let mut attributes = Vec::new();
    if let Some(sock) = trace.pointer("/downstream_connection/remote_address/socket_address") {
        let address = sock.get("address").and_then(Value::as_str);
        let port = sock.get("port_value").and_then(Value::as_u64);
        if let (Some(a), Some(p)) = (address, port) {
            attributes.push(Attribute {
                name: "source.address".into(),
                value: if a.contains(':') {
                    format!("[{a}]:{p}")
                } else {
                    format!("{a}:{p}")
                }
                .into_bytes(),
            });
        }
    }
    Ok(Recorded {
        id: id.to_owned(),
        head: RequestHead {
            method,
            authority,
            path,
            headers,
        },
        body,
        attributes,
    })
}
