-- The wrk side of `bench-run loads --generator wrk`: returning visits. wrk keeps no state
-- per connection, so the runner creates eight sessions per connection before the run and
-- lists their cookies in a file (the script's argument); requests replay them round-robin,
-- so a session comes round again only after eight times as many requests as there are
-- connections and is practically never in two requests at once. Without a file (new
-- visitors), requests carry no cookie. `done` prints one JSON line the runner parses
-- (times in microseconds).

local cookies = {}
-- The same desktop browser's User-Agent as loadgen's (`wire::USER_AGENT`): real visits
-- carry one, and servers that record client info read it.
local UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
wrk.headers["User-Agent"] = UA
local next_slot = 0

function init(args)
  local path = args[1]
  if path ~= nil and path ~= "" then
    for line in io.lines(path) do
      if #line > 0 then
        cookies[#cookies + 1] = line
      end
    end
  end
end

function request()
  if #cookies == 0 then
    return wrk.format("GET", "/")
  end
  next_slot = next_slot % #cookies + 1
  return wrk.format("GET", "/", { ["Cookie"] = cookies[next_slot], ["User-Agent"] = UA })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
