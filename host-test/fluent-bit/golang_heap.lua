--[[
golang_heap.lua: the `golang.heap` event of expvar-heap, written for Fluent Bit's `lua` filter
(LuaJIT). It is the baseline of `cargo xtask bench-fluent-bit`: the same mapping as the
project's `filter_wasm` module, written as a Fluent Bit user would write it in Lua, and checked
field for field against the module's output by that benchmark.

    [FILTER]
        Name          lua
        Match         golang.*
        script        golang_heap.lua
        call          golang_heap
        time_as_table true

Each record must be a `/debug/vars` body already decoded into the record (an input with
`Parser json`): Fluent Bit's Lua has no JSON decoder, so unlike the module this filter does not
read a body carried as a string under `log`, `message` or `exec`.

What it writes (the fields of docs/events.md):
- the envelope, with the integration's defaults: `data_stream`, `ecs.version` 8.11.0, `event`,
  `tags` ["forwarded", "golang-heap"], `@timestamp` and `event.created` from the record's time
  (RFC 3339, UTC, milliseconds, truncated);
- the `golang.heap` fields from `memstats` and `cmdline`; a figure that is missing, or is not a
  number (a count: not an unsigned whole number), is left out, and so are empty strings, empty
  arrays and the objects left empty;
- the GC pauses since the previous record of the same tag (`golang.heap.gc.pause.*`: count,
  sum, max, avg rounded down, p50, p90 and p99 by nearest rank, missed when more than 256
  cycles ended, and `since`): a
  `last_num_gc` in the body is the previous NumGC; the process restarted when NumGC, LastGC,
  PauseTotalNs, TotalAlloc or Mallocs went down, or when the previous last cycle is still in
  the PauseEnd ring but ended at another time than the previous LastGC.

Where Fluent Bit's Lua cannot do what the module does:
- Every number reaches Lua as a double: integers above 2^53 (`LastGC`, `PauseEnd`) are rounded,
  which only matters for the restart test (two instants compared, both rounded the same way).
- Every whole number goes back as an integer, so `gc.cpu_fraction` 0 and `gc.pause.avg.ns` come
  out as `0` and `17429` where the module writes `0.0` and `17429.0` (the same values).
- A body that cannot be used gets only `error.message` (no `event.original`: there is no JSON
  encoder either), and a `PauseNs` ring is taken when it has 256 entries without checking each.
]]

local floor = math.floor
local os_date = os.date
local string_format = string.format
local type = type
local next = next

local RING = 256          -- slots of Go's PauseNs and PauseEnd rings
local MAX_TAGS = 256      -- tags that keep a pause window at once, as the module keeps them
local TWO_POW_64 = 18446744073709551616

-- The parts of the envelope that never change, shared by every event.
local DATA_STREAM = { dataset = "golang.heap", namespace = "default", type = "logs" }
local ECS = { version = "8.11.0" }
local EVENT_TYPE = { "info" }
local TAGS = { "forwarded", "golang-heap" }

-- What each tag remembers of its last body that had a usable NumGC and PauseNs.
local states = {}
local tag_count = 0

-- The RFC 3339 text of the last second seen, so that os.date runs once a second.
local cached_sec, cached_text = nil, nil

-- A count: an unsigned whole number, or nil.
local function count(v)
    if type(v) == "number" and v >= 0 and v < TWO_POW_64 and v % 1 == 0 then
        return v
    end
    return nil
end

-- A float figure: any number, or nil.
local function float(v)
    if type(v) == "number" then
        return v
    end
    return nil
end

-- `{ [key] = value }`, or nil when value is nil.
local function leaf(key, value)
    if value ~= nil then
        return { [key] = value }
    end
    return nil
end

