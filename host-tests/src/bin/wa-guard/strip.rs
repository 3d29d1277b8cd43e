//! `wa-guard strip`: a local training file streamed through the engine's upload stripper, as
//! Envoy would stream it to a training endpoint of the policy. It reports where each stripped
//! record was (record number, byte offset, detector), never what it held, and `--out` writes
//! the bytes Envoy would forward.

use std::process::ExitCode;

use host_tests::component::{GuardComponent, RequestHead, StrippedRecord, UploadOutcome};
use serde_json::{Value, json};

use crate::args::{self, Arg, Args};
use crate::{Fatal, compile_or_report, read_bytes, read_text};

pub const HELP: &str = "\
wa-guard strip: what the policy's training stripper would remove from a local file, and the
file it would forward. Prints each stripped record's number, its byte offset and the detector
that fired, never its text; `--out` writes the cleaned file, every other byte unchanged: the
bytes Envoy forwards for the same upload.

Usage: wa-guard strip [--format jsonl|json|csv|txt|multipart] [--endpoint ID] [--boundary B]
                      [--out CLEAN] [--enforce] [--report text|json] POLICY FILE

The file goes to a training endpoint of POLICY (the first inspected one that reads the format,
or --endpoint ID) in 64 KiB chunks, with the content type the format implies:
  jsonl       application/jsonl, a record per line
  json        application/json, one document whose arrays hold the records
  csv, txt    a file part (text/csv, text/plain) of a multipart upload, as the
              vendors' file APIs take them: a CSV row or a chat-export line is a record
  multipart   multipart/form-data; the boundary from --boundary or the file's first line
FORMAT defaults from the extension (.jsonl .ndjson .json .csv .tsv .txt), else multipart when
the file starts with `--`, else jsonl. A gzip file (by its magic bytes) is sent with
`content-encoding: gzip`; Envoy forwards it decompressed, so --out is decompressed and the
offsets count decompressed bytes.

A policy whose training mode is audit forwards the file unchanged, as Envoy does; --enforce
strips it as an enforcing policy would (training.mode set to enforce). --report json prints
the report as one JSON document.

Exit status 0 when the file would be forwarded (stripped or not), 1 when Envoy would refuse
it (every record WhatsApp-derived, or a body it cannot read): --out is not written then.

Examples:
  wa-guard strip policies/default.json support.jsonl
  wa-guard strip --out clean.jsonl policies/default.json support.jsonl
  wa-guard strip --format csv --endpoint openai-files policies/default.json inbox.csv
  wa-guard strip --report json policies/default.json upload.multipart";

const CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Jsonl,
    Json,
    Csv,
    Txt,
    Multipart,
}

