//! One HTTP exchange driven the way Envoy's wasm filter drives it.
//!
//! Request: `proxy_on_context_create` → `proxy_on_request_headers` → `proxy_on_request_body`
//! per received chunk → `proxy_on_request_trailers`. The body size passed is the *buffered*
//! size: after StopIterationAndBuffer the next chunk is appended and the callback sees the
//! cumulative buffer; after Continue the buffer is released upstream and drained. A request
//! body held that way past the stream's buffer limit gets Envoy's own 413 (`Payload Too
//! Large`), before the filter sees the chunk that passed it or right after it asked to keep it.
//!
//! Response: when the whole request passed the filter, the simulated upstream replies and
//! `proxy_on_response_headers` / `proxy_on_response_body` run. A local reply
//! (`proxy_send_local_response`) takes effect after the callback that sent it returns; the
//! request stops there, and Envoy encodes the reply through the filter's response callbacks.
//!
//! End: `proxy_on_log` (headers readable, nothing writable), `proxy_on_done`, `proxy_on_delete`.

use crate::abi::{DataAction, HeadersAction};
use crate::error::HostError;
use crate::headers::HeaderMap;
use crate::outcome::{Callback, Outcome, Response, Stall};
use crate::request::{HttpRequest, UpstreamResponse};
use crate::state::Crossings;
use crate::state::stream::{HttpStream, Reachable};
use crate::vm::Vm;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Request,
    Response,
}

/// Whether the exchange goes on after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Everything passed the filter.
    Passed,
    /// A local reply, a reset or a stall ended it.
    Ended,
}

pub(crate) struct Exchange<'v> {
    vm: &'v mut Vm,
    context: u32,
    outcome: Outcome,
}

