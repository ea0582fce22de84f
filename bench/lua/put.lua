-- PUT a partial call-forwarding document to a random person. Items are "path<TAB>extension".
--
-- Every PUT must change the person's document: an unchanged document is not written, and
-- would measure nothing durable. In a small organization each person is PUT many times a
-- second, so the body depends on how often this person was PUT before, not on how many
-- requests were sent (that let 23 % of the PUTs at 1,000 people repeat the stored
-- document, against 2 % at 100,000). Each thread PUTs only its own share of the people,
-- so no other thread's PUT comes between two of one person's. What a person was PUT last
-- in the run before is not known here (each run is a new wrk): the rings also move with
-- the run's number.

local paths, destinations, mine, times = {}, {}, {}, {}

function prepare()
  HEADERS["Content-Type"] = "application/json"
  local threads, me = BENCH.threads, (thread_id or 1) - 1
  for i, item in ipairs(ITEMS) do
    local path, destination = item:match("^([^\t]+)\t(%d+)$")
    paths[i], destinations[i] = path, destination
    if (i - 1) % threads == me % threads then
      mine[#mine + 1] = i
    end
  end
  if #mine == 0 then
    mine = {1}  -- fewer people than threads: the first is this thread's
  end
end

-- The n-th PUT (from 0) of a person in this run. Every PUT sets their no-answer rings
-- (2..20), to a value the PUT before did not: within a run the next value, and from run
-- to run 9 values on, so the first PUT of a run repeats the last of an earlier one only
-- when the person was PUT 8 or more times in it (at most 1 in 19 at 1,000 people, almost
-- never at 100,000). Every fourth also turns busy forwarding on or off.
local function body_for(n, destination)
  local no_answer = string.format(
    '"noAnswer":{"enabled":true,"destination":"%s","numberOfRings":%d}',
    destination, 2 + (n + 9 * RUN) % 19)
  if n % 4 ~= 3 then
    return '{"callForwarding":{' .. no_answer .. '}}'
  end
  local busy = string.format(
    '"busy":{"enabled":%s,"destination":"%s"}',
    ((math.floor(n / 4) + RUN) % 2 == 0) and "true" or "false", destination)
  return '{"callForwarding":{' .. no_answer .. ',' .. busy .. '}}'
end

function request()
  local i = mine[math.random(#mine)]
  local n = times[i] or 0
  times[i] = n + 1
  return wrk.format("PUT", paths[i], HEADERS, body_for(n, destinations[i]))
end
