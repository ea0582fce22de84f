-- GET one of many paths (one per person), chosen uniformly at random for each request.

local requests = {}

function prepare()
  for i, path in ipairs(ITEMS) do
    requests[i] = wrk.format("GET", path, HEADERS)
  end
end

function request()
  return requests[math.random(#requests)]
end
