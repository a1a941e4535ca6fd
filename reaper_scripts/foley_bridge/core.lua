-- foley-bridge host-script core, shared by the REAPER actions and the DaVinci Resolve menu script.
--
-- Plain Lua that runs unchanged under REAPER's Lua 5.4 and Resolve's LuaJIT (no bit operators, no utf8
-- library, no modules the hosts do not ship). Holds: a JSON encoder/decoder, paths, atomic file writes,
-- command-line quoting for Windows and POSIX shells, the job files of one `foley submit` relay and
-- reading them back. Loaded with dofile(); returns the module table.

local M = {}

M.VERSION = "0.1.0"

-- Track order comes from the result's "tracks" list ({name, kind} in creation order, written by foley-bridge);
-- a result without it keeps the placements' own order of first appearance. Overlap lanes ("Foley Impacts 2")
-- follow their base track.

---------------------------------------------------------------------------------------------------
-- Platform and paths
---------------------------------------------------------------------------------------------------

--- True on Windows. Tests set M.windows to build Windows command lines on any system.
M.windows = package.config:sub(1, 1) == "\\"

function M.is_windows()
  return M.windows
end

function M.sep()
  return M.is_windows() and "\\" or "/"
end

function M.join(...)
  local parts = { ... }
  local out = ""
  for _, part in ipairs(parts) do
    if out == "" then
      out = part
    elseif out:sub(-1) == "/" or out:sub(-1) == "\\" then
      out = out .. part
    else
      out = out .. M.sep() .. part
    end
  end
  return out
end

function M.dirname(path)
  return path:match("^(.*)[/\\][^/\\]*$") or "."
end

--- A frame rate as the exact NTSC rate when it is one rounded (23.976 -> 24000/1001); others unchanged.
function M.exact_rate(fps)
  fps = tonumber(fps)
  if not fps or fps <= 0 then
    return nil
  end
  local nominal = math.floor(fps + 0.5)
  if math.abs(fps - nominal * 1000 / 1001) < 0.005 and math.abs(fps - nominal) > 0.005 then
    return nominal * 1000 / 1001
  end
  return fps
end

--- Frames counted by a timecode "HH:MM:SS:FF" (";" or "." before the frames marks drop frame) at fps;
--- nil when the text is not a timecode.
function M.timecode_frames(tc, fps)
  local h, m, sec, mark, f = tostring(tc or ""):match("^%s*(%d+):(%d%d):(%d%d)([:;.,])(%d+)%s*$")
  fps = tonumber(fps)
  if not h or not fps or fps <= 0 then
    return nil
  end
  local nominal = math.floor(fps + 0.5)
  local frames = ((tonumber(h) * 60 + tonumber(m)) * 60 + tonumber(sec)) * nominal + tonumber(f)
  if (mark == ";" or mark == ".") and nominal % 30 == 0 then -- SMPTE drop frame: skip 2 (4 at 60) a minute
    local minutes = tonumber(h) * 60 + tonumber(m)
    frames = frames - (nominal / 15) * (minutes - math.floor(minutes / 10))
  end
  return frames
end

function M.basename(path)
  return path:match("([^/\\]+)$") or path
end

--- The folder holding the Lua file that called this (with a trailing separator), from debug info.
function M.caller_dir(level)
  local info = debug.getinfo((level or 1) + 1, "S")
  local source = info and info.source or ""
  if source:sub(1, 1) ~= "@" then
    return nil
  end
  return source:sub(2):match("^(.*[/\\])") or ("." .. M.sep())
end

function M.file_exists(path)
  if type(path) ~= "string" or path == "" then
    return false
  end
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local text = f:read("*a")
  f:close()
  return text
end

--- Write a whole file through a temporary name, then rename it into place.
function M.write_file_atomic(path, text)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then
    error("cannot write " .. path .. ": " .. tostring(err))
  end
  f:write(text)
  f:close()
  if M.is_windows() then
    os.remove(path) -- rename does not replace an existing file on Windows
  end
  local ok, rerr = os.rename(tmp, path)
  if not ok then
    error("cannot move " .. tmp .. " to " .. path .. ": " .. tostring(rerr))
  end
end

