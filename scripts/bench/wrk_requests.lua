-- wrk script: send the requests listed in a file, one per line, in order.
--
--   wrk -s wrk_requests.lua URL -- <file> <GET|POST> <threads> [start] [then]
--
-- GET:  each line is a path with its query (/api/pay/query?pid=...).
-- POST: each line is a JSON body, POSTed to the URL's path.
-- Thread t (of <threads>) sends lines t, t + threads, ... so no two threads
-- send the same line. `start` skips that many lines first (a later chunk of
-- one long run). When a thread runs out of lines it sends `then` (a path,
-- GET) if given, else it starts over and counts a wrap: a create benchmark
-- must report wraps as 0, or it measured retries instead of new orders.
-- Every request is formatted once in init(), so the client does no work per
-- request beyond handing over a prepared string.

local threads = {}
local count = 0

function setup(thread)
  thread:set("tid", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  local file, method = args[1], args[2]
  local nthreads = tonumber(args[3])
  local start = tonumber(args[4] or "0")
  local after = args[5]
  local headers = { ["Content-Type"] = "application/json" }
  prepared = {}
  local k = 0
  for line in io.lines(file) do
    if k >= start and (k - start) % nthreads == tid then
      if method == "GET" then
        prepared[#prepared + 1] = wrk.format("GET", line, nil, nil)
      else
        prepared[#prepared + 1] = wrk.format("POST", wrk.path, headers, line)
      end
    end
    k = k + 1
  end
  if after ~= nil and after ~= "" then
    tail = wrk.format("GET", after, nil, nil)
  end
  nlines = #prepared
  -- wrk calls request() once on thread 0 right after init, to check the
  -- script (script_verify_request), and throws that request away.
  verifying = tid == 0
  index = 0
  wrapped = 0
  sent = 0
end

function request()
  if verifying then
    verifying = false
    return prepared[1] or tail
  end
  index = index + 1
  if index > #prepared then
    if tail ~= nil then
      return tail
    end
    index = 1
    wrapped = wrapped + 1
  end
  sent = sent + 1
  return prepared[index]
end

function done(summary, latency, requests)
  local wraps, lines_sent = 0, 0
  for _, thread in ipairs(threads) do
    wraps = wraps + (thread:get("wrapped") or 0)
    lines_sent = lines_sent + math.min(thread:get("sent") or 0, thread:get("nlines") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"wraps": %d, "lines_sent": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    wraps, lines_sent))
end
