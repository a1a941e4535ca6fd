-- foley-bridge for DaVinci Resolve (LuaJIT, free and Studio): collect the video between the In and Out
-- marks (else the clip under the playhead), run `foley submit` in the background, poll its files with
-- short sleeps, then import the clips into a fresh bin and place them on new stereo audio tracks at their
-- exact record frames. Loaded by "Foley Bridge - Generate.lua" with dofile(); returns a constructor.

local TITLE = "Foley Bridge"

return function(support_dir)
  local core = dofile(support_dir .. "core.lua")
  local H = { core = core, messages = {} }

  --- Show a message on the Console (Workspace > Console) and keep it for the caller.
  function H.message(text)
    H.messages[#H.messages + 1] = text
    print("[" .. TITLE .. "] " .. text)
  end

  function H.sleep(seconds)
    if core.is_windows() then
      local ok, ffi = pcall(require, "ffi")
      if ok then
        pcall(ffi.cdef, "void Sleep(unsigned long ms);")
        ffi.C.Sleep(math.floor(seconds * 1000))
        return
      end
      os.execute("ping -n 1 -w " .. math.floor(seconds * 1000) .. " 127.255.255.255 > NUL")
    else
      os.execute("sleep " .. tostring(seconds))
    end
  end

  --- Resolve's timelineFrameRate setting ("24", "23.976", "29.97", "59.94 DF") as an exact rate.
  function H.parse_fps(setting)
    return core.exact_rate(tostring(setting or ""):match("[%d%.]+"))
  end

  --- Where the item's used part starts in its file, in seconds from the file's first frame.
  --- GetSourceStartFrame() counts from the file's first frame, at the clip's own rate. GetSourceStartTime()
  --- (newer Resolve) counts from the clip's start timecode instead (36000.5 s for a clip 0.5 s into a file
  --- starting at 10:00:00:00), so it is used only after subtracting "Start TC", and only when it then agrees
  --- with the frame count (it is finer where the frame count is off by one, as reported for 50p clips in 25p
  --- timelines). Whether the timecode origin is counted in real or nominal seconds at NTSC rates is not
  --- documented: both are tried.
  function H.source_start_s(item, mpi, fps)
    local clip_fps = H.parse_fps(mpi:GetClipProperty("FPS")) or fps
    local from_frames = item:GetSourceStartFrame() / clip_fps
    local ok, t = pcall(function() return item:GetSourceStartTime() end)
    if not ok or type(t) ~= "number" then
      return from_frames
    end
    local tc = core.timecode_frames(mpi:GetClipProperty("Start TC"), clip_fps) or 0
    for _, origin in ipairs({ tc / clip_fps, tc / math.floor(clip_fps + 0.5), 0 }) do
      if math.abs(t - origin - from_frames) <= 1.5 / clip_fps then
        return t - origin
      end
    end
    return from_frames
  end

  --- A file path as a lookup key: one separator, and case-folded on Windows (Resolve may report either case).
  function H.path_key(path)
    local key = tostring(path or ""):gsub("\\", "/")
    if core.is_windows() then
      key = key:lower()
    end
    return key
  end

  local function timeline_items_between(timeline, first, last)
    local items = {}
    for t = 1, timeline:GetTrackCount("video") do
      for _, item in ipairs(timeline:GetItemListInTrack("video", t) or {}) do
        if item:GetStart() < last and item:GetEnd() > first then
          items[#items + 1] = item
        end
      end
    end
    return items
  end

  --- Resolve's major version (GetVersion() gives {major, minor, patch, build, suffix}); nil when unknown.
  function H.version_major(app)
    local ok, v = pcall(function() return app:GetVersion() end)
    if ok and type(v) == "table" then
      return tonumber(v[1] or v.major)
    end
    ok, v = pcall(function() return app:GetVersionString() end)
    return ok and tonumber(tostring(v):match("^(%d+)")) or nil
  end

  --- Timeline:GetMarkInOut() exists from Resolve 20 on.
  H.MARKS_SINCE = 20

  --- Request items for the selection; or nil and a message. Frames are absolute timeline frames. With
  --- version_major below 20 the In/Out marks cannot be read, so only the clip under the playhead is used.
  function H.collect(timeline, fps, version_major)
    local start_frame = timeline:GetStartFrame()
    local marks_readable = version_major == nil or version_major >= H.MARKS_SINCE
    local marks = {}
    if marks_readable then -- a version that could not be read may still lack the call: do not fail on it
      local ok, got = pcall(function() return timeline:GetMarkInOut() end)
      marks = ok and type(got) == "table" and got or {}
    end
    local range = marks.video or marks.audio
    local first, last, items
    if range and range["in"] and range.out then
      first, last = start_frame + range["in"], start_frame + range.out + 1 -- out mark is inclusive
      items = timeline_items_between(timeline, first, last)
      if #items == 0 then
        return nil, "There is no video clip between the In and Out marks. Move the marks over a video clip "
          .. "(or clear them with Alt+X and park the playhead on a clip), then run the script again."
      end
    else
      local current = timeline:GetCurrentVideoItem()
      if not current and not marks_readable then
        return nil, string.format("Nothing to work on: park the playhead over a video clip, then run Workspace > "
          .. "Scripts > Foley Bridge - Generate again. (In and Out marks need DaVinci Resolve %d or later; this "
          .. "is Resolve %d, so the script uses the clip under the playhead.)", H.MARKS_SINCE, version_major)
      elseif not current then
        return nil, "Nothing to work on: set In and Out marks around the video (I and O keys) or park the "
          .. "playhead over a video clip, then run Workspace > Scripts > Foley Bridge - Generate again."
      end
      items = { current }
    end
    local out = {}
    for _, item in ipairs(items) do
      local mpi = item:GetMediaPoolItem()
      local path = mpi and mpi:GetClipProperty("File Path") or ""
      if path ~= "" then
        if not H.media_exists(path) then
          return nil, string.format("The clip '%s' is offline: its file is missing:\n%s\nRelink it in the Media "
            .. "Pool (right-click > Relink Selected Clips), then run the script again.", item:GetName(), path)
        end
        local rec_in, rec_out = item:GetStart(), item:GetEnd()
        local cut_in, cut_out = math.max(rec_in, first or rec_in), math.min(rec_out, last or rec_out)
        local source_in = H.source_start_s(item, mpi, fps) + (cut_in - rec_in) / fps
        out[#out + 1] = {
          path = path,
          source_in_s = source_in,
          source_out_s = source_in + (cut_out - cut_in) / fps,
          record_in_s = cut_in / fps,
        }
      end
    end
    if #out == 0 then
      return nil, "The selected clips have no media files (titles, generators or compound clips). Choose a "
        .. "video clip from a file, then run the script again."
    end
    return out
  end

  --- Run one job to the end, printing progress; returns the poll state. A launcher that shows no sign of
  --- life within start_timeout_s ends the wait with a message.
  function H.wait(job, poll_s, start_timeout_s)
    local last, started = nil, os.time()
    while true do
      local state = core.poll(job, "resolve", os.time() - started, start_timeout_s)
      if state.done then
        return state
      end
      local line = core.progress_line(state.progress)
      if line ~= last then
        print("[" .. TITLE .. "] " .. line)
        last = line
      end
      H.sleep(poll_s or 0.25)
    end
  end

  --- UTF-8 text as a NUL-terminated UTF-16 buffer for the Windows wide-character calls.
  local function wide(ffi, text)
    local n = ffi.C.MultiByteToWideChar(65001, 0, text, #text, nil, 0)
    local buf = ffi.new("uint16_t[?]", n + 1)
    ffi.C.MultiByteToWideChar(65001, 0, text, #text, buf, n)
    buf[n] = 0
    return buf
  end

  --- Whether a media file exists. LuaJIT's io.open takes ANSI code-page paths on Windows, so a file whose
  --- name has other letters (UTF-8 from Resolve) would look offline: there the wide-character
  --- GetFileAttributesW answers.
  function H.media_exists(path)
    if core.file_exists(path) then
      return true
    end
    if not core.is_windows() or type(path) ~= "string" or not path:find("[\128-\255]") then
      return false
    end
    local ok, ffi = pcall(require, "ffi")
    if not ok then
      return false
    end
    pcall(ffi.cdef, [[
      int MultiByteToWideChar(unsigned int cp, unsigned long flags, const char *s, int n, uint16_t *w, int wn);
      unsigned long GetFileAttributesW(const uint16_t *path);
    ]])
    return ffi.C.GetFileAttributesW(wide(ffi, path)) ~= 0xFFFFFFFF -- INVALID_FILE_ATTRIBUTES
  end

  --- Start the launcher without waiting for it. On Windows through ShellExecuteW, so a path with
  --- non-ASCII letters reaches cmd.exe intact (os.execute goes through the ANSI code page), hidden.
  function H.start(command, program, params)
    if core.is_windows() then
      local ok, ffi = pcall(require, "ffi")
      if ok and program then
        pcall(ffi.cdef, [[
          int MultiByteToWideChar(unsigned int cp, unsigned long flags, const char *s, int n, uint16_t *w, int wn);
          void *ShellExecuteW(void *hwnd, const uint16_t *op, const uint16_t *file, const uint16_t *params,
                              const uint16_t *dir, int show);
        ]])
        local shell32 = ffi.load("shell32")
        local h = shell32.ShellExecuteW(nil, wide(ffi, "open"), wide(ffi, program), wide(ffi, params), nil, 0)
        return tonumber(ffi.cast("intptr_t", h)) > 32 -- documented: a value above 32 means success
      end
      return os.execute('start "" /MIN ' .. command)
    end
    os.execute(command .. " > /dev/null 2>&1 &")
    return true
  end

  ---------------------------------------------------------------------------------------------------
  -- The window: an optional prompt, progress and Cancel (Fusion's UI Manager, in free Resolve too)
  ---------------------------------------------------------------------------------------------------

  --- Whether Resolve's UI Manager is there (it is when the script runs from the Workspace > Scripts menu).
  function H.ui_available()
    return type(fu) ~= "nil" and fu ~= nil and fu.UIManager ~= nil and type(bmd) ~= "nil" and bmd ~= nil
      and bmd.UIDispatcher ~= nil
  end

  --- Show the window: a one-line prompt ("what is in the shot?"), whether to keep the previous pass, and
  --- Generate / Cancel. Generate calls start_job(prompt), which returns the job; a timer then polls its files
  --- and shows its progress; Cancel (or closing the window) asks the job to stop. Returns the final poll state
  --- and the keep choice, or nil when the window was closed before anything started.
  function H.window_session(start_job, config)
    local ui = fu.UIManager
    local disp = bmd.UIDispatcher(ui)
    local win = disp:AddWindow({ ID = "FoleyBridge", WindowTitle = TITLE, Geometry = { 200, 200, 520, 170 } },
      ui:VGroup({
        ui:Label({ ID = "Status", Text = "What is in the shot? (optional: helps choose the sounds)" }),
        ui:LineEdit({ ID = "Prompt", Text = config.prompt or "",
          PlaceholderText = "e.g. glass bottles knocked over on a wooden bar" }),
        ui:CheckBox({ ID = "Keep", Text = "Keep the previous Foley pass over this selection",
          Checked = config.keep_previous == true }),
        ui:HGroup({ ui:Button({ ID = "Go", Text = "Generate" }), ui:Button({ ID = "Cancel", Text = "Cancel" }) }),
      }))
    local items = win:GetItems()
    local timer = ui:Timer({ ID = "FoleyBridgePoll", Interval = math.floor((config.poll_s or 0.25) * 1000) })
    local job, state, started, cancelled = nil, nil, nil, false

    local function poll()
      if not job or state then
        return
      end
      local now = core.poll(job, "resolve", os.time() - started, config.start_timeout_s)
      if now.done then
        state = now
        timer:Stop()
        disp:ExitLoop()
        return
      end
      items.Status.Text = cancelled and "cancelling..." or core.progress_line(now.progress)
    end

    local function go()
      if job then
        return
      end
      items.Go.Enabled, items.Prompt.Enabled, items.Keep.Enabled = false, false, false
      items.Status.Text = "starting foley-bridge..."
      job, started = start_job(items.Prompt.Text), os.time()
      timer:Start()
    end

    local function cancel()
      if not job then
        disp:ExitLoop()
      elseif not cancelled then
        cancelled = true
        core.request_cancel(job.cancel)
        items.Status.Text = "cancelling..."
        items.Cancel.Enabled = false
      end
    end

    win.On.Go.Clicked = go
    win.On.Prompt.ReturnPressed = go
    win.On.Cancel.Clicked = cancel
    win.On.FoleyBridge.Close = cancel
    -- the timer's Timeout reaches the dispatcher (some examples bind it on the window): bind both
    disp.On.FoleyBridgePoll.Timeout = poll
    win.On.FoleyBridgePoll.Timeout = poll
    win:Show()
    disp:RunLoop()
    win:Hide()
    return state, items.Keep.Checked == true
  end

  local function locked_tracks(timeline, indexes)
    local names = {}
    for name, idx in pairs(indexes) do
      if timeline:GetIsTrackLocked("audio", idx) then
        names[#names + 1] = name
      end
    end
    table.sort(names)
    return names
  end

  --- Frames of each placement as Resolve will place them: the record frame rounded to the nearest timeline
  --- frame; startFrame/endFrame counted in the imported clip's own rate (a WAV reports 24 fps whatever the
  --- timeline), ending inside the file; and the timeline frames the clip then covers (rounded up, so a lane
  --- never holds two clips that share a frame). Returns the plan sorted by record frame.
  function H.plan(placements, fps, clip_of)
    local plan = {}
    for i, p in ipairs(placements) do
      local clip = clip_of(p)
      local clip_fps = clip and H.parse_fps(clip:GetClipProperty("FPS")) or fps
      local frames = math.max(1, math.floor(p.duration_s * clip_fps + 1e-6))
      local record = math.floor(p.record_in_s * fps + 0.5)
      plan[#plan + 1] = { p = p, clip = clip, index = i, record = record, end_frame = frames,
        finish = record + math.max(1, math.ceil(frames * fps / clip_fps - 1e-6)) }
    end
    table.sort(plan, function(a, b)
      if a.record ~= b.record then return a.record < b.record end
      return a.index < b.index
    end)
    return plan
  end

  --- Put each planned clip on a lane of its base track where it overlaps nothing (Resolve silently drops a
  --- clip appended onto an occupied span): the first free lane, in time order, named like the daemon's lanes
  --- ("Foley Impacts", "Foley Impacts 2", ...). Sets entry.track.
  function H.assign_lanes(plan)
    local lanes = {}
    for _, e in ipairs(plan) do
      local base = core.lane_of(e.p.track)
      local ends = lanes[base] or {}
      lanes[base] = ends
      local lane
      for i, finish in ipairs(ends) do
        if finish <= e.record then
          lane = i
          break
        end
      end
      lane = lane or #ends + 1
      ends[lane] = e.finish
      e.track = lane == 1 and base or (base .. " " .. lane)
    end
  end

  --- The key under which each imported clip records the pass that made it (MediaPoolItem third-party
  --- metadata), so a later run can find that pass on the timeline.
  H.TAG = "foley_bridge_pass"

  function H.tag(clip, stamp)
    if clip.SetThirdPartyMetadata then
      clip:SetThirdPartyMetadata(H.TAG, stamp)
    end
  end

  --- Take back what a failed placement added: its timeline items, its tracks (highest index first) and its
  --- bin, so the timeline is as it was.
  local function undo(timeline, pool, placed, indexes, bin)
    if placed and #placed > 0 then
      timeline:DeleteClips(placed, false)
    end
    local idx = {}
    for _, i in pairs(indexes or {}) do
      idx[#idx + 1] = i
    end
    table.sort(idx, function(a, b) return a > b end)
    for _, i in ipairs(idx) do
      timeline:DeleteTrack("audio", i)
    end
    if bin then
      pool:DeleteFolders({ bin })
    end
  end

  --- Import the clips into a fresh bin and place them on new tracks, all or nothing. Returns a report table or
  --- nil, message.
  function H.place(project, timeline, fps, result, stamp)
    local placements = result.placements or {}
    if #placements == 0 then
      return nil, "foley-bridge found no sound events in the selection; nothing was added."
    end
    local pool = project:GetMediaPool()
    local previous = pool:GetCurrentFolder()
    local bin = pool:AddSubFolder(pool:GetRootFolder(), "Foley Bridge " .. stamp)
    if not bin then
      return nil, "Could not create a bin in the Media Pool; check that the project is not read-only."
    end
    pool:SetCurrentFolder(bin)
    local paths = {}
    for i, p in ipairs(placements) do
      paths[i] = p.path
    end
    local imported = pool:ImportMedia(paths) or {}
    if previous then
      pool:SetCurrentFolder(previous)
    end
    local by_path = {}
    for _, clip in ipairs(imported) do
      by_path[H.path_key(clip:GetClipProperty("File Path"))] = clip
    end
    local plan = H.plan(placements, fps, function(p) return by_path[H.path_key(p.path)] end)
    for _, e in ipairs(plan) do
      if not e.clip then
        undo(timeline, pool, nil, nil, bin)
        return nil, "Resolve did not import " .. e.p.path .. ". Check that the file exists and is readable."
      end
    end
    H.assign_lanes(plan)
    local lanes = {}
    for i, e in ipairs(plan) do
      lanes[i] = { track = e.track }
    end
    local names = core.track_names(lanes, result.tracks)
    local indexes = {}
    for _, name in ipairs(names) do
      if not timeline:AddTrack("audio", "stereo") then
        undo(timeline, pool, nil, indexes, bin)
        return nil, "Could not add an audio track to the timeline '" .. timeline:GetName() .. "'."
      end
      local idx = timeline:GetTrackCount("audio")
      timeline:SetTrackName("audio", idx, name)
      indexes[name] = idx
    end
    local locked = locked_tracks(timeline, indexes)
    if #locked > 0 then
      undo(timeline, pool, nil, indexes, bin)
      return nil, "The new track(s) " .. table.concat(locked, ", ") .. " are locked, so Resolve would silently "
        .. "drop the clips. Unlock them (padlock in the track header), then run the script again. Nothing was "
        .. "added."
    end
    local infos, worst = {}, 0
    for _, e in ipairs(plan) do
      worst = math.max(worst, math.abs(e.record / fps - e.p.record_in_s))
      infos[#infos + 1] = { mediaPoolItem = e.clip, startFrame = 0, endFrame = e.end_frame, mediaType = 2,
        trackIndex = indexes[e.track], recordFrame = e.record }
    end
    local placed = pool:AppendToTimeline(infos) or {}
    if #placed < #infos then
      local now_locked = locked_tracks(timeline, indexes)
      undo(timeline, pool, placed, indexes, bin)
      local why = #now_locked > 0 and ("track(s) " .. table.concat(now_locked, ", ") .. " are locked; unlock them")
        or "check the Console and the timeline's audio tracks"
      return nil, string.format("Resolve placed only %d of %d clips, so nothing was kept: %s, then run the "
        .. "script again.", #placed, #infos, why)
    end
    for _, e in ipairs(plan) do
      H.tag(e.clip, stamp)
    end
    local report = { placed = #placed, tracks = names, bin = "Foley Bridge " .. stamp, max_offset_s = worst }
    H.message(string.format("placed %d clips in bin '%s':\n%s\nlargest frame-rounding offset %.1f ms; files: %s",
      #placed, report.bin, core.summary(lanes, names), worst * 1000, tostring(result.output_dir)))
    return report
  end

  --- The menu command. Returns the report, or nil and the message shown.
  function H.main(resolve_obj)
    local resolve_app = resolve_obj or resolve or (Resolve and Resolve())
    if not resolve_app then
      H.message("Run this from DaVinci Resolve: Workspace > Scripts > Foley Bridge - Generate.")
      return nil
    end
    local project = resolve_app:GetProjectManager():GetCurrentProject()
    local timeline = project and project:GetCurrentTimeline()
    if not timeline then
      local msg = "No timeline is open. Open a timeline on the Edit page, then run the script again."
      H.message(msg)
      return nil, msg
    end
    local fps = H.parse_fps(timeline:GetSetting("timelineFrameRate"))
    if not fps then
      local msg = "Could not read the timeline frame rate (" .. tostring(timeline:GetSetting("timelineFrameRate"))
        .. "). Check Timeline > Timeline Settings."
      H.message(msg)
      return nil, msg
    end
    local items, err = H.collect(timeline, fps, H.version_major(resolve_app))
    if not items then
      H.message(err)
      return nil, err
    end
    local config = core.load_config(support_dir)
    local foley, ferr = core.foley_command(config, "resolve")
    if not foley then
      H.message(ferr)
      return nil, ferr
    end
    local work = config.work_dir or core.join(os.getenv("HOME") or os.getenv("USERPROFILE") or ".", "FoleyBridge")
    local stamp
    local function start_job(prompt)
      local dir
      dir, stamp = core.new_job_dir(work, "resolve-")
      local job = core.job_files(dir)
      local options = { spatial = true, precision = "normal" }
      if type(prompt) == "string" and prompt:match("%S") then
        options.prompt = prompt:match("^%s*(.-)%s*$")
      end
      local request = { version = 1, host = "resolve", fps = fps, timeline_start_s = timeline:GetStartFrame() / fps,
        items = items, options = options, output_dir = core.join(dir, "clips") }
      core.write_file_atomic(job.request, core.json.encode(request))
      H.message(string.format("generating Foley for %d clip(s) of '%s'...", #items, timeline:GetName()))
      H.start(core.write_launcher(foley, job, config))
      return job
    end
    local state, keep = nil, config.keep_previous
    if config.window ~= false and H.ui_available() then
      state, keep = H.window_session(start_job, config)
      if not state then
        local msg = "Closed before starting; nothing was added."
        H.message(msg)
        return nil, msg
      end
    else
      state = H.wait(start_job(config.prompt), config.poll_s, config.start_timeout_s)
    end
    if not state.ok then
      local msg = state.code == "cancelled" and "Cancelled; nothing was added."
        or ("The Foley job failed (" .. tostring(state.code) .. "):\n" .. state.message)
      H.message(msg)
      return nil, msg
    end
    local report, perr = H.place(project, timeline, fps, state.result, stamp)
    if not report then
      H.message(perr)
      return nil, perr
    end
    if not keep then
      local first, last = H.selection_frames(items, fps)
      report.replaced = H.remove_pass(timeline, H.previous_pass(timeline, first, last, stamp))
      if report.replaced > 0 then
        H.message(string.format("replaced the previous Foley pass over the selection (%d clips)", report.replaced))
      end
    end
    return report
  end

  --- The timeline frames the request items cover: [first, last).
  function H.selection_frames(items, fps)
    local first, last = math.huge, -math.huge
    for _, it in ipairs(items) do
      first = math.min(first, math.floor(it.record_in_s * fps + 0.5))
      last = math.max(last, math.floor((it.record_in_s + it.source_out_s - it.source_in_s) * fps + 0.5))
    end
    return first, last
  end

  --- The pass tag of a timeline item's clip ("" when it has none or the call is missing).
  local function pass_of(item)
    local ok, tag = pcall(function()
      local mpi = item:GetMediaPoolItem()
      return mpi and mpi:GetThirdPartyMetadata(H.TAG) or ""
    end)
    return ok and type(tag) == "string" and tag or ""
  end

  --- Earlier Foley passes over [first, last): audio items whose clips carry a pass tag other than
  --- current_stamp, and the indexes of the tracks holding them. Returns {items = {...}, tracks = {...}}.
  function H.previous_pass(timeline, first, last, current_stamp)
    local found = { items = {}, tracks = {} }
    for t = 1, timeline:GetTrackCount("audio") do
      local hit = false
      for _, item in ipairs(timeline:GetItemListInTrack("audio", t) or {}) do
        local tag = pass_of(item)
        if tag ~= "" and tag ~= current_stamp and item:GetStart() < last and item:GetEnd() > first then
          found.items[#found.items + 1] = item
          hit = true
        end
      end
      if hit then
        found.tracks[#found.tracks + 1] = t
      end
    end
    return found
  end

  --- Delete a previous pass's items, then its tracks left empty (highest index first). Returns the number of
  --- clips removed.
  function H.remove_pass(timeline, previous)
    if #previous.items == 0 then
      return 0
    end
    timeline:DeleteClips(previous.items, false)
    for i = #previous.tracks, 1, -1 do
      local t = previous.tracks[i]
      if #(timeline:GetItemListInTrack("audio", t) or {}) == 0 then
        timeline:DeleteTrack("audio", t)
      end
    end
    return #previous.items
  end

  return H
end
