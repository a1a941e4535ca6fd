-- A fake of the parts of DaVinci Resolve's scripting API that "Foley Bridge - Generate" uses.
--
-- Objects use colon methods like Resolve's; AppendToTimeline follows Resolve's observed behaviour
-- (absolute recordFrame, exclusive endFrame, an empty list, silently, when the target track is locked).
-- Load with dofile(); returns the `fake` control table and sets the global Resolve() and `resolve`.

local fake = { appended = {}, append_calls = 0, bins = {}, imports = {}, lock_new_tracks = false }

local function check(cond, what)
  if not cond then
    error("fake Resolve: " .. what, 2)
  end
end

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
        clip = Clip.new(path, { Type = "Audio" })
        self.by_path[path] = clip
        self.current.clips[#self.current.clips + 1] = clip
        fake.imports[#fake.imports + 1] = { path = path, bin = self.current.name }
      end
      out[#out + 1] = clip
    end
  end
  return out
end

function Pool:AppendToTimeline(infos)
  fake.append_calls = fake.append_calls + 1
  local tl = fake.timeline
  check(type(infos) == "table" and #infos > 0, "AppendToTimeline needs a list of clip infos")
  for _, info in ipairs(infos) do
    check(getmetatable(info.mediaPoolItem) == Clip, "clip info needs mediaPoolItem")
    for _, key in ipairs({ "startFrame", "endFrame", "recordFrame", "trackIndex", "mediaType" }) do
      check(type(info[key]) == "number" and info[key] == math.floor(info[key]), key .. " must be a whole number")
    end
    check(info.mediaType == 2, "audio clips need mediaType = 2")
    check(info.endFrame > info.startFrame, "endFrame must be after startFrame (exclusive)")
    check(info.trackIndex >= 1 and info.trackIndex <= #tl.tracks.audio, "trackIndex out of range")
  end
  for _, info in ipairs(infos) do
    if tl.tracks.audio[info.trackIndex].locked then
      return {} -- what Resolve does: nothing placed, no error
    end
  end
  local out = {}
  for _, info in ipairs(infos) do
    local item = Item.new(info.mediaPoolItem, info.recordFrame, info.recordFrame + info.endFrame - info.startFrame,
      info.startFrame)
    local track = tl.tracks.audio[info.trackIndex]
    track.items[#track.items + 1] = item
    fake.appended[#fake.appended + 1] = { path = info.mediaPoolItem.props["File Path"], startFrame = info.startFrame,
      endFrame = info.endFrame, recordFrame = info.recordFrame, trackIndex = info.trackIndex,
      mediaType = info.mediaType, track = track.name }
    out[#out + 1] = item
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

local function exact_rate(text)
  local fps = tonumber(tostring(text or ""):match("[%d%.]+")) or 0
  local nominal = math.floor(fps + 0.5)
  if math.abs(fps - nominal * 1000 / 1001) < 0.005 and math.abs(fps - nominal) > 0.005 then
    return nominal * 1000 / 1001
  end
  return fps
end
fake.exact_rate = exact_rate

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
function Timeline:GetMarkInOut() return self.marks end
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
function Timeline:GetIsTrackLocked(kind, idx) return self.tracks[kind][idx].locked == true end

-- Project, manager, app -------------------------------------------------------------------------------

function Project:GetCurrentTimeline() return self.timeline end
function Project:GetMediaPool() return self.pool end
function Project:GetName() return "Test Project" end
function Manager:GetCurrentProject() return fake.project end
function App:GetProjectManager() return setmetatable({}, Manager) end

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
  return { audio_tracks = tracks, bins = fake.bins, imports = fake.imports, appended = fake.appended,
    append_calls = fake.append_calls,
    current_folder = fake.pool and fake.pool.current.name }
end

resolve = setmetatable({}, App)
function Resolve() return resolve end

return fake