-- The table, or nil when it has no member (Elastic's pipeline drops empty objects).
local function nonempty(t)
    if next(t) ~= nil then
        return t
    end
    return nil
end

-- A ring (PauseNs, PauseEnd): a table of 256 entries, or nil.
local function ring(v)
    if type(v) == "table" and #v == RING then
        return v
    end
    return nil
end

local function timestamp(time)
    local sec = time.sec
    if sec ~= cached_sec then
        cached_sec, cached_text = sec, os_date("!%Y-%m-%dT%H:%M:%S", sec)
    end
    local millis = floor((time.nsec or 0) / 1000000)
    if millis > 999 then
        millis = 999
    end
    return string_format("%s.%03dZ", cached_text, millis)
end

-- Whether a figure went down from before to after (both known).
local function went_down(before, after)
    return before ~= nil and after ~= nil and after < before
end

-- Whether the process that left `state` restarted before the body that leaves `now`: a figure
-- that only grows went down, or the cycle that was the last one of the state is still in the
-- PauseEnd ring but ended at another time than the state's LastGC.
local function restarted(state, now, pause_end)
    if now.num_gc < state.num_gc
        or went_down(state.last_gc, now.last_gc)
        or went_down(state.pause_total_ns, now.pause_total_ns)
        or went_down(state.total_alloc, now.total_alloc)
        or went_down(state.mallocs, now.mallocs) then
        return true
    end
    if pause_end ~= nil and state.last_gc ~= nil and state.num_gc > 0
        and now.num_gc - state.num_gc < RING then
        return pause_end[(state.num_gc - 1) % RING + 1] ~= state.last_gc
    end
    return false
end

-- The pause window of this body for the tag, moving the tag's state on to it; nil without a
-- usable NumGC and PauseNs (the state then stays as it was).
local function pause_window(tag, record, m)
    local num_gc = count(m.NumGC)
    local pause_ns = ring(m.PauseNs)
    if num_gc == nil or pause_ns == nil then
        return nil
    end
    local now = {
        num_gc = num_gc,
        last_gc = count(m.LastGC),
        pause_total_ns = count(m.PauseTotalNs),
        total_alloc = count(m.TotalAlloc),
        mallocs = count(m.Mallocs),
    }
    local state = states[tag]
    local since, previous
    local last_num_gc = count(record.last_num_gc)
    if last_num_gc ~= nil then
        -- The poller of Elastic's PR #4908 wrote the previous NumGC into the body.
        if last_num_gc <= num_gc then
            since, previous = "previous_body", last_num_gc
        else
            since, previous = "restart", 0
        end
    elseif state == nil then
        since, previous = "process_start", 0
    elseif restarted(state, now, ring(m.PauseEnd)) then
        since, previous = "restart", 0
    else
        since, previous = "previous_body", state.num_gc
    end
    if state == nil then
        if tag_count >= MAX_TAGS then
            states, tag_count = {}, 0
        end
        tag_count = tag_count + 1
    end
    states[tag] = now

    local new = num_gc - previous
    if new < 0 then
        new = 0
    end
    local n = new < RING and new or RING
    local sum, max = 0, 0
    local held = {}
    for cycle = num_gc - n + 1, num_gc do
        local pause = pause_ns[(cycle - 1) % RING + 1]
        if type(pause) == "number" then
            sum = sum + pause
            if pause > max then
                max = pause
            end
            held[#held + 1] = pause
        end
    end
    local window = {
        avg = { ns = n > 0 and floor(sum / n) or 0 },
        count = n,
        max = { ns = max },
        since = since,
        sum = { ns = sum },
    }
    -- Percentiles by nearest rank: the pause of rank ceil(p / 100 * count), ascending.
    if #held > 0 then
        table.sort(held)
        for _, p in ipairs({ 50, 90, 99 }) do
            local rank = math.ceil(p * #held / 100)
            window["p" .. p] = { ns = held[rank < 1 and 1 or rank] }
        end
    end
    if new > n then
        window.missed = { count = new - n }
    end
    return window
end

-- `cmdline` without its empty strings (and anything that is not a string), or nil when empty.
local function cmdline(v)
    if type(v) ~= "table" then
        return nil
    end
    local args, len = {}, 0
    for i = 1, #v do
        local arg = v[i]
        if type(arg) == "string" and arg ~= "" then
            len = len + 1
            args[len] = arg
        end
    end
    if len == 0 then
        return nil
    end
    return args
end

-- The golang.heap object of a body whose memstats is `m`.
local function heap(tag, record, m)
    local allocations = {
        active = leaf("bytes", count(m.HeapInuse)),
        frees = leaf("count", count(m.Frees)),
        idle = leaf("bytes", count(m.HeapIdle)),
        object = nonempty({ bytes = count(m.HeapAlloc), count = count(m.HeapObjects) }),
        total = leaf("bytes", count(m.TotalAlloc)),
    }
    local pause = pause_window(tag, record, m) or {}
    pause.total = leaf("ns", count(m.PauseTotalNs))
    local gc = {
        cpu_fraction = float(m.GCCPUFraction),
        next_gc_limit = count(m.NextGC),
        pause = nonempty(pause),
        total = leaf("count", count(m.NumGC)),
    }
    local system = {
        released = leaf("bytes", count(m.HeapReleased)),
        stack = leaf("bytes", count(m.StackSys)),
        total = leaf("bytes", count(m.HeapSys)),
    }
    return nonempty({
        allocations = nonempty(allocations),
        cmdline = cmdline(record.cmdline),
        gc = nonempty(gc),
        mallocs = leaf("count", count(m.Mallocs)),
        system = nonempty(system),
    })
end

-- The filter: each record (a /debug/vars body) becomes its golang.heap event; the record's
-- timestamp is kept (return code 2).
function golang_heap(tag, time, record)
    local created = timestamp(time)
    local event = {
        ["@timestamp"] = created,
        data_stream = DATA_STREAM,
        ecs = ECS,
        event = {
            created = created,
            dataset = "golang.heap",
            kind = "metric",
            module = "golang",
            type = EVENT_TYPE,
        },
        tags = TAGS,
    }
    local m = record.memstats
    if type(m) == "table" then
        local fields = heap(tag, record, m)
        if fields == nil or (fields.allocations == nil and fields.gc == nil
            and fields.mallocs == nil and fields.system == nil) then
            event.error = { message = "memstats has none of the figures this event reports" }
        end
        if fields ~= nil then
            event.golang = { heap = fields }
        end
    elseif m == nil or m == flb_null then
        event.error = { message = "memstats is missing" }
    else
        event.error = { message = "memstats is not an object" }
    end
    return 2, time, event
end
