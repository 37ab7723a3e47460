-- Shared prelude of reserve.lua and finish.lua (concatenated in front of each by redis.py).
-- KEYS[1] log   ZSET  member "<rid>:<n>", score = reservation time (µs, Redis TIME)
-- KEYS[2] win   HASH  "w:<name>" window µs, "c:<name>" cursor µs, "s:<name>" images counted,
--                     "#hwm" highest time seen (µs)
-- KEYS[3] pend  HASH  rid -> n, pending (neither settled nor released) reservations only
-- KEYS[4] lease ZSET  rid -> lease deadline (µs), pending reservations only
-- An entry counts in window <name> iff its score > c:<name>; s:<name> is their sum, kept
-- incrementally so a call costs O(entries that changed), never a scan of the whole log.
-- Old Redis needs effect replication to write after TIME; on Redis >= 5 it is the default.
if redis.replicate_commands then pcall(redis.replicate_commands) end

local K_LOG, K_WIN, K_PEND, K_LEASE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

-- Scores are ~1.7e15 µs: tostring() would print 14 significant digits and lose precision.
local function fmt(x) return string.format('%d', x) end
local function n_of(member) return tonumber(string.match(member, ':(%d+)$')) end

-- Redis' own clock decides, never the replica's; clamped so it never runs backwards per subject.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local names, wlen, cursor, total = {}, {}, {}, {}
do
  local raw = redis.call('HGETALL', K_WIN)
  for i = 1, #raw, 2 do
    local f, v = raw[i], tonumber(raw[i + 1])
    local kind, name = string.sub(f, 1, 2), string.sub(f, 3)
    if kind == 'w:' then names[#names + 1] = name; wlen[name] = v
    elseif kind == 'c:' then cursor[name] = v
    elseif kind == 's:' then total[name] = v
    elseif f == '#hwm' and v > now then now = v end
  end
end

-- Give a pending reservation back in every window that still counts it; 1 if it was pending.
local function drop(rid)
  local n = redis.call('HGET', K_PEND, rid)
  if not n then return 0 end
  local member = rid .. ':' .. n
  local ts = redis.call('ZSCORE', K_LOG, member)
  if ts then
    ts = tonumber(ts)
    for _, name in ipairs(names) do
      if ts > cursor[name] then total[name] = total[name] - tonumber(n) end
    end
    redis.call('ZREM', K_LOG, member)
  end
  redis.call('HDEL', K_PEND, rid)
  redis.call('ZREM', K_LEASE, rid)
  return 1
end

local function save_windows()
  for _, name in ipairs(names) do
    redis.call('HSET', K_WIN, 'w:' .. name, fmt(wlen[name]), 'c:' .. name, fmt(cursor[name]),
      's:' .. name, fmt(total[name]))
  end
  redis.call('HSET', K_WIN, '#hwm', fmt(now))
end
