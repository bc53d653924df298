-- wrk script of the whole-proxy load benchmark (benches/load/run.sh).
--
--   wrk -cC ... -s wrk.lua http://HOST:PORT/PATH -- TOKENS_FILE USERS C
--
-- Every request is `GET PATH` with `Authorization: Bearer <token>`, the tokens taken in turn from
-- the first USERS lines of TOKENS_FILE: the same requests go to every target, and through stsgate
-- each one is the warm path (token cache hit, session cache hit, SigV4 signing, forwarding).
-- The requests are formatted once, in init(), so rotating them costs the generator nothing.
--
-- done() prints one machine-readable line, latencies in microseconds:
--   RESULT requests=… duration_us=… rps=… p50_us=… p90_us=… p99_us=… p999_us=… max_us=…
--          mean_us=… wrk_p99_us=… non2xx=… connect=… read=… write=… timeout=… histogram=ok
--
-- The percentiles are exact, over every request's own latency. They are not what
-- `latency:percentile()` returns by itself: before done() runs, wrk 4 "corrects" its histogram for
-- coordinated omission (stats_correct in its stats.c): each sample longer than twice the mean
-- interval between one connection's requests (duration / (requests / C)) adds copies of itself
-- shortened by that interval, one interval at a time, as if a constant-rate client had been
-- waiting behind it. A closed-loop run has no such waiting clients, and on this VM the copies
-- turn a handful of multi-millisecond scheduling stalls into a p90 of 2 ms at c=1. So done() reads
-- the histogram (one count per microsecond) through LuaJIT's FFI, takes the correction back out,
-- checks that what remains is exactly one sample per request, and computes the percentiles with
-- wrk's own rank rule. wrk's corrected p99 is printed too, as wrk_p99_us.

local requests = {}
local next_request = 0
local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
end

function init(args)
   local file, users = args[1], tonumber(args[2])
   connections = tonumber(args[3]) -- a global: done() reads it through thread:get()
   assert(file and users and users > 0 and connections, "usage: -- TOKENS_FILE USERS CONNECTIONS")
   for token in io.lines(file) do
      if #requests == users then break end
      requests[#requests + 1] = wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
   end
   assert(#requests == users, string.format("%s holds %d tokens, not %d", file, #requests, users))
   -- Threads start at different users (there is usually only one thread).
   next_request = math.random(#requests) - 1
end

function request()
   next_request = next_request % #requests + 1
   return requests[next_request]
end

-- wrk's rank rule (stats_percentile): the smallest value whose cumulative count reaches
-- round(p / 100 * count + 0.5).
local function percentile(hist, lo, hi, count, p)
   local rank, total = math.floor(p / 100 * count + 0.5 + 0.5), 0 -- C's round(x + 0.5)
   for v = lo, hi do
      total = total + hist[v]
      if total >= rank then return v end
   end
   return hi
end

-- The uncorrected histogram: { [us] = count } over [min, max], its sample count and mean, or
-- nil and why not.
local function raw_histogram(latency, summary)
   local ok, ffi = pcall(require, "ffi")
   if not ok then return nil, "no LuaJIT FFI" end
   -- The userdata holds a `stats *`; stats is { uint64 count, limit, min, max; uint64 data[] }.
   local s = ffi.cast("uint64_t **", latency)[0]
   local count, lo, hi = tonumber(s[0]), tonumber(s[2]), tonumber(s[3])
   if count == 0 or lo ~= latency.min or hi ~= latency.max then
      return nil, "histogram layout not recognised"
   end
   local data, hist, sum = s + 4, {}, 0
   for v = lo, hi do
      hist[v] = tonumber(data[v])
      sum = sum + hist[v]
   end
   if sum ~= count or percentile(hist, lo, hi, count, 99) ~= latency:percentile(99) then
      return nil, "histogram does not match wrk's own numbers"
   end
   local per_connection = math.floor(summary.requests / connections)
   if per_connection > 0 then
      local interval = math.floor(summary.duration / per_connection)
      if interval < 1 then return nil, "interval below 1 us" end
      -- corrected[m] = raw[m] + sum over k >= 1 of raw[m + k * interval], for m > interval.
      -- Downwards: tail[r] holds that sum for the residue r of m.
      local tail = {}
      for v = hi, lo, -1 do
         if v > interval then
            local r = v % interval
            local raw = hist[v] - (tail[r] or 0)
            if raw < 0 then return nil, "correction does not invert" end
            hist[v] = raw
            tail[r] = (tail[r] or 0) + raw
         end
      end
   end
   local n, weighted = 0, 0
   for v = lo, hi do
      n = n + hist[v]
      weighted = weighted + v * hist[v]
   end
   if n ~= summary.requests - summary.errors.timeout then
      return nil, string.format("%d samples for %d requests", n, summary.requests)
   end
   return hist, n, weighted / n
end

function done(summary, latency, _)
   connections = threads[1]:get("connections")
   local e = summary.errors
   local hist, n, mean = raw_histogram(latency, summary)
   local p = { 50, 90, 99, 99.9 }
   local out = {}
   for i, q in ipairs(p) do
      out[i] = hist and percentile(hist, latency.min, latency.max, n, q) or -1
   end
   local max, status = -1, hist and "ok" or (n:gsub(" ", "_"))
   if hist then
      for v = latency.max, latency.min, -1 do
         if hist[v] > 0 then max = v break end
      end
   end
   io.write(string.format(
      "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d "
         .. "max_us=%d mean_us=%.1f wrk_p99_us=%d non2xx=%d connect=%d read=%d write=%d "
         .. "timeout=%d histogram=%s\n",
      summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
      out[1], out[2], out[3], out[4], max, hist and mean or -1, latency:percentile(99),
      e.status, e.connect, e.read, e.write, e.timeout, status))
end
