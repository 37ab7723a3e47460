-- Check-and-reserve n images across every window, all or nothing, in one atomic step.
-- ARGV[1] reservation id, ARGV[2] n (0 = peek: only report), ARGV[3] lease µs,
-- then (name, limit, window_s) for each window of this call, in the order to report them.
-- Returns {status, rid | refusing window | '', retry_after_s,
--          name1, limit1, remaining1, reset_s1, name2, ...}; status 1 admitted, 0 refused, 2 peek.
-- Mirrors memory.py and buckets.py step for step.
local rid, n, lease_us = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local req = {}
for i = 4, #ARGV, 3 do
  req[#req + 1] = {name = ARGV[i], limit = tonumber(ARGV[i + 1]), w = tonumber(ARGV[i + 2])}
end
local function ceil_s(us) if us <= 0 then return 0 end return math.floor((us + 999999) / 1000000) end

-- 1. reservations whose lease ran out are released (a crashed replica never settles them)
for _, r in ipairs(redis.call('ZRANGEBYSCORE', K_LEASE, '-inf', fmt(now))) do drop(r) end

-- 2. every known window forgets the buckets that no longer count
for _, name in ipairs(names) do
  local target = live_lo(name)
  if target > lo[name] then
    local top = math.min(hi[name], target - 1)
    if top >= lo[name] then
      local fields = {}
      for b = lo[name], top do fields[#fields + 1] = field(name, b) end
      local vals = redis.call('HMGET', K_BKT, unpack(fields))
      for i = 1, #fields do if vals[i] then total[name] = total[name] - tonumber(vals[i]) end end
      redis.call('HDEL', K_BKT, unpack(fields))
    end
    lo[name] = target
    if hi[name] < target then hi[name] = target - 1 end
  end
end

-- 3. a window new to this subject (or whose length changed) starts from the longest window it
--    has (ties: the smallest name), each image in a bucket ending no earlier than before
local changed = {}
for _, q in ipairs(req) do
  if wlen[q.name] ~= q.w * US then changed[#changed + 1] = q end
end
if #changed > 0 then
  local src = nil
  for _, name in ipairs(names) do
    if src == nil or wlen[name] > wlen[src] or (wlen[name] == wlen[src] and name < src) then src = name end
  end
  local pending = {}
  local raw = redis.call('HGETALL', K_PEND)
  for i = 2, #raw, 2 do
    local ts, m = parse_pending(raw[i])
    pending[#pending + 1] = {ts, m}
  end
  -- pending reservations move individually, into the bucket drop() will look in
  local settled = {}
  if src then
    local counts = held(src)
    for _, p in ipairs(pending) do
      local b = fdiv(p[1], gw[src])
      if counts[b] then counts[b] = counts[b] - p[2] end
    end
    for b = lo[src], hi[src] do
      if counts[b] and counts[b] > 0 then settled[#settled + 1] = {(b + 1) * gw[src], counts[b]} end
    end
  end
  for _, q in ipairs(changed) do
    local name = q.name
    if wlen[name] then
      local fields = {}
      for b = lo[name], hi[name] do fields[#fields + 1] = field(name, b) end
      if #fields > 0 then redis.call('HDEL', K_BKT, unpack(fields)) end
    else
      names[#names + 1] = name
    end
    wlen[name], gw[name] = q.w * US, width_us(q.w)
    local g = gw[name]
    local current = fdiv(now, g)
    local acc = {}
    for _, s in ipairs(settled) do
      local b = math.min(cdiv(s[1], g) - 1, current)
      acc[b] = (acc[b] or 0) + s[2]
    end
    for _, p in ipairs(pending) do
      local b = fdiv(p[1], g)
      acc[b] = (acc[b] or 0) + p[2]
    end
    local low = live_lo(name)
    lo[name], hi[name], total[name] = low, low - 1, 0
    for b, c in pairs(acc) do
      if b >= low and c > 0 then
        redis.call('HSET', K_BKT, field(name, b), fmt(c))
        total[name] = total[name] + c
        if b > hi[name] then hi[name] = b end
      end
    end
  end
end

-- Time until enough of the oldest buckets have stopped counting in window q for n more to fit.
local function retry_us(q)
  if n > q.limit then return q.w * US end -- can never fit; the caller rejects this up front
  local name = q.name
  local need, counts = total[name] + n - q.limit, held(name)
  for b = lo[name], hi[name] do
    if counts[b] then
      need = need - counts[b]
      if need <= 0 then return (b + 1) * gw[name] + wlen[name] - now end
    end
  end
  return q.w * US -- unreachable: need <= total whenever n <= limit
end

local function states(out)
  for _, q in ipairs(req) do
    local name, reset = q.name, 0
    local used = total[name]
    if used > 0 then reset = ceil_s((hi[name] + 1) * gw[name] + wlen[name] - now) end
    out[#out + 1] = name; out[#out + 1] = q.limit
    out[#out + 1] = math.max(0, q.limit - used); out[#out + 1] = reset
  end
  return out
end

local status, label, retry = 2, '', 0
if n > 0 then
  local worst = -1
  for _, q in ipairs(req) do
    if total[q.name] + n > q.limit then
      local r = retry_us(q)
      if r > worst then worst = r; label = q.name end -- ties keep the first listed
    end
  end
  if worst >= 0 then
    status, retry = 0, ceil_s(worst)
  else
    status, label = 1, rid
    for _, name in ipairs(names) do
      local b = fdiv(now, gw[name])
      redis.call('HINCRBY', K_BKT, field(name, b), n)
      total[name] = total[name] + n
      if b > hi[name] then hi[name] = b end
    end
    redis.call('HSET', K_PEND, rid, fmt(now) .. ':' .. n)
    redis.call('ZADD', K_LEASE, fmt(now + lease_us), rid)
  end
end
save_windows()

-- idle subjects vanish once nothing they hold can matter any more
local ttl = lease_us
for _, name in ipairs(names) do if wlen[name] + gw[name] > ttl then ttl = wlen[name] + gw[name] end end
ttl = fmt(math.floor(ttl / 1000) + 1000)
for _, k in ipairs({K_BKT, K_WIN, K_PEND, K_LEASE}) do redis.call('PEXPIRE', k, ttl) end

return states({status, label, retry})