impl Format {
    fn parse(s: &str) -> Result<Format, Fatal> {
        Ok(match s {
            "jsonl" | "ndjson" => Format::Jsonl,
            "json" => Format::Json,
            "csv" | "tsv" => Format::Csv,
            "txt" | "text" => Format::Txt,
            "multipart" => Format::Multipart,
            f => {
                return Err(Fatal(format!(
                    "unknown format `{f}` (jsonl, json, csv, txt or multipart)"
                )));
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Txt => "txt",
            Format::Multipart => "multipart",
        }
    }

    /// The endpoint formats (`training.endpoints[].format`) that read this file format.
    fn endpoint_formats(self) -> &'static [&'static str] {
        match self {
            Format::Jsonl => &["auto", "jsonl"],
            Format::Json => &["auto", "json"],
            Format::Csv | Format::Txt | Format::Multipart => &["auto", "multipart"],
        }
    }
}

#[derive(Debug, Default)]
struct Options {
    format: Option<Format>,
    endpoint: Option<String>,
    boundary: Option<String>,
    out: Option<String>,
    json: bool,
    enforce: bool,
    files: Vec<String>,
}

impl Options {
    fn parse(words: Vec<String>) -> Result<Options, Fatal> {
        let mut o = Options::default();
        let mut args = Args::new(words);
        while let Some(arg) = args.next() {
            let flag = match arg {
                Arg::Operand(file) => {
                    o.files.push(file);
                    continue;
                }
                Arg::Flag(flag) => flag,
            };
            match flag.as_str() {
                "--format" => o.format = Some(Format::parse(&args.value(&flag)?)?),
                "--endpoint" => o.endpoint = Some(args.value(&flag)?),
                "--boundary" => o.boundary = Some(args.value(&flag)?),
                "--out" | "-o" => o.out = Some(args.value(&flag)?),
                "--enforce" => o.enforce = true,
                "--report" => o.json = args::text_or_json(&flag, &args.value(&flag)?)?,
                _ => return Err(args::unknown(&flag)),
            }
        }
        Ok(o)
    }
}

/// The training endpoint a synthetic upload goes to.
struct Target {
    id: String,
    head: RequestHead,
}

pub fn run(guard: &mut GuardComponent, args: Vec<String>) -> Result<ExitCode, Fatal> {
    let o = Options::parse(args)?;
    let [policy_file, file] = o.files.as_slice() else {
        return Err(Fatal("strip needs POLICY and FILE (see --help)".into()));
    };
    let raw = read_bytes(file)?;
    let gzip = raw.starts_with(&[0x1f, 0x8b]);
    let format = match o.format {
        Some(f) => f,
        None => infer_format(file, &raw, gzip),
    };
    let mut policy_text = read_text(policy_file)?;
    let mut policy = compile_or_report(guard, policy_file)?;
    if o.enforce {
        // The training section's own mode wins over the policy's.
        let mut doc: Value = serde_json::from_str(&policy_text)?;
        if let Some(t) = doc.get_mut("training").and_then(Value::as_object_mut) {
            t.insert("mode".into(), "enforce".into());
        }
        policy_text = doc.to_string();
        guard.drop_policy(policy)?;
        policy = guard.compile(&policy_text)?.map_err(|problems| {
            Fatal(format!(
                "`{policy_file}` with training.mode enforce: {} problem(s)",
                problems.len()
            ))
        })?;
    }
    let fingerprint = guard.fingerprint(policy)?;
    let target = target(&policy_text, o.endpoint.as_deref(), format)?;

    // csv and txt go as a multipart upload's file part: the only place the engine reads them.
    let (body, content_type, prefix_len, suffix_len) = match format {
        Format::Csv | Format::Txt => {
            let (prefix, suffix, boundary) = envelope(file, &raw, format);
            // A compressed file goes between two gzip members holding the envelope: one gzip
            // stream of members, decoded whole as Envoy decodes it.
            let wrap = |b: &[u8]| if gzip { gzip_stored(b) } else { b.to_vec() };
            let mut body = wrap(&prefix);
            body.extend_from_slice(&raw);
            body.extend_from_slice(&wrap(&suffix));
            let ct = format!("multipart/form-data; boundary={boundary}");
            (body, ct, prefix.len(), suffix.len())
        }
        Format::Multipart => {
            let boundary = match &o.boundary {
                Some(b) => b.clone(),
                None if gzip => {
                    return Err(Fatal(format!(
                        "`{file}` is compressed: name its boundary with --boundary"
                    )));
                }
                None => first_line_boundary(&raw).ok_or_else(|| {
                    Fatal(format!(
                        "`{file}`: its first line is not a multipart delimiter (`--BOUNDARY`): name the boundary with --boundary"
                    ))
                })?,
            };
            (
                raw,
                format!("multipart/form-data; boundary={boundary}"),
                0,
                0,
            )
        }
        Format::Jsonl => (raw, "application/jsonl".to_owned(), 0, 0),
        Format::Json => (raw, "application/json".to_owned(), 0, 0),
    };
    let mut head = target.head;
    head.headers.push(("content-type".into(), content_type));
    if gzip {
        head.headers
            .push(("content-encoding".into(), "gzip".into()));
    }

    let Some(upload) = guard.start_upload_listing(policy, &head, &[])? else {
        return Err(Fatal(format!(
            "endpoint `{}` of `{policy_file}` does not take this upload ({} {}{})",
            target.id, head.method, head.authority, head.path
        )));
    };
    let mut forwarded = Vec::with_capacity(body.len());
    let mut refused = None;
    for chunk in body.chunks(CHUNK) {
        match guard.feed(upload, chunk)? {
            Ok(bytes) => forwarded.extend_from_slice(&bytes),
            Err(reply) => {
                refused = Some(reply);
                break;
            }
        }
    }
    if refused.is_none() {
        match guard.finish(upload)? {
            Ok(bytes) => forwarded.extend_from_slice(&bytes),
            Err(reply) => refused = Some(reply),
        }
    }
    let outcome = guard
        .upload_outcome(upload)?
        .ok_or_else(|| Fatal("the engine gave no outcome for the upload".into()))?;
    let mut stripped = guard.stripped(upload)?;
    guard.drop_upload(upload)?;
    guard.drop_policy(policy)?;

    // A file part's offsets count from the multipart body's start: from the file's, here.
    let prefix = u64::try_from(prefix_len).unwrap_or(u64::MAX);
    for r in &mut stripped {
        r.offset = r.offset.map(|o| o.saturating_sub(prefix));
    }
    let clean = if refused.is_some() {
        None
    } else {
        let end = forwarded.len().saturating_sub(suffix_len);
        Some(forwarded.get(prefix_len..end).unwrap_or_default().to_vec())
    };
    if let (Some(out), Some(clean)) = (&o.out, &clean) {
        std::fs::write(out, clean).map_err(|e| Fatal(format!("cannot write `{out}`: {e}")))?;
    }

    let report = Report {
        file,
        format,
        gzip,
        endpoint: &target.id,
        fingerprint: &fingerprint,
        outcome: &outcome,
        stripped: &stripped,
        refused: refused.is_some(),
        out: o.out.as_deref().filter(|_| clean.is_some()),
        clean_bytes: clean.as_ref().map(Vec::len),
    };
    if o.json {
        println!("{}", report.json());
    } else {
        report.print();
    }
    Ok(if refused.is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn infer_format(file: &str, raw: &[u8], gzip: bool) -> Format {
    let name = file.to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "jsonl" | "ndjson" | "jsonlines" => Format::Jsonl,
        "json" => Format::Json,
        "csv" | "tsv" => Format::Csv,
        "txt" => Format::Txt,
        _ if !gzip && raw.starts_with(b"--") => Format::Multipart,
        _ => Format::Jsonl,
    }
}

/// `--BOUNDARY` on the first line (CRLF or LF ended).
fn first_line_boundary(raw: &[u8]) -> Option<String> {
    let end = raw.iter().position(|&b| b == b'\n')?;
    let line = raw.get(..end)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let b = std::str::from_utf8(line.strip_prefix(b"--")?)
        .ok()?
        .trim_end();
    (!b.is_empty()).then(|| b.to_owned())
}

/// A multipart envelope around a csv or txt file: the part's opening (delimiter and headers),
/// its closing, and a boundary the file does not contain.
fn envelope(file: &str, raw: &[u8], format: Format) -> (Vec<u8>, Vec<u8>, String) {
    let mut boundary = String::from("wa-guard-strip-0");
    let mut n = 0u32;
    while raw
        .windows(boundary.len())
        .any(|w| w == boundary.as_bytes())
    {
        n = n.wrapping_add(1);
        boundary = format!("wa-guard-strip-{n:08x}-{}", raw.len());
    }
    let (ext, ct) = match format {
        Format::Csv if file.to_ascii_lowercase().ends_with(".tsv") => ("tsv", "text/csv"),
        Format::Csv => ("csv", "text/csv"),
        _ => ("txt", "text/plain"),
    };
    let prefix = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.{ext}\"\r\nContent-Type: {ct}\r\n\r\n"
    );
    let suffix = format!("\r\n--{boundary}--\r\n");
    (prefix.into_bytes(), suffix.into_bytes(), boundary)
}

/// `data` as one gzip member (RFC 1952) of stored deflate blocks: no compression needed.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut blocks = data.chunks(usize::from(u16::MAX)).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        out.push(u8::from(blocks.peek().is_none()));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    // ISIZE: the length modulo 2^32.
    out.extend_from_slice(&((data.len() as u64 & 0xffff_ffff) as u32).to_le_bytes());
    out
}

