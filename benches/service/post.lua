-- wrk script for benches/service/run.sh: POST a fixed JSON body (file named
-- by env BODY_FILE) to env URL_PATH, and print the latency percentiles in
-- microseconds from the `done` hook (wrk's own text has no p99.9).
local path = os.getenv("BODY_FILE") or "allow.json"
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.path = os.getenv("URL_PATH") or "/v1/eligibility"
wrk.headers["Content-Type"] = "application/json"
wrk.body = f:read("*a")
f:close()

function done(summary, latency, requests)
  io.write(string.format("LATENCY_US p50=%d p90=%d p99=%d p999=%d max=%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
  io.write(string.format("SUMMARY requests=%d duration_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
