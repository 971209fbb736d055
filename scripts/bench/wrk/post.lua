-- POST one fixed body over and over; report throughput and latency as one JSON line.
--   wrk -t1 -c16 -d5s -s scripts/bench/wrk/post.lua URL -- BODY_FILE [CONTENT_TYPE] ["Name: value" ...]
-- The body file is read in binary mode, so raw tensor bytes (V2 binary extension) work too.

function init(args)
   local file = assert(io.open(args[1], "rb"), "cannot open body file " .. tostring(args[1]))
   wrk.method = "POST"
   wrk.body = file:read("*a")
   file:close()
   wrk.headers["Content-Type"] = args[2] or "application/json"
   for i = 3, #args do
      local name, value = args[i]:match("^([^:]+):%s*(.*)$")
      wrk.headers[name] = value
   end
end

-- Runs once after the test; latency is in microseconds. errors.status counts non-2xx/3xx.
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "mean_us": %.1f, '
         .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "errors": '
         .. '{"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
      summary.requests, summary.duration, summary.bytes, latency.mean,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end