---------------------------------------------------------------------------------------------------
-- Command lines
---------------------------------------------------------------------------------------------------

--- Quote one argument for /bin/sh.
function M.quote_sh(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- Quote one argument for a line of a Windows batch file (.cmd). Inside double quotes cmd takes
--- & < > ( ) @ ^ | literally; % is read even there, and a batch file writes a literal % as %%. The program
--- then splits its command line by the CommandLineToArgvW rules, where backslashes right before the closing
--- quote would escape it, so trailing backslashes are doubled.
function M.quote_cmd(s)
  s = tostring(s)
  if s:find('"', 1, true) then
    error("a Windows path cannot contain a double quote: " .. s)
  end
  s = s:gsub("(\\+)$", "%1%1")
  s = s:gsub("%%", "%%%%")
  return '"' .. s .. '"'
end

--- Quote a path for the command line that `cmd.exe /S /C` runs (command-line mode, not a batch file). Quotes
--- make & < > ( ) @ ^ | literal, but a %NAME% naming a defined variable expands even inside quotes and %% is
--- not an escape there. So every % is written outside the quotes as ^%: the caret, read outside quotes, keeps
--- the % and is removed, and no text between two % can name a variable (it starts with a quote).
function M.quote_cmd_line(s)
  s = tostring(s)
  if s:find('"', 1, true) then
    error("a Windows path cannot contain a double quote: " .. s)
  end
  return '"' .. s:gsub("%%", '"^%%"') .. '"'
end

--- The program and parameters that start a launcher script: on Windows cmd.exe with
--- /D (no AutoRun commands) /S /C "<quoted launcher>" (with /S cmd strips exactly the first and the last quote
--- of what follows /C, whatever the path holds); elsewhere /bin/sh with the path in POSIX quoting.
function M.launch_command(launcher)
  if M.is_windows() then
    return "cmd.exe", '/D /S /C "' .. M.quote_cmd_line(launcher) .. '"'
  end
  return "/bin/sh", M.quote_sh(launcher)
end

function M.quote(s)
  if M.is_windows() then
    return M.quote_cmd(s)
  end
  return M.quote_sh(s)
end

---------------------------------------------------------------------------------------------------
-- JSON
---------------------------------------------------------------------------------------------------

local json = {}
M.json = json

--- Marks a JSON null inside arrays (object members that are null are left out).
json.null = setmetatable({}, { __tostring = function() return "null" end })

local escapes = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
  ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do
    n = n + 1
  end
  for i = 1, n do
    if t[i] == nil then
      return false, n
    end
  end
  return true, n
end

local function encode_value(v, out)
  local kind = type(v)
  if v == nil or v == json.null then
    out[#out + 1] = "null"
  elseif kind == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif kind == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("JSON cannot hold the number " .. tostring(v))
    end
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then
      out[#out + 1] = string.format("%d", v)
    else
      out[#out + 1] = string.format("%.17g", v)
    end
  elseif kind == "string" then
    out[#out + 1] = encode_string(v)
  elseif kind == "table" then
    local array, n = is_array(v)
    if array and (n > 0 or getmetatable(v) ~= json.object_mt) then
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        encode_value(v[i], out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" then
          error("JSON object keys must be strings, got " .. tostring(k))
        end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = encode_string(k)
        out[#out + 1] = ":"
        encode_value(v[k], out)
      end
      out[#out + 1] = "}"
    end
  else
    error("JSON cannot hold a " .. kind)
  end
end

json.object_mt = {}

--- An empty table that encodes as {} instead of [].
function json.object(t)
  return setmetatable(t or {}, json.object_mt)
end

function json.encode(v)
  local out = {}
  encode_value(v, out)
  return table.concat(out)
end

local function utf8_char(cp)
  if cp < 0x80 then
    return string.char(cp)
  elseif cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  elseif cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000), 0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return string.char(0xF0 + math.floor(cp / 0x40000), 0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

local function decode_error(text, pos, what)
  error(string.format("JSON: %s at character %d near %q", what, pos, text:sub(pos, pos + 10)), 0)
end

local function skip_ws(text, pos)
  return text:find("[^ \t\r\n]", pos) or #text + 1
end

local decode_value

local function decode_string(text, pos)
  local parts = {}
  local i = pos + 1
  while true do
    local j = text:find('["\\%c]', i)
    if not j then
      decode_error(text, pos, "unterminated string")
    end
    parts[#parts + 1] = text:sub(i, j - 1)
    local c = text:sub(j, j)
    if c == '"' then
      return table.concat(parts), j + 1
    elseif c == "\\" then
      local e = text:sub(j + 1, j + 1)
      local simple = ({ ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r",
        t = "\t" })[e]
      if simple then
        parts[#parts + 1] = simple
        i = j + 2
      elseif e == "u" then
        local hex = text:match("^%x%x%x%x", j + 2)
        if not hex then
          decode_error(text, j, "bad \\u escape")
        end
        local cp = tonumber(hex, 16)
        i = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local low = text:match("^\\u(%x%x%x%x)", i)
          local lo = low and tonumber(low, 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            i = i + 6
          else
            cp = 0xFFFD -- lone high surrogate
          end
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          cp = 0xFFFD -- lone low surrogate
        end
        parts[#parts + 1] = utf8_char(cp)
      else
        decode_error(text, j, "bad escape")
      end
    else
      decode_error(text, j, "control character in string")
    end
  end
end

local function decode_number(text, pos)
  local s = text:match("^-?%d+", pos)
  if not s or s:match("^-?0%d") then
    decode_error(text, pos, "bad number")
  end
  local e = pos + #s
  local frac = text:match("^%.%d+", e)
  if frac then
    e = e + #frac
  end
  local exp = text:match("^[eE][+-]?%d+", e)
  if exp then
    e = e + #exp
  end
  return tonumber(text:sub(pos, e - 1)), e
end

local function decode_array(text, pos)
  local arr = {}
  pos = skip_ws(text, pos + 1)
  if text:sub(pos, pos) == "]" then
    return arr, pos + 1
  end
  while true do
    local v
    v, pos = decode_value(text, pos)
    arr[#arr + 1] = (v == nil) and json.null or v
    pos = skip_ws(text, pos)
    local c = text:sub(pos, pos)
    if c == "]" then
      return arr, pos + 1
    elseif c ~= "," then
      decode_error(text, pos, "expected ',' or ']'")
    end
    pos = skip_ws(text, pos + 1)
  end
end

local function decode_object(text, pos)
  local obj = json.object()
  pos = skip_ws(text, pos + 1)
  if text:sub(pos, pos) == "}" then
    return obj, pos + 1
  end
  while true do
    if text:sub(pos, pos) ~= '"' then
      decode_error(text, pos, "expected a string key")
    end
    local key
    key, pos = decode_string(text, pos)
    pos = skip_ws(text, pos)
    if text:sub(pos, pos) ~= ":" then
      decode_error(text, pos, "expected ':'")
    end
    local v
    v, pos = decode_value(text, skip_ws(text, pos + 1))
    obj[key] = v
    pos = skip_ws(text, pos)
    local c = text:sub(pos, pos)
    if c == "}" then
      return obj, pos + 1
    elseif c ~= "," then
      decode_error(text, pos, "expected ',' or '}'")
    end
    pos = skip_ws(text, pos + 1)
  end
end

decode_value = function(text, pos)
  pos = skip_ws(text, pos)
  local c = text:sub(pos, pos)
  if c == "{" then
    return decode_object(text, pos)
  elseif c == "[" then
    return decode_array(text, pos)
  elseif c == '"' then
    return decode_string(text, pos)
  elseif c == "-" or c:match("%d") then
    return decode_number(text, pos)
  elseif text:sub(pos, pos + 3) == "true" then
    return true, pos + 4
  elseif text:sub(pos, pos + 4) == "false" then
    return false, pos + 5
  elseif text:sub(pos, pos + 3) == "null" then
    return nil, pos + 4
  end
  decode_error(text, pos, "unexpected character")
end

--- Decode a JSON document. Raises a string error naming the position of the first problem.
function json.decode(text)
  if type(text) ~= "string" then
    error("JSON: expected a string, got " .. type(text), 0)
  end
  local v, pos = decode_value(text, 1)
  pos = skip_ws(text, pos)
  if pos <= #text then
    decode_error(text, pos, "trailing characters")
  end
  return v
end

---------------------------------------------------------------------------------------------------
-- Configuration written by `foley install-scripts`
---------------------------------------------------------------------------------------------------

--- Load one config file (a Lua file returning a table); nil when it is absent or unreadable.
local function read_config(path)
  if not M.file_exists(path) then
    return nil
  end
  local ok, cfg = pcall(dofile, path)
  if ok and type(cfg) == "table" then
    return cfg
  end
  return nil
end

--- The config for scripts in support_dir: support_dir/config.lua, written by `foley install-scripts`; else,
--- for a copy installed by ReaPack (which writes no config, into Scripts/<index>/<category>/), the config of
--- the install-scripts copy two folders up (Scripts/Foley Bridge/foley_bridge/config.lua); else {}.
function M.load_config(support_dir)
  local own = read_config(M.join(support_dir, "config.lua"))
  if own then
    return own
  end
  local category = M.dirname(support_dir:gsub("[/\\]+$", ""))
  local scripts = M.dirname(category)
  return read_config(M.join(scripts, "foley_bridge", "config.lua")) or {}
end

--- Places pip, pipx, Homebrew and conda put console commands, for a host started without the user's PATH
--- (an app opened from the Finder on macOS has only the system's).
function M.foley_candidates(env)
  env = env or os.getenv
  local out = {}
  if M.is_windows() then
    local appdata, local_appdata, profile = env("APPDATA"), env("LOCALAPPDATA"), env("USERPROFILE")
    if profile then
      out[#out + 1] = M.join(profile, ".local", "bin", "foley.exe") -- pipx
    end
    for minor = 20, 8, -1 do
      if appdata then
        out[#out + 1] = M.join(appdata, "Python", "Python3" .. minor, "Scripts", "foley.exe")
      end
      if local_appdata then
        out[#out + 1] = M.join(local_appdata, "Programs", "Python", "Python3" .. minor, "Scripts", "foley.exe")
      end
    end
    return out
  end
  local home = env("HOME")
  if home then
    out[#out + 1] = M.join(home, ".local", "bin", "foley")
    for minor = 20, 8, -1 do
      out[#out + 1] = M.join(home, "Library", "Python", "3." .. minor, "bin", "foley")
    end
    for _, conda in ipairs({ "miniforge3", "miniconda3", "anaconda3" }) do
      out[#out + 1] = M.join(home, conda, "bin", "foley")
    end
  end
  out[#out + 1] = "/opt/homebrew/bin/foley"
  out[#out + 1] = "/usr/local/bin/foley"
  return out
end

--- The `foley` command to run, or nil and a message saying what to do: the config's (it must exist), else
--- the first one found where pip and friends install commands, else `foley` from PATH.
function M.foley_command(config, host)
  local foley = config.foley
  if foley == nil or foley == "" then
    for _, candidate in ipairs(M.foley_candidates()) do
      if M.file_exists(candidate) then
        return candidate
      end
    end
    return "foley"
  end
  if not M.file_exists(foley) then
    return nil, "The foley-bridge command was not found at\n" .. foley .. "\n\nInstall foley-bridge again "
      .. "(pip install foley-bridge), then run:\n    foley install-scripts " .. host
  end
  return foley
end

---------------------------------------------------------------------------------------------------
-- One relay job: the files `foley submit` reads and writes
---------------------------------------------------------------------------------------------------

-- LuaJIT starts every run with the same random sequence: mix in the clock.
math.randomseed(os.time() + math.floor((os.clock() * 1e6) % 1e6))

--- A time stamp plus a random suffix, safe in file and bin names.
function M.job_stamp()
  return os.date("%Y%m%d-%H%M%S") .. "-" .. string.format("%04d", math.random(0, 9999))
end

--- Create a fresh job folder base/<prefix><stamp> (never one that already holds a request); returns its path
--- and stamp.
function M.new_job_dir(base, prefix, mkdir_fn)
  for _ = 1, 100 do
    local stamp = M.job_stamp()
    local dir = M.join(base, prefix .. stamp)
    if not M.file_exists(M.join(dir, "request.json")) then
      M.mkdir(dir, mkdir_fn)
      return dir, stamp
    end
  end
  error("cannot find a free job folder in " .. base)
end

--- Create a directory and its parents (via mkdir_fn when the host has one).
function M.mkdir(path, mkdir_fn)
  if mkdir_fn then
    mkdir_fn(path)
  elseif M.is_windows() then
    os.execute('if not exist "' .. path .. '" mkdir "' .. path .. '"')
  else
    os.execute("mkdir -p " .. M.quote_sh(path))
  end
end

--- Paths of one job's files inside dir (which must exist).
function M.job_files(dir)
  return {
    dir = dir,
    request = M.join(dir, "request.json"),
    progress = M.join(dir, "progress.json"),
    result = M.join(dir, "result.json"),
    cancel = M.join(dir, "cancel"),
    log = M.join(dir, "foley.log"),
    exit = M.join(dir, "exit_code"),
    launcher = M.join(dir, M.is_windows() and "launch.cmd" or "launch.sh"),
  }
end

--- Write the launcher script that runs `foley submit` and records its exit code; returns the
--- command line that starts the launcher (for reaper.ExecProcess or a shell) and, separately, the program and
--- its parameters. config.port, when set, names the daemon's port.
function M.write_launcher(foley, job, config)
  local q = M.quote
  local args = { q(foley), "submit", q(job.request), "--result", q(job.result), "--progress", q(job.progress),
    "--cancel-file", q(job.cancel) }
  if config and tonumber(config.port) then
    args[#args + 1] = "--port " .. string.format("%d", tonumber(config.port))
  end
  local submit = table.concat(args, " ")
  local text
  if M.is_windows() then
    -- The file is UTF-8: switch the console code page before any line with a path. The exit code is written
    -- with the redirection first: in "echo 0> file" cmd would read the digit as a stream number.
    text = "@echo off\r\nchcp 65001 > NUL\r\n" .. submit .. " > " .. q(job.log) .. " 2>&1\r\n"
      .. "> " .. q(job.exit .. ".tmp") .. " echo %ERRORLEVEL%\r\n"
      .. "move /Y " .. q(job.exit .. ".tmp") .. " " .. q(job.exit) .. " > NUL\r\n"
  else
    text = "#!/bin/sh\n" .. submit .. " > " .. q(job.log) .. " 2>&1\n"
      .. "echo $? > " .. q(job.exit .. ".tmp") .. "\n"
      .. "mv -f " .. q(job.exit .. ".tmp") .. " " .. q(job.exit) .. "\n"
  end
  M.write_file_atomic(job.launcher, text)
  local program, params = M.launch_command(job.launcher)
  return program .. " " .. params, program, params
end

--- Read a JSON file; nil when it is absent or not complete JSON yet.
function M.read_json(path)
  local text = M.read_file(path)
  if not text or text == "" then
    return nil
  end
  local ok, v = pcall(json.decode, text)
  if ok then
    return v
  end
  return nil
end

local function tail(text, n)
  if not text then
    return ""
  end
  text = text:gsub("%s+$", "")
  if #text > n then
    return "..." .. text:sub(-n)
  end
  return text
end

--- Seconds a launched job may take to show a sign of life (its log or progress file) before the script
--- gives up on it.
M.START_TIMEOUT_S = 60

--- Look at a job's files once. Returns a table:
---   {done=false, progress=<progress table or nil>}               still running
---   {done=true, ok=true, result=<result table>}                  success
---   {done=true, ok=false, code=..., message=...}                 failure (message says what to do)
--- elapsed_s (seconds since the launcher was started) and start_timeout_s turn a launcher that never ran, or a
--- foley command that never wrote its progress, into a failure instead of a wait without end.
function M.poll(job, host, elapsed_s, start_timeout_s)
  local result = M.read_json(job.result)
  if result then
    if result.ok then
      return { done = true, ok = true, result = result }
    end
    return { done = true, ok = false, code = result.code or "error",
      message = tostring(result.message or "the job failed without a message") }
  end
  local exit_text = M.read_file(job.exit)
  if exit_text and exit_text:match("%d") then
    local code = tonumber(exit_text:match("%-?%d+"))
    local log = tail(M.read_file(job.log), 1200)
    if code == 127 or code == 9009 or log:match("not found") or log:match("not recognized") then
      return { done = true, ok = false, code = "foley_not_found",
        message = "The foley command could not be started.\n\n" .. log .. "\n\nInstall foley-bridge "
          .. "(pip install foley-bridge), then run:\n    foley install-scripts " .. host }
    end
    return { done = true, ok = false, code = "exit_" .. tostring(code),
      message = "foley submit stopped (exit code " .. tostring(code) .. ") without a result.\n\n" .. log
        .. "\n\nSee " .. job.log }
  end
  local progress = M.read_json(job.progress)
  local limit = tonumber(start_timeout_s) or M.START_TIMEOUT_S
  if not progress and elapsed_s and elapsed_s > limit then
    local log = M.read_file(job.log)
    if log then
      return { done = true, ok = false, code = "not_started",
        message = string.format("foley submit started but did not report progress within %d s.\n\n%s\n\n"
          .. "See %s", limit, tail(log, 1200), job.log) }
    end
    return { done = true, ok = false, code = "not_started",
      message = string.format("The foley-bridge launcher did not start within %d s:\n%s\n\nCheck that the "
        .. "job folder is writable and that the launcher runs when started by hand, then run the command "
        .. "again.", limit, job.launcher) }
  end
  return { done = false, progress = progress }
end

--- Ask a running job to stop.
function M.request_cancel(job_cancel_path)
  M.write_file_atomic(job_cancel_path, "cancel\n")
end

---------------------------------------------------------------------------------------------------
-- Results
---------------------------------------------------------------------------------------------------

--- The base track of a lane name ("Foley Impacts 2" -> "Foley Impacts", 2); a name without a lane number is
--- lane 1.
function M.lane_of(name)
  local base, n = tostring(name):match("^(.-) (%d+)$")
  if base and base ~= "" then
    return base, tonumber(n)
  end
  return tostring(name), 1
end

--- The distinct track names of the placements, in creation order: the result's "tracks" list when it has
--- one (its order, each base followed by its overlap lanes), else the order in which the placements first
--- name each base track.
function M.track_names(placements, tracks)
  local rank, nranks = {}, 0
  for _, t in ipairs(type(tracks) == "table" and tracks or {}) do
    local name = type(t) == "table" and t.name or t
    if type(name) == "string" and not rank[name] then
      nranks = nranks + 1
      rank[name] = nranks
    end
  end
  local seen, names = {}, {}
  for _, p in ipairs(placements) do
    local base = M.lane_of(p.track)
    if not rank[base] then
      nranks = nranks + 1
      rank[base] = nranks
    end
    if not seen[p.track] then
      seen[p.track] = true
      names[#names + 1] = p.track
    end
  end
  table.sort(names, function(a, b)
    local ba, na = M.lane_of(a)
    local bb, nb = M.lane_of(b)
    if rank[ba] ~= rank[bb] then return rank[ba] < rank[bb] end
    return na < nb
  end)
  return names
end

--- The item/clip note: what the clip is and what level and pan were printed into it.
function M.clip_note(p)
  return string.format("foley-bridge %s (%s)\ngain %+.1f dB, pan %+.2f (printed into the clip; keep the "
    .. "take at unity)\nevent %s", tostring(p.kind), tostring(p.track), tonumber(p.gain_db) or 0,
    tonumber(p.pan) or 0, tostring(p.id))
end

--- One line per track: "Foley Impacts: 4 clips".
function M.summary(placements, names)
  local counts = {}
  for _, p in ipairs(placements) do
    counts[p.track] = (counts[p.track] or 0) + 1
  end
  local lines = {}
  for _, name in ipairs(names) do
    lines[#lines + 1] = string.format("  %s: %d clip%s", name, counts[name], counts[name] == 1 and "" or "s")
  end
  return table.concat(lines, "\n")
end

--- Describe a progress table in one line.
function M.progress_line(progress)
  if not progress then
    return "starting foley-bridge..."
  end
  local pct = math.floor((tonumber(progress.fraction) or 0) * 100 + 0.5)
  local text = tostring(progress.stage or progress.state or "")
  if progress.message and progress.message ~= "" then
    text = text .. ": " .. tostring(progress.message)
  end
  return string.format("%3d%%  %s", pct, text)
end

return M