/// CRC-32 (IEEE, reflected), as gzip checks it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The endpoint to send to: `--endpoint ID`, or the first inspected one that reads `format`.
/// Its host and path come from its first patterns, `*` standing for a label or segment.
fn target(policy_text: &str, id: Option<&str>, format: Format) -> Result<Target, Fatal> {
    let doc: Value = serde_json::from_str(policy_text)?;
    let endpoints = doc
        .pointer("/training/endpoints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let format_of = |e: &Value| {
        e.get("format")
            .and_then(Value::as_str)
            .unwrap_or("auto")
            .to_owned()
    };
    let id_of = |e: &Value| e.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
    let endpoint = match id {
        Some(id) => endpoints.iter().find(|e| id_of(e) == id).ok_or_else(|| {
            let ids: Vec<String> = endpoints.iter().map(id_of).collect();
            Fatal(format!(
                "the policy has no training endpoint `{id}` (it has: {})",
                ids.join(", ")
            ))
        })?,
        None => endpoints
            .iter()
            .find(|e| format.endpoint_formats().contains(&format_of(e).as_str()))
            .ok_or_else(|| {
                Fatal(format!(
                    "the policy has no training endpoint that reads {} (see --endpoint)",
                    format.name()
                ))
            })?,
    };
    let first = |key: &str| {
        endpoint
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let host = first("hosts").ok_or_else(|| Fatal("the endpoint names no host".into()))?;
    let path = first("paths").ok_or_else(|| Fatal("the endpoint names no path".into()))?;
    let method = first("methods").unwrap_or_else(|| "POST".into());
    Ok(Target {
        id: id_of(endpoint),
        head: RequestHead {
            method: method.to_ascii_uppercase(),
            authority: host.replace('*', "x"),
            path: path.replace("**", "x").replace('*', "x"),
            headers: vec![("x-request-id".into(), "wa-guard-strip".into())],
        },
    })
}

struct Report<'a> {
    file: &'a str,
    format: Format,
    gzip: bool,
    endpoint: &'a str,
    fingerprint: &'a str,
    outcome: &'a UploadOutcome,
    stripped: &'a [StrippedRecord],
    refused: bool,
    out: Option<&'a str>,
    clean_bytes: Option<usize>,
}

