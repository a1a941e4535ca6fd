-- Foley Bridge - Generate (DaVinci Resolve: Workspace > Scripts > Foley Bridge - Generate)
-- Generates frame-aligned Foley for the video between the timeline's In and Out marks (else the clip under
-- the playhead) and places the clips on new stereo audio tracks. Needs foley-bridge: run
-- `foley install-scripts resolve` once. Support files: foley_bridge/.

local source = debug.getinfo(1, "S").source
local dir = source:sub(1, 1) == "@" and source:sub(2):match("^(.*[/\\])") or ""
local sep = package.config:sub(1, 1)
if dir == "" then -- not loaded from a file: try the standard Edit script folders
  local home, appdata = os.getenv("HOME") or "", os.getenv("APPDATA") or ""
  for _, candidate in ipairs({
    appdata .. "\\Blackmagic Design\\DaVinci Resolve\\Support\\Fusion\\Scripts\\Edit\\",
    home .. "/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Edit/",
    home .. "/.local/share/DaVinciResolve/Fusion/Scripts/Edit/",
    "/opt/resolve/Fusion/Scripts/Edit/",
  }) do
    local f = io.open(candidate .. "foley_bridge" .. sep .. "resolve_host.lua", "rb")
    if f then
      f:close()
      dir = candidate
      break
    end
  end
end
local host = dofile(dir .. "foley_bridge" .. sep .. "resolve_host.lua")(dir .. "foley_bridge" .. sep)
return host.main()
