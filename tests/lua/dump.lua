-- A minimal JSON writer for test drivers, independent of the JSON code under test.
local function dump(v)
  local t = type(v)
  if v == nil then
    return "null"
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      return "null"
    end
    return string.format("%.17g", v)
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  elseif t == "table" then
    local mt = getmetatable(v)
    if mt and mt.__tostring then
      return dump(tostring(v)) -- markers such as the JSON null of the code under test
    end
    if next(v) == nil and mt ~= nil then
      return "{}" -- an empty JSON object decoded by the code under test carries a metatable
    end
    if #v > 0 or next(v) == nil then
      local parts = {}
      for i = 1, #v do
        parts[i] = dump(v[i])
      end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local parts = {}
    for k, x in pairs(v) do
      if type(x) ~= "function" and type(x) ~= "userdata" then
        parts[#parts + 1] = dump(tostring(k)) .. ":" .. dump(x)
      end
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return dump(tostring(v))
end

return dump
