-- Shared prelude of reserve.lua and finish.lua (concatenated in front of each by redis.py).
-- Window <name> of W seconds is cut into buckets of g = max(1, ceil(W / 144)) whole seconds of
-- Redis TIME; bucket b holds the images reserved in [b*g, (b+1)*g) and counts as if they all came
-- at its end, i.e. while now < (b+1)*g + W (buckets.py: the same arithmetic, in seconds).
-- KEYS[1] bkt   HASH  "<name>:<b>" -> images in bucket b of window <name> (non-empty buckets only)
-- KEYS[2] meta  HASH  "w:<name>" window s, "lo:<name>" / "hi:<name>" lowest / highest bucket that
--                     may hold images (none when hi < lo), "s:<name>" images counted,
--                     "#hwm" highest time seen (µs)
-- KEYS[3] pend  HASH  rid -> "<reservation time µs>:<n>", pending (neither settled nor released)
-- KEYS[4] lease ZSET  rid -> lease deadline (µs), pending reservations only
-- Every bucket that can hold images lies in [lo, hi] and hi - lo <= W/g + 1, so every loop below
-- is bounded by a window's bucket count (<= 145), never by the request rate.
-- Old Redis needs effect replication to write after TIME; on Redis >= 5 it is the default.
if redis.replicate_commands then pcall(redis.replicate_commands) end

local K_BKT, K_WIN, K_PEND, K_LEASE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local US = 1000000
local BUCKETS_PER_WINDOW = 144

-- Times are ~1.7e15 µs: tostring() would print 14 significant digits and lose precision.
local function fmt(x) return string.format('%d', x) end
-- Exact floor(a / b) for integers below 2^53 (a double division alone can land one off).
local function fdiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end
local function cdiv(a, b) return -fdiv(-a, b) end
local function width_us(w_s) return math.max(1, math.ceil(w_s / BUCKETS_PER_WINDOW)) * US end
local function field(name, b) return name .. ':' .. fmt(b) end
local function parse_pending(v)
  local sep = string.find(v, ':', 1, true)
  return tonumber(string.sub(v, 1, sep - 1)), tonumber(string.sub(v, sep + 1))
end

-- Redis' own clock decides, never the replica's; clamped so it never runs backwards per subject.
local t = redis.call('TIME')
local now = tonumber(t[1]) * US + tonumber(t[2])

local names, wlen, gw, lo, hi, total = {}, {}, {}, {}, {}, {}
do
  local raw = redis.call('HGETALL', K_WIN)
  for i = 1, #raw, 2 do
    local f, v = raw[i], raw[i + 1]
    local sep = string.find(f, ':', 1, true)
    if sep then
      local kind, name = string.sub(f, 1, sep - 1), string.sub(f, sep + 1)
      v = tonumber(v)
      if kind == 'w' then names[#names + 1] = name; wlen[name] = v * US; gw[name] = width_us(v)
      elseif kind == 'lo' then lo[name] = v
      elseif kind == 'hi' then hi[name] = v
      elseif kind == 's' then total[name] = v end
    elseif f == '#hwm' and tonumber(v) > now then now = tonumber(v) end
  end
end

-- The oldest bucket of a window that still counts now.
local function live_lo(name) return fdiv(now - wlen[name], gw[name]) end

-- The images held in buckets lo..hi of a window, as {bucket = images}.
local function held(name)
  local out = {}
  if hi[name] < lo[name] then return out end
  local fields = {}
  for b = lo[name], hi[name] do fields[#fields + 1] = field(name, b) end
  local vals = redis.call('HMGET', K_BKT, unpack(fields))
  for i = 1, #fields do if vals[i] then out[lo[name] + i - 1] = tonumber(vals[i]) end end
  return out
end

-- Give a pending reservation back: out of the bucket it went into, in every window still
-- holding that bucket. 1 if it was pending.
local function drop(rid)
  local v = redis.call('HGET', K_PEND, rid)
  if not v then return 0 end
  local ts, n = parse_pending(v)
  for _, name in ipairs(names) do
    local b = fdiv(ts, gw[name])
    if b >= lo[name] and b <= hi[name] then
      local f = field(name, b)
      local h = redis.call('HGET', K_BKT, f)
      if h then
        total[name] = total[name] - n
        if tonumber(h) > n then
          redis.call('HSET', K_BKT, f, fmt(tonumber(h) - n))
        else
          -- an empty bucket must not set the reset time: find the newest one still holding images
          redis.call('HDEL', K_BKT, f)
          if b == hi[name] then
            local newest = lo[name] - 1
            for i = b - 1, lo[name], -1 do
              if redis.call('HEXISTS', K_BKT, field(name, i)) == 1 then newest = i; break end
            end
            hi[name] = newest
          end
        end
      end
    end
  end
  redis.call('HDEL', K_PEND, rid)
  redis.call('ZREM', K_LEASE, rid)
  return 1
end

local function save_windows()
  for _, name in ipairs(names) do
    redis.call('HSET', K_WIN, 'w:' .. name, fmt(wlen[name] / US), 'lo:' .. name, fmt(lo[name]),
      'hi:' .. name, fmt(hi[name]), 's:' .. name, fmt(total[name]))
  end
  redis.call('HSET', K_WIN, '#hwm', fmt(now))
end
