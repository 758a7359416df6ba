-- The wrk script of scripts/bench_serve.py: POSTs pre-built JSON request bodies and prints
-- one JSON line of results for Python to read.
--
--   wrk -t T -c C -d D -s scripts/bench_serve.lua URL -- BODIES T
--
-- BODIES: a file of request bodies, one a line ({"texts": [...]}, ASCII-only JSON). Each
-- thread cycles through all of them from its own starting point (thread k of T starts k/T of
-- the way in), so that threads send different texts. URL is the full route
-- (http://127.0.0.1:PORT/v1/classify).
--
-- The last line on stdout is
--   {"requests", "duration_s", "statuses": {"200": n, ...}, "non_2xx", "socket_errors":
--    {connect, read, write, timeout}, "latency_ms": {"50", "95", "99"}, "ok_p99_at_most_ms"}
-- `ok_p99_at_most_ms` bounds the 99th percentile of the 2xx answers alone from above: wrk
-- keeps one latency histogram for every answer, and its percentile at 100 - (2xx share)
-- leaves 1% of the 2xx count above it, so at most 1% of the 2xx answers (equal to p99 when
-- every answer is 2xx; null when none is).

local threads = {}

-- Main state: number the threads as wrk creates them (`id` becomes a global of each).
function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

-- Thread state. Counts per status live in plain number globals (status_200, ...) and the
-- codes seen in a string, which wrk copies to the main state reliably at the end.
local requests = {}
local next_index = 0
codes = ""

function init(args)
   local path, nthreads = args[1], tonumber(args[2] or "1")
   if not path then
      error("bench_serve.lua: pass the bodies file after --")
   end
   local headers = { ["Content-Type"] = "application/json" }
   for line in io.lines(path) do
      if #line > 0 then
         requests[#requests + 1] = wrk.format("POST", nil, headers, line)
      end
   end
   if #requests == 0 then
      error("bench_serve.lua: no request bodies in " .. path)
   end
   next_index = math.floor((id or 0) * #requests / nthreads)
end

function request()
   next_index = next_index % #requests + 1
   return requests[next_index]
end

function response(status, headers, body)
   local key = "status_" .. status
   local n = _G[key]
   if n == nil then
      codes = codes .. status .. ","
      n = 0
   end
   _G[key] = n + 1
end

function done(summary, latency, requests)
   local counts = {}
   for _, t in ipairs(threads) do
      for code in string.gmatch(t:get("codes") or "", "(%d+),") do
         counts[code] = (counts[code] or 0) + (t:get("status_" .. code) or 0)
      end
   end
   local statuses, ok = {}, 0
   for code, n in pairs(counts) do
      statuses[#statuses + 1] = string.format('"%s": %d', code, n)
      if code:sub(1, 1) == "2" then
         ok = ok + n
      end
   end
   local e = summary.errors
   local ok_p99 = "null" -- no 2xx answer
   if ok > 0 then
      ok_p99 = string.format("%.3f", latency:percentile(100 - ok / summary.requests) / 1e3)
   end
   io.write(string.format(
      '{"requests": %d, "duration_s": %.6f, "statuses": {%s}, "non_2xx": %d, '
         .. '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, '
         .. '"latency_ms": {"50": %.3f, "95": %.3f, "99": %.3f}, "ok_p99_at_most_ms": %s}\n',
      summary.requests, summary.duration / 1e6, table.concat(statuses, ", "),
      summary.requests - ok, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
      ok_p99))
end
