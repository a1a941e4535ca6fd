-- A fake of the parts of DaVinci Resolve's scripting API that "Foley Bridge - Generate" uses.
--
-- Objects use colon methods like Resolve's; AppendToTimeline follows Resolve's observed behaviour
-- (absolute recordFrame, exclusive endFrame, an empty list, silently, when the target track is locked).
-- Load with dofile(); returns the `fake` control table and sets the global Resolve() and `resolve`.

local fake = { appended = {}, append_calls = 0, bins = {}, imports = {}, lock_new_tracks = false, dropped = {},
  deleted_bins = {}, deleted_tracks = {}, deleted_clips = 0 }

local function check(cond, what)
  if not cond then
    error("fake Resolve: " .. what, 2)
  end
end

local function exact_rate(text)
  local fps = tonumber(tostring(text or ""):match("[%d%.]+")) or 0
  local nominal = math.floor(fps + 0.5)
  if math.abs(fps - nominal * 1000 / 1001) < 0.005 and math.abs(fps - nominal) > 0.005 then
    return nominal * 1000 / 1001
  end
  return fps
end
fake.exact_rate = exact_rate

local function class()
  local c = {}
  c.__index = c
  return c
end

local Folder, Clip, Item, Timeline, Pool, Project, Manager, App = class(), class(), class(), class(), class(),
  class(), class(), class()

-- Media pool ------------------------------------------------------------------------------------------

function Folder.new(name)
  return setmetatable({ name = name, subfolders = {}, clips = {} }, Folder)
end
function Folder:GetName() return self.name end
function Folder:GetSubFolderList() return self.subfolders end
function Folder:GetClipList() return self.clips end

function Clip.new(path, props)
  local c = setmetatable({ props = props or {} }, Clip)
  c.props["File Path"] = path
  c.props["Clip Name"] = c.props["Clip Name"] or path:match("([^/\\]+)$")
  c.props["Start TC"] = c.props["Start TC"] or "00:00:00:00"
  return c
end
function Clip:GetName() return self.props["Clip Name"] end
function Clip:SetThirdPartyMetadata(key, value)
  self.third = self.third or {}
  self.third[key] = value
  return true
end
function Clip:GetThirdPartyMetadata(key)
  return (self.third or {})[key] or ""
end

