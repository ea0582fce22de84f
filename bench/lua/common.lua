-- Shared by every scenario. The harness prepends `BENCH = {...}` (its parameters) and
-- appends the scenario's own script, which defines prepare() and request().

local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then
      lines[#lines + 1] = line
    end
  end
  return lines
end

function init(args)
  RUN = tonumber(args[1]) or 0  -- this run's number in the harness's process
  -- Each thread draws its own sequence of people, so threads do not move in lock step.
  math.randomseed(os.time() + 7919 * (thread_id or 0))
  ITEMS = read_lines(BENCH.items_file)
  HEADERS = {
    ["Authorization"] = "Bearer " .. BENCH.token,
    ["Accept"] = "application/json",
  }
  prepare()
end

if BENCH.interval_ms > 0 then
  -- Paced runs: Poisson arrivals per connection. wrk's delay() takes whole milliseconds, so
  -- the fraction is rounded up at random to keep the mean interval exact.
  function delay()
    local wait = -math.log(1 - math.random()) * BENCH.interval_ms
    local whole = math.floor(wait)
    if math.random() < wait - whole then
      whole = whole + 1
    end
    return whole
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
