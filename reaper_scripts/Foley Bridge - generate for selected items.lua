-- @description Foley Bridge - generate for selected items
-- @version 0.1.0
-- @author foley-bridge
-- @about Generate frame-aligned Foley for the selected video items and place the clips on new tracks below.
-- Needs foley-bridge (run `foley install-scripts reaper` once). Support files: foley_bridge/.

local function script_dir()
  local _, path = reaper.get_action_context()
  if not path or path == "" then
    path = debug.getinfo(1, "S").source:sub(2)
  end
  return path:match("^(.*[/\\])") or ""
end

local dir = script_dir()
local sep = package.config:sub(1, 1)
local host = dofile(dir .. "foley_bridge" .. sep .. "reaper_host.lua")(dir .. "foley_bridge" .. sep)
host.generate_selected_items()