-- Sample count and rate of a PCM WAV (enough of RIFF for the clips foley-bridge writes).
local function wav_length(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("*a")
  f:close()
  local function u32(pos) local a, b, c, d = data:byte(pos, pos + 3); return a + b * 256 + c * 65536 + d * 16777216 end
  local function u16(pos) local a, b = data:byte(pos, pos + 1); return a + b * 256 end
  if data:sub(1, 4) ~= "RIFF" or data:sub(9, 12) ~= "WAVE" then return nil end
  local pos, rate, align, size = 13, nil, nil, nil
  while pos + 8 <= #data do
    local id, len = data:sub(pos, pos + 3), u32(pos + 4)
    if id == "fmt " then
      rate, align = u32(pos + 12), u16(pos + 20)
    elseif id == "data" then
      size = len
      break
    end
    pos = pos + 8 + len + len % 2
  end
  if not (rate and align and size) then return nil end
  return size / align, rate
end
function Clip:GetClipProperty(key)
  if key == nil then return self.props end
  return self.props[key] or ""
end

function Pool.new()
  local root = Folder.new("Master")
  return setmetatable({ root = root, current = root, by_path = {} }, Pool)
end
function Pool:GetRootFolder() return self.root end
function Pool:GetCurrentFolder() return self.current end
function Pool:SetCurrentFolder(folder)
  check(getmetatable(folder) == Folder, "SetCurrentFolder needs a folder")
  self.current = folder
  return true
end
function Pool:AddSubFolder(parent, name)
  check(getmetatable(parent) == Folder, "AddSubFolder needs a parent folder")
  for _, f in ipairs(parent.subfolders) do
    if f.name == name then return nil end -- Resolve refuses duplicate names
  end
  local f = Folder.new(name)
  parent.subfolders[#parent.subfolders + 1] = f
  fake.bins[#fake.bins + 1] = name
  return f
end
function Pool:ImportMedia(paths)
  check(type(paths) == "table", "ImportMedia needs a list of paths")
  local out = {}
  for _, path in ipairs(paths) do
    local f = io.open(path, "rb")
    if f then
      f:close()
      local clip = self.by_path[path] -- importing a file again returns the clip it already has
      if not clip then
        -- A WAV has no frame rate of its own and Resolve reports 24 for it on any timeline; its source frames
        -- count at that rate (davinci-resolve-mcp PR #144, measured on Studio 19.1 and 21.0).
        local samples, rate = wav_length(path)
        clip = Clip.new(path, { Type = "Audio", FPS = fake.wav_fps or "24" })
        clip.samples, clip.sample_rate = samples, rate
        self.by_path[path] = clip
        self.current.clips[#self.current.clips + 1] = clip
        fake.imports[#fake.imports + 1] = { path = path, bin = self.current.name }
      end
      out[#out + 1] = clip
    end
  end
  return out
end

function Pool:DeleteFolders(folders)
  for _, folder in ipairs(folders) do
    for i, f in ipairs(self.root.subfolders) do
      if f == folder then
        table.remove(self.root.subfolders, i)
        fake.deleted_bins[#fake.deleted_bins + 1] = f.name
        break
      end
    end
  end
  return true
end

-- AppendToTimeline as Resolve behaves: recordFrame is absolute, startFrame/endFrame count in the clip's own
-- rate with endFrame exclusive (davinci-resolve-mcp issue #164, PR #80 and PR #144), an empty list when the
-- target track is locked, and a clip that would overlap one already on its track is dropped without an
-- error (the rest are placed). The timeline span of a clip is its source frames converted to the timeline
-- rate, rounded. Asking for frames past the end of the file is an error here (the script must never).
function Pool:AppendToTimeline(infos)
  fake.append_calls = fake.append_calls + 1
  local tl = fake.timeline
  local tl_fps = exact_rate(tl.fps)
  check(type(infos) == "table" and #infos > 0, "AppendToTimeline needs a list of clip infos")
  for _, info in ipairs(infos) do
    check(getmetatable(info.mediaPoolItem) == Clip, "clip info needs mediaPoolItem")
    for _, key in ipairs({ "startFrame", "endFrame", "recordFrame", "trackIndex", "mediaType" }) do
      check(type(info[key]) == "number" and info[key] == math.floor(info[key]), key .. " must be a whole number")
    end
    check(info.mediaType == 2, "audio clips need mediaType = 2")
    check(info.endFrame > info.startFrame, "endFrame must be after startFrame (exclusive)")
    check(info.trackIndex >= 1 and info.trackIndex <= #tl.tracks.audio, "trackIndex out of range")
    local clip = info.mediaPoolItem
    if clip.samples then
      local clip_fps = exact_rate(clip.props.FPS)
      check(info.endFrame <= clip.samples / clip.sample_rate * clip_fps + 1e-9,
        "endFrame " .. info.endFrame .. " is past the end of " .. clip.props["File Path"])
    end
  end
  for _, info in ipairs(infos) do
    if tl.tracks.audio[info.trackIndex].locked then
      return {} -- what Resolve does: nothing placed, no error
    end
  end
  local out = {}
  for _, info in ipairs(infos) do
    local clip_fps = exact_rate(info.mediaPoolItem.props.FPS)
    local span = math.floor((info.endFrame - info.startFrame) * tl_fps / clip_fps + 0.5)
    local track = tl.tracks.audio[info.trackIndex]
    local free = true
    for _, other in ipairs(track.items) do
      if other.start < info.recordFrame + span and info.recordFrame < other.finish then
        free = false
      end
    end
    if free then
      local item = Item.new(info.mediaPoolItem, info.recordFrame, info.recordFrame + span, info.startFrame)
      track.items[#track.items + 1] = item
      fake.appended[#fake.appended + 1] = { path = info.mediaPoolItem.props["File Path"],
        startFrame = info.startFrame, endFrame = info.endFrame, recordFrame = info.recordFrame,
        trackIndex = info.trackIndex, mediaType = info.mediaType, track = track.name, span = span }
      out[#out + 1] = item
    else
      fake.dropped[#fake.dropped + 1] = info.mediaPoolItem.props["File Path"]
    end
  end
  return out
end

-- Timeline ----------------------------------------------------------------------------------------------

function Item.new(clip, start, finish, source_start)
  return setmetatable({ clip = clip, start = start, finish = finish, source_start = source_start or 0 }, Item)
end
function Item:GetName() return self.clip and self.clip:GetName() or "Item" end
function Item:GetStart() return self.start end
function Item:GetEnd() return self.finish end
function Item:GetDuration() return self.finish - self.start end
function Item:GetSourceStartFrame() return self.source_start end


local function timecode_frames(tc, fps)
  local h, m, s, f = tostring(tc or "00:00:00:00"):match("^(%d+):(%d+):(%d+)[:;](%d+)$")
  return ((tonumber(h) * 60 + tonumber(m)) * 60 + tonumber(s)) * math.floor(fps + 0.5) + tonumber(f)
end

-- GetSourceStartFrame counts from the file's first frame at the clip's own rate. GetSourceStartTime
-- (seconds; newer Resolve only, fake.no_source_time hides it as on older versions, where the call fails)
-- counts from the clip's start timecode: 36000.5 s for a clip 0.5 s into a file that starts at 10:00:00:00
-- (measured on Studio 19.1 and 21.0; davinci-resolve-mcp issue #147, "source_end is timecode-absolute on media
-- with a non-zero start TC", derives the file offset by subtracting the media pool item's "Start TC").
-- fake.nominal_timecode counts the timecode origin in nominal seconds (frames / 24 at 23.976) instead.
Item.GetSourceStartTime = function(self)
  check(not fake.no_source_time, "GetSourceStartTime is not in this Resolve version")
  local fps = exact_rate(self.clip:GetClipProperty("FPS"))
  local tc = timecode_frames(self.clip.props["Start TC"], fps)
  local origin = fake.nominal_timecode and tc / math.floor(fps + 0.5) or tc / fps
  return origin + self.source_start / fps
end
function Item:GetMediaPoolItem() return self.clip end

function Timeline.new(name, fps_setting, start_frame)
  return setmetatable({ name = name, fps = fps_setting, start_frame = start_frame,
    tracks = { video = { { name = "Video 1", items = {} } }, audio = { { name = "Audio 1", items = {} } } },
    marks = {}, current = nil }, Timeline)
end
function Timeline:GetName() return self.name end
function Timeline:GetSetting(key)
  check(key == "timelineFrameRate", "unexpected setting " .. tostring(key))
  return self.fps
end
function Timeline:GetStartFrame() return self.start_frame end
-- GetMarkInOut is in Resolve 20 and later; on older versions the method is missing and calling it fails.
function Timeline:GetMarkInOut()
  local major = (fake.version or { 20 })[1]
  check(major >= 20, "GetMarkInOut is not in Resolve " .. tostring(major))
  return self.marks
end
function Timeline:GetTrackCount(kind) return #self.tracks[kind] end
function Timeline:GetItemListInTrack(kind, idx)
  local tr = self.tracks[kind][idx]
  return tr and tr.items or nil
end
function Timeline:GetCurrentVideoItem() return self.current end
function Timeline:AddTrack(kind, subtype)
  check(kind == "audio" and subtype == "stereo", "expected AddTrack('audio', 'stereo')")
  local tr = { name = "Audio " .. (#self.tracks.audio + 1), items = {}, subtype = subtype,
    locked = fake.lock_new_tracks }
  self.tracks.audio[#self.tracks.audio + 1] = tr
  return true
end
function Timeline:SetTrackName(kind, idx, name)
  local tr = self.tracks[kind][idx]
  check(tr, "SetTrackName on a missing track " .. tostring(idx))
  tr.name = name
  return true
end
function Timeline:GetTrackName(kind, idx) return self.tracks[kind][idx].name end
function Timeline:DeleteTrack(kind, idx)
  check(self.tracks[kind][idx], "DeleteTrack on a missing track " .. tostring(idx))
  fake.deleted_tracks[#fake.deleted_tracks + 1] = self.tracks[kind][idx].name
  table.remove(self.tracks[kind], idx)
  return true
end
function Timeline:DeleteClips(items, ripple)
  check(ripple == false, "the script must not ripple-delete")
  local gone = {}
  for _, it in ipairs(items) do gone[it] = true end
  for _, kind in ipairs({ "video", "audio" }) do
    for _, tr in ipairs(self.tracks[kind]) do
      local keep = {}
      for _, it in ipairs(tr.items) do
        if gone[it] then fake.deleted_clips = fake.deleted_clips + 1 else keep[#keep + 1] = it end
      end
      tr.items = keep
    end
  end
  return true
end
function Timeline:GetIsTrackLocked(kind, idx) return self.tracks[kind][idx].locked == true end

-- Project, manager, app -------------------------------------------------------------------------------

function Project:GetCurrentTimeline() return self.timeline end
function Project:GetMediaPool() return self.pool end
function Project:GetName() return "Test Project" end
function Manager:GetCurrentProject() return fake.project end
function App:GetProjectManager() return setmetatable({}, Manager) end
-- Documented: GetVersion() returns [version fields] = [major, minor, patch, build, suffix].
function App:GetVersion() return fake.version or { 20, 2, 0, 7, "" } end
function App:GetVersionString() return table.concat(fake.version or { 20, 2, 0, 7 }, ".", 1, 4) end

--- Build a project with one timeline; returns the timeline.
function fake.setup(opts)
  opts = opts or {}
  fake.pool = Pool.new()
  fake.project = setmetatable({ pool = fake.pool }, Project)
  if opts.no_timeline then
    return nil
  end
  fake.timeline = Timeline.new(opts.name or "Timeline 1", opts.fps or "25", opts.start_frame or 90000)
  fake.project.timeline = fake.timeline
  return fake.timeline
end

--- Put a video clip on video track 1: record frames [start, start + frames), source from source_start.
function fake.add_video(path, start, frames, source_start, props)
  local clip = Clip.new(path, props or { FPS = "25", Type = "Video" })
  local item = Item.new(clip, start, start + frames, source_start or 0)
  local track = fake.timeline.tracks.video[1]
  track.items[#track.items + 1] = item
  return item
end

function fake.snapshot()
  local tracks = {}
  for i, tr in ipairs(fake.timeline and fake.timeline.tracks.audio or {}) do
    tracks[i] = { name = tr.name, subtype = tr.subtype, items = #tr.items, locked = tr.locked == true }
  end
  local bins = {}
  for _, f in ipairs(fake.pool and fake.pool.root.subfolders or {}) do
    bins[#bins + 1] = f.name
  end
  return { audio_tracks = tracks, bins = fake.bins, bins_now = bins, imports = fake.imports,
    appended = fake.appended, append_calls = fake.append_calls, dropped = fake.dropped,
    deleted_bins = fake.deleted_bins, deleted_tracks = fake.deleted_tracks, deleted_clips = fake.deleted_clips,
    current_folder = fake.pool and fake.pool.current.name }
end

-- UI Manager --------------------------------------------------------------------------------------------
-- fu.UIManager builds elements (ui:VGroup, ui:Label, ui:LineEdit, ui:CheckBox, ui:Button, ui:Timer), and
-- bmd.UIDispatcher(ui) makes windows: AddWindow(props, root), win:GetItems(), win.On.<ID>.<Event> = fn,
-- win:Show(), disp:RunLoop() until disp:ExitLoop() (resolvedevdoc "UIDispatcher"; the Timer element with its
-- Timeout event follows Fusion's UI Manager examples). Only when fake.ui is set, as when a script runs from
-- Resolve's Scripts menu; fake.ui.actions scripts the user: {at = tick, id = "Prompt", text = "..."},
-- {at = tick, id = "Go" | "Cancel", event = "Clicked"}, {at = tick, id = <window ID>, event = "Close"}.

local function events()
  return setmetatable({}, { __index = function(t, k) local v = {}; rawset(t, k, v); return v end })
end

local function element(kind)
  return function(_, props)
    props = props or {}
    local e = { kind = kind, children = {} }
    for k, v in pairs(props) do
      if type(k) == "number" then e.children[#e.children + 1] = v else e[k] = v end
    end
    if kind == "Timer" then
      e.running = false
      function e:Start() self.running = true end
      function e:Stop() self.running = false end
      fake.ui.timers[#fake.ui.timers + 1] = e
    end
    if e.Enabled == nil then e.Enabled = true end
    return e
  end
end

local UIManager = {}
for _, kind in ipairs({ "VGroup", "HGroup", "Label", "LineEdit", "CheckBox", "Button", "Timer" }) do
  UIManager[kind] = element(kind)
end

local Dispatcher = {}
Dispatcher.__index = Dispatcher

function Dispatcher:AddWindow(props, root)
  local win = { props = props, root = root, On = events(), shown = false, items = {} }
  local function collect(e)
    if e.ID then win.items[e.ID] = e end
    for _, c in ipairs(e.children or {}) do collect(c) end
  end
  collect(root)
  function win:GetItems() return self.items end
  function win:Show() self.shown = true; fake.ui.shown = fake.ui.shown + 1 end
  function win:Hide() self.shown = false end
  self.windows[#self.windows + 1] = win
  fake.ui.window = win
  return win
end

function Dispatcher:ExitLoop() self.exit = true end

function Dispatcher:RunLoop()
  local win = self.windows[#self.windows]
  local tick = 0
  while not self.exit do
    tick = tick + 1
    check(tick < (fake.ui.max_ticks or 2000), "RunLoop never ended")
    for _, a in ipairs(fake.ui.actions or {}) do
      if a.at == tick then
        if a.text then
          check(win.items[a.id].Enabled, a.id .. " is disabled")
          win.items[a.id].Text = a.text
        elseif a.checked ~= nil then
          win.items[a.id].Checked = a.checked
        else
          if win.items[a.id] then check(win.items[a.id].Enabled, a.id .. " is disabled") end
          local handler = rawget(win.On, a.id) and win.On[a.id][a.event]
          check(handler, "no handler for " .. a.id .. "." .. a.event)
          fake.ui.fired[#fake.ui.fired + 1] = a.id .. "." .. a.event
          handler({ who = a.id })
        end
      end
    end
    for _, timer in ipairs(fake.ui.timers) do
      if timer.running and not self.exit then
        local handler = rawget(self.On, timer.ID) and self.On[timer.ID].Timeout
        check(handler, "no Timeout handler for timer " .. tostring(timer.ID))
        handler({ who = timer.ID })
        fake.ui.statuses[#fake.ui.statuses + 1] = win.items.Status and win.items.Status.Text
      end
    end
    os.execute("sleep " .. tostring((fake.ui.tick_ms or 100) / 1000))
  end
  return 0
end

function fake.enable_ui(actions)
  fake.ui = { actions = actions or {}, timers = {}, fired = {}, statuses = {}, shown = 0 }
  fu = { UIManager = UIManager }
  bmd = { UIDispatcher = function(ui)
    check(ui == UIManager, "UIDispatcher needs fu.UIManager")
    return setmetatable({ On = events(), windows = {} }, Dispatcher)
  end }
end

resolve = setmetatable({}, App)
function Resolve() return resolve end

return fake
