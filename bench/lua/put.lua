-- PUT a partial call-forwarding document to a random person. Items are "path<TAB>extension";
-- the rings cycle so that nearly every PUT changes the document (an unchanged document is
-- not written, and would measure nothing durable).

local paths, destinations = {}, {}
local sent = 0

function prepare()
  HEADERS["Content-Type"] = "application/json"
  for i, item in ipairs(ITEMS) do
    local path, destination = item:match("^([^\t]+)\t(%d+)$")
    paths[i], destinations[i] = path, destination
  end
end

function request()
  sent = sent + 1
  local i = math.random(#paths)
  local body
  if sent % 4 == 0 then
    body = string.format(
      '{"callForwarding":{"busy":{"enabled":%s,"destination":"%s"}}}',
      (sent % 8 == 0) and "true" or "false", destinations[i])
  else
    body = string.format(
      '{"callForwarding":{"noAnswer":{"enabled":true,"destination":"%s","numberOfRings":%d}}}',
      destinations[i], 2 + sent % 7)
  end
  return wrk.format("PUT", paths[i], HEADERS, body)
end