fn ctx_arg(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl<'v> Exchange<'v> {
    pub fn run(
        vm: &'v mut Vm,
        root_context: u32,
        context: u32,
        request: &HttpRequest,
        request_id: String,
    ) -> Result<Outcome, HostError> {
        let logs_mark = vm.store.data().logs.len();
        let crossings_mark = vm.store.data().crossings;
        let events_mark = vm.store.data().metrics.events.len();
        let stdout_mark = vm.store.data().wasi.stdout.len();
        let stderr_mark = vm.store.data().wasi.stderr.len();

        let headers = request.header_map(&request_id);
        let mut exchange = Exchange {
            vm,
            context,
            outcome: Outcome {
                context_id: context,
                request_id,
                ..Outcome::default()
            },
        };
        exchange.create_context(root_context)?;
        exchange.vm.store.data_mut().stream = Some(HttpStream::new(
            context,
            headers,
            request.property_overlay(),
        ));
        if exchange.request_path(request)? == Flow::Passed {
            exchange.response_path(&request.upstream_response)?;
        }
        exchange.finish()?;

        let mut outcome = exchange.outcome;
        let state = exchange.vm.store.data_mut();
        outcome.logs = state.logs.split_off(logs_mark.min(state.logs.len()));
        outcome.metric_events = state
            .metrics
            .events
            .split_off(events_mark.min(state.metrics.events.len()));
        outcome.metrics = state
            .metrics
            .all()
            .iter()
            .map(|(k, v)| (k.clone(), v.value))
            .collect();
        outcome.crossings = Crossings {
            hostcalls: state.crossings.hostcalls - crossings_mark.hostcalls,
            guest_entries: state.crossings.guest_entries - crossings_mark.guest_entries,
        };
        outcome.stdout = drain_text(&mut state.wasi.stdout, stdout_mark);
        outcome.stderr = drain_text(&mut state.wasi.stderr, stderr_mark);
        Ok(outcome)
    }

    fn stream(&mut self) -> &mut HttpStream {
        // INVARIANT: the stream is installed in `run` before any step and removed in `finish`.
        self.vm
            .store
            .data_mut()
            .stream
            .get_or_insert_with(|| HttpStream::new(0, HeaderMap::new(), Default::default()))
    }

    fn record(
        &mut self,
        name: &'static str,
        size: usize,
        end_of_stream: bool,
        result: Option<i32>,
    ) {
        self.outcome.callbacks.push(Callback {
            name,
            size,
            end_of_stream,
            result,
        });
    }

    fn stall(&mut self, callback: &'static str, reason: &str) -> Flow {
        self.outcome.stall = Some(Stall {
            callback,
            reason: reason.to_string(),
        });
        Flow::Ended
    }

    fn create_context(&mut self, root_context: u32) -> Result<(), HostError> {
        let context = self.context;
        self.vm.store.data_mut().live_contexts.push(context);
        if let Some(f) = self.vm.callbacks.context_create.clone() {
            self.vm.call(
                "proxy_on_context_create",
                context,
                &f,
                (context as i32, root_context as i32),
            )?;
        }
        self.record("proxy_on_context_create", 0, false, None);
        Ok(())
    }

    // ----- request -------------------------------------------------------------------------

    fn request_path(&mut self, request: &HttpRequest) -> Result<Flow, HostError> {
        let mut chunks = request.chunking.split(&request.body);
        if request.empty_end_frame {
            chunks.push(&[]);
        }
        let has_trailers = !request.trailers.is_empty();
        let headers_end_stream = chunks.is_empty() && !has_trailers;

        let action = self.headers_callback(Direction::Request, headers_end_stream)?;
        let Some(action) = action else {
            return Ok(Flow::Ended);
        };
        let headers = self.stream().request_headers.clone();
        self.outcome.upstream.headers = Some(headers);
        if headers_end_stream || action == HeadersAction::ContinueAndEndStream {
            self.outcome.upstream.complete = true;
            return Ok(Flow::Passed);
        }

        let limit = request.buffer_limit;
        if self.data_callbacks(Direction::Request, &chunks, !has_trailers, limit)? == Flow::Ended {
            return Ok(Flow::Ended);
        }
        if !has_trailers {
            self.outcome.upstream.complete = true;
            return Ok(Flow::Passed);
        }
        let trailers = HeaderMap::from_pairs(&request.trailers);
        self.trailers_callback(Direction::Request, trailers)
    }

    /// Run a headers callback. `None`: the exchange ended (local reply, reset or stall).
    fn headers_callback(
        &mut self,
        direction: Direction,
        end_of_stream: bool,
    ) -> Result<Option<HeadersAction>, HostError> {
        let (name, func) = match direction {
            Direction::Request => (
                "proxy_on_request_headers",
                self.vm.callbacks.request_headers.clone(),
            ),
            Direction::Response => (
                "proxy_on_response_headers",
                self.vm.callbacks.response_headers.clone(),
            ),
        };
        let count = {
            let stream = self.stream();
            match direction {
                Direction::Request => {
                    stream.reachable.request_headers = true;
                    stream.request_headers.len()
                }
                Direction::Response => {
                    stream.reachable.response_headers = true;
                    stream.response_headers.len()
                }
            }
        };
        let code = match func {
            Some(f) => Some(self.vm.call(
                name,
                self.context,
                &f,
                (
                    self.context as i32,
                    ctx_arg(count),
                    i32::from(end_of_stream),
                ),
            )?),
            None => None,
        };
        self.record(name, count, end_of_stream, code);
        if self.interrupted()? {
            return Ok(None);
        }
        let action = HeadersAction::from_code(code.unwrap_or(0));
        let resumed = self.take_continue(direction);
        if action == HeadersAction::Stop && !resumed {
            self.stall(
                name,
                "returned StopIteration and never called proxy_continue_stream",
            );
            return Ok(None);
        }
        let stream = self.stream();
        match direction {
            Direction::Request => stream.reachable.request_headers = false,
            Direction::Response => stream.reachable.response_headers = false,
        }
        Ok(Some(action))
    }

    /// Deliver body chunks. `last_ends_stream`: the last chunk carries end_of_stream (no
    /// trailers follow).
    fn data_callbacks(
        &mut self,
        direction: Direction,
        chunks: &[&[u8]],
        last_ends_stream: bool,
        buffer_limit: usize,
    ) -> Result<Flow, HostError> {
        let name = match direction {
            Direction::Request => "proxy_on_request_body",
            Direction::Response => "proxy_on_response_body",
        };
        let mut stopped = false;
        // The filter's last answer was StopIterationAndBuffer: Envoy adds each new chunk to
        // the held buffer before the callback, and refuses a buffer past the limit.
        let mut buffering = false;
        for (index, chunk) in chunks.iter().enumerate() {
            let end_of_stream = last_ends_stream && index + 1 == chunks.len();
            let size = {
                let stream = self.stream();
                stream.end_of_stream = end_of_stream;
                let buffer = match direction {
                    Direction::Request => {
                        stream.reachable.request_body = true;
                        &mut stream.request_body
                    }
                    Direction::Response => {
                        stream.reachable.response_body = true;
                        &mut stream.response_body
                    }
                };
                buffer.extend_from_slice(chunk);
                buffer.len()
            };
            if buffering && direction == Direction::Request && size > buffer_limit {
                return self.payload_too_large();
            }
            let func = match direction {
                Direction::Request => self.vm.callbacks.request_body.clone(),
                Direction::Response => self.vm.callbacks.response_body.clone(),
            };
            let code = match func {
                Some(f) => Some(self.vm.call(
                    name,
                    self.context,
                    &f,
                    (self.context as i32, ctx_arg(size), i32::from(end_of_stream)),
                )?),
                None => None,
            };
            self.record(name, size, end_of_stream, code);
            {
                let stream = self.stream();
                stream.reachable.request_body = false;
                stream.reachable.response_body = false;
            }
            if self.interrupted()? {
                return Ok(Flow::Ended);
            }
            let resumed = self.take_continue(direction);
            let action = DataAction::from_code(code.unwrap_or(0));
            buffering = action == DataAction::StopIterationAndBuffer && !resumed;
            if buffering
                && direction == Direction::Request
                && self.stream().request_body.len() > buffer_limit
            {
                return self.payload_too_large();
            }
            stopped = match action {
                DataAction::Continue => {
                    self.release(direction);
                    false
                }
                DataAction::StopIterationAndBuffer | DataAction::StopIterationAndWatermark => {
                    if resumed {
                        self.release(direction);
                    }
                    !resumed
                }
                DataAction::StopIterationNoBuffer => {
                    self.drop_buffer(direction);
                    !resumed
                }
            };
        }
        if stopped && last_ends_stream {
            return Ok(self.stall(
                name,
                "stopped iteration at end_of_stream and never called proxy_continue_stream",
            ));
        }
        Ok(Flow::Passed)
    }

    fn trailers_callback(
        &mut self,
        direction: Direction,
        trailers: HeaderMap,
    ) -> Result<Flow, HostError> {
        let (name, func) = match direction {
            Direction::Request => (
                "proxy_on_request_trailers",
                self.vm.callbacks.request_trailers.clone(),
            ),
            Direction::Response => (
                "proxy_on_response_trailers",
                self.vm.callbacks.response_trailers.clone(),
            ),
        };
        let count = trailers.len();
        {
            let stream = self.stream();
            match direction {
                // While the filter buffers (it stopped the last data callback), Envoy lets the
                // trailers callback read and change the buffered body.
                Direction::Request => {
                    stream.request_trailers = trailers;
                    stream.reachable.request_trailers = true;
                    stream.reachable.request_body = !stream.request_body.is_empty();
                }
                Direction::Response => {
                    stream.response_trailers = trailers;
                    stream.reachable.response_trailers = true;
                    stream.reachable.response_body = !stream.response_body.is_empty();
                }
            }
        }
        let code = match func {
            Some(f) => Some(self.vm.call(
                name,
                self.context,
                &f,
                (self.context as i32, ctx_arg(count)),
            )?),
            None => None,
        };
        self.record(name, count, true, code);
        {
            let stream = self.stream();
            stream.reachable.request_body = false;
            stream.reachable.response_body = false;
        }
        if self.interrupted()? {
            return Ok(Flow::Ended);
        }
        let resumed = self.take_continue(direction);
        if code.unwrap_or(0) != 0 && !resumed {
            return Ok(self.stall(
                name,
                "returned StopIteration and never called proxy_continue_stream",
            ));
        }
        self.release(direction);
        let stream = self.stream();
        stream.reachable.request_trailers = false;
        stream.reachable.response_trailers = false;
        let trailers = match direction {
            Direction::Request => stream.request_trailers.clone(),
            Direction::Response => stream.response_trailers.clone(),
        };
        if direction == Direction::Request {
            self.outcome.upstream.trailers = Some(trailers);
            self.outcome.upstream.complete = true;
        }
        Ok(Flow::Passed)
    }

    /// Pass the buffered body on: upstream for the request, downstream for the response.
    fn release(&mut self, direction: Direction) {
        match direction {
            Direction::Request => {
                let bytes = std::mem::take(&mut self.stream().request_body);
                if !bytes.is_empty() {
                    self.outcome.upstream.body.extend_from_slice(&bytes);
                    self.outcome.upstream.body_chunks.push(bytes);
                }
            }
            Direction::Response => {
                let bytes = std::mem::take(&mut self.stream().response_body);
                if let Some(response) = self.outcome.response.as_mut() {
                    response.body.extend_from_slice(&bytes);
                }
            }
        }
    }

    /// Envoy's answer to a request body buffered past the stream's limit: a local reply of its
    /// own (413, `request_payload_too_large`), encoded through the filter's response callbacks;
    /// the upstream stream, if started, is reset.
    fn payload_too_large(&mut self) -> Result<Flow, HostError> {
        self.outcome.payload_too_large = true;
        let body = b"Payload Too Large";
        let headers = [
            (":status".to_string(), "413".to_string()),
            ("content-length".to_string(), body.len().to_string()),
            ("content-type".to_string(), "text/plain".to_string()),
        ];
        self.encode_response(&headers, body, true)?;
        Ok(Flow::Ended)
    }

    fn drop_buffer(&mut self, direction: Direction) {
        let stream = self.stream();
        let dropped = match direction {
            Direction::Request => std::mem::take(&mut stream.request_body).len(),
            Direction::Response => std::mem::take(&mut stream.response_body).len(),
        };
        if direction == Direction::Request {
            self.outcome.upstream.dropped_bytes += dropped;
        }
    }

    fn take_continue(&mut self, direction: Direction) -> bool {
        let stream = self.stream();
        match direction {
            Direction::Request => std::mem::take(&mut stream.continue_request),
            Direction::Response => std::mem::take(&mut stream.continue_response),
        }
    }

    /// After a callback: apply a reset or a new local reply. True when the exchange ended.
    fn interrupted(&mut self) -> Result<bool, HostError> {
        if let Some(closed) = self.stream().closed {
            self.outcome.reset = Some(format!("{closed:?}"));
            self.outcome.response = None;
            return Ok(true);
        }
        let answering_own_reply = self.outcome.local_response.is_some();
        if answering_own_reply {
            return Ok(false);
        }
        let Some(reply) = self.stream().local_response.clone() else {
            return Ok(false);
        };
        self.outcome.local_response = Some(reply.clone());
        let mut headers = vec![(":status".to_string(), reply.status.to_string())];
        headers.extend(reply.headers.to_strings());
        let has_content_type = reply.headers.contains("content-type");
        if !reply.body.is_empty() {
            headers.push(("content-length".into(), reply.body.len().to_string()));
            if !has_content_type {
                headers.push(("content-type".into(), "text/plain".into()));
            }
        }
        self.encode_response(&headers, &reply.body, true)?;
        Ok(true)
    }

    // ----- response ------------------------------------------------------------------------

    fn response_path(&mut self, upstream: &UpstreamResponse) -> Result<(), HostError> {
        let mut headers = vec![(":status".to_string(), upstream.status.to_string())];
        headers.extend(upstream.headers.iter().cloned());
        let framed = upstream
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
        if !upstream.body.is_empty() && !framed {
            headers.push(("content-length".into(), upstream.body.len().to_string()));
        }
        self.encode_response(&headers, &upstream.body, false)
    }

    /// Run the response callbacks over a response (the upstream's or the filter's own local
    /// reply) and record what the downstream receives.
    fn encode_response(
        &mut self,
        headers: &[(String, String)],
        body: &[u8],
        local_reply: bool,
    ) -> Result<(), HostError> {
        {
            let stream = self.stream();
            stream.reachable = Reachable::default();
            stream.request_body.clear();
            stream.response_headers = HeaderMap::from_pairs(headers);
            stream.response_body.clear();
        }
        let Some(_) = self.headers_callback(Direction::Response, body.is_empty())? else {
            return Ok(());
        };
        let headers = self.stream().response_headers.clone();
        let status = headers
            .get(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        self.outcome.response = Some(Response {
            status,
            headers,
            body: Vec::new(),
            local_reply,
        });
        if body.is_empty() {
            return Ok(());
        }
        if self.data_callbacks(Direction::Response, &[body], true, usize::MAX)? == Flow::Ended {
            // A stall or reset leaves the downstream without a complete response.
            if self.outcome.reset.is_some() || self.outcome.stall.is_some() {
                self.outcome.response = None;
            }
        }
        Ok(())
    }

    // ----- end -----------------------------------------------------------------------------

    fn finish(&mut self) -> Result<(), HostError> {
        let context = self.context;
        self.stream().reachable = Reachable {
            access_log: true,
            ..Reachable::default()
        };
        if let Some(f) = self.vm.callbacks.log.clone() {
            self.vm.call("proxy_on_log", context, &f, context as i32)?;
            self.record("proxy_on_log", 0, false, None);
        }
        self.stream().reachable = Reachable::default();
        if let Some(f) = self.vm.callbacks.done.clone() {
            let done = self.vm.call("proxy_on_done", context, &f, context as i32)?;
            self.record("proxy_on_done", 0, false, Some(done));
        }
        if let Some(f) = self.vm.callbacks.delete.clone() {
            self.vm
                .call("proxy_on_delete", context, &f, context as i32)?;
            self.record("proxy_on_delete", 0, false, None);
        }
        let state = self.vm.store.data_mut();
        if let Some(stream) = state.stream.take() {
            self.outcome.ignored_local_responses = stream.ignored_local_responses;
        }
        state.live_contexts.retain(|c| *c != context);
        Ok(())
    }
}

fn drain_text(buffer: &mut Vec<u8>, mark: usize) -> String {
    let tail = buffer.split_off(mark.min(buffer.len()));
    String::from_utf8_lossy(&tail).into_owned()
}
