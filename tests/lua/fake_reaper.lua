-- A fake of the parts of REAPER's ReaScript API that the Foley Bridge actions use.
--
-- It keeps a small project model (tracks, items, takes, sources), records undo blocks and UI-refresh
-- nesting, really starts ExecProcess commands in the background (so `foley submit` runs for real), and
-- runs reaper.defer callbacks from fake.pump(). Load with dofile(); returns the `fake` control table and
-- sets the globals `reaper` and `gfx`.

local fake = {
  tracks = {}, messages = {}, console = {}, undo_blocks = {}, undo_depth = 0, refresh_depth = 0,
  ext = {}, deferred = {}, exec = {}, fps = 25, project_path = nil, resource_path = nil,
  time_selection = { 0, 0 }, script_path = "", gfx_close_after = nil, gfx_frames = 0, gfx_open = false,
  log = {},
}

local function note(op)
  fake.log[#fake.log + 1] = { op = op, in_undo = fake.undo_depth > 0, refresh_off = fake.refresh_depth > 0 }
end

local function check(cond, what)
  if not cond then
    error("fake REAPER: " .. what, 2)
  end
end

local function renumber()
  for i, tr in ipairs(fake.tracks) do
    tr.number = i
  end
end

-- Test-side construction -------------------------------------------------------------------------

function fake.add_track(name)
  local tr = { kind = "track", name = name or "", items = {}, selected = false }
  fake.tracks[#fake.tracks + 1] = tr
  renumber()
  return tr
end

function fake.add_item(track, spec)
  local source = { kind = "source", filename = spec.path, type = spec.type or "VIDEO" }
  if spec.section then -- true, or {offs = seconds into the file, rev = reversed}
    local sec = type(spec.section) == "table" and spec.section or {}
    source = { kind = "source", filename = "", type = "SECTION", parent = source, offs = sec.offs or 0,
      rev = sec.rev == true }
  end
  local take = { kind = "take", source = source, startoffs = spec.startoffs or 0, playrate = spec.playrate or 1,
    vol = 1, pan = 0, name = "", midi = spec.midi or false }
  local item = { kind = "item", track = track, position = spec.position or 0, length = spec.length or 1,
    snap = 0, notes = "", takes = { take }, active = take, selected = spec.selected ~= false }
  take.item = item
  track.items[#track.items + 1] = item
  return item
end

--- Run the defer loop until nothing is deferred or timeout_s passes; returns the number of rounds.
function fake.pump(timeout_s, tick_s)
  local deadline = os.time() + (timeout_s or 60)
  local rounds = 0
  while #fake.deferred > 0 do
    if os.time() > deadline then
      error("fake REAPER: defer loop still running after " .. tostring(timeout_s) .. " s")
    end
    local queue = fake.deferred
    fake.deferred = {}
    for _, fn in ipairs(queue) do
      fn()
    end
    rounds = rounds + 1
    os.execute("sleep " .. tostring(tick_s or 0.05))
  end
  return rounds
end

--- Run an installed action script the way REAPER does (plain dofile, action context = its path).
function fake.run_script(path)
  fake.script_path = path
  dofile(path)
end

--- A plain description of the project for assertions.
function fake.snapshot()
  local tracks = {}
  for i, tr in ipairs(fake.tracks) do
    local items = {}
    for _, it in ipairs(tr.items) do
      local take = it.active
      items[#items + 1] = { position = it.position, length = it.length, snap = it.snap, notes = it.notes,
        file = take and take.source.filename or "", vol = take and take.vol, pan = take and take.pan,
        take_name = take and take.name }
    end
    tracks[i] = { name = tr.name, number = tr.number, items = items, tag = tr.ext and tr.ext["P_EXT:foley_bridge"] }
  end
  local ops_outside_undo = 0
  for _, entry in ipairs(fake.log) do
    if not entry.in_undo or not entry.refresh_off then
      ops_outside_undo = ops_outside_undo + 1
    end
  end
  return { tracks = tracks, messages = fake.messages, console = table.concat(fake.console),
    undo_blocks = fake.undo_blocks, undo_depth = fake.undo_depth, refresh_depth = fake.refresh_depth,
    exec = fake.exec, ext = fake.ext, ops_outside_undo = ops_outside_undo, edit_ops = #fake.log,
    gfx_open = fake.gfx_open }
end

-- The API -------------------------------------------------------------------------------------------

reaper = {}

function reaper.get_action_context()
  return false, fake.script_path, 0, 0, -1, -1, -1
end

-- Documented: type 0 OK, 3 Yes/No/Cancel; returns 1 OK, 6 Yes, 7 No, 2 Cancel. fake.answers is the queue
-- of the buttons the "user" presses in question boxes.
function reaper.ShowMessageBox(msg, title, kind)
  fake.messages[#fake.messages + 1] = { text = msg, title = title, kind = kind }
  if kind ~= 0 and fake.answers and #fake.answers > 0 then
    return table.remove(fake.answers, 1)
  end
  return kind == 3 and 2 or 1
end

function reaper.ShowConsoleMsg(msg)
  fake.console[#fake.console + 1] = msg
end

function reaper.defer(fn)
  check(type(fn) == "function", "defer needs a function")
  fake.deferred[#fake.deferred + 1] = fn
end

-- Documented: returns NULL (nil) on total failure, otherwise the return value, a newline and the output;
-- timeoutmsec -1 = no wait, -2 = no wait and minimize. fake.exec_fails simulates the total failure.
function reaper.ExecProcess(cmd, timeout)
  check(type(cmd) == "string", "ExecProcess needs a command line string")
  check(timeout == -2, "the actions must start foley without waiting (timeout -2), got " .. tostring(timeout))
  fake.exec[#fake.exec + 1] = cmd
  if fake.exec_fails then
    return nil
  end
  if fake.exec_noop then -- started, as far as REAPER knows, but the launcher never runs
    return ""
  end
  os.execute(cmd .. " > /dev/null 2>&1 &")
  return ""
end

-- Documented: "Gets a timestamp, with more precision than os.clock"; wall-clock seconds here.
function reaper.time_precise()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("*l"))
  p:close()
  return t
end

-- Documented: GetUserInputs(title, num_inputs, captions_csv, retvals_csv) returns retval, retvals_csv;
-- captions may end with extrawidth=N and separator=X. fake.user_input is what the "user" types (false:
-- presses Cancel); by default the field is left as it is.
function reaper.GetUserInputs(title, n, captions, defaults)
  check(n == 1 and type(captions) == "string" and type(defaults) == "string", "GetUserInputs arguments")
  fake.inputs_asked = (fake.inputs_asked or 0) + 1
  if fake.user_input == false then
    return false, defaults
  end
  return true, fake.user_input or defaults
end

function reaper.GetProjectPath(_)
  return fake.project_path or ""
end

function reaper.GetResourcePath()
  return fake.resource_path or "/tmp"
end

function reaper.RecursiveCreateDirectory(path, _)
  os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'")
  return 1
end

function reaper.TimeMap_curFrameRate(_)
  return fake.fps, false
end

function reaper.GetSet_LoopTimeRange(is_set, is_loop, s, e, allow_autoseek)
  check(not is_set, "the actions must only read the time selection")
  return fake.time_selection[1], fake.time_selection[2]
end

function reaper.SetExtState(section, key, value, persist)
  fake.ext[section .. "/" .. key] = value
end

function reaper.GetExtState(section, key)
  return fake.ext[section .. "/" .. key] or ""
end

function reaper.DeleteExtState(section, key, persist)
  fake.ext[section .. "/" .. key] = nil
end

-- Selection and items
function reaper.CountSelectedMediaItems(_)
  local n = 0
  for _, tr in ipairs(fake.tracks) do
    for _, it in ipairs(tr.items) do
      if it.selected then n = n + 1 end
    end
  end
  return n
end

function reaper.GetSelectedMediaItem(_, idx)
  local n = 0
  for _, tr in ipairs(fake.tracks) do
    for _, it in ipairs(tr.items) do
      if it.selected then
        if n == idx then return it end
        n = n + 1
      end
    end
  end
  return nil
end

function reaper.CountTracks(_) return #fake.tracks end
function reaper.GetTrack(_, idx) return fake.tracks[idx + 1] end

function reaper.CountSelectedTracks(_)
  local n = 0
  for _, tr in ipairs(fake.tracks) do
    if tr.selected then n = n + 1 end
  end
  return n
end

function reaper.GetSelectedTrack(_, idx)
  local n = 0
  for _, tr in ipairs(fake.tracks) do
    if tr.selected then
      if n == idx then return tr end
      n = n + 1
    end
  end
end

function reaper.CountTrackMediaItems(track) return #track.items end
function reaper.GetTrackMediaItem(track, idx) return track.items[idx + 1] end
function reaper.GetMediaItem_Track(item) return item.track end
function reaper.GetActiveTake(item) return item.active end
function reaper.TakeIsMIDI(take) return take.midi end
function reaper.GetMediaItemTake_Source(take) return take.source end
function reaper.GetMediaSourceParent(source) return source.parent end

-- Documented: "boolean retval, number offs, number len, boolean rev"; true for a section/reverse block.
function reaper.PCM_Source_GetSectionInfo(source)
  if not source.parent then
    return false, 0, 0, false
  end
  return true, source.offs or 0, 0, source.rev == true
end
function reaper.GetMediaSourceFileName(source, _) return source.filename end
function reaper.GetMediaSourceType(source, _) return source.type end

local item_fields = { D_POSITION = "position", D_LENGTH = "length", D_SNAPOFFSET = "snap" }
local take_fields = { D_STARTOFFS = "startoffs", D_PLAYRATE = "playrate", D_VOL = "vol", D_PAN = "pan" }

function reaper.GetMediaItemInfo_Value(item, key)
  check(item_fields[key], "unknown item field " .. key)
  return item[item_fields[key]]
end

function reaper.SetMediaItemInfo_Value(item, key, value)
  check(item_fields[key], "unknown item field " .. key)
  check(type(value) == "number", key .. " needs a number")
  note("set item " .. key)
  item[item_fields[key]] = value
  return true
end

function reaper.GetMediaItemTakeInfo_Value(take, key)
  check(take_fields[key], "unknown take field " .. key)
  return take[take_fields[key]]
end

function reaper.SetMediaItemTakeInfo_Value(take, key, value)
  check(take_fields[key], "unknown take field " .. key)
  note("set take " .. key)
  take[take_fields[key]] = value
  return true
end

function reaper.GetMediaTrackInfo_Value(track, key)
  check(key == "IP_TRACKNUMBER", "unknown track field " .. key)
  return track.number
end

-- "P_EXT:xyz" keys hold extension-specific persistent data on tracks and items (documented for both calls).
local function ext_string(obj, key, value, set, what)
  obj.ext = obj.ext or {}
  if set then
    note("set " .. what .. " " .. key)
    obj.ext[key] = value
  end
  return obj.ext[key] ~= nil, obj.ext[key] or ""
end

function reaper.GetSetMediaTrackInfo_String(track, key, value, set)
  if key:match("^P_EXT:") then
    return ext_string(track, key, value, set, "track")
  end
  check(key == "P_NAME", "unknown track string " .. key)
  if set then
    note("set track name")
    track.name = value
  end
  return true, track.name
end

function reaper.GetSetMediaItemInfo_String(item, key, value, set)
  if key:match("^P_EXT:") then
    return ext_string(item, key, value, set, "item")
  end
  check(key == "P_NOTES", "unknown item string " .. key)
  if set then
    note("set item notes")
    item.notes = value
  end
  return true, item.notes
end

function reaper.ValidatePtr(ptr, kind)
  if kind == "MediaTrack*" then
    for _, tr in ipairs(fake.tracks) do
      if tr == ptr then return true end
    end
  end
  return false
end

function reaper.DeleteTrackMediaItem(track, item)
  note("delete item")
  for i, it in ipairs(track.items) do
    if it == item then
      table.remove(track.items, i)
      return true
    end
  end
  return false
end

function reaper.DeleteTrack(track)
  note("delete track")
  for i, tr in ipairs(fake.tracks) do
    if tr == track then
      table.remove(fake.tracks, i)
      renumber()
      return
    end
  end
end

function reaper.GetSetMediaItemTakeInfo_String(take, key, value, set)
  check(key == "P_NAME", "unknown take string " .. key)
  if set then
    note("set take name")
    take.name = value
  end
  return true, take.name
end

-- Editing
-- Documented: "inserts a track at idx ... wantDefaults=TRUE for default envelopes/FX, otherwise no enabled
-- fx/env"; new Foley tracks must not pick up the user's default FX.
function reaper.InsertTrackAtIndex(idx, want_defaults)
  check(idx >= 0 and idx <= #fake.tracks, "track index out of range: " .. tostring(idx))
  check(want_defaults == false, "InsertTrackAtIndex must be called with wantDefaults = false")
  note("insert track")
  table.insert(fake.tracks, idx + 1, { kind = "track", name = "", items = {}, selected = false })
  renumber()
end

function reaper.AddMediaItemToTrack(track)
  check(track and track.kind == "track", "AddMediaItemToTrack needs a track")
  note("add item")
  local item = { kind = "item", track = track, position = 0, length = 0, snap = 0, notes = "", takes = {},
    selected = false }
  track.items[#track.items + 1] = item
  return item
end

function reaper.AddTakeToMediaItem(item)
  note("add take")
  local take = { kind = "take", item = item, startoffs = 0, playrate = 1, vol = 1, pan = 0, name = "",
    midi = false }
  item.takes[#item.takes + 1] = take
  item.active = item.active or take
  return take
end

function reaper.PCM_Source_CreateFromFile(path)
  local f = io.open(path, "rb")
  check(f, "PCM_Source_CreateFromFile on a missing file " .. tostring(path))
  f:close()
  return { kind = "source", filename = path, type = "WAVE" }
end

function reaper.SetMediaItemTake_Source(take, source)
  check(source and source.kind == "source", "SetMediaItemTake_Source needs a source")
  note("set source")
  take.source = source
  return true
end

function reaper.UpdateItemInProject(item) end
function reaper.UpdateArrange() end

function reaper.Undo_BeginBlock()
  fake.undo_depth = fake.undo_depth + 1
end

function reaper.Undo_EndBlock(desc, flags)
  check(fake.undo_depth > 0, "Undo_EndBlock without Undo_BeginBlock")
  fake.undo_depth = fake.undo_depth - 1
  fake.undo_blocks[#fake.undo_blocks + 1] = { desc = desc, flags = flags }
end

function reaper.PreventUIRefresh(delta)
  fake.refresh_depth = fake.refresh_depth + delta
  check(fake.refresh_depth >= 0, "PreventUIRefresh(-1) without PreventUIRefresh(1)")
end

-- gfx: a window that the test can "close" after some frames
gfx = { w = 420, h = 96, x = 0, y = 0 }

function gfx.init(title, w, h)
  fake.gfx_open, fake.gfx_frames = true, 0
  gfx.w, gfx.h = w, h
  return 1
end

function gfx.quit() fake.gfx_open = false end

function gfx.getchar()
  if not fake.gfx_open then
    return -1
  end
  fake.gfx_frames = fake.gfx_frames + 1
  if fake.gfx_close_after and fake.gfx_frames >= fake.gfx_close_after then
    fake.gfx_open = false
    return -1
  end
  return 0
end

function gfx.set() end
function gfx.rect() end
function gfx.drawstr() end
function gfx.update() end

return fake
