-- foley-bridge for REAPER: collect the selection, run `foley submit` in the background, poll its files
-- from a reaper.defer loop with a small progress window, and place the clips on new tracks in one
-- undo block. Loaded by the "Foley Bridge - ..." action scripts with dofile(); returns a constructor.

local TITLE = "Foley Bridge"
local EXT_SECTION = "foley_bridge"
local VIDEO_EXT = { mp4 = true, mov = true, m4v = true, mkv = true, avi = true, mxf = true, webm = true,
  mpg = true, mpeg = true, wmv = true, ["3gp"] = true, dv = true, ts = true }

return function(support_dir)
  local core = dofile(support_dir .. "core.lua")
  local H = { core = core }

  local function message(text, is_error)
    reaper.ShowMessageBox(text, TITLE, 0)
    if is_error then
      reaper.ShowConsoleMsg("[" .. TITLE .. "] " .. text:gsub("\n+", " ") .. "\n")
    end
  end
  H.message = message

  local function is_video(source, path)
    local kind = reaper.GetMediaSourceType(source, "")
    if kind == "VIDEO" then
      return true
    end
    local ext = (path:match("%.([%w]+)$") or ""):lower()
    return VIDEO_EXT[ext] == true
  end

  --- One request item for a media item, optionally cut to [clip_start, clip_end) in project seconds.
  --- Returns item table, or nil (not a video item), or false and a message (offline media).
  function H.request_item(item, clip_start, clip_end)
    local take = reaper.GetActiveTake(item)
    if not take or reaper.TakeIsMIDI(take) then
      return nil
    end
    local source = reaper.GetMediaItemTake_Source(take)
    local pos = reaper.GetMediaItemInfo_Value(item, "D_POSITION")
    local section_offs, reversed = 0, false
    local parent = reaper.GetMediaSourceParent(source)
    while parent do -- section/reversed sources wrap the file's own source; D_STARTOFFS is inside the section
      local ok, offs, _, rev = reaper.PCM_Source_GetSectionInfo(source)
      if ok then
        section_offs = section_offs + (offs or 0)
        reversed = reversed or rev == true
      end
      source = parent
      parent = reaper.GetMediaSourceParent(source)
    end
    local path = reaper.GetMediaSourceFileName(source, "")
    if not path or path == "" or not is_video(source, path) then
      return nil
    end
    if reversed then
      return false, string.format("The video item at %.3f s plays reversed; Foley Bridge needs it playing forwards. "
        .. "Turn off Item properties > Reverse (or leave that item out of the selection).", pos)
    end
    if not core.file_exists(path) then
      return false, string.format("The video of the item at %.3f s is offline or missing:\n%s\n\nReconnect the "
        .. "file (Item properties > Choose new file) or leave that item out of the selection.", pos, path)
    end
    local len = reaper.GetMediaItemInfo_Value(item, "D_LENGTH")
    local offs = section_offs + reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
    local rate = reaper.GetMediaItemTakeInfo_Value(take, "D_PLAYRATE")
    if not rate or rate <= 0 then
      rate = 1
    end
    local rec_in = math.max(pos, clip_start or pos)
    local rec_out = math.min(pos + len, clip_end or (pos + len))
    if rec_out <= rec_in then
      return nil
    end
    local out = {
      path = path,
      source_in_s = offs + (rec_in - pos) * rate,
      source_out_s = offs + (rec_out - pos) * rate,
      record_in_s = rec_in,
    }
    H.record_out[out] = rec_out
    return out, reaper.GetMediaItem_Track(item)
  end

  --- Where each request item ends on the timeline (not part of the request).
  H.record_out = setmetatable({}, { __mode = "k" })

  --- The project time the request items cover: start, end in seconds.
  function H.selection_span(items)
    local first, last = math.huge, -math.huge
    for _, it in ipairs(items) do
      first = math.min(first, it.record_in_s)
      last = math.max(last, H.record_out[it] or (it.record_in_s + it.source_out_s - it.source_in_s))
    end
    return first, last
  end

  local NOTHING = "Select one or more video items first (click the video item in the arrange view), then "
    .. "run this action again."

  --- Request items of the selected media items, the track of the first one; or nil and a message.
  function H.collect_selected_items()
    local n = reaper.CountSelectedMediaItems(0)
    if n == 0 then
      return nil, NOTHING
    end
    local items, first_track = {}, nil
    for i = 0, n - 1 do
      local it, track = H.request_item(reaper.GetSelectedMediaItem(0, i))
      if it == false then
        return nil, track
      elseif it then
        items[#items + 1] = it
        first_track = first_track or track
      end
    end
    if #items == 0 then
      return nil, "None of the selected items is a video item. " .. NOTHING
    end
    return items, first_track
  end

  --- Request items for the video under the time selection (selected tracks, else all tracks).
  function H.collect_time_selection()
    local t0, t1 = reaper.GetSet_LoopTimeRange(false, false, 0, 0, false)
    if not t0 or t1 <= t0 then
      return nil, "Make a time selection over the video first (drag in the ruler), then run this action again."
    end
    local tracks = {}
    local nsel = reaper.CountSelectedTracks(0)
    if nsel > 0 then
      for i = 0, nsel - 1 do
        tracks[#tracks + 1] = reaper.GetSelectedTrack(0, i)
      end
    else
      for i = 0, reaper.CountTracks(0) - 1 do
        tracks[#tracks + 1] = reaper.GetTrack(0, i)
      end
    end
    local items, first_track = {}, nil
    for _, track in ipairs(tracks) do
      for j = 0, reaper.CountTrackMediaItems(track) - 1 do
        local it, tr = H.request_item(reaper.GetTrackMediaItem(track, j), t0, t1)
        if it == false then
          return nil, tr
        elseif it then
          items[#items + 1] = it
          first_track = first_track or tr
        end
      end
    end
    if #items == 0 then
      return nil, string.format("There is no video item under the time selection (%.3f - %.3f s)%s. Move the "
        .. "time selection over a video item, then run this action again.", t0, t1,
        nsel > 0 and " on the selected tracks" or "")
    end
    return items, first_track
  end

  --- Ask for the optional one-line prompt ("what is in the shot?"). Returns the text (nil when left blank), or
  --- false when the user pressed Cancel.
  function H.ask_prompt(default)
    local ok, text = reaper.GetUserInputs(TITLE, 1, "What is in the shot? (optional),extrawidth=320,separator=\n",
      default or "")
    if not ok then
      return false
    end
    text = tostring(text or ""):match("^%s*(.-)%s*$")
    return text ~= "" and text or nil
  end

  --- The request table for some items.
  function H.build_request(items, output_dir, prompt)
    -- returns rate, dropFrame; an NTSC rate may come back rounded (29.97), so make it exact
    local fps = core.exact_rate(reaper.TimeMap_curFrameRate(0))
    return {
      version = 1,
      host = "reaper",
      fps = fps,
      timeline_start_s = 0,
      items = items,
      options = { spatial = true, precision = "normal", prompt = prompt },
      output_dir = output_dir,
    }
  end

  --- Where a job's files and clips go: <project media folder>/FoleyBridge/<stamp>.
  function H.job_dir()
    local base = reaper.GetProjectPath("")
    if not base or base == "" then
      base = reaper.GetResourcePath()
    end
    return (core.new_job_dir(core.join(base, "FoleyBridge"), "", function(dir)
      reaper.RecursiveCreateDirectory(dir, 0)
    end))
  end

  ---------------------------------------------------------------------------------------------------
  -- Placing the result
  ---------------------------------------------------------------------------------------------------

  --- The key under which the tracks and items of a Foley pass carry their pass (P_EXT extension data).
  H.TAG = "P_EXT:foley_bridge"

  local function tag_of(get, obj)
    local ok, value = get(obj, H.TAG, "", false)
    return ok and value ~= "" and value or nil
  end

  --- The previous Foley pass over [t0, t1): its tagged items that overlap the span, and the tagged tracks
  --- holding them. Returns {items = {{track, item}...}, tracks = {track...}}.
  function H.previous_pass(t0, t1)
    local found = { items = {}, tracks = {} }
    for i = 0, reaper.CountTracks(0) - 1 do
      local track = reaper.GetTrack(0, i)
      if tag_of(reaper.GetSetMediaTrackInfo_String, track) then
        local hit = false
        for j = 0, reaper.CountTrackMediaItems(track) - 1 do
          local item = reaper.GetTrackMediaItem(track, j)
          local pos = reaper.GetMediaItemInfo_Value(item, "D_POSITION")
          local len = reaper.GetMediaItemInfo_Value(item, "D_LENGTH")
          if tag_of(reaper.GetSetMediaItemInfo_String, item) and pos < t1 and pos + len > t0 then
            found.items[#found.items + 1] = { track, item }
            hit = true
          end
        end
        if hit then
          found.tracks[#found.tracks + 1] = track
        end
      end
    end
    return found
  end

  --- Replace the previous pass or keep it: config.keep_previous decides when set, else the user is asked.
  --- Returns "replace", "keep" or "cancel".
  function H.choose(previous, config)
    if #previous.items == 0 then
      return "keep"
    end
    if config and config.keep_previous ~= nil then
      return config.keep_previous and "keep" or "replace"
    end
    local answer = reaper.ShowMessageBox(string.format("This selection already has a Foley pass (%d clips on %d "
      .. "tracks).\n\nYes: replace it with the new pass\nNo: keep both\nCancel: add nothing",
      #previous.items, #previous.tracks), TITLE, 3) -- 3: Yes/No/Cancel; returns 6, 7 or 2
    return answer == 6 and "replace" or answer == 7 and "keep" or "cancel"
  end

  --- Remove a previous pass: its items, then its tracks that are left empty.
  local function remove_pass(previous)
    for _, pair in ipairs(previous.items) do
      reaper.DeleteTrackMediaItem(pair[1], pair[2])
    end
    for _, track in ipairs(previous.tracks) do
      if reaper.CountTrackMediaItems(track) == 0 then
        reaper.DeleteTrack(track)
      end
    end
  end

  --- Insert one track per category below source_track and one item per placement, in one undo block; with
  --- span = {t0, t1}, the previous Foley pass over it is replaced (or kept, see H.choose). Returns the created
  --- tracks by name, or nil and a message.
  function H.place(result, source_track, span, config)
    local placements = result.placements or {}
    if #placements == 0 then
      return nil, "foley-bridge found no sound events in the selection; nothing was added."
    end
    local missing = {}
    for _, p in ipairs(placements) do
      if not core.file_exists(p.path) then
        missing[#missing + 1] = p.path
      end
    end
    if #missing > 0 then
      return nil, string.format("%d clip file(s) of the result are missing, first: %s\nRun the action again.",
        #missing, missing[1])
    end
    local previous = span and H.previous_pass(span[1], span[2]) or { items = {}, tracks = {} }
    local choice = H.choose(previous, config)
    if choice == "cancel" then
      return nil, "Nothing was added; the clips stay in " .. tostring(result.output_dir) .. "."
    end
    local names = core.track_names(placements, result.tracks)
    local stamp = tostring(result.job or os.date("%Y%m%d-%H%M%S"))
    reaper.PreventUIRefresh(1)
    reaper.Undo_BeginBlock()
    if choice == "replace" then
      remove_pass(previous)
    end
    local index = source_track and reaper.ValidatePtr(source_track, "MediaTrack*")
      and math.floor(reaper.GetMediaTrackInfo_Value(source_track, "IP_TRACKNUMBER")) or reaper.CountTracks(0)
    local tracks = {}
    for i, name in ipairs(names) do
      reaper.InsertTrackAtIndex(index + i - 1, false) -- false: no default FX or envelopes from the preferences
      local track = reaper.GetTrack(0, index + i - 1)
      reaper.GetSetMediaTrackInfo_String(track, "P_NAME", name, true)
      reaper.GetSetMediaTrackInfo_String(track, H.TAG, stamp, true)
      tracks[name] = track
    end
    for _, p in ipairs(placements) do
      local item = reaper.AddMediaItemToTrack(tracks[p.track])
      local take = reaper.AddTakeToMediaItem(item)
      reaper.SetMediaItemTake_Source(take, reaper.PCM_Source_CreateFromFile(p.path))
      reaper.SetMediaItemInfo_Value(item, "D_POSITION", p.record_in_s)
      reaper.SetMediaItemInfo_Value(item, "D_LENGTH", p.duration_s)
      reaper.SetMediaItemInfo_Value(item, "D_SNAPOFFSET", p.snap_offset_s or 0)
      reaper.SetMediaItemTakeInfo_Value(take, "D_VOL", 1)
      reaper.SetMediaItemTakeInfo_Value(take, "D_PAN", 0)
      reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", core.basename(p.path), true)
      reaper.GetSetMediaItemInfo_String(item, "P_NOTES", core.clip_note(p), true)
      reaper.GetSetMediaItemInfo_String(item, H.TAG, stamp, true)
      reaper.UpdateItemInProject(item)
    end
    local what = choice == "replace" and string.format(" (replacing %d clips)", #previous.items) or ""
    reaper.Undo_EndBlock(string.format("Foley Bridge: add %d clips on %d tracks%s", #placements, #names, what), -1)
    reaper.PreventUIRefresh(-1)
    reaper.UpdateArrange()
    reaper.ShowConsoleMsg(string.format("[%s] placed %d clips%s:\n%s\nfiles: %s\n", TITLE, #placements, what,
      core.summary(placements, names), tostring(result.output_dir)))
    return tracks
  end

  ---------------------------------------------------------------------------------------------------
  -- Running a job
  ---------------------------------------------------------------------------------------------------

  local function draw(line, fraction)
    gfx.set(0.13, 0.13, 0.13)
    gfx.rect(0, 0, gfx.w, gfx.h, 1)
    gfx.set(0.9, 0.9, 0.9)
    gfx.x, gfx.y = 12, 12
    gfx.drawstr(line)
    gfx.set(0.3, 0.3, 0.3)
    gfx.rect(12, 44, gfx.w - 24, 14, 1)
    gfx.set(0.35, 0.75, 0.45)
    gfx.rect(12, 44, math.floor((gfx.w - 24) * math.max(0, math.min(1, fraction or 0))), 14, 1)
    gfx.set(0.6, 0.6, 0.6)
    gfx.x, gfx.y = 12, 68
    gfx.drawstr("close this window or press Esc to cancel")
    gfx.update()
  end

  --- Start `foley submit` for items and poll it from the defer loop; places the result when done.
  function H.run(items, source_track)
    local config = core.load_config(support_dir)
    local foley, err = core.foley_command(config, "reaper")
    if not foley then
      message(err, true)
      return nil
    end
    local prompt = nil
    if config.ask_prompt ~= false then
      prompt = H.ask_prompt(config.prompt)
      if prompt == false then
        reaper.ShowConsoleMsg("[" .. TITLE .. "] cancelled; nothing was started.\n")
        return nil
      end
    end
    local job = core.job_files(H.job_dir())
    local request = H.build_request(items, core.join(job.dir, "clips"), prompt)
    core.write_file_atomic(job.request, core.json.encode(request))
    reaper.SetExtState(EXT_SECTION, "cancel_file", job.cancel, false)
    -- -2: do not wait, start minimised; nil means the command could not be started at all
    if reaper.ExecProcess(core.write_launcher(foley, job, config), -2) == nil then
      reaper.DeleteExtState(EXT_SECTION, "cancel_file", false)
      message("REAPER could not start the foley-bridge launcher:\n" .. job.launcher .. "\n\nCheck that the job "
        .. "folder is writable, then run the action again.", true)
      return nil
    end
    gfx.init(TITLE, 420, 96)
    local cancelled, last_line, started = false, nil, reaper.time_precise()
    local function finish()
      gfx.quit()
      reaper.DeleteExtState(EXT_SECTION, "cancel_file", false)
    end
    local function loop()
      local state = core.poll(job, "reaper", reaper.time_precise() - started, config.start_timeout_s)
      if state.done then
        finish()
        if state.ok then
          local _, perr = H.place(state.result, source_track, { H.selection_span(items) }, config)
          if perr then
            message(perr, true)
          end
        elseif state.code == "cancelled" or cancelled then
          reaper.ShowConsoleMsg("[" .. TITLE .. "] cancelled; nothing was added.\n")
        else
          message("The Foley job failed (" .. tostring(state.code) .. "):\n" .. state.message, true)
        end
        return
      end
      local char = gfx.getchar()
      if (char == -1 or char == 27) and not cancelled then
        cancelled = true
        core.request_cancel(job.cancel)
      end
      local line = cancelled and "cancelling..." or core.progress_line(state.progress)
      if line ~= last_line then
        last_line = line
      end
      if char ~= -1 then
        draw(line, state.progress and tonumber(state.progress.fraction))
      end
      reaper.defer(loop)
    end
    reaper.defer(loop)
    return job
  end

  -- Run a job on what ``collect`` returns (items and their track, or nil and the reason).
  local function generate(collect)
    local items, track = collect()
    if not items then
      message(track, true)
      return nil
    end
    return H.run(items, track)
  end

  --- Action: generate Foley for the selected media items.
  function H.generate_selected_items()
    return generate(H.collect_selected_items)
  end

  --- Action: generate Foley for the video under the time selection.
  function H.generate_time_selection()
    return generate(H.collect_time_selection)
  end

  --- Action: cancel the running job.
  function H.cancel()
    local path = reaper.GetExtState(EXT_SECTION, "cancel_file")
    if not path or path == "" then
      message("No Foley Bridge job is running.", false)
      return false
    end
    core.request_cancel(path)
    reaper.ShowConsoleMsg("[" .. TITLE .. "] cancel requested.\n")
    return true
  end

  return H
end
