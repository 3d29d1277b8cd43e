-- wrk script for the Envoy benchmarks: POSTs one body file to one virtual host and, when
-- the run ends, prints its figures as one JSON line prefixed with "WRK_JSON ".
--   BENCH_BODY=file BENCH_HOST=graph.facebook.com BENCH_CONTENT_TYPE=application/json \
--     wrk -t1 -c8 -d5s --latency -s wrk_post.lua http://127.0.0.1:PORT/v21.0/1065.../messages
local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

wrk.method = "POST"
wrk.body = read_file(assert(os.getenv("BENCH_BODY"), "BENCH_BODY unset"))
wrk.headers["Host"] = assert(os.getenv("BENCH_HOST"), "BENCH_HOST unset")
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
wrk.headers["Authorization"] = "Bearer EAAbenchmarktoken"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99_9":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