impl Report<'_> {
    fn print(&self) {
        let c = &self.outcome.counts;
        let gz = if self.gzip { ", gzip" } else { "" };
        println!(
            "strip {} ({}{gz}) through endpoint {} (policy {})",
            self.file,
            self.format.name(),
            self.endpoint,
            self.fingerprint
        );
        for r in self.stripped {
            match r.offset {
                Some(o) => println!("  record {} at byte {o}: {}", r.number, r.detector),
                None => println!("  record {}: {}", r.number, r.detector),
            }
        }
        let detectors: Vec<String> = c
            .detectors
            .iter()
            .map(|(d, n)| format!("{d} {n}"))
            .collect();
        let by = if detectors.is_empty() {
            String::new()
        } else {
            format!(" ({})", detectors.join(", "))
        };
        println!(
            "strip: {} records, {} stripped{by}; verdict {}{}",
            c.records_seen,
            c.records_stripped,
            self.outcome.verdict,
            self.outcome
                .problem
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        );
        if self.outcome.verdict == "audit" {
            println!(
                "strip: the policy's training mode is audit: Envoy forwards the file unchanged (--enforce strips it)"
            );
        }
        if self.refused {
            println!("strip: Envoy would refuse this upload (403); nothing is forwarded");
        } else if let (Some(out), Some(n)) = (self.out, self.clean_bytes) {
            println!("strip: wrote {out} ({n} bytes)");
        }
    }

    fn json(&self) -> Value {
        let c = &self.outcome.counts;
        json!({
            "file": self.file,
            "format": self.format.name(),
            "gzip": self.gzip,
            "endpoint": self.endpoint,
            "policy": self.fingerprint,
            "verdict": self.outcome.verdict,
            "problem": self.outcome.problem,
            "records_seen": c.records_seen,
            "records_stripped": c.records_stripped,
            "detectors": c.detectors.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "stripped": self.stripped.iter().map(|r| json!({
                "record": r.number, "offset": r.offset, "detector": r.detector,
            })).collect::<Vec<_>>(),
            "refused": self.refused,
            "out": self.out,
            "out_bytes": self.clean_bytes,
        })
    }
}
